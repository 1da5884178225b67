"""Spectrogram-image transfer: ImageNet CNNs on mel / MFCC "images" (seeds 002, 003, 004), as one
``transformers`` audio classifier.

:class:`SpectrogramCNNForAudioClassification` = a backbone + the seeds' dense heads + their freezing
configurations. It takes the images of :class:`~ser_hf.models.spectrogram.SpectrogramImageFeatureExtractor`,
trains with ``Trainer`` like any audio classifier, saves with ``save_pretrained`` and loads with
``AutoModelForAudioClassification`` (so ``pipeline("audio-classification")`` and the Space take it).

Backbones:

``vgg16`` / ``vgg19``
    built here in torchvision's layer layout (``features.<i>``), so the ImageNet weights load by
    name from any of: the Hub (``timm/vgg19.tv_in1k``, the default: torchvision's weights in
    safetensors), torchvision's ``vgg19-dcbb9e9d.pth``, or Keras' ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``.
any Hugging Face image model id or folder
    e.g. ``microsoft/resnet-50``, ``google/efficientnet-b0``, ``google/mobilenet_v2_1.0_224``, or a
    ``timm/...`` id through transformers' timm wrapper (``timm/tf_efficientnetv2_b0.in1k``,
    ``timm/mobilenetv3_large_100.ra_in1k``, ``timm/resnetv2_50x1_bit.goog_in21k``); its pooled output feeds the head.

Freezing (``freeze``): ``none``; ``all`` (seed 002 C1, seed 003's frozen base); ``last_blocks:K``
(VGG: the last K conv blocks train, seed 002 C2 = ``last_blocks:2``); ``last_layers:N`` (the last N
parameterised layers train, seed 002's EfficientNet C2 = ``last_layers:32``); ``first_layers:N``
(seed 004 = ``first_layers:15``; for VGG counted as Keras counts the layers of ``VGG19(include_top=False)``:
the input layer, then each conv and pool). Keras counts activation and BN layers too, so for
non-VGG backbones N counts parameterised layers (conv, BN, linear): the same idea, not the same number.
Frozen BatchNorm layers stay in inference mode, as Keras runs a frozen base.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoModel,
    AutoModelForAudioClassification,
    PreTrainedConfig,
    PreTrainedModel,
)
from transformers import initialization as init
from transformers.modeling_outputs import SequenceClassifierOutput

from ser_hf.registry import FREEZE_RULE
from ser_hf.models.spectrogram import SpectrogramImageFeatureExtractor
from ser_hf.models.vggish import vgg_conv_stack

logger = logging.getLogger(__name__)

# torchvision's configurations "D" and "E": channels per 3x3 conv, "M" a 2x2 max pool.
VGG_LAYOUTS = {
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
VGG_CHANNELS = (64, 128, 256, 512, 512)
KERAS_VGG_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg{depth}/vgg{depth}_weights_tf_dim_ordering_tf_kernels_notop.h5"
TORCHVISION_VGG_FILES = {16: "vgg16-397923af.pth", 19: "vgg19-dcbb9e9d.pth"}


def vgg_layout(depth: int, channels=VGG_CHANNELS) -> list[int | str]:
    """The torchvision layout of VGG-``depth`` with the 5 blocks' widths replaced by ``channels``."""
    if depth not in VGG_LAYOUTS:
        raise ValueError(f"VGG depth must be one of {sorted(VGG_LAYOUTS)}, got {depth}")
    block, out = 0, []
    for v in VGG_LAYOUTS[depth]:
        if v == "M":
            out.append("M")
            block += 1
        else:
            out.append(int(channels[block]))
    return out


