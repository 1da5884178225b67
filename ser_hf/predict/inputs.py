"""What ``ser-hf predict`` reads: files, folders (recursive), globs, manifests, a prepared split.

Every argument becomes :class:`Item` rows in the order given (a folder's files sorted by path; a manifest's and a
split's rows in their order); the same file named twice is read once. The ``path`` column of the output is
``Item.key``: the file as the argument or manifest names it (manifest paths relative to the manifest's folder), or,
for a prepared split, the row's ``path`` (``SPLIT#ROW`` where that is missing or not unique).

An argument that names nothing (a missing path, a glob without a match, a manifest without a path column) stops
the command before any model loads; a manifest row whose file is missing becomes an error row of the output
(``missing``), like any unreadable file.
"""

from __future__ import annotations

import csv
import glob
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ser_hf.predict.options import AUDIO_EXTENSIONS, LABEL_COLUMNS, MANIFEST_FORMATS, PATH_COLUMNS

logger = logging.getLogger(__name__)

# A 16-bit mono 16-kHz file: bytes per second, to order files by an estimate of their length without decoding them.
_BYTES_PER_SECOND = 32000


class InputError(ValueError):
    """An argument that names no input; the message names it and the problem."""


@dataclass(frozen=True)
class Item:
    """One input: a file (``path``) or a row of a prepared split (``row``), with its reference label if known."""

    index: int
    key: str
    path: str | None = None
    row: int | None = None
    label: str | None = None
    seconds_hint: float = 0.0  # for ordering by length only


@dataclass
class Inputs:
    items: list[Item]
    dataset: object | None = None  # the prepared split (a datasets.Dataset, audio not decoded) that rows point into
    sources: list[str] | None = None

    @property
    def labelled(self) -> bool:
        return any(item.label is not None for item in self.items)


def _size_seconds(path: str) -> float:
    try:
        return os.stat(path).st_size / _BYTES_PER_SECOND
    except OSError:
        return 0.0


def _is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def _prepared_folder(path: Path) -> Path | None:
    """The ``save_to_disk`` DatasetDict folder of ``ser-hf prepare --out PATH`` (PATH or PATH/data), if it is one."""
    for candidate in (path, path / "data"):
        if (candidate / "dataset_dict.json").is_file():
            return candidate
    return None


def _pick_column(columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str, source: str,
                 required: bool) -> str | None:
    if wanted:
        if wanted not in columns:
            raise InputError(f"{source}: no column {wanted!r} (it has {', '.join(columns)})")
        return wanted
    lower = {c.lower(): c for c in columns}
    for name in candidates:
        if name in lower:
            return lower[name]
    if required:
        raise InputError(f"{source}: no {what} column (looked for {', '.join(candidates)}; it has "
                         f"{', '.join(columns)}); name it with --{what}-column")
    return None


def read_manifest(path: Path, path_column: str | None = None, label_column: str | None = None) -> list[tuple[str, str | None]]:
    """``(file, label or None)`` per row of a CSV / TSV / JSONL / Parquet manifest; files relative to its folder."""
    fmt = MANIFEST_FORMATS[path.suffix.lower()]
    if fmt in ("csv", "tsv"):
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh, delimiter="," if fmt == "csv" else "\t")
            rows = list(reader)
            columns = list(reader.fieldnames or [])
    elif fmt == "jsonl":
        rows = []
        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as err:
                        raise InputError(f"{path}: line {number} is not JSON ({err.msg})") from None
        columns = list(dict.fromkeys(k for r in rows for k in r))
    else:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        rows, columns = table.to_pylist(), table.column_names
    file_col = _pick_column(columns, path_column, PATH_COLUMNS, "path", str(path), required=True)
    label_col = _pick_column(columns, label_column, LABEL_COLUMNS, "label", str(path), required=bool(label_column))
    base = path.parent
    out = []
    for number, row in enumerate(rows, 2 if fmt in ("csv", "tsv") else 1):
        file = row.get(file_col)
        if file is None or str(file).strip() == "":
            raise InputError(f"{path}: row {number} has no {file_col!r}")
        file = str(file).strip()
        label = row.get(label_col) if label_col else None
        label = str(label).strip() if label is not None and str(label).strip() != "" else None
        out.append((file if os.path.isabs(file) else str(base / file), label))
    return out


def _folder_files(folder: Path) -> list[str]:
    files = [str(p) for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and not p.is_dir()]
    return sorted(files)


