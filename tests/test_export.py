"""ONNX export of a trained (tiny) model: onnxruntime gives the same label as PyTorch on every clip."""

import json
from pathlib import Path

import numpy as np
import pytest

from tests.space.test_app import SEVEN, tiny_classifier

# Both sides compute in fp32; onnxruntime fuses operators and sums in another order, so each op differs by
# float32 rounding (~1e-7 relative) and the difference grows over the layers, staying around 1e-5 of the logits'
# scale (measured here: 1.7e-8 on logits of ~1e-3 over the 120 clips; tests/artifacts/onnx_parity.json). 1e-4
# absolute is far above that and still below the margins that decide a label (the test also demands the same label).
LOGIT_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from ser_hf.export import main

    run = tiny_classifier(tmp_path_factory.mktemp("run") / "model", SEVEN, seed=3)
    assert main(["onnx", str(run)]) == 0
    return run


def test_onnx_matches_pytorch_on_every_test_clip(exported):
    import torch
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    from ser_hf.data.audio import read_audio
    from ser_hf.data.synth import ensure_synthetic
    from ser_hf.export import onnx_session

    assert {p.name for p in (exported / "onnx").iterdir()} == {"model.onnx", "config.json", "preprocessor_config.json"}
    clips = sorted(Path(ensure_synthetic("ravdess", size="tiny")).rglob("*.wav"))
    assert len(clips) >= 20
    model = AutoModelForAudioClassification.from_pretrained(exported).eval()
    extractor = AutoFeatureExtractor.from_pretrained(exported)
    session = onnx_session(exported / "onnx" / "model.onnx")
    lengths, diffs, same = set(), [], 0
    for path in clips:
        wave, _ = read_audio(path)
        inputs = extractor(wave, sampling_rate=16000, return_tensors="pt")["input_values"]
        lengths.add(inputs.shape[1])
        with torch.inference_mode():
            expected = model(input_values=inputs).logits.numpy()
        got = session.run(["logits"], {"input_values": inputs.numpy()})[0]
        diffs.append(float(np.abs(expected - got).max()))
        same += int(expected.argmax() == got.argmax())
    artifacts = Path(__file__).resolve().parent / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "onnx_parity.json").write_text(json.dumps(
        {"clips": len(clips), "same_label": same, "max_abs_logit_diff": max(diffs), "lengths": sorted(lengths)}))
    assert len(lengths) > 1  # the export takes any length, not only the one it was traced with
    assert same == len(clips), f"{len(clips) - same} of {len(clips)} clips got another label"
    assert max(diffs) <= LOGIT_TOLERANCE, max(diffs)


def test_export_refuses_a_folder_that_is_not_a_model(tmp_path, capsys):
    from ser_hf.export import main

    assert main(["onnx", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing config.json" in err
