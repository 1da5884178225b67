"""``ser-hf predict``: every input and output form, long recordings, bad inputs, resume after SIGKILL, two processes
under accelerate launch, and batched logits equal to pipeline("audio-classification") clip by clip."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ser_hf.predict.cli import main
from ser_hf.predict.options import ERROR_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
LABELS = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
SR = 16000


def _save_tiny(folder: Path, model_type: str = "hubert", labels=LABELS, seed: int = 0, **overrides) -> Path:
    import torch
    from transformers import AutoModelForAudioClassification

    from ser_hf.models.audio_encoders import tiny_config, tiny_feature_extractor

    torch.manual_seed(seed)
    config = tiny_config(model_type, list(labels), **overrides)
    model = AutoModelForAudioClassification.from_config(config)
    extractor = tiny_feature_extractor(config)
    if model_type == "hubert":  # as hubert-base ships: no attention mask from the extractor
        extractor.return_attention_mask = False
    model.save_pretrained(folder)
    extractor.save_pretrained(folder)
    return folder


def _noise(seconds: float, seed: int, level: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    return (level * (rng.standard_normal(len(t)) * (0.6 + 0.4 * np.sin(2 * np.pi * (1 + seed % 5) * t)))).astype(np.float32)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return _save_tiny(tmp_path_factory.mktemp("model") / "tiny_hubert")


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    """Twelve clips of 0.4-3.5 s, some in a sub-folder, at 16 kHz and (one) at 44.1 kHz stereo."""
    folder = tmp_path_factory.mktemp("clips") / "recordings"
    paths = []
    rng = np.random.default_rng(1)
    for i in range(12):
        path = folder / ("deep/er" if i % 4 == 0 else "") / f"clip{i:02d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        wave = _noise(float(rng.uniform(0.4, 3.5)), i)
        if i == 5:
            import soxr

            sf.write(path, np.stack([soxr.resample(wave, SR, 44100)] * 2, axis=1), 44100)
        else:
            sf.write(path, wave, SR)
        paths.append(path)
    return sorted(paths)


def _run(*argv) -> int:
    return main([str(a) for a in argv] + ["--no-progress"])


def _table(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    import datasets

    return datasets.load_from_disk(str(path))["predictions"].to_pandas()


# ---------------------------------------------------------------- batched = pipeline, clip by clip

@pytest.mark.parametrize("model_type,overrides", [("hubert", {}), ("wav2vec2", {"feat_extract_norm": "layer"}),
                                                  ("wavlm", {}), ("data2vec-audio", {})])
def test_batches_give_the_pipelines_scores_clip_by_clip(tmp_path, model_type, overrides):
    """Clips of different lengths in one batch (padded + masked where exact, equal shapes otherwise) get the
    probabilities pipeline('audio-classification') gives each alone."""
    from transformers import pipeline

    from ser_hf.models.audio_encoders import PADDING_EXACT_TYPES
    from ser_hf.predict.models import Predictor, parse_models

    folder = _save_tiny(tmp_path / model_type, model_type, **overrides)
    waves = [_noise(s, i) for i, s in enumerate([0.5, 1.3, 2.2, 0.9, 1.3, 3.1])]
    predictor = Predictor(parse_models([str(folder)]), batch_size=8)
    assert predictor.padded_batches == (model_type in PADDING_EXACT_TYPES)
    got = predictor.probabilities(waves)[folder.name]
    classifier = pipeline("audio-classification", model=str(folder), device="cpu")
    for row, wave in zip(got, waves):
        scores = {r["label"]: r["score"] for r in classifier(wave, top_k=None)}
        expected = np.array([scores[c] for c in predictor.classes])
        np.testing.assert_allclose(row, expected, atol=2e-6)
        assert predictor.classes[int(row.argmax())] == max(scores, key=scores.get)


# ---------------------------------------------------------------- inputs and outputs

def test_every_output_form_holds_the_same_rows(tmp_path, model_dir, clips):
    """CSV, JSONL, Parquet and a `datasets` folder: the same rows, in input order (a folder's files sorted,
    recursively), with the error table and the summary beside them."""
    folder = Path(os.path.commonpath(clips))
    tables = {}
    for suffix in (".csv", ".jsonl", ".parquet", ""):
        out = tmp_path / f"emotions{suffix}"
        assert _run(folder, "--model", model_dir, "--out", out) == 0
        tables[suffix] = table = _table(out)
        assert list(table["path"]) == sorted(str(p) for p in clips)
        assert set(table["kind"]) == {"file"}
        probs = table[[f"prob:{c}" for c in LABELS]].to_numpy()
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
        assert list(table["label"]) == [LABELS[i] for i in probs.argmax(axis=1)]
        np.testing.assert_allclose(table["duration"], [sf.info(p).duration for p in sorted(map(str, clips))], atol=1e-3)
        summary = out / "summary.json" if not suffix else tmp_path / "emotions.summary.json"
        assert json.loads(summary.read_text())["predicted"] == len(clips)
    errors = pd.read_csv(tmp_path / "emotions.errors.csv")
    assert list(errors.columns) == list(ERROR_COLUMNS) and errors.empty
    import datasets

    assert len(datasets.load_from_disk(str(tmp_path / "emotions"))["errors"]) == 0
    for suffix in (".jsonl", ".parquet", ""):
        assert list(tables[suffix]["label"]) == list(tables[".csv"]["label"])
        np.testing.assert_allclose(tables[suffix]["prob:sad"].to_numpy(float), tables[".csv"]["prob:sad"].to_numpy(float))


def test_files_globs_and_manifests_in_every_format(tmp_path, model_dir, clips):
    folder = clips[1].parent
    labels = {str(p): LABELS[i % 3] for i, p in enumerate(clips)}
    rel = [os.path.relpath(p, tmp_path) for p in clips]
    frame = pd.DataFrame({"file_name": rel, "emotion": [labels[str(p)] for p in clips]})
    frame.to_csv(tmp_path / "m.csv", index=False)
    frame.to_csv(tmp_path / "m.tsv", index=False, sep="\t")
    frame.to_json(tmp_path / "m.jsonl", orient="records", lines=True)
    frame.to_parquet(tmp_path / "m.parquet")
    outs = {}
    for name in ("m.csv", "m.tsv", "m.jsonl", "m.parquet"):
        out = tmp_path / f"{name}.out.csv"
        assert _run(tmp_path / name, "--model", model_dir, "--out", out) == 0
        outs[name] = pd.read_csv(out)
        assert list(outs[name]["path"]) == [str(tmp_path / r) for r in rel]
        assert list(outs[name]["reference"]) == [labels[str(p)] for p in clips]
        metrics = json.loads((tmp_path / f"{name}.out.metrics.json").read_text())
        assert metrics["models"]["tiny_hubert"]["n"] == len(clips)
        assert (tmp_path / f"{name}.out.confusion_matrix.png").stat().st_size > 0
    for name in ("m.tsv", "m.jsonl", "m.parquet"):
        assert list(outs[name]["label"]) == list(outs["m.csv"]["label"])
    # a file, a glob, and the same file again through the glob: read once, in argument order
    out = tmp_path / "mixed.jsonl"
    assert _run(clips[3], str(folder / "clip0*.wav"), "--model", model_dir, "--out", out) == 0
    table = pd.read_json(out, lines=True)
    globbed = sorted(str(p) for p in folder.glob("clip0*.wav"))
    assert list(table["path"]) == [str(clips[3])] + [p for p in globbed if p != str(clips[3])]


def test_a_prepared_split_is_scored_like_train_py_test(tmp_path, model_dir):
    """A `ser-hf prepare` folder (DatasetDict of 16-kHz WAV bytes) + --split: labels from its ClassLabel, the same
    metrics report as train.py's test (compute_classification_metrics, confusion matrix)."""
    import datasets

    from ser_hf.data.audio import encode_wav
    from ser_hf.evaluation.metrics import compute_classification_metrics

    rows = {"audio": [], "label": [], "path": [], "duration": []}
    for i in range(6):
        wave = _noise(0.6 + 0.3 * i, 50 + i)
        rows["audio"].append({"bytes": encode_wav(wave, SR), "path": None})
        rows["label"].append(i % 3)
        rows["path"].append(f"/corpus/Actor_0{i}/file{i}.wav")
        rows["duration"].append(len(wave) / SR)
    features = datasets.Features({"audio": datasets.Audio(sampling_rate=SR), "label": datasets.ClassLabel(names=LABELS[:3]),
                                  "path": datasets.Value("string"), "duration": datasets.Value("float32")})
    split = datasets.Dataset.from_dict(rows, features=features)
    datasets.DatasetDict({"train": split, "test": split}).save_to_disk(str(tmp_path / "prepared" / "data"))
    out = tmp_path / "scored.parquet"
    assert _run(tmp_path / "prepared", "--model", model_dir, "--out", out, "--split", "test") == 0
    table = pd.read_parquet(out)
    assert list(table["path"]) == rows["path"]
    assert list(table["reference"]) == [LABELS[i % 3] for i in range(6)]
    metrics = json.loads((tmp_path / "scored.metrics.json").read_text())["models"]["tiny_hubert"]
    expected = compute_classification_metrics(list(table["reference"]), list(table["label"]), LABELS,
                                              probabilities=table[[f"prob:{c}" for c in LABELS]].to_numpy())
    assert metrics["confusion_matrix"] == expected["confusion_matrix"]
    assert metrics["accuracy"] == pytest.approx(expected["accuracy"])
    assert _run(tmp_path / "prepared", "--model", model_dir, "--out", tmp_path / "x.csv", "--split", "dev") == 2


