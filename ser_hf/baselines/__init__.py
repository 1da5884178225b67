"""Feature-extraction baselines: embeddings (VGGish, YAMNet, any HF audio encoder, openSMILE, MFCC)
classified by scikit-learn models and seed 003's MLP, compared in one table.

Modules, one job each:

- :mod:`~ser_hf.baselines.frontend`: the log-mel patch front end VGGish and YAMNet share;
- :mod:`~ser_hf.baselines.vggish`, :mod:`~ser_hf.baselines.yamnet`: the networks as ``transformers``
  models (``save_pretrained`` / ``from_pretrained``, ``AutoModel``) and converters for the published weights;
- :mod:`~ser_hf.baselines.encoders`: pooled hidden states of Hugging Face audio encoders;
- :mod:`~ser_hf.baselines.handcrafted`: openSMILE eGeMAPS / ComParE functionals, MFCC statistics;
- :mod:`~ser_hf.baselines.extract`: ``extract(dataset, extractor)``, cached, and extractors by name;
- :mod:`~ser_hf.baselines.weights`: weight files (lookup, safe loading, fingerprints);
- :mod:`~ser_hf.baselines.classifiers`: SVM / KNN / random forest / logistic regression pipelines, saved with skops;
- :mod:`~ser_hf.baselines.mlp`: seed 003's MLP and its random grid search;
- :mod:`~ser_hf.baselines.table`: every embedding x classifier on one split, one table, plots, saved models;
- :mod:`~ser_hf.baselines.run`: ``train.py``'s ``method: embeddings`` (the table on a recipe's data and split);
- :mod:`~ser_hf.baselines.spectrogram`: waveforms -> mel / MFCC spectrogram images;
- :mod:`~ser_hf.baselines.image_cnn`: ImageNet CNNs (VGG, ResNet, EfficientNet, timm ...) on those images, seeds 002-004;
- :mod:`~ser_hf.baselines.cnn_blstm`: seed 004's CNN-BLSTM with attention, trained from scratch;
- :mod:`~ser_hf.baselines.patch_classifier`: VGGish / YAMNet with a dense head, fine-tuned or frozen (seeds 000, 001).

Importing this package registers ``vggish``, ``yamnet``, ``spectrogram_cnn``, ``cnn_blstm_attention`` and
``patch_embedding_classifier`` with the ``transformers`` Auto classes, so their ``save_pretrained`` folders load
with ``AutoModelForAudioClassification`` / ``pipeline("audio-classification")``.
"""

from transformers import AutoFeatureExtractor

from .classifiers import CLASSIFIER_NAMES, load_classifier, make_classifier, save_classifier
from .extract import EXTRACTOR_NAMES, EmbeddingExtractor, Embeddings, build_extractor, extract, pool_per_file
from .frontend import LogMelPatchFeatureExtractor, vggish_feature_extractor, yamnet_feature_extractor
from .vggish import VGGishConfig, VGGishExtractor, VGGishModel, convert_torchvggish_checkpoint, load_vggish
from .weights import MissingWeightsError
from .yamnet import YAMNetConfig, YAMNetExtractor, YAMNetModel, convert_yamnet_h5, load_yamnet
from .spectrogram import SpectrogramImageFeatureExtractor
from .image_cnn import SpectrogramCNNConfig, SpectrogramCNNForAudioClassification, build_spectrogram_cnn
from .cnn_blstm import CNNBLSTMAttentionConfig, CNNBLSTMAttentionForAudioClassification, cnn_blstm_variant
from .patch_classifier import PatchClassifierConfig, PatchEmbeddingForAudioClassification, build_patch_classifier

AutoFeatureExtractor.register(CNNBLSTMAttentionConfig, SpectrogramImageFeatureExtractor, exist_ok=True)

__all__ = [
    "CNNBLSTMAttentionConfig",
    "CNNBLSTMAttentionForAudioClassification",
    "PatchClassifierConfig",
    "PatchEmbeddingForAudioClassification",
    "SpectrogramCNNConfig",
    "SpectrogramCNNForAudioClassification",
    "SpectrogramImageFeatureExtractor",
    "build_patch_classifier",
    "build_spectrogram_cnn",
    "cnn_blstm_variant",
    "CLASSIFIER_NAMES",
    "EXTRACTOR_NAMES",
    "EmbeddingExtractor",
    "Embeddings",
    "LogMelPatchFeatureExtractor",
    "MissingWeightsError",
    "VGGishConfig",
    "VGGishExtractor",
    "VGGishModel",
    "YAMNetConfig",
    "YAMNetExtractor",
    "YAMNetModel",
    "build_extractor",
    "convert_torchvggish_checkpoint",
    "convert_yamnet_h5",
    "extract",
    "load_classifier",
    "load_vggish",
    "load_yamnet",
    "make_classifier",
    "pool_per_file",
    "save_classifier",
    "vggish_feature_extractor",
    "yamnet_feature_extractor",
]
