"""Long-clip evaluation (seed 003, Table 48) on a synthetic clip of tones and silence."""

from __future__ import annotations

import numpy as np
import pytest

import ser_hf.evaluation.long_clip as longclip
from ser_hf.evaluation.long_clip import SILENCE, evaluate_long_clip, label_segments, segment_clip

SR = 16000
FREQ_TO_LABEL = {220.0: "sad", 330.0: "happy", 440.0: "angry"}


def tone(freq: float, seconds: float = 2.0, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


# 2-s pieces: what is played, and what the annotator heard
CLIP = np.concatenate([
    tone(440),                    # 0-2   angry  -> predicted angry  (right)
    np.zeros(2 * SR, np.float32), # 2-4   silence (annotated neutral): never reaches the model
    tone(220),                    # 4-6   sad    -> predicted sad    (right)
    tone(440),                    # 6-8   sad    -> predicted angry  (wrong)
    tone(330, amplitude=0.02),    # 8-10  happy, quiet: RMS 0.0141 >= 0.01, scored -> happy (right)
    tone(440, amplitude=0.005),   # 10-12 happy, RMS 0.0035 < 0.01: silence
    tone(220),                    # 12-14 neutral, not a class the model has: predicted, not scored
])
ANNOTATIONS = [(0.0, 2.2, "angry"), (2.2, 4.0, "neutral"), (4.0, 8.0, "sad"), (8.0, 12.0, "happy"),
               (12.0, 14.0, "neutral")]
LABEL_NAMES = ["angry", "happy", "sad"]


def tone_classifier(calls: list[np.ndarray]):
    def predict(samples: np.ndarray, sr: int) -> tuple[str, dict[str, float]]:
        calls.append(samples)
        spectrum = np.abs(np.fft.rfft(samples))
        freq = np.fft.rfftfreq(len(samples), 1 / sr)[np.argmax(spectrum)]
        label = FREQ_TO_LABEL[min(FREQ_TO_LABEL, key=lambda f: abs(f - freq))]
        return label, {name: float(name == label) for name in LABEL_NAMES}

    return predict


def test_segment_clip_cuts_two_second_windows_and_flags_silence():
    segments = segment_clip(CLIP, SR)
    assert [(s.start_s, s.end_s) for s in segments] == [(2.0 * i, 2.0 * i + 2.0) for i in range(7)]
    assert [s.silent for s in segments] == [False, True, False, False, False, True, False]
    assert segments[0].rms == pytest.approx(0.5 / np.sqrt(2), rel=1e-4)
    assert segments[4].rms == pytest.approx(0.02 / np.sqrt(2), rel=1e-3)
    assert len(segments[0].samples) == 2 * SR


def test_segment_clip_tail_and_hop_rules():
    five = tone(220, seconds=5.0)
    assert [(s.start_s, s.end_s) for s in segment_clip(five, SR)] == [(0, 2), (2, 4), (4, 5)]
    # a 0.3-s tail is shorter than min_seconds (0.5 s): dropped
    assert [s.end_s for s in segment_clip(tone(220, seconds=4.3), SR)] == [2.0, 4.0]
    # ... unless it is the whole clip
    assert len(segment_clip(tone(220, seconds=0.3), SR)) == 1
    overlapping = segment_clip(five, SR, seconds=2.0, hop_seconds=1.0)
    assert [(s.start_s, s.end_s) for s in overlapping] == [(0, 2), (1, 3), (2, 4), (3, 5)]
    assert segment_clip(np.zeros(0, np.float32), SR) == []


def test_label_segments_takes_the_majority_overlap():
    segments = segment_clip(CLIP, SR)
    labels = label_segments(ANNOTATIONS, segments)
    assert labels == ["angry", "neutral", "sad", "sad", "happy", "happy", "neutral"]
    # 0-2 s: 1.2 s happy against 0.8 s angry; 2-4 s: nothing annotated
    assert label_segments([(0.0, 0.8, "angry"), (0.8, 2.0, "happy")], segments[:2]) == ["happy", None]
    # a tie goes to the emotion annotated first
    assert label_segments([(0.0, 1.0, "sad"), (1.0, 2.0, "angry")], segments[:1]) == ["sad"]


def test_evaluate_long_clip_matches_hand_computed_values(monkeypatch):
    # a fake clock: each model call "takes" 10, 20, 30, 40, 50 ms
    clock = {"now": 0.0, "next_cost": 0.010}
    monkeypatch.setattr(longclip, "perf_counter", lambda: clock["now"])
    calls: list[np.ndarray] = []
    classify = tone_classifier(calls)

    def predict(samples, sr):
        clock["now"] += clock["next_cost"]
        clock["next_cost"] += 0.010
        return classify(samples, sr)

    result = evaluate_long_clip(predict, CLIP, SR, ANNOTATIONS, LABEL_NAMES)

    # silent segments (RMS < 0.01) never reached the model
    assert len(calls) == 5
    assert all(np.sqrt(np.mean(np.square(c, dtype=np.float64))) >= 0.01 for c in calls)
    rows = result["segments"]
    assert [r["prediction"] for r in rows] == ["angry", SILENCE, "sad", "angry", "happy", SILENCE, "sad"]
    assert [r["scored"] for r in rows] == [True, False, True, True, True, False, False]
    assert rows[1]["latency_ms"] is None and rows[0]["latency_ms"] == pytest.approx(10.0)
    assert rows[0]["probabilities"] == {"angry": 1.0, "happy": 0.0, "sad": 0.0}
    assert (result["n_segments"], result["n_silent"], result["n_out_of_set"], result["n_unlabelled"],
            result["n_scored"]) == (7, 2, 1, 0, 4)

    # scored: angry/angry, sad/sad, sad/angry, happy/happy
    # F1: angry 2/3 (P 1/2, R 1), sad 2/3 (P 1, R 1/2), happy 1; supports 1, 2, 1
    assert result["accuracy"] == pytest.approx(3 / 4)
    assert result["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert result["weighted_f1"] == pytest.approx((2 / 3 * 1 + 2 / 3 * 2 + 1 * 1) / 4)
    assert result["uar"] == pytest.approx((1 + 0.5 + 1) / 3)
    # latencies 10..50 ms: numpy's linear percentiles
    assert result["latency_ms"] == pytest.approx({"p50": 30.0, "p95": 48.0, "mean": 30.0, "max": 50.0, "n": 5})


def test_evaluate_long_clip_with_nothing_to_score_and_a_bad_prediction():
    silence = np.zeros(4 * SR, np.float32)
    calls: list[np.ndarray] = []
    result = evaluate_long_clip(tone_classifier(calls), silence, SR, [(0, 4, "angry")], LABEL_NAMES)
    assert calls == [] and result["n_scored"] == 0 and result["accuracy"] is None
    assert result["latency_ms"]["n"] == 0
    with pytest.raises(ValueError, match="label_names"):
        evaluate_long_clip(lambda samples, sr: ("calm", {}), tone(220), SR, [(0, 2, "sad")], LABEL_NAMES)


def test_live_labels_smoothing_cuts_flips():
    """A window-by-window predictor that flips on every other window: smoothing holds the label."""
    from ser_hf.evaluation.long_clip import flips_per_minute, live_labels
    from ser_hf.inference import ProbabilitySmoother

    wave = np.full(16000 * 20, 0.1, dtype=np.float32)  # 20 s, never silent
    calls = []

    def predict(samples, sr):
        calls.append(len(samples))
        odd = len(calls) % 3 == 0  # every third window disagrees
        probs = {"angry": 0.35, "sad": 0.65} if odd else {"angry": 0.7, "sad": 0.3}
        return max(probs, key=probs.get), probs

    raw = live_labels(predict, wave, 16000, 2.0, hop_seconds=1.0, smoother=None)
    calls.clear()
    smooth = live_labels(predict, wave, 16000, 2.0, hop_seconds=1.0, smoother=ProbabilitySmoother("ema", 0.5))
    assert len(raw) == len(smooth) == 19 and all(n == 32000 for n in calls)  # complete 2-s windows every second
    assert flips_per_minute(raw, 20.0) == pytest.approx(12 * 3)  # 12 flips in 20 s
    assert flips_per_minute(smooth, 20.0) == 0.0
    silent = np.zeros(16000 * 4, dtype=np.float32)
    calls.clear()
    rows = live_labels(predict, np.concatenate([wave[:32000], silent, wave[:32000]]), 16000, 2.0)
    assert [r["label"] for r in rows] == ["angry", "silence", "silence", "angry"]
    assert flips_per_minute(rows, 8.0) == 0.0  # a pause is not a flip
