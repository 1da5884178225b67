"""Seed 004's CNN-BLSTM with attention for speech emotion recognition, as a ``transformers`` model.

The network reads a log-mel spectrogram "image" ``(batch, channels, n_mels, frames)``:
four conv blocks (3x3 conv 32/64/128/256, "same" padding -> batch norm -> ReLU -> 2x2 max pool -> dropout 0.3),
the feature map read as a sequence over time (channels x remaining mel bins per frame), a BiLSTM of 128 units
per direction, additive attention pooling over time (size 128), dropout 0.3 and a linear classifier. The paper
trains it with Adam (1e-3) and an L2 kernel regulariser of 0.01 (76 % accuracy).

The paper's other models and ablations are configurations of the same class (:func:`cnn_blstm_variant`):
``use_cnn=False`` ("no CNN": the LSTM reads spectrogram frames), ``use_lstm=False`` ("no LSTM"),
``use_attention=False`` (mean over time), ``conv_dropout=dropout=0`` ("no dropout"), ``l2=0`` ("no L2").

Importing this module registers ``cnn_blstm_attention`` with ``AutoConfig`` and
``AutoModelForAudioClassification``, so a ``save_pretrained`` folder loads with
``AutoModelForAudioClassification.from_pretrained(folder)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import AutoConfig, AutoFeatureExtractor, AutoModelForAudioClassification, PreTrainedConfig, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import SequenceClassifierOutput

from ser_hf.models.spectrogram import SpectrogramImageFeatureExtractor

from ser_hf.registry import CNN_BLSTM_VARIANTS  # seed 004's model names -> the switches that make them


def cnn_blstm_variant(name: str) -> dict[str, bool]:
    """Config overrides for one of seed 004's models: ``CNNBLSTMAttentionConfig(**cnn_blstm_variant("cnn"))``."""
    if name not in CNN_BLSTM_VARIANTS:
        raise ValueError(f"unknown CNN-BLSTM variant {name!r}; expected one of {sorted(CNN_BLSTM_VARIANTS)}")
    return dict(CNN_BLSTM_VARIANTS[name])


