"""VGGish and YAMNet as transformers models (random weights) and their converters for the published files."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoFeatureExtractor, AutoModel

from ser_hf.models.weights import MissingWeightsError
from ser_hf.models.patch_frontend import vggish_feature_extractor, yamnet_feature_extractor
from ser_hf.models.vggish import (
    VGGISH_WEIGHTS_URL,
    VGGishConfig,
    VGGishModel,
    convert_torchvggish_checkpoint,
    load_vggish,
    torchvggish_keys,
)
from ser_hf.models.yamnet import (
    YAMNET_WEIGHTS_URL,
    SamePadConv2d,
    YAMNetConfig,
    YAMNetModel,
    convert_yamnet_h5,
    load_yamnet,
    same_padding,
)

SR = 16000


def wave(seconds: float, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


@pytest.fixture(scope="module")
def vggish() -> VGGishModel:
    return load_vggish(random_weights=True, seed=0)


@pytest.fixture(scope="module")
def yamnet() -> YAMNetModel:
    return load_yamnet(random_weights=True, seed=0)


def test_vggish_has_the_published_layers_and_shapes(vggish):
    published = {
        "features.0.weight": (64, 1, 3, 3), "features.3.weight": (128, 64, 3, 3),
        "features.6.weight": (256, 128, 3, 3), "features.8.weight": (256, 256, 3, 3),
        "features.11.weight": (512, 256, 3, 3), "features.13.weight": (512, 512, 3, 3),
        "embeddings.0.weight": (4096, 512 * 4 * 6), "embeddings.2.weight": (4096, 4096),
        "embeddings.4.weight": (128, 4096),
    }
    state = vggish.state_dict()
    assert sorted(state) == sorted(torchvggish_keys())
    for key, shape in published.items():
        assert tuple(state[key].shape) == shape, key
    assert sum(p.numel() for p in vggish.parameters()) == 72_141_184


def test_vggish_embeds_three_seconds_as_three_128d_frames(vggish):
    patches = vggish_feature_extractor()(wave(3.0))["input_features"]
    with torch.no_grad():
        out = vggish(patches)
    assert out.embeddings.shape == (3, 128)
    assert torch.isfinite(out.embeddings).all()
    with torch.no_grad():
        assert vggish(patches.unsqueeze(1)).embeddings.shape == (3, 128)  # (batch, 1, 96, 64) works too


def test_yamnet_has_the_published_size_and_embeds_per_048_s_hop(yamnet):
    # Conv kernels + batch-norm shifts + the 521-class dense layer: Keras' "trainable params" of yamnet.h5.
    assert sum(p.numel() for p in yamnet.parameters()) == 3_729_481
    bn_statistics = sum(b.numel() for n, b in yamnet.named_buffers() if "running" in n)
    assert bn_statistics == 21_888  # Keras' non-trainable moving means/variances
    patches = yamnet_feature_extractor()(wave(3.0))["input_features"]
    with torch.no_grad():
        out = yamnet(patches)
    assert out.embeddings.shape == (6, 1024)
    assert out.logits.shape == out.scores.shape == (6, 521)
    assert float(out.scores.min()) >= 0 and float(out.scores.max()) <= 1
    headless = load_yamnet(random_weights=True, include_classifier=False)
    with torch.no_grad():
        assert headless(patches).logits is None


def test_models_round_trip_through_save_pretrained_and_auto_classes(tmp_path, vggish, yamnet):
    patches = vggish_feature_extractor()(wave(2.0))["input_features"]
    for name, model, fe in [("vggish", vggish, vggish_feature_extractor()), ("yamnet", yamnet,
                                                                             yamnet_feature_extractor())]:
        folder = tmp_path / name
        model.save_pretrained(folder)
        fe.save_pretrained(folder)
        loaded = AutoModel.from_pretrained(folder)
        assert type(loaded) is type(model)
        assert AutoFeatureExtractor.from_pretrained(folder).log_offset == fe.log_offset
        with torch.no_grad():
            torch.testing.assert_close(loaded(patches).embeddings, model(patches).embeddings)
    # load_* accept the folder as weights.
    assert isinstance(load_vggish(tmp_path / "vggish"), VGGishModel)
    assert isinstance(load_yamnet(tmp_path / "yamnet"), YAMNetModel)


def test_vggish_postprocessor_quantises_to_bytes():
    torch.manual_seed(0)
    model = VGGishModel(VGGishConfig(postprocess=True)).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 96, 64)).embeddings
    assert out.shape == (2, 128)
    assert torch.equal(out, out.round()) and out.min() >= 0 and out.max() <= 255


def _torchvggish_forward(state: dict, patches: torch.Tensor, layout: list) -> torch.Tensor:
    """The PyTorch port's VGG.forward, written with functional ops from its state dict."""
    x, index = patches.unsqueeze(1), 0
    for v in layout:
        if v == "M":
            x, index = F.max_pool2d(x, 2, 2), index + 1
        else:
            x = F.relu(F.conv2d(x, state[f"features.{index}.weight"], state[f"features.{index}.bias"], padding=1))
            index += 2
    x = torch.transpose(x, 1, 3)
    x = torch.transpose(x, 1, 2).contiguous().view(x.size(0), -1)
    for i in (0, 2, 4):
        x = F.relu(F.linear(x, state[f"embeddings.{i}.weight"], state[f"embeddings.{i}.bias"]))
    return x


