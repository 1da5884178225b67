"""One interface for every embedding: ``extract(dataset, extractor) -> Embeddings``, cached on disk.

An extractor turns a batch of 16-kHz waveforms into one ``(frames, dim)`` array per waveform:
VGGish / YAMNet give one row per 0.96-s patch, a Hugging Face encoder one row per 20-ms frame,
openSMILE functionals and MFCC statistics one row per file. :func:`extract` then pools:

``pooling="mean"`` (seed 000)
    one row per file, the mean of its frame rows ("embeddings from all frames were averaged").
``pooling="frames"`` (seed 003)
    every frame row, with ``file_index`` naming the dataset row it came from, so labels are
    ``labels[file_index]`` and frame predictions can be averaged back per file.

The result is cached per file under ``cache_dir`` (default ``$SER_HF_CACHE/embeddings``), keyed by
the file's audio bytes, the extractor's full configuration including a hash of its weights, and the
pooling: change any of them and the embeddings are recomputed, never mixed; any other dataset holding
the same files (another fold, another recipe) reads them back. Each entry carries a checksum: a truncated or
altered one is extracted again, with a warning, never used.

Extractors by name (:func:`build_extractor`): ``vggish``, ``yamnet``, ``egemaps``, ``compare``,
``mfcc`` and ``hf:<model id or folder>`` (HuBERT, wav2vec2, WavLM, Whisper encoder, ...).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import torch
import xxhash
from tqdm.auto import tqdm

from ser_hf import guards
from ser_hf.registry import EXTRACTORS, POOLINGS
from ser_hf.hardware import available_cpus
from ser_hf.locks import bytes_digest, owned_name, stale_owned, storage_guard

logger = logging.getLogger(__name__)

CACHE_FORMAT = 3  # 2: one entry per file; 3: with a checksum trailer


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


class EmbeddingExtractor:
    """Base of every extractor: waveforms in, one ``(frames, dim)`` float32 array per waveform out.

    Subclasses set ``name`` and ``sampling_rate`` and implement :meth:`embed` and
    :meth:`cache_config` (everything that changes the output, weights included).
    """

    name: str = "extractor"
    sampling_rate: int = 16000
    device: str = "cpu"
    # One file at a time on the CPU, no network (openSMILE, MFCC): extract() spreads the files over processes.
    per_file_cpu: bool = False

    def embed(self, waves: Sequence[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError

    def cache_config(self) -> dict:
        raise NotImplementedError

    def to(self, device: str | torch.device) -> EmbeddingExtractor:
        """Move the network (if any) to ``device``; CPU-only extractors ignore it."""
        self.device = str(device)
        return self


class NetworkExtractor(EmbeddingExtractor):
    """An extractor around a PyTorch network and its feature extractor: device moves and the weights' hash."""

    def __init__(self, name: str, model: torch.nn.Module, feature_extractor):
        self.name = name
        self.model = model.eval()
        self.feature_extractor = feature_extractor
        self.device = str(next(model.parameters()).device)
        self._fingerprint: str | None = None

    def to(self, device):
        self.model.to(device)
        self.device = str(device)
        return self

    def extra_config(self) -> dict:
        """What else changes the output, besides the model config, the feature extractor and the weights."""
        return {}

    def cache_config(self) -> dict:
        from ser_hf.models.weights import weights_fingerprint

        if self._fingerprint is None:
            self._fingerprint = weights_fingerprint(self.model)
        return {"name": self.name, "model_config": self.model.config.to_diff_dict(),
                "feature_extractor": self.feature_extractor.to_dict(), "weights": self._fingerprint,
                **self.extra_config()}


