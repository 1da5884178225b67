"""Long recordings scored in 2-s segments: seed 003's real-time protocol (§3.5, §4.5.2, Table 48).

In the paper the browser sends the microphone signal in 2-second segments; the server computes
the segment's RMS energy and, "if the energy is below 0.01, the server classifies the audio as
'Neutral,' assuming silence" without running a model (§3.5.1, Back-end). Two long clips were cut
into 2-s segments, "each 2-second segment was manually assigned an emotional category" (§3.5.2),
and accuracy, weighted F1 and macro F1 were reported per model, excluding silent segments
(§4.5.2, Table 48: HuBERT 52.87 % accuracy on the English clip), with a mean response time of
490.76 ms.

Here:

* :func:`segment_clip` cuts a waveform into segments and flags the silent ones (RMS of the whole
  segment below ``silence_rms``); the real-time demo reuses it.
* :func:`label_segments` gives each segment the annotated emotion that overlaps it most, from
  time-stamped annotations ``(start_s, end_s, emotion)``.
* :func:`evaluate_long_clip` runs a model on every non-silent segment, timing each call, and
  scores the segments that carry a label the model can predict. Silent segments never reach the
  model and are shown with the prediction ``"silence"``; segments with no annotation, or with an
  annotated emotion outside ``label_names`` (the paper's four-class real-time set has no neutral),
  are predicted but not scored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from time import perf_counter

import numpy as np

SILENCE = "silence"

PredictFn = Callable[[np.ndarray, int], tuple[str, dict[str, float]]]


@dataclass(eq=False)
class Segment:
    """A piece of a recording: its time span, samples, RMS energy and whether it counts as silence."""

    start_s: float
    end_s: float
    samples: np.ndarray
    rms: float
    silent: bool

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def rms(wave: np.ndarray) -> float:
    """Root mean square of the samples (0 for an empty array)."""
    return float(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))) if len(wave) else 0.0


def segment_clip(
    wave: np.ndarray,
    sr: int,
    seconds: float = 2.0,
    hop_seconds: float | None = None,
    silence_rms: float = 0.01,
    min_seconds: float = 0.5,
) -> list[Segment]:
    """Cut ``wave`` into ``seconds``-long segments starting every ``hop_seconds`` (default: back to back).

    The last segment may be shorter; a tail shorter than ``min_seconds`` is dropped, unless the
    whole clip is that short. A segment is ``silent`` when its RMS is below ``silence_rms``.
    """
    if seconds <= 0 or (hop_seconds is not None and hop_seconds <= 0):
        raise ValueError("seconds and hop_seconds must be positive")
    wave = np.asarray(wave, dtype=np.float32)
    size = max(1, int(round(seconds * sr)))
    hop = max(1, int(round((hop_seconds or seconds) * sr)))
    segments: list[Segment] = []
    for start in range(0, len(wave), hop):
        chunk = wave[start : start + size]
        if segments and len(chunk) < min_seconds * sr:
            break
        energy = rms(chunk)
        segments.append(Segment(start / sr, (start + len(chunk)) / sr, chunk, energy, energy < silence_rms))
        if start + size >= len(wave):  # this window reaches the end; later ones would lie inside it
            break
    return segments


def label_segments(
    annotations: Sequence[tuple[float, float, str]], segments: Sequence[Segment]
) -> list[str | None]:
    """For each segment, the annotated emotion with the largest total overlap (None if nothing overlaps).

    Ties go to the emotion annotated first.
    """
    labels: list[str | None] = []
    for segment in segments:
        overlap: dict[str, float] = {}
        for start, end, emotion in annotations:
            shared = min(end, segment.end_s) - max(start, segment.start_s)
            if shared > 0:
                overlap[emotion] = overlap.get(emotion, 0.0) + shared
        labels.append(max(overlap, key=overlap.__getitem__) if overlap else None)
    return labels


def _latency_summary(latencies_ms: list[float]) -> dict[str, float | int | None]:
    if not latencies_ms:
        return {"p50": None, "p95": None, "mean": None, "max": None, "n": 0}
    values = np.asarray(latencies_ms)
    return {"p50": float(np.percentile(values, 50)), "p95": float(np.percentile(values, 95)),
            "mean": float(values.mean()), "max": float(values.max()), "n": int(len(values))}


def evaluate_long_clip(
    predict_fn: PredictFn,
    wave: np.ndarray,
    sr: int,
    annotations: Sequence[tuple[float, float, str]],
    label_names: Sequence[str],
    seconds: float = 2.0,
    silence_rms: float = 0.01,
) -> dict:
    """Score a model on a long annotated recording, segment by segment (seed 003, Table 48).

    Args:
        predict_fn: ``(samples, sr) -> (label, {label: probability})`` for one segment.
        wave, sr: the recording (mono float) and its sampling rate.
        annotations: ``(start_s, end_s, emotion)`` spans; a segment takes the emotion overlapping it most.
        label_names: the labels the model predicts; segments annotated with anything else are not scored.
        seconds, silence_rms: segment length, and the RMS below which a segment is silence.

    Returns:
        ``segments``: one row per segment (start, end, label, prediction, probabilities,
        latency_ms, rms, silent, scored); ``accuracy``, ``weighted_f1``, ``macro_f1`` and ``uar``
        over the scored segments (None when there are none); counts ``n_segments``, ``n_silent``,
        ``n_unlabelled``, ``n_out_of_set``, ``n_scored``; ``latency_ms`` ({p50, p95, mean, max, n})
        over the model calls.
    """
    from ser_hf.evaluation.metrics import headline_metrics

    label_index = {name: i for i, name in enumerate(label_names)}
    segments = segment_clip(wave, sr, seconds=seconds, silence_rms=silence_rms)
    rows: list[dict] = []
    latencies: list[float] = []
    for segment, label in zip(segments, label_segments(annotations, segments)):
        row = {"start": segment.start_s, "end": segment.end_s, "label": label, "prediction": SILENCE,
               "probabilities": None, "latency_ms": None, "rms": segment.rms, "silent": segment.silent,
               "scored": False}
        if not segment.silent:
            started = perf_counter()
            prediction, probabilities = predict_fn(segment.samples, sr)
            row["latency_ms"] = (perf_counter() - started) * 1000.0
            latencies.append(row["latency_ms"])
            if prediction not in label_index:
                raise ValueError(f"predict_fn returned {prediction!r}, which is not in label_names {list(label_names)}")
            row.update(prediction=prediction, probabilities=probabilities, scored=label in label_index)
        rows.append(row)

    scored = [row for row in rows if row["scored"]]
    result: dict = {
        "segments": rows,
        "n_segments": len(rows),
        "n_silent": sum(row["silent"] for row in rows),
        "n_unlabelled": sum(not row["silent"] and row["label"] is None for row in rows),
        "n_out_of_set": sum(not row["silent"] and row["label"] is not None and row["label"] not in label_index
                            for row in rows),
        "n_scored": len(scored),
        "accuracy": None, "weighted_f1": None, "macro_f1": None, "uar": None,
        "latency_ms": _latency_summary(latencies),
        "seconds": seconds,
        "silence_rms": silence_rms,
    }
    if scored:
        result.update(headline_metrics([label_index[r["label"]] for r in scored],
                                       [label_index[r["prediction"]] for r in scored]))
    return result


def live_labels(
    predict_fn: PredictFn,
    wave: np.ndarray,
    sr: int,
    seconds: float = 2.0,
    hop_seconds: float | None = None,
    smoother=None,
    silence_rms: float = 0.01,
) -> list[dict]:
    """What the live tab shows for ``wave``: one row per window (``seconds`` long, a new one every ``hop_seconds``),
    with the label after smoothing (``smoother``: a :class:`ser_hf.inference.ProbabilitySmoother`, or None) and the
    model's time. A silent window shows ``"silence"``, runs no model and resets the smoother."""
    rows = []
    for segment in segment_clip(wave, sr, seconds, hop_seconds=hop_seconds, silence_rms=silence_rms, min_seconds=seconds):
        row = {"start": segment.start_s, "end": segment.end_s, "label": SILENCE, "latency_ms": None}
        if segment.silent:
            if smoother is not None:
                smoother.reset()
        else:
            started = perf_counter()
            _, probabilities = predict_fn(segment.samples, sr)
            row["latency_ms"] = (perf_counter() - started) * 1000.0
            if smoother is not None:
                probabilities = smoother.update(probabilities)
            row["label"] = max(probabilities, key=probabilities.get)
        rows.append(row)
    return rows


def flips_per_minute(rows: Sequence[dict], duration_s: float) -> float:
    """Changes of the shown label between consecutive voiced windows, per minute of audio (silence is skipped:
    a label after a pause is a new utterance's, not a flip)."""
    voiced = [r["label"] for r in rows if r["label"] != SILENCE]
    flips = sum(a != b for a, b in zip(voiced, voiced[1:]))
    return flips / (duration_s / 60.0) if duration_s > 0 else 0.0


def annotated_agreement(rows: Sequence[dict], annotations: Sequence[tuple[float, float, str]]) -> float | None:
    """Share of voiced windows whose shown label is the emotion annotated over most of the window."""
    segments = [Segment(r["start"], r["end"], np.zeros(0, np.float32), 0.0, False) for r in rows]
    pairs = [(r["label"], truth) for r, truth in zip(rows, label_segments(annotations, segments))
             if r["label"] != SILENCE and truth is not None]
    return sum(a == b for a, b in pairs) / len(pairs) if pairs else None
