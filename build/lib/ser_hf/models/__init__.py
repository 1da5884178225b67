"""Every trainable architecture and its builder, with weight converters and safe loading.

- :mod:`~ser_hf.models.audio_encoders`: Hugging Face audio encoders (HuBERT, wav2vec2, WavLM, data2vec-audio,
  Whisper encoder, AST) through the Auto classes, their tiny random configs, SpecAugment, CNN freezing;
- :mod:`~ser_hf.models.build`: the model of a recipe's ``method`` (``build_recipe_model``);
- :mod:`~ser_hf.models.vggish`, :mod:`~ser_hf.models.yamnet`: the AudioSet networks as ``transformers`` models,
  with converters for the published weights; :mod:`~ser_hf.models.patch_frontend`: their log-mel patch front end;
- :mod:`~ser_hf.models.patch_classifier`: VGGish / YAMNet with a dense head (seeds 000, 001);
- :mod:`~ser_hf.models.spectrogram`: waveforms -> mel / MFCC spectrogram images;
- :mod:`~ser_hf.models.image_cnn`: ImageNet CNNs on those images (seeds 002-004);
- :mod:`~ser_hf.models.cnn_blstm`: seed 004's CNN-BLSTM with attention;
- :mod:`~ser_hf.models.weights`: weight files (lookup, safe loading, fingerprints).

The names below are imported from their modules on first access, so ``import ser_hf.models`` is cheap.
"""

from __future__ import annotations

from ser_hf.registry import lazy_attributes

_EXPORTS = {
    "build_model": "audio_encoders",
    "tiny_config": "audio_encoders",
    "tiny_feature_extractor": "audio_encoders",
    "label_maps": "audio_encoders",
    "freeze_feature_encoder": "audio_encoders",
    "apply_spec_augment": "audio_encoders",
    "SAMPLING_RATE": "audio_encoders",
    "TINY_TYPES": "audio_encoders",
    "WAV2VEC2_FAMILY": "audio_encoders",
    "SPEC_AUGMENT_KEYS": "audio_encoders",
    "build_recipe_model": "build",
    "spectrogram_extractor": "build",
    "TINY_CNN_BLSTM": "build",
    "MissingWeightsError": "weights",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_attributes(__name__, _EXPORTS)
