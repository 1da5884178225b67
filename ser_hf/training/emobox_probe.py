"""``method: probe`` with ``probe_head: emobox``: EmoBox's downstream head and training on a frozen encoder's frames.

What EmoBox's example recipe does (emo-box/EmoBox@08280f2, ``examples/sb``: ``speech_feature_extraction.py``,
``classifier_head.py``, ``train.py``, ``hparams/*_freeze.yaml`` and the README's training command), and ser-hf with it:

=====================  ===========================================================================================
features               the frozen encoder's last layer (``probe_layer``, default -1), one file at a time, each file's
                       (frames x dim) matrix layer-normalised as a whole (``--output_norm``: zero mean, unit variance
                       over all its values, eps 1e-5); cached per file by :func:`ser_hf.features.extract.extract`
head                   ``SuperbBaseModel``: Linear(dim, 128) -> ReLU -> mean over the file's frames (padding masked)
                       -> Linear(128, classes); log-softmax and NLL loss (README: ``--hidden_size 128``)
optimiser              Adam, learning rate 1e-4, batches of 32 shuffled files, 100 epochs (README: ``--lr 1e-4
                       --batch_size 32 --number_of_epochs 100``; the hparams files default to 20 epochs)
learning-rate schedule speechbrain's ``LinearWarmupScheduler(1e-4, 10, epochs)`` stepped after each epoch's
                       validation: epoch 1 at 1e-4, epoch 2 at 0, then +1e-5 per epoch to 1e-4 at epoch 12, then
                       down linearly to 0 at epoch 101 (:func:`emobox_learning_rate`)
validation             a random 20 % of the fold's training files (``split_ratio: [0.8, 0.2]``); the epoch with the
                       best validation accuracy is kept (``evaluate(max_key="wa")``)
=====================  ===========================================================================================

The settings are fixed (:data:`EMOBOX_SETTINGS`): a number comparable to EmoBox's leaderboard needs them. The kept
head is then temperature-scaled on the same validation files (:mod:`ser_hf.evaluation.calibration`, the temperature
folded into its last layer) and scores the test files. The run folder gets ``emobox_head.safetensors`` and
``emobox_head.json`` (encoder, layer, settings, labels, temperature) beside the usual results.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ser_hf.evaluation.calibration import softmax, temperature_scaling
from ser_hf.evaluation.metrics import compute_classification_metrics
from ser_hf.evaluation.results import save_predictions, write_results
from ser_hf.features.extract import extract
from ser_hf.recipe import Recipe
from ser_hf.training.data import Fold, preparation_first, prepare_data
from ser_hf.training.probe import build_encoder_extractor, extracted_parts

logger = logging.getLogger(__name__)

EMOBOX_SETTINGS = {
    "hidden_size": 128, "learning_rate": 1e-4, "batch_size": 32, "epochs": 100, "warmup_epochs": 10,
    "validation_fraction": 0.2, "output_norm": True, "selected_by": "validation accuracy",
    "source": "emo-box/EmoBox@08280f2 examples/sb (README command, classifier_head.SuperbBaseModel, hparams)",
}
LAYER_NORM_EPS = 1e-5  # torch.nn.functional.layer_norm's default, what EmoBox's --output_norm calls


class EmoBoxHead(nn.Module):
    """Linear -> ReLU -> masked mean over frames -> Linear (EmoBox's ``SuperbBaseModel``)."""

    def __init__(self, dim: int, hidden_size: int, num_labels: int):
        super().__init__()
        self.pre_net = nn.Linear(dim, hidden_size)
        self.post_net = nn.Linear(hidden_size, num_labels)

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # (batch, T, dim), (batch, T)
        hidden = torch.relu(self.pre_net(frames)) * mask.unsqueeze(-1)
        return self.post_net(hidden.sum(dim=1) / mask.sum(dim=1, keepdim=True))


def emobox_learning_rate(epoch: int, peak: float, epochs: int, warmup: int) -> float:
    """The learning rate of 1-based ``epoch``: the optimiser's own for epoch 1, then what speechbrain's
    ``LinearWarmupScheduler.get_next_value()`` returned after epoch ``epoch - 1`` (its step counter starts at 0)."""
    if epoch == 1:
        return peak
    step = epoch - 2
    if step < warmup:
        return peak * step / max(1, warmup)
    return peak * max(0.0, (epochs - step) / max(1, epochs - warmup))


def utterance_norm(frames: np.ndarray) -> np.ndarray:
    """``F.layer_norm(x, x.shape)`` of one file's (frames, dim) matrix: zero mean, unit variance over all values."""
    frames = np.asarray(frames, dtype=np.float32)
    return (frames - frames.mean()) / np.sqrt(frames.var() + LAYER_NORM_EPS)


def _batch(files: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(len(f) for f in files)
    frames = torch.zeros(len(files), longest, files[0].shape[1])
    mask = torch.zeros(len(files), longest)
    for i, f in enumerate(files):
        frames[i, : len(f)] = torch.as_tensor(f)
        mask[i, : len(f)] = 1.0
    return frames, mask


@torch.no_grad()
def head_logits(head: EmoBoxHead, files: list[np.ndarray], batch_size: int = 64) -> np.ndarray:
    head.eval()
    out = [head(*_batch(files[i : i + batch_size])) for i in range(0, len(files), batch_size)]
    return torch.cat(out).double().numpy() if out else np.zeros((0, head.post_net.out_features))


def train_emobox_head(train: list[np.ndarray], y_train: np.ndarray, validation: list[np.ndarray], y_validation: np.ndarray,
                      num_labels: int, seed: int, settings: dict = EMOBOX_SETTINGS) -> tuple[EmoBoxHead, dict]:
    """EmoBox's training: Adam, its epoch schedule, shuffled batches; the head of the best validation epoch.

    One torch thread: the head's matmuls are small, and on a busy 2-core machine two threads spent more on
    synchronising than on the work (20 epochs of 38 files: 20.7 s against 1.8 s with one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(train, y_train, validation, y_validation, num_labels, seed, settings)
    finally:
        torch.set_num_threads(threads)


def _train(train, y_train, validation, y_validation, num_labels, seed, settings) -> tuple[EmoBoxHead, dict]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    head = EmoBoxHead(train[0].shape[1], settings["hidden_size"], num_labels)
    optimizer = torch.optim.Adam(head.parameters(), lr=settings["learning_rate"])
    targets = torch.as_tensor(y_train, dtype=torch.long)
    best, best_state, history = -1.0, None, []
    for epoch in range(1, settings["epochs"] + 1):
        lr = emobox_learning_rate(epoch, settings["learning_rate"], settings["epochs"], settings["warmup_epochs"])
        for group in optimizer.param_groups:
            group["lr"] = lr
        head.train()
        order = rng.permutation(len(train))
        for start in range(0, len(order), settings["batch_size"]):
            chosen = order[start : start + settings["batch_size"]]
            logits = head(*_batch([train[i] for i in chosen]))
            loss = nn.functional.nll_loss(torch.log_softmax(logits, dim=-1), targets[chosen])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        accuracy = float((head_logits(head, validation).argmax(axis=1) == y_validation).mean())
        history.append(accuracy)
        if accuracy > best:  # the first epoch of the best accuracy, as speechbrain's max_key keeps
            best, best_state = accuracy, {k: v.detach().clone() for k, v in head.state_dict().items()}
    head.load_state_dict(best_state)
    return head.eval(), {"best_epoch": int(np.argmax(history)) + 1, "best_validation_accuracy": best,
                         "validation_accuracy": history}


def run_emobox_probe(recipe: Recipe, fold: Fold) -> dict | None:
    """Extract frames (cached) -> EmoBox's head on 80 % of the training files, best epoch on 20 % -> temperature on
    those 20 % -> test metrics, run folder. None on processes other than the main one."""
    out = Path(fold.output_dir)
    extractor = build_encoder_extractor(recipe, layer=recipe.model.probe_layer)  # a bad model id stops before any audio
    with preparation_first(recipe):
        data = prepare_data(recipe, fold, balanced=False)
    def frames(part: str) -> list[np.ndarray]:
        # EmoBox extracts one file at a time; HFEncoderExtractor gives each file the frames it has alone, in any batch
        emb = extract(data.splits[part], extractor, batch_size=recipe.training.per_device_eval_batch_size, pooling="frames",
                      progress=False)
        rows = np.split(emb.features, np.flatnonzero(np.diff(emb.file_index)) + 1) if len(emb.features) else []
        if len(rows) != len(data.splits[part]):
            raise ValueError(f"{len(data.splits[part]) - len(rows)} {part} file(s) gave no frame (shorter than one "
                             "encoder frame?)")
        return [utterance_norm(r) for r in rows]

    parts = extracted_parts(frames)
    if parts is None:
        return None
    train_all, test, extract_seconds = parts
    y_all, y_test = np.asarray(data.splits["train"]["label"]), np.asarray(data.splits["test"]["label"])
    order = np.random.default_rng(recipe.training.seed).permutation(len(train_all))
    cut = int(len(order) * (1 - EMOBOX_SETTINGS["validation_fraction"]))  # EmoBox: int(n x 0.8) files train
    fit, held = np.sort(order[:cut]), np.sort(order[cut:])
    if not len(held):
        raise ValueError(f"probe_head=emobox: {len(order)} training file(s) leave none for the 20 % validation part")
    started = time.perf_counter()
    head, history = train_emobox_head([train_all[i] for i in fit], y_all[fit], [train_all[i] for i in held], y_all[held],
                                      len(data.label_names), recipe.training.seed)
    fit_seconds = time.perf_counter() - started
    calibration = _calibrate(head, [train_all[i] for i in held], y_all[held]) if recipe.protocol.calibrate else None
    probs = softmax(head_logits(head, test))
    groups = {c: data.splits["test"][c] for c in ("corpus", "language") if len(set(data.splits["test"][c])) > 1}
    metrics = compute_classification_metrics(y_test, probs.argmax(axis=1), data.label_names, probabilities=probs,
                                             groups=groups)
    encoder = f"tiny random {recipe.model.tiny_model}" if recipe.model.tiny_model else extractor.source
    run = {"method": "probe", "probe_head": "emobox", "encoder": encoder, "layer": recipe.model.probe_layer,
           "extract_seconds": extract_seconds, "fit_seconds": fit_seconds, "train_files": int(len(fit)),
           "validation_files": int(len(held)), "model": f"EmoBox head, {encoder} layer {recipe.model.probe_layer}"}
    write_results(out, recipe, fold, data, metrics, probs, y_test,
                  {"method": "probe", "probe_head": "emobox", "emobox_training": {**EMOBOX_SETTINGS, **history},
                   "run": run, "calibration": calibration})
    save_predictions(out, {"probe": probs}, data.splits["test"], data.label_names)
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in head.state_dict().items()}, str(out / "emobox_head.safetensors"))
    (out / "emobox_head.json").write_text(json.dumps(
        {"encoder": encoder, "layer": recipe.model.probe_layer, "label_names": data.label_names,
         "settings": EMOBOX_SETTINGS, "calibration_temperature": (calibration or {}).get("temperature"),
         "extractor": extractor.cache_config()}, indent=1, default=str))
    logger.info("EmoBox head on %s layer %d: test accuracy %.2f %%, UAR %.2f %% (best epoch %d of %d; extract %.1f s, "
                "fit %.1f s)", encoder, recipe.model.probe_layer, 100 * metrics["accuracy"], 100 * metrics["uar"],
                history["best_epoch"], EMOBOX_SETTINGS["epochs"], extract_seconds, fit_seconds)
    return {"test": metrics, "run": run}


def _calibrate(head: EmoBoxHead, validation: list[np.ndarray], labels: np.ndarray) -> dict:
    """Temperature on the validation files, folded into ``post_net`` (the head then gives calibrated logits)."""
    report = temperature_scaling(head_logits(head, validation), labels)
    with torch.no_grad():
        head.post_net.weight.div_(report["temperature"])
        head.post_net.bias.div_(report["temperature"])
    return report
