"""The frozen CNN feature encoder's output, computed once per training clip and reused every step
(recipe key ``cache_frozen_features``).

With ``freeze_feature_encoder: true`` (every shipped wav2vec2-family recipe) the CNN's weights never change, and the
training rows are fixed audio (offline augmentation, ``augment_offline_factor``, stores its copies; on-the-fly
augmentation is refused with the cache): a clip's CNN output is the same in every epoch. Computing it once, before
training, removes the CNN forward pass from every step (the largest single cost of HuBERT-base fine-tuning on a GPU:
``benchmarks/gpu_suite.py`` measures it) and the audio decoding from the data loader. The model then reads the
cached frames (:func:`accept_cached_features`); nothing else of the model or of what is saved changes.

What differs from training without the cache:

* a clip no longer than ``max_train_seconds`` gets the frames the uncached path computes (the same per-clip
  normalisation and padding-masked CNN, in the same precision), float rounding aside: the same losses to tolerance
  (``tests/training/test_feature_cache.py``);
* a longer clip is cropped in frames of its cached output instead of in samples: the crop starts on a frame boundary
  (the uncached path's random start, rounded down to a multiple of the CNN's total stride: 320 samples, 20 ms, for
  the base models) and has the frame count the uncached crop has. Its frames see no audio outside that crop (the
  CNN's receptive field fits in it), but they were normalised with the statistics of the whole clip (the feature
  extractor's zero-mean / unit-variance and the first CNN layer's group norm) instead of those of the crop.

So the cache is off by default: a recipe whose clips are longer than its crop trains on slightly different features.
Evaluation never uses it: validation and test run the whole model on audio (:class:`InferenceCollator`), as
``pipeline()`` does. The cache lives in ``OUTPUT_DIR/frozen_features/`` (channels x 50 frames per audio-second: 512
x 50 x 2 bytes = 51 kB per second of audio in bf16, 1.6x the 16-bit audio it replaces; twice that in float32),
keyed by the training rows, the CNN's weights and the precision, so a resumed run reuses it; it is removed when
training ends.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import TrainerCallback

from ser_hf import guards
from ser_hf.locks import owned_name
from ser_hf.models.audio_encoders import feature_encoder_output
from ser_hf.recipe import RecipeError
from ser_hf.training.data import SAMPLING_RATE

logger = logging.getLogger(__name__)

CACHE_FOLDER = "frozen_features"
ROW_COLUMN = "cache_row"  # the training view's column that names each row's place in the cache


# ---------------------------------------------------------------- CNN geometry
def conv_geometry(config) -> list[tuple[int, int]]:
    """(kernel, stride) of each CNN layer of a wav2vec2-family config."""
    return list(zip(config.conv_kernel, config.conv_stride))


def frames_for_samples(geometry: list[tuple[int, int]], samples: int) -> int:
    """Output frames of ``samples`` input samples (transformers' ``_get_feat_extract_output_lengths``)."""
    for kernel, stride in geometry:
        samples = (samples - kernel) // stride + 1
    return samples


def samples_for_frames(geometry: list[tuple[int, int]], frames: int) -> int:
    """The fewest input samples that give ``frames`` output frames: 400 + 320 (frames - 1) for the base models."""
    for kernel, stride in reversed(geometry):
        frames = (frames - 1) * stride + kernel
    return frames


# ---------------------------------------------------------------- the model side
class _CachedInput:
    """Mixed into a frozen CNN feature encoder's class: a 3-D input (batch, frames, channels) is its own cached
    output, handed on as (batch, channels, frames); a 2-D input (samples: evaluation, pipeline()) runs the CNN."""

    def forward(self, input_values):
        if input_values.dim() == 3:
            return input_values.transpose(1, 2)
        return super().forward(input_values)


_CACHED_CLASSES: dict[type, type] = {}


def feature_encoder(model: torch.nn.Module) -> torch.nn.Module | None:
    """The wav2vec2-family CNN feature encoder of ``model`` (HuBERT, wav2vec2, WavLM, data2vec-audio), or None."""
    encoder = getattr(getattr(model, getattr(model, "base_model_prefix", ""), None), "feature_extractor", None)
    if encoder is None or not hasattr(encoder, "conv_layers") or not hasattr(model.config, "conv_stride"):
        return None
    return encoder


def accept_cached_features(model: torch.nn.Module) -> None:
    """Let ``model`` take cached CNN output as ``input_values`` (batch, frames, channels); the same parameters and
    state dict, so ``save_pretrained`` and ``pipeline()`` see the stock model."""
    encoder = feature_encoder(model)
    if encoder is None:
        raise RecipeError(f"cache_frozen_features: a {model.config.model_type} model has no CNN feature encoder to "
                          "cache (hubert, wav2vec2, wavlm and data2vec-audio have one)")
    if any(p.requires_grad for p in encoder.parameters()):
        raise RecipeError("cache_frozen_features: the CNN feature encoder trains (freeze_feature_encoder: false), so "
                          "its output changes every step; freeze it or set cache_frozen_features: false")
    base = type(encoder)
    if not issubclass(base, _CachedInput):
        if base not in _CACHED_CLASSES:
            _CACHED_CLASSES[base] = type(f"Cached{base.__name__}", (_CachedInput, base), {})
        encoder.__class__ = _CACHED_CLASSES[base]


# ---------------------------------------------------------------- the cache
@dataclass
class FrozenFeatureCache:
    """Every training row's CNN output, frames after frames in one file (memory-mapped, read by the collator)."""

    folder: Path
    offsets: np.ndarray  # first frame of each row in features.bin
    frames: np.ndarray  # frames of each row
    samples: np.ndarray  # samples of each row's audio (what the uncached path would crop)
    channels: int
    dtype: str  # float32 or bfloat16 (stored as its 16-bit pattern)
    _array: np.ndarray | None = field(default=None, repr=False)

    def __getstate__(self) -> dict:  # dataloader workers open their own map
        return {**self.__dict__, "_array": None}

    def clip(self, row: int, start: int, count: int) -> torch.Tensor:
        """Frames ``start .. start + count`` of ``row``: (count, channels)."""
        if self._array is None:
            shape = (int(self.frames.sum()), self.channels)
            stored = np.float32 if self.dtype == "float32" else np.int16
            self._array = np.memmap(self.folder / "features.bin", dtype=stored, mode="r", shape=shape)
        first = int(self.offsets[row]) + start
        values = torch.from_numpy(np.array(self._array[first : first + count]))
        return values if self.dtype == "float32" else values.view(torch.bfloat16)


def cache_key(model: torch.nn.Module, extractor, dataset, bf16: bool) -> str:
    """What the cached frames depend on: the training rows, the extractor's settings, the CNN's weights, precision."""
    digest = hashlib.sha1(json.dumps({
        "rows": len(dataset), "fingerprint": getattr(dataset, "_fingerprint", None), "bf16": bool(bf16),
        "extractor": extractor.to_dict() if hasattr(extractor, "to_dict") else repr(extractor),
    }, sort_keys=True, default=str).encode())
    for name, tensor in sorted(feature_encoder(model).state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()


def load_cache(folder: Path, key: str) -> FrozenFeatureCache | None:
    """The cache in ``folder`` if it was built for ``key``, else None."""
    try:
        meta = json.loads((folder / "key.json").read_text())
        index = np.load(folder / "index.npz")
    except (OSError, ValueError):
        return None
    if meta.get("key") != key:
        return None
    return FrozenFeatureCache(folder, index["offsets"], index["frames"], index["samples"], meta["channels"], meta["dtype"])


@torch.no_grad()
def build_cache(model: torch.nn.Module, collate: Callable[[list[dict]], dict], dataset, folder: Path, key: str,
                device: torch.device, bf16: bool, batch_size: int = 16) -> FrozenFeatureCache:
    """Run the frozen CNN once over every row of ``dataset`` (a training view with ``audio`` bytes and ``duration``)
    and write its output to ``folder``, complete or not at all (a ``.partial-<host>-<pid>`` folder renamed at the end).

    ``collate`` is the uncached path's training collator without a crop: each clip through the feature extractor
    alone, zero-padded, with an attention mask; the padding-masked CNN then runs under the autocast the training steps
    use, so a clip gets the frames the uncached path computes for it uncropped. Clips run longest first (little
    padding).
    """
    geometry = conv_geometry(model.config)
    encoder = feature_encoder(model)
    home = next(encoder.parameters()).device
    was_training = model.training
    model.eval()
    encoder.to(device)
    dtype = torch.bfloat16 if bf16 else torch.float32
    order = np.argsort(-np.asarray(dataset["duration"], dtype=np.float64), kind="stable")
    n = len(dataset)
    offsets, frames, samples = (np.zeros(n, dtype=np.int64) for _ in range(3))
    partial = folder.with_name(owned_name(folder.name))
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    position, channels = 0, None
    try:
        with open(partial / "features.bin", "wb") as out:
            for first in range(0, n, batch_size):
                index = order[first : first + batch_size]
                batch = collate([dataset[int(i)] for i in index])
                mask = batch["attention_mask"]
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    output = feature_encoder_output(model, batch["input_values"].to(device), mask.to(device))
                output = output.transpose(1, 2).to(dtype).cpu()  # (batch, frames, channels)
                channels = output.shape[-1]
                for j, row in enumerate(index):
                    count = frames_for_samples(geometry, int(mask[j].sum()))
                    clip = output[j, :count].contiguous()
                    out.write((clip if dtype == torch.float32 else clip.view(torch.int16)).numpy().tobytes())
                    offsets[row], frames[row], samples[row] = position, count, int(mask[j].sum())
                    position += count
        np.savez(partial / "index.npz", offsets=offsets, frames=frames, samples=samples)
        dtype_name = "float32" if dtype == torch.float32 else "bfloat16"
        (partial / "key.json").write_text(json.dumps({"key": key, "channels": channels, "dtype": dtype_name}))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(partial, folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        encoder.to(home)
        model.train(was_training)
    logger.info("frozen CNN output cached for %d training clips: %d frames, %.2f GB in %s", n, position,
                position * channels * (4 if dtype == torch.float32 else 2) / 1e9, folder)
    return load_cache(folder, key)


# ---------------------------------------------------------------- batches
@dataclass
class CachedFeatureCollator:
    """Training batches from the cache: each row's frames (a random crop in frames for clips longer than
    ``max_seconds``), zero-padded to the longest (to a multiple of ``pad_to_multiple_seconds`` when set), with an
    attention mask over the samples those frames come from, which the model turns back into the frame counts.
    ``stats`` counts as :class:`AudioCollator`'s: real samples (of each crop) and padding (in samples, frames x
    the CNN's total stride)."""

    cache: FrozenFeatureCache
    geometry: list[tuple[int, int]]
    max_seconds: float
    pad_to_multiple_seconds: float | None = None
    stats: dict = field(default_factory=lambda: {"real": 0, "padded": 0, "batches": 0, "examples": 0})

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        hop = math.prod(stride for _, stride in self.geometry)
        limit = int(self.max_seconds * SAMPLING_RATE)
        crop = frames_for_samples(self.geometry, limit)
        clips, real = [], 0
        for row in rows:
            index = int(row[ROW_COLUMN])
            frames, samples = int(self.cache.frames[index]), int(self.cache.samples[index])
            start, count = 0, frames
            if samples > limit:  # the uncached path's draw (same RNG, same range), rounded down to a frame
                start = min(int(torch.randint(0, samples - limit + 1, ()).item()) // hop, frames - crop)
                count = crop
            clips.append(self.cache.clip(index, start, count))
            real += min(samples, limit)
        multiple = max(1, round((self.pad_to_multiple_seconds or 0) * SAMPLING_RATE / hop))
        width = math.ceil(max(len(c) for c in clips) / multiple) * multiple
        values = torch.zeros(len(clips), width, self.cache.channels, dtype=clips[0].dtype)
        mask = torch.zeros(len(clips), samples_for_frames(self.geometry, width), dtype=torch.bool)
        for i, clip in enumerate(clips):
            values[i, : len(clip)] = clip
            mask[i, : samples_for_frames(self.geometry, len(clip))] = True
        self.stats["real"] += real
        self.stats["padded"] += sum(width - len(c) for c in clips) * hop
        self.stats["batches"] += 1
        self.stats["examples"] += len(clips)
        labels = torch.tensor([int(r["label"]) for r in rows], dtype=torch.long)
        return {"input_values": values, "attention_mask": mask, "labels": labels}


class RemoveCacheAtEnd(TrainerCallback):
    """The cache serves training only: the world's main process removes it once training has ended."""

    def __init__(self, folder: Path):
        self.folder = folder

    def on_train_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            shutil.rmtree(self.folder, ignore_errors=True)


def cached_training_part(recipe, args, model: torch.nn.Module, train_view, uncropped):
    """``(dataset, collator, callback)`` for training on the cached CNN output of ``train_view`` (the training
    part's model view); ``uncropped`` is the uncached path's training collator with no crop (an ``AudioCollator``),
    which feeds the CNN once per clip. The world's main process builds the cache (or finds it from an earlier launch
    of the same run) while the others wait, then every process maps it."""
    from transformers.integrations import is_deepspeed_zero3_enabled

    if is_deepspeed_zero3_enabled():
        raise RecipeError("cache_frozen_features: under DeepSpeed ZeRO-3 the CNN's weights are partitioned when the "
                          "cache is built; use ZeRO-2 or FSDP, or cache_frozen_features: false")
    accept_cached_features(model)
    folder = Path(args.output_dir) / CACHE_FOLDER
    key = cache_key(model, uncropped.feature_extractor, train_view, args.bf16)
    with guards.main_first("frozen CNN feature cache"):  # the others wait on a file, however long the build takes
        cache = load_cache(folder, key)
        if cache is None:
            cache = build_cache(model, uncropped, train_view, folder, key, args.device, args.bf16,
                                batch_size=args.per_device_eval_batch_size)
        else:
            logger.info("frozen CNN output of the %d training clips read from %s", len(cache.frames), folder)
    dataset = train_view.select_columns(["label", "duration"]).add_column(ROW_COLUMN, np.arange(len(train_view)))
    collator = CachedFeatureCollator(cache, conv_geometry(model.config), args.max_train_seconds,
                                     args.pad_to_multiple_seconds)
    return dataset, collator, RemoveCacheAtEnd(folder)
