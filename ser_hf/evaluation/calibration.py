"""Calibrated probabilities: the expected calibration error, reliability bins and temperature scaling.

* **ECE** (:func:`expected_calibration_error`): the top-class probability of each file is its *confidence*; files are
  put into 15 equal-width confidence bins, and the ECE is the file-weighted mean gap between a bin's accuracy and its
  mean confidence (Guo et al., 2017, "On calibration of modern neural networks"). 0 is perfect; an over-confident
  model that says 95 % and is right 70 % of the time has an ECE near 0.25.
* **Temperature scaling** (:func:`fit_temperature`): one scalar ``T`` divides the logits, fitted to minimise the
  negative log-likelihood of the *validation* labels (never the test labels). Dividing by a positive scalar keeps
  every argmax: accuracy, F1 and UAR do not change, only the probabilities do.
* **Saved with the model** (:func:`fold_temperature`): dividing the final classifier layer's weight and bias by ``T``
  makes the saved model's logits ``logits / T`` itself, so ``pipeline("audio-classification")``, the Space and every
  other loader return calibrated probabilities with no custom code; ``config.calibration_temperature`` records ``T``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

logger = logging.getLogger(__name__)

BINS = 15
TEMPERATURE_BOUNDS = (0.05, 20.0)
# why the frozen-feature methods (embeddings, the weighted-layer probe) report an ECE but fit no temperature
NO_VALIDATION = "the method fits on every training file, so there is no validation part to fit a temperature on"


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def log_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """Logits that give ``probabilities`` back under softmax (up to a constant per row)."""
    return np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, None))


def reliability_bins(probabilities: np.ndarray, labels: Sequence[int], bins: int = BINS) -> dict:
    """Per equal-width confidence bin: ``count``, mean ``confidence`` and ``accuracy`` (NaN for empty bins)."""
    probs = np.asarray(probabilities, dtype=np.float64)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(labels)
    index = np.clip((confidence * bins).astype(np.int64), 0, bins - 1)  # confidence 1.0 falls in the last bin
    count = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore"):
        return {"edges": np.linspace(0, 1, bins + 1).tolist(), "count": count.tolist(),
                "confidence": (np.bincount(index, confidence, bins) / count).tolist(),
                "accuracy": (np.bincount(index, correct.astype(float), bins) / count).tolist()}


def expected_calibration_error(probabilities: np.ndarray, labels: Sequence[int], bins: int = BINS) -> float:
    """Sum over confidence bins of ``|accuracy - confidence| x files in bin / files``."""
    table = reliability_bins(probabilities, labels, bins)
    count = np.asarray(table["count"], dtype=np.float64)
    if not count.sum():
        return float("nan")
    gaps = np.nan_to_num(np.abs(np.asarray(table["accuracy"]) - np.asarray(table["confidence"])))
    return float((gaps * count).sum() / count.sum())


def negative_log_likelihood(logits: np.ndarray, labels: Sequence[int], temperature: float = 1.0) -> float:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(len(z)), np.asarray(labels)]))


def fit_temperature(logits: np.ndarray, labels: Sequence[int]) -> float:
    """The temperature that minimises the NLL of ``labels`` under ``softmax(logits / T)`` (bounded search on log T)."""
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, dtype=np.float64)
    if len(logits) == 0:
        raise ValueError("fit_temperature: no validation examples")
    low, high = np.log(TEMPERATURE_BOUNDS[0]), np.log(TEMPERATURE_BOUNDS[1])
    result = minimize_scalar(lambda log_t: negative_log_likelihood(logits, labels, float(np.exp(log_t))),
                             bounds=(low, high), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(result.x))


def temperature_scaling(logits: np.ndarray, labels: Sequence[int]) -> dict:
    """The temperature fitted on validation ``logits`` / ``labels`` and what it did there: ``temperature``,
    ``fitted_on`` and the validation ECE and NLL before and after."""
    logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels)
    temperature = fit_temperature(logits, labels)
    scaled = logits / temperature
    return {"temperature": temperature, "fitted_on": f"the validation part ({len(labels)} files)",
            "validation_ece_before": expected_calibration_error(softmax(logits), labels),
            "validation_ece_after": expected_calibration_error(softmax(scaled), labels),
            "validation_nll_before": negative_log_likelihood(logits, labels),
            "validation_nll_after": negative_log_likelihood(scaled, labels)}


def calibration_report(probabilities: np.ndarray, labels: Sequence[int], temperature: float | None = None,
                       fitted_on: str = "") -> dict:
    """ECE of ``probabilities`` and its reliability bins; with the ``temperature`` they were scaled by, also the ECE
    of the unscaled probabilities (``softmax(log p x T)``: the model before scaling)."""
    labels = np.asarray(labels)
    out = {"ece": expected_calibration_error(probabilities, labels), "bins": BINS,
           "reliability": reliability_bins(probabilities, labels)}
    if temperature is not None:
        before = softmax(log_probabilities(probabilities) * temperature)
        out.update(temperature=float(temperature), ece_before=expected_calibration_error(before, labels),
                   ece_after=out["ece"], reliability_before=reliability_bins(before, labels), fitted_on=fitted_on)
    return out


def classifier_layer(model):
    """The ``torch.nn.Linear`` that produces a classification model's logits: the last Linear layer with
    ``config.num_labels`` outputs (``classifier`` of the wav2vec2 family and Whisper, ``classifier.dense`` of AST,
    the head's output layer of ser-hf's own models)."""
    from torch import nn

    num_labels = model.config.num_labels
    layers = [m for _, m in model.named_modules() if isinstance(m, nn.Linear) and m.out_features == num_labels]
    if not layers:
        raise ValueError(f"{type(model).__name__}: no Linear layer with {num_labels} outputs to fold a temperature into")
    return layers[-1]


def fold_temperature(model, temperature: float) -> None:
    """Divide the logits layer's weight and bias by ``temperature`` in place and record it in the config."""
    import torch

    layer = classifier_layer(model)
    with torch.no_grad():
        layer.weight.div_(temperature)
        if layer.bias is not None:
            layer.bias.div_(temperature)
    previous = getattr(model.config, "calibration_temperature", None) or 1.0
    model.config.calibration_temperature = float(previous * temperature)  # folding twice compounds
