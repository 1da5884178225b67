"""Turn a scanned corpus into a ``datasets.Dataset`` of 16-kHz audio, decoding each file once.

Every file is decoded with soundfile, mixed to mono, resampled with soxr, trimmed and stored
as 16-bit PCM WAV bytes in a standard ``datasets.Audio(sampling_rate=16000)`` column, so the
result behaves like any Hub audio dataset while training can read it without resampling.
Files that cannot be decoded are reported with the reason and left out. Results are cached on
disk, keyed by the file list (names, sizes, mtimes) and the preprocessing settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import datasets

from ser_hf.data.audio import AudioError, PreprocessConfig, content_hash, encode_wav, preprocess, read_audio, to_pcm16

if TYPE_CHECKING:  # corpora imports this module: import it lazily, so either can be imported first
    from ser_hf.data.corpora.base import CorpusInfo, ScanResult

logger = logging.getLogger(__name__)

# Bump when the stored columns or the preprocessing code change, so caches are rebuilt.
CACHE_VERSION = 1

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
    dropped_by_label: dict[str, int] = field(default_factory=dict)
    synthetic: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "PrepareReport":
        data = json.loads(text)
        for key in ("skipped", "duplicates", "failed"):
            data[key] = [tuple(x) for x in data[key]]
        return cls(**data)


def default_cache_dir() -> Path:
    return Path(os.environ.get("SER_HF_CACHE", Path.home() / ".cache" / "ser_hf"))


def _fingerprint(info: "CorpusInfo", scanned: "ScanResult", cfg: PreprocessConfig) -> str:
    h = hashlib.sha1()
    h.update(json.dumps([CACHE_VERSION, info.name, cfg.to_dict()]).encode())
    for f in scanned.files:
        st = os.stat(f.path)
        h.update(f"{f.path}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _decode_batch(batch: dict, cfg: dict, corpus: str, language: str, failures_dir: str) -> dict:
    """datasets.map worker: decode + preprocess a batch of paths.

    Rows that fail are left out of the output (a batched map may shrink), and their reasons are
    appended to a per-process file, since workers cannot hand anything else back to the parent.
    """
    pcfg = PreprocessConfig(**cfg)
    keep: list[int] = []
    audio, durations, hashes, failed = [], [], [], []
    for i, path in enumerate(batch["path"]):
        try:
            wave, sr = read_audio(path, pcfg.sampling_rate)
            wave = preprocess(wave, pcfg, name=path)
            if len(wave) == 0:
                raise AudioError(f"{path}: nothing left after trimming silence")
        except AudioError as err:
            failed.append([path, str(err).removeprefix(f"{path}: ")])
            continue
        pcm = to_pcm16(wave)
        keep.append(i)
        audio.append({"bytes": encode_wav(pcm, sr), "path": Path(path).name})
        durations.append(len(pcm) / sr)
        hashes.append(content_hash(pcm))
    if failed:
        with open(Path(failures_dir) / f"failed-{os.getpid()}.jsonl", "a", encoding="utf-8") as fh:
            fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in failed)
    out = {key: [values[i] for i in keep] for key, values in batch.items()}
    out.update(
        audio=audio,
        duration=durations,
        content_hash=hashes,
        corpus=[corpus] * len(keep),
        language=[lang or language for lang in out["language"]],
        speaker=[f"{corpus}:{s}" for s in out["speaker"]],
    )
    return out


def _pick_num_proc(n_files: int, num_proc: int | None) -> int | None:
    if num_proc is not None:
        return num_proc if num_proc > 1 else None
    # Worker start-up costs ~1 s; below a few hundred files one process is faster.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cores, 8) if n_files >= 400 and cores > 1 else None


def prepare_corpus(
    info: "CorpusInfo",
    root: str | Path,
    preprocess_cfg: PreprocessConfig | None = None,
    num_proc: int | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
) -> tuple[datasets.Dataset, PrepareReport]:
    """Scan ``root`` with the corpus's parser and decode every file; never writes under ``root``.

    ``use_cache=False`` re-decodes even when a cached preparation of the same files exists.
    """
    from ser_hf.data.corpora.base import scan

    cfg = preprocess_cfg or PreprocessConfig()
    if cfg.sampling_rate != 16000:
        raise ValueError("the prepared audio column is 16 kHz; resample later if a model needs another rate")
    scanned = scan(info, root)
    report = PrepareReport(
        corpus=info.name,
        root=str(root),
        found=len(scanned.files) + len(scanned.skipped) + len(scanned.duplicates),
        skipped=scanned.skipped,
        duplicates=scanned.duplicates,
    )
    cache_root = Path(cache_dir) if cache_dir else default_cache_dir()
    target = cache_root / "prepared" / f"{info.name}-{_fingerprint(info, scanned, cfg)}"
    if use_cache and (target / "report.json").is_file():
        logger.info("%s: using cached preparation %s", info.name, target)
        return _load_prepared(target)

    # Decode straight into the cache folder: the Arrow files map writes are the stored result,
    # so nothing is copied a second time (save_to_disk would re-embed every audio blob).
    partial = target.with_name(target.name + f".partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    meta = datasets.Dataset.from_list([asdict(f) for f in scanned.files])
    decoded = meta.map(
        _decode_batch,
        batched=True,
        batch_size=64,
        num_proc=_pick_num_proc(len(meta), num_proc),
        fn_kwargs={
            "cfg": cfg.to_dict(),
            "corpus": info.name,
            "language": info.language,
            "failures_dir": str(partial),
        },
        features=FEATURES,
        remove_columns=meta.column_names,
        cache_file_name=str(partial / "data.arrow"),
        desc=f"Decoding {info.name}",
    )
    report.failed = sorted(
        tuple(json.loads(line)) for f in sorted(partial.glob("failed-*.jsonl")) for line in f.read_text().splitlines()
    )
    for path, reason in report.failed:
        logger.warning("skipped %s: %s", path, reason)
    report.kept = len(decoded)
    shards = [Path(c["filename"]).name for c in decoded.cache_files]
    (partial / "shards.json").write_text(json.dumps(shards))
    (partial / "report.json").write_text(report.to_json())
    del decoded
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return _load_prepared(target)


def _load_prepared(target: Path) -> tuple[datasets.Dataset, PrepareReport]:
    shards = json.loads((target / "shards.json").read_text())
    parts = [datasets.Dataset.from_file(str(target / name)) for name in shards]
    ds = datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    return ds, PrepareReport.from_json((target / "report.json").read_text())
