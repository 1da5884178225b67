"""``python -m ser_hf.data prepare`` end to end on a small hand-made RAVDESS tree."""

import json
import subprocess
import sys
from pathlib import Path

import datasets

from ser_hf.data.cli import main

from tests.conftest import write_tone


def small_ravdess(root: Path) -> Path:
    for actor in (1, 2, 3, 4):
        for emo in ("01", "02", "05", "03"):
            for rep in ("01", "02"):
                write_tone(root / f"Actor_{actor:02d}/03-01-{emo}-01-01-{rep}-{actor:02d}.wav", seconds=0.4,
                           freq=150 + 40 * int(emo) + actor, sr=48000)
    (root / "Actor_01/03-01-01-01-01-03-01.wav").write_text("junk")  # bad name (repetition 03)
    (root / "Actor_02/03-01-04-01-01-01-02.wav").write_bytes(b"")  # empty
    return root


def test_prepare_writes_splits_reports_and_summary(tmp_path, capsys):
    root = small_ravdess(tmp_path / "RAVDESS")
    out = tmp_path / "prepared"
    assert main(["prepare", "--corpus", "ravdess", "--root", str(root), "--out", str(out), "--split", "speaker:0.5,0.25,0.25"]) == 0
    printed = capsys.readouterr().out
    assert "Files per class and split" in printed and "neutral" in printed
    assert "skipped 1x: unknown repetition code '03'" in printed
    assert "failed 1x: empty file" in printed
    dd = datasets.load_from_disk(str(out / "data"))
    assert list(dd) == ["train", "validation", "test"]
    assert sum(len(p) for p in dd.values()) == 32
    # calm (02) was merged into neutral by the default label set "seven".
    names = dd["train"].features["label"].names
    assert {names[i] for p in dd.values() for i in p["label"]} == {"neutral", "angry", "happy"}
    leakage = json.loads((out / "leakage.json").read_text())
    assert leakage["speaker_independent"] is True
    report = json.loads((out / "report.json").read_text())[0]
    assert report["kept"] == 32 and len(report["failed"]) == 1 and len(report["skipped"]) == 1
    assert (out / "summary.txt").read_text().startswith("Files per class and split")


def test_missing_root_is_a_clear_error(tmp_path, capsys):
    assert main(["prepare", "--corpus", "savee", "--root", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "AudioData/DC/a01.wav" in err


def test_refuses_to_write_inside_the_corpus(tmp_path):
    root = small_ravdess(tmp_path / "RAVDESS")
    proc = subprocess.run(
        [sys.executable, "-m", "ser_hf.data", "prepare", "--corpus", "ravdess", "--root", str(root), "--out", str(root / "out")],
        capture_output=True, text=True,
    )
    assert proc.returncode != 0 and "never written" in proc.stderr
    assert not (root / "out").exists()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ser_hf.data", *args], capture_output=True, text=True,
                          cwd=Path(__file__).parents[2])


def test_a_root_where_nothing_decodes_exits_non_zero_and_writes_nothing(tmp_path):
    root = tmp_path / "RAVDESS"
    (root / "Actor_01").mkdir(parents=True)
    (root / "Actor_01/03-01-05-01-01-01-01.wav").write_text("<html>not audio</html>")
    (root / "Actor_01/03-01-05-01-01-02-01.wav").write_bytes(b"")
    proc = run_cli("prepare", "--corpus", "ravdess", "--root", str(root), "--out", str(tmp_path / "out"),
                   "--cache-dir", str(tmp_path / "cache"))
    assert proc.returncode != 0
    assert "none of the 2 audio files" in proc.stderr and "empty file" in proc.stderr
    assert not (tmp_path / "out").exists() and list((tmp_path / "cache/prepared").iterdir()) == []


def test_refuses_an_output_folder_that_holds_the_corpus(tmp_path):
    """--root X/data --out X would save the DatasetDict to X/data, inside the root."""
    root = small_ravdess(tmp_path / "X" / "data")
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    proc = run_cli("prepare", "--corpus", "ravdess", "--root", str(root), "--out", str(tmp_path / "X"))
    assert proc.returncode != 0 and "never written" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    same = run_cli("prepare", "--corpus", "ravdess", "--root", str(root), "--out", str(root))
    assert same.returncode != 0 and "never written" in same.stderr


def test_no_cache_decodes_again(tmp_path, caplog):
    import logging

    root = small_ravdess(tmp_path / "RAVDESS")
    args = ["prepare", "--corpus", "ravdess", "--root", str(root), "--cache-dir", str(tmp_path / "cache")]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    with caplog.at_level(logging.INFO, logger="ser_hf"):
        assert main([*args, "--out", str(tmp_path / "b")]) == 0
    assert "using cached preparation" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ser_hf"):
        assert main([*args, "--out", str(tmp_path / "c"), "--no-cache"]) == 0
    assert "using cached preparation" not in caplog.text


def small_emodb(root: Path, sr: int, seconds: list[float]) -> Path:
    """Two speakers (03 male, 08 female), every EmoDB emotion, one text per file."""
    texts = ["a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10"]
    i = 0
    for spk in ("03", "08"):
        for emo in "WLEAFTN":
            for text in texts[:2]:
                write_tone(root / f"wav/{spk}{text}{emo}a.wav", seconds=seconds[i % len(seconds)], sr=sr,
                           silence=0.0, freq=150 + 10 * i)
                i += 1
    return root


def test_summary_states_rates_and_durations_and_warns_where_they_contradict_the_datasheet(tmp_path, capsys):
    """A copy resampled to 22.05 kHz and cut to exactly 2.0 s, where EmoDB is 16 kHz with 1.23-8.98 s clips."""
    root = small_emodb(tmp_path / "EmoDB", sr=22050, seconds=[2.0])
    assert main(["prepare", "--corpus", "emodb", "--root", str(root), "--out", str(tmp_path / "o"), "--label-set", "all"]) == 0
    text = capsys.readouterr().out
    assert "22050 Hz x 28" in text and "2.00-2.00 s" in text
    warnings = [line for line in text.splitlines() if "datasheet" in line]
    assert any("22050 Hz" in w and "16000 Hz" in w for w in warnings), text
    assert any("every clip lasts 2.00 s" in w and "1.23-8.98 s" in w for w in warnings), text
    assert "files by gender" in text and "female 14" in text and "male 14" in text
    report = json.loads((tmp_path / "o/report.json").read_text())[0]
    assert report["sample_rates"] == {"22050": 28} and len(report["datasheet_warnings"]) == 2

    faithful = small_emodb(tmp_path / "EmoDB2", sr=16000, seconds=[1.5, 2.5, 3.1])
    assert main(["prepare", "--corpus", "emodb", "--root", str(faithful), "--out", str(tmp_path / "o2"), "--label-set", "all"]) == 0
    text = capsys.readouterr().out
    assert "16000 Hz x 28" in text and "datasheet" not in text


def test_a_label_set_that_drops_a_class_of_the_only_corpus_says_so_first(tmp_path, capsys):
    root = small_emodb(tmp_path / "EmoDB", sr=16000, seconds=[1.5, 2.5])
    assert main(["prepare", "--corpus", "emodb", "--root", str(root), "--out", str(tmp_path / "o")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "boredom" in lines[0] and "4 files" in lines[0] and "--label-set all" in lines[0], lines[:3]
    table = lines[lines.index("Files per class and split:") + 1 :]
    assert not any(line.split()[:1] == ["surprise"] for line in table)  # EmoDB has no surprise: no empty row
    assert any("surprise" in line and "no files" in line for line in table)
