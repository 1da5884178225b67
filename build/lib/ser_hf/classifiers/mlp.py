"""Seed 003's MLP on embeddings, and its random grid search (seed 003, §3.3.2 and Table 4).

"The MLP is trained for up to 5000 epochs with a batch size of 256, using an early stopping
mechanism that halts training if validation loss doesn't improve for 20 epochs. Additionally, the
learning rate is reduced by half if no improvement is seen in the validation loss for 3
consecutive epochs." The grid (Table 4) has 11 hidden-layer layouts x 3 dropout rates x 2
optimisers x 3 learning rates = 198 points; random grid search trains ``n_trials`` of them, drawn
without replacement, and keeps the one with the lowest validation loss.

Choices the paper leaves open, made here:

* hidden layers are Linear -> ReLU -> Dropout; the output layer is linear and the loss is
  cross-entropy (softmax + categorical cross-entropy);
* inputs are standardised with the training rows' mean and standard deviation (stored in the
  model, so a saved MLP takes raw embeddings);
* the two schedules follow Keras' callbacks, which the paper used: early stopping counts epochs
  since the best validation loss (``min_delta=0``); the learning-rate halving counts stagnant
  epochs with ``min_delta=1e-4`` and restarts its count after each halving; the weights of the
  best epoch are restored at the end;
* without a validation set, 10 % of the training *files* (stratified) are held out, so frames of
  one file never sit on both sides.

A fitted :class:`MLPClassifier` saves to a folder with ``model.safetensors`` + ``config.json``.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm.auto import tqdm

from ser_hf.hardware import available_cpus

logger = logging.getLogger(__name__)

# Seed 003, Table 4.
SEARCH_SPACE: dict[str, list] = {
    "hidden_layers": [[4096], [2048], [4096, 2048], [4096, 2048, 1024], [2048, 1024], [1024, 512], [512, 256],
                      [1024, 512, 256], [256], [512], [1024]],
    "dropout": [0.0, 0.2, 0.5],
    "optimizer": ["adam", "adamax"],
    "learning_rate": [1e-3, 1e-4, 1e-5],
}
OPTIMIZERS = {"adam": torch.optim.Adam, "adamax": torch.optim.Adamax}


@dataclass
class MLPConfig:
    """One MLP and how it is trained (defaults: seed 003)."""

    input_dim: int
    num_classes: int
    hidden_layers: list[int] = field(default_factory=lambda: [1024, 512])
    dropout: float = 0.0
    optimizer: str = "adam"
    learning_rate: float = 1e-4
    batch_size: int = 256
    max_epochs: int = 5000  # seed 003: "up to 5000 epochs"
    patience: int = 20  # early stopping on validation loss
    lr_patience: int = 3  # halve the learning rate after 3 stagnant epochs
    lr_factor: float = 0.5
    lr_min_delta: float = 1e-4  # Keras ReduceLROnPlateau default
    seed: int = 0

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {self.optimizer!r}")
        self.hidden_layers = [int(h) for h in self.hidden_layers]


class MLP(nn.Module):
    """Standardisation -> [Linear -> ReLU -> Dropout] x hidden -> Linear (logits)."""

    def __init__(self, config: MLPConfig):
        super().__init__()
        self.register_buffer("feature_mean", torch.zeros(config.input_dim))
        self.register_buffer("feature_scale", torch.ones(config.input_dim))
        layers: list[nn.Module] = []
        size = config.input_dim
        for hidden in config.hidden_layers:
            layers += [nn.Linear(size, hidden), nn.ReLU(), nn.Dropout(config.dropout)]
            size = hidden
        layers.append(nn.Linear(size, config.num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.feature_mean) / self.feature_scale)


@dataclass
class TrainingResult:
    best_val_loss: float
    best_epoch: int
    epochs: int
    val_accuracy: float
    seconds: float
    learning_rates: list[float]


def _device(device: str | None) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


@torch.no_grad()
def _evaluate(model: MLP, x: torch.Tensor, y: torch.Tensor, chunk: int = 8192) -> tuple[float, float]:
    model.eval()
    logits = torch.cat([model(x[i : i + chunk]) for i in range(0, len(x), chunk)])
    loss = nn.functional.cross_entropy(logits, y).item()
    return loss, (logits.argmax(1) == y).float().mean().item()


def train_mlp_reference(config: MLPConfig, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                        y_val: np.ndarray, device: str | None = None) -> tuple[MLP, TrainingResult]:
    """The straightforward loop (one model, ``torch.optim``, a shuffled pass per epoch): what :func:`train_mlps`
    must reproduce, kept for the equality tests and as the benchmark's baseline."""
    dev = _device(device)
    torch.manual_seed(config.seed)
    model = MLP(config)
    mean = x_train.mean(axis=0)
    scale = x_train.std(axis=0)
    model.feature_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
    model.feature_scale.copy_(torch.as_tensor(np.where(scale > 1e-8, scale, 1.0), dtype=torch.float32))
    model.to(dev)
    xt = torch.as_tensor(x_train, dtype=torch.float32, device=dev)
    yt = torch.as_tensor(y_train, dtype=torch.long, device=dev)
    xv = torch.as_tensor(x_val, dtype=torch.float32, device=dev)
    yv = torch.as_tensor(y_val, dtype=torch.long, device=dev)
    optimizer = OPTIMIZERS[config.optimizer](model.parameters(), lr=config.learning_rate)
    generator = torch.Generator().manual_seed(config.seed)

    start = time.perf_counter()
    best_loss, best_epoch, best_state = float("inf"), -1, None
    lr_best, lr_wait = float("inf"), 0
    learning_rates = []
    epoch = 0
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        order = torch.randperm(len(xt), generator=generator).to(dev)
        for i in range(0, len(order), config.batch_size):
            batch = order[i : i + config.batch_size]
            optimizer.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(xt[batch]), yt[batch]).backward()
            optimizer.step()
        val_loss, _ = _evaluate(model, xv, yv)
        learning_rates.append(optimizer.param_groups[0]["lr"])
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        # Keras ReduceLROnPlateau: improvement needs min_delta; after a halving the count restarts.
        if val_loss < lr_best - config.lr_min_delta:
            lr_best, lr_wait = val_loss, 0
        else:
            lr_wait += 1
            if lr_wait >= config.lr_patience:
                for group in optimizer.param_groups:
                    group["lr"] *= config.lr_factor
                lr_wait = 0
        if epoch - best_epoch >= config.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    _, val_accuracy = _evaluate(model, xv, yv)
    result = TrainingResult(best_loss, best_epoch, epoch, val_accuracy, time.perf_counter() - start, learning_rates)
    return model.eval(), result


