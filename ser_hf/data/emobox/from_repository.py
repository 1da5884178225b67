"""Reads EmoBox's published folds into ``ser_hf/data/emobox/folds/<corpus>.json`` (the facts ser-hf ships).

    python -m ser_hf.data.emobox.from_repository --emobox /path/to/EmoBox [--test-lists tests/data/emobox_test_lists.json.gz]

``--emobox`` is a clone of github.com/emo-box/EmoBox or its bare git directory (read at ``--commit``, default HEAD).
For each corpus both projects cover it reads ``data/<name>/label_map.json`` and every
``data/<name>/fold_N/<name>_test_fold_N.jsonl`` (the lists ``EmoBox.EmoDataset`` reads; EmoDB's older duplicates
``emodb_test_foldN.jsonl`` hold the same files), plus ``fold_1``'s train list for one-fold corpora, and parses every
listed file name with ser-hf's own corpus parser. A fold is stored as its speakers when it is exactly every file of
those speakers, otherwise as its files. It stops when a name does not parse or an EmoBox label does not map onto the
``emobox`` label set's class of that file. ``--test-lists`` also writes EmoBox's test lists themselves (paths and
labels), the data ``tests/data/test_emobox.py`` checks the shipped folds against.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path, PurePosixPath

from ser_hf.data.corpora import CORPORA
from ser_hf.data.emobox import EMOBOX_NAMES, REPOSITORY, TRAIN_ONLY, file_key
from ser_hf.data.labels import get_label_set

FOLDS_DIR = Path(__file__).resolve().parent / "folds"


class Repository:
    """Files of an EmoBox clone or bare git directory at one commit."""

    def __init__(self, path: str | Path, commit: str = "HEAD"):
        self.path = Path(path)
        git_dir = self.path / ".git" if (self.path / ".git").exists() else self.path
        self.git = ["git", f"--git-dir={git_dir}"]
        self.commit = subprocess.run([*self.git, "rev-parse", commit], capture_output=True, text=True,
                                     check=True).stdout.strip()

    def read(self, path: str) -> str | None:
        done = subprocess.run([*self.git, "show", f"{self.commit}:{path}"], capture_output=True, text=True)
        return done.stdout if done.returncode == 0 else None

    def jsonl(self, path: str) -> list[dict] | None:
        text = self.read(path)
        return None if text is None else [json.loads(line) for line in text.splitlines() if line.strip()]


def _relative(entry: dict, name: str) -> str:
    path = PurePosixPath(entry.get("wav") or entry["audio"])  # EmoDB's older lists say "audio"
    prefix = PurePosixPath("downloads", name)
    return str(path.relative_to(prefix)) if path.is_relative_to(prefix) else str(path)


def read_corpus(repo: Repository, corpus: str) -> tuple[dict, dict]:
    """(the shipped fold file's content, EmoBox's lists for the tests) of one corpus."""
    name = EMOBOX_NAMES[corpus]
    label_map = json.loads(repo.read(f"data/{name}/label_map.json"))
    folds: list[list[dict]] = []
    while (entries := repo.jsonl(f"data/{name}/fold_{len(folds) + 1}/{name}_test_fold_{len(folds) + 1}.jsonl")) is not None:
        folds.append(entries)
    if not folds:
        raise SystemExit(f"{corpus}: no data/{name}/fold_1/{name}_test_fold_1.jsonl at {repo.commit}")
    train_only: list[dict] = []
    if len(folds) == 1:
        listed = repo.jsonl(f"data/{name}/fold_1/{name}_train_fold_1.jsonl")
        if listed is None:
            raise SystemExit(f"{corpus}: one fold but no train list to tell its other files")
        train_only = listed
    ls = get_label_set("emobox")
    lower_map = {k.lower(): v for k, v in label_map.items()}
    notes, classes = [], {}
    parsed: dict[str, tuple[int, str, str]] = {}  # key -> (fold, speaker, relative path)
    for fold, entries in [*enumerate(folds), *((TRAIN_ONLY, [e]) for e in train_only)]:
        for entry in entries:
            relative = _relative(entry, name)
            cf = CORPORA[corpus].parse(Path(relative))
            if isinstance(cf, str):
                raise SystemExit(f"{corpus}: ser-hf cannot parse EmoBox's {relative}: {cf}")
            emo = entry.get("emo", entry.get("label"))
            if emo not in label_map and emo.lower() in lower_map:
                notes.append(f"EmoBox's label_map.json spells {emo!r} differently from its lists")
            emobox_class = label_map.get(emo, lower_map.get(emo.lower()))
            mine = ls.map_row(cf.emotion, corpus, cf.raw_label)
            if emobox_class is None or emobox_class.lower() != mine:
                raise SystemExit(f"{corpus}: {relative} is {emo!r} -> {emobox_class!r} in EmoBox, {mine!r} in ser-hf")
            classes[emo] = mine
            key = file_key(corpus, relative)
            if key in parsed:
                raise SystemExit(f"{corpus}: {key} listed twice ({parsed[key][2]}, {relative})")
            parsed[key] = (fold, cf.speaker, relative)
    folds_of_speaker: dict[str, set[int]] = defaultdict(set)
    for fold, speaker, _ in parsed.values():
        folds_of_speaker[speaker].add(fold)
    by_speaker = all(len(f) == 1 and TRAIN_ONLY not in f for f in folds_of_speaker.values())
    independent = all(len(f) == 1 for f in folds_of_speaker.values() if f - {TRAIN_ONLY})
    shipped = {
        "corpus": corpus, "emobox_name": name, "source": REPOSITORY, "commit": repo.commit,
        "lists": f"data/{name}/fold_N/{name}_test_fold_N.jsonl", "label_map": label_map, "classes": classes,
        "speaker_independent": independent, "fold_sizes": [len(f) for f in folds], "n_files": len(parsed),
        "note": "; ".join(sorted(set(notes))),
    }
    if by_speaker:
        shipped["test_speakers"] = [sorted({parsed[file_key(corpus, _relative(e, name))][1] for e in entries})
                                    for entries in folds]
    else:
        keys = sorted(parsed)
        shipped["keys"] = keys
        shipped["membership"] = "".join("-" if parsed[k][0] == TRAIN_ONLY else str(parsed[k][0]) for k in keys)
    lists = {"commit": repo.commit, "test": [[[_relative(e, name), e.get("emo", e.get("label"))] for e in entries]
                                             for entries in folds],
             "train_only": [[_relative(e, name), e.get("emo", e.get("label"))] for e in train_only]}
    return shipped, lists


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emobox", required=True, help="a clone of emo-box/EmoBox or its bare git directory")
    parser.add_argument("--commit", default="HEAD", help="the commit to read (default HEAD)")
    parser.add_argument("--out", default=str(FOLDS_DIR), help="where the fold files go (default: the package's)")
    parser.add_argument("--test-lists", help="also write EmoBox's test lists here (.json.gz), for the tests")
    args = parser.parse_args(argv)
    repo = Repository(args.emobox, args.commit)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    all_lists = {}
    for corpus in EMOBOX_NAMES:
        shipped, lists = read_corpus(repo, corpus)
        # one line per field: readable, and the long key lists stay one line each
        lines = (f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in shipped.items())
        (out / f"{corpus}.json").write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
        all_lists[corpus] = lists
        print(f"{corpus}: {len(shipped['fold_sizes'])} folds {shipped['fold_sizes']}, "
              f"{'by speaker' if 'test_speakers' in shipped else 'by file'}, "
              f"speaker-independent: {shipped['speaker_independent']}", file=sys.stderr)
    if args.test_lists:
        with gzip.open(args.test_lists, "wt", encoding="utf-8") as fh:
            json.dump(all_lists, fh, separators=(",", ":"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
