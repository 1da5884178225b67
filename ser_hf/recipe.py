"""Recipes: flat YAML files whose keys are the fields of :class:`Recipe`; the command line overrides them.

    python train.py --recipe hubert_bilingual learning_rate=3e-5 --num_train_epochs 3 roots.ravdess=/data/RAVDESS

``--recipe NAME`` resolves ``recipes/NAME.yaml`` (or takes a path to a YAML file). An unknown key,
in the file or on the command line, is an error that names the key. Every value is converted to the
field's type and checked against its range (3.5 is not an integer, a batch size is > 0, a learning
rate is finite, a split protocol parses, a corpus root names a known corpus) when the recipe is
parsed, before any data or model is loaded; each problem is one line that names the key.
``python train.py --help`` lists every field with its help text.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ser_hf.registry import CLASSIFIERS, EXTRACTORS, METHODS, PROBE_HEADS

RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes"
logger = logging.getLogger(__name__)

BALANCE_METHODS = ("none", "harmonic", "undersample", "oversample", "class_weights")
BEST_METRICS = ("uar", "macro_f1", "accuracy", "weighted_f1")
AUGMENT_PRESETS = ("seed003", "seed004", "seed004_images")
SPECTROGRAM_KINDS = ("mel", "mfcc")
POOLINGS = ("mean", "frames")
CNN_BLSTM_VARIANTS = ("cnn", "lstm", "cnn_lstm", "cnn_blstm", "cnn_blstm_attention")  # ser_hf.models.cnn_blstm
FREEZE_RULE = re.compile(r"^(none|all|(last_blocks|last_layers|first_layers):[1-9]\d*)$")  # as models.image_cnn
HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


class RecipeError(ValueError):
    """A recipe that cannot be used; the message names the key."""


def _f(default: Any, help: str) -> Any:
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class Recipe:
    # ---- data
    corpora: list[str] = _f(["all"], "Corpora or consolidated sets (all_en, all_bn, all) to train on, and own data: audiofolder:ROOT, csv:|tsv:|jsonl:|parquet:|manifest:FILE, disk:PATH, hub:ORG/NAME[@REVISION] ([NAME=]KIND:... names it; README 'Your own data').")
    synthetic: bool = _f(False, "Use the project's synthetic espeak-ng corpus instead of real downloads.")
    synthetic_size: str = _f("small", "Size of the synthetic corpus: tiny, small or full.")
    data_root: str = _f("data", "Folder that relative corpus roots are resolved against.")
    roots: dict[str, str] = _f({}, "Corpus -> download folder (relative paths are under data_root); override one with roots.NAME=PATH.")
    label_map: dict[str, str] = _f({}, "Own data: a source label -> the class it means (label_map.joy=happy); case and common synonyms (joy, happiness -> happy; anger -> angry; sadness -> sad ...) need none. Unmapped labels are left out and listed first in the summary.")
    columns: dict[str, str] = _f({}, "Own data: the source's column for path, label, speaker, gender, language, sentence, intensity or audio (columns.label=mood, columns.speaker=actor); default: the first of their usual names found.")
    licences: dict[str, str] = _f({}, "Own data: a source's licence, shown on the model card (licences.NAME=CC-BY-4.0); unstated ones are shown as 'not stated'.")
    languages: list[str] = _f([], "Keep only rows of these languages (e.g. [en]: ESD's English speakers, seed 004); [] = all.")
    label_set: str = _f("seven", "Classes: seven, realtime4, iemocap4, all, all_but_neutral or source (own data's labels as they are) (ser_hf/data/labels.py).")
    split: str = _f("seed003", "Split protocol: seed003 (70/10/20), seed000, seed001, seed002, ratio:.., speaker:.., kfold:K:T[:V], loso:T[:V].")
    split_seed: int = _f(42, "Seed of the split.")
    trim_db: float | None = _f(25.0, "Trim leading/trailing silence quieter than this (dB below peak); null = no trim.")
    peak_normalize: bool = _f(False, "Peak-normalise every file (seeds 000/004).")
    fixed_seconds: float | None = _f(None, "Crop/pad every file to this length at preparation (seed 001: 4, seed 004: 3).")
    max_train_samples: int | None = _f(None, "Keep this many training rows (random, before balancing/augmentation): debug runs.")
    max_eval_samples: int | None = _f(None, "Keep this many validation and test rows each: debug runs.")
    max_train_seconds: float = _f(6.0, "Random crop of training clips (bounds padded shapes and memory).")
    pad_to_multiple_seconds: float | None = _f(None, "Pad training batches to a multiple of this many seconds (fewer distinct shapes, e.g. for cuDNN autotuning); null = to the longest clip. Padding never changes what a clip learns: each clip is normalised alone and the padding is masked. Evaluation never pads (it runs what pipeline() runs).")
    # ---- model
    model_name_or_path: str = _f("facebook/hubert-base-ls960", "Hub id or local folder of the audio encoder.")
    tiny_model: str | None = _f(None, "Build a tiny randomly initialised model of this type (hubert, wav2vec2, wavlm, data2vec-audio, whisper, audio-spectrogram-transformer) instead of loading one.")
    freeze_feature_encoder: bool = _f(True, "Freeze the CNN feature encoder (seed 003).")
    cache_frozen_features: bool = _f(False, "Compute the frozen CNN feature encoder's output once per training clip before training and train the transformer on it (wav2vec2-family models with freeze_feature_encoder: true; no on-the-fly augmentation). Removes the CNN from every step. Clips no longer than max_train_seconds get the same features; longer ones are cropped in 20-ms frames of their cached output, normalised over the whole clip instead of the crop, so it is off by default. Evaluation never uses it. Kept in output_dir/frozen_features/ until training ends (about 51 kB per audio-second in bf16).")
    mask_time_prob: float = _f(0.05, "SpecAugment time-mask probability (model config).")
    mask_time_length: int = _f(10, "SpecAugment time-mask length in frames.")
    mask_feature_prob: float = _f(0.0, "SpecAugment feature-mask probability.")
    mask_feature_length: int = _f(10, "SpecAugment feature-mask length in channels.")
    # ---- method: what is trained (train.py's branches)
    method: str = _f("finetune", "finetune (an HF audio encoder, seed 003), image_cnn (ImageNet CNN on spectrogram images, seeds 002-004), cnn_blstm (seed 004, from scratch), patch_finetune (VGGish/YAMNet + dense head, seeds 000/001), embeddings (frozen embeddings x classifiers table, seeds 000/003) or probe (frozen HF encoder, learned softmax-weighted sum of its layers + small head: the SUPERB protocol; probe_head=emobox: EmoBox's head).")
    backbone: str | None = _f(None, "image_cnn: vgg16, vgg19 or an HF/timm image model id (microsoft/resnet-50, timm/tf_efficientnetv2_b0.in1k ...); patch_finetune: vggish or yamnet.")
    backbone_weights: str | None = _f(None, "image_cnn with VGG: Hub id / torchvision .pth / Keras .h5 of the ImageNet weights (default timm/vggNN.tv_in1k); patch_finetune: the VGGish .pth / YAMNet .h5 or converted folder (default under $SER_HF_CACHE/weights).")
    freeze: str = _f("all", "image_cnn: none, all (C1), last_blocks:K (VGG, seed 002 C2: 2), last_layers:N (seed 002 EfficientNet C2: 32), first_layers:N (seed 004: 15); patch_finetune: all (frozen backbone) or none.")
    head_hidden_sizes: list[int] = _f([], "image_cnn / patch_finetune: dense ReLU layers of the head (seed 002: [512, 256]; seed 004: [128, 64]).")
    head_dropout: list[float] = _f([], "Dropout after each head layer (one value per layer).")
    head_batchnorm: bool = _f(False, "image_cnn: BatchNorm after each head layer (seed 004).")
    head_pooling: str = _f("flatten", "image_cnn with VGG: flatten (Keras Flatten, seeds 002/004) or avg (global average pooling).")
    l2: float = _f(0.0, "Keras-style L2 kernel regulariser added to the loss: the head's dense layers (image_cnn) or every conv/dense kernel (cnn_blstm); seed 004: 0.01.")
    spectrogram: str = _f("mel", "image_cnn / cnn_blstm input: mel (seeds 002/004) or mfcc (seed 003) spectrogram.")
    image_size: int = _f(224, "image_cnn: spectrogram images are resized to image_size x image_size (seed 003: 224).")
    clip_seconds: float = _f(3.0, "image_cnn / cnn_blstm: every clip is centre-padded or cropped to this length before the spectrogram (seed 004: 3).")
    cnn_blstm_variant: str = _f("cnn_blstm_attention", "cnn_blstm: cnn, lstm, cnn_lstm, cnn_blstm or cnn_blstm_attention (seed 004's models).")
    # ---- embeddings method (frozen embeddings -> classifiers, one table)
    extractors: list[str] = _f(["vggish", "yamnet"], "Embeddings: vggish, yamnet, egemaps, compare, mfcc, hf:<model id> (ser_hf.registry.EXTRACTORS).")
    classifiers: list[str] = _f(["svm_linear", "svm_rbf", "knn", "random_forest", "logistic_regression", "mlp"], "Classifiers fitted on each embedding.")
    pooling: str = _f("mean", "mean (one row per file, seed 000) or frames (one row per frame, seed 003).")
    extractor_weights: dict[str, str] = _f({}, "Extractor -> weight file or folder (e.g. extractor_weights.vggish=vggish-10086976.pth).")
    random_weights: bool = _f(False, "Embeddings / patch_finetune / image_cnn with VGG: random network weights, asked for explicitly (synthetic runs, timing); never a fallback.")
    mlp_trials: int = _f(10, "Points of seed 003's MLP grid sampled by the random search.")
    mlp_max_epochs: int = _f(5000, "MLP epoch limit (seed 003: 5000, early stopping patience 20).")
    # ---- augmentation and balancing (training part only)
    augment_preset: str | None = _f(None, "audiomentations preset: seed003 or seed004; null = none.")
    augment_offline_factor: int = _f(1, "Expand the training part this many times with augmented copies (seed 003: 5).")
    augment_online_p: float = _f(0.0, "Probability of augmenting a training clip on the fly.")
    online_augment_preset: str | None = _f(None, "Preset of the on-the-fly augmentation when it differs from augment_preset (seed 004's images: seed004_images).")
    balance: str = _f("none", "Training balance: none, harmonic, undersample, oversample or class_weights.")
    # ---- training
    output_dir: str = _f("outputs/run", "Where the model, checkpoints and results go.")
    resume: bool = _f(True, "Resume from the last complete checkpoint in output_dir when there is one.")
    num_train_epochs: float = _f(5.0, "Epochs (seed 003: 5).")
    max_steps: int = _f(-1, "Stop after this many optimiser steps (overrides epochs when > 0).")
    learning_rate: float = _f(3e-5, "Peak learning rate.")
    warmup_ratio: float = _f(0.1, "Fraction of steps for linear warm-up.")
    weight_decay: float = _f(0.0, "AdamW weight decay.")
    per_device_train_batch_size: int = _f(8, "Training batch per device.")
    per_device_eval_batch_size: int = _f(8, "Evaluation batch per device.")
    gradient_accumulation_steps: int = _f(1, "Gradient accumulation.")
    group_by_length: bool = _f(False, "Batch clips of similar duration together (less padding; reads the stored duration column, no audio). Off by default: such batches hold fewer corpora and classes, and on the quickstart they trained to a lower accuracy in the same time (benchmarks/time_to_accuracy.py).")
    eval_strategy: str = _f("epoch", "When to evaluate and save: epoch or steps.")
    eval_steps: int | None = _f(None, "Steps between evaluations (and checkpoints) when eval_strategy is steps.")
    save_total_limit: int = _f(2, "Checkpoints kept (the best is always kept).")
    metric_for_best_model: str = _f("uar", "Best checkpoint by uar, macro_f1, accuracy or weighted_f1.")
    early_stopping_patience: int | None = _f(3, "Evaluations without improvement before stopping; null = never.")
    bf16: str = _f("auto", "bf16 mixed precision: auto (on a GPU with bf16, or a CPU with bf16 units: AMX / AVX512-BF16), true or false.")
    seed: int = _f(42, "Training seed.")
    dataloader_num_workers: int = _f(2, "Dataloader worker processes.")
    logging_steps: int = _f(10, "Steps between log lines.")
    num_proc: int | None = _f(None, "Processes for corpus preparation and offline augmentation.")
    cache: bool = _f(True, "Use a cached preparation of the same files and settings; false decodes every file again.")
    train_shards: str | None = _f(None, "Train on this sharded prepared training part, streamed (a folder written by ser_hf.data.shards.write_parquet_shards, or a Hub dataset id): each process reads its own Parquet files, length grouping works per buffer of 64 batches; validation and test still come from corpora and split. Needs max_steps.")
    prepare_on: str = _f("shared", "Multi-node runs: shared (one preparation per shared file system: the main process of node 0 prepares, every other process waits, then reads its cache) or node (the main process of each node prepares into its own node-local $SER_HF_CACHE; the others on that node wait).")
    ddp_timeout: int = _f(600, "Multi-process runs: seconds a collective (the gradient all-reduce, an evaluation gather) may wait for the other processes before it fails (TrainingArguments.ddp_timeout, applied on CPU too; torch's default is 30 min). Long waits (node 0 preparing a corpus, a checkpoint being written) wait on files, not in collectives, and peer_timeout bounds them.")
    peer_timeout: int = _f(120, "Multi-process runs: seconds without a sign of life from another process (its status file under output_dir/.ser_hf stops changing: killed, frozen, its machine cut off) before every process stops with exit status 1, naming it; a process that raises, or dies on the same machine, stops the job within seconds. At least 5.")
    # ---- evaluation protocol
    cross_validation: str = _f("none", "none (one run on `split`), loso (leave one speaker out), kfold:K (K speaker-group folds, stratified as far as speakers allow), auto (loso for 4-6 speakers, kfold:5 above; 2-3 speakers: loso with a warning; 1 speaker: speaker-dependent stratified 5-fold with a warning) or emobox (EmoBox's published folds and classes for one corpus EmoBox covers, ser_hf.data.emobox; sets label_set=emobox). Folds run in output_dir/fold-NN; a relaunch skips finished folds; cv_results.json holds mean +- std, pooled scores and 95 % intervals.")
    cross_corpus: bool = _f(False, "Train on each group of cross_corpus_groups and test on every other, on the classes all groups share; the diagonal is the in-corpus score under cross_validation (or split). Writes cross_corpus.json / .md / .png.")
    cross_corpus_groups: list[str] = _f([], "Groups of cross_corpus: corpora or consolidated names (all_en, all_bn); [] = each entry of corpora.")
    bootstrap_samples: int = _f(1000, "Bootstrap resamples behind the 95 % intervals of accuracy, UAR, macro and weighted F1 in results and cards (speakers are resampled where the test part is speaker-independent, files otherwise); 0 = no intervals.")
    calibrate: bool = _f(True, "Trainer methods: after training, fit a temperature on the validation part (never the test part) and fold it into the saved classifier, so pipeline(), the Space and predictions give calibrated probabilities; results.json reports the expected calibration error before and after.")
    plots: bool = _f(True, "Draw each run's confusion matrix and ROC curves (per row of an embeddings table); cross-validation folds skip them and draw the pooled ones once.")
    keep_classes: list[str] = _f([], "Keep only these classes of the label set (other rows dropped, labels renumbered); [] = all.")
    # ---- probe method (frozen encoder, learned layer weights + head)
    probe_epochs: int = _f(200, "probe: full-batch training epochs of the layer weights and head (early stopping on the training loss plateau).")
    probe_learning_rate: float = _f(1e-3, "probe: Adam learning rate of the layer weights and head.")
    probe_hidden_size: int = _f(0, "probe: hidden units of the head (0 = a linear head on the weighted layer sum, SUPERB's setting).")
    probe_head: str = _f("weighted_layers", "probe: weighted_layers (learned softmax weights over every layer's time-pooled state + head; probe_epochs, probe_learning_rate, probe_hidden_size) or emobox (EmoBox's head on one layer's frames: Linear 128 -> ReLU -> masked mean over frames -> Linear, Adam 1e-4, batch 32, 100 epochs, best epoch on a random 20 % of the training files; ser_hf.training.emobox_probe).")
    probe_layer: int = _f(-1, "probe_head=emobox: the encoder layer whose frames the head reads (-1 = the last, EmoBox's choice; 0 = the CNN output).")
    # ---- evaluation extras
    long_clip: str | None = _f(None, "A labelled long recording (WAV with a .csv of start,end,emotion beside it); null = a synthetic one.")
    # ---- publishing
    push_to_hub: bool = _f(False, "Push the result to the Hub after training (its own revision; never overwrites one).")
    hub_model_id: str | None = _f(None, "ORG/NAME on the Hub (needed with push_to_hub).")

    def __post_init__(self) -> None:
        _check_types(self)
        _check_ranges(self)
        _check_choice("balance", self.balance, BALANCE_METHODS)
        _check_choice("metric_for_best_model", self.metric_for_best_model, BEST_METRICS)
        _check_choice("eval_strategy", self.eval_strategy, ("epoch", "steps"))
        _check_choice("bf16", str(self.bf16).lower(), ("auto", "true", "false"))
        _check_choice("synthetic_size", self.synthetic_size, ("tiny", "small", "full"))
        _check_choice("method", self.method, tuple(METHODS))
        _check_choice("spectrogram", self.spectrogram, SPECTROGRAM_KINDS)
        _check_choice("pooling", self.pooling, POOLINGS)
        _check_choice("head_pooling", self.head_pooling, ("flatten", "avg"))
        _check_choice("prepare_on", self.prepare_on, ("shared", "node"))
        if self.train_shards and self.max_steps <= 0:
            raise RecipeError("train_shards: a streamed training part has no length; set max_steps (e.g. max_steps=10000)")
        if self.train_shards and (self.balance != "none" or self.augment_offline_factor > 1):
            raise RecipeError(f"train_shards: balance={self.balance} and augment_offline_factor={self.augment_offline_factor} "
                              "need the whole training part in memory; balance or augment it before writing the shards "
                              "(balance=none augment_offline_factor=1 here)")
        if self.cache_frozen_features:
            why = ("method is not finetune" if self.method != "finetune" else
                   "freeze_feature_encoder is false: the CNN trains" if not self.freeze_feature_encoder else
                   "augment_online_p > 0: the audio changes every step" if self.augment_online_p > 0 else
                   "train_shards streams the training part" if self.train_shards else None)
            if why:
                raise RecipeError(f"cache_frozen_features: the frozen CNN's output is cached per training clip, but {why}")
        if self.method in ("image_cnn", "patch_finetune") and not self.backbone:
            raise RecipeError(f"method={self.method} needs backbone=" + ("vgg19 (or another)" if self.method == "image_cnn" else "vggish or yamnet"))
        if self.method == "patch_finetune" and self.backbone not in ("vggish", "yamnet"):
            raise RecipeError(f"patch_finetune: backbone must be vggish or yamnet, got {self.backbone!r}")
        if self.method == "patch_finetune" and self.freeze not in ("all", "none"):
            raise RecipeError(f"patch_finetune: freeze must be all or none, got {self.freeze!r}")
        if len(self.head_dropout) not in (0, len(self.head_hidden_sizes)):
            raise RecipeError(f"head_dropout needs one value per head layer ({len(self.head_hidden_sizes)}), got {self.head_dropout}")
        if self.method == "embeddings":
            for name in self.extractors:
                if name not in EXTRACTORS or name.endswith(":"):
                    if not (name.startswith("hf:") and len(name) > 3):
                        raise RecipeError(f"extractors: {name!r} is not one of {', '.join(k for k in EXTRACTORS if k != 'hf:')}, hf:<model id or folder>")
            for name in self.classifiers:
                _check_choice("classifiers", name, tuple(CLASSIFIERS))
        if self.method == "embeddings" and self.balance not in ("none", "harmonic"):
            raise RecipeError(f"embeddings: balance must be none or harmonic (frame rows), got {self.balance!r}")
        if self.augment_preset is not None:
            _check_choice("augment_preset", self.augment_preset, AUGMENT_PRESETS)
        if self.augment_offline_factor < 1:
            raise RecipeError(f"augment_offline_factor must be >= 1, got {self.augment_offline_factor}")
        if self.online_augment_preset is not None:
            _check_choice("online_augment_preset", self.online_augment_preset, AUGMENT_PRESETS)
        if self.augment_offline_factor > 1 and not self.augment_preset:
            raise RecipeError("augment_offline_factor > 1 needs augment_preset (seed003 or seed004)")
        if self.augment_online_p > 0 and not (self.online_augment_preset or self.augment_preset):
            raise RecipeError("augment_online_p > 0 needs online_augment_preset or augment_preset")
        if not 0.0 <= self.augment_online_p <= 1.0:
            raise RecipeError(f"augment_online_p must be in [0, 1], got {self.augment_online_p}")
        if self.eval_strategy == "steps" and not self.eval_steps:
            raise RecipeError("eval_strategy=steps needs eval_steps")
        parse_cross_validation(self.cross_validation)
        _check_choice("probe_head", self.probe_head, tuple(PROBE_HEADS))
        if self.method == "probe" and not (self.tiny_model or self.model_name_or_path):
            raise RecipeError("method=probe needs model_name_or_path (an HF audio encoder) or tiny_model")
        if self.push_to_hub and not self.hub_model_id:
            raise RecipeError("push_to_hub needs hub_model_id=ORG/NAME")
        from ser_hf.data.labels import LABEL_SETS

        _check_choice("label_set", self.label_set, tuple(LABEL_SETS))
        from ser_hf.data.corpora import expand_names

        try:
            expand_names(self.corpora)
            for group in self.cross_corpus_groups:
                expand_names([group])
        except ValueError as err:
            raise RecipeError(f"corpora: {err}") from None
        _check_own_data(self)
        if self.cross_validation == "emobox":
            self._check_emobox()
        if self.cross_corpus and len(self.cross_corpus_groups or self.corpora) < 2:
            raise RecipeError("cross_corpus needs at least two corpora or cross_corpus_groups to train and test across")
        if self.keep_classes:
            from ser_hf.data.labels import get_label_set

            label_set = get_label_set(self.label_set)
            unknown = [] if label_set.narrow else [c for c in self.keep_classes if c not in label_set.classes]
            if unknown:
                raise RecipeError(f"keep_classes: {unknown} not in label_set {self.label_set!r}")

    def _check_emobox(self) -> None:
        """EmoBox's folds exist per corpus and come with EmoBox's classes (ser_hf.data.emobox)."""
        from ser_hf.data.corpora import expand_names
        from ser_hf.data.emobox import EMOBOX_NAMES

        names = expand_names(self.corpora)
        if len(names) != 1 or names[0] not in EMOBOX_NAMES:
            raise RecipeError(f"cross_validation=emobox: EmoBox's folds are per corpus: give corpora=[NAME], one of "
                              f"{', '.join(EMOBOX_NAMES)} (got {', '.join(names)})")
        if self.cross_corpus:
            raise RecipeError("cross_validation=emobox: EmoBox's folds are within one corpus, not for cross_corpus")
        if self.label_set != "emobox":
            logger.warning("cross_validation=emobox: EmoBox's classes replace label_set=%s (label_set=emobox)",
                           self.label_set)
            self.label_set = "emobox"

    def corpus_roots(self) -> dict[str, str | None]:
        """Root per built-in corpus: None for the synthetic corpus; relative roots are under data_root."""
        from ser_hf.data.corpora import expand_names
        from ser_hf.data.sources import is_source

        names = [n for n in expand_names(self.corpora) if not is_source(n)]
        if self.synthetic:
            return {n: None for n in names}
        missing = [n for n in names if not self.roots.get(n)]
        if missing:
            raise RecipeError(
                f"no root for corpus {', '.join(missing)}: set roots.{missing[0]}=/path/to/download "
                "(relative to data_root), or synthetic=true for the synthetic corpus"
            )
        return {n: str(Path(self.data_root) / self.roots[n]) for n in names}  # an absolute root stays absolute

    def to_yaml(self) -> str:
        return yaml.safe_dump(dataclasses.asdict(self), sort_keys=False, allow_unicode=True)


FIELDS = {f.name: f for f in dataclasses.fields(Recipe)}
_HINTS = typing.get_type_hints(Recipe)


# Ranges of the numeric fields; each name appears once. The arithmetic they guard is in train.py / training/.
POSITIVE_INTS = (
    "per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps", "logging_steps",
    "save_total_limit", "image_size", "mlp_trials", "mlp_max_epochs", "mask_time_length", "mask_feature_length",
    "probe_epochs", "ddp_timeout",
)
NON_NEGATIVE_INTS = ("bootstrap_samples",)
POSITIVE_INTS_OR_NULL = ("max_train_samples", "max_eval_samples", "eval_steps", "early_stopping_patience", "num_proc")
POSITIVE_FLOATS = (
    "num_train_epochs", "learning_rate", "max_train_seconds", "clip_seconds",
    "probe_learning_rate",
)
NON_NEGATIVE_FLOATS = ("weight_decay", "l2")
POSITIVE_FLOATS_OR_NULL = ("pad_to_multiple_seconds",)
# Keys of earlier releases: a recipe that still sets one is told why it went, not "unknown key".
REMOVED_KEYS = {
    "max_eval_seconds": "evaluation now runs every clip whole, as pipeline('audio-classification') does, so the "
                        "reported figures are what the saved model gives; delete the line",
}
PROBABILITIES = ("mask_time_prob", "mask_feature_prob", "augment_online_p")


def _scalar_type_error(value: Any, base: type) -> str | None:
    """Why ``value`` is not of the field's scalar type (bool is not a number, 3.5 is not an integer)."""
    if base is bool:
        return None if isinstance(value, bool) else f"{value!r} is not true or false"
    if base is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else f"{value!r} is not an integer"
    if base is float:
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else f"{value!r} is not a number"
    if base is str:
        return None if isinstance(value, str) else f"{value!r} is not a string"
    return None


