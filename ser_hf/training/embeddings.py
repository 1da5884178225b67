"""``train.py`` with ``method: embeddings``: frozen embeddings x classifiers on a recipe's corpora and split.

The data path is the fine-tuning recipes' (same corpora, label set, preprocessing and split, so the
table sits beside a fine-tuned model on the same test files); frame balancing (``balance: harmonic``,
seed 003) is applied to embedding rows by :func:`~ser_hf.classifiers.table.run_baselines_table`, not to files.
The run folder gets the table (``baselines.md/.csv/.json``), a plot pair and a saved classifier per row,
and ``results.json`` / ``results.md`` / ``confusion_matrix.png`` / ``roc_curves.png`` of the best
row by ``metric_for_best_model`` (file level), the files the model-card tooling reads.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from ser_hf.features.extract import build_extractor, distributed_state, extract
from ser_hf.classifiers.table import format_table, run_baselines_table
from ser_hf.evaluation.calibration import NO_VALIDATION
from ser_hf.registry import METRICS

logger = logging.getLogger(__name__)


def extractor_kwargs(name: str, recipe) -> dict:
    """Constructor arguments of one extractor from the recipe (weights, explicit random weights)."""
    if name in ("vggish", "yamnet"):
        kwargs = {"random_weights": recipe.model.random_weights, "seed": recipe.training.seed}
        if recipe.model.extractor_weights.get(name):
            kwargs["weights"] = recipe.model.extractor_weights[name]
        return kwargs
    if recipe.model.extractor_weights.get(name):
        raise ValueError(f"extractor_weights.{name}: {name} takes no weight file")
    return {}


def row_name(row: dict) -> str:
    """How a table row (one embedding x classifier) is named in predictions and cross-validation results."""
    return f"{row['embedding']} + {row['classifier']}"


def full_probabilities(row: dict, label_names: list[str]) -> np.ndarray:
    """A row's test probabilities with one column per class of the run's label set (the table uses the classes
    present in its split; absent ones get 0), so folds and runs line up."""
    full = np.zeros((len(row["probabilities"]), len(label_names)), dtype=np.float32)
    full[:, [label_names.index(n) for n in row["label_names"]]] = row["probabilities"]
    return full


def run_embeddings_recipe(recipe, fold) -> dict | None:
    """Prepare the data, run every extractor x classifier, write the run folder; returns the best row's summary.

    Launched as several processes, each extracts its shard of every part into the per-file cache; the main
    process then fits the classifiers on the whole table, read from the cache (None on the others).
    """
    from ser_hf.evaluation.results import save_predictions, write_results
    from ser_hf.training.data import preparation_first, prepare_data

    out = Path(fold.output_dir)
    # Files are not rebalanced: seed 003 balances embedding rows (frames), inside the table.
    # Networks first: a missing weight file stops the run before any audio is decoded.
    extractors = {name: build_extractor(name, **extractor_kwargs(name, recipe)) for name in recipe.model.extractors}
    with preparation_first(recipe):
        data = prepare_data(recipe, fold, balanced=False)
    started = time.perf_counter()
    state = distributed_state()
    if state is not None:
        for extractor in extractors.values():
            for part in data.splits.values():
                extract(part, extractor, batch_size=recipe.training.per_device_eval_batch_size, pooling=recipe.model.pooling,
                        progress=False)
        if not state.is_main_process:
            logger.info("rank %d done (its shard of the embeddings is in the cache)", state.process_index)
            return None
    rows = run_baselines_table(
        data.splits, extractors, out, classifiers=recipe.model.classifiers, pooling=recipe.model.pooling, balance=recipe.data.balance,
        seed=recipe.training.seed, batch_size=recipe.training.per_device_eval_batch_size,
        mlp_options={"n_trials": recipe.model.mlp_trials, "max_epochs": recipe.model.mlp_max_epochs},
        plots=recipe.protocol.plots and fold.part_of is None,
        distributed=False,
    )
    seconds = time.perf_counter() - started
    key = recipe.training.metric_for_best_model
    best = max((r for r in rows if r["level"] == "file"), key=lambda r: (r[key], r["accuracy"]))
    summary = [{k: r[k] for k in ("embedding", "classifier", "level", *METRICS, "roc_auc_ovr", "fit_seconds")}
               for r in rows]
    extra = {"method": "embeddings", "best": {"embedding": best["embedding"], "classifier": best["classifier"],
                                              "classifier_path": best.get("classifier_path"), "selected_by": key},
             "baselines": summary, "run": {"runtime_s": seconds, "rows": len(rows)},
             "calibration": {"not_fitted": NO_VALIDATION}}
    write_results(out, recipe, fold, data, best["metrics"], best["probabilities"], best["references"], extra,
                  label_names=best["label_names"])
    save_predictions(out, {row_name(r): full_probabilities(r, data.label_names) for r in rows if r["level"] == "file"},
                     data.splits["test"], data.label_names)
    logger.info("embeddings table (%d rows, %.1f s) written to %s\n%s", len(rows), seconds, out, format_table(rows))
    logger.info("best by %s: %s + %s, test accuracy %.2f %%", key, best["embedding"], best["classifier"],
                100 * best["accuracy"])
    return {"test": best["metrics"], "best": extra["best"], "baselines": summary}
