"""Gradio Space: speech emotion recognition from a file, the live microphone, or a long clip.

The predict functions (``predict_clip``, ``stream_step``, ``analyse_long_clip``) are plain functions
the tests call directly; ``build_demo`` wires them into a ``gr.Blocks`` app. Every tab applies seed 003's
silence gate (no model runs on audio whose RMS stays below ``silence_rms``) and shows each model's
inference time.

Under load each tab has its own workers and its own waiting line (``config.yaml``: ``*_concurrency``,
``*_max_waiting``), so a queue of long clips never holds up a live stream; past a tab's line the request is
refused at once with a "busy, try again" message, and Gradio's queue (the sum of the lines) refuses the rest
with its own. A file's length is read from its header before it is decoded (a small MP3 that decodes to hours
is refused), live streams end after ``live_session_seconds`` and the live table keeps its last
``LIVE_TABLE_ROWS`` windows, so memory stays flat while the Space runs. ``benchmarks/space_load.py`` drives it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import sys
from functools import lru_cache
from pathlib import Path

import gradio as gr
import numpy as np
import soxr
import yaml

# oneDNN (torch's CPU convolutions) caches a compiled primitive per input shape, 1024 by default: every upload length
# is a new shape, and memory grew by ~7 MB per File-tab request (three tiny models) up to 1024 of them. 256 holds the
# 2-s windows' primitives of several models next to those of the files in flight (set before torch is imported).
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "256")
HERE = Path(__file__).resolve().parent
if (HERE / "ser_hf").is_dir():  # a staged Space: the library's modules it needs sit beside app.py
    sys.path.insert(0, str(HERE))
elif HERE.parent.name == "ser_hf" and HERE.name == "space":  # the app inside the package (python -m ser_hf.space)
    sys.path.insert(0, str(HERE.parents[1]))  # harmless when ser_hf is installed; makes a bare clone work too

from ser_hf.data.audio import AudioError, AudioTooLongError, read_audio  # noqa: E402
from ser_hf.evaluation.long_clip import SILENCE, rms, segment_clip  # noqa: E402
from ser_hf.hardware import available_cpus  # noqa: E402
from ser_hf.inference import EmotionModels, ProbabilitySmoother, to_label_view  # noqa: E402

VIEWS = {"model's classes": "model", "real-time 4 classes (seed 003)": "realtime4"}
SR = 16000
# Each tab's event runs in its own concurrency group, named after the tab.
TABS = ("file", "live", "long_clip")
LOAD_KEYS = tuple(f"{tab}_{what}" for tab in TABS for what in ("concurrency", "max_waiting")) + ("live_session_seconds",)
REQUIRED_KEYS = ("models", "segment_seconds", "silence_rms", "max_file_seconds", "max_long_clip_seconds",
                 "max_upload_mb") + LOAD_KEYS
LIVE_TABLE_ROWS = 300  # the live tab's table: the last 5 minutes at the default overlap (state and page stay small)
LIVE_CHUNK_MAX_SECONDS = 5.0  # the browser sends 0.5-s chunks; an API caller cannot make one chunk a long clip
UPLOAD_CACHE = (900, 3600)  # Gradio deletes uploads older than an hour, every 15 minutes: the disk stays bounded
# Gradio keeps every visitor's page state (live tab: up to ~0.3 MB) for an hour after the page closes, and an API
# client's until evicted: the last 1000 sessions (Gradio's default, 10000, would allow gigabytes).
SESSIONS_KEPT = 1000
# The upload cap must admit the longest clip the long-clip tab accepts, as the largest plain recording people
# upload: 48-kHz stereo 16-bit WAV (192 kB/s; 600 s = 115.2 MB).
WAV_BYTES_PER_SECOND = 48000 * 2 * 2


def upload_mb_needed(seconds: float) -> int:
    """MB an upload of ``seconds`` of 48-kHz stereo 16-bit WAV needs (header and rounding included)."""
    return math.ceil(seconds * WAV_BYTES_PER_SECOND / 1e6) + 1


def load_config(path: Path | None = None) -> dict:
    """``config.yaml`` checked (a missing or inconsistent key is one line naming it), model sources resolved."""
    path = path or Path(os.environ.get("SER_HF_SPACE_CONFIG") or HERE / "config.yaml")
    config = yaml.safe_load(path.read_text()) or {}
    missing = [k for k in REQUIRED_KEYS if k not in config]
    if missing:
        raise ValueError(f"{path.name}: missing key(s) {', '.join(missing)}")
    env = os.environ.get("SER_HF_SPACE_MODELS")
    if env:
        config["models"] = dict(item.split("=", 1) for item in env.split(";") if item)
    if not isinstance(config["models"], dict) or not config["models"]:
        raise ValueError(f"{path.name}: 'models' must map at least one name to a local folder or Hub id[@revision]")
    bad = [k for k in LOAD_KEYS if isinstance(config[k], bool) or not isinstance(config[k], int) or config[k] < 1]
    if bad:
        raise ValueError(f"{path.name}: {', '.join(f'{k}: {config[k]!r}' for k in bad)}: must be a whole number >= 1")
    needed = upload_mb_needed(config["max_long_clip_seconds"])
    if config["max_upload_mb"] < needed:
        raise ValueError(
            f"{path.name}: max_upload_mb {config['max_upload_mb']} is below the {needed} MB that "
            f"max_long_clip_seconds {config['max_long_clip_seconds']} needs (48-kHz stereo 16-bit WAV)"
        )
    resolved = {}
    for name, source in config["models"].items():
        source = str(source)
        # A folder relative to the config file, else to the working directory (the shipped config names
        # ./outputs/quickstart, which train.py --recipe quickstart writes under the folder it runs in); a Hub id
        # (ORG/NAME or ORG/NAME@REVISION) unless it names a folder or is written as a path.
        beside, here = (path.parent / source).resolve(), Path(source).resolve()
        local = beside if beside.exists() else here
        resolved[str(name)] = str(local) if local.exists() or source.startswith((".", "/")) else source
    config["models"] = resolved
    if "fast_cpu" in config:
        raise ValueError(f"{path.name}: 'fast_cpu' was replaced in 0.2.0 by 'fast_cpu_tabs' (a list of tabs: "
                         f"{', '.join(TABS)}); the File tab stays float32 to give pipeline()'s scores")
    config.setdefault("fast_cpu_tabs", [])
    if not isinstance(config["fast_cpu_tabs"], list) or not set(config["fast_cpu_tabs"]) <= set(TABS):
        raise ValueError(f"{path.name}: fast_cpu_tabs {config['fast_cpu_tabs']!r}: must be a list of {', '.join(TABS)}")
    config.setdefault("live_overlap", 0.0)
    config.setdefault("live_smoothing", "none")
    config.setdefault("smoothing_alpha", 0.5)
    config.setdefault("smoothing_window", 3)
    ProbabilitySmoother(config["live_smoothing"], config["smoothing_alpha"], config["smoothing_window"])  # checks them
    return config


CONFIG = load_config()


def models(tab: str = "file") -> EmotionModels:
    """The models ``tab`` runs: the CPU fast path where ``fast_cpu_tabs`` names the tab, else float32 (the File
    tab's default: exactly the scores ``pipeline("audio-classification")`` gives for the file)."""
    return _loaded(tab in CONFIG["fast_cpu_tabs"])


@lru_cache(maxsize=2)
def _loaded(fast: bool) -> EmotionModels:
    """Each variant loaded once per process, on first use."""
    return EmotionModels.load(CONFIG["models"], fast=fast)


_LIBC = ctypes.CDLL(ctypes.util.find_library("c")) if sys.platform.startswith("linux") else None
if _LIBC is not None and hasattr(_LIBC, "mallopt"):
    # glibc gives threads up to 8 heaps ("arenas") per core, each keeping what its threads freed; one per core does
    # for a server whose threads mostly wait. 8 threads serving files and long clips settled 80 MB lower with 2.
    _LIBC.mallopt(-8, max(2, available_cpus()))  # -8: M_ARENA_MAX


def release_memory() -> None:
    """Give freed heap back to the system after a File or Long-clip request (glibc keeps the freed buffers of a 60-s
    clip's activations in its per-thread arenas otherwise, and the server's resident memory only ever grows)."""
    if _LIBC is not None and hasattr(_LIBC, "malloc_trim"):
        _LIBC.malloc_trim(0)


def _view(view: str) -> str:
    return VIEWS.get(view, view or "model")


def read_clip(path: str | None, max_seconds: float, min_seconds: float = 0.1) -> np.ndarray:
    """An uploaded file as 16-kHz mono, or a gr.Error naming the file (never the server's path) and the problem.

    A file whose header promises more than ``max_seconds`` is refused before any of it is decoded."""
    if not path:
        raise gr.Error("No audio: upload a file or record a clip first.")
    name = Path(path).name
    try:
        wave, _ = read_audio(path, SR, max_seconds=max_seconds)  # the header's length, checked before decoding
    except AudioTooLongError as err:
        length = f"{name}: {err.seconds:.0f} s" if err.exact else name  # inexact: decoding stopped past the limit
        raise gr.Error(f"{length} is longer than the {max_seconds:.0f}-s limit of this tab.") from None
    except AudioError as err:
        # read_audio's message carries the server path and libsndfile's wording: say it in the user's terms.
        text = str(err)
        problem = ("is empty" if "empty file" in text else "holds no audio" if "no audio frames" in text
                   else "is not readable as audio")
        raise gr.Error(f"{name} {problem}. Upload a WAV, FLAC, OGG or MP3 file.") from None
    seconds = len(wave) / SR
    if seconds < min_seconds:
        raise gr.Error(f"{name}: {seconds:.2f} s of audio is too short (at least {min_seconds:g} s).")
    return wave


def is_silent(wave: np.ndarray) -> bool:
    """Seed 003's gate over a whole clip: silent when no 2-s stretch of it reaches ``silence_rms``."""
    return all(s.silent for s in segment_clip(wave, SR, CONFIG["segment_seconds"], silence_rms=CONFIG["silence_rms"]))


def predict_clip_timed(path: str | None, view: str = "model") -> tuple[list[dict[str, float]], dict[str, float]]:
    """Tab 1: one probability dict per configured model (config order) and each model's inference time in ms.

    A silent clip gives ``{"silence": 1.0}`` for every model and runs none (time 0).
    """
    wave = read_clip(path, CONFIG["max_file_seconds"])
    names = models().names
    if is_silent(wave):
        return [{SILENCE: 1.0} for _ in names], {n: 0.0 for n in names}
    results = models().predict(wave)
    probs = [to_label_view(results[n]["probabilities"], _view(view)) or {"neutral (left out)": 1.0} for n in names]
    return probs, {n: results[n]["latency_ms"] for n in names}


def predict_clip(path: str | None, view: str = "model") -> list[dict[str, float]]:
    """Tab 1 without the times: one probability dict per configured model, in config order."""
    return predict_clip_timed(path, view)[0]


def _times_text(times: dict[str, float], shared_note: bool = True) -> str:
    if not any(times.values()):
        return "Silence (RMS below %.2f): no model ran." % CONFIG["silence_rms"]
    text = "Inference time: " + ", ".join(f"`{n}` {ms:.0f} ms" for n, ms in times.items())
    if shared_note and len(models().groups) < len(models().names):
        text += " (models sharing an encoder are timed together: one encoder pass serves them)"
    return text


def _clip_outputs(path: str | None, view: str):
    """The File tab's outputs: one gr.Label value per model, then the timing line (a tuple for any model count)."""
    try:
        probs, times = predict_clip_timed(path, view)
    finally:
        release_memory()
    return (*probs, _times_text(times))


def _segment_row(start: float, end: float, wave: np.ndarray, view: str, smoothers: dict | None = None,
                 tab: str = "live") -> tuple[dict, dict]:
    """One table row (label and confidence per model) and the probability dicts behind it."""
    energy = rms(wave)
    row = {"start": round(start, 2), "end": round(end, 2), "rms": round(energy, 4)}
    names = models().names
    if energy < CONFIG["silence_rms"]:  # seed 003: silence is shown, no model runs
        for smoother in (smoothers or {}).values():
            smoother.reset()  # the next utterance starts afresh
        for n in names:
            row[n], row[f"{n} %"], row[f"{n} ms"] = SILENCE, None, 0.0
        return row, {n: {SILENCE: 1.0} for n in names}
    results = models(tab).predict(wave)
    distributions = {}
    for name, r in results.items():
        probs = to_label_view(r["probabilities"], _view(view)) or {"neutral": 1.0}
        if smoothers is not None:
            probs = smoothers[name].update(probs)
        top = max(probs, key=probs.get)
        row[name], row[f"{name} %"], row[f"{name} ms"] = top, round(100 * probs[top], 1), round(r["latency_ms"], 1)
        distributions[name] = probs
    return row, distributions


def _table(rows: list[dict]):
    import pandas as pd

    columns = ["start", "end", "rms"]
    for n in models().names:
        columns += [n, f"{n} %", f"{n} ms"]
    return pd.DataFrame(rows, columns=columns)


def empty_stream_state() -> dict:
    return {"buffer": np.zeros(0, dtype=np.float32), "t": 0.0, "rows": [], "smoothers": None, "last": {}}


def _chunk_samples(chunk) -> np.ndarray:
    """A microphone chunk as 16-kHz mono float32: the file the browser uploads, or ``(rate, samples)``."""
    if isinstance(chunk, (str, Path)):
        return read_clip(str(chunk), LIVE_CHUNK_MAX_SECONDS, min_seconds=0.0)
    sr, data = chunk
    data = np.asarray(data)
    data = data.astype(np.float32) / 32768.0 if data.dtype == np.int16 else data.astype(np.float32)
    if data.ndim > 1:
        data = data.mean(axis=1)
    return soxr.resample(data, sr, SR) if sr != SR else data


def stream_step(chunk, state: dict | None, view: str = "model", overlap: float | None = None, smoothing: str | None = None):
    """Tab 2: add a microphone chunk (a file path or ``(rate, samples)``); score every complete segment (windows
    overlap by ``overlap``; the probabilities are smoothed over time by ``smoothing``: none / ema / majority);
    return the timeline of the last ``LIVE_TABLE_ROWS`` windows.

    Returns ``(state, current text, timeline table, latency text, *one probability dict per model)``.
    """
    state = state or empty_stream_state()
    overlap = CONFIG["live_overlap"] if overlap is None else overlap
    smoothing = smoothing or CONFIG["live_smoothing"]
    names = models().names
    if state["smoothers"] is None or next(iter(state["smoothers"].values())).method != smoothing:
        state["smoothers"] = {n: ProbabilitySmoother(smoothing, CONFIG["smoothing_alpha"], CONFIG["smoothing_window"]) for n in names}
    if chunk is not None:
        state["buffer"] = np.concatenate([state["buffer"], _chunk_samples(chunk).astype(np.float32)])
    size = int(CONFIG["segment_seconds"] * SR)
    hop = max(int(size * (1.0 - min(max(float(overlap), 0.0), 0.9))), 1)
    while len(state["buffer"]) >= size:
        segment = state["buffer"][:size]
        row, state["last"] = _segment_row(state["t"], state["t"] + CONFIG["segment_seconds"], segment, view, state["smoothers"])
        state["rows"].append(row)
        del state["rows"][:-LIVE_TABLE_ROWS]
        state["buffer"] = state["buffer"][hop:]
        state["t"] += hop / SR
    rows = state["rows"]
    last = rows[-1] if rows else None
    if last is None:
        current, latency = "listening...", ""
    else:
        current = ", ".join(f"{n}: {last[n]}" + (f" ({last[f'{n} %']:.0f} %)" if last[f"{n} %"] is not None else "") for n in names)
        latency = ("silence: no model ran" if last[names[0]] == SILENCE
                   else "last segment: " + ", ".join(f"{n} {last[f'{n} ms']:.0f} ms" for n in names))
    labels = [state["last"].get(n, {}) for n in names]
    return (state, current, _table(rows), latency, *labels)


def timeline_figure(rows: list[dict], names: list[str]):
    """Emotion and confidence over time, one panel per model; silent segments shaded grey.

    Built on a bare ``Figure``, not pyplot: pyplot's global figure list is not safe across the server's threads."""
    import matplotlib

    matplotlib.use("Agg")  # Gradio's Plot imports pyplot to close the figure: never a GUI backend in a server thread
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    labels = sorted({r[n] for r in rows for n in names} - {SILENCE})
    colours = {label: colormaps["tab10"](i % 10) for i, label in enumerate(labels)}
    fig = Figure(figsize=(10, 1.8 + 1.4 * len(names)))
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        silent = [(r["start"], r["end"] - r["start"]) for r in rows if r[name] == SILENCE]
        voiced = [r for r in rows if r[name] != SILENCE]
        if silent:
            ax.broken_barh(silent, (0, 100), color="0.85", lw=0)
        if voiced:  # one call for every bar: a 600-s clip has 300 of them per model
            ax.bar([r["start"] for r in voiced], [r[f"{name} %"] for r in voiced], width=[r["end"] - r["start"] for r in voiced],
                   align="edge", color=[colours[r[name]] for r in voiced], edgecolor="white")
        ax.set_ylim(0, 100)
        ax.set_ylabel(f"{name}\nconfidence %")
    handles = [Rectangle((0, 0), 1, 1, color=c) for c in colours.values()] + [Rectangle((0, 0), 1, 1, color="0.85")]
    height = fig.get_size_inches()[1]
    fig.legend(handles, [*colours, SILENCE], ncol=min(8, len(handles)), loc="upper center", frameon=False)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / height))  # room for the legend above the panels
    return fig


