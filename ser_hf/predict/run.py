"""One ``ser-hf predict`` process: decode in worker processes, batch clips by length, write finished inputs.

Decoding, the bad-input checks and segmentation run in a ``torch.utils.data.DataLoader``'s worker processes, ahead
of the model; the inputs of this process (every ``world``-th one, from ``rank``) come in the order of their
estimated length, so consecutive clips have similar lengths and a batch pads little. Clips (whole files and the
voiced pieces of segmented recordings) wait in a small pool; a batch takes the shortest waiting clips, up to
``batch_size`` clips and ``batch_seconds`` of padded audio. When every piece of an input is classified, its rows
go to the journal (:mod:`ser_hf.predict.output`).
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ser_hf.predict.inputs import Inputs, Item, read_item
from ser_hf.predict.options import SILENCE, model_columns
from ser_hf.predict.output import Journal
from ser_hf.predict.segments import plan_pieces, whole_clip_silent

logger = logging.getLogger(__name__)

SR = 16000


@dataclass(frozen=True)
class Settings:
    segments: str = "windows"
    vad: str = "energy"  # resolved: silero | energy
    long_seconds: float = 30.0
    window: float = 2.0
    hop: float = 1.0
    max_segment: float = 10.0
    silence_rms: float = 0.01
    min_seconds: float = 0.1
    max_seconds: float = 14400.0
    smoothing: str = "none"
    smoothing_alpha: float = 0.5
    smoothing_window: int = 3
    batch_size: int = 8
    batch_seconds: float = 64.0
    workers: int = 1
    streams: int = 1
    plots: str | None = None


def _error(kind: str, detail: str, duration: float | None = None) -> dict:
    return {"kind": kind, "detail": detail, "duration": duration}


def _audio_error_kind(message: str) -> str:
    return "empty" if ("empty file" in message or "no audio frames" in message) else "unreadable"


def decode(item: Item, dataset, settings: Settings) -> dict:
    """What a worker hands the model: the item's pieces, or why it has none (``error``)."""
    from ser_hf.data.audio import AudioError

    out = {"index": item.index, "key": item.key, "label": item.label, "duration": None, "pieces": [],
           "segmented": False, "error": None}
    if item.path is not None:
        if not os.path.lexists(item.path):
            out["error"] = _error("missing", f"{item.path}: no such file")
            return out
        try:  # a header read: an over-long recording is refused before it is decoded
            import soundfile as sf

            seconds = sf.info(item.path).duration
            if seconds > settings.max_seconds:
                out["error"] = _error("too_long", f"{seconds:.0f} s is over --max-seconds {settings.max_seconds:g}", seconds)
                return out
        except Exception:  # noqa: BLE001 - read_audio below names the problem
            pass
    try:
        wave = read_item(item, dataset)
    except AudioError as err:
        out["error"] = _error(_audio_error_kind(str(err)), str(err))
        return out
    duration = len(wave) / SR
    out["duration"] = duration
    if duration < settings.min_seconds:
        out["error"] = _error("too_short", f"{duration:.3f} s is under --min-seconds {settings.min_seconds:g}", duration)
    elif duration > settings.max_seconds:
        out["error"] = _error("too_long", f"{duration:.0f} s is over --max-seconds {settings.max_seconds:g}", duration)
    if out["error"]:
        return out
    pieces, segmented = plan_pieces(wave, SR, segments=settings.segments, long_seconds=settings.long_seconds,
                                    window=settings.window, hop=settings.hop, silence_rms=settings.silence_rms,
                                    max_segment=settings.max_segment, vad=settings.vad)
    silent = all(p.silent for p in pieces) if segmented else whole_clip_silent(wave, SR, settings.silence_rms)
    if silent:
        how = f"the {settings.vad} voice-activity detector found no speech" if segmented and settings.segments == "vad" \
            else f"no {settings.window:g}-s window reaches RMS {settings.silence_rms:g}"
        out["error"] = _error("silent", how, duration)
        return out
    out["pieces"] = [(p.start, p.end, None if p.samples is None else np.ascontiguousarray(p.samples)) for p in pieces]
    out["segmented"] = segmented
    return out


class _DecodeDataset:
    """Map-style dataset for the DataLoader: item i decoded (in a worker process)."""

    def __init__(self, items: list[Item], dataset, settings: Settings):
        self.items, self.dataset, self.settings = items, dataset, settings

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return decode(self.items[i], self.dataset, self.settings)


def _unbatched(record):
    return record


@dataclass
class _InFlight:
    record: dict
    probs: dict[str, list] = field(default_factory=dict)
    missing: int = 0


def _round(x: float | None, digits: int = 6):
    return None if x is None else round(float(x), digits)


