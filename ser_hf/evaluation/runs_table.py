"""``ser-hf table RUN_DIR...``: one table of corpora x models across finished runs, for a paper.

    ser-hf table outputs/egemaps_ravdess outputs/probe_ravdess outputs/egemaps_emodb --metric uar --out table
    ser-hf table outputs/* --heatmap table.png          # or python -m ser_hf.evaluation.runs_table

Each run folder gives one cell: its corpora (the row), its model (the column: the method's description, or the best
embedding x classifier of an embeddings table) and the metric, as ``mean ± std`` over folds for a cross-validation
(``--cell ci``: ``mean [95 % interval]``; ``--cell both``: ``mean ± std [95 % interval]``) or
``value [95 % interval]`` for a single split. The caption names every
protocol the cells were measured under and whether it is speaker-independent; when the runs of the table use
more than one protocol, each cell carries the number of its protocol. ``--out PREFIX`` writes ``PREFIX.md``,
``PREFIX.csv`` (one line per cell with the numbers: value, std, interval, folds, protocol) and ``PREFIX.tex``
(booktabs); ``--heatmap`` draws the values as a heat map. The Markdown table is printed too.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from ser_hf.evaluation.intervals import METRICS
from ser_hf.evaluation.run_outputs import RunError, model_label

NAMES = {"accuracy": "Accuracy", "uar": "UAR", "macro_f1": "Macro F1", "weighted_f1": "Weighted F1"}
CELLS = ("std", "ci", "both")  # how a cross-validation's cell reads: mean ± std, mean [interval], or both


@dataclass
class Cell:
    run: Path
    corpus: str
    model: str
    value: float
    std: float | None  # over folds, cross-validations only
    ci: list[float] | None
    folds: int | None
    protocol: str
    speaker_independent: bool


def read_cell(run_dir: str | Path, metric: str) -> Cell:
    """One run folder's cell; RunError when it is not a finished run."""
    run_dir = Path(run_dir)
    if not (run_dir / "results.json").is_file():
        raise RunError(f"{run_dir}: no results.json: not a finished ser-hf run folder")
    results = json.loads((run_dir / "results.json").read_text())
    cv_path = run_dir / "cv_results.json"
    cv = json.loads(cv_path.read_text()) if cv_path.is_file() else None
    corpus = "+".join(results.get("corpora") or ["?"]) + (" (synthetic)" if "synthetic" in str(results.get("data")) else "")
    if cv is not None:
        row = next(r for r in cv["rows"] if r["name"] == cv["best"])
        return Cell(run_dir, corpus, model_label(run_dir, results, cv), row["mean"][metric], row["std"][metric],
                    (row.get("ci") or {}).get(metric), cv["protocol"]["folds"], cv["protocol"]["description"],
                    bool(cv["protocol"]["speaker_independent"]))
    independent = bool(results.get("speaker_independent"))
    return Cell(run_dir, corpus, model_label(run_dir, results, None), results["test"][metric], None,
                ((results.get("intervals") or {}).get("ci") or {}).get(metric), None, f"split {results.get('split')}",
                independent)


def _text(cell: Cell, mode: str) -> str:
    value = f"{100 * cell.value:.2f}"
    interval = f" [{100 * cell.ci[0]:.2f}, {100 * cell.ci[1]:.2f}]" if cell.ci else ""
    if cell.std is not None and mode != "ci":
        return f"{value} ± {100 * cell.std:.2f}" + (interval if mode == "both" else "")
    return value + interval


def build_table(run_dirs: list[str], metric: str = "uar", cell: str = "std") -> dict:
    """The cells of ``run_dirs`` arranged corpora x models, with the protocols of the caption."""
    cells = [read_cell(r, metric) for r in run_dirs]
    seen: dict[tuple[str, str], Path] = {}
    for c in cells:  # two runs of one model on one corpus: tell them apart by folder
        if (c.corpus, c.model) in seen:
            c.model = f"{c.model} ({c.run.name})"
        seen[(c.corpus, c.model)] = c.run
    corpora = list(dict.fromkeys(c.corpus for c in cells))
    models = list(dict.fromkeys(c.model for c in cells))
    protocols = list(dict.fromkeys((c.protocol, c.speaker_independent) for c in cells))
    return {"metric": metric, "cell": cell, "cells": cells, "corpora": corpora, "models": models,
            "protocols": protocols}