def analyse_long_clip(path: str | None, view: str = "model"):
    """Tab 3: the segment table, a timeline figure, per model the distribution of emotions over the voiced
    segments (silence left out), and a summary line."""
    wave = read_clip(path, CONFIG["max_long_clip_seconds"])
    names = models().names
    rows = [
        _segment_row(seg.start_s, seg.end_s, seg.samples, view, tab="long_clip")[0]
        for seg in segment_clip(wave, SR, CONFIG["segment_seconds"], silence_rms=CONFIG["silence_rms"])
    ]
    distributions = {}
    for n in names:
        voiced = [r[n] for r in rows if r[n] != SILENCE]
        distributions[n] = {label: voiced.count(label) / len(voiced) for label in sorted(set(voiced))} if voiced else {SILENCE: 1.0}
    n_silent = sum(r[names[0]] == SILENCE for r in rows)
    times = [r[f"{names[0]} ms"] for r in rows if r[names[0]] != SILENCE]
    summary = (f"{len(rows)} segments of {CONFIG['segment_seconds']:g} s; {n_silent} silent (not sent to a model); "
               f"distributions over the {len(rows) - n_silent} voiced segments"
               + (f"; mean inference time {sum(times) / len(times):.0f} ms per segment." if times else "."))
    return _table(rows), timeline_figure(rows, names), distributions, summary


