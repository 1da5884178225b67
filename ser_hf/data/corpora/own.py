"""Own data beside the built-in corpora: an audio folder, a manifest, or a dataset with an ``Audio`` column.

``prepare_source("csv:/data/interviews/labels.csv")`` reads a source (spellings: :mod:`ser_hf.data.sources`)
into the same columns as a built-in corpus, through the same preparation (:func:`ser_hf.data.prepare.prepare_scanned`:
decoding, 16 kHz, trimming, the bad-file checks and their report, the cache). ``load_corpora`` calls it for every
source among its names, so sources mix with built-in corpora in one run.

Forms and the columns they read
    audiofolder  ``ROOT/<label>/**/<file>`` (``ROOT/<split>/<label>/...`` too, for split folders named train,
                 validation, valid, dev or test); ``ROOT/metadata.csv`` or ``metadata.jsonl``, when there, adds
                 columns to the file its ``file_name`` names (relative to ROOT), a label column among them
                 overriding the folder's.
    manifest     CSV, TSV, JSONL or Parquet: a path column (relative to the manifest's folder) and a label
                 column. A Parquet table with an ``Audio`` column is read as a dataset instead.
    dataset      ``disk:`` (a ``save_to_disk`` folder, every split; a Parquet file or folder) and ``hub:`` (every
                 Parquet file of the revision): an ``Audio`` column (bytes, or a path) and a ``ClassLabel`` or
                 string label column. A Hub revision larger than ``STREAM_ABOVE_BYTES`` is read row group by row
                 group over the network instead of downloaded.
    Other columns, by their first name found (``SOURCE_COLUMNS``; ``columns.NAME=COLUMN`` names another):
    speaker, gender, language, sentence, intensity. A row without a speaker gets the speaker ``NAME:`` (empty):
    speaker-independent protocols then refuse (:func:`ser_hf.data.splits.speakerless_sources`).

Labels
    ``label_map`` first (exact name, else case-insensitive), then case and the synonyms of
    :data:`ser_hf.data.labels.SYNONYMS` (joy -> happy, anger -> angry, ...). A name that maps onto no emotion is
    left out at the scan, counted per name in ``report.unmapped_labels`` (the summary's first line). Under
    ``label_set: source`` every name (after ``label_map``) is its own class instead.

Rows and bad input
    Rows are ordered by speaker, then file name, then path, so a source's splits do not depend on its folder
    layout, its manifest's row order or a dataset's splits and shards (dataset rows are decoded in storage order
    and sorted after). Skipped with a reason and counted: a missing file, an empty label, an unknown label, a
    path that leaves the manifest's folder, a file outside any label folder; a path listed twice is a duplicate
    (the first is kept); unreadable audio fails at decoding. A source without its named columns, or without an
    audio column, or where nothing is usable, is an error (:class:`CorpusRootError`) before any training.
    Nothing is ever written under a source's folder.

Audio that ser-hf prepared before with the same settings (a ``ser-hf prepare`` folder, or its ``push-dataset``
upload: both carry ``preparation.json``) is kept as it is, not trimmed and quantised a second time.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets

from ser_hf.data.audio import AudioError, PreprocessConfig
from ser_hf.data.corpora.base import CorpusFile, CorpusInfo, CorpusRootError, ScanResult, not_a_file
from ser_hf.data.labels import CANONICAL, canonical_emotion, get_label_set
from ser_hf.data.prepare import CACHE_VERSION, PrepareReport, Prepared, fingerprint, prepare_scanned
from ser_hf.data.sources import AUDIO_EXTENSIONS, SOURCE_COLUMNS, SOURCE_KINDS, SourceSpec, parse_source

logger = logging.getLogger(__name__)

SPLIT_FOLDERS = frozenset({"train", "validation", "valid", "dev", "test"})
METADATA_FILES = ("metadata.csv", "metadata.jsonl")
PREPARATION_FILE = "preparation.json"  # written by `ser-hf prepare`, uploaded by `ser-hf push-dataset`
STREAM_ABOVE_BYTES = 2 * 1024**3  # a Hub revision above this is streamed, not downloaded
GENDERS = {"m": "male", "male": "male", "man": "male", "f": "female", "female": "female", "woman": "female"}
NOT_STATED = "not stated"


@dataclass
class SourceFile(CorpusFile):
    """A scanned row of own data; ``row``: its index in a dataset's storage order (-1: ``path`` is the file)."""

    row: int = -1


