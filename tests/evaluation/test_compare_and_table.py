"""``ser-hf compare`` and ``ser-hf table`` on run folders: paired differences on the same files, one results table."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import datasets
import numpy as np
import pytest

from ser_hf.cli import main as cli_main
from ser_hf.evaluation.compare import compare_runs
from ser_hf.evaluation.results import save_predictions
from ser_hf.evaluation.run_outputs import RunError
from ser_hf.evaluation.runs_table import build_table, to_latex, to_markdown

LABELS = ["angry", "happy", "neutral", "sad"]


def rows_of(n: int, seed: int = 0, speakers: int = 12) -> datasets.Dataset:
    rng = np.random.default_rng(seed)
    return datasets.Dataset.from_dict({
        "label": rng.integers(0, len(LABELS), n).tolist(), "speaker": [f"c:{i % speakers}" for i in range(n)],
        "path": [f"/data/c/{i:04d}.wav" for i in range(n)], "content_hash": [f"h{i}" for i in range(n)]})


def write_run(out: Path, test: datasets.Dataset, accuracy: float, seed: int, model: str = "finetune tiny",
              corpora=("ravdess",), independent: bool = True, order=None) -> Path:
    """A finished single-split run folder: results.json and per-file predictions right ``accuracy`` of the time."""
    rng = np.random.default_rng(seed)
    y = np.asarray(test["label"])
    predicted = np.where(rng.random(len(y)) < accuracy, y, (y + 1 + rng.integers(0, 3, len(y))) % len(LABELS))
    probs = np.full((len(y), len(LABELS)), 0.1)
    probs[np.arange(len(y)), predicted] = 0.7
    if order is not None:  # the same files in another order
        test, probs = test.select(order), probs[order]
    save_predictions(out, {"model": probs}, test, LABELS)
    ci = {k: [accuracy - 0.05, accuracy + 0.05] for k in ("accuracy", "uar", "macro_f1", "weighted_f1")}
    (out / "results.json").write_text(json.dumps({
        "data": "real corpora", "corpora": list(corpora), "labels": LABELS, "split": "speaker:0.8,0.2",
        "speaker_independent": independent, "test": {k: accuracy for k in ci}, "run": {"model": model},
        "intervals": {"ci": ci, "unit": "speaker", "samples": 1000}}))
    return out


def test_compare_finds_a_planted_difference_and_not_a_null_one(tmp_path):
    test = rows_of(500)
    a = write_run(tmp_path / "a", test, 0.60, seed=1)
    better = write_run(tmp_path / "b", test, 0.80, seed=2, order=np.random.default_rng(0).permutation(500))
    result = compare_runs(str(a), str(better), samples=500)
    assert result["n"] == 500 and result["matched_by"] == "source path" and result["resampling"]["unit"] == "speaker"
    assert result["accuracy"]["difference"] > 0.1 and result["accuracy"]["ci"][0] > 0
    assert result["accuracy"]["p_value"] < 0.01 and result["mcnemar"]["p_value"] < 0.01
    same = write_run(tmp_path / "c", test, 0.60, seed=3)  # as good as A, its errors drawn independently
    null = compare_runs(str(a), str(same), samples=500)
    assert null["accuracy"]["ci"][0] < 0 < null["accuracy"]["ci"][1] and null["accuracy"]["p_value"] > 0.05


def test_compare_refuses_runs_tested_on_different_files_in_one_line(tmp_path, capsys):
    a = write_run(tmp_path / "a", rows_of(200), 0.6, seed=1)
    other = rows_of(200).map(lambda r, i: {"path": r["path"] if i else "/data/c/other.wav",
                                             "content_hash": r["content_hash"] if i else "zz"}, with_indices=True)
    b = write_run(tmp_path / "b", other, 0.6, seed=2)
    with pytest.raises(RunError, match="tested on different files"):
        compare_runs(str(a), str(b))
    assert cli_main(["compare", str(a), str(b)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ser-hf compare: the runs were tested on different files") and "\n" not in err
    # the same files under another root (a second copy of the corpus): paired by their audio instead
    moved = rows_of(200).map(lambda r: {"path": r["path"].replace("/data", "/copy")})
    c = write_run(tmp_path / "c", moved, 0.6, seed=3)
    assert compare_runs(str(a), str(c), samples=100)["matched_by"] == "audio hash"
    assert cli_main(["compare", str(a), str(c), "--samples", "100", "--json", str(tmp_path / "d.json")]) == 0
    assert "B - A" in capsys.readouterr().out and json.loads((tmp_path / "d.json").read_text())["n"] == 200


def test_table_of_corpora_by_models_in_markdown_csv_latex_and_a_heat_map(tmp_path):
    for corpus, seed in (("ravdess", 0), ("emodb", 1)):
        test = rows_of(100, seed)
        write_run(tmp_path / f"lr_{corpus}", test, 0.5 + seed / 10, seed, model="egemaps + logistic_regression",
                  corpora=[corpus])
        write_run(tmp_path / f"probe_{corpus}", test, 0.6, seed + 5, model="EmoBox head on HubertModel layer -1",
                  corpora=[corpus], independent=corpus == "ravdess")
    runs = sorted(str(p) for p in tmp_path.iterdir())
    table = build_table(runs, "accuracy")
    assert table["corpora"] == ["emodb", "ravdess"] and len(table["models"]) == 2
    markdown = to_markdown(table)
    assert "| emodb | 60.00 [55.00, 65.00]" in markdown and "NOT speaker-independent" in markdown
    assert "(1)" in markdown and "(2)" in markdown  # two protocols: every cell says which
    assert to_latex(table).count(r"\\") >= 3 and r"\caption{Accuracy (\%)" in to_latex(table)
    assert cli_main(["table", *runs, "--metric", "accuracy", "--out", str(tmp_path / "t"),
                     "--heatmap", str(tmp_path / "t.png")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "t.csv")))
    assert len(rows) == 4 and {r["ci_low"] for r in rows} >= {"0.550000"} and (tmp_path / "t.png").stat().st_size
    assert (tmp_path / "t.md").read_text() == markdown and (tmp_path / "t.tex").is_file()
    assert cli_main(["table", str(tmp_path / "nothing")]) == 2
