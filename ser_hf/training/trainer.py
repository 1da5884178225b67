"""The Trainer side of ``train.py``: the batch collators, the sampler, the ``Trainer`` and resuming.

What a run reports is what its saved model gives through ``pipeline("audio-classification")``, file by file:

* validation and test (every fold and cross-corpus cell too) run through :class:`InferenceCollator` and
  :meth:`SERTrainer.prediction_step`: each clip whole, through the saved feature extractor alone, in float32; clips
  of different lengths share a zero-padded batch only where that is exact (wav2vec2 / HuBERT / WavLM with the
  padding-aware group norm, :func:`ser_hf.models.audio_encoders.pads_exactly`), otherwise only clips whose inputs
  have the same shape do (:func:`ser_hf.inference.pipeline_logits`'s rule), so the logits are the pipeline's;
* training batches (:class:`AudioCollator`) normalise each clip alone, as the pipeline does, then zero-pad and
  pass an attention mask; the group-norm CNN of hubert-base-style encoders ignores that padding
  (:class:`ser_hf.models.audio_encoders.PaddingMaskedGroupNorm`), so a clip trains on the features it will have
  at inference whatever its batch.

Speed choices, measured in ``benchmarks/train.py`` (throughput) and ``benchmarks/time_to_accuracy.py``
(against the stock Hugging Face recipe, both scored through the pipeline):

* audio stays as 16-kHz WAV bytes (``Audio(decode=False)``) and is decoded with soundfile in the
  collator: no torchcodec and no resampling per step;
* training clips are randomly cropped to ``max_train_seconds``; with ``group_by_length`` batches are grouped
  by the stored ``duration`` column (no audio read) and served in random order (:class:`ShuffledLengthGroupedSampler`);
* evaluation and test rows run longest first, so clips of equal length meet in a batch, and predictions come
  back in row order (:meth:`SERTrainer.predict`).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np
import torch
from torch.utils.data import SequentialSampler
from transformers import EarlyStoppingCallback, Trainer, TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices
from transformers.trainer_utils import PredictionOutput, get_last_checkpoint

from ser_hf import guards
from ser_hf.data.audio import decode_wav_bytes
from ser_hf.data.balance import class_weights
from ser_hf.evaluation.metrics import make_compute_metrics
from ser_hf.inference import clip_inputs, inference_batches, model_logits, pad_waveform_inputs
from ser_hf.locks import storage_guard
from ser_hf.models.audio_encoders import pads_exactly
from ser_hf.recipe import Recipe
from ser_hf.training.arguments import TrainingConfig
from ser_hf.training.data import SAMPLING_RATE, PreparedData, model_view

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------- batches
def fixed_input_seconds(extractor) -> float | None:
    """Models whose extractor brings every clip to one length: Whisper (30 s), AST (max_length frames), spectrogram images."""
    if getattr(extractor, "n_samples", None):  # WhisperFeatureExtractor, SpectrogramImageFeatureExtractor
        return extractor.n_samples / SAMPLING_RATE
    if type(extractor).__name__ == "ASTFeatureExtractor":
        return extractor.max_length * 0.01  # 10-ms fbank frames
    return None


def takes_waveforms(extractor) -> bool:
    """A wav2vec2-style extractor: the model reads the (normalised) samples as ``input_values``, any length."""
    return fixed_input_seconds(extractor) is None and "input_values" in getattr(extractor, "model_input_names", ())


def decode_row(row: dict) -> np.ndarray:
    wave, sr = decode_wav_bytes(row["audio"]["bytes"])
    if sr != SAMPLING_RATE:
        raise ValueError(f"{row['audio'].get('path')}: {sr} Hz audio in a 16-kHz dataset")
    return wave


@dataclass
class AudioCollator:
    """Training batches: decode, crop (random at train time, centred otherwise), augment, extract and pad.

    Waveform models get each clip through the feature extractor alone (its normalisation sees that clip only, as
    in ``pipeline()``), then zero padding to the longest clip (to a multiple of ``pad_to_multiple_seconds`` when
    set) and an attention mask, which every wav2vec2-family model takes; extractors of a fixed input size batch
    as they are. ``stats`` counts real and padded samples (in the process that runs the collator: with dataloader
    workers, each worker has its own copy; :func:`padding_fraction` is the exact figure computed from the sampler
    order without touching audio).
    """

    feature_extractor: object
    max_seconds: float
    train: bool = False
    augment: Callable[[np.ndarray], np.ndarray] | None = None  # ser_hf.data.augment.OnTheFlyAugment
    pad_to_multiple_seconds: float | None = None
    stats: dict = field(default_factory=lambda: {"real": 0, "padded": 0, "batches": 0, "examples": 0})

    def _crop(self, wave: np.ndarray) -> np.ndarray:
        limit = int(self.max_seconds * SAMPLING_RATE)
        if len(wave) <= limit:
            return wave
        # torch's RNG is seeded by the Trainer and re-seeded per dataloader worker (numpy's would repeat per worker).
        start = int(torch.randint(0, len(wave) - limit + 1, ()).item()) if self.train else (len(wave) - limit) // 2
        return wave[start : start + limit]

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        waves = []
        for row in rows:
            wave = self._crop(decode_row(row))
            if self.train and self.augment is not None:
                wave = self.augment(wave)
            waves.append(wave)
        if takes_waveforms(self.feature_extractor):
            multiple = max(1, int((self.pad_to_multiple_seconds or 0) * SAMPLING_RATE))
            batch = pad_waveform_inputs([clip_inputs(self.feature_extractor, w) for w in waves], multiple)
            width = batch["input_values"].shape[-1]
        else:  # fixed-size inputs (Whisper, AST, spectrogram images) or an extractor that pads its own way (patches)
            batch = dict(self.feature_extractor(waves, sampling_rate=SAMPLING_RATE, return_tensors="pt"))
            fixed = fixed_input_seconds(self.feature_extractor)
            width = int(fixed * SAMPLING_RATE) if fixed is not None else max(len(w) for w in waves)
        real = sum(min(len(w), width) for w in waves)
        self.stats["real"] += real
        self.stats["padded"] += width * len(waves) - real
        self.stats["batches"] += 1
        self.stats["examples"] += len(waves)
        batch["labels"] = torch.tensor([int(r["label"]) for r in rows], dtype=torch.long)
        return batch

    @property
    def padding_fraction(self) -> float:
        total = self.stats["real"] + self.stats["padded"]
        return self.stats["padded"] / total if total else 0.0


@dataclass
class InferenceCollator:
    """Evaluation batches that give ``pipeline()``'s logits: each clip whole through the feature extractor alone,
    then batched by :func:`ser_hf.inference.inference_batches` (one zero-padded batch for a model whose padded
    batches are exact, ``padded``; otherwise sub-batches of identical input shape), which
    :meth:`SERTrainer.prediction_step` runs one by one.
    ``labels`` comes first: the Trainer counts rows by it."""

    feature_extractor: object
    padded: bool = False

    def __call__(self, rows: list[dict]) -> dict:
        inputs = [clip_inputs(self.feature_extractor, decode_row(row)) for row in rows]
        groups = [{"rows": torch.tensor(index, dtype=torch.long), "inputs": batch}
                  for index, batch in inference_batches(inputs, len(rows), self.padded)]
        return {"labels": torch.tensor([int(r["label"]) for r in rows], dtype=torch.long), "clip_groups": groups}


def padding_fraction(self) -> float:
        total = self.stats["real"] + self.stats["padded"]
        return self.stats["padded"] / total if total else 0.0


def padding_fraction(
    durations: Sequence[float],
    batches: Iterable[Sequence[int]],
    max_seconds: float,
    pad_to_multiple_seconds: float | None,
    fixed_seconds: float | None = None,
) -> float:
    """Share of padded samples in ``batches`` (index lists), from the stored durations alone."""
    multiple = max(1, int((pad_to_multiple_seconds or 0) * SAMPLING_RATE))
    limit = int(max_seconds * SAMPLING_RATE)
    real = padded = 0
    for batch in batches:
        lengths = [min(int(round(durations[i] * SAMPLING_RATE)), limit) for i in batch]
        if not lengths:
            continue
        width = int(fixed_seconds * SAMPLING_RATE) if fixed_seconds else math.ceil(max(lengths) / multiple) * multiple
        lengths = [min(n, width) for n in lengths]
        real += sum(lengths)
        padded += width * len(lengths) - sum(lengths)
    return padded / (real + padded) if real + padded else 0.0


def epoch_padding_fraction(trainer: Trainer) -> float:
    """Padding of one training epoch in the order the Trainer's sampler gives (no audio is read)."""
    dataset = trainer.train_dataset
    order = list(iter(trainer._get_train_sampler(dataset)))
    size = trainer.args.per_device_train_batch_size
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    return padding_fraction(
        np.asarray(dataset["duration"], dtype=np.float64), batches, trainer.args.max_train_seconds, trainer.args.pad_to_multiple_seconds,
        fixed_input_seconds(trainer.processing_class),
    )


