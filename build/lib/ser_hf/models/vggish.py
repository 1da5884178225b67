"""VGGish (Hershey et al., ICASSP 2017) in PyTorch as a ``transformers`` model, and its weight converter.

The network is the published VGG-like stack (``vggish_slim.py``; the layer list of the PyTorch
port harritaylor/torchvggish): on a 96 x 64 log-mel patch,
conv3x3-64 -> maxpool2 -> conv128 -> maxpool2 -> conv256 x 2 -> maxpool2 -> conv512 x 2 -> maxpool2
(all ReLU, "same" padding; 6 x 4 x 512 left), flattened in TensorFlow's height-width-channel order,
then fc 4096 -> fc 4096 -> fc 128. The port ends with a ReLU on the 128-d embedding
(``embedding_relu``); the optional AudioSet postprocessor (PCA + whitening, clip to [-2, 2],
8-bit quantisation; ``postprocess=True``) is what the released AudioSet embeddings went through.

Weights: the PyTorch port's state dict ``vggish-10086976.pth`` has exactly this module's key names
(``features.{0,3,6,8,11,13}.*``, ``embeddings.{0,2,4}.*``), so conversion is a checked
``load_state_dict``. Convert once, then load the folder::

    curl -L -o vggish-10086976.pth https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth
    python -m ser_hf.models.vggish vggish-10086976.pth models/vggish
    VGGishModel.from_pretrained("models/vggish")

Seed 000 uses the mean of a file's 128-d embeddings; seed 003 every 0.96-s frame.
"""

from __future__ import annotations

import argparse
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, PreTrainedConfig, PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from ser_hf.models.patch_frontend import LogMelPatchFeatureExtractor, vggish_feature_extractor
from ser_hf.models.weights import as_tensor, is_pretrained_dir, require_file, safe_torch_load, weights_dir

logger = logging.getLogger(__name__)

VGGISH_WEIGHTS_URL = "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth"
VGGISH_PCA_URL = "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish_pca_params-970ea276.pth"
VGGISH_WEIGHTS_FILE = "vggish-10086976.pth"
VGGISH_CONVERT = "python -m ser_hf.models.vggish vggish-10086976.pth OUT_DIR [--pca vggish_pca_params-970ea276.pth]"
# The published layout (torchvggish ``make_layers``): channels of each 3x3 conv, "M" for a 2x2 max pool.
VGGISH_CONV_LAYOUT = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M"]
QUANTIZE_MIN, QUANTIZE_MAX = -2.0, 2.0


def vgg_conv_stack(layout, in_channels: int) -> tuple[nn.Sequential, int]:
    """VGG's convolutional stack in torchvision's module order (3x3 conv + ReLU per channel count, a 2x2 max
    pool per ``"M"``), so published state dicts load by index; returns it and its output channels.
    Shared by VGGish and the ImageNet VGGs of :mod:`ser_hf.models.image_cnn`."""
    layers: list[nn.Module] = []
    for v in layout:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_channels, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers), in_channels


