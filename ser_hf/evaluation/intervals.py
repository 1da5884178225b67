"""95 % bootstrap intervals on the headline metrics, and the paired bootstrap behind ``ser-hf compare``.

A test split of 107 files moves accuracy by 2.8 points per 3 files; an interval says how far a reported number is
from the truth that a different draw of test material would give.

* **Resampling unit.** Where the test part is speaker-independent the unit is the speaker (a cluster bootstrap): the
  files of one speaker share a voice, so they are not independent draws, and a speaker-independent score is a claim
  about new speakers. Elsewhere (speaker-dependent splits, EmoBox's random folds) the unit is the file, and so it is
  when a test part has fewer than 5 speakers (one left-out speaker cannot be resampled), with a note saying so.
* **Interval.** The percentile interval of ``B`` resamples (default 1000, seed 0): the 2.5th and 97.5th percentiles
  of the metric recomputed on each resample. Cross-validation: the units of all folds are resampled together and
  each resample's value is the mean over folds of each fold's metric, the interval of the mean over folds
  (``folds=``); under leave-one-speaker-out that resamples folds.
* **Metrics.** Computed from the resample's confusion matrix with the averaging conventions of
  :mod:`ser_hf.evaluation.metrics.classification` (macro F1 over the classes in references or predictions, UAR over
  the classes in references), so a resample of the whole set gives exactly the reported numbers.
* **Paired comparison** (:func:`paired_bootstrap`): both systems' predictions on the same items, resampled together;
  the interval of the difference and a two-sided p-value of "no difference" (the resampled differences shifted to
  mean zero, Efron & Tibshirani's bootstrap test), plus McNemar's exact test on the items one system gets right and
  the other wrong (it treats files as independent: with several files per speaker it is optimistic).
"""

from __future__ import annotations

from collections.abc import Sequence

import warnings

import numpy as np

METRICS = ("accuracy", "uar", "macro_f1", "weighted_f1")  # the headline metrics, in table order
LEVEL = 0.95
DEFAULT_SAMPLES = 1000
MIN_SPEAKERS = 5  # fewer clusters give a handful of distinct resamples: no usable percentile interval
CHUNK = 64  # resamples per matrix product: (CHUNK x clusters) weights stay small for 35,000-file test parts


def scores_from_confusions(confusions: np.ndarray) -> dict[str, np.ndarray]:
    """The headline metrics of a stack of confusion matrices ``(B, K, K)`` (rows: true class), one value per matrix."""
    c = np.asarray(confusions, dtype=np.float64)
    total = c.sum(axis=(1, 2))
    hits = np.diagonal(c, axis1=1, axis2=2)
    support, predicted = c.sum(axis=2), c.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an empty resample (a fold no unit was drawn from): NaN
        recall = np.where(support > 0, hits / support, np.nan)
        # F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (support + predicted); 0 where neither precision nor recall is defined
        f1 = np.where(support + predicted > 0, 2 * hits / (support + predicted), np.nan)
        return {
            "accuracy": hits.sum(axis=1) / total,
            "uar": np.nanmean(recall, axis=1),
            "macro_f1": np.nanmean(f1, axis=1),
            "weighted_f1": np.nansum(np.nan_to_num(f1) * support, axis=1) / total,
        }


def _cells(references: np.ndarray, predictions: np.ndarray, n_classes: int) -> np.ndarray:
    return np.asarray(references, dtype=np.int64) * n_classes + np.asarray(predictions, dtype=np.int64)


def _ids(values: Sequence, n: int) -> np.ndarray:
    """0..k-1 ids of the distinct values (None: one id per item)."""
    if values is None:
        return np.arange(n)
    return np.unique(np.asarray([str(v) for v in values]), return_inverse=True)[1].reshape(-1)


def _draw(rng: np.random.Generator, n_clusters: int, size: int) -> np.ndarray:
    """(size, clusters) draw counts: each row draws as many clusters as there are, with replacement."""
    draws = rng.integers(0, n_clusters, size=(size, n_clusters))
    rows = np.arange(size)[:, None] * n_clusters
    return np.bincount((rows + draws).ravel(), minlength=size * n_clusters).reshape(size, n_clusters).astype(float)