def _check_types(recipe: "Recipe") -> None:
    """Every field holds its declared type; ints become floats where a float is wanted."""
    for name, hint in _HINTS.items():
        value = getattr(recipe, name)
        args = typing.get_args(hint)
        optional = isinstance(hint, types.UnionType) and type(None) in args
        base = next(a for a in args if a is not type(None)) if optional else hint
        if value is None:
            if not optional:
                raise RecipeError(f"{name} cannot be null")
            continue
        origin = typing.get_origin(base) or base
        if origin is list:
            if not isinstance(value, (list, tuple)):
                raise RecipeError(f"{name}: {value!r} is not a list")
            item = (typing.get_args(base) or (str,))[0]
            for v in value:
                problem = _scalar_type_error(v, item)
                if problem:
                    raise RecipeError(f"{name}: {problem}")
            setattr(recipe, name, [float(v) if item is float else v for v in value])
        elif origin is dict:
            if not isinstance(value, dict):
                raise RecipeError(f"{name}: {value!r} is not a mapping")
            for key, v in value.items():
                if v is None or (isinstance(v, str) and not v.strip()):
                    raise RecipeError(f"{name}.{key}: give a folder or file, not {v!r}")
                if not isinstance(v, str):
                    raise RecipeError(f"{name}.{key}: {v!r} is not a string")
        else:
            problem = _scalar_type_error(value, origin)
            if problem:
                raise RecipeError(f"{name}: {problem}")
            if origin is float:
                setattr(recipe, name, float(value))


