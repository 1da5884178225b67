"""``method: probe``: a frozen audio encoder's layers, weighted by learned softmax weights, into a small head.

SUPERB's protocol (``probe_head: weighted_layers``; ``emobox`` is EmoBox's head, :mod:`ser_hf.training.emobox_probe`):
the encoder (HuBERT, wav2vec2, WavLM, data2vec-audio, the Whisper encoder) runs once per file and every layer's
time-pooled hidden state is kept (``HFEncoderExtractor(layer="all")``, cached per file by
:func:`ser_hf.features.extract.extract`, so every fold and every later run reuses it). What trains is tiny: one weight
per layer (softmax-normalised) and a linear head (or one hidden layer, ``probe_hidden_size``), full batch on the cached
table, in seconds. Each layer is standardised with the training rows' statistics first, so the learned
weights compare layers rather than their scales. ``results.json`` gets ``layer_weights``, ``layer_weights.png`` plots
them, and the probe is saved as ``probe.safetensors`` + ``probe.json``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ser_hf.evaluation.calibration import NO_VALIDATION
from ser_hf.evaluation.metrics import compute_classification_metrics
from ser_hf.evaluation.plots import plot_layer_weights
from ser_hf.evaluation.results import save_predictions, write_results
from ser_hf.features.encoder_layers import HFEncoderExtractor
from ser_hf.features.extract import distributed_state, extract
from ser_hf.recipe import Recipe
from ser_hf.registry import PROBE_HEADS, resolve
from ser_hf.training.data import Fold, preparation_first, prepare_data

logger = logging.getLogger(__name__)


class LayerWeightedProbe(nn.Module):
    """softmax(w) . layers -> (dropout-free) linear head, or one hidden ReLU layer then the head."""

    def __init__(self, num_layers: int, dim: int, num_labels: int, hidden_size: int = 0):
        super().__init__()
        self.layer_logits = nn.Parameter(torch.zeros(num_layers))  # uniform weights at the start
        self.head = (nn.Linear(dim, num_labels) if not hidden_size else
                     nn.Sequential(nn.Linear(dim, hidden_size), nn.ReLU(), nn.Linear(hidden_size, num_labels)))

    def layer_weights(self) -> torch.Tensor:
        return self.layer_logits.softmax(0)

    def forward(self, layers: torch.Tensor) -> torch.Tensor:  # (batch, num_layers, dim)
        return self.head(torch.einsum("l,bld->bd", self.layer_weights(), layers))


def build_encoder_extractor(recipe: Recipe, layer: int | str = "all") -> HFEncoderExtractor:
    """The recipe's encoder, every layer kept (or the one ``layer``); ``tiny_model`` gives a tiny random one (seeded,
    so cacheable)."""
    if recipe.model.tiny_model:
        from transformers import AutoModel

        from ser_hf.models.audio_encoders import tiny_config, tiny_feature_extractor

        torch.manual_seed(recipe.training.seed)
        config = tiny_config(recipe.model.tiny_model, ["x"])
        return HFEncoderExtractor(AutoModel.from_config(config), layer=layer,
                                  feature_extractor=tiny_feature_extractor(config))
    return HFEncoderExtractor(recipe.model.model_name_or_path, layer=layer)


def fit_probe(x: np.ndarray, y: np.ndarray, num_labels: int, epochs: int, learning_rate: float, hidden_size: int,
              seed: int) -> LayerWeightedProbe:
    """Full-batch Adam on (files, layers, dim); stops early once the training loss stops falling (patience 20)."""
    torch.manual_seed(seed)
    probe = LayerWeightedProbe(x.shape[1], x.shape[2], num_labels, hidden_size)
    optimizer = torch.optim.Adam(probe.parameters(), lr=learning_rate)
    inputs, targets = torch.as_tensor(x), torch.as_tensor(y)
    best, stale = float("inf"), 0
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(probe(inputs), targets)
        loss.backward()
        optimizer.step()
        if loss.item() < best - 1e-4:
            best, stale = loss.item(), 0
        else:
            stale += 1
            if stale >= 20:
                break
    return probe.eval()


def extracted_parts(read: Callable[[str], Any]) -> tuple[Any, Any, float] | None:
    """``read("train")`` and ``read("test")`` on every process (each extracts its shard of the files into the cache)
    and the seconds they took; None on the processes other than the main one, which then have nothing left to do."""
    started = time.perf_counter()
    train, test = read("train"), read("test")
    seconds = time.perf_counter() - started
    state = distributed_state()
    if state is not None and not state.is_main_process:
        logger.info("rank %d done (extracted its shard)", state.process_index)
        return None
    return train, test, seconds


def run_probe_recipe(recipe: Recipe, fold: Fold) -> dict | None:
    """``method: probe``: the recipe's ``probe_head`` (:data:`ser_hf.registry.PROBE_HEADS`) on the frozen encoder."""
    return resolve(PROBE_HEADS[recipe.model.probe_head])(recipe, fold)