class RowBuilder:
    """Output rows of one finished input (file row, then segment and silence rows)."""

    def __init__(self, names: list[str], classes: list[str], settings: Settings):
        self.names, self.classes, self.settings = names, classes, settings
        several = len(names) > 1
        self.cols = {n: model_columns(n, classes, several) for n in names}
        self.columns = ["path", "kind", "start", "end", "duration", "reference"]
        for n in names:
            self.columns += self.cols[n]["label"] + self.cols[n]["confidence"] + self.cols[n]["prob"]
        self.columns += ["voiced_seconds", "segments"]
        for n in names:
            self.columns += self.cols[n]["share"]

    def _fill(self, row: dict, name: str, probs: np.ndarray | None, label: str | None = None,
              confidence: float | None = None) -> None:
        c = self.cols[name]
        if probs is None:
            row[c["label"][0]] = label
            return
        top = int(np.argmax(probs))
        row[c["label"][0]] = label if label is not None else self.classes[top]
        row[c["confidence"][0]] = _round(confidence if confidence is not None else probs[top])
        row.update({col: _round(p) for col, p in zip(c["prob"], probs)})

    def rows(self, state: _InFlight) -> list[dict]:
        from ser_hf.inference import ProbabilitySmoother

        rec = state.record
        base = {"path": rec["key"], "reference": rec["label"]}
        file_row = {**base, "kind": "file", "start": 0.0, "end": _round(rec["duration"]),
                    "duration": _round(rec["duration"])}
        if not rec["segmented"]:
            for n in self.names:
                self._fill(file_row, n, state.probs[n][0])
            return [file_row]
        s = self.settings
        smoothers = {n: ProbabilitySmoother(s.smoothing, s.smoothing_alpha, s.smoothing_window) for n in self.names}
        segment_rows, voiced_spans, voiced_probs = [], [], {n: [] for n in self.names}
        k = 0
        for start, end, samples in rec["pieces"]:
            row = {**base, "reference": None, "start": _round(start), "end": _round(end), "duration": _round(end - start)}
            if samples is None:
                row["kind"] = SILENCE
                for n in self.names:
                    self._fill(row, n, None, label=SILENCE)
                    smoothers[n].reset()  # a new utterance owes nothing to the last one (the Space's rule)
            else:
                row["kind"] = "segment"
                for n in self.names:
                    p = state.probs[n][k]
                    if s.smoothing != "none":
                        p = np.array(list(smoothers[n].update(dict(zip(self.classes, p))).values()))
                    voiced_probs[n].append(p)
                    self._fill(row, n, p)
                voiced_spans.append((start, end))
                k += 1
            segment_rows.append(row)
        weights = np.array([e - b for b, e in voiced_spans])
        file_row["voiced_seconds"] = _round(_union_seconds(voiced_spans))
        file_row["segments"] = len(voiced_spans)
        for n in self.names:
            probs = np.asarray(voiced_probs[n])
            labels = probs.argmax(axis=1)
            share = np.array([weights[labels == i].sum() for i in range(len(self.classes))]) / weights.sum()
            mean = (probs * weights[:, None]).sum(axis=0) / weights.sum()
            dominant = int(np.argmax(share))
            self._fill(file_row, n, mean, label=self.classes[dominant], confidence=share[dominant])
            file_row.update({col: _round(v) for col, v in zip(self.cols[n]["share"], share)})
        return [file_row, *segment_rows]


def _union_seconds(spans: list[tuple[float, float]]) -> float:
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def plot_names(items: list[Item]) -> dict[str, str]:
    """A PNG name per input: its file name, with a hash of its path where two inputs share a file name."""
    import hashlib
    from collections import Counter

    def clean(text: str) -> str:
        return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)

    counts = Counter(Path(it.key).name for it in items)
    return {it.key: clean(Path(it.key).name) + ("" if counts[Path(it.key).name] == 1 else
                                                "-" + hashlib.sha1(it.key.encode()).hexdigest()[:8]) + ".png"
            for it in items}


def plot_file(rows: list[dict], names: list[str], builder: RowBuilder, path: Path, key: str) -> None:
    from ser_hf.evaluation.plots import plot_timeline

    segments = [r for r in rows if r["kind"] != "file"]
    if not segments:
        return
    spans = [(r["start"], r["end"]) for r in segments]
    labels = {n: [r[builder.cols[n]["label"][0]] for r in segments] for n in names}
    conf = {n: [r.get(builder.cols[n]["confidence"][0]) for r in segments] for n in names}
    plot_timeline(spans, labels, conf, path, title=key)


