"""The model a recipe's ``method`` trains, built by a plain function per method (see :data:`ser_hf.registry.METHODS`).

``finetune``: an HF audio encoder (:mod:`ser_hf.models.audio_encoders`); ``image_cnn``: spectrogram images into
an ImageNet CNN (:mod:`ser_hf.models.image_cnn`); ``cnn_blstm``: seed 004's network from scratch
(:mod:`ser_hf.models.cnn_blstm`); ``patch_finetune``: VGGish / YAMNet with a dense head
(:mod:`ser_hf.models.patch_classifier`). Each method's module is imported only when that method is built.
"""

from __future__ import annotations

import logging

from transformers import PreTrainedModel

from ser_hf.models.audio_encoders import SPEC_AUGMENT_KEYS, build_model, label_maps

logger = logging.getLogger(__name__)


def _head_kwargs(config) -> dict:
    dropout = config.head_dropout or [0.0] * len(config.head_hidden_sizes)
    return {"head_hidden_sizes": list(config.head_hidden_sizes), "head_dropout": list(dropout)}


def spectrogram_extractor(config, image: bool, n_mels: int = 128):
    """The spectrogram front end a model section asks for: ImageNet-normalised 3-channel images (image_cnn) or a
    standardised 1-channel log-mel spectrogram at its own resolution (cnn_blstm)."""
    from ser_hf.models.spectrogram import SpectrogramImageFeatureExtractor

    if image:
        return SpectrogramImageFeatureExtractor(clip_seconds=config.clip_seconds, kind=config.spectrogram,
                                                image_size=config.image_size, channels=3, normalize="imagenet")
    return SpectrogramImageFeatureExtractor(clip_seconds=config.clip_seconds, kind=config.spectrogram, n_mels=n_mels,
                                            n_mfcc=n_mels, image_size=None, channels=1, normalize="standard")


# seed 004's CNN-BLSTM at a size that trains on 2 CPU cores in seconds
TINY_CNN_BLSTM = dict(num_mel_bins=32, conv_channels=(8, 16), lstm_hidden_size=16, attention_size=16)


def build_finetune(config, label_names: list[str], seed: int = 0):
    """``method: finetune`` (:class:`~ser_hf.recipe_sections.FinetuneConfig`): an HF audio encoder with a
    classification head (:func:`build_model`)."""
    spec_augment = {k: getattr(config, k) for k in SPEC_AUGMENT_KEYS}
    return build_model(label_names, config.model_name_or_path, config.tiny_model, config.freeze_feature_encoder,
                       spec_augment)


def build_image_cnn(config, label_names: list[str], seed: int = 0):
    """``method: image_cnn`` (:class:`~ser_hf.recipe_sections.ImageCNNConfig`): spectrogram images into an
    ImageNet CNN (seeds 002-004)."""
    from ser_hf.models.image_cnn import build_spectrogram_cnn

    model = build_spectrogram_cnn(
        config.backbone, label_names, weights=config.backbone_weights, tiny=bool(config.tiny_model),
        image_size=config.image_size, random_weights=config.random_weights,
        pooling=config.head_pooling if config.backbone.lower() in ("vgg16", "vgg19") else "avg",
        head_batchnorm=config.head_batchnorm, head_l2=config.l2, freeze=config.freeze, **_head_kwargs(config))
    return model, spectrogram_extractor(config, image=True)


def build_cnn_blstm(config, label_names: list[str], seed: int = 0):
    """``method: cnn_blstm`` (:class:`~ser_hf.recipe_sections.CNNBLSTMConfig`): seed 004's CNN-BLSTM with
    attention (or a variant), from scratch."""
    from ser_hf.models.cnn_blstm import CNNBLSTMAttentionConfig, CNNBLSTMAttentionForAudioClassification, cnn_blstm_variant

    label2id, id2label = label_maps(label_names)
    model_config = CNNBLSTMAttentionConfig(num_labels=len(label_names), id2label=id2label, label2id=label2id,
                                           l2=config.l2, **cnn_blstm_variant(config.cnn_blstm_variant),
                                           **(TINY_CNN_BLSTM if config.tiny_model else {}))
    model = CNNBLSTMAttentionForAudioClassification(model_config)
    return model, spectrogram_extractor(config, image=False, n_mels=model_config.num_mel_bins)


def build_patch_finetune(config, label_names: list[str], seed: int = 0):
    """``method: patch_finetune`` (:class:`~ser_hf.recipe_sections.PatchFinetuneConfig`): VGGish / YAMNet with a
    dense head, fine-tuned or frozen (seeds 000, 001)."""
    from ser_hf.models.patch_classifier import build_patch_classifier

    return build_patch_classifier(
        config.backbone, label_names, weights=config.backbone_weights, random_weights=config.random_weights,
        tiny=bool(config.tiny_model), seed=seed, freeze_backbone=config.freeze == "all",
        head_hidden_sizes=list(config.head_hidden_sizes), head_dropout=(config.head_dropout or [0.0])[0])


def build_recipe_model(recipe, label_names: list[str]) -> tuple[PreTrainedModel, object]:
    """The model and feature extractor of a recipe's ``method`` (every Trainer-based method), built by the method's
    builder in :data:`ser_hf.registry.METHODS` from the recipe's model section. ``tiny_model`` (any value) gives
    each method's tiny randomly initialised version."""
    from ser_hf.registry import METHODS, resolve

    method = METHODS.get(recipe.method)
    if method is None or method.kind != "trainer":
        raise ValueError(f"method {recipe.method!r} does not train a model with Trainer")
    model, extractor = resolve(method.build)(recipe.model, label_names, seed=recipe.training.seed)
    if recipe.method != "finetune":  # build_model logs its own line
        n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
        n_all = sum(p.numel() for p in model.parameters())
        logger.info("%s model %s: %.2fM parameters, %.2fM trainable", recipe.method, model.config.model_type,
                    n_all / 1e6, n_train / 1e6)
    return model, extractor