def _group_key(config: MLPConfig) -> tuple:
    """Trials that can share one stack: everything but the learning rate and the dropout rate."""
    return tuple((k, str(v)) for k, v in sorted(asdict(config).items()) if k not in ("learning_rate", "dropout"))


def train_mlps(configs: list[MLPConfig], x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
               y_val: np.ndarray, device: str | None = None, progress: bool | None = False,
               num_threads: int | None = None) -> list[tuple[MLP, TrainingResult]]:
    """Train several MLPs as :func:`train_mlp_reference` does (same init, batches, schedule, restored best epoch);
    results in the order given.

    Trials that differ only in learning rate and dropout (same layers, optimiser, seed, schedule) are trained
    as one stack: their weights are ``(trials, in, out)`` tensors, every step is a batched matmul, and the
    inputs are standardised once. A trial leaves the stack when it stops. A stack of one trial draws the same
    dropout masks as the reference; in a larger stack the trials share one random stream, so only trials without
    dropout match their lone runs (to float rounding). ``progress``: a tqdm bar over trials (None: only on a
    terminal). ``num_threads``: torch threads on the CPU (None: :func:`fit_threads`).
    """
    dev = _device(device)
    mean = x_train.mean(axis=0)
    scale = x_train.std(axis=0)
    scale = np.where(scale > 1e-8, scale, 1.0)
    tensors = {"mean": torch.as_tensor(mean, dtype=torch.float32, device=dev),
               "scale": torch.as_tensor(scale, dtype=torch.float32, device=dev)}
    # The same arithmetic as MLP.forward, once instead of every step.
    standardise = lambda x: (torch.as_tensor(x, dtype=torch.float32, device=dev) - tensors["mean"]) / tensors["scale"]  # noqa: E731
    data = (standardise(x_train), torch.as_tensor(y_train, dtype=torch.long, device=dev),
            standardise(x_val), torch.as_tensor(y_val, dtype=torch.long, device=dev))
    groups: dict[tuple, list[int]] = {}
    for i, config in enumerate(configs):
        groups.setdefault(_group_key(config), []).append(i)
    out: list = [None] * len(configs)
    bar = tqdm(total=len(configs), desc="MLP trials", unit="trial", disable=None if progress is None else not progress,
               leave=False)
    threads = torch.get_num_threads()
    try:
        for members in groups.values():
            if dev.type == "cpu":
                torch.set_num_threads(num_threads or fit_threads(configs[members[0]], len(members), len(x_train)))
            for i, result in zip(members, _train_stack([configs[i] for i in members], data, dev, bar)):
                model, _ = result
                model.feature_mean.copy_(tensors["mean"])
                model.feature_scale.copy_(tensors["scale"])
                out[i] = (model.eval(), result[1])
    finally:
        torch.set_num_threads(threads)
        bar.close()
    return out


