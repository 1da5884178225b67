"""The results of :func:`compute_classification_metrics` as a Markdown table a person can read.

Scores are shown in per cent with two decimals, as the seed papers report them; ROC-AUC as a
fraction with four (seed 000 reports "AUC 0.9635").
"""

from __future__ import annotations

from ser_hf.registry import METRICS


def _pct(value: float | None) -> str:
    if value is None or value != value:  # None or NaN
        return "n/a"
    return f"{100.0 * value:.2f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *[line(r) for r in rows]]


def format_interval(interval: list[float] | None) -> str:
    """``[low, high]`` in per cent, as tables show a 95 % interval."""
    return "n/a" if not interval else f"[{_pct(interval[0])}, {_pct(interval[1])}]"


def format_results_table(metrics: dict, intervals: dict | None = None) -> str:
    """Headline metrics (with their 95 % bootstrap intervals when given: ``ser_hf.evaluation.intervals``), per-class
    rows, per-group rows and the most frequent confusions, as Markdown."""
    lines: list[str] = []
    ci = (intervals or {}).get("ci", {})
    rows = [[f"{m.display} (%)", _pct(metrics.get(key))] + ([format_interval(ci.get(key))] if ci else [])
            for key, m in METRICS.items() if key in metrics]
    blank = [""] if ci else []
    if "roc_auc_ovr" in metrics:
        auc = metrics["roc_auc_ovr"]
        rows.append(["ROC-AUC (macro one-vs-rest)", "n/a" if auc is None else f"{auc:.4f}"] + blank)
    if "n" in metrics:
        rows.append(["examples", str(metrics["n"])] + blank)
    lines += _table(["metric", "value"] + (["95 % interval"] if ci else []), rows)
    if ci:
        note = f" ({intervals['note']})" if intervals.get("note") else ""
        lines += ["", f"Intervals: {intervals['samples']} bootstrap resamples of "
                      f"{'speakers' if intervals['unit'] == 'speaker' else 'files'}{note} (percentile)."]

    per_class = metrics.get("per_class") or {}
    if per_class:
        lines += ["", "Per class (%)"]
        lines += _table(["class", "precision", "recall", "F1", "support"],
                        [[name, _pct(s["precision"]), _pct(s["recall"]), _pct(s["f1"]), str(s["support"])]
                         for name, s in per_class.items()])

    for group_name, values in (metrics.get("per_group") or {}).items():
        lines += ["", f"Per {group_name} (%)"]
        lines += _table([group_name, "n", *(m.display for m in METRICS.values())],
                        [[value, str(s["n"]), *(_pct(s.get(key)) for key in METRICS)] for value, s in values.items()])

    confusions = metrics.get("top_confusions") or []
    if confusions:
        lines += ["", "Most frequent confusions"]
        lines += _table(["true", "predicted", "count"], [[c["true"], c["predicted"], str(c["count"])] for c in confusions])
    return "\n".join(lines) + "\n"
