"""Recipes: flat YAML files parsed into typed sections; the command line overrides them.

    python train.py --recipe hubert_bilingual learning_rate=3e-5 --num_train_epochs 3 roots.ravdess=/data/RAVDESS

``--recipe NAME`` resolves a recipe shipped in the package (``ser_hf/recipes/NAME.yaml``; ``ser-hf recipes`` lists
them) or takes a path to a YAML file. The file stays one flat mapping; :func:`load_recipe` hands each key to every
section that declares it, as alignment-handbook parses one file into its argument classes:

=============  ==========================================================================================
section        keys
=============  ==========================================================================================
``data``       :class:`~ser_hf.recipe_sections.DataConfig`: corpora, label set, preprocessing, augmentation
``protocol``   :class:`~ser_hf.recipe_sections.ProtocolConfig`: split, cross-validation, cross-corpus, plots
``model``      the ``method``'s own section (:data:`ser_hf.registry.METHODS`: ``FinetuneConfig``, ...)
``training``   :class:`~ser_hf.training.arguments.TrainingConfig`: every ``transformers.TrainingArguments`` field
``publish``    :class:`~ser_hf.recipe_sections.PublishConfig`: pushing the result to the Hub
=============  ==========================================================================================

An unknown key, in the file or on the command line, is an error that names the key (with a "did you mean"). Every
value is converted to its field's type and checked (3.5 is not an integer, a batch size is > 0, a learning rate is
finite, a split protocol parses, a corpus root names a known corpus) when the recipe is parsed, before any data or
model is loaded; each problem is one line that names the key. ``train.py --help`` lists every key with its help.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import sys
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ser_hf.recipe_fields import RecipeError, check_keys, coerce
from ser_hf.recipe_sections import DataConfig, ProtocolConfig, PublishConfig, Section, TrainingKeys
from ser_hf.registry import FROZEN_FEATURE_METHODS, METHODS, resolve

__all__ = ["Recipe", "RecipeError", "load_recipe", "parse_args", "parse_overrides", "resolve_path", "usage"]

# Shipped inside the package (recipes/NAME.yaml, accelerate/*.yaml, slurm/*): `--recipe NAME` works without a clone.
RECIPES_DIR = Path(str(resources.files("ser_hf") / "recipes"))

SECTIONS: dict[str, type] = {"data": DataConfig, "protocol": ProtocolConfig, "publish": PublishConfig}

# Keys of earlier releases. Removed: the recipe is told why; renamed: the new key takes the value, with a warning.
REMOVED_KEYS = {
    "max_eval_seconds": "evaluation now runs every clip whole, as pipeline('audio-classification') does, so the "
                        "reported figures are what the saved model gives; delete the line",
}
def _warmup_ratio(value: Any) -> float:
    ratio = coerce("warmup_ratio", value, float)
    if not 0.0 <= ratio < 1.0:
        raise RecipeError(f"warmup_ratio: must be a number in [0, 1), got {ratio}")
    return ratio  # transformers 5: a warmup_steps below 1 is a ratio of the steps


def _group_by_length(value: Any) -> str:
    return "group_by_length" if coerce("group_by_length", value, bool) else "random"


RENAMED_KEYS: dict[str, tuple[str, Any]] = {  # old key -> (new key, the new value from the old one)
    "warmup_ratio": ("warmup_steps", _warmup_ratio),
    "group_by_length": ("train_sampling_strategy", _group_by_length),
}


def method_section(method: str) -> type:
    """The recipe section (a dataclass) of ``method``, from the registry."""
    return resolve(METHODS[method].config)


def training_section() -> type:
    from ser_hf.training.arguments import TrainingConfig  # torch: imported only once a recipe is parsed

    return TrainingConfig


def _fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls) if f.init}


def section_keys(trainer: bool = True) -> dict[str, list[str]]:
    """Every recipe key -> the sections that take it (a section per method, ``training`` last). ``trainer=False``:
    ser-hf's own keys only, without importing transformers for the rest of ``TrainingArguments``."""
    keys: dict[str, list[str]] = {"method": ["recipe"]}
    training = training_section() if trainer else TrainingKeys
    for name, cls in [*SECTIONS.items(), *((m, method_section(m)) for m in METHODS), ("training", training)]:
        for key in _fields(cls):
            keys.setdefault(key, []).append(name)
    return keys


class _Keys(dict):
    """The recipe keys, ser-hf's at once and the Trainer's other fields on the first key that is not one of ser-hf's
    (so a recipe of ser-hf keys, and --help, need no torch)."""

    def __init__(self):
        super().__init__(section_keys(trainer=False))
        self.complete = False

    def __contains__(self, key) -> bool:
        if not super().__contains__(key) and not self.complete:
            self.update(section_keys(trainer=True))
            self.complete = True
        return super().__contains__(key)