def test_torchvggish_state_dict_converts_exactly(tmp_path):
    """A narrow VGGish in the port's key format (random values); the converter infers the layout from it."""
    layout = [4, "M", 8, "M", 16, 16, "M", 32, 32, "M"]
    shapes = {"features.0.weight": (4, 1, 3, 3), "features.3.weight": (8, 4, 3, 3), "features.6.weight": (16, 8, 3, 3),
              "features.8.weight": (16, 16, 3, 3), "features.11.weight": (32, 16, 3, 3),
              "features.13.weight": (32, 32, 3, 3), "embeddings.0.weight": (64, 32 * 6 * 4),
              "embeddings.2.weight": (64, 64), "embeddings.4.weight": (128, 64)}
    generator = torch.Generator().manual_seed(1)
    state = {}
    for key, shape in shapes.items():
        state[key] = torch.randn(shape, generator=generator) * 0.2
        state[key.replace("weight", "bias")] = torch.randn(shape[0], generator=generator) * 0.1
    assert sorted(state) == sorted(torchvggish_keys(layout))
    torch.save(state, tmp_path / "vggish-small.pth")
    # The PCA file of the port holds NumPy arrays; means as a (128, 1) column.
    rng = np.random.default_rng(2)
    torch.save({"pca_eigen_vectors": rng.standard_normal((128, 128)).astype(np.float32),
                "pca_means": rng.standard_normal((128, 1)).astype(np.float32)}, tmp_path / "pca.pth")

    model = convert_torchvggish_checkpoint(tmp_path / "vggish-small.pth")
    assert list(model.config.conv_layout) == layout and list(model.config.hidden_sizes) == [64, 64]
    for key, value in state.items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=0, atol=0)
    patches = torch.randn(3, 96, 64, generator=generator)
    with torch.no_grad():
        torch.testing.assert_close(model(patches).embeddings, _torchvggish_forward(state, patches, layout))

    with_pca = convert_torchvggish_checkpoint(tmp_path / "vggish-small.pth", tmp_path / "pca.pth")
    assert with_pca.config.postprocess
    np.testing.assert_array_equal(with_pca.pca_means.numpy(), torch.load(tmp_path / "pca.pth", weights_only=False)[
        "pca_means"].reshape(-1))

    torch.save({**state, "classifier.weight": torch.zeros(2, 2)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="not a torchvggish"):
        convert_torchvggish_checkpoint(tmp_path / "other.pth")


def _write_keras_yamnet_h5(path, dense_name: str = "dense") -> dict[str, dict[str, np.ndarray]]:
    """A yamnet.h5 laid out as Keras' save_weights writes it (random values); returns what it wrote."""
    rng = np.random.default_rng(3)
    written: dict[str, dict[str, np.ndarray]] = {}

    def bn(channels):
        return {"beta": rng.standard_normal(channels).astype(np.float32) * 0.1,
                "moving_mean": rng.standard_normal(channels).astype(np.float32) * 0.1,
                "moving_variance": rng.uniform(0.5, 1.5, channels).astype(np.float32)}

    in_channels = 1
    for i, (kind, _, filters) in enumerate(YAMNetConfig().layer_defs):
        name = f"layer{i + 1}"
        if kind == "conv":
            written[f"{name}/conv"] = {"kernel": rng.standard_normal((3, 3, in_channels, filters)).astype(np.float32)}
            written[f"{name}/conv/bn"] = bn(filters)
        else:
            written[f"{name}/depthwise_conv"] = {
                "depthwise_kernel": rng.standard_normal((3, 3, in_channels, 1)).astype(np.float32) * 0.3}
            written[f"{name}/depthwise_conv/bn"] = bn(in_channels)
            written[f"{name}/pointwise_conv"] = {
                "kernel": (rng.standard_normal((1, 1, in_channels, filters)) / np.sqrt(in_channels)).astype(np.float32)}
            written[f"{name}/pointwise_conv/bn"] = bn(filters)
        in_channels = filters
    written[dense_name] = {"kernel": rng.standard_normal((1024, 521)).astype(np.float32) * 0.01,
                           "bias": rng.standard_normal(521).astype(np.float32) * 0.01}
    weightless = ["input_1", "reshape", *[f"layer{i}/relu" for i in range(1, 2)], "global_average_pooling2d",
                  "activation"]
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n in [*written, *weightless]])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4-tf"
        for layer in sorted([*written, *weightless]):
            group = f.create_group(layer)
            weights = written.get(layer, {})
            names = [f"{layer}/{w}:0".encode() for w in weights]
            group.attrs["weight_names"] = np.array(names, dtype="S") if names else np.array([], dtype="S1")
            for w, value in weights.items():
                group.create_dataset(f"{layer}/{w}:0", data=value)
    return written


