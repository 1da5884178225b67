"""Speaker-independent cross-validation: every fold through the single-run code, then mean +- std and pooled scores.

``cross_validation`` in a recipe picks the folds (:func:`plan_folds`):

=========  ==================================================================================================
``loso``   leave one speaker out: as many folds as speakers
``kfold:K`` K speaker-group folds, stratified by label as far as whole speakers allow (``StratifiedGroupKFold``)
``auto``   ``loso`` for 4-6 speakers, ``kfold:5`` above; 2-3 speakers: ``loso`` with a warning (std over 2-3
           folds says little); 1 speaker: speaker-*dependent* stratified 5-fold over files, with a warning
``emobox`` EmoBox's published folds of the one corpus (:mod:`ser_hf.data.emobox`), with EmoBox's classes; its
           EmoDB, TESS and CREMA-D folds are drawn over files, so they are NOT speaker-independent
=========  ==================================================================================================

Fold ``i`` is a :class:`~ser_hf.training.data.Fold` (its split, ``("loso", (i, None))`` or
``("kfold", (K, i, None))``, and ``output_dir/fold-NN`` as its run folder) run by
:func:`ser_hf.training.run.run_once`: the same code, outputs and resuming as a single run, on the same recipe. Trainer methods validate (early stopping, best checkpoint) on 10 % of the fold's
training files, so on training speakers only, never on test speakers, whatever the number of folds; the
embeddings and probe methods fit on all training files. A relaunch skips
folds whose ``results.json`` and ``predictions.npz`` exist and resumes an unfinished one from its checkpoint.

``output_dir`` then gets ``cv_results.json`` / ``cv_results.md`` (one row per model: for the embeddings method one
per extractor x classifier; per fold, mean and std over folds, and pooled over all folds' test predictions, each
with a 95 % bootstrap interval: ``ci`` of the mean over folds and ``pooled_ci``; speakers are resampled where the
folds are speaker-independent and there are at least 5 of them, files otherwise), ``cv_folds.png``, the pooled
``confusion_matrix.png`` and ``reliability_diagram.png``, and a ``results.json`` the model card reads.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ser_hf.data.splits import missing_speakers_message, speakerless_sources
from ser_hf.evaluation.calibration import calibration_report, log_probabilities, softmax
from ser_hf.evaluation.intervals import DEFAULT_SAMPLES, METRICS, bootstrap_intervals, resampling_units
from ser_hf.evaluation.metrics import compute_classification_metrics
from ser_hf.evaluation.metrics.table import format_interval
from ser_hf.evaluation.plots import plot_confusion_matrix, plot_fold_scores, plot_reliability_diagram
from ser_hf.evaluation.results import load_predictions
from ser_hf.recipe import Recipe, RecipeError
from ser_hf.recipe_sections import parse_cross_validation
from ser_hf.training.data import Fold
from ser_hf.registry import METRICS

logger = logging.getLogger(__name__)

AUTO_KFOLD = 5


@dataclass(frozen=True)
class FoldPlan:
    """The folds a ``cross_validation`` value gives on a dataset."""

    scheme: str  # loso | kfold | filekfold | emobox
    folds: int
    speaker_independent: bool
    description: str
    seed: int

    def split(self, fold: int) -> str:
        """The ``split`` protocol of fold ``fold``: train and test parts (a Trainer's validation is carved later)."""
        if self.scheme in ("loso", "emobox"):
            return f"{self.scheme}:{fold}"
        return f"{self.scheme}:{self.folds}:{fold}"


def plan_folds(cross_validation: str, speakers: list[str], seed: int, corpora: list[str] | None = None) -> FoldPlan:
    """The folds of ``cross_validation`` for data with these speakers (and, for ``emobox``, these corpora);
    impossible requests raise ``RecipeError``."""
    scheme, k = parse_cross_validation(cross_validation)
    n = len(set(speakers))
    if scheme == "none":
        raise RecipeError("cross_validation=none: nothing to cross-validate")
    speakerless = speakerless_sources(speakers)  # own data without a speaker column
    if speakerless and scheme != "auto":
        raise RecipeError(missing_speakers_message(f"cross_validation={cross_validation}", speakerless))
    if scheme == "emobox":
        from ser_hf.data.emobox import load_folds

        if not corpora or len(set(corpora)) != 1:
            raise RecipeError(f"cross_validation=emobox: EmoBox's folds are per corpus; the data holds {corpora}")
        try:
            folds = load_folds(sorted(set(corpora))[0])
        except ValueError as err:
            raise RecipeError(f"cross_validation=emobox: {err}") from None
        return FoldPlan("emobox", folds.folds, folds.speaker_independent, folds.description(), seed)
    if scheme == "loso":
        if n < 2:
            raise RecipeError(f"cross_validation=loso: the data has {n} speaker(s); leaving one out needs at least 2")
        return FoldPlan("loso", n, True, f"leave-one-speaker-out ({n} folds)", seed)
    if scheme == "kfold":
        if k > n:
            raise RecipeError(f"cross_validation=kfold:{k}: {k} speaker folds need at least {k} speakers, the data "
                              f"has {n}; use kfold:{n} or loso" if n >= 2 else
                              f"cross_validation=kfold:{k}: the data has {n} speaker(s); speaker folds need at least 2")
        return FoldPlan("kfold", k, True, f"speaker-group {k}-fold, stratified by label (seed {seed})", seed)
    # auto
    if speakerless or n < 2:  # no speaker-independent protocol exists
        why = f"no speaker column in {', '.join(speakerless)}" if speakerless else "one speaker"
        logger.warning("cross_validation=auto: %s, so no speaker-independent protocol exists: falling back to "
                       "speaker-DEPENDENT stratified %d-fold over files", why, AUTO_KFOLD)
        return FoldPlan("filekfold", AUTO_KFOLD, False,
                        f"speaker-dependent stratified {AUTO_KFOLD}-fold over files (auto: {why}; seed {seed})", seed)
    if 4 <= n <= 6:
        return FoldPlan("loso", n, True, f"leave-one-speaker-out ({n} folds; auto: 4-6 speakers)", seed)
    if n > 6:
        return FoldPlan("kfold", AUTO_KFOLD, True,
                        f"speaker-group {AUTO_KFOLD}-fold, stratified by label (seed {seed}; auto: {n} speakers)", seed)
    logger.warning("cross_validation=auto: only %d speakers: leave-one-speaker-out with %d folds; a std over so "
                   "few folds says little", n, n)
    return FoldPlan("loso", n, True, f"leave-one-speaker-out ({n} folds; auto: only {n} speakers)", seed)


def fold_dir(output_dir: str | Path, fold: int) -> Path:
    return Path(output_dir) / f"fold-{fold:02d}"


def fold_done(path: Path) -> bool:
    return (path / "results.json").is_file() and (path / "predictions.npz").is_file()


def run_cross_validation(recipe: Recipe, within: Fold | None = None) -> dict | None:
    """Every fold of ``recipe.protocol.cross_validation`` (finished ones skipped), then the aggregate; None on ranks
    > 0. ``within``: a cross-corpus cell whose corpora, classes and folder the folds share."""
    from ser_hf.training.data import load_recipe_dataset, preparation_first, single_run
    from ser_hf.training.run import run_once, setup_logging

    setup_logging(recipe.training)
    within = within or single_run(recipe)
    with preparation_first(recipe):
        ds, _ = load_recipe_dataset(recipe, within)
    plan = plan_folds(recipe.protocol.cross_validation, ds["speaker"], recipe.protocol.split_seed, corpora=ds["corpus"])
    if plan.scheme == "emobox":  # before any fold runs: a partial copy cannot give EmoBox's folds
        from ser_hf.data.emobox import check_every_fold_tested

        try:
            check_every_fold_tested(ds)
        except ValueError as err:
            raise RecipeError(f"cross_validation=emobox: {err}") from None
    out = Path(within.output_dir)
    logger.info("cross-validation: %s, %d rows, %d speakers, in %s", plan.description, len(ds),
                len(set(ds["speaker"])), out)
    for i in range(plan.folds):
        fold = Fold.of(fold_dir(out, i), plan.split(i), name=f"fold {i}", corpora=within.corpora,
                       keep_classes=within.keep_classes, part_of="cross-validation")
        if fold_done(Path(fold.output_dir)):
            logger.info("fold %d of %d: finished earlier, skipped", i + 1, plan.folds)
            continue
        logger.info("fold %d of %d: split %s -> %s", i + 1, plan.folds, fold.protocol, fold.output_dir)
        run_once(recipe, fold)
    if recipe.training.process_index != 0:
        return None
    return aggregate_folds(out, recipe, plan, within)


def pooled_calibration(probabilities: np.ndarray, labels: np.ndarray, fold_of: np.ndarray,
                       temperatures: list[float | None] | None, not_fitted: str = "") -> dict:
    """ECE of all folds' test predictions together; where every fold fitted a temperature on its validation part,
    also the ECE before scaling (each fold's probabilities unscaled by its own temperature); else why not."""
    after = calibration_report(probabilities, labels)
    if not temperatures or any(t is None for t in temperatures):
        return {**after, **({"not_fitted": not_fitted} if not_fitted else {})}
    before = calibration_report(softmax(log_probabilities(probabilities) * np.asarray(temperatures)[fold_of][:, None]),
                                labels)
    return {**after, "ece_before": before["ece"], "ece_after": after["ece"], "reliability_before": before["reliability"],
            "temperature": float(np.mean(temperatures)), "temperature_per_fold": temperatures,
            "fitted_on": "each fold's validation part"}


def _summary(values: list[float]) -> tuple[float, float]:
    # sample standard deviation over folds (ddof=1), the usual "mean +- std" of cross-validation tables
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def aggregate_folds(out: Path, recipe: Recipe, plan: FoldPlan, within: Fold | None = None) -> dict:
    """``cv_results.json`` / ``.md``, ``cv_folds.png``, the pooled confusion matrix and ``results.json``."""
    folds = [load_predictions(fold_dir(out, i) / "predictions.npz") for i in range(plan.folds)]
    label_names = folds[0]["label_names"]
    speakers = [s for fold in folds for s in fold["speakers"]]
    fold_of = np.concatenate([np.full(len(fold["labels"]), i) for i, fold in enumerate(folds)])
    units, units_note = resampling_units(speakers, plan.speaker_independent)  # speakers where no fold shares them
    samples = recipe.protocol.bootstrap_samples
    fold_calibration = [json.loads((fold_dir(out, i) / "results.json").read_text()).get("calibration") or {}
                        for i in range(plan.folds)]
    temperatures = [c.get("temperature") for c in fold_calibration]
    rows, pooled_full, calibration = [], {}, {}
    for name in folds[0]["probabilities"]:
        per_fold, probs, labels = [], [], []
        for i, fold in enumerate(folds):
            p, y = fold["probabilities"][name], fold["labels"]
            m = compute_classification_metrics(y, p.argmax(axis=1), label_names, probabilities=p)
            per_fold.append({"fold": i, "test_speakers": sorted(set(fold["speakers"])), "n_test": int(len(y)),
                             **{k: float(m[k]) for k in METRICS}})
            probs.append(p)
            labels.append(y)
        p, y = np.concatenate(probs), np.concatenate(labels)
        pooled_full[name] = compute_classification_metrics(y, p.argmax(axis=1), label_names, probabilities=p)
        stats = {k: _summary([f[k] for f in per_fold]) for k in METRICS}
        row = {"name": name, "folds": per_fold, "mean": {k: v[0] for k, v in stats.items()},
               "std": {k: v[1] for k, v in stats.items()},
               "pooled": {k: float(pooled_full[name][k]) for k in METRICS}, "n": int(len(y))}
        if samples:
            mean_ci = bootstrap_intervals(y, p.argmax(axis=1), len(label_names), units, folds=fold_of, samples=samples)
            pooled_ci = bootstrap_intervals(y, p.argmax(axis=1), len(label_names), units, samples=samples)
            row.update(ci=mean_ci["ci"], pooled_ci=pooled_ci["ci"],
                       bootstrap={**{k: v for k, v in pooled_ci.items() if k != "ci"},
                                  **({"note": units_note} if units_note else {})})
        calibration[name] = pooled_calibration(p, y, fold_of, temperatures if len(folds[0]["probabilities"]) == 1 else None,
                                               fold_calibration[0].get("not_fitted", ""))
        row["ece"] = calibration[name]["ece"]
        rows.append(row)
    key = recipe.training.metric_for_best_model
    best = max(rows, key=lambda r: (r["mean"][key], r["mean"]["accuracy"]))
    protocol = {"cross_validation": recipe.protocol.cross_validation, "scheme": plan.scheme, "folds": plan.folds,
                "seed": plan.seed, "speaker_independent": plan.speaker_independent, "description": plan.description,
                "validation": ("10 % of each fold's training files, training speakers only (early stopping and "
                               "best checkpoint)"
                               if not recipe.frozen_features else
                               "a random 20 % of each fold's training files (EmoBox's: the best epoch, the temperature)"
                               if recipe.method == "probe" and recipe.model.probe_head == "emobox" else
                               "none: the classifiers fit on all training speakers of the fold"),
                "std": "sample standard deviation over folds (ddof=1)"}
    cv = {"protocol": protocol, "method": recipe.method, "label_names": label_names, "best": best["name"],
          "selected_by": f"mean {key} over folds", "rows": rows}
    if samples:
        protocol["intervals"] = (f"95 % bootstrap percentile intervals, {samples} resamples of "
                                 f"{'speakers' if units is not None else 'files'}"
                                 f"{' (' + units_note + ')' if units_note else ''}; of the mean over folds: each "
                                 "resample's mean of its folds' scores")
    (out / "cv_results.json").write_text(json.dumps(cv, indent=1))
    (out / "cv_results.md").write_text(format_cv_table(cv))
    plot_fold_scores(rows, "accuracy", out / "cv_folds.png", title=f"{plan.description}: accuracy per fold")
    best_pooled = pooled_full[best["name"]]
    plot_confusion_matrix(best_pooled["confusion_matrix"], label_names, out / "confusion_matrix.png",
                          title=f"{best['name']}: pooled over {plan.folds} folds")
    plot_reliability_diagram(calibration[best["name"]], out / "reliability_diagram.png",
                             title=f"{best['name']}: pooled over {plan.folds} folds")
    first = json.loads((fold_dir(out, 0) / "results.json").read_text())
    results = {k: first[k] for k in ("data", "corpora", "label_set", "speakers_unknown") if k in first}
    results.update(labels=label_names, split=f"cross_validation={recipe.protocol.cross_validation}: {plan.description}",
                   speaker_independent=plan.speaker_independent, method=recipe.method, test=best_pooled,
                   cross_validation={"protocol": protocol, "best": best["name"], "mean": best["mean"],
                                     "std": best["std"], "pooled": best["pooled"], "folds": plan.folds,
                                     **{k: best[k] for k in ("ci", "pooled_ci") if k in best}},
                   intervals={"ci": best["pooled_ci"], **best["bootstrap"]} if "pooled_ci" in best else None,
                   calibration=calibration[best["name"]])
    (out / "results.json").write_text(json.dumps(results, indent=1))
    for name in ("data_report.json",):  # the corpora are the same in every fold
        if (fold_dir(out, 0) / name).is_file():
            (out / name).write_text((fold_dir(out, 0) / name).read_text())
    (out / "leakage.json").write_text(json.dumps(
        {"speaker_independent": plan.speaker_independent, "pairs": {}, "warnings": [],
         "folds": {f"fold-{i:02d}": json.loads((fold_dir(out, i) / "leakage.json").read_text())
                   for i in range(plan.folds) if (fold_dir(out, i) / "leakage.json").is_file()}}, indent=1))
    from ser_hf.training.data import single_run

    (out / "recipe.yaml").write_text(recipe.run_yaml(within or single_run(recipe), cross_validated=True))
    logger.info("cross-validation (%s), %s:\n%s", plan.description, out, format_cv_table(cv))
    return cv


def format_cv_table(cv: dict) -> str:
    """Markdown: mean +- std over folds and the pooled score, in per cent, one line per model."""
    protocol = cv["protocol"]
    lines = [f"Protocol: {protocol['description']}; validation: {protocol['validation']}; "
             f"{'speaker-independent' if protocol['speaker_independent'] else 'SPEAKER-DEPENDENT'}. "
             f"Mean +- {protocol['std']}"
             + (f" [{protocol['intervals']}]" if protocol.get("intervals") else "")
             + "; pooled = all folds' test predictions together; ECE = expected calibration error, pooled.", "",
             "| model | " + " | ".join(f"{m.display} (%)" for m in METRICS.values())
             + " | pooled accuracy (%) | pooled UAR (%) | ECE (%) | n |",
             "|---" * (len(METRICS) + 5) + "|"]
    for row in cv["rows"]:
        ci, pooled_ci = row.get("ci", {}), row.get("pooled_ci", {})
        cells = [f"{100 * row['mean'][k]:.2f} ± {100 * row['std'][k]:.2f}"
                 + (f" {format_interval(ci[k])}" if k in ci else "") for k in METRICS]
        pooled = [f"{100 * row['pooled'][k]:.2f}" + (f" {format_interval(pooled_ci[k])}" if k in pooled_ci else "")
                  for k in ("accuracy", "uar")]
        best = " **(best)**" if row["name"] == cv["best"] else ""
        lines.append(f"| {row['name']}{best} | " + " | ".join(cells + pooled)
                     + f" | {100 * row.get('ece', float('nan')):.2f} | {row['n']} |")
    best = next(r for r in cv["rows"] if r["name"] == cv["best"])
    lines += ["", f"Per fold, {best['name']}:", "", "| fold | test speakers | n | accuracy (%) | UAR (%) |",
              "|---|---|---|---|---|"]
    for f in best["folds"]:
        speakers = ", ".join(f["test_speakers"][:6]) + (" ..." if len(f["test_speakers"]) > 6 else "")
        lines.append(f"| {f['fold']} | {speakers} | {f['n_test']} | {100 * f['accuracy']:.2f} | {100 * f['uar']:.2f} |")
    return "\n".join(lines) + "\n"
