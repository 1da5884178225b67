"""YAMNet (Plakal & Ellis, TF model garden) in PyTorch as a ``transformers`` model, and its Keras ``.h5`` converter.

The network is ``research/audioset/yamnet/yamnet.py``: MobileNet v1 on a 96 x 64 log-mel patch,
one 3x3 conv (stride 2, 32 filters) then 13 depthwise-separable blocks (3x3 depthwise conv + BN +
ReLU, 1x1 pointwise conv + BN + ReLU) with strides 1,2,1,2,1,2,1,1,1,1,1,2,1 and filters
64,128,128,256,256,512,512,512,512,512,512,1024,1024; global average pooling gives the 1024-d
embedding; an optional dense layer gives the 521 AudioSet class scores (sigmoid).

Details that matter for the published weights:

* convolutions have no bias; batch norm has a shift (``beta``) but no scale (``center=True,
  scale=False``) and ``epsilon=1e-4``;
* Keras ``padding="same"`` pads *asymmetrically* for stride 2 (0 before, 1 after on a 96 x 64
  patch), which PyTorch's ``padding=1`` does not: :class:`SamePadConv2d` pads like TensorFlow;
* Keras kernels are (h, w, in, out) (depthwise: (h, w, in, 1)) and dense kernels (in, out).

The published ``yamnet.h5`` (``model.save_weights``) is read with h5py as Keras reads it: the root
attribute ``layer_names``, then each layer's group and its ``weight_names``. The layers are named
``layer1/conv``, ``layer1/conv/bn``, ``layerN/depthwise_conv``, ``layerN/depthwise_conv/bn``,
``layerN/pointwise_conv``, ``layerN/pointwise_conv/bn``; the classifier dense layer carries a
Keras-generated name, so it is found as the one layer with a (1024, 521) kernel and a bias.
Convert once, then load the folder::

    curl -L -o yamnet.h5 https://storage.googleapis.com/audioset/yamnet.h5
    python -m ser_hf.models.yamnet yamnet.h5 models/yamnet [--class-map yamnet_class_map.csv]
    YAMNetModel.from_pretrained("models/yamnet")

Seeds 000, 001 and 003 use the 1024-d embedding per 0.975-s window, hop 0.48 s.
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, PreTrainedConfig, PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from ser_hf.models.patch_frontend import LogMelPatchFeatureExtractor, yamnet_feature_extractor
from ser_hf.models.weights import is_pretrained_dir, require_file, weights_dir

logger = logging.getLogger(__name__)

YAMNET_WEIGHTS_URL = "https://storage.googleapis.com/audioset/yamnet.h5"
YAMNET_CLASS_MAP_URL = ("https://raw.githubusercontent.com/tensorflow/models/master/research/audioset/yamnet/"
                        "yamnet_class_map.csv")
YAMNET_WEIGHTS_FILE = "yamnet.h5"
YAMNET_CONVERT = "python -m ser_hf.models.yamnet yamnet.h5 OUT_DIR [--class-map yamnet_class_map.csv]"
# (kind, stride, filters) of _YAMNET_LAYER_DEFS; every kernel is 3x3.
YAMNET_LAYERS = [
    ["conv", 2, 32],
    ["separable", 1, 64], ["separable", 2, 128], ["separable", 1, 128], ["separable", 2, 256],
    ["separable", 1, 256], ["separable", 2, 512], ["separable", 1, 512], ["separable", 1, 512],
    ["separable", 1, 512], ["separable", 1, 512], ["separable", 1, 512], ["separable", 2, 1024],
    ["separable", 1, 1024],
]


@strict
class YAMNetConfig(PreTrainedConfig):
    """YAMNet's architecture (defaults: the published network).

    layer_defs: ``[kind, stride, filters]`` per block, kind ``"conv"`` or ``"separable"``.
    batchnorm_epsilon: 1e-4 as published (batch norm has a shift, no scale).
    num_classes: AudioSet classes of the optional head (521); ``include_classifier=False`` drops it.
    """

    model_type = "yamnet"

    layer_defs: list[list[int | str]] | tuple = tuple(tuple(x) for x in YAMNET_LAYERS)
    batchnorm_epsilon: float = 1e-4
    num_classes: int = 521
    include_classifier: bool = True
    classifier_activation: str = "sigmoid"
    num_frames: int = 96
    num_mel_bins: int = 64

    def validate_architecture(self):
        for kind, stride, filters in self.layer_defs:
            if kind not in ("conv", "separable") or int(stride) < 1 or int(filters) < 1:
                raise ValueError(f"bad YAMNet layer definition {[kind, stride, filters]}")

    @property
    def embedding_size(self) -> int:
        return int(self.layer_defs[-1][2])


@dataclass
class YAMNetOutput(ModelOutput):
    """embeddings: (batch, 1024); logits / scores: (batch, 521) when the classifier is included."""

    embeddings: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    scores: torch.FloatTensor | None = None


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding along one axis: (before, after), the extra one after."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SamePadConv2d(nn.Conv2d):
    """``nn.Conv2d`` that pads like TensorFlow's ``padding="same"`` (asymmetric for even sizes and stride 2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = same_padding(x.shape[-2], self.kernel_size[0], self.stride[0])
        left, right = same_padding(x.shape[-1], self.kernel_size[1], self.stride[1])
        return super().forward(F.pad(x, (left, right, top, bottom)))


