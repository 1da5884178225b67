"""Start-up cost: wall time of ``import ser_hf``, ``python train.py --help`` and the Space's imports.

    python benchmarks/imports.py [--runs 5] [--baseline DIR] [--json PATH]

Each command runs ``--runs`` times in a fresh interpreter (median and min printed, seconds). With
``--baseline DIR`` (another checkout of ser-hf, e.g. ``git worktree add /tmp/before <commit>``) the same
commands run there too, alternated with this checkout's in the same run, so both figures see the same machine
load. A command the baseline does not have (an import path that did not exist) is reported as missing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COMMANDS = {
    "import ser_hf": ["-c", "import ser_hf"],
    "train.py --help": ["train.py", "--help"],
    # what space/app.py imports from ser_hf before it loads a model
    "space imports": ["-c", "import importlib, os\n"
                            "new = os.path.isdir('ser_hf/evaluation')  # the baseline may predate the layout\n"
                            "for m in (['ser_hf.data.audio', 'ser_hf.inference', 'ser_hf.evaluation.long_clip'] if new\n"
                            "          else ['ser_hf.audio', 'ser_hf.inference', 'ser_hf.longclip']):\n"
                            "    importlib.import_module(m)"],
}


def time_once(cwd: Path, args: list[str]) -> float | None:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, timeout=600)
    seconds = time.perf_counter() - start
    return seconds if result.returncode == 0 else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (median reported)")
    parser.add_argument("--baseline", type=Path, default=None, help="another ser-hf checkout to compare with")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    checkouts = {"this": ROOT}
    if args.baseline:
        checkouts["baseline"] = args.baseline.resolve()
    times: dict[str, dict[str, list[float | None]]] = {c: {name: [] for name in COMMANDS} for c in checkouts}
    for _ in range(args.runs):  # alternate checkouts and commands run by run
        for name, command in COMMANDS.items():
            for checkout, path in checkouts.items():
                times[checkout][name].append(time_once(path, command))

    rows = []
    for name in COMMANDS:
        row = {"command": name}
        for checkout in checkouts:
            values = times[checkout][name]
            ok = [v for v in values if v is not None]
            row[checkout] = {"median_s": statistics.median(ok) if len(ok) == len(values) else None,
                             "min_s": min(ok) if len(ok) == len(values) else None, "runs": values}
        rows.append(row)

    header = f"{'command':<18} " + " ".join(f"{c + ' median s':>18} {c + ' min s':>14}" for c in checkouts)
    print(f"{args.runs} runs each, {sys.executable}")
    print(header)
    for row in rows:
        cells = []
        for checkout in checkouts:
            median, low = row[checkout]["median_s"], row[checkout]["min_s"]
            cells.append(f"{'missing' if median is None else f'{median:.2f}':>18} {'' if low is None else f'{low:.2f}':>14}")
        print(f"{row['command']:<18} " + " ".join(cells))
    if args.json:
        args.json.write_text(json.dumps({"benchmark": "imports", "runs": args.runs,
                                         "checkouts": {k: str(v) for k, v in checkouts.items()}, "rows": rows},
                                        indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
