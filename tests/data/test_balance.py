"""Class balancing of the training part: harmonic (seed 003), under/oversampling (seed 004), class weights."""

from __future__ import annotations

from collections import Counter

import datasets
import numpy as np
import pytest

from ser_hf.registry import BALANCE_METHODS
from ser_hf.data.audio import encode_wav
from ser_hf.data.balance import (
    balance,
    class_counts,
    class_weights,
    harmonic_mean_count,
    resample_indices,
)

NAMES = ["angry", "happy", "sad", "surprise"]
COUNTS = [9, 5, 2, 0]  # surprise absent, as in a corpus without it


def labelled(counts=COUNTS, with_audio: bool = False) -> datasets.Dataset:
    labels = [c for c, n in enumerate(counts) for _ in range(n)]
    data = {"label": labels, "row": list(range(len(labels)))}
    features = {"label": datasets.ClassLabel(names=NAMES), "row": datasets.Value("int64")}
    if with_audio:
        sr = 16000
        data["audio"] = [{"bytes": encode_wav(0.3 * np.sin(2 * np.pi * (150 + 10 * i) * np.arange(sr // 4) / sr), sr),
                          "path": None} for i in range(len(labels))]
        data["duration"] = [0.25] * len(labels)
        features.update(audio=datasets.Audio(sampling_rate=sr), duration=datasets.Value("float32"))
    return datasets.Dataset.from_dict(data, features=datasets.Features(features))


def test_class_counts_by_name_including_empty_classes():
    assert class_counts(labelled()) == {"angry": 9, "happy": 5, "sad": 2, "surprise": 0}


def test_harmonic_balancing_gives_every_class_round_h_rows():
    h = harmonic_mean_count([9, 5, 2])
    assert h == pytest.approx(3 / (1 / 9 + 1 / 5 + 1 / 2))  # 3.699
    out = balance(labelled(), "harmonic", seed=0)
    assert class_counts(out) == {"angry": 4, "happy": 4, "sad": 4, "surprise": 0}
    rows_by_class = {c: [r for r, lab in zip(out["row"], out["label"]) if lab == c] for c in range(3)}
    # classes above H lose rows (no repeats); the class below H keeps all its rows and repeats some
    assert len(set(rows_by_class[0])) == 4 and len(set(rows_by_class[1])) == 4
    assert set(rows_by_class[2]) == {14, 15}
    assert Counter(rows_by_class[2]) == {14: 2, 15: 2}  # cycled: each row once before any twice


def test_undersample_to_smallest_and_oversample_to_largest():
    under = balance(labelled(), "undersample", seed=0)
    assert class_counts(under) == {"angry": 2, "happy": 2, "sad": 2, "surprise": 0}
    assert len(set(under["row"])) == len(under)  # no repeats
    over = balance(labelled(), "oversample", seed=0)
    assert class_counts(over) == {"angry": 9, "happy": 9, "sad": 9, "surprise": 0}
    assert set(over["row"]) == set(range(16))  # every original row kept
    assert "augmented" not in over.column_names  # plain repeats without a preset


def test_balancing_is_seeded():
    assert list(balance(labelled(), "harmonic", seed=1)["row"]) == list(balance(labelled(), "harmonic", seed=1)["row"])
    assert list(balance(labelled(), "harmonic", seed=1)["row"]) != list(balance(labelled(), "harmonic", seed=2)["row"])


def test_oversample_with_seed004_augments_the_added_rows_only():
    ds = labelled([4, 2, 1, 0], with_audio=True)
    out = balance(ds, "oversample", seed=0, augment_preset="seed004")
    assert class_counts(out) == {"angry": 4, "happy": 4, "sad": 4, "surprise": 0}
    assert list(out["augmented"]) == [False] * 7 + [True] * 5
    raw = out.cast_column("audio", datasets.Audio(decode=False))
    original = {a["bytes"] for a in ds.cast_column("audio", datasets.Audio(decode=False))["audio"]}
    assert all(a["bytes"] in original for a in raw["audio"][:7])
    assert not any(a["bytes"] in original for a in raw["audio"][7:])
    assert out.features["audio"] == ds.features["audio"]


def test_none_and_class_weights_leave_the_data_alone_and_unknown_methods_fail():
    ds = labelled()
    for method in ("none", "class_weights"):
        assert list(balance(ds, method)["row"]) == list(ds["row"])
    with pytest.raises(ValueError, match="balancing method"):
        balance(ds, "smote")
    assert set(BALANCE_METHODS) == {"none", "harmonic", "undersample", "oversample", "class_weights"}


def test_class_weights_are_inverse_frequency_with_mean_one():
    assert class_weights([0, 0, 0, 1], 2) == pytest.approx([0.5, 1.5])
    labels = [c for c, n in enumerate(COUNTS) for _ in range(n)]
    weights = class_weights(labels, 4)
    assert weights[3] == 0.0  # absent class
    assert weights[:3].mean() == pytest.approx(1.0)
    assert weights[:3] * np.array(COUNTS[:3]) == pytest.approx(np.full(3, weights[0] * 9))  # each class weighs the same
    with pytest.raises(ValueError):
        class_weights([0, 5], 3)


def test_resample_indices_per_class():
    kept, added = resample_indices([0, 0, 0, 1], target=2, seed=0)
    assert len(kept) == 3 and 3 in kept and kept == sorted(kept)
    assert added == [3]
