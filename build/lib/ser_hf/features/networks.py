"""Embeddings of the pretrained audio networks VGGish and YAMNet, frozen, for :func:`ser_hf.features.extract.extract`.

The networks themselves (and their weight converters) are in :mod:`ser_hf.models.vggish` and
:mod:`ser_hf.models.yamnet`: the same modules are fine-tuned with a head by ``method: patch_finetune``.
"""

from __future__ import annotations

from pathlib import Path

from ser_hf.features.extract import TorchPatchExtractor
from ser_hf.models.patch_frontend import vggish_feature_extractor, yamnet_feature_extractor
from ser_hf.models.vggish import VGGishModel, load_vggish
from ser_hf.models.yamnet import YAMNetModel, load_yamnet


class VGGishExtractor(TorchPatchExtractor):
    """VGGish embeddings per 0.96-s example (128-d) for :func:`ser_hf.features.extract.extract`."""

    def __init__(self, weights: str | Path | None = None, random_weights: bool = False, seed: int = 0,
                 model: VGGishModel | None = None, pad_mode: str = "minimum", max_patches_per_forward: int = 256):
        model = model if model is not None else load_vggish(weights, random_weights, seed)
        super().__init__("vggish", model, vggish_feature_extractor(pad_mode), max_patches_per_forward)


class YAMNetExtractor(TorchPatchExtractor):
    """YAMNet embeddings per 0.975-s window, hop 0.48 s (1024-d) for :func:`ser_hf.features.extract.extract`."""

    def __init__(self, weights: str | Path | None = None, random_weights: bool = False, seed: int = 0,
                 model: YAMNetModel | None = None, max_patches_per_forward: int = 256):
        model = model if model is not None else load_yamnet(weights, random_weights, seed)
        super().__init__("yamnet", model, yamnet_feature_extractor(), max_patches_per_forward)
