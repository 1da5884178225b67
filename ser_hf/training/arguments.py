"""The training section of a recipe: ``transformers.TrainingArguments`` itself, with ser-hf's defaults and keys.

:class:`TrainingConfig` subclasses ``TrainingArguments``, so every Trainer setting is a recipe key with the
Trainer's own validation and help (``lr_scheduler_type=cosine optim=adamw_torch_fused gradient_checkpointing=true
report_to=tensorboard torch_compile=true ddp_timeout=300 ...``) and nothing is mapped by hand. It redeclares the
fields whose defaults ser-hf chooses (a checkpoint and an evaluation per epoch, the best one by UAR kept, seed 003's
learning rate and epochs ...) with their reasons, and adds the training keys the Trainer has no field for (the
training crop, padding, early stopping, resume). ``bf16: auto`` becomes a plain bool here, before the Trainer's own
checks run: bf16 autocast on a GPU that has it, and on a CPU with bf16 units.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import torch
from transformers import TrainingArguments

from ser_hf.hardware import cpu_has_bf16
from ser_hf.recipe_fields import RecipeError, check_section, choice, field, non_negative, not_empty, positive, seed_range
from ser_hf.registry import METRICS


def bf16_enabled(setting) -> bool:
    """``auto``: bf16 autocast on a GPU that has it, and on a CPU with bf16 units (AMX or AVX512-BF16), where it
    cut the quickstart's CPU time by 28 % at the same accuracy over 3 seeds (benchmarks/time_to_accuracy.py); a
    CPU without them emulates bf16, which is slower than float32."""
    setting = str(setting).lower()
    if setting == "auto":
        if torch.cuda.is_available():
            return torch.cuda.is_bf16_supported()
        return cpu_has_bf16()
    return setting == "true"


def multi_process_without_gpu() -> bool:
    """Launched as several processes (torchrun / accelerate launch) on a machine without CUDA."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()


def _max_steps(key: str, value: int) -> None:
    if value != -1 and value <= 0:
        raise RecipeError(f"{key}: must be -1 (no limit) or an integer > 0, got {value}")


def _at_least_zero(key: str, value: int) -> None:
    if value < 0:
        raise RecipeError(f"{key}: must be an integer >= 0, got {value}")


def _warmup(key: str, value: float) -> None:
    non_negative(key, value)


