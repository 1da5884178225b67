"""Preparation throughput: ser-hf's decode path against plain ``datasets`` Audio decoding.

    python benchmarks/prepare.py [--files 1000] [--plain-files 200] [--seconds 3]

Writes N speech-like 48-kHz 16-bit WAVs of ``--seconds`` in SUBESCO's layout to a temp dir, then
measures in the same run:
  * ser-hf per file (decode with soundfile, resample 48k->16k with soxr, trim at 25 dB, encode
    16-kHz WAV bytes, content hash), one process: files/s per core;
  * ser-hf end to end (scan + datasets.map + Arrow write + save_to_disk), 1 and all processes;
  * plain datasets: ``cast_column("audio", Audio(sampling_rate=16000))`` and reading every
    example's array (torchcodec decode + resample), one process.
Targets (issue 2): >= 1000 files/s per core with resampling from 48 kHz, >= 10x the plain path.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


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


def bench_per_file(paths: list[str]) -> float:
    from ser_hf.data.audio import PreprocessConfig, content_hash, encode_wav, preprocess, read_audio, to_pcm16

    cfg = PreprocessConfig()
    preprocess(read_audio(paths[0])[0], cfg)  # warm-up (librosa import, numba)
    start = time.perf_counter()
    for p in paths:
        wave, sr = read_audio(p, 16000)
        pcm = to_pcm16(preprocess(wave, cfg))
        encode_wav(pcm, sr)
        content_hash(pcm)
    return len(paths) / (time.perf_counter() - start)


def bench_end_to_end(root: Path, num_proc: int, cache: Path) -> tuple[float, int]:
    from ser_hf.data.corpora import CORPORA
    from ser_hf.data.prepare import prepare_corpus

    start = time.perf_counter()
    ds, report = prepare_corpus(CORPORA["subesco"], root, num_proc=num_proc, cache_dir=cache, use_cache=False)
    elapsed = time.perf_counter() - start
    return report.found / elapsed, len(ds)


def bench_plain(paths: list[str]) -> float:
    import datasets

    ds = datasets.Dataset.from_dict({"audio": paths}).cast_column("audio", datasets.Audio(sampling_rate=16000))
    ds[0]["audio"]["array"]  # warm-up
    start = time.perf_counter()
    for example in ds:
        example["audio"]["array"]
    return len(paths) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--plain-files", type=int, default=200, help="the plain path is slow: measure a subset")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    import datasets

    datasets.disable_progress_bars()
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "SUBESCO"
        paths = write_corpus(root, args.files, args.seconds)
        print(f"{args.files} files, {args.seconds:.1f} s each, 48 kHz 16-bit mono; {cores} cores")
        per_file = bench_per_file(paths)
        plain = bench_plain(paths[: args.plain_files])
        e2e_1, kept = bench_end_to_end(root, 1, Path(tmp) / "cache1")
        e2e_n, _ = bench_end_to_end(root, cores, Path(tmp) / "cacheN")
        print(f"{'path':<58} {'files/s':>9} {'per core':>9}")
        print(f"{'plain datasets Audio(16k) decode, 1 process':<58} {plain:>9.0f} {plain:>9.0f}")
        print(f"{'ser-hf per file (decode+resample+trim+encode), 1 process':<58} {per_file:>9.0f} {per_file:>9.0f}")
        print(f"{'ser-hf prepare_corpus end to end, 1 process':<58} {e2e_1:>9.0f} {e2e_1:>9.0f}")
        print(f"{f'ser-hf prepare_corpus end to end, {cores} processes':<58} {e2e_n:>9.0f} {e2e_n / cores:>9.0f}")
        print(f"speed-up over plain: per file {per_file / plain:.1f}x, end to end (1 process) {e2e_1 / plain:.1f}x")
        print(f"kept {kept} of {args.files} files")


if __name__ == "__main__":
    main()
