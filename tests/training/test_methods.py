"""Every baseline method end to end through ``train.py`` on the synthetic corpus (tiny or random-weight
backbones): embeddings x classifiers, spectrogram-image CNNs, the CNN-BLSTM and VGGish/YAMNet heads;
plus the seed recipes' settings and the errors for missing weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForAudioClassification, pipeline, set_seed

import train
from ser_hf.classifiers.pipelines import load_classifier
from ser_hf.features.extract import build_extractor, extract
from ser_hf.models.weights import MissingWeightsError
from ser_hf.publish.cards import render_card
from ser_hf.publish.hub import stage_run
from ser_hf.inference import EmotionModels
from ser_hf.models.build import build_recipe_model
from ser_hf.recipe import load_recipe
from ser_hf.evaluation.results import load_long_clip
from ser_hf.training.data import prepare_data

TRAIN_FAST = ["synthetic=true", "synthetic_size=tiny", "dataloader_num_workers=0", "logging_steps=5",
              "per_device_train_batch_size=8", "per_device_eval_batch_size=16"]


def run(recipe: str, out: Path, *overrides: str) -> dict:
    return train.main(["--recipe", recipe, *TRAIN_FAST, f"output_dir={out}", *overrides])


def test_seed_recipes_carry_the_seeds_settings():
    r = load_recipe("vggish_lr_emodb")
    assert (r.method, r.data.corpora, r.model.extractors, r.model.classifiers, r.model.pooling, r.protocol.split, r.data.label_set) == (
        "embeddings", ["emodb"], ["vggish"], ["logistic_regression"], "mean", "seed000", "all")
    r = load_recipe("seed000_ravdess")
    assert r.data.label_set == "all_but_neutral" and r.model.classifiers == ["svm_linear", "knn", "random_forest", "logistic_regression"]
    r = load_recipe("yamnet_transfer_ravdess")
    assert (r.method, r.model.backbone, r.model.freeze, r.protocol.split, r.data.fixed_seconds, r.training.learning_rate, r.training.early_stopping_patience,
            r.training.per_device_train_batch_size) == ("patch_finetune", "yamnet", "all", "seed001", 4.0, 1e-4, 5, 32)
    r = load_recipe("vgg19_mel_demos_c2")
    assert (r.method, r.model.backbone, r.model.freeze, r.model.head_hidden_sizes, r.model.head_dropout, r.protocol.split, r.data.corpora) == (
        "image_cnn", "vgg19", "last_blocks:2", [512, 256], [0.5, 0.0], "seed002", ["demos"])
    assert load_recipe("vgg19_mel_demos_c1").model.freeze == "all"
    assert load_recipe("vgg19_mel_demos_c2_no_neutral").data.label_set == "all_but_neutral"
    assert load_recipe("efficientnet_b0_mel_demos_c2").model.freeze == "last_layers:32"
    r = load_recipe("yamnet_mlp_bilingual")
    assert (r.model.pooling, r.data.balance, r.model.classifiers, r.data.corpora, r.protocol.split) == ("frames", "harmonic", ["mlp"], ["all"], "seed003")
    r = load_recipe("vgg16_mfcc_bilingual")
    assert (r.model.spectrogram, r.model.image_size, r.training.learning_rate, r.model.freeze) == ("mfcc", 224, 1e-5, "all")
    r = load_recipe("resnet50v2_mfcc_bilingual")
    assert (r.model.head_hidden_sizes, r.model.head_dropout, r.model.head_pooling) == ([1024], [0.4], "avg")
    six = ["ravdess", "savee", "crema_d", "jl_corpus", "esd", "tess"]
    for name, balance in (("cnn_blstm_attention_english6", "oversample"), ("cnn_blstm_attention_english6_undersample",
                          "undersample"), ("cnn_blstm_attention_english6_imbalanced", "none")):
        r = load_recipe(name)
        assert (r.data.corpora, r.data.languages, r.data.fixed_seconds, r.data.balance, r.model.l2, r.training.learning_rate) == (six, ["en"], 3.0, balance, 0.01, 1e-3)
    r = load_recipe("vgg19_mel_english6")
    assert (r.model.freeze, r.model.head_hidden_sizes, r.model.head_dropout, r.model.head_batchnorm, r.model.l2, r.training.learning_rate) == (
        "first_layers:15", [128, 64], [0.6, 0.6], True, 0.01, 5e-5)
    r = load_recipe("baselines_table")
    assert len(r.model.extractors) * len(r.model.classifiers) == 30


def test_embeddings_recipe_writes_the_table_plots_card_and_reloadable_classifiers(tmp_path):
    out = tmp_path / "emb"
    result = run("vggish_lr_emodb", out, "random_weights=true", "extractors=[vggish,yamnet]",
                 "classifiers=[logistic_regression,svm_linear,mlp]", "mlp_trials=1", "mlp_max_epochs=30")
    table = json.loads((out / "baselines.json").read_text())
    rows = table["rows"]
    assert [(r["embedding"], r["classifier"]) for r in rows] == [
        (e, c) for e in ("vggish", "yamnet") for c in ("logistic_regression", "svm_linear", "mlp")]
    assert len((out / "baselines.md").read_text().splitlines()) == 2 + len(rows)
    for r in rows:
        assert all(Path(p).is_file() for p in r["plots"])
    results = json.loads((out / "results.json").read_text())
    best = max(rows, key=lambda r: r["accuracy"])
    assert results["test"]["accuracy"] == pytest.approx(best["accuracy"]) == pytest.approx(result["test"]["accuracy"])
    assert results["labels"] == table["label_names"] and "boredom" in results["labels"]  # label_set all keeps it
    assert (out / "confusion_matrix.png").is_file() and (out / "roc_curves.png").is_file()

    # Each saved classifier predicts, from the same test embeddings, what the table scored.
    recipe = load_recipe("vggish_lr_emodb", [*TRAIN_FAST, f"output_dir={out}"])
    test = prepare_data(recipe).splits["test"]
    for r in rows:
        clf, meta = load_classifier(r["classifier_path"])
        assert meta["embedding"] == r["embedding"] and meta["label_names"] == table["label_names"]
        extractor = build_extractor(r["embedding"], random_weights=True, seed=recipe.training.seed)
        assert extractor.cache_config()["weights"] == meta["extractor"]["weights"]  # the metadata names the network
        emb = extract(test, extractor, progress=False)
        assert clf.predict(emb.features).tolist() == r["predictions"]

    card = str(render_card(out, "org/vggish-lr"))
    assert "| yamnet | mlp |" in card and "load_classifier" in card
    staged = stage_run(out, "org/vggish-lr", tmp_path / "stage")
    assert f"classifiers/{Path(best['classifier_path']).name}" in staged and "baselines.md" in staged


def test_frame_embeddings_with_harmonic_balancing(tmp_path):
    out = tmp_path / "frames"
    run("yamnet_mlp_bilingual", out, "corpora=[tess,subesco]", "random_weights=true", "mlp_trials=1", "mlp_max_epochs=20")
    rows = json.loads((out / "baselines.json").read_text())["rows"]
    assert [(r["classifier"], r["level"]) for r in rows] == [("mlp", "file"), ("mlp", "frame")]
    assert rows[1]["n"] > rows[0]["n"]  # more frames than files are scored


def _fresh_model(recipe_name: str, out: Path, *overrides: str):
    """The model train.py starts from: same recipe, data and seed."""
    recipe = load_recipe(recipe_name, [*TRAIN_FAST, f"output_dir={out}", *overrides])
    data = prepare_data(recipe)
    set_seed(recipe.training.seed)
    return build_recipe_model(recipe, data.label_names)[0]


def _saved_model_accuracy(out: Path, recipe_name: str, *overrides: str) -> float:
    """Test accuracy of the model folder train.py saved, recomputed from the test split."""
    from transformers import AutoFeatureExtractor

    from ser_hf.data.audio import decode_wav_bytes
    from ser_hf.inference import pipeline_logits
    from ser_hf.training import model_view

    recipe = load_recipe(recipe_name, [*TRAIN_FAST, f"output_dir={out}", *overrides])
    test = model_view(prepare_data(recipe).splits["test"])
    model = AutoModelForAudioClassification.from_pretrained(out).eval()
    waves = [decode_wav_bytes(row["audio"]["bytes"])[0] for row in test]
    logits = pipeline_logits(model, AutoFeatureExtractor.from_pretrained(out), waves)
    return float((logits.argmax(-1) == np.asarray(test["label"])).mean())


def _pipeline_labels(out: Path, n: int = 3) -> list[str]:
    wave, sr, _, _ = load_long_clip(None, "seven")
    clf = pipeline("audio-classification", model=str(out))
    return [clf(wave[i * sr : (i + 2) * sr].copy())[0]["label"] for i in range(n)]


def test_image_cnn_recipe_trains_only_what_the_freeze_rule_allows(tmp_path):
    out = tmp_path / "vgg"
    overrides = ("tiny_model=tiny", "image_size=64", "clip_seconds=1.5", "num_train_epochs=2", "learning_rate=1e-3")
    result = run("vgg19_mel_demos_c2", out, *overrides)  # seed 002: C2 = conv blocks 4-5 and the head train
    assert result["run"]["method"] == "image_cnn" and result["run"]["model"] == "tiny random image_cnn vgg19"
    trained = AutoModelForAudioClassification.from_pretrained(out)
    assert "guilt" in trained.config.id2label.values()  # DEMoS's eighth class
    start = _fresh_model("vgg19_mel_demos_c2", out, *overrides)
    blocks_trained, blocks_start = trained.backbone.blocks(), start.backbone.blocks()
    for b in range(3):  # frozen: conv blocks 1-3
        for conv_t, conv_s in zip(blocks_trained[b], blocks_start[b]):
            assert torch.equal(conv_t.weight, conv_s.weight)
    assert not torch.equal(blocks_trained[4][-1].weight, blocks_start[4][-1].weight)
    assert not torch.equal(trained.classifier.weight, start.classifier.weight)
    assert set(_pipeline_labels(out)) <= set(trained.config.id2label.values())
    assert _saved_model_accuracy(out, "vgg19_mel_demos_c2", *overrides) == pytest.approx(result["test"]["accuracy"])
    card = str(render_card(out, "org/x"))
    assert "freeze `last_blocks:2`" in card and "import ser_hf  #" in card


def test_cnn_blstm_recipe_on_english_rows_only(tmp_path):
    out = tmp_path / "blstm"
    result = run("cnn_blstm_attention_english6", out, "corpora=[ravdess,esd]", "tiny_model=tiny", "clip_seconds=1.5",
                 "fixed_seconds=1.5", "num_train_epochs=1", "augment_preset=null", "balance=undersample")
    results = json.loads((out / "results.json").read_text())
    assert set(results["test"]["per_group"].get("language", {"en": 0})) == {"en"}  # ESD's Mandarin speakers left out
    assert result["run"]["model"] == "tiny random cnn_blstm cnn_blstm_attention"
    model = AutoModelForAudioClassification.from_pretrained(out)
    assert model.config.model_type == "cnn_blstm_attention" and model.config.l2 == 0.01
    assert len(_pipeline_labels(out, 2)) == 2
    # The Space's loader: two copies of one model share every weight but run separately (no shared-encoder head).
    models = EmotionModels.load({"a": str(out), "b": str(out)}, fast=True)
    assert len(models.groups) == 2
    wave, sr, _, _ = load_long_clip(None, "seven")
    a, b = models.predict(wave[: 2 * sr]).values()
    assert a["label"] == b["label"] in model.config.id2label.values()
    assert sum(a["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


def test_patch_finetune_recipe_keeps_a_frozen_backbone(tmp_path):
    out = tmp_path / "yamnet"
    result = run("yamnet_transfer_ravdess", out, "tiny_model=tiny", "num_train_epochs=2", "learning_rate=1e-3")
    assert _saved_model_accuracy(out, "yamnet_transfer_ravdess", "tiny_model=tiny") == pytest.approx(result["test"]["accuracy"])
    trained = AutoModelForAudioClassification.from_pretrained(out)
    start = _fresh_model("yamnet_transfer_ravdess", out, "tiny_model=tiny")
    for (name, p_t), (_, p_s) in zip(trained.backbone.state_dict().items(), start.backbone.state_dict().items()):
        assert torch.equal(p_t, p_s), name
    start_state = start.state_dict()
    assert any(not torch.equal(v, start_state[k]) for k, v in trained.state_dict().items() if not k.startswith("backbone."))
    assert len(_pipeline_labels(out, 2)) == 2


def test_missing_weights_stop_with_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingWeightsError, match="curl"):
        run("vggish_lr_emodb", tmp_path / "a")
    with pytest.raises(MissingWeightsError, match="vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"):
        run("vgg19_mel_english6", tmp_path / "b", "corpora=[tess]", "languages=[]", "balance=none", "augment_preset=null")
    with pytest.raises(MissingWeightsError, match="no such file"):
        run("vgg19_mel_english6", tmp_path / "c", "corpora=[tess]", "languages=[]", "balance=none",
            "augment_preset=null", "backbone_weights=/nowhere/vgg19-dcbb9e9d.pth")


def test_image_cnn_under_accelerate_two_processes(tmp_path):
    """Seed 002's launch line (accelerate launch), with frozen layers under DDP (gloo on CPU)."""
    import sys

    from tests.training.test_train import _launch, free_port

    out = tmp_path / "ddp"
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                "--main_process_port", str(free_port())]
    overrides = ["tiny_model=tiny", "image_size=64", "clip_seconds=1.5", "learning_rate=1e-3"]
    args = ["--recipe", "vgg19_mel_demos_c2", *TRAIN_FAST, f"output_dir={out}", *overrides, "max_steps=4"]
    proc = _launch(args, tmp_path / "ddp.log", launcher)
    assert proc.wait(timeout=300) == 0, (tmp_path / "ddp.log").read_text()[-4000:]
    results = json.loads((out / "results.json").read_text())
    assert results["run"]["world_size"] == 2 and results["test"]["n"] == results["split_sizes"]["test"]
    trained = AutoModelForAudioClassification.from_pretrained(out)
    start = _fresh_model("vgg19_mel_demos_c2", out, *overrides)
    assert torch.equal(trained.backbone.blocks()[0][0].weight, start.backbone.blocks()[0][0].weight)
    assert not torch.equal(trained.backbone.blocks()[4][0].weight, start.backbone.blocks()[4][0].weight)