@strict
class CNNBLSTMAttentionConfig(PreTrainedConfig):
    """Seed 004's CNN-BLSTM with attention (defaults: the paper's model).

    num_mel_bins, in_channels: the spectrogram the model reads (mel bins, image channels).
    conv_channels: output channels of each conv block (each block halves mel bins and frames).
    conv_dropout: dropout after each conv block; dropout: before the classifier.
    use_cnn / use_lstm: False for the "no CNN" / "no LSTM" ablations (one of them must stay on).
    bidirectional, lstm_hidden_size: the (Bi)LSTM (units per direction).
    use_attention, attention_size: additive attention pooling over time; without it, the mean over time.
    l2: Keras' ``kernel_regularizer=l2(l2)`` on conv and dense kernels: ``l2 * sum(w ** 2)`` is added to the
        loss (biases, batch norm and the LSTM are not penalised). It is not AdamW's decoupled weight decay,
        so train with ``weight_decay=0`` to match the paper.
    """

    model_type = "cnn_blstm_attention"

    num_mel_bins: int = 128
    in_channels: int = 1
    conv_channels: list[int] | tuple[int, ...] = (32, 64, 128, 256)
    conv_dropout: float | int = 0.3
    use_cnn: bool = True
    use_lstm: bool = True
    bidirectional: bool = True
    lstm_hidden_size: int = 128
    use_attention: bool = True
    attention_size: int = 128
    dropout: float | int = 0.3
    l2: float | int = 0.01

    def validate_architecture(self):
        super().validate_architecture()
        if not (self.use_cnn or self.use_lstm):
            raise ValueError("use_cnn and use_lstm are both False: the model needs a CNN, an LSTM or both")
        sizes = {"num_mel_bins": self.num_mel_bins, "in_channels": self.in_channels,
                 "lstm_hidden_size": self.lstm_hidden_size, "attention_size": self.attention_size}
        if any(v < 1 for v in [*sizes.values(), *self.conv_channels]):
            raise ValueError(f"sizes must be positive, got {sizes} and conv_channels={list(self.conv_channels)}")
        if self.use_cnn and not self.conv_channels:
            raise ValueError("use_cnn=True needs at least one conv block in conv_channels")
        if self.use_cnn and self.num_mel_bins // self.pool_factor < 1:
            raise ValueError(f"num_mel_bins={self.num_mel_bins} does not survive {len(self.conv_channels)} 2x2 "
                             f"max pools: it needs at least {self.pool_factor} mel bins")
        if not (0 <= self.conv_dropout < 1 and 0 <= self.dropout < 1) or self.l2 < 0:
            raise ValueError(f"dropouts must lie in [0, 1) and l2 >= 0, got conv_dropout={self.conv_dropout}, "
                             f"dropout={self.dropout}, l2={self.l2}")

    @property
    def pool_factor(self) -> int:
        """Factor by which the CNN shortens (and narrows) the spectrogram: 2 per pool, 1 without the CNN."""
        return 2 ** len(self.conv_channels) if self.use_cnn else 1

    @property
    def sequence_size(self) -> int:
        """Features per time step the LSTM (or the pooling) reads: channels x mel bins left."""
        if not self.use_cnn:
            return self.in_channels * self.num_mel_bins
        return self.conv_channels[-1] * (self.num_mel_bins // self.pool_factor)


class AdditiveAttentionPooling(nn.Module):
    """score_t = v^T tanh(W h_t + b), softmax over time, weighted sum of h_t: ``(B, T, D) -> (B, D), (B, T)``."""

    def __init__(self, hidden_size: int, attention_size: int):
        super().__init__()
        self.proj = nn.Linear(hidden_size, attention_size)
        self.score = nn.Linear(attention_size, 1, bias=False)

    def forward(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weights = self.score(torch.tanh(self.proj(hidden))).squeeze(-1).softmax(dim=-1)
        return torch.einsum("bt,btd->bd", weights, hidden), weights


class CNNBLSTMAttentionForAudioClassification(PreTrainedModel):
    """Log-mel ``(batch, channels, n_mels, frames)`` (or ``(batch, n_mels, frames)``) -> emotion logits."""

    config_class = CNNBLSTMAttentionConfig
    config: CNNBLSTMAttentionConfig
    base_model_prefix = "cnn_blstm"
    main_input_name = "input_features"

    def __init__(self, config: CNNBLSTMAttentionConfig):
        super().__init__(config)
        blocks, channels = [], config.in_channels
        for out in config.conv_channels if config.use_cnn else ():
            blocks.append(nn.Sequential(
                nn.Conv2d(channels, out, kernel_size=3, padding=1), nn.BatchNorm2d(out), nn.ReLU(),
                nn.MaxPool2d(2), nn.Dropout(config.conv_dropout)))
            channels = out
        self.cnn = nn.Sequential(*blocks)
        hidden = config.sequence_size
        self.lstm = None
        if config.use_lstm:
            self.lstm = nn.LSTM(hidden, config.lstm_hidden_size, batch_first=True, bidirectional=config.bidirectional)
            hidden = config.lstm_hidden_size * (2 if config.bidirectional else 1)
        self.attention = AdditiveAttentionPooling(hidden, config.attention_size) if config.use_attention else None
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(hidden, config.num_labels)
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module):
        # Keras' defaults, which the paper trained from: Glorot-uniform kernels, zero biases, orthogonal
        # recurrent kernels and a forget-gate bias of 1 (``unit_forget_bias``).
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            init.xavier_uniform_(module.weight)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            init.ones_(module.weight)
            init.zeros_(module.bias)
            init.zeros_(module.running_mean)
            init.ones_(module.running_var)
            init.zeros_(module.num_batches_tracked)
        elif isinstance(module, nn.LSTM):
            size = module.hidden_size
            for name, param in module.named_parameters():
                if name.startswith("weight_ih"):
                    init.xavier_uniform_(param)
                elif name.startswith("weight_hh"):
                    init.orthogonal_(param)
                else:  # PyTorch has two biases per gate (i, f, g, o); one of them carries the forget-gate 1
                    forget = 1.0 if name.startswith("bias_ih") else 0.0
                    init.copy_(param, torch.tensor([0.0] * size + [forget] * size + [0.0] * 2 * size))

    def l2_penalty(self) -> torch.Tensor:
        """``l2 * sum(w ** 2)`` over conv and dense kernels (Keras' kernel regulariser)."""
        kernels = [m.weight for m in self.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        return self.config.l2 * sum(w.float().pow(2).sum() for w in kernels)

    def forward(self, input_features: torch.Tensor, labels: torch.Tensor | None = None,
                output_attentions: bool | None = None, return_dict: bool | None = None,
                **kwargs) -> SequenceClassifierOutput | tuple:
        # kwargs (e.g. attention_mask from a feature extractor) are accepted and unused: padded frames are pooled.
        config = self.config
        x = input_features.unsqueeze(1) if input_features.dim() == 3 else input_features
        if x.dim() != 4 or x.shape[1] != config.in_channels or x.shape[2] != config.num_mel_bins:
            raise ValueError(f"expected input_features (batch, {config.in_channels}, {config.num_mel_bins}, frames) "
                             f"or (batch, {config.num_mel_bins}, frames), got {tuple(input_features.shape)}")
        if x.shape[-1] < config.pool_factor:
            raise ValueError(f"{x.shape[-1]} frames are too few: {len(config.conv_channels)} max pools need "
                             f"at least {config.pool_factor} frames")
        x = self.cnn(x)
        sequence = x.flatten(1, 2).transpose(1, 2)  # (B, C, F', T') -> (B, T', C * F')
        if self.lstm is not None:
            sequence, _ = self.lstm(sequence)
        weights = None
        if self.attention is not None:
            pooled, weights = self.attention(sequence)
        else:
            pooled = sequence.mean(dim=1)
        logits = self.classifier(self.dropout(pooled))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.float(), labels.to(logits.device).view(-1)) + self.l2_penalty()
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        attentions = weights if output_attentions else None
        if return_dict is False:
            return tuple(v for v in (loss, logits, attentions) if v is not None)
        return SequenceClassifierOutput(loss=loss, logits=logits, attentions=attentions)


AutoConfig.register("cnn_blstm_attention", CNNBLSTMAttentionConfig, exist_ok=True)
AutoModelForAudioClassification.register(CNNBLSTMAttentionConfig, CNNBLSTMAttentionForAudioClassification,
                                         exist_ok=True)
AutoFeatureExtractor.register(CNNBLSTMAttentionConfig, SpectrogramImageFeatureExtractor, exist_ok=True)
