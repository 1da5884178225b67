"""Evaluation: what a run reports and how.

- :mod:`~ser_hf.evaluation.metrics`: the offline ``evaluate`` modules (accuracy, F1, UAR) and the metric functions;
- :mod:`~ser_hf.evaluation.results`: a run's test results (``results.json`` / ``results.md``, plots, long clip);
- :mod:`~ser_hf.evaluation.plots`: confusion matrix and ROC curves;
- :mod:`~ser_hf.evaluation.long_clip`: a long recording cut into segments and scored against its timeline.
"""
