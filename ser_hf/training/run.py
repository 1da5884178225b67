"""One run of a recipe, whatever its method: :func:`run_once` on a :class:`~ser_hf.training.data.Fold` (the split,
the folder, a cross-corpus cell's corpora). ``train.py`` runs it once on the recipe's ``split``, once per fold of
its ``cross_validation`` (:mod:`~ser_hf.training.cross_validation`), or once per cell of its ``cross_corpus`` matrix
(:mod:`~ser_hf.training.cross_corpus`): the recipe itself is never rewritten.

One Trainer run: data -> model -> Trainer -> test evaluation -> outputs, top to bottom. Launched again with the same
``output_dir``, it resumes from the last complete checkpoint there. What lands in ``output_dir``: the best model and
its feature extractor (``pipeline("audio-classification", model=output_dir)`` loads them), results.json /
results.md (test metrics, per corpus and language), predictions.npz / predictions.csv (every test file's scores),
confusion_matrix.png, roc_curves.png, leakage.json, long_clip.json, data_report.json, recipe.yaml.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import yaml
from transformers import set_seed

from ser_hf import guards
from ser_hf.evaluation.results import (
    PIPELINE_EVALUATION,
    long_clip_results,
    save_predictions,
    test_metrics,
    write_results,
)
from ser_hf.models.build import build_recipe_model
from ser_hf.recipe import Recipe, RecipeError
from ser_hf.registry import METHODS, resolve
from ser_hf.training.calibrate import calibrate_trainer_model
from ser_hf.training.data import Fold, model_view, prepare_data, preparation_first
from ser_hf.training.trainer import (
    build_trainer,
    epoch_padding_fraction,
    last_complete_checkpoint,
    warn_if_sharding_dropped,
)

logger = logging.getLogger("train")


def setup_logging(args) -> None:
    """ser-hf logs on every process (tagged with its rank); transformers on the main one."""
    import datasets
    import transformers

    logging.basicConfig(
        format=f"%(asctime)s [rank {args.process_index}] %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        level=logging.WARNING,
        force=True,
    )
    for name in ("train", "ser_hf"):
        logging.getLogger(name).setLevel(logging.INFO)
    transformers.utils.logging.set_verbosity(args.get_process_log_level())
    datasets.utils.logging.set_verbosity(logging.WARNING)


def warn_if_recipe_changed(recipe_yaml: str, output_dir: Path) -> None:
    previous = output_dir / "recipe.yaml"
    if not previous.is_file():
        return
    old, new = yaml.safe_load(previous.read_text()) or {}, yaml.safe_load(recipe_yaml)
    changed = sorted(k for k in new if old.get(k) != new[k])
    if changed:
        logger.warning("resuming a run whose recipe differed in: %s", ", ".join(f"{k} ({old.get(k)!r} -> {new[k]!r})" for k in changed))


def model_description(recipe: Recipe) -> str:
    model = recipe.model
    if recipe.method == "finetune":
        return f"tiny random {model.tiny_model}" if model.tiny_model else model.model_name_or_path
    name = f"{recipe.method} {getattr(model, 'backbone', None) or getattr(model, 'cnn_blstm_variant', '')}".strip()
    return f"tiny random {name}" if model.tiny_model else name


def run_once(recipe: Recipe, fold: Fold) -> dict | None:
    """One run of the recipe on ``fold`` (its split, its folder): the ``method``'s path from data to
    ``results.json``; None on ranks > 0."""
    args = recipe.training if fold.output_dir == recipe.training.output_dir else \
        recipe.training.replace(output_dir=fold.output_dir)
    setup_logging(args)
    logger.info("process rank %d of world size %d on %s", args.process_index, args.world_size, args.device)
    set_seed(args.seed)
    method = METHODS[recipe.method]
    if method.kind == "frozen":
        # Frozen features x classifiers, no Trainer: every process extracts its shard of the files, the main
        # process fits the classifiers and writes the results (None on the others).
        return resolve(method.build)(recipe, fold)
    return run_trainer(recipe, fold, args)


STREAM_BUFFER_BATCHES = 64  # length grouping of a streamed part: rows of 64 batches sorted at a time


def streamed_training_part(recipe: Recipe, label_names: list[str]):
    """``recipe.data.train_shards`` streamed, grouped by length per buffer; its classes must be the run's."""
    import datasets

    from ser_hf.data.shards import stream_split

    batch = recipe.training.per_device_train_batch_size
    stream = stream_split(recipe.data.train_shards, "train", buffer_size=STREAM_BUFFER_BATCHES * batch if recipe.training.train_sampling_strategy == "group_by_length" else 0,
                          batch_size=batch, seed=recipe.training.seed)
    label = (stream.features or {}).get("label")
    if not isinstance(label, datasets.ClassLabel) or list(label.names) != list(label_names):
        raise RecipeError(f"train_shards: {recipe.data.train_shards} has classes {getattr(label, 'names', label)}, the run has "
                          f"{label_names}; write the shards from a preparation with the same label_set")
    logger.info("training part streamed from %s (%d Parquet shards)", recipe.data.train_shards, stream.n_shards)
    return stream