def _check_ranges(r: "Recipe") -> None:
    finite = math.isfinite
    for name in POSITIVE_INTS:
        if getattr(r, name) <= 0:
            raise RecipeError(f"{name}: must be an integer > 0, got {getattr(r, name)}")
    for name in NON_NEGATIVE_INTS:
        if getattr(r, name) < 0:
            raise RecipeError(f"{name}: must be an integer >= 0, got {getattr(r, name)}")
    for name in POSITIVE_INTS_OR_NULL:
        value = getattr(r, name)
        if value is not None and value <= 0:
            raise RecipeError(f"{name}: must be an integer > 0 or null, got {value}")
    for name in POSITIVE_FLOATS:
        value = getattr(r, name)
        if not (finite(value) and value > 0):
            raise RecipeError(f"{name}: must be a finite number > 0, got {value}")
    for name in POSITIVE_FLOATS_OR_NULL:
        value = getattr(r, name)
        if value is not None and not (finite(value) and value > 0):
            raise RecipeError(f"{name}: must be a finite number > 0 or null, got {value}")
    for name in NON_NEGATIVE_FLOATS:
        value = getattr(r, name)
        if not (finite(value) and value >= 0):
            raise RecipeError(f"{name}: must be a finite number >= 0, got {value}")
    for name in PROBABILITIES:
        value = getattr(r, name)
        if not 0.0 <= value <= 1.0:
            raise RecipeError(f"{name}: must be a number in [0, 1], got {value}")
    if not 0.0 <= r.warmup_ratio < 1.0:
        raise RecipeError(f"warmup_ratio: must be a number in [0, 1), got {r.warmup_ratio}")
    if r.trim_db is not None and not (finite(r.trim_db) and r.trim_db >= 0):
        raise RecipeError(f"trim_db: must be a finite number >= 0 or null (no trim), got {r.trim_db}")
    if r.fixed_seconds is not None and not (finite(r.fixed_seconds) and r.fixed_seconds > 0):
        raise RecipeError(f"fixed_seconds: must be a finite number > 0 or null, got {r.fixed_seconds}")
    if r.max_steps != -1 and r.max_steps <= 0:
        raise RecipeError(f"max_steps: must be -1 (no limit) or an integer > 0, got {r.max_steps}")
    for name in ("seed", "split_seed"):
        if not 0 <= getattr(r, name) < 2**32:  # numpy's seed range
            raise RecipeError(f"{name}: must be an integer in [0, 2**32), got {getattr(r, name)}")
    if r.peer_timeout < 5:
        raise RecipeError(f"peer_timeout: must be an integer >= 5 (seconds; heartbeats come every peer_timeout / 6 s), got {r.peer_timeout}")
    if r.probe_hidden_size < 0:
        raise RecipeError(f"probe_hidden_size: must be an integer >= 0 (0 = linear head), got {r.probe_hidden_size}")
    if r.dataloader_num_workers < 0:
        raise RecipeError(f"dataloader_num_workers: must be an integer >= 0, got {r.dataloader_num_workers}")
    if any(n <= 0 for n in r.head_hidden_sizes):
        raise RecipeError(f"head_hidden_sizes: every size must be an integer > 0, got {r.head_hidden_sizes}")
    if any(not 0.0 <= d < 1.0 for d in r.head_dropout):
        raise RecipeError(f"head_dropout: every value must be in [0, 1), got {r.head_dropout}")
    if not r.corpora:
        raise RecipeError("corpora: give at least one corpus (e.g. corpora=[ravdess] or corpora=all)")
    for name in ("model_name_or_path", "output_dir", "data_root"):
        if not getattr(r, name).strip():
            raise RecipeError(f"{name}: cannot be empty")
    if not FREEZE_RULE.match(r.freeze):
        raise RecipeError(f"freeze: {r.freeze!r} is not none, all, last_blocks:K, last_layers:N or first_layers:N")
    _check_choice("cnn_blstm_variant", r.cnn_blstm_variant, CNN_BLSTM_VARIANTS)
    if r.hub_model_id is not None and not HUB_ID.match(r.hub_model_id):
        raise RecipeError(f"hub_model_id: {r.hub_model_id!r} is not ORG/NAME")
    for key in r.extractor_weights:
        if key not in EXTRACTORS and not (key.startswith("hf:") and len(key) > 3):
            known = ", ".join(k for k in EXTRACTORS if k != "hf:")
            raise RecipeError(f"extractor_weights.{key}: unknown extractor {key!r}; known: {known}")
    from ser_hf.data.corpora import CORPORA
    from ser_hf.data.splits import parse_split_protocol

    for key in r.roots:
        if key not in CORPORA:
            close = difflib.get_close_matches(key, CORPORA, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(CORPORA)}"
            raise RecipeError(f"roots.{key}: unknown corpus {key!r}; {hint}")
    try:
        parse_split_protocol(r.split)
    except ValueError as err:
        raise RecipeError(f"split: {err}") from None