class TorchPatchExtractor(NetworkExtractor):
    """A log-mel patch network (VGGish, YAMNet): patches of a batch of files go through the model as one tensor."""

    def __init__(self, name: str, model: torch.nn.Module, feature_extractor, max_patches_per_forward: int = 256):
        super().__init__(name, model, feature_extractor)
        self.sampling_rate = feature_extractor.sampling_rate
        self.max_patches_per_forward = max_patches_per_forward

    @torch.inference_mode()
    def embed(self, waves: Sequence[np.ndarray]) -> list[np.ndarray]:
        # The front end runs where the network does (on a GPU too): waveforms go over as tensors.
        batch = self.feature_extractor([torch.as_tensor(np.asarray(w, dtype=np.float32)).to(self.device)
                                        for w in waves], return_tensors="pt")
        patches, counts = batch["input_features"], batch["patch_counts"].tolist()
        outputs = []
        for start in range(0, patches.shape[0], self.max_patches_per_forward):
            chunk = patches[start : start + self.max_patches_per_forward].to(self.device)
            outputs.append(self.model(input_features=chunk).embeddings.float().cpu())
        rows = torch.cat(outputs).numpy() if outputs else np.zeros((0, self.model.config.embedding_size), np.float32)
        return np.split(rows, np.cumsum(counts)[:-1])


@dataclass
class Embeddings:
    """Embedding rows and, for each, the dataset row (file) it came from."""

    features: np.ndarray  # (rows, dim) float32
    file_index: np.ndarray  # (rows,) int64; arange(files) for mean pooling
    pooling: str
    extractor: str
    seconds: float = 0.0  # extraction time (0 when read from the cache)
    from_cache: bool = False

    @property
    def dim(self) -> int:
        return int(self.features.shape[1])

    def row_labels(self, file_labels: Sequence[int]) -> np.ndarray:
        """Per-row labels from per-file labels."""
        return np.asarray(file_labels)[self.file_index]


def pool_per_file(row_values: np.ndarray, file_index: np.ndarray, num_files: int) -> np.ndarray:
    """Mean of the rows of each file (e.g. frame probabilities -> file probabilities); files without rows get NaN."""
    row_values = np.asarray(row_values, dtype=np.float64)
    sums = np.zeros((num_files, row_values.shape[1]))
    np.add.at(sums, file_index, row_values)
    counts = np.bincount(file_index, minlength=num_files)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def dataset_key(dataset: datasets.Dataset, audio_column: str = "audio") -> str:
    """What identifies the audio of ``dataset``, in order: its ``content_hash`` column, else its fingerprint."""
    if "content_hash" in dataset.column_names:
        digest = xxhash.xxh3_128()
        for value in dataset["content_hash"]:
            digest.update(str(value).encode() + b"\n")
        return "content:" + digest.hexdigest()
    return f"fingerprint:{dataset._fingerprint}:{audio_column}"


def _stored_audio(dataset: datasets.Dataset, audio_column: str) -> datasets.Dataset:
    """The audio column alone, undecoded (WAV bytes or paths)."""
    feature = dataset.features.get(audio_column)
    if feature is None:
        raise ValueError(f"dataset has no {audio_column!r} column (columns: {dataset.column_names})")
    raw = dataset.select_columns([audio_column])
    if isinstance(feature, datasets.Audio):
        raw = raw.cast_column(audio_column, datasets.Audio(decode=False))
    return raw


def file_keys(dataset: datasets.Dataset, audio_column: str = "audio", batch_size: int = 256) -> list[str]:
    """One key per row: a hash of the row's stored audio (its WAV bytes, or path, size and mtime for path-only rows).

    The bytes, not the ``content_hash`` column: augmented copies keep their original's ``content_hash``.
    Hashing runs at memory speed (a 10,000-file corpus in well under a second).
    """
    raw = _stored_audio(dataset, audio_column)
    keys = []
    for batch in raw.iter(batch_size=batch_size):
        for item in batch[audio_column]:
            if item.get("bytes") is not None:
                keys.append(xxhash.xxh3_128_hexdigest(item["bytes"]))
            else:
                stat = os.stat(item["path"])
                keys.append(xxhash.xxh3_128_hexdigest(f"{os.path.abspath(item['path'])}:{stat.st_size}:{stat.st_mtime_ns}"))
    return keys


def cache_folder(cache_dir: str | Path, extractor: EmbeddingExtractor, pooling: str) -> Path:
    """The folder of one extractor configuration and pooling: a ``.npy`` per file, named by :func:`file_keys`."""
    payload = {"format": CACHE_FORMAT, "pooling": pooling, "extractor": extractor.cache_config()}
    key = xxhash.xxh3_128_hexdigest(json.dumps(payload, sort_keys=True, default=str).encode())
    return Path(cache_dir) / f"{extractor.name.replace('/', '_')}-{pooling}-{key[:20]}"


