"""How one's own data is named beside the built-in corpora: a source spelling, parsed without reading anything.

A corpus name (``ravdess``, ``all_en``) or a *source* goes wherever a corpus is asked for (recipe ``corpora``
and ``cross_corpus_groups``, ``ser-hf prepare --corpus``, ``load_corpus`` / ``load_corpora``):

=============================  =====================================================================================
``audiofolder:ROOT``           ``ROOT/<label>/**/<file>.wav|flac|mp3|ogg|opus|...``, the ``datasets`` convention; an
                               optional ``ROOT/metadata.csv`` or ``metadata.jsonl`` adds columns by ``file_name``
``manifest:FILE``              a table (CSV, TSV, JSONL or Parquet, by the extension) with a path column (relative
                               to the table's folder) and a label column; ``csv:``, ``tsv:``, ``jsonl:`` and
                               ``parquet:`` say the format whatever the extension
``disk:PATH``                  a dataset with an ``Audio`` column: a ``save_to_disk`` folder (``ser-hf prepare``'s
                               ``--out`` too), a Parquet file or a folder of them
``hub:ORG/NAME[@REVISION]``    the same on the Hugging Face Hub (every Parquet file of the revision; ``ser-hf
                               push-dataset`` writes that layout); streamed when large
=============================  =====================================================================================

``NAME=KIND:...`` names a source; otherwise its name is its folder's (audiofolder, disk), the table's file name
(or its folder's, for a generic one such as ``labels.csv``) or the dataset's (hub), in lower case. The name is
the ``corpus`` column, the speakers' prefix (``NAME:SPEAKER``), the key of ``licences.NAME`` and what
``split=corpus:NAME`` holds out. Nothing here imports more than the standard library: the recipe checks a
spelling, and the model card names a source, without loading ``datasets``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# The kinds of source, with what each reads (shown when a spelling is wrong).
SOURCE_KINDS: dict[str, str] = {
    "audiofolder": "audiofolder:ROOT (ROOT/<label>/**/<audio file>, optional ROOT/metadata.csv|jsonl)",
    "manifest": "manifest:FILE.csv|.tsv|.jsonl|.parquet (a path column and a label column)",
    "csv": "csv:FILE (a comma-separated manifest)",
    "tsv": "tsv:FILE (a tab-separated manifest)",
    "jsonl": "jsonl:FILE (a manifest of JSON lines)",
    "parquet": "parquet:FILE (a Parquet manifest, or Parquet rows with an Audio column)",
    "disk": "disk:PATH (a save_to_disk folder, a Parquet file or a folder of them, with an Audio column)",
    "hub": "hub:ORG/NAME[@REVISION] (a Hub dataset with an Audio column)",
}
# The manifest format each extension means.
MANIFEST_FORMATS: dict[str, str] = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl",
                                    ".json": "jsonl", ".parquet": "parquet"}
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".mp3", ".ogg", ".opus", ".oga", ".m4a", ".aac", ".aif", ".aiff",
                              ".aifc", ".au", ".caf", ".w64", ".rf64", ".webm", ".wma"})

# The columns a source may carry, by their schema name, and the names looked for when ``columns.NAME`` does not
# say (first found wins). ``audio``: a dataset's Audio column (any column with that feature is found too).
SOURCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "path": ("path", "file_name", "filename", "file", "filepath", "audio_path", "wav", "audio"),  # manifests
    "label": ("emotion", "label", "labels", "class", "category"),
    "speaker": ("speaker", "speaker_id", "spk", "actor"),
    "gender": ("gender", "sex"),
    "language": ("language", "lang", "locale"),
    "sentence": ("sentence", "text", "transcript", "transcription"),
    "intensity": ("intensity",),
    "audio": ("audio",),
}
# Manifest names that say nothing about the data: such a source is named after its folder.
GENERIC_STEMS = frozenset({"labels", "label", "metadata", "manifest", "data", "train", "test", "dev", "validation",
                           "index", "annotations", "files", "list", "all"})
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_HUB = re.compile(r"^([\w.-]+/[\w.-]+)(?:@([^\s@]+))?$")


@dataclass(frozen=True)
class SourceSpec:
    """A parsed source spelling."""

    text: str  # as written
    kind: str  # audiofolder | manifest | disk | hub
    location: str  # a path, or ORG/NAME for the Hub
    name: str
    format: str = ""  # manifests: csv | tsv | jsonl | parquet
    revision: str = "main"  # hub only

    @property
    def folder(self) -> Path | None:
        """The local folder the source lives in (never written to), or None for the Hub."""
        if self.kind == "hub":
            return None
        path = Path(self.location).expanduser()
        return path if self.kind == "audiofolder" or (self.kind == "disk" and not path.suffix) else path.parent


def is_source(text: str) -> bool:
    """Whether ``text`` is a source spelling (``KIND:...`` or ``NAME=KIND:...``) rather than a corpus name."""
    head = str(text).split("=", 1)[-1] if "=" in str(text).split(":", 1)[0] else str(text)
    return head.split(":", 1)[0] in SOURCE_KINDS and ":" in head


def _clean(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "_", name.lower()).strip("_-") or "own"


def _derived_name(kind: str, location: str) -> str:
    if kind == "hub":
        return _clean(location.split("/")[-1])
    path = Path(location.rstrip("/"))
    if kind == "audiofolder":
        return _clean(path.name)
    if kind == "disk":
        if path.suffix:  # a Parquet file: named after its folder when that is the Hub's data/ folder
            path = path.parent if path.parent.name == "data" else path.with_suffix("")
        return _clean(path.parent.name if path.name == "data" and path.parent.name else path.name)
    stem = path.stem.lower()
    return _clean(path.parent.name if stem in GENERIC_STEMS and path.parent.name else stem)


def parse_source(text: str) -> SourceSpec:
    """``[NAME=]KIND:LOCATION`` -> :class:`SourceSpec`; a ValueError of one line says what is wrong."""
    text = str(text).strip()
    name = ""
    if "=" in text.split(":", 1)[0]:
        name, text = (part.strip() for part in text.split("=", 1))
        if not _NAME.match(name):
            raise ValueError(f"source name {name!r}: use lower-case letters, digits, '_' and '-' (e.g. my_calls=...)")
    kind, sep, location = text.partition(":")
    if not sep or kind not in SOURCE_KINDS:
        raise ValueError(f"{text!r} is not a source; write one of: " + "; ".join(SOURCE_KINDS.values()))
    location = location.strip()
    if not location:
        raise ValueError(f"{text!r}: give the {'dataset id' if kind == 'hub' else 'path'} after '{kind}:'")
    fmt, revision = "", "main"
    if kind == "hub":
        m = _HUB.match(location)
        if not m:
            raise ValueError(f"{text!r}: a Hub dataset is hub:ORG/NAME or hub:ORG/NAME@REVISION")
        location, revision = m.group(1), m.group(2) or "main"
    elif kind in ("csv", "tsv", "jsonl", "parquet"):
        fmt, kind = kind, "manifest"
    elif kind == "manifest":
        fmt = MANIFEST_FORMATS.get(Path(location).suffix.lower(), "")
        if not fmt:
            raise ValueError(f"{text!r}: cannot tell the manifest's format from {Path(location).suffix or 'no extension'!r}; "
                             f"use a {', '.join(sorted(set(MANIFEST_FORMATS)))} file, or say it: csv:, tsv:, jsonl:, parquet:")
    spelled = f"{kind if not fmt else fmt}:{location}" + (f"@{revision}" if kind == "hub" and revision != "main" else "")
    return SourceSpec(text=(f"{name}={spelled}" if name else spelled), kind=kind, location=location,
                      name=name or _derived_name(kind, location), format=fmt, revision=revision)


def source_name(text: str) -> str:
    """The ``corpus`` name of a source spelling; a corpus name is its own."""
    return parse_source(text).name if is_source(text) else text
