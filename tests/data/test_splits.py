from collections import Counter

import datasets
import numpy as np
import pytest

from ser_hf.data.splits import (
    fold_split,
    leakage_report,
    leave_one_speaker_out,
    make_splits,
    ratio_split,
    speaker_kfold,
    speaker_split,
)


def fake_corpus(n_speakers=12, per_class=(30, 20, 10, 25), corpus="c", seed=0) -> datasets.Dataset:
    """Rows spread over speakers; labels imbalanced; every row has its own content hash."""
    rng = np.random.default_rng(seed)
    rows = {"label": [], "speaker": [], "gender": [], "corpus": [], "content_hash": [], "sentence": []}
    for label, n in enumerate(per_class):
        for i in range(n * n_speakers // 4):
            spk = int(rng.integers(n_speakers))
            rows["label"].append(label)
            rows["speaker"].append(f"{corpus}:{spk:02d}")
            rows["gender"].append("male" if spk % 2 else "female")
            rows["corpus"].append(corpus)
            rows["content_hash"].append(f"{corpus}-{label}-{i}")
            rows["sentence"].append(f"s{i % 5}")
    return datasets.Dataset.from_dict(rows)


@pytest.mark.parametrize("ratios", [(0.7, 0.1, 0.2), (0.8, 0.2), (0.7, 0.15, 0.15)])
def test_ratio_split_is_stratified_within_one_file_per_class(ratios):
    ds = fake_corpus()
    dd = ratio_split(ds, ratios, seed=1)
    assert sum(len(p) for p in dd.values()) == len(ds)
    totals = Counter(ds["label"])
    for part, ratio in zip(dd, ratios):
        counts = Counter(dd[part]["label"])
        for label, n in totals.items():
            assert abs(counts[label] - n * ratio) <= 1, (part, label)


def test_ratio_split_is_reproducible_and_seed_dependent():
    ds = fake_corpus()
    a, b, c = (ratio_split(ds, seed=s)["test"]["content_hash"] for s in (3, 3, 4))
    assert a == b and a != c


def test_speaker_split_shares_no_speaker_and_balances_genders():
    ds = datasets.concatenate_datasets([fake_corpus(corpus="a"), fake_corpus(n_speakers=8, corpus="b", seed=1)])
    dd = speaker_split(ds, (0.7, 0.1, 0.2), seed=0)
    report = leakage_report(dd)
    assert report["speaker_independent"]
    for pair in report["pairs"].values():
        assert pair["shared_speakers"] == 0
    for part in dd.values():
        assert set(part["corpus"]) == {"a", "b"}  # every corpus reaches every part
        assert set(part["gender"]) == {"male", "female"}


def test_two_speaker_corpus_warns(caplog):
    ds = fake_corpus(n_speakers=2, corpus="tess")
    dd = speaker_split(ds, (0.7, 0.1, 0.2))
    assert "speaker-independent" in caplog.text and "tess" in caplog.text
    assert any("tess has 2 speaker" in w for w in leakage_report(dd)["warnings"])
    with pytest.raises(ValueError, match="at least 5 speakers"):
        speaker_kfold(ds, 5)


def test_speaker_kfold_folds_are_disjoint_and_cover_everything():
    ds = speaker_kfold(fake_corpus(n_speakers=20), k=5, seed=0)
    folds = np.asarray(ds["fold"])
    assert set(folds.tolist()) == set(range(5))
    speakers_of = {f: set(np.asarray(ds["speaker"])[folds == f]) for f in range(5)}
    for f in range(5):
        for g in range(f + 1, 5):
            assert not speakers_of[f] & speakers_of[g]
    dd = fold_split(ds, test_fold=0, validation_fold=1)
    assert leakage_report(dd)["speaker_independent"]
    assert sum(len(p) for p in dd.values()) == len(ds)
    # Stored, so re-running gives the same folds.
    assert speaker_kfold(fake_corpus(n_speakers=20), k=5, seed=0)["fold"] == ds["fold"]


def test_loso_one_speaker_per_fold():
    ds = leave_one_speaker_out(fake_corpus(n_speakers=4))
    for fold in range(4):
        dd = fold_split(ds, fold)
        assert len(set(dd["test"]["speaker"])) == 1
        assert not set(dd["test"]["speaker"]) & set(dd["train"]["speaker"])


def test_leakage_report_finds_identical_audio_and_shared_speakers():
    ds = fake_corpus()
    dd = ratio_split(ds)
    test = dd["test"]
    dup = test.select([0]).map(lambda r: {"speaker": r["speaker"]})
    dd["train"] = datasets.concatenate_datasets([dd["train"], dup])
    report = leakage_report(dd)
    assert report["pairs"]["train/test"]["identical_audio"] == 1
    assert not report["speaker_independent"]
    assert any("identical" in w for w in report["warnings"])


def test_make_splits_protocols():
    ds = fake_corpus(n_speakers=10)
    assert list(make_splits(ds, "seed003")) == ["train", "validation", "test"]
    assert list(make_splits(ds, "seed000")) == ["train", "test"]
    assert list(make_splits(ds, "kfold:5:0:1")) == ["train", "validation", "test"]
    assert leakage_report(make_splits(ds, "loso:3"))["speaker_independent"]
    with pytest.raises(ValueError, match="unknown split protocol"):
        make_splits(ds, "random")