def caption(table: dict) -> str:
    metric = NAMES[table["metric"]]
    shapes = {("std" if c.std is not None else "ci") for c in table["cells"]}
    how = []
    if "std" in shapes:
        how.append({"std": "cross-validations: mean ± std over folds",
                    "ci": "cross-validations: mean over folds [95 % bootstrap interval]",
                    "both": "cross-validations: mean ± std over folds [95 % bootstrap interval of the mean]"}[table["cell"]])
    if "ci" in shapes:
        how.append("single splits: value [95 % bootstrap interval]")
    numbered = len(table["protocols"]) > 1
    protocols = "; ".join(f"{f'({i + 1}) ' if numbered else ''}{p}"
                          + ("" if "speaker-independent" in p else
                             f" ({'speaker-independent' if si else 'NOT speaker-independent'})")
                          for i, (p, si) in enumerate(table["protocols"]))
    return f"{metric} (%), {'; '.join(how)}. Protocol{'s' if numbered else ''}: {protocols}."


def _grid(table: dict) -> list[list[str]]:
    numbered = len(table["protocols"]) > 1
    rows = []
    for corpus in table["corpora"]:
        row = [corpus]
        for model in table["models"]:
            cell = next((c for c in table["cells"] if c.corpus == corpus and c.model == model), None)
            if cell is None:
                row.append("–")
                continue
            mark = f" ({table['protocols'].index((cell.protocol, cell.speaker_independent)) + 1})" if numbered else ""
            row.append(_text(cell, table["cell"]) + mark)
        rows.append(row)
    return rows


def to_markdown(table: dict) -> str:
    header = ["corpus", *table["models"]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in _grid(table)]
    return "\n".join(lines) + f"\n\n{caption(table)}\n"


def _tex(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"), ("±", r"$\pm$"),
                 ("–", "--")):
        text = text.replace(a, b)
    return text


def to_latex(table: dict) -> str:
    columns = "l" + "c" * len(table["models"])
    lines = [r"\begin{table}[t]", r"\centering", f"\\caption{{{_tex(caption(table))}}}", f"\\begin{{tabular}}{{{columns}}}",
             r"\toprule", " & ".join(_tex(h) for h in ["Corpus", *table["models"]]) + r" \\", r"\midrule"]
    lines += [" & ".join(_tex(c) for c in row) + r" \\" for row in _grid(table)]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_csv(table: dict, path: Path) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["corpus", "model", "metric", "value", "std", "ci_low", "ci_high", "folds", "protocol",
                         "speaker_independent", "run"])
        for c in table["cells"]:
            low, high = (f"{v:.6f}" for v in c.ci) if c.ci else ("", "")
            writer.writerow([c.corpus, c.model, table["metric"], f"{c.value:.6f}", "" if c.std is None else f"{c.std:.6f}",
                             low, high, c.folds or "", c.protocol, c.speaker_independent, str(c.run)])


def write_heatmap(table: dict, path: Path) -> Path:
    import numpy as np

    from ser_hf.evaluation.plots import plot_matrices

    values = np.full((len(table["corpora"]), len(table["models"])), np.nan)
    for c in table["cells"]:
        values[table["corpora"].index(c.corpus), table["models"].index(c.model)] = c.value
    # one panel; the protocols are in the tables' caption
    return plot_matrices([(f"{NAMES[table['metric']]} (%)", values)], table["corpora"], table["models"], path,
                         row_label="corpus", column_label="model")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ser-hf table", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run folders (train.py's output_dir; cross-validations' top folders)")
    parser.add_argument("--metric", default="uar", choices=METRICS, help="the metric in the cells (default uar)")
    parser.add_argument("--cell", default="std", choices=CELLS,
                        help="cross-validations as mean ± std (std, the default), mean [95 %% interval] (ci) or both")
    parser.add_argument("--out", help="write PREFIX.md, PREFIX.csv and PREFIX.tex")
    parser.add_argument("--heatmap", help="also draw the values as a heat map (PNG)")
    args = parser.parse_args(argv)
    try:
        table = build_table(args.runs, args.metric, args.cell)
    except RunError as err:
        print(f"ser-hf table: {err}", file=sys.stderr)
        return 2
    markdown = to_markdown(table)
    print(markdown, end="")
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        Path(f"{out}.md").write_text(markdown)
        Path(f"{out}.tex").write_text(to_latex(table))
        write_csv(table, Path(f"{out}.csv"))
    if args.heatmap:
        write_heatmap(table, Path(args.heatmap))
    return 0


if __name__ == "__main__":
    sys.exit(main())
