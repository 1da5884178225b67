"""``probe_head: emobox``: EmoBox's head and training on a frozen encoder's frames, and ``cross_validation=emobox``
end to end on the synthetic corpus."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import train
from ser_hf.recipe import RecipeError, load_recipe
from ser_hf.training.emobox_probe import (
    EMOBOX_SETTINGS,
    EmoBoxHead,
    emobox_learning_rate,
    train_emobox_head,
    utterance_norm,
)


def test_learning_rate_follows_speechbrains_linear_warmup_stepped_after_each_epoch():
    rates = [emobox_learning_rate(e, 1e-4, 100, 10) for e in range(1, 101)]
    assert rates[0] == 1e-4 and rates[1] == 0.0  # the optimiser's own rate, then the scheduler's first value
    assert rates[2] == pytest.approx(1e-5) and rates[11] == pytest.approx(1e-4)
    assert rates[12] == pytest.approx(1e-4 * 89 / 90) and rates[99] == pytest.approx(1e-4 * 2 / 90)


def test_head_ignores_padding_and_utterance_norm_is_layer_norm_over_the_file():
    torch.manual_seed(0)
    head = EmoBoxHead(6, 8, 3).eval()
    short = torch.randn(1, 4, 6)
    padded = torch.cat([short, torch.randn(1, 3, 6)], dim=1)  # junk where the mask is 0
    with torch.no_grad():
        alone = head(short, torch.ones(1, 4))
        masked = head(padded, torch.tensor([[1.0, 1, 1, 1, 0, 0, 0]]))
    assert torch.allclose(alone, masked, atol=1e-6)
    frames = np.random.default_rng(0).normal(3, 2, (50, 6)).astype(np.float32)
    expected = torch.nn.functional.layer_norm(torch.as_tensor(frames), frames.shape).numpy()
    assert np.allclose(utterance_norm(frames), expected, atol=1e-5)


def test_training_keeps_the_best_validation_epoch():
    rng = np.random.default_rng(0)

    def files(n):  # class 1 files have a shifted mean in two dimensions, lengths vary
        y = rng.integers(0, 2, n)
        return [rng.normal(0, 1, (rng.integers(5, 30), 4)).astype(np.float32) + 1.5 * c * np.array([1, 1, 0, 0], np.float32)
                for c in y], y

    train_files, y_train = files(64)
    validation, y_validation = files(40)
    head, history = train_emobox_head(train_files, y_train, validation, y_validation, 2, seed=0,
                                      settings={**EMOBOX_SETTINGS, "epochs": 15, "learning_rate": 2e-2})
    assert history["best_validation_accuracy"] >= 0.9
    assert history["validation_accuracy"][history["best_epoch"] - 1] == max(history["validation_accuracy"])
    assert len(history["validation_accuracy"]) == 15


def test_recipe_keys_and_emobox_requests_that_cannot_work():
    recipe = load_recipe("quickstart", ["method=probe", "probe_head=emobox", "corpora=[savee]",
                                        "cross_validation=emobox"])
    assert recipe.data.label_set == "emobox" and recipe.model.probe_layer == -1  # EmoBox's folds come with its classes
    for bad, message in ((["probe_head=pooled"], "probe_head"), (["bootstrap_samples=-1"], "bootstrap_samples"),
                         (["cross_validation=emobox"], "one of ravdess"),  # quickstart: six corpora
                         (["cross_validation=emobox", "corpora=[banglaser]"], "EmoBox's folds are per corpus"),
                         (["cross_validation=emobox", "corpora=[savee,tess]"], "per corpus")):
        with pytest.raises(RecipeError, match=message):
            load_recipe("quickstart", bad)


@pytest.mark.slow
def test_emobox_head_on_a_tiny_encoder_on_one_emobox_fold(tmp_path):
    out = tmp_path / "run"
    result = train.main(["--recipe", "quickstart", "method=probe", "probe_head=emobox", "corpora=[savee]",
                         "synthetic_size=tiny", "split=emobox:1", "label_set=emobox", f"output_dir={out}",
                         "bootstrap_samples=200"])
    results = json.loads((out / "results.json").read_text())
    assert results["test_speakers"] == ["savee:KL"]  # EmoBox's fold_2
    assert results["probe_head"] == "emobox" and results["emobox_training"]["epochs"] == 100
    assert results["run"]["validation_files"] == 48 - int(48 * 0.8)  # EmoBox: int(0.8 n) train, the rest validation
    calibration = results["calibration"]
    assert calibration["temperature"] > 0 and {"ece_before", "ece_after"} <= set(calibration)
    assert set(results["intervals"]["ci"]) == {"accuracy", "uar", "macro_f1", "weighted_f1"}
    saved = json.loads((out / "emobox_head.json").read_text())
    assert saved["calibration_temperature"] == calibration["temperature"] and saved["layer"] == -1
    for name in ("emobox_head.safetensors", "predictions.npz", "reliability_diagram.png"):
        assert (out / name).is_file()
    assert result["test"]["accuracy"] == results["test"]["accuracy"]