def _iter_waves(dataset: datasets.Dataset, audio_column: str, batch_size: int, sampling_rate: int):
    from ser_hf.data.audio import decode_wav_bytes, read_audio

    raw = _stored_audio(dataset, audio_column)
    for batch in raw.iter(batch_size=batch_size):
        waves = []
        for item in batch[audio_column]:
            if item.get("bytes") is not None:
                wave, sr = decode_wav_bytes(item["bytes"])
            else:
                wave, sr = read_audio(item["path"], None)
            if sr != sampling_rate:
                import soxr

                wave = soxr.resample(wave, sr, sampling_rate, quality="HQ").astype(np.float32)
            waves.append(wave)
        yield waves


PARALLEL_MIN_FILES = 64  # below this, starting the workers (each imports numpy, torch, librosa...) costs more
_worker_extractor: EmbeddingExtractor | None = None


def default_num_workers() -> int:
    """The CPUs this process may run on."""
    return available_cpus()


def _init_worker(extractor: EmbeddingExtractor) -> None:
    """A worker: one BLAS/OpenMP thread (the workers are the parallelism), and the extractor it runs."""
    from threadpoolctl import threadpool_limits

    global _worker_extractor
    threadpool_limits(1)
    torch.set_num_threads(1)
    _worker_extractor = extractor


def _embed_in_worker(waves: list[np.ndarray]) -> list[np.ndarray]:
    return _worker_extractor.embed(waves)


