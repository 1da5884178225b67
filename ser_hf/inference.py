"""Inference: a trained model's logits exactly as ``pipeline("audio-classification")`` computes them, and the
Space's several classifiers at once, one encoder pass where they share it.

:func:`clip_inputs` is what the pipeline hands the model for one clip (the saved feature extractor on the whole
clip, nothing padded or cropped); :func:`pipeline_logits` computes many clips' logits that way, stacking only
clips whose inputs have the same shape, so a batch never pads anything and every file's logits equal the
pipeline's one-at-a-time result (to float tolerance). Validation, test, cross-validation folds, long clips, the
Space and prediction all go through them: what a run reports is what its saved folder gives.

``EmotionModels.load({"hubert": "outputs/quickstart", "other": "ORG/NAME"})`` loads each model once.
Models whose encoders hold identical weights (heads trained on one frozen backbone) are grouped:
the encoder runs once per clip and every head reads its hidden states. ``to_label_view`` turns a
seven-class distribution into seed 003's real-time four classes.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

from ser_hf.data.labels import get_label_set
from ser_hf.hardware import cpu_has_bf16

logger = logging.getLogger(__name__)

SAMPLING_RATE = 16000


def clip_inputs(extractor, wave: np.ndarray) -> dict[str, torch.Tensor]:
    """The model inputs ``pipeline("audio-classification")`` builds for one 16-kHz clip: the feature extractor on the
    whole clip (its own normalisation, no padding, no crop), every tensor it returns, batch dimension 1."""
    return dict(extractor(wave, sampling_rate=SAMPLING_RATE, return_tensors="pt"))


def pad_waveform_inputs(inputs: list[dict[str, torch.Tensor]], multiple: int = 1) -> dict[str, torch.Tensor]:
    """Per-clip ``input_values`` (1, n) (each normalised alone by :func:`clip_inputs`) zero-padded into one
    (batch, width) tensor, ``width`` the longest clip rounded up to ``multiple`` samples, with an attention mask over
    each clip's real samples. With :func:`ser_hf.models.audio_encoders.mask_padding_in_feature_encoder` installed,
    a wav2vec2-family model gives every clip of such a batch its unpadded outputs (to float tolerance)."""
    lengths = [item["input_values"].shape[-1] for item in inputs]
    width = -(-max(lengths) // multiple) * multiple
    values = torch.zeros(len(inputs), width, dtype=inputs[0]["input_values"].dtype)
    mask = torch.zeros(len(inputs), width, dtype=torch.long)
    for i, (item, n) in enumerate(zip(inputs, lengths)):
        values[i, :n] = item["input_values"][0]
        mask[i, :n] = 1
    return {"input_values": values, "attention_mask": mask}


def inference_batches(inputs: list[dict[str, torch.Tensor]], batch_size: int,
                      padded: bool = False) -> list[tuple[list[int], dict]]:
    """``(row indices, model inputs)`` for clips' :func:`clip_inputs`, each clip's logits its own alone. ``padded``
    (the model :func:`ser_hf.models.audio_encoders.pads_exactly`): waveform inputs of any lengths go as one batch,
    zero-padded with an attention mask (clips all of one length as the pipeline runs them, without one); otherwise,
    or for inputs that are not plain waveforms, only equal-shaped inputs share a batch (:func:`equal_shape_batches`)."""
    key = "input_values"
    if padded and inputs and all(set(x) <= {key, "attention_mask"} and x[key].ndim == 2 for x in inputs):
        if len({x[key].shape[1] for x in inputs}) == 1:
            batch = {k: torch.cat([x[k] for x in inputs]) for k in inputs[0]}
        else:
            batch = pad_waveform_inputs(inputs)
        return [(list(range(len(inputs))), batch)]
    return equal_shape_batches(inputs, batch_size)


def _shape_key(inputs: dict[str, torch.Tensor]) -> tuple:
    return tuple((k, tuple(v.shape), v.dtype) for k, v in sorted(inputs.items()))


def equal_shape_batches(inputs: list[dict[str, torch.Tensor]], batch_size: int) -> list[tuple[list[int], dict]]:
    """``(row indices, stacked inputs)`` per batch of clips whose inputs have identical shapes, at most
    ``batch_size`` each. Nothing is padded: a clip alone in its shape runs alone, as in the pipeline. Fixed-size
    inputs (Whisper's 30 s, AST's frames, spectrogram images) all share one shape and batch fully."""
    groups: dict[tuple, list[int]] = {}
    for i, item in enumerate(inputs):
        groups.setdefault(_shape_key(item), []).append(i)
    batches = []
    for rows in groups.values():
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            batches.append((chunk, {k: torch.cat([inputs[i][k] for i in chunk]) for k in inputs[chunk[0]]}))
    return batches


def model_logits(model: torch.nn.Module, batch: dict[str, torch.Tensor], device=None) -> torch.Tensor:
    """One forward pass in float32 (the pipeline's precision), autocast off whatever the caller set; a model whose
    weights were cast to bf16 (DeepSpeed's bf16 mode) gets its inputs in bf16, the only way it runs.

    A model that accelerate prepared for mixed precision has its ``forward`` replaced by one that enters autocast
    itself (``Accelerator.prepare_model`` keeps the original as ``_original_forward``): that one runs here, through
    ``__call__`` so the model's hooks still run.
    """
    parameter = next(model.parameters())
    device = torch.device(device) if device is not None else parameter.device
    # A model whose weights are bf16 (DeepSpeed's bf16 mode casts the module itself) takes inputs of that dtype.
    dtype = parameter.dtype if parameter.dtype in (torch.bfloat16, torch.float16) else None
    batch = {k: v.to(device, dtype=dtype if dtype is not None and v.is_floating_point() else None)
             for k, v in batch.items()}
    original = model.__dict__.get("_original_forward")
    wrapped = model.__dict__.get("forward")
    if original is not None:
        model.forward = original
    try:
        with torch.autocast(device_type=device.type, enabled=False):
            return model(**batch).logits.float()
    finally:
        if original is not None:
            model.forward = wrapped


@torch.no_grad()
def pipeline_logits(model: torch.nn.Module, extractor, waves: list[np.ndarray], batch_size: int = 8,
                    device=None) -> np.ndarray:
    """Logits (rows in ``waves`` order) equal to what ``pipeline("audio-classification", model=...)`` computes for
    each clip alone: per-clip extractor inputs, batches of equal-shaped inputs only, float32."""
    was_training = model.training
    model.eval()
    try:
        inputs = [clip_inputs(extractor, w) for w in waves]
        out: np.ndarray | None = None
        for rows, batch in equal_shape_batches(inputs, batch_size):
            logits = model_logits(model, batch, device).cpu().numpy()
            if out is None:
                out = np.empty((len(waves), logits.shape[1]), dtype=np.float32)
            out[rows] = logits
        return out if out is not None else np.empty((0, model.config.num_labels), dtype=np.float32)
    finally:
        model.train(was_training)


@dataclass
class LoadedModel:
    name: str
    model: torch.nn.Module
    extractor: object
    labels: list[str]
    encoder_hash: str


def _encoder_hash(model: torch.nn.Module) -> str:
    """Hash of every weight outside the classification head (projector / classifier).

    Only wav2vec2-family classifiers (encoder -> projector -> mean pool -> classifier) can share an encoder
    run (:func:`_head`); any other model gets a key of its own.
    """
    if not hasattr(model, "projector"):
        return f"own:{id(model)}"
    h = hashlib.sha1()
    for key, tensor in sorted(model.state_dict().items()):
        if key.startswith(("projector", "classifier", "layer_weights")):
            continue
        h.update(key.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def cpu_fast_path(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 Linear layers: on 2 CPU cores the encoder's matmuls run ~2.4x faster
    (benchmarks/latency.py); the CNN then runs under bf16 autocast where the CPU supports it."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's notice about moving to torchao
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    encoder = getattr(getattr(model, model.base_model_prefix, None), "feature_extractor", None)
    if encoder is not None and cpu_has_bf16():
        cnn_forward = encoder.forward

        def bf16_cnn(*args, **kwargs):  # int8 Linear layers downstream need float inputs back
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return cnn_forward(*args, **kwargs).float()

        encoder.forward = bf16_cnn
    return model


def split_revision(source: str) -> tuple[str, str | None]:
    """``"ORG/NAME@REVISION"`` -> ``("ORG/NAME", "REVISION")``; a local folder or a bare id has no revision."""
    if "@" in source and not Path(source).exists():
        repo_id, _, revision = source.rpartition("@")
        return repo_id, revision or None
    return source, None


def load_model(name: str, source: str, device: str = "cpu", fast: bool = False) -> LoadedModel:
    """Load ``source`` (a local folder, a Hub id, or ``ORG/NAME@REVISION`` for a branch, tag or commit)."""
    # ser-hf's own model types (spectrogram CNN, CNN-BLSTM, VGGish/YAMNet heads) resolve through ser_hf.registry,
    # importing only the module of the model being loaded.
    repo, revision = split_revision(source)
    try:
        extractor = AutoFeatureExtractor.from_pretrained(repo, revision=revision)
        model = AutoModelForAudioClassification.from_pretrained(repo, revision=revision).to(device).eval()
    except OSError as err:
        raise OSError(
            f"model {name!r}: cannot load {source!r} ({err}). Give a local folder written by train.py "
            "(e.g. outputs/quickstart after `make quickstart`) or a Hub id[@revision] reachable from this machine."
        ) from err
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    encoder_hash = _encoder_hash(model)  # before quantisation, which renames the weights
    if fast and device == "cpu":
        model = cpu_fast_path(model)
    return LoadedModel(name, model, extractor, labels, encoder_hash)


@dataclass
class EmotionModels:
    models: list[LoadedModel]
    device: str = "cpu"
    fast: bool = False  # int8 Linear layers + bf16 autocast on CPU
    groups: dict[str, list[LoadedModel]] = field(init=False)

    def __post_init__(self):
        self.groups = {}
        for m in self.models:
            self.groups.setdefault(m.encoder_hash, []).append(m)
        shared = [g for g in self.groups.values() if len(g) > 1]
        for g in shared:
            logger.info("models %s share one encoder: it runs once per clip", [m.name for m in g])

    @classmethod
    def load(cls, sources: dict[str, str], device: str = "cpu", fast: bool = False) -> "EmotionModels":
        return cls([load_model(name, src, device, fast) for name, src in sources.items()], device, fast)

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.models]

    def _inputs(self, extractor, wave: np.ndarray) -> dict[str, torch.Tensor]:
        return {k: v.to(self.device) for k, v in clip_inputs(extractor, wave).items()}

    @torch.inference_mode()
    def predict(self, wave: np.ndarray) -> dict[str, dict]:
        """{model name: {"label", "probabilities", "latency_ms"}} for one 16-kHz mono clip."""
        out: dict[str, dict] = {}
        for group in self.groups.values():
            first = group[0]
            start = time.perf_counter()
            inputs = self._inputs(first.extractor, wave)
            if len(group) == 1:
                logits_of = {first.name: first.model(**inputs).logits}
            else:
                base = getattr(first.model, first.model.base_model_prefix)
                hidden = base(**inputs, output_hidden_states=True)
                logits_of = {m.name: _head(m.model, hidden, inputs.get("attention_mask")) for m in group}
            elapsed = (time.perf_counter() - start) * 1000
            for m in group:
                probs = torch.softmax(logits_of[m.name].float(), dim=-1)[0].cpu().numpy()
                scores = {label: float(p) for label, p in zip(m.labels, probs)}
                out[m.name] = {"label": max(scores, key=scores.get), "probabilities": scores, "latency_ms": elapsed}
        return {name: out[name] for name in self.names}


def _head(model, encoder_output, attention_mask) -> torch.Tensor:
    """The classification head of wav2vec2-family models applied to a shared encoder output."""
    if getattr(model.config, "use_weighted_layer_sum", False):
        stacked = torch.stack(encoder_output.hidden_states, dim=1)
        weights = torch.softmax(model.layer_weights, dim=-1)
        hidden = (stacked * weights.view(-1, 1, 1)).sum(dim=1)
    else:
        hidden = encoder_output.last_hidden_state
    hidden = model.projector(hidden)
    if attention_mask is None:
        pooled = hidden.mean(dim=1)
    else:
        mask = model._get_feature_vector_attention_mask(hidden.shape[1], attention_mask)
        pooled = (hidden * mask.unsqueeze(-1)).sum(dim=1) / mask.sum(dim=1, keepdim=True)
    return model.classifier(pooled)


@torch.no_grad()
def shared_encoder_logits(models: list[torch.nn.Module], batch: dict[str, torch.Tensor], device=None) -> list[torch.Tensor]:
    """Logits of classifiers whose encoders hold identical weights (one :attr:`EmotionModels.groups` entry) from one
    encoder pass over ``batch``, in float32 with autocast off as :func:`model_logits`.

    The first model runs whole, so its forward hooks fire (the frame lengths a padded batch gives
    :class:`ser_hf.models.audio_encoders.PaddingMaskedGroupNorm`); the others apply their heads to its hidden states.
    """
    first = models[0]
    if len(models) == 1:
        return [model_logits(first, batch, device)]
    device = torch.device(device) if device is not None else next(first.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    with torch.autocast(device_type=device.type, enabled=False):
        out = first(**batch, output_hidden_states=True)
        encoded = _EncoderOutput(out.hidden_states[-1], out.hidden_states)
        return [out.logits.float()] + [_head(m, encoded, batch.get("attention_mask")).float() for m in models[1:]]


@dataclass
class _EncoderOutput:
    last_hidden_state: torch.Tensor
    hidden_states: tuple[torch.Tensor, ...]


def to_label_view(probabilities: dict[str, float], view: str) -> dict[str, float]:
    """Re-express a distribution in another label set (e.g. seven -> realtime4), renormalised.

    Classes the view leaves out (neutral for realtime4) are dropped; if nothing remains, an empty dict.
    """
    if view in ("", "model", None):
        return probabilities
    ls = get_label_set(view)
    merged = {c: 0.0 for c in ls.classes}
    for label, p in probabilities.items():
        target = ls.map(label) or (label if label in merged else None)
        if target is not None:
            merged[target] += p
    total = sum(merged.values())
    return {k: v / total for k, v in merged.items()} if total > 0 else {}


SMOOTHING_METHODS = ("none", "ema", "majority")


class ProbabilitySmoother:
    """Steadier labels for a stream of overlapping windows: smooths each window's class probabilities over time.

    ``ema``: ``p = alpha * new + (1 - alpha) * previous`` (alpha 1 = no smoothing; 0.5 halves the weight of a
    window at each step, so one odd window cannot flip a label held by the last two). ``majority``: the label
    most often on top over the last ``window`` windows, with their probabilities averaged. ``none``: unchanged.
    ``reset()`` starts over (the Space calls it after silence: a new utterance owes nothing to the last one).
    """

    def __init__(self, method: str = "ema", alpha: float = 0.5, window: int = 3):
        if method not in SMOOTHING_METHODS:
            raise ValueError(f"smoothing method {method!r}: choose one of {list(SMOOTHING_METHODS)}")
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"smoothing alpha {alpha}: must be in (0, 1]")
        if window < 1:
            raise ValueError(f"smoothing window {window}: must be at least 1")
        self.method, self.alpha, self.window = method, float(alpha), int(window)
        self.reset()

    def reset(self) -> None:
        self._ema: dict[str, float] | None = None
        self._recent: deque[dict[str, float]] = deque(maxlen=self.window)

    def update(self, probabilities: dict[str, float]) -> dict[str, float]:
        """Add one window's probabilities; return the smoothed distribution (top class first is not guaranteed)."""
        if self.method == "none":
            return dict(probabilities)
        if self.method == "ema":
            if self._ema is None:
                self._ema = dict(probabilities)
            else:
                self._ema = {k: self.alpha * p + (1 - self.alpha) * self._ema.get(k, 0.0) for k, p in probabilities.items()}
            return dict(self._ema)
        self._recent.append(dict(probabilities))
        tops = [max(p, key=p.get) for p in self._recent]
        winner = max(dict.fromkeys(reversed(tops)), key=tops.count)  # ties go to the most recent top label
        mean = {k: sum(p.get(k, 0.0) for p in self._recent) / len(self._recent) for k in probabilities}
        # the majority label must come out on top even where another class has the higher mean
        if max(mean, key=mean.get) != winner:
            mean[winner] = max(mean.values()) + 1e-6
            total = sum(mean.values())
            mean = {k: v / total for k, v in mean.items()}
        return mean
