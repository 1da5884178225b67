"""Every GPU check of ser-hf in one call that writes one JSON: fine-tuning throughput and MFU per speed lever,
``train.py`` under DeepSpeed ZeRO-2 / ZeRO-3 and FSDP (one of them killed and resumed), and ``ser-hf predict``
throughput at batch sizes 1-64.

    python benchmarks/gpu_suite.py --json gpu_suite.json          # one CUDA GPU; new work stops after --budget-s 430
    python benchmarks/gpu_suite.py --cpu-smoke --json smoke.json  # the same steps on tiny models, on CPU (a test)
    python benchmarks/gpu_suite.py --download-wheels .whl         # on a machine with PyPI: what a bare GPU image lacks

On a GPU machine without internet whose python3 has torch (the device tool's image), with ``.whl`` carried there:

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/ser-hf/site-packages .whl/*.whl && export PYTHONPATH=/tmp/ser-hf/site-packages || exit
    PYTHONUNBUFFERED=1 python3 benchmarks/gpu_suite.py --json $OUT/gpu_suite.json 2>&1 | tee $OUT/gpu_suite.log

1. **Fine-tuning levers** (``finetune`` in the JSON). A HuBERT-base-sized model (``HubertConfig()``, random weights,
   CNN frozen and padding-masked as ``build_model`` makes it) trains under the ``hubert_bilingual`` recipe in bf16 on
   noise clips whose lengths follow that recipe's six corpora (each corpus's datasheet range, weighted by its file
   count, 1-8 s). Each setting is the recipe with one lever changed, through the real ``build_trainer`` path, timed
   over the same optimiser steps after a warm-up: the frozen CNN's output cached per clip (``cache_frozen_features``),
   length buckets (``group_by_length``), 32 clips per device instead of 8 x 4 accumulation (the same 32 per optimiser
   step), padding to 0.5-s multiples with cuDNN's autotuner, loader workers (0 without pinned memory, 8), the
   unfused AdamW against the fused default, the Trainer's per-step NaN check (a host synchronisation) off; then every
   lever that gained at least 3 % together, and ``torch.compile`` on the fastest setting (last, after parts 2 and 3,
   on what is left of the budget). Audio is counted in the CNN frames (20 ms) of the batches the steps consume, read
   off their attention masks on the device. MFU = model FLOPs per audio-second
   (counted by ``torch.utils.flop_counter`` on one forward + backward of a mean-length clip with every layer on:
   transformer, projection, and the CNN's forward unless it is cached) x audio-seconds per second / the GPU's dense
   bf16 peak (989 TFLOP/s for the H100 / H200 SXM). Host synchronisations per step are counted with
   ``torch.cuda.set_sync_debug_mode``.
2. **Sharded training** (``distributed``). ``train.py`` unchanged under ``recipes/accelerate/deepspeed_zero2.yaml``,
   ``deepspeed_zero3.yaml`` and ``fsdp.yaml`` (one process: the GPU there is), a tiny HuBERT on a generated
   RAVDESS-layout noise corpus (no espeak-ng needed) for a few steps; the FSDP run is SIGKILLed after its first
   checkpoint and launched again, which must resume there; each result must load in ``pipeline("audio-
   classification")``. Without ``deepspeed`` the two DeepSpeed runs are skipped with a line saying so.
3. **Prediction** (``predict``). ``python -m ser_hf.predict`` (the predict issue) on files of 1-8 s at batch sizes 1 to
   64, audio-seconds per second, against a plain ``pipeline()`` loop over the same files; skipped with a line where
   ``ser_hf.predict`` or its ``--batch-size`` / ``--device`` options do not exist yet.

``checks`` in the JSON lists each pass/fail; the exit status is 1 when one failed. The JSON is rewritten after every
step, so a run cut short keeps what it measured. Stages stop starting new work once ``--budget-s`` is spent.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import datetime
import importlib.util
import json
import logging
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# What the bare CUDA image of the lent GPU machine lacks (its python3 has torch, transformers 5.17, accelerate 1.15,
# huggingface_hub, pyarrow, pandas, scikit-learn, matplotlib; KINDS.md of the device tool), at this project's pins:
# the transformers ser-hf is tested with, datasets and evaluate and what they need, soundfile (with cffi) and soxr.
# Install them into a folder whose path holds "site-packages" (INSTALL below): dill, which datasets hashes with,
# pickles modules from any other folder by value, and that fails.
WHEELS = ["transformers==5.23.0", "datasets==5.2.0", "evaluate==0.4.6", "dill==0.4.1", "multiprocess==0.70.19",
          "fsspec==2026.9.0", "soundfile==0.14.0", "cffi==2.1.1", "pycparser==3.12", "soxr==0.5.0.post1",
          "regex==2026.11.19"]
SITE = "/tmp/ser-hf/site-packages"
INSTALL = (f"python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target {SITE} "
           f".whl/*.whl && export PYTHONPATH={SITE}")
# DeepSpeed is only on PyPI as source: its wheel is built here without compiled ops (ZeRO with the Trainer's torch
# AdamW needs none), and its pure-Python needs come beside it.
DEEPSPEED = "deepspeed==0.19.8"
DEEPSPEED_NEEDS = ["hjson==3.1.0", "pydantic==2.14.4", "pydantic-core==2.50.5", "annotated-types==0.8.0",
                   "typing-inspection==0.4.5", "typing-extensions==4.16.0"]
PLATFORM_FLAGS = ["--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp"] + [
    f for tag in ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
                  "manylinux1_x86_64") for f in ("--platform", tag)]

SR = 16000
TARGET_MFU = 0.20  # issue 25
SETTING_LIMIT_S = 90  # one lever setting on the GPU (about 10 s expected; torch.compile gets 3x)
LAUNCH_LIMIT_S = 150  # one train.py launch on the GPU (about 30 s expected)
LEVER_GAIN = 1.03  # a lever joins the best combination when it alone gives >= 3 % more audio-seconds per second
# The hubert_bilingual corpora: files and clip lengths (s) of each corpus's datasheet (ser_hf/data/corpora/*.py;
# BanglaSER states none: 2.5-4.5 s assumed).
BILINGUAL_CORPORA = {"tess": (2800, 1.25, 2.99), "ravdess": (1440, 2.94, 5.27), "savee": (480, 1.63, 7.14),
                     "crema_d": (7442, 1.27, 5.0), "subesco": (7000, 2.75, 6.03), "banglaser": (1467, 2.5, 4.5)}


# ---------------------------------------------------------------- helpers
class Report:
    """The JSON, rewritten after every step, and the deadline every stage checks."""

    def __init__(self, path: Path | None, budget_s: float, mode: str):
        self.path, self.start, self.budget = path, time.perf_counter(), budget_s
        self.data = {"suite": "benchmarks/gpu_suite.py", "mode": mode,
                     "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                     "budget_s": budget_s, "checks": {}}

    def left(self) -> float:
        return self.budget - (time.perf_counter() - self.start)

    def check(self, name: str, ok: bool | None, detail: str = "") -> None:
        self.data["checks"][name] = {"ok": ok, "detail": detail}
        print(f"check {'PASS' if ok else 'SKIP' if ok is None else 'FAIL'}: {name}{': ' + detail if detail else ''}",
              flush=True)

    def save(self) -> None:
        self.data["elapsed_s"] = round(time.perf_counter() - self.start, 1)
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.data, indent=1, default=str))


def bench_train():
    """benchmarks/train.py (noise clips of given lengths, the table of dense bf16 peaks)."""
    spec = importlib.util.spec_from_file_location("benchmarks_train", Path(__file__).with_name("train.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bilingual_durations(n: int, seed: int = 0) -> list[float]:
    """``n`` clip lengths drawn like the hubert_bilingual training part: a corpus by its file count, then a length
    uniform in its datasheet range, within 1-8 s."""
    import numpy as np

    rng = np.random.default_rng(seed)
    names = list(BILINGUAL_CORPORA)
    files = np.array([BILINGUAL_CORPORA[c][0] for c in names], dtype=float)
    picks = rng.choice(len(names), size=n, p=files / files.sum())
    return [float(np.clip(rng.uniform(*BILINGUAL_CORPORA[names[i]][1:]), 1.0, 8.0)) for i in picks]


def environment() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    import torch

    env = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
           "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None, "cpus": os.cpu_count()}
    for name in ("transformers", "accelerate", "datasets", "evaluate", "huggingface_hub", "deepspeed", "soundfile",
                 "pyarrow", "numpy"):
        try:
            env[name] = version(name)
        except PackageNotFoundError:
            env[name] = None
    return env


def missing_requirements() -> list[str]:
    """What ser-hf's training path needs and this Python cannot import (one line each), before any work."""
    missing = []
    for module, why in (("torch", "PyTorch"), ("transformers", "the Trainer"), ("accelerate", "the launcher"),
                        ("datasets", "the training data"), ("evaluate", "metrics"), ("soundfile", "audio decoding"),
                        ("soxr", "resampling"), ("sklearn", "metrics"), ("matplotlib", "plots"), ("yaml", "recipes"),
                        ("psutil", "kills")):
        try:
            importlib.import_module(module)
        except Exception as err:  # noqa: BLE001 - any failure to import is the line to print
            missing.append(f"{module} ({why}: {type(err).__name__}: {err})")
    return missing


