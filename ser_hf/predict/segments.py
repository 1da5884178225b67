"""A recording cut into the pieces a model classifies: the whole clip, fixed windows, or voice-activity segments.

``windows`` reuses the Space's long-clip code (:func:`ser_hf.evaluation.long_clip.segment_clip`: windows whose RMS
stays below the gate are silence and never reach a model). ``vad`` asks a voice-activity detector for the speech
spans: silero-vad's ONNX model (shipped inside the ``silero-vad`` wheel, run offline by onnxruntime) or, without it,
an energy gate at 30-ms resolution (frames whose RMS reaches the Space's threshold, pauses under 0.3 s bridged,
bursts under 0.25 s dropped); the gaps between spans become silence rows and a span longer than ``max_segment``
seconds is split into equal pieces, so one row never averages a minute of speech.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ser_hf.evaluation.long_clip import rms, segment_clip

logger = logging.getLogger(__name__)

MIN_SPEECH_S = 0.25  # a voiced burst shorter than this is a click, not speech (silero-vad's default too)
MIN_PAUSE_S = 0.3  # a pause shorter than this stays inside its segment
SPEECH_PAD_S = 0.03
FRAME_S = 0.03
MIN_SILENCE_ROW_S = 0.01  # a gap narrower than this between two speech spans gets no row


@dataclass
class Piece:
    """A stretch of a recording: classified (``samples`` set) or silence (``samples`` None)."""

    start: float
    end: float
    samples: np.ndarray | None

    @property
    def silent(self) -> bool:
        return self.samples is None


def whole_clip_silent(wave: np.ndarray, sr: int, silence_rms: float, window: float = 2.0) -> bool:
    """The Space's gate over a whole clip: silent when no ``window``-long stretch of it reaches ``silence_rms``."""
    if silence_rms <= 0:
        return False
    return all(s.silent for s in segment_clip(wave, sr, window, silence_rms=silence_rms))


def window_pieces(wave: np.ndarray, sr: int, window: float, hop: float, silence_rms: float) -> list[Piece]:
    segments = segment_clip(wave, sr, window, hop_seconds=hop, silence_rms=silence_rms, min_seconds=min(0.5, window))
    return [Piece(s.start_s, s.end_s, None if s.silent else s.samples) for s in segments]


@lru_cache(maxsize=1)
def _silero():
    import torch

    threads = torch.get_num_threads()
    from silero_vad import load_silero_vad  # its import sets torch to one thread for the whole process

    torch.set_num_threads(threads)
    # the "sequence" model: the streaming network run over blocks of 512 frames per onnxruntime call, bit-exact with
    # the frame-by-frame loop and far faster on long recordings
    return load_silero_vad(sequence=True)


def silero_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("silero_vad") is not None


def resolve_vad(backend: str) -> str:
    """``auto`` -> silero where the package is installed, else the energy gate (said once)."""
    if backend == "auto":
        if silero_available():
            return "silero"
        logger.warning("silero-vad is not installed (pip install silero-vad): --segments vad uses the energy gate")
        return "energy"
    if backend == "silero" and not silero_available():
        raise ValueError("--vad silero: the silero-vad package is not installed (pip install silero-vad)")
    return backend


def silero_spans(wave: np.ndarray, sr: int) -> list[tuple[float, float]]:
    model = _silero()
    from silero_vad import get_speech_timestamps_sequence

    stamps = get_speech_timestamps_sequence(np.ascontiguousarray(wave, dtype=np.float32), model, sampling_rate=sr,
                                            min_speech_duration_ms=int(MIN_SPEECH_S * 1000),
                                            min_silence_duration_ms=int(MIN_PAUSE_S * 1000),
                                            speech_pad_ms=int(SPEECH_PAD_S * 1000))
    return [(s["start"] / sr, s["end"] / sr) for s in stamps]


def energy_spans(wave: np.ndarray, sr: int, silence_rms: float) -> list[tuple[float, float]]:
    frame = max(1, int(FRAME_S * sr))
    n = len(wave) // frame
    if n == 0:
        return [] if rms(wave) < silence_rms else [(0.0, len(wave) / sr)]
    frames = np.asarray(wave[: n * frame], dtype=np.float64).reshape(n, frame)
    voiced = np.sqrt(np.mean(frames * frames, axis=1)) >= silence_rms
    spans: list[list[float]] = []
    for i in np.flatnonzero(voiced):
        start, end = i * FRAME_S, (i + 1) * FRAME_S
        if spans and start - spans[-1][1] < MIN_PAUSE_S:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    duration = len(wave) / sr
    return [(float(max(0.0, s - SPEECH_PAD_S)), float(min(duration, e + SPEECH_PAD_S))) for s, e in spans
            if e - s >= MIN_SPEECH_S]


def vad_pieces(wave: np.ndarray, sr: int, backend: str, silence_rms: float, max_segment: float) -> list[Piece]:
    spans = silero_spans(wave, sr) if backend == "silero" else energy_spans(wave, sr, silence_rms)
    duration = len(wave) / sr
    pieces: list[Piece] = []
    t = 0.0
    for start, end in spans:
        if start - t >= MIN_SILENCE_ROW_S:
            pieces.append(Piece(t, start, None))
        count = max(1, math.ceil((end - start) / max_segment - 1e-9))
        step = (end - start) / count
        for k in range(count):
            a, b = start + k * step, end if k == count - 1 else start + (k + 1) * step
            pieces.append(Piece(a, b, wave[int(round(a * sr)) : int(round(b * sr))]))
        t = end
    if duration - t >= MIN_SILENCE_ROW_S:
        pieces.append(Piece(t, duration, None))
    return pieces


def plan_pieces(wave: np.ndarray, sr: int, *, segments: str, long_seconds: float, window: float, hop: float,
                silence_rms: float, max_segment: float, vad: str) -> tuple[list[Piece], bool]:
    """The pieces to classify and whether the recording was segmented (longer than ``long_seconds``)."""
    duration = len(wave) / sr
    if segments == "none" or duration <= long_seconds:
        return [Piece(0.0, duration, wave)], False
    if segments == "windows":
        return window_pieces(wave, sr, window, hop, silence_rms), True
    return vad_pieces(wave, sr, vad, silence_rms, max_segment), True
