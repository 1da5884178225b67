"""Training: collator, length grouping, tiny models of every supported type, the Trainer pieces, and
``train.py`` end to end (in process, killed and resumed, and as two processes under accelerate)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch

import train
from ser_hf.data.audio import decode_wav_bytes, encode_wav
from ser_hf.data.corpora import CorpusRootError
from ser_hf.hardware import cpu_has_bf16
from ser_hf.inference import model_logits
from ser_hf.models import TINY_TYPES, build_model
from ser_hf.models.audio_encoders import pads_exactly
from ser_hf.recipe import load_recipe
from ser_hf.training import (
    AudioCollator,
    InferenceCollator,
    PreparedData,
    build_trainer,
    epoch_padding_fraction,
    last_complete_checkpoint,
    padding_fraction,
    prepare_data,
    weighted_cross_entropy,
)

ROOT = Path(__file__).resolve().parents[2]
LABELS = ["angry", "happy", "sad"]
SR = 16000

# Small enough for 2 CPU cores: two tiny synthetic corpora (English + Bengali), a few steps.
TINY_RUN = [
    "corpora=ravdess,subesco", "synthetic_size=tiny", "per_device_train_batch_size=8",
    "per_device_eval_batch_size=16", "max_train_seconds=2.0", "dataloader_num_workers=0", "logging_steps=2",
]


def wav_row(seconds: float, label: int, freq: float = 220.0) -> dict:
    t = np.arange(int(seconds * SR)) / SR
    wave = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return {"audio": {"bytes": encode_wav(wave, SR), "path": None}, "label": label, "duration": seconds}


def toy_dataset(durations: list[float], audio_seconds: float | None = None) -> datasets.Dataset:
    """Rows whose ``duration`` column says ``durations``; ``audio_seconds`` makes every clip that long instead."""
    rows = []
    for i, d in enumerate(durations):
        row = wav_row(audio_seconds or d, i % len(LABELS), 150 + 40 * (i % len(LABELS)))
        rows.append({**row, "duration": d})
    return datasets.Dataset.from_list(rows)


# ---------------------------------------------------------------- collator and grouping
def test_collator_crops_randomly_only_at_train_time_and_pads_to_bounded_shapes():
    _, extractor = build_model(LABELS, tiny_model="hubert")
    rows = [wav_row(3.0, 0), wav_row(0.7, 1)]
    train_collator = AudioCollator(extractor, max_seconds=2.0, train=True, pad_to_multiple_seconds=0.5)
    batch = train_collator(rows)
    assert batch["input_values"].shape == (2, 2 * SR)  # cropped to 2 s, padded to a multiple of 0.5 s
    assert batch["attention_mask"][1].sum() == int(0.7 * SR)
    assert batch["labels"].tolist() == [0, 1]
    assert AudioCollator(extractor, max_seconds=2.0, train=True)([wav_row(0.7, 1), wav_row(0.3, 2)])["input_values"].shape \
        == (2, int(0.7 * SR)), "without a multiple: the longest clip"
    torch.manual_seed(0)
    crops = {tuple(train_collator(rows[:1])["input_values"][0, :50].tolist()) for _ in range(5)}
    assert len(crops) > 1, "training crops start at random offsets"
    # padding bookkeeping: 2*32000 samples, of which 32000 + 11200 are real
    assert train_collator.stats["examples"] >= 2
    fresh = AudioCollator(extractor, max_seconds=2.0, train=True, pad_to_multiple_seconds=0.5)
    fresh(rows)
    assert fresh.padding_fraction == pytest.approx(1 - (2 * SR + int(0.7 * SR)) / (4 * SR))


def test_training_batches_normalise_each_clip_alone_as_the_pipeline_does():
    """A group-norm extractor (no attention mask) normalises a padded batch over the padding too; the collator
    gives each clip the pipeline's normalisation, whatever the batch."""
    _, extractor = build_model(LABELS, tiny_model="hubert")
    extractor.return_attention_mask = False  # as facebook/hubert-base-ls960 ships it
    rows = [wav_row(0.4, 0, 300.0), wav_row(1.5, 1)]
    batch = AudioCollator(extractor, max_seconds=2.0, train=True)(rows)
    alone = extractor(decode_wav_bytes(rows[0]["audio"]["bytes"])[0], sampling_rate=SR, return_tensors="pt")["input_values"][0]
    assert torch.allclose(batch["input_values"][0, : len(alone)], alone)
    assert batch["attention_mask"][0].sum() == len(alone) and (batch["input_values"][0, len(alone):] == 0).all()


