"""Plain-text summary of a prepared corpus: files per class and split, speakers, hours, what was left out."""

from __future__ import annotations

from collections import Counter

import datasets

from ser_hf.data.prepare import PrepareReport


def _label_names(ds: datasets.Dataset) -> list[str]:
    return ds.features["label"].names


def summarize(data: datasets.Dataset | datasets.DatasetDict, reports: list[PrepareReport] | None = None) -> str:
    parts = dict(data) if isinstance(data, datasets.DatasetDict) else {"all": data}
    first = next(iter(parts.values()))
    names = _label_names(first)
    width = max([len(n) for n in names] + [8])
    lines = ["Files per class and split:"]
    lines.append(f"  {'class':<{width}} " + " ".join(f"{p:>10}" for p in parts) + f" {'total':>8}")
    counts = {p: Counter(ds["label"]) for p, ds in parts.items()}
    for i, name in enumerate(names):
        row = [counts[p][i] for p in parts]
        lines.append(f"  {name:<{width}} " + " ".join(f"{n:>10}" for n in row) + f" {sum(row):>8}")
    totals = [len(ds) for ds in parts.values()]
    lines.append(f"  {'total':<{width}} " + " ".join(f"{n:>10}" for n in totals) + f" {sum(totals):>8}")
    lines.append(
        "  speakers   "
        + "  ".join(f"{p}: {len(set(ds['speaker']))}" for p, ds in parts.items())
        + "   hours   "
        + "  ".join(f"{p}: {sum(ds['duration']) / 3600:.2f}" for p, ds in parts.items())
    )
    corpora = Counter(c for ds in parts.values() for c in ds["corpus"])
    if len(corpora) > 1:
        lines.append("  per corpus " + ", ".join(f"{c}: {n}" for c, n in sorted(corpora.items())))
    for r in reports or []:
        lines.append(
            f"{r.corpus}{' (synthetic)' if r.synthetic else ''}: {r.found} files found, {r.kept} kept; "
            f"{len(r.skipped)} skipped (name), {len(r.duplicates)} duplicates, {len(r.failed)} failed (audio)"
        )
        if r.dropped_by_label:
            lines.append(
                "  dropped by the label set: " + ", ".join(f"{e} {n}" for e, n in sorted(r.dropped_by_label.items()))
            )
        for what, rows in (("skipped", r.skipped), ("failed", r.failed)):
            reasons = Counter(reason.split(" (")[0] for _, reason in rows)
            for reason, n in reasons.most_common(5):
                example = next(p for p, why in rows if why.startswith(reason))
                lines.append(f"  {what} {n}x: {reason}  (e.g. {example})")
    return "\n".join(lines)