@dataclass
class _Row:
    """A row as the source has it, before its checks."""

    path: str  # the audio file (file sources) or the row's name (datasets)
    label: str
    speaker: str = ""
    gender: str = ""
    language: str = ""
    sentence: str = ""
    intensity: str = ""
    row: int = -1
    problem: str = ""  # why the row is unusable, found while reading it


def _no_parse(path: Path) -> str:
    return "own data is not parsed from file names"


def source_info(spec: SourceSpec, licence: str = "") -> CorpusInfo:
    """The ``CorpusInfo`` an own source prepares under (its name, no datasheet)."""
    return CorpusInfo(name=spec.name, language="unknown", sample_rate="as found", licence=licence or NOT_STATED,
                      layout=f"  {SOURCE_KINDS[spec.kind]}", parse=_no_parse)


class LabelMapper:
    """Source label -> the emotion column's value, or None (unmapped). ``label_set: source`` keeps every name."""

    def __init__(self, label_map: dict[str, str] | None, keep_all: bool):
        self.exact = dict(label_map or {})
        self.folded = {k.strip().casefold(): v for k, v in self.exact.items()}
        self.keep_all = keep_all

    def __call__(self, label: str) -> str | None:
        mapped = self.exact.get(label, self.folded.get(label.casefold(), label))
        return mapped if self.keep_all else canonical_emotion(mapped)


def _resolve_columns(spec: SourceSpec, available: list[str], columns: dict[str, str], needed: tuple[str, ...],
                     where: str) -> dict[str, str]:
    """Schema column -> the source's column. A column named in ``columns`` must exist; ``needed`` ones too."""
    out = {}
    for key, defaults in SOURCE_COLUMNS.items():
        if key == "audio":  # a dataset's Audio column: found by _audio_column
            continue
        if key in columns:
            if columns[key] not in available:
                raise CorpusRootError(f"{spec.text}: {where} has no column {columns[key]!r} (columns.{key}); "
                                      f"its columns: {', '.join(available) or 'none'}")
            out[key] = columns[key]
        else:
            found = next((c for c in defaults if c in available), None)
            if found:
                out[key] = found
    missing = [k for k in needed if k not in out]
    if missing:
        names = "; ".join(f"{k}: one of {', '.join(SOURCE_COLUMNS[k])} (or columns.{k}=COLUMN)" for k in missing)
        raise CorpusRootError(f"{spec.text}: {where} has no {' and no '.join(missing)} column ({names}); "
                              f"its columns: {', '.join(available) or 'none'}")
    return out


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _inside(folder: Path, path: Path) -> bool:
    """Whether ``path`` lies under ``folder`` by its name alone: a symlink inside the folder is inside."""
    return folder == path or folder in path.parents


def _normal(folder: Path, value: str) -> Path:
    return Path(os.path.normpath(folder / value))


# ------------------------------------------------------------------------------------- file sources


def _read_table(path: Path, fmt: str) -> tuple[list[str], list[dict]]:
    """Columns and rows (values as text) of a CSV, TSV, JSONL or Parquet manifest."""
    if fmt in ("csv", "tsv"):
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh, delimiter="," if fmt == "csv" else "\t")
            rows = [{k: _text(v) for k, v in row.items() if k is not None} for row in reader]
            return [c for c in (reader.fieldnames or []) if c], rows
    if fmt == "jsonl":
        rows, columns = [], {}
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise CorpusRootError(f"{path}: line {n} is not JSON ({err.msg})") from None
                if not isinstance(row, dict):
                    raise CorpusRootError(f"{path}: line {n} is not a JSON object")
                rows.append({k: _text(v) for k, v in row.items()})
                columns.update(dict.fromkeys(row))
        return list(columns), rows
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return table.column_names, [{k: _text(v) for k, v in row.items()} for row in table.to_pylist()]


def _manifest_rows(spec: SourceSpec, columns: dict[str, str]) -> list[_Row]:
    path = Path(os.path.normpath(Path(spec.location).expanduser().absolute()))
    if not path.is_file():
        raise CorpusRootError(f"{spec.text}: manifest {path} not found")
    names, table = _read_table(path, spec.format)
    if not table:
        raise CorpusRootError(f"{spec.text}: the manifest {path} has no rows")
    cols = _resolve_columns(spec, names, columns, ("path", "label"), "the manifest")
    folder = path.parent
    rows = []
    for record in table:
        value = record.get(cols["path"], "")
        target = _normal(folder, value)
        row = _Row(str(target), record.get(cols["label"], ""),
                   **{k: record.get(cols[k], "") for k in ("speaker", "gender", "language", "sentence", "intensity")
                      if k in cols})
        if not value:
            row.problem = "empty path"
        elif not _inside(folder, target):
            row.problem = f"path leaves the manifest's folder ({value})"
        rows.append(row)
    return rows


