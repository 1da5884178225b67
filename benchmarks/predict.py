"""``ser-hf predict`` against a plain ``pipeline("audio-classification")`` loop over the same files, in one run.

    python benchmarks/predict.py [--clips 500] [--min-seconds 1] [--max-seconds 8] [--json PATH]
    python benchmarks/predict.py --clips 40 --sweep          # batch size x workers x precision, to pick defaults
    python benchmarks/predict.py --device cuda --batch-sizes 1,2,4,8,16,32,64 --json gpu.json   # a GPU machine
    python benchmarks/predict.py --tiny --clips 6 --batch-sizes 1,2 --skip-loop                  # a quick check

The model is HuBERT-base sized (``HubertConfig()`` defaults, random weights, seven emotion labels, hubert-base's
feature extractor: normalised, no attention mask), saved as a train.py run folder; the clips are amplitude-
modulated noise of uniform random length (16-kHz PCM WAV), so no clip is silence. Measured, all on the same files:

* the baseline: ``pipeline("audio-classification", model=RUN)`` called on each file path in turn (ffmpeg decoding,
  one clip per forward pass, float32);
* ``python -m ser_hf.predict CLIPS --model RUN --out OUT.csv`` with its default settings, as a subprocess (start-up
  and model loading counted in ``end_to_end``, not in ``steady``), and with ``--precision fp32`` / ``fast`` where
  the default is the other;
* label agreement: fp32 predict with the loop (required: identical), the fast path with fp32 (target >= 99 %).

Throughput is audio-seconds per wall second. Target (issue 22): predict's default >= 4x the loop's. ``--sweep``
runs predict over batch sizes, worker counts and both precisions on the clips; ``--batch-sizes`` runs the default
settings at each batch size and records GPU utilisation (sampled with nvidia-smi) where there is a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LABELS = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
SR = 16000


def build_run(folder: Path, tiny: bool) -> Path:
    import torch
    from transformers import HubertConfig, HubertForSequenceClassification, Wav2Vec2FeatureExtractor

    from ser_hf.models.audio_encoders import tiny_config

    torch.manual_seed(0)
    id2label = dict(enumerate(LABELS))
    config = tiny_config("hubert", LABELS) if tiny else HubertConfig(
        num_labels=len(LABELS), id2label=id2label, label2id={v: k for k, v in id2label.items()})
    HubertForSequenceClassification(config).eval().save_pretrained(folder)
    # facebook/hubert-base-ls960's extractor: per-clip normalisation, no attention mask
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SR, padding_value=0.0, do_normalize=True,
                             return_attention_mask=False).save_pretrained(folder)
    return folder


def write_clips(folder: Path, count: int, low: float, high: float, seed: int = 0) -> float:
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    total = 0.0
    for i in range(count):
        seconds = float(rng.uniform(low, high))
        t = np.arange(int(seconds * SR)) / SR
        wave = 0.1 * rng.standard_normal(len(t)) * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(1, 5) * t))
        sf.write(folder / f"clip{i:04d}.wav", wave.astype(np.float32), SR, subtype="PCM_16")
        total += len(t) / SR
    return total


def pipeline_loop(run: Path, files: list[Path], device: str) -> dict:
    from transformers import pipeline

    started = time.perf_counter()
    classifier = pipeline("audio-classification", model=str(run), device=device)
    loaded = time.perf_counter()
    labels = [classifier(str(f), top_k=1)[0]["label"] for f in files]
    done = time.perf_counter()
    return {"labels": dict(zip(map(str, files), labels)), "load_s": loaded - started, "seconds": done - loaded,
            "end_to_end_s": done - started}


class GpuSampler:
    """GPU utilisation (%) sampled every 0.2 s with nvidia-smi while a run goes on (None without a GPU)."""

    def __init__(self):
        self.samples: list[float] = []
        self._stop = threading.Event()
        self.available = shutil.which("nvidia-smi") is not None
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.wait(0.2):
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                                     capture_output=True, text=True, timeout=5).stdout.split()
                self.samples.append(float(out[0]))
            except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
                pass

    def __enter__(self):
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()

    @property
    def mean(self) -> float | None:
        return float(np.mean(self.samples)) if self.samples else None


def run_predict(run: Path, clips: Path, out: Path, extra: list[str], env: dict) -> dict:
    """``python -m ser_hf.predict`` as a user runs it; its labels, wall time and summary."""
    import pandas as pd

    for stale in (out, out.with_name(f"{out.stem}.summary.json"), out.with_name(f"{out.stem}.errors{out.suffix}")):
        stale.unlink(missing_ok=True)  # each run starts afresh: predict would resume from an earlier output
    cmd = [sys.executable, "-m", "ser_hf.predict", str(clips), "--model", str(run), "--out", str(out),
           "--no-progress", *extra]
    with GpuSampler() as gpu:
        started = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    summary = json.loads(out.with_name(f"{out.stem}.summary.json").read_text())
    table = pd.read_csv(out)
    launch = summary["this_launch"]
    return {"labels": dict(zip(table["path"], table["label"])), "end_to_end_s": wall, "seconds": launch["seconds"],
            "load_s": launch["load_seconds"], "settings": extra, "gpu_utilisation_pct": gpu.mean,
            "padded_batches": summary["padded_batches"], "errors": summary["errors"]}


def agreement(a: dict, b: dict) -> float:
    keys = sorted(set(a) & set(b))
    return float(np.mean([a[k] == b[k] for k in keys])) if keys else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=500)
    parser.add_argument("--min-seconds", type=float, default=1.0)
    parser.add_argument("--max-seconds", type=float, default=8.0)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (both the loop and predict)")
    parser.add_argument("--tiny", action="store_true", help="a tiny random HuBERT instead of the base size (quick checks)")
    parser.add_argument("--skip-loop", action="store_true", help="do not run the pipeline loop (no ratio, no agreement)")
    parser.add_argument("--sweep", action="store_true", help="predict over --sweep-batch-sizes x --sweep-workers x precisions")
    parser.add_argument("--sweep-batch-sizes", default="1,4,8,16")
    parser.add_argument("--sweep-workers", default="0,1,2")
    parser.add_argument("--batch-sizes", default=None, help="e.g. 1,2,4,8,16,32,64: the default settings at each "
                        "batch size (GPU: throughput and utilisation)")
    parser.add_argument("--work", default=None, help="keep the model, clips and outputs here (default: a temp folder)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write every figure to PATH as JSON")
    args = parser.parse_args()

    from ser_hf.predict.options import DEFAULTS, resolve_precision

    work = Path(args.work or tempfile.mkdtemp(prefix="ser_hf_predict_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    run = build_run(work / "run", args.tiny)
    clips = work / "clips"
    shutil.rmtree(clips, ignore_errors=True)
    audio_s = write_clips(clips, args.clips, args.min_seconds, args.max_seconds)
    files = sorted(clips.glob("*.wav"))
    load = os.getloadavg()
    result = {"clips": args.clips, "audio_seconds": audio_s, "seconds_range": [args.min_seconds, args.max_seconds],
              "model": "tiny random HuBERT" if args.tiny else "HubertConfig() (base size), random weights",
              "device": args.device, "cpus": os.cpu_count(), "load_average_before": load, "defaults": DEFAULTS}
    print(f"{args.clips} clips, {audio_s:.0f} s of audio; {result['model']}; device {args.device}; "
          f"load average {load[0]:.1f}")

    def rate(entry: dict, key: str = "seconds") -> float:
        return audio_s / entry[key] if entry[key] > 0 else float("nan")

    rows = []
    if not args.skip_loop:
        loop = pipeline_loop(run, files, args.device)
        result["pipeline_loop"] = {k: v for k, v in loop.items() if k != "labels"}
        rows.append(("pipeline() loop", loop, None))
    device = ["--device", args.device]
    default = run_predict(run, clips, work / "default.csv", device, env)
    chosen = resolve_precision(DEFAULTS["precision"], args.device)
    rows.append((f"ser-hf predict (defaults: precision {DEFAULTS['precision']} = {chosen})", default, None))
    other = "fast" if chosen == "fp32" else "fp32"
    alternative = run_predict(run, clips, work / f"{other}.csv", [*device, "--precision", other], env)
    rows.append((f"ser-hf predict --precision {other}", alternative, None))
    fp32, fast = (default, alternative) if other == "fast" else (alternative, default)
    result["predict_default"] = {k: v for k, v in default.items() if k != "labels"}
    result[f"predict_{other}"] = {k: v for k, v in alternative.items() if k != "labels"}
    result["agreement"] = {"fast_vs_fp32": agreement(fast["labels"], fp32["labels"])}
    if not args.skip_loop:
        result["agreement"]["fp32_vs_loop"] = agreement(fp32["labels"], loop["labels"])
        result["agreement"]["default_vs_loop"] = agreement(default["labels"], loop["labels"])
        result["speedup_default_vs_loop"] = {"steady": loop["seconds"] / default["seconds"],
                                             "end_to_end": loop["end_to_end_s"] / default["end_to_end_s"]}
        result["speedup_fp32_vs_loop"] = {"steady": loop["seconds"] / fp32["seconds"],
                                          "end_to_end": loop["end_to_end_s"] / fp32["end_to_end_s"]}

    if args.sweep:
        result["sweep"] = []
        for precision in ("fp32", "fast"):
            for workers in map(int, args.sweep_workers.split(",")):
                for batch in map(int, args.sweep_batch_sizes.split(",")):
                    extra = [*device, "--precision", precision, "--workers", str(workers), "--batch-size", str(batch)]
                    got = run_predict(run, clips, work / "sweep.csv", extra, env)
                    entry = {"precision": precision, "workers": workers, "batch_size": batch,
                             "audio_s_per_s": rate(got), "seconds": got["seconds"],
                             "agreement_with_fp32_default": agreement(got["labels"], fp32["labels"])}
                    result["sweep"].append(entry)
                    print(f"  sweep {precision:4s} workers {workers} batch {batch:3d}: {entry['audio_s_per_s']:7.1f} audio-s/s")
    if args.batch_sizes:
        result["batch_sizes"] = []
        for batch in map(int, args.batch_sizes.split(",")):
            got = run_predict(run, clips, work / "bs.csv", [*device, "--batch-size", str(batch)], env)
            entry = {"batch_size": batch, "audio_s_per_s": rate(got), "files_per_s": args.clips / got["seconds"],
                     "gpu_utilisation_pct": got["gpu_utilisation_pct"],
                     "agreement_with_default": agreement(got["labels"], default["labels"])}
            result["batch_sizes"].append(entry)
            util = "n/a" if entry["gpu_utilisation_pct"] is None else f"{entry['gpu_utilisation_pct']:.0f} %"
            print(f"  batch {batch:3d}: {entry['audio_s_per_s']:8.1f} audio-s/s, {entry['files_per_s']:7.1f} files/s, GPU {util}")

    print(f"\n| run | audio-s/s (steady) | audio-s/s (end to end, incl. start-up and loading) | load s |")
    print("|---|---|---|---|")
    for name, entry, _ in rows:
        print(f"| {name} | {rate(entry):.2f} | {rate(entry, 'end_to_end_s'):.2f} | {entry['load_s']:.1f} |")
    if "speedup_default_vs_loop" in result:
        s = result["speedup_default_vs_loop"]
        print(f"\nspeed-up of predict's defaults over the loop: {s['steady']:.2f}x steady, {s['end_to_end']:.2f}x end to "
              f"end (target >= 4x); fp32 predict: {result['speedup_fp32_vs_loop']['steady']:.2f}x")
    a = result["agreement"]
    print("label agreement: " + ", ".join(f"{k} {100 * v:.2f} %" for k, v in a.items()))
    result["load_average_after"] = os.getloadavg()
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
