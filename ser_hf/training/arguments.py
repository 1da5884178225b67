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
from ser_hf.recipe_fields import RecipeError, check_section
from ser_hf.recipe_sections import TrainingKeys


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


def _check_choices_of_the_trainer(args) -> None:
    """A TrainingArguments field typed by a choice (scheduler, optimiser, strategies) holds one of its choices: a one-line
    error naming the key, before the Trainer's own check (which names the enum, not the key)."""
    import enum
    import typing

    hints = typing.get_type_hints(TrainingArguments)
    for f in dataclasses.fields(TrainingArguments):
        choices = [t for t in typing.get_args(hints.get(f.name)) if isinstance(t, type) and issubclass(t, enum.Enum)]
        value = getattr(args, f.name, None)
        if choices and isinstance(value, str) and not isinstance(value, enum.Enum):
            allowed = [m.value for m in choices[0]]
            if value not in allowed:
                raise RecipeError(f"{f.name}: {value!r} is not one of {', '.join(map(str, allowed))}")


@dataclass
class TrainingConfig(TrainingKeys, TrainingArguments):
    """``TrainingArguments`` with ser-hf's defaults and training keys (:class:`~ser_hf.recipe_sections.TrainingKeys`,
    which override the Trainer's fields of the same name), so every Trainer field is a recipe key too."""

    def __post_init__(self) -> None:
        self.bf16 = str(self.bf16).lower() if not isinstance(self.bf16, bool) else str(self.bf16).lower()
        check_section(self)  # the declared types and checks of ser-hf's keys (TrainingArguments checks its own)
        _check_choices_of_the_trainer(self)
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
            self.save_steps = self.eval_steps
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