def _check_own_data(r: "Recipe") -> None:
    """The own-data keys: known column names, label_map targets the label set has, licences of sources in the run."""
    from ser_hf.data.labels import label_map_problem
    from ser_hf.data.sources import SOURCE_COLUMNS, is_source, source_name

    for key in r.columns:
        if key not in SOURCE_COLUMNS:
            raise RecipeError(f"columns.{key}: not a column of the schema; one of {', '.join(SOURCE_COLUMNS)}")
    problem = label_map_problem(r.label_map, r.label_set)
    if problem:
        raise RecipeError(f"label_map.{problem}")
    sources = {source_name(n) for n in [*r.corpora, *r.cross_corpus_groups] if is_source(n)}
    for key in r.licences:
        if key not in sources:
            raise RecipeError(f"licences.{key}: no own source named {key!r} in corpora "
                              f"({', '.join(sorted(sources)) or 'none'}; a source is named after its folder or file, "
                              "or NAME=KIND:...)")


def parse_cross_validation(value: str) -> tuple[str, int | None]:
    """``none`` / ``loso`` / ``auto`` / ``emobox`` -> (scheme, None); ``kfold:K`` -> ("kfold", K); else RecipeError."""
    scheme, _, k = value.partition(":")
    if scheme in ("none", "loso", "auto", "emobox") and not k:
        return scheme, None
    if scheme == "kfold" and k.isdigit() and int(k) >= 2:
        return scheme, int(k)
    raise RecipeError(f"cross_validation: {value!r} is not none, loso, auto, emobox or kfold:K (K >= 2)")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise RecipeError(f"{name}: {value!r} is not one of {', '.join(choices)}")


