"""A prepared corpus larger than one disk: Parquet shards, pushed as a Hub dataset, read back streamed.

``write_parquet_shards`` writes each split as ``data/<split>-00000-of-0000N.parquet`` (the Hub's own layout, so
``load_dataset(repo_id)`` finds the splits with no loading script; the ``ClassLabel`` and ``Audio`` features ride in
the Parquet schema). ``push_parquet_shards`` uploads that folder as a dataset repository. ``stream_split`` reads one
split back with ``load_dataset(..., streaming=True)``: nothing is downloaded or decoded ahead, rows arrive shard
by shard. Spread over processes with ``datasets.distributed.split_dataset_by_node`` (or accelerate, which shards a
streamed dataset by whole files the same way when it has at least as many shards as processes), each process
reads only its own shards: one epoch sees every row exactly once across processes when the shard count is a
multiple of the process count. Length grouping works per buffer of rows (sorted by ``duration``, cut into
batches, batch order shuffled): a streamed corpus has no global length list to sort.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import datasets
import numpy as np

logger = logging.getLogger(__name__)


def shard_name(split: str, index: int, num_shards: int) -> str:
    return f"{split}-{index:05d}-of-{num_shards:05d}.parquet"


def write_parquet_shards(splits: datasets.DatasetDict, folder: str | Path, num_shards: int = 0,
                         max_rows_per_shard: int = 2000) -> dict[str, list[Path]]:
    """Each split as contiguous Parquet shards under ``folder/data``; ``num_shards`` = 0 picks
    ``ceil(rows / max_rows_per_shard)`` per split (2000 clips of a few seconds of 16-kHz WAV: ~250 MB a shard)."""
    if num_shards < 0 or max_rows_per_shard < 1:
        raise ValueError(f"num_shards must be >= 0 and max_rows_per_shard >= 1, got {num_shards}, {max_rows_per_shard}")
    data = Path(folder) / "data"
    data.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {}
    for split, ds in splits.items():
        n = num_shards or max(1, math.ceil(len(ds) / max_rows_per_shard))
        if n > len(ds):
            raise ValueError(f"{split}: {n} shards for {len(ds)} rows; at most one shard per row")
        for stale in data.glob(f"{split}-*.parquet"):  # a rewrite with another shard count leaves no orphan
            stale.unlink()
        written[split] = []
        for i in range(n):
            path = data / shard_name(split, i, n)
            ds.shard(n, i, contiguous=True).to_parquet(str(path))
            written[split].append(path)
        logger.info("%s: %d rows in %d Parquet shard(s) under %s", split, len(ds), n, data)
    return written


def push_parquet_shards(folder: str | Path, repo_id: str, private: bool = True, api=None) -> str:
    """Upload a :func:`write_parquet_shards` folder as the Hub dataset ``repo_id``; returns the commit URL."""
    from huggingface_hub import HfApi

    folder = Path(folder)
    if not any((folder / "data").glob("*.parquet")):
        raise FileNotFoundError(f"{folder / 'data'}: no Parquet shards (write them with write_parquet_shards)")
    api = api or HfApi()
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    commit = api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=str(folder),
                               allow_patterns=["data/*.parquet", "README.md", "report.json", "preparation.json"],
                               commit_message=f"ser-hf prepared corpus ({len(list((folder / 'data').glob('*.parquet')))} shards)")
    return str(getattr(commit, "commit_url", commit))


def group_by_length_in_buffer(batch: dict, batch_size: int, seed: int) -> dict:
    """One buffer of rows (a batched ``map``), reordered: sorted by ``duration``, cut into batches of
    ``batch_size``, batch order shuffled (so the epoch does not run from short to long clips)."""
    order = np.argsort(np.asarray(batch["duration"], dtype=np.float64), kind="stable")
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    # The seed mixes in the buffer's first duration: buffers differ, and a rerun gives the same order.
    rng = np.random.default_rng([seed, int(1000 * float(batch["duration"][0]))])
    order = np.concatenate([chunks[i] for i in rng.permutation(len(chunks))]) if chunks else order
    return {key: [values[i] for i in order] for key, values in batch.items()}


def stream_split(source: str | Path, split: str = "train", buffer_size: int = 0, batch_size: int = 8,
                 seed: int = 42) -> datasets.IterableDataset:
    """One split of a sharded prepared corpus, streamed: a :func:`write_parquet_shards` folder or a Hub dataset id.

    ``buffer_size`` > 0 groups rows by ``duration`` within each buffer of that many rows (a multiple of
    ``batch_size``, so batches never straddle buffers). The result keeps one shard per Parquet file, so
    ``split_dataset_by_node`` hands each process whole files.
    """
    local = Path(source)
    if local.is_dir():
        files = sorted(str(p) for p in (local / "data").glob(f"{split}-*.parquet"))
        if not files:
            raise FileNotFoundError(f"{local / 'data'}: no {split}-*.parquet shards")
        ds = datasets.load_dataset("parquet", data_files={split: files}, split=split, streaming=True)
    else:
        ds = datasets.load_dataset(str(source), split=split, streaming=True)
    for name, feature in (ds.features or {}).items():
        if isinstance(feature, datasets.Audio) and feature.decode:
            # WAV bytes stay bytes (the collator decodes them); a map would otherwise hand on decoded audio objects.
            ds = ds.cast_column(name, datasets.Audio(sampling_rate=feature.sampling_rate, decode=False))
    if buffer_size:
        if buffer_size % batch_size:
            raise ValueError(f"buffer_size ({buffer_size}) must be a multiple of batch_size ({batch_size})")
        if "duration" not in (ds.column_names or []):
            raise ValueError(f"{source}: split {split} has no duration column to group by")
        ds = ds.map(group_by_length_in_buffer, batched=True, batch_size=buffer_size,
                    fn_kwargs={"batch_size": batch_size, "seed": seed}, features=ds.features)  # rows reordered only
    return ds
