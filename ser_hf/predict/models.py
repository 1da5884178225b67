"""The models of a ``ser-hf predict`` run, side by side, and their batched probabilities.

``--model`` takes a train.py run folder, a Hub id (``ORG/NAME@REVISION`` for a branch, tag or commit), or an ONNX
export (``ser-hf export``'s ``RUN/onnx`` folder, run by onnxruntime), as ``SOURCE`` or ``NAME=SOURCE``. Their
labels are checked before any weight loads: models whose classes differ are refused unless ``--label-view``
names a label set they are all mapped to (as the Space's view switch does, :func:`ser_hf.inference.to_label_view`).

Batches: clips of different lengths share one forward pass, zero-padded with an attention mask, only where that is
exact: wav2vec2 / HuBERT / WavLM classifiers with :func:`~ser_hf.models.audio_encoders.mask_padding_in_feature_encoder`
installed give every clip of a padded batch its unpadded logits (to ~1e-7). Every other model (data2vec-audio,
whose positional convolutions see the padding; ONNX exports, which take no mask; ser-hf's spectrogram models) gets
batches of equal-shaped inputs only (:func:`~ser_hf.inference.equal_shape_batches`), which pads nothing.
Models whose encoders hold the same weights run it once per batch (:func:`~ser_hf.inference.shared_encoder_logits`).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


class ModelError(ValueError):
    """A --model that cannot be used, or models that cannot run side by side; the message says which."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    source: str
    onnx: Path | None = None  # the .onnx file of an ONNX export


def _onnx_file(source: str) -> Path | None:
    path = Path(source)
    if path.is_file() and path.suffix == ".onnx":
        return path
    if path.is_dir() and (path / "model.onnx").is_file() and not (path / "model.safetensors").is_file():
        return path / "model.onnx"
    return None


def _default_name(source: str) -> str:
    from ser_hf.inference import split_revision

    path = Path(source)
    if path.exists():
        folder = path.parent if path.is_file() else path
        name = f"{folder.parent.name}-onnx" if folder.name == "onnx" else folder.name
    else:
        name = split_revision(source)[0].rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[^\w.-]+", "_", name) or "model"


def parse_models(values: list[str]) -> list[ModelSpec]:
    """``--model`` values as specs with unique names (a repeated name gets ``-2``, ``-3``)."""
    if not values:
        raise ModelError("no model: give --model RUN_DIR, --model ORG/NAME[@REVISION] or --model RUN_DIR/onnx")
    specs, taken = [], set()
    for value in values:
        name, sep, source = value.partition("=")
        if not sep or not name or "/" in name or Path(value).exists():
            name, source = _default_name(value), value
        base, k = name, 2
        while name in taken:
            name, k = f"{base}-{k}", k + 1
        taken.add(name)
        specs.append(ModelSpec(name, source, _onnx_file(source)))
    return specs


def _labels_of(spec: ModelSpec) -> list[str]:
    """The classes of a model in id order, from its config alone (no weights loaded)."""
    if spec.onnx is not None:
        config = spec.onnx.parent / "config.json"
        if not config.is_file():
            raise ModelError(f"model {spec.name!r}: {config} missing (ser-hf export writes it beside model.onnx)")
        data = json.loads(config.read_text())
        id2label = {int(k): v for k, v in data.get("id2label", {}).items()}
    else:
        import ser_hf  # noqa: F401  (ser-hf's own model types known to the Auto classes)
        from transformers import AutoConfig

        from ser_hf.inference import split_revision

        repo, revision = split_revision(spec.source)
        try:
            config = AutoConfig.from_pretrained(repo, revision=revision)
        except (OSError, ValueError) as err:
            raise ModelError(f"model {spec.name!r}: cannot load {spec.source!r} ({err}). Give a train.py output "
                             "folder, its onnx/ export, or a Hub id[@revision] reachable from this machine") from None
        id2label = dict(config.id2label)
    if not id2label:
        raise ModelError(f"model {spec.name!r}: its config has no id2label")
    return [id2label[i] for i in range(len(id2label))]


def label_alignment(labels_of: dict[str, list[str]], view: str | None) -> tuple[list[str], dict[str, np.ndarray]]:
    """The run's classes and, per model, the matrix that maps its probabilities onto them.

    Without a view every model must have the same classes (any order); with one, each model's classes are mapped
    through :func:`ser_hf.inference.to_label_view` (classes the view leaves out are dropped, the rest renormalised).
    """
    from ser_hf.inference import to_label_view

    names = list(labels_of)
    if view:
        from ser_hf.data.labels import get_label_set

        classes = list(get_label_set(view).classes)
        maps = {}
        for name, labels in labels_of.items():
            m = np.zeros((len(labels), len(classes)), dtype=np.float64)
            for i, label in enumerate(labels):
                for target in to_label_view({label: 1.0}, view):
                    m[i, classes.index(target)] = 1.0
            if not m.any():
                raise ModelError(f"model {name!r}: none of its classes {labels} maps into label view {view!r}")
            maps[name] = m
        return classes, maps
    classes = labels_of[names[0]]
    for name in names[1:]:
        if sorted(labels_of[name]) != sorted(classes):
            raise ModelError(
                f"models {names[0]!r} and {name!r} predict different classes ({', '.join(classes)} vs "
                f"{', '.join(labels_of[name])}); run them separately or map both with --label-view NAME "
                "(e.g. realtime4)")
    maps = {}
    for name, labels in labels_of.items():
        m = np.zeros((len(labels), len(classes)), dtype=np.float64)
        for i, label in enumerate(labels):
            m[i, classes.index(label)] = 1.0
        maps[name] = m
    return classes, maps