def _coerce(name: str, value: Any) -> Any:
    hint = _HINTS[name]
    args = typing.get_args(hint)
    optional = isinstance(hint, types.UnionType) and type(None) in args
    base = next(a for a in args if a is not type(None)) if optional else hint
    # "null" always means None; "none" only for optional fields (balance: none is a method)
    if value is None or (isinstance(value, str) and (value.lower() == "null" or (optional and value.lower() == "none"))):
        if not optional:
            raise RecipeError(f"{name} cannot be null")
        return None
    origin = typing.get_origin(base) or base
    try:
        if origin is list:
            if isinstance(value, str):
                value = yaml.safe_load(value) if value.startswith("[") else [v for v in value.split(",") if v]
            item = (typing.get_args(base) or (str,))[0]
            return [_coerce_scalar(v, item) for v in (value if isinstance(value, list) else [value])]
        if origin is dict:
            value = yaml.safe_load(value) if isinstance(value, str) else value
            if not isinstance(value, dict):
                raise TypeError("expected a mapping")
            return {str(k): v if v is None else str(v) for k, v in value.items()}  # null is named by the check
        return _coerce_scalar(value, origin)
    except (TypeError, ValueError) as err:
        raise RecipeError(f"{name}: cannot use {value!r} ({err})") from None