def bootstrap_scores(references: Sequence[int], predictions: Sequence[int] | np.ndarray, n_classes: int,
                     units: Sequence | None = None, folds: Sequence | None = None,
                     samples: int = DEFAULT_SAMPLES, seed: int = 0) -> dict[str, np.ndarray]:
    """Each headline metric on ``samples`` resamples: ``{metric: (samples,)}``, or ``(samples, systems)`` when
    ``predictions`` is ``(systems, items)`` (the same resamples for every system: a paired bootstrap).

    ``units``: the resampling unit of each item (speakers), None = files; as many units are drawn, with replacement,
    as there are. ``folds``: the value is the mean over folds of each fold's metric (what a cross-validation reports),
    over the folds a resample holds items of: under leave-one-speaker-out, resampling speakers resamples folds.
    """
    refs = np.asarray(references, dtype=np.int64)
    preds = np.asarray(predictions, dtype=np.int64)
    paired = preds.ndim == 2
    preds = preds if paired else preds[None]
    fold = _ids(folds, len(refs)) if folds is not None else np.zeros(len(refs), dtype=np.int64)
    # a unit belongs to one fold (a speaker tested in two folds counts as two units)
    clusters = _ids([f"{f}|{u}" for f, u in zip(fold, units if units is not None else range(len(refs)))], len(refs))
    n_clusters = int(clusters.max()) + 1 if len(refs) else 0
    fold_of_cluster = np.zeros(n_clusters, dtype=np.int64)
    fold_of_cluster[clusters] = fold
    members = [np.flatnonzero(fold_of_cluster == f) for f in np.unique(fold)]
    tables = []  # per system: (clusters, K*K) contribution of each cluster to the confusion matrix
    for system in preds:
        table = np.zeros((n_clusters, n_classes * n_classes))
        np.add.at(table, (clusters, _cells(refs, system, n_classes)), 1.0)
        tables.append(table)
    rng = np.random.default_rng(seed)
    chunks: dict[str, list] = {m: [] for m in METRICS}
    for start in range(0, samples, CHUNK):
        counts = _draw(rng, n_clusters, min(CHUNK, samples - start))
        per_system = {m: [] for m in METRICS}
        for table in tables:
            per_fold = [scores_from_confusions((counts[:, idx] @ table[idx]).reshape(-1, n_classes, n_classes))
                        for idx in members]
            with warnings.catch_warnings():  # a fold no unit of the resample falls in has no score
                warnings.simplefilter("ignore", RuntimeWarning)
                for m in METRICS:
                    per_system[m].append(np.nanmean([p[m] for p in per_fold], axis=0))
        for m in METRICS:
            chunks[m].append(np.stack(per_system[m], axis=1))
    return {m: (np.concatenate(v) if paired else np.concatenate(v)[:, 0]) for m, v in chunks.items()}


def point_scores(references: Sequence[int], predictions: Sequence[int] | np.ndarray, n_classes: int,
                 folds: Sequence | None = None) -> dict[str, np.ndarray]:
    """The metrics of the items as they are (with ``folds``: the mean over folds), per system when ``predictions``
    is ``(systems, items)``."""
    refs = np.asarray(references, dtype=np.int64)
    preds = np.asarray(predictions, dtype=np.int64)
    systems = preds if preds.ndim == 2 else preds[None]
    fold = _ids(folds, len(refs)) if folds is not None else np.zeros(len(refs), dtype=np.int64)
    out = {m: np.zeros(len(systems)) for m in METRICS}
    for i, system in enumerate(systems):
        per = []
        for f in np.unique(fold):
            mask = fold == f
            cm = np.bincount(_cells(refs[mask], system[mask], n_classes), minlength=n_classes * n_classes)
            per.append(scores_from_confusions(cm.reshape(1, n_classes, n_classes)))
        for m in METRICS:
            out[m][i] = float(np.mean([p[m][0] for p in per]))
    return out if preds.ndim == 2 else {m: v[0] for m, v in out.items()}


def percentile_interval(values: np.ndarray, level: float = LEVEL) -> list[float]:
    tail = 100 * (1 - level) / 2
    return [float(np.nanpercentile(values, tail)), float(np.nanpercentile(values, 100 - tail))]


