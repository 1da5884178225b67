"""Command line: prepare corpora as datasets.

    python -m ser_hf.data prepare --corpus ravdess --root /data/RAVDESS --out prepared/ravdess
    python -m ser_hf.data prepare --corpus all_en --root ravdess=/data/RAVDESS --root tess=/data/TESS --out prepared/en
    python -m ser_hf.data prepare --corpus ravdess --out prepared/synthetic   # no root: synthetic corpus
    python -m ser_hf.data prepare --corpus csv:/data/interviews/labels.csv --out prepared/interviews --label-map joy=happy

Writes a ``DatasetDict`` (``save_to_disk``) plus ``report.json``, ``leakage.json``, ``summary.txt`` and
``preparation.json`` (the preprocessing settings) to ``--out``; never writes into a corpus root or a source's folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

from ser_hf.data.audio import PreprocessConfig
from ser_hf.data.corpora import CONSOLIDATED, CORPORA, expand_names, load_corpora
from ser_hf.data.corpora.base import overlapping_root
from ser_hf.data.corpora.own import PREPARATION_FILE, preparation_record
from ser_hf.data.labels import LABEL_SETS, label_map_problem
from ser_hf.data.sources import SOURCE_COLUMNS, SOURCE_KINDS, is_source, parse_source
from ser_hf.data.splits import format_leakage_report, leakage_report, make_splits
from ser_hf.data.summary import summarize
from ser_hf.locks import StorageFullError


def _parse_roots(values: list[str], corpora: list[str]) -> dict[str, str]:
    roots: dict[str, str] = {}
    builtin = [c for c in corpora if not is_source(c)]
    for v in values:
        name, sep, path = v.partition("=")
        if sep and name in CORPORA:
            roots[name] = path
        elif len(builtin) == 1:
            roots[builtin[0]] = v
        else:
            raise SystemExit(f"--root {v!r}: with several corpora give NAME=PATH (names: {', '.join(builtin) or 'none'}"
                             "; an own source needs no --root)")
    return roots


def _pairs(values: list[str], flag: str, keys: tuple[str, ...] | None = None, commas: bool = True) -> dict[str, str]:
    """``--flag KEY=VALUE`` (repeated, or comma-separated when ``commas``) as a dict; ``keys``: the keys allowed."""
    out: dict[str, str] = {}
    for value in (v for item in values for v in (item.split(",") if commas else [item]) if v.strip()):
        key, sep, target = (part.strip() for part in value.partition("="))
        if not sep or not key or not target:
            raise ValueError(f"{flag} {value!r}: give KEY=VALUE")
        if keys and key not in keys:
            raise ValueError(f"{flag} {value!r}: {key!r} is not one of {', '.join(keys)}")
        out[key] = target
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ser_hf.data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="read corpora from their download layout into a DatasetDict")
    p.add_argument("--corpus", required=True, help=f"one of {sorted(CORPORA)} or {sorted(CONSOLIDATED)}, or own data: "
                   + "; ".join(SOURCE_KINDS.values()) + " (comma-separated; [NAME=]KIND:... names a source)")
    p.add_argument("--root", action="append", default=[], help="corpus root (NAME=PATH with several corpora)")
    p.add_argument("--out", required=True, help="output folder for the prepared DatasetDict")
    p.add_argument("--label-set", default="seven", choices=sorted(LABEL_SETS),
                   help="classes to keep (default: seven; source: an own source's labels as they are)")
    p.add_argument("--label-map", action="append", default=[], metavar="LABEL=CLASS",
                   help="own data: map a source label onto a class (repeat, or comma-separate: joy=happy,irritated=angry)")
    p.add_argument("--column", action="append", default=[], metavar="NAME=COLUMN",
                   help=f"own data: the source's column for {', '.join(SOURCE_COLUMNS)} (e.g. label=mood, speaker=actor)")
    p.add_argument("--licence", action="append", default=[], metavar="SOURCE=LICENCE",
                   help="own data: a source's licence, for the report and push-dataset (default: not stated)")
    p.add_argument("--split", default="seed003", help="seed003 | seed000 | seed001 | ratio:.. | speaker:.. | kfold:K:T | loso:T")
    p.add_argument("--seed", type=int, default=42, help="split seed")
    p.add_argument("--trim-db", type=float, default=25.0, help="silence trim threshold in dB (<= 0 disables)")
    p.add_argument("--peak-normalize", action="store_true", help="scale each file to peak 0.99 (seeds 000/004)")
    p.add_argument("--fixed-seconds", type=float, default=None, help="crop/pad every file to this length")
    p.add_argument("--num-proc", type=int, default=None, help="decoding processes (default: all cores for big corpora)")
    p.add_argument("--synthetic-size", default="small", choices=("tiny", "small", "full"), help="size of the synthetic stand-in")
    p.add_argument("--cache-dir", default=None, help="cache folder (default $SER_HF_CACHE or ~/.cache/ser_hf)")
    p.add_argument("--no-cache", action="store_true", help="decode every file again instead of using a cached preparation")
    p.add_argument("--parquet-shards", type=int, default=None, metavar="N",
                   help="write Parquet shards in the Hub's layout (OUT/data/<split>-00000-of-0000N.parquet) instead of an "
                        "Arrow DatasetDict, for corpora larger than one disk: N per split, 0 = one per 2000 rows; "
                        "train.py reads them with train_shards=OUT")
    p.add_argument("--push-to-hub", default=None, metavar="ORG/NAME",
                   help="upload the Parquet shards as a private Hub dataset (needs --parquet-shards)")
    return parser


def prepare_command(args: argparse.Namespace) -> int:
    if args.push_to_hub and args.parquet_shards is None:
        raise ValueError("--push-to-hub uploads Parquet shards: add --parquet-shards N (0 = one per 2000 rows)")
    corpora = expand_names(args.corpus)
    roots = _parse_roots(args.root, corpora)
    problem = label_map_problem(_pairs(args.label_map, "--label-map"), args.label_set)
    if problem:
        raise ValueError(f"--label-map {problem}")
    out = Path(args.out).resolve()
    folders = {**roots, **{c: parse_source(c).folder for c in corpora if is_source(c)}}
    name = overlapping_root(out, folders)
    if name:
        raise SystemExit(
            f"error: --out {out} overlaps the {name} root {folders[name]} (the same folder, inside it, or holding it); "
            "corpus folders are never written to: choose an --out outside it"
        )
    cfg = PreprocessConfig(
        trim_db=args.trim_db if args.trim_db and args.trim_db > 0 else None,
        peak_normalize=args.peak_normalize,
        fixed_seconds=args.fixed_seconds,
    )
    ds, reports = load_corpora(
        corpora,
        roots,
        label_set=args.label_set,
        preprocess=cfg,
        synthetic_size=args.synthetic_size,
        num_proc=args.num_proc,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        return_report=True,
        label_map=_pairs(args.label_map, "--label-map"),
        columns=_pairs(args.column, "--column", tuple(SOURCE_COLUMNS)),
        licences=_pairs(args.licence, "--licence", commas=False),
    )
    splits = make_splits(ds, args.split, args.seed)
    leakage = leakage_report(splits)
    out.mkdir(parents=True, exist_ok=True)
    if args.parquet_shards is None:
        splits.save_to_disk(str(out / "data"))
        saved = f"Saved to {out / 'data'} (datasets.load_from_disk)"
    else:
        from ser_hf.data.shards import push_parquet_shards, write_parquet_shards

        write_parquet_shards(splits, out, num_shards=args.parquet_shards)
        saved = f"Saved Parquet shards to {out / 'data'} (train.py ... train_shards={out})"
        if args.push_to_hub:
            saved += f"\nPushed: {push_parquet_shards(out, args.push_to_hub)}"
    (out / "report.json").write_text(json.dumps([asdict(r) for r in reports], indent=1, ensure_ascii=False))
    (out / PREPARATION_FILE).write_text(json.dumps(preparation_record(cfg), indent=1))  # read back by disk:/hub:
    (out / "leakage.json").write_text(json.dumps(leakage, indent=1))
    text = summarize(splits, reports) + "\n" + format_leakage_report(leakage)
    (out / "summary.txt").write_text(text + "\n")
    print(text)
    print(saved)
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return prepare_command(args)
    except (FileNotFoundError, ValueError, StorageFullError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
