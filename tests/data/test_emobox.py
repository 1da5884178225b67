"""``cross_validation=emobox``: the folds ser-hf assigns are EmoBox's published test lists, file for file.

``tests/data/emobox_test_lists.json.gz`` holds EmoBox's own lists (``data/<name>/fold_N/<name>_test_fold_N.jsonl`` at
the commit it names: paths and labels, written by ``python -m ser_hf.data.emobox.from_repository --test-lists``). Each
test writes every listed file, empty, under EmoBox's paths (the downloads' own layouts), lets ser-hf's corpus parser
scan them, assigns folds from the package's fold files, and compares each fold with EmoBox's list, and each file's
``emobox`` class with EmoBox's label.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from ser_hf.data.corpora import CORPORA
from ser_hf.data.corpora.base import scan
from ser_hf.data.emobox import EMOBOX_NAMES, FOLD_COLUMN, TRAIN_ONLY, assign_emobox_folds, load_folds
from ser_hf.data.labels import apply_label_set
from ser_hf.data.splits import make_splits, parse_split_protocol

LISTS = Path(__file__).resolve().parents[1] / "fixtures" / "emobox_test_lists.json.gz"
MIRROR = Path("/work/.mirror/emo-box+EmoBox/repo")  # EmoBox's repository where this machine has it


@pytest.fixture(scope="module")
def emobox_lists() -> dict:
    with gzip.open(LISTS, "rt", encoding="utf-8") as fh:
        return json.load(fh)


def write_layout(root: Path, relatives: list[str]) -> None:
    for folder in {os.path.dirname(r) for r in relatives}:
        (root / folder).mkdir(parents=True, exist_ok=True)
    for relative in relatives:
        os.close(os.open(os.path.join(root, relative), os.O_CREAT | os.O_WRONLY, 0o644))


def scanned_dataset(corpus: str, root: Path) -> datasets.Dataset:
    """What the loader would see of the files, without decoding (they are empty)."""
    files = scan(CORPORA[corpus], root).files
    return datasets.Dataset.from_dict({
        "path": [f.path for f in files], "speaker": [f"{corpus}:{f.speaker}" for f in files],
        "corpus": [corpus] * len(files), "emotion": [f.emotion for f in files], "raw_label": [f.raw_label for f in files]})


@pytest.mark.parametrize("corpus", [pytest.param(c, marks=pytest.mark.slow) if c == "esd" else c  # 35,000 files
                                    for c in EMOBOX_NAMES])
def test_emobox_folds_are_emobox_published_test_lists(corpus, emobox_lists, tmp_path):
    lists = emobox_lists[corpus]
    folds = load_folds(corpus)
    assert folds.commit == lists["commit"] and folds.folds == len(lists["test"])
    test = [[relative for relative, _ in fold] for fold in lists["test"]]
    every = [r for fold in test for r in fold] + [r for r, _ in lists["train_only"]]
    write_layout(tmp_path, every)
    ds = assign_emobox_folds(scanned_dataset(corpus, tmp_path))
    assert len(ds) == len(every) == folds.n_files  # every file EmoBox lists, nothing else
    relative = [str(Path(p).relative_to(tmp_path)) for p in ds["path"]]
    for fold, expected in enumerate(test):
        got = sorted(r for r, f in zip(relative, ds[FOLD_COLUMN]) if f == fold)
        assert got == sorted(expected), f"{corpus} fold {fold} differs from EmoBox's fold_{fold + 1}"
    assert sorted(r for r, f in zip(relative, ds[FOLD_COLUMN]) if f == TRAIN_ONLY) == sorted(r for r, _ in lists["train_only"])
    # the classes are EmoBox's: its label, through its label_map, lower-cased, is the row's emobox class
    labelled, dropped = apply_label_set(ds, "emobox")
    assert not dropped and len(labelled) == len(ds)
    names = labelled.features["label"].names
    emobox_class = {r: folds.classes[emo] for fold in lists["test"] for r, emo in fold}
    emobox_class.update({r: folds.classes[emo] for r, emo in lists["train_only"]})
    assert [names[y] for y in labelled["label"]] == [emobox_class[r] for r in relative]
    assert sorted(names) == sorted(set(folds.classes.values()))
    # one split of the protocol: EmoBox's fold as the test part, the rest training
    parts = make_splits(ds, "emobox:0")
    assert sorted(Path(p).relative_to(tmp_path).as_posix() for p in parts["test"]["path"]) == sorted(test[0])
    assert len(parts["train"]) == len(ds) - len(test[0])


def test_speaker_independence_is_what_the_lists_show(emobox_lists):
    """EmoBox's EmoDB, TESS and CREMA-D folds are drawn over files: every test fold shares its speakers with training."""
    independent = {corpus: load_folds(corpus).speaker_independent for corpus in EMOBOX_NAMES}
    assert independent == {"ravdess": True, "savee": True, "tess": False, "crema_d": False, "emodb": False,
                           "esd": True, "jl_corpus": True, "subesco": True}
    for corpus in ("tess", "crema_d", "emodb"):
        assert "NOT speaker-independent" in load_folds(corpus).description()
    assert [len(s) for s in load_folds("ravdess").test_speakers] == [4] * 6  # 6 folds of 4 actors