def _audiofolder_rows(spec: SourceSpec, columns: dict[str, str]) -> list[_Row]:
    root = Path(os.path.normpath(Path(spec.location).expanduser().absolute()))
    if not root.is_dir():
        raise CorpusRootError(f"{spec.text}: no folder {root}\nExpected layout:\n  {SOURCE_KINDS['audiofolder']}")
    found = [name for name in METADATA_FILES if (root / name).is_file()]
    if len(found) > 1:
        raise CorpusRootError(f"{spec.text}: both {' and '.join(found)} in {root}; keep one")
    metadata: dict[Path, dict] = {}
    cols: dict[str, str] = {}
    rows: list[_Row] = []
    if found:
        names, table = _read_table(root / found[0], "csv" if found[0].endswith(".csv") else "jsonl")
        if "file_name" not in names:
            raise CorpusRootError(f"{spec.text}: {found[0]} has no file_name column; its columns: {', '.join(names)}")
        cols = _resolve_columns(spec, names, columns, (), found[0])
        for record in table:
            target = _normal(root, record["file_name"])
            if not _inside(root, target):
                rows.append(_Row(str(target), "", problem=f"path leaves the folder ({record['file_name']})"))
            elif target in metadata:
                rows.append(_Row(str(target), "", problem="listed twice in " + found[0]))
            else:
                metadata[target] = record
    elif columns:
        raise CorpusRootError(f"{spec.text}: columns.{next(iter(columns))} names a column, but {root} has no "
                              f"{' or '.join(METADATA_FILES)}")
    walked = set()
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS):
        walked.add(path)
        parts = path.relative_to(root).parts
        if len(parts) > 2 and parts[0].lower() in SPLIT_FOLDERS:
            parts = parts[1:]
        record = metadata.get(path, {})
        label = record.get(cols["label"], "") if "label" in cols else ""
        row = _Row(str(path), label or (parts[0] if len(parts) > 1 else ""),
                   **{k: record.get(cols[k], "") for k in ("speaker", "gender", "language", "sentence", "intensity")
                      if k in cols})
        if not row.label and len(parts) == 1 and "label" not in cols:
            row.problem = "not in a label folder (ROOT/<label>/...)"
        rows.append(row)
    for target in metadata.keys() - walked:
        rows.append(_Row(str(target), "", problem=f"file not found (listed in {found[0]})"))
    return rows


# ---------------------------------------------------------------------------------- dataset sources


@dataclass
class DatasetAudio:
    """The audio of a dataset's rows, read where the row is decoded (in a forked worker): Arrow files memory-mapped,
    Parquet files (local, or over ``fs`` for a streamed Hub revision) one row group at a time. Holds names only, so
    it pickles cheaply; opens what it reads lazily, once per process."""

    files: list[str]  # Arrow (.arrow) or Parquet files, in storage order
    starts: list[int]  # the first row of each file
    column: str
    folder: str = ""  # where an audio path relative to the dataset is looked for
    fs: Any = None  # an fsspec file system for remote Parquet files (None: local paths)
    prepared: bool = False  # ser-hf prepared the audio with the current settings: keep it as it is

    def __post_init__(self) -> None:
        self._open: dict[int, Any] = {}
        self._group: tuple[int, int, Any] | None = None  # (file, row group, its audio column)

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("_open", "_group")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    def _cell(self, row: int) -> dict | None:
        import bisect

        index = bisect.bisect_right(self.starts, row) - 1
        offset = row - self.starts[index]
        name = self.files[index]
        if name.endswith(".arrow"):
            if index not in self._open:
                self._open[index] = datasets.Dataset.from_file(name).data.column(self.column)
            return self._open[index][offset].as_py()
        import pyarrow.parquet as pq

        if index not in self._open:
            parquet = pq.ParquetFile(self.fs.open(name, "rb") if self.fs is not None else name)
            bounds = [0]
            for g in range(parquet.num_row_groups):
                bounds.append(bounds[-1] + parquet.metadata.row_group(g).num_rows)
            self._open[index] = (parquet, bounds)
        parquet, bounds = self._open[index]
        group = bisect.bisect_right(bounds, offset) - 1
        if self._group is None or self._group[:2] != (index, group):  # rows come in storage order: read each once
            self._group = (index, group, parquet.read_row_group(group, columns=[self.column]).column(0))
        return self._group[2][offset - bounds[group]].as_py()

    def __call__(self, file: dict) -> str | bytes | Prepared:
        cell = self._cell(file["row"])
        if isinstance(cell, dict) and cell.get("bytes"):
            return Prepared(cell["bytes"]) if self.prepared else cell["bytes"]
        path = (cell or {}).get("path") if isinstance(cell, dict) else cell
        if not path:
            raise AudioError(f"{file['path']}: no audio (an empty audio cell)")
        for candidate in (Path(path), Path(self.folder) / path):
            if candidate.is_file():
                return str(candidate)
        raise AudioError(f"{file['path']}: file not found ({path})")


