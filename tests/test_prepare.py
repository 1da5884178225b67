"""Decoding a corpus: bad files reported and skipped, rates and channels normalised, caching, no writes."""

import os
from pathlib import Path

import datasets
import numpy as np
import pytest

from ser_hf.data.corpora import CORPORA, load_corpus
from ser_hf.data.prepare import FEATURES, prepare_corpus

from .conftest import write_tone


def tree_state(root: Path) -> dict:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


@pytest.fixture
def messy_ravdess(tmp_path) -> Path:
    root = tmp_path / "RAVDESS"
    write_tone(root / "Actor_01/03-01-05-01-01-01-01.wav", sr=48000)
    write_tone(root / "Actor_01/03-01-05-01-01-02-01.wav", sr=44100, channels=2)  # stereo, odd rate
    write_tone(root / "Actor_02/03-01-03-01-01-01-02.wav", sr=16000, subtype="FLOAT")
    write_tone(root / "Actor_02/03-01-04-01-01-01-02.wav", sr=8000, freq=300)
    (root / "Actor_01/03-01-06-01-01-01-01.wav").write_bytes(b"")  # empty
    (root / "Actor_01/03-01-07-01-01-01-01.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage")  # corrupt
    (root / "Actor_02/03-01-08-01-01-01-02.wav").write_text("<html>not audio</html>")  # not audio
    write_tone(root / "Actor_02/03-01-01-01-01-01-02.wav", seconds=0.5, silence=0.0, freq=0.0)  # all zeros
    write_tone(root / "Actor_02/readme.wav")  # name does not parse
    (root / "Actor_02/notes.txt").write_text("not a wav")  # ignored: not an audio suffix
    return root


def test_bad_files_are_reported_and_the_rest_kept(messy_ravdess, tmp_path):
    before = tree_state(messy_ravdess)
    ds, report = prepare_corpus(CORPORA["ravdess"], messy_ravdess, cache_dir=tmp_path / "cache")
    assert tree_state(messy_ravdess) == before  # nothing in the user's folder changed
    assert report.found == 9 and report.kept == 4 and len(ds) == 4
    failed = {Path(p).name: why for p, why in report.failed}
    assert failed["03-01-06-01-01-01-01.wav"].startswith("empty file")
    assert failed["03-01-07-01-01-01-01.wav"].startswith("not readable as audio")
    assert failed["03-01-08-01-01-01-02.wav"].startswith("not readable as audio")
    assert failed["03-01-01-01-01-01-02.wav"].startswith("no signal")
    assert [Path(p).name for p, _ in report.skipped] == ["readme.wav"]
    assert ds.features == FEATURES
    for row in ds.cast_column("audio", datasets.Audio(decode=False)):
        from ser_hf.data.audio import decode_wav_bytes

        wave, sr = decode_wav_bytes(row["audio"]["bytes"])
        assert sr == 16000 and wave.ndim == 1
        assert abs(len(wave) / sr - row["duration"]) < 1e-6
        assert 1.0 <= row["duration"] <= 1.0 + 2 * 2048 / 16000  # silence trimmed to within frames
    # The standard datasets decode path (torchcodec) reads the same column.
    decoded = ds[0]["audio"]
    assert decoded["sampling_rate"] == 16000 and decoded["array"].ndim == 1


def test_results_are_cached_and_invalidated_by_changes(messy_ravdess, tmp_path):
    cache = tmp_path / "cache"
    ds1, _ = prepare_corpus(CORPORA["ravdess"], messy_ravdess, cache_dir=cache)
    entries = list((cache / "prepared").iterdir())
    ds2, _ = prepare_corpus(CORPORA["ravdess"], messy_ravdess, cache_dir=cache)
    assert list((cache / "prepared").iterdir()) == entries and ds2["content_hash"] == ds1["content_hash"]
    write_tone(messy_ravdess / "Actor_03/03-01-05-01-01-01-03.wav")
    ds3, report = prepare_corpus(CORPORA["ravdess"], messy_ravdess, cache_dir=cache)
    assert len(ds3) == len(ds1) + 1 and len(list((cache / "prepared").iterdir())) == 2


def test_parallel_decoding_gives_the_same_rows(messy_ravdess, tmp_path):
    one, _ = prepare_corpus(CORPORA["ravdess"], messy_ravdess, num_proc=1, cache_dir=tmp_path / "a")
    two, report = prepare_corpus(CORPORA["ravdess"], messy_ravdess, num_proc=2, cache_dir=tmp_path / "b")
    assert one["content_hash"] == two["content_hash"] and len(report.failed) == 4


def test_load_corpus_columns_and_global_speakers(messy_ravdess):
    ds = load_corpus("ravdess", messy_ravdess, label_set="seven")
    assert set(ds.column_names) == set(FEATURES) | {"label"}
    assert set(ds["speaker"]) == {"ravdess:01", "ravdess:02"}
    assert set(ds["corpus"]) == {"ravdess"} and set(ds["language"]) == {"en"}
    names = ds.features["label"].names
    assert sorted(names[i] for i in ds["label"]) == sorted(["angry", "angry", "happy", "sad"])


def test_identical_audio_under_two_names_shares_a_hash(tmp_path):
    root = tmp_path / "r"
    write_tone(root / "Actor_01/03-01-05-01-01-01-01.wav")
    os.makedirs(root / "Actor_03")
    (root / "Actor_03/03-01-05-01-01-01-03.wav").write_bytes((root / "Actor_01/03-01-05-01-01-01-01.wav").read_bytes())
    ds, _ = prepare_corpus(CORPORA["ravdess"], root, cache_dir=tmp_path / "c")
    assert len(set(ds["content_hash"])) == 1 and len(ds) == 2
    assert np.unique(ds["speaker"]).tolist() == ["ravdess:01", "ravdess:03"]
