"""Shared fixtures: every test run gets its own cache folder (never the user's ~/.cache)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory) -> Path:
    cache = os.environ.get("SER_HF_TEST_CACHE") or str(tmp_path_factory.mktemp("ser_hf_cache"))
    os.environ["SER_HF_CACHE"] = cache
    import datasets

    datasets.disable_progress_bars()
    return Path(cache)


def write_tone(path: Path, seconds: float = 1.0, sr: int = 16000, channels: int = 1, freq: float = 220.0,
               silence: float = 0.2, subtype: str = "PCM_16") -> Path:
    """A tone with ``silence`` seconds of quiet before and after (so trimming has work to do)."""
    t = np.arange(int(seconds * sr)) / sr
    tone = 0.5 * np.sin(2 * np.pi * freq * t)
    pad = np.zeros(int(silence * sr))
    wave = np.concatenate([pad, tone, pad]).astype(np.float32)
    if channels > 1:
        wave = np.stack([wave * (c + 1) / channels for c in range(channels)], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave, sr, subtype=subtype)
    return path


@pytest.fixture
def small_disk(tmp_path):
    """``small_disk("4m")``: a folder on a tmpfs of that size (a file system that runs full), unmounted afterwards;
    the test is skipped where this process may not mount one (it needs root)."""
    import subprocess

    mounted: list[Path] = []

    def mount(size: str) -> Path:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                              capture_output=True, text=True)
        if proc.returncode:
            pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill_disk(folder: Path) -> Path:
    """Write a file into ``folder`` until its file system is full; returns the file (delete it to free the space)."""
    import errno

    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as fh:
        block = b"\0" * (64 << 10)
        while True:
            try:
                fh.write(block)
            except OSError as err:
                if err.errno != errno.ENOSPC:
                    raise
                if len(block) == 1:
                    break
                block = block[: len(block) // 2]
    return filler
