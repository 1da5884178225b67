"""``ser-hf compare RUN_A RUN_B``: is B better than A on the same test files, and by how much?

    ser-hf compare outputs/egemaps_lr outputs/hubert_probe            # or python -m ser_hf.evaluation.compare
    ser-hf compare RUN_A RUN_B --model-b "mfcc + knn" --samples 5000 --json diff.json

Both runs' per-file test predictions (``predictions.npz``; every fold's for a cross-validation) are paired file by
file. Runs whose test files differ are refused in one line, as are runs with different classes or labels: a
difference between them would not be a difference between the models. The files are matched by source path, or, where
the paths differ (two copies of a corpus), by the hash of their prepared audio.

For each headline metric the output gives A, B, the difference B - A with its 95 % paired-bootstrap interval and a
two-sided p-value (:func:`ser_hf.evaluation.intervals.paired_bootstrap`: speakers resampled when both runs are
speaker-independent and have at least 5 test speakers, files otherwise; for two cross-validations with the same
folds, the statistic is the mean over folds), and McNemar's exact test on the files exactly one run gets right.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from ser_hf.evaluation.intervals import DEFAULT_SAMPLES, METRICS, paired_bootstrap, resampling_units
from ser_hf.evaluation.run_outputs import RunError, RunOutputs, load_run

NAMES = {"accuracy": "accuracy", "uar": "UAR", "macro_f1": "macro F1", "weighted_f1": "weighted F1"}


def _describe(missing: set, extra: set) -> str:
    example = sorted(missing or extra)[:2]
    return f"{len(missing)} only in A, {len(extra)} only in B (e.g. {', '.join(example)})"


def pair_items(a: RunOutputs, b: RunOutputs) -> tuple[np.ndarray, str]:
    """The index into B's files of each of A's files; RunError when the two test sets are not the same files."""
    problems = []
    for kind, ka, kb in (("source path", a.paths, b.paths), ("audio hash", a.content_hashes, b.content_hashes)):
        if not ka or len(ka) != len(kb) or len(set(ka)) != len(ka):
            continue
        if set(ka) == set(kb):
            where = {k: i for i, k in enumerate(kb)}
            return np.asarray([where[k] for k in ka]), kind
        problems.append(f"by {kind}: {_describe(set(ka) - set(kb), set(kb) - set(ka))}")
    detail = "; ".join(problems) or f"{len(a.paths)} files in A, {len(b.paths)} in B"
    raise RunError(f"the runs were tested on different files ({detail}): a paired comparison needs the same test files")


def compare_runs(run_a: str, run_b: str, model_a: str | None = None, model_b: str | None = None,
                 samples: int = DEFAULT_SAMPLES, seed: int = 0) -> dict:
    """B minus A on the same test files; RunError (one line) when they cannot be paired."""
    a, b = load_run(run_a, model_a), load_run(run_b, model_b)
    if a.label_names != b.label_names:
        raise RunError(f"the runs predict different classes (A: {', '.join(a.label_names)}; B: {', '.join(b.label_names)})")
    order, matched_by = pair_items(a, b)
    labels_b = b.labels[order]
    if not np.array_equal(a.labels, labels_b):
        raise RunError(f"{int(np.sum(a.labels != labels_b))} test files carry different labels in the two runs "
                       "(different label sets or corpus versions)")
    units, note = resampling_units(a.speakers, a.speaker_independent and b.speaker_independent)
    same_folds = a.folds is not None and b.folds is not None and np.array_equal(a.folds, b.folds[order])
    result = paired_bootstrap(a.labels, a.probabilities.argmax(axis=1), b.probabilities[order].argmax(axis=1),
                              len(a.label_names), units=units, folds=a.folds if same_folds else None,
                              samples=samples, seed=seed)
    result["resampling"]["note"] = note
    result["runs"] = {r: {"path": str(x.path), "model": x.model, "label": x.label, "protocol": x.protocol}
                      for r, x in (("a", a), ("b", b))}
    result["n"] = int(len(a.labels))
    result["matched_by"] = matched_by
    return result


def format_comparison(result: dict) -> str:
    """The comparison as a short Markdown report."""
    runs, resampling = result["runs"], result["resampling"]
    statistic = "mean over folds" if resampling.get("statistic") else "all test files"
    lines = [f"A: {runs['a']['path']} ({runs['a']['label']}; {runs['a']['protocol']})",
             f"B: {runs['b']['path']} ({runs['b']['label']}; {runs['b']['protocol']})",
             f"{result['n']} test files, paired by {result['matched_by']}; {statistic}.", "",
             "| metric | A (%) | B (%) | B - A (points) | 95 % interval | p |", "|---|---|---|---|---|---|"]
    floor = 1 / (resampling["samples"] + 1)  # no resample as extreme as the observation: p is below this bound
    for m in METRICS:
        r = result[m]
        p = f"≤ {floor:.4f}" if r["p_value"] <= floor + 1e-12 else f"{r['p_value']:.4f}"
        lines.append(f"| {NAMES[m]} | {100 * r['a']:.2f} | {100 * r['b']:.2f} | {100 * r['difference']:+.2f} | "
                     f"[{100 * r['ci'][0]:+.2f}, {100 * r['ci'][1]:+.2f}] | {p} |")
    mc = result["mcnemar"]
    lines += ["", f"Paired bootstrap: {resampling['samples']} resamples of "
                  f"{'speakers' if resampling['unit'] == 'speaker' else 'files'}"
                  f"{' (' + resampling['note'] + ')' if resampling.get('note') else ''}; p: two-sided, of no difference.",
              f"McNemar (exact, accuracy): {mc['only_a_correct']} files only A gets right, {mc['only_b_correct']} only B; "
              f"p = {mc['p_value']:.4f} (treats files as independent)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ser-hf compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_a", help="a run folder (train.py's output_dir; a cross-validation's top folder)")
    parser.add_argument("run_b", help="the other run folder, tested on the same files")
    parser.add_argument("--model-a", help="row of A's predictions (default: the one its results report)")
    parser.add_argument("--model-b", help="row of B's predictions (default: the one its results report)")
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resampling (default 0)")
    parser.add_argument("--json", help="also write the result to this JSON file")
    args = parser.parse_args(argv)
    if args.samples < 1:
        parser.error("--samples must be at least 1")
    try:
        result = compare_runs(args.run_a, args.run_b, args.model_a, args.model_b, args.samples, args.seed)
    except RunError as err:
        print(f"ser-hf compare: {err}", file=sys.stderr)
        return 2
    print(format_comparison(result), end="")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