def bootstrap_intervals(references: Sequence[int], predictions: Sequence[int], n_classes: int,
                        units: Sequence | None = None, folds: Sequence | None = None,
                        samples: int = DEFAULT_SAMPLES, seed: int = 0, level: float = LEVEL) -> dict:
    """``{"ci": {metric: [low, high]}, "unit": "speaker" | "file", "samples", "level", "seed"}``: the percentile
    interval of every headline metric (:func:`bootstrap_scores`; with ``folds``, of the mean over folds)."""
    scores = bootstrap_scores(references, predictions, n_classes, units, folds, samples, seed)
    return {"ci": {m: percentile_interval(scores[m], level) for m in METRICS},
            "unit": "speaker" if units is not None else "file", "samples": int(samples), "level": level, "seed": seed,
            **({"statistic": "mean over folds"} if folds is not None else {})}


def resampling_units(speakers: Sequence[str], speaker_independent: bool) -> tuple[list[str] | None, str]:
    """What a bootstrap resamples for a test part: its speakers (where it is speaker-independent and has at least
    :data:`MIN_SPEAKERS` of them) or its files (None), and a note when speakers could not be used."""
    n = len(set(speakers))
    if not speaker_independent:
        return None, ""
    if n < MIN_SPEAKERS:
        return None, (f"only {n} test speaker{'s' if n != 1 else ''}: files are resampled, so the interval covers new "
                      "recordings of these speakers, not new speakers")
    return list(speakers), ""


def run_intervals(references: Sequence[int], probabilities: np.ndarray, speakers: Sequence[str],
                  speaker_independent: bool, samples: int = DEFAULT_SAMPLES) -> dict | None:
    """The intervals a run reports (:func:`resampling_units` decides what is resampled); None when ``samples`` is 0
    or there is nothing to resample."""
    probabilities = np.asarray(probabilities)
    if not samples or len(references) == 0:
        return None
    units, note = resampling_units(speakers, speaker_independent)
    out = bootstrap_intervals(references, probabilities.argmax(axis=1), probabilities.shape[1], units=units,
                              samples=samples)
    return {**out, "note": note} if note else out


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> dict:
    """McNemar's exact (binomial) test on the items exactly one of the two systems gets right."""
    from scipy.stats import binomtest

    only_a = int(np.sum(correct_a & ~correct_b))
    only_b = int(np.sum(correct_b & ~correct_a))
    p = binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    return {"only_a_correct": only_a, "only_b_correct": only_b, "p_value": float(p)}


def paired_bootstrap(references: Sequence[int], predictions_a: Sequence[int], predictions_b: Sequence[int],
                     n_classes: int, units: Sequence | None = None, folds: Sequence | None = None,
                     samples: int = DEFAULT_SAMPLES, seed: int = 0, level: float = LEVEL) -> dict:
    """B minus A on the same items, per headline metric: ``{metric: {"a", "b", "difference", "ci", "p_value"}}``,
    with ``"mcnemar"`` (accuracy) and the resampling facts."""
    refs = np.asarray(references, dtype=np.int64)
    a, b = np.asarray(predictions_a, dtype=np.int64), np.asarray(predictions_b, dtype=np.int64)
    point = point_scores(refs, np.stack([a, b]), n_classes, folds)
    scores = bootstrap_scores(refs, np.stack([a, b]), n_classes, units, folds, samples, seed)
    out: dict = {}
    for m in METRICS:
        observed = point[m][1] - point[m][0]
        differences = scores[m][:, 1] - scores[m][:, 0]
        shifted = differences - np.nanmean(differences)  # the null: same mean, the observed spread
        extreme = int(np.sum(np.abs(shifted) >= abs(observed) - 1e-12))
        out[m] = {"a": float(point[m][0]), "b": float(point[m][1]), "difference": float(observed),
                  "ci": percentile_interval(differences, level), "p_value": (extreme + 1) / (samples + 1)}
    out["mcnemar"] = mcnemar_exact(a == refs, b == refs)
    out["resampling"] = {"unit": "speaker" if units is not None else "file", "samples": int(samples), "level": level,
                         "seed": seed, **({"statistic": "mean over folds"} if folds is not None else {})}
    return out