@pytest.mark.parametrize("model_type", ["hubert", "wav2vec2", "wavlm"])
def test_a_padded_training_batch_gives_every_clip_its_unpadded_logits(model_type):
    """The group-norm CNN of base checkpoints ignores the batch padding (PaddingMaskedGroupNorm), so what a clip
    learns from in a batch is what pipeline() computes for it alone. (data2vec-audio is the exception: its
    positional embedding stacks five convolutions with layer norms, through which padding reaches a clip's last
    frames.)"""
    from transformers import pipeline

    model, extractor = build_model(LABELS, tiny_model=model_type)
    model.eval()
    # clips of one length go through the norm together: a contiguous pair, a pair apart, and one alone
    rows = [wav_row(1.7, 0, 180.0), wav_row(1.7, 1, 250.0), wav_row(0.45, 1, 300.0), wav_row(1.0, 2, 420.0),
            wav_row(0.45, 2, 520.0)]
    batch = AudioCollator(extractor, max_seconds=3.0, pad_to_multiple_seconds=0.5)(rows)
    with torch.no_grad():
        batched = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
    classify = pipeline("audio-classification", model=model, feature_extractor=extractor, device=-1)
    for i, row in enumerate(rows):
        wave = decode_wav_bytes(row["audio"]["bytes"])[0]
        scores = {s["label"]: s["score"] for s in classify({"raw": wave, "sampling_rate": SR}, top_k=None)}
        expected = torch.softmax(batched[i], -1)
        assert [scores[name] for name in LABELS] == pytest.approx(expected.tolist(), abs=1e-5), (model_type, i)
    # and it learns what it would alone: the batch's gradients are the sum of each clip's own
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    weights = torch.randn(len(rows), len(LABELS))
    model.zero_grad()
    (model(**inputs).logits * weights).sum().backward()
    together = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    model.zero_grad()
    for i, row in enumerate(rows):
        alone = extractor(decode_wav_bytes(row["audio"]["bytes"])[0], sampling_rate=SR, return_tensors="pt")
        (model(input_values=alone["input_values"]).logits[0] * weights[i]).sum().backward()
    apart = [p.grad for p in model.parameters() if p.grad is not None]
    for a, b in zip(together, apart, strict=True):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-3), model_type


def test_a_model_cast_to_bf16_runs_padded_batches_and_evaluation():
    """DeepSpeed's bf16 mode (and FSDP2's mixed-precision policy) casts the model itself, with no autocast: the
    padding-masked group norm hands on bf16, and evaluation's float32 inputs are cast to the model's dtype."""
    model, extractor = build_model(LABELS, tiny_model="hubert")
    model.eval()
    batch = AudioCollator(extractor, max_seconds=3.0)([wav_row(1.7, 0, 180.0), wav_row(0.45, 1, 300.0)])
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        reference = model(**inputs).logits
        model.to(torch.bfloat16)
        cast = model(**{k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in inputs.items()}).logits
        evaluated = model_logits(model, inputs)
    tolerance = 0.05 * float(reference.abs().max())
    assert cast.dtype == torch.bfloat16 and torch.allclose(cast.float(), reference, atol=tolerance)
    assert evaluated.dtype == torch.float32 and torch.allclose(evaluated, reference, atol=tolerance)