class ShiftOnlyBatchNorm2d(nn.BatchNorm2d):
    """Keras ``BatchNormalization(center=True, scale=False)``: running statistics and a shift, no scale."""

    def __init__(self, num_features: int, eps: float):
        super().__init__(num_features, eps=eps, momentum=0.01, affine=False)  # Keras momentum 0.99
        self.bias = nn.Parameter(torch.zeros(num_features))


class YAMNetConvBlock(nn.Module):
    def __init__(self, in_channels: int, filters: int, stride: int, eps: float):
        super().__init__()
        self.conv = SamePadConv2d(in_channels, filters, 3, stride=stride, bias=False)
        self.bn = ShiftOnlyBatchNorm2d(filters, eps)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class YAMNetSeparableBlock(nn.Module):
    def __init__(self, in_channels: int, filters: int, stride: int, eps: float):
        super().__init__()
        self.depthwise_conv = SamePadConv2d(in_channels, in_channels, 3, stride=stride, groups=in_channels, bias=False)
        self.depthwise_bn = ShiftOnlyBatchNorm2d(in_channels, eps)
        self.pointwise_conv = nn.Conv2d(in_channels, filters, 1, bias=False)
        self.pointwise_bn = ShiftOnlyBatchNorm2d(filters, eps)

    def forward(self, x):
        x = F.relu(self.depthwise_bn(self.depthwise_conv(x)))
        return F.relu(self.pointwise_bn(self.pointwise_conv(x)))


class YAMNetModel(PreTrainedModel):
    """YAMNet: log-mel patches ``(batch, 96, 64)`` -> embeddings ``(batch, 1024)`` (+ 521 AudioSet scores)."""

    config_class = YAMNetConfig
    config: YAMNetConfig
    base_model_prefix = "yamnet"
    main_input_name = "input_features"

    def __init__(self, config: YAMNetConfig):
        super().__init__(config)
        blocks, in_channels = [], 1
        for kind, stride, filters in config.layer_defs:
            block = YAMNetConvBlock if kind == "conv" else YAMNetSeparableBlock
            blocks.append(block(in_channels, int(filters), int(stride), config.batchnorm_epsilon))
            in_channels = int(filters)
        self.layers = nn.ModuleList(blocks)
        self.classifier = nn.Linear(in_channels, config.num_classes) if config.include_classifier else None
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module):
        if isinstance(module, nn.Conv2d):
            # fan_in: a depthwise kernel's fan_out counts every channel, which would shrink activations 14 times.
            init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        elif isinstance(module, ShiftOnlyBatchNorm2d):
            init.zeros_(module.bias)
            init.zeros_(module.running_mean)
            init.ones_(module.running_var)
        elif isinstance(module, nn.Linear):
            init.normal_(module.weight, 0.0, 0.01)
            init.zeros_(module.bias)

    def forward(self, input_features: torch.Tensor, return_dict: bool | None = None, **kwargs) -> YAMNetOutput:
        x = input_features.unsqueeze(1) if input_features.dim() == 3 else input_features
        for block in self.layers:
            x = block(x)
        embeddings = x.mean(dim=(2, 3))
        logits = scores = None
        if self.classifier is not None:
            logits = self.classifier(embeddings)
            scores = torch.sigmoid(logits) if self.config.classifier_activation == "sigmoid" else logits.softmax(-1)
        if return_dict is False:
            return tuple(v for v in (embeddings, logits, scores) if v is not None)
        return YAMNetOutput(embeddings=embeddings, logits=logits, scores=scores)


