"""Seed 000's classic classifiers on embeddings, each a scikit-learn ``Pipeline`` behind a ``StandardScaler``.

=======================  ==========================================================================
name                     estimator (seed 000, Table IV, unless noted)
=======================  ==========================================================================
``svm_linear``           ``SVC(kernel="linear")`` (seed 000)
``svm_rbf``              ``SVC(kernel="rbf")`` (the usual non-linear SVM baseline)
``knn``                  ``KNeighborsClassifier(n_neighbors=5)``
``random_forest``        ``RandomForestClassifier(n_estimators=100)``
``logistic_regression``  ``LogisticRegression(max_iter=1000)``
=======================  ==========================================================================

Seed 000 draws one-vs-rest ROC curves for every classifier, so each must give class
probabilities. ``SVC(probability=True)`` is deprecated in scikit-learn 1.9; its replacement is used:
``CalibratedClassifierCV(SVC(...), ensemble=False)`` (the SVM is fit on all training rows, Platt
sigmoids on 5-fold cross-validated decision values). Predictions of the SVMs are therefore the
argmax of the calibrated probabilities, which can differ from the raw SVM vote on borderline rows.

Each is an entry of :data:`ser_hf.registry.CLASSIFIERS` (its factory and the types a fitted one holds). Fitted
models are saved with ``skops`` (:func:`save_classifier`), never pickled, and loaded with an explicit list of
trusted types (:func:`trusted_types`, from the registry): a file that needs anything else is refused.
Seed 003's MLP (:mod:`~ser_hf.classifiers.mlp`) saves as safetensors + JSON through the same two functions.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from ser_hf.registry import CLASSIFIERS, resolve

logger = logging.getLogger(__name__)

CALIBRATION_FOLDS = 5  # what SVC(probability=True) used internally


def pipeline_classifiers() -> tuple[str, ...]:
    """The registry's classifiers that are scikit-learn estimators behind a scaler (not seed 003's torch MLP)."""
    return tuple(name for name, entry in CLASSIFIERS.items() if entry.pipeline)


def trusted_types() -> tuple[str, ...]:
    """Every type a fitted classifier of the registry may hold beyond skops' default trusted set."""
    return tuple(sorted({t for entry in CLASSIFIERS.values() for t in entry.trusted}))


def svm_linear(seed: int = 0, calibration_folds: int = CALIBRATION_FOLDS):
    return CalibratedClassifierCV(SVC(kernel="linear", random_state=seed), ensemble=False, cv=calibration_folds)


def svm_rbf(seed: int = 0, calibration_folds: int = CALIBRATION_FOLDS):
    return CalibratedClassifierCV(SVC(kernel="rbf", random_state=seed), ensemble=False, cv=calibration_folds)


def knn(seed: int = 0, calibration_folds: int = CALIBRATION_FOLDS):
    return KNeighborsClassifier(n_neighbors=5)


def random_forest(seed: int = 0, calibration_folds: int = CALIBRATION_FOLDS):
    return RandomForestClassifier(n_estimators=100, random_state=seed)


def logistic_regression(seed: int = 0, calibration_folds: int = CALIBRATION_FOLDS):
    return LogisticRegression(max_iter=1000, random_state=seed)


def make_classifier(name: str, seed: int = 0, calibration_folds: int = CALIBRATION_FOLDS) -> Pipeline:
    """An unfitted ``Pipeline([("scale", StandardScaler()), ("classifier", ...)])`` of a scikit-learn classifier
    of :data:`ser_hf.registry.CLASSIFIERS`."""
    if name not in pipeline_classifiers():
        raise ValueError(f"unknown classifier {name!r}; scikit-learn pipelines: {', '.join(pipeline_classifiers())}")
    estimator = resolve(CLASSIFIERS[name].factory)(seed=seed, calibration_folds=calibration_folds)
    return Pipeline([("scale", StandardScaler()), ("classifier", estimator)])


def fit_classifier(name: str, features: np.ndarray, labels: np.ndarray, seed: int = 0) -> Pipeline:
    """``make_classifier(name)`` fitted on ``features``/``labels``.

    The SVMs' calibration uses 5 stratified folds, fewer when the smallest class has fewer
    than 5 rows (logged); a class with a single row cannot be calibrated and raises.
    """
    labels = np.asarray(labels)
    folds = CALIBRATION_FOLDS
    if isinstance(make_classifier(name, seed, folds)[-1], CalibratedClassifierCV):  # probabilities by calibration
        smallest = int(np.bincount(labels)[np.unique(labels)].min())
        if smallest < 2:
            raise ValueError(f"{name}: a class has {smallest} training row(s); probability calibration needs 2")
        if smallest < folds:
            logger.warning("%s: smallest class has %d rows: calibrating with %d folds instead of %d",
                           name, smallest, smallest, folds)
            folds = smallest
    model = make_classifier(name, seed, folds)
    neighbours = getattr(model[-1], "n_neighbors", 0)
    if neighbours > len(labels):
        raise ValueError(f"{name}: k={neighbours} needs at least {neighbours} training rows, got {len(labels)}")
    return model.fit(features, labels)


def save_classifier(model, path: str | Path, metadata: dict | None = None) -> Path:
    """Write a fitted classifier: a scikit-learn pipeline to ``path`` (``.skops``), an MLP to the folder ``path``.

    ``metadata`` (label names, extractor, pooling, metrics, ...) goes to ``<path>.json`` beside it.
    """
    from ser_hf.classifiers.mlp import MLPClassifier

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(model, MLPClassifier):
        model.save_pretrained(path)
    else:
        import skops.io as sio

        if path.suffix != ".skops":
            raise ValueError(f"a scikit-learn classifier is saved to a .skops file, got {path}")
        sio.dump(model, path)
    if metadata is not None:
        Path(str(path) + ".json").write_text(json.dumps(metadata, indent=1, default=str))
    return path


def load_classifier(path: str | Path, extra_trusted: tuple[str, ...] = ()):
    """A classifier written by :func:`save_classifier`, and its metadata (``{}`` when there is none).

    A ``.skops`` file is loaded only when every type it holds is in skops' default trusted set,
    :func:`trusted_types` or ``extra_trusted``; otherwise a ``ValueError`` names the others.
    """
    path = Path(path)
    meta_path = Path(str(path) + ".json")
    metadata = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if path.is_dir():
        from ser_hf.classifiers.mlp import MLPClassifier

        return MLPClassifier.from_pretrained(path), metadata
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=path)
    refused = sorted(set(untrusted) - set(trusted_types()) - set(extra_trusted))
    if refused:
        raise ValueError(f"{path}: holds types outside the trusted list, refusing to load: {refused}")
    return sio.load(path, trusted=list(untrusted)), metadata