class VGGFeatures(nn.Module):
    """VGG's convolutional part with torchvision's module indices (``features.0.weight`` ...)."""

    def __init__(self, depth: int = 19, channels=VGG_CHANNELS, in_channels: int = 3):
        super().__init__()
        self.features, self.out_channels = vgg_conv_stack(vgg_layout(depth, channels), in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def keras_layers(self) -> list[nn.Module | None]:
        """The layers of Keras' ``VGG*(include_top=False)`` in order: the input layer (None), then convs and pools."""
        return [None, *(m for m in self.features if isinstance(m, (nn.Conv2d, nn.MaxPool2d)))]

    def blocks(self) -> list[list[nn.Conv2d]]:
        """The convs of each of the five blocks."""
        blocks, current = [], []
        for m in self.features:
            if isinstance(m, nn.Conv2d):
                current.append(m)
            elif isinstance(m, nn.MaxPool2d):
                blocks.append(current)
                current = []
        return blocks


def _as_config(value):
    """A backbone config from its dict (PreTrainedConfig may already have turned a ``*_config`` dict into one)."""
    if isinstance(value, dict) and value.get("model_type"):
        settings = dict(value)
        return AutoConfig.for_model(settings.pop("model_type"), **settings)
    return value


@strict
class SpectrogramCNNConfig(PreTrainedConfig):
    """A spectrogram-image classifier: backbone, head and what is frozen.

    image_backbone: ``"vgg"`` (built here) or ``"auto"`` (any transformers image model, ``image_backbone_config``).
    vgg_depth / vgg_channels: VGG-16 or -19 and its five blocks' widths (smaller for tiny test models).
    image_backbone_config: the auto backbone's config as a dict (``model_type`` included).
    image_size / num_channels: the input images (the flatten head's size depends on it).
    pooling: ``"flatten"`` (Keras ``Flatten`` over VGG's 7x7x512 maps, seeds 002/004) or ``"avg"``
        (global average pooling, seed 003's ResNet head; auto backbones always use their pooled output).
    head_hidden_sizes / head_dropout: dense ReLU layers and the dropout after each (seed 002: 512, 256 /
        0.5, 0; seed 003: 1024 / 0.4; seed 004: 128, 64 / 0.6, 0.6).
    head_batchnorm: BatchNorm after each dense layer (seed 004).
    head_l2: Keras' L2 kernel regulariser on the head's hidden dense layers, added to the loss (seed 004: 0.01).
    freeze: see the module docstring.
    """

    model_type = "spectrogram_cnn"

    image_backbone: str = "vgg"
    vgg_depth: int = 19
    vgg_channels: list[int] | tuple[int, ...] = VGG_CHANNELS
    image_backbone_config: dict | None = None
    image_size: int = 224
    num_channels: int = 3
    pooling: str = "flatten"
    head_hidden_sizes: list[int] | tuple[int, ...] = (512, 256)
    head_dropout: list[float] | tuple[float, ...] = (0.5, 0.0)
    head_batchnorm: bool = False
    head_l2: float = 0.0
    freeze: str = "all"

    def validate_architecture(self):
        if self.image_backbone not in ("vgg", "auto"):
            raise ValueError(f"image_backbone must be 'vgg' or 'auto', got {self.image_backbone!r}")
        if self.image_backbone == "auto" and not getattr(_as_config(self.image_backbone_config), "model_type", None):
            raise ValueError("image_backbone='auto' needs image_backbone_config with a model_type")
        if self.pooling not in ("flatten", "avg"):
            raise ValueError(f"pooling must be 'flatten' or 'avg', got {self.pooling!r}")
        if self.pooling == "flatten" and self.image_backbone != "vgg":
            raise ValueError("pooling='flatten' needs the VGG backbone; auto backbones give a pooled vector")
        if len(self.head_dropout) != len(self.head_hidden_sizes):
            raise ValueError(f"head_dropout needs one value per hidden layer ({len(self.head_hidden_sizes)}), "
                             f"got {list(self.head_dropout)}")
        if not FREEZE_RULE.match(self.freeze):
            raise ValueError(f"freeze must be none, all, last_blocks:K, last_layers:N or first_layers:N, got {self.freeze!r}")
        if self.freeze.startswith("last_blocks") and self.image_backbone != "vgg":
            raise ValueError("freeze=last_blocks:K counts VGG conv blocks; use last_layers:N for other backbones")


def _parameterised_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if any(True for _ in m.parameters(recurse=False))]


