"""The end of a run: the journals merged into the output tables in input order, the summary, and for labelled
inputs the metrics report of ``train.py``'s test (``metrics.json`` through
:func:`ser_hf.evaluation.metrics.compute_classification_metrics`, a confusion matrix per model)."""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np

from ser_hf.predict.options import model_columns
from ser_hf.predict.output import OutputPaths, write_json, write_tables

logger = logging.getLogger(__name__)


def merge(records: list[dict], order: dict[str, int]) -> tuple[list[dict], list[dict], list[dict]]:
    """Records sorted by input order (inputs of an earlier launch that this one does not name keep their place after
    them), and their rows and error rows."""
    ranked = sorted(enumerate(records), key=lambda ir: (order.get(ir[1]["key"], len(order) + ir[0])))
    ordered = [r for _, r in ranked]
    rows = [row for r in ordered for row in r["rows"]]
    errors = [r["error"] for r in ordered if r["error"]]
    return ordered, rows, errors


def _match(reference: str, classes: list[str]) -> str | None:
    lower = {c.lower(): c for c in classes}
    return lower.get(str(reference).strip().lower())


def labelled_metrics(rows: list[dict], names: list[str], classes: list[str], paths: OutputPaths) -> dict | None:
    """Per model: every figure train.py's test reports, over the file rows whose reference is one of the classes;
    references outside them are counted (``n_out_of_set``), not scored."""
    files = [r for r in rows if r["kind"] == "file" and r.get("reference") is not None]
    if not files:
        return None
    from ser_hf.evaluation.metrics import compute_classification_metrics
    from ser_hf.evaluation.plots import plot_confusion_matrix

    scored = [(r, _match(r["reference"], classes)) for r in files]
    out_of_set = Counter(str(r["reference"]) for r, m in scored if m is None)
    scored = [(r, m) for r, m in scored if m is not None]
    if out_of_set:
        logger.warning("references not among the model's classes, not scored: %s",
                       ", ".join(f"{k} ({v})" for k, v in out_of_set.most_common()))
    report = {"label_names": classes, "n_labelled": len(files), "n_out_of_set": sum(out_of_set.values()),
              "out_of_set": dict(out_of_set), "models": {}}
    several = len(names) > 1
    for name in names:
        cols = model_columns(name, classes, several)
        if not scored:
            break
        refs = [m for _, m in scored]
        preds = [r[cols["label"][0]] for r, _ in scored]
        probs = np.array([[r[c] for c in cols["prob"]] for r, _ in scored], dtype=np.float64)
        metrics = compute_classification_metrics(refs, preds, classes, probabilities=probs)
        report["models"][name] = metrics
        suffix = f"-{name}" if several else ""
        plot_confusion_matrix(metrics["confusion_matrix"], classes, paths.sidecar(f"confusion_matrix{suffix}.png"),
                              title=f"{name}: {len(refs)} labelled files")
    write_json(paths.sidecar("metrics.json"), report)
    return report


def finish_run(paths: OutputPaths, columns: list[str], records: list[dict], order: dict[str, int], names: list[str],
               classes: list[str], summary: dict) -> dict:
    """Write the tables, the metrics (labelled inputs) and the summary; return the summary."""
    ordered, rows, errors = merge(records, order)
    write_tables(paths, columns, rows, errors)
    kinds = Counter(e["error"] for e in errors)
    file_rows = [r for r in rows if r["kind"] == "file"]
    summary.update({
        "output": str(paths.out), "format": paths.format,
        "inputs": len(ordered), "predicted": len(file_rows), "errors": len(errors), "errors_by_kind": dict(kinds),
        "audio_seconds": round(sum(r["duration"] or 0.0 for r in file_rows), 3),
        "segmented": sum(1 for r in file_rows if r.get("segments") is not None),
    })
    metrics = labelled_metrics(rows, names, classes, paths)
    if metrics:
        summary["metrics"] = {n: {k: m[k] for k in ("accuracy", "uar", "macro_f1", "weighted_f1", "n")}
                              for n, m in metrics["models"].items()}
    write_json(paths.sidecar("summary.json"), summary)
    return summary
