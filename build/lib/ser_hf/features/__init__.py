"""Frozen feature extractors and their cache: one ``(frames, dim)`` array per waveform, pooled and cached on disk.

- :mod:`~ser_hf.features.extract`: the extractor interface, ``extract(dataset, extractor)`` with its cache,
  ``build_extractor(name)`` (names in :data:`ser_hf.registry.EXTRACTORS`);
- :mod:`~ser_hf.features.handcrafted`: openSMILE eGeMAPS / ComParE functionals, MFCC statistics;
- :mod:`~ser_hf.features.networks`: VGGish and YAMNet embeddings (the networks are in :mod:`ser_hf.models`);
- :mod:`~ser_hf.features.encoder_layers`: pooled hidden states of any Hugging Face audio encoder.

The names below import on first use.
"""

from __future__ import annotations

from ser_hf.registry import lazy_attributes

_EXPORTS = {
    "EXTRACTOR_NAMES": "extract",
    "EmbeddingExtractor": "extract",
    "Embeddings": "extract",
    "build_extractor": "extract",
    "pool_per_file": "extract",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_attributes(__name__, _EXPORTS)