def _load_split(folder: Path, split: str):
    import datasets

    dd = datasets.load_from_disk(str(folder))
    if split not in dd:
        raise InputError(f"{folder}: no split {split!r} (it has {', '.join(dd)}); choose one with --split")
    ds = dd[split]
    if "audio" not in ds.column_names:
        raise InputError(f"{folder}: split {split!r} has no audio column")
    return ds.cast_column("audio", datasets.Audio(decode=False))


def collect_inputs(args: list[str], split: str = "test", path_column: str | None = None,
                   label_column: str | None = None) -> Inputs:
    """Every input the arguments name, in order (see the module docstring)."""
    if not args:
        raise InputError("no input: give files, folders, globs, a manifest or a prepared dataset folder")
    entries: list[dict] = []  # key, path, row, label, seconds_hint
    dataset = None
    for arg in args:
        path = Path(arg)
        if not path.exists() and _is_glob(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                raise InputError(f"{arg}: the pattern matches no file")
            for m in matches:
                if Path(m).is_dir():
                    entries += [dict(key=f, path=f) for f in _folder_files(Path(m))]
                else:
                    entries.append(dict(key=m, path=m))
            continue
        if not path.exists():
            raise InputError(f"{arg}: no such file or folder")
        prepared = _prepared_folder(path) if path.is_dir() else None
        if prepared is not None:
            if dataset is not None:
                raise InputError(f"{arg}: one prepared dataset per run (already reading one)")
            dataset = _load_split(prepared, split)
            names = dataset.features["label"].names if "label" in dataset.column_names and hasattr(
                dataset.features["label"], "names") else None
            keys = list(dataset["path"]) if "path" in dataset.column_names else []
            unique = bool(keys) and len(set(keys)) == len(keys)
            labels = dataset["label"] if "label" in dataset.column_names else [None] * len(dataset)
            seconds = dataset["duration"] if "duration" in dataset.column_names else [0.0] * len(dataset)
            for row in range(len(dataset)):
                label = labels[row]
                if names is not None and label is not None:
                    label = names[int(label)]
                entries.append(dict(key=keys[row] if unique else f"{split}#{row}", row=row,
                                    label=None if label is None else str(label), seconds_hint=float(seconds[row] or 0)))
        elif path.is_dir():
            files = _folder_files(path)
            if not files:
                raise InputError(f"{arg}: no audio files in this folder ({', '.join(sorted(AUDIO_EXTENSIONS))})")
            entries += [dict(key=f, path=f) for f in files]
        elif path.suffix.lower() in MANIFEST_FORMATS:
            rows = read_manifest(path, path_column, label_column)
            if not rows:
                raise InputError(f"{arg}: the manifest has no rows")
            entries += [dict(key=f, path=f, label=label) for f, label in rows]
        else:
            entries.append(dict(key=arg, path=arg))
    items: list[Item] = []
    seen_files: set[str] = set()
    seen_keys: set[str] = set()
    for entry in entries:
        identity = os.path.normpath(os.path.abspath(entry["path"])) if entry.get("path") else f"#row{entry['row']}"
        if identity in seen_files or entry["key"] in seen_keys:
            continue
        seen_files.add(identity)
        seen_keys.add(entry["key"])
        hint = entry.get("seconds_hint") or (_size_seconds(entry["path"]) if entry.get("path") else 0.0)
        items.append(Item(len(items), entry["key"], entry.get("path"), entry.get("row"), entry.get("label"), hint))
    dropped = len(entries) - len(items)
    if dropped:
        logger.info("%d input(s) named twice: each is read once", dropped)
    return Inputs(items, dataset, list(args))


def read_item(item: Item, dataset=None) -> np.ndarray:
    """The item's audio as 16-kHz mono float32; raises ``ser_hf.data.audio.AudioError`` naming the problem."""
    from ser_hf.data.audio import AudioError, decode_wav_bytes, read_audio
    import soxr

    if item.row is not None:
        audio = dataset[item.row]["audio"]
        if audio.get("bytes"):
            wave, sr = decode_wav_bytes(audio["bytes"])
        elif audio.get("path"):
            return read_audio(audio["path"], 16000)[0]
        else:
            raise AudioError(f"{item.key}: the row holds no audio")
        wave = np.asarray(wave, dtype=np.float32)
        if wave.ndim > 1:
            wave = wave.mean(axis=1)
        return soxr.resample(wave, sr, 16000) if sr != 16000 else wave
    return read_audio(item.path, 16000)[0]
