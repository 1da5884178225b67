"""Training: from a recipe to a trained, evaluated run folder.

- :mod:`~ser_hf.training.arguments`: the training section of a recipe, a ``TrainingArguments`` subclass;
- :mod:`~ser_hf.training.run`: one run of a recipe (:func:`run_once` on a fold) and the dispatch to its runs;
- :mod:`~ser_hf.training.data`: a recipe's data (corpora, label set, split, balancing, augmentation), shared by
  every method so all of them see the same files;
- :mod:`~ser_hf.training.trainer`: the batch collator, the sampler, the ``Trainer`` and resuming (the Trainer
  methods: ``finetune``, ``image_cnn``, ``cnn_blstm``, ``patch_finetune``);
- :mod:`~ser_hf.training.embeddings`: ``method: embeddings``, frozen embeddings x classifiers in one table;
- :mod:`~ser_hf.training.probe`, :mod:`~ser_hf.training.emobox_probe`: ``method: probe`` (weighted layers, EmoBox's
  head); :mod:`~ser_hf.training.calibrate`: the temperature of a Trainer run, fitted on its validation part.

The names below import on first use.
"""

from __future__ import annotations

from ser_hf.registry import lazy_attributes

_EXPORTS = {
    "MODEL_COLUMNS": "data",
    "SAMPLING_RATE": "data",
    "PreparedData": "data",
    "Fold": "data",
    "single_run": "data",
    "check_roots": "data",
    "model_view": "data",
    "prepare_data": "data",
    "AudioCollator": "trainer",
    "InferenceCollator": "trainer",
    "SERTrainer": "trainer",
    "bf16_enabled": "arguments",
    "TrainingConfig": "arguments",
    "build_trainer": "trainer",
    "epoch_padding_fraction": "trainer",
    "fixed_input_seconds": "trainer",
    "last_complete_checkpoint": "trainer",
    "padding_fraction": "trainer",
    "weighted_cross_entropy": "trainer",
    "run_embeddings_recipe": "embeddings",
    "run_once": "run",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_attributes(__name__, _EXPORTS)