class _OnnxModel:
    def __init__(self, spec: ModelSpec, threads: int | None):
        from transformers import AutoFeatureExtractor

        from ser_hf.export import onnx_session

        self.session = onnx_session(spec.onnx, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.extractor = AutoFeatureExtractor.from_pretrained(spec.onnx.parent)

    def logits(self, batch: dict) -> np.ndarray:
        x = batch[self.input_name]
        x = x.numpy() if hasattr(x, "numpy") else np.asarray(x)
        return self.session.run(["logits"], {self.input_name: x.astype(np.float32)})[0].astype(np.float32)


@dataclass
class _Unit:
    """Models run by one forward pass per batch: a torch encoder group, or one ONNX model."""

    names: list[str]
    extractor: object
    paddable: bool
    torch_models: list | None = None
    onnx: _OnnxModel | None = None


class Predictor:
    """Every model of a run; :meth:`probabilities` gives each model's class probabilities for a list of clips."""

    def __init__(self, specs: list[ModelSpec], device: str = "cpu", precision: str = "fp32",
                 label_view: str | None = None, batch_size: int = 8, threads: int | None = None):
        labels_of = {s.name: _labels_of(s) for s in specs}  # before any weights: refuse mismatches at once
        self.classes, self._maps = label_alignment(labels_of, label_view)
        self.names = [s.name for s in specs]
        self.sources = {s.name: s.source for s in specs}
        self.device, self.precision, self.batch_size = device, precision, batch_size
        self.units: list[_Unit] = []
        self._loaded = []  # float32 models as loaded; the streams' models are prepared from them
        torch_specs = [s for s in specs if s.onnx is None]
        if torch_specs:
            from ser_hf.inference import EmotionModels, load_model

            for spec in torch_specs:
                try:
                    self._loaded.append(load_model(spec.name, spec.source, device))
                except OSError as err:
                    raise ModelError(str(err)) from None
            for group in EmotionModels(self._loaded, device).groups.values():
                models = [self._prepare(m.model) for m in group]
                self.units.append(_Unit([m.name for m in group], group[0].extractor, all(p for _, p in models),
                                        torch_models=[m for m, _ in models]))
        for spec in specs:
            if spec.onnx is not None:
                model = _OnnxModel(spec, threads)
                self.units.append(_Unit([spec.name], model.extractor, False, onnx=model))
        order = {n: i for i, n in enumerate(self.names)}
        self.units.sort(key=lambda u: order[u.names[0]])

    def _prepare(self, model) -> tuple[object, bool]:
        """A model ready to run: the CPU fast path where asked, the padding-aware group norm installed; and whether
        its padded batches are exact. Each stream gets its own (the fast path's CNN wrapper and the group norm's
        frame counts belong to one model object)."""
        import copy

        from ser_hf.inference import cpu_fast_path
        from ser_hf.models.audio_encoders import pads_exactly

        model = copy.deepcopy(model)
        if self.precision == "fast" and self.device == "cpu":
            model = cpu_fast_path(model)
        return model, pads_exactly(model)

    def _run(self, unit: _Unit, batch: dict) -> list[np.ndarray]:
        if unit.onnx is not None:
            return [unit.onnx.logits(batch)]
        import torch

        from ser_hf.inference import shared_encoder_logits

        if self.precision == "fast" and self.device != "cpu":  # bf16 autocast on an accelerator: each model whole
            device = torch.device(self.device)
            batch = {k: v.to(device) for k, v in batch.items()}
            with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16):
                return [m(**batch).logits.float().cpu().numpy() for m in unit.torch_models]
        with torch.inference_mode():
            return [o.cpu().numpy() for o in shared_encoder_logits(unit.torch_models, batch, self.device)]

    def _unit_logits(self, unit: _Unit, waves: list[np.ndarray]) -> list[np.ndarray]:
        from ser_hf.inference import clip_inputs, inference_batches

        inputs = [clip_inputs(unit.extractor, w) for w in waves]
        results = [np.empty((len(waves), 0), np.float32) for _ in unit.names]
        # paddable: zero padding and an attention mask, exact for these models (see the module docstring)
        for rows, batch in inference_batches(inputs, self.batch_size, unit.paddable):
            for r, logits in enumerate(self._run(unit, batch)):
                if results[r].shape[1] == 0:
                    results[r] = np.empty((len(waves), logits.shape[1]), np.float32)
                results[r][rows] = logits
        return results

    def probabilities(self, waves: list[np.ndarray]) -> dict[str, np.ndarray]:
        """``{model: (len(waves), len(classes))}`` probabilities over the run's classes, rows in ``waves`` order."""
        out = {}
        for unit in self.units:
            for name, logits in zip(unit.names, self._unit_logits(unit, waves)):
                z = logits.astype(np.float64)
                p = np.exp(z - z.max(axis=1, keepdims=True))
                p = (p / p.sum(axis=1, keepdims=True)) @ self._maps[name]
                total = p.sum(axis=1, keepdims=True)
                out[name] = np.divide(p, total, out=np.zeros_like(p), where=total > 0)
        return {n: out[n] for n in self.names}

    def replica(self) -> "Predictor":
        """A copy with PyTorch models of its own (ONNX sessions shared), for one more concurrent stream: a forward
        pass keeps per-batch state in its modules (the padding-aware group norm's frame counts)."""
        import copy

        clone = copy.copy(self)
        clone.units = [copy.copy(u) for u in self.units]
        by_name = {m.name: m.model for m in self._loaded}
        for unit in clone.units:
            if unit.torch_models is not None:
                unit.torch_models = [self._prepare(by_name[name])[0] for name in unit.names]
        return clone

    @property
    def padded_batches(self) -> bool:
        """Whether clips of different lengths share batches (every model pads exactly)."""
        return all(u.paddable for u in self.units)