class SpectrogramCNNForAudioClassification(PreTrainedModel):
    """Spectrogram images ``(batch, channels, height, width)`` -> emotion logits."""

    config_class = SpectrogramCNNConfig
    config: SpectrogramCNNConfig
    base_model_prefix = "backbone"
    main_input_name = "input_features"

    def __init__(self, config: SpectrogramCNNConfig):
        super().__init__(config)
        if config.image_backbone == "vgg":
            self.backbone = VGGFeatures(config.vgg_depth, config.vgg_channels, config.num_channels)
            side = config.image_size // 32
            if config.pooling == "flatten" and side < 1:
                raise ValueError(f"image_size {config.image_size} is too small for VGG's five poolings (>= 32)")
            features = self.backbone.out_channels * (side * side if config.pooling == "flatten" else 1)
        else:
            self.backbone = AutoModel.from_config(_as_config(config.image_backbone_config))
            features = self._pooled_size()
        head: list[nn.Module] = []
        for size, p in zip(config.head_hidden_sizes, config.head_dropout):
            head += [nn.Linear(features, size), nn.ReLU()]
            if config.head_batchnorm:
                head.append(nn.BatchNorm1d(size))
            head.append(nn.Dropout(p))
            features = size
        self.head = nn.Sequential(*head)
        self.classifier = nn.Linear(features, config.num_labels)
        self.post_init()
        self._frozen_batchnorms = self.apply_freeze()

    def _pooled_size(self) -> int:
        """Width of the auto backbone's pooled output, read off a forward pass on one small blank image
        (config fields name it differently in every family)."""
        was_training = self.backbone.training
        self.backbone.eval()
        with torch.no_grad():
            probe = torch.zeros(1, self.config.num_channels, 64, 64)
            size = self.pooled_features(probe).shape[-1]
        self.backbone.train(was_training)
        return int(size)

    @torch.no_grad()
    def _init_weights(self, module):
        # Keras' defaults for the head (Glorot uniform, zero bias); torchvision's for VGG convs.
        if isinstance(module, nn.Linear):
            init.xavier_uniform_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, nn.Conv2d) and self.config.image_backbone == "vgg":
            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm1d):
            init.ones_(module.weight)
            init.zeros_(module.bias)

    def apply_freeze(self) -> list[nn.Module]:
        """Set ``requires_grad`` as ``config.freeze`` says; returns the frozen BatchNorm layers (kept in eval mode)."""
        rule = self.config.freeze
        kind, _, count = rule.partition(":")
        n = int(count) if count else 0
        frozen: list[nn.Module]
        if kind == "none":
            frozen = []
        elif kind == "all":
            frozen = [self.backbone]
        elif kind == "last_blocks":
            blocks = self.backbone.blocks()
            frozen = [m for block in blocks[: max(0, len(blocks) - n)] for m in block]
        elif kind == "last_layers":
            layers = _parameterised_layers(self.backbone)
            frozen = layers[: max(0, len(layers) - n)]
        else:  # first_layers
            layers = self.backbone.keras_layers() if isinstance(self.backbone, VGGFeatures) else _parameterised_layers(self.backbone)
            frozen = [m for m in layers[:n] if m is not None]
        for module in frozen:
            for p in module.parameters():
                p.requires_grad_(False)
        batchnorms = [m for f in frozen for m in f.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        for m in batchnorms:
            m.eval()
        return batchnorms

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        model = super().from_pretrained(*args, **kwargs)
        model._frozen_batchnorms = model.apply_freeze()  # loading hands back fresh, trainable parameters
        return model

    def train(self, mode: bool = True):
        super().train(mode)
        for m in getattr(self, "_frozen_batchnorms", []):
            m.eval()  # running statistics of a frozen base must not move
        return self

    def pooled_features(self, input_features: torch.Tensor) -> torch.Tensor:
        if isinstance(self.backbone, VGGFeatures):
            maps = self.backbone(input_features)
            if self.config.pooling == "avg":
                return maps.mean(dim=(2, 3))
            # Keras flattens channels-last: (h, w, c) order, the order a converted Keras head would expect.
            return maps.permute(0, 2, 3, 1).flatten(1)
        out = self.backbone(pixel_values=input_features)
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:
            pooled = out.last_hidden_state.mean(dim=(2, 3)) if out.last_hidden_state.dim() == 4 else out.last_hidden_state.mean(1)
        return pooled.flatten(1)

    def l2_penalty(self) -> torch.Tensor:
        return sum((m.weight.float() ** 2).sum() for m in self.head if isinstance(m, nn.Linear))

    def forward(self, input_features: torch.Tensor, labels: torch.Tensor | None = None, return_dict: bool | None = None,
                **kwargs) -> SequenceClassifierOutput:
        expected = (self.config.num_channels, self.config.image_size, self.config.image_size)
        if input_features.dim() != 4 or (self.config.image_backbone == "vgg" and self.config.pooling == "flatten"
                                         and tuple(input_features.shape[1:]) != expected):
            raise ValueError(f"expected images of shape (batch, {', '.join(map(str, expected))}), "
                             f"got {tuple(input_features.shape)}")
        logits = self.classifier(self.head(self.pooled_features(input_features)))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.float(), labels)
            if self.config.head_l2 and self.config.head_hidden_sizes:
                loss = loss + self.config.head_l2 * self.l2_penalty()
        return SequenceClassifierOutput(loss=loss, logits=logits)


