"""Fine-tunable VGGish / YAMNet classifiers (seeds 000 and 001) on tiny random backbones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from huggingface_hub.errors import StrictDataclassClassValidationError
from transformers import AutoFeatureExtractor, AutoModelForAudioClassification, pipeline

from ser_hf.models.weights import MissingWeightsError
from ser_hf.models.patch_frontend import vggish_feature_extractor, yamnet_feature_extractor
from ser_hf.models.patch_classifier import (
    TINY_BACKBONES,
    PatchClassifierConfig,
    PatchClassifierFeatureExtractor,
    PatchEmbeddingForAudioClassification,
    build_patch_classifier,
)
from ser_hf.models.vggish import VGGISH_WEIGHTS_URL, VGGishConfig, VGGishModel
from ser_hf.models.yamnet import YAMNET_WEIGHTS_URL, YAMNetConfig, YAMNetModel

SR = 16000
LABELS = ["low", "high", "noise"]
PUBLISHED = {"vggish": vggish_feature_extractor, "yamnet": yamnet_feature_extractor}
COLLATOR_ARGS = {"padding": "longest", "pad_to_multiple_of": 8000, "return_attention_mask": True}


def wave(seconds: float, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def tone(freq: float, seconds: float = 1.0, amplitude: float = 0.3, phase: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def extractor(backbone_type: str) -> PatchClassifierFeatureExtractor:
    return getattr(PatchClassifierFeatureExtractor, f"for_{backbone_type}")()


# --- feature extractor ------------------------------------------------------------------------

@pytest.mark.parametrize("backbone_type", ["vggish", "yamnet"])
def test_patches_are_grouped_per_file_and_padding_is_masked(backbone_type):
    fe, base = extractor(backbone_type), PUBLISHED[backbone_type]()
    assert {k: v for k, v in fe.to_dict().items() if k != "feature_extractor_type"} == \
        {k: v for k, v in base.to_dict().items() if k != "feature_extractor_type"}
    waves = [wave(s, i) for i, s in enumerate([0.3, 1.0, 2.5, 3.2])]
    batch = fe(waves, sampling_rate=SR, return_tensors="pt", **COLLATOR_ARGS)
    expected = [base.num_patches(len(w)) for w in waves]
    assert expected[0] == 1  # a 0.3-s file still gets one patch
    assert batch["input_features"].shape == (4, max(expected), 96, 64)
    assert batch["patch_mask"].dtype == torch.long
    assert batch["patch_mask"].sum(1).tolist() == expected
    flat = base(waves, sampling_rate=SR)["input_features"]
    assert torch.equal(batch["input_features"][batch["patch_mask"].bool()], flat)  # same patches, same order
    padding = batch["input_features"][~batch["patch_mask"].bool()]
    assert padding.shape[0] == 4 * max(expected) - sum(expected) and not padding.any()
    single = fe(wave(0.3), sampling_rate=SR, return_tensors="np")
    assert single["input_features"].shape == (1, 1, 96, 64) and single["patch_mask"].tolist() == [[1]]


def test_feature_extractor_refuses_unknown_arguments_and_no_padding():
    fe = extractor("vggish")
    fe(wave(1.0), sampling_rate=SR, max_length=10, truncation=True)  # waveform-padding arguments are ignored
    with pytest.raises(TypeError, match="unexpected"):
        fe(wave(1.0), sampling_rate=SR, do_normalize=True)
    with pytest.raises(ValueError, match="pad_mode"):
        PatchClassifierFeatureExtractor(pad_mode="none")


def test_feature_extractor_round_trip_keeps_its_class(tmp_path):
    fe = extractor("yamnet")
    fe.save_pretrained(tmp_path)
    for loaded in (AutoFeatureExtractor.from_pretrained(tmp_path),
                   PatchClassifierFeatureExtractor.from_pretrained(tmp_path)):
        assert type(loaded) is PatchClassifierFeatureExtractor
        assert loaded.to_dict() == fe.to_dict()
        assert torch.equal(loaded(wave(2.0))["input_features"], fe(wave(2.0))["input_features"])


# --- model ------------------------------------------------------------------------------------

def test_config_validates_backbone_type():
    with pytest.raises(StrictDataclassClassValidationError, match="backbone_type"):
        PatchClassifierConfig(backbone_type="resnet")
    with pytest.raises(StrictDataclassClassValidationError, match="bad head"):
        PatchClassifierConfig(head_dropout=1.0)
    with pytest.raises(ValueError, match="backbone_type"):
        build_patch_classifier("resnet", LABELS, tiny=True)


@pytest.mark.parametrize("backbone_type", ["vggish", "yamnet"])
def test_padding_patches_do_not_change_a_files_logits(backbone_type):
    model, fe = build_patch_classifier(backbone_type, LABELS, tiny=True, head_hidden_sizes=(8,), head_dropout=0.5)
    model.eval()
    short, long = wave(1.2, 1), wave(4.0, 2)
    with torch.no_grad():
        alone = model(**fe(short)).logits
        batch = fe([long, short], sampling_rate=SR, **COLLATOR_ARGS)
        assert batch["patch_mask"][1].sum() < batch["patch_mask"][0].sum()  # the short file is padded
        together = model(**batch).logits
        unbatched = model(fe(short)["input_features"][0]).logits  # (patches, 96, 64), no mask
    assert alone.shape == (1, 3)
    torch.testing.assert_close(together[1:], alone, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(unbatched, alone, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("backbone_type,freeze", [("vggish", False), ("yamnet", True)])
def test_save_and_load_with_auto_classes_and_pipeline(tmp_path, backbone_type, freeze):
    model, fe = build_patch_classifier(backbone_type, LABELS, tiny=True, head_hidden_sizes=(8,),
                                       freeze_backbone=freeze)
    model.eval()
    model.save_pretrained(tmp_path)
    fe.save_pretrained(tmp_path)
    waves = [wave(0.5, 3), wave(2.2, 4)]
    loaded = AutoModelForAudioClassification.from_pretrained(tmp_path).eval()
    loaded_fe = AutoFeatureExtractor.from_pretrained(tmp_path)
    assert type(loaded) is PatchEmbeddingForAudioClassification and type(loaded_fe) is PatchClassifierFeatureExtractor
    with torch.no_grad():
        assert torch.equal(loaded(**loaded_fe(waves)).logits, model(**fe(waves)).logits)
    # Loading makes new parameters: a frozen backbone must come back frozen.
    assert all(p.requires_grad is not freeze for p in loaded.backbone.parameters())
    assert all(p.requires_grad for p in loaded.head.parameters())
    classify = pipeline("audio-classification", model=str(tmp_path), device="cpu")
    result = classify(wave(1.5, 5), top_k=3)
    assert sorted(r["label"] for r in result) == sorted(LABELS)
    assert abs(sum(r["score"] for r in result) - 1.0) < 1e-4


def test_from_backbone_keeps_the_backbone_weights():
    torch.manual_seed(1)
    patches = PatchClassifierFeatureExtractor.for_yamnet()(wave(2.0))["input_features"][0]
    vggish = VGGishModel(VGGishConfig(**TINY_BACKBONES["vggish"])).eval()
    yamnet = YAMNetModel(YAMNetConfig(**{**TINY_BACKBONES["yamnet"], "include_classifier": True})).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics, as published weights have
        for name, buffer in yamnet.named_buffers():
            if "running" in name:
                buffer.uniform_(0.5, 1.5)
    for backbone in (vggish, yamnet):
        model = PatchEmbeddingForAudioClassification.from_backbone(backbone, LABELS, head_hidden_sizes=(4,)).eval()
        with torch.no_grad():
            assert torch.equal(model.backbone(patches).embeddings, backbone(patches).embeddings)
        assert model.config.id2label == dict(enumerate(LABELS)) and model.config.label2id["noise"] == 2
    assert model.backbone.classifier is None  # YAMNet's AudioSet head is not carried along
    with pytest.raises(TypeError, match="VGGishModel or YAMNetModel"):
        PatchEmbeddingForAudioClassification.from_backbone(torch.nn.Linear(2, 2), LABELS)


def _steps(model, fe, steps: int = 3) -> None:
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    batch = fe([wave(1.0, 7), wave(2.0, 8)], sampling_rate=SR, **COLLATOR_ARGS)
    model.train()
    for _ in range(steps):
        loss = model(**batch, labels=torch.tensor([0, 2])).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def test_frozen_backbone_keeps_weights_and_batch_norm_statistics():
    model, fe = build_patch_classifier("yamnet", LABELS, tiny=True, head_hidden_sizes=(8,), head_dropout=0.3,
                                       freeze_backbone=True)
    backbone_before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    head_before = {k: v.clone() for k, v in model.head.state_dict().items()}
    _steps(model, fe)
    assert model.training and not model.backbone.training
    assert not any(p.requires_grad for p in model.backbone.parameters())
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, backbone_before[key]), key  # running_mean / running_var included
    assert any(not torch.equal(v, head_before[k]) for k, v in model.head.state_dict().items())
    # Fine-tuning (seed 000) does train the backbone, batch-norm statistics included.
    model, fe = build_patch_classifier("yamnet", LABELS, tiny=True)
    before = model.backbone.state_dict()["layers.0.bn.running_mean"].clone()
    _steps(model, fe, steps=1)
    assert model.backbone.training
    assert not torch.equal(model.backbone.state_dict()["layers.0.bn.running_mean"], before)


def test_tiny_model_learns_low_versus_high_tones():
    rng = np.random.default_rng(0)
    waves, labels = [], []
    for i in range(16):
        high = i % 2
        freq = rng.uniform(2000, 3500) if high else rng.uniform(150, 400)
        waves.append(tone(freq, 1.0, amplitude=rng.uniform(0.1, 0.5), phase=rng.uniform(0, 2 * np.pi)))
        labels.append(high)
    model, fe = build_patch_classifier("vggish", ["low", "high"], tiny=True, seed=0)
    batch = fe(waves, sampling_rate=SR, **COLLATOR_ARGS)
    targets = torch.tensor(labels)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    losses = []
    for _ in range(50):
        loss = model(**batch, labels=targets).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] > 0.6 and losses[-1] < 0.1, (losses[0], losses[-1])  # starts at chance, learns
    model.eval()
    with torch.no_grad():
        accuracy = (model(**batch).logits.argmax(-1) == targets).float().mean().item()
    assert accuracy >= 0.9, accuracy


@pytest.mark.parametrize("backbone_type,url", [("vggish", VGGISH_WEIGHTS_URL), ("yamnet", YAMNET_WEIGHTS_URL)])
def test_missing_weights_raise_with_instructions(backbone_type, url):
    with pytest.raises(MissingWeightsError) as error:
        build_patch_classifier(backbone_type, LABELS, weights="/nonexistent/x.pth")
    assert url in str(error.value) and "curl" in str(error.value) and "/nonexistent/x.pth" in str(error.value)
