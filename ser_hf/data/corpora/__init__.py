"""Emotional-speech corpora read from their original download layouts.

``load_corpus("ravdess", "/data/RAVDESS")`` returns a ``datasets.Dataset`` with the shared columns
(``audio`` at 16 kHz, ``label``, ``emotion``, ``raw_label``, ``corpus``, ``language``, ``speaker``,
``gender``, ``sentence``, ``intensity``, ``duration``, ``path``, ``content_hash``). Without a root,
the project's synthetic espeak-ng corpus in that corpus's layout is generated and used.

Own data goes wherever a corpus name does: ``load_corpus("csv:/data/interviews/labels.csv")``,
``load_corpora(["audiofolder:/data/calls", "ravdess"], roots=...)`` (spellings: :mod:`ser_hf.data.sources`;
reading: :mod:`ser_hf.data.corpora.own`).
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import datasets

from ser_hf.data.audio import PreprocessConfig
from ser_hf.data.labels import apply_label_set, get_label_set
from ser_hf.data.prepare import PrepareReport, prepare_corpus
from ser_hf.data.corpora import banglaser, crema_d, demos, emodb, esd, jl_corpus, ravdess, savee, subesco, tess
from ser_hf.data.corpora.base import CorpusFile, CorpusInfo, CorpusRootError, datasheet_warnings
from ser_hf.data.sources import is_source, parse_source, source_name

logger = logging.getLogger(__name__)

CORPORA: dict[str, CorpusInfo] = {
    m.CORPUS.name: m.CORPUS for m in (ravdess, tess, savee, crema_d, subesco, banglaser, emodb, jl_corpus, esd, demos)
}

# Seed 003's consolidated sets.
CONSOLIDATED: dict[str, tuple[str, ...]] = {
    "all_en": ("tess", "ravdess", "savee", "crema_d"),
    "all_bn": ("subesco", "banglaser"),
    "all": ("tess", "ravdess", "savee", "crema_d", "subesco", "banglaser"),
}

__all__ = [
    "CORPORA",
    "CONSOLIDATED",
    "CorpusFile",
    "CorpusInfo",
    "CorpusRootError",
    "PrepareReport",
    "corpus_names",
    "expand_names",
    "get_corpus",
    "load_corpus",
    "load_corpora",
    "prepare",
]


def get_corpus(name: str) -> CorpusInfo:
    try:
        return CORPORA[name]
    except KeyError:
        raise ValueError(f"unknown corpus {name!r}; known: {sorted(CORPORA)} and {sorted(CONSOLIDATED)}") from None


def expand_names(names: str | list[str] | tuple[str, ...]) -> list[str]:
    """``"all_en"`` -> its corpora; a list may mix single and consolidated names and own sources (spelled as
    :func:`ser_hf.data.sources.parse_source` writes them). Two sources of one name, or a source named like a
    corpus, is an error."""
    if isinstance(names, str):
        names = [n for n in names.split(",") if n]
    out: list[str] = []
    for n in names:
        if is_source(n):
            spec = parse_source(n)
            if spec.name in CORPORA or spec.name in CONSOLIDATED:
                raise ValueError(f"{spec.text} is named {spec.name!r}, like the built-in corpus: name it, e.g. "
                                 f"my_{spec.name}={spec.text}")
            twin = next((m for m in out if is_source(m) and source_name(m) == spec.name and m != spec.text), None)
            if twin:
                raise ValueError(f"{twin} and {spec.text} are both named {spec.name!r}: name one, e.g. "
                                 f"{spec.name}_2={spec.text}")
            if spec.text not in out:
                out.append(spec.text)
            continue
        for m in CONSOLIDATED.get(n, (n,)):
            get_corpus(m)
            if m not in out:
                out.append(m)
    return out


def corpus_names(names: str | list[str] | tuple[str, ...]) -> list[str]:
    """The ``corpus`` column values of ``names`` (an own source: its name), e.g. for ``split=corpus:...``."""
    return [source_name(n) for n in expand_names(names)]


def prepare(
    name: str,
    root: str | Path | None = None,
    preprocess: PreprocessConfig | None = None,
    synthetic_size: str = "small",
    synthetic_seed: int = 0,
    num_proc: int | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
) -> tuple[datasets.Dataset, PrepareReport]:
    """Prepared dataset (no ``label`` yet) and the report of what was kept and skipped."""
    info = get_corpus(name)
    synthetic = root is None
    if synthetic:
        from ser_hf.data.synth import ensure_synthetic

        root = ensure_synthetic(name, size=synthetic_size, seed=synthetic_seed, cache_dir=cache_dir)
        logger.info("%s: no root given, using the synthetic espeak-ng corpus at %s", name, root)
    ds, report = prepare_corpus(info, root, preprocess, num_proc=num_proc, cache_dir=cache_dir, use_cache=use_cache)
    report.synthetic = synthetic
    if not synthetic:  # the synthetic stand-in copies rates and layouts, not the clip lengths
        report.datasheet_warnings = datasheet_warnings(info, report.sample_rates, report.source_seconds)
        for warning in report.datasheet_warnings:
            logger.warning("%s", warning)
    return ds, report


def load_corpus(
    name: str,
    root: str | Path | None = None,
    label_set: str = "seven",
    preprocess: PreprocessConfig | None = None,
    synthetic_size: str = "small",
    num_proc: int | None = None,
    cache_dir: str | Path | None = None,
    return_report: bool = False,
    use_cache: bool = True,
    label_map: dict[str, str] | None = None,
    columns: dict[str, str] | None = None,
    licence: str = "",
):
    """One corpus (or own source) as a ``datasets.Dataset`` with a ``label`` column of ``label_set``.

    With ``return_report=True`` returns ``(dataset, report)``; the report lists skipped,
    duplicate and undecodable files and the emotions the label set dropped. ``label_map``, ``columns`` and
    ``licence``: an own source's (see :func:`load_corpora`).
    """
    expand_names([name]) if is_source(name) else get_corpus(name)
    ds, reports = load_corpora(
        [name], {name: root}, label_set, preprocess, synthetic_size, num_proc, cache_dir, return_report=True,
        use_cache=use_cache, label_map=label_map, columns=columns, licences={source_name(name): licence},
    )
    return (ds, reports[0]) if return_report else ds


def load_corpora(
    names: str | list[str],
    roots: dict[str, str | Path] | None = None,
    label_set: str = "seven",
    preprocess: PreprocessConfig | None = None,
    synthetic_size: str = "small",
    num_proc: int | None = None,
    cache_dir: str | Path | None = None,
    return_report: bool = False,
    use_cache: bool = True,
    label_map: dict[str, str] | None = None,
    columns: dict[str, str] | None = None,
    licences: dict[str, str] | None = None,
):
    """Union of several corpora (``"all_en"``, ``["ravdess", "emodb"]``, ...) under one label set.

    A corpus missing from ``roots`` uses its synthetic stand-in; pass ``roots={name: None}`` for
    the same explicitly. The label set is applied after the union so every corpus shares one
    ``ClassLabel``. ``use_cache=False`` decodes every file again (and replaces the cached result).
    Own sources among ``names`` read their labels through ``label_map`` (source label -> class), their columns
    through ``columns`` (schema column -> the source's) and state ``licences[name]`` in their report.
    """
    from ser_hf.data.corpora.own import prepare_source

    roots = roots or {}
    parts, reports = [], []
    for name in expand_names(names):
        if is_source(name):
            ds, report = prepare_source(
                name, label_set, label_map, columns, preprocess, num_proc=num_proc, cache_dir=cache_dir,
                use_cache=use_cache, licence=(licences or {}).get(source_name(name), ""),
            )
        else:
            ds, report = prepare(
                name, roots.get(name), preprocess, synthetic_size, num_proc=num_proc, cache_dir=cache_dir,
                use_cache=use_cache
            )
        parts.append(ds)
        reports.append(report)
    ds = datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    ds, _ = apply_label_set(ds, label_set)
    mapping = get_label_set(label_set)
    for part, report in zip(parts, reports):
        report.label_set = mapping.name
        mapped = [mapping.map_row(e, report.corpus, r) for e, r in zip(part["emotion"], part["raw_label"])]
        report.dropped_by_label = dict(Counter(e for e, m in zip(part["emotion"], mapped) if m is None))
        report.classes = dict(sorted(Counter(m for m in mapped if m is not None).items()))
        report.speakers = len({s for s in part["speaker"] if not s.endswith(":")})  # NAME: = no speaker
        _log_report(report)
        if report.dropped_by_label:
            logger.warning("%s", dropped_classes_note(report))
    return (ds, reports) if return_report else ds


def dropped_classes_note(report: PrepareReport) -> str:
    """One line naming the classes a label set dropped from a corpus, and how to keep them."""
    dropped = ", ".join(f"{e} ({n} files)" for e, n in sorted(report.dropped_by_label.items()))
    return (
        f"label set {report.label_set!r} drops {report.corpus}'s {dropped}; "
        "keep every class with --label-set all (label_set: all in a recipe)"
    )


def _log_report(report: PrepareReport) -> None:
    logger.info(
        "%s: %d files found, %d kept (%d with a warning), %d skipped (name or not a file), %d duplicates, "
        "%d failed (audio), dropped by label set: %s",
        report.corpus,
        report.found,
        report.kept,
        len(report.warned),
        len(report.skipped),
        len(report.duplicates),
        len(report.failed),
        report.dropped_by_label or "none",
    )