def _long_outputs(path: str | None, view: str):
    try:
        table, figure, distributions, summary = analyse_long_clip(path, view)
    finally:
        release_memory()
    return (table, figure, *distributions.values(), summary)


def limits_text(seconds: float) -> str:
    return (f"Clips up to {seconds:g} s (uploads up to {CONFIG['max_upload_mb']} MB, which holds that much "
            "48-kHz stereo WAV). WAV, FLAC, OGG or MP3.")


def busy_message(tab: str, waiting: int) -> str:
    """What a request past ``tab``'s waiting line is told (at once, instead of a place in the queue)."""
    if tab == "live":
        return (f"Busy: all {CONFIG['live_concurrency']} live streams are in use and {waiting} more are waiting. "
                "Try again in a minute.")
    what = {"file": "File / recording", "long_clip": "Long clip"}[tab]
    return f"Busy: {waiting} requests are waiting for the {what} tab. Try again in a minute."


def waiting_in(demo: gr.Blocks, tab: str) -> int:
    """Requests waiting (not yet running) in ``tab``'s concurrency group of Gradio's queue."""
    groups = getattr(getattr(demo, "_queue", None), "event_queue_per_concurrency_id", None) or {}
    group = groups.get(tab)
    return len(group.queue) if group is not None else 0