# ---------------------------------------------------------------- bad input

def test_bad_inputs_go_to_the_error_table_and_the_run_goes_on(tmp_path, model_dir, clips, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.wav").write_bytes(b"")
    (bad / "garbage.wav").write_bytes(b"this is not audio " * 40)
    sf.write(bad / "silent.wav", np.zeros(3 * SR, np.float32), SR)
    sf.write(bad / "blip.wav", _noise(0.05, 3), SR)
    sf.write(bad / "long.wav", _noise(12.0, 4), SR)
    locked = bad / "locked.wav"
    sf.write(locked, _noise(1.0, 5), SR)
    locked.chmod(0)
    manifest = tmp_path / "list.csv"
    names = ["empty.wav", "garbage.wav", "silent.wav", "blip.wav", "long.wav", "locked.wav", "gone.wav"]
    pd.DataFrame({"path": [str(clips[0])] + [f"bad/{n}" for n in names]}).to_csv(manifest, index=False)
    out = tmp_path / "out.csv"
    try:
        assert _run(manifest, "--model", model_dir, "--out", out, "--max-seconds", "10") == 0
    finally:
        locked.chmod(0o644)
    table = pd.read_csv(out)
    root = os.geteuid() == 0  # root reads a file of mode 000
    assert list(table["path"]) == [str(clips[0])] + ([str(locked)] if root else [])
    errors = pd.read_csv(tmp_path / "out.errors.csv").set_index("path")["error"].to_dict()
    expected = {"empty.wav": "empty", "garbage.wav": "unreadable", "silent.wav": "silent", "blip.wav": "too_short",
                "long.wav": "too_long", "gone.wav": "missing"}
    if not root:
        expected["locked.wav"] = "unreadable"
    for name, kind in expected.items():
        assert errors[str(tmp_path / "bad" / name)] == kind, name
    summary = json.loads((tmp_path / "out.summary.json").read_text())
    assert summary["errors"] == len(errors) and summary["errors_by_kind"]["silent"] == 1
    assert "errors:" in capsys.readouterr().out
    # nothing readable: exit status 1, and the error table still written
    out2 = tmp_path / "none.csv"
    assert _run(bad / "empty.wav", bad / "silent.wav", "--model", model_dir, "--out", out2) == 1
    assert len(pd.read_csv(tmp_path / "none.errors.csv")) == 2


def test_usage_errors_stop_before_any_model_loads(tmp_path, model_dir, clips, capsys):
    assert _run(tmp_path / "nowhere", "--model", model_dir, "--out", tmp_path / "o.csv") == 2
    assert "nowhere: no such file or folder" in capsys.readouterr().err
    assert _run(str(tmp_path / "*.flac"), "--model", model_dir, "--out", tmp_path / "o.csv") == 2
    assert "matches no file" in capsys.readouterr().err
    pd.DataFrame({"name": ["a.wav"]}).to_csv(tmp_path / "nopath.csv", index=False)
    assert _run(tmp_path / "nopath.csv", "--model", model_dir, "--out", tmp_path / "o.csv") == 2
    assert "no path column" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _run(clips[0], "--model", model_dir, "--out", tmp_path / "o.txt")
    assert "--out" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _run(clips[0], "--model", model_dir, "--out", tmp_path / "o.csv", "--smoothing", "median")
    assert "smoothing method 'median'" in capsys.readouterr().err
    assert _run(clips[0], "--model", tmp_path / "no_model", "--out", tmp_path / "o.csv") == 2
    assert "cannot load" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


# ---------------------------------------------------------------- several models

def test_several_models_side_by_side_and_label_mismatch(tmp_path, model_dir, clips, capsys):
    other = _save_tiny(tmp_path / "other", seed=1)
    out = tmp_path / "two.csv"
    assert _run(*clips[:4], "--model", model_dir, "--model", f"second={other}", "--out", out) == 0
    table = pd.read_csv(out)
    assert {"label:tiny_hubert", "label:second", "prob:second:sad"} <= set(table.columns)
    single = tmp_path / "one.csv"
    assert _run(*clips[:4], "--model", other, "--out", single) == 0
    np.testing.assert_allclose(table[[f"prob:second:{c}" for c in LABELS]].to_numpy(),
                               pd.read_csv(single)[[f"prob:{c}" for c in LABELS]].to_numpy(), atol=1e-6)
    # a model with other classes is refused before any work, or mapped through a label view
    four = _save_tiny(tmp_path / "four", labels=["anger_disgust", "fear_surprise", "happy", "sad"])
    assert _run(*clips[:2], "--model", model_dir, "--model", four, "--out", tmp_path / "x.csv") == 2
    assert "predict different classes" in capsys.readouterr().err and not (tmp_path / "x.csv").exists()
    assert _run(*clips[:2], "--model", model_dir, "--model", four, "--out", tmp_path / "x.csv",
                "--label-view", "realtime4") == 0
    table = pd.read_csv(tmp_path / "x.csv")
    assert {"prob:tiny_hubert:anger_disgust", "prob:four:fear_surprise"} <= set(table.columns)


def test_heads_on_one_encoder_run_it_once_with_the_same_scores(tmp_path, model_dir, clips):
    """Two models whose encoders hold the same weights (heads on one backbone) form one group: one encoder pass."""
    import torch
    from transformers import AutoModelForAudioClassification

    from ser_hf.predict.models import Predictor, parse_models

    model = AutoModelForAudioClassification.from_pretrained(model_dir)
    torch.manual_seed(5)
    torch.nn.init.normal_(model.classifier.weight)
    head = tmp_path / "head_b"
    model.save_pretrained(head)
    (head / "preprocessor_config.json").write_text((model_dir / "preprocessor_config.json").read_text())
    predictor = Predictor(parse_models([str(model_dir), str(head)]))
    assert len(predictor.units) == 1 and predictor.units[0].names == ["tiny_hubert", "head_b"]
    waves = [sf.read(p, dtype="float32")[0] for p in clips[:5] if sf.info(p).samplerate == SR]
    together = predictor.probabilities(waves)
    alone = Predictor(parse_models([str(head)])).probabilities(waves)["head_b"]
    np.testing.assert_allclose(together["head_b"], alone, atol=1e-6)


@pytest.mark.slow
def test_an_onnx_export_runs_in_onnxruntime_beside_pytorch(tmp_path, model_dir, clips):
    import shutil

    from ser_hf.export import export_run

    run = tmp_path / "run"
    shutil.copytree(model_dir, run)
    export_run(run)
    out = tmp_path / "onnx.csv"
    assert _run(*clips[:6], "--model", run, "--model", run / "onnx", "--out", out, "--precision", "fp32") == 0
    table = pd.read_csv(out)
    assert list(table["label:run"]) == list(table["label:run-onnx"])
    np.testing.assert_allclose(table[[f"prob:run:{c}" for c in LABELS]].to_numpy(),
                               table[[f"prob:run-onnx:{c}" for c in LABELS]].to_numpy(), atol=1e-4)


# ---------------------------------------------------------------- long recordings

@pytest.fixture(scope="module")
def long_recording(tmp_path_factory):
    """Known clips joined with known silences (ser_hf.data.synth.render_long_clip): 4 utterances of 2 s, 3-s gaps."""
    from ser_hf.data.synth import render_long_clip

    wave, annotations = render_long_clip(["angry", "sad", "happy", "neutral"], seconds_per_segment=2.0,
                                         silence_between=3.0, seed=0)
    path = tmp_path_factory.mktemp("long") / "interview.wav"
    sf.write(path, wave, SR)
    return path, annotations, len(wave) / SR


@pytest.mark.parametrize("segments,vad", [("windows", "auto"), ("vad", "silero"), ("vad", "energy")])
def test_long_recording_segments_lie_within_one_window_of_the_truth(tmp_path, model_dir, long_recording, segments, vad):
    path, annotations, duration = long_recording
    out = tmp_path / "long.csv"
    plots = tmp_path / "plots"
    assert _run(path, "--model", model_dir, "--out", out, "--long-seconds", "10", "--segments", segments,
                "--vad", vad, "--plots", plots) == 0
    table = pd.read_csv(out)
    file_row, rows = table.iloc[0], table.iloc[1:]
    assert file_row["kind"] == "file" and file_row["duration"] == pytest.approx(duration, abs=1e-3)
    window = 2.0
    voiced, silent = rows[rows["kind"] == "segment"], rows[rows["kind"] == "silence"]
    assert (silent["label"] == "silence").all() and silent["prob:sad"].isna().all()
    # every utterance is covered by voiced segments, and no voiced segment lies more than a window off speech
    for start, end, _ in annotations:
        covered = voiced[(voiced["end"] > start) & (voiced["start"] < end)]
        assert len(covered), (start, end)
        assert covered["start"].min() <= start + window and covered["end"].max() >= end - window
    for _, row in voiced.iterrows():
        assert any(row["start"] < e + window and row["end"] > s - window for s, e, _ in annotations)
    # silence rows where the silences are: each gap holds one, none overlaps an utterance by more than a window
    gaps = [(e, s) for (_, e, _), (s, _, _) in zip(annotations, annotations[1:])]
    for a, b in gaps:
        assert ((silent["start"] < b) & (silent["end"] > a)).any(), (a, b)
    for _, row in silent.iterrows():
        assert all(min(row["end"], e) - max(row["start"], s) < window for s, e, _ in annotations)
    if segments == "vad":  # speech segments start and end at the utterances (within one window)
        for start, end, _ in annotations:
            (match,) = voiced[(voiced["end"] > start) & (voiced["start"] < end)].index
            assert abs(voiced.loc[match, "start"] - start) < window and abs(voiced.loc[match, "end"] - end) < window
    # the per-file summary: voiced time and the distribution over it
    shares = file_row[[f"share:{c}" for c in LABELS]].to_numpy(dtype=float)
    assert shares.sum() == pytest.approx(1.0, abs=1e-5)
    assert file_row["label"] == LABELS[int(shares.argmax())]
    assert 4 <= file_row["voiced_seconds"] <= 8 + 4 * window
    assert file_row["segments"] == len(voiced)
    assert (plots / "interview.wav.png").stat().st_size > 0


def test_smoothing_steadies_segment_labels(tmp_path, model_dir, long_recording):
    path, _, _ = long_recording
    outs = {}
    for method in ("none", "ema"):
        out = tmp_path / f"{method}.csv"
        assert _run(path, "--model", model_dir, "--out", out, "--long-seconds", "5", "--hop", "0.5",
                    "--smoothing", method, "--smoothing-alpha", "0.3") == 0
        outs[method] = pd.read_csv(out)
    raw, smooth = (outs[m][outs[m]["kind"] == "segment"] for m in ("none", "ema"))
    assert list(raw["start"]) == list(smooth["start"])
    assert smooth[[f"prob:{c}" for c in LABELS]].diff().abs().sum().sum() < raw[[f"prob:{c}" for c in LABELS]].diff().abs().sum().sum()


# ---------------------------------------------------------------- resume, sharding

def _predict_cmd(*argv) -> list[str]:
    return [sys.executable, "-m", "ser_hf.predict", *map(str, argv), "--no-progress"]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.mark.slow
def test_sigkill_then_relaunch_gives_exactly_one_row_per_input(tmp_path, model_dir):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(40):
        sf.write(folder / f"c{i:02d}.wav", _noise(0.5 + 0.05 * i, 100 + i), SR)
    sf.write(folder / "zz_silent.wav", np.zeros(SR, np.float32), SR)
    out = tmp_path / "out.parquet"
    argv = [folder, "--model", model_dir, "--out", out, "--batch-size", "1", "--workers", "0"]
    proc = subprocess.Popen(_predict_cmd(*argv), env=_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    journal = tmp_path / "out.parquet.parts" / "journal-0.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and (not journal.exists() or journal.read_bytes().count(b"\n") < 5):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written = journal.read_bytes().count(b"\n")
    assert 5 <= written < 41, "the run finished before the kill: make it slower"
    assert not out.exists()
    with open(journal, "ab") as fh:  # what a kill in the middle of a write leaves
        fh.write(b'{"index": 3, "key": "torn')
    run = subprocess.run(_predict_cmd(*argv), env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    table = pd.read_parquet(out)
    errors = pd.read_parquet(tmp_path / "out.errors.parquet")
    paths = sorted(str(p) for p in folder.glob("*.wav"))
    assert sorted(table["path"]) == [p for p in paths if "silent" not in p] and table["path"].is_unique
    assert list(errors["path"]) == [str(folder / "zz_silent.wav")]
    assert list(table["path"]) == [p for p in paths if "silent" not in p]  # input order, whoever wrote which row
    assert not (tmp_path / "out.parquet.parts").exists()
    summary = json.loads((tmp_path / "out.summary.json").read_text())
    assert summary["this_launch"]["inputs_skipped"] == written
    # a third launch with one more input: the output's rows are kept, only the new file is read
    sf.write(folder / "c99.wav", _noise(1.0, 999), SR)
    run = subprocess.run(_predict_cmd(*argv), env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    again = pd.read_parquet(out)
    assert len(again) == len(table) + 1 and again["path"].is_unique
    pd.testing.assert_frame_equal(again.iloc[:-1].reset_index(drop=True), table.reset_index(drop=True))
    assert json.loads((tmp_path / "out.summary.json").read_text())["this_launch"]["files"] == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_under_accelerate_launch_write_the_single_process_table(tmp_path, model_dir, clips, long_recording):
    manifest = tmp_path / "big.csv"
    pd.DataFrame({"path": [str(p) for p in clips] + [str(long_recording[0])],
                  "label": [LABELS[i % 7] for i in range(len(clips) + 1)]}).to_csv(manifest, index=False)
    common = [manifest, "--model", model_dir, "--long-seconds", "10", "--no-progress", "--precision", "fp32"]
    single = subprocess.run([sys.executable, "-m", "ser_hf.predict", *map(str, common), "--out", str(tmp_path / "one")],
                            env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--num_machines", "1",
                "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()), "--multi_gpu"]
    sharded = subprocess.run([*launcher, "-m", "ser_hf.predict", *map(str, common), "--out", str(tmp_path / "shards")],
                             env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert sharded.returncode == 0, sharded.stderr[-3000:]
    one, two = _table(tmp_path / "one"), _table(tmp_path / "shards")
    summary = json.loads((tmp_path / "shards" / "summary.json").read_text())
    assert summary["processes"] == 2
    assert list(one.columns) == list(two.columns) and len(one) == len(two)
    numeric = [c for c in one.columns if c.startswith(("prob:", "share:", "confidence"))]
    pd.testing.assert_frame_equal(one.drop(columns=numeric), two.drop(columns=numeric))
    np.testing.assert_allclose(one[numeric].to_numpy(dtype=float), two[numeric].to_numpy(dtype=float), atol=1e-5)
    assert json.loads((tmp_path / "shards" / "metrics.json").read_text())["models"]["tiny_hubert"]["n"] == len(clips) + 1


@pytest.mark.slow
def test_a_frozen_process_stops_the_launch_named_and_a_relaunch_completes(tmp_path, model_dir, clips):
    """Two processes under accelerate launch; rank 1 is frozen (SIGSTOP: its sockets stay open, as when a machine
    hangs) as soon as it reports: rank 0 stops within --peer-timeout + 15 s, naming it, instead of waiting for its
    share for ever. The same command again labels every input once."""
    manifest = tmp_path / "m.csv"
    pd.DataFrame({"path": [str(p) for p in clips]}).to_csv(manifest, index=False)
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--num_machines", "1",
                "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()), "--multi_gpu"]
    command = [*launcher, "-m", "ser_hf.predict", str(manifest), "--model", str(model_dir), "--out",
               str(tmp_path / "out.csv"), "--no-progress", "--peer-timeout", "5", "--workers", "0"]
    log = tmp_path / "launch.log"
    proc = subprocess.Popen(command, env=_env(), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=log.open("w"),
                            start_new_session=True)
    frozen = None
    try:
        deadline = time.time() + 300
        while frozen is None and time.time() < deadline and proc.poll() is None:
            for status in (tmp_path / "out.csv.parts").glob("launch-*/rank-1.json"):
                with contextlib.suppress(ValueError, OSError):
                    frozen = json.loads(status.read_text())["pid"]
            time.sleep(0.02)
        assert frozen is not None, log.read_text()[-3000:]
        os.kill(frozen, signal.SIGSTOP)
        stopped = time.monotonic()
        while "ser-hf predict: rank 1" not in log.read_text() and time.monotonic() - stopped < 60:
            time.sleep(0.1)
        took = time.monotonic() - stopped
    finally:
        if frozen is not None:
            os.kill(frozen, signal.SIGKILL)
        proc.wait(timeout=120)
    text = log.read_text()
    assert "ser-hf predict: rank 1" in text and "has shown no sign of life" in text, text[-3000:]
    assert took < 5 + 15, took
    assert proc.returncode != 0 and not (tmp_path / "out.csv").exists()
    command[command.index("--main_process_port") + 1] = str(_free_port())
    again = subprocess.run(command, env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    table = pd.read_csv(tmp_path / "out.csv")
    assert sorted(table["path"]) == sorted(str(p) for p in clips) and table["path"].is_unique


def test_ser_hf_predict_is_a_subcommand(tmp_path, model_dir, clips):
    from ser_hf.cli import main as ser_hf_main

    assert ser_hf_main(["predict", str(clips[2]), "--model", str(model_dir), "--out", str(tmp_path / "o.jsonl"),
                        "--no-progress"]) == 0
    assert len(pd.read_json(tmp_path / "o.jsonl", lines=True)) == 1


@pytest.mark.slow
def test_the_benchmark_runs_its_gpu_batch_size_sweep_on_cpu_at_tiny_size(tmp_path):
    """benchmarks/predict.py as a GPU session runs it (--batch-sizes), on CPU with a tiny model and four clips."""
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "predict.py"), "--tiny", "--clips", "4",
                          "--max-seconds", "2", "--batch-sizes", "1,2", "--device", "cpu", "--json", str(out)],
                         env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert [r["batch_size"] for r in result["batch_sizes"]] == [1, 2]
    assert all(r["audio_s_per_s"] > 0 and 0 <= r["agreement_with_default"] <= 1 for r in result["batch_sizes"])
    assert result["agreement"]["fp32_vs_loop"] == 1.0
