"""Cost of a 10-fold leave-one-speaker-out embeddings run against one split's run, in the same benchmark run.

    python benchmarks/cross_validation.py [--size small] [--extractor egemaps] [--classifiers logistic_regression,svm_linear] [--json PATH]

On the synthetic EmoDB (10 speakers, as the real corpus; ``--size small``: 210 files, ``full``: 535), each
configuration runs ``train.py`` as a user would, in a fresh process, with the corpus already prepared and the
embedding cache emptied first (cold):

* ``single split``: seed 000's 80/20 split (one extraction of every file, one fit per classifier);
* ``loso 10 folds``: ``cross_validation=loso`` (every file extracted once thanks to the per-file cache, ten fits);
* ``loso, warm cache``: the same in a new output folder with the cache left full (what any later run costs);
* ``per-fold extraction (before)``: ten single-split-sized extractions, i.e. what the per-dataset cache cost:
  estimated as 10 x the single run's extraction time plus the loso run's non-extraction time.

The target (issue: benchmark-grade evaluation) is loso 10 folds <= 1.3 x single split.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], env: dict) -> tuple[float, float, str]:
    """Wall seconds, extraction seconds (from the log) and the log of one ``train.py`` launch."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "train.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(f"train.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    extraction = sum(float(s) for s in re.findall(r"files extracted \(\d+ from the cache\) -> \(.*?\) in ([\d.]+) s",
                                                  result.stderr))
    return seconds, extraction, result.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="small", choices=("tiny", "small", "full"), help="synthetic EmoDB size")
    parser.add_argument("--extractor", default="egemaps", help="embedding of the table (egemaps, mfcc, ...)")
    parser.add_argument("--classifiers", default="logistic_regression,svm_linear", help="comma-separated")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ser_hf_cv_bench_"))
    env = {**os.environ, "SER_HF_CACHE": str(work / "cache")}
    common = ["--recipe", "seed000_emodb", "synthetic=true", f"synthetic_size={args.size}",
              f"extractors=[{args.extractor}]", f"classifiers=[{args.classifiers}]"]
    try:
        # warm-up: synthesise and prepare the corpus once, so every measured run starts from the prepared cache
        run([*common, "extractors=[mfcc]", "classifiers=[logistic_regression]", f"output_dir={work / 'warmup'}"], env)
        rows = {}
        for name, extra in (("single split", []), ("loso 10 folds", ["cross_validation=loso"])):
            shutil.rmtree(work / "cache" / "embeddings", ignore_errors=True)
            seconds, extraction, _ = run([*common, *extra, f"output_dir={work / name.replace(' ', '_')}"], env)
            rows[name] = {"seconds": seconds, "extraction_seconds": extraction}
        seconds, extraction, _ = run([*common, "cross_validation=loso", f"output_dir={work / 'loso_warm'}"], env)
        rows["loso, warm cache"] = {"seconds": seconds, "extraction_seconds": extraction}
        single, loso = rows["single split"], rows["loso 10 folds"]
        rows["per-fold extraction (before)"] = {
            "seconds": loso["seconds"] - loso["extraction_seconds"] + 10 * single["extraction_seconds"],
            "extraction_seconds": 10 * single["extraction_seconds"], "estimated": True}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    ratio = loso["seconds"] / single["seconds"]
    print(f"synthetic EmoDB ({args.size}), {args.extractor} x {args.classifiers}, {os.cpu_count()} CPU cores")
    print(f"{'run':<30} {'wall s':>8} {'extraction s':>13} {'x single':>9}")
    for name, row in rows.items():
        mark = " (est.)" if row.get("estimated") else ""
        print(f"{name:<30} {row['seconds']:>8.1f} {row['extraction_seconds']:>13.1f} "
              f"{row['seconds'] / single['seconds']:>9.2f}{mark}")
    print(f"loso 10 folds / single split = {ratio:.2f} (target <= 1.3)")
    if args.json:
        args.json.write_text(json.dumps({"benchmark": "cross_validation", "size": args.size,
                                         "extractor": args.extractor, "classifiers": args.classifiers.split(","),
                                         "rows": rows, "loso_over_single": ratio}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
