"""Spectrogram images and the spectrogram-image CNN: librosa-equal features, VGG's torchvision layout and
its weight converters, the seeds' freezing rules, frozen BatchNorm, the Keras-style L2 term, save/load."""

from __future__ import annotations

import h5py
import librosa
import numpy as np
import pytest
import torch
from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

from ser_hf.models.image_cnn import VGGFeatures, build_spectrogram_cnn, vgg_state_from
from ser_hf.models.spectrogram import SpectrogramImageFeatureExtractor, fit_length
from ser_hf.models.weights import MissingWeightsError

LABELS = ["angry", "happy", "sad"]
SR = 16000


def tone(seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * np.random.default_rng(0).standard_normal(t.size)).astype(np.float32)


def test_mel_and_mfcc_equal_librosa():
    wave = tone(1.0)
    fe = SpectrogramImageFeatureExtractor(clip_seconds=1.0, image_size=None, channels=1, normalize="unit")
    ours = fe.spectrogram(torch.from_numpy(wave)[None])[0].numpy()
    power = librosa.feature.melspectrogram(y=wave, sr=SR, n_fft=512, hop_length=200, win_length=400, window="hamming",
                                           center=True, pad_mode="constant", n_mels=128, power=2.0)
    reference = librosa.power_to_db(power, ref=np.max, top_db=80.0)
    np.testing.assert_allclose(ours, reference, atol=2e-3)
    fe_mfcc = SpectrogramImageFeatureExtractor(clip_seconds=1.0, kind="mfcc", image_size=None, channels=1, normalize="unit")
    mfcc = fe_mfcc.spectrogram(torch.from_numpy(wave)[None])[0].numpy()
    np.testing.assert_allclose(mfcc, librosa.feature.mfcc(S=reference, n_mfcc=40), atol=2e-2)


def test_clips_are_centred_and_images_normalised():
    x = torch.arange(10.0)
    assert fit_length(x, 14).tolist() == [0, 0] + list(range(10)) + [0, 0]  # symmetric padding
    assert fit_length(x, 4).tolist() == [3, 4, 5, 6]  # centre crop
    fe = SpectrogramImageFeatureExtractor(clip_seconds=1.0, image_size=64)
    batch = fe([tone(0.4), tone(2.5, 880.0)], sampling_rate=SR, padding="longest", pad_to_multiple_of=8000)
    images = batch["input_features"]
    assert images.shape == (2, 3, 64, 64) and fe.n_samples == SR
    # Undo ImageNet normalisation: every image spans [0, 1], its three channels equal.
    unit = images * torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) + torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    assert torch.allclose(unit.amin(dim=(1, 2, 3)), torch.zeros(2), atol=1e-5)
    assert torch.allclose(unit.amax(dim=(1, 2, 3)), torch.ones(2), atol=1e-5)
    assert torch.allclose(unit[:, 0], unit[:, 2], atol=1e-5)
    with pytest.raises(TypeError, match="unexpected"):
        fe([tone(1.0)], colour="red")
    with pytest.raises(ValueError, match="channels=3"):
        SpectrogramImageFeatureExtractor(channels=1, normalize="imagenet")


def test_vgg_has_torchvisions_layout_and_keras_layer_count():
    vgg = VGGFeatures(19)
    convs = [i for i, m in enumerate(vgg.features) if isinstance(m, torch.nn.Conv2d)]
    assert convs == [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]  # torchvision's vgg19 indices
    assert len(vgg.keras_layers()) == 22  # VGG19(include_top=False): input + 16 convs + 5 pools
    assert [len(b) for b in vgg.blocks()] == [2, 2, 4, 4, 4]
    assert vgg(torch.zeros(1, 3, 224, 224)).shape == (1, 512, 7, 7)


def _write_keras_vgg_h5(path, vgg: VGGFeatures) -> None:
    """A weight file in the layout Keras' save_weights writes for VGG19(include_top=False)."""
    with h5py.File(path, "w") as f:
        names = []
        for b, block in enumerate(vgg.blocks()):
            for j, conv in enumerate(block):
                name = f"block{b + 1}_conv{j + 1}"
                names.append(name)
                group = f.create_group(name)
                group.attrs["weight_names"] = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()]
                group.create_dataset(f"{name}/kernel:0", data=conv.weight.detach().permute(2, 3, 1, 0).numpy())
                group.create_dataset(f"{name}/bias:0", data=conv.bias.detach().numpy())
            names.append(f"block{b + 1}_pool")
            f.create_group(f"block{b + 1}_pool").attrs["weight_names"] = []
        f.attrs["layer_names"] = [n.encode() for n in ["input_1", *names]]
        f.create_group("input_1").attrs["weight_names"] = []


