"""Evaluation figures as PNG files: the confusion matrix (seeds 000-004) and one-vs-rest ROC curves (seed 000),
cross-validation fold scores, the cross-corpus heat maps, the probe's layer weights and reliability diagrams.

Figures are drawn on matplotlib's Agg canvas through ``matplotlib.figure.Figure`` rather than
``pyplot``: no display is needed, no global figure state is left behind, and nothing leaks
when a training run draws a figure per evaluation. Before a figure is saved its titles are wrapped until each
lies inside the figure (:func:`fit_titles`): a centred title wider than the image loses both ends, and titles
here name corpora, models and protocols of any length.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score, roc_curve


def _new_figure(size: tuple[float, float]) -> Figure:
    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.fill(line, width) if line else line for line in text.splitlines())


def fit_titles(figure: Figure, margin_px: float = 4.0) -> None:
    """Wrap the figure's titles (its suptitle, texts and axes titles) until each lies inside the figure.

    A centred title may be as wide as twice its centre's distance to the nearer edge; in a grid of axes, an
    axes title also stays within its column. Constrained layout moves the axes once a title gains lines, so
    the check is repeated after each redraw.
    """
    texts = list(figure.texts) + [ax.title for ax in figure.axes]
    originals = {id(t): t.get_text() for t in texts}
    width = figure.bbox.width
    for _ in range(8):
        figure.canvas.draw()
        renderer = figure.canvas.get_renderer()
        changed = False
        for text in texts:
            shown = text.get_text()
            if not shown.strip():
                continue
            box = text.get_window_extent(renderer)
            centre = (box.x0 + box.x1) / 2
            allowed = 2 * min(centre - margin_px, width - margin_px - centre)
            axes = text.axes
            spec = axes.get_subplotspec() if axes is not None else None
            if spec is not None and spec.get_gridspec().ncols > 1:
                allowed = min(allowed, width / spec.get_gridspec().ncols - 2 * margin_px)
            if box.width <= allowed and box.x0 >= margin_px and box.x1 <= width - margin_px:
                continue
            chars = max(len(line) for line in shown.splitlines())
            chars = max(6, min(chars - 1, math.floor(chars * max(allowed, 1.0) / box.width)))
            text.set_text(_wrap(originals[id(text)], chars))
            changed = True
        if not changed:
            return


def _save(figure: Figure, path: str | Path) -> Path:
    fit_titles(figure)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=120)
    return path


def plot_confusion_matrix(
    cm: Sequence[Sequence[int]] | np.ndarray,
    label_names: Sequence[str],
    path: str | Path,
    normalize: bool = True,
    title: str | None = None,
) -> Path:
    """Write the confusion matrix (rows = true class) as a PNG and return its path.

    With ``normalize`` each row is divided by its total, so a cell reads "share of this class
    predicted as that class" and the diagonal is the per-class recall; rows with no examples
    stay zero. Cells show the share and, below it, the count.
    """
    counts = np.asarray(cm, dtype=np.int64)
    n = len(label_names)
    if counts.shape != (n, n):
        raise ValueError(f"confusion matrix has shape {counts.shape}, expected {(n, n)} for {n} labels")
    row_totals = counts.sum(axis=1, keepdims=True)
    shown = np.divide(counts, row_totals, out=np.zeros(counts.shape), where=row_totals > 0) if normalize else counts

    side = max(4.0, 0.7 * n + 2.0)
    figure = _new_figure((side + 1.0, side))
    ax = figure.add_subplot()
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else max(int(counts.max()), 1))
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(n), labels=list(label_names), rotation=45, ha="right")
    ax.set_yticks(range(n), labels=list(label_names))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or ("Confusion matrix (row-normalised)" if normalize else "Confusion matrix"))
    threshold = (1.0 if normalize else max(int(counts.max()), 1)) / 2
    for t in range(n):
        for p in range(n):
            text = f"{shown[t, p]:.2f}\n({counts[t, p]})" if normalize else str(counts[t, p])
            ax.text(p, t, text, ha="center", va="center", fontsize=8,
                    color="white" if shown[t, p] > threshold else "black")
    return _save(figure, path)


def plot_roc_curves(
    references: Sequence[int],
    probabilities: Sequence[Sequence[float]] | np.ndarray,
    label_names: Sequence[str],
    path: str | Path,
    title: str | None = None,
) -> Path:
    """Write one one-vs-rest ROC curve per class (AUC in the legend) as a PNG and return its path.

    A class with no positive or no negative example in ``references`` has no ROC curve and is
    listed in the legend as "n/a".
    """
    refs = np.asarray(references, dtype=np.int64)
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.shape != (len(refs), len(label_names)):
        raise ValueError(f"probabilities must have shape {(len(refs), len(label_names))}, got {probs.shape}")

    figure = _new_figure((6.5, 5.5))
    ax = figure.add_subplot()
    for class_id, name in enumerate(label_names):
        positives = refs == class_id
        if positives.all() or not positives.any():
            ax.plot([], [], label=f"{name} (AUC n/a)")
            continue
        fpr, tpr, _ = roc_curve(positives, probs[:, class_id])
        auc = roc_auc_score(positives, probs[:, class_id])
        ax.plot(fpr, tpr, linewidth=1.5, label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title or "ROC curves (one vs rest)")
    ax.legend(loc="lower right", fontsize=8)
    return _save(figure, path)


def plot_fold_scores(rows: Sequence[dict], metric: str, path: str | Path, title: str = "") -> Path:
    """Cross-validation: each model's score on every fold (dots), its mean and +- one std (bar), per cent."""
    figure = _new_figure((max(5.0, 0.9 * len(rows) + 2.5), 4.2))
    ax = figure.add_subplot()
    rng = np.random.default_rng(0)  # a fixed horizontal jitter keeps coinciding folds visible
    for x, row in enumerate(rows):
        scores = [100 * f[metric] for f in row["folds"]]
        ax.scatter(x + rng.uniform(-0.15, 0.15, len(scores)), scores, s=14, alpha=0.7, color="tab:blue")
        ax.errorbar(x, 100 * row["mean"][metric], yerr=100 * row["std"][metric], fmt="s", color="black", capsize=4)
    ax.set_xticks(range(len(rows)), [r["name"] for r in rows], rotation=30 if len(rows) > 3 else 0, ha="right"
                  if len(rows) > 3 else "center", fontsize=8)
    ax.set_ylabel(f"{metric} (%)")
    ax.set_ylim(0, 100)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title or f"{metric} per fold", fontsize=9)
    return _save(figure, path)