def _coerce_scalar(value: Any, base: type) -> Any:
    """A command-line string to ``base``; YAML's typed values are left for the type check to judge."""
    if not isinstance(value, str):
        if isinstance(value, bool) and base is str:  # YAML reads `bf16: true` as a bool
            return str(value).lower()
        if isinstance(value, (int, float)) and base is str:  # `backbone: 19` means the name "19"
            return str(value)
        return value
    if base is bool:
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise TypeError(f"{value!r} is not a boolean")
        return value.lower() in ("true", "1", "yes")
    if base is int:
        try:
            return int(value)
        except ValueError:
            number = float(value)  # 1e3 is an integer written as a float; 3.5 is not, and the type check says so
            return int(number) if number.is_integer() else number
    if base is float:
        return float(value)
    return value


def _unknown(key: str) -> RecipeError:
    if key in REMOVED_KEYS:
        return RecipeError(f"recipe key {key!r} was removed: {REMOVED_KEYS[key]}")
    close = difflib.get_close_matches(key, FIELDS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(FIELDS)}"
    return RecipeError(f"unknown recipe key {key!r}{hint}")


def _set(values: dict, key: str, value: Any) -> None:
    if "." in key:  # roots.ravdess=/data/RAVDESS
        head, sub = key.split(".", 1)
        if head not in FIELDS or typing.get_origin(_HINTS[head]) is not dict:
            raise _unknown(key)
        values[head] = {**values.get(head, {}), sub: str(value)}
        return
    if key not in FIELDS:
        raise _unknown(key)
    values[key] = value


