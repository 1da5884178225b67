"""Cross-corpus transfer: train on each corpus (or group) and test on every other, on the classes they all share.

``cross_corpus: true`` with ``cross_corpus_groups`` (or ``corpora``) of N groups gives, for every model, an N x N
matrix per metric: one model per extractor x classifier for the embeddings method, the recipe's one model for the
others. Off the diagonal, cell (A, B) is one run on corpora A + B with split ``corpus:B`` (B is the test part; a
Trainer method's early-stopping validation is carved from A), scored on all of B's files. On the diagonal, the
in-corpus score: with the recipe's ``cross_validation``, the **mean over folds** (the std over folds and the score
pooled over all folds' test predictions are kept beside it); without, one run on its ``split``. Every cell runs
through the single-run (or cross-validation) code in ``output_dir/train-A__test-B/`` and is skipped when a relaunch
finds it finished with every model of the recipe. Rows keep only the classes present in every group (or
``keep_classes``, checked against them), so a model never sees a class the other side cannot have.

``output_dir`` gets:

- ``cross_corpus.json``: ``train`` / ``test`` (the groups: rows and columns), ``label_names``, ``method``,
  ``protocol`` (``off_diagonal``, ``diagonal``, ``diagonal_statistic``: "mean over folds" or "single split",
  ``diagonal_folds`` per group, ``label_set``), ``cells`` (each cell's folder name), ``models`` (a list, one
  entry per model: ``model`` (its name), ``cell_row`` (the row's name in the cells' ``cv_results.json`` /
  ``predictions.npz``), ``extractor`` and ``classifier`` for the embeddings method, ``metrics`` (a matrix per
  metric, rows = train) and, with cross-validation, ``diagonal`` (``std`` and ``pooled`` per metric, one value
  per group)) and ``best_per_cell`` (per metric and cell: ``model`` with the highest score, ``value`` and, on a
  tie, ``tied_with``);
- ``cross_corpus.md``: the best model per cell, then a table per model and metric;
- ``cross_corpus_accuracy.png`` / ``cross_corpus_uar.png``: the heat maps, a panel per model.

The best model per cell is picked on that cell's own test data: an upper bound on what the methods reach, not a
model selection.
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
from ser_hf.evaluation.metrics import compute_classification_metrics
from ser_hf.evaluation.plots import plot_matrices
from ser_hf.evaluation.results import load_predictions
from ser_hf.recipe import Recipe, RecipeError
from ser_hf.training.data import Fold
from ser_hf.registry import METRICS
from ser_hf.training.cross_validation import fold_done

logger = logging.getLogger(__name__)

PLOTTED = {"accuracy": "accuracy", "uar": "UAR"}  # metric -> how tables and plots name it
MEAN_OVER_FOLDS, SINGLE_SPLIT = "mean over folds", "single split"


def shared_classes(recipe: Recipe, groups: list[str]) -> list[str]:
    """The label set's classes present in every group (``keep_classes`` when given, checked); fewer than 2: error."""
    from ser_hf.training.data import load_recipe_dataset, single_run

    present = {}
    names: list[str] = []
    for group in groups:
        ds, _ = load_recipe_dataset(recipe, dataclasses.replace(single_run(recipe), corpora=(group,), keep_classes=()))
        names = list(ds.features["label"].names)
        counts = Counter(ds["label"])
        present[group] = {names[i] for i, n in counts.items() if n}
    common = [c for c in names if all(c in p for p in present.values())]
    if recipe.data.keep_classes:
        missing = {g: sorted(set(recipe.data.keep_classes) - p) for g, p in present.items() if set(recipe.data.keep_classes) - p}
        if missing:
            raise RecipeError(f"keep_classes: not present in every cross-corpus group: {missing}")
        common = list(recipe.data.keep_classes)
    if len(common) < 2:
        raise RecipeError(f"cross_corpus: the groups {groups} share {len(common)} class(es) {common} under "
                          f"label_set={recipe.data.label_set!r}; at least two are needed (try label_set=realtime4)")
    for group, classes in present.items():
        dropped = sorted(classes - set(common))
        if dropped:
            logger.warning("cross_corpus: %s rows of %s are dropped (not in every group)", group, dropped)
    return common


def cell_dir(out: Path, train: str, test: str) -> Path:
    return out / f"train-{source_name(train)}__test-{source_name(test)}"  # an own source by its name, not its path


def cell_models(path: Path, cross_validated: bool) -> dict[str, dict] | None:
    """Each model's scores in a finished cell, keyed by its row name there; None while the cell is unfinished.

    A cross-validated cell: its ``cv_results.json`` rows (``value`` = mean over folds, with ``std``, ``pooled``
    and the fold ``protocol``). A single run: every model in its ``predictions.npz`` scored on the whole test
    part (the embeddings table's file-level rows; the one model of the other methods).
    """
    if cross_validated:
        cv_path = path / "cv_results.json"
        if not cv_path.is_file():
            return None
        cv = json.loads(cv_path.read_text())
        return {r["name"]: {"value": {k: r["mean"][k] for k in METRICS}, "std": {k: r["std"][k] for k in METRICS},
                            "pooled": {k: r["pooled"][k] for k in METRICS}, "protocol": cv["protocol"]["description"]}
                for r in cv["rows"]}
    if not fold_done(path):
        return None
    saved = load_predictions(path / "predictions.npz")
    scores = {}
    for name, probabilities in saved["probabilities"].items():
        m = compute_classification_metrics(saved["labels"], probabilities.argmax(axis=1), saved["label_names"],
                                           probabilities=probabilities)
        scores[name] = {"value": {k: float(m[k]) for k in METRICS}}
    return scores


