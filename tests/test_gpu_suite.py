"""benchmarks/gpu_suite.py, the one prepared GPU check: its settings are valid recipe keys and Trainer arguments, its
clip lengths follow the hubert_bilingual corpora, the wheels it carries are the pinned versions, and ``--cpu-smoke``
runs every step on tiny models on CPU (FSDP killed and resumed included) and writes the JSON."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "benchmarks" / "gpu_suite.py"


def suite():
    spec = importlib.util.spec_from_file_location("gpu_suite", SUITE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("gpu", [True, False])
def test_every_lever_is_a_valid_recipe_override_and_trainer_argument(gpu):
    from transformers import TrainingArguments

    from ser_hf.recipe import load_recipe

    gpu_suite = suite()
    levers = gpu_suite.lever_settings(gpu)
    assert len({lever["name"] for lever in levers}) == len(levers)
    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    for lever in levers:
        load_recipe("hubert_bilingual", lever["recipe"])  # a typo here would fail on the GPU, minutes in
        assert set(lever["arguments"]) <= fields, lever
    assert levers[0]["recipe"] == [] and levers[0]["arguments"] == {}, "the first is the recipe unchanged"


def test_clip_lengths_follow_the_bilingual_corpora():
    gpu_suite = suite()
    lengths = np.array(gpu_suite.bilingual_durations(20000))
    assert lengths.min() >= 1.0 and lengths.max() <= 8.0
    table = gpu_suite.BILINGUAL_CORPORA.values()
    expected = sum(n * (lo + hi) / 2 for n, lo, hi in table) / sum(n for n, _, _ in table)
    assert lengths.mean() == pytest.approx(expected, abs=0.05)
    assert gpu_suite.bilingual_durations(5, seed=1) == gpu_suite.bilingual_durations(5, seed=1)


def test_the_wheels_carried_to_the_gpu_machine_are_the_pinned_versions():
    pins = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    carried = dict(w.split("==") for w in suite().WHEELS)
    shared = set(pins) & set(carried)
    assert {"transformers", "datasets", "evaluate", "soundfile", "soxr"} <= shared
    assert {name: carried[name] for name in shared} == {name: pins[name] for name in shared}


@pytest.mark.slow
def test_cpu_smoke_runs_every_step_and_writes_one_json(tmp_path):
    out = tmp_path / "smoke.json"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(SUITE), "--cpu-smoke", "--json", str(out)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    data = json.loads(out.read_text())
    assert data["mode"] == "cpu-smoke" and data["environment"]["torch"]

    fine = data["finetune"]
    names = {lever["name"] for lever in suite().lever_settings(False)}
    assert names <= {row["setting"] for row in fine["rows"]}, fine["errors"]
    for row in fine["rows"]:
        assert row["audio_seconds_per_s"] > 0 and 0 <= row["padding_fraction"] < 1, row
        # clips of 1-2 s after the 2-s crop (audio counted in 20-ms frames: a 1-s clip gives 49)
        assert 0.95 * row["samples_per_s"] <= row["audio_seconds_per_s"] <= 2 * row["samples_per_s"], row
    flops = fine["flops_per_audio_second"]
    assert flops["audio"] > flops["cached"] > 0, "the cached path skips the CNN's FLOPs"
    assert fine["best"]["setting"] in {row["setting"] for row in fine["rows"]}
    assert "--cpu-smoke" in fine["errors"]["torch.compile"]

    checks = data["checks"]
    assert checks["train.py under fsdp.yaml"]["ok"] is True, checks
    assert checks["fsdp.yaml: SIGKILL after a checkpoint, the same command resumes there"]["ok"] is True, checks
    fsdp = next(run for run in data["distributed"]["runs"] if run["config"] == "fsdp.yaml")
    assert fsdp["checkpoint_layout"] == "fsdp sharded" and fsdp["pipeline_labels"] == 7
    for config in ("deepspeed_zero2.yaml", "deepspeed_zero3.yaml"):  # no GPU here: said and skipped
        assert checks[f"train.py under {config}"]["ok"] is None and checks[f"train.py under {config}"]["detail"]
    assert checks["ser-hf predict throughput"]["ok"] in (None, True)
    assert "Fine-tuning, tiny HuBERT (smoke)" in result.stdout and "| fsdp.yaml | exit 0 |" in result.stdout
