"""python -m ser_hf.data.synth --corpus NAME --out DIR [--size tiny|small|full] [--seed N] [--layout L]"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from pathlib import Path

import soundfile as sf

from ser_hf.data.synth import CORPORA, LAYOUTS, SIZES, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ser_hf.data.synth",
        description="Write a synthetic emotional-speech corpus in a real corpus's download layout.",
    )
    parser.add_argument("--corpus", required=True, choices=CORPORA, help="whose layout, naming and sample rate to copy")
    parser.add_argument("--out", required=True, help="new or empty folder to write into")
    parser.add_argument(
        "--size", default="small", choices=SIZES, help="tiny (unit tests), small (quickstart), full (the real grid)"
    )
    parser.add_argument("--seed", type=int, default=0, help="same seed, same bytes")
    parser.add_argument("--layout", default=None, help="download layout; first is the default: " + "; ".join(f"{c}: {'/'.join(v)}" for c, v in LAYOUTS.items()))  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    start = time.perf_counter()
    try:
        files = generate(args.corpus, args.out, args.size, args.seed, args.layout)
    except (ValueError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start
    unique = [m for m in files if not m["duplicate"]]
    seconds = sum(sf.info(str(Path(args.out) / m["relpath"])).duration for m in unique)
    rates = ", ".join(f"{r} Hz x {n}" for r, n in sorted(Counter(m["sampling_rate"] for m in files).items()))
    print(f"{args.corpus} ({args.size}, seed {args.seed}): {len(files)} audio files"
          f"{f' ({len(files) - len(unique)} duplicate copies)' if len(unique) < len(files) else ''}, "
          f"{seconds / 60:.1f} min of audio, {rates}; written in {elapsed:.1f} s to {args.out}")
    print("per emotion:  " + "  ".join(f"{e} {n}" for e, n in sorted(Counter(m["emotion"] for m in unique).items())))
    speakers = Counter((m["speaker"], m["gender"][0]) for m in unique)
    print(f"{len(speakers)} speakers: " + "  ".join(f"{s}({g}) {n}" for (s, g), n in sorted(speakers.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