AutoConfig.register("spectrogram_cnn", SpectrogramCNNConfig, exist_ok=True)
AutoModelForAudioClassification.register(SpectrogramCNNConfig, SpectrogramCNNForAudioClassification, exist_ok=True)
AutoFeatureExtractor.register(SpectrogramCNNConfig, SpectrogramImageFeatureExtractor, exist_ok=True)


# ---------------------------------------------------------------- pre-trained VGG weights
def _keras_vgg_state(path: Path, backbone: VGGFeatures) -> dict[str, torch.Tensor]:
    from ser_hf.models.yamnet import read_keras_h5_weights

    layers = read_keras_h5_weights(path)
    convs = [i for i, m in enumerate(backbone.features) if isinstance(m, nn.Conv2d)]
    names = [f"block{b + 1}_conv{j + 1}" for b, block in enumerate(backbone.blocks()) for j in range(len(block))]
    missing = [n for n in names if n not in layers]
    if missing:
        raise ValueError(f"{path}: not a Keras VGG-{len(convs) + 3} weight file (no layer {missing[0]}; "
                         f"layers: {sorted(layers)[:6]}...)")
    state = {}
    for index, name in zip(convs, names):
        kernel = torch.from_numpy(layers[name]["kernel"]).permute(3, 2, 0, 1)  # (h, w, in, out) -> (out, in, h, w)
        state[f"features.{index}.weight"] = kernel.contiguous()
        state[f"features.{index}.bias"] = torch.from_numpy(layers[name]["bias"])
    return state


def vgg_state_from(source: str | Path, backbone: VGGFeatures) -> dict[str, torch.Tensor]:
    """The ``features.*`` weights for ``backbone`` from a Hub id, a ``.safetensors``, a torchvision ``.pth``
    or a Keras ``.h5`` file; raises if any conv weight is missing or has the wrong shape."""
    from ser_hf.models.weights import MissingWeightsError, safe_torch_load

    depth = len([m for m in backbone.features if isinstance(m, nn.Conv2d)]) + 3
    path = Path(str(source)).expanduser()
    how = (f"VGG-{depth} ImageNet weights: pass a Hub id (timm/vgg{depth}.tv_in1k, needs the Hub), torchvision's "
           f"{TORCHVISION_VGG_FILES.get(depth, 'vgg.pth')} (https://download.pytorch.org/models/"
           f"{TORCHVISION_VGG_FILES.get(depth, '')}) or Keras' notop .h5 ({KERAS_VGG_URL.format(depth=depth)})")
    if path.suffix in (".pth", ".pt", ".h5", ".safetensors") and not path.is_file():
        raise MissingWeightsError(f"{path}: no such file. {how}")
    if path.suffix == ".h5":
        state = _keras_vgg_state(path, backbone)
    elif path.suffix in (".pth", ".pt"):
        state = {k: torch.as_tensor(v) for k, v in safe_torch_load(path).items()}
    else:
        from safetensors.torch import load_file

        if path.suffix != ".safetensors":  # a Hub id
            from huggingface_hub import hf_hub_download

            try:
                path = Path(hf_hub_download(str(source), "model.safetensors"))
            except Exception as err:  # offline, unknown repo, ...
                raise MissingWeightsError(f"cannot fetch {source!r} from the Hub ({type(err).__name__}: {err}). {how}") from err
        state = load_file(str(path))
    state = {k: v for k, v in state.items() if k.startswith("features.")}
    own = backbone.state_dict()
    missing = sorted(set(own) - set(state))
    if missing:
        raise ValueError(f"{source}: no weights for {missing[:4]} (is it a VGG-{depth}?). {how}")
    for key, value in state.items():
        if key not in own or own[key].shape != value.shape:
            raise ValueError(f"{source}: {key} has shape {tuple(value.shape)}, expected "
                             f"{tuple(own[key].shape) if key in own else 'no such weight'} (is it a VGG-{depth}?)")
    return state