@strict
class VGGishConfig(PreTrainedConfig):
    """VGGish's architecture (defaults: the published network).

    conv_layout: channels of each 3x3 conv, ``"M"`` for a 2x2 max pool, in order.
    hidden_sizes: the fully connected layers before the embedding layer.
    embedding_size: size of the embedding (128).
    embedding_relu: ReLU after the embedding layer, as in the PyTorch port whose weights load here (and in
        the first TensorFlow release); the current ``vggish_slim.py`` has none (``activation_fn=None``): False.
    postprocess: apply the AudioSet PCA/whitening + 8-bit quantisation (needs the PCA parameters).
    num_frames, num_mel_bins: patch size (96 x 64).
    """

    model_type = "vggish"

    conv_layout: list[int | str] | tuple[int | str, ...] = tuple(VGGISH_CONV_LAYOUT)
    hidden_sizes: list[int] | tuple[int, ...] = (4096, 4096)
    embedding_size: int = 128
    embedding_relu: bool = True
    postprocess: bool = False
    num_frames: int = 96
    num_mel_bins: int = 64

    def validate_architecture(self):
        pools = sum(1 for v in self.conv_layout if v == "M")
        if any(not (v == "M" or (isinstance(v, int) and v > 0)) for v in self.conv_layout):
            raise ValueError(f"conv_layout holds positive channel counts and 'M', got {self.conv_layout}")
        if self.num_frames % 2**pools or self.num_mel_bins % 2**pools:
            raise ValueError(f"a {self.num_frames}x{self.num_mel_bins} patch cannot be halved {pools} times")

    @property
    def flat_size(self) -> int:
        pools = sum(1 for v in self.conv_layout if v == "M")
        channels = [v for v in self.conv_layout if v != "M"][-1]
        return channels * (self.num_frames // 2**pools) * (self.num_mel_bins // 2**pools)


@dataclass
class VGGishOutput(ModelOutput):
    """embeddings: (batch, embedding_size); after PCA + quantisation (values 0..255) when ``postprocess``."""

    embeddings: torch.FloatTensor | None = None


class VGGishModel(PreTrainedModel):
    """VGGish: log-mel patches ``(batch, 96, 64)`` (or ``(batch, 1, 96, 64)``) -> embeddings ``(batch, 128)``."""

    config_class = VGGishConfig
    config: VGGishConfig
    base_model_prefix = "vggish"
    main_input_name = "input_features"

    def __init__(self, config: VGGishConfig):
        super().__init__(config)
        self.features, _ = vgg_conv_stack(config.conv_layout, in_channels=1)
        sizes = [config.flat_size, *config.hidden_sizes]
        head: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            head += [nn.Linear(a, b), nn.ReLU(inplace=True)]
        head.append(nn.Linear(sizes[-1], config.embedding_size))
        if config.embedding_relu:
            head.append(nn.ReLU(inplace=True))
        self.embeddings = nn.Sequential(*head)
        if config.postprocess:
            self.register_buffer("pca_eigen_vectors", torch.eye(config.embedding_size))
            self.register_buffer("pca_means", torch.zeros(config.embedding_size))
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module):
        # torchvision's VGG initialisation: random-weight embeddings keep a sensible scale through 6 convs.
        if isinstance(module, nn.Conv2d):
            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            init.normal_(module.weight, 0.0, 0.01)
            init.zeros_(module.bias)
        elif module is self and self.config.postprocess:
            init.copy_(self.pca_eigen_vectors, torch.eye(self.config.embedding_size))
            init.zeros_(self.pca_means)

    def forward(self, input_features: torch.Tensor, return_dict: bool | None = None, **kwargs) -> VGGishOutput:
        x = input_features.unsqueeze(1) if input_features.dim() == 3 else input_features
        x = self.features(x)
        # Flatten as TensorFlow does (height, width, channel): the order the fc weights expect.
        x = x.permute(0, 2, 3, 1).flatten(1)
        embeddings = self.embeddings(x)
        if self.config.postprocess:
            pca = (embeddings - self.pca_means) @ self.pca_eigen_vectors.T
            clipped = pca.clamp(QUANTIZE_MIN, QUANTIZE_MAX)
            embeddings = torch.round((clipped - QUANTIZE_MIN) * (255.0 / (QUANTIZE_MAX - QUANTIZE_MIN)))
        if return_dict is False:
            return (embeddings,)
        return VGGishOutput(embeddings=embeddings)


AutoConfig.register("vggish", VGGishConfig, exist_ok=True)
AutoModel.register(VGGishConfig, VGGishModel, exist_ok=True)
AutoFeatureExtractor.register(VGGishConfig, LogMelPatchFeatureExtractor, exist_ok=True)


def torchvggish_keys(conv_layout=VGGISH_CONV_LAYOUT, num_hidden: int = 2) -> list[str]:
    """The state-dict keys of the PyTorch port for a layout (the published one by default)."""
    keys, index = [], 0
    for v in conv_layout:
        if v == "M":
            index += 1
        else:
            keys += [f"features.{index}.weight", f"features.{index}.bias"]
            index += 2
    for i in range(num_hidden + 1):
        keys += [f"embeddings.{2 * i}.weight", f"embeddings.{2 * i}.bias"]
    return keys


def _config_from_state_dict(state: dict, embedding_relu: bool, postprocess: bool) -> VGGishConfig:
    """Infer the layout from the port's key names and shapes (the published file gives the published config)."""
    conv_indices = sorted(int(k.split(".")[1]) for k in state if k.startswith("features.") and k.endswith(".weight"))
    layout: list[int | str] = []
    index = 0
    for conv_index in conv_indices:
        while index < conv_index:  # modules between two convs (after the ReLU) are pools
            layout.append("M")
            index += 1
        layout.append(int(state[f"features.{conv_index}.weight"].shape[0]))
        index += 2
    # The port's stack ends with a pool after the last conv, as every conv block does.
    layout.append("M")
    fc_indices = sorted(int(k.split(".")[1]) for k in state if k.startswith("embeddings.") and k.endswith(".weight"))
    hidden = [int(state[f"embeddings.{i}.weight"].shape[0]) for i in fc_indices[:-1]]
    embedding_size = int(state[f"embeddings.{fc_indices[-1]}.weight"].shape[0])
    return VGGishConfig(conv_layout=layout, hidden_sizes=hidden, embedding_size=embedding_size,
                        embedding_relu=embedding_relu, postprocess=postprocess)