# Fields of TrainingArguments whose ser-hf default differs (or that ser-hf checks more strictly), redeclared below
# with the reason; the recipe's saved copy (recipe.yaml) always lists them.
@dataclass
class TrainingConfig(TrainingArguments):
    """``TrainingArguments`` with ser-hf's defaults, plus the training keys the Trainer has no field for."""

    output_dir: str | None = field("outputs/run", "Where the model, checkpoints and results go.", not_empty)
    num_train_epochs: float = field(5.0, "Epochs (seed 003: 5).", positive)
    max_steps: int = field(-1, "Stop after this many optimiser steps (overrides epochs when > 0).", _max_steps)
    learning_rate: float = field(3e-5, "Peak learning rate.", positive)
    warmup_steps: float = field(0.1, "Linear warm-up: a number < 1 is a fraction of the total steps (seed 003: 0.1), "
                                     "a larger one a count of steps.", _warmup)
    weight_decay: float = field(0.0, "AdamW weight decay.", non_negative)
    per_device_train_batch_size: int = field(8, "Training batch per device.", positive)
    per_device_eval_batch_size: int = field(8, "Evaluation batch per device.", positive)
    gradient_accumulation_steps: int = field(1, "Gradient accumulation.", positive)
    eval_strategy: str = field("epoch", "When to evaluate and save a checkpoint: epoch or steps (no: never, which "
                                        "needs load_best_model_at_end=false).", choice(("epoch", "steps", "no")))
    eval_steps: int | None = field(None, "Steps between evaluations (and checkpoints) when eval_strategy is steps.",
                                   positive)
    save_strategy: str | None = field(None, "When to save a checkpoint; null = with every evaluation (what best-model "
                                            "selection and resuming need).")
    save_steps: float | None = field(None, "Steps between checkpoints; null = eval_steps.", positive)
    save_total_limit: int | None = field(2, "Checkpoints kept (the best is always kept).", positive)
    load_best_model_at_end: bool = field(True, "Keep the checkpoint best on validation as the run's model.")
    metric_for_best_model: str | None = field("uar", "Best checkpoint by uar, macro_f1, accuracy or weighted_f1 "
                                                     "(ser_hf.registry.METRICS).", choice(METRICS))
    greater_is_better: bool | None = field(True, "Every metric of metric_for_best_model grows with quality.")
    restore_callback_states_from_checkpoint: bool = field(True, "Early-stopping patience survives a resume.")
    bf16: str = field("auto", "bf16 mixed precision: auto (on a GPU with bf16, or a CPU with bf16 units: AMX / "
                              "AVX512-BF16), true or false.", choice(("auto", "true", "false")))
    seed: int = field(42, "Training seed.", seed_range)
    dataloader_num_workers: int = field(2, "Dataloader worker processes.", _at_least_zero)
    dataloader_pin_memory: bool | None = field(None, "Pinned host memory for batches; null = on a GPU only.")
    logging_steps: float = field(10, "Steps between log lines.", positive)
    logging_first_step: bool = field(True, "Log the first step too (the loss before any learning).")
    remove_unused_columns: bool = field(False, "Keep every column: the collators read the raw audio column.")
    length_column_name: str = field("duration", "Column that length grouping reads (no audio is decoded for it).")
    # ---- training keys the Trainer has no field for
    max_train_seconds: float = field(6.0, "Random crop of training clips (bounds padded shapes and memory).", positive)
    pad_to_multiple_seconds: float | None = field(None, "Pad training batches to a multiple of this many seconds "
                                                        "(fewer distinct shapes, e.g. for cuDNN autotuning); null = to "
                                                        "the longest clip. Padding never changes what a clip learns: "
                                                        "each clip is normalised alone and the padding is masked. "
                                                        "Evaluation never pads (it runs what pipeline() runs).",
                                                  positive)
    early_stopping_patience: int | None = field(3, "Evaluations without improvement before stopping; null = never.",
                                                positive)
    resume: bool = field(True, "Resume from the last complete checkpoint in output_dir when there is one.")

    def __post_init__(self) -> None:
        self.bf16 = str(self.bf16).lower() if not isinstance(self.bf16, bool) else str(self.bf16).lower()
        check_section(self)  # the declared types and checks of ser-hf's keys (TrainingArguments checks its own)
        if getattr(self.eval_strategy, "value", self.eval_strategy) == "steps" and not self.eval_steps:
            raise RecipeError("eval_strategy=steps needs eval_steps")
        self.bf16_setting = self.bf16  # as the recipe says it; results and recipe.yaml report both
        self.bf16 = bf16_enabled(self.bf16)
        # Without CUDA, accelerate only forms a (gloo) process group when told the run is on CPU; a single process
        # keeps the default device choice (e.g. Apple MPS). TrainingArguments takes bf16 without CUDA only when told
        # the run is on CPU (it then trains under CPU autocast).
        self.use_cpu = bool(self.use_cpu or multi_process_without_gpu() or (
            self.bf16 and not torch.cuda.is_available() and not torch.backends.mps.is_available()))
        if self.save_strategy is None:  # a checkpoint per evaluation: best-model selection and resume
            self.save_strategy = self.eval_strategy
        if self.save_steps is None:
            self.save_steps = self.eval_steps if self.eval_steps is not None else 500
        if self.dataloader_pin_memory is None:
            self.dataloader_pin_memory = torch.cuda.is_available()
        # publishing is its own step (ser_hf.publish.hub, the recipe's publish section): the Trainer never pushes
        self.push_to_hub = False
        try:
            super().__post_init__()
        except ValueError as err:  # the Trainer's own checks: say it is about the recipe
            raise RecipeError(f"training settings: {err}") from None

    def replace(self, **changes) -> "TrainingConfig":
        """A copy with ``changes`` (a fold's output_dir, a benchmark's max_steps), ``bf16`` still as the recipe says."""
        return dataclasses.replace(self, **{"bf16": self.bf16_setting, **changes})
