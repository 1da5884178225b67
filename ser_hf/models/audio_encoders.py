"""Audio classifiers from any Hugging Face audio encoder, or tiny random ones for CPU runs and tests.

:func:`build_model` loads ``AutoModelForAudioClassification`` (HuBERT, wav2vec2, WavLM,
data2vec-audio, AST, the Whisper encoder, ...) with ``label2id``/``id2label`` in its config, so
``pipeline("audio-classification")`` prints emotion names; SpecAugment settings go into the config
where the architecture has them; the CNN feature encoder is optionally frozen.

:func:`tiny_config` / ``build_model(tiny_model=...)`` build the same architectures from a small
config with random weights: what the quickstart and the tests train, since the Hub is out of reach
there. A tiny model goes through exactly the code path of the real one.
"""

from __future__ import annotations

import functools
import logging

import torch
from transformers import (
    ASTFeatureExtractor,
    AutoConfig,
    AutoFeatureExtractor,
    AutoModelForAudioClassification,
    PretrainedConfig,
    PreTrainedModel,
    Wav2Vec2FeatureExtractor,
    WhisperFeatureExtractor,
)

logger = logging.getLogger(__name__)

SAMPLING_RATE = 16000

# wav2vec2-family encoder, small enough to train on 2 CPU cores in minutes. The CNN keeps the
# base models' 7 layers and total stride 320 (50 frames per second), with 64 channels instead of 512.
TINY_WAV2VEC2_FAMILY = dict(
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
    conv_dim=(64,) * 7,
    conv_stride=(5, 2, 2, 2, 2, 2, 2),
    conv_kernel=(10, 3, 3, 3, 3, 2, 2),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=4,
    classifier_proj_size=64,
)
TINY_WHISPER = dict(
    d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64,
    decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64, num_mel_bins=80,
    max_source_positions=1500, classifier_proj_size=32,
)
# AST reads max_length 10-ms fbank frames; 400 = 4 s keeps the tiny model cheap.
TINY_AST = dict(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
    max_length=400, num_mel_bins=128, patch_size=16, frequency_stride=10, time_stride=10,
)
WAV2VEC2_FAMILY = ("hubert", "wav2vec2", "wavlm", "data2vec-audio")
TINY_TYPES = (*WAV2VEC2_FAMILY, "whisper", "audio-spectrogram-transformer")
SPEC_AUGMENT_KEYS = ("mask_time_prob", "mask_time_length", "mask_feature_prob", "mask_feature_length")


def label_maps(label_names: list[str]) -> tuple[dict[str, int], dict[int, str]]:
    return {n: i for i, n in enumerate(label_names)}, dict(enumerate(label_names))


def tiny_config(model_type: str, label_names: list[str], **overrides) -> PretrainedConfig:
    """A small randomly initialisable config of ``model_type`` with the labels set."""
    if model_type not in TINY_TYPES:
        raise ValueError(f"tiny_model must be one of {', '.join(TINY_TYPES)}; got {model_type!r}")
    label2id, id2label = label_maps(label_names)
    if model_type == "whisper":
        base = dict(TINY_WHISPER)
    elif model_type == "audio-spectrogram-transformer":
        base = dict(TINY_AST)
    else:
        base = dict(TINY_WAV2VEC2_FAMILY)
        if model_type == "wavlm":  # WavLM's relative position bias needs no grouped conv setting
            base.pop("num_conv_pos_embedding_groups")
    base.update(num_labels=len(label_names), label2id=label2id, id2label=id2label)
    base.update(overrides)
    return AutoConfig.for_model(model_type, **base)


def tiny_feature_extractor(config: PretrainedConfig):
    """The feature extractor a real checkpoint of this type ships, sized for the tiny config."""
    if config.model_type == "whisper":
        return WhisperFeatureExtractor(feature_size=config.num_mel_bins, sampling_rate=SAMPLING_RATE)
    if config.model_type == "audio-spectrogram-transformer":
        return ASTFeatureExtractor(num_mel_bins=config.num_mel_bins, max_length=config.max_length, sampling_rate=SAMPLING_RATE)
    # Trained from scratch, a tiny model can use the attention mask (layer-norm checkpoints such as
    # wav2vec2-large-lv60 do; group-norm base checkpoints ship return_attention_mask=False).
    return Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=SAMPLING_RATE, padding_value=0.0, do_normalize=True, return_attention_mask=True
    )


