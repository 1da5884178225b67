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
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

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


def train_mlp(config: MLPConfig, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
              device: str | None = None) -> tuple[MLP, TrainingResult]:
    """Train one MLP with early stopping and learning-rate halving on the validation loss."""
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
    keeps the lowest validation loss and exposes ``predict`` / ``predict_proba`` / ``classes_``.
    """

    def __init__(self, n_trials: int = 10, max_epochs: int = 5000, seed: int = 0, device: str | None = None,
                 search_space: dict[str, list] | None = None, config: dict | None = None, batch_size: int = 256):
        self.n_trials = n_trials
        self.max_epochs = max_epochs
        self.seed = seed
        self.device = device
        self.search_space = search_space or SEARCH_SPACE
        self.config_overrides = config
        self.batch_size = batch_size
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
        best = None
        self.trials = []
        for i, point in enumerate(points):
            config = MLPConfig(input_dim=features.shape[1], num_classes=num_classes, max_epochs=self.max_epochs,
                               batch_size=self.batch_size, seed=self.seed, **point)
            model, result = train_mlp(config, features, labels, val_features, val_labels, self.device)
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
