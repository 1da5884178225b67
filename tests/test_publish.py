"""Model card and Hub upload of a real (tiny) training run, up to the network call.

The Hub cannot be reached from here: the card is rendered and parsed back with huggingface_hub,
the upload folder is staged for real, and the upload itself is attempted against a closed local
port to check that it fails with a clear message that does not contain the token.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import metadata_load

from ser_hf.publish.hub import PublishError, main as hub_main, push_dataset, push_run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "quickstart"
    cmd = [
        sys.executable, "train.py", "--recipe", "quickstart", "corpora=[ravdess,subesco]", "synthetic_size=tiny",
        "max_steps=6", "eval_strategy=steps", "eval_steps=3", "logging_steps=3", f"output_dir={out}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_card_metadata_parses_back_with_real_numbers(run_dir, tmp_path):
    plan = push_run(run_dir, "someone/ser-quickstart", dry_run=True, staging=tmp_path / "stage")
    readme = tmp_path / "stage" / "README.md"
    meta = metadata_load(readme)
    assert meta["pipeline_tag"] == "audio-classification" and meta["library_name"] == "transformers"
    results = json.loads((run_dir / "results.json").read_text())
    test = results.get("test", results)
    index = meta["model-index"][0]["results"]
    corpora = {r["dataset"]["config"] for r in index}
    assert corpora == {"ravdess", "subesco"}  # one result per corpus, test split
    for r in index:
        assert r["task"]["type"] == "audio-classification" and r["dataset"]["split"] == "test"
        assert {m["name"] for m in r["metrics"]} == {"Accuracy", "Weighted F1", "Macro F1", "UAR"}
        corpus_scores = test["per_group"]["corpus"][r["dataset"]["config"]]
        accuracy = next(m["value"] for m in r["metrics"] if m["name"] == "Accuracy")
        assert accuracy == pytest.approx(corpus_scores["accuracy"], abs=1e-4)
    text = readme.read_text()
    for section in ("## Labels", "## Training data", "## Split protocol and leakage", "## Evaluation results",
                    "## Training procedure", "## Intended use and limitations", "## Citations", "Speaker overlap between parts"):
        assert section in text, section
    assert "More information needed" not in text and "{{" not in text
    assert "Bilingual Speech Emotion Recognition" in text  # seed 003 cited
    assert f"{test['accuracy'] * 100:.2f} %" in text
    assert "README.md" in plan.files and "model.safetensors" in plan.files
    assert not any(f.startswith("checkpoint") or f.endswith((".bin", ".pt", ".pkl")) for f in plan.files)


def test_staged_folder_loads_with_the_pipeline(run_dir, tmp_path):
    from transformers import pipeline

    push_run(run_dir, "someone/ser-quickstart", dry_run=True, staging=tmp_path / "stage")
    classifier = pipeline("audio-classification", model=str(tmp_path / "stage"))
    import numpy as np

    out = classifier({"raw": np.zeros(16000, dtype=np.float32) + 0.01, "sampling_rate": 16000})
    assert {o["label"] for o in out} <= set(json.loads((run_dir / "config.json").read_text())["id2label"].values())


def test_upload_fails_clearly_without_leaking_the_token(run_dir, tmp_path, monkeypatch, capsys):
    secret = "hf_" + "x" * 30
    monkeypatch.setenv("HF_TOKEN", secret)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # closed port: the network call fails at once
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    code = hub_main(["push", str(run_dir), "--repo-id", "someone/ser-quickstart", "--revision", "run-test", "--staging", str(tmp_path / "s")])
    captured = capsys.readouterr()
    assert code == 2 and "upload to someone/ser-quickstart@run-test failed" in captured.err
    assert secret not in captured.err + captured.out
    for path in (tmp_path / "s").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_repo_id_and_unfinished_runs_are_refused(run_dir, tmp_path):
    with pytest.raises(PublishError, match="ORG/NAME"):
        push_run(run_dir, "no-org", dry_run=True)
    (tmp_path / "half").mkdir()
    with pytest.raises(PublishError, match="not a finished training run"):
        push_run(tmp_path / "half", "a/b", dry_run=True)


def test_dataset_push_warns_about_licences(tmp_path):
    from ser_hf.data.cli import main as data_main
    from ser_hf.data.synth import ensure_synthetic

    out = tmp_path / "prepared"
    assert data_main(["prepare", "--corpus", "savee", "--root", str(ensure_synthetic("savee", size="tiny")), "--out", str(out)]) == 0
    with pytest.raises(PublishError, match="SAVEE EULA"):
        push_dataset(out, "someone/savee", dry_run=True)
    plan = push_dataset(out, "someone/savee", accept_licence=True, dry_run=True)
    assert plan["private"] is True and sum(plan["splits"].values()) == 64