def _embedded_batches(extractor: EmbeddingExtractor, dataset: datasets.Dataset, audio_column: str, batch_size: int,
                      num_workers: int):
    """``extractor.embed`` of every file of ``dataset``, a list per batch, in row order; with ``num_workers`` > 1
    the batches (smaller ones, so every worker gets several) run in a pool of processes, the decoding here.

    Linux forks the workers, as torch's DataLoader and ``datasets.map(num_proc)`` do: no start-up cost and no
    ``if __name__ == "__main__"`` needed in the calling script; elsewhere they are spawned (the extractor pickled)."""
    if num_workers <= 1:
        for waves in _iter_waves(dataset, audio_column, batch_size, extractor.sampling_rate):
            yield extractor.embed(waves)
        return
    import collections
    import multiprocessing
    import sys
    from concurrent.futures import ProcessPoolExecutor

    chunk = max(1, min(batch_size, len(dataset) // (4 * num_workers)))
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with ProcessPoolExecutor(num_workers, mp_context=context, initializer=_init_worker, initargs=(extractor,)) as pool:
        pending: collections.deque = collections.deque()
        for waves in _iter_waves(dataset, audio_column, chunk, extractor.sampling_rate):
            pending.append(pool.submit(_embed_in_worker, waves))
            while len(pending) > 4 * num_workers:  # bounded read-ahead: decoded audio waits in memory
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


ENTRY_MAGIC = b"SERHFx64"  # after an entry's .npy bytes: this, then the xxh3-64 of those bytes


def _save_npy(path: Path, array: np.ndarray) -> None:
    """One cache entry: the array as .npy bytes, then a checksum trailer (``np.load`` reads the array and ignores
    it). Written under ``<name>.partial-<host>-<pid>`` and renamed: a reader never sees half a file, two writers on
    one shared cache never clash; a write that runs out of space leaves no partial and raises one line."""
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    data = buffer.getbuffer()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(owned_name(path.name))
    try:
        with storage_guard(partial, "writing the embedding cache", "earlier entries of the cache are intact"):
            with open(partial, "wb") as fh:
                fh.write(data)
                fh.write(ENTRY_MAGIC + bytes_digest(data))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)


def _load_npy(path: Path) -> np.ndarray | None:
    """A cache entry's array, or None when there is none; a truncated or altered one is reported and left to be
    extracted again (never used)."""
    import io

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    body, magic, digest = data[:-16], data[-16:-8], data[-8:]
    if magic == ENTRY_MAGIC and bytes_digest(body) == digest:
        try:
            return np.load(io.BytesIO(body), allow_pickle=False)
        except ValueError:
            pass
    logger.warning("embedding cache entry %s is corrupt (%s): extracting it again", path,
                   "truncated" if magic != ENTRY_MAGIC else "checksum mismatch")
    return None


def remove_stale_partials(folders) -> None:
    """Remove the partial entries that killed writers left (this host's dead processes; any host's after 10 min)."""
    for folder in folders:
        for path in stale_owned(folder):
            path.unlink(missing_ok=True)


def distributed_state():
    """accelerate's process state when this process is one of several (``accelerate launch`` / torchrun, with the
    process group already formed, e.g. by ``TrainingArguments``), else None: extraction then runs alone."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return None
    from accelerate import PartialState

    return PartialState()


def _entry(folder: Path, key: str) -> Path:
    """Where one file's embedding lives in the cache folder of its extractor configuration."""
    return folder / key[:2] / f"{key}.npy"


def _gather_shards(per_file: list, missing: list[int], mine: list[int], keys: list[str], folder: Path,
                   use_cache: bool, state) -> None:
    """Fill ``per_file`` with the rows the other processes extracted: from the shared per-file cache once every
    process has written its shard, or, when a process cannot read them there (no cache, or a node-local cache),
    by an all-gather of the arrays. Every process takes the same branch: the decision is gathered first."""
    from accelerate.utils import gather_object

    guards.barrier("embeddings extracted")  # every shard is in the cache now (on a file, however long it took)
    unread = []
    if use_cache:
        for row in missing:
            if per_file[row] is None:
                per_file[row] = _load_npy(_entry(folder, keys[row]))
                if per_file[row] is None:
                    unread.append(row)
    if not use_cache or any(gather_object([len(unread)])):
        if use_cache:
            logger.info("other processes' embeddings not in this process's cache %s (node-local?): gathered instead", folder)
        for row, frames in gather_object([(row, per_file[row]) for row in mine]):
            per_file[row] = frames


def extract(
    dataset: datasets.Dataset,
    extractor: EmbeddingExtractor,
    cache_dir: str | Path | None = None,
    batch_size: int = 16,
    pooling: str = "mean",
    device: str | None = None,
    use_cache: bool = True,
    audio_column: str = "audio",
    progress: bool = True,
    distributed: bool | None = None,
    num_workers: int | None = None,
) -> Embeddings:
    """Embeddings of every file of ``dataset`` (in row order); files already in the cache are not extracted again.

    The cache holds one entry per file, keyed by the file's audio (:func:`file_keys`), the extractor's full
    configuration (weights included) and the pooling, so every fold of a cross-validation, every recipe and every
    later run over the same files reuses it: a 10-fold run costs one extraction.

    Args:
        dataset: rows with an ``audio`` column (``datasets.Audio``; WAV bytes are decoded with soundfile,
            resampled to the extractor's rate if needed).
        extractor: an :class:`EmbeddingExtractor` (see :func:`build_extractor`).
        cache_dir: cache folder (default ``$SER_HF_CACHE/embeddings``).
        batch_size: files per forward pass.
        pooling: ``"mean"`` (one row per file) or ``"frames"`` (one row per frame, with ``file_index``).
        device: where the network runs (default: CUDA when present, else CPU).
        use_cache: read and write the cache (False: always compute, write nothing).
        distributed: None: shard across processes when several are launched (below); False: this process alone
            (e.g. the main process after the others extracted their shards into the cache).
        num_workers: processes for a per-file CPU extractor (openSMILE, MFCC; ``per_file_cpu``): None: one per
            CPU this process may use (:func:`default_num_workers`) when at least ``PARALLEL_MIN_FILES`` files are
            to be extracted and this process is not one of several launched; 0 or 1: in this process. Results are
            the same, in row order. Network extractors always run here (batched on the device).

    Launched as several processes (``accelerate launch``, torchrun), each process extracts a contiguous shard of
    the files missing from the cache, on its own device, writes them to the per-file cache, and reads the others'
    back from it (a shared cache folder; otherwise the arrays are all-gathered): every process returns the same
    embeddings, in row order, as one process would.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if cache_dir is None:
        from ser_hf.models.weights import cache_root

        cache_dir = cache_root() / "embeddings"
    keys = file_keys(dataset, audio_column)
    folder = cache_folder(cache_dir, extractor, pooling)
    per_file: list[np.ndarray | None] = [None] * len(dataset)
    missing = list(range(len(dataset)))
    if use_cache:
        missing = []
        for i, key in enumerate(keys):
            per_file[i] = _load_npy(_entry(folder, key))
            if per_file[i] is None:
                missing.append(i)
    state = distributed_state() if distributed is not False else None
    if state is not None:
        # Every process must shard the same list: the main process's view of the cache decides.
        from accelerate.utils import broadcast_object_list

        missing = broadcast_object_list([missing])[0]
    mine = missing
    if state is not None:  # contiguous shares in rank order: concatenated they are `missing` again
        with state.split_between_processes(missing) as share:
            mine = list(share)

    start = time.perf_counter()
    if mine:
        extractor.to(device or (str(state.device) if state is not None else default_device()))
        todo = dataset if len(mine) == len(dataset) else dataset.select(mine)
        empty: list[int] = []
        bar = tqdm(total=len(mine), desc=f"{extractor.name} embeddings", unit="file", disable=not progress)
        workers = 1
        if extractor.per_file_cpu:
            workers = num_workers if num_workers is not None else \
                (default_num_workers() if state is None and len(mine) >= PARALLEL_MIN_FILES else 1)
            workers = max(1, min(workers, len(mine)))
        position = 0
        for embedded in _embedded_batches(extractor, todo, audio_column, batch_size, workers):
            for frames in embedded:
                row = mine[position]
                frames = np.asarray(frames, dtype=np.float32)
                if frames.shape[0] == 0:
                    empty.append(row)
                per_file[row] = frames.mean(axis=0, keepdims=True) if pooling == "mean" and len(frames) else frames
                position += 1
            bar.update(len(embedded))
        bar.close()
        if empty:
            names = dataset.select(empty[:5])["path"] if "path" in dataset.column_names else empty[:5]
            message = (f"{extractor.name}: {len(empty)} file(s) gave no frame (too short for one patch?), e.g. {names}; "
                       "use a front end that pads short files (pad_mode='minimum') or drop them")
            if pooling == "mean":
                raise ValueError(message)
            logger.warning(message)
        if use_cache:
            if not (folder / "config.json").is_file():
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "config.json").write_text(json.dumps(
                    {"pooling": pooling, "extractor": extractor.cache_config()}, indent=1, default=str))
            remove_stale_partials({_entry(folder, keys[row]).parent for row in mine})
            for row in mine:
                _save_npy(_entry(folder, keys[row]), per_file[row])
    if state is not None and missing:
        _gather_shards(per_file, missing, mine, keys, folder, use_cache, state)
    seconds = time.perf_counter() - start if missing else 0.0

    rows = [a for a in per_file if a is not None and len(a)]
    features = np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, 0), np.float32)
    file_index = np.concatenate([np.full(len(a), i) for i, a in enumerate(per_file) if a is not None and len(a)]
                                ).astype(np.int64) if rows else np.zeros(0, np.int64)
    if missing:
        shard = f", {len(mine)} by this process of {state.num_processes}" if state is not None else ""
        logger.info("%s: %d of %d files extracted (%d from the cache%s) -> %s in %.1f s", extractor.name, len(missing),
                    len(dataset), len(dataset) - len(missing), shard, features.shape, seconds)
    else:
        logger.info("%s embeddings of %d files from the cache %s", extractor.name, len(dataset), folder)
    return Embeddings(features, file_index, pooling, extractor.name, seconds=seconds, from_cache=not missing)


# for messages and docs: the registry's names, the hf: prefix spelled out
EXTRACTOR_NAMES = tuple(name + "<model id or folder>" if name.endswith(":") else name for name in EXTRACTORS)


def build_extractor(name: str, **kwargs) -> EmbeddingExtractor:
    """An extractor by name, from :data:`ser_hf.registry.EXTRACTORS`; ``kwargs`` go to its constructor
    (e.g. ``weights=``, ``random_weights=True``, ``layer=``).

    ``vggish`` / ``yamnet`` load the published weights (see :mod:`ser_hf.models.vggish`); ``egemaps`` /
    ``compare`` are openSMILE functionals; ``mfcc`` MFCC statistics; ``hf:ID`` any Hugging Face audio encoder.
    """
    from ser_hf.registry import EXTRACTORS, lookup

    builder = lookup(EXTRACTORS, name, "extractor")
    if name.startswith("hf:"):
        return builder(model=name[3:], **kwargs)
    return builder(**kwargs)
