"""The names ``ser-hf predict`` takes and writes, defined once (standard library only: ``--help`` loads nothing).

The choice lists, the defaults picked by ``benchmarks/predict.py`` and the output's column names live here; the
command line, the runner, the writers, the README table and the tests read them from here.
"""

from __future__ import annotations

from ser_hf.data.sources import AUDIO_EXTENSIONS, MANIFEST_FORMATS, SOURCE_COLUMNS  # noqa: F401  (re-exported)

# --segments: how a recording longer than --long-seconds is cut.
SEGMENT_MODES: dict[str, str] = {
    "windows": "fixed windows (--window seconds, a new one every --hop seconds); windows below --silence-rms are "
               "silence rows (the Space's gate)",
    "vad": "speech segments from a voice-activity detector (--vad), any longer than --max-segment split evenly; "
           "the gaps are silence rows",
    "none": "every file classified whole, however long (memory grows with the square of the length)",
}
# --vad: the detector behind --segments vad. silero: silero-vad's ONNX model (inside its wheel, offline, on
# onnxruntime); energy: frames whose RMS reaches --silence-rms, the Space's gate at 30-ms resolution.
VAD_BACKENDS: tuple[str, ...] = ("auto", "silero", "energy")
# --precision: fp32, the default, is what pipeline("audio-classification") computes (the labels a run's results.json
# and card report are the ones users get); fast is ser_hf.inference.cpu_fast_path on CPU (int8 Linear layers, bf16
# CNN) and bf16 autocast on a GPU (benchmarks/predict.py: the same label as fp32 on every clip measured, ~1.4x fp32's
# speed on CPU); auto is fast on CPU and fp32 on a GPU.
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "fast")
# --out: the format by the extension; anything without one of these is a `datasets` folder (save_to_disk).
OUTPUT_FORMATS: dict[str, str] = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet"}
DATASET_FOLDER = "datasets"

# Inputs: the extensions and column names of one's own data (ser_hf.data.sources, standard library only), read from
# there so a manifest means the same to `ser-hf prepare --corpus manifest:FILE` and to `ser-hf predict FILE`.
PATH_COLUMNS: tuple[str, ...] = SOURCE_COLUMNS["path"]
LABEL_COLUMNS: tuple[str, ...] = SOURCE_COLUMNS["label"]

# Defaults (benchmarks/predict.py measured them on 2 CPU cores; see the README's "Label your recordings").
DEFAULTS = dict(
    batch_size=8,  # clips per forward pass; a batch also stays under batch_seconds of padded audio
    batch_seconds=64.0,
    workers=1,  # decoding processes beside the model
    streams="auto",  # model replicas run concurrently, each on threads // streams threads: auto = 2 on CPU, 1 on a GPU
    precision="fp32",  # exact: pipeline()'s scores; --precision fast / auto trade that for speed
    long_seconds=30.0,  # longer recordings are segmented
    window=2.0,  # seed 003's 2-s segments
    hop=1.0,
    max_segment=10.0,
    silence_rms=0.01,  # seed 003's gate
    min_seconds=0.1,
    max_seconds=4 * 3600.0,
    segments="windows",
    vad="auto",
    smoothing="none",
    smoothing_alpha=0.5,
    smoothing_window=3,
)

# Output columns. Row kinds: one "file" row per input, then for segmented recordings one row per "segment" (voiced)
# or "silence" stretch, in time order.
ROW_KINDS: tuple[str, ...] = ("file", "segment", "silence")
SILENCE = "silence"
BASE_COLUMNS: tuple[str, ...] = ("path", "kind", "start", "end", "duration", "reference")
FILE_SUMMARY_COLUMNS: tuple[str, ...] = ("voiced_seconds", "segments")
ERROR_COLUMNS: tuple[str, ...] = ("path", "error", "detail", "duration")
# Why an input has no prediction: the error table's `error` values.
ERROR_KINDS: dict[str, str] = {
    "missing": "the file does not exist",
    "unreadable": "not decodable as audio (corrupt, not audio, permission denied)",
    "empty": "0 bytes or no audio frames",
    "too_short": "shorter than --min-seconds",
    "too_long": "longer than --max-seconds",
    "silent": "no window reaches --silence-rms: nothing to classify",
}


def model_columns(model: str, labels: list[str], several: bool) -> dict[str, list[str]]:
    """The columns one model fills: ``label``, ``confidence``, ``prob:<class>`` and (on file rows of segmented
    recordings) ``share:<class>``; with several models each name carries ``:<model>`` after its first part."""
    tag = f":{model}" if several else ""
    return {"label": [f"label{tag}"], "confidence": [f"confidence{tag}"],
            "prob": [f"prob{tag}:{c}" for c in labels], "share": [f"share{tag}:{c}" for c in labels]}


def resolve_precision(precision: str, device: str) -> str:
    """``auto`` -> ``fast`` on CPU, ``fp32`` elsewhere."""
    if precision != "auto":
        return precision
    return "fast" if device == "cpu" else "fp32"


def resolve_streams(streams: str | int, device: str, cpus: int) -> int:
    """``auto`` -> two concurrent single-threaded model streams on a CPU with at least two cores, else one."""
    if streams != "auto":
        return int(streams)
    return 2 if device == "cpu" and cpus >= 2 else 1
