"""Every loader on the synthetic corpus written in that corpus's layout: exact counts and columns.

The expected counts are computed here from the real corpora's grids (corpora.md), independently of
the synthetic plans, so a plan or a parser that drifts from the documented layout fails.
"""

from collections import Counter

import datasets
import pytest

from ser_hf.data.corpora import load_corpus
from ser_hf.data.prepare import FEATURES
from ser_hf.data.synth import ensure_synthetic, generate

SEVEN = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def tiny_expectations():
    """corpus -> (emotion counts, speaker counts, gender counts, languages) of the tiny size."""
    rav_emotions = {"neutral": 2 * 4, **{e: 2 * 8 for e in ["calm", "happy", "sad", "angry", "fear", "disgust", "surprise"]}}
    crema_emotions = {**{e: 4 * (3 + 1) for e in ["angry", "disgust", "fear", "happy", "sad"]}, "neutral": 4 * 2}
    bangla_emotions = {"neutral": 3 * 4, **{e: 4 * 4 for e in ["happy", "sad", "angry", "surprise"]}}
    return {
        "ravdess": (rav_emotions, {"01": 60, "02": 60}, {"male": 60, "female": 60}, {"en"}),
        "tess": ({e: 8 for e in SEVEN}, {"OAF": 28, "YAF": 28}, {"female": 56}, {"en"}),
        "savee": ({**{e: 4 * 2 for e in SEVEN}, "neutral": 4 * 4}, {s: 16 for s in ["DC", "JE", "JK", "KL"]}, {"male": 64}, {"en"}),
        "crema_d": (crema_emotions, {a: 22 for a in ["1001", "1002", "1005", "1006"]}, {"male": 44, "female": 44}, {"en"}),
        "subesco": ({e: 8 for e in SEVEN}, {s: 14 for s in ["F_02", "F_06", "M_01", "M_06"]}, {"female": 28, "male": 28}, {"bn"}),
        "banglaser": (bangla_emotions, {"01": 20, "02": 20, "03": 20, "04": 16}, {"male": 40, "female": 36}, {"bn"}),
        "emodb": ({e: 8 for e in ["angry", "boredom", "disgust", "fear", "happy", "sad", "neutral"]}, {s: 14 for s in ["03", "08", "09", "10"]}, {"male": 28, "female": 28}, {"de"}),
        "jl_corpus": ({**{e: 8 for e in ["angry", "sad", "neutral", "happy", "excited"]}, "other": 20}, {s: 15 for s in ["male1", "male2", "female1", "female2"]}, {"male": 30, "female": 30}, {"en"}),
        "esd": ({e: 12 for e in ["neutral", "angry", "happy", "sad", "surprise"]}, {s: 15 for s in ["0001", "0006", "0011", "0015"]}, {"female": 30, "male": 30}, {"zh", "en"}),
    }


@pytest.mark.parametrize("corpus", sorted(tiny_expectations()))
def test_synthetic_corpus_loads_with_exact_counts(corpus):
    emotions, speakers, genders, languages = tiny_expectations()[corpus]
    root = ensure_synthetic(corpus, size="tiny")
    ds, report = load_corpus(corpus, root, label_set="all", return_report=True)
    assert not report.skipped and not report.failed and not report.duplicates
    assert set(ds.column_names) == set(FEATURES) | {"label"}
    assert isinstance(ds.features["audio"], datasets.Audio) and ds.features["audio"].sampling_rate == 16000
    assert Counter(ds["emotion"]) == Counter(emotions)
    assert Counter(ds["speaker"]) == Counter({f"{corpus}:{s}": n for s, n in speakers.items()})
    assert Counter(ds["gender"]) == Counter(genders)
    assert set(ds["language"]) == languages and set(ds["corpus"]) == {corpus}
    names = ds.features["label"].names
    assert all(names[label] == emotion for label, emotion in zip(ds["label"], ds["emotion"]))
    assert min(ds["duration"]) > 0.3 and len(set(ds["content_hash"])) == len(ds)
    # The seven-class set: calm merges into neutral, the rest outside the seven is dropped and counted.
    seven, report7 = load_corpus(corpus, root, label_set="seven", return_report=True)
    outside = {e: n for e, n in emotions.items() if e not in SEVEN and e != "calm"}
    assert report7.dropped_by_label == outside
    assert len(seven) == len(ds) - sum(outside.values())


def test_ravdess_kaggle_layout_is_deduplicated(tmp_path):
    manifest = generate("ravdess", tmp_path / "r", size="tiny", layout="kaggle")
    assert sum(m["duplicate"] for m in manifest) == 120
    ds, report = load_corpus("ravdess", tmp_path / "r", label_set="all", return_report=True)
    assert len(ds) == 120 and len(report.duplicates) == 120


def test_tess_kaggle_quirks_are_read(tmp_path):
    generate("tess", tmp_path / "t", size="tiny", layout="kaggle")
    assert list((tmp_path / "t").rglob("OA_bite_neutral.wav"))
    ds = load_corpus("tess", tmp_path / "t", label_set="all")
    assert Counter(ds["speaker"]) == Counter({"tess:OAF": 28, "tess:YAF": 28})
    food = [d for d, p in zip(ds["duration"], ds["path"]) if p.endswith("OAF_food_fear.wav")]
    assert len(food) == 1 and food[0] > 0.3  # the 96-kHz file was resampled like the others


def test_savee_kaggle_layout_matches_original(tmp_path):
    generate("savee", tmp_path / "k", size="tiny", layout="kaggle")
    a = load_corpus("savee", tmp_path / "k", label_set="all")
    b = load_corpus("savee", ensure_synthetic("savee", size="tiny"), label_set="all")
    assert Counter(zip(a["speaker"], a["emotion"])) == Counter(zip(b["speaker"], b["emotion"]))


def test_esd_kaggle_layout(tmp_path):
    generate("esd", tmp_path / "e", size="tiny", layout="kaggle")
    ds = load_corpus("esd", tmp_path / "e", label_set="all")
    assert len(ds) == 60 and Counter(ds["language"]) == Counter({"zh": 30, "en": 30})


def test_consolidated_sets_are_unions():
    from ser_hf.data.corpora import load_corpora

    ds = load_corpora("all_bn", label_set="seven", synthetic_size="tiny")
    assert Counter(ds["corpus"]) == Counter({"subesco": 56, "banglaser": 76})
    assert ds.features["label"].names == SEVEN
