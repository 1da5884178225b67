"""Export a trained run to ONNX, for onnxruntime.

    python -m ser_hf.export onnx RUN_DIR [--out DIR] [--check-seconds 2.0]

Writes ``DIR/model.onnx`` (default ``RUN_DIR/onnx``) with the run's ``config.json`` and
``preprocessor_config.json`` beside it: inputs are what the run's feature extractor gives
(``input_values`` for the wav2vec2 family, any batch and length), the output is ``logits``. The export goes
through ``torch.onnx.export(dynamo=True)``: the older TorchScript exporter traces HuBERT's encoder wrongly
(hidden states off by the size of the states themselves in transformers 5), the dynamo exporter matches eager
PyTorch to ~1e-6. After writing, the model is run once in onnxruntime against PyTorch on a noise clip and the
largest logit difference is logged (and returned).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

MODEL_INPUTS = ("input_values", "input_features")


class ExportError(RuntimeError):
    pass


def _logits_module(model):
    import torch

    class Logits(torch.nn.Module):
        """The classifier as one tensor in, logits out: what onnxruntime serves."""

        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, inputs):
            return self.model(**{self.input_name: inputs}).logits

    return Logits()


def export_onnx(model, extractor, out_path: str | Path, sampling_rate: int = 16000, check_seconds: float = 2.0) -> float:
    """Export ``model`` (an ``AutoModelForAudioClassification``) to ``out_path``; returns the largest absolute
    logit difference between onnxruntime and PyTorch on a ``check_seconds`` noise clip."""
    import torch

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    wave = (0.1 * np.random.default_rng(0).standard_normal(int(check_seconds * sampling_rate))).astype(np.float32)
    features = extractor(wave, sampling_rate=sampling_rate, return_tensors="pt")
    names = [k for k in MODEL_INPUTS if k in features]
    if not names:
        raise ExportError(f"the feature extractor gives {sorted(features)}; ONNX export handles {MODEL_INPUTS}")
    name = names[0]
    sample = features[name]
    wrapper = _logits_module(model.eval())
    wrapper.input_name = name
    # Raw waveforms may be any length (the export is checked at one, run at others); spectrogram images keep their size.
    dynamic = {"inputs": {0: torch.export.Dim("batch", max=64), 1: torch.export.Dim("samples", min=8000, max=16000 * 600)}} \
        if name == "input_values" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(wrapper, (sample,), dynamo=True, input_names=[name], output_names=["logits"],
                                    dynamic_shapes=dynamic, verbose=False)
    program.save(str(out_path))
    session = onnx_session(out_path)
    with torch.inference_mode():
        expected = wrapper(sample).float().numpy()
    got = session.run(["logits"], {name: sample.numpy()})[0]
    diff = float(np.abs(expected - got).max())
    logger.info("wrote %s (%s -> logits); onnxruntime vs PyTorch on a %.1f-s clip: max |logit diff| %.2e",
                out_path, name, check_seconds, diff)
    return diff


def onnx_session(path: str | Path, threads: int | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def export_run(run_dir: str | Path, out_dir: str | Path | None = None, check_seconds: float = 2.0) -> Path:
    """Export the model of a train.py run; returns the folder holding ``model.onnx`` and the configs."""
    import ser_hf  # noqa: F401  (ser-hf's own model types known to the Auto classes)
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    run_dir = Path(run_dir)
    missing = [f for f in ("config.json", "model.safetensors", "preprocessor_config.json") if not (run_dir / f).is_file()]
    if missing:
        raise ExportError(f"{run_dir}: not a trained model folder, missing {', '.join(missing)}")
    out_dir = Path(out_dir) if out_dir else run_dir / "onnx"
    model = AutoModelForAudioClassification.from_pretrained(run_dir).eval()
    extractor = AutoFeatureExtractor.from_pretrained(run_dir)
    export_onnx(model, extractor, out_dir / "model.onnx", check_seconds=check_seconds)
    for name in ("config.json", "preprocessor_config.json"):
        shutil.copy2(run_dir / name, out_dir / name)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m ser_hf.export", description="Export a trained run for other runtimes.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("onnx", help="write RUN_DIR/onnx/model.onnx for onnxruntime")
    p.add_argument("run_dir", help="a train.py output folder (config.json, model.safetensors, preprocessor_config.json)")
    p.add_argument("--out", default=None, help="output folder (default RUN_DIR/onnx)")
    p.add_argument("--check-seconds", type=float, default=2.0, help="length of the clip the export is checked on")
    args = parser.parse_args(argv)
    try:
        out = export_run(args.run_dir, args.out, args.check_seconds)
    except (ExportError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"exported: {out / 'model.onnx'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
