"""Calibrated probabilities: ECE, temperature scaling fitted on validation data, folded into the saved model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import train
from ser_hf.evaluation.calibration import (
    calibration_report,
    expected_calibration_error,
    fit_temperature,
    fold_temperature,
    softmax,
    temperature_scaling,
)
from ser_hf.models import build_model

SR = 16000


def overconfident(n: int, seed: int, accuracy: float = 0.7, scale: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """Logits of a model right ``accuracy`` of the time but nearly certain every time (its logits x ``scale``)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, n)
    predicted = np.where(rng.random(n) < accuracy, labels, (labels + rng.integers(1, 5, n)) % 5)
    logits = rng.normal(0, 0.3, (n, 5))
    logits[np.arange(n), predicted] += 1.0
    return scale * logits, labels


def test_ece_of_known_cases():
    labels = np.array([0, 1, 0, 1])
    assert expected_calibration_error(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]), labels) == 0.0
    # always 90 % sure, right half the time: the gap is 0.4
    sure = np.array([[0.9, 0.1], [0.9, 0.1], [0.9, 0.1], [0.9, 0.1]])
    assert expected_calibration_error(sure, labels) == pytest.approx(0.4)


def test_temperature_scaling_lowers_ece_on_an_overconfident_model_and_keeps_every_argmax():
    validation_logits, validation_labels = overconfident(600, seed=0)
    test_logits, test_labels = overconfident(600, seed=1)
    temperature = fit_temperature(validation_logits, validation_labels)  # fitted on validation only
    assert temperature > 2  # an over-confident model is cooled down
    before, after = softmax(test_logits), softmax(test_logits / temperature)
    assert expected_calibration_error(after, test_labels) < 0.5 * expected_calibration_error(before, test_labels)
    assert np.array_equal(before.argmax(axis=1), after.argmax(axis=1))
    report = calibration_report(after, test_labels, temperature)  # the "before" is recovered from the scaled ones
    assert report["ece_before"] == pytest.approx(expected_calibration_error(before, test_labels), abs=1e-9)
    assert report["ece_after"] == report["ece"] < report["ece_before"]
    fitted = temperature_scaling(validation_logits, validation_labels)
    assert fitted["validation_nll_after"] < fitted["validation_nll_before"]


def test_a_saved_model_with_the_temperature_folded_in_gives_calibrated_pipeline_scores(tmp_path):
    from transformers import pipeline

    torch.manual_seed(0)
    model, extractor = build_model(["angry", "happy", "sad"], tiny_model="hubert")
    model.eval()
    wave = (0.3 * np.sin(2 * np.pi * 220 * np.arange(SR) / SR)).astype(np.float32)
    inputs = extractor(wave, sampling_rate=SR, return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits[0].numpy()
    fold_temperature(model, 2.5)
    model.save_pretrained(tmp_path)
    extractor.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["calibration_temperature"] == 2.5
    scores = pipeline("audio-classification", model=str(tmp_path), device=-1)({"raw": wave, "sampling_rate": SR},
                                                                               top_k=None)
    expected = softmax(logits[None] / 2.5)[0]
    got = {s["label"]: s["score"] for s in scores}
    assert [got[name] for name in ("angry", "happy", "sad")] == pytest.approx(expected.tolist(), abs=1e-5)


@pytest.mark.slow
def test_a_trained_run_is_calibrated_on_validation_and_pipeline_returns_the_calibrated_scores(tmp_path):
    from transformers import AutoModelForAudioClassification, pipeline

    import ser_hf  # noqa: F401  (ser-hf's model types for the Auto classes)
    from ser_hf.evaluation.calibration import classifier_layer

    out = tmp_path / "run"
    train.main(["--recipe", "quickstart", f"output_dir={out}", "corpora=ravdess", "synthetic_size=tiny",
                "max_steps=8", "eval_strategy=steps", "eval_steps=4", "per_device_train_batch_size=8",
                "per_device_eval_batch_size=16", "max_train_seconds=2.0", "dataloader_num_workers=0",
                "bootstrap_samples=200"])
    results = json.loads((out / "results.json").read_text())
    calibration = results["calibration"]
    temperature = calibration["temperature"]
    assert "validation part" in calibration["fitted_on"] and temperature > 0
    assert calibration["validation_nll_after"] <= calibration["validation_nll_before"] + 1e-9
    assert {"ece_before", "ece_after", "reliability"} <= set(calibration) and (out / "reliability_diagram.png").is_file()
    assert "before temperature scaling" in (out / "results.md").read_text()
    assert set(results["intervals"]["ci"]) == {"accuracy", "uar", "macro_f1", "weighted_f1"}
    for key, (low, high) in results["intervals"]["ci"].items():
        assert low <= results["test"][key] <= high
    config = json.loads((out / "config.json").read_text())
    assert config["calibration_temperature"] == pytest.approx(temperature)
    # the saved model's logits are the trained model's divided by T: undo the fold and compare
    saved = AutoModelForAudioClassification.from_pretrained(out).eval()
    wave = (0.3 * np.sin(2 * np.pi * 180 * np.arange(SR) / SR)).astype(np.float32)
    classifier = pipeline("audio-classification", model=str(out), device=-1)
    inputs = classifier.feature_extractor(wave, sampling_rate=SR, return_tensors="pt")
    with torch.no_grad():
        calibrated = saved(**inputs).logits[0].numpy()
        layer = classifier_layer(saved)
        layer.weight.mul_(temperature)
        layer.bias.mul_(temperature)
        trained = saved(**inputs).logits[0].numpy()
    assert calibrated == pytest.approx(trained / temperature, rel=1e-4, abs=1e-5)
    scores = {s["label"]: s["score"] for s in classifier({"raw": wave, "sampling_rate": SR}, top_k=None)}
    labels = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
    assert [scores[name] for name in labels] == pytest.approx(softmax(trained[None] / temperature)[0].tolist(), abs=1e-5)
