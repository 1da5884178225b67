"""Plain-text summary of a prepared corpus: files per class and split, speakers and genders, hours, the audio
as found (rates, clip lengths) against the datasheet, and what was left out."""

from __future__ import annotations

from collections import Counter

import datasets

from ser_hf.data.corpora import dropped_classes_note
from ser_hf.data.corpora.own import unmapped_labels_note
from ser_hf.data.prepare import PrepareReport


def _label_names(ds: datasets.Dataset) -> list[str]:
    return ds.features["label"].names


def _rates(report: PrepareReport) -> str:
    return ", ".join(f"{rate} Hz x {n}" for rate, n in report.sample_rates.items())


def summarize(data: datasets.Dataset | datasets.DatasetDict, reports: list[PrepareReport] | None = None) -> str:
    parts = dict(data) if isinstance(data, datasets.DatasetDict) else {"all": data}
    first = next(iter(parts.values()))
    names = _label_names(first)
    reports = reports or []
    # Own labels that mapped onto no class, then what a label set dropped, come first: a class missing from a
    # model is easy to overlook in a table.
    lines = [f"NOTE: {unmapped_labels_note(r.corpus, r.unmapped_labels)}" for r in reports if r.unmapped_labels]
    lines += [f"NOTE: {dropped_classes_note(r)}" for r in reports if r.dropped_by_label]
    width = max([len(n) for n in names] + [8])
    lines.append("Files per class and split:")
    lines.append(f"  {'class':<{width}} " + " ".join(f"{p:>10}" for p in parts) + f" {'total':>8}")
    counts = {p: Counter(ds["label"]) for p, ds in parts.items()}
    empty = []
    for i, name in enumerate(names):
        row = [counts[p][i] for p in parts]
        if not sum(row):  # a class of the label set that none of these corpora has
            empty.append(name)
            continue
        lines.append(f"  {name:<{width}} " + " ".join(f"{n:>10}" for n in row) + f" {sum(row):>8}")
    totals = [len(ds) for ds in parts.values()]
    lines.append(f"  {'total':<{width}} " + " ".join(f"{n:>10}" for n in totals) + f" {sum(totals):>8}")
    if empty:
        lines.append(f"  no files of: {', '.join(empty)} (in the label set, not in the data)")
    lines.append(
        "  speakers   "
        + "  ".join(f"{p}: {len(set(ds['speaker']))}" for p, ds in parts.items())
        + "   hours   "
        + "  ".join(f"{p}: {sum(ds['duration']) / 3600:.2f}" for p, ds in parts.items())
    )
    genders = {p: Counter(ds["gender"]) for p, ds in parts.items()}
    if len(genders) > 1:
        genders["total"] = sum(genders.values(), Counter())
    lines.append(
        "  files by gender   "
        + "  ".join(f"{p}: " + (", ".join(f"{g} {n}" for g, n in sorted(c.items())) or "none") for p, c in genders.items())
    )
    speakers = Counter(g for g, _ in {(g, s) for ds in parts.values() for g, s in zip(ds["gender"], ds["speaker"])})
    lines.append("  speakers by gender   " + ", ".join(f"{g} {n}" for g, n in sorted(speakers.items())))
    corpora = Counter(c for ds in parts.values() for c in ds["corpus"])
    if len(corpora) > 1:
        lines.append("  per corpus " + ", ".join(f"{c}: {n}" for c, n in sorted(corpora.items())))
    for r in reports:
        lines.append(
            f"{r.corpus}{' (synthetic)' if r.synthetic else f' ({r.source})' if r.source else ''}: "
            f"{r.found} files found, {r.kept} kept; "
            f"{len(r.skipped)} skipped ({'row or file' if r.source else 'name or not a file'}), "
            f"{len(r.duplicates)} duplicates, "
            f"{len(r.failed)} failed (audio), {len(r.warned)} kept with a warning"
        )
        if r.sample_rates:
            s = r.source_seconds
            lines.append(
                f"  audio as found: {_rates(r)}; clips {s['min']:.2f}-{s['max']:.2f} s "
                f"(median {s['median']:.2f} s) before trimming"
            )
        for warning in r.datasheet_warnings:
            lines.append(f"  WARNING (datasheet): {warning}")
        for what, rows in (("skipped", r.skipped), ("failed", r.failed), ("warned", r.warned)):
            reasons = Counter(reason.split(" (")[0] for _, reason in rows)
            for reason, n in reasons.most_common(8):
                example = next(p for p, why in rows if why.startswith(reason))
                lines.append(f"  {what} {n}x: {reason}  (e.g. {example})")
        if r.duplicates:
            lines.append(f"  duplicates {len(r.duplicates)}x: kept once  (e.g. {r.duplicates[0][0]}, kept: {r.duplicates[0][1]})")
    return "\n".join(lines)