def admission(demo: gr.Blocks, tab: str):
    """A Gradio validator (it runs when a request joins the queue): past ``{tab}_max_waiting`` requests waiting
    in this tab, refuse with :func:`busy_message`; the tab's other inputs are left alone."""

    def check(*inputs):
        waiting = waiting_in(demo, tab)
        if waiting >= CONFIG[f"{tab}_max_waiting"]:
            return [gr.validate(False, busy_message(tab, waiting))] + [gr.validate(True, "")] * (len(inputs) - 1)
        return [gr.validate(True, "")] * len(inputs)

    return check


def _queue_settings(demo: gr.Blocks, tab: str) -> dict:
    """Event-listener arguments that put ``tab``'s event in its own concurrency group, behind its own line."""
    return dict(concurrency_id=tab, concurrency_limit=CONFIG[f"{tab}_concurrency"], validator=admission(demo, tab))


def build_demo() -> gr.Blocks:
    names = models().names
    with gr.Blocks(title="Speech emotion recognition", delete_cache=UPLOAD_CACHE) as demo:
        gr.Markdown(
            "# Speech emotion recognition\nModels: " + ", ".join(f"`{n}`" for n in names)
            + f". Audio whose RMS stays below {CONFIG['silence_rms']} is called silence and no model runs."
            + " Acted-speech models: expect far lower accuracy on natural speech; not for decisions about people."
        )
        view = gr.Radio(list(VIEWS), value=list(VIEWS)[0], label="Label set")
        with gr.Tab("File / recording"):
            gr.Markdown(limits_text(CONFIG["max_file_seconds"]))
            clip = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Clip")
            button = gr.Button("Recognise", variant="primary")
            with gr.Row():
                outputs = [gr.Label(num_top_classes=7, label=name) for name in names]
            times = gr.Markdown(elem_id="clip-times")
            button.click(_clip_outputs, inputs=[clip, view], outputs=[*outputs, times], api_name="predict_clip",
                         **_queue_settings(demo, "file"))
        with gr.Tab("Live microphone"):
            gr.Markdown(f"The stream is cut into {CONFIG['segment_seconds']:g}-s windows; overlapping windows and "
                        "smoothing over time steady the label.")
            # dropped an hour after its last update, should a client never close its session
            state = gr.State(empty_stream_state(), time_to_live=3600)
            with gr.Row():
                overlap = gr.Slider(0.0, 0.75, value=float(CONFIG["live_overlap"]), step=0.25, label="Window overlap")
                smoothing = gr.Radio(["none", "ema", "majority"], value=CONFIG["live_smoothing"], label="Smoothing over time")
            # filepath, not numpy: Gradio would decode a numpy chunk whole with ffmpeg; read_clip checks its length first
            mic = gr.Audio(sources=["microphone"], streaming=True, type="filepath", label="Microphone")
            current = gr.Textbox(label="Current segment", elem_id="live-current")
            latency = gr.Textbox(label="Inference time", elem_id="live-latency")
            with gr.Row():
                live_labels = [gr.Label(num_top_classes=4, label=f"{name} (now)") for name in names]
            timeline = gr.Dataframe(label="Segments over time")
            # A stream holds one of live_concurrency slots while it records; time_limit ends it.
            mic.stream(stream_step, inputs=[mic, state, view, overlap, smoothing],
                       outputs=[state, current, timeline, latency, *live_labels], stream_every=0.5, api_name="stream_step",
                       time_limit=CONFIG["live_session_seconds"], **_queue_settings(demo, "live"))
            mic.start_recording(lambda: empty_stream_state(), outputs=[state], queue=False)
        with gr.Tab("Long clip"):
            gr.Markdown(limits_text(CONFIG["max_long_clip_seconds"]))
            long_clip = gr.Audio(sources=["upload"], type="filepath", label="Long recording")
            analyse = gr.Button("Analyse", variant="primary")
            plot = gr.Plot(label="Emotion and confidence over time (grey: silence)", elem_id="long-plot")
            with gr.Row():
                distributions = [gr.Label(label=f"{name}: emotions over voiced segments") for name in names]
            summary = gr.Textbox(label="Summary", elem_id="long-summary")
            long_table = gr.Dataframe(label=f"{CONFIG['segment_seconds']:g}-s segments")
            analyse.click(_long_outputs, inputs=[long_clip, view], outputs=[long_table, plot, *distributions, summary],
                          api_name="analyse_long_clip", **_queue_settings(demo, "long_clip"))
    return demo


def launch(**kwargs) -> gr.Blocks:
    """Start the app with the upload cap and queue limits of config.yaml (the tests call this with a host and a port).

    Gradio's queue holds at most the sum of the tabs' waiting lines; past it Gradio refuses with its own "busy"
    answer (HTTP 503; the page: "This application is currently busy. Please try again.")."""
    for tab in TABS:  # every variant loaded before the first request (not inside a request, twice at once)
        models(tab)
    demo = build_demo()
    max_size = sum(CONFIG[f"{tab}_max_waiting"] for tab in TABS)
    kwargs.setdefault("state_session_capacity", SESSIONS_KEPT)
    demo.queue(max_size=max_size, default_concurrency_limit=1).launch(max_file_size=f"{CONFIG['max_upload_mb']}mb", **kwargs)
    return demo


if __name__ == "__main__":
    launch()