def apply_spec_augment(config: PretrainedConfig, spec_augment: dict) -> None:
    """Set the SpecAugment keys the architecture has (AST has none: it is told and skipped)."""
    unsupported = []
    for key, value in spec_augment.items():
        if hasattr(config, key):
            setattr(config, key, value)
        else:
            unsupported.append(key)
    if unsupported and any(spec_augment.get(k) for k in ("mask_time_prob", "mask_feature_prob")):
        logger.warning("%s has no SpecAugment settings %s: masks not applied", config.model_type, unsupported)
    if config.model_type == "whisper":  # Whisper only masks when asked to
        config.apply_spec_augment = bool(spec_augment.get("mask_time_prob") or spec_augment.get("mask_feature_prob"))


class PaddingMaskedGroupNorm(torch.nn.GroupNorm):
    """The per-channel normalisation of a wav2vec2-style CNN's first layer (group norm with one group per channel:
    hubert-base, wav2vec2-base, wavlm-base), computed over each clip's own frames only.

    The stock layer normalises over the whole padded width, so a clip's features depend on how much zero padding
    its batch gave it, and a model trained on padded batches meets other inputs in ``pipeline()``, which runs one
    clip unpadded. With the frame counts of the batch set (from the attention mask, by the hook that
    :func:`mask_padding_in_feature_encoder` installs), every real frame is normalised exactly as it would be alone;
    later CNN layers never reach past a clip's last full frame, and the transformer and pooling mask the rest, so a
    padded batch gives each clip its unpadded logits. Without frame counts (inference: one clip, no mask) it is the
    stock layer, and the saved weights are the stock ones.
    """

    frame_lengths: torch.Tensor | None = None

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        lengths = self.frame_lengths
        if lengths is None or lengths.shape[0] != hidden.shape[0] or bool((lengths >= hidden.shape[-1]).all()):
            return super().forward(hidden)
        # The stock kernel on the whole batch is already right for every full-width clip (group norm's statistics
        # are per clip); only the shorter clips go through it again on their own frames, those of one length
        # together: the very computation of each clip alone, and ~10x cheaper than masked statistics over the
        # padded batch. Cropped training batches are mostly full-width, so this costs one or two extra calls. The
        # dtype is the stock layer's throughout (float32 under autocast; a model cast to bf16 by DeepSpeed or FSDP2's
        # mixed precision keeps bf16). Padding frames become 0; no later layer reads them for a real frame.
        width = hidden.shape[-1]
        short: dict[int, list[int]] = {}
        for i, n in enumerate(lengths.clamp(min=1, max=width).tolist()):
            if n < width:
                short.setdefault(n, []).append(i)
        out = super().forward(hidden)  # written over in place: group norm's backward does not read its output
        for n, rows in short.items():
            contiguous = rows[-1] - rows[0] == len(rows) - 1
            part = slice(rows[0], rows[-1] + 1) if contiguous else torch.tensor(rows, device=hidden.device)
            out[part, :, :n] = torch.nn.functional.group_norm(hidden[part, :, :n], self.num_groups, self.weight,
                                                              self.bias, self.eps)
            out[part, :, n:] = 0
        return out


def _record_frame_lengths(norm_path: str, conv_path: str, model, args, kwargs) -> None:
    """Forward pre-hook: the first CNN layer's output frames per clip, from the attention mask over the samples."""
    norm, conv = model.get_submodule(norm_path), model.get_submodule(conv_path)
    mask = kwargs.get("attention_mask")
    if mask is None:
        norm.frame_lengths = None
        return
    samples = mask.sum(-1)
    norm.frame_lengths = torch.div(samples - conv.kernel_size[0], conv.stride[0], rounding_mode="floor") + 1


def mask_padding_in_feature_encoder(model: PreTrainedModel) -> bool:
    """Make a group-norm CNN feature encoder ignore batch padding (:class:`PaddingMaskedGroupNorm`); True if it
    has one. Layer-norm CNNs (wav2vec2-large-lv60, data2vec-audio) normalise each frame alone and need nothing."""
    base_name = model.base_model_prefix if hasattr(model, model.base_model_prefix) else ""  # a bare encoder is its own base
    base = model.get_submodule(base_name)
    layers = getattr(getattr(base, "feature_extractor", None), "conv_layers", None)
    norm = getattr(layers[0], "layer_norm", None) if layers else None
    if not isinstance(norm, torch.nn.GroupNorm) or norm.num_groups != norm.num_channels:
        return False
    if isinstance(norm, PaddingMaskedGroupNorm):
        return True  # installed already
    norm.__class__ = PaddingMaskedGroupNorm  # same parameters, same state dict: save_pretrained is unchanged
    prefix = ".".join(filter(None, (base_name, "feature_extractor.conv_layers.0")))
    # a partial of paths, not a closure over modules: deep copies of the model keep pointing at their own layers
    model.register_forward_pre_hook(functools.partial(_record_frame_lengths, f"{prefix}.layer_norm", f"{prefix}.conv"),
                                    with_kwargs=True)
    return True