def predict_process(inputs: Inputs, predictor, settings: Settings, journal: Journal, done: set[str], rank: int = 0,
                    world: int = 1, progress: bool = True) -> dict:
    """Classify this process's share of the inputs not in ``done``; every finished input goes to ``journal``.

    Returns this process's counts: ``files``, ``errors``, ``audio_seconds``, ``seconds``.
    """
    import torch
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    mine = [it for it in inputs.items if it.index % world == rank and it.key not in done]
    mine.sort(key=lambda it: (it.seconds_hint, it.index))
    builder = RowBuilder(predictor.names, predictor.classes, settings)
    pngs = plot_names(inputs.items) if settings.plots else {}
    started = time.perf_counter()
    counts = {"files": 0, "errors": 0, "audio_seconds": 0.0, "seconds": 0.0, "inputs": len(mine)}
    if not mine:
        return counts
    workers = min(settings.workers, len(mine))
    loader = DataLoader(_DecodeDataset(mine, inputs.dataset, settings), batch_size=None, shuffle=False,
                        num_workers=workers, collate_fn=_unbatched, prefetch_factor=4 if workers else None,
                        persistent_workers=False)
    bar = tqdm(total=len(mine), unit="file", disable=not progress, position=rank if world > 1 else None,
               desc=f"predict {rank + 1}/{world}" if world > 1 else "predict", dynamic_ncols=True)
    pool: list[tuple[int, _InFlight, int, np.ndarray]] = []  # (samples, state, piece number, samples)
    finished: list[dict] = []
    budget = settings.batch_seconds * SR
    streams = [predictor] + [predictor.replica() for _ in range(settings.streams - 1)]
    free = deque(streams)
    executor = ThreadPoolExecutor(len(streams), thread_name_prefix="predict-stream") if len(streams) > 1 else None
    in_flight: deque = deque()  # (future, batch) in submission order
    pool_target = 4 * settings.batch_size * len(streams)

    def finish(state: _InFlight) -> None:
        rec = state.record
        if rec["error"]:
            finished.append({"index": rec["index"], "key": rec["key"], "rows": [], "error": {
                "path": rec["key"], "error": rec["error"]["kind"], "detail": rec["error"]["detail"],
                "duration": _round(rec["error"]["duration"])}})
            counts["errors"] += 1
        else:
            rows = builder.rows(state)
            finished.append({"index": rec["index"], "key": rec["key"], "rows": rows, "error": None})
            counts["files"] += 1
            counts["audio_seconds"] += rec["duration"]
            if settings.plots and rec["segmented"]:
                plot_file(rows, predictor.names, builder, Path(settings.plots) / pngs[rec["key"]], rec["key"])

    def flush_finished() -> None:
        if finished:
            journal.append(finished)
            bar.update(len(finished))
            elapsed = max(time.perf_counter() - started, 1e-9)
            bar.set_postfix_str(f"{counts['files'] / elapsed:.2f} files/s, {counts['audio_seconds'] / elapsed:.1f} audio-s/s")
            finished.clear()

    def collect() -> None:
        """The oldest batch in flight: its probabilities into its inputs, finished inputs out."""
        future, batch, stream = in_flight.popleft()
        probs = future.result()
        free.append(stream)
        for row, (_, state, piece, _) in enumerate(batch):
            for name in predictor.names:
                state.probs[name][piece] = probs[name][row]
            state.missing -= 1
            if state.missing == 0:
                finish(state)

    def run_batch() -> None:
        """Take the shortest waiting clips (batch_size, batch_seconds of padded audio) to a free stream."""
        pool.sort(key=lambda entry: entry[0])
        take = 0
        while take < len(pool) and take < settings.batch_size and (take + 1) * pool[take][0] <= max(budget, pool[0][0]):
            take += 1
        batch, pool[:] = pool[:take], pool[take:]
        if not free:
            collect()
        stream = free.popleft()
        waves = [entry[3] for entry in batch]
        if executor is None:
            future: Future = Future()
            future.set_result(stream.probabilities(waves))
        else:
            future = executor.submit(stream.probabilities, waves)
        in_flight.append((future, batch, stream))
        while in_flight and in_flight[0][0].done():
            collect()

    with torch.inference_mode():
        for record in loader:
            state = _InFlight(record)
            voiced = [p[2] for p in record["pieces"] if p[2] is not None]
            if record["error"] or not voiced:
                finish(state)
            else:
                state.missing = len(voiced)
                state.probs = {n: [None] * len(voiced) for n in predictor.names}
                pool.extend((len(samples), state, k, samples) for k, samples in enumerate(voiced))
                for k in range(len(record["pieces"])):  # the samples now live in the pool only
                    start, end, samples = record["pieces"][k]
                    record["pieces"][k] = (start, end, None if samples is None else True)
            while len(pool) >= pool_target:
                run_batch()
                flush_finished()
            flush_finished()
        while pool:
            run_batch()
            flush_finished()
        while in_flight:
            collect()
            flush_finished()
        flush_finished()
    if executor is not None:
        executor.shutdown()
    bar.close()
    counts["seconds"] = time.perf_counter() - started
    return counts
