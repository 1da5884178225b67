"""Training throughput of the Trainer path: samples/s, audio-seconds/s and padding, with and without
length grouping, measured in one run (the baseline is the same run in random order).

    python benchmarks/train.py                   # the quickstart: tiny random HuBERT, synthetic corpus, CPU
    python benchmarks/train.py --steps 30        # shorter

With CUDA it also trains a HuBERT-base-sized model (``HubertConfig()``, random weights, CNN frozen)
in bf16 on the same clips and reports its model FLOPs utilisation: fine-tuning HuBERT base with a
frozen CNN costs about 31.7 GFLOP per second of audio (transformer forward + backward on 50 frames
per second, the CNN forward only), so MFU = audio-seconds/s x 31.7e9 / the GPU's dense bf16 peak.

Where espeak-ng (the synthetic corpus) is missing, ``--durations FILE`` (written by
``--save-durations FILE`` on a machine that has it) trains on noise clips with the quickstart's
durations instead: throughput depends on the lengths, not on what is said.

Audio-seconds count the audio in each batch after the random crop; padding is the share of padded
samples in the batches actually fed to the model (counted across dataloader workers).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import datasets  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import AutoModelForAudioClassification, HubertConfig, TrainerCallback  # noqa: E402

from ser_hf.data.audio import encode_wav  # noqa: E402
from ser_hf.models import build_model, label_maps, tiny_feature_extractor  # noqa: E402
from ser_hf.recipe import load_recipe  # noqa: E402
from ser_hf.training import (  # noqa: E402
    SAMPLING_RATE,
    AudioCollator,
    PreparedData,
    build_trainer,
    epoch_padding_fraction,
    prepare_data,
)

GFLOP_PER_AUDIO_SECOND_HUBERT_BASE = 31.7
# Dense bf16 peaks (no sparsity), from the vendors' data sheets.
PEAK_BF16_TFLOPS = {"H100 PCIe": 756.0, "H100 NVL": 835.0, "H100": 989.4, "H200 NVL": 835.0, "H200": 989.4, "A100": 312.0,
                    "L40S": 362.0, "A10": 125.0, "L4": 121.0}


class SharedCounts:
    """Collator counts that survive dataloader workers (shared memory, created before they fork)."""

    def __init__(self):
        self.real = multiprocessing.Value("d", 0.0)
        self.padded = multiprocessing.Value("d", 0.0)
        self.examples = multiprocessing.Value("d", 0.0)

    def snapshot(self) -> tuple[float, float, float]:
        return self.real.value, self.padded.value, self.examples.value


class CountingCollator(AudioCollator):
    counts: SharedCounts | None = None

    def __call__(self, rows):
        before = dict(self.stats)
        batch = super().__call__(rows)
        with self.counts.real.get_lock():
            self.counts.real.value += self.stats["real"] - before["real"]
            self.counts.padded.value += self.stats["padded"] - before["padded"]
            self.counts.examples.value += self.stats["examples"] - before["examples"]
        return batch


class StepTimer(TrainerCallback):
    """Wall time and collator counts between the end of the warm-up steps and the end of training."""

    def __init__(self, warmup: int, counts: SharedCounts):
        self.warmup, self.counts = warmup, counts
        self.start = self.end = None
        self.at_start = self.at_end = None

    def _sync(self):
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.warmup:
            self._sync()
            self.start, self.at_start = time.perf_counter(), self.counts.snapshot()

    def on_train_end(self, args, state, control, **kwargs):
        self._sync()
        self.end, self.at_end = time.perf_counter(), self.counts.snapshot()


def quickstart_data(recipe) -> PreparedData:
    return prepare_data(recipe)


def noise_data(durations: list[float], label_names: list[str], seed: int = 0) -> PreparedData:
    """Clips of quiet noise with the given durations (throughput depends on lengths only)."""
    rng = np.random.default_rng(seed)
    rows = [{"audio": {"bytes": encode_wav((0.1 * rng.standard_normal(int(d * SAMPLING_RATE))).astype(np.float32),
                                           SAMPLING_RATE), "path": None},
             "label": int(i % len(label_names)), "duration": float(d)} for i, d in enumerate(durations)]
    # Stored as plain {bytes, path} and cast: encoding through Audio would need torchcodec.
    features = datasets.Features({"audio": {"bytes": datasets.Value("binary"), "path": datasets.Value("string")},
                                  "label": datasets.ClassLabel(names=label_names), "duration": datasets.Value("float32")})
    ds = datasets.Dataset.from_list(rows, features=features).cast_column(
        "audio", datasets.Audio(sampling_rate=SAMPLING_RATE, decode=False))
    return PreparedData(datasets.DatasetDict(train=ds, validation=ds.select(range(8)), test=ds.select(range(8))),
                        label_names, [], {})


def hubert_base(label_names: list[str]):
    label2id, id2label = label_maps(label_names)
    config = HubertConfig(num_labels=len(label_names), label2id=label2id, id2label=id2label)  # base size: 12 x 768
    model = AutoModelForAudioClassification.from_config(config)
    model.freeze_feature_encoder()
    extractor = tiny_feature_extractor(config)
    extractor.return_attention_mask = False  # as facebook/hubert-base-ls960 ships it (group norm)
    return model, extractor


def warm_every_shape(trainer, recipe) -> None:
    """One forward/backward per padded width the run can meet: oneDNN (CPU) builds its kernels per
    shape, so otherwise whichever setting runs first pays for them inside its timing."""
    model = trainer.model.to(trainer.args.device).train()
    batch = trainer.args.per_device_train_batch_size
    multiple = int((recipe.training.pad_to_multiple_seconds or 0.5) * SAMPLING_RATE)  # unrounded widths: the usual ones
    for width in range(multiple, int(recipe.training.max_train_seconds * SAMPLING_RATE) + multiple, multiple):
        inputs = {"input_values": torch.randn(batch, width, device=trainer.args.device),
                  "labels": torch.zeros(batch, dtype=torch.long, device=trainer.args.device)}
        if getattr(trainer.processing_class, "return_attention_mask", False):
            inputs["attention_mask"] = torch.ones(batch, width, dtype=torch.long, device=trainer.args.device)
        with torch.autocast(trainer.args.device.type, dtype=torch.bfloat16, enabled=trainer.args.bf16):
            loss = model(**inputs).loss
        loss.backward()
    model.zero_grad(set_to_none=True)


def measure(name: str, recipe, data: PreparedData, make_model, group_by_length: bool, steps: int, warmup: int,
            **argument_overrides) -> dict:
    recipe = load_recipe("quickstart", []) if recipe is None else recipe
    model, extractor = make_model(data.label_names)
    with tempfile.TemporaryDirectory() as out:
        args = recipe.training.replace(
            output_dir=out, max_steps=warmup + steps, eval_strategy="no", save_strategy="no",
            load_best_model_at_end=False, logging_steps=10**9, logging_first_step=False, disable_tqdm=True,
            train_sampling_strategy="group_by_length" if group_by_length else "random", early_stopping_patience=None,
            **argument_overrides,
        )
        trainer = build_trainer(recipe, args, model, extractor, data)
        counts = SharedCounts()
        collator = CountingCollator(extractor, args.max_train_seconds, train=True,
                                    pad_to_multiple_seconds=args.pad_to_multiple_seconds)
        collator.counts = counts
        trainer.data_collator = collator
        timer = StepTimer(warmup, counts)
        trainer.add_callback(timer)
        epoch_estimate = epoch_padding_fraction(trainer)
        warm_every_shape(trainer, recipe)
        trainer.train()
    seconds = timer.end - timer.start
    real, padded, examples = (b - a for a, b in zip(timer.at_start, timer.at_end))
    audio_seconds = real / SAMPLING_RATE
    return {
        "setup": name,
        "order": "grouped by length" if group_by_length else "random",
        "batch": args.per_device_train_batch_size,
        "steps_timed": steps,
        "samples_per_s": examples / seconds,
        "audio_seconds_per_s": audio_seconds / seconds,
        "padding_fraction": padded / (real + padded),
        "padding_fraction_epoch_estimate": epoch_estimate,
        "seconds": seconds,
    }


def median_run(runs: list[dict]) -> dict:
    """The run with the median samples/s (all runs' figures are kept under 'repeats')."""
    ordered = sorted(runs, key=lambda r: r["samples_per_s"])
    return {**ordered[len(ordered) // 2], "repeats": [round(r["samples_per_s"], 2) for r in runs]}


def peak_tflops(override: float | None) -> tuple[float | None, str]:
    if override:
        return override, "given"
    gpu = torch.cuda.get_device_name()
    for key, value in PEAK_BF16_TFLOPS.items():  # most specific names first
        if key in gpu:
            return value, gpu
    return None, gpu


def print_table(rows: list[dict]) -> None:
    header = ["setup", "order", "batch", "samples/s", "audio-s/s", "padding", "epoch padding (est.)", "MFU", "samples/s of each run"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        mfu = f"{100 * r['mfu']:.1f} % of {r['peak_tflops']:.0f} TFLOP/s" if r.get("mfu") is not None else "-"
        print(f"| {r['setup']} | {r['order']} | {r['batch']} | {r['samples_per_s']:.1f} | {r['audio_seconds_per_s']:.1f} | "
              f"{100 * r['padding_fraction']:.1f} % | {100 * r['padding_fraction_epoch_estimate']:.1f} % | {mfu} | "
              f"{r.get('repeats', [round(r['samples_per_s'], 2)])} |")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60, help="timed optimiser steps per setting (after the warm-up)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--repeats", type=int, default=3, help="CPU runs per setting, alternated; the median is shown")
    parser.add_argument("--gpu-steps", type=int, default=100, help="timed steps for the HuBERT-base measurement")
    parser.add_argument("--gpu-batch", type=int, default=32, help="per-device batch for HuBERT base")
    parser.add_argument("--gpu-workers", type=int, default=4, help="dataloader workers for HuBERT base")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the GPU's dense bf16 peak (default: by its name)")
    parser.add_argument("--durations", default=None, help="JSON list of clip durations: noise clips instead of the synthetic corpus")
    parser.add_argument("--save-durations", default=None, help="write the quickstart's training durations here")
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument("--skip-cpu", action="store_true", help="only the GPU measurement")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    datasets.disable_progress_bars()

    recipe = load_recipe("quickstart", ["dataloader_num_workers=0"])
    if args.durations:
        durations = json.loads(Path(args.durations).read_text())
        from ser_hf.data.labels import get_label_set

        data = noise_data(durations, list(get_label_set(recipe.data.label_set).classes))
        source = f"noise clips with the quickstart's {len(durations)} training durations"
    else:
        data = quickstart_data(recipe)
        durations = [float(d) for d in data.splits["train"]["duration"]]
        source = f"quickstart synthetic corpus, {len(durations)} training clips"
    if args.save_durations:
        Path(args.save_durations).write_text(json.dumps([round(d, 4) for d in durations]))
    d = np.asarray(durations)
    print(f"data: {source}; duration mean {d.mean():.2f} s, min {d.min():.2f}, max {d.max():.2f}; "
          f"crop {recipe.training.max_train_seconds} s, batches padded to {recipe.training.pad_to_multiple_seconds} s multiples")

    rows = []
    if not args.skip_cpu:
        def tiny(labels):
            return build_model(labels, tiny_model="hubert", freeze_feature_encoder_=False)

        runs = {False: [], True: []}
        for _ in range(args.repeats):  # alternated, so load from elsewhere on the machine hits both alike
            for grouped in (False, True):
                runs[grouped].append(measure("quickstart tiny HuBERT, CPU", load_recipe("quickstart", ["dataloader_num_workers=0"]),
                                             data, tiny, grouped, args.steps, args.warmup, use_cpu=True))
        rows += [median_run(runs[False]), median_run(runs[True])]
    if torch.cuda.is_available():
        peak, gpu = peak_tflops(args.peak_tflops)
        for grouped in (False, True):
            gpu_recipe = load_recipe("quickstart", [f"per_device_train_batch_size={args.gpu_batch}",
                                                    f"dataloader_num_workers={args.gpu_workers}", "bf16=true",
                                                    "learning_rate=3e-5"])
            row = measure(f"HuBERT-base size, bf16, {gpu}", gpu_recipe, data, hubert_base, grouped, args.gpu_steps,
                          args.warmup)
            achieved = row["audio_seconds_per_s"] * GFLOP_PER_AUDIO_SECOND_HUBERT_BASE * 1e9
            row["model_tflops"] = achieved / 1e12
            row["peak_tflops"] = peak
            row["mfu"] = achieved / (peak * 1e12) if peak else None
            rows.append(row)
    else:
        print("no CUDA: the HuBERT-base bf16 / MFU measurement is skipped")
    print_table(rows)
    for slow, fast in zip(rows[0::2], rows[1::2]):
        print(f"{fast['setup']}: length grouping gives {fast['samples_per_s'] / slow['samples_per_s']:.2f}x samples/s, "
              f"{fast['audio_seconds_per_s'] / slow['audio_seconds_per_s']:.2f}x audio-seconds/s, padding "
              f"{100 * slow['padding_fraction']:.1f} % -> {100 * fast['padding_fraction']:.1f} %")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