SMALL_MATMUL = 2**26  # multiply-adds: ~1 ms on one core, less than OpenMP's hand-offs gain on two


def fit_threads(config: MLPConfig, trials: int, rows: int) -> int:
    """torch threads for a stack of ``trials`` MLPs on the CPU: torch's setting, but one thread when every matmul
    of a step is small or when the CPUs are already busy (load average >= CPUs): then OpenMP threads mostly wait for
    each other and for the cores; on a loaded 2-core machine one thread ran seed 003's small layers 30x faster."""
    sizes = [config.input_dim, *config.hidden_layers, config.num_classes]
    largest = trials * min(rows, config.batch_size) * max(a * b for a, b in zip(sizes, sizes[1:]))
    busy = hasattr(os, "getloadavg") and os.getloadavg()[0] >= available_cpus()
    return 1 if largest < SMALL_MATMUL or busy else torch.get_num_threads()


def train_mlp(config: MLPConfig, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
              device: str | None = None) -> tuple[MLP, TrainingResult]:
    """Train one MLP with early stopping and learning-rate halving on the validation loss."""
    return train_mlps([config], x_train, y_train, x_val, y_val, device)[0]


def _stacked_logits(layers: list[tuple[torch.Tensor, torch.Tensor]], x: torch.Tensor,
                    dropout: list[float] | None = None) -> torch.Tensor:
    """Logits ``(trials, rows, classes)`` of stacked MLPs on shared standardised rows ``x``; ``dropout``: each
    trial's dropout rate (training), None (evaluation)."""
    h = x
    for i, (weight, bias) in enumerate(layers):
        h = torch.baddbmm(bias, h, weight) if h.dim() == 3 else torch.matmul(h, weight) + bias
        if i < len(layers) - 1:
            h = torch.relu(h)
            if dropout is not None:
                h = h * _dropout_noise(h, dropout)
    return h


def _dropout_noise(h: torch.Tensor, dropout: list[float]) -> torch.Tensor:
    """nn.Dropout's noise (ATen's CPU dropout: ``bernoulli_(1 - p) / (1 - p)``; nothing drawn when ``p`` is 0), trial
    after trial: a lone trial draws the very masks of the reference loop."""
    noise = torch.ones_like(h)
    for i, p in enumerate(dropout):
        if p > 0:
            noise[i].bernoulli_(1 - p).div_(1 - p)
    return noise


