"""Cross-corpus transfer: train on each corpus (or group) and test on every other, on the classes they all share.

``cross_corpus: true`` with ``cross_corpus_groups`` (or ``corpora``) of N groups gives an N x N matrix per metric.
Off the diagonal, cell (A, B) is one run on corpora A + B with split ``corpus:B`` (B is the test part; a Trainer
method's early-stopping validation is carved from A). On the diagonal, the in-corpus score: the recipe's
``cross_validation`` (mean over folds) when it has one, else one run on its ``split``. Every cell runs through the
single-run (or cross-validation) code in ``output_dir/train-A__test-B/`` and is skipped when a relaunch finds it
finished. Rows keep only the classes present in every group (or ``keep_classes``, checked against them), so a
model never sees a class the other side cannot have.

``output_dir`` gets ``cross_corpus.json`` (``train``, ``test``, ``label_names``, a matrix per metric), a heat map per
metric (``cross_corpus_<metric>.png``) and ``cross_corpus.md``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np

from ser_hf.data.corpora import corpus_names
from ser_hf.data.sources import source_name
from ser_hf.evaluation.plots import plot_matrix
from ser_hf.recipe import Recipe, RecipeError

logger = logging.getLogger(__name__)

METRICS = ("accuracy", "uar", "macro_f1", "weighted_f1")


def shared_classes(recipe: Recipe, groups: list[str]) -> list[str]:
    """The label set's classes present in every group (``keep_classes`` when given, checked); fewer than 2: error."""
    from ser_hf.training.data import load_recipe_dataset

    present = {}
    names: list[str] = []
    for group in groups:
        ds, _ = load_recipe_dataset(dataclasses.replace(recipe, corpora=[group], keep_classes=[], cross_corpus=False))
        names = list(ds.features["label"].names)
        counts = Counter(ds["label"])
        present[group] = {names[i] for i, n in counts.items() if n}
    common = [c for c in names if all(c in p for p in present.values())]
    if recipe.keep_classes:
        missing = {g: sorted(set(recipe.keep_classes) - p) for g, p in present.items() if set(recipe.keep_classes) - p}
        if missing:
            raise RecipeError(f"keep_classes: not present in every cross-corpus group: {missing}")
        common = list(recipe.keep_classes)
    if len(common) < 2:
        raise RecipeError(f"cross_corpus: the groups {groups} share {len(common)} class(es) {common} under "
                          f"label_set={recipe.label_set!r}; at least two are needed (try label_set=realtime4)")
    for group, classes in present.items():
        dropped = sorted(classes - set(common))
        if dropped:
            logger.warning("cross_corpus: %s rows of %s are dropped (not in every group)", group, dropped)
    return common


def cell_dir(out: Path, train: str, test: str) -> Path:
    return out / f"train-{source_name(train)}__test-{source_name(test)}"  # an own source by its name, not its path


def _cell_metrics(path: Path, cross_validated: bool) -> dict | None:
    if cross_validated:
        cv_path = path / "cv_results.json"
        if not cv_path.is_file():
            return None
        cv = json.loads(cv_path.read_text())
        best = next(r for r in cv["rows"] if r["name"] == cv["best"])
        return {k: best["mean"][k] for k in METRICS}
    results = path / "results.json"
    if not results.is_file() or not (path / "predictions.npz").is_file():
        return None
    test = json.loads(results.read_text())["test"]
    return {k: test[k] for k in METRICS}


def run_cross_corpus(recipe: Recipe) -> dict | None:
    """Every train/test pair of groups (finished cells skipped), then the matrices; None on ranks > 0."""
    from ser_hf.training.cross_validation import run_cross_validation
    from ser_hf.training.data import preparation_first
    from ser_hf.training.run import run_recipe, setup_logging
    from ser_hf.training.trainer import training_arguments

    args = training_arguments(recipe)
    setup_logging(args)
    groups = list(recipe.cross_corpus_groups or recipe.corpora)
    with preparation_first(recipe):
        classes = shared_classes(recipe, groups)
    out = Path(recipe.output_dir)
    diagonal_cv = recipe.cross_validation != "none"
    logger.info("cross-corpus over %s on classes %s", groups, classes)
    for train in groups:
        for test in groups:
            where = cell_dir(out, train, test)
            if _cell_metrics(where, diagonal_cv and train == test) is not None:
                logger.info("cross-corpus %s -> %s: finished earlier, skipped", train, test)
                continue
            common = dict(keep_classes=classes, output_dir=str(where), cross_corpus=False, cross_corpus_groups=[],
                          push_to_hub=False)
            if train == test:
                cell = dataclasses.replace(recipe, corpora=[train], **common)
                run_cross_validation(cell) if diagonal_cv else run_recipe(cell)
            else:
                held_out = "+".join(corpus_names([test]))
                run_recipe(dataclasses.replace(recipe, corpora=[train, test], split=f"corpus:{held_out}",
                                               cross_validation="none", **common))
    if args.process_index != 0:
        return None
    matrices = {k: np.full((len(groups), len(groups)), np.nan) for k in METRICS}
    for i, train in enumerate(groups):
        for j, test in enumerate(groups):
            cell = _cell_metrics(cell_dir(out, train, test), diagonal_cv and train == test)
            for k in METRICS:
                matrices[k][i, j] = cell[k]
    diagonal = (f"in-corpus, cross_validation={recipe.cross_validation} (mean over folds)" if diagonal_cv
                else f"in-corpus, split={recipe.split}")
    names = [source_name(g) for g in groups]
    result = {"train": names, "test": names, "label_names": classes, "method": recipe.method,
              "protocol": {"off_diagonal": "train on the row's corpora, test on all of the column's",
                           "diagonal": diagonal, "label_set": recipe.label_set},
              "metrics": {k: v.tolist() for k, v in matrices.items()}}
    (out / "cross_corpus.json").write_text(json.dumps(result, indent=1))
    for k in ("accuracy", "uar"):
        plot_matrix(matrices[k], names, names, out / f"cross_corpus_{k}.png",
                    title=f"{k} (%) on {len(classes)} shared classes; diagonal: {diagonal}")
    (out / "cross_corpus.md").write_text(format_cross_corpus(result))
    logger.info("cross-corpus matrices written to %s\n%s", out, format_cross_corpus(result))
    return result


def format_cross_corpus(result: dict) -> str:
    """Markdown: one table per metric, rows = training corpus, columns = test corpus, per cent."""
    groups = result["test"]
    lines = [f"Cross-corpus on {len(result['label_names'])} shared classes ({', '.join(result['label_names'])}); "
             f"off the diagonal: {result['protocol']['off_diagonal']}; diagonal: {result['protocol']['diagonal']}."]
    for metric in ("accuracy", "uar"):
        lines += ["", f"**{metric} (%)**", "", "| train \\ test | " + " | ".join(groups) + " |",
                  "|---|" + "---|" * len(groups)]
        for name, row in zip(result["train"], result["metrics"][metric]):
            lines.append(f"| {name} | " + " | ".join(f"{100 * v:.2f}" for v in row) + " |")
    return "\n".join(lines) + "\n"
