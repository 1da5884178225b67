"""Prepared corpora as Parquet shards: written, pushed (offline, a recording stand-in for HfApi), streamed back,
split over processes with ``split_dataset_by_node``, grouped by length per buffer."""

from __future__ import annotations

from collections import Counter

import datasets
import numpy as np
import pytest
from datasets.distributed import split_dataset_by_node

from ser_hf.data.audio import encode_wav
from ser_hf.data.shards import push_parquet_shards, stream_split, write_parquet_shards
from ser_hf.training.trainer import padding_fraction

LABELS = ["angry", "happy", "sad"]


def corpus(n: int = 48) -> datasets.Dataset:
    rng = np.random.default_rng(0)
    durations = rng.uniform(0.5, 4.0, n).round(2)
    rows = [{"id": i, "audio": {"bytes": encode_wav(np.full(160, i / n, np.float32), 16000), "path": None},
             "label": i % 3, "duration": float(durations[i])} for i in range(n)]
    features = datasets.Features({"id": datasets.Value("int64"), "audio": datasets.Audio(),  # decoding on: streaming must still hand on bytes
                                  "label": datasets.ClassLabel(names=LABELS), "duration": datasets.Value("float64")})
    return datasets.Dataset.from_list(rows, features=features)


def test_streamed_shards_split_by_node_see_every_row_once_per_epoch(tmp_path):
    ds = corpus()
    written = write_parquet_shards(datasets.DatasetDict(train=ds, test=ds.select(range(8))), tmp_path, num_shards=4)
    assert [p.name for p in written["train"]] == [f"train-0000{i}-of-00004.parquet" for i in range(4)]
    stream = stream_split(tmp_path, "train", buffer_size=8, batch_size=4, seed=0)
    stored = ds.cast_column("audio", datasets.Audio(decode=False))
    assert stream.n_shards == 4
    assert stream.features["label"] == datasets.ClassLabel(names=LABELS)  # the label names ride in the schema
    for epoch in (0, 1):
        seen = Counter()
        for rank in (0, 1):
            node = split_dataset_by_node(stream, rank=rank, world_size=2)
            node.set_epoch(epoch)
            rows = list(node)
            assert len(rows) == 24  # two whole files each
            seen.update(r["id"] for r in rows)
            for r in rows[:3]:
                assert r["audio"]["bytes"] == stored[r["id"]]["audio"]["bytes"]  # bytes, not decoded
        assert seen == Counter(range(48)), f"epoch {epoch}: every row exactly once across the two processes"


def test_length_grouping_per_buffer_cuts_padding(tmp_path):
    ds = corpus(96)
    write_parquet_shards(datasets.DatasetDict(train=ds), tmp_path, num_shards=2)
    durations = dict(zip(ds["id"], ds["duration"]))

    def padding(stream) -> float:
        ids = [r["id"] for r in stream]
        batches = [ids[i : i + 4] for i in range(0, len(ids), 4)]
        return padding_fraction(durations, batches, 10.0, 0.5)

    grouped = stream_split(tmp_path, "train", buffer_size=48, batch_size=4)  # one buffer per shard
    plain = stream_split(tmp_path, "train")
    assert sorted(r["id"] for r in grouped) == list(range(96))  # reordered, nothing lost or repeated
    assert padding(grouped) < padding(plain) / 2, (padding(grouped), padding(plain))
    ids = [r["id"] for r in grouped]
    assert ids == [r["id"] for r in stream_split(tmp_path, "train", buffer_size=48, batch_size=4)]  # reproducible


def test_bad_shard_requests_say_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="no train-\\*.parquet shards"):
        stream_split(tmp_path, "train")
    write_parquet_shards(datasets.DatasetDict(train=corpus(8)), tmp_path, num_shards=2)
    with pytest.raises(ValueError, match="buffer_size \\(10\\) must be a multiple of batch_size \\(4\\)"):
        stream_split(tmp_path, "train", buffer_size=10, batch_size=4)
    with pytest.raises(ValueError, match="train: 9 shards for 8 rows"):
        write_parquet_shards(datasets.DatasetDict(train=corpus(8)), tmp_path, num_shards=9)


def test_push_uploads_the_shard_folder_as_a_dataset_repo(tmp_path):
    class RecordingApi:  # stands in for huggingface_hub.HfApi: no network in tests
        def __init__(self):
            self.calls = []

        def create_repo(self, repo_id, **kwargs):
            self.calls.append(("create_repo", repo_id, kwargs))

        def upload_folder(self, **kwargs):
            self.calls.append(("upload_folder", kwargs))
            return type("Commit", (), {"commit_url": f"https://huggingface.co/datasets/{kwargs['repo_id']}/commit/1"})()

    with pytest.raises(FileNotFoundError, match="no Parquet shards"):
        push_parquet_shards(tmp_path, "org/corpus", api=RecordingApi())
    write_parquet_shards(datasets.DatasetDict(train=corpus(8)), tmp_path, num_shards=2)
    api = RecordingApi()
    url = push_parquet_shards(tmp_path, "org/corpus", api=api)
    assert url.endswith("/commit/1")
    assert api.calls[0] == ("create_repo", "org/corpus", {"repo_type": "dataset", "private": True, "exist_ok": True})
    upload = api.calls[1][1]
    assert upload["repo_type"] == "dataset" and upload["folder_path"] == str(tmp_path)
    assert "data/*.parquet" in upload["allow_patterns"]


def test_data_cli_writes_parquet_shards_that_train_py_streams_and_pushes_them(tmp_path, monkeypatch, capsys):
    from ser_hf.data.cli import main
    from tests.data.test_cli import small_ravdess

    root = small_ravdess(tmp_path / "RAVDESS")
    args = ["prepare", "--corpus", "ravdess", "--root", str(root), "--split", "speaker:0.5,0.25,0.25"]
    assert main([*args, "--out", str(tmp_path / "x"), "--push-to-hub", "org/corpus"]) == 2
    assert "--push-to-hub uploads Parquet shards: add --parquet-shards N" in capsys.readouterr().err

    pushed = []
    monkeypatch.setattr("huggingface_hub.HfApi.create_repo", lambda self, repo_id, **kw: pushed.append(repo_id))
    monkeypatch.setattr("huggingface_hub.HfApi.upload_folder", lambda self, **kw: pushed.append(kw["folder_path"]) or "url")
    out = tmp_path / "shards"
    assert main([*args, "--out", str(out), "--parquet-shards", "2", "--push-to-hub", "org/corpus"]) == 0
    assert "Pushed: url" in capsys.readouterr().out and pushed == ["org/corpus", str(out.resolve())]
    assert sorted(p.name for p in (out / "data").glob("train-*.parquet")) == ["train-00000-of-00002.parquet",
                                                                              "train-00001-of-00002.parquet"]
    rows = list(stream_split(out, "train", buffer_size=4, batch_size=2))
    assert rows and {"audio", "label", "duration", "speaker"} <= set(rows[0])
    assert isinstance(rows[0]["audio"]["bytes"], bytes)