@dataclass
class Recipe:
    """A parsed recipe: the ``method`` and one typed section per part of a run."""

    method: str
    data: DataConfig
    protocol: ProtocolConfig
    model: Section  # the method's section
    training: Any  # ser_hf.training.arguments.TrainingConfig
    publish: PublishConfig
    given: tuple[str, ...] = ()  # keys the file and the command line set (recipe.yaml lists them)

    @property
    def frozen_features(self) -> bool:
        """The method fits small classifiers on frozen features (no Trainer, no early-stopping validation set)."""
        return self.method in FROZEN_FEATURE_METHODS

    @property
    def output_dir(self) -> str:
        return self.training.output_dir

    def flat(self) -> dict[str, Any]:
        """The recipe as the flat mapping a YAML file holds: every ser-hf key of the data, protocol, model and
        publish sections; of the training section, ser-hf's keys and any Trainer key the recipe set."""
        values: dict[str, Any] = {"method": self.method}
        for section in (self.data, self.protocol, self.model, self.publish):
            values.update({k: getattr(section, k) for k in _fields(type(section))})
        own = set(_fields(TrainingKeys))
        for key in _fields(type(self.training)):
            if key in own or key in self.given:
                value = self.training.bf16_setting if key == "bf16" else getattr(self.training, key)
                values.setdefault(key, getattr(value, "value", value))  # str enums as their names
        values["push_to_hub"] = self.publish.push_to_hub  # the Trainer's own copy is always false
        return values

    def to_yaml(self) -> str:
        return yaml.safe_dump(_plain(self.flat()), sort_keys=False, allow_unicode=True)

    def run_yaml(self, fold, cross_validated: bool = False) -> str:
        """The settings of one run (a :class:`~ser_hf.training.data.Fold`) as a recipe file, ``recipe.yaml`` in its
        folder: this recipe, with a fold's or a cross-corpus cell's split, folder, corpora and classes, so that such
        a folder reads, is pushed and is relaunched as the single run it is (``cross_validated``: a cell whose folds
        are its own, which keeps the recipe's cross-validation)."""
        if fold.part_of is None:
            return self.to_yaml()
        changes = {"split": fold.protocol, "output_dir": fold.output_dir, "cross_corpus": False,
                   "cross_corpus_groups": [], "push_to_hub": False, "plots": False}
        if not cross_validated:
            changes["cross_validation"] = "none"
        if fold.corpora is not None:
            changes["corpora"] = list(fold.corpora)
        if fold.keep_classes is not None:
            changes["keep_classes"] = list(fold.keep_classes)
        # written, not rebuilt: a new TrainingArguments would reset accelerate's state under a live Trainer
        return yaml.safe_dump(_plain({**self.flat(), **changes}), sort_keys=False, allow_unicode=True)

    def with_changes(self, **changes) -> "Recipe":
        """A copy with some keys changed, each in every section that has it (a fold's split and output_dir)."""
        values = {**self.flat(), **changes}
        return build_recipe(values, tuple(dict.fromkeys((*self.given, *changes))))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(getattr(value, "value", value))


def build_recipe(values: dict[str, Any], given: tuple[str, ...] = ()) -> Recipe:
    """Sections from a flat mapping of typed or string values (unknown keys are caught by :func:`load_recipe`)."""
    method = str(values.get("method", "finetune"))
    if method not in METHODS:
        raise RecipeError(f"method: {method!r} is not one of {', '.join(METHODS)}")

    def make(cls: type):
        hints = typing.get_type_hints(cls)
        kwargs = {k: coerce(k, values[k], hints[k]) for k in _fields(cls) if k in values}
        try:
            return cls(**kwargs)
        except TypeError as err:  # a value the class refuses outright
            raise RecipeError(str(err)) from None

    sections = {name: make(cls) for name, cls in SECTIONS.items()}
    model = make(method_section(method))
    for other in METHODS:  # keys meant for another method are still checked: a typo there is a typo
        if other != method:
            check_keys(method_section(other), values)
    check_keys(TrainingKeys, values)  # ser-hf's training keys, before torch is imported for the rest
    if method != "finetune" and coerce("cache_frozen_features", values.get("cache_frozen_features", False), bool):
        raise RecipeError("cache_frozen_features: the frozen CNN's output is cached per training clip, but method is "
                          "not finetune")
    training_values = dict(values)
    if sections["data"].train_shards and "accelerator_config" not in values:
        # A streamed training part: each process reads its own Parquet files (accelerate shards a datasets
        # IterableDataset by whole files, as split_dataset_by_node does) instead of the main process reading every
        # row and sending batches out (accelerate's default for iterable datasets).
        training_values["accelerator_config"] = {"dispatch_batches": False}
    training = _make_training(training_values)
    recipe = Recipe(method, sections["data"], sections["protocol"], model, training, sections["publish"], given)
    _check_across_sections(recipe)
    return recipe


