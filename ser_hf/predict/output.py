"""Where ``ser-hf predict`` writes, and how a killed run resumes without a lost, duplicated or torn row.

While it runs, each process appends every finished input (its file row and segment rows, or its error) as one
JSON line to its own journal, ``OUT.parts/journal-RANK.jsonl``, one ``write`` and one ``fsync`` per batch: a
SIGKILL can cut only the last line, which the next launch drops (that process truncates its journal to the last
complete line before appending). A launch reads every journal and skips the inputs they hold, so an input is never
done twice. When every process is done, the main process merges the journals in input order and writes the tables
by the extension of ``--out`` (CSV, JSONL, Parquet, or a ``datasets`` folder without one), each to a temporary name
renamed over the final one, so a reader sees the old table or the new one, never half of one; then the journals are
removed. A later launch with the same ``--out`` first turns the existing tables back into a journal: inputs already
in the output are skipped, new ones are added, and the table is written again.

Beside ``OUT``: ``OUT-stem.errors.EXT`` (inputs without a prediction: ``path``, ``error``, ``detail``,
``duration``), ``OUT-stem.summary.json`` (counts, settings, throughput), and for labelled inputs
``OUT-stem.metrics.json`` with ``OUT-stem.confusion_matrix[-MODEL].png``. A ``datasets`` folder holds the
``predictions`` and ``errors`` splits and those files inside.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ser_hf.predict.options import DATASET_FOLDER, ERROR_COLUMNS, OUTPUT_FORMATS


class OutputError(ValueError):
    """An --out that cannot be written or resumed; the message names it."""


@dataclass(frozen=True)
class OutputPaths:
    out: Path
    format: str

    @classmethod
    def of(cls, out: str | Path) -> "OutputPaths":
        out = Path(out)
        return cls(out, OUTPUT_FORMATS.get(out.suffix.lower(), DATASET_FOLDER))

    def sidecar(self, name: str) -> Path:
        """``calls.csv`` -> ``calls.NAME``; inside a ``datasets`` folder: ``shards/NAME``."""
        if self.format == DATASET_FOLDER:
            return self.out / name
        return self.out.with_name(f"{self.out.stem}.{name}")

    @property
    def errors(self) -> Path | None:
        return None if self.format == DATASET_FOLDER else self.sidecar(f"errors{self.out.suffix}")

    @property
    def parts(self) -> Path:
        return self.out.with_name(self.out.name + ".parts")


def _clean(value):
    """JSON- and table-safe scalars: NaN (what a table gives back for an empty cell) becomes None."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    return value


class Journal:
    """This process's append-only journal of finished inputs."""

    def __init__(self, parts: Path, rank: int):
        parts.mkdir(parents=True, exist_ok=True)
        self.path = parts / f"journal-{rank}.jsonl"
        if self.path.exists():  # drop a line cut by a kill: keep up to the last newline
            data = self.path.read_bytes()
            keep = data.rfind(b"\n") + 1
            if keep < len(data):
                with open(self.path, "r+b") as fh:
                    fh.truncate(keep)
                    os.fsync(fh.fileno())
        self._fh = open(self.path, "ab")

    def append(self, records: list[dict]) -> None:
        if not records:
            return
        data = "".join(json.dumps(r, ensure_ascii=False, default=_clean) + "\n" for r in records).encode()
        self._fh.write(data)
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


def read_journals(parts: Path) -> list[dict]:
    """Every complete record of every journal (a cut last line is skipped), the first of a key kept."""
    records, seen = [], set()
    if not parts.is_dir():
        return records
    for path in sorted(parts.glob("journal-*.jsonl")):
        with open(path, "rb") as fh:
            for line in fh:
                if not line.endswith(b"\n"):
                    break
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if record["key"] not in seen:
                    seen.add(record["key"])
                    records.append(record)
    return records


def _read_table(path: Path, fmt: str):
    import pandas as pd

    if fmt == "csv":
        return pd.read_csv(path, dtype={"path": str, "kind": str, "reference": object}, keep_default_na=True)
    if fmt == "jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    return pd.read_parquet(path)


def read_output(paths: OutputPaths) -> tuple[list[str] | None, list[dict]]:
    """The columns and the per-input records of an existing output (empty when there is none)."""
    if not paths.out.exists():
        # a kill between the two renames of a datasets folder leaves the old one under its .old name
        old = sorted(paths.out.parent.glob(f".{paths.out.name}.old-*"))
        if not old:
            return None, []
        os.replace(old[-1], paths.out)
    import datasets

    if paths.format == DATASET_FOLDER:
        try:
            dd = datasets.load_from_disk(str(paths.out))
        except (FileNotFoundError, ValueError) as err:
            raise OutputError(f"{paths.out}: exists and is not a predict output folder ({err}); choose another --out") from None
        table, errors = dd["predictions"].to_pandas(), dd["errors"].to_pandas()
    else:
        table = _read_table(paths.out, paths.format)
        errors = _read_table(paths.errors, paths.format) if paths.errors.exists() else None
    columns = list(table.columns)
    if "path" not in columns or "kind" not in columns:
        raise OutputError(f"{paths.out}: exists and is not a predict output (no path/kind columns); choose another --out")
    records: dict[str, dict] = {}
    for row in table.to_dict(orient="records"):
        row = {k: _clean(v) for k, v in row.items()}
        records.setdefault(str(row["path"]), {"key": str(row["path"]), "rows": [], "error": None})["rows"].append(row)
    if errors is not None:
        for row in errors.to_dict(orient="records"):
            row = {k: _clean(v) for k, v in row.items()}
            records.setdefault(str(row["path"]), {"key": str(row["path"]), "rows": [], "error": row})
    return columns, list(records.values())


def _atomic_write(target: Path, write) -> None:
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    write(tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def _frame(rows: list[dict], columns: list[str]):
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


def write_tables(paths: OutputPaths, columns: list[str], rows: list[dict], errors: list[dict]) -> None:
    """The predictions and the error table, each replacing its old version in one rename."""
    table, error_table = _frame(rows, columns), _frame(errors, list(ERROR_COLUMNS))
    paths.out.parent.mkdir(parents=True, exist_ok=True)
    if paths.format == DATASET_FOLDER:
        import datasets

        tmp = paths.out.with_name(f".{paths.out.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        error_features = datasets.Features({c: datasets.Value("float64" if c == "duration" else "string")
                                            for c in ERROR_COLUMNS})
        splits = datasets.DatasetDict({
            "predictions": datasets.Dataset.from_pandas(table, preserve_index=False),
            "errors": datasets.Dataset.from_pandas(error_table, preserve_index=False, features=error_features),
        })
        # an empty split needs one shard named, or datasets 5 writes no Arrow file and cannot load it back
        splits.save_to_disk(str(tmp), num_shards={k: 1 for k, v in splits.items() if len(v) == 0} or None)
        old = paths.out.with_name(f".{paths.out.name}.old-{os.getpid()}")
        if paths.out.exists():
            os.replace(paths.out, old)
        os.replace(tmp, paths.out)
        shutil.rmtree(old, ignore_errors=True)
        return
    for frame, target in ((table, paths.out), (error_table, paths.errors)):
        if paths.format == "csv":
            _atomic_write(target, lambda p, f=frame: f.to_csv(p, index=False))
        elif paths.format == "jsonl":
            _atomic_write(target, lambda p, f=frame: f.to_json(p, orient="records", lines=True, force_ascii=False))
        else:
            _atomic_write(target, lambda p, f=frame: f.to_parquet(p, index=False))


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, lambda p: p.write_text(json.dumps(data, indent=1, default=_clean, ensure_ascii=False)))
