"""What a training run leaves in its output folder besides the model.

``results.json`` (test metrics, per corpus / language, their 95 % bootstrap intervals, calibration, run facts),
``results.md`` (the same as tables), ``predictions.npz`` / ``.csv`` (per-file test probabilities, the files named),
``confusion_matrix.png``, ``roc_curves.png``, ``reliability_diagram.png``, ``leakage.json``, ``long_clip.json``,
``data_report.json`` and the resolved ``recipe.yaml``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ser_hf.data.labels import get_label_set
from ser_hf.evaluation.calibration import calibration_report
from ser_hf.evaluation.intervals import DEFAULT_SAMPLES, run_intervals
from ser_hf.evaluation.long_clip import evaluate_long_clip
from ser_hf.evaluation.metrics import compute_classification_metrics, format_results_table
from ser_hf.evaluation.plots import plot_confusion_matrix, plot_reliability_diagram, plot_roc_curves
from ser_hf.data.splits import format_leakage_report, speakerless_sources

# How every Trainer-method figure is computed (ser_hf.training.trainer.InferenceCollator): stated in results and cards.
PIPELINE_EVALUATION = ("each file whole through the saved feature extractor, in float32, no padding: the scores "
                       "pipeline('audio-classification', model=RUN_DIR) gives, file by file")

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


def save_predictions(out: Path, probabilities: dict[str, np.ndarray], test_ds, label_names: list[str]) -> Path:
    """``predictions.npz``: test probabilities per model (columns in ``label_names`` order), labels, speakers and
    the files' paths, row by row, and their prepared audio's hashes (``content_hashes``: ``ser-hf compare`` pairs two
    runs' files by path, or by audio for two copies of a corpus); ``predictions.csv``: the same per file (path,
    corpus, speaker, label, each model's predicted label), for reading and for checking a saved model file by file.

    What a cross-validation pools over folds; ``label_names`` must be the run's full label list, so folds whose
    test part lacks a class still line up.
    """
    out.mkdir(parents=True, exist_ok=True)
    arrays = {f"probabilities/{name}": np.asarray(p, dtype=np.float32) for name, p in probabilities.items()}
    paths = list(test_ds["path"]) if "path" in test_ds.column_names else [""] * len(test_ds)
    labels = np.asarray(test_ds["label"], dtype=np.int64)
    hashes = {"content_hashes": np.asarray(test_ds["content_hash"])} if "content_hash" in test_ds.column_names else {}
    path = out / "predictions.npz"
    np.savez(path, labels=labels, speakers=np.asarray(test_ds["speaker"]), paths=np.asarray(paths, dtype=str),
             label_names=np.asarray(label_names), models=np.asarray(list(probabilities)), **hashes, **arrays)
    corpora = test_ds["corpus"] if "corpus" in test_ds.column_names else [""] * len(test_ds)
    with open(out / "predictions.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "corpus", "speaker", "label", *(f"prediction:{m}" for m in probabilities)])
        predicted = {m: np.asarray(p).argmax(axis=1) for m, p in probabilities.items()}
        for i, (file, corpus, speaker) in enumerate(zip(paths, corpora, test_ds["speaker"])):
            writer.writerow([file, corpus, speaker, label_names[labels[i]], *(label_names[predicted[m][i]] for m in probabilities)])
    return path


def load_predictions(path: Path) -> dict:
    """What :func:`save_predictions` wrote: ``labels``, ``speakers``, ``paths``, ``label_names``, ``probabilities``
    per model, and ``content_hashes`` (an empty list for runs saved before they were recorded)."""
    with np.load(path, allow_pickle=False) as data:
        return {"labels": data["labels"], "speakers": data["speakers"].tolist(),
                "paths": data["paths"].tolist() if "paths" in data else [""] * len(data["labels"]),
                "label_names": data["label_names"].tolist(),
                "content_hashes": data["content_hashes"].tolist() if "content_hashes" in data else [],
                "probabilities": {m: data[f"probabilities/{m}"] for m in data["models"].tolist()}}


def calibration_line(calibration: dict) -> str:
    """One sentence: the test ECE, before and after temperature scaling where a temperature was fitted."""
    if calibration.get("temperature") is not None:
        return (f"Calibration: expected calibration error on the test part {100 * calibration['ece_before']:.2f} % "
                f"before temperature scaling, {100 * calibration['ece_after']:.2f} % after (T = "
                f"{calibration['temperature']:.3f}, fitted on {calibration.get('fitted_on') or 'the validation part'}; "
                "the saved model returns the scaled probabilities).")
    why = calibration.get("not_fitted", "")
    return (f"Calibration: expected calibration error on the test part {100 * calibration['ece']:.2f} % "
            f"({calibration.get('bins', 15)} bins; no temperature fitted{': ' + why if why else ''}).")


def protocol_summary(recipe, fold, data) -> str:
    """The split protocol in words, with the test speakers: what every reported number is measured under."""
    test_speakers = sorted(set(data.splits["test"]["speaker"]))
    leak = data.leakage
    kind = "speaker-independent" if leak["speaker_independent"] else "speaker-dependent (test speakers also in training)"
    shown = ", ".join(test_speakers[:12]) + (f" ... ({len(test_speakers)} in all)" if len(test_speakers) > 12 else "")
    sizes = ", ".join(f"{k} {len(v)}" for k, v in data.splits.items())
    line = (f"Protocol: split `{fold.protocol}` (seed {recipe.protocol.split_seed}), {kind}; sizes: {sizes}; "
            f"test speakers: {shown}")
    unknown = speakers_unknown(data)
    if unknown:
        line += f"\n\n{speakers_unknown_note(unknown)}"
    if getattr(data, "validation_note", ""):
        line += f"\n\n{data.validation_note}"
    return line


def speakers_unknown(data) -> list[str]:
    """The sources without speakers (own data without a speaker column) in both the test part and another part:
    their test speakers may have trained the model."""
    test = speakerless_sources(data.splits["test"]["speaker"])
    rest = speakerless_sources(s for name, part in data.splits.items() if name != "test" for s in part["speaker"])
    return sorted(set(test) & set(rest))


def speakers_unknown_note(sources: list[str]) -> str:
    return (f"Speakers unknown: {', '.join(sources)} has no speaker column, so its speakers may be in training and "
            "test alike: these figures are speaker-dependent.")


def write_results(out: Path, recipe, fold, data, metrics: dict, probs: np.ndarray, test_labels, extra: dict,
                  label_names: list[str] | None = None) -> None:
    """results.json / results.md, the confusion matrix and ROC plots, leakage, data report and recipe of a run.

    ``test_labels`` are the label ids of the test rows in ``label_names``' order (default ``data.label_names``;
    the embedding table passes the classes present in its split).
    """
    out.mkdir(parents=True, exist_ok=True)
    label_names = label_names or data.label_names
    synthetic = all(r.synthetic for r in data.reports)
    test_labels = np.asarray(test_labels)
    intervals = run_intervals(test_labels, probs, data.splits["test"]["speaker"], data.leakage["speaker_independent"],
                              samples=recipe.protocol.bootstrap_samples)
    fitted = extra.get("calibration") or {}  # the temperature a method fitted on its validation part, if any
    calibration = {**fitted, **calibration_report(probs, test_labels, fitted.get("temperature"),
                                                  fitted.get("fitted_on", ""))}
    results = {
        "data": "synthetic espeak-ng corpus (not real emotional speech)" if synthetic else "real corpora",
        "corpora": [r.corpus for r in data.reports],
        "label_set": recipe.data.label_set,
        "labels": label_names,
        "split": fold.protocol,
        "split_sizes": {k: len(v) for k, v in data.splits.items()},
        "speaker_independent": data.leakage["speaker_independent"],
        "speakers_unknown": speakers_unknown(data),
        "test_speakers": sorted(set(data.splits["test"]["speaker"])),
        "test": metrics,
        **extra,
        "intervals": intervals,
        "calibration": calibration,
    }
    (out / "results.json").write_text(json.dumps(results, indent=1))
    evaluation = (extra.get("run") or {}).get("evaluation")
    table = f"Data: {results['data']}\n\n{protocol_summary(recipe, fold, data)}\n\n"
    table += f"Evaluation: {evaluation}.\n\n" if evaluation else ""
    table += format_results_table(metrics, intervals) + "\n" + calibration_line(calibration) + "\n"
    (out / "results.md").write_text(table + "\n```\n" + format_leakage_report(data.leakage) + "\n```\n")
    if recipe.protocol.plots and fold.part_of is None:  # folds and cells: the pooled plots are drawn once
        plot_confusion_matrix(metrics["confusion_matrix"], label_names, out / "confusion_matrix.png")
        plot_roc_curves(test_labels, probs, label_names, out / "roc_curves.png")
        plot_reliability_diagram(calibration, out / "reliability_diagram.png")
    (out / "leakage.json").write_text(json.dumps(data.leakage, indent=1))
    (out / "data_report.json").write_text(json.dumps([asdict(r) for r in data.reports], indent=1, ensure_ascii=False))
    (out / "recipe.yaml").write_text(recipe.run_yaml(fold))