def run_weighted_layer_probe(recipe: Recipe, fold: Fold) -> dict | None:
    """Extract (cached) -> standardise per layer -> fit the probe -> test metrics, layer weights, run folder.

    Launched as several processes, each extracts its shard of the files (gathered in row order through the
    per-file cache); the main process fits the probe and writes the run folder (None on the others)."""
    out = Path(fold.output_dir)
    extractor = build_encoder_extractor(recipe)  # before any audio is decoded: a bad model id stops here
    with preparation_first(recipe):
        data = prepare_data(recipe, fold, balanced=False)
    layers = extractor.num_states

    def table(part: str) -> np.ndarray:
        emb = extract(data.splits[part], extractor, batch_size=recipe.training.per_device_eval_batch_size, pooling="mean",
                      progress=False)
        return emb.features.reshape(len(emb.features), layers, -1)

    parts = extracted_parts(table)
    if parts is None:
        return None
    x_train, x_test, extract_seconds = parts
    mean, std = x_train.mean(axis=0, keepdims=True), x_train.std(axis=0, keepdims=True) + 1e-6
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    y_train, y_test = np.asarray(data.splits["train"]["label"]), np.asarray(data.splits["test"]["label"])
    started = time.perf_counter()
    probe = fit_probe(x_train.astype(np.float32), y_train, len(data.label_names), recipe.model.probe_epochs,
                      recipe.model.probe_learning_rate, recipe.model.probe_hidden_size, recipe.training.seed)
    fit_seconds = time.perf_counter() - started
    with torch.no_grad():
        probs = probe(torch.as_tensor(x_test.astype(np.float32))).softmax(-1).numpy()
        weights = probe.layer_weights().numpy().tolist()
    groups = {c: data.splits["test"][c] for c in ("corpus", "language") if len(set(data.splits["test"][c])) > 1}
    metrics = compute_classification_metrics(y_test, probs.argmax(axis=1), data.label_names, probabilities=probs,
                                             groups=groups)
    run = {"method": "probe", "encoder": extractor.source, "layers": layers, "extract_seconds": extract_seconds,
           "fit_seconds": fit_seconds, "model": f"layer probe on {extractor.source}"}
    write_results(out, recipe, fold, data, metrics, probs, y_test, {"method": "probe", "layer_weights": weights,
                                                                    "run": run, "calibration": {"not_fitted": NO_VALIDATION}})
    save_predictions(out, {"probe": probs}, data.splits["test"], data.label_names)
    if recipe.protocol.plots and fold.part_of is None:
        plot_layer_weights(weights, out / "layer_weights.png", title=f"learned layer weights ({extractor.source})")
    from safetensors.torch import save_file

    save_file({**{k: v.contiguous() for k, v in probe.state_dict().items()},
               "feature_mean": torch.as_tensor(mean[0]), "feature_std": torch.as_tensor(std[0])},
              str(out / "probe.safetensors"))
    (out / "probe.json").write_text(json.dumps(
        {"encoder": extractor.source, "layers": layers, "hidden_size": recipe.model.probe_hidden_size,
         "label_names": data.label_names, "layer_weights": weights, "extractor": extractor.cache_config()},
        indent=1, default=str))
    logger.info("probe on %s: test accuracy %.2f %%, UAR %.2f %% (extract %.1f s, fit %.2f s); layer weights %s",
                extractor.source, 100 * metrics["accuracy"], 100 * metrics["uar"], extract_seconds, fit_seconds,
                " ".join(f"{w:.2f}" for w in weights))
    return {"test": metrics, "layer_weights": weights, "run": run}