def resolve_path(name_or_path: str) -> Path:
    """``recipes/NAME.yaml`` for a bare name, else the YAML file at that path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if path.is_file():
            return path
        raise RecipeError(f"no recipe file {path}")
    candidate = RECIPES_DIR / f"{name_or_path}.yaml"
    if candidate.is_file():
        return candidate
    known = sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))
    raise RecipeError(f"no recipe {name_or_path!r}; recipes: {', '.join(known)}")


def load_recipe(name_or_path: str, overrides: list[str] | None = None) -> Recipe:
    """The recipe file with ``overrides`` (``key=value`` / ``--key value``) applied on top."""
    path = resolve_path(name_or_path)
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: a recipe is a flat mapping of keys to values")
    values: dict = {}
    for key, value in raw.items():
        try:
            _set(values, str(key), value)
        except RecipeError as err:
            raise RecipeError(f"{path}: {err}") from None
    for key, value in parse_overrides(overrides or []):
        _set(values, key, value)
    return Recipe(**{k: _coerce(k, v) for k, v in values.items()})


def parse_overrides(args: list[str]) -> list[tuple[str, str]]:
    """``key=value`` and ``--key value`` / ``--key=value`` pairs, in order."""
    out, i = [], 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            key = arg[2:]
            if "=" in key:
                key, value = key.split("=", 1)
            elif i + 1 < len(args):
                i += 1
                value = args[i]
            else:
                raise RecipeError(f"{arg} needs a value")
            out.append((key.replace("-", "_"), value))
        elif "=" in arg:
            key, value = arg.split("=", 1)
            out.append((key, value))
        else:
            raise RecipeError(f"cannot read {arg!r}: use key=value or --key value")
        i += 1
    return out


def usage() -> str:
    lines = [
        "usage: train.py --recipe NAME|PATH [key=value | --key value ...]",
        "",
        f"recipes: {', '.join(sorted(p.stem for p in RECIPES_DIR.glob('*.yaml')))}",
        "",
        "keys (recipe fields):",
    ]
    for name, f in FIELDS.items():
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        lines.append(f"  {name} = {default!r}\n      {f.metadata['help']}")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> Recipe:
    """``--recipe NAME`` plus overrides, from a command line (``-h``/``--help`` prints the keys)."""
    if any(a in ("-h", "--help") for a in argv):
        print(usage())
        raise SystemExit(0)
    argv = list(argv)
    name = None
    for i, arg in enumerate(argv):
        if arg == "--recipe" and i + 1 < len(argv):
            name = argv[i + 1]
            del argv[i : i + 2]
            break
        if arg.startswith("--recipe=") or arg.startswith("recipe="):
            name = arg.split("=", 1)[1]
            del argv[i]
            break
    if name is None:
        raise RecipeError("give a recipe: --recipe NAME (recipes/NAME.yaml) or --recipe path/to/recipe.yaml")
    return load_recipe(name, argv)
