"""Embeddings from any Hugging Face audio encoder: hidden states of one layer, or an average of layers.

Supported: the wav2vec2 family (HuBERT, wav2vec2, WavLM, data2vec-audio, UniSpeech, ...; one frame
per 20 ms) and the Whisper encoder (one frame per 20 ms of the 30-s input window; only the frames
that cover the real audio are kept, audio beyond 30 s is cut and logged).

``layer`` picks what a frame is: an index into ``hidden_states`` (0 = the CNN/embedding output,
-1 = the last layer, the default), ``"mean"`` for the plain average of all of them, ``"all"`` for all of
them side by side (``num_hidden_layers + 1`` blocks of ``hidden_size``: the layer probe's input), or a list of
``num_hidden_layers + 1`` weights for a weighted average (the frozen counterpart of
``use_weighted_layer_sum``). :func:`~ser_hf.features.extract.extract` then mean-pools the frames
per file or keeps them.

Batches are sorted by length to cut padding. Group-norm checkpoints (HuBERT/wav2vec2 base) ship
``return_attention_mask=False``: their padded inputs go in without a mask, as the model card says
they must; the padded frames are dropped before pooling, but padding still shifts the group
norm slightly, so ``batch_size=1`` in ``extract`` gives the exact per-file result.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import torch
from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, PreTrainedModel

from ser_hf.features.extract import NetworkExtractor
from ser_hf.inference import clip_inputs, pad_waveform_inputs
from ser_hf.models.audio_encoders import mask_padding_in_feature_encoder

logger = logging.getLogger(__name__)

WHISPER_WINDOW_SAMPLES = 30 * 16000


def _encoder_of(model: PreTrainedModel) -> PreTrainedModel:
    if model.config.model_type == "whisper":
        return model.get_encoder() if hasattr(model, "get_encoder") else model.encoder
    base = model.base_model
    if not hasattr(base, "_get_feat_extract_output_lengths"):
        raise ValueError(f"{model.config.model_type}: unsupported encoder; use a wav2vec2-family model (HuBERT, "
                         "wav2vec2, WavLM, data2vec-audio) or Whisper")
    return base


def load_encoder(model_name_or_path: str, revision: str | None = None):
    """(encoder, feature extractor) from the Hub or a local folder; an unreachable id fails with what to do."""
    try:
        config = AutoConfig.from_pretrained(model_name_or_path, revision=revision)
        feature_extractor = AutoFeatureExtractor.from_pretrained(model_name_or_path, revision=revision)
        model = AutoModel.from_pretrained(model_name_or_path, revision=revision, config=config)
    except (OSError, ValueError) as err:  # ValueError: a folder whose config.json names no model type
        raise OSError(
            f"cannot load the encoder {model_name_or_path!r}: {err}\n"
            "Give a Hugging Face Hub id reachable from this machine (or already in the HF cache; HF_HUB_OFFLINE=1 "
            f"reads only the cache) or a folder saved with save_pretrained. To fetch it where the Hub is reachable: "
            f"`hf download {model_name_or_path} --local-dir DIR`, then pass DIR. For a random-weight run, pass a "
            "model built from its config (HFEncoderExtractor(model=HubertModel(HubertConfig())))."
        ) from err
    return _encoder_of(model), feature_extractor


def default_feature_extractor(config):
    """The feature extractor a real checkpoint of this architecture ships (for models built from a config)."""
    from transformers import Wav2Vec2FeatureExtractor, WhisperFeatureExtractor

    if config.model_type == "whisper":
        return WhisperFeatureExtractor(feature_size=config.num_mel_bins, sampling_rate=16000)
    return Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                                    return_attention_mask=getattr(config, "feat_extract_norm", "layer") == "layer")


class HFEncoderExtractor(NetworkExtractor):
    """Frames of a Hugging Face audio encoder's hidden states (one layer or a layer average)."""

    def __init__(self, model: str | PreTrainedModel = "facebook/hubert-base-ls960",
                 layer: int | str | Sequence[float] = -1, feature_extractor=None, revision: str | None = None):
        if isinstance(model, str):
            source = model
            encoder, loaded_extractor = load_encoder(model, revision)
            feature_extractor = feature_extractor or loaded_extractor
        else:
            source = type(model).__name__
            encoder = _encoder_of(model)
        super().__init__("hf-" + source.replace("/", "_"), encoder,
                         feature_extractor or default_feature_extractor(encoder.config))
        self.source = source
        if self.feature_extractor.sampling_rate != self.sampling_rate:
            raise ValueError(f"{self.source} expects {self.feature_extractor.sampling_rate} Hz; ser-hf gives 16 kHz")
        self.revision = revision
        self.is_whisper = self.model.config.model_type == "whisper"
        mask_padding_in_feature_encoder(self.model)
        num_states = self.model.config.num_hidden_layers + 1 if not self.is_whisper else \
            self.model.config.encoder_layers + 1
        self.num_states = num_states
        if isinstance(layer, str):
            if layer not in ("mean", "all"):
                raise ValueError(f"layer must be an int, 'mean', 'all' or a list of weights, got {layer!r}")
            self.layer_weights = None
        elif isinstance(layer, int):
            if not -num_states <= layer < num_states:
                raise ValueError(f"layer {layer} out of range for {num_states} hidden states")
            self.layer_weights = None
        else:
            weights = np.asarray(layer, dtype=np.float64)
            if weights.shape != (num_states,) or weights.sum() <= 0 or (weights < 0).any():
                raise ValueError(f"layer weights must be {num_states} non-negative numbers with a positive sum")
            self.layer_weights = torch.as_tensor(weights / weights.sum(), dtype=torch.float32)
        self.layer = layer if isinstance(layer, (int, str)) else [float(w) for w in layer]

    def extra_config(self) -> dict:
        # "batching": since per-clip normalisation and masked padding, a file's frames no longer depend on its batch:
        # embeddings cached before are not reused.
        return {"source": self.source, "revision": self.revision, "layer": self.layer, "batching": "per-clip"}

    def _frame_counts(self, lengths: list[int]) -> list[int]:
        if self.is_whisper:
            return [max(1, min(self.model.config.max_source_positions, math.ceil(min(n, WHISPER_WINDOW_SAMPLES)
                                                                                   / 160 / 2))) for n in lengths]
        counts = self.model._get_feat_extract_output_lengths(torch.tensor(lengths))
        return [int(c) for c in counts]

    def _select(self, hidden_states: tuple[torch.Tensor, ...]) -> torch.Tensor:
        if self.layer_weights is not None:
            stacked = torch.stack(hidden_states)
            return (stacked * self.layer_weights.to(stacked.device)[:, None, None, None]).sum(0)
        if self.layer == "mean":
            return torch.stack(hidden_states).mean(0)
        if self.layer == "all":  # every hidden state side by side, layer-major: what the layer probe learns to weigh
            return torch.cat(hidden_states, dim=-1)
        return hidden_states[self.layer]

    @torch.inference_mode()
    def embed(self, waves: Sequence[np.ndarray]) -> list[np.ndarray]:
        order = np.argsort([len(w) for w in waves], kind="stable")
        batch_waves = [np.asarray(waves[i], dtype=np.float32) for i in order]
        lengths = [len(w) for w in batch_waves]
        if self.is_whisper:
            if max(lengths) > WHISPER_WINDOW_SAMPLES:
                logger.warning("%s: audio beyond 30 s is cut (Whisper's input window)", self.source)
            inputs = self.feature_extractor(batch_waves, sampling_rate=self.sampling_rate, return_tensors="pt")
            model_inputs = {"input_features": inputs["input_features"].to(self.device)}
        else:
            # Each clip normalised alone, padded, masked (the group-norm CNN told to ignore the padding in __init__):
            # a file's embedding is what it gives alone, whichever files share its batch, so it can be cached per file.
            inputs = pad_waveform_inputs([clip_inputs(self.feature_extractor, w) for w in batch_waves])
            model_inputs = {k: v.to(self.device) for k, v in inputs.items()}
        hidden = self._select(self.model(**model_inputs, output_hidden_states=True).hidden_states).float().cpu()
        counts = self._frame_counts(lengths)
        out: list[np.ndarray | None] = [None] * len(waves)
        for row, original in enumerate(order):
            out[original] = hidden[row, : counts[row]].numpy()
        return out
