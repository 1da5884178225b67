"""The synthetic emotional-speech corpus: espeak-ng speech in each real corpus's download layout.

``generate("ravdess", out)`` writes RAVDESS's ``Actor_NN/03-01-...wav`` tree at 48 kHz, and so on for
every supported corpus, so the real loaders read it unchanged. It is the default data of the
quickstart and the tests; a figure measured on it says nothing about real emotional speech.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from .layouts import PLANS, SIZES, Plan, PlannedFile
from .render import EMOTION_PROSODY, Speaker, make_speaker, render_utterance

logger = logging.getLogger(__name__)

CORPORA: tuple[str, ...] = tuple(PLANS)
LAYOUTS: dict[str, tuple[str, ...]] = {name: layouts for name, (_, layouts) in PLANS.items()}

__all__ = ["CORPORA", "LAYOUTS", "SIZES", "ensure_synthetic", "generate", "plan", "render_long_clip"]


def plan(corpus: str, size: str = "small", layout: str | None = None) -> Plan:
    if corpus not in PLANS:
        raise ValueError(f"no synthetic layout for {corpus!r}; choose one of {CORPORA}")
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    builder, layouts = PLANS[corpus]
    layout = layout or layouts[0]
    if layout not in layouts:
        raise ValueError(f"{corpus} layouts are {layouts}, got {layout!r}")
    return builder(size, layout)


def _rng(seed: int, *keys: str) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(k.encode()) for k in keys)])


def generate(
    corpus: str, out: str | Path, size: str = "small", seed: int = 0, layout: str | None = None, workers: int | None = None
) -> list[dict]:
    """Write the synthetic corpus under ``out`` and return its manifest (one dict per audio file)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; synthetic corpora are written into a new folder")
    todo = plan(corpus, size, layout)
    speakers: dict[str, Speaker] = {}
    for f in todo.files:
        if f.speaker not in speakers:
            speakers[f.speaker] = make_speaker(f.voice, f.gender, len(speakers), _rng(seed, corpus, "speaker", f.speaker))

    def write(f: PlannedFile) -> None:
        wave = render_utterance(f.sentence, speakers[f.speaker], f.emotion, f.sampling_rate, _rng(seed, corpus, f.relpath))
        path = out / f.relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, wave, f.sampling_rate, subtype="PCM_16")

    originals = [f for f in todo.files if f.duplicate_of is None]
    with ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1)) as pool:
        list(pool.map(write, originals))
    for f in todo.files:
        if f.duplicate_of is not None:
            (out / f.relpath).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out / f.duplicate_of, out / f.relpath)
    for rel, text in todo.extras.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text, encoding="utf-8")
    logger.info("synthetic %s (%s): %d files in %s", corpus, size, len(todo.files), out)
    return [
        {
            "relpath": f.relpath,
            "emotion": f.emotion,
            "raw_label": f.raw_label,
            "speaker": f.speaker,
            "gender": f.gender,
            "sentence": f.sentence,
            "language": f.language,
            "sampling_rate": f.sampling_rate,
            "duplicate": f.duplicate_of is not None,
        }
        for f in todo.files
    ]


def ensure_synthetic(
    corpus: str, size: str = "small", seed: int = 0, layout: str | None = None, cache_dir: str | Path | None = None
) -> Path:
    """The synthetic corpus in the cache, generated once (atomically) and reused afterwards."""
    from ..prepare import default_cache_dir

    layout = layout or LAYOUTS.get(corpus, ("",))[0]
    root = (Path(cache_dir) if cache_dir else default_cache_dir()) / "synth"
    target = root / f"{corpus}-{layout}-{size}-seed{seed}"
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
    try:
        generate(corpus, tmp / "corpus", size=size, seed=seed, layout=layout)
        try:
            (tmp / "corpus").rename(target)
        except OSError:  # another process finished first: use theirs
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def render_long_clip(
    emotions: list[str],
    seconds_per_segment: float = 2.0,
    silence_between: float = 1.0,
    seed: int = 0,
    sampling_rate: int = 16000,
    language: str = "en",
) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """A long labelled recording: one utterance per emotion, separated by near-silence.

    Each utterance is cut or padded to ``seconds_per_segment`` so segment boundaries line up with
    the 2-s segmentation of the long-clip evaluation. Returns the wave and (start_s, end_s, emotion).
    """
    voice = {"en": "en-us", "bn": "bn", "de": "de"}.get(language, language)
    speaker = make_speaker(voice, "female", 0, _rng(seed, "long-clip"))
    texts = ("I really did not expect that to happen today", "We will meet again tomorrow morning", "Look at what they have done")
    seg = int(seconds_per_segment * sampling_rate)
    gap = np.zeros(int(silence_between * sampling_rate), dtype=np.float32)
    pieces, annotations, t = [], [], 0.0
    for i, emotion in enumerate(emotions):
        if emotion not in EMOTION_PROSODY:
            raise ValueError(f"unknown emotion {emotion!r}")
        wave = render_utterance(texts[i % len(texts)], speaker, emotion, sampling_rate, _rng(seed, "long", str(i)), lead=(0.0, 0.05), trail=(0.0, 0.05))
        wave = wave[:seg] if len(wave) >= seg else np.pad(wave, (0, seg - len(wave)))
        pieces += [wave, gap]
        annotations.append((t, t + seconds_per_segment, emotion))
        t += seconds_per_segment + silence_between
    return np.concatenate(pieces).astype(np.float32), annotations
