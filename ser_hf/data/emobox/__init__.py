"""EmoBox's intra-corpus folds and classes (Ma et al., Interspeech 2024; github.com/emo-box/EmoBox), for the corpora
ser-hf and EmoBox both cover, so a ser-hf number can sit next to a cell of EmoBox's leaderboard.

EmoBox publishes, per corpus, ``data/<name>/fold_N/<name>_{train,test}_fold_N.jsonl`` and a ``label_map.json``.
``folds/<corpus>.json`` beside this file holds those facts, read from the repository by
:mod:`ser_hf.data.emobox.from_repository` (which names the commit): for every test fold either its speakers (where a
fold is exactly every file of some speakers: RAVDESS, SAVEE, ESD, JL-Corpus, SUBESCO) or the files (EmoDB, TESS,
CREMA-D, whose folds EmoBox drew at random over files), with EmoBox's fold sizes and classes.

=========  ========  =====  =====================================================================================
corpus     EmoBox    folds  what a test fold is
=========  ========  =====  =====================================================================================
ravdess    ravdess   6      4 actors (speaker-independent)
savee      savee     4      one speaker (leave-one-speaker-out)
tess       tess      1      700 of 2800 files drawn at random: both speakers in train and test (NOT speaker-indep.)
crema_d    cremad    1      1856 of 7442 files drawn at random: all 91 actors in both (NOT speaker-independent)
emodb      emodb     5      107 files drawn at random: all 10 speakers in every fold (NOT speaker-independent)
esd        esd       5      4 speakers (speaker-independent)
jl_corpus  jlcorpus  4      one speaker (leave-one-speaker-out)
subesco    subesco   5      4 speakers (speaker-independent)
=========  ========  =====  =====================================================================================

BanglaSER and DEMoS are not in EmoBox. A file outside every test fold of a one-fold corpus is training data, as in
EmoBox's ``train`` lists. ser-hf numbers folds from 0: ``fold-00`` is EmoBox's ``fold_1``.

EmoBox's classes (``label_set: emobox``, :data:`ser_hf.data.labels.LABEL_SETS`) are every emotion of the corpus as its
own class (RAVDESS calm apart from neutral, EmoDB boredom, JL-Corpus's five secondary emotions as five classes);
EmoBox's class names, lower-cased, are ser-hf's (``Fear`` -> ``fear``, ``Surprise`` -> ``surprise``).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datasets

logger = logging.getLogger(__name__)

REPOSITORY = "https://github.com/emo-box/EmoBox"
# ser-hf corpus -> EmoBox's folder name under data/
EMOBOX_NAMES: dict[str, str] = {
    "ravdess": "ravdess", "savee": "savee", "tess": "tess", "crema_d": "cremad", "emodb": "emodb", "esd": "esd",
    "jl_corpus": "jlcorpus", "subesco": "subesco",
}
FOLD_COLUMN = "emobox_fold"
TRAIN_ONLY = -1  # a file in no test fold (one-fold corpora): training data in every fold

_TESS = re.compile(r"^([A-Z]+)_([a-z]+)_([a-z]+)$", re.IGNORECASE)


def file_key(corpus: str, path: str) -> str:
    """The key a file is listed under in a fold file: its name without ``.wav``, lower-cased (TESS: Kaggle's misnamed
    ``OA_bite_neutral`` is EmoBox's ``OAF_bite_neutral``; SUBESCO: the stray ``]`` of one download dropped)."""
    stem = Path(path).stem.replace("]", "")
    if corpus == "tess":
        m = _TESS.match(stem)
        if m and m.group(1).upper() == "OA":
            stem = f"OAF_{m.group(2)}_{m.group(3)}"
    return stem.lower()


@dataclass(frozen=True)
class EmoBoxFolds:
    """EmoBox's folds of one corpus, as shipped in ``folds/<corpus>.json``."""

    corpus: str
    emobox_name: str
    commit: str
    speaker_independent: bool
    fold_sizes: tuple[int, ...]  # test files per fold in EmoBox's lists
    n_files: int  # files in EmoBox's lists (train and test)
    test_speakers: tuple[tuple[str, ...], ...] | None  # per fold, corpus-local speaker ids; None: listed by file
    membership: dict[str, int] | None  # file key -> fold (TRAIN_ONLY: in no test fold); None: by speaker
    classes: dict[str, str]  # EmoBox's label (as in its lists) -> ser-hf class
    note: str = ""

    @property
    def folds(self) -> int:
        return len(self.fold_sizes)

    def description(self) -> str:
        unit = (f"{'one speaker' if all(len(s) == 1 for s in self.test_speakers) else 'speaker groups'} per fold"
                if self.test_speakers else "files drawn at random, the same speakers in training and test")
        kind = "speaker-independent" if self.speaker_independent else "NOT speaker-independent"
        return (f"EmoBox folds of {self.corpus} ({self.folds} fold{'s' if self.folds > 1 else ''}, {unit}; {kind}; "
                f"emo-box/EmoBox@{self.commit[:7]})")

    def fold_of(self, key: str, speaker: str) -> int | None:
        """The test fold of one file (``TRAIN_ONLY`` for training-only files), or None: not in EmoBox's lists."""
        if self.membership is not None:
            return self.membership.get(key)
        for fold, speakers in enumerate(self.test_speakers):
            if speaker in speakers:
                return fold
        return None


def covered() -> tuple[str, ...]:
    """The ser-hf corpora whose EmoBox folds ship with ser-hf."""
    return tuple(EMOBOX_NAMES)


@functools.lru_cache(maxsize=None)
def load_folds(corpus: str) -> EmoBoxFolds:
    """EmoBox's folds of ``corpus`` (a ser-hf corpus name); ValueError for a corpus EmoBox does not have."""
    if corpus not in EMOBOX_NAMES:
        raise ValueError(f"EmoBox has no folds for {corpus!r}; EmoBox covers {', '.join(EMOBOX_NAMES)} of ser-hf's corpora")
    raw = json.loads(resources.files(__package__).joinpath("folds", f"{corpus}.json").read_text(encoding="utf-8"))
    membership = None
    if raw.get("keys") is not None:
        membership = {k: (TRAIN_ONLY if c == "-" else int(c)) for k, c in zip(raw["keys"], raw["membership"])}
    speakers = raw.get("test_speakers")
    return EmoBoxFolds(
        corpus=corpus, emobox_name=raw["emobox_name"], commit=raw["commit"],
        speaker_independent=raw["speaker_independent"], fold_sizes=tuple(raw["fold_sizes"]), n_files=raw["n_files"],
        test_speakers=tuple(tuple(s) for s in speakers) if speakers is not None else None, membership=membership,
        classes=raw["classes"], note=raw.get("note", ""),
    )


def emobox_folds_of(ds: "datasets.Dataset") -> EmoBoxFolds:
    """The EmoBox folds for the one corpus of ``ds`` (EmoBox's folds are per corpus)."""
    corpora = sorted(set(ds["corpus"]))
    if len(corpora) != 1:
        raise ValueError(f"EmoBox's folds are per corpus; the data holds {', '.join(corpora)}: run one corpus at a time")
    return load_folds(corpora[0])


def assign_emobox_folds(ds: "datasets.Dataset") -> "datasets.Dataset":
    """``ds`` with a ``emobox_fold`` column (0-based; -1: training data in every fold) from EmoBox's lists.

    Files EmoBox does not list are dropped (the protocol is EmoBox's file set), with a warning naming them; test folds
    that come out smaller than EmoBox's (a partial copy, a synthetic corpus) are logged too.
    """
    folds = emobox_folds_of(ds)
    corpus = folds.corpus
    assigned = [folds.fold_of(file_key(corpus, path), speaker.split(":", 1)[-1])
                for path, speaker in zip(ds["path"], ds["speaker"])]
    unlisted = [i for i, f in enumerate(assigned) if f is None]
    if unlisted:
        names = [Path(p).name for p in ds.select(unlisted[:5])["path"]]
        logger.warning("emobox: %d file(s) of %s are not in EmoBox's lists and are left out, e.g. %s", len(unlisted),
                       corpus, ", ".join(names))
    keep = [i for i, f in enumerate(assigned) if f is not None]
    if not keep:
        raise ValueError(f"emobox: none of the {len(ds)} files of {corpus} is in EmoBox's lists (file names changed?)")
    counts = Counter(assigned[i] for i in keep)
    found = [counts.get(f, 0) for f in range(folds.folds)]
    if found != list(folds.fold_sizes):
        logger.warning("emobox: %s test folds hold %s files here, %s in EmoBox's lists (a partial or synthetic copy)",
                       corpus, found, list(folds.fold_sizes))
    out = ds.select(keep) if unlisted else ds
    if FOLD_COLUMN in out.column_names:
        out = out.remove_columns(FOLD_COLUMN)
    return out.add_column(FOLD_COLUMN, [assigned[i] for i in keep])


def check_every_fold_tested(ds: "datasets.Dataset") -> None:
    """ValueError naming EmoBox's folds (1-based, as EmoBox names them) that no file of ``ds`` falls in."""
    folds = emobox_folds_of(ds)
    assigned = assign_emobox_folds(ds)[FOLD_COLUMN]
    empty = [f"fold_{f + 1}" for f in range(folds.folds) if f not in set(assigned)]
    if empty:
        speakers = "" if folds.test_speakers is None else " (test speakers " + "; ".join(
            ", ".join(folds.test_speakers[int(f.split("_")[1]) - 1]) for f in empty) + ")"
        raise ValueError(f"EmoBox's {', '.join(empty)} of {folds.corpus} hold no file of this data{speakers}: "
                         "cross_validation=emobox needs the whole corpus")
