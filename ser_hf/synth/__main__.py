"""python -m ser_hf.synth --corpus NAME --out DIR [--size tiny|small|full] [--seed N] [--layout L]"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

import soundfile as sf

from . import CORPORA, LAYOUTS, SIZES, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ser_hf.synth", description="Write a synthetic emotional-speech corpus in a real corpus's layout.")
    parser.add_argument("--corpus", required=True, choices=CORPORA)
    parser.add_argument("--out", required=True, help="new (or empty) folder to write into")
    parser.add_argument("--size", default="small", choices=SIZES, help="tiny (tests), small (quickstart), full (the real grid)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layout", default=None, help="; ".join(f"{c}: {'/'.join(l)}" for c, l in LAYOUTS.items()))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        manifest = generate(args.corpus, args.out, args.size, args.seed, args.layout)
    except (ValueError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start
    unique = [m for m in manifest if not m["duplicate"]]
    seconds = sum(sf.info(f"{args.out}/{m['relpath']}").duration for m in unique)
    print(f"{args.corpus}: {len(manifest)} files ({len(manifest) - len(unique)} duplicates), "
          f"{len({m['speaker'] for m in manifest})} speakers, {seconds:.0f} s of audio, written in {elapsed:.1f} s to {args.out}")
    for emotion, n in sorted(Counter(m["emotion"] for m in manifest).items()):
        print(f"  {emotion:<10} {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