def _make_training(values: dict[str, Any]):
    cls = training_section()
    hints = typing.get_type_hints(cls)
    kwargs = {k: coerce(k, values[k], hints[k]) for k in _fields(cls) if k in values}
    return cls(**kwargs)


def _check_across_sections(r: Recipe) -> None:
    """The rules that join keys of different sections."""
    if r.data.train_shards and r.training.max_steps <= 0:
        raise RecipeError("train_shards: a streamed training part has no length; set max_steps (e.g. max_steps=10000)")
    if getattr(r.model, "cache_frozen_features", False):
        why = ("freeze_feature_encoder is false: the CNN trains" if not r.model.freeze_feature_encoder else
               "augment_online_p > 0: the audio changes every step" if r.data.augment_online_p > 0 else
               "train_shards streams the training part" if r.data.train_shards else None)
        if why:
            raise RecipeError(f"cache_frozen_features: the frozen CNN's output is cached per training clip, but {why}")
    if r.method == "embeddings" and r.data.balance not in ("none", "harmonic"):
        raise RecipeError(f"embeddings: balance must be none or harmonic (frame rows), got {r.data.balance!r}")
    if r.protocol.cross_validation == "emobox":
        _check_emobox(r)
    if r.protocol.cross_corpus_groups:  # own sources named only as cross-corpus groups may have licences too
        r.data.check_own_data(r.protocol.cross_corpus_groups)
    if r.protocol.cross_corpus and len(r.protocol.cross_corpus_groups or r.data.corpora) < 2:
        raise RecipeError("cross_corpus needs at least two corpora or cross_corpus_groups to train and test across")


def _check_emobox(r: Recipe) -> None:
    """EmoBox's folds exist per corpus and come with EmoBox's classes (ser_hf.data.emobox)."""
    from ser_hf.data.corpora import expand_names
    from ser_hf.data.emobox import EMOBOX_NAMES

    names = expand_names(r.data.corpora)
    if len(names) != 1 or names[0] not in EMOBOX_NAMES:
        raise RecipeError(f"cross_validation=emobox: EmoBox's folds are per corpus: give corpora=[NAME], one of "
                          f"{', '.join(EMOBOX_NAMES)} (got {', '.join(names)})")
    if r.protocol.cross_corpus:
        raise RecipeError("cross_validation=emobox: EmoBox's folds are within one corpus, not for cross_corpus")
    if r.data.label_set != "emobox":
        logging.getLogger(__name__).warning("cross_validation=emobox: EmoBox's classes replace label_set=%s "
                                            "(label_set=emobox)", r.data.label_set)
        r.data.label_set = "emobox"


# ---------------------------------------------------------------- reading files and command lines
def _unknown(key: str, known) -> RecipeError:
    if key in REMOVED_KEYS:
        return RecipeError(f"recipe key {key!r} was removed: {REMOVED_KEYS[key]}")
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else "; python train.py --help lists every key"
    return RecipeError(f"unknown recipe key {key!r}{hint}")


def _set(values: dict, key: str, value: Any, known: dict[str, list[str]]) -> str:
    """Put ``key=value`` into ``values``; returns the key as stored (renamed keys under their new name)."""
    if key in RENAMED_KEYS:
        import logging

        new, convert = RENAMED_KEYS[key]
        logging.getLogger(__name__).warning("recipe key %r is now %r (the value is carried over)", key, new)
        key, value = new, convert(value)
    if "." in key:  # roots.ravdess=/data/RAVDESS, extractor_weights.vggish=FILE: one entry of a mapping key
        head, sub = key.split(".", 1)
        owner = _owner(head)
        if owner is None or typing.get_origin(typing.get_type_hints(owner)[head]) is not dict:
            raise _unknown(key, known)
        values[head] = {**values.get(head, {}), sub: str(value)}
        return head
    if key not in known:
        raise _unknown(key, known)
    values[key] = value
    return key


def _owner(key: str) -> type | None:
    """The ser-hf section that declares ``key`` (the first, where several share it)."""
    for cls in (*SECTIONS.values(), *(method_section(m) for m in METHODS)):
        if key in _fields(cls):
            return cls
    return None


