"""F1 score as an `evaluate` module, shipped in the repository so it loads offline.

A thin scikit-learn wrapper with the Hub module's arguments and output key, loaded with
``evaluate.load("ser_hf/metrics/f1")``. For emotion classes pass ``average="macro"`` or
``average="weighted"``: the default, ``"binary"``, is the Hub module's and fits two classes only.
"""

import datasets
import evaluate
import numpy as np
from sklearn.metrics import f1_score

_DESCRIPTION = "F1: the harmonic mean of precision and recall, per class or averaged over classes."

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted class ids.
    references (list of int): true class ids.
    labels (list of int): classes to average over; None (default) takes every class that occurs in
        the references or the predictions (scikit-learn's rule).
    pos_label (int): the positive class when average="binary". Default 1.
    average (str): "binary" (default), "macro" (unweighted mean over classes), "weighted" (mean
        weighted by each class's support), "micro", or None (one score per class).
    sample_weight (list of float): per-example weights.
Returns:
    {"f1": float}, or {"f1": list of float} when average is None.
Example:
    >>> f1 = evaluate.load("ser_hf/metrics/f1")
    >>> f1.compute(predictions=[0, 1, 2, 2], references=[0, 1, 1, 2], average="macro")
    {'f1': 0.7777777777777777}
"""

_CITATION = """@article{scikit-learn, title={Scikit-learn: Machine Learning in {P}ython},
author={Pedregosa, F. and others}, journal={JMLR}, volume={12}, pages={2825--2830}, year={2011}}"""


class F1(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
            reference_urls=["https://scikit-learn.org/stable/modules/generated/sklearn.metrics.f1_score.html"],
        )

    def _compute(self, predictions, references, labels=None, pos_label=1, average="binary", sample_weight=None):
        score = np.asarray(f1_score(references, predictions, labels=labels, pos_label=pos_label, average=average,
                                    sample_weight=sample_weight, zero_division=0))
        return {"f1": float(score) if score.ndim == 0 else score.tolist()}