def test_yamnet_keras_h5_converts_exactly(tmp_path):
    written = _write_keras_yamnet_h5(tmp_path / "yamnet.h5")
    class_map = tmp_path / "yamnet_class_map.csv"
    class_map.write_text("index,mid,display_name\n" + "".join(f"{i},/m/{i},Class {i}\n" for i in range(521)))
    model = convert_yamnet_h5(tmp_path / "yamnet.h5", class_map)
    state = model.state_dict()
    np.testing.assert_array_equal(state["layers.0.conv.weight"].numpy(),
                                  written["layer1/conv"]["kernel"].transpose(3, 2, 0, 1))
    np.testing.assert_array_equal(state["layers.0.bn.bias"].numpy(), written["layer1/conv/bn"]["beta"])
    for i in range(1, 14):
        name = f"layer{i + 1}"
        np.testing.assert_array_equal(state[f"layers.{i}.depthwise_conv.weight"].numpy(),
                                      written[f"{name}/depthwise_conv"]["depthwise_kernel"].transpose(2, 3, 0, 1))
        np.testing.assert_array_equal(state[f"layers.{i}.pointwise_conv.weight"].numpy(),
                                      written[f"{name}/pointwise_conv"]["kernel"].transpose(3, 2, 0, 1))
        for part in ("depthwise", "pointwise"):
            bn = written[f"{name}/{part}_conv/bn"]
            np.testing.assert_array_equal(state[f"layers.{i}.{part}_bn.bias"].numpy(), bn["beta"])
            np.testing.assert_array_equal(state[f"layers.{i}.{part}_bn.running_mean"].numpy(), bn["moving_mean"])
            np.testing.assert_array_equal(state[f"layers.{i}.{part}_bn.running_var"].numpy(), bn["moving_variance"])
    np.testing.assert_array_equal(state["classifier.weight"].numpy(), written["dense"]["kernel"].T)
    np.testing.assert_array_equal(state["classifier.bias"].numpy(), written["dense"]["bias"])
    assert model.config.id2label[520] == "Class 520"
    with torch.no_grad():
        out = model(yamnet_feature_extractor()(wave(1.0))["input_features"])
    assert out.embeddings.shape == (2, 1024) and torch.isfinite(out.scores).all()


def test_yamnet_first_layer_is_the_keras_computation(tmp_path):
    """layer1 by hand in NHWC with TensorFlow's 'same' padding (0 before, 1 after) and scale-free batch norm."""
    written = _write_keras_yamnet_h5(tmp_path / "yamnet.h5", dense_name="logits")
    model = convert_yamnet_h5(tmp_path / "yamnet.h5")
    patch = torch.randn(1, 96, 64)
    x = np.pad(patch.numpy()[0], ((0, 1), (0, 1)))  # 96x64 -> 97x65, stride 2, kernel 3 -> 48x32
    kernel = written["layer1/conv"]["kernel"][:, :, 0, :]  # (3, 3, 32)
    conv = np.stack([[np.tensordot(x[2 * r : 2 * r + 3, 2 * c : 2 * c + 3], kernel, axes=([0, 1], [0, 1]))
                      for c in range(32)] for r in range(48)])  # (48, 32, 32) NHWC
    bn = written["layer1/conv/bn"]
    expected = np.maximum(0, (conv - bn["moving_mean"]) / np.sqrt(bn["moving_variance"] + 1e-4) + bn["beta"])
    with torch.no_grad():
        ours = model.layers[0](patch.unsqueeze(1))[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=1e-4)


def test_same_padding_is_tensorflows():
    assert same_padding(96, 3, 2) == (0, 1)
    assert same_padding(97, 3, 2) == (1, 1)
    assert same_padding(64, 3, 1) == (1, 1)
    assert same_padding(3, 3, 2) == (1, 1)
    conv = SamePadConv2d(1, 1, 3, stride=2, bias=False)
    assert conv(torch.zeros(1, 1, 96, 64)).shape == (1, 1, 48, 32)


def test_missing_weight_files_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("SER_HF_CACHE", str(tmp_path / "cache"))
    with pytest.raises(MissingWeightsError) as vggish_error:
        load_vggish()
    message = str(vggish_error.value)
    assert VGGISH_WEIGHTS_URL in message and "curl -L -o" in message and "python -m ser_hf.models.vggish" in message
    assert str(tmp_path / "cache" / "weights" / "vggish-10086976.pth") in message
    with pytest.raises(MissingWeightsError) as yamnet_error:
        load_yamnet(tmp_path / "elsewhere" / "yamnet.h5")
    assert YAMNET_WEIGHTS_URL in str(yamnet_error.value) and "python -m ser_hf.models.yamnet" in str(
        yamnet_error.value)


def test_convert_command_line(tmp_path):
    from ser_hf.models.yamnet import main

    _write_keras_yamnet_h5(tmp_path / "yamnet.h5")
    assert main([str(tmp_path / "yamnet.h5"), str(tmp_path / "out")]) == 0
    assert isinstance(AutoModel.from_pretrained(tmp_path / "out"), YAMNetModel)
    assert AutoFeatureExtractor.from_pretrained(tmp_path / "out").pad_mode == "yamnet"
