"""Deprecated: the parts that lived here moved to the folders named after what they are; kept for one release.

``from ser_hf.baselines import X`` still works (with a ``DeprecationWarning``) for every name this package
exported: networks and front ends are in :mod:`ser_hf.models`, extractors and the embedding cache in
:mod:`ser_hf.features`, classifiers and the embeddings table in :mod:`ser_hf.classifiers`. Model registration
no longer needs this import: ``import ser_hf`` does it.
"""

from __future__ import annotations

from ser_hf.registry import lazy_attributes

_MOVED = {
    "CLASSIFIER_NAMES": "ser_hf.classifiers.pipelines",
    "load_classifier": "ser_hf.classifiers.pipelines",
    "make_classifier": "ser_hf.classifiers.pipelines",
    "save_classifier": "ser_hf.classifiers.pipelines",
    "EXTRACTOR_NAMES": "ser_hf.features.extract",
    "EmbeddingExtractor": "ser_hf.features.extract",
    "Embeddings": "ser_hf.features.extract",
    "build_extractor": "ser_hf.features.extract",
    "extract": "ser_hf.features.extract",
    "pool_per_file": "ser_hf.features.extract",
    "VGGishExtractor": "ser_hf.features.networks",
    "YAMNetExtractor": "ser_hf.features.networks",
    "LogMelPatchFeatureExtractor": "ser_hf.models.patch_frontend",
    "vggish_feature_extractor": "ser_hf.models.patch_frontend",
    "yamnet_feature_extractor": "ser_hf.models.patch_frontend",
    "VGGishConfig": "ser_hf.models.vggish",
    "VGGishModel": "ser_hf.models.vggish",
    "convert_torchvggish_checkpoint": "ser_hf.models.vggish",
    "load_vggish": "ser_hf.models.vggish",
    "YAMNetConfig": "ser_hf.models.yamnet",
    "YAMNetModel": "ser_hf.models.yamnet",
    "convert_yamnet_h5": "ser_hf.models.yamnet",
    "load_yamnet": "ser_hf.models.yamnet",
    "MissingWeightsError": "ser_hf.models.weights",
    "SpectrogramImageFeatureExtractor": "ser_hf.models.spectrogram",
    "SpectrogramCNNConfig": "ser_hf.models.image_cnn",
    "SpectrogramCNNForAudioClassification": "ser_hf.models.image_cnn",
    "build_spectrogram_cnn": "ser_hf.models.image_cnn",
    "CNNBLSTMAttentionConfig": "ser_hf.models.cnn_blstm",
    "CNNBLSTMAttentionForAudioClassification": "ser_hf.models.cnn_blstm",
    "cnn_blstm_variant": "ser_hf.models.cnn_blstm",
    "PatchClassifierConfig": "ser_hf.models.patch_classifier",
    "PatchEmbeddingForAudioClassification": "ser_hf.models.patch_classifier",
    "build_patch_classifier": "ser_hf.models.patch_classifier",
}

__all__ = sorted(_MOVED)

__getattr__ = lazy_attributes(__name__, _MOVED, deprecated=True)
