"""End to end on the tiny synthetic EmoDB: VGGish (random weights) + MFCC statistics x every classifier."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from ser_hf.classifiers.pipelines import load_classifier
from ser_hf.features.extract import build_extractor, extract
from ser_hf.classifiers.table import DEFAULT_CLASSIFIERS, run_baselines_table
from ser_hf.data.corpora import load_corpus
from ser_hf.data.splits import make_splits


@pytest.fixture(scope="module")
def emodb_splits():
    return make_splits(load_corpus("emodb", synthetic_size="tiny"), "seed000")  # 80/20, as seed 000


@pytest.mark.slow
def test_baselines_table_end_to_end(emodb_splits, tmp_path):
    extractors = {"vggish": build_extractor("vggish", random_weights=True), "mfcc": build_extractor("mfcc")}
    rows = run_baselines_table(emodb_splits, extractors, tmp_path / "out", cache_dir=tmp_path / "cache",
                               mlp_options={"n_trials": 2, "max_epochs": 5}, progress=False)
    out = tmp_path / "out"
    expected = [(e, c) for e in extractors for c in DEFAULT_CLASSIFIERS]
    assert [(r["embedding"], r["classifier"]) for r in rows] == expected
    test_size = len(emodb_splits["test"])
    for row in rows:
        assert row["n"] == test_size and 0 <= row["accuracy"] <= 1
        assert row["roc_auc_ovr"] is not None  # defined: the label space is the classes present (no "surprise")
        for png in row["plots"]:
            with open(png, "rb") as fh:
                assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    table = (out / "baselines.md").read_text()
    assert "| vggish" in table and "logistic_regression" in table and "ROC-AUC" in table
    with open(out / "baselines.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == len(rows)
    saved = json.loads((out / "baselines.json").read_text())
    assert "surprise" not in saved["label_names"] and len(saved["label_names"]) == 6

    # A saved classifier reloads (skops, trusted types only) and predicts the same labels from the cached embeddings.
    test_embeddings = extract(emodb_splits["test"], extractors["vggish"], cache_dir=tmp_path / "cache", progress=False)
    assert test_embeddings.from_cache
    for name in ("logistic_regression", "svm_linear", "random_forest", "knn", "mlp"):
        row = next(r for r in rows if r["embedding"] == "vggish" and r["classifier"] == name)
        model, metadata = load_classifier(row["classifier_path"])
        assert metadata["label_names"] == saved["label_names"] and metadata["pooling"] == "mean"
        predictions = model.predict(test_embeddings.features)
        assert predictions.tolist() == row["predictions"]
        all_names = emodb_splits["test"].features["label"].names
        truth = [metadata["label_names"].index(all_names[i]) for i in emodb_splits["test"]["label"]]
        assert np.mean(predictions == np.asarray(truth)) == pytest.approx(row["accuracy"])


@pytest.mark.slow
def test_frame_pooling_with_harmonic_balancing(emodb_splits, tmp_path):
    rows = run_baselines_table(emodb_splits, {"mfcc_frames": build_extractor("mfcc", statistics=())}, tmp_path,
                               classifiers=["knn"], pooling="frames", balance="harmonic",
                               plots=False, save_models=False, progress=False)
    file_row, frame_row = rows
    assert (file_row["level"], frame_row["level"]) == ("file", "frame")
    assert file_row["n"] == len(emodb_splits["test"]) and frame_row["n"] > 50 * file_row["n"]
