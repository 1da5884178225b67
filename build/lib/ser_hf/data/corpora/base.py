"""What every corpus module provides, and the shared walk over a corpus root.

A corpus module defines a ``CORPUS = CorpusInfo(...)`` whose ``parse`` turns one file path
into a ``CorpusFile`` (or returns the reason it cannot). ``scan`` walks the root, applies
``parse`` to every audio file, de-duplicates, and lists what it skipped and why.
"""

from __future__ import annotations

import logging
import stat
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

AUDIO_SUFFIXES = {".wav"}


class CorpusRootError(FileNotFoundError):
    """The corpus root is missing or holds nothing in the expected layout."""


@dataclass
class CorpusFile:
    """One parsed file, before decoding. ``speaker`` is corpus-local here."""

    path: str
    emotion: str  # canonical name (ser_hf.data.labels.CANONICAL)
    raw_label: str  # the corpus's own code, so any remap is reversible
    speaker: str
    gender: str  # "male" | "female" | "unknown"
    sentence: str = ""
    intensity: str = ""
    language: str = ""  # empty = the corpus's language


@dataclass
class ScanResult:
    files: list[CorpusFile]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (dropped path, kept path)


Parser = Callable[[Path], "CorpusFile | str"]


@dataclass(frozen=True)
class CorpusInfo:
    name: str
    language: str  # BCP-47-ish code of the corpus's speech
    sample_rate: str  # as distributed, for the datasheet / summary
    licence: str
    layout: str  # shown when the root is missing or empty
    parse: Parser
    # Key two copies of the same recording share (Kaggle trees duplicate whole corpora).
    dedupe_key: Callable[[CorpusFile], tuple] = lambda f: (f.speaker, Path(f.path).name.lower())
    citation: str = ""
    suffixes: frozenset[str] = frozenset(AUDIO_SUFFIXES)
    # The datasheet's measured audio (docs/corpora.md), to notice a modified copy; empty = not documented.
    rates_hz: tuple[int, ...] = ()
    seconds: tuple[float, float] | None = None  # shortest and longest clip of the original


def datasheet_warnings(info: CorpusInfo, sample_rates: dict[str, int], source_seconds: dict[str, float]) -> list[str]:
    """Where the audio found contradicts the datasheet: a common sign of a re-distributed, modified copy.

    ``sample_rates`` maps rate (Hz, as a string) to files; ``source_seconds`` has the ``min`` /
    ``max`` clip length before trimming.
    """
    out = []
    unexpected = {int(r): n for r, n in sample_rates.items() if info.rates_hz and int(r) not in info.rates_hz}
    if unexpected:
        found = ", ".join(f"{r} Hz x {n}" for r, n in sorted(unexpected.items()))
        said = " / ".join(f"{r} Hz" for r in info.rates_hz)
        out.append(f"{info.name}: files at {found}, but the datasheet says {said}: a resampled, re-distributed copy?")
    if info.seconds and source_seconds:
        lo, hi = info.seconds
        found_lo, found_hi = source_seconds["min"], source_seconds["max"]
        n = sum(sample_rates.values())
        slack = max(0.05, 0.05 * hi)  # rounding in the datasheets and in header lengths
        if n >= 5 and found_hi - found_lo < 0.01 and hi - lo > 0.5:
            out.append(
                f"{info.name}: every clip lasts {found_lo:.2f} s, but the datasheet says {lo:.2f}-{hi:.2f} s: "
                "cut or padded to a fixed length?"
            )
        elif found_lo < lo - slack or found_hi > hi + slack:
            out.append(
                f"{info.name}: clips last {found_lo:.2f}-{found_hi:.2f} s, but the datasheet says {lo:.2f}-{hi:.2f} s: "
                "a cut, padded or different copy?"
            )
    return out


def overlapping_root(out: str | Path, roots: dict[str, str | Path | None]) -> str | None:
    """The first corpus whose root ``out`` equals, lies inside, or contains: writing there would touch the corpus."""
    out = Path(out).resolve()
    for name, root in roots.items():
        if root is None:
            continue
        root_path = Path(root).resolve()
        if out == root_path or root_path in out.parents or out in root_path.parents:
            return name
    return None


def not_a_file(path: Path) -> str | None:
    """Why an entry with an audio name cannot be read as a file, or None for a regular file.

    Annexed trees (git-annex, DVC) whose content was never fetched hold dangling symlinks under
    the real names; reading a FIFO would block forever.
    """
    try:
        mode = path.stat().st_mode  # follows symlinks
    except FileNotFoundError:
        if path.is_symlink():
            return f"broken symlink: content not fetched? (points to {path.readlink()}; git-annex get / dvc pull)"
        return "vanished during the scan"
    except OSError as err:
        return f"cannot stat ({err.strerror or err})"
    if stat.S_ISDIR(mode):
        return "a folder, not a file (named like an audio file)"
    if not stat.S_ISREG(mode):
        kind = "FIFO" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode) else "device"
        return f"not a regular file ({kind})"
    return None


def scan(info: CorpusInfo, root: str | Path) -> ScanResult:
    """Parse every audio-named entry under ``root``: files to decode, skipped (with the reason), duplicates."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusRootError(
            f"{info.name}: corpus root {root} does not exist or is not a folder.\n"
            f"Expected layout:\n{info.layout}"
        )
    result = ScanResult(files=[])
    seen: dict[tuple, str] = {}
    # Sorted walk: the file order (and so every split) never depends on the file system.
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in info.suffixes):
        problem = not_a_file(path)
        if problem:
            result.skipped.append((str(path), problem))
            continue
        parsed = info.parse(path)
        if isinstance(parsed, str):
            result.skipped.append((str(path), parsed))
            continue
        key = info.dedupe_key(parsed)
        if key in seen:
            result.duplicates.append((str(path), seen[key]))
            continue
        seen[key] = str(path)
        result.files.append(parsed)
    if not result.files:
        raise CorpusRootError(
            f"{info.name}: no usable audio files under {root} "
            f"({len(result.skipped)} skipped).\nExpected layout:\n{info.layout}"
            + (f"\nFirst skipped: {result.skipped[0][0]}: {result.skipped[0][1]}" if result.skipped else "")
        )
    return result


# Skip reasons name the problem; the report pairs each with its path.
def unknown(path: Path, what: str, value: str) -> str:
    return f"unknown {what} code {value!r}"


def first_unknown(path: Path, *checks: tuple[str, str, Container]) -> str | None:
    """The skip reason for the first ``(what, code, known codes)`` whose code is not known."""
    for what, value, known in checks:
        if value not in known:
            return unknown(path, what, value)
    return None


def unparsed(path: Path, pattern: str) -> str:
    return f"file name does not match {pattern}"
