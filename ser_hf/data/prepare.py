"""Turn a scanned corpus into a ``datasets.Dataset`` of 16-kHz audio, decoding each file once.

Every file is decoded with soundfile, mixed to mono, resampled with soxr, trimmed and stored
as 16-bit PCM WAV bytes in a standard ``datasets.Audio(sampling_rate=16000)`` column, so the
result behaves like any Hub audio dataset while training can read it without resampling.
Files that cannot be decoded are reported with the reason and left out; files that decode with a
problem (truncated) are kept and reported as warned. Results are cached on disk, keyed by what the
result depends on: every file's name, size, mtime and readability (mode, owner), the files skipped
at the scan and why, and the preprocessing settings. A cache entry appears in one rename, complete or
not at all, with the length and checksum of each of its files, checked before it is used (a corrupt one is
decoded again, with a warning); the half-written folders of killed runs are removed by the next run, never
another machine's live one (:mod:`ser_hf.locks`); a write that runs out of space stops with one line naming
the path, its partial folder removed.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import signal
import statistics
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import datasets
import pyarrow as pa
from datasets.arrow_writer import ArrowWriter
from datasets.utils.tqdm import tqdm

from ser_hf.data.audio import (
    AudioError, PreprocessConfig, content_hash, encode_wav, preprocess, read_audio, read_pcm16_wav, to_pcm16,
)
from ser_hf.hardware import available_cpus
from ser_hf.locks import Lease, file_digest, owned_name, stale_owned, storage_guard

if TYPE_CHECKING:  # corpora imports this module: import it lazily, so either can be imported first
    from ser_hf.data.corpora.base import CorpusInfo, ScanResult

logger = logging.getLogger(__name__)

# Bump when the stored columns or the preprocessing code change, so caches are rebuilt. 3: checksums.json.
CACHE_VERSION = 3
CHECKSUMS = "checksums.json"  # name -> [bytes, xxh3-64] of every file of an entry, checked before it is used

FEATURES = datasets.Features(
    {
        "audio": datasets.Audio(sampling_rate=16000),
        "emotion": datasets.Value("string"),
        "raw_label": datasets.Value("string"),
        "corpus": datasets.Value("string"),
        "language": datasets.Value("string"),
        "speaker": datasets.Value("string"),
        "gender": datasets.Value("string"),
        "sentence": datasets.Value("string"),
        "intensity": datasets.Value("string"),
        "duration": datasets.Value("float32"),
        "path": datasets.Value("string"),
        "content_hash": datasets.Value("string"),
    }
)


@dataclass
class PrepareReport:
    """What happened to every file found under the root: kept, skipped, duplicate or failed."""

    corpus: str
    root: str
    found: int = 0
    kept: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # name did not parse / unknown code
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # corrupt, empty, silent, not audio
    warned: list[tuple[str, str]] = field(default_factory=list)  # kept, with a problem (truncated)
    sample_rates: dict[str, int] = field(default_factory=dict)  # rate of the files as found (Hz) -> files
    source_seconds: dict[str, float] = field(default_factory=dict)  # min / median / max before trimming
    dropped_by_label: dict[str, int] = field(default_factory=dict)
    label_set: str = ""
    datasheet_warnings: list[str] = field(default_factory=list)  # found vs the corpus module's datasheet
    synthetic: bool = False
    # Own data (ser_hf.data.corpora.own): the source as spelled, its licence as the recipe states it ("" = not
    # stated), and its label names that map onto no class (left out at the scan) with their rows.
    source: str = ""
    licence: str = ""
    unmapped_labels: dict[str, int] = field(default_factory=dict)
    # Filled by load_corpora: rows per class of the label set, and distinct speakers (0: no speaker column).
    classes: dict[str, int] = field(default_factory=dict)
    speakers: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "PrepareReport":
        data = json.loads(text)
        for key in ("skipped", "duplicates", "failed", "warned"):
            data[key] = [tuple(x) for x in data.get(key, [])]
        return cls(**data)


def default_cache_dir() -> Path:
    return Path(os.environ.get("SER_HF_CACHE", Path.home() / ".cache" / "ser_hf"))


def fingerprint(info: "CorpusInfo", scanned: "ScanResult", cfg: PreprocessConfig, extra: str = "") -> str:
    """Key of everything the result depends on.

    Size and mtime catch edited files; mode, owner and readability catch a file fixed by ``chmod``
    or ``chown`` (whose failure would otherwise be served from the cache); the skipped and duplicate
    lists are part of the report, so adding a badly named file gives a new key too. ``extra``: what else
    the rows depend on (an own source's labels and columns, which no file name encodes).
    """
    h = hashlib.sha1()
    h.update(json.dumps([CACHE_VERSION, info.name, cfg.to_dict()]).encode())
    if extra:
        h.update(extra.encode())
    for f in scanned.files:
        st = os.stat(f.path)
        readable = os.access(f.path, os.R_OK)
        h.update(f"{f.path}|{st.st_size}|{st.st_mtime_ns}|{st.st_mode:o}|{st.st_uid}|{st.st_gid}|{readable}\n".encode())
    h.update(json.dumps([scanned.skipped, scanned.duplicates], ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def remove_stale_partials(prepared_dir: Path) -> list[Path]:
    """Delete the ``*.partial-<host>-<pid>`` / ``*.old-<host>-<pid>`` folders of preparations that are gone: a
    process of this host that no longer runs, or a lease (the folder's mtime, touched every 30 s while it is written)
    older than 10 minutes, whatever the host (:func:`ser_hf.locks.is_stale`). Another machine's live preparation on a
    shared cache is never touched. Returns the folders removed."""
    removed = []
    for path in stale_owned(prepared_dir):
        logger.info("removing %s, left by a preparation that did not finish", path)
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


class CorruptEntry(ValueError):
    """A cache entry whose files do not match the checksums written with it."""


def check_entry(entry: Path) -> None:
    """Raise :class:`CorruptEntry` unless every file of a prepared entry has the length and xxh3 checksum recorded in
    its ``checksums.json`` (a truncated or bit-flipped Arrow file is never used). Costs one read of the entry."""
    try:
        recorded = json.loads((entry / CHECKSUMS).read_text())
    except (OSError, ValueError) as err:
        raise CorruptEntry(f"{CHECKSUMS} unreadable ({err})") from None
    for name, (size, digest) in recorded.items():
        path = entry / name
        try:
            actual = path.stat().st_size
        except OSError:
            raise CorruptEntry(f"{name} is missing") from None
        if actual != size:
            raise CorruptEntry(f"{name} has {actual} bytes, {size} were written")
        if file_digest(path) != digest:
            raise CorruptEntry(f"{name} does not match its checksum")


def discard_entry(entry: Path) -> None:
    """Remove a cache entry: renamed aside first (readers that hold it open keep their files), then deleted."""
    aside = entry.with_name(owned_name(entry.name, "old"))
    try:
        entry.rename(aside)
    except FileNotFoundError:  # another process discarded it first
        return
    shutil.rmtree(aside, ignore_errors=True)


def publish_atomically(partial: Path, target: Path, replace: bool = False) -> Path:
    """Make the complete folder ``partial`` the cache entry ``target`` in one rename.

    A reader sees the old entry, no entry, or the new one, never half of one. When another writer
    published the same key first, its entry is kept (same inputs, same result) and ``partial`` is
    dropped, unless ``replace``: then the old entry is renamed aside first and deleted afterwards.
    """
    for _ in range(3):
        if target.exists():
            if (target / "report.json").is_file() and not replace:
                shutil.rmtree(partial, ignore_errors=True)
                return target
            # An incomplete entry (older versions wrote in place) or one to be replaced: move it aside.
            aside = target.with_name(owned_name(target.name, "old"))
            shutil.rmtree(aside, ignore_errors=True)  # what an earlier attempt of this process left
            try:
                target.rename(aside)
            except FileNotFoundError:  # another writer moved it first
                pass
            else:
                shutil.rmtree(aside, ignore_errors=True)
            replace = False
        try:
            partial.rename(target)  # atomic; fails on a non-empty target, which a concurrent writer made
            return target
        except OSError:
            if not target.exists():
                raise
    raise OSError(f"could not publish {partial} as {target}: other writers keep replacing it")


_PR_SET_PDEATHSIG = 1
# Rows per Arrow record batch: what datasets.map wrote per batch before (readers see the same batches).
_RECORD_BATCH_ROWS = 64
_DONE = None  # in a pool worker: the shared count of files done, which the parent shows as progress


def _die_with_parent(parent: int, done: "multiprocessing.sharedctypes.Synchronized") -> None:
    """Pool initializer: make this worker die with the process that forked it.

    A SIGKILLed parent cannot stop its pool, and its workers would live on as orphans. Linux only: the
    child asks the kernel for a signal on its parent's death (``prctl(PR_SET_PDEATHSIG)``) right after
    fork; a parent other than ours by then means ours died before the request was made.
    """
    global _DONE
    _DONE = done
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: nothing to ask for
        return
    if os.getppid() != parent:
        os._exit(1)


@dataclass(frozen=True)
class Prepared:
    """Audio ser-hf prepared before with the same settings (a pushed or saved preparation): 16-kHz PCM WAV bytes,
    kept as they are. Preparing them again would trim twice and re-quantise, and change them."""

    wav: bytes


AudioReader = Callable[[dict], "str | bytes | Prepared"]  # a scanned row -> its file, encoded bytes or Prepared


def _decode_file(
    file: dict, pcfg: PreprocessConfig, corpus: str, language: str, reader: AudioReader | None = None
) -> tuple[dict | None, list]:
    """Decode + preprocess one scanned file: its row (None when it fails) and its notes for the report.

    ``reader`` gives the audio of rows that are not files of their own (a dataset's rows): a path, encoded bytes
    or :class:`Prepared` audio; without it ``file["path"]`` is read.
    """
    path = file["path"]
    found: dict = {}
    try:
        source = reader(file) if reader else path
        pcm16 = read_pcm16_wav(source.wav) if isinstance(source, Prepared) else None
        if pcm16 is not None and pcm16[1] == pcfg.sampling_rate and pcm16[0].shape[1] == 1:
            pcm, sr = pcm16[0][:, 0], pcm16[1]
            found = {"sample_rate": sr, "frames": len(pcm), "warnings": []}
        else:
            source = source.wav if isinstance(source, Prepared) else source
            wave, sr = read_audio(source, pcfg.sampling_rate, info=found, name=path)
            wave = preprocess(wave, pcfg, name=path)
            if len(wave) == 0:
                raise AudioError(f"{path}: nothing left after trimming silence")
            pcm = to_pcm16(wave)
    except AudioError as err:
        return None, [["failed", path, str(err).removeprefix(f"{path}: ")]]
    notes = [["warned", path, w] for w in found["warnings"]]
    notes.append(["source", path, [found["sample_rate"], found["frames"] / found["sample_rate"]]])
    row = dict(
        file,
        audio={"bytes": encode_wav(pcm, sr), "path": Path(path).name},
        duration=len(pcm) / sr,
        content_hash=content_hash(pcm),
        corpus=corpus,
        language=file["language"] or language,
        speaker=f"{corpus}:{file['speaker']}",
    )
    return row, notes


def _count_done(files: int) -> None:
    """In a pool worker: add to the shared count of files done."""
    if _DONE is not None:
        with _DONE.get_lock():
            _DONE.value += files


def _write_shard(
    files: list[dict], cfg: dict, corpus: str, language: str, out_file: str, fingerprint: str,
    progress: Callable[[int], object] | None = None, reader: AudioReader | None = None,
) -> tuple[int, list]:
    """Decode a contiguous run of scanned files into one Arrow file; return the rows written and the notes.

    Record batches are built column-wise and written with datasets' ``ArrowWriter`` (the file format and
    schema metadata ``datasets.map`` writes), without map's per-row encoding, fingerprinting and pickling.
    """
    progress = progress or _count_done
    pcfg = PreprocessConfig(**cfg)
    schema = FEATURES.arrow_schema
    audio_type = schema.field("audio").type
    columns: dict[str, list] = {name: [] for name in FEATURES}
    notes: list = []
    rows = 0

    def flush(writer: ArrowWriter) -> None:
        audio = columns.pop("audio")
        arrays = [
            pa.StructArray.from_arrays(
                [pa.array([a["bytes"] for a in audio], pa.binary()), pa.array([a["path"] for a in audio], pa.string())],
                fields=list(audio_type),
            )
        ]
        arrays += [pa.array(columns[name], schema.field(name).type) for name in schema.names[1:]]
        writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
        columns.clear()
        columns.update({name: [] for name in FEATURES})

    # The fingerprint in the file's metadata becomes the loaded dataset's (as map's did): stable per entry.
    with ArrowWriter(features=FEATURES, path=out_file, fingerprint=fingerprint) as writer:
        pending = 0
        for file in files:
            row, file_notes = _decode_file(file, pcfg, corpus, language, reader)
            notes += file_notes
            pending += 1
            if row is not None:
                for name, values in columns.items():
                    values.append(row[name])
                rows += 1
                if len(columns["path"]) == _RECORD_BATCH_ROWS:
                    flush(writer)
            if pending == _RECORD_BATCH_ROWS:
                progress(pending)
                pending = 0
        if columns["path"]:
            flush(writer)
        writer.finalize()
    progress(pending)
    return rows, notes


def _decode_batch(batch: dict, cfg: dict, corpus: str, language: str, failures_dir: str,
                  reader: AudioReader | None = None) -> dict:
    """datasets.map worker of the reference writer: decode + preprocess a batch of paths.

    Rows that fail are left out of the output (a batched map may shrink). The notes go to a
    per-process file, since map workers cannot hand anything else back to the parent.
    """
    pcfg = PreprocessConfig(**cfg)
    out: dict[str, list] = {name: [] for name in FEATURES}
    notes = []
    for i in range(len(batch["path"])):
        row, file_notes = _decode_file({key: values[i] for key, values in batch.items()}, pcfg, corpus, language, reader)
        notes += file_notes
        if row is not None:
            for name, values in out.items():
                values.append(row[name])
    if notes:
        with open(Path(failures_dir) / f"notes-{os.getpid()}.jsonl", "a", encoding="utf-8") as fh:
            fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in notes)
    return out


def _pick_num_proc(n_files: int, num_proc: int | None) -> int | None:
    if num_proc is not None:
        return num_proc if num_proc > 1 else None
    # Forking the workers costs ~0.1-0.2 s (datasets.map's pool took ~0.5 s); a file takes ~2 ms of a core,
    # so below ~200 files one process is as fast.
    cores = available_cpus()
    return min(cores, 8) if n_files >= 200 and cores > 1 else None


def prepare_corpus(
    info: "CorpusInfo",
    root: str | Path,
    preprocess_cfg: PreprocessConfig | None = None,
    num_proc: int | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    writer: str = "arrow",
) -> tuple[datasets.Dataset, PrepareReport]:
    """Scan ``root`` with the corpus's parser and decode every file; never writes under ``root``.

    ``use_cache=False`` re-decodes even when a cached preparation of the same files exists.
    ``writer="datasets.map"`` writes the same entry through ``datasets.map`` (the previous, slower writer,
    kept as the reference that the tests and ``benchmarks/prepare.py`` compare with).
    """
    from ser_hf.data.corpora.base import scan

    cfg = _checked(preprocess_cfg)
    scanned = scan(info, root)
    return prepare_scanned(info, str(root), fingerprint(info, scanned, cfg), scanned, cfg, num_proc=num_proc,
                           cache_dir=cache_dir, use_cache=use_cache, writer=writer)


def _checked(cfg: PreprocessConfig | None) -> PreprocessConfig:
    cfg = cfg or PreprocessConfig()
    if cfg.sampling_rate != 16000:
        raise ValueError("the prepared audio column is 16 kHz; resample later if a model needs another rate")
    return cfg


def prepare_scanned(
    info: "CorpusInfo",
    root: str,
    key: str,
    scanned: "ScanResult | Callable[[], ScanResult]",
    preprocess_cfg: PreprocessConfig | None = None,
    *,
    num_proc: int | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    writer: str = "arrow",
    reader: AudioReader | None = None,
    order: Callable[[datasets.Dataset], list[int]] | None = None,
    report_fields: dict | None = None,
) -> tuple[datasets.Dataset, PrepareReport]:
    """The cache entry ``<info.name>-<key>``: loaded when it exists, else decoded from ``scanned``.

    What :func:`prepare_corpus` does after its scan, for any list of rows (own data: ``ser_hf.data.corpora.own``).
    ``key`` names everything the result depends on; ``scanned`` may be a function, called only on a cache miss
    (a dataset whose revision is in the key is then not read at all). ``reader``: the audio of rows that are not
    files (see :func:`_decode_file`). ``order``: the decoded rows' final order when it differs from the scan's
    (rows decoded in a dataset's storage order, then sorted). ``report_fields`` are set on the report.
    """
    cfg = _checked(preprocess_cfg)
    cache_root = Path(cache_dir) if cache_dir else default_cache_dir()
    remove_stale_partials(cache_root / "prepared")
    target = cache_root / "prepared" / f"{info.name}-{key}"
    if use_cache and (target / "report.json").is_file():
        try:
            check_entry(target)
        except CorruptEntry as err:
            logger.warning("%s: the cached preparation %s is corrupt (%s): decoding the corpus again", info.name,
                           target, err)
            discard_entry(target)
        else:
            logger.info("%s: using cached preparation %s", info.name, target)
            return _load_prepared(target)
    scanned = scanned() if callable(scanned) else scanned
    report = PrepareReport(
        corpus=info.name,
        root=root,
        found=len(scanned.files) + len(scanned.skipped) + len(scanned.duplicates),
        skipped=scanned.skipped,
        duplicates=scanned.duplicates,
        **(report_fields or {}),
    )

    # Decode straight into the cache folder: the Arrow files written there are the stored result,
    # so nothing is copied a second time (save_to_disk would re-embed every audio blob).
    partial = target.with_name(owned_name(target.name))
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    kept = "the partial entry was removed, earlier cache entries are intact"
    try:
        with Lease(partial), storage_guard(partial, f"preparing {info.name}", kept):
            _decode_into(partial, info, scanned, cfg, num_proc, report, writer, reader)
            if order is not None:
                _reorder(partial, order)
            _write_checksums(partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)  # Ctrl-C / SIGTERM / errors; SIGKILL: the next run
        raise
    publish_atomically(partial, target, replace=not use_cache)
    return _load_prepared(target)


def _reorder(partial: Path, order: Callable[[datasets.Dataset], list[int]]) -> None:
    """Rewrite the decoded shards of ``partial`` as one Arrow file in ``order(rows)``, unless that is their order."""
    ds, _ = _load_prepared(partial, report=False)
    indices = order(ds)
    if list(indices) == list(range(len(ds))):
        return
    shards = json.loads((partial / "shards.json").read_text())
    ds.select(indices).flatten_indices(cache_file_name=str(partial / "sorted.arrow"))
    del ds
    for name in shards:
        (partial / name).unlink()
    (partial / "shards.json").write_text(json.dumps(["sorted.arrow"]))


def _decode_into(
    partial: Path, info: "CorpusInfo", scanned: "ScanResult", cfg: PreprocessConfig, num_proc: int | None,
    report: PrepareReport, writer: str = "arrow", reader: AudioReader | None = None,
) -> None:
    """Decode every scanned file into ``partial`` and fill ``report``; raise when nothing decodes."""
    from ser_hf.data.corpora.base import CorpusRootError

    files = [dict(vars(f)) for f in scanned.files]  # flat str fields: no need for asdict's deep copy
    workers = _pick_num_proc(len(files), num_proc)
    if writer == "arrow":
        shards, notes = _write_shards(partial, files, cfg, info, workers, reader)
    elif writer == "datasets.map":
        shards, notes = _write_with_map(partial, files, cfg, info, workers, reader)
    else:
        raise ValueError(f"writer must be 'arrow' or 'datasets.map', not {writer!r}")
    report.failed = sorted((path, why) for kind, path, why in notes if kind == "failed")
    report.warned = sorted((path, why) for kind, path, why in notes if kind == "warned")
    sources = [value for kind, _, value in notes if kind == "source"]
    rates: dict[str, int] = {}
    for rate, _ in sources:
        rates[str(rate)] = rates.get(str(rate), 0) + 1
    report.sample_rates = dict(sorted(rates.items(), key=lambda kv: int(kv[0])))
    seconds = [sec for _, sec in sources]
    if seconds:
        report.source_seconds = {"min": min(seconds), "median": statistics.median(seconds), "max": max(seconds)}
    for path, reason in report.failed:
        logger.warning("skipped %s: %s", path, reason)
    for path, reason in report.warned:
        logger.warning("kept %s, but %s", path, reason)
    report.kept = sum(rows for _, rows in shards)
    if not report.kept:
        reasons = "\n".join(f"  {path}: {why}" for path, why in report.failed[:5])
        more = f"\n  ... and {len(report.failed) - 5} more" if len(report.failed) > 5 else ""
        raise CorpusRootError(
            f"{info.name}: none of the {len(report.failed)} audio files under {report.root} could be decoded; "
            f"first reasons:\n{reasons}{more}"
        )
    (partial / "shards.json").write_text(json.dumps([name for name, rows in shards if rows]))
    (partial / "report.json").write_text(report.to_json())


def _write_checksums(partial: Path) -> None:
    """The length and xxh3 checksum of every file of a complete entry, which :func:`check_entry` verifies."""
    files = json.loads((partial / "shards.json").read_text()) + ["shards.json", "report.json"]
    (partial / CHECKSUMS).write_text(json.dumps({name: [(partial / name).stat().st_size, file_digest(partial / name)]
                                                 for name in files}))


def _shard_names(workers: int | None) -> list[str]:
    """datasets.map's names for its cache files, which earlier cache entries use too."""
    if not workers:
        return ["data.arrow"]
    return [f"data_{rank:05d}_of_{workers:05d}.arrow" for rank in range(workers)]


def _write_shards(
    partial: Path, files: list[dict], cfg: PreprocessConfig, info: "CorpusInfo", workers: int | None,
    reader: AudioReader | None = None,
) -> tuple[list[tuple[str, int]], list]:
    """The writer: contiguous runs of files, one Arrow file each, decoded by a pool of forked workers.

    Returns (file name, rows) per shard in row order and every file's notes.
    """
    args = (cfg.to_dict(), info.name, info.language)
    key = partial.name.split(".partial-")[0]

    def shard_key(shard: str) -> str:
        return hashlib.sha1(f"{key}/{shard}".encode()).hexdigest()[:16]

    with tqdm(total=len(files), unit=" files", desc=f"Decoding {info.name}") as bar:
        if not workers:
            rows, notes = _write_shard(
                files, *args, str(partial / "data.arrow"), shard_key("data.arrow"), progress=bar.update, reader=reader
            )
            return [("data.arrow", rows)], notes
        # Contiguous runs, as datasets.map(num_proc=...) shards: concatenated in order they keep the scan's order.
        workers = min(workers, len(files))
        bounds = [len(files) * rank // workers for rank in range(workers + 1)]
        ctx = multiprocessing.get_context("fork")  # workers share the parent's imports: no start-up cost
        done = ctx.Value("q", 0)
        with ProcessPoolExecutor(workers, ctx, initializer=_die_with_parent, initargs=(os.getpid(), done)) as pool:
            futures = [
                pool.submit(
                    _write_shard, files[bounds[rank] : bounds[rank + 1]], *args, str(partial / name), shard_key(name),
                    reader=reader,
                )
                for rank, name in enumerate(_shard_names(workers))
            ]
            try:
                while wait(futures, timeout=0.2).not_done:
                    bar.update(done.value - bar.n)
                results = [f.result() for f in futures]  # raises what a worker raised (BrokenProcessPool if it died)
            except BaseException:  # Ctrl-C or a failed shard: stop the other workers now, not after their shards
                for process in list((getattr(pool, "_processes", None) or {}).values()):  # CPython's pool
                    process.terminate()
                raise
            bar.update(done.value - bar.n)
    return [(name, rows) for name, (rows, _) in zip(_shard_names(workers), results)], [
        note for _, notes in results for note in notes
    ]


def _write_with_map(
    partial: Path, files: list[dict], cfg: PreprocessConfig, info: "CorpusInfo", workers: int | None,
    reader: AudioReader | None = None,
) -> tuple[list[tuple[str, int]], list]:
    """The previous writer, ``datasets.map`` over :func:`_decode_batch`: the reference the tests and the
    benchmark compare the Arrow writer with (same files, same rows). A killed parent may orphan its workers.
    """
    decoded = datasets.Dataset.from_list(files).map(
        _decode_batch,
        batched=True,
        batch_size=_RECORD_BATCH_ROWS,
        num_proc=workers,
        fn_kwargs={"cfg": cfg.to_dict(), "corpus": info.name, "language": info.language, "failures_dir": str(partial),
                   "reader": reader},
        features=FEATURES,
        remove_columns=list(files[0]) if files else [],
        cache_file_name=str(partial / "data.arrow"),
        desc=f"Decoding {info.name}",
    )
    notes = [json.loads(line) for f in sorted(partial.glob("notes-*.jsonl")) for line in f.read_text().splitlines()]
    shards = [(Path(c["filename"]).name, len(datasets.Dataset.from_file(c["filename"]))) for c in decoded.cache_files]
    del decoded
    return shards, notes


def _load_prepared(target: Path, report: bool = True) -> tuple[datasets.Dataset, PrepareReport | None]:
    shards = json.loads((target / "shards.json").read_text())
    parts = [datasets.Dataset.from_file(str(target / name)) for name in shards]
    ds = datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    return ds, PrepareReport.from_json((target / "report.json").read_text()) if report else None
