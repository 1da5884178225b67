"""VGGish / YAMNet with a classification head, trained end to end (seed 000) or on a frozen backbone (seed 001).

A file is a bag of 0.96-s log-mel patches: all real patches of a batch run through the backbone in one
flat batch, their embeddings are averaged per file (seed 000's pooling; padding patches are left out, so
a file's logits do not depend on its batch), and a dense head (dropout, ReLU hidden layers, a linear layer)
gives the logits. Seed 000: ``head_hidden_sizes=()`` (FC + softmax), all trained; seed 001: YAMNet,
``freeze_backbone=True``, ``head_hidden_sizes=(256,)``, ``head_dropout=0.3..0.5``.

Importing this module registers the model with ``AutoModelForAudioClassification`` and the feature
extractor with ``AutoFeatureExtractor``, so ``pipeline("audio-classification", model=folder)`` loads a saved folder::

    model, fe = build_patch_classifier("yamnet", ["angry", "happy"], weights="yamnet.h5", freeze_backbone=True)
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import AutoConfig, AutoFeatureExtractor, AutoModelForAudioClassification, PreTrainedConfig
from transformers import initialization as init
from transformers.feature_extraction_utils import BatchFeature
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.modeling_utils import PreTrainedModel
from transformers.utils import can_return_tuple

from ser_hf.models.patch_frontend import IGNORED_ARGUMENTS, LogMelPatchFeatureExtractor, vggish_feature_extractor, yamnet_feature_extractor
from ser_hf.models.vggish import VGGishConfig, VGGishModel, load_vggish
from ser_hf.models.yamnet import YAMNetConfig, YAMNetModel, load_yamnet

BACKBONES = {"vggish": (VGGishConfig, VGGishModel), "yamnet": (YAMNetConfig, YAMNetModel)}
# Small random backbones for CPU tests and dry runs (16-d / 32-d embeddings).
TINY_BACKBONES = {
    "vggish": {"conv_layout": [8, "M", 16, "M", 16, "M", 16, "M"], "hidden_sizes": [32], "embedding_size": 16},
    "yamnet": {"layer_defs": [["conv", 2, 8], ["separable", 2, 16], ["separable", 2, 32]], "include_classifier": False},
}
_FRONTEND_SETTINGS = ("sampling_rate", "window_seconds", "hop_seconds", "num_mel_bins", "lower_edge_hertz",
                      "upper_edge_hertz", "log_offset", "patch_window_seconds", "patch_hop_seconds", "pad_mode")


class PatchClassifierFeatureExtractor(LogMelPatchFeatureExtractor):
    """The VGGish/YAMNet front end with patches grouped per file, for :class:`PatchEmbeddingForAudioClassification`.

    Returns ``input_features`` ``(batch, max_patches, 96, 64)`` (zero patches after a file's last one)
    and ``patch_mask`` ``(batch, max_patches)`` (1 = real patch). Every file yields at least one patch,
    so ``pad_mode="none"`` (no patch under 0.975 s) is refused.
    """

    model_input_names: ClassVar[list[str]] = ["input_features", "patch_mask"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.pad_mode == "none":
            raise ValueError("pad_mode='none' gives no patch for files under 0.975 s; use 'minimum' or 'yamnet'")

    @classmethod
    def for_vggish(cls) -> PatchClassifierFeatureExtractor:
        """VGGish's published front end; files under 0.975 s padded with silence to one example."""
        return cls(**{name: getattr(vggish_feature_extractor("minimum"), name) for name in _FRONTEND_SETTINGS})

    @classmethod
    def for_yamnet(cls) -> PatchClassifierFeatureExtractor:
        """YAMNet's published front end (0.96-s patches every 0.48 s, ``pad_waveform``)."""
        return cls(**{name: getattr(yamnet_feature_extractor(), name) for name in _FRONTEND_SETTINGS})

    def __call__(self, raw_speech: np.ndarray | torch.Tensor | Sequence[np.ndarray | torch.Tensor],
                 sampling_rate: int | None = None, return_tensors: str | None = "pt", **kwargs) -> BatchFeature:
        unknown = set(kwargs) - IGNORED_ARGUMENTS
        if unknown:
            raise TypeError(f"unexpected arguments: {sorted(unknown)}")
        if return_tensors not in ("pt", "np", None):
            raise ValueError(f"return_tensors must be 'pt' or 'np', got {return_tensors!r}")
        flat = super().__call__(raw_speech, sampling_rate=sampling_rate, return_tensors="pt")
        counts = flat["patch_counts"]
        per_file = torch.split(flat["input_features"], counts.tolist())
        features = (nn.utils.rnn.pad_sequence(per_file, batch_first=True) if per_file
                    else torch.empty(0, 0, self.patch_frames, self.num_mel_bins))
        mask = (torch.arange(features.shape[1]) < counts[:, None]).long()
        data = {"input_features": features, "patch_mask": mask}
        if return_tensors == "np":
            data = {k: v.cpu().numpy() for k, v in data.items()}
        return BatchFeature(data)


@strict
class PatchClassifierConfig(PreTrainedConfig):
    """A VGGish/YAMNet backbone, mean pooling over a file's patches, and a dense head.

    backbone_type: ``"vggish"`` or ``"yamnet"``.
    backbone_config: the backbone's ``config.to_dict()`` (``None``: the published architecture).
    head_hidden_sizes: hidden layers of the head (each dropout -> linear -> ReLU); ``()`` is one FC + softmax.
    head_dropout: dropout before every linear layer of the head.
    freeze_backbone: train the head only; the backbone stays in eval mode (YAMNet's batch-norm statistics fixed).
    """

    model_type = "patch_embedding_classifier"

    backbone_type: str = "vggish"
    backbone_config: dict | None = None
    head_hidden_sizes: list[int] | tuple[int, ...] = ()
    head_dropout: float = 0.0
    freeze_backbone: bool = False

    def validate_architecture(self):
        if self.backbone_type not in BACKBONES:
            raise ValueError(f"backbone_type must be one of {sorted(BACKBONES)}, got {self.backbone_type!r}")
        if not 0.0 <= self.head_dropout < 1.0 or any(int(h) < 1 for h in self.head_hidden_sizes):
            raise ValueError(f"bad head: hidden sizes {self.head_hidden_sizes}, dropout {self.head_dropout}")


class PatchEmbeddingForAudioClassification(PreTrainedModel):
    """``input_features`` ``(batch, patches, 96, 64)`` + ``patch_mask`` -> logits ``(batch, num_labels)``."""

    config_class = PatchClassifierConfig
    config: PatchClassifierConfig
    base_model_prefix = "backbone"
    main_input_name = "input_features"

    def __init__(self, config: PatchClassifierConfig):
        super().__init__(config)
        backbone_config_class, backbone_class = BACKBONES[config.backbone_type]
        self.backbone = backbone_class(backbone_config_class.from_dict(dict(config.backbone_config or {})))
        layers: list[nn.Module] = []
        size = self.backbone.config.embedding_size
        for hidden in config.head_hidden_sizes:
            layers += [nn.Dropout(config.head_dropout), nn.Linear(size, int(hidden)), nn.ReLU()]
            size = int(hidden)
        layers += [nn.Dropout(config.head_dropout), nn.Linear(size, config.num_labels)]
        self.head = nn.Sequential(*layers)
        self.post_init()
        self._freeze_backbone()

    def _freeze_backbone(self):
        if self.config.freeze_backbone:
            self.backbone.requires_grad_(False)
            self.backbone.eval()

    @classmethod
    def from_pretrained(cls, *args, **kwargs):  # loading makes new parameters, which require grad
        loaded = super().from_pretrained(*args, **kwargs)
        (loaded[0] if isinstance(loaded, tuple) else loaded)._freeze_backbone()
        return loaded

    @torch.no_grad()
    def _init_weights(self, module):
        # Head only: initialize_weights hands the backbone to its own _init_weights; loaded tensors are skipped.
        if isinstance(module, nn.Linear):
            init.xavier_uniform_(module.weight)
            init.zeros_(module.bias)

    def train(self, mode: bool = True):
        """``nn.Module.train``, but a frozen backbone stays in eval mode (batch norm uses, never updates, its stats)."""
        super().train(mode)
        if self.config.freeze_backbone and hasattr(self, "backbone"):
            self.backbone.eval()
        return self

    @can_return_tuple
    def forward(self, input_features: torch.Tensor, patch_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, **kwargs) -> SequenceClassifierOutput:
        if input_features.dim() == 3:  # one file's patches
            input_features = input_features.unsqueeze(0)
            patch_mask = None if patch_mask is None else patch_mask.reshape(1, -1)
        if patch_mask is None:
            patch_mask = torch.ones(input_features.shape[:2], dtype=torch.long, device=input_features.device)
        mask = patch_mask.bool()
        counts = mask.sum(dim=1)
        if bool((counts == 0).any()):
            raise ValueError("every file needs at least one real patch (patch_mask row of zeros)")
        patches = input_features[mask].to(self.dtype)  # real patches only, file by file
        with torch.no_grad() if self.config.freeze_backbone else contextlib.nullcontext():
            embeddings = self.backbone(patches).embeddings
        file_index = mask.nonzero()[:, 0]
        pooled = embeddings.new_zeros(mask.shape[0], embeddings.shape[-1]).index_add_(0, file_index, embeddings)
        pooled = pooled / counts[:, None].to(pooled.dtype)
        logits = self.head(pooled)
        loss = None if labels is None else F.cross_entropy(logits.float(), labels.to(logits.device).long())
        return SequenceClassifierOutput(loss=loss, logits=logits)

    @classmethod
    def from_backbone(cls, backbone: VGGishModel | YAMNetModel, label_names: Sequence[str],
                      head_hidden_sizes: Sequence[int] = (), head_dropout: float = 0.0,
                      freeze_backbone: bool = False) -> PatchEmbeddingForAudioClassification:
        """A classifier holding ``backbone``'s weights (e.g. the published ones from ``load_vggish``).

        Left out: YAMNet's 521-class AudioSet head (unused, and unused parameters break DDP) and VGGish's
        PCA + 8-bit quantisation (rounding passes no gradient): the head reads the raw embedding.
        """
        backbone_type = next((name for name, (_, klass) in BACKBONES.items() if isinstance(backbone, klass)), None)
        if backbone_type is None:
            raise TypeError(f"backbone must be a VGGishModel or YAMNetModel, got {type(backbone).__name__}")
        label_names = [str(n) for n in label_names]
        if len(set(label_names)) != len(label_names) or len(label_names) < 2:
            raise ValueError(f"label_names must be at least two distinct names, got {label_names}")
        backbone_config = {k: v for k, v in backbone.config.to_dict().items()
                           if k not in ("id2label", "label2id", "architectures")}  # those of the AudioSet head
        backbone_config.update({"include_classifier": False} if backbone_type == "yamnet" else {"postprocess": False})
        config = PatchClassifierConfig(
            backbone_type=backbone_type, backbone_config=backbone_config, head_hidden_sizes=tuple(head_hidden_sizes),
            head_dropout=float(head_dropout), freeze_backbone=freeze_backbone,
            id2label=dict(enumerate(label_names)), label2id={n: i for i, n in enumerate(label_names)})
        model = cls(config)
        own = model.backbone.state_dict()
        model.backbone.load_state_dict({k: v for k, v in backbone.state_dict().items() if k in own}, strict=True)
        return model


def build_patch_classifier(backbone_type: str, label_names: Sequence[str], weights: str | Path | None = None,
                           random_weights: bool = False, tiny: bool = False, seed: int = 0, **head
                           ) -> tuple[PatchEmbeddingForAudioClassification, PatchClassifierFeatureExtractor]:
    """(model, feature extractor) for ``backbone_type`` with a new head for ``label_names``.

    The backbone comes from ``load_vggish`` / ``load_yamnet`` (``weights``: ``.pth`` / ``.h5`` or a converted
    folder), which raise ``MissingWeightsError`` with download instructions for a missing file; ``random_weights``
    (published architecture) and ``tiny`` (small, for tests) are random and never a fallback.
    ``head``: ``head_hidden_sizes``, ``head_dropout``, ``freeze_backbone``.
    """
    if backbone_type not in BACKBONES:
        raise ValueError(f"backbone_type must be one of {sorted(BACKBONES)}, got {backbone_type!r}")
    if tiny:
        if weights is not None:
            raise ValueError("tiny=True builds a random backbone; it takes no weights")
        torch.manual_seed(seed)
        config_class, model_class = BACKBONES[backbone_type]
        backbone = model_class(config_class(**TINY_BACKBONES[backbone_type]))
    elif backbone_type == "vggish":
        backbone = load_vggish(weights, random_weights=random_weights, seed=seed)
    else:
        backbone = load_yamnet(weights, random_weights=random_weights, seed=seed, include_classifier=False)
    torch.manual_seed(seed)
    model = PatchEmbeddingForAudioClassification.from_backbone(backbone, label_names, **head)
    extractor = (PatchClassifierFeatureExtractor.for_vggish() if backbone_type == "vggish"
                 else PatchClassifierFeatureExtractor.for_yamnet())
    return model, extractor


AutoConfig.register(PatchClassifierConfig.model_type, PatchClassifierConfig, exist_ok=True)
AutoModelForAudioClassification.register(PatchClassifierConfig, PatchEmbeddingForAudioClassification, exist_ok=True)
AutoFeatureExtractor.register(PatchClassifierConfig, PatchClassifierFeatureExtractor, exist_ok=True)
