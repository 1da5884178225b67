"""A finished run folder read back for comparisons and tables: its test predictions, protocol and headline scores.

A single run has ``predictions.npz`` and ``results.json``; a cross-validation has ``cv_results.json`` and one
``fold-NN/predictions.npz`` per fold (pooled here, each file remembering its fold). Both name the model the run
selected (the best embedding x classifier row of an embeddings table).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ser_hf.evaluation.results import load_predictions


class RunError(ValueError):
    """A folder that is not a finished run, or two runs that cannot be compared; the message says which."""


@dataclass
class RunOutputs:
    path: Path
    results: dict
    cv: dict | None  # cv_results.json of a cross-validation
    model: str  # the row of predictions.npz / cv_results.json reported
    label: str  # what the model is (model_label)
    label_names: list[str]
    labels: np.ndarray
    probabilities: np.ndarray
    speakers: list[str]
    paths: list[str]  # each test file's source path
    content_hashes: list[str]  # and its prepared audio's hash
    folds: np.ndarray | None  # each test file's fold, for a cross-validation
    speaker_independent: bool
    protocol: str


def _read(path: Path) -> dict:
    return json.loads(path.read_text())


def selected_row(run_dir: Path, results: dict, cv: dict | None) -> str:
    """The name of the row a run reports in ``predictions.npz``: the cross-validation's best, the embeddings table's
    best row, else the one model."""
    if cv is not None:
        return cv["best"]
    best = results.get("best") or {}
    if best.get("embedding"):
        return f"{best['embedding']} + {best['classifier']}"
    return ""


def model_label(run_dir: Path, results: dict, cv: dict | None) -> str:
    """What a table calls the model of a run: the method's own description (encoder, head), or the table row."""
    run = results.get("run") or {}
    if not run and cv is not None and (run_dir / "fold-00" / "results.json").is_file():
        run = _read(run_dir / "fold-00" / "results.json").get("run") or {}
    row = selected_row(run_dir, results, cv)
    if run.get("model") and (results.get("method") or cv and cv.get("method")) != "embeddings":
        return run["model"]
    return row or results.get("method", "model")


def load_run(run_dir: str | Path, model: str | None = None) -> RunOutputs:
    """The test predictions of a run folder (pooled over folds for a cross-validation) and what they were measured
    under; RunError when the folder is not a finished run."""
    run_dir = Path(run_dir)
    if not (run_dir / "results.json").is_file():
        raise RunError(f"{run_dir}: no results.json: not a finished ser-hf run folder")
    results = _read(run_dir / "results.json")
    cv = _read(run_dir / "cv_results.json") if (run_dir / "cv_results.json").is_file() else None
    if cv is not None:
        parts = sorted(run_dir.glob("fold-*/predictions.npz"))
        if len(parts) != cv["protocol"]["folds"]:
            raise RunError(f"{run_dir}: {len(parts)} fold predictions for {cv['protocol']['folds']} folds")
        protocol = cv["protocol"]["description"]
        independent = bool(cv["protocol"]["speaker_independent"])
    else:
        parts = [run_dir / "predictions.npz"]
        if not parts[0].is_file():
            raise RunError(f"{run_dir}: no predictions.npz")
        protocol = f"split {results.get('split')}"
        independent = bool(results.get("speaker_independent"))
    loaded = [load_predictions(p) for p in parts]
    name = model or selected_row(run_dir, results, cv) or next(iter(loaded[0]["probabilities"]))
    if name not in loaded[0]["probabilities"]:
        raise RunError(f"{run_dir}: no model {name!r} in its predictions; it has {', '.join(loaded[0]['probabilities'])}")
    labels = np.concatenate([p["labels"] for p in loaded])
    paths = [x for p in loaded for x in p["paths"]]
    hashes = [x for p in loaded for x in p["content_hashes"]]
    if not (len(paths) == len(labels) and all(paths)) and len(hashes) != len(labels):
        raise RunError(f"{run_dir}: its predictions do not name their test files (a run from before ser-hf recorded "
                       "them); run it again to compare it")
    return RunOutputs(
        path=run_dir, results=results, cv=cv, model=name, label=model_label(run_dir, results, cv) if model is None
        else name, label_names=loaded[0]["label_names"], labels=labels,
        probabilities=np.concatenate([p["probabilities"][name] for p in loaded]),
        speakers=[s for p in loaded for s in p["speakers"]], paths=paths,
        content_hashes=hashes,
        folds=np.concatenate([np.full(len(p["labels"]), i) for i, p in enumerate(loaded)]) if cv is not None else None,
        speaker_independent=independent, protocol=protocol)
