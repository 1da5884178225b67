"""Metrics: the shipped evaluate modules load offline, and every reported number matches a hand count."""

from __future__ import annotations

import socket

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from ser_hf.evaluation.metrics import (
    METRICS_DIR,
    SHIPPED_MODULES,
    compute_classification_metrics,
    format_results_table,
    make_compute_metrics,
    metric_path,
)
from ser_hf.evaluation.plots import plot_confusion_matrix, plot_roc_curves

LABELS = ["angry", "happy", "sad"]
# confusion matrix (rows = true): angry [3 1 0], happy [1 1 0], sad [0 1 1]
REFS = [0, 0, 0, 0, 1, 1, 2, 2]
PREDS = [0, 0, 0, 1, 1, 0, 2, 1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test: the modules must load from disk."""

    def refuse(*args, **kwargs):
        raise AssertionError("metric loading tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("form", ["dir", "script"])
def test_shipped_modules_load_offline_from_their_paths(no_network, form):
    import evaluate

    refs, preds = [0] * 8 + [1] * 2, [0] * 10  # imbalanced: predicting the big class scores 80 %
    # class 0: precision 0.8, recall 1 -> F1 = 2 * 0.8 / 1.8; class 1: F1 0; weighted by support 8:2
    expected = {"accuracy": 0.8, "f1": 0.8 * (2 * 0.8 / 1.8), "uar": 0.5}
    for name in SHIPPED_MODULES:
        path = metric_path(name) if form == "dir" else str(METRICS_DIR / name / f"{name}.py")
        module = evaluate.load(path, keep_in_memory=True)
        kwargs = {"average": "weighted"} if name == "f1" else {}
        assert module.compute(predictions=preds, references=refs, **kwargs)[name] == pytest.approx(expected[name])


def test_uar_differs_from_accuracy_on_imbalanced_data():
    refs, preds = [0] * 8 + [1] * 2, [0] * 10
    m = compute_classification_metrics(refs, preds, ["neutral", "angry"])
    assert m["accuracy"] == pytest.approx(0.8)
    assert m["uar"] == pytest.approx(0.5)  # recall 1.0 for neutral, 0.0 for angry
    assert m["macro_f1"] == pytest.approx((2 * 0.8 / 1.8) / 2)
    assert m["weighted_f1"] == pytest.approx(0.8 * 2 * 0.8 / 1.8)


def test_hand_computed_metrics_on_a_small_example():
    groups = {"corpus": ["tess"] * 4 + ["savee"] * 4}
    m = compute_classification_metrics(REFS, PREDS, LABELS, groups=groups)
    assert m["n"] == 8
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["confusion_matrix"] == [[3, 1, 0], [1, 1, 0], [0, 1, 1]]
    f1 = {"angry": 0.75, "happy": 0.4, "sad": 2 / 3}
    assert m["per_class"]["angry"] == pytest.approx({"precision": 0.75, "recall": 0.75, "f1": 0.75, "support": 4})
    assert m["per_class"]["happy"] == pytest.approx({"precision": 1 / 3, "recall": 0.5, "f1": 0.4, "support": 2})
    assert m["per_class"]["sad"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert m["macro_f1"] == pytest.approx(sum(f1.values()) / 3)
    assert m["weighted_f1"] == pytest.approx((4 * 0.75 + 2 * 0.4 + 2 * 2 / 3) / 8)
    assert m["uar"] == pytest.approx((0.75 + 0.5 + 0.5) / 3)
    assert m["uar"] == pytest.approx(balanced_accuracy_score(REFS, PREDS))
    # tess rows: refs 0 0 0 0, preds 0 0 0 1 -> 3/4; savee rows: refs 1 1 2 2, preds 1 0 2 1 -> 2/4
    assert m["per_group"]["corpus"]["tess"] == pytest.approx({"accuracy": 0.75, "macro_f1": (6 / 7 + 0) / 2,
                                                              "weighted_f1": 6 / 7, "uar": 0.75, "n": 4})
    assert m["per_group"]["corpus"]["savee"]["accuracy"] == pytest.approx(0.5)
    assert m["per_group"]["corpus"]["savee"]["uar"] == pytest.approx(0.5)
    assert m["per_group"]["corpus"]["savee"]["n"] == 4
    assert m["top_confusions"] == [
        {"true": "angry", "predicted": "happy", "count": 1},
        {"true": "happy", "predicted": "angry", "count": 1},
        {"true": "sad", "predicted": "happy", "count": 1},
    ]
    assert m["roc_auc_ovr"] is None  # no probabilities given


def test_label_names_are_accepted_in_place_of_ids_and_unknown_ones_rejected():
    by_id = compute_classification_metrics(REFS, PREDS, LABELS)
    by_name = compute_classification_metrics([LABELS[i] for i in REFS], [LABELS[i] for i in PREDS], LABELS)
    assert by_name["confusion_matrix"] == by_id["confusion_matrix"]
    assert by_name["macro_f1"] == pytest.approx(by_id["macro_f1"])
    with pytest.raises(ValueError, match="calm"):
        compute_classification_metrics(["calm"], ["angry"], LABELS)


def test_uar_ignores_a_class_that_is_only_predicted_but_macro_f1_counts_it():
    refs, preds = [0, 0, 1, 1], [0, 2, 1, 1]
    m = compute_classification_metrics(refs, preds, LABELS)
    assert m["uar"] == pytest.approx((0.5 + 1.0) / 2)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1.0 + 0.0) / 3)


def test_roc_auc_one_vs_rest():
    refs = [0, 0, 1, 1, 2, 2]
    perfect = np.eye(3)[refs] * 0.7 + 0.1
    assert compute_classification_metrics(refs, refs, LABELS, probabilities=perfect)["roc_auc_ovr"] == pytest.approx(1.0)
    reversed_scores = 1.0 - np.eye(3)[refs]  # logits that rank every true class last
    assert compute_classification_metrics(refs, refs, LABELS, probabilities=reversed_scores)["roc_auc_ovr"] == pytest.approx(0.0)
    # a class absent from the references: ROC-AUC is undefined
    assert compute_classification_metrics([0, 1], [0, 1], LABELS, probabilities=np.eye(3)[[0, 1]])["roc_auc_ovr"] is None
    with pytest.raises(ValueError, match="shape"):
        compute_classification_metrics(refs, refs, LABELS, probabilities=np.ones((6, 2)) / 2)


def test_make_compute_metrics_gives_flat_floats_for_the_trainer():
    from transformers import EvalPrediction

    logits = np.eye(3)[PREDS] * 5.0 - 1.0
    out = make_compute_metrics(LABELS)(EvalPrediction(predictions=logits, label_ids=np.array(REFS)))
    assert set(out) == {"accuracy", "weighted_f1", "macro_f1", "uar"}
    assert all(type(v) is float for v in out.values())
    assert out["accuracy"] == pytest.approx(5 / 8)
    assert out["uar"] == pytest.approx((0.75 + 0.5 + 0.5) / 3)
    with pytest.raises(ValueError, match="labels"):
        make_compute_metrics(["a", "b"])(EvalPrediction(predictions=logits, label_ids=np.array(REFS)))


def test_results_table_lists_headline_class_group_and_confusion_rows():
    m = compute_classification_metrics(REFS, PREDS, LABELS, probabilities=np.eye(3)[REFS] * 0.7 + 0.1,
                                       groups={"language": ["en"] * 6 + ["bn"] * 2})
    table = format_results_table(m)
    assert "| accuracy (%)" in table and "62.50" in table
    assert "| UAR (%)" in table and "58.33" in table
    assert "1.0000" in table  # ROC-AUC as a fraction
    assert "Per class" in table and "| happy" in table and "33.33" in table
    assert "Per language" in table and "| bn" in table
    assert "Most frequent confusions" in table
    assert all(line.startswith("|") for line in table.splitlines() if "|" in line)


def test_confusion_matrix_and_roc_pngs_are_written(tmp_path):
    import matplotlib.image

    cm_path = plot_confusion_matrix([[3, 1, 0], [1, 1, 0], [0, 0, 0]], LABELS, tmp_path / "figs" / "cm.png",
                                    title="test")
    assert cm_path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(cm_path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    counts_path = plot_confusion_matrix(np.array([[3, 1], [0, 2]]), ["a", "b"], tmp_path / "cm_counts.png",
                                        normalize=False)
    assert counts_path.read_bytes()[:8] == PNG_SIGNATURE
    with pytest.raises(ValueError, match="shape"):
        plot_confusion_matrix([[1, 0], [0, 1]], LABELS, tmp_path / "bad.png")

    probs = np.random.default_rng(0).dirichlet([1, 1, 1], size=8)
    roc_path = plot_roc_curves(REFS, probs, LABELS, tmp_path / "roc.png")
    assert roc_path.read_bytes()[:8] == PNG_SIGNATURE
