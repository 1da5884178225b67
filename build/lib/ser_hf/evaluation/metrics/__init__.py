"""Evaluation metrics: ``evaluate`` modules shipped in the repository, and the functions built on them.

``evaluate.load("accuracy")`` downloads its script from the Hub and fails offline, so ser-hf ships
its own thin scikit-learn modules in ``ser_hf/metrics/<name>/<name>.py`` (``accuracy``, ``f1``,
``uar``); ``evaluate.load(metric_path("uar"))`` loads one from disk.

- :func:`compute_classification_metrics`: everything a test-set evaluation reports.
- :func:`make_compute_metrics`: the ``compute_metrics`` callback for ``transformers.Trainer``.
- :func:`format_results_table`: the results as a readable Markdown table.
"""

from ser_hf.evaluation.metrics.classification import (
    METRICS_DIR,
    SHIPPED_MODULES,
    compute_classification_metrics,
    headline_metrics,
    load_metric,
    make_compute_metrics,
    metric_path,
    roc_auc_ovr,
    top_confusions,
)
from ser_hf.evaluation.metrics.table import format_results_table

__all__ = [
    "METRICS_DIR",
    "SHIPPED_MODULES",
    "compute_classification_metrics",
    "format_results_table",
    "headline_metrics",
    "load_metric",
    "make_compute_metrics",
    "metric_path",
    "roc_auc_ovr",
    "top_confusions",
]