def run_trainer(recipe: Recipe, fold: Fold, args) -> dict | None:
    """The Trainer methods (finetune, image_cnn, cnn_blstm, patch_finetune), top to bottom, on ``fold`` with the
    training arguments ``args`` (the recipe's, in the fold's folder)."""
    out = Path(args.output_dir)

    # 1. Data. One process per file system prepares and caches; the others then read its cache.
    with preparation_first(recipe):
        data = prepare_data(recipe, fold)

    # 2. Model for the recipe's method (an HF audio encoder, a spectrogram CNN, the CNN-BLSTM, VGGish/YAMNet
    #    + head), from the Hub or weight files, or a tiny random one; labels in its config.
    set_seed(args.seed)  # initial weights depend on the seed alone, not on what data preparation drew
    model, extractor = build_recipe_model(recipe, data.label_names)

    # 3. Train, from the last complete checkpoint when there is one.
    train_stream = streamed_training_part(recipe, data.label_names) if recipe.data.train_shards else None
    trainer = build_trainer(recipe, args, model, extractor, data, train_dataset=train_stream)
    warn_if_sharding_dropped(trainer)
    precision = "bf16" if args.bf16 else "float32"
    logger.info("precision: %s (recipe bf16: %s)", precision, recipe.training.bf16_setting)
    padding = None
    if train_stream is None:  # a stream has no length list to compute it from
        padding = epoch_padding_fraction(trainer)
        logger.info("padding fraction of a training epoch (%s): %.1f %%", "grouped by length" if recipe.training.train_sampling_strategy == "group_by_length" else "random order", 100 * padding)
    # output_dir is shared by every node (checkpoints are written by the world's main process only); the others
    # wait on a file while it looks (and removes a checkpoint cut off by a kill), not in a collective.
    with guards.main_first("checkpoint lookup"):
        checkpoint = last_complete_checkpoint(out, trainer.is_world_process_zero()) if args.resume else None
    start_step = 0
    if checkpoint:
        start_step = json.loads((Path(checkpoint) / "trainer_state.json").read_text())["global_step"]
        logger.info("resuming from %s (global step %d)", checkpoint, start_step)
        warn_if_recipe_changed(recipe.run_yaml(fold), out)
    elif trainer.is_world_process_zero():
        out.mkdir(parents=True, exist_ok=True)
        (out / "recipe.yaml").write_text(recipe.run_yaml(fold))
    train_result = trainer.train(resume_from_checkpoint=checkpoint)
    if trainer.is_fsdp_enabled:  # checkpoints stay sharded (fast to write); the final model is gathered whole
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model()  # the best model (load_best_model_at_end) and the feature extractor
    trainer.save_state()
    calibration = calibrate_trainer_model(trainer, data, recipe)  # T fitted on validation, folded in, saved again

    # 4. Test: every process predicts its share; the main one writes the one result set.
    started = time.perf_counter()
    prediction = trainer.predict(model_view(data.splits["test"]), metric_key_prefix="test")
    test_seconds = time.perf_counter() - started
    if not trainer.is_world_process_zero():
        logger.info("rank %d done", args.process_index)
        return None
    metrics, probs = test_metrics(prediction, data.splits["test"], data.label_names)
    save_predictions(out, {"model": probs}, data.splits["test"], data.label_names)
    long_clip = long_clip_results(str(out), data.label_names, recipe.protocol.long_clip, recipe.data.label_set)
    (out / "long_clip.json").write_text(json.dumps(long_clip, indent=1))
    run = {
        "world_size": args.world_size,
        "resumed_from": checkpoint,
        "global_step": trainer.state.global_step,
        "steps_this_launch": trainer.state.global_step - start_step,
        "epochs": trainer.state.epoch,
        "best_checkpoint": trainer.state.best_model_checkpoint,
        f"best_validation_{recipe.training.metric_for_best_model}": trainer.state.best_metric,
        "train_runtime_s": train_result.metrics.get("train_runtime"),
        "train_samples_per_second": train_result.metrics.get("train_samples_per_second"),
        "train_padding_fraction": padding,
        "precision": precision,
        "train_shards": recipe.data.train_shards,
        "test_runtime_s": test_seconds,
        "evaluation": PIPELINE_EVALUATION,
        "method": recipe.method,
        "model": model_description(recipe),
    }
    long_clip_summary = {k: v for k, v in long_clip.items() if k != "segments"}
    write_results(out, recipe, fold, data, metrics, probs, data.splits["test"]["label"],
                  {"run": run, "long_clip": long_clip_summary, "calibration": calibration})
    logger.info(
        "test accuracy %.2f %%, UAR %.2f %%, macro F1 %.2f %% (%d files); results written to %s",
        100 * metrics["accuracy"], 100 * metrics["uar"], 100 * metrics["macro_f1"], len(data.splits["test"]), out,
    )
    if recipe.publish.push_to_hub and fold.part_of is None:
        from ser_hf.publish.hub import push_run

        logger.info("pushed: %s", push_run(out, recipe.publish.hub_model_id))
    return {"test": metrics, "run": run, "long_clip": long_clip_summary}