# Encoders whose padded batches give each clip its unpadded outputs once the group norm is padding-aware (or whose
# CNN normalises each frame alone) and whose transformer masks padded frames. data2vec-audio is not one: its stacked
# positional convolutions carry padding into a clip's last frames.
PADDING_EXACT_TYPES = frozenset({"hubert", "wav2vec2", "wavlm"})


def pads_exactly(model: PreTrainedModel) -> bool:
    """Whether clips of different lengths may share a zero-padded batch (with its attention mask) and still each get
    the logits they get alone, as in ``pipeline()``; installs :class:`PaddingMaskedGroupNorm` where that makes it so."""
    config = getattr(model, "config", None)
    if getattr(config, "model_type", None) not in PADDING_EXACT_TYPES:
        return False
    return mask_padding_in_feature_encoder(model) or config.feat_extract_norm == "layer"


def feature_encoder_output(model: PreTrainedModel, input_values: torch.Tensor,
                           attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """The CNN feature encoder's output (batch, channels, frames) for a zero-padded batch of clips, each clip's frames
    as that clip alone gives them: a :class:`PaddingMaskedGroupNorm` is told the batch's frame counts, as the model's
    own forward hook tells it (that hook runs on the whole model's forward, not on the encoder's)."""
    prefix = f"{model.base_model_prefix}.feature_extractor.conv_layers.0"
    encoder = model.get_submodule(f"{model.base_model_prefix}.feature_extractor")
    norm = getattr(encoder.conv_layers[0], "layer_norm", None)
    masked = isinstance(norm, PaddingMaskedGroupNorm)
    if masked:
        _record_frame_lengths(f"{prefix}.layer_norm", f"{prefix}.conv", model, (), {"attention_mask": attention_mask})
    try:
        return encoder(input_values)
    finally:
        if masked:
            norm.frame_lengths = None


def freeze_feature_encoder(model: PreTrainedModel) -> bool:
    """Freeze the convolutional feature encoder where the architecture has one."""
    if hasattr(model, "freeze_feature_encoder"):
        model.freeze_feature_encoder()
        return True
    logger.warning("%s has no convolutional feature encoder to freeze: all weights train", model.config.model_type)
    return False


def build_model(
    label_names: list[str],
    model_name_or_path: str = "facebook/hubert-base-ls960",
    tiny_model: str | None = None,
    freeze_feature_encoder_: bool = True,
    spec_augment: dict | None = None,
) -> tuple[PreTrainedModel, object]:
    """The classifier and its feature extractor.

    Args:
        label_names: class names in label-id order (become ``id2label``/``label2id``).
        model_name_or_path: Hub id or local folder (ignored when ``tiny_model`` is given).
        tiny_model: build a tiny random model of this type from a config instead of loading one.
        freeze_feature_encoder_: freeze the CNN feature encoder (seed 003).
        spec_augment: ``mask_time_prob`` etc. for the model config.
    """
    spec_augment = {k: v for k, v in (spec_augment or {}).items() if k in SPEC_AUGMENT_KEYS}
    if tiny_model:
        config = tiny_config(tiny_model, label_names)
        apply_spec_augment(config, spec_augment)
        model = AutoModelForAudioClassification.from_config(config)
        extractor = tiny_feature_extractor(config)
    else:
        label2id, id2label = label_maps(label_names)
        try:
            config = AutoConfig.from_pretrained(
                model_name_or_path, num_labels=len(label_names), label2id=label2id, id2label=id2label
            )
            apply_spec_augment(config, spec_augment)
            extractor = AutoFeatureExtractor.from_pretrained(model_name_or_path)
            model = AutoModelForAudioClassification.from_pretrained(
                model_name_or_path,
                config=config,
                ignore_mismatched_sizes=True,  # a fine-tuned head with another label set is replaced
            )
        except OSError as err:
            raise OSError(
                f"cannot load {model_name_or_path!r}: {err}\nmodel_name_or_path must be a Hugging Face Hub id "
                "reachable from this machine (or already in the HF cache; HF_HUB_OFFLINE=1 reads only the cache) "
                "or a local folder saved with save_pretrained. Offline, tiny_model=hubert trains a randomly "
                "initialised model instead."
            ) from err
    if getattr(extractor, "sampling_rate", SAMPLING_RATE) != SAMPLING_RATE:
        raise ValueError(f"{model_name_or_path} expects {extractor.sampling_rate} Hz audio; ser-hf prepares 16 kHz")
    if freeze_feature_encoder_:
        freeze_feature_encoder(model)
    mask_padding_in_feature_encoder(model)
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    n_all = sum(p.numel() for p in model.parameters())
    logger.info("model %s: %.2fM parameters, %.2fM trainable", model.config.model_type, n_all / 1e6, n_train / 1e6)
    return model, extractor