# ---------------------------------------------------------------- building one
TINY_VGG_CHANNELS = (4, 8, 8, 16, 16)


def tiny_backbone_config(backbone: str) -> dict:
    """A tiny random config of the backbone's family, for CPU tests (the family read from the id).

    transformers initialises EfficientNet's BatchNorm scales from N(0, 0.02), so a random EfficientNet's
    activations vanish and it barely trains: use the tiny VGG, ResNet or MobileNet to exercise training.
    """
    name = backbone.lower()
    if "efficientnet" in name:
        from transformers import EfficientNetConfig

        return EfficientNetConfig(width_coefficient=0.25, depth_coefficient=0.25, hidden_dim=320, image_size=64)  # 320 = round_filters(1280).to_dict()
    if "mobilenet" in name:
        from transformers import MobileNetV2Config

        return MobileNetV2Config(depth_multiplier=0.25, image_size=64).to_dict()
    if "resnet" in name:
        from transformers import ResNetConfig

        return ResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 16, 32], depths=[1, 1, 1, 1]).to_dict()
    raise ValueError(f"no tiny version of {backbone!r}: tiny backbones are vgg16, vgg19, resnet, efficientnet, mobilenet")


def build_spectrogram_cnn(
    backbone: str,
    label_names: list[str],
    weights: str | None = None,
    tiny: bool = False,
    image_size: int = 224,
    random_weights: bool = False,
    **head,
) -> SpectrogramCNNForAudioClassification:
    """A spectrogram-image classifier with ImageNet weights in its backbone (or a tiny random one).

    Args:
        backbone: ``vgg16``, ``vgg19``, or a transformers image model id / folder (``microsoft/resnet-50``,
            ``timm/tf_efficientnetv2_b0.in1k`` ...).
        label_names: the classes, in label-id order.
        weights: VGG only: where its ImageNet weights come from (default the Hub's ``timm/vggNN.tv_in1k``).
        tiny: a tiny randomly initialised backbone of the same family (tests, CPU dry runs); never a fallback.
        random_weights: VGG only: the full-size network without loading ImageNet weights (timing runs).
        head: ``pooling``, ``head_hidden_sizes``, ``head_dropout``, ``head_batchnorm``, ``head_l2``, ``freeze``.
    """
    id2label = dict(enumerate(label_names))
    common = dict(num_labels=len(label_names), id2label=id2label, label2id={v: k for k, v in id2label.items()},
                  image_size=image_size, **head)
    vgg = re.fullmatch(r"vgg(16|19)", backbone.lower())
    if vgg:
        depth = int(vgg.group(1))
        config = SpectrogramCNNConfig(image_backbone="vgg", vgg_depth=depth,
                                      vgg_channels=TINY_VGG_CHANNELS if tiny else VGG_CHANNELS, **common)
        model = SpectrogramCNNForAudioClassification(config)
        if not (tiny or random_weights):
            model.backbone.load_state_dict(vgg_state_from(weights or f"timm/vgg{depth}.tv_in1k", model.backbone))
        return model
    common.setdefault("pooling", "avg")
    if random_weights and not tiny:
        raise ValueError(f"random_weights builds VGG backbones only: {backbone} takes its architecture from the Hub "
                         "(or tiny_model=tiny for a tiny random one)")
    if tiny:
        config = SpectrogramCNNConfig(image_backbone="auto", image_backbone_config=tiny_backbone_config(backbone), **common)
        return SpectrogramCNNForAudioClassification(config)
    try:
        pretrained = AutoModel.from_pretrained(backbone)
    except ImportError as err:  # the timm wrapper without timm
        raise ImportError(f"{backbone}: {err}\ntimm models need `pip install timm torchvision` with the torchvision "
                          "built for your torch (torch 2.11 -> torchvision 0.26.*)") from err
    except OSError as err:
        raise OSError(f"cannot load the image backbone {backbone!r} ({err}). Give a Hub id reachable from this machine "
                      "or a save_pretrained folder; offline, tiny_model=tiny builds a random one.") from err
    config = SpectrogramCNNConfig(image_backbone="auto", image_backbone_config=pretrained.config.to_dict(), **common)
    model = SpectrogramCNNForAudioClassification(config)
    model.backbone.load_state_dict(pretrained.state_dict())
    return model
