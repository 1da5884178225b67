"""Data: corpora from their download layouts to ``datasets.Dataset`` and everything done to rows before a model.

- :mod:`~ser_hf.data.audio`: reading any audio file, resampling to 16 kHz, trimming, WAV bytes, content hashes;
- :mod:`~ser_hf.data.corpora`: one module per corpus (a datasheet docstring and its filename rules), the registry
  ``CORPORA`` and ``load_corpus`` / ``load_corpora``;
- :mod:`~ser_hf.data.labels`: the unified emotion schema and the label sets (``seven``, ``realtime4``, ...);
- :mod:`~ser_hf.data.prepare`: decoding and caching a scanned corpus (the preparation cache);
- :mod:`~ser_hf.data.splits`: split protocols (ratio, speaker-independent, k-fold, LOSO, EmoBox's folds) and the
  leakage report; :mod:`~ser_hf.data.emobox`: EmoBox's published folds and classes (package data);
- :mod:`~ser_hf.data.augment`, :mod:`~ser_hf.data.balance`: offline / on-the-fly augmentation, class balancing;
- :mod:`~ser_hf.data.summary`: per-corpus counts; :mod:`~ser_hf.data.synth`: the synthetic espeak-ng corpus;
- :mod:`~ser_hf.data.cli`: ``python -m ser_hf.data prepare ...``.

Nothing here imports a model: this is the lowest layer of the library.
"""