def resolve_path(name_or_path: str) -> Path:
    """The shipped recipe ``NAME`` for a bare name, else the YAML file at that path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if path.is_file():
            return path
        raise RecipeError(f"no recipe file {path}")
    candidate = RECIPES_DIR / f"{name_or_path}.yaml"
    if candidate.is_file():
        return candidate
    raise RecipeError(f"no recipe {name_or_path!r}; recipes: {', '.join(shipped_recipes())}")


def load_recipe(name_or_path: str, overrides: list[str] | None = None) -> Recipe:
    """The recipe file with ``overrides`` (``key=value`` / ``--key value``) applied on top."""
    path = resolve_path(name_or_path)
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: a recipe is a flat mapping of keys to values")
    known = _Keys()
    values: dict = {}
    given: list[str] = []
    for key, value in raw.items():
        try:
            given.append(_set(values, str(key), value, known))
        except RecipeError as err:
            raise RecipeError(f"{path}: {err}") from None
    for key, value in parse_overrides(overrides or []):
        given.append(_set(values, key, value, known))
    return build_recipe(values, tuple(dict.fromkeys(given)))


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


def _describe(cls: type, skip: set[str] = frozenset()) -> list[str]:
    lines = []
    for f in dataclasses.fields(cls):
        if not f.init or f.name in skip:
            continue
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        help_text = " ".join(str(f.metadata.get("help", "")).split())
        lines.append(f"  {f.name} = {getattr(default, 'value', default)!r}\n      {help_text}")
    return lines


def usage() -> str:
    lines = [
        "usage: train.py --recipe NAME|PATH [key=value | --key value ...]",
        "",
        f"recipes (ser-hf recipes): {', '.join(shipped_recipes())}",
        "",
        "method = 'finetune'",
        f"      The model the recipe trains: {', '.join(METHODS)} (its keys are listed under its section below).",
    ]
    seen: set[str] = set()
    for name, cls in SECTIONS.items():
        lines += ["", f"[{name}] {cls.__doc__.splitlines()[0]}", *_describe(cls)]
        seen |= set(_fields(cls))
    for method in METHODS:
        cls = method_section(method)
        lines += ["", f"[model: method={method}] {cls.__doc__.splitlines()[0]}", *_describe(cls)]
    lines += ["", f"[training] {TrainingKeys.__doc__.splitlines()[0]}", *_describe(TrainingKeys),
              "", "[training] every other transformers.TrainingArguments field is a key too, as the Trainer defines it "
                  "(lr_scheduler_type, optim, max_grad_norm, gradient_checkpointing, torch_compile, report_to, "
                  "ddp_timeout, ...): train.py --help-trainer lists them."]
    return "\n".join(lines)


def trainer_usage() -> str:
    """The ``TrainingArguments`` fields ser-hf takes as they are (imports transformers)."""
    training = training_section()
    return "\n".join(["[training] every transformers.TrainingArguments field ser-hf takes as the Trainer defines it:",
                      *_describe(training, skip=set(_fields(TrainingKeys)))])


def parse_args(argv: list[str]) -> Recipe:
    """``--recipe NAME`` plus overrides, from a command line (``-h``/``--help`` prints the keys)."""
    if any(a in ("-h", "--help") for a in argv):
        print(usage())
        raise SystemExit(0)
    if "--help-trainer" in argv:
        print(trainer_usage())
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
        raise RecipeError("give a recipe: --recipe NAME (ser-hf recipes lists them) or --recipe path/to/recipe.yaml")
    return load_recipe(name, argv)


# ---------------------------------------------------------------- the shipped recipes
def shipped_recipes() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def recipes_main(argv: list[str]) -> int:
    """``ser-hf recipes [show NAME | path FILE]``: the shipped recipes, one's text, or a shipped file's path."""
    if not argv:
        for name in shipped_recipes():
            first = next((line[2:].strip() for line in (RECIPES_DIR / f"{name}.yaml").read_text().splitlines()
                          if line.startswith("# ")), "")
            print(f"{name:38s} {first}")
        return 0
    verb, *rest = argv
    if verb in ("show", "path") and len(rest) == 1:
        target = RECIPES_DIR / (f"{rest[0]}.yaml" if verb == "show" and not rest[0].endswith(".yaml") else rest[0])
        if not target.resolve().is_relative_to(RECIPES_DIR.resolve()) or not target.is_file():
            print(f"error: no shipped file {rest[0]!r} under {RECIPES_DIR}", file=sys.stderr)
            return 2
        print(target.read_text() if verb == "show" else target, end="" if verb == "show" else "\n")
        return 0
    print("usage: ser-hf recipes [show NAME | path FILE]   (e.g. ser-hf recipes path accelerate/fsdp.yaml)",
          file=sys.stderr)
    return 2
