"""The classic classifiers (skops round trip, trusted types) and seed 003's MLP with its grid search."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from ser_hf.classifiers.pipelines import fit_classifier, pipeline_classifiers, load_classifier, make_classifier, \
    save_classifier
from ser_hf.classifiers.mlp import SEARCH_SPACE, MLPClassifier, MLPConfig, grid_points, holdout_files, sample_grid, \
    train_mlp, train_mlp_reference, train_mlps


def _shifted(values):
    """A function of this test module: a type skops does not trust."""
    return values + 1


def blobs(n_per_class: int = 20, classes: int = 3, dim: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, dim)) * 3
    labels = np.repeat(np.arange(classes), n_per_class)
    return (centres[labels] + rng.standard_normal((len(labels), dim))).astype(np.float32), labels


@pytest.mark.parametrize("name", pipeline_classifiers())
def test_each_classifier_fits_predicts_and_round_trips_through_skops(name, tmp_path):
    x, y = blobs()
    model = fit_classifier(name, x, y, seed=0)
    assert isinstance(model, Pipeline) and isinstance(model.steps[0][1], StandardScaler)
    probs = model.predict_proba(x)
    assert probs.shape == (60, 3) and np.allclose(probs.sum(1), 1)
    assert (model.predict(x) == y).mean() > 0.9
    path = save_classifier(model, tmp_path / f"{name}.skops", {"label_names": ["a", "b", "c"]})
    loaded, metadata = load_classifier(path)
    assert metadata == {"label_names": ["a", "b", "c"]}
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    np.testing.assert_allclose(loaded.predict_proba(x), probs)


def test_seed_000_settings():
    assert make_classifier("svm_linear").named_steps["classifier"].estimator.kernel == "linear"
    assert make_classifier("svm_rbf").named_steps["classifier"].estimator.kernel == "rbf"
    assert make_classifier("knn").named_steps["classifier"].n_neighbors == 5
    assert make_classifier("random_forest").named_steps["classifier"].n_estimators == 100
    assert make_classifier("logistic_regression").named_steps["classifier"].max_iter == 1000
    with pytest.raises(ValueError, match="unknown classifier"):
        make_classifier("xgboost")
    # Few rows in a class: calibration uses fewer folds instead of failing.
    x, y = blobs(n_per_class=3)
    assert fit_classifier("svm_linear", x, y).named_steps["classifier"].cv == 3


def test_untrusted_types_are_refused(tmp_path):
    import skops.io as sio

    x, y = blobs()
    sneaky = Pipeline([("f", FunctionTransformer(_shifted)), ("scale", StandardScaler())]).fit(x, y)
    sio.dump(sneaky, tmp_path / "sneaky.skops")
    with pytest.raises(ValueError, match="trusted"):
        load_classifier(tmp_path / "sneaky.skops")
    with pytest.raises(ValueError, match=".skops"):
        save_classifier(fit_classifier("knn", x, y), tmp_path / "model.pkl")


def test_grid_is_seed_003_table_4():
    points = grid_points()
    assert len(points) == 11 * 3 * 2 * 3 == 198
    assert SEARCH_SPACE["hidden_layers"][3] == [4096, 2048, 1024]
    drawn = sample_grid(10, seed=0)
    assert len({json.dumps(p, sort_keys=True) for p in drawn}) == 10
    assert drawn == sample_grid(10, seed=0) and drawn != sample_grid(10, seed=1)
    assert len(sample_grid(500)) == 198


def test_training_learns_restores_the_best_epoch_and_stops_early():
    x, y = blobs(n_per_class=30)
    config = MLPConfig(input_dim=8, num_classes=3, hidden_layers=[16], learning_rate=1e-2, max_epochs=30, patience=20)
    model, result = train_mlp(config, x[::2], y[::2], x[1::2], y[1::2], device="cpu")
    assert result.val_accuracy > 0.9
    # Standardisation lives in the model: raw features in.
    torch.testing.assert_close(model.feature_mean, torch.as_tensor(x[::2].mean(0)))
    # Validation labels unrelated to the training ones: the validation loss is best early, training
    # stops 20 epochs after that best epoch, and the learning rate is only ever halved on the way.
    shuffled = np.random.default_rng(1).permutation(y[1::2])
    config = MLPConfig(input_dim=8, num_classes=3, hidden_layers=[16], learning_rate=1e-2, max_epochs=200)
    _, result = train_mlp(config, x[::2], y[::2], x[1::2], shuffled, device="cpu")
    assert result.epochs < 200 and result.epochs - result.best_epoch == 20
    rates = result.learning_rates
    assert rates[0] == 1e-2 and min(rates) < 1e-2
    assert all(b in (a, a * 0.5) for a, b in zip(rates, rates[1:]))


def test_learning_rate_halves_after_three_stagnant_epochs():
    """With lr 0 nothing improves: the rate is halved at every third epoch (Keras' counting)."""
    x, y = blobs(n_per_class=10)
    config = MLPConfig(input_dim=8, num_classes=3, hidden_layers=[4], learning_rate=0.0, max_epochs=10, patience=100)
    _, result = train_mlp(config, x, y, x, y, device="cpu")
    assert result.epochs == 10 and result.best_epoch == 1
    config = MLPConfig(input_dim=8, num_classes=3, hidden_layers=[4], learning_rate=1e-12, max_epochs=10, patience=100)
    _, result = train_mlp(config, x, y, x, y, device="cpu")
    assert result.learning_rates == pytest.approx([1e-12] * 3 + [5e-13] * 3 + [2.5e-13] * 3 + [1.25e-13])


def test_mlp_grid_search_saves_as_safetensors_and_reloads(tmp_path):
    x, y = blobs(n_per_class=20, dim=16)
    files = np.repeat(np.arange(30), 2)  # two frames per file
    small_space = {"hidden_layers": [[32], [16, 8]], "dropout": [0.0, 0.2], "optimizer": ["adam", "adamax"],
                   "learning_rate": [1e-3]}
    clf = MLPClassifier(n_trials=3, max_epochs=10, search_space=small_space, seed=0).fit(x, y, groups=files)
    assert len(clf.trials) == 3
    assert clf.config.hidden_layers in ([32], [16, 8])
    best = min(clf.trials, key=lambda t: t["best_val_loss"])
    assert (clf.config.hidden_layers, clf.config.optimizer) == (best["hidden_layers"], best["optimizer"])
    save_classifier(clf, tmp_path / "mlp", {"label_names": ["a", "b", "c"]})
    assert sorted(p.name for p in (tmp_path / "mlp").iterdir()) == ["config.json", "model.safetensors"]
    loaded, metadata = load_classifier(tmp_path / "mlp")
    assert metadata["label_names"] == ["a", "b", "c"]
    np.testing.assert_array_equal(loaded.predict(x), clf.predict(x))
    np.testing.assert_allclose(loaded.predict_proba(x), clf.predict_proba(x), rtol=1e-6)


def test_holdout_is_per_file_and_stratified():
    labels = np.repeat([0, 1, 2], [20, 10, 1])
    held = holdout_files(labels, 0.1, seed=0)
    assert held[:20].sum() == 2 and held[20:30].sum() == 1 and not held[30]


def overlapping_blobs(rows: int = 300, dim: int = 8, seed: int = 0):
    """Classes that overlap: the validation loss keeps moving, early stopping and lr halving both fire."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, rows)
    return (rng.standard_normal((3, dim))[labels] * 0.7 + rng.standard_normal((rows, dim))).astype(np.float32), labels


@pytest.mark.parametrize("optimizer,train_rows,dropout", [("adam", 150, 0.0), ("adamax", 150, 0.5), ("adam", 280, 0.2),
                                                         ("adamax", 280, 0.0)])
def test_fast_training_follows_the_reference_loop(optimizer, train_rows, dropout):
    """Same init, same batches (280 rows: minibatches of 256; 150: one batch), same dropout masks, same optimiser
    arithmetic: the same curve, schedule and restored weights as the straightforward loop."""
    x, y = overlapping_blobs()
    config = MLPConfig(input_dim=8, num_classes=3, hidden_layers=[32, 16], learning_rate=3e-3, optimizer=optimizer,
                       dropout=dropout, max_epochs=80, patience=10, lr_patience=2)
    parts = (x[:train_rows], y[:train_rows], x[train_rows:], y[train_rows:])
    reference_model, reference = train_mlp_reference(config, *parts, device="cpu")
    model, result = train_mlp(config, *parts, device="cpu")
    assert (result.epochs, result.best_epoch) == (reference.epochs, reference.best_epoch)
    assert result.learning_rates == reference.learning_rates
    assert result.best_val_loss == pytest.approx(reference.best_val_loss, abs=1e-5)
    assert result.val_accuracy == reference.val_accuracy
    for name, value in reference_model.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], value, atol=1e-5, rtol=1e-4)


def test_stacked_trials_match_the_same_trials_one_at_a_time():
    """Trials sharing layers and optimiser train as one stack; each stops on its own schedule and leaves the stack."""
    x, y = overlapping_blobs()
    configs = [MLPConfig(input_dim=8, num_classes=3, hidden_layers=[32], learning_rate=lr, max_epochs=60, patience=8,
                         optimizer=opt) for lr, opt in ((3e-2, "adam"), (1e-3, "adamax"), (1e-3, "adam"), (1e-4, "adam"))]
    parts = (x[:280], y[:280], x[280:], y[280:])
    stacked = train_mlps(configs, *parts, device="cpu")
    assert len({r.epochs for _, r in stacked}) > 1  # the trials did stop at different epochs
    for config, (model, result) in zip(configs, stacked):
        alone_model, alone = train_mlp(config, *parts, device="cpu")
        assert (result.epochs, result.best_epoch, result.learning_rates) == \
            (alone.epochs, alone.best_epoch, alone.learning_rates)
        assert result.best_val_loss == pytest.approx(alone.best_val_loss, abs=1e-5)
        np.testing.assert_allclose(model(torch.as_tensor(x)).detach(), alone_model(torch.as_tensor(x)).detach(),
                                   atol=1e-4)


def test_dropout_trials_are_reproducible_and_keep_the_grid_selection():
    x, y = overlapping_blobs(dim=16)
    space = {"hidden_layers": [[32], [16, 8]], "dropout": [0.0, 0.5], "optimizer": ["adam"], "learning_rate": [1e-2, 1e-3]}
    fits = [MLPClassifier(n_trials=5, max_epochs=40, search_space=space, seed=0).fit(x, y) for _ in range(2)]
    assert fits[0].trials == [{**t, "seconds": fits[0].trials[i]["seconds"]} for i, t in enumerate(fits[1].trials)]
    best = min(fits[0].trials, key=lambda t: t["best_val_loss"])
    assert (fits[0].config.hidden_layers, fits[0].config.dropout, fits[0].config.learning_rate) == \
        (best["hidden_layers"], best["dropout"], best["learning_rate"])
