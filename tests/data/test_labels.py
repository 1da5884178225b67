from collections import Counter

import datasets
import pytest

from ser_hf.data.labels import CANONICAL, LABEL_SETS, apply_label_set, get_label_set


def _ds(emotions):
    return datasets.Dataset.from_dict({"emotion": emotions})


def test_seven_merges_calm_into_neutral_and_counts_drops():
    ds, dropped = apply_label_set(_ds(["calm", "neutral", "angry", "boredom", "boredom", "surprise"]), "seven")
    names = ds.features["label"].names
    assert names == ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    assert [names[i] for i in ds["label"]] == ["neutral", "neutral", "angry", "surprise"]
    assert dropped == Counter({"boredom": 2})


def test_realtime4_leaves_out_neutral_and_merges_pairs():
    ds, dropped = apply_label_set(_ds(["angry", "disgust", "fear", "surprise", "happy", "sad", "neutral", "calm"]), "realtime4")
    names = ds.features["label"].names
    assert [names[i] for i in ds["label"]] == ["anger_disgust"] * 2 + ["fear_surprise"] * 2 + ["happy", "sad"]
    assert dropped == Counter({"neutral": 1, "calm": 1})


def test_iemocap4_maps_excited_to_happy_and_keeps_calm_out():
    ds, dropped = apply_label_set(_ds(["excited", "calm", "sad"]), "iemocap4")
    names = ds.features["label"].names
    assert [names[i] for i in ds["label"]] == ["happy", "sad"]
    assert dropped == Counter({"calm": 1})


def test_all_keeps_every_emotion_present_in_canonical_order():
    ds, dropped = apply_label_set(_ds(["boredom", "angry", "calm"]), "all")
    assert ds.features["label"].names == ["angry", "calm", "boredom"]
    assert not dropped


def test_every_label_set_maps_only_to_its_classes():
    for ls in LABEL_SETS.values():
        assert set(ls.mapping) <= set(CANONICAL)
        assert set(ls.mapping.values()) <= set(ls.classes)


def test_unknown_label_set():
    with pytest.raises(ValueError, match="unknown label set"):
        get_label_set("eight")


def test_all_but_neutral_gets_no_empty_neutral_class():
    ds, dropped = apply_label_set(_ds(["neutral", "angry", "calm"]), "all_but_neutral")
    assert ds.features["label"].names == ["angry", "calm"] and dropped == Counter({"neutral": 1})


def test_emobox_keeps_calm_and_jl_corpus_secondary_emotions_apart():
    rows = datasets.Dataset.from_dict({
        "emotion": ["calm", "neutral", "other", "other", "excited"], "corpus": ["ravdess", "ravdess", "jl_corpus",
                                                                                "jl_corpus", "jl_corpus"],
        "raw_label": ["02", "01", "anxious", "concerned", "excited"]})
    ds, dropped = apply_label_set(rows, "emobox")
    names = ds.features["label"].names
    assert [names[i] for i in ds["label"]] == ["calm", "neutral", "anxious", "concerned", "excited"] and not dropped
