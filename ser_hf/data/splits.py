"""Reproducible splits and the leakage report that comes with every one of them.

* ``ratio_split``: stratified by label, exact to within one file per class and part
  (70/10/20 as seed 003, 80/20 as seed 000, 70/15/15 as seed 001).
* ``speaker_split``: speaker-independent ratio split, speakers dealt per corpus and gender.
* ``speaker_kfold`` / ``leave_one_speaker_out``: a ``fold`` column (stored, so a fold is the same
  file set on every machine), stratified by label as far as whole speakers allow
  (scikit-learn's ``StratifiedGroupKFold``); ``fold_split`` turns a fold into train/validation/test.
* ``leakage_report``: speakers, identical audio (content hash) and sentences shared across parts.

Rows of own data without a speaker column carry the speaker ``NAME:`` (an empty id): the speaker-independent
protocols (``speaker:``, ``kfold:``, ``loso:``) refuse them (:class:`MissingSpeakersError`), and a ratio split
of them is reported as speaker-dependent.

Every assignment is a function of the rows' order (itself sorted by path at preparation) and
the seed, never of the file system's walk order.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence

import datasets
import numpy as np

logger = logging.getLogger(__name__)

PART_NAMES = {2: ("train", "test"), 3: ("train", "validation", "test")}

# Named protocols of the seeds, for recipes and the CLI.
PROTOCOLS = {
    "seed003": ("ratio", (0.7, 0.1, 0.2)),
    "seed000": ("ratio", (0.8, 0.2)),
    "seed001": ("ratio", (0.7, 0.15, 0.15)),
    "seed002": ("ratio", (0.7, 0.3)),
}


class MissingSpeakersError(ValueError):
    """A speaker-independent protocol asked of rows whose speakers are unknown (own data without a speaker column)."""


def speakerless_sources(speakers: Iterable[str]) -> list[str]:
    """The sources whose rows have no speaker: own data without a speaker column (speaker ``NAME:``)."""
    return sorted({s[:-1] for s in set(speakers) if s.endswith(":")})


def missing_speakers_message(protocol: str, sources: list[str]) -> str:
    """One line: why ``protocol`` cannot run on these sources, and what can."""
    return (f"{protocol} is speaker-independent, but {', '.join(sources)} has no speaker column (or rows without a "
            "speaker): name it with columns.speaker=COLUMN (ser-hf prepare: --column speaker=COLUMN), or use a "
            "speaker-dependent protocol (split=seed003, cross_validation=auto)")


def _part_names(ratios: Sequence[float]) -> tuple[str, ...]:
    if len(ratios) not in PART_NAMES:
        raise ValueError(f"ratios must have 2 (train/test) or 3 (train/validation/test) parts, got {ratios}")
    if abs(sum(ratios) - 1.0) > 1e-6 or min(ratios) < 0:
        raise ValueError(f"ratios must be non-negative and sum to 1, got {ratios}")
    return PART_NAMES[len(ratios)]


def _allocate(n: int, ratios: Sequence[float]) -> list[int]:
    """Split ``n`` items into parts by largest remainder: each part within 1 of n * ratio."""
    exact = [n * r for r in ratios]
    counts = [int(np.floor(x)) for x in exact]
    order = sorted(range(len(ratios)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def _by_column(ds: datasets.Dataset, column: str, names: Sequence[str]) -> datasets.DatasetDict:
    values = np.asarray(ds[column])
    return datasets.DatasetDict({name: ds.select(np.flatnonzero(values == name)) for name in names})


def assign_ratio_split(
    ds: datasets.Dataset, ratios: Sequence[float] = (0.7, 0.1, 0.2), seed: int = 42, stratify_by: str = "label"
) -> datasets.Dataset:
    """Add a ``split`` column: per class, a seeded shuffle cut by largest-remainder counts."""
    names = _part_names(ratios)
    rng = np.random.default_rng(seed)
    strata = ds[stratify_by]
    assignment = np.empty(len(ds), dtype=object)
    groups: dict = defaultdict(list)
    for i, s in enumerate(strata):
        groups[s].append(i)
    for key in sorted(groups, key=str):
        idx = np.array(groups[key])
        rng.shuffle(idx)
        start = 0
        for name, count in zip(names, _allocate(len(idx), ratios)):
            assignment[idx[start : start + count]] = name
            start += count
    return _replace_column(ds, "split", list(assignment))


def ratio_split(
    ds: datasets.Dataset, ratios: Sequence[float] = (0.7, 0.1, 0.2), seed: int = 42, stratify_by: str = "label"
) -> datasets.DatasetDict:
    """Stratified random split (speaker-dependent: the same speakers appear in every part)."""
    names = _part_names(ratios)
    return _by_column(assign_ratio_split(ds, ratios, seed, stratify_by), "split", names)


def speaker_split(
    ds: datasets.Dataset, ratios: Sequence[float] = (0.7, 0.1, 0.2), seed: int = 42
) -> datasets.DatasetDict:
    """Speaker-independent split: each corpus's speakers, per gender, are dealt to the parts.

    A corpus with fewer speakers than parts cannot be in every part; this is logged as a
    warning (and shows in ``leakage_report``), not hidden.
    """
    names = _part_names(ratios)
    rng = np.random.default_rng(seed)
    speakers: dict = defaultdict(lambda: defaultdict(set))
    for corpus, gender, speaker in zip(ds["corpus"], ds["gender"], ds["speaker"]):
        speakers[corpus][gender].add(speaker)
    part_of: dict[str, str] = {}
    for corpus in sorted(speakers):
        # Shuffle within gender, then interleave genders so every part gets a gender mix.
        by_gender = []
        for gender in sorted(speakers[corpus]):
            order = sorted(speakers[corpus][gender])
            rng.shuffle(order)
            by_gender.append(order)
        dealt = [s for group in _interleave(by_gender) for s in group]
        counts = _allocate(len(dealt), ratios)
        if len(dealt) < len(names):
            logger.warning(
                "%s has %d speaker(s): a speaker-independent %s split is impossible; it will be missing "
                "from some parts (consider leave-one-speaker-out or a speaker-dependent split)",
                corpus,
                len(dealt),
                "/".join(names),
            )
        else:  # every part gets at least one speaker, taken from the largest part
            for i in range(len(counts)):
                if counts[i] == 0:
                    counts[int(np.argmax(counts))] -= 1
                    counts[i] = 1
        # Deal the small parts (test, validation) first so they get the interleaved genders.
        start = 0
        for i in reversed(range(len(names))):
            for s in dealt[start : start + counts[i]]:
                part_of[s] = names[i]
            start += counts[i]
    ds = _replace_column(ds, "split", [part_of[s] for s in ds["speaker"]])
    return _by_column(ds, "split", names)


def speaker_kfold(ds: datasets.Dataset, k: int = 5, seed: int = 42, stratify_by: str = "label") -> datasets.Dataset:
    """Add a ``fold`` column (0..k-1): speaker-disjoint folds, stratified by label as far as possible."""
    from sklearn.model_selection import StratifiedGroupKFold

    speakers = np.asarray(ds["speaker"])
    n_spk = len(set(speakers))
    if n_spk < k:
        raise ValueError(
            f"speaker_kfold: {k} folds need at least {k} speakers, the data has {n_spk}; "
            "use leave_one_speaker_out or a speaker-dependent ratio_split"
        )
    for corpus, n in _speakers_per_corpus(ds).items():
        if n < k:
            logger.warning("%s has %d speakers: its files fall into at most %d of the %d folds", corpus, n, n, k)
    folds = np.full(len(ds), -1, dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for fold, (_, test_idx) in enumerate(splitter.split(np.zeros(len(ds)), ds[stratify_by], speakers)):
        folds[test_idx] = fold
    return _replace_column(ds, "fold", folds.tolist())


def stratified_file_kfold(ds: datasets.Dataset, k: int = 5, seed: int = 42, stratify_by: str = "label") -> datasets.Dataset:
    """Add a ``fold`` column over files, stratified by label: speaker-DEPENDENT folds, for data with one speaker."""
    from sklearn.model_selection import StratifiedKFold

    folds = np.full(len(ds), -1, dtype=np.int64)
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for fold, (_, test_idx) in enumerate(splitter.split(np.zeros(len(ds)), ds[stratify_by])):
        folds[test_idx] = fold
    return _replace_column(ds, "fold", folds.tolist())


def leave_one_speaker_out(ds: datasets.Dataset) -> datasets.Dataset:
    """Add a ``fold`` column: fold i holds the i-th speaker in sorted order."""
    order = {s: i for i, s in enumerate(sorted(set(ds["speaker"])))}
    return _replace_column(ds, "fold", [order[s] for s in ds["speaker"]])


def fold_split(
    ds: datasets.Dataset, test_fold: int, validation_fold: int | None = None, fold_column: str = "fold"
) -> datasets.DatasetDict:
    """Train/(validation)/test from a stored fold column."""
    folds = np.asarray(ds[fold_column])
    if test_fold not in set(folds.tolist()):
        raise ValueError(f"fold {test_fold} not in {sorted(set(folds.tolist()))}")
    parts = {"test": folds == test_fold}
    if validation_fold is not None:
        if validation_fold == test_fold:
            raise ValueError("validation_fold must differ from test_fold")
        parts["validation"] = folds == validation_fold
    parts["train"] = ~np.logical_or.reduce(list(parts.values()))
    order = [n for n in ("train", "validation", "test") if n in parts]
    return datasets.DatasetDict({n: ds.select(np.flatnonzero(parts[n])) for n in order})


def heldout_corpus_split(ds: datasets.Dataset, test_corpora: Sequence[str]) -> datasets.DatasetDict:
    """Cross-corpus: rows of ``test_corpora`` are the test part, all other rows the training part."""
    corpora = np.asarray(ds["corpus"])
    test = np.isin(corpora, list(test_corpora))
    if not test.any() or test.all():
        raise ValueError(f"split corpus:{'+'.join(test_corpora)}: needs rows of those corpora and of others; "
                         f"the data has {sorted(set(corpora.tolist()))}")
    return datasets.DatasetDict(train=ds.select(np.flatnonzero(~test)), test=ds.select(np.flatnonzero(test)))


SPLIT_SYNTAX = ("seed003/seed000/seed001/seed002, ratio:A,B[,C], speaker:A,B[,C], kfold:K:TEST[:VAL], loso:TEST[:VAL], "
                "filekfold:K:TEST[:VAL], emobox:TEST or corpus:NAME[+NAME...]")


def parse_split_protocol(protocol: str) -> tuple[str, tuple]:
    """``(kind, arguments)`` of a protocol string, or a ValueError naming what is wrong: checked before any data.

    ``("ratio", ratios)``, ``("speaker", ratios)``, ``("kfold", (k, test, val))``, ``("filekfold", (k, test, val))``,
    ``("loso", (test, val))``, ``("emobox", (test,))``, ``("corpus", names)``.
    """
    kind, _, rest = str(protocol).partition(":")
    try:
        if kind in PROTOCOLS and not rest:
            return "ratio", PROTOCOLS[kind][1]
        if kind in ("ratio", "speaker"):
            ratios = tuple(float(x) for x in rest.split(","))
            _part_names(ratios)
            return kind, ratios
        if kind == "corpus":
            names = tuple(n for n in rest.split("+") if n)
            if not names:
                raise ValueError("needs the test corpora: corpus:NAME[+NAME...]")
            return kind, names
        if kind in ("kfold", "filekfold"):
            k, test, *val = (int(x) for x in rest.split(":"))
            if k < 2 or not 0 <= test < k or len(val) > 1 or (val and not 0 <= val[0] < k) or (val and val[0] == test):
                raise ValueError("needs K >= 2 and different fold numbers TEST, VAL in 0..K-1")
            return kind, (k, test, val[0] if val else None)
        if kind == "emobox":  # EmoBox's fold TEST (0-based) of the data's one corpus; checked against it in make_splits
            test = int(rest)
            if test < 0:
                raise ValueError("needs an EmoBox fold number TEST >= 0 (0 is EmoBox's fold_1)")
            return kind, (test,)
        if kind == "loso":
            test, *val = (int(x) for x in rest.split(":")) if rest else (0,)
            if test < 0 or len(val) > 1 or (val and (val[0] < 0 or val[0] == test)):
                raise ValueError("needs different speaker indices TEST, VAL >= 0")
            return kind, (test, val[0] if val else None)
    except ValueError as err:
        if str(err).startswith(("ratios", "needs")):
            raise ValueError(f"{protocol!r}: {err}") from None
        raise ValueError(f"{protocol!r} is not {SPLIT_SYNTAX}") from None
    raise ValueError(f"unknown split protocol {protocol!r}; use {SPLIT_SYNTAX}")


def make_splits(ds: datasets.Dataset, protocol: str = "seed003", seed: int = 42) -> datasets.DatasetDict:
    """Splits from a protocol string.

    ``seed003`` | ``seed000`` | ``seed001`` | ``seed002`` (named ratio splits),
    ``ratio:0.7,0.1,0.2``, ``speaker:0.7,0.1,0.2``, ``kfold:K:TEST[:VAL]``, ``loso:TEST[:VAL]``,
    ``filekfold:K:TEST[:VAL]`` (speaker-dependent stratified folds over files, for one-speaker data),
    ``emobox:TEST`` (EmoBox's published fold TEST of the data's one corpus, :mod:`ser_hf.data.emobox`),
    ``corpus:NAME[+NAME...]`` (cross-corpus: those corpora are the test part)
    (``TEST``/``VAL`` are fold numbers; for loso the index of the speaker in sorted order).
    """
    kind, args = parse_split_protocol(protocol)
    return split_dataset(ds, kind, args, seed, protocol)


def split_dataset(ds: datasets.Dataset, kind: str, args: tuple, seed: int = 42, protocol: str = "") -> datasets.DatasetDict:
    """The parts of a protocol already parsed by :func:`parse_split_protocol` (``kind``, ``args``; ``protocol`` as
    written, for messages)."""
    if kind in ("speaker", "kfold", "loso"):
        missing = speakerless_sources(ds["speaker"])
        if missing:
            raise MissingSpeakersError(missing_speakers_message(f"split={protocol or kind}", missing))
    if kind == "ratio":
        return ratio_split(ds, args, seed)
    if kind == "speaker":
        return speaker_split(ds, args, seed)
    if kind == "kfold":
        k, test, val = args
        return fold_split(speaker_kfold(ds, k, seed), test, val)
    if kind == "filekfold":
        k, test, val = args
        return fold_split(stratified_file_kfold(ds, k, seed), test, val)
    if kind == "corpus":  # cross-corpus: the named corpora are the test part, every other row trains
        return heldout_corpus_split(ds, args)
    if kind == "emobox":  # EmoBox's published folds (ser_hf.data.emobox); EmoBox has no validation fold
        from ser_hf.data.emobox import FOLD_COLUMN, assign_emobox_folds, emobox_folds_of

        (test,) = args
        folds = emobox_folds_of(ds).folds
        if test >= folds:
            raise ValueError(f"split emobox:{test}: EmoBox has {folds} fold(s) of this corpus (0..{folds - 1})")
        return fold_split(assign_emobox_folds(ds), test, fold_column=FOLD_COLUMN)
    test, val = args
    return fold_split(leave_one_speaker_out(ds), test, val)


def leakage_report(dd: datasets.DatasetDict, max_examples: int = 5) -> dict:
    """What the parts of a split share: speakers, identical audio, sentences.

    ``speaker_independent`` is True when no test speaker appears in another part: what makes a test score
    speaker-dependent. Speakers shared by train and validation (a validation set carved from the training
    speakers for early stopping) do not change it; ``train_validation_shared_speakers`` counts them. Corpora whose
    sentences are all shared (TESS words, RAVDESS statements) are expected to share sentences;
    the report counts them so a reader can judge lexical leakage.
    """
    parts = list(dd)
    report: dict = {"parts": {p: len(dd[p]) for p in parts}, "pairs": {}, "warnings": []}
    cols = {p: {c: set(dd[p][c]) for c in ("speaker", "content_hash", "sentence")} for p in parts}
    independent = True
    for i, a in enumerate(parts):
        for b in parts[i + 1 :]:
            shared_spk = sorted(cols[a]["speaker"] & cols[b]["speaker"])
            shared_audio = sorted((cols[a]["content_hash"] & cols[b]["content_hash"]) - {""})
            shared_sent = sorted((cols[a]["sentence"] & cols[b]["sentence"]) - {""})
            if "test" not in parts or "test" in (a, b):  # train/validation overlap does not touch the test score
                independent &= not shared_spk
            report["pairs"][f"{a}/{b}"] = {
                "shared_speakers": len(shared_spk),
                "shared_speaker_examples": shared_spk[:max_examples],
                "identical_audio": len(shared_audio),
                "shared_sentences": len(shared_sent),
            }
            if shared_audio:
                report["warnings"].append(f"{len(shared_audio)} identical recordings in both {a} and {b}")
    report["speaker_independent"] = independent
    report["train_validation_shared_speakers"] = report["pairs"].get("train/validation", {}).get("shared_speakers", 0)
    all_rows = datasets.concatenate_datasets([dd[p] for p in parts]) if parts else None
    if all_rows is not None and len(all_rows):
        for corpus, n in _speakers_per_corpus(all_rows).items():
            if n < len(parts):
                report["warnings"].append(
                    f"{corpus} has {n} speaker(s): it cannot be split speaker-independently into {len(parts)} parts"
                )
    return report


def format_leakage_report(report: dict) -> str:
    lines = [
        "Leakage report ("
        + ("speaker-independent test" if report["speaker_independent"] else "test speakers shared with other parts")
        + ")"
    ]
    for pair, r in report["pairs"].items():
        lines.append(
            f"  {pair:<18} shared speakers {r['shared_speakers']:>4}   identical audio {r['identical_audio']:>4}"
            f"   shared sentences {r['shared_sentences']:>4}"
        )
    if report.get("train_validation_shared_speakers"):
        lines.append(f"  note: validation shares {report['train_validation_shared_speakers']} speaker(s) with train "
                     "(used for early stopping only; the test score is not affected)")
    lines += [f"  WARNING: {w}" for w in report["warnings"]]
    return "\n".join(lines)


def _interleave(groups: list[list[str]]) -> list[list[str]]:
    out = []
    for i in range(max((len(g) for g in groups), default=0)):
        out.append([g[i] for g in groups if i < len(g)])
    return out


def _speakers_per_corpus(ds: datasets.Dataset) -> dict[str, int]:
    seen: dict[str, set] = defaultdict(set)
    for corpus, speaker in zip(ds["corpus"], ds["speaker"]):
        seen[corpus].add(speaker)
    return {c: len(s) for c, s in sorted(seen.items())}


def _replace_column(ds: datasets.Dataset, name: str, values: list) -> datasets.Dataset:
    if name in ds.column_names:
        ds = ds.remove_columns(name)
    return ds.add_column(name, values)
