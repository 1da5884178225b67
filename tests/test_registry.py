"""One place per name: a toy classifier, a toy metric and a toy corpus, each registered in its one place only
(an entry of ser_hf.registry.CLASSIFIERS / METRICS, of ser_hf.data.corpora.CORPORA), run through a recipe: the
recipe's checks accept them, the table, the results and the Markdown show them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import train
from ser_hf.data.corpora import CORPORA
from ser_hf.data.corpora.base import CorpusFile, CorpusInfo
from ser_hf.recipe import RecipeError, load_recipe
from ser_hf.registry import CLASSIFIERS, METRICS, Classifier, Metric

TOY_METRIC = '''
import datasets
import evaluate


class ToyError(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(description="share of wrong predictions", citation="", inputs_description="",
                                   features=datasets.Features({"predictions": datasets.Value("int64"),
                                                               "references": datasets.Value("int64")}))

    def _compute(self, predictions, references):
        return {"toy_error": sum(p != r for p, r in zip(predictions, references)) / len(references)}
'''


def nearest_class_mean(seed: int = 0, calibration_folds: int = 5):
    """A toy classifier of the registry's kind: scikit-learn's nearest centroid, with probabilities from distances."""
    from sklearn.neighbors import NearestCentroid

    class WithProbabilities(NearestCentroid):
        def predict_proba(self, x):
            d = -np.linalg.norm(x[:, None, :] - self.centroids_[None], axis=-1)
            e = np.exp(d - d.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)

    return WithProbabilities()


def parse_toy(path: Path):
    emotion, speaker, _ = path.stem.split("_")
    return CorpusFile(path=str(path), emotion=emotion, raw_label=emotion, speaker=speaker, gender="unknown")


def write_toy_corpus(root: Path) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    for speaker in ("s1", "s2", "s3"):
        for i, (emotion, freq) in enumerate((("angry", 300.0), ("sad", 140.0), ("happy", 220.0)) * 4):
            wave = 0.4 * np.sin(2 * np.pi * (freq + 5 * rng.standard_normal()) * t) + 0.01 * rng.standard_normal(16000)
            sf.write(root / f"{emotion}_{speaker}_{i}.wav", wave.astype(np.float32), 16000)


def test_a_toy_classifier_metric_and_corpus_each_registered_once_run_through_a_recipe(tmp_path, monkeypatch):
    metric_dir = tmp_path / "toy_error"
    metric_dir.mkdir()
    (metric_dir / "toy_error.py").write_text(TOY_METRIC)
    root = tmp_path / "toy_corpus"
    root.mkdir()
    write_toy_corpus(root)
    # each in its one place
    monkeypatch.setitem(CLASSIFIERS, "nearest_class_mean", Classifier(f"{__name__}:nearest_class_mean"))
    monkeypatch.setitem(METRICS, "toy_error", Metric(str(metric_dir), "toy error"))
    monkeypatch.setitem(CORPORA, "toy", CorpusInfo("toy", "en", "16 kHz", "test data", "ROOT/EMOTION_SPEAKER_N.wav",
                                                    parse_toy))

    out = tmp_path / "run"
    overrides = [f"output_dir={out}", "method=embeddings", "corpora=[toy]", f"roots.toy={root}",
                 "extractors=[mfcc]", "classifiers=[nearest_class_mean,logistic_regression]", "label_set=all",
                 "split=ratio:0.75,0.25", "plots=false"]
    assert load_recipe("seed000_emodb", overrides).model.classifiers[0] == "nearest_class_mean"
    result = train.main(["--recipe", "seed000_emodb", *overrides])
    rows = {r["classifier"]: r for r in result["baselines"]}
    assert set(rows) == {"nearest_class_mean", "logistic_regression"}
    assert all(0.0 <= r["toy_error"] <= 1.0 and r["toy_error"] == pytest.approx(1 - r["accuracy"]) for r in rows.values())
    results = json.loads((out / "results.json").read_text())
    assert results["corpora"] == ["toy"] and "toy_error" in results["test"]
    assert "toy error (%)" in (out / "results.md").read_text() and "toy error" in (out / "baselines.md").read_text()
    with pytest.raises(RecipeError, match="classifiers: 'nearest_class_mean' is not one of"):
        monkeypatch.delitem(CLASSIFIERS, "nearest_class_mean")
        load_recipe("seed000_emodb", overrides)
