"""Unweighted average recall (UAR) as an `evaluate` module, shipped in the repository.

UAR is the mean of the per-class recalls, every class counting the same whatever its size:
the headline metric of speech-emotion benchmarks since the Interspeech 2009 Emotion Challenge,
because emotional corpora are imbalanced and plain accuracy rewards predicting the big classes.
Load it with ``evaluate.load("ser_hf/metrics/uar")``.

The classes averaged over are those that occur in the references: a class the model predicts
but that never occurs has no recall (0/0) and is left out, as in scikit-learn's
``balanced_accuracy_score``. Wrong predictions of such a class still lower the recall of the
true class.
"""

import datasets
import evaluate
import numpy as np
from sklearn.metrics import recall_score

_DESCRIPTION = "UAR: unweighted average recall, the mean over classes of the share of each class recognised."

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted class ids.
    references (list of int): true class ids.
    labels (list of int): classes to average over; None (default) takes the classes present in the references.
    sample_weight (list of float): per-example weights.
Returns:
    {"uar": float}
Example:
    >>> uar = evaluate.load("ser_hf/metrics/uar")
    >>> uar.compute(predictions=[0, 0, 0, 0], references=[0, 0, 0, 1])   # accuracy 0.75
    {'uar': 0.5}
"""

_CITATION = """@inproceedings{schuller2009interspeech, title={The INTERSPEECH 2009 Emotion Challenge},
author={Schuller, Bj{\\"o}rn and Steidl, Stefan and Batliner, Anton}, booktitle={Interspeech}, year={2009}}"""


class UAR(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
            reference_urls=["https://www.isca-archive.org/interspeech_2009/schuller09_interspeech.html"],
        )

    def _compute(self, predictions, references, labels=None, sample_weight=None):
        if labels is None:
            labels = np.unique(references).tolist()
        if len(labels) == 0:
            return {"uar": float("nan")}
        score = recall_score(references, predictions, labels=labels, average="macro",
                             sample_weight=sample_weight, zero_division=0)
        return {"uar": float(score)}