def test_inference_collator_keeps_clips_whole_and_stacks_only_equal_shapes():
    _, extractor = build_model(LABELS, tiny_model="hubert")
    rows = [wav_row(3.0, 0), wav_row(0.7, 1), wav_row(3.0, 2, 330.0)]
    batch = InferenceCollator(extractor)(rows)
    assert list(batch)[0] == "labels" and batch["labels"].tolist() == [0, 1, 2]
    shapes = sorted((g["rows"].tolist(), tuple(g["inputs"]["input_values"].shape)) for g in batch["clip_groups"])
    assert shapes == [([0, 2], (2, 3 * SR)), ([1], (1, int(0.7 * SR)))], "no crop, no padding"
    # a model whose padded batches are exact (pads_exactly) gets one padded batch; its logits are each clip's alone
    model, extractor = build_model(LABELS, tiny_model="hubert")
    model.eval()
    assert pads_exactly(model)
    (group,) = InferenceCollator(extractor, padded=True)(rows)["clip_groups"]
    assert group["rows"].tolist() == [0, 1, 2]
    assert group["inputs"]["attention_mask"].sum(-1).tolist() == [3 * SR, int(0.7 * SR), 3 * SR]
    with torch.no_grad():
        padded = model_logits(model, group["inputs"])
        for g in InferenceCollator(extractor)(rows)["clip_groups"]:
            assert torch.allclose(padded[g["rows"]], model_logits(model, g["inputs"]), atol=1e-5)


def test_padding_fraction_from_durations():
    durations = [1.0, 1.0, 2.0, 2.0]
    assert padding_fraction(durations, [[0, 1], [2, 3]], 6.0, 0.5) == 0.0
    assert padding_fraction(durations, [[0, 2], [1, 3]], 6.0, 0.5) == pytest.approx(0.25)
    assert padding_fraction(durations, [[0, 2]], 1.0, 0.5) == 0.0  # both cropped to 1 s
    assert padding_fraction(durations, [[0]], 6.0, 0.5, fixed_seconds=4.0) == pytest.approx(0.75)


def _toy_trainer(tmp_path, durations, audio_seconds=None, **recipe_overrides):
    ds = toy_dataset(durations, audio_seconds)
    recipe = load_recipe("quickstart", [f"output_dir={tmp_path}", "dataloader_num_workers=0",
                                        *[f"{k}={v}" for k, v in recipe_overrides.items()]])
    data = PreparedData(datasets.DatasetDict(train=ds, validation=ds, test=ds), LABELS, [], {})
    model, extractor = build_model(LABELS, tiny_model="hubert")
    return build_trainer(recipe, recipe.training, model, extractor, data), recipe