def _features_of_parquet(schema) -> datasets.Features | None:
    meta = (schema.metadata or {}).get(b"huggingface")
    if meta:
        try:
            return datasets.Features.from_dict(json.loads(meta)["info"]["features"])
        except (KeyError, ValueError, TypeError):
            pass
    return None


def _audio_column(spec: SourceSpec, names: list[str], features: datasets.Features | None, schema, columns: dict,
                  where: str) -> str:
    if "audio" in columns:
        if columns["audio"] not in names:
            raise CorpusRootError(f"{spec.text}: {where} has no column {columns['audio']!r} (columns.audio); "
                                  f"its columns: {', '.join(names)}")
        return columns["audio"]
    if features is not None:
        for name, feature in features.items():
            if isinstance(feature, datasets.Audio):
                return name
    import pyarrow as pa

    for name in names:  # an Audio column written without the datasets metadata: a struct with bytes
        field = schema.field(name)
        if pa.types.is_struct(field.type) and field.type.get_field_index("bytes") >= 0:
            return name
    raise CorpusRootError(f"{spec.text}: {where} has no audio column (an Audio feature, or columns.audio=COLUMN); "
                          f"its columns: {', '.join(names)}")


@dataclass
class _DatasetFiles:
    """A dataset as files: what its rows are read from, and how."""

    files: list[str]  # in storage order
    parquet: bool
    fs: Any = None
    folder: str = ""  # for audio paths relative to the dataset
    preparation: dict | None = None  # preparation.json, when ser-hf prepared it


