"""Preparation throughput: ser-hf's decode path against plain ``datasets`` Audio decoding.

    python benchmarks/prepare.py [--files 2000] [--plain-files 200] [--seconds 3] [--repeats 1] [--json PATH]

Writes N speech-like 48-kHz 16-bit WAVs of ``--seconds`` in SUBESCO's layout to a temp dir, then
measures in the same run:
  * ser-hf per file (decode with soundfile, resample 48k->16k with soxr, trim at 25 dB, encode
    16-kHz WAV bytes, content hash), one process: files/s per core;
  * ser-hf end to end (scan + decode + Arrow write + load), 1 and all processes, with the Arrow writer
    (record batches through datasets' ArrowWriter) and with the previous writer (datasets.map);
  * the same files as own data (``csv:ROOT/labels.csv``, a manifest of path, label, speaker), 1 and all
    processes: its reading of the manifest and checks of every row against the built-in corpus's scan;
  * plain datasets: ``cast_column("audio", Audio(sampling_rate=16000))`` and reading every
    example's array (torchcodec decode + resample), one process.
Each figure is files per wall-clock second, and files per CPU-second (this process and its workers),
which other load on a shared machine disturbs less (torchcodec may decode on several threads: its
CPU-seconds count them all). With ``--repeats R`` each end-to-end path runs R
times, interleaved, and the best run counts.
Targets (issue 11): >= 1000 files/s per core end to end, >= 10x the plain path.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def write_manifest(root: Path, paths: list[str]) -> str:
    """The files as a user's manifest would list them (path relative to it, label, speaker): an own source."""
    import csv

    with open(root / "labels.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "emotion", "speaker"])
        for path in paths:
            gender, number, *_, emotion, _take = Path(path).stem.split("_")
            writer.writerow([Path(path).name, emotion.lower(), f"{gender}_{number}"])
    return f"csv:{root / 'labels.csv'}"


def write_corpus(root: Path, n: int, seconds: float, sr: int = 48000) -> list[str]:
    """Harmonic 'voiced' bursts with silence around them, named like SUBESCO files (up to 7000).

    SUBESCO's layout is used because its grid (20 speakers x 10 sentences x 7 emotions x 5 takes)
    holds enough distinct valid names; several of its speakers really are recorded at 48 kHz.
    """
    from ser_hf.data.corpora.subesco import EMOTIONS

    if n > 7000:
        raise SystemExit("at most 7000 files (the SUBESCO grid)")
    rng = np.random.default_rng(0)
    emotions = sorted(EMOTIONS)
    t = np.arange(int(seconds * sr)) / sr
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        speaker, rest = i % 20, i // 20
        emotion, rest = emotions[rest % 7], rest // 7
        sentence, take = rest % 10 + 1, rest // 10 + 1
        gender, number = ("F", speaker + 1) if speaker < 10 else ("M", speaker - 9)
        f0 = rng.uniform(90, 250) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(2, 5) * t))
        phase = 2 * np.pi * np.cumsum(f0) / sr
        voiced = sum(np.sin(k * phase) / k for k in range(1, 6)) * np.clip(np.sin(np.pi * t / seconds) * 3, 0, 1)
        wave = np.zeros_like(t)
        lead = int(0.3 * sr)
        wave[lead:] = 0.3 * voiced[: len(t) - lead] + 0.001 * rng.standard_normal(len(t) - lead)
        path = root / f"{gender}_{number:02d}_SPEAKER_S_{sentence}_{emotion}_{take}.wav"
        sf.write(path, wave.astype(np.float32), sr, subtype="PCM_16")
        paths.append(str(path))
    return paths


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (pool workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def bench_per_file(paths: list[str]) -> dict:
    from ser_hf.data.audio import PreprocessConfig, content_hash, encode_wav, preprocess, read_audio, to_pcm16

    cfg = PreprocessConfig()
    preprocess(read_audio(paths[0])[0], cfg)  # warm-up
    start, cpu = time.perf_counter(), cpu_seconds()
    for p in paths:
        wave, sr = read_audio(p, 16000)
        pcm = to_pcm16(preprocess(wave, cfg))
        encode_wav(pcm, sr)
        content_hash(pcm)
    elapsed, used = time.perf_counter() - start, cpu_seconds() - cpu
    return {"files_per_s": len(paths) / elapsed, "files_per_cpu_s": len(paths) / used}


def bench_end_to_end(root: Path | str, num_proc: int, cache: Path, writer: str) -> dict:
    """One preparation into an empty cache folder, which is deleted afterwards (not timed). ``writer`` "own":
    ``root`` is an own source's spelling, prepared as own data (with the Arrow writer)."""
    import shutil

    from ser_hf.data.corpora import CORPORA
    from ser_hf.data.corpora.own import prepare_source
    from ser_hf.data.prepare import prepare_corpus

    start, cpu = time.perf_counter(), cpu_seconds()
    if writer == "own":
        ds, report = prepare_source(str(root), label_set="all", num_proc=num_proc, cache_dir=cache)
    else:
        ds, report = prepare_corpus(CORPORA["subesco"], root, num_proc=num_proc, cache_dir=cache, writer=writer)
    elapsed, used = time.perf_counter() - start, cpu_seconds() - cpu
    result = {"files_per_s": report.found / elapsed, "files_per_cpu_s": report.found / used, "kept": len(ds),
              "content_hash": sorted(ds["content_hash"])}  # own data is ordered by speaker, the corpus by path
    del ds
    shutil.rmtree(cache)
    return result


def bench_plain(paths: list[str]) -> dict:
    import datasets

    ds = datasets.Dataset.from_dict({"audio": paths}).cast_column("audio", datasets.Audio(sampling_rate=16000))
    ds[0]["audio"]["array"]  # warm-up
    start, cpu = time.perf_counter(), cpu_seconds()
    for example in ds:
        example["audio"]["array"]
    elapsed, used = time.perf_counter() - start, cpu_seconds() - cpu
    return {"files_per_s": len(paths) / elapsed, "files_per_cpu_s": len(paths) / used}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--plain-files", type=int, default=200, help="the plain path is slow: measure a subset")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each end-to-end path (best counts)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    import datasets

    datasets.disable_progress_bars()
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "SUBESCO"
        paths = write_corpus(root, args.files, args.seconds)
        own = write_manifest(root, paths)
        print(f"{args.files} files, {args.seconds:.1f} s each, 48 kHz 16-bit mono; {cores} cores")
        per_file = bench_per_file(paths)
        plain = bench_plain(paths[: args.plain_files])
        warm = Path(tmp) / "warm-up" / "SUBESCO"  # first-call costs (lazy imports) are no path's
        warm.mkdir(parents=True)
        for path in paths[:8]:
            os.link(path, warm / Path(path).name)
        for writer in ("arrow", "datasets.map"):
            bench_end_to_end(warm, 1, Path(tmp) / "cache", writer)
        bench_end_to_end(write_manifest(warm, paths[:8]), 1, Path(tmp) / "cache", "own")
        runs: dict[str, list[dict]] = {}
        for _ in range(args.repeats):  # interleaved, so slow phases of a shared machine hit every path
            for procs in (1, cores):
                for writer in ("arrow", "datasets.map", "own"):
                    result = bench_end_to_end(own if writer == "own" else root, procs, Path(tmp) / "cache", writer)
                    runs.setdefault(f"{writer} {procs}", []).append(result)
        hashes = {tuple(r.pop("content_hash")) for results in runs.values() for r in results}
        best = {key: max(results, key=lambda r: r["files_per_s"]) for key, results in runs.items()}
        for key, results in runs.items():
            best[key]["files_per_cpu_s"] = max(r["files_per_cpu_s"] for r in results)

        rows = [("plain datasets Audio(16k) decode", 1, plain),
                ("ser-hf per file (decode+resample+trim+encode)", 1, per_file)]
        for procs in (1, cores):
            rows.append((f"ser-hf prepare_corpus, Arrow writer", procs, best[f"arrow {procs}"]))
            rows.append((f"ser-hf prepare_corpus, datasets.map writer (before)", procs, best[f"datasets.map {procs}"]))
            rows.append((f"own data (csv: manifest of the same files)", procs, best[f"own {procs}"]))
        print(f"{'path':<52} {'procs':>5} {'files/s':>8} {'per core':>9} {'per CPU-s':>10} {'x plain':>8}")
        for name, procs, r in rows:
            print(f"{name:<52} {procs:>5} {r['files_per_s']:>8.0f} {r['files_per_s'] / procs:>9.0f} "
                  f"{r['files_per_cpu_s']:>10.0f} {r['files_per_s'] / procs / plain['files_per_s']:>7.1f}x")
        arrow_1, map_1, own_1 = best["arrow 1"], best["datasets.map 1"], best["own 1"]
        arrow_n, map_n, own_n = best[f"arrow {cores}"], best[f"datasets.map {cores}"], best[f"own {cores}"]
        summary = {
            "benchmark": "prepare",
            "files": args.files,
            "plain_files": args.plain_files,
            "seconds_per_file": args.seconds,
            "source_rate_hz": 48000,
            "cores": cores,
            "repeats": args.repeats,
            "kept": arrow_1["kept"],
            "same_rows_every_run": len(hashes) == 1,
            "plain_datasets_files_per_s": plain["files_per_s"],
            "plain_datasets_files_per_cpu_s": plain["files_per_cpu_s"],
            "per_file_files_per_s": per_file["files_per_s"],
            "per_file_files_per_cpu_s": per_file["files_per_cpu_s"],
            # End to end, the Arrow writer: all cores (per core), and one process (one core).
            "files_per_s_per_core": arrow_n["files_per_s"] / cores,
            "files_per_s_per_core_1_process": arrow_1["files_per_s"],
            "files_per_cpu_s": arrow_n["files_per_cpu_s"],
            "files_per_cpu_s_1_process": arrow_1["files_per_cpu_s"],
            "speedup_vs_datasets": arrow_1["files_per_s"] / plain["files_per_s"],
            "speedup_vs_datasets_per_cpu_s": arrow_1["files_per_cpu_s"] / plain["files_per_cpu_s"],
            "speedup_vs_map_writer_1_process": arrow_1["files_per_s"] / map_1["files_per_s"],
            "speedup_vs_map_writer_all_cores": arrow_n["files_per_s"] / map_n["files_per_s"],
            # Own data (a CSV manifest of the same files) against the built-in corpus path, same run.
            "own_data_vs_builtin_1_process": own_1["files_per_s"] / arrow_1["files_per_s"],
            "own_data_vs_builtin_all_cores": own_n["files_per_s"] / arrow_n["files_per_s"],
            "own_data_vs_builtin_per_cpu_s": own_1["files_per_cpu_s"] / arrow_1["files_per_cpu_s"],
            "end_to_end": {key: {"files_per_s": r["files_per_s"], "files_per_cpu_s": r["files_per_cpu_s"]}
                           for key, r in best.items()},
            "runs": {key: [{k: v for k, v in r.items() if k != "kept"} for r in results]
                     for key, results in runs.items()},
        }
        print(f"speed-up over plain (1 process): per file {per_file['files_per_s'] / plain['files_per_s']:.1f}x, "
              f"end to end {summary['speedup_vs_datasets']:.1f}x "
              f"({summary['speedup_vs_datasets_per_cpu_s']:.1f}x per CPU-s); "
              f"Arrow writer over datasets.map: {summary['speedup_vs_map_writer_1_process']:.2f}x (1 process), "
              f"{summary['speedup_vs_map_writer_all_cores']:.2f}x ({cores} processes); own data (csv:) over the "
              f"built-in path: {summary['own_data_vs_builtin_1_process']:.2f}x (1 process), "
              f"{summary['own_data_vs_builtin_all_cores']:.2f}x ({cores} processes)")
        print(f"kept {arrow_1['kept']} of {args.files} files; "
              f"same rows from every path and run: {summary['same_rows_every_run']}")
        if args.json:
            args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