@contextlib.contextmanager
def time_limit(seconds: float, what: str):
    """Raise TimeoutError in this (main) thread after ``seconds``: a hung setting must not eat the other parts' time."""
    def stop(signum, frame):
        raise TimeoutError(f"{what}: stopped after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1.0))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the launcher and every process below it (torchrun puts its workers in sessions of their own)."""
    import psutil

    try:
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    for p in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.send_signal(signal.SIGKILL)
    proc.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(cache: Path) -> dict:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1", "SER_HF_CACHE": str(cache),
            "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}


# ---------------------------------------------------------------- 1. fine-tuning levers
def lever_settings(gpu: bool) -> list[dict]:
    """One lever changed from the recipe per setting: recipe overrides, TrainingArguments overrides, cuDNN's
    autotuner; settings of one ``group`` exclude each other (the best combination takes the fastest of them)."""
    batch = 32 if gpu else 4  # the recipe's optimiser batch (8 x 4; smoke 2 x 2) as one batch
    workers = 8 if gpu else 1  # the recipe has 4

    def lever(name, recipe=(), arguments=None, cudnn=False, group=None):
        return {"name": name, "recipe": list(recipe), "arguments": arguments or {}, "cudnn": cudnn,
                "group": group or name}

    return [
        lever("baseline (hubert_bilingual)"),
        lever("cached frozen CNN output", ["cache_frozen_features=true"]),
        lever("length buckets", ["group_by_length=true"]),
        lever("one batch per step, no accumulation",
              [f"per_device_train_batch_size={batch}", "gradient_accumulation_steps=1"]),
        lever("0.5-s padded shapes + cuDNN benchmark", ["pad_to_multiple_seconds=0.5"], cudnn=gpu),
        lever("no NaN check per step (no host sync)", arguments={"logging_nan_inf_filter": False}),
        lever(f"{workers} loader workers", [f"dataloader_num_workers={workers}"], {"dataloader_persistent_workers": True},
              group="loader"),
        lever("0 loader workers, no pinned memory", ["dataloader_num_workers=0"], {"dataloader_pin_memory": False},
              group="loader"),
        lever("unfused AdamW (adamw_torch)", arguments={"optim": "adamw_torch"}),
    ]


class StepCounts:
    """The audio of the batches the training steps consume, in CNN frames read off each batch's attention mask (in
    the main process, on the device: no host synchronisation): real frames, all frames, clips. The same measure
    with and without the frozen-feature cache (a frame is 20 ms of audio)."""

    def __init__(self, geometry: list[tuple[int, int]]):
        self.geometry, self.real, self.total, self.examples = geometry, 0, 0, 0

    def add(self, inputs: dict) -> None:
        from ser_hf.training.feature_cache import frames_for_samples

        mask = inputs["attention_mask"]
        self.real = self.real + frames_for_samples(self.geometry, mask.sum(-1)).sum()
        self.total += frames_for_samples(self.geometry, mask.shape[-1]) * mask.shape[0]
        self.examples += mask.shape[0]

    def snapshot(self) -> tuple:
        return (self.real.clone() if hasattr(self.real, "clone") else self.real, self.total, self.examples)


def count_steps(trainer, counts: StepCounts) -> None:
    step = trainer.training_step

    def counted(model, inputs, *args, **kwargs):
        counts.add(inputs)
        return step(model, inputs, *args, **kwargs)

    trainer.training_step = counted


def make_timer(warmup: int, counts: StepCounts, cuda: bool):
    """A callback: wall time and counts from the end of step ``warmup`` to the end of training, and the host
    synchronisations of the two steps before it (CUDA's sync debug mode, as warnings)."""
    import torch
    from transformers import TrainerCallback

    class Timer(TrainerCallback):
        start = end = at_start = at_end = None
        syncs_per_step = None
        _caught = None

        def _sync(self):
            if cuda:
                torch.cuda.synchronize()

        def on_step_end(self, args, state, control, **kwargs):
            if cuda and state.global_step == warmup - 2:
                self._caught = warnings.catch_warnings(record=True)
                self._records = self._caught.__enter__()
                warnings.simplefilter("always")
                torch.cuda.set_sync_debug_mode("warn")
            if state.global_step == warmup:
                if self._caught is not None:
                    torch.cuda.set_sync_debug_mode("default")
                    self._caught.__exit__(None, None, None)
                    syncs = [w for w in self._records if "synchroniz" in str(w.message).lower()]
                    self.syncs_per_step = len(syncs) / 2
                    self._caught = None
                self._sync()
                self.start, self.at_start = time.perf_counter(), counts.snapshot()

        def on_train_end(self, args, state, control, **kwargs):
            self._sync()
            self.end, self.at_end = time.perf_counter(), counts.snapshot()

    return Timer()


def base_model(labels: list[str], recipe, tiny: bool):
    """HuBERT-base size (or tiny), random weights, the recipe's SpecAugment, CNN frozen and padding-masked."""
    from transformers import AutoModelForAudioClassification, HubertConfig

    from ser_hf.models.audio_encoders import (
        apply_spec_augment,
        freeze_feature_encoder,
        label_maps,
        mask_padding_in_feature_encoder,
        tiny_config,
        tiny_feature_extractor,
    )

    label2id, id2label = label_maps(labels)
    config = tiny_config("hubert", labels) if tiny else \
        HubertConfig(num_labels=len(labels), label2id=label2id, id2label=id2label)  # base: 12 x 768, CNN 7 x 512
    apply_spec_augment(config, {k: getattr(recipe.model, k) for k in ("mask_time_prob", "mask_time_length",
                                                                "mask_feature_prob", "mask_feature_length")})
    model = AutoModelForAudioClassification.from_config(config)
    freeze_feature_encoder(model)
    mask_padding_in_feature_encoder(model)
    extractor = tiny_feature_extractor(config)
    extractor.return_attention_mask = False  # as facebook/hubert-base-ls960 ships it (group norm)
    return model, extractor


def flops_per_audio_second(model, seconds: float, device, cached: bool) -> float:
    """FLOPs of one forward + backward of one ``seconds``-long clip, per audio-second, every layer on (eval mode:
    no LayerDrop or dropout), under bf16 autocast on a GPU; the CNN runs forward only (frozen), or not at all when
    its output is cached."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ser_hf.training.feature_cache import conv_geometry, frames_for_samples

    model = copy.deepcopy(model).to(device).eval()
    samples = int(seconds * SR)
    if cached:
        from ser_hf.training.feature_cache import accept_cached_features

        accept_cached_features(model)
        frames = frames_for_samples(conv_geometry(model.config), samples)
        inputs = {"input_values": torch.randn(1, frames, model.config.conv_dim[-1], device=device)}
    else:
        inputs = {"input_values": torch.randn(1, samples, device=device)}
    counter = FlopCounterMode(display=False)
    with counter, torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        model(**inputs, labels=torch.zeros(1, dtype=torch.long, device=device)).loss.backward()
    return counter.get_total_flops() / seconds


def warm_shapes(model, args, device, cached: bool) -> None:
    """One forward + backward per padded width the run can meet, so cuDNN's autotuner meets each shape before the
    timed steps (as it would over a real run's thousands of steps)."""
    import torch

    from ser_hf.training.feature_cache import conv_geometry, frames_for_samples, samples_for_frames

    model = copy.deepcopy(model).to(device).train()
    if cached:
        from ser_hf.training.feature_cache import accept_cached_features

        accept_cached_features(model)
    geometry = conv_geometry(model.config)
    batch, step = args.per_device_train_batch_size, int(args.pad_to_multiple_seconds * SR)
    for width in range(step, int(args.max_train_seconds * SR) + step, step):
        if cached:
            frames = frames_for_samples(geometry, width)
            inputs = {"input_values": torch.randn(batch, frames, model.config.conv_dim[-1], device=device),
                      "attention_mask": torch.ones(batch, samples_for_frames(geometry, frames), dtype=torch.bool,
                                                   device=device)}
        else:
            inputs = {"input_values": torch.randn(batch, width, device=device),
                      "attention_mask": torch.ones(batch, width, dtype=torch.long, device=device)}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            model(**inputs, labels=torch.zeros(batch, dtype=torch.long, device=device)).loss.backward()


def measure_setting(name: str, recipe_overrides: list[str], argument_overrides: dict, cudnn_benchmark: bool,
                    base_overrides: list[str], data, pristine, extractor, steps: int, warmup: int, flops: dict,
                    peak: float | None) -> dict:
    """One setting through build_trainer: warm-up steps, then ``steps`` timed optimiser steps."""
    import torch

    from ser_hf.recipe import load_recipe
    from ser_hf.training import build_trainer, epoch_padding_fraction
    from ser_hf.training.feature_cache import conv_geometry

    cuda = torch.cuda.is_available()
    with tempfile.TemporaryDirectory() as out:
        recipe = load_recipe("hubert_bilingual", [*base_overrides, *recipe_overrides, f"output_dir={out}"])
        model = copy.deepcopy(pristine)
        args = recipe.training.replace(max_steps=warmup + steps, eval_strategy="no", save_strategy="no",
                                       load_best_model_at_end=False, logging_steps=10**9, logging_first_step=False,
                                       disable_tqdm=True, **argument_overrides)
        torch.backends.cudnn.benchmark = cudnn_benchmark
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        try:
            started = time.perf_counter()
            trainer = build_trainer(recipe, args, model, extractor, data)
            setup_s = time.perf_counter() - started
            counts = StepCounts(conv_geometry(model.config))
            count_steps(trainer, counts)
            timer = make_timer(warmup, counts, cuda)
            trainer.add_callback(timer)
            padding_estimate = epoch_padding_fraction(trainer)
            if cudnn_benchmark and recipe.training.pad_to_multiple_seconds:
                warm_shapes(pristine, args, args.device, recipe.model.cache_frozen_features)
            trainer.train()
            peak_memory = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
        finally:
            torch.backends.cudnn.benchmark = False
            if cuda:
                torch.cuda.empty_cache()
    seconds = timer.end - timer.start
    real, total, examples = (float(b - a) for a, b in zip(timer.at_start, timer.at_end))
    audio_per_s = real * math.prod(stride for _, stride in conv_geometry(pristine.config)) / SR / seconds
    per_audio_s = flops["cached" if recipe.model.cache_frozen_features else "audio"]
    row = {
        "setting": name, "recipe_overrides": recipe_overrides, "training_arguments": argument_overrides,
        "cudnn_benchmark": cudnn_benchmark, "batch": f"{recipe.training.per_device_train_batch_size} x "
                                                    f"{recipe.training.gradient_accumulation_steps}",
        "steps_timed": steps, "seconds": seconds, "samples_per_s": examples / seconds,
        "audio_seconds_per_s": audio_per_s, "padding_fraction": 1 - real / total,
        "padding_fraction_epoch_estimate": padding_estimate, "model_tflops": per_audio_s * audio_per_s / 1e12,
        "mfu": per_audio_s * audio_per_s / (peak * 1e12) if peak else None,
        "host_syncs_per_step": timer.syncs_per_step, "peak_memory_gib": peak_memory, "setup_s": setup_s,
        "optim": getattr(args.optim, "value", args.optim), "loader_workers": args.dataloader_num_workers, "pin_memory": args.dataloader_pin_memory,
    }
    return row


def run_levers(report: Report, smoke: bool, compile_budget_s: float):
    """The single-lever settings and their best combination; returns the torch.compile step, to run last (None when
    there is none to run)."""
    import datasets
    import numpy as np
    import torch

    from ser_hf.data.labels import get_label_set
    from ser_hf.recipe import load_recipe

    bt = bench_train()
    datasets.disable_progress_bars()
    gpu = torch.cuda.is_available() and not smoke
    device = torch.device("cuda" if gpu else "cpu")
    # The recipe as a GPU user runs it (8 x 4 clips per optimiser step, 4 workers, 6-s crops, bf16: auto); the smoke
    # run shrinks it to seconds on CPU.
    base = [] if gpu else ["per_device_train_batch_size=2", "gradient_accumulation_steps=2", "dataloader_num_workers=0",
                           "max_train_seconds=2.0", "bf16=false"]
    steps, warmup = (30, 8) if gpu else (2, 1)
    probe = load_recipe("hubert_bilingual", base)
    labels = list(get_label_set(probe.data.label_set).classes)
    per_step = probe.training.per_device_train_batch_size * probe.training.gradient_accumulation_steps
    compile_warmup = 2 * warmup
    durations = bilingual_durations((compile_warmup + steps + 2) * max(per_step, 32 if gpu else 4))
    data = bt.noise_data(durations, labels)
    pristine, extractor = base_model(labels, probe, tiny=not gpu)
    peak, gpu_name = bt.peak_tflops(None) if gpu else (None, "CPU")
    crop = [min(d, probe.training.max_train_seconds) for d in durations]
    flops = {kind: flops_per_audio_second(pristine, float(np.mean(crop)), device, kind == "cached")
             for kind in ("audio", "cached")}
    section = report.data["finetune"] = {
        "model": "HuBERT-base size (HubertConfig(), random weights)" if gpu else "tiny HuBERT (smoke)",
        "device": gpu_name, "peak_tflops": peak, "target_mfu": TARGET_MFU,
        "data": {"clips": len(durations), "seconds_mean": float(np.mean(durations)), "seconds_min": min(durations),
                 "seconds_max": max(durations), "crop_s": probe.training.max_train_seconds,
                 "distribution": "hubert_bilingual corpora: datasheet ranges weighted by file count (noise audio)"},
        "flops_per_audio_second": flops, "rows": [], "errors": {},
    }
    print(f"fine-tuning levers: {section['model']} on {gpu_name}; {len(durations)} clips, mean "
          f"{np.mean(durations):.2f} s; model GFLOP per audio-second {flops['audio'] / 1e9:.1f} (audio), "
          f"{flops['cached'] / 1e9:.1f} (cached CNN output)", flush=True)

    def run(name, recipe_overrides, argument_overrides, cudnn, extra_warmup=0) -> dict | None:
        if report.left() < (30 if gpu else 5):
            section["errors"][name] = "skipped: --budget-s spent"
            print(f"  {name}: skipped (budget spent)", flush=True)
            return None
        limit = min(report.left() - 5, (SETTING_LIMIT_S if gpu else 300) * (3 if extra_warmup else 1))
        try:
            with time_limit(limit, name):
                row = measure_setting(name, recipe_overrides, argument_overrides, cudnn, base, data, pristine,
                                      extractor, steps, warmup + extra_warmup, flops, peak)
        except Exception as err:  # noqa: BLE001 - one setting's failure is reported, the others still run
            section["errors"][name] = f"{type(err).__name__}: {err}"
            print(f"  {name}: FAILED {type(err).__name__}: {err}\n{traceback.format_exc()[-2000:]}", flush=True)
            return None
        section["rows"].append(row)
        report.save()
        mfu = f", MFU {100 * row['mfu']:.1f} %" if row["mfu"] is not None else ""
        print(f"  {name}: {row['audio_seconds_per_s']:.1f} audio-s/s, {row['samples_per_s']:.1f} samples/s, padding "
              f"{100 * row['padding_fraction']:.1f} %{mfu}", flush=True)
        return row

    levers = lever_settings(gpu)
    measured = [(lever, run(lever["name"], lever["recipe"], lever["arguments"], lever["cudnn"])) for lever in levers]
    baseline = measured[0][1]
    if baseline is None:
        report.check("fine-tuning baseline measured", False, section["errors"].get(levers[0]["name"], ""))
        return None
    fastest: dict[str, tuple[dict, dict]] = {}  # per group, the fastest setting that gained enough
    for lever, row in measured[1:]:
        if row and row["audio_seconds_per_s"] >= LEVER_GAIN * baseline["audio_seconds_per_s"] and (
                lever["group"] not in fastest or row["audio_seconds_per_s"] > fastest[lever["group"]][1]["audio_seconds_per_s"]):
            fastest[lever["group"]] = (lever, row)
    chosen = [lever for lever, _ in fastest.values()]
    recipe_keys = [k for lever in chosen for k in lever["recipe"]]
    arguments = {k: v for lever in chosen for k, v in lever["arguments"].items()}
    cudnn = any(lever["cudnn"] for lever in chosen)
    section["combination"] = {"levers": [lever["name"] for lever in chosen], "recipe_overrides": recipe_keys,
                              "training_arguments": arguments, "cudnn_benchmark": cudnn}
    if len(chosen) > 1:
        run("best combination", recipe_keys, arguments, cudnn)

    def choose_best() -> dict:
        """The fastest setting measured (the combination, unless levers got in each other's way)."""
        row = max(section["rows"], key=lambda r: r["audio_seconds_per_s"])
        section["best"] = {k: row[k] for k in ("setting", "recipe_overrides", "training_arguments", "cudnn_benchmark",
                                               "audio_seconds_per_s", "samples_per_s", "mfu")}
        section["best"]["speedup_audio_seconds"] = row["audio_seconds_per_s"] / baseline["audio_seconds_per_s"]
        return row

    best = choose_best()

    def conclude() -> None:
        row = choose_best()
        lever_errors = {k: v for k, v in section["errors"].items() if "torch.compile" not in k}
        report.check("fine-tuning: every lever setting ran", all(e.startswith("skipped") for e in lever_errors.values()),
                     "; ".join(f"{k}: {v}" for k, v in lever_errors.items()))
        compile_error = next((v for k, v in section["errors"].items() if "torch.compile" in k), None)
        compiled = any("torch.compile" in r["setting"] for r in section["rows"])
        report.check("fine-tuning: torch.compile setting ran", True if compiled else (
            None if compile_error is None or compile_error.startswith(("skipped", "TimeoutError")) else False),
            compile_error or "")
        if peak:
            report.check(f"fine-tuning MFU >= {100 * TARGET_MFU:.0f} % (best setting)", row["mfu"] >= TARGET_MFU,
                         f"{100 * row['mfu']:.1f} % of {peak:.0f} TFLOP/s ({row['setting']}); baseline "
                         f"{100 * baseline['mfu']:.1f} %")
        report.save()

    if smoke:
        section["errors"]["torch.compile"] = "skipped in --cpu-smoke (minutes to compile on CPU)"
    conclude()
    if smoke:
        return None

    def compile_stage() -> None:
        """torch.compile on top of the best combination: last, as it may take minutes to compile."""
        if report.left() < compile_budget_s:
            section["errors"]["torch.compile"] = (
                f"skipped: {report.left():.0f} s of --budget-s left, {compile_budget_s:.0f} s wanted")
        else:  # on the fastest setting so far, whatever it is
            run(f"{best['setting']} + torch.compile", best["recipe_overrides"],
                {**best["training_arguments"], "torch_compile": True}, best["cudnn_benchmark"], extra_warmup=warmup)
        conclude()

    return compile_stage


# ---------------------------------------------------------------- 2. sharded training
def write_noise_corpus(root: Path, actors: int = 4, seed: int = 0) -> int:
    """A RAVDESS-layout corpus of tones in noise, 1-3 s (train.py reads it like the real download)."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(seed)
    count = 0
    for actor in range(1, actors + 1):
        for emotion in range(1, 9):
            for statement in (1, 2):
                t = np.arange(int(rng.uniform(1.0, 3.0) * SR)) / SR
                wave = 0.3 * np.sin(2 * np.pi * (120 + 40 * emotion) * t) + 0.05 * rng.standard_normal(len(t))
                path = root / f"Actor_{actor:02d}" / f"03-01-{emotion:02d}-01-{statement:02d}-01-{actor:02d}.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(path, wave.astype(np.float32), SR)
                count += 1
    return count


def write_long_clip(path: Path) -> Path:
    """A labelled 8-s recording (WAV + CSV start,end,emotion), so train.py needs no espeak-ng for its long clip."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(1)
    sf.write(path, (0.1 * rng.standard_normal(8 * SR)).astype(np.float32), SR)
    path.with_suffix(".csv").write_text("start,end,emotion\n0,4,angry\n4,8,sad\n")
    return path


def launch(config: str, args: list[str], log: Path, env: dict) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
           str(ROOT / "recipes/accelerate" / config), "--num_processes", "1", "--main_process_port", str(free_port()),
           "--dynamo_backend", "no", str(ROOT / "train.py"), *args]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for(proc: subprocess.Popen, timeout: float) -> int | None:
    try:
        return proc.wait(timeout=max(timeout, 1))
    except subprocess.TimeoutExpired:
        kill_tree(proc)
        return None


def checkpoint_layout(checkpoint: Path) -> str:
    """What wrote a checkpoint: DeepSpeed (global_stepN/ with ZeRO optimizer shards), FSDP (sharded folders), plain."""
    names = [p.relative_to(checkpoint).as_posix() for p in checkpoint.rglob("*")]
    if any("zero_pp_rank" in n for n in names):
        return "deepspeed zero"
    if any(n.startswith("pytorch_model_fsdp_") for n in names):
        return "fsdp sharded"
    return "plain"


def run_distributed(report: Report, smoke: bool, work: Path) -> None:
    import numpy as np
    import torch

    cuda = torch.cuda.is_available() and not smoke
    have_deepspeed = importlib.util.find_spec("deepspeed") is not None
    section = report.data["distributed"] = {"runs": []}
    corpus, cache = work / "ravdess_noise", work / "ser_hf_cache"
    files = write_noise_corpus(corpus)
    clip = write_long_clip(work / "long_clip.wav")
    env = child_env(cache)
    steps, every = (40, 10) if cuda else (8, 4)
    section["setup"] = {"corpus": f"{files} RAVDESS-layout noise files", "model": "tiny HuBERT (quickstart)",
                        "max_steps": steps, "checkpoint_every": every, "processes": 1}
    limit = LAUNCH_LIMIT_S if cuda else 400
    plans = [("fsdp.yaml", True), ("deepspeed_zero2.yaml", False), ("deepspeed_zero3.yaml", False)]
    for config, kill_and_resume in plans:
        name = config.removesuffix(".yaml")
        row = {"config": config}
        section["runs"].append(row)
        if config.startswith("deepspeed") and not (have_deepspeed and cuda):
            row["skipped"] = ("deepspeed is not installed here (python benchmarks/gpu_suite.py --download-wheels .whl "
                              "builds its wheel)" if not have_deepspeed else "DeepSpeed needs a GPU")
            report.check(f"train.py under {config}", None, row["skipped"])
            report.save()
            continue
        if report.left() < (60 if cuda else 20):
            row["skipped"] = "--budget-s spent"
            report.check(f"train.py under {config}", None, row["skipped"])
            continue
        out = work / name
        args = ["--recipe", "quickstart", "synthetic=false", "corpora=[ravdess]", f"roots.ravdess={corpus}",
                f"output_dir={out}", f"long_clip={clip}", f"max_steps={steps}", "eval_strategy=steps",
                f"eval_steps={every}", "save_total_limit=2", "early_stopping_patience=null",
                "per_device_train_batch_size=8", "per_device_eval_batch_size=8", "dataloader_num_workers=0",
                "logging_steps=5", "max_train_seconds=2.0"]
        started = time.perf_counter()
        try:
            if kill_and_resume:
                log = work / f"{name}.first.log"
                proc = launch(config, args, log, env)
                deadline = time.perf_counter() + min(limit, max(report.left() - 30, 30))
                killed_at = None
                while time.perf_counter() < deadline and proc.poll() is None:
                    done = [p for p in out.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
                    if done:
                        kill_tree(proc)
                        killed_at = max(int(p.name.split("-")[1]) for p in done)
                        break
                    time.sleep(0.1)
                if killed_at is None:
                    kill_tree(proc)
                row["killed_after_checkpoint"] = killed_at
                row["finished_before_kill"] = (out / "results.json").exists()
                row["first_log_tail"] = log.read_text()[-1500:]
            log = work / f"{name}.log"
            code = wait_for(launch(config, args, log, env), min(limit, report.left() - 10))
            text = log.read_text()
            row.update(exit_code=code, seconds=round(time.perf_counter() - started, 1), log_tail=text[-3000:])
            results = json.loads((out / "results.json").read_text()) if (out / "results.json").is_file() else {}
            run = results.get("run", {})
            checkpoints = sorted(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
            row.update(global_step=run.get("global_step"), resumed_from=run.get("resumed_from"),
                       steps_this_launch=run.get("steps_this_launch"), precision=run.get("precision"),
                       checkpoint_layout=checkpoint_layout(checkpoints[-1]) if checkpoints else None,
                       sharding_dropped="plain data-parallel" in text)
            from transformers import pipeline

            classify = pipeline("audio-classification", model=str(out), device=0 if cuda else -1)
            scores = classify({"raw": np.zeros(SR, dtype=np.float32), "sampling_rate": SR}, top_k=None)
            row["pipeline_labels"] = len(scores)
        except Exception as err:  # noqa: BLE001 - reported, the next config still runs
            row["error"] = f"{type(err).__name__}: {err}"
        expected_layout = "deepspeed zero" if config.startswith("deepspeed") else "fsdp sharded"
        ok = (row.get("exit_code") == 0 and row.get("global_step") == steps and row.get("pipeline_labels") == 7
              and row.get("checkpoint_layout") == expected_layout and not row.get("sharding_dropped"))
        detail = (f"exit {row.get('exit_code')}, step {row.get('global_step')}/{steps}, checkpoint "
                  f"{row.get('checkpoint_layout')}, pipeline labels {row.get('pipeline_labels')}"
                  + (f", {row['error']}" if "error" in row else ""))
        report.check(f"train.py under {config}", ok, detail)
        if kill_and_resume:
            resumed = (row.get("killed_after_checkpoint") is not None and not row.get("finished_before_kill")
                       and str(row.get("resumed_from") or "").endswith(f"checkpoint-{row['killed_after_checkpoint']}")
                       and row.get("steps_this_launch") == steps - row["killed_after_checkpoint"])
            report.check(f"{config}: SIGKILL after a checkpoint, the same command resumes there", resumed,
                         f"killed after checkpoint-{row.get('killed_after_checkpoint')}, resumed from "
                         f"{row.get('resumed_from')}, {row.get('steps_this_launch')} steps after it")
        report.save()


# ---------------------------------------------------------------- 3. prediction
def run_predict(report: Report, smoke: bool, work: Path) -> None:
    import numpy as np
    import soundfile as sf
    import torch

    section = report.data["predict"] = {}
    if importlib.util.find_spec("ser_hf.predict") is None:
        section["skipped"] = "ser_hf.predict is not in this checkout yet (the predict issue): nothing to time"
        report.check("ser-hf predict throughput", None, section["skipped"])
        report.save()
        return
    env = child_env(work / "ser_hf_cache")
    help_text = subprocess.run([sys.executable, "-m", "ser_hf.predict", "--help"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=120).stdout
    lacking = [flag for flag in ("--model", "--out", "--batch-size", "--device") if flag not in help_text]
    if lacking:
        section["skipped"] = f"python -m ser_hf.predict has no {', '.join(lacking)} (its --help): nothing to time"
        report.check("ser-hf predict throughput", None, section["skipped"])
        report.save()
        return
    from ser_hf.data.labels import get_label_set
    from ser_hf.recipe import load_recipe

    cuda = torch.cuda.is_available() and not smoke
    labels = list(get_label_set("seven").classes)
    model, extractor = base_model(labels, load_recipe("hubert_bilingual", []), tiny=not cuda)
    model_dir = work / "predict_model"
    model.save_pretrained(model_dir)
    extractor.save_pretrained(model_dir)
    durations = bilingual_durations(512 if cuda else 6, seed=2)
    clips = work / "predict_clips"
    rng = np.random.default_rng(3)
    for i, seconds in enumerate(durations):
        clips.mkdir(exist_ok=True)
        sf.write(clips / f"clip{i:04d}.wav", (0.1 * rng.standard_normal(int(seconds * SR))).astype(np.float32), SR)
    audio = float(sum(durations))
    device = "cuda" if cuda else "cpu"
    section.update(model="HuBERT-base size, random weights" if cuda else "tiny HuBERT (smoke)", files=len(durations),
                   audio_seconds=audio, device=device, rows=[])
    # The named baseline: a plain pipeline() loop over the same files, one at a time.
    from transformers import pipeline

    classify = pipeline("audio-classification", model=str(model_dir), device=0 if cuda else -1)
    started = time.perf_counter()
    for path in sorted(clips.glob("*.wav")):
        wave, sr = sf.read(path, dtype="float32")
        classify({"raw": wave, "sampling_rate": sr}, top_k=None)
    section["pipeline_loop_audio_seconds_per_s"] = audio / (time.perf_counter() - started)
    predict = importlib.import_module("ser_hf.predict")
    in_process = callable(getattr(predict, "main", None))
    section["timing"] = "in process: predict.main(argv), model load and file decoding included" if in_process else \
        "subprocess: python -m ser_hf.predict, start-up included"
    for batch in ([8, 1, 2, 4, 8, 16, 32, 64] if cuda else [4, 1, 4]):  # the first one warms up (not kept)
        if report.left() < 15:
            section.setdefault("errors", {})[str(batch)] = "skipped: --budget-s spent"
            continue
        out = work / f"predict_b{batch}.csv"
        out.unlink(missing_ok=True)
        argv = [str(clips), "--model", str(model_dir), "--out", str(out), "--batch-size", str(batch),
                "--device", device]
        started = time.perf_counter()
        try:
            if in_process:
                with contextlib.suppress(SystemExit):
                    predict.main(argv)
            else:
                subprocess.run([sys.executable, "-m", "ser_hf.predict", *argv], cwd=ROOT, env=env, check=True,
                               capture_output=True, timeout=max(report.left(), 10))
        except Exception as err:  # noqa: BLE001
            section.setdefault("errors", {})[str(batch)] = f"{type(err).__name__}: {err}"
            continue
        seconds = time.perf_counter() - started
        rows = 0
        if out.is_file():
            with open(out, newline="") as fh:
                rows = sum(1 for _ in csv.DictReader(fh))
        if section.get("warmed"):
            section["rows"].append({"batch_size": batch, "seconds": seconds, "audio_seconds_per_s": audio / seconds,
                                    "output_rows": rows})
        section["warmed"] = True
        report.save()
    ok = bool(section["rows"]) and all(r["output_rows"] >= len(durations) for r in section["rows"])
    best = max(section["rows"], key=lambda r: r["audio_seconds_per_s"]) if section["rows"] else None
    report.check("ser-hf predict throughput", ok, (
        f"best {best['audio_seconds_per_s']:.0f} audio-s/s at batch {best['batch_size']} vs pipeline loop "
        f"{section['pipeline_loop_audio_seconds_per_s']:.0f}" if best else "no batch size ran")
        + (f"; errors {section['errors']}" if section.get("errors") else ""))
    report.save()


# ---------------------------------------------------------------- tables
def print_tables(data: dict) -> None:
    fine = data.get("finetune")
    if fine and fine.get("rows"):
        base = fine["rows"][0]["audio_seconds_per_s"]
        print(f"\nFine-tuning, {fine['model']}, {fine['device']} (peak {fine['peak_tflops']} TFLOP/s dense bf16)")
        print("| setting | batch | samples/s | audio-s/s | vs baseline | padding | MFU | host syncs/step | memory GiB |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in fine["rows"]:
            mfu = f"{100 * r['mfu']:.1f} %" if r["mfu"] is not None else "-"
            mem = f"{r['peak_memory_gib']:.1f}" if r["peak_memory_gib"] is not None else "-"
            print(f"| {r['setting']} | {r['batch']} | {r['samples_per_s']:.1f} | {r['audio_seconds_per_s']:.1f} | "
                  f"{r['audio_seconds_per_s'] / base:.2f}x | {100 * r['padding_fraction']:.1f} % | {mfu} | "
                  f"{r['host_syncs_per_step']} | {mem} |")
        if fine.get("combination"):
            print(f"combined (each gained >= {100 * (LEVER_GAIN - 1):.0f} % alone): "
                  f"{', '.join(fine['combination']['levers']) or 'none'}")
        best = fine.get("best")
        if best:
            print(f"best: {best['setting']}, {best['speedup_audio_seconds']:.2f}x the baseline's audio-s/s; recipe "
                  f"overrides: {' '.join(best['recipe_overrides']) or '-'}; not recipe keys: TrainingArguments "
                  f"{best['training_arguments'] or '-'}, torch.backends.cudnn.benchmark={best['cudnn_benchmark']}")
    dist = data.get("distributed")
    if dist:
        print("\n| accelerate config | result | steps | checkpoint | resumed from | pipeline labels | seconds |")
        print("|---|---|---|---|---|---|---|")
        for r in dist["runs"]:
            result = r.get("skipped") or r.get("error") or f"exit {r.get('exit_code')}"
            print(f"| {r['config']} | {result} | {r.get('global_step', '-')} | {r.get('checkpoint_layout', '-')} | "
                  f"{r.get('resumed_from') or '-'} | {r.get('pipeline_labels', '-')} | {r.get('seconds', '-')} |")
    pred = data.get("predict")
    if pred and pred.get("rows"):
        print(f"\nser-hf predict, {pred['files']} files ({pred['audio_seconds']:.0f} audio-s), {pred['device']}; "
              f"pipeline() loop: {pred['pipeline_loop_audio_seconds_per_s']:.1f} audio-s/s")
        print("| batch size | audio-s/s | seconds | output rows |")
        print("|---|---|---|---|")
        for r in pred["rows"]:
            print(f"| {r['batch_size']} | {r['audio_seconds_per_s']:.1f} | {r['seconds']:.2f} | {r['output_rows']} |")
    print()
    for name, c in data["checks"].items():
        print(f"{'PASS' if c['ok'] else 'SKIP' if c['ok'] is None else 'FAIL'}  {name}: {c['detail']}")


# ---------------------------------------------------------------- wheels for the GPU machine
def download_wheels(folder: Path, deepspeed: bool) -> None:
    """The packages the GPU machine's image lacks, as cp312 manylinux wheels in ``folder`` (to carry there)."""
    folder.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip"]
    names = WHEELS + (DEEPSPEED_NEEDS if deepspeed else [])
    subprocess.run([*pip, "download", "--no-deps", *PLATFORM_FLAGS, "-d", str(folder), *names], check=True)
    if deepspeed:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([*pip, "download", "--no-deps", "--no-binary", ":all:", "-d", tmp, DEEPSPEED], check=True)
            sdist = next(Path(tmp).glob("deepspeed-*.tar.gz"))
            # No compiled ops (ZeRO with a torch optimizer needs none); the build imports the local torch.
            subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(folder), str(sdist)],
                           check=True, env={**os.environ, "DS_BUILD_OPS": "0", "DS_ACCELERATOR": "cuda"})
    total = sum(p.stat().st_size for p in folder.glob("*.whl"))
    print(f"{len(list(folder.glob('*.whl')))} wheels, {total / 2**20:.1f} MiB in {folder}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, default=None, help="write the figures and checks here")
    parser.add_argument("--cpu-smoke", action="store_true",
                        help="every step on tiny models on CPU (about 2 minutes on 2 busy cores; tests/test_gpu_suite.py)")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="stop starting new work after this many seconds (default 430 on a GPU, 600 smoke)")
    parser.add_argument("--only", choices=("finetune", "distributed", "predict"), action="append", default=None,
                        help="run only these parts (repeatable); default: all three")
    parser.add_argument("--download-wheels", type=Path, default=None, metavar="DIR",
                        help="download (and, for DeepSpeed, build) the wheels the GPU machine lacks into DIR, then stop")
    parser.add_argument("--no-deepspeed", action="store_true", help="with --download-wheels: leave DeepSpeed out")
    args = parser.parse_args(argv)
    if args.download_wheels:
        download_wheels(args.download_wheels, deepspeed=not args.no_deepspeed)
        return 0
    missing = missing_requirements()
    if missing:
        print("gpu_suite: missing " + "; ".join(missing) + ". On the GPU machine, install the carried wheels first "
              f"(made here by --download-wheels .whl): {INSTALL}")
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore", category=FutureWarning)
    import torch

    if not args.cpu_smoke and not torch.cuda.is_available():
        print("gpu_suite: no CUDA device here; --cpu-smoke runs the same steps on tiny models on CPU")
        return 2
    budget = args.budget_s or (600.0 if args.cpu_smoke else 430.0)
    report = Report(args.json, budget, "cpu-smoke" if args.cpu_smoke else "gpu")
    report.data["environment"] = environment()
    print(json.dumps(report.data["environment"]), flush=True)
    parts = args.only or ["finetune", "distributed", "predict"]
    later = []  # the lever run's torch.compile setting: after the other parts, on what is left of the budget
    with tempfile.TemporaryDirectory(prefix="gpu_suite_") as tmp:
        work = Path(tmp)
        stages = [("finetune", lambda: later.append(run_levers(report, args.cpu_smoke, compile_budget_s=100))),
                  ("distributed", lambda: run_distributed(report, args.cpu_smoke, work)),
                  ("predict", lambda: run_predict(report, args.cpu_smoke, work)),
                  ("finetune", lambda: later and later[0] and later[0]())]
        for name, stage in stages:
            if name not in parts:
                continue
            try:
                stage()
            except Exception as err:  # noqa: BLE001 - one part's failure is reported, the next part still runs
                report.data.setdefault("errors", {})[name] = traceback.format_exc()[-4000:]
                report.check(f"{name} part ran", False, f"{type(err).__name__}: {err}")
            report.save()
    print_tables(report.data)
    report.save()
    failed = [n for n, c in report.data["checks"].items() if c["ok"] is False]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