def _local_dataset_files(spec: SourceSpec) -> _DatasetFiles:
    path = Path(spec.location).expanduser()
    if not path.exists():
        raise CorpusRootError(f"{spec.text}: {path} not found")
    preparation = next((p for p in (path / PREPARATION_FILE, path.parent / PREPARATION_FILE) if p.is_file()), None)
    prepared = json.loads(preparation.read_text()) if preparation else None
    if path.is_file():
        return _DatasetFiles([str(path)], path.suffix != ".arrow", folder=str(path.parent), preparation=prepared)
    folder = path / "data" if (path / "data" / "dataset_dict.json").is_file() or (path / "data" / "state.json").is_file() else path
    if (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file():
        loaded = datasets.load_from_disk(str(folder))
        parts = loaded.values() if isinstance(loaded, datasets.DatasetDict) else [loaded]
        files = [c["filename"] for part in parts for c in part.cache_files]
        return _DatasetFiles(files, False, folder=str(folder), preparation=prepared)
    files = sorted(str(p) for p in path.rglob("*.parquet"))
    if not files:
        raise CorpusRootError(f"{spec.text}: {path} holds neither a save_to_disk dataset (dataset_dict.json, "
                              "state.json) nor Parquet files")
    return _DatasetFiles(files, True, folder=str(path), preparation=prepared)


class HubDatasets:
    """What a ``hub:`` source asks of the Hub: a revision's files, a download, a streamed read.

    ``api``: an ``HfApi`` (or a stand-in with ``dataset_info`` and ``hf_hub_download``); ``fs``: an fsspec file
    system for ``datasets/ORG/NAME@SHA/FILE`` paths (default ``HfFileSystem``)."""

    def __init__(self, api=None, fs=None):
        self.api, self.fs = api, fs

    def files(self, repo_id: str, revision: str) -> tuple[str, dict[str, int]]:
        from huggingface_hub import HfApi

        info = (self.api or HfApi()).dataset_info(repo_id, revision=revision, files_metadata=True)
        return info.sha, {s.rfilename: int(s.size or 0) for s in info.siblings or []}

    def download(self, repo_id: str, filename: str, sha: str) -> str:
        from huggingface_hub import HfApi

        return (self.api or HfApi()).hf_hub_download(repo_id=repo_id, filename=filename, repo_type="dataset",
                                                     revision=sha)

    def file_system(self):
        from huggingface_hub import HfFileSystem

        return self.fs if self.fs is not None else HfFileSystem()


HUB = HubDatasets()  # tests put a local stand-in for the Hub here


def _hub_revision(spec: SourceSpec) -> tuple[str, dict[str, int]]:
    try:
        return HUB.files(spec.location, spec.revision)
    except Exception as err:  # network, auth, a missing repo or revision: one line
        raise CorpusRootError(f"{spec.text}: cannot read the Hub dataset {spec.location}@{spec.revision}: "
                              f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from None


def _hub_dataset_files(spec: SourceSpec, sha: str, sizes: dict[str, int]) -> _DatasetFiles:
    parquet = sorted(f for f in sizes if f.endswith(".parquet"))
    if not parquet:
        raise CorpusRootError(f"{spec.text}: the revision {sha[:12]} has no Parquet files (its files: "
                              f"{', '.join(sorted(sizes)[:8]) or 'none'}); an audio folder on the Hub: download it "
                              "(hf download --repo-type dataset) and use audiofolder:PATH")
    preparation = json.loads(Path(HUB.download(spec.location, PREPARATION_FILE, sha)).read_text()) \
        if PREPARATION_FILE in sizes else None
    if sum(sizes[f] for f in parquet) > STREAM_ABOVE_BYTES:
        logger.info("%s: %.1f GB of Parquet: streamed, row group by row group", spec.text,
                    sum(sizes[f] for f in parquet) / 1e9)
        return _DatasetFiles([f"datasets/{spec.location}@{sha}/{f}" for f in parquet], True, fs=HUB.file_system(),
                             preparation=preparation)
    return _DatasetFiles([HUB.download(spec.location, f, sha) for f in parquet], True, preparation=preparation)


def _dataset_rows(spec: SourceSpec, data: _DatasetFiles, columns: dict[str, str]) -> tuple[list[_Row], DatasetAudio]:
    """Every row's metadata (the audio column is not read) and the reader of its audio."""
    import pyarrow.parquet as pq

    tables, starts, total = [], [], 0
    audio = features = names = None
    for name in data.files:
        if data.parquet:
            parquet = pq.ParquetFile(data.fs.open(name, "rb") if data.fs is not None else name)
            schema, n = parquet.schema_arrow, parquet.metadata.num_rows
            file_features = _features_of_parquet(schema)
        else:
            part = datasets.Dataset.from_file(name)
            schema, n, file_features = part.data.schema, part.num_rows, part.features
        if names is None:
            names, features = list(schema.names), file_features
            audio = _audio_column(spec, names, features, schema, columns, "the dataset")
            cols = _resolve_columns(spec, [c for c in names if c != audio], columns, ("label",), "the dataset")
        wanted = sorted(set(cols.values()) | ({"corpus"} & set(schema.names)))
        missing = [c for c in wanted + [audio] if c not in schema.names]
        if missing:
            raise CorpusRootError(f"{spec.text}: {name} lacks the column(s) {', '.join(missing)} of the dataset's "
                                  "first file")
        if data.parquet:  # column projection: the audio bytes are not read (nor fetched, for a streamed revision)
            table = parquet.read(columns=wanted + ([f"{audio}.path"] if "path" not in cols else []))
        else:
            table = part.data.table.select(wanted + ([audio] if "path" not in cols else []))
        if "path" not in cols:  # the audio's own file name names the row
            table = table.flatten()
            table = table.select([c for c in table.column_names if c in wanted or c == f"{audio}.path"])
        tables.append((table, file_features or features, name))
        starts.append(total)
        total += n
    corpora = {c for table, _, _ in tables if "corpus" in table.column_names for c in table.column("corpus").to_pylist()}
    strip = f"{next(iter(corpora))}:" if len(corpora) == 1 else ""  # ser-hf's speakers carry their corpus's prefix
    rows = []
    for (table, file_features, name), start in zip(tables, starts):
        values = {key: table.column(col).to_pylist() for key, col in cols.items()}
        if "path" not in cols:
            values["path"] = table.column(f"{audio}.path").to_pylist()
        label_feature = (file_features or {}).get(cols["label"])
        if isinstance(label_feature, datasets.ClassLabel):
            values["label"] = [label_feature.int2str(v) if v is not None and v >= 0 else "" for v in values["label"]]
        tag = Path(name).name
        for i in range(table.num_rows):
            cell = {k: _text(v[i]) for k, v in values.items()}
            speaker = cell.get("speaker", "")
            row = _Row(cell.get("path") or f"{tag}#{i}", cell.get("label", ""),  # named by its audio, else its index
                       speaker=speaker.removeprefix(strip) if strip else speaker,
                       **{k: cell.get(k, "") for k in ("gender", "language", "sentence", "intensity")},
                       row=start + i)
            rows.append(row)
    reader = DatasetAudio(list(data.files), starts, audio, folder=data.folder, fs=data.fs)
    return rows, reader


# ------------------------------------------------------------------------------------- the scan


def _scan(spec: SourceSpec, rows: list[_Row], labels: LabelMapper) -> tuple[ScanResult, dict]:
    """The checks every row goes through, in the source's order; the kept rows in the canonical order."""
    result = ScanResult(files=[])
    unmapped: Counter = Counter()
    seen: set[str] = set()
    for row in rows:
        problem = row.problem
        if not problem and row.row < 0:  # a file of its own
            problem = not_a_file(Path(row.path)) if os.path.lexists(row.path) else "file not found"
        if problem:
            result.skipped.append((row.path, problem))
            continue
        if row.path in seen:
            result.duplicates.append((f"{row.path} (listed again)", row.path))
            continue
        seen.add(row.path)
        if not row.label:
            result.skipped.append((row.path, "empty label"))
            continue
        emotion = labels(row.label)
        if emotion is None:
            unmapped[row.label] += 1
            result.skipped.append((row.path, f"unknown label ({row.label!r}: no emotion of the schema; label_map it)"))
            continue
        result.files.append(SourceFile(
            path=row.path, emotion=emotion, raw_label=row.label, speaker=row.speaker,
            gender=GENDERS.get(row.gender.lower(), row.gender.lower() or "unknown"), sentence=row.sentence,
            intensity=row.intensity, language=row.language, row=row.row))
    if not result.files:
        reasons = Counter(why.split(" (")[0] for _, why in result.skipped)
        if result.duplicates:
            reasons["duplicate"] = len(result.duplicates)
        listed = ", ".join(f"{why} x{n}" for why, n in reasons.most_common())
        first = f"; first: {result.skipped[0][0]}: {result.skipped[0][1]}" if result.skipped else ""
        raise CorpusRootError(f"{spec.text}: no usable rows among {len(rows)} ({listed or 'none found'}){first}"
                              + (f"\nExpected layout:\n  {SOURCE_KINDS[spec.kind]}" if not rows else ""))
    if all(f.row < 0 for f in result.files):  # files decode in any order: sort now (datasets: after decoding)
        result.files.sort(key=lambda f: (f.speaker, Path(f.path).name, f.path))
    return result, dict(unmapped)


def canonical_order(ds: datasets.Dataset) -> list[int]:
    """Rows by speaker, then file name, then path: the order file sources are decoded in."""
    speakers, paths = ds["speaker"], ds["path"]
    return sorted(range(len(ds)), key=lambda i: (speakers[i], Path(paths[i]).name, paths[i]))


def _key(*parts: Any) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def prepare_source(
    text: str,
    label_set: str = "seven",
    label_map: dict[str, str] | None = None,
    columns: dict[str, str] | None = None,
    preprocess: PreprocessConfig | None = None,
    num_proc: int | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    licence: str = "",
) -> tuple[datasets.Dataset, PrepareReport]:
    """One own source, prepared (no ``label`` column yet: ``load_corpora`` applies the label set to the union)."""
    spec = parse_source(text)
    columns = dict(columns or {})
    cfg = preprocess or PreprocessConfig()
    labels = LabelMapper(label_map, get_label_set(label_set).keep_all)
    info = source_info(spec, licence)
    settings = [spec.text, labels.keep_all, labels.exact, columns]
    fields = {"source": spec.text, "licence": licence}

    def finish(scanned: ScanResult, unmapped: dict) -> ScanResult:
        fields["unmapped_labels"] = unmapped  # read by prepare_scanned after this ran
        if unmapped:
            logger.warning("%s", unmapped_labels_note(spec.name, unmapped))
        return scanned

    if spec.kind in ("audiofolder", "manifest") and not _is_dataset_table(spec):
        rows = (_audiofolder_rows if spec.kind == "audiofolder" else _manifest_rows)(spec, columns)
        scanned, unmapped = _scan(spec, rows, labels)
        finish(scanned, unmapped)
        rows_key = [(f.path, f.emotion, f.raw_label, f.speaker, f.gender, f.sentence, f.intensity, f.language)
                    for f in scanned.files]
        key = fingerprint(info, scanned, cfg, extra=_key(settings, rows_key))
        ds, report = prepare_scanned(info, spec.text, key, scanned, cfg, num_proc=num_proc, cache_dir=cache_dir,
                                     use_cache=use_cache, report_fields=fields)
        return ds, _with(report, fields)

    if spec.kind == "hub":
        sha, sizes = _hub_revision(spec)
        revision = [spec.location, sha, sorted(sizes.items())]
        data: _DatasetFiles | None = None
    else:
        data = _local_dataset_files(spec)
        revision = [(f, os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in data.files] + [data.preparation]
    key = _key(CACHE_VERSION, cfg.to_dict(), settings, revision)

    def scan() -> ScanResult:
        nonlocal data
        data = data or _hub_dataset_files(spec, revision[1], sizes)
        rows, reader = _dataset_rows(spec, data, columns)
        reader.prepared = _prepared_with(data.preparation, cfg)
        readers.append(reader)
        return finish(*_scan(spec, rows, labels))

    readers: list[DatasetAudio] = []  # made by the scan, which runs only on a cache miss
    ds, report = prepare_scanned(info, spec.text, key, scan, cfg, num_proc=num_proc, cache_dir=cache_dir,
                                 use_cache=use_cache, reader=_LazyReader(readers), order=canonical_order,
                                 report_fields=fields)
    return ds, _with(report, fields)


class _LazyReader:
    """The dataset reader, once the scan (run only on a cache miss) has made it."""

    def __init__(self, readers: list):
        self.readers = readers

    def __call__(self, file: dict):
        return self.readers[0](file)


def _with(report: PrepareReport, fields: dict) -> PrepareReport:
    """The report with this run's licence (a cached report carries the licence of the run that decoded)."""
    report.licence = fields["licence"]
    return report


def _is_dataset_table(spec: SourceSpec) -> bool:
    """A Parquet manifest that holds the audio itself (an ``Audio`` column) is read as a dataset."""
    if spec.kind != "manifest" or spec.format != "parquet" or not Path(spec.location).is_file():
        return False
    import pyarrow.parquet as pq

    schema = pq.read_schema(spec.location)
    try:
        _audio_column(spec, list(schema.names), _features_of_parquet(schema), schema, {}, "")
    except CorpusRootError:
        return False
    return True


def _prepared_with(preparation: dict | None, cfg: PreprocessConfig) -> bool:
    """Whether ser-hf prepared a dataset with ``cfg`` (its audio is then kept as it is)."""
    if not preparation:
        return False
    same = preparation.get("preprocess") == cfg.to_dict() and preparation.get("cache_version") == CACHE_VERSION
    if not same:
        logger.warning("the dataset was prepared by ser-hf with %s; it is prepared again with %s (trimming twice cuts "
                       "more)", preparation.get("preprocess"), cfg.to_dict())
    return same


def preparation_record(cfg: PreprocessConfig) -> dict:
    """What ``preparation.json`` holds: the settings a prepared folder was made with."""
    return {"preprocess": cfg.to_dict(), "cache_version": CACHE_VERSION}


def unmapped_labels_note(name: str, unmapped: dict[str, int]) -> str:
    """One line naming a source's labels that map onto no class, with their rows, and how to map them."""
    listed = ", ".join(f"{label!r} ({n} files)" for label, n in sorted(unmapped.items(), key=lambda kv: (-kv[1], kv[0])))
    return (f"{name}: labels that name no emotion of the schema ({', '.join(CANONICAL[:7])}, ...) were left out: "
            f"{listed}; map them with --label-map NAME=CLASS (label_map.NAME=CLASS in a recipe), or keep the "
            "source's own classes with --label-set source")