def short_label(name: str, width: int = 16, lines: int = 2) -> str:
    """A tick label that fits: ``name`` wrapped to ``width`` characters a line, cut to ``lines`` lines with "…"."""
    parts = textwrap.wrap(name, width, break_on_hyphens=False) or [name]
    if len(parts) > lines:
        parts = parts[:lines]
        parts[-1] = parts[-1][: width - 1] + "…"
    return "\n".join(parts)


def matrix_figure(matrices: Sequence[tuple[str, np.ndarray]], row_names: Sequence[str],
                  column_names: Sequence[str], title: str = "", row_label: str = "train",
                  column_label: str = "test") -> Figure:
    """Heat maps with the value (per cent) in every cell, one panel per named matrix (the cross-corpus
    matrices, one per model), up to three panels a row, one colour scale; titles fitted to the figure."""
    columns = min(len(matrices), 3)
    rows = math.ceil(len(matrices) / columns)
    panel = (1.0 * len(column_names) + 2.0, 0.8 * len(row_names) + 1.9)
    figure = _new_figure((columns * panel[0] + 1.0, rows * panel[1] + 0.6))
    grid = figure.subplots(rows, columns, squeeze=False)
    used = list(grid.flat[: len(matrices)])
    for ax in grid.flat[len(matrices):]:
        ax.remove()
    image = None
    for ax, (name, values) in zip(used, matrices):
        values = np.asarray(values, dtype=float)
        image = ax.imshow(100 * values, cmap=colormaps["viridis"].with_extremes(bad="lightgrey"), vmin=0, vmax=100)
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                missing = np.isnan(values[i, j])
                ax.text(j, i, "n/a" if missing else f"{100 * values[i, j]:.1f}", ha="center", va="center",
                        color="white" if not missing and values[i, j] < 0.6 else "black", fontsize=8)
        ax.set_xticks(range(len(column_names)), [short_label(c) for c in column_names], rotation=30, ha="right",
                      fontsize=8)
        ax.set_yticks(range(len(row_names)), [short_label(r) for r in row_names], fontsize=8)
        ax.set_xlabel(column_label, fontsize=8)
        ax.set_ylabel(row_label, fontsize=8)
        ax.set_title(name, fontsize=9)
    figure.colorbar(image, ax=used, label="%", shrink=0.9)
    if title:
        figure.suptitle(title, fontsize=9)
    fit_titles(figure)
    return figure