def test_length_grouping_uses_the_duration_column_and_decodes_no_audio(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    durations = rng.uniform(0.5, 4.0, 800).round(2).tolist()
    # The clips hold 50 ms of audio whatever their duration column says: only that column is read.
    grouped, recipe = _toy_trainer(tmp_path / "g", durations, 0.05, group_by_length="true", per_device_train_batch_size=8)
    shuffled, _ = _toy_trainer(tmp_path / "r", durations, 0.05, group_by_length="false", per_device_train_batch_size=8)

    def no_decoding(*_):
        raise AssertionError("grouping decoded audio")

    monkeypatch.setattr("ser_hf.training.trainer.decode_wav_bytes", no_decoding)
    monkeypatch.setattr("ser_hf.data.audio.decode_wav_bytes", no_decoding)
    with_grouping = epoch_padding_fraction(grouped)
    without = epoch_padding_fraction(shuffled)
    assert with_grouping < without / 2
    assert grouped.args.length_column_name == "duration"


def test_grouped_batches_are_the_stock_ones_served_in_random_order(tmp_path):
    from transformers.trainer_pt_utils import LengthGroupedSampler

    durations = np.random.default_rng(1).uniform(0.5, 4.0, 645).round(3).tolist()  # 80 batches of 8 and one of 5
    trainer, _ = _toy_trainer(tmp_path, durations, 0.05, group_by_length="true", per_device_train_batch_size=8)
    sampler = trainer._get_train_sampler()
    torch.manual_seed(3)
    ours = list(iter(sampler))
    torch.manual_seed(3)
    stock = list(iter(LengthGroupedSampler(8, lengths=durations)))
    assert sorted(ours) == list(range(len(durations)))
    batches = lambda order: [tuple(sorted(order[i : i + 8])) for i in range(0, len(order), 8)]  # noqa: E731
    assert sorted(batches(ours)) == sorted(batches(stock)), "the same batches, hence the same padding"
    assert len(batches(ours)[-1]) == 5, "the short batch stays last"
    assert batches(ours)[0] == batches(stock)[0] and max(durations) in [durations[i] for i in ours[:8]]
    # the stock order sweeps each mega-batch from long to short: most steps are shorter than the one before
    longest = lambda order: [max(durations[i] for i in b) for b in batches(order)]  # noqa: E731
    falls = lambda order: np.mean(np.diff(longest(order)) < 0)  # noqa: E731
    assert falls(stock) > 0.9 and 0.3 < falls(ours) < 0.7
    torch.manual_seed(4)
    assert list(iter(sampler)) != ours, "a new order every epoch"


def test_evaluation_runs_longest_first_and_predictions_come_back_in_row_order(tmp_path):
    # in pairs of equal length: sorted, no batch needs padding
    durations = [0.5, 3.0, 1.0, 3.0, 0.5, 1.0]
    trainer, _ = _toy_trainer(tmp_path, durations, group_by_length="true", per_device_eval_batch_size=2)
    assert not trainer.model_accepts_loss_kwargs  # the loss is a batch mean: GA / DDP scale it themselves
    seen, collate = [], trainer.eval_collator

    def spy(rows):
        seen.append([r["duration"] for r in rows])
        return collate(rows)

    trainer.eval_collator = spy
    out = trainer.predict(trainer.eval_dataset)
    assert [d for batch in seen for d in batch] == sorted(durations, reverse=True)
    assert out.label_ids.tolist() == [i % len(LABELS) for i in range(len(durations))]
    # each clip alone, unpadded, as pipeline() sees it: the same logits in row order
    from transformers import pipeline

    trainer.save_model(tmp_path / "saved")  # what a user loads (the Trainer's own copy runs under its autocast)
    classify = pipeline("audio-classification", model=str(tmp_path / "saved"), device=-1)
    for i, row in enumerate(trainer.eval_dataset):
        wave = decode_wav_bytes(row["audio"]["bytes"])[0]
        scores = {s["label"]: s["score"] for s in classify({"raw": wave, "sampling_rate": SR}, top_k=None)}
        probs = torch.softmax(torch.from_numpy(out.predictions[i]), -1).tolist()
        assert [scores[n] for n in LABELS] == pytest.approx(probs, abs=1e-6), i
    metrics = trainer.evaluate()
    assert metrics["eval_accuracy"] == pytest.approx(np.mean(out.predictions.argmax(-1) == out.label_ids))


def test_weighted_cross_entropy_matches_torch():
    logits = torch.randn(6, 3)
    labels = torch.tensor([0, 1, 2, 2, 1, 0])
    weights = torch.tensor([0.5, 1.0, 1.5])
    loss_fn = weighted_cross_entropy(weights)
    expected = torch.nn.functional.cross_entropy(logits, labels, weight=weights)
    assert torch.allclose(loss_fn({"logits": logits}, labels), expected)
    total = torch.nn.functional.cross_entropy(logits, labels, weight=weights, reduction="sum")
    assert torch.allclose(loss_fn({"logits": logits}, labels, num_items_in_batch=12), total / 12)


# ---------------------------------------------------------------- models
@pytest.mark.parametrize("model_type", TINY_TYPES)
def test_tiny_models_of_every_supported_type_train_a_step(model_type):
    model, extractor = build_model(LABELS, tiny_model=model_type, spec_augment={"mask_time_prob": 0.05, "mask_time_length": 5})
    assert model.config.id2label == dict(enumerate(LABELS))
    assert model.config.label2id == {n: i for i, n in enumerate(LABELS)}
    batch = AudioCollator(extractor, max_seconds=2.0, train=True)([wav_row(1.5, 0), wav_row(0.6, 2)])
    model.train()
    out = model(**batch)
    assert out.logits.shape == (2, 3)
    out.loss.backward()
    if model_type in ("hubert", "wav2vec2", "wavlm", "data2vec-audio"):
        assert model.config.mask_time_prob == 0.05
        cnn = model.base_model.feature_extractor
        assert not any(p.requires_grad for p in cnn.parameters()), "the CNN feature encoder is frozen"
        assert all(p.grad is None for p in cnn.parameters())


def test_feature_encoder_can_stay_trainable():
    model, _ = build_model(LABELS, tiny_model="wav2vec2", freeze_feature_encoder_=False)
    assert all(p.requires_grad for p in model.base_model.feature_extractor.parameters())


def test_hub_model_that_cannot_be_loaded_says_what_to_do(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)  # read at import time
    with pytest.raises(OSError, match="tiny_model=hubert"):
        build_model(LABELS, "ser-hf/no-such-model-anywhere")


# ---------------------------------------------------------------- resume bookkeeping
def test_last_complete_checkpoint_skips_one_cut_off_while_saving(tmp_path):
    assert last_complete_checkpoint(tmp_path / "missing") is None
    assert last_complete_checkpoint(tmp_path) is None
    for step, complete in ((10, True), (20, True), (30, False)):
        d = tmp_path / f"checkpoint-{step}"
        d.mkdir()
        (d / "model.safetensors").write_bytes(b"")
        if complete:
            (d / "trainer_state.json").write_text("{}")
    assert last_complete_checkpoint(tmp_path, is_main_process=False) == str(tmp_path / "checkpoint-20")
    assert (tmp_path / "checkpoint-30").is_dir(), "only the main process removes anything"
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-20")
    assert not (tmp_path / "checkpoint-30").exists()


def test_bf16_auto_means_a_gpu_or_a_cpu_with_bf16_units(monkeypatch, tmp_path):
    """TrainingArguments refuses bf16 without CUDA unless told the run is on CPU: auto says so on such a CPU."""
    import ser_hf.training.arguments as trainer_module

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for has_units in (True, False):
        monkeypatch.setattr(trainer_module, "cpu_has_bf16", lambda: has_units)
        args = load_recipe("quickstart", [f"output_dir={tmp_path}"]).training
        assert (args.bf16, args.use_cpu) == (has_units, has_units)
    monkeypatch.setattr(trainer_module, "cpu_has_bf16", lambda: True)
    args = load_recipe("quickstart", [f"output_dir={tmp_path}", "bf16=false"]).training
    assert (args.bf16, args.use_cpu) == (False, False)


# ---------------------------------------------------------------- train.py
def test_real_recipe_without_corpora_fails_before_loading_a_model(tmp_path):
    with pytest.raises(CorpusRootError, match="roots.ravdess="):
        train.main(["--recipe", "hubert_bilingual", f"data_root={tmp_path}", f"output_dir={tmp_path / 'out'}"])
    assert not (tmp_path / "out" / "config.json").exists()


@pytest.mark.slow
def test_train_end_to_end_writes_every_output_and_the_pipeline_loads_it(tmp_path):
    from transformers import pipeline

    out = tmp_path / "run"
    result = train.main(["--recipe", "quickstart", f"output_dir={out}", *TINY_RUN,
                         "max_steps=12", "eval_strategy=steps", "eval_steps=6", "learning_rate=1e-3"])
    for name in ("config.json", "model.safetensors", "preprocessor_config.json", "results.json", "results.md",
                 "confusion_matrix.png", "roc_curves.png", "recipe.yaml", "leakage.json", "long_clip.json",
                 "data_report.json"):
        assert (out / name).is_file(), name
    results = json.loads((out / "results.json").read_text())
    test = results["test"]
    for key in ("accuracy", "weighted_f1", "macro_f1", "uar", "per_class", "confusion_matrix", "top_confusions"):
        assert key in test
    assert set(test["per_group"]["corpus"]) == {"ravdess", "subesco"}
    assert set(test["per_group"]["language"]) == {"en", "bn"}
    assert results["run"]["world_size"] == 1 and results["run"]["global_step"] == 12
    assert results["run"]["resumed_from"] is None
    assert 0.0 <= results["run"]["train_padding_fraction"] < 0.5
    assert results["run"]["precision"] == ("bf16" if cpu_has_bf16() else "float32")  # the recipe's bf16: auto
    assert results["long_clip"]["n_scored"] > 0 and results["long_clip"]["n_silent"] > 0
    assert "synthetic" in results["data"] and "synthetic" in (out / "results.md").read_text()
    assert load_recipe(str(out / "recipe.yaml")).training.max_steps == 12
    assert result["test"]["accuracy"] == test["accuracy"]

    classifier = pipeline("audio-classification", model=str(out), device=-1)
    # What the run reports is what its saved folder gives through pipeline(), one test file at a time.
    test = prepare_data(load_recipe("quickstart", [f"output_dir={out}", *TINY_RUN])).splits["test"]
    saved = np.load(out / "predictions.npz")
    assert saved["paths"].tolist() == test["path"]
    for i, row in enumerate(test.cast_column("audio", datasets.Audio(decode=False))):
        wave = decode_wav_bytes(row["audio"]["bytes"])[0]
        scores = {s["label"]: s["score"] for s in classifier({"raw": wave, "sampling_rate": SR}, top_k=None)}
        assert [scores[n] for n in results["labels"]] == pytest.approx(saved["probabilities/model"][i].tolist(), abs=1e-5)
    t = np.arange(SR) / SR
    scores = classifier({"raw": (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), "sampling_rate": SR}, top_k=None)
    assert {s["label"] for s in scores} == set(results["labels"]) and len(results["labels"]) == 7
    assert sum(s["score"] for s in scores) == pytest.approx(1.0, abs=1e-4)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("recipe, split", [("hubert_bilingual", "seed003"), ("hubert_bilingual_si", "speaker")])
def test_seed_recipe_runs_on_the_synthetic_corpus_with_a_tiny_model(tmp_path, recipe, split):
    """The real recipe's own path (x5 offline augmentation of the training part, its split) with
    the synthetic corpus and a tiny model standing in for the downloads and the Hub."""
    out = tmp_path / recipe
    result = train.main(["--recipe", recipe, "synthetic=true", "tiny_model=hubert", f"output_dir={out}", *TINY_RUN,
                         "max_steps=4", "eval_strategy=steps", "eval_steps=4", "num_proc=1"])
    results = json.loads((out / "results.json").read_text())
    leakage = json.loads((out / "leakage.json").read_text())
    originals = leakage["parts"]["train"]
    assert results["split_sizes"]["train"] == 5 * originals  # augmented x5, training part only
    assert results["split_sizes"]["test"] == leakage["parts"]["test"]
    assert results["speaker_independent"] is (split == "speaker")
    assert result["run"]["global_step"] == 4


def _launch(args: list[str], log: Path, launcher: list[str] | None = None) -> subprocess.Popen:
    cmd = [*(launcher or [sys.executable]), str(ROOT / "train.py"), *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    out = tmp_path / "run"
    args = ["--recipe", "quickstart", f"output_dir={out}", *TINY_RUN, "max_steps=40", "eval_strategy=steps",
            "eval_steps=10", "save_total_limit=3", "early_stopping_patience=null"]
    first = _launch(args, tmp_path / "first.log")
    deadline = time.time() + 240
    try:
        while not (out / "checkpoint-10" / "trainer_state.json").is_file():
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.time() < deadline, "no checkpoint in time"
            time.sleep(0.2)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # what the OOM killer or a pre-empted node does
        first.wait()
    assert not (out / "results.json").exists(), "the first run was killed before it finished"
    killed_at = max(int(p.name.split("-")[1]) for p in out.glob("checkpoint-*")
                    if (p / "trainer_state.json").is_file())
    assert killed_at < 40

    second = _launch(args, tmp_path / "second.log")  # the very same command
    assert second.wait(timeout=300) == 0, (tmp_path / "second.log").read_text()[-3000:]
    log = (tmp_path / "second.log").read_text()
    assert f"resuming from {out / f'checkpoint-{killed_at}'} (global step {killed_at})" in log
    run = json.loads((out / "results.json").read_text())["run"]
    assert run["resumed_from"] == str(out / f"checkpoint-{killed_at}")
    assert run["global_step"] == 40 and run["steps_this_launch"] == 40 - killed_at
    # Evidence independent of train.py's own account: the second process logged the loss only for
    # the steps after the checkpoint (every 2 steps), not for a run started over.
    assert log.count("'loss':") == (40 - killed_at) // 2
    state = json.loads((out / "trainer_state.json").read_text())
    steps = [e["step"] for e in state["log_history"] if "loss" in e]
    assert steps[0] == 1 and steps[-1] == 40 and len(steps) == len(set(steps))  # one history, both launches


@pytest.mark.slow
def test_two_processes_under_accelerate_share_one_run(tmp_path):
    out = tmp_path / "ddp"
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                "--main_process_port", str(free_port())]
    args = ["--recipe", "quickstart", f"output_dir={out}", *TINY_RUN, "max_steps=8", "eval_strategy=steps", "eval_steps=4"]
    proc = _launch(args, tmp_path / "ddp.log", launcher)
    assert proc.wait(timeout=300) == 0, (tmp_path / "ddp.log").read_text()[-4000:]
    log = (tmp_path / "ddp.log").read_text()
    assert "[rank 0] INFO train: process rank 0 of world size 2" in log
    assert "[rank 1] INFO train: process rank 1 of world size 2" in log
    assert "[rank 1] INFO train: rank 1 done" in log  # rank 1 trained and predicted its share of the test set
    assert log.count("results written to") == 1
    results = json.loads((out / "results.json").read_text())
    assert results["run"]["world_size"] == 2
    assert len(list(out.rglob("results.json"))) == 1
    # The data was shared: 8 steps of 8 clips per process covered the 124 training clips once
    # (one process alone would have needed 16 steps for an epoch).
    state = json.loads((out / "trainer_state.json").read_text())
    assert results["split_sizes"]["train"] == 124
    assert state["global_step"] == 8 and state["epoch"] == pytest.approx(1.0)
    # Each process predicted part of the test set; gathered, every test clip counts exactly once.
    assert results["test"]["n"] == results["split_sizes"]["test"]


@pytest.mark.slow
def test_any_trainer_setting_on_the_command_line_reaches_the_trainer(tmp_path):
    """Every TrainingArguments field is a recipe key: scheduler, optimiser, checkpointing, compile and reporting
    given as overrides are what the Trainer ran with (its saved training_args), and TensorBoard wrote events."""
    out = tmp_path / "run"
    train.main(["--recipe", "quickstart", f"output_dir={out}", *TINY_RUN, "max_steps=4", "eval_strategy=steps",
                "eval_steps=4", "lr_scheduler_type=cosine", "optim=adamw_torch_fused", "gradient_checkpointing=true",
                "report_to=tensorboard", "torch_compile=false", "max_grad_norm=0.5"])
    args = torch.load(out / "training_args.bin", weights_only=False)
    assert (args.lr_scheduler_type, args.optim, args.report_to) == ("cosine", "adamw_torch_fused", ["tensorboard"])
    assert args.gradient_checkpointing is True and args.torch_compile is False and args.max_grad_norm == 0.5
    assert list(out.rglob("events.out.tfevents.*")), "TensorBoard wrote no event file"
    saved = load_recipe(str(out / "recipe.yaml"))  # the run's recipe.yaml keeps them too
    assert (saved.training.lr_scheduler_type, saved.training.max_grad_norm) == ("cosine", 0.5)