def test_savee_original_layout_gets_the_same_folds(emobox_lists, tmp_path):
    """SAVEE's original download (AudioData/<SPK>/a01.wav) names files without the speaker, unlike EmoBox's copy."""
    relatives = [r for fold in emobox_lists["savee"]["test"] for r, _ in fold]
    write_layout(tmp_path, [f"AudioData/{Path(r).stem.split('_')[0]}/{Path(r).stem.split('_')[1]}.wav" for r in relatives])
    ds = assign_emobox_folds(scanned_dataset("savee", tmp_path))
    for fold, listed in enumerate(emobox_lists["savee"]["test"]):
        speakers = {Path(r).stem.split("_")[0] for r, _ in listed}
        assert {s.split(":")[1] for s, f in zip(ds["speaker"], ds[FOLD_COLUMN]) if f == fold} == speakers


def test_files_emobox_does_not_list_are_left_out_and_bad_requests_stop(tmp_path, caplog):
    write_layout(tmp_path, ["wav/03a01Wa.wav", "wav/03a01Fa.wav", "wav/99z99Zz.wav"])
    (tmp_path / "wav/99z99Zz.wav").unlink()
    write_layout(tmp_path, ["wav/16b10Wb.wav"])  # a real name
    ds = scanned_dataset("emodb", tmp_path)
    ds = ds.add_item({"path": str(tmp_path / "wav/03b01Lx.wav"), "speaker": "emodb:03", "corpus": "emodb",
                      "emotion": "boredom", "raw_label": "L"})  # not an EmoBox file
    with caplog.at_level("WARNING"):
        out = assign_emobox_folds(ds)
    assert len(out) == 3 and "not in EmoBox's lists" in caplog.text and "03b01Lx.wav" in caplog.text
    with pytest.raises(ValueError, match="EmoBox has 5 fold"):
        make_splits(out, "emobox:5")
    with pytest.raises(ValueError, match="EmoBox has no folds for 'banglaser'"):
        load_folds("banglaser")
    with pytest.raises(ValueError, match="per corpus"):
        assign_emobox_folds(datasets.Dataset.from_dict({"path": ["a", "b"], "speaker": ["x:1", "y:1"],
                                                        "corpus": ["tess", "savee"]}))
    assert parse_split_protocol("emobox:3") == ("emobox", (3,))
    with pytest.raises(ValueError):
        parse_split_protocol("emobox:x")


@pytest.mark.slow
def test_cross_validation_on_emobox_folds_end_to_end(tmp_path):
    """The synthetic SAVEE (its real speakers) through EmoBox's 4 folds: one fold per speaker, intervals, card."""
    import train
    from ser_hf.publish.cards import render_card

    out = tmp_path / "cv"
    cv = train.main(["--recipe", "seed000_emodb", "synthetic=true", "synthetic_size=tiny", "corpora=[savee]",
                     "extractors=[mfcc]", "classifiers=[logistic_regression]", "cross_validation=emobox",
                     f"output_dir={out}", "bootstrap_samples=200"])
    assert cv["protocol"]["scheme"] == "emobox" and cv["protocol"]["folds"] == 4
    row = cv["rows"][0]
    assert [f["test_speakers"] for f in row["folds"]] == [["savee:JE"], ["savee:KL"], ["savee:DC"], ["savee:JK"]]
    for key in ("accuracy", "uar", "macro_f1", "weighted_f1"):
        assert row["ci"][key][0] <= row["mean"][key] <= row["ci"][key][1]
    results = json.loads((out / "results.json").read_text())
    assert results["label_set"] == "emobox" and results["cross_validation"]["ci"]
    card = str(render_card(out, "someone/emobox-savee"))
    assert "EmoBox folds of savee" in card and "95 % interval of the mean" in card and "ci_95" in card
    assert "Expected calibration error" in card


@pytest.mark.skipif(not MIRROR.is_dir(), reason="EmoBox's repository is not on this machine")
def test_shipped_lists_are_the_repository_s(emobox_lists, tmp_path):
    """The test data is EmoBox's: regenerated from the repository, the fold files and lists come out the same."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    subprocess.run([sys.executable, "-m", "ser_hf.data.emobox.from_repository", "--emobox", str(MIRROR), "--commit",
                    emobox_lists["ravdess"]["commit"], "--out", str(tmp_path), "--test-lists", str(tmp_path / "l.gz")],
                   check=True, capture_output=True, env=env, timeout=300)
    package = Path(__file__).resolve().parents[2] / "ser_hf/data/emobox/folds"
    for corpus in EMOBOX_NAMES:
        assert (tmp_path / f"{corpus}.json").read_text() == (package / f"{corpus}.json").read_text()
    with gzip.open(tmp_path / "l.gz", "rt") as fh:
        assert json.load(fh) == emobox_lists