def plot_matrices(matrices: Sequence[tuple[str, np.ndarray]], row_names: Sequence[str],
                  column_names: Sequence[str], path: str | Path, title: str = "", row_label: str = "train",
                  column_label: str = "test") -> Path:
    """:func:`matrix_figure` written as a PNG: the cross-corpus heat map of one metric, a panel per model."""
    return _save(matrix_figure(matrices, row_names, column_names, title, row_label, column_label), path)


def plot_layer_weights(weights: Sequence[float], path: str | Path, title: str = "") -> Path:
    """The layer probe's learned softmax weights, one bar per hidden state (0 = the CNN / embedding output)."""
    figure = _new_figure((max(4.0, 0.35 * len(weights) + 1.5), 3.2))
    ax = figure.add_subplot()
    ax.bar(range(len(weights)), weights, color="tab:blue")
    ax.axhline(1 / len(weights), color="grey", linestyle="--", linewidth=1, label="uniform")
    ax.set_xticks(range(len(weights)))
    ax.set_xlabel("hidden state (0 = CNN output)")
    ax.set_ylabel("weight")
    ax.legend(fontsize=8)
    ax.set_title(title or "learned layer weights", fontsize=9)
    return _save(figure, path)


def plot_reliability_diagram(calibration: dict, path: str | Path, title: str = "") -> Path:
    """Accuracy against confidence per bin (``ser_hf.evaluation.calibration.calibration_report``): bars on the
    diagonal are calibrated, below it over-confident. With a fitted temperature, the bins before scaling are drawn too;
    the lower panel counts the files per bin."""
    after = calibration["reliability"]
    before = calibration.get("reliability_before")
    edges = np.asarray(after["edges"])
    width, centres = np.diff(edges), (edges[:-1] + edges[1:]) / 2
    figure = _new_figure((4.8, 5.2))
    top, bottom = figure.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    top.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
    scaled = ("temperature scaling (per fold)" if calibration.get("temperature_per_fold")
              else f"T = {calibration.get('temperature') or 1:.2f}")
    panels = ([(before, "tab:red", f"before (ECE {100 * calibration['ece_before']:.1f} %)")] if before else []) + \
        [(after, "tab:blue", (f"after {scaled} (ECE {100 * calibration['ece_after']:.1f} %)"
                              if before else f"ECE {100 * calibration['ece']:.1f} %"))]
    for bins, colour, label in panels:
        accuracy = np.nan_to_num(np.asarray(bins["accuracy"], dtype=float))
        top.bar(centres, accuracy, width=width, alpha=0.45 if before else 0.7, color=colour, edgecolor=colour, label=label)
        bottom.bar(centres, bins["count"], width=width, alpha=0.45 if before else 0.7, color=colour)
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.legend(fontsize=8, loc="upper left")
    top.set_title(title or "reliability diagram (test part)", fontsize=9)
    bottom.set_xlabel("confidence (top-class probability)")
    bottom.set_ylabel("files")
    return _save(figure, path)


def plot_timeline(spans: Sequence[tuple[float, float]], labels: dict[str, Sequence[str]],
                  confidences: dict[str, Sequence[float | None]], path: str | Path, title: str = "",
                  silence: str = "silence") -> Path:
    """Emotion and confidence over time, one panel per model, silence shaded grey: the Space's long-clip figure.

    ``spans``: ``(start_s, end_s)`` per segment; ``labels[model]`` / ``confidences[model]`` (0-1): one per span.
    """
    names = list(labels)
    classes = sorted({label for model in names for label in labels[model]} - {silence})
    colours = {label: f"C{i % 10}" for i, label in enumerate(classes)}
    figure = _new_figure((10.0, 1.8 + 1.4 * len(names)))
    axes = figure.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    for ax, name in zip(axes, names):
        for (start, end), label, confidence in zip(spans, labels[name], confidences[name]):
            if label == silence:
                ax.axvspan(start, end, color="0.85", lw=0)
            else:
                ax.bar(start, 100 * (confidence or 0.0), width=end - start, align="edge", color=colours[label],
                       edgecolor="white", alpha=0.85)
        ax.set_ylim(0, 100)
        ax.set_ylabel(f"{name}\nconfidence %", fontsize=8)
    handles = [_patch(colour) for colour in colours.values()] + [_patch("0.85")]
    figure.legend(handles, [*colours, silence], ncol=min(8, len(handles)), loc="outside upper center", frameon=False,
                  fontsize=8)
    axes[-1].set_xlabel("time (s)")
    if title:
        axes[0].set_title(title, fontsize=9)
    return _save(figure, path)


def _patch(colour: str):
    from matplotlib.patches import Rectangle

    return Rectangle((0, 0), 1, 1, color=colour)
