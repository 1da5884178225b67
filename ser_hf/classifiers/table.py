"""Every embedding x every classifier on the same split, in one comparison table (seed 000's Tables 5-8).

:func:`run_baselines_table` extracts each embedding once per split part (cached), fits every
classifier on the training part and evaluates on the test part with
:func:`ser_hf.evaluation.metrics.compute_classification_metrics`: accuracy, weighted and macro F1, UAR and
the macro one-vs-rest ROC-AUC. It writes to ``output_dir``:

- ``baselines.md`` / ``baselines.csv``: the comparison table, one row per embedding x classifier;
- ``baselines.json``: every row's full metrics (per class, confusion matrix, per corpus/language);
- ``plots/confusion_<embedding>_<classifier>.png`` and ``plots/roc_<embedding>_<classifier>.png``;
- ``classifiers/<embedding>__<classifier>.skops`` (an MLP: a folder) with a ``.json`` beside it
  naming the label names, the extractor and the pooling, so the file predicts on its own.

The label space is the classes present in the training or test part (EmoDB under the seven-class
set has no "surprise"), so the ROC-AUC is defined. With ``pooling="frames"`` (seed 003) the
classifiers train on frames, the training frames optionally balanced to the harmonic mean of the
class counts (``balance="harmonic"``); the table reports file-level results (frame probabilities
averaged per file) and, in rows marked ``frame``, the per-frame results seed 003 reports.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from dataclasses import dataclass
from collections.abc import Mapping, Sequence
from pathlib import Path

import datasets
import numpy as np

from ser_hf.evaluation.metrics import compute_classification_metrics
from ser_hf.evaluation.plots import plot_confusion_matrix, plot_roc_curves
from ser_hf.classifiers.pipelines import fit_classifier, save_classifier
from ser_hf.features.extract import EmbeddingExtractor, Embeddings, extract, pool_per_file
from ser_hf.registry import CLASSIFIERS, METRICS, resolve

logger = logging.getLogger(__name__)

DEFAULT_CLASSIFIERS: tuple[str, ...] = tuple(CLASSIFIERS)
IN_MEMORY_ONLY = ("probabilities", "references", "label_names")  # in the returned rows, not in baselines.json
TABLE_COLUMNS = ("embedding", "classifier", "level", *METRICS, "roc_auc_ovr", "n", "fit_seconds")


def _fit(name: str, x: np.ndarray, y: np.ndarray, seed: int, groups: np.ndarray, validation, mlp_options: dict):
    entry = CLASSIFIERS[name]
    if not entry.pipeline:  # a classifier with its own fit (seed 003's MLP grid): options, groups, validation
        model = resolve(entry.factory)(seed=seed, **mlp_options)
        if validation is not None:
            return model.fit(x, y, validation[0], validation[1])
        return model.fit(x, y, groups=groups)
    return fit_classifier(name, x, y, seed)


def _full_probabilities(model, features: np.ndarray, num_classes: int) -> np.ndarray:
    """predict_proba with one column per class of the label space (a class absent from training gets 0)."""
    probs = model.predict_proba(features)
    classes = np.asarray(model.classes_)
    full = np.zeros((len(features), num_classes))
    full[:, classes] = probs
    return full


def _groups(ds: datasets.Dataset) -> dict[str, list]:
    return {c: ds[c] for c in ("corpus", "language") if c in ds.column_names and len(set(ds[c])) > 1}


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def format_table(rows: Sequence[dict]) -> str:
    """Markdown: one line per embedding x classifier (x level); scores in per cent, ROC-AUC as a fraction."""
    header = ["embedding", "classifier", "level", *(f"{m.display} (%)" for m in METRICS.values()), "ROC-AUC", "n",
              "fit (s)"]
    body = []
    for r in rows:
        pct = [("n/a" if r[k] is None else f"{100 * r[k]:.2f}") for k in METRICS]
        auc = "n/a" if r["roc_auc_ovr"] is None else f"{r['roc_auc_ovr']:.4f}"
        body.append([r["embedding"], r["classifier"], r["level"], *pct, auc, str(r["n"]), f"{r['fit_seconds']:.2f}"])
    widths = [max(len(c) for c in col) for col in zip(header, *body)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, body)]) + "\n"


def run_baselines_table(
    splits: datasets.DatasetDict | Mapping[str, datasets.Dataset],
    extractors: Mapping[str, EmbeddingExtractor],
    output_dir: str | Path,
    classifiers: Sequence[str] = DEFAULT_CLASSIFIERS,
    pooling: str = "mean",
    balance: str = "none",
    seed: int = 0,
    batch_size: int = 16,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    device: str | None = None,
    mlp_options: dict | None = None,
    plots: bool = True,
    save_models: bool = True,
    progress: bool = True,
    distributed: bool | None = None,
) -> list[dict]:
    """Fit every classifier on every embedding of ``splits["train"]``, evaluate on ``splits["test"]``.

    Args:
        splits: ``train`` and ``test`` parts (``validation``, when present, is the MLP's validation set).
        extractors: ``{table name: extractor}``, e.g. ``{"vggish": build_extractor("vggish")}``.
        output_dir: where the table, plots and classifiers go.
        classifiers: names of :data:`ser_hf.registry.CLASSIFIERS`.
        pooling: ``"mean"`` (a row per file, seed 000) or ``"frames"`` (a row per frame, seed 003).
        balance: ``"none"`` or ``"harmonic"`` (training rows resampled to the harmonic mean of the class
            counts, seed 003; training part only).
        mlp_options: arguments of :class:`~ser_hf.classifiers.mlp.MLPClassifier` (``n_trials``, ``max_epochs``, ...).
        distributed: passed to :func:`~ser_hf.features.extract.extract` (False: the main process alone runs the
            table after every process extracted its shard into the cache).

    Returns:
        The table rows (also written to ``baselines.json``), each with its full ``metrics``.
    """
    if "train" not in splits or "test" not in splits:
        raise ValueError(f"splits need 'train' and 'test' parts, got {list(splits)}")
    if balance not in ("none", "harmonic"):
        raise ValueError(f"balance must be 'none' or 'harmonic', got {balance!r}")
    unknown = [c for c in classifiers if c not in CLASSIFIERS]
    if unknown:
        raise ValueError(f"unknown classifiers {unknown}; known: {', '.join(CLASSIFIERS)}")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    train, test = splits["train"], splits["test"]
    validation = splits["validation"] if "validation" in splits else None
    labels = _TableLabels.of(train, test, validation)
    groups = _groups(test)
    options = {"progress": None if progress else False, **(mlp_options or {})}  # the MLP's bar: on a terminal only

    rows: list[dict] = []
    for emb_name, extractor in extractors.items():
        def embed(ds) -> Embeddings:
            return extract(ds, extractor, cache_dir=cache_dir, batch_size=batch_size, pooling=pooling, device=device,
                           use_cache=use_cache, progress=progress, distributed=distributed)

        train_emb, test_emb = embed(train), embed(test)
        x_train, y_train, file_of_row = _training_rows(train_emb, labels, balance, seed, emb_name)
        val = None
        if validation is not None:
            val_emb = embed(validation)
            y_val = val_emb.row_labels(labels.validation)
            keep = y_val >= 0
            val = (val_emb.features[keep], y_val[keep])

        for clf_name in classifiers:
            start = time.perf_counter()
            model = _fit(clf_name, x_train, y_train, seed, file_of_row, val, options)
            fit_seconds = time.perf_counter() - start
            scored = _score_levels(model, test_emb, labels, pooling, len(test), groups)
            for level, metrics, probs, refs in scored:
                row = {"embedding": emb_name, "classifier": clf_name, "level": level,
                       **{k: metrics[k] for k in (*METRICS, "roc_auc_ovr", "n")},
                       "fit_seconds": fit_seconds, "predictions": probs.argmax(axis=1).tolist(), "metrics": metrics,
                       "label_names": labels.names, "probabilities": probs, "references": refs}
                if plots:
                    row["plots"] = _plot_row(output_dir, emb_name, clf_name, level, metrics, probs, refs, labels.names)
                rows.append(row)
            file_row = rows[-len(scored)]
            if save_models:
                suffix = ".skops" if CLASSIFIERS[clf_name].pipeline else ""  # the others save a folder
                path = output_dir / "classifiers" / f"{emb_name}__{clf_name}{suffix}"
                metadata = {"classifier": clf_name, "embedding": emb_name, "pooling": pooling, "balance": balance,
                            "label_names": labels.names, "extractor": extractor.cache_config(), "seed": seed,
                            "test_accuracy": file_row["accuracy"]}
                save_classifier(model, path, metadata)
                file_row["classifier_path"] = str(path)
            logger.info("%s + %s: accuracy %.4f, macro F1 %.4f (fit %.2f s)", emb_name, clf_name,
                        file_row["accuracy"], file_row["macro_f1"], fit_seconds)

    _write_table(output_dir, rows, labels.names, pooling, balance, seed, {name: len(part) for name, part in splits.items()})
    return rows


@dataclass
class _TableLabels:
    """The classes a table scores (those in its train or test part, renumbered 0..n-1) and each part's labels in
    that numbering (-1 for a validation row of a class the others lack)."""

    names: list[str]
    train: np.ndarray
    test: np.ndarray
    validation: np.ndarray | None

    @classmethod
    def of(cls, train, test, validation) -> "_TableLabels":
        label_feature = train.features["label"]
        all_names = list(label_feature.names) if isinstance(label_feature, datasets.ClassLabel) else None
        y_train, y_test = np.asarray(train["label"]), np.asarray(test["label"])
        active = sorted(set(y_train.tolist()) | set(y_test.tolist()))
        remap = {label: i for i, label in enumerate(active)}
        to_active = np.vectorize(lambda v: remap.get(int(v), -1), otypes=[np.int64])
        y_val = to_active(np.asarray(validation["label"])) if validation is not None else None
        if y_val is not None and (y_val < 0).any():
            logger.warning("validation part: %d rows of classes absent from train/test dropped", int((y_val < 0).sum()))
        return cls([all_names[i] if all_names else str(i) for i in active], to_active(y_train), to_active(y_test), y_val)


def _training_rows(train_emb: Embeddings, labels: _TableLabels, balance: str, seed: int, emb_name: str):
    """The training rows (features, labels, file of each row), resampled to the harmonic mean of the class counts
    with ``balance="harmonic"`` (seed 003; frame rows when pooling is ``frames``)."""
    from ser_hf.data.balance import harmonic_mean_count, resample_indices

    x_train, y_train = train_emb.features, train_emb.row_labels(labels.train)
    file_of_row = train_emb.file_index
    if balance == "harmonic":
        counts = np.bincount(y_train, minlength=len(labels.names))
        target = int(round(harmonic_mean_count(counts.tolist())))
        kept, added = resample_indices(y_train, target, seed)
        order = np.asarray(kept + added, dtype=np.int64)
        x_train, y_train, file_of_row = x_train[order], y_train[order], file_of_row[order]
        logger.info("%s: training rows balanced to %d per class (harmonic mean of %s)", emb_name, target, counts.tolist())
    return x_train, y_train, file_of_row


def _score_levels(model, test_emb: Embeddings, labels: _TableLabels, pooling: str, n_files: int, groups) -> list:
    """``(level, metrics, probabilities, references)`` per level: the file level (frames pooled per file when
    ``pooling`` is ``frames``) and, for frames, the frame level."""
    row_probs = _full_probabilities(model, test_emb.features, len(labels.names))
    levels = [("file", pool_per_file(row_probs, test_emb.file_index, n_files) if pooling == "frames" else row_probs,
               labels.test)]
    if pooling == "frames":
        levels.append(("frame", row_probs, test_emb.row_labels(labels.test)))
    return [(level, compute_classification_metrics(refs, probs.argmax(axis=1), labels.names, probabilities=probs,
                                                   groups=groups if level == "file" else None), probs, refs)
            for level, probs, refs in levels]


def _plot_row(output_dir: Path, emb_name: str, clf_name: str, level: str, metrics: dict, probs, refs,
              label_names: list[str]) -> list[str]:
    stem = f"{emb_name}_{clf_name}" + ("" if level == "file" else "_frames")
    title = f"{emb_name} + {clf_name}" + ("" if level == "file" else " (frames)")
    return [str(plot_confusion_matrix(metrics["confusion_matrix"], label_names,
                                      output_dir / "plots" / f"confusion_{stem}.png", title=title)),
            str(plot_roc_curves(refs, probs, label_names, output_dir / "plots" / f"roc_{stem}.png",
                                title=f"{title}: ROC (one vs rest)"))]


def _write_table(output_dir: Path, rows: list[dict], label_names: list[str], pooling: str, balance: str, seed: int,
                 split_sizes: dict) -> None:
    """baselines.md / .csv / .json."""
    (output_dir / "baselines.md").write_text(format_table(rows))
    with open(output_dir / "baselines.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(TABLE_COLUMNS)
        for r in rows:
            writer.writerow([_fmt(r[c]) for c in TABLE_COLUMNS])
    (output_dir / "baselines.json").write_text(json.dumps(
        {"label_names": label_names, "pooling": pooling, "balance": balance, "seed": seed, "splits": split_sizes,
         "rows": [{k: v for k, v in r.items() if k not in IN_MEMORY_ONLY} for r in rows]}, indent=1, default=str))