def convert_torchvggish_checkpoint(
    weights_path: str | Path, pca_path: str | Path | None = None, embedding_relu: bool = True
) -> VGGishModel:
    """A :class:`VGGishModel` holding the weights of the PyTorch port's ``vggish-10086976.pth``.

    Every key of the file must map to a parameter and every parameter must be in the file (no
    silent partial load). With ``pca_path`` (``vggish_pca_params-970ea276.pth``: ``pca_eigen_vectors``
    (128, 128) and ``pca_means`` (128,) or (128, 1)) the AudioSet postprocessor is switched on.
    """
    weights_path = require_file(weights_path, "VGGish", VGGISH_WEIGHTS_URL, VGGISH_CONVERT)
    state = {k: as_tensor(v) for k, v in safe_torch_load(weights_path).items()}
    foreign = [k for k in state if not re.fullmatch(r"(features|embeddings)\.\d+\.(weight|bias)", k)]
    prefixes = {k.split(".")[0] for k in state}
    if foreign or prefixes != {"features", "embeddings"}:
        raise ValueError(f"{weights_path}: not a torchvggish VGGish state dict (keys {sorted(state)[:6]}...)")
    config = _config_from_state_dict(state, embedding_relu, postprocess=pca_path is not None)
    expected = torchvggish_keys(config.conv_layout, len(config.hidden_sizes))
    if sorted(state) != sorted(expected):
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        raise ValueError(f"{weights_path}: not a torchvggish VGGish state dict (missing {missing[:6]}, "
                         f"unexpected {unexpected[:6]})")
    model = VGGishModel(config)
    own = model.state_dict()
    for key, value in state.items():
        if own[key].shape != value.shape:
            raise ValueError(f"{weights_path}: {key} has shape {tuple(value.shape)}, expected {tuple(own[key].shape)}")
    if pca_path is not None:
        pca_path = require_file(pca_path, "VGGish PCA parameters", VGGISH_PCA_URL, VGGISH_CONVERT)
        pca = safe_torch_load(pca_path)
        if set(pca) < {"pca_eigen_vectors", "pca_means"}:
            raise ValueError(f"{pca_path}: expected keys pca_eigen_vectors and pca_means, got {sorted(pca)}")
        state["pca_eigen_vectors"] = as_tensor(pca["pca_eigen_vectors"]).float()
        state["pca_means"] = as_tensor(pca["pca_means"]).float().reshape(-1)
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)
    return model.eval()


def load_vggish(weights: str | Path | None = None, random_weights: bool = False, seed: int = 0) -> VGGishModel:
    """VGGish from a ``save_pretrained`` folder or the port's ``.pth`` (default: ``$SER_HF_CACHE/weights/``).

    ``random_weights=True`` builds the published architecture with random weights (tests, timing);
    it is never a fallback for a missing file, which raises with download instructions.
    """
    if random_weights:
        torch.manual_seed(seed)
        return VGGishModel(VGGishConfig()).eval()
    if weights is None:
        converted = weights_dir() / "vggish"
        weights = converted if is_pretrained_dir(converted) else weights_dir() / VGGISH_WEIGHTS_FILE
    weights = Path(weights)
    if is_pretrained_dir(weights):
        return VGGishModel.from_pretrained(str(weights)).eval()
    return convert_torchvggish_checkpoint(weights)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Convert the PyTorch port's VGGish weights to a save_pretrained folder.")
    parser.add_argument("weights", help=f"path to {VGGISH_WEIGHTS_FILE} ({VGGISH_WEIGHTS_URL})")
    parser.add_argument("output_dir", help="folder to write (config.json, model.safetensors, preprocessor_config.json)")
    parser.add_argument("--pca", default=None, help=f"optional PCA parameters ({VGGISH_PCA_URL})")
    parser.add_argument("--no-embedding-relu", action="store_true",
                        help="drop the ReLU after the 128-d layer (the TF release's later behaviour)")
    args = parser.parse_args(argv)
    model = convert_torchvggish_checkpoint(args.weights, args.pca, embedding_relu=not args.no_embedding_relu)
    model.save_pretrained(args.output_dir)
    vggish_feature_extractor().save_pretrained(args.output_dir)
    print(f"VGGish written to {args.output_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
