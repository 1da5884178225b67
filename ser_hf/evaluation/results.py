"""What a training run leaves in its output folder besides the model.

``results.json`` (test metrics, per corpus / language, run facts), ``results.md`` (the same as
tables), ``confusion_matrix.png``, ``roc_curves.png``, ``leakage.json``, ``long_clip.json``,
``data_report.json`` and the resolved ``recipe.yaml``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ser_hf.data.labels import get_label_set
from ser_hf.evaluation.long_clip import evaluate_long_clip
from ser_hf.evaluation.metrics import compute_classification_metrics, format_results_table
from ser_hf.evaluation.plots import plot_confusion_matrix, plot_roc_curves
from ser_hf.data.splits import format_leakage_report

# One utterance per emotion, twice over: the synthetic stand-in for a labelled long recording.
DEFAULT_LONG_CLIP = ["angry", "sad", "happy", "neutral", "fear", "surprise", "disgust"] * 2


def test_metrics(prediction_output, test_ds, label_names: list[str]) -> dict:
    logits = prediction_output.predictions
    logits = logits[0] if isinstance(logits, tuple) else logits
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    groups = {}
    for column in ("corpus", "language"):
        if len(set(test_ds[column])) > 1:
            groups[column] = test_ds[column]
    return compute_classification_metrics(
        prediction_output.label_ids, probs.argmax(axis=1), label_names, probabilities=probs, groups=groups
    ), probs


def load_long_clip(path: str | None, label_set: str) -> tuple[np.ndarray, int, list[tuple[float, float, str]], str]:
    """A labelled long recording (WAV + CSV start,end,emotion) or the synthetic one; labels mapped to the set."""
    if path:
        from ser_hf.data.audio import read_audio

        wave, sr = read_audio(path, 16000)
        with open(Path(path).with_suffix(".csv"), newline="") as fh:
            annotations = [(float(r["start"]), float(r["end"]), r["emotion"]) for r in csv.DictReader(fh)]
        source = path
    else:
        from ser_hf.data.synth import render_long_clip

        wave, annotations = render_long_clip(DEFAULT_LONG_CLIP, silence_between=2.0, seed=1)  # gaps on the 2-s grid
        sr, source = 16000, "synthetic espeak-ng clip (ser_hf.data.synth.render_long_clip)"
    ls = get_label_set(label_set)
    mapped = [(s, e, ls.map(emotion) or emotion) for s, e, emotion in annotations]
    return wave, sr, mapped, source


def long_clip_results(model_dir: str, label_names: list[str], clip: str | None, label_set: str, device: str | None = None) -> dict:
    """Score the long clip with the saved model, through the same loader the Space uses."""
    import torch

    from ser_hf.inference import SAMPLING_RATE, EmotionModels

    models = EmotionModels.load({"model": model_dir}, device or ("cuda" if torch.cuda.is_available() else "cpu"))
    wave, sr, annotations, source = load_long_clip(clip, label_set)
    if sr != SAMPLING_RATE:
        raise ValueError(f"long clip at {sr} Hz; {SAMPLING_RATE} Hz expected")

    def predict(segment: np.ndarray, rate: int):
        result = models.predict(segment)["model"]
        return result["label"], result["probabilities"]

    result = evaluate_long_clip(predict, wave, sr, annotations, label_names)
    result["source"] = source
    return result


def write_results(out: Path, recipe, data, metrics: dict, probs: np.ndarray, test_labels, extra: dict,
                  label_names: list[str] | None = None) -> None:
    """results.json / results.md, the confusion matrix and ROC plots, leakage, data report and recipe of a run.

    ``test_labels`` are the label ids of the test rows in ``label_names``' order (default ``data.label_names``;
    the embedding table passes the classes present in its split).
    """
    out.mkdir(parents=True, exist_ok=True)
    label_names = label_names or data.label_names
    synthetic = all(r.synthetic for r in data.reports)
    results = {
        "data": "synthetic espeak-ng corpus (not real emotional speech)" if synthetic else "real corpora",
        "corpora": [r.corpus for r in data.reports],
        "label_set": recipe.label_set,
        "labels": label_names,
        "split": recipe.split,
        "split_sizes": {k: len(v) for k, v in data.splits.items()},
        "speaker_independent": data.leakage["speaker_independent"],
        "test": metrics,
        **extra,
    }
    (out / "results.json").write_text(json.dumps(results, indent=1))
    table = f"Data: {results['data']}\n\n" + format_results_table(metrics)
    (out / "results.md").write_text(table + "\n```\n" + format_leakage_report(data.leakage) + "\n```\n")
    plot_confusion_matrix(metrics["confusion_matrix"], label_names, out / "confusion_matrix.png")
    plot_roc_curves(test_labels, probs, label_names, out / "roc_curves.png")
    (out / "leakage.json").write_text(json.dumps(data.leakage, indent=1))
    (out / "data_report.json").write_text(json.dumps([asdict(r) for r in data.reports], indent=1, ensure_ascii=False))
    (out / "recipe.yaml").write_text(recipe.to_yaml())