def test_vgg_weights_load_from_torchvision_pth_and_keras_h5(tmp_path):
    torch.manual_seed(1)
    source = VGGFeatures(16)
    torch.save({**source.state_dict(), "classifier.0.weight": torch.zeros(4096, 25088)}, tmp_path / "vgg16.pth")
    _write_keras_vgg_h5(tmp_path / "vgg16_notop.h5", source)
    x = torch.randn(1, 3, 64, 64)
    for path in ("vgg16.pth", "vgg16_notop.h5"):
        target = VGGFeatures(16)
        target.load_state_dict(vgg_state_from(tmp_path / path, target))
        assert torch.allclose(target(x), source(x), atol=1e-5), path
    with pytest.raises(ValueError, match="VGG-19"):  # a VGG-16 file for a VGG-19
        vgg_state_from(tmp_path / "vgg16.pth", VGGFeatures(19))
    with pytest.raises(MissingWeightsError, match="download.pytorch.org"):
        vgg_state_from(tmp_path / "missing.pth", VGGFeatures(19))


@pytest.mark.parametrize(
    "freeze, trainable_convs",
    [("all", 0), ("none", 16), ("last_blocks:2", 8), ("first_layers:15", 5), ("last_layers:3", 3)],
)
def test_freezing_rules(freeze, trainable_convs):
    model = build_spectrogram_cnn("vgg19", LABELS, tiny=True, image_size=64, freeze=freeze, head_hidden_sizes=[8],
                                  head_dropout=[0.0])
    convs = [m for m in model.backbone.features if isinstance(m, torch.nn.Conv2d)]
    assert sum(c.weight.requires_grad for c in convs) == trainable_convs
    assert all(p.requires_grad for p in model.classifier.parameters())


def test_frozen_batchnorm_keeps_its_statistics_and_l2_joins_the_loss():
    model = build_spectrogram_cnn("resnet", LABELS, tiny=True, image_size=64, freeze="all", head_hidden_sizes=[8],
                                  head_dropout=[0.0], head_batchnorm=True, head_l2=0.01)
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    model.train()
    images, labels = torch.randn(4, 3, 64, 64), torch.tensor([0, 1, 2, 0])
    out = model(input_features=images, labels=labels)
    out.loss.backward()
    after = model.backbone.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # running means too: frozen BN ran in eval mode
    assert model.head[2].training  # the head's own BatchNorm trains
    ce = torch.nn.functional.cross_entropy(out.logits, labels)
    kernels = sum((m.weight ** 2).sum() for m in model.head if isinstance(m, torch.nn.Linear))
    assert out.loss.item() == pytest.approx((ce + 0.01 * kernels).item(), rel=1e-5)


def test_saved_model_loads_with_auto_classes_frozen_as_configured(tmp_path):
    model = build_spectrogram_cnn("vgg19", LABELS, tiny=True, image_size=64, freeze="last_blocks:2",
                                  head_hidden_sizes=[16, 8], head_dropout=[0.5, 0.0]).eval()
    fe = SpectrogramImageFeatureExtractor(clip_seconds=1.0, image_size=64)
    model.save_pretrained(tmp_path)
    fe.save_pretrained(tmp_path)
    loaded = AutoModelForAudioClassification.from_pretrained(tmp_path).eval()
    fe2 = AutoFeatureExtractor.from_pretrained(tmp_path)
    assert type(fe2) is SpectrogramImageFeatureExtractor and fe2.image_size == 64
    inputs = fe2([tone(1.0)], sampling_rate=SR)
    assert torch.allclose(loaded(**inputs).logits, model(**inputs).logits, atol=1e-5)
    assert [p.requires_grad for p in loaded.parameters()] == [p.requires_grad for p in model.parameters()]
    with pytest.raises(ValueError, match="expected images"):
        loaded(input_features=torch.zeros(1, 3, 32, 32))