def _stacked_losses(layers, x: torch.Tensor, y: torch.Tensor, chunk: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-trial mean cross-entropy and accuracy on (x, y), without dropout, in chunks of rows."""
    losses, correct = 0.0, 0.0
    for i in range(0, len(x), chunk):
        logits = _stacked_logits(layers, x[i : i + chunk])
        t, n, c = logits.shape
        losses = losses + nn.functional.cross_entropy(
            logits.reshape(t * n, c), y[i : i + chunk].repeat(t), reduction="none").view(t, n).sum(1)
        correct = correct + (logits.argmax(-1) == y[i : i + chunk]).sum(1)
    return losses / len(x), correct / len(x)


def _train_stack(configs: list[MLPConfig], data, dev: torch.device, bar) -> list[tuple[MLP, TrainingResult]]:
    """Train trials that share layers, optimiser, seed and schedule as one stack (see :func:`train_mlps`)."""
    xt, yt, xv, yv = data
    first = configs[0]
    torch.manual_seed(first.seed)  # every trial starts from the same weights, as train_mlp_reference's
    template = MLP(first)
    linears = [m for m in template.net if isinstance(m, nn.Linear)]
    n = len(configs)
    params = [t.detach().to(dev).unsqueeze(0).repeat(n, 1, 1).requires_grad_()
              for layer in linears for t in (layer.weight.t().contiguous(), layer.bias.view(1, -1))]
    moments = [torch.zeros_like(p) for p in params]
    second = [torch.zeros_like(p) for p in params]  # Adam: squared gradients; Adamax: infinity norm
    best = [p.detach().clone() for p in params]
    rates = [c.dropout for c in configs]
    lrs = [c.learning_rate for c in configs]
    alive = list(range(n))  # trial of each slice of the stack
    best_loss, best_epoch = [float("inf")] * n, [-1] * n
    lr_best, lr_wait = [float("inf")] * n, [0] * n
    learning_rates: list[list[float]] = [[] for _ in range(n)]
    epochs, seconds = [0] * n, [0.0] * n
    generator = torch.Generator().manual_seed(first.seed)
    beta1, beta2, eps = 0.9, 0.999, 1e-8  # torch's defaults for Adam and Adamax
    adamax = first.optimizer == "adamax"
    start, step = time.perf_counter(), 0
    for epoch in range(1, first.max_epochs + 1):
        layers = list(zip(params[0::2], params[1::2]))
        dropout = [rates[i] for i in alive] if any(rates[i] > 0 for i in alive) else None
        # The reference's shuffle, also for a table of one batch: the dropout masks then meet the same rows.
        for batch in torch.randperm(len(xt), generator=generator).to(dev).split(first.batch_size):
            xb, yb = xt[batch], yt[batch]
            logits = _stacked_logits(layers, xb, dropout)
            t, b, c = logits.shape
            loss = nn.functional.cross_entropy(logits.reshape(t * b, c), yb.repeat(t), reduction="none")
            grads = torch.autograd.grad(loss.view(t, b).mean(1).sum(), params)
            step += 1
            # torch.optim.Adam / Adamax (foreach off), with a learning rate per trial: one temporary per tensor.
            step_sizes = [lrs[i] / (1 - beta1**step) for i in alive]
            step_size = step_sizes[0] if len(set(step_sizes)) == 1 else \
                torch.tensor(step_sizes, device=dev).view(-1, 1, 1)
            with torch.no_grad():
                for p, g, m, s in zip(params, grads, moments, second):
                    m.lerp_(g, 1 - beta1)
                    if adamax:
                        torch.maximum(s.mul_(beta2), g.abs_().add_(eps), out=s)
                        denom = s / step_size
                    else:
                        s.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                        denom = s.sqrt().div_(math.sqrt(1 - beta2**step)).add_(eps).div_(step_size)
                    p.addcdiv_(m, denom, value=-1)
        with torch.no_grad():
            val_losses = _stacked_losses(layers, xv, yv)[0].tolist()
        finished = []
        for slot, (i, val_loss) in enumerate(zip(alive, val_losses)):
            config = configs[i]
            learning_rates[i].append(lrs[i])
            epochs[i] = epoch
            if val_loss < best_loss[i]:
                best_loss[i], best_epoch[i] = val_loss, epoch
                for kept, p in zip(best, params):
                    kept[i].copy_(p.detach()[slot])
            # Keras ReduceLROnPlateau: improvement needs min_delta; after a halving the count restarts.
            if val_loss < lr_best[i] - config.lr_min_delta:
                lr_best[i], lr_wait[i] = val_loss, 0
            else:
                lr_wait[i] += 1
                if lr_wait[i] >= config.lr_patience:
                    lrs[i] *= config.lr_factor
                    lr_wait[i] = 0
            if epoch - best_epoch[i] >= config.patience or epoch == config.max_epochs:
                finished.append(slot)
                seconds[i] = time.perf_counter() - start
                bar.update(1)
        # a trial can run thousands of epochs: the bar shows where the stack is (redrawn at tqdm's own pace)
        bar.set_postfix({"epoch": epoch, "training": len(alive) - len(finished),
                         "best val loss": f"{min(best_loss):.4f}"}, refresh=False)
        bar.update(0)
        if finished:
            stay = [s for s in range(len(alive)) if s not in finished]
            if not stay:
                break
            index = torch.tensor(stay, device=dev)
            params = [p.detach()[index].requires_grad_() for p in params]
            moments = [m[index] for m in moments]
            second = [s[index] for s in second]
            alive = [alive[s] for s in stay]
    results = []
    with torch.no_grad():
        val_accuracy = _stacked_losses(list(zip(best[0::2], best[1::2])), xv, yv)[1].tolist()
    for i, config in enumerate(configs):
        model = MLP(config)
        for layer, weight, bias in zip([m for m in model.net if isinstance(m, nn.Linear)], best[0::2], best[1::2]):
            layer.weight.data.copy_(weight[i].t())
            layer.bias.data.copy_(bias[i].view(-1))
        model.to(dev)
        results.append((model, TrainingResult(best_loss[i], best_epoch[i], epochs[i], val_accuracy[i], seconds[i],
                                              learning_rates[i])))
    return results


def grid_points(search_space: dict[str, list] | None = None) -> list[dict]:
    """Every combination of the search space (198 for seed 003's Table 4), in a fixed order."""
    space = search_space or SEARCH_SPACE
    keys = list(space)
    return [dict(zip(keys, values)) for values in itertools.product(*(space[k] for k in keys))]


def sample_grid(n_trials: int, seed: int = 0, search_space: dict[str, list] | None = None) -> list[dict]:
    """``n_trials`` distinct grid points drawn at random (all of them when ``n_trials`` exceeds the grid)."""
    points = grid_points(search_space)
    return random.Random(seed).sample(points, min(n_trials, len(points)))


def holdout_files(file_labels: np.ndarray, fraction: float = 0.1, seed: int = 0) -> np.ndarray:
    """Boolean mask of files held out for validation: ``fraction`` of each class, at least one when it has two."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(file_labels), dtype=bool)
    for label in np.unique(file_labels):
        files = np.flatnonzero(file_labels == label)
        if len(files) < 2:
            continue
        take = max(1, int(round(fraction * len(files))))
        mask[rng.choice(files, size=take, replace=False)] = True
    return mask


class MLPClassifier:
    """Seed 003's MLP with random grid search, used like a scikit-learn classifier.

    ``fit`` searches ``n_trials`` points of :data:`SEARCH_SPACE` (or trains ``config`` when given),
    keeps the lowest validation loss and exposes ``predict`` / ``predict_proba`` / ``classes_``. The trials are
    trained by :func:`train_mlps` (points sharing an architecture and optimiser as one stack).
    """

    def __init__(self, n_trials: int = 10, max_epochs: int = 5000, seed: int = 0, device: str | None = None,
                 search_space: dict[str, list] | None = None, config: dict | None = None, batch_size: int = 256,
                 progress: bool | None = None):
        self.n_trials = n_trials
        self.max_epochs = max_epochs
        self.seed = seed
        self.device = device
        self.search_space = search_space or SEARCH_SPACE
        self.config_overrides = config
        self.batch_size = batch_size
        self.progress = progress  # tqdm bar over the trials; None: only on a terminal
        self.model: MLP | None = None
        self.config: MLPConfig | None = None
        self.trials: list[dict] = []

    def fit(self, features: np.ndarray, labels: np.ndarray, val_features: np.ndarray | None = None,
            val_labels: np.ndarray | None = None, groups: np.ndarray | None = None) -> MLPClassifier:
        """Search and train. Without a validation set, 10 % of the files (``groups``: file of each row) are held out."""
        features = np.asarray(features, dtype=np.float32)
        labels = np.asarray(labels, dtype=np.int64)
        if val_features is None:
            groups = np.arange(len(labels)) if groups is None else np.asarray(groups)
            files, first = np.unique(groups, return_index=True)
            held = files[holdout_files(labels[first], 0.1, self.seed)]
            is_val = np.isin(groups, held)
            if not is_val.any() or is_val.all():
                raise ValueError("too few training files to hold out a validation part; pass a validation set")
            val_features, val_labels = features[is_val], labels[is_val]
            features, labels = features[~is_val], labels[~is_val]
        val_features = np.asarray(val_features, dtype=np.float32)
        val_labels = np.asarray(val_labels, dtype=np.int64)
        num_classes = int(max(labels.max(), val_labels.max())) + 1
        self.classes_ = np.arange(num_classes)
        points = [self.config_overrides] if self.config_overrides else sample_grid(self.n_trials, self.seed,
                                                                                    self.search_space)
        configs = [MLPConfig(input_dim=features.shape[1], num_classes=num_classes, max_epochs=self.max_epochs,
                             batch_size=self.batch_size, seed=self.seed, **point) for point in points]
        trained = train_mlps(configs, features, labels, val_features, val_labels, self.device, self.progress)
        best = None
        self.trials = []
        for i, (point, config, (model, result)) in enumerate(zip(points, configs, trained)):
            trial = {**point, "best_val_loss": result.best_val_loss, "val_accuracy": result.val_accuracy,
                     "best_epoch": result.best_epoch, "epochs": result.epochs, "seconds": result.seconds}
            self.trials.append(trial)
            logger.info("MLP trial %d/%d %s: val loss %.4f, val acc %.3f, %d epochs", i + 1, len(points), point,
                        result.best_val_loss, result.val_accuracy, result.epochs)
            if best is None or result.best_val_loss < best[2].best_val_loss:
                best = (model, config, result)
        self.model, self.config, _ = best
        self.model.cpu()
        return self

    @torch.no_grad()
    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("MLPClassifier is not fitted")
        x = torch.as_tensor(np.asarray(features, dtype=np.float32))
        return torch.cat([self.model(x[i : i + 8192]).softmax(-1) for i in range(0, len(x), 8192)]).numpy() \
            if len(x) else np.zeros((0, len(self.classes_)), np.float32)

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.predict_proba(features).argmax(axis=1)

    def save_pretrained(self, directory: str | Path) -> Path:
        """``model.safetensors`` (weights and standardisation) + ``config.json`` (architecture, search trials)."""
        if self.model is None:
            raise RuntimeError("MLPClassifier is not fitted")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.model.state_dict().items()}, str(directory / "model.safetensors"))
        (directory / "config.json").write_text(json.dumps(
            {"model_type": "ser_hf_mlp", "config": asdict(self.config), "trials": self.trials}, indent=1))
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> MLPClassifier:
        directory = Path(directory)
        saved = json.loads((directory / "config.json").read_text())
        if saved.get("model_type") != "ser_hf_mlp":
            raise ValueError(f"{directory}: not a saved ser-hf MLP "
                             f"(config.json model_type {saved.get('model_type')!r})")
        config = MLPConfig(**saved["config"])
        classifier = cls(seed=config.seed, max_epochs=config.max_epochs)
        classifier.config = config
        classifier.model = MLP(config)
        classifier.model.load_state_dict(load_file(str(directory / "model.safetensors")))
        classifier.model.eval()
        classifier.classes_ = np.arange(config.num_classes)
        classifier.trials = saved.get("trials", [])
        return classifier