# ---------------------------------------------------------------- order
class ShuffledLengthGroupedSampler(LengthGroupedSampler):
    """transformers' length grouping (random mega-batches of 50 batches, each sorted by length) with the
    batches then served in random order, the longest still first (an out-of-memory shows at step 1).

    The stock order sweeps each mega-batch from its longest clips to its shortest: consecutive steps
    see similar durations, hence similar corpora and speakers, and on the quickstart it trained to a
    lower accuracy than random order (``benchmarks/time_to_accuracy.py``). The batches themselves, and
    so the padding, are the same; only their order changes. The global torch RNG draws both
    permutations, as the stock sampler does, so every process draws the same order.
    """

    def __iter__(self):
        indices = get_length_grouped_indices(self.lengths, self.batch_size, generator=self.generator)
        batches = [indices[i : i + self.batch_size] for i in range(0, len(indices), self.batch_size)]
        # The short batch (the end of the last mega-batch) stays last: the loader cuts the flat order
        # every batch_size indices, so one in the middle would shift every batch after it.
        middle = len(batches) - 1 - (len(batches) > 1 and len(batches[-1]) < self.batch_size)
        order = [0] + (torch.randperm(max(middle, 0), generator=self.generator) + 1).tolist()
        order += list(range(len(order), len(batches)))
        return iter([i for b in order for i in batches[b]])