def expected_models(recipe: Recipe) -> list[dict]:
    """The models every cell must hold: ``cell_row`` (the row's name in a cell's files) and ``model`` (its name in
    the matrices). The embeddings method: one per extractor x classifier; the others: one (``cell_row`` None:
    whatever the cell calls its single model), named by method and network."""
    if recipe.method == "embeddings":
        from ser_hf.training.embeddings import row_name

        models = []
        for extractor in recipe.model.extractors:
            for classifier in recipe.model.classifiers:
                name = row_name({"embedding": extractor, "classifier": classifier})
                models.append({"model": name, "cell_row": name, "extractor": extractor, "classifier": classifier})
        return models
    if recipe.method in ("finetune", "probe"):
        network = recipe.model.tiny_model or recipe.model.model_name_or_path
    else:
        network = recipe.model.backbone or recipe.model.cnn_blstm_variant
    return [{"model": f"{recipe.method} {'tiny random ' if recipe.model.tiny_model else ''}{network}", "cell_row": None}]


def _finished(models: dict | None, expected: list[dict]) -> bool:
    if models is None:
        return False
    return all(e["cell_row"] in models for e in expected) if expected[0]["cell_row"] else len(models) == 1


def run_cross_corpus(recipe: Recipe) -> dict | None:
    """Every train/test pair of groups (finished cells skipped), then the matrices; None on ranks > 0."""
    from ser_hf.training.cross_validation import run_cross_validation
    from ser_hf.training.data import preparation_first, single_run
    from ser_hf.training.run import run_once, setup_logging

    if recipe.publish.push_to_hub:  # no single model to push; each cell folder can be pushed on its own
        raise RecipeError("push_to_hub: a cross-corpus run has no single model to push; push a cell folder "
                          "(OUTPUT_DIR/train-A__test-B) with python -m ser_hf.publish push")
    setup_logging(recipe.training)
    groups = list(recipe.protocol.cross_corpus_groups or recipe.data.corpora)
    with preparation_first(recipe):
        classes = shared_classes(recipe, groups)
    out = Path(recipe.training.output_dir)
    diagonal_cv = recipe.protocol.cross_validation != "none"
    expected = expected_models(recipe)
    logger.info("cross-corpus over %s on classes %s, %d model(s)", groups, classes, len(expected))
    for train in groups:
        for test in groups:
            where = cell_dir(out, train, test)
            if _finished(cell_models(where, diagonal_cv and train == test), expected):
                logger.info("cross-corpus %s -> %s: finished earlier, skipped", train, test)
                continue
            if train == test:  # in-corpus: the recipe's split, or its cross-validation
                cell = dataclasses.replace(single_run(recipe), output_dir=str(where), corpora=(train,),
                                           keep_classes=tuple(classes), name=f"{train} -> {train}",
                                           part_of="cross-corpus")
                run_cross_validation(recipe, cell) if diagonal_cv else run_once(recipe, cell)
            else:  # train on one group, test on all of another's files
                cell = Fold.of(where, "corpus:" + "+".join(corpus_names([test])), name=f"{train} -> {test}",
                               corpora=(train, test), keep_classes=tuple(classes), part_of="cross-corpus")
                run_once(recipe, cell)
    if recipe.training.process_index != 0:
        return None
    result = collect_matrices(out, recipe, groups, classes)
    (out / "cross_corpus.json").write_text(json.dumps(result, indent=1))
    protocol = result["protocol"]
    for k, shown in PLOTTED.items():
        plot_matrices([(m["model"], np.asarray(m["metrics"][k])) for m in result["models"]], result["train"], result["test"],
                      out / f"cross_corpus_{k}.png",
                      title=f"{shown} (%) on {len(classes)} shared classes; rows: training corpus, columns: test "
                            f"corpus; diagonal: {protocol['diagonal']}, {protocol['diagonal_statistic']}")
    (out / "cross_corpus.md").write_text(format_cross_corpus(result))
    logger.info("cross-corpus matrices written to %s\n%s", out, format_cross_corpus(result))
    return result


