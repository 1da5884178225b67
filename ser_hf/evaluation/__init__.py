"""Evaluation: what a run reports and how.

- :mod:`~ser_hf.evaluation.metrics`: the offline ``evaluate`` modules (accuracy, F1, UAR) and the metric functions;
- :mod:`~ser_hf.evaluation.results`: a run's test results (``results.json`` / ``results.md``, plots, long clip);
- :mod:`~ser_hf.evaluation.plots`: confusion matrix, ROC curves, reliability diagrams and heat maps;
- :mod:`~ser_hf.evaluation.long_clip`: a long recording cut into segments and scored against its timeline;
- :mod:`~ser_hf.evaluation.intervals`: 95 % bootstrap intervals (speakers or files resampled) and the paired bootstrap;
- :mod:`~ser_hf.evaluation.calibration`: expected calibration error and temperature scaling;
- :mod:`~ser_hf.evaluation.run_outputs`, :mod:`~ser_hf.evaluation.compare`, :mod:`~ser_hf.evaluation.runs_table`:
  finished run folders read back, ``ser-hf compare`` and ``ser-hf table``.
"""
