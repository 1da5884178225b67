"""Class balancing of the training part (never of validation or test: the caller splits first).

Methods:

``none``
    The data as it is.
``harmonic`` (seed 003, §3.3.2, Equation 4)
    Every class randomly under- or over-sampled to H, the harmonic mean of the class counts,
    ``H = (Σ x_i⁻¹ / n)⁻¹`` ("we reduced samples in classes exceeding a threshold H and increased
    them in classes below H ... by randomly removing or duplicating samples. Only the training set
    was adjusted"). H lies between the smallest count and the mean, so large classes lose rows
    and small ones are repeated; each class ends with ``round(H)`` rows.
``undersample`` (seed 004, §3.1.2 "1) Under-sampling")
    Every class down to the smallest class, rows chosen at random without replacement.
``oversample`` (seed 004, §3.1.2 "2) Over-sampling with Data Augmentation")
    Every class up to the largest. With ``augment_preset`` (seed 004: ``"seed004"``) the added
    rows are augmented copies, otherwise plain repeats. The paper "cycled through the available
    audio files", and so do we: a class's rows are repeated in a random order, each once before any
    twice (also for ``harmonic``).
``class_weights``
    The data as it is; the trainer weights the loss with :func:`class_weights` instead.

Rows kept keep their original order; added rows follow them. Classes with no rows stay empty.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import datasets
import numpy as np

from ser_hf.registry import BALANCE_METHODS

logger = logging.getLogger(__name__)



def class_counts(ds: datasets.Dataset, label_column: str = "label") -> dict[str, int]:
    """Rows per class, in class order. With a ``ClassLabel`` column, keyed by class name and
    listing every class (0 for an absent one); otherwise keyed by the label value as a string."""
    labels = np.asarray(ds[label_column])
    feature = ds.features[label_column]
    if isinstance(feature, datasets.ClassLabel):
        counts = np.bincount(labels.astype(np.int64), minlength=feature.num_classes) if len(labels) else \
            np.zeros(feature.num_classes, dtype=np.int64)
        return {name: int(counts[i]) for i, name in enumerate(feature.names)}
    values, counts = np.unique(labels, return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts)}


def harmonic_mean_count(counts: Sequence[int]) -> float:
    """H = n / Σ(1 / x_i) over the classes that have rows (seed 003, Equation 4)."""
    present = [c for c in counts if c > 0]
    if not present:
        raise ValueError("no class has any rows")
    return len(present) / sum(1.0 / c for c in present)


def target_count(counts: Sequence[int], method: str) -> int:
    """Rows per class after balancing with ``method`` (harmonic, undersample or oversample)."""
    present = [c for c in counts if c > 0]
    if not present:
        raise ValueError("no class has any rows")
    if method == "harmonic":
        return int(round(harmonic_mean_count(present)))
    if method == "undersample":
        return min(present)
    if method == "oversample":
        return max(present)
    raise ValueError(f"method {method!r} has no target count; choose harmonic, undersample or oversample")


def resample_indices(labels: Sequence[int], target: int, seed: int = 0) -> tuple[list[int], list[int]]:
    """Per class, the rows kept and the rows to add so that the class has ``target`` rows.

    A class above ``target`` keeps a random subset (no repeats); a class below keeps all its rows
    and adds repeats cycling through its rows in a random order. Returns (kept, added): ``kept`` in
    the original order, ``added`` grouped by class.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    kept: list[int] = []
    added: list[int] = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        if len(rows) >= target:
            kept.extend(rng.choice(rows, size=target, replace=False).tolist())
        else:
            kept.extend(rows.tolist())
            missing = target - len(rows)
            cycles = -(-missing // len(rows))
            order = np.concatenate([rng.permutation(rows) for _ in range(cycles)])
            added.extend(order[:missing].tolist())
    return sorted(kept), added


def balance(
    ds: datasets.Dataset,
    method: str,
    seed: int = 0,
    label_column: str = "label",
    augment_preset: str | None = None,
) -> datasets.Dataset:
    """The training part balanced with ``method`` (see the module docstring).

    ``augment_preset`` only affects ``oversample``: its added rows become augmented copies (an
    ``augmented`` column marks them; the kept rows get False). The class counts before and after
    are logged.
    """
    if method not in BALANCE_METHODS:
        raise ValueError(f"unknown balancing method {method!r}; choose one of {', '.join(BALANCE_METHODS)}")
    if label_column not in ds.column_names:
        raise ValueError(f"dataset has no {label_column!r} column (columns: {ds.column_names})")
    before = class_counts(ds, label_column)
    if method in ("none", "class_weights"):
        logger.info("balance=%s: data unchanged, class counts %s", method, before)
        return ds
    if len(ds) == 0:
        return ds

    target = target_count(list(before.values()), method)
    kept, added = resample_indices(ds[label_column], target, seed)
    out = ds.select(kept)
    if added:
        extra = ds.select(added)
        if method == "oversample" and augment_preset:
            from ser_hf.data.augment import augmented_copies

            extra = augmented_copies(extra, augment_preset, seed=seed, stream=0)
            if "augmented" not in out.column_names:
                out = out.add_column("augmented", [False] * len(out), feature=datasets.Value("bool"))
        out = datasets.concatenate_datasets([out, extra])
    empty = [name for name, n in before.items() if n == 0]
    logger.info("balance=%s: %d rows per class; class counts %s -> %s (%d -> %d rows)%s", method, target, before,
                class_counts(out, label_column), len(ds), len(out),
                f"; classes without rows stay empty: {empty}" if empty else "")
    return out


def class_weights(labels: Sequence[int], num_classes: int) -> np.ndarray:
    """Inverse-frequency class weights for a weighted cross-entropy, normalised to mean 1.

    ``w_c ∝ 1 / n_c``, scaled so the weights of the classes present average 1. A class absent
    from ``labels`` gets weight 0 (it never occurs as a target, so its weight is never used).
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes).astype(np.float64)
    if len(counts) > num_classes:
        raise ValueError(f"labels go up to {len(counts) - 1} but num_classes is {num_classes}")
    present = counts > 0
    if not present.any():
        raise ValueError("no labels given")
    weights = np.zeros(num_classes, dtype=np.float64)
    weights[present] = 1.0 / counts[present]
    return weights * (present.sum() / weights.sum())