def collect_matrices(out: Path, recipe: Recipe, groups: list[str], classes: list[str]) -> dict:
    """What ``cross_corpus.json`` holds (see the module docstring), read from the finished cells in ``out``."""
    diagonal_cv = recipe.protocol.cross_validation != "none"
    n = len(groups)
    cells = {}
    for train in groups:
        for test in groups:
            where = cell_dir(out, train, test)
            models = cell_models(where, diagonal_cv and train == test)
            if models is None:
                raise RecipeError(f"cross_corpus: {where} is not finished (no results in it)")
            cells[train, test] = models
    models = []
    for spec in expected_models(recipe):
        entry = dict(spec, metrics={k: np.full((n, n), np.nan) for k in METRICS})
        for i, train in enumerate(groups):
            for j, test in enumerate(groups):
                found = cells[train, test]
                row = spec["cell_row"] or next(iter(found))
                if row not in found:
                    raise RecipeError(f"cross_corpus: {cell_dir(out, train, test)} has no results for {row!r} (it "
                                      f"holds {sorted(found)}): a run with other extractors or classifiers left it "
                                      f"there; remove that folder or use another output_dir")
                entry["cell_row"] = row
                for k in METRICS:
                    entry["metrics"][k][i, j] = found[row]["value"][k]
        entry["metrics"] = {k: v.tolist() for k, v in entry["metrics"].items()}
        if diagonal_cv:
            entry["diagonal"] = {stat: {k: [cells[g, g][entry["cell_row"]][stat][k] for g in groups]
                                        for k in METRICS} for stat in ("std", "pooled")}
        models.append(entry)
    best = {k: [[_best(models, k, i, j) for j in range(n)] for i in range(n)] for k in METRICS}
    protocol = {"off_diagonal": "one run, trained on the row's corpus and tested on all of the column's files",
                "diagonal": (f"in-corpus, cross_validation={recipe.protocol.cross_validation}" if diagonal_cv
                             else f"in-corpus, split={recipe.protocol.split}"),
                "diagonal_statistic": MEAN_OVER_FOLDS if diagonal_cv else SINGLE_SPLIT,
                "label_set": recipe.data.label_set}
    if diagonal_cv:
        protocol["diagonal_folds"] = {source_name(g): next(iter(cells[g, g].values()))["protocol"] for g in groups}
    names = [source_name(g) for g in groups]  # an own source by its name, not its path
    return {"train": names, "test": names, "label_names": classes, "method": recipe.method, "protocol": protocol,
            "cells": [[cell_dir(out, a, b).name for b in groups] for a in groups], "models": models,
            "best_per_cell": {"chosen_on": "each cell's own test data: an upper bound, not a model selection",
                              **best}}


def _best(models: list[dict], metric: str, i: int, j: int) -> dict:
    """The model with the highest ``metric`` in cell (i, j), and any that tie with it."""
    top = max(m["metrics"][metric][i][j] for m in models)
    tied = [m["model"] for m in models if m["metrics"][metric][i][j] == top]
    return {"model": tied[0], "value": top, **({"tied_with": tied[1:]} if len(tied) > 1 else {})}


def _table(groups: list[str], rows: list[str], cells: list[list[str]]) -> list[str]:
    lines = ["| train \\ test | " + " | ".join(groups) + " |", "|---|" + "---|" * len(groups)]
    return lines + [f"| {name} | " + " | ".join(row) + " |" for name, row in zip(rows, cells)]


def format_cross_corpus(result: dict) -> str:
    """Markdown: the best model per cell (with several models), then one table per model and metric, per cent;
    rows = training corpus, columns = test corpus; the diagonal's statistic named."""
    groups, protocol, models = result["test"], result["protocol"], result["models"]
    statistic = protocol["diagonal_statistic"]
    folds = "".join(f"; {g}: {d}" for g, d in protocol.get("diagonal_folds", {}).items())
    lines = [f"Cross-corpus on {len(result['label_names'])} shared classes ({', '.join(result['label_names'])}), "
             f"{len(models)} model(s). Off the diagonal: {protocol['off_diagonal']}. Diagonal: {protocol['diagonal']}, "
             f"**{statistic}**{folds}."]
    if len(models) > 1:
        lines += ["", "## Best model per cell", "",
                  f"The model with the highest score in each cell, chosen on {result['best_per_cell']['chosen_on']}."]
        for k, shown in PLOTTED.items():
            cells = [[f"{100 * b['value']:.2f} ({' = '.join([b['model'], *b.get('tied_with', [])])})" for b in row]
                     for row in result["best_per_cell"][k]]
            lines += ["", f"**{shown} (%)**", "", *_table(groups, result["train"], cells)]
    for model in models:
        lines += ["", f"## {model['model']}"]
        for k, shown in PLOTTED.items():
            values = model["metrics"][k]
            cells = [[f"{100 * v:.2f}" for v in row] for row in values]
            note = f"diagonal: {statistic}"
            if "diagonal" in model:
                note = f"diagonal: {statistic} ± std"
                for i, std in enumerate(model["diagonal"]["std"][k]):
                    cells[i][i] += f" ± {100 * std:.2f}"
            lines += ["", f"**{shown} (%)** ({note})", "", *_table(groups, result["train"], cells)]
            if "diagonal" in model:
                pooled = ", ".join(f"{g} {100 * v:.2f}" for g, v in zip(groups, model["diagonal"]["pooled"][k]))
                lines += ["", f"Diagonal pooled over all folds' test predictions instead: {pooled}."]
    return "\n".join(lines) + "\n"
