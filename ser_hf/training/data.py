"""A recipe's data: corpora -> label set -> split -> debug subsets -> balancing and augmentation of train only.

Shared by every method (the Trainer ones and the embeddings table), so all of them see the same files. What one
run (a single split, a fold of a cross-validation, a cell of a cross-corpus matrix) reads is its :class:`Fold`: the
split, already parsed, its folder, and for a cross-corpus cell its corpora and shared classes; everything else comes
from the recipe's sections, unchanged.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np

from ser_hf import guards
from ser_hf.data.audio import PreprocessConfig
from ser_hf.data.balance import balance
from ser_hf.data.corpora import CorpusRootError, load_corpora
from ser_hf.data.corpora.base import overlapping_root
from ser_hf.data.sources import is_source, parse_source
from ser_hf.data.splits import MissingSpeakersError, leakage_report, parse_split_protocol, split_dataset
from ser_hf.recipe import Recipe, RecipeError
from ser_hf.registry import SAMPLING_RATE  # noqa: F401  (re-exported: ser_hf.training.SAMPLING_RATE)

logger = logging.getLogger(__name__)

MODEL_COLUMNS = ["audio", "label", "duration"]


@dataclass
class PreparedData:
    splits: datasets.DatasetDict  # train (balanced, augmented) / validation / test, all columns
    label_names: list[str]
    reports: list  # ser_hf.data.prepare.PrepareReport per corpus
    leakage: dict  # ser_hf.data.splits.leakage_report of the split before balancing / augmentation
    validation_note: str = ""  # how the validation part was made, when the protocol itself has none


@dataclass(frozen=True)
class Fold:
    """One run of a recipe: its split (``protocol`` as written, e.g. ``seed003`` or ``loso:3``, and ``split``, that
    protocol parsed once by :func:`ser_hf.data.splits.parse_split_protocol`), its folder, and, for a cross-corpus
    cell, the corpora it reads and the classes it keeps (None: the recipe's). ``part_of``: a fold of a
    cross-validation or a cell of a matrix, which draws no plots of its own and is never pushed; ``name``: how logs
    and tables call it."""

    output_dir: str
    protocol: str
    split: tuple[str, tuple]
    name: str = "run"
    corpora: tuple[str, ...] | None = None
    keep_classes: tuple[str, ...] | None = None
    part_of: str | None = None

    @classmethod
    def of(cls, output_dir: str, protocol: str, **kwargs) -> "Fold":
        """A fold of the split protocol ``protocol`` (parsed here, once)."""
        return cls(str(output_dir), protocol, parse_split_protocol(protocol), **kwargs)


def single_run(recipe: Recipe) -> Fold:
    """The one run a recipe without cross-validation or cross-corpus describes: its ``split``, its ``output_dir``."""
    return Fold.of(recipe.training.output_dir, recipe.protocol.split)


def fold_corpora(recipe: Recipe, fold: Fold) -> list[str]:
    return list(fold.corpora) if fold.corpora is not None else list(recipe.data.corpora)


def check_roots(recipe: Recipe, fold: Fold | None = None) -> dict[str, str | None]:
    """Every corpus root of the run, checked before anything is decoded: one error lists all missing ones.

    An output_dir that is, holds or lies inside a corpus root is refused: nothing is written under a corpus.
    """
    fold = fold or single_run(recipe)
    roots = recipe.data.corpus_roots(fold_corpora(recipe, fold))
    check_output_dir(recipe, roots, fold)
    sources = own_folders(recipe, fold)
    gone = [n for n, folder in sources.items() if folder is not None and not folder.is_dir()]
    if gone:
        raise CorpusRootError("own data not found: " + "; ".join(f"{n} ({sources[n]} is not a folder)" for n in gone))
    missing = {name: root for name, root in roots.items() if root is not None and not Path(root).is_dir()}
    if missing:
        lines = "\n".join(f"  {name}: {root}  (set roots.{name}=/path/to/{name})" for name, root in missing.items())
        raise CorpusRootError(
            f"corpus root(s) not found:\n{lines}\nRelative roots are under data_root={recipe.data.data_root!r} "
            "(override with data_root=/path). Without the downloads, synthetic=true trains on the synthetic corpus."
        )
    return roots


def check_output_dir(recipe: Recipe, roots: dict[str, str | None] | None = None, fold: Fold | None = None) -> None:
    """An output_dir that is, holds or lies inside a corpus root is refused: nothing is written under a corpus."""
    fold = fold or single_run(recipe)
    if roots is None:
        try:
            roots = recipe.data.corpus_roots(fold_corpora(recipe, fold))
        except RecipeError:  # no root given: the run stops on that, with its own message, before it reads anything
            roots = {}
    folders = {**roots, **own_folders(recipe, fold)}  # own data's folders are never written to either
    name = overlapping_root(fold.output_dir, folders)
    if name:
        raise RecipeError(
            f"output_dir: {fold.output_dir} overlaps the {name} root {folders[name]}; corpus folders are never "
            "written to: choose an output_dir outside it"
        )


def own_folders(recipe: Recipe, fold: Fold | None = None) -> dict:
    """The folder of each own-data source of the run's corpora (None for a Hub dataset, which has none)."""
    corpora = fold_corpora(recipe, fold or single_run(recipe))
    return {n: parse_source(n).folder for n in corpora if is_source(n)}


def preparation_first(recipe: Recipe):
    """The sync point around corpus preparation, for every method. ``prepare_on: shared`` lets the world's main
    process (node 0) prepare while all others wait, so nodes on one shared file system never write the same cache
    at once; ``node`` lets each node's main process prepare into its node-local cache ($SER_HF_CACHE on a local
    disk) while the other processes of that node wait. Under train.py the others wait on the preparing process's
    status file, for as long as it takes while it lives (:func:`ser_hf.guards.main_first`), not in a collective.
    One process alone: no wait."""
    return guards.main_first("corpus preparation", local=recipe.data.prepare_on == "node")


def load_recipe_dataset(recipe: Recipe, fold: Fold | None = None) -> tuple[datasets.Dataset, list]:
    """The rows a run works on, before any split: corpora -> label set -> languages -> kept classes."""
    fold = fold or single_run(recipe)
    data = recipe.data
    cfg = PreprocessConfig(trim_db=data.trim_db, peak_normalize=data.peak_normalize, fixed_seconds=data.fixed_seconds)
    ds, reports = load_corpora(
        fold_corpora(recipe, fold),
        check_roots(recipe, fold),
        label_set=data.label_set,
        preprocess=cfg,
        synthetic_size=data.synthetic_size,
        num_proc=data.num_proc,
        use_cache=data.cache,
        return_report=True,
        label_map=data.label_map,
        columns=data.columns,
        licences=data.licences,
    )
    if data.languages:
        before = len(ds)
        ds = ds.filter(lambda lang: lang in data.languages, input_columns="language")
        logger.info("languages %s: %d of %d rows kept", data.languages, len(ds), before)
        if not len(ds):
            raise ValueError(f"no rows in languages {data.languages}")
    classes = list(fold.keep_classes) if fold.keep_classes is not None else data.keep_classes
    if classes:
        ds = keep_classes(ds, classes)
    return ds, reports


def prepare_data(recipe: Recipe, fold: Fold | None = None, balanced: bool = True) -> PreparedData:
    """Corpora -> label set -> split -> (debug subset) -> balance and augment the training part only.

    ``balanced=False``: the training part as split (the frozen-feature methods balance embedding rows themselves).
    """
    fold = fold or single_run(recipe)
    data, seed = recipe.data, recipe.training.seed
    ds, reports = load_recipe_dataset(recipe, fold)
    kind, args = fold.split
    try:
        splits = split_dataset(ds, kind, args, recipe.protocol.split_seed, fold.protocol)
    except MissingSpeakersError as err:  # own data without speakers: the recipe's protocol cannot hold
        raise RecipeError(str(err)) from None
    note = ""
    if "validation" not in splits and not recipe.frozen_features:
        # 80/20-style protocols: a Trainer's early stopping needs a held-out part of train. The classifiers of
        # the embeddings and probe methods train on the whole training part, as the protocol says.
        before = len(splits["train"])
        inner = split_dataset(splits["train"], "ratio", (0.9, 0.1), recipe.protocol.split_seed)
        if not len(inner["test"]):  # too few files per class for a stratified 10 %: a random one (at least 1 file)
            order = np.random.default_rng(recipe.protocol.split_seed).permutation(before)
            cut = max(1, round(0.1 * before))
            inner = {"train": splits["train"].select(sorted(order[cut:])), "test": splits["train"].select(sorted(order[:cut]))}
        splits = datasets.DatasetDict(train=inner["train"], validation=inner["test"], test=splits["test"])
        note = (f"Split `{fold.protocol}` has no validation part: 10 % of its {before} training files "
                f"({len(splits['validation'])}) were held out for early stopping, so the model trained on "
                f"{len(splits['train'])} files, not {before}.")
        logger.warning(note)
    if data.max_train_samples:
        splits["train"] = _subset(splits["train"], data.max_train_samples, seed)
    if data.max_eval_samples:
        for part in ("validation", "test"):
            splits[part] = _subset(splits[part], data.max_eval_samples, seed)
    leakage = leakage_report(splits)
    train = splits["train"]
    if balanced:
        train = balance(train, data.balance, seed, augment_preset=data.augment_preset)
        if data.augment_offline_factor > 1:
            from ser_hf.data.augment import expand_offline  # audiomentations only when augmenting

            # Pitch shifting costs ~20 ms a clip: a real corpus's x5 copies want every core.
            num_proc = data.num_proc or (min(8, os.cpu_count() or 1) if len(train) > 1000 else None)
            train = expand_offline(train, data.augment_offline_factor, data.augment_preset, seed, num_proc=num_proc)
    splits["train"] = train
    label_names = list(ds.features["label"].names)
    logger.info("split sizes: %s", {k: len(v) for k, v in splits.items()})
    return PreparedData(splits, label_names, reports, leakage, note)


def _subset(ds: datasets.Dataset, n: int, seed: int) -> datasets.Dataset:
    return ds if len(ds) <= n else ds.shuffle(seed=seed).select(range(n))


def model_view(ds: datasets.Dataset) -> datasets.Dataset:
    """Only what the collator needs, with the audio left as WAV bytes (decoded in the collator)."""
    missing = [c for c in MODEL_COLUMNS if c not in ds.column_names]
    if missing:
        raise ValueError(f"dataset lacks column(s) {missing}; it has {ds.column_names}")
    return ds.select_columns(MODEL_COLUMNS).cast_column("audio", datasets.Audio(decode=False))


def keep_classes(ds: datasets.Dataset, classes: list[str]) -> datasets.Dataset:
    """Only the rows of ``classes``, labels renumbered to that list's order (cross-corpus: the shared classes)."""
    names = list(ds.features["label"].names)
    unknown = [c for c in classes if c not in names]
    if unknown:
        raise ValueError(f"keep_classes: {unknown} not in the label set's classes {names}")
    remap = {names.index(c): i for i, c in enumerate(classes)}
    kept = ds.filter(lambda label: label in remap, input_columns="label")
    labels = [remap[label] for label in kept["label"]]  # a new column, not a map: the audio bytes stay untouched
    kept = kept.remove_columns("label").add_column("label", labels, feature=datasets.ClassLabel(names=list(classes)))
    logger.info("keep_classes %s: %d of %d rows kept", classes, len(kept), len(ds))
    return kept
