"""Classifiers on frozen embeddings, and the table that compares them.

- :mod:`~ser_hf.classifiers.pipelines`: seed 000's SVM / KNN / random forest / logistic regression as scikit-learn
  pipelines, saved with skops and loaded against a trusted-type list (``load_classifier``);
- :mod:`~ser_hf.classifiers.mlp`: seed 003's MLP and its random grid search (torch, saved as safetensors + JSON);
- :mod:`~ser_hf.classifiers.table`: every embedding x classifier on one split: one table, plots, saved models.

``from ser_hf.classifiers import load_classifier`` reloads a saved classifier (the names below import on first use).
"""

from __future__ import annotations

from ser_hf.registry import lazy_attributes

_EXPORTS = {
    "pipeline_classifiers": "pipelines",
    "fit_classifier": "pipelines",
    "load_classifier": "pipelines",
    "make_classifier": "pipelines",
    "save_classifier": "pipelines",
    "MLPClassifier": "mlp",
    "run_baselines_table": "table",
    "format_table": "table",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_attributes(__name__, _EXPORTS)