AutoConfig.register("yamnet", YAMNetConfig, exist_ok=True)
AutoModel.register(YAMNetConfig, YAMNetModel, exist_ok=True)
AutoFeatureExtractor.register(YAMNetConfig, LogMelPatchFeatureExtractor, exist_ok=True)


# --- the Keras .h5 converter ---------------------------------------------------------------

def _read_name_list(group, name: str) -> list[str]:
    """A Keras name-list attribute, which Keras splits into ``name0``, ``name1``, ... when it is long."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values += list(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def read_keras_h5_weights(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """``{layer name: {weight name without the layer prefix and ':0': array}}`` of a Keras weights ``.h5``.

    Reads the legacy HDF5 format of ``model.save_weights`` (and of ``model.save``, whose weights sit
    under ``model_weights``), the way Keras' ``load_weights`` walks it.
    """
    import h5py

    out: dict[str, dict[str, np.ndarray]] = {}
    with h5py.File(path, "r") as f:
        root = f["model_weights"] if "model_weights" in f else f
        layer_names = _read_name_list(root, "layer_names")
        if not layer_names:
            raise ValueError(f"{path}: no 'layer_names' attribute: not a Keras HDF5 weights file")
        for layer in layer_names:
            group = root[layer]
            weights = {}
            for weight_name in _read_name_list(group, "weight_names"):
                short = weight_name.rsplit("/", 1)[-1].split(":")[0]
                weights[short] = np.asarray(group[weight_name])
            if weights:
                out[layer] = weights
    return out


def _keras_conv(kernel: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))  # (h,w,in,out) -> (out,in,h,w)


def _keras_depthwise(kernel: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(2, 3, 0, 1)))  # (h,w,in,1) -> (in,1,h,w)


def _bn_state(weights: dict[str, np.ndarray], layer: str, prefix: str) -> dict[str, torch.Tensor]:
    if "gamma" in weights:
        raise ValueError(f"{layer}: batch norm with a scale (gamma); YAMNet's has none (scale=False)")
    missing = {"beta", "moving_mean", "moving_variance"} - set(weights)
    if missing:
        raise ValueError(f"{layer}: batch norm weights {sorted(missing)} missing")
    return {f"{prefix}.bias": torch.from_numpy(weights["beta"]),
            f"{prefix}.running_mean": torch.from_numpy(weights["moving_mean"]),
            f"{prefix}.running_var": torch.from_numpy(weights["moving_variance"])}


def convert_yamnet_h5(h5_path: str | Path, class_map_csv: str | Path | None = None,
                      include_classifier: bool = True) -> YAMNetModel:
    """A :class:`YAMNetModel` holding the weights of the published Keras ``yamnet.h5``.

    Every conv and batch-norm layer of the published list must be present with the right shapes;
    with ``class_map_csv`` (``yamnet_class_map.csv``: index, mid, display_name) the 521 class names
    go into ``config.id2label``.
    """
    h5_path = require_file(h5_path, "YAMNet", YAMNET_WEIGHTS_URL, YAMNET_CONVERT)
    layers = read_keras_h5_weights(h5_path)
    config = YAMNetConfig(include_classifier=include_classifier)
    state: dict[str, torch.Tensor] = {}
    for i, (kind, _, _) in enumerate(config.layer_defs):
        name = f"layer{i + 1}"

        def need(layer: str) -> dict[str, np.ndarray]:
            if layer not in layers:
                raise ValueError(f"{h5_path}: layer {layer!r} missing (layers: {sorted(layers)[:8]}...)")
            return layers[layer]

        if kind == "conv":
            state[f"layers.{i}.conv.weight"] = _keras_conv(need(f"{name}/conv")["kernel"])
            state.update(_bn_state(need(f"{name}/conv/bn"), f"{name}/conv/bn", f"layers.{i}.bn"))
        else:
            state[f"layers.{i}.depthwise_conv.weight"] = _keras_depthwise(
                need(f"{name}/depthwise_conv")["depthwise_kernel"])
            state.update(_bn_state(need(f"{name}/depthwise_conv/bn"), f"{name}/depthwise_conv/bn",
                                   f"layers.{i}.depthwise_bn"))
            state[f"layers.{i}.pointwise_conv.weight"] = _keras_conv(need(f"{name}/pointwise_conv")["kernel"])
            state.update(_bn_state(need(f"{name}/pointwise_conv/bn"), f"{name}/pointwise_conv/bn",
                                   f"layers.{i}.pointwise_bn"))
    if include_classifier:
        dense = [n for n, w in layers.items() if set(w) == {"kernel", "bias"} and w["kernel"].shape ==
                 (config.embedding_size, config.num_classes)]
        if len(dense) != 1:
            raise ValueError(f"{h5_path}: expected one dense layer with a ({config.embedding_size}, "
                             f"{config.num_classes}) kernel, found {dense}")
        state["classifier.weight"] = torch.from_numpy(np.ascontiguousarray(layers[dense[0]]["kernel"].T))
        state["classifier.bias"] = torch.from_numpy(layers[dense[0]]["bias"])
    if class_map_csv is not None:
        with open(class_map_csv, newline="") as fh:
            rows = list(csv.DictReader(fh))
        config.id2label = {int(r["index"]): r["display_name"] for r in rows}
        config.label2id = {name: i for i, name in config.id2label.items()}
    model = YAMNetModel(config)
    own = model.state_dict()
    for key, value in state.items():
        if own[key].shape != value.shape:
            raise ValueError(f"{h5_path}: {key} has shape {tuple(value.shape)}, expected {tuple(own[key].shape)}")
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    if missing:
        raise ValueError(f"{h5_path}: no weights for {missing[:6]}")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=False)
    return model.eval()


def load_yamnet(weights: str | Path | None = None, random_weights: bool = False, seed: int = 0,
                include_classifier: bool = True) -> YAMNetModel:
    """YAMNet from a ``save_pretrained`` folder or the published ``yamnet.h5`` (default: ``$SER_HF_CACHE/weights/``).

    ``random_weights=True`` builds the published architecture with random weights (tests, timing);
    it is never a fallback for a missing file, which raises with download instructions.
    """
    if random_weights:
        torch.manual_seed(seed)
        return YAMNetModel(YAMNetConfig(include_classifier=include_classifier)).eval()
    if weights is None:
        converted = weights_dir() / "yamnet"
        weights = converted if is_pretrained_dir(converted) else weights_dir() / YAMNET_WEIGHTS_FILE
    weights = Path(weights)
    if is_pretrained_dir(weights):
        return YAMNetModel.from_pretrained(str(weights)).eval()
    return convert_yamnet_h5(weights, include_classifier=include_classifier)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert the published Keras yamnet.h5 to a save_pretrained folder.")
    parser.add_argument("weights", help=f"path to yamnet.h5 ({YAMNET_WEIGHTS_URL})")
    parser.add_argument("output_dir", help="folder to write (config.json, model.safetensors, preprocessor_config.json)")
    parser.add_argument("--class-map", default=None,
                        help=f"yamnet_class_map.csv for class names ({YAMNET_CLASS_MAP_URL})")
    parser.add_argument("--no-classifier", action="store_true", help="drop the 521-class AudioSet head")
    args = parser.parse_args(argv)
    model = convert_yamnet_h5(args.weights, args.class_map, include_classifier=not args.no_classifier)
    model.save_pretrained(args.output_dir)
    yamnet_feature_extractor().save_pretrained(args.output_dir)
    print(f"YAMNet written to {args.output_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
