"""Every number a ser-hf evaluation reports, from one call.

The headline figures (accuracy, weighted F1, macro F1, UAR) go through the ``evaluate`` modules
shipped next to this file, so the numbers a ``Trainer`` logs and the numbers in the results file
come from the same code. The rest (per-class table, confusion matrix, ROC-AUC, per-group
breakdowns, most frequent confusions) is scikit-learn directly.

Averaging conventions, written once here:

- **macro F1** averages over the classes that occur in the references *or* the predictions
  (scikit-learn's default, what the seed papers report);
- **UAR** averages recall over the classes that occur in the references (a class that never
  occurs has no recall); on balanced data it equals accuracy, on imbalanced data it does not;
- **weighted F1** weights each class by its support.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_auc_score

from ser_hf.registry import METRICS

METRICS_DIR = Path(__file__).resolve().parent
SHIPPED_MODULES: tuple[str, ...] = ("accuracy", "f1", "uar")  # the evaluate modules in this folder


def metric_path(name: str) -> str:
    """Folder of a shipped ``evaluate`` module: ``evaluate.load(metric_path("uar"))`` works offline."""
    if name not in SHIPPED_MODULES:
        raise ValueError(f"no shipped evaluate module {name!r}; shipped: {', '.join(SHIPPED_MODULES)}")
    return str(METRICS_DIR / name)


@functools.lru_cache(maxsize=None)
def load_metric(name: str):
    """The ``evaluate`` module ``name``, a shipped one or the folder of another (what a :data:`ser_hf.registry.METRICS`
    entry names), loaded once per process and kept in memory.

    ``keep_in_memory`` stops ``evaluate`` from writing Arrow cache files, which also keeps two
    ranks of a distributed run from contending for the same lock files.
    """
    import evaluate

    return evaluate.load(metric_path(name) if name in SHIPPED_MODULES else name, keep_in_memory=True)


def headline_metrics(references: Sequence[int], predictions: Sequence[int]) -> dict[str, float]:
    """Every metric of :data:`ser_hf.registry.METRICS` (accuracy, UAR, macro and weighted F1), through the shipped
    ``evaluate`` modules."""
    refs = [int(r) for r in references]
    preds = [int(p) for p in predictions]
    if not refs:
        return {name: float("nan") for name in METRICS}
    return {name: float(load_metric(m.module).compute(predictions=preds, references=refs, **m.arguments)[m.key])
            for name, m in METRICS.items()}


def _as_ids(values: Sequence, label_names: Sequence[str], what: str) -> np.ndarray:
    """Class ids from ids or from label names (so callers may pass either)."""
    values = list(values)
    if values and isinstance(values[0], str):
        index = {name: i for i, name in enumerate(label_names)}
        unknown = sorted({v for v in values if v not in index})
        if unknown:
            raise ValueError(f"{what}: labels {unknown} are not in label_names {list(label_names)}")
        return np.array([index[v] for v in values], dtype=np.int64)
    ids = np.asarray(values, dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= len(label_names)):
        raise ValueError(f"{what}: class ids must lie in 0..{len(label_names) - 1}, got {ids.min()}..{ids.max()}")
    return ids


def _to_probabilities(scores: np.ndarray) -> np.ndarray:
    """Rows that already are probabilities pass through; anything else (logits) is softmaxed."""
    if np.all(scores >= 0) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-3):
        return scores / scores.sum(axis=1, keepdims=True)
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def roc_auc_ovr(references: np.ndarray, probabilities: np.ndarray) -> float | None:
    """Macro one-vs-rest ROC-AUC, or None when it is undefined (a class has no positives)."""
    n_classes = probabilities.shape[1]
    if len(references) == 0 or len(np.unique(references)) < n_classes or n_classes < 2:
        return None
    probs = _to_probabilities(probabilities)
    if n_classes == 2:
        return float(roc_auc_score(references, probs[:, 1]))
    return float(roc_auc_score(references, probs, multi_class="ovr", average="macro", labels=list(range(n_classes))))


def top_confusions(cm: np.ndarray, label_names: Sequence[str], k: int = 10) -> list[dict]:
    """The ``k`` largest off-diagonal cells, largest first (seed 004, §3.4.12 "Most Frequent Confusions")."""
    cells = [(int(cm[t, p]), t, p) for t in range(cm.shape[0]) for p in range(cm.shape[1]) if t != p and cm[t, p] > 0]
    cells.sort(key=lambda cell: (-cell[0], cell[1], cell[2]))
    return [{"true": label_names[t], "predicted": label_names[p], "count": count} for count, t, p in cells[:k]]


def compute_classification_metrics(
    references: Sequence[int] | Sequence[str],
    predictions: Sequence[int] | Sequence[str],
    label_names: Sequence[str],
    probabilities: np.ndarray | Sequence[Sequence[float]] | None = None,
    groups: dict[str, Sequence[str]] | None = None,
    top_k_confusions: int = 10,
) -> dict:
    """Everything an evaluation reports, as one JSON-serialisable dict.

    Args:
        references, predictions: class ids (or label names) of the examples, in the same order.
        label_names: class names by id; fixes the rows/columns of the confusion matrix.
        probabilities: optional (n_examples, n_classes) class probabilities (logits are softmaxed)
            for the one-vs-rest ROC-AUC.
        groups: optional breakdowns, e.g. ``{"corpus": ds["corpus"], "language": ds["language"]}``:
            one value per example; each value gets every metric and n.
        top_k_confusions: how many of the most frequent confusions to list.

    Returns:
        every metric of :data:`ser_hf.registry.METRICS`, ``n``, ``per_class`` ({name:
        {precision, recall, f1, support}}), ``confusion_matrix`` (list of lists, rows = true
        class), ``roc_auc_ovr`` (None when not computable), ``per_group`` ({group: {value:
        {accuracy, weighted_f1, macro_f1, uar, n}}}), ``top_confusions`` ([{true, predicted, count}]) and
        ``label_names``.
    """
    label_names = list(label_names)
    refs = _as_ids(references, label_names, "references")
    preds = _as_ids(predictions, label_names, "predictions")
    if len(refs) != len(preds):
        raise ValueError(f"{len(refs)} references but {len(preds)} predictions")
    class_ids = list(range(len(label_names)))

    result: dict = {"n": int(len(refs)), **headline_metrics(refs, preds)}

    precision, recall, f1, support = precision_recall_fscore_support(
        refs, preds, labels=class_ids, zero_division=0
    )
    result["per_class"] = {
        name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
               "support": int(support[i])}
        for i, name in enumerate(label_names)
    }
    cm = confusion_matrix(refs, preds, labels=class_ids)
    result["confusion_matrix"] = cm.tolist()

    result["roc_auc_ovr"] = None
    if probabilities is not None:
        probs = np.asarray(probabilities, dtype=np.float64)
        if probs.shape != (len(refs), len(label_names)):
            raise ValueError(f"probabilities must have shape {(len(refs), len(label_names))}, got {probs.shape}")
        result["roc_auc_ovr"] = roc_auc_ovr(refs, probs)

    result["per_group"] = {}
    for group_name, values in (groups or {}).items():
        values = np.asarray([str(v) for v in values])
        if len(values) != len(refs):
            raise ValueError(f"group {group_name!r} has {len(values)} values for {len(refs)} examples")
        per_value = {}
        for value in sorted(set(values.tolist())):
            mask = values == value
            head = headline_metrics(refs[mask], preds[mask])
            per_value[value] = {**head, "n": int(mask.sum())}
        result["per_group"][group_name] = per_value

    result["top_confusions"] = top_confusions(cm, label_names, top_k_confusions)
    result["label_names"] = label_names
    return result


def make_compute_metrics(label_names: Sequence[str]) -> Callable[..., dict[str, float]]:
    """A ``compute_metrics`` for ``transformers.Trainer``: a flat float per metric of the registry.

    The Trainer prefixes them with ``eval_``, so ``metric_for_best_model="uar"`` (or ``"macro_f1"``)
    selects the best checkpoint by them.
    """
    n_classes = len(label_names)

    def compute_metrics(eval_prediction) -> dict[str, float]:
        logits = eval_prediction.predictions
        if isinstance(logits, (tuple, list)):  # models that also return hidden states
            logits = logits[0]
        logits = np.asarray(logits)
        if logits.shape[-1] != n_classes:
            raise ValueError(f"model gives {logits.shape[-1]} scores per example but there are {n_classes} labels")
        predictions = logits.argmax(axis=-1)
        return headline_metrics(np.asarray(eval_prediction.label_ids).reshape(-1), predictions.reshape(-1))

    return compute_metrics
