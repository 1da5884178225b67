"""The sections of a recipe, each a torch-free dataclass of its keys: what the data is, how it is split and scored,
the model of each ``method``, and publishing. (Training is :class:`ser_hf.training.arguments.TrainingConfig`, a
``transformers.TrainingArguments`` subclass, so that section imports torch and is built last.)

A recipe stays one flat YAML file; :func:`ser_hf.recipe.load_recipe` hands each key to every section that declares
it (``tiny_model`` to the model section of each method, ``seed`` to training), as alignment-handbook parses one file
into its argument classes. Each key is declared once, with its help text and its check (:mod:`ser_hf.recipe_fields`);
keys shared by several methods' sections are declared once in a mixin those sections inherit. The registry
(:data:`ser_hf.registry.METHODS`) names each method's section beside its builder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ser_hf.recipe_fields import (
    RecipeError,
    seed_range,
    all_of,
    check_section,
    choice,
    each,
    field,
    non_negative,
    not_empty,
    pattern,
    positive,
    probability,
)
from ser_hf.registry import (
    METRICS,
    PROBE_HEADS,
    AUGMENT_PRESETS,
    BALANCE_METHODS,
    CLASSIFIERS,
    CNN_BLSTM_VARIANTS,
    EXTRACTORS,
    FREEZE_RULE,
    POOLINGS,
    SPECTROGRAM_KINDS,
)

HUB_ID = r"^[\w.-]+/[\w.-]+$"


def _label_sets() -> tuple[str, ...]:
    from ser_hf.data.labels import LABEL_SETS

    return tuple(LABEL_SETS)


def _extractor_name(key: str, name: str) -> None:
    if (name not in EXTRACTORS or name.endswith(":")) and not (name.startswith("hf:") and len(name) > 3):
        known = ", ".join(k for k in EXTRACTORS if not k.endswith(":"))
        raise RecipeError(f"{key}: {name!r} is not one of {known}, hf:<model id or folder>")


def _source_columns(key: str, columns: dict) -> None:
    from ser_hf.data.sources import SOURCE_COLUMNS

    for name in columns:
        if name not in SOURCE_COLUMNS:
            raise RecipeError(f"{key}.{name}: not a column of the schema; one of {', '.join(SOURCE_COLUMNS)}")


def _extractor_weights(key: str, weights: dict) -> None:
    for name in weights:
        if name not in EXTRACTORS and not (name.startswith("hf:") and len(name) > 3):
            known = ", ".join(k for k in EXTRACTORS if not k.endswith(":"))
            raise RecipeError(f"{key}.{name}: unknown extractor {name!r}; known: {known}")


class Section:
    """A recipe section: its fields' types and checks run when it is built; :meth:`check` adds the rules that
    involve several keys."""

    def __post_init__(self) -> None:
        check_section(self)
        self.check()

    def check(self) -> None:
        pass


# ---------------------------------------------------------------- data
@dataclass
class DataConfig(Section):
    """What the run reads: corpora, label set, preprocessing, debug subsets, balancing and augmentation."""

    corpora: list[str] = field(["all"], "Corpora or consolidated sets (all_en, all_bn, all) to train on, and own "
                                        "data: audiofolder:ROOT, csv:|tsv:|jsonl:|parquet:|manifest:FILE, disk:PATH, "
                                        "hub:ORG/NAME[@REVISION] ([NAME=]KIND:... names it; README 'Your own data').",
                               lambda k, v: v or _raise(f"{k}: give at least one corpus (e.g. corpora=[ravdess] or "
                                                        "corpora=all)"))
    synthetic: bool = field(False, "Use the project's synthetic espeak-ng corpus instead of real downloads.")
    synthetic_size: str = field("small", "Size of the synthetic corpus: tiny, small or full.",
                                choice(("tiny", "small", "full")))
    data_root: str = field("data", "Folder that relative corpus roots are resolved against.", not_empty)
    roots: dict[str, str] = field({}, "Corpus -> download folder (relative paths are under data_root); override one "
                                      "with roots.NAME=PATH.")
    label_map: dict[str, str] = field({}, "Own data: a source label -> the class it means (label_map.joy=happy); case "
                                          "and common synonyms (joy, happiness -> happy; anger -> angry; sadness -> sad "
                                          "...) need none. Unmapped labels are left out and listed first in the "
                                          "summary.")
    columns: dict[str, str] = field({}, "Own data: the source's column for path, label, speaker, gender, language, "
                                        "sentence, intensity or audio (columns.label=mood, columns.speaker=actor); "
                                        "default: the first of their usual names found.",
                                    lambda k, v: _source_columns(k, v))
    licences: dict[str, str] = field({}, "Own data: a source's licence, shown on the model card "
                                         "(licences.NAME=CC-BY-4.0); unstated ones are shown as 'not stated'.")
    languages: list[str] = field([], "Keep only rows of these languages (e.g. [en]: ESD's English speakers, seed 004); "
                                     "[] = all.")
    label_set: str = field("seven", "Classes: seven, realtime4, iemocap4, all, all_but_neutral or source (own data's "
                                    "labels as they are) (ser_hf/data/labels.py).", choice(_label_sets))
    keep_classes: list[str] = field([], "Keep only these classes of the label set (other rows dropped, labels "
                                        "renumbered); [] = all.")
    trim_db: float | None = field(25.0, "Trim leading/trailing silence quieter than this (dB below peak); null = no "
                                        "trim.", non_negative)
    peak_normalize: bool = field(False, "Peak-normalise every file (seeds 000/004).")
    fixed_seconds: float | None = field(None, "Crop/pad every file to this length at preparation (seed 001: 4, "
                                              "seed 004: 3).", positive)
    max_train_samples: int | None = field(None, "Keep this many training rows (random, before balancing/"
                                                "augmentation): debug runs.", positive)
    max_eval_samples: int | None = field(None, "Keep this many validation and test rows each: debug runs.", positive)
    augment_preset: str | None = field(None, "audiomentations preset: seed003 or seed004; null = none.",
                                       choice(AUGMENT_PRESETS))
    augment_offline_factor: int = field(1, "Expand the training part this many times with augmented copies "
                                           "(seed 003: 5).", positive)
    augment_online_p: float = field(0.0, "Probability of augmenting a training clip on the fly.", probability)
    online_augment_preset: str | None = field(None, "Preset of the on-the-fly augmentation when it differs from "
                                                    "augment_preset (seed 004's images: seed004_images).",
                                              choice(AUGMENT_PRESETS))
    balance: str = field("none", "Training balance: none, harmonic, undersample, oversample or class_weights.",
                         choice(BALANCE_METHODS))
    num_proc: int | None = field(None, "Processes for corpus preparation and offline augmentation.", positive)
    cache: bool = field(True, "Use a cached preparation of the same files and settings; false decodes every file "
                              "again.")
    train_shards: str | None = field(None, "Train on this sharded prepared training part, streamed (a folder written "
                                           "by ser_hf.data.shards.write_parquet_shards, or a Hub dataset id): each "
                                           "process reads its own Parquet files, length grouping works per buffer of "
                                           "64 batches; validation and test still come from corpora and split. Needs "
                                           "max_steps.")
    prepare_on: str = field("shared", "Multi-node runs: shared (one preparation per shared file system: the main "
                                      "process of node 0 prepares, every other process waits, then reads its "
                                      "cache) or node (the main process of each node prepares into its own "
                                      "node-local $SER_HF_CACHE; the others on that node wait).",
                            choice(("shared", "node")))

    def check(self) -> None:
        from ser_hf.data.corpora import CORPORA, expand_names

        for key in self.roots:
            if key not in CORPORA:
                import difflib

                close = difflib.get_close_matches(key, CORPORA, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(CORPORA)}"
                raise RecipeError(f"roots.{key}: unknown corpus {key!r}; {hint}")
        try:
            expand_names(self.corpora)
        except ValueError as err:
            raise RecipeError(f"corpora: {err}") from None
        if self.augment_offline_factor > 1 and not self.augment_preset:
            raise RecipeError("augment_offline_factor > 1 needs augment_preset (seed003 or seed004)")
        if self.augment_online_p > 0 and not (self.online_augment_preset or self.augment_preset):
            raise RecipeError("augment_online_p > 0 needs online_augment_preset or augment_preset")
        if self.train_shards and (self.balance != "none" or self.augment_offline_factor > 1):
            raise RecipeError(f"train_shards: balance={self.balance} and augment_offline_factor="
                              f"{self.augment_offline_factor} need the whole training part in memory; balance or "
                              "augment it before writing the shards (balance=none augment_offline_factor=1 here)")
        self.check_own_data()
        if self.keep_classes:
            from ser_hf.data.labels import get_label_set

            label_set = get_label_set(self.label_set)
            unknown = [] if label_set.narrow else [c for c in self.keep_classes if c not in label_set.classes]
            if unknown:
                raise RecipeError(f"keep_classes: {unknown} not in label_set {self.label_set!r}")

    def check_own_data(self, groups: list[str] = ()) -> None:
        """The own-data keys: label_map targets the label set has, licences of sources in the run (``corpora`` and the
        cross-corpus ``groups``)."""
        from ser_hf.data.labels import label_map_problem
        from ser_hf.data.sources import is_source, source_name

        problem = label_map_problem(self.label_map, self.label_set)
        if problem:
            raise RecipeError(f"label_map.{problem}")
        sources = {source_name(n) for n in [*self.corpora, *groups] if is_source(n)}
        for key in self.licences:
            if key not in sources:
                raise RecipeError(f"licences.{key}: no own source named {key!r} in corpora "
                                  f"({', '.join(sorted(sources)) or 'none'}; a source is named after its folder or "
                                  "file, or NAME=KIND:...)")

    def corpus_roots(self, corpora: list[str] | None = None) -> dict[str, str | None]:
        """Root per built-in corpus of ``corpora`` (default: the recipe's; own data has its own folders): None for
        the synthetic corpus; relative roots are under data_root."""
        from ser_hf.data.corpora import expand_names
        from ser_hf.data.sources import is_source

        names = [n for n in expand_names(self.corpora if corpora is None else corpora) if not is_source(n)]
        if self.synthetic:
            return {n: None for n in names}
        missing = [n for n in names if not self.roots.get(n)]
        if missing:
            raise RecipeError(
                f"no root for corpus {', '.join(missing)}: set roots.{missing[0]}=/path/to/download "
                "(relative to data_root), or synthetic=true for the synthetic corpus"
            )
        return {n: str(Path(self.data_root) / self.roots[n]) for n in names}  # an absolute root stays absolute


# ---------------------------------------------------------------- protocol
def _split_protocol(key: str, value: str) -> None:
    from ser_hf.data.splits import parse_split_protocol

    try:
        parse_split_protocol(value)
    except ValueError as err:
        raise RecipeError(f"{key}: {err}") from None


def parse_cross_validation(value: str) -> tuple[str, int | None]:
    """``none`` / ``loso`` / ``auto`` / ``emobox`` -> (scheme, None); ``kfold:K`` -> ("kfold", K); else RecipeError."""
    scheme, _, k = value.partition(":")
    if scheme in ("none", "loso", "auto", "emobox") and not k:
        return scheme, None
    if scheme == "kfold" and k.isdigit() and int(k) >= 2:
        return scheme, int(k)
    raise RecipeError(f"cross_validation: {value!r} is not none, loso, auto, emobox or kfold:K (K >= 2)")


@dataclass
class ProtocolConfig(Section):
    """How the run is split and scored: the split, cross-validation, cross-corpus, and what is drawn."""

    split: str = field("seed003", "Split protocol: seed003 (70/10/20), seed000, seed001, seed002, ratio:.., "
                                  "speaker:.., kfold:K:T[:V], loso:T[:V].", _split_protocol)
    split_seed: int = field(42, "Seed of the split.", lambda k, v: _seed(k, v))
    cross_validation: str = field("none", "none (one run on `split`), loso (leave one speaker out), kfold:K (K "
                                          "speaker-group folds, stratified as far as speakers allow), auto (loso for "
                                          "4-6 speakers, kfold:5 above; 2-3 speakers: loso with a warning; 1 speaker: "
                                          "speaker-dependent stratified 5-fold with a warning) or emobox (EmoBox's "
                                          "published folds and classes for one corpus EmoBox covers, "
                                          "ser_hf.data.emobox; sets label_set=emobox). Folds run in "
                                          "output_dir/fold-NN; a relaunch skips finished folds; cv_results.json holds "
                                          "mean +- std, pooled scores and 95 % intervals.",
                                  lambda k, v: parse_cross_validation(v) and None)
    cross_corpus: bool = field(False, "Train on each group of cross_corpus_groups and test on every other, on the "
                                      "classes all groups share; the diagonal is the in-corpus score under "
                                      "cross_validation (or split). Writes cross_corpus.json / .md / .png.")
    cross_corpus_groups: list[str] = field([], "Groups of cross_corpus: corpora or consolidated names (all_en, "
                                               "all_bn); [] = each entry of corpora.")
    plots: bool = field(True, "Draw each run's confusion matrix and ROC curves (per row of an embeddings table); "
                              "cross-validation folds skip them and draw the pooled ones once.")
    long_clip: str | None = field(None, "A labelled long recording (WAV with a .csv of start,end,emotion beside it); "
                                        "null = a synthetic one.")
    bootstrap_samples: int = field(1000, "Bootstrap resamples behind the 95 % intervals of accuracy, UAR, macro and "
                                         "weighted F1 in results and cards (speakers are resampled where the test part "
                                         "is speaker-independent, files otherwise); 0 = no intervals.",
                                   lambda k, v: v >= 0 or _raise(f"{k}: must be an integer >= 0, got {v}"))
    calibrate: bool = field(True, "Trainer methods: after training, fit a temperature on the validation part (never "
                                  "the test part) and fold it into the saved classifier, so pipeline(), the Space and "
                                  "predictions give calibrated probabilities; results.json reports the expected "
                                  "calibration error before and after.")

    def check(self) -> None:
        from ser_hf.data.corpora import expand_names

        try:
            for group in self.cross_corpus_groups:
                expand_names([group])
        except ValueError as err:
            raise RecipeError(f"cross_corpus_groups: {err}") from None


def _seed(key: str, value: int) -> None:
    from ser_hf.recipe_fields import seed_range

    seed_range(key, value)


# ---------------------------------------------------------------- the model of each method
@dataclass
class TinyKeys:
    tiny_model: str | None = field(None, "Build a tiny randomly initialised model instead of loading one: the "
                                         "encoder type (hubert, wav2vec2, wavlm, data2vec-audio, whisper, "
                                         "audio-spectrogram-transformer) for finetune and probe; any value (tiny) "
                                         "for the other methods.")


@dataclass
class RandomWeightsKeys:
    random_weights: bool = field(False, "Embeddings / patch_finetune / image_cnn with VGG: random network weights, "
                                        "asked for explicitly (synthetic runs, timing); never a fallback.")


@dataclass
class EncoderKeys(TinyKeys):
    """An HF audio encoder, loaded or tiny and random."""

    model_name_or_path: str = field("facebook/hubert-base-ls960", "Hub id or local folder of the audio encoder.",
                                    not_empty)


@dataclass
class BackboneKeys(TinyKeys, RandomWeightsKeys):
    """A pretrained network under a new head (image_cnn, patch_finetune)."""

    backbone: str | None = field(None, "image_cnn: vgg16, vgg19 or an HF/timm image model id (microsoft/resnet-50, "
                                       "timm/tf_efficientnetv2_b0.in1k ...); patch_finetune: vggish or yamnet.")
    backbone_weights: str | None = field(None, "image_cnn with VGG: Hub id / torchvision .pth / Keras .h5 of the "
                                               "ImageNet weights (default timm/vggNN.tv_in1k); patch_finetune: the "
                                               "VGGish .pth / YAMNet .h5 or converted folder (default under "
                                               "$SER_HF_CACHE/weights).")
    freeze: str = field("all", "image_cnn: none, all (C1), last_blocks:K (VGG, seed 002 C2: 2), last_layers:N "
                               "(seed 002 EfficientNet C2: 32), first_layers:N (seed 004: 15); patch_finetune: all "
                               "(frozen backbone) or none.",
                        pattern(FREEZE_RULE.pattern, "none, all, last_blocks:K, last_layers:N or first_layers:N"))
    head_hidden_sizes: list[int] = field([], "Dense ReLU layers of the head (seed 002: [512, 256]; seed 004: "
                                             "[128, 64]).",
                                         lambda k, v: all(n > 0 for n in v) or _raise(
                                             f"{k}: every size must be an integer > 0, got {v}"))
    head_dropout: list[float] = field([], "Dropout after each head layer (one value per layer).",
                                      each(lambda k, v: v if 0.0 <= v < 1.0 else _raise(
                                          f"head_dropout: every value must be in [0, 1), got {v}")))

    def check_head(self) -> None:
        if len(self.head_dropout) not in (0, len(self.head_hidden_sizes)):
            raise RecipeError(f"head_dropout needs one value per head layer ({len(self.head_hidden_sizes)}), got "
                              f"{self.head_dropout}")


def _raise(message: str):
    raise RecipeError(message)


@dataclass
class SpectrogramKeys:
    """A spectrogram of a fixed-length clip as the input (image_cnn, cnn_blstm)."""

    spectrogram: str = field("mel", "Input: mel (seeds 002/004) or mfcc (seed 003) spectrogram.",
                             choice(SPECTROGRAM_KINDS))
    clip_seconds: float = field(3.0, "Every clip is centre-padded or cropped to this length before the spectrogram "
                                     "(seed 004: 3).", positive)
    l2: float = field(0.0, "Keras-style L2 kernel regulariser added to the loss: the head's dense layers (image_cnn) "
                           "or every conv/dense kernel (cnn_blstm); seed 004: 0.01.", non_negative)


@dataclass
class FinetuneConfig(Section, EncoderKeys):
    """``method: finetune``: an HF audio encoder with a classification head (seed 003)."""

    freeze_feature_encoder: bool = field(True, "Freeze the CNN feature encoder (seed 003).")
    cache_frozen_features: bool = field(False, "Compute the frozen CNN feature encoder's output once per training clip "
                                               "before training and train the transformer on it (wav2vec2-family "
                                               "models with freeze_feature_encoder: true; no on-the-fly augmentation). "
                                               "Removes the CNN from every step. Clips no longer than "
                                               "max_train_seconds get the same features; longer ones are cropped in "
                                               "20-ms frames of their cached output, normalised over the whole clip "
                                               "instead of the crop, so it is off by default. Evaluation never uses "
                                               "it. Kept in output_dir/frozen_features/ until training ends (about "
                                               "51 kB per audio-second in bf16).")
    mask_time_prob: float = field(0.05, "SpecAugment time-mask probability (model config).", probability)
    mask_time_length: int = field(10, "SpecAugment time-mask length in frames.", positive)
    mask_feature_prob: float = field(0.0, "SpecAugment feature-mask probability.", probability)
    mask_feature_length: int = field(10, "SpecAugment feature-mask length in channels.", positive)


@dataclass
class ImageCNNConfig(Section, BackboneKeys, SpectrogramKeys):
    """``method: image_cnn``: spectrogram images into an ImageNet CNN (seeds 002-004)."""
    head_batchnorm: bool = field(False, "BatchNorm after each head layer (seed 004).")
    head_pooling: str = field("flatten", "VGG: flatten (Keras Flatten, seeds 002/004) or avg (global average "
                                         "pooling).", choice(("flatten", "avg")))
    image_size: int = field(224, "Spectrogram images are resized to image_size x image_size (seed 003: 224).",
                            positive)

    def check(self) -> None:
        if not self.backbone:
            raise RecipeError("method=image_cnn needs backbone=vgg19 (or another)")
        self.check_head()


@dataclass
class CNNBLSTMConfig(Section, TinyKeys, SpectrogramKeys):
    """``method: cnn_blstm``: seed 004's CNN-BLSTM with attention (or a variant), from scratch."""
    cnn_blstm_variant: str = field("cnn_blstm_attention", "cnn, lstm, cnn_lstm, cnn_blstm or cnn_blstm_attention "
                                                          "(seed 004's models).", choice(CNN_BLSTM_VARIANTS))


@dataclass
class PatchFinetuneConfig(Section, BackboneKeys):
    """``method: patch_finetune``: VGGish / YAMNet with a dense head, fine-tuned or frozen (seeds 000, 001)."""

    def check(self) -> None:
        if self.backbone not in ("vggish", "yamnet"):
            raise RecipeError("method=patch_finetune needs backbone=vggish or yamnet" if not self.backbone else
                              f"patch_finetune: backbone must be vggish or yamnet, got {self.backbone!r}")
        if self.freeze not in ("all", "none"):
            raise RecipeError(f"patch_finetune: freeze must be all or none, got {self.freeze!r}")
        if len(set(self.head_dropout)) > 1:
            raise RecipeError(f"patch_finetune takes one dropout for every head layer, got head_dropout={self.head_dropout}")
        self.check_head()


@dataclass
class EmbeddingsConfig(Section, RandomWeightsKeys):
    """``method: embeddings``: frozen embeddings x classifiers, one table (seeds 000, 003)."""

    extractors: list[str] = field(["vggish", "yamnet"], "Embeddings: vggish, yamnet, egemaps, compare, mfcc, "
                                                        "hf:<model id> (ser_hf.registry.EXTRACTORS).",
                                  all_of(not_empty, each(_extractor_name)))
    classifiers: list[str] = field(list(CLASSIFIERS), "Classifiers fitted on each embedding "
                                                      "(ser_hf.registry.CLASSIFIERS).",
                                   all_of(not_empty, each(choice(CLASSIFIERS))))
    pooling: str = field("mean", "mean (one row per file, seed 000) or frames (one row per frame, seed 003).",
                         choice(POOLINGS))
    extractor_weights: dict[str, str] = field({}, "Extractor -> weight file or folder (e.g. "
                                                  "extractor_weights.vggish=vggish-10086976.pth).",
                                              lambda k, v: _extractor_weights(k, v))
    mlp_trials: int = field(10, "Points of seed 003's MLP grid sampled by the random search.", positive)
    mlp_max_epochs: int = field(5000, "MLP epoch limit (seed 003: 5000, early stopping patience 20).", positive)

    def check(self) -> None:
        _extractor_weights("extractor_weights", self.extractor_weights)


@dataclass
class ProbeConfig(Section, EncoderKeys):
    """``method: probe``: a frozen encoder, and a small head on its layers (``probe_head``)."""

    probe_head: str = field("weighted_layers", "weighted_layers (learned softmax weights over every layer's "
                                               "time-pooled state + head; probe_epochs, probe_learning_rate, "
                                               "probe_hidden_size) or emobox (EmoBox's head on one layer's frames: "
                                               "Linear 128 -> ReLU -> masked mean over frames -> Linear, Adam 1e-4, "
                                               "batch 32, 100 epochs, best epoch on a random 20 % of the training "
                                               "files; ser_hf.training.emobox_probe).", choice(PROBE_HEADS))
    probe_layer: int = field(-1, "probe_head=emobox: the encoder layer whose frames the head reads (-1 = the last, "
                                 "EmoBox's choice; 0 = the CNN output).")

    probe_epochs: int = field(200, "Full-batch training epochs of the layer weights and head (early stopping on the "
                                   "training loss plateau).", positive)
    probe_learning_rate: float = field(1e-3, "Adam learning rate of the layer weights and head.", positive)
    probe_hidden_size: int = field(0, "Hidden units of the head (0 = a linear head on the weighted layer sum, "
                                      "SUPERB's setting).",
                                   lambda k, v: v >= 0 or _raise(f"{k}: must be an integer >= 0 (0 = linear head), "
                                                                 f"got {v}"))


# ---------------------------------------------------------------- publishing
@dataclass
class PublishConfig(Section):
    """What happens to the run once it is scored."""

    push_to_hub: bool = field(False, "Push the result to the Hub after training (its own revision; never overwrites "
                                     "one).")
    hub_model_id: str | None = field(None, "ORG/NAME on the Hub (needed with push_to_hub).",
                                     pattern(HUB_ID, "ORG/NAME"))

    def check(self) -> None:
        if self.push_to_hub and not self.hub_model_id:
            raise RecipeError("push_to_hub needs hub_model_id=ORG/NAME")


# ---------------------------------------------------------------- training
def _max_steps(key: str, value: int) -> None:
    if value != -1 and value <= 0:
        raise RecipeError(f"{key}: must be -1 (no limit) or an integer > 0, got {value}")


def _at_least_zero(key: str, value: int) -> None:
    if value < 0:
        raise RecipeError(f"{key}: must be an integer >= 0, got {value}")


@dataclass
class TrainingKeys:
    """ser-hf's training keys: the ``transformers.TrainingArguments`` fields whose ser-hf default differs (or that
    ser-hf checks more strictly), each with its reason, and the training keys the Trainer has no field for. Every
    other ``TrainingArguments`` field is a recipe key as the Trainer defines it: the training section
    (:class:`ser_hf.training.arguments.TrainingConfig`) subclasses both. Torch-free, so ``--help`` and the checks of
    these keys need no torch."""

    output_dir: str | None = field("outputs/run", "Where the model, checkpoints and results go.", not_empty)
    num_train_epochs: float = field(5.0, "Epochs (seed 003: 5).", positive)
    max_steps: int = field(-1, "Stop after this many optimiser steps (overrides epochs when > 0).", _max_steps)
    learning_rate: float = field(3e-5, "Peak learning rate.", positive)
    warmup_steps: float = field(0.1, "Linear warm-up: a number < 1 is a fraction of the total steps (seed 003: 0.1), "
                                     "a larger one a count of steps.", non_negative)
    weight_decay: float = field(0.0, "AdamW weight decay.", non_negative)
    per_device_train_batch_size: int = field(8, "Training batch per device.", positive)
    per_device_eval_batch_size: int = field(8, "Evaluation batch per device.", positive)
    gradient_accumulation_steps: int = field(1, "Gradient accumulation.", positive)
    eval_strategy: str = field("epoch", "When to evaluate and save a checkpoint: epoch or steps (no: never, which "
                                        "needs load_best_model_at_end=false).", choice(("epoch", "steps", "no")))
    eval_steps: int | None = field(None, "Steps between evaluations (and checkpoints) when eval_strategy is steps.",
                                   positive)
    save_strategy: str | None = field(None, "When to save a checkpoint; null = with every evaluation (what best-model "
                                            "selection and resuming need).")
    save_steps: float | None = field(None, "Steps between checkpoints; null = eval_steps.", positive)
    save_total_limit: int | None = field(2, "Checkpoints kept (the best is always kept).", positive)
    load_best_model_at_end: bool = field(True, "Keep the checkpoint best on validation as the run's model.")
    metric_for_best_model: str | None = field("uar", "Best checkpoint by uar, macro_f1, accuracy or weighted_f1 "
                                                     "(ser_hf.registry.METRICS).", choice(METRICS))
    greater_is_better: bool | None = field(True, "Every metric of metric_for_best_model grows with quality.")
    restore_callback_states_from_checkpoint: bool = field(True, "Early-stopping patience survives a resume.")
    bf16: str = field("auto", "bf16 mixed precision: auto (on a GPU with bf16, or a CPU with bf16 units: AMX / "
                              "AVX512-BF16), true or false.", choice(("auto", "true", "false")))
    seed: int = field(42, "Training seed.", seed_range)
    dataloader_num_workers: int = field(2, "Dataloader worker processes.", _at_least_zero)
    dataloader_pin_memory: bool | None = field(None, "Pinned host memory for batches; null = on a GPU only.")
    logging_steps: float = field(10, "Steps between log lines.", positive)
    logging_first_step: bool = field(True, "Log the first step too (the loss before any learning).")
    remove_unused_columns: bool = field(False, "Keep every column: the collators read the raw audio column.")
    length_column_name: str = field("duration", "Column that length grouping reads (no audio is decoded for it).")
    # ---- training keys the Trainer has no field for
    max_train_seconds: float = field(6.0, "Random crop of training clips (bounds padded shapes and memory).", positive)
    pad_to_multiple_seconds: float | None = field(None, "Pad training batches to a multiple of this many seconds "
                                                        "(fewer distinct shapes, e.g. for cuDNN autotuning); null = to "
                                                        "the longest clip. Padding never changes what a clip learns: "
                                                        "each clip is normalised alone and the padding is masked. "
                                                        "Evaluation never pads (it runs what pipeline() runs).",
                                                  positive)
    early_stopping_patience: int | None = field(3, "Evaluations without improvement before stopping; null = never.",
                                                positive)
    resume: bool = field(True, "Resume from the last complete checkpoint in output_dir when there is one.")
    ddp_timeout: int = field(600, "Multi-process runs: seconds a collective (the gradient all-reduce, an evaluation "
                                  "gather) may wait for the other processes before it fails (applied on CPU too; "
                                  "torch's default is 30 min). Long waits (node 0 preparing a corpus, a checkpoint being "
                                  "written) wait on files, not in collectives, and peer_timeout bounds them.", positive)
    peer_timeout: int = field(120, "Multi-process runs: seconds without a sign of life from another process (its "
                                   "status file under output_dir/.ser_hf stops changing: killed, frozen, its machine cut "
                                   "off) before every process stops with exit status 1, naming it; a process that "
                                   "raises, or dies on the same machine, stops the job within seconds. At least 5.",
                              lambda k, v: v >= 5 or _raise(f"{k}: must be an integer >= 5 (seconds; heartbeats come "
                                                            f"every peer_timeout / 6 s), got {v}"))

