"""Gradio Space: speech emotion recognition from a file, the live microphone, or a long clip.

The predict functions (``predict_clip``, ``stream_step``, ``analyse_long_clip``) are plain functions
the tests call directly; ``build_demo`` wires them into a ``gr.Blocks`` app.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

import gradio as gr
import numpy as np
import soxr
import yaml

HERE = Path(__file__).resolve().parent
if not (HERE / "ser_hf").is_dir():  # run from the repository: use the library next to it
    sys.path.insert(0, str(HERE.parent))

from ser_hf.data.audio import AudioError, read_audio  # noqa: E402
from ser_hf.inference import EmotionModels, to_label_view  # noqa: E402
from ser_hf.evaluation.long_clip import rms, segment_clip  # noqa: E402

VIEWS = {"model's classes": "model", "real-time 4 classes (seed 003)": "realtime4"}
SR = 16000


def load_config() -> dict:
    config = yaml.safe_load((HERE / "config.yaml").read_text())
    env = os.environ.get("SER_HF_SPACE_MODELS")
    if env:
        config["models"] = dict(item.split("=", 1) for item in env.split(";") if item)
    resolved = {}
    for name, source in config["models"].items():
        local = (HERE / source).resolve()
        resolved[name] = str(local) if local.exists() or source.startswith((".", "/")) else source
    config["models"] = resolved
    return config


CONFIG = load_config()


@lru_cache(maxsize=1)
def models() -> EmotionModels:
    """Loaded once per process, on first use."""
    return EmotionModels.load(CONFIG["models"], fast=bool(CONFIG.get("fast_cpu", False)))


def _view(view: str) -> str:
    return VIEWS.get(view, view or "model")


def read_clip(path: str | None, max_seconds: float) -> np.ndarray:
    """An uploaded file as 16-kHz mono, or a gr.Error saying what is wrong with it."""
    if not path:
        raise gr.Error("No audio: upload a file or record a clip first.")
    try:
        wave, _ = read_audio(path, SR)
    except AudioError as err:
        raise gr.Error(f"{Path(path).name}: {str(err).split(': ', 1)[-1]}. Upload a WAV, FLAC, OGG or MP3 file.") from None
    seconds = len(wave) / SR
    if seconds < 0.1:
        raise gr.Error(f"{Path(path).name}: {seconds:.2f} s of audio is too short (at least 0.1 s).")
    if seconds > max_seconds:
        raise gr.Error(f"{Path(path).name}: {seconds:.0f} s is longer than the {max_seconds:.0f}-s limit of this tab.")
    return wave


def predict_clip(path: str | None, view: str = "model") -> list[dict[str, float]]:
    """Tab 1: one probability dict per configured model, in config order."""
    wave = read_clip(path, CONFIG["max_file_seconds"])
    results = models().predict(wave)
    return [to_label_view(results[name]["probabilities"], _view(view)) or {"neutral (left out)": 1.0} for name in models().names]


def _segment_row(start: float, end: float, wave: np.ndarray, view: str) -> dict:
    energy = rms(wave)
    row = {"start": round(start, 2), "end": round(end, 2), "rms": round(energy, 4)}
    if energy < CONFIG["silence_rms"]:  # seed 003: silence is shown, no model runs
        return {**row, **{n: "silence" for n in models().names}, "latency_ms": 0.0}
    results = models().predict(wave)
    for name, r in results.items():
        probs = to_label_view(r["probabilities"], _view(view))
        row[name] = max(probs, key=probs.get) if probs else "neutral"
    row["latency_ms"] = round(max(r["latency_ms"] for r in results.values()), 1)
    return row


def empty_stream_state() -> dict:
    return {"buffer": np.zeros(0, dtype=np.float32), "t": 0.0, "rows": []}


def stream_step(chunk, state: dict | None, view: str = "model", overlap: float = 0.0):
    """Tab 2: add a microphone chunk; score every complete 2-s segment; return the timeline so far."""
    state = state or empty_stream_state()
    if chunk is not None:
        sr, data = chunk
        data = np.asarray(data)
        data = data.astype(np.float32) / 32768.0 if data.dtype == np.int16 else data.astype(np.float32)
        if data.ndim > 1:
            data = data.mean(axis=1)
        if sr != SR:
            data = soxr.resample(data, sr, SR)
        state["buffer"] = np.concatenate([state["buffer"], data.astype(np.float32)])
    size = int(CONFIG["segment_seconds"] * SR)
    hop = max(int(size * (1.0 - min(max(overlap, 0.0), 0.9))), 1)
    while len(state["buffer"]) >= size:
        segment = state["buffer"][:size]
        state["rows"].append(_segment_row(state["t"], state["t"] + CONFIG["segment_seconds"], segment, view))
        state["buffer"] = state["buffer"][hop:]
        state["t"] += hop / SR
    rows = state["rows"]
    last = rows[-1] if rows else None
    current = ", ".join(f"{n}: {last[n]}" for n in models().names) if last else "listening..."
    latency = f"{last['latency_ms']:.0f} ms for the last segment" if last else ""
    return state, current, _table(rows), latency


def analyse_long_clip(path: str | None, view: str = "model"):
    """Tab 3: timeline of 2-s segment labels and the emotion distribution over the clip."""
    wave = read_clip(path, CONFIG["max_long_clip_seconds"])
    rows = [
        _segment_row(seg.start_s, seg.end_s, seg.samples, view)
        for seg in segment_clip(wave, SR, CONFIG["segment_seconds"], silence_rms=CONFIG["silence_rms"])
    ]
    first = models().names[0]
    labels = [r[first] for r in rows]
    distribution = {label: labels.count(label) / len(labels) for label in sorted(set(labels))} if labels else {}
    summary = f"{len(rows)} segments of {CONFIG['segment_seconds']:.0f} s; {labels.count('silence')} silent; distribution from model '{first}'."
    return _table(rows), distribution, summary


def _table(rows: list[dict]):
    import pandas as pd

    columns = ["start", "end", "rms", *models().names, "latency_ms"]
    return pd.DataFrame(rows, columns=columns)


def build_demo() -> gr.Blocks:
    names = models().names
    with gr.Blocks(title="Speech emotion recognition") as demo:
        gr.Markdown(
            "# Speech emotion recognition\nModels: " + ", ".join(f"`{n}`" for n in names)
            + ". Acted-speech models: expect far lower accuracy on natural speech; not for decisions about people."
        )
        view = gr.Radio(list(VIEWS), value=list(VIEWS)[0], label="Label set")
        with gr.Tab("File / recording"):
            clip = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Clip")
            button = gr.Button("Recognise", variant="primary")
            with gr.Row():
                outputs = [gr.Label(num_top_classes=7, label=name) for name in names]
            button.click(predict_clip, inputs=[clip, view], outputs=outputs, api_name="predict_clip")
        with gr.Tab("Live microphone"):
            state = gr.State(empty_stream_state())
            overlap = gr.Slider(0.0, 0.75, value=0.0, step=0.25, label="Segment overlap")
            mic = gr.Audio(sources=["microphone"], streaming=True, type="numpy", label="Microphone")
            current = gr.Textbox(label="Current segment")
            latency = gr.Textbox(label="Latency")
            timeline = gr.Dataframe(label="Segments over time")
            mic.stream(stream_step, inputs=[mic, state, view, overlap], outputs=[state, current, timeline, latency], stream_every=0.5, api_name="stream_step")
            mic.start_recording(lambda: empty_stream_state(), outputs=[state])
        with gr.Tab("Long clip"):
            long_clip = gr.Audio(sources=["upload"], type="filepath", label="Long recording")
            analyse = gr.Button("Analyse", variant="primary")
            long_table = gr.Dataframe(label="2-s segments")
            distribution = gr.Label(label="Emotions over the clip")
            summary = gr.Textbox(label="Summary")
            analyse.click(analyse_long_clip, inputs=[long_clip, view], outputs=[long_table, distribution, summary], api_name="analyse_long_clip")
    return demo


if __name__ == "__main__":
    build_demo().queue(default_concurrency_limit=2).launch(max_file_size=f"{CONFIG['max_upload_mb']}mb")