def length_order(dataset) -> np.ndarray | None:
    """Row indices longest first by the ``duration`` column, or None where there is none."""
    if not isinstance(dataset, datasets.Dataset) or "duration" not in dataset.column_names or len(dataset) < 2:
        return None
    return np.argsort(-np.asarray(dataset["duration"], dtype=np.float64), kind="stable")


def _take(values, index: np.ndarray):
    if values is None:
        return None
    if isinstance(values, (tuple, list)):
        return type(values)(_take(v, index) for v in values)
    return values[index]


# ---------------------------------------------------------------- trainer
class SERTrainer(Trainer):
    """Trainer whose evaluation is inference: the :class:`InferenceCollator`'s whole clips, run in float32 by
    :meth:`prediction_step` in sub-batches of equal shape, so validation and test logits are what
    ``pipeline("audio-classification")`` gives the saved model for each file. Also: shuffled length-grouped
    training batches, and evaluation longest first (equal lengths meet) with predictions returned in row order
    (so test predictions line up with the test rows' corpus and language).
    """

    def __init__(self, *args, eval_collator=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.eval_collator = eval_collator
        # The audio classifiers take **kwargs, so Trainer assumes their loss is already normalised by
        # num_items_in_batch; it is a per-batch mean. Left alone, the loss would not be divided by
        # gradient_accumulation_steps and would be multiplied by the number of processes.
        self.model_accepts_loss_kwargs = False
        if self.is_fsdp_enabled and self.accelerator.state.fsdp_plugin.fsdp_version == 2:
            fit_for_fsdp2(self.model, self.accelerator.state.fsdp_plugin)

    def create_accelerator_and_postprocess(self) -> None:
        super().create_accelerator_and_postprocess()
        if fsdp2_requested_on_cpu(self.accelerator.state):
            shard_with_fsdp2_on_cpu(self)

    def _with_eval_collator(self, getter, *args):
        train_collator = self.data_collator
        self.data_collator = self.eval_collator or train_collator
        try:
            return getter(*args)
        finally:
            self.data_collator = train_collator

    def get_eval_dataloader(self, eval_dataset=None):
        return self._with_eval_collator(super().get_eval_dataloader, eval_dataset)

    def get_test_dataloader(self, test_dataset):
        return self._with_eval_collator(super().get_test_dataloader, test_dataset)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        if "clip_groups" not in inputs:
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)
        labels = inputs["labels"]
        model.eval()
        with torch.no_grad():
            if self.is_fsdp_enabled or self.is_deepspeed_enabled:
                logits = self._sharded_clip_logits(model, inputs["clip_groups"], len(labels))
            else:
                logits = None
                for group in inputs["clip_groups"]:
                    out = model_logits(model, group["inputs"])
                    if logits is None:
                        logits = out.new_empty(len(labels), out.shape[1])
                    logits[group["rows"]] = out
            if self.compute_loss_func is not None:
                loss = self.compute_loss_func({"logits": logits}, labels)
            else:
                loss = torch.nn.functional.cross_entropy(logits, labels)
        return loss.detach(), None if prediction_loss_only else logits, labels

    def _sharded_clip_logits(self, model, groups: list[dict], rows: int) -> torch.Tensor:
        """A sharded model gathers its weights in every forward pass, a collective: each process must make as many
        calls as every other. One call per clip, and repeats of the last one up to the evaluation batch size (the
        batches of every process are that size, but the last one, which accelerate evens out)."""
        singles = [({k: v[j : j + 1] for k, v in g["inputs"].items()}, int(g["rows"][j]))
                   for g in groups for j in range(len(g["rows"]))]
        logits = None
        for call in range(max(rows, self.args.per_device_eval_batch_size)):
            batch, row = singles[min(call, len(singles) - 1)]
            out = model_logits(model, batch)
            if logits is None:
                logits = out.new_empty(rows, out.shape[1])
            if call < len(singles):
                logits[row] = out[0]
        return logits

    def _get_train_sampler(self, train_dataset=None):
        dataset = self.train_dataset if train_dataset is None else train_dataset
        if self.args.train_sampling_strategy != "group_by_length" or length_order(dataset) is None:
            return super()._get_train_sampler(train_dataset)
        return ShuffledLengthGroupedSampler(self.args.train_batch_size * self.args.gradient_accumulation_steps,
                                            lengths=list(dataset[self.args.length_column_name]))

    def _get_eval_sampler(self, eval_dataset):
        # evaluate()/predict() hand over rows already in length order: keep it.
        if eval_dataset is None or self.args.world_size > 1:
            return None  # accelerate shards batches in order and gathers them back in order
        return SequentialSampler(eval_dataset)

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval"):
        dataset = self.eval_dataset if eval_dataset is None else eval_dataset
        order = length_order(dataset)
        return super().evaluate(dataset if order is None else dataset.select(order), ignore_keys, metric_key_prefix)

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        # The main process writes the model while the others wait on a file (a large model on a slow shared disk
        # takes minutes), not in the collective that follows: Trainer's barrier in _save_checkpoint, or predict.
        folder = Path(output_dir or self.args.output_dir)
        if _internal_call:  # part of _save_checkpoint, which reports a failed write itself
            super().save_model(output_dir, _internal_call)
        else:
            with storage_guard(folder, "saving the model", kept=_kept_checkpoint(folder)):
                super().save_model(output_dir, _internal_call)
        guards.barrier(f"model written to {folder.name}")

    def _save_checkpoint(self, model, trial) -> None:
        # A checkpoint cut off by a full disk is removed (the last complete one stays, and a relaunch resumes from
        # it); the others wait on a file until the main process has written the optimizer state too.
        run_dir = Path(self._get_output_dir(trial=trial))
        folder = run_dir / f"checkpoint-{self.state.global_step}"
        with storage_guard(folder, f"saving {folder.name}", kept=_kept_checkpoint(run_dir),
                           remove=folder if self.args.should_save else None):
            super()._save_checkpoint(model, trial)
        guards.barrier(f"{folder.name} saved")

    def predict(self, test_dataset, ignore_keys=None, metric_key_prefix: str = "test") -> PredictionOutput:
        order = length_order(test_dataset)
        if order is None:
            return super().predict(test_dataset, ignore_keys, metric_key_prefix)
        out = super().predict(test_dataset.select(order), ignore_keys, metric_key_prefix)
        back = np.empty_like(order)
        back[order] = np.arange(len(order))
        return PredictionOutput(_take(out.predictions, back), _take(out.label_ids, back), out.metrics)


def _kept_checkpoint(run_dir: Path) -> str:
    """What a failed save leaves to resume from, for its error message."""
    complete = [p for p in run_dir.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    if not complete:
        return "no complete checkpoint yet: a relaunch starts over"
    last = max(complete, key=lambda p: int(p.name.split("-")[1]))
    return f"the last complete checkpoint, {last.name}, is intact: a relaunch resumes from it"


def weighted_cross_entropy(weights: torch.Tensor):
    """``compute_loss_func`` for a class-weighted cross-entropy (``balance: class_weights``).

    The Trainer passes ``num_items_in_batch`` (examples in the whole accumulated, all-device batch);
    summing and dividing by it keeps gradient accumulation and multi-GPU exact.
    """

    def loss_fn(outputs, labels, num_items_in_batch=None):
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        w = weights.to(device=logits.device, dtype=torch.float32)
        if num_items_in_batch is None:
            return torch.nn.functional.cross_entropy(logits.float(), labels, weight=w)
        loss = torch.nn.functional.cross_entropy(logits.float(), labels, weight=w, reduction="sum")
        return loss / num_items_in_batch

    return loss_fn


def build_trainer(recipe: Recipe, args: TrainingConfig, model, extractor, data: PreparedData,
                  train_dataset=None) -> SERTrainer:
    """The run's Trainer with the training section ``args`` (the recipe's, or a fold's copy); ``train_dataset`` (a
    streamed ``datasets.IterableDataset``) replaces ``data``'s training part."""
    # LayerDrop (0.1 in hubert-base / wav2vec2-base) skips random layers per process: DDP must then
    # look for parameters without gradients, or the all-reduce waits forever.
    args.ddp_find_unused_parameters = bool(getattr(model.config, "layerdrop", 0.0))
    augment = None
    if recipe.data.augment_online_p > 0:
        from ser_hf.data.augment import OnTheFlyAugment  # audiomentations only when augmenting

        augment = OnTheFlyAugment(recipe.data.online_augment_preset or recipe.data.augment_preset,
                                  recipe.data.augment_online_p, args.seed)
    train_collator = AudioCollator(extractor, args.max_train_seconds, train=True, augment=augment,
                                   pad_to_multiple_seconds=args.pad_to_multiple_seconds)
    # rows run longest first, so a padded evaluation batch pads little
    eval_collator = InferenceCollator(extractor, padded=pads_exactly(model))
    loss_func = None
    if recipe.data.balance == "class_weights":
        weights = class_weights(data.splits["train"]["label"], len(data.label_names))
        logger.info("class-weighted loss: %s", dict(zip(data.label_names, np.round(weights, 3).tolist())))
        loss_func = weighted_cross_entropy(torch.tensor(weights, dtype=torch.float32))
    callbacks = [EarlyStoppingCallback(args.early_stopping_patience)] if args.early_stopping_patience else []
    if args.world_size > 1:
        callbacks.append(ParameterShareLog())
    train_view = model_view(data.splits["train"] if train_dataset is None else train_dataset)
    if getattr(recipe.model, "cache_frozen_features", False):  # the frozen CNN runs once per clip, not every step (training/feature_cache.py)
        from ser_hf.training.feature_cache import cached_training_part

        uncropped = AudioCollator(extractor, max_seconds=1e9)  # no crop: every clip whole
        train_view, train_collator, remove_cache = cached_training_part(recipe, args, model, train_view, uncropped)
        callbacks.append(remove_cache)
    return SERTrainer(
        model=model,
        args=args,
        train_dataset=train_view,
        eval_dataset=model_view(data.splits["validation"]),
        data_collator=train_collator,
        eval_collator=eval_collator,
        processing_class=extractor,
        compute_metrics=make_compute_metrics(data.label_names),
        compute_loss_func=loss_func,
        callbacks=callbacks,
    )


def fsdp2_requested_on_cpu(state) -> bool:
    """The accelerate config asks for FSDP2 (``fsdp_version: 2``) and the processes form a CPU (gloo) group.

    accelerate 1.15 turns ``ACCELERATE_USE_FSDP`` into ``DistributedType.FSDP`` only for GPU-like process groups
    (``AcceleratorState.__init__``, state.py:986-1016, whose list of types leaves out ``MULTI_CPU``); torch's
    ``fully_shard`` itself shards on CPU over gloo (DTensor on a ``cpu`` device mesh).
    """
    from accelerate.utils import DistributedType

    return (os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"
            and os.environ.get("FSDP_VERSION", "1") == "2"
            and state.distributed_type == DistributedType.MULTI_CPU)


def shard_with_fsdp2_on_cpu(trainer: Trainer) -> None:
    """Do on CPU what accelerate does on GPUs for an FSDP config (state.py:1010-1016 and 1037): type FSDP, the
    plugin read from the ``FSDP_*`` variables ``accelerate launch`` set. ``Trainer`` and ``Accelerator`` then take
    their FSDP2 path unchanged: ``fully_shard`` at ``prepare``, sharded checkpoints, a gathered final model."""
    from accelerate import PartialState
    from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

    state = trainer.accelerator.state
    plugin = FullyShardedDataParallelPlugin()
    if state.mixed_precision != "no":
        plugin.set_mixed_precision(state.mixed_precision)
    state.distributed_type = DistributedType.FSDP
    state.fsdp_plugin = plugin
    PartialState._shared_state["distributed_type"] = DistributedType.FSDP
    trainer.is_fsdp_enabled = True
    logger.info("FSDP2 on CPU: parameters, gradients and optimizer states sharded over %d gloo processes",
                state.num_processes)


def parameter_share(model: torch.nn.Module) -> tuple[int, int]:
    """(parameter values this process holds, parameter values of the whole model): FSDP2 makes each parameter a
    DTensor whose local shard is about 1/world size of it; DDP leaves every process the whole model."""
    from torch.distributed.tensor import DTensor

    held = sum((p.to_local() if isinstance(p, DTensor) else p).numel() for p in model.parameters())
    return held, sum(p.numel() for p in model.parameters())


class ParameterShareLog(TrainerCallback):
    """Logs, on every process once the model is prepared, how much of it the process holds."""

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        held, total = parameter_share(model)
        logger.info("this process holds %d of the model's %d parameter values (%.1f %%)", held, total,
                    100 * held / total)


def layer_stack_class(model: torch.nn.Module) -> str | None:
    """Class name of the model's transformer layer: the items of its ``encoder.layers`` (``encoder.layer``: AST),
    else of its largest ``ModuleList`` of one class (HubertEncoderLayer, WhisperEncoderLayer, ASTLayer, ...)."""
    stacks = {name: m for name, m in model.named_modules()
              if isinstance(m, torch.nn.ModuleList) and len(m) > 1 and len({type(layer) for layer in m}) == 1}
    encoder = [m for name, m in stacks.items() if name.endswith(("encoder.layers", "encoder.layer"))]
    if not (candidates := encoder or list(stacks.values())):
        return None
    return type(max(candidates, key=lambda m: sum(p.numel() for p in m.parameters()))[0]).__name__


def fit_for_fsdp2(model: torch.nn.Module, plugin) -> None:
    """Two things accelerate 1.15's FSDP2 preparation (``fsdp2_prepare_model``) expects of a model that the speech
    encoders of transformers 5 lack, on any device:

    * it asks for the input (token) embeddings, to give them an FSDP unit of their own (utils/fsdp_utils.py:859);
      HuBERT, wav2vec2 and WavLM have none and raise ``NotImplementedError`` instead of returning None: this model
      instance answers None;
    * ``TRANSFORMER_BASED_WRAP`` without ``fsdp_transformer_layer_cls_to_wrap`` wraps the classes of the model's
      ``_no_split_modules``, which wav2vec2 and WavLM leave empty (no per-layer units) and Whisper's classifier
      fills with a decoder layer it does not have (a ValueError): one FSDP unit per layer of the model's layer stack
      instead. (``SIZE_BASED_WRAP`` cannot serve: it also picks ``ModuleList`` containers, which ``fully_shard``
      refuses.)
    """
    try:
        model.get_input_embeddings()
    except NotImplementedError:
        model.get_input_embeddings = lambda: None
    if plugin.transformer_cls_names_to_wrap is None and plugin.auto_wrap_policy is not None \
            and getattr(plugin.auto_wrap_policy, "__name__", "") == "transformer_auto_wrap_policy":
        layer = layer_stack_class(model)
        plugin.transformer_cls_names_to_wrap = [layer] if layer else []
        logger.info("FSDP2: one unit per %s", layer or "model (no layer stack found)")


def warn_if_sharding_dropped(trainer: Trainer) -> None:
    """accelerate 1.15 turns an FSDP or DeepSpeed config into FSDP/ZeRO only on GPUs (and other accelerators): on CPU it
    forms a gloo group of type MULTI_CPU, drops the plugin without a word and wraps the model in plain DDP
    (``AcceleratorState.__init__``, state.py:974 for DeepSpeed, 986-1016 for FSDP). ``SERTrainer`` puts FSDP2 back
    on CPU (:func:`shard_with_fsdp2_on_cpu`); an FSDP1 or DeepSpeed config still runs as DDP there: say so."""
    fsdp = f"FSDP (fsdp_version: {os.environ.get('FSDP_VERSION', '1')})"
    for name, env, enabled in ((fsdp, "ACCELERATE_USE_FSDP", trainer.is_fsdp_enabled),
                               ("DeepSpeed", "ACCELERATE_USE_DEEPSPEED", trainer.is_deepspeed_enabled)):
        if os.environ.get(env, "false").lower() == "true" and not enabled:
            logger.warning("the accelerate config asks for %s, which accelerate runs only on GPUs (on CPU ser-hf "
                           "shards with FSDP2 alone, fsdp_version: 2): this run on %s is plain data-parallel (DDP), "
                           "each process holding the whole model", name, trainer.args.device)


# ---------------------------------------------------------------- resume
def last_complete_checkpoint(output_dir: str | Path, is_main_process: bool = True) -> str | None:
    """The newest checkpoint in ``output_dir`` that was written to the end, or None.

    ``Trainer`` writes ``trainer_state.json`` last, so a checkpoint without it was cut off (a
    SIGKILL while saving). The main process removes such a folder and takes the one before; call
    this under ``ser_hf.guards.main_first()`` so the other processes see the cleaned folder.
    """
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    while (last := get_last_checkpoint(str(output_dir))) is not None:
        if (Path(last) / "trainer_state.json").is_file():
            return last
        logger.warning("%s was not written to the end (killed while saving?): ignoring it", last)
        if not is_main_process:
            complete = [p for p in output_dir.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
            return str(max(complete, key=lambda p: int(p.name.split("-")[1]))) if complete else None
        shutil.rmtree(last)
    return None
