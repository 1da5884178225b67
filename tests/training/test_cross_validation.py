"""Benchmark-grade evaluation through ``train.py``: cross-validation, the per-file feature cache, the layer probe,
cross-corpus matrices and honest protocol reporting, on the synthetic corpus."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import numpy as np
import pytest

import train
from ser_hf.data.splits import leakage_report, make_splits
from ser_hf.recipe import RecipeError, load_recipe
from ser_hf.training.cross_validation import plan_folds

FAST = ["synthetic=true", "synthetic_size=tiny", "dataloader_num_workers=0", "logging_steps=5"]
EMBEDDINGS = ["--recipe", "seed000_emodb", *FAST, "extractors=[mfcc]", "classifiers=[logistic_regression,knn]"]


def speakers(n: int) -> list[str]:
    return [f"s{i}" for i in range(n) for _ in range(3)]


def test_fold_plans_and_impossible_requests():
    assert plan_folds("loso", speakers(3), 42).folds == 3
    assert plan_folds("kfold:5", speakers(8), 42).folds == 5
    auto = {n: plan_folds("auto", speakers(n), 42) for n in (1, 2, 3, 4, 6, 7, 12)}
    assert {n: (p.scheme, p.folds) for n, p in auto.items()} == {
        1: ("filekfold", 5), 2: ("loso", 2), 3: ("loso", 3), 4: ("loso", 4), 6: ("loso", 6), 7: ("kfold", 5),
        12: ("kfold", 5)}
    assert not auto[1].speaker_independent and auto[4].speaker_independent
    assert plan_folds("kfold:5", speakers(8), 42).split(4) == "kfold:5:4"
    assert plan_folds("loso", speakers(3), 42).split(1) == "loso:1"
    with pytest.raises(RecipeError, match="loso: the data has 1 speaker"):
        plan_folds("loso", speakers(1), 42)
    with pytest.raises(RecipeError, match="kfold:5: 5 speaker folds need at least 5 speakers, the data has 3"):
        plan_folds("kfold:5", speakers(3), 42)
    for bad in ("kfold:1", "kfold", "lofo", "kfold:x"):
        with pytest.raises(RecipeError, match="cross_validation"):
            load_recipe("quickstart", [f"cross_validation={bad}"])


def test_a_loso_run_is_not_flagged_speaker_dependent_by_its_validation_fold():
    rows = 24
    ds = datasets.Dataset.from_dict({
        "speaker": [f"s{i % 4}" for i in range(rows)], "label": [i % 3 for i in range(rows)],
        "content_hash": [str(i) for i in range(rows)], "sentence": [""] * rows, "corpus": ["c"] * rows})
    report = leakage_report(make_splits(ds, "loso:0:1"))
    assert report["speaker_independent"] and report["train_validation_shared_speakers"] == 0
    carved = make_splits(ds, "loso:0")
    inner = make_splits(carved["train"], "ratio:0.5,0.5")
    report = leakage_report(datasets.DatasetDict(train=inner["train"], validation=inner["test"], test=carved["test"]))
    assert report["speaker_independent"] and report["train_validation_shared_speakers"] > 0


def test_embeddings_loso_folds_pool_resume_and_reuse_the_feature_cache(tmp_path, monkeypatch):
    out = tmp_path / "cv"
    cv = train.main([*EMBEDDINGS, "cross_validation=loso", f"output_dir={out}"])
    saved = json.loads((out / "cv_results.json").read_text())
    assert saved["protocol"]["scheme"] == "loso" and saved["protocol"]["speaker_independent"]
    assert {r["name"] for r in saved["rows"]} == {"mfcc + logistic_regression", "mfcc + knn"}
    folds = saved["protocol"]["folds"]
    assert folds == 4  # the tiny synthetic EmoDB has four speakers
    tested = [f["test_speakers"] for f in saved["rows"][0]["folds"]]
    assert all(len(t) == 1 for t in tested) and len({s for t in tested for s in t}) == folds  # each speaker once
    for i in range(folds):
        leakage = json.loads((out / f"fold-{i:02d}" / "leakage.json").read_text())
        assert leakage["speaker_independent"] and leakage["pairs"]["train/test"]["shared_speakers"] == 0
        assert "validation" not in leakage["parts"]  # classic classifiers fit on every training speaker
    for row in saved["rows"]:
        weighted = sum(f["accuracy"] * f["n_test"] for f in row["folds"]) / sum(f["n_test"] for f in row["folds"])
        assert row["pooled"]["accuracy"] == pytest.approx(weighted)
        assert row["mean"]["accuracy"] == pytest.approx(np.mean([f["accuracy"] for f in row["folds"]]))
        assert row["std"]["accuracy"] == pytest.approx(np.std([f["accuracy"] for f in row["folds"]], ddof=1))
        assert set(row["folds"][0]) >= {"fold", "test_speakers", "n_test", "accuracy", "uar", "macro_f1",
                                        "weighted_f1"}
    assert cv["best"] in {r["name"] for r in saved["rows"]}
    for name in ("cv_results.md", "cv_folds.png", "confusion_matrix.png", "results.json"):
        assert (out / name).is_file(), name
    assert "± " in (out / "cv_results.md").read_text()
    results = json.loads((out / "results.json").read_text())
    assert results["cross_validation"]["folds"] == folds and results["speaker_independent"]

    # The card leads with mean +- std and names the protocol, in its text and its model-index.
    from ser_hf.publish.cards import render_card

    card = str(render_card(out, "me/cv"))
    assert "leave-one-speaker-out (4 folds)" in card and "(mean over 4 folds)" in card and "std:" in card

    # A relaunch after losing a fold reruns that fold only, and extracts nothing: the cache is per file.
    kept = {i: (out / f"fold-{i:02d}" / "results.json").stat().st_mtime_ns for i in range(folds) if i != 2}
    for name in ("results.json", "predictions.npz"):
        (out / "fold-02" / name).unlink()

    def no_extraction(self, waves):
        raise AssertionError("extracted again: the per-file cache missed")

    monkeypatch.setattr("ser_hf.features.handcrafted.MFCCExtractor.embed", no_extraction)
    again = train.main([*EMBEDDINGS, "cross_validation=loso", f"output_dir={out}"])
    assert {i: (out / f"fold-{i:02d}" / "results.json").stat().st_mtime_ns for i in kept} == kept
    assert (out / "fold-02" / "results.json").is_file()
    assert [r["pooled"] for r in again["rows"]] == [r["pooled"] for r in saved["rows"]]
    # Another protocol over the same files (a single 80/20 split) reuses the same cache too.
    train.main([*EMBEDDINGS, f"output_dir={tmp_path / 'single'}"])


def test_trainer_method_kfold_validates_on_training_speakers_only(tmp_path):
    out = tmp_path / "kfold"
    train.main(["--recipe", "quickstart", "corpora=[emodb]", *FAST, "max_steps=2", "per_device_train_batch_size=8", "max_train_seconds=2.0",
                "cross_validation=kfold:2", f"output_dir={out}"])
    saved = json.loads((out / "cv_results.json").read_text())
    assert saved["protocol"]["folds"] == 2 and saved["rows"][0]["name"] == "model"
    for i in range(2):
        leakage = json.loads((out / f"fold-{i:02d}" / "leakage.json").read_text())
        # validation is carved from the fold's training files: no test speaker in it, nor in training
        assert leakage["speaker_independent"], leakage["pairs"]
        assert leakage["pairs"]["train/test"]["shared_speakers"] == leakage["pairs"]["validation/test"]["shared_speakers"] == 0
        assert "held out for early stopping" in (out / f"fold-{i:02d}" / "results.md").read_text()
        assert (out / f"fold-{i:02d}" / "model.safetensors").is_file()
    tested = [s for f in saved["rows"][0]["folds"] for s in f["test_speakers"]]
    assert len(tested) == len(set(tested)) == 4
    # what a fold reports is what its saved model gives through pipeline(), file by file
    from transformers import pipeline

    from ser_hf.data.audio import decode_wav_bytes
    from ser_hf.training import model_view, prepare_data

    fold = load_recipe("quickstart", ["corpora=[emodb]", *FAST, "split=kfold:2:0", f"output_dir={out / 'fold-00'}"])
    test = model_view(prepare_data(fold).splits["test"])
    saved_fold = np.load(out / "fold-00" / "predictions.npz")
    classify = pipeline("audio-classification", model=str(out / "fold-00"), device=-1)
    names = saved_fold["label_names"].tolist()
    assert len(test) == len(saved_fold["labels"])
    for i, row in enumerate(test):
        scores = {s["label"]: s["score"] for s in classify({"raw": decode_wav_bytes(row["audio"]["bytes"])[0],
                                                            "sampling_rate": 16000}, top_k=None)}
        assert [scores[n] for n in names] == pytest.approx(saved_fold["probabilities/model"][i].tolist(), abs=1e-5), i


def test_probe_learns_layer_weights_per_fold_from_one_extraction(tmp_path, monkeypatch):
    out = tmp_path / "probe"
    train.main(["--recipe", "quickstart", "method=probe", "corpora=[emodb]", *FAST, "probe_epochs=50",
                "cross_validation=kfold:2", f"output_dir={out}"])
    for i in range(2):
        results = json.loads((out / f"fold-{i:02d}" / "results.json").read_text())
        weights = results["layer_weights"]
        assert len(weights) == 3 and sum(weights) == pytest.approx(1.0)  # tiny HuBERT: CNN output + 2 layers
        assert (out / f"fold-{i:02d}" / "probe.safetensors").is_file()
    assert json.loads((out / "cv_results.json").read_text())["rows"][0]["name"] == "probe"
    # a single run on the same files finds every layer's embedding in the cache
    from ser_hf.features.encoder_layers import HFEncoderExtractor

    monkeypatch.setattr(HFEncoderExtractor, "embed", lambda self, waves: (_ for _ in ()).throw(AssertionError("cache")))
    single = train.main(["--recipe", "quickstart", "method=probe", "corpora=[emodb]", *FAST, "probe_epochs=5",
                         f"output_dir={tmp_path / 'single'}", "split=seed000"])
    assert len(single["layer_weights"]) == 3
    assert (tmp_path / "single" / "layer_weights.png").is_file()


@pytest.mark.slow
def test_cross_corpus_writes_one_named_matrix_per_classifier(tmp_path):
    out = tmp_path / "xc"
    result = train.main([*EMBEDDINGS, "corpora=[ravdess,subesco]", "label_set=realtime4", "cross_corpus=true",
                         "cross_validation=kfold:2", f"output_dir={out}"])
    saved = json.loads((out / "cross_corpus.json").read_text())
    groups = ["ravdess", "subesco"]
    assert saved["train"] == saved["test"] == groups and result["label_names"] == saved["label_names"]
    assert saved["protocol"]["diagonal_statistic"] == "mean over folds"
    assert [m["model"] for m in saved["models"]] == ["mfcc + logistic_regression", "mfcc + knn"]
    assert [(m["extractor"], m["classifier"]) for m in saved["models"]] == [("mfcc", "logistic_regression"),
                                                                            ("mfcc", "knn")]
    off = json.loads((out / "train-ravdess__test-subesco" / "results.json").read_text())
    assert off["corpora"] == groups and all(s.startswith("subesco:") for s in off["test_speakers"])
    # Every model's cells are that model's rows in the cell folders: the diagonal its cv_results.json row (mean
    # over folds, with std and pooled beside it), off the diagonal its file-level row of the cell's table.
    for model in saved["models"]:
        for i, train_group in enumerate(groups):
            for j, test_group in enumerate(groups):
                cell = out / saved["cells"][i][j]
                assert cell.name == f"train-{train_group}__test-{test_group}"
                if i == j:
                    cv = json.loads((cell / "cv_results.json").read_text())
                    row = next(r for r in cv["rows"] if r["name"] == model["cell_row"])
                    expected = row["mean"]
                    assert model["diagonal"]["pooled"]["uar"][i] == pytest.approx(row["pooled"]["uar"])
                    assert model["diagonal"]["std"]["accuracy"][i] == pytest.approx(row["std"]["accuracy"])
                else:
                    table = json.loads((cell / "results.json").read_text())["baselines"]
                    expected = next(r for r in table if r["level"] == "file" and
                                    (r["embedding"], r["classifier"]) == (model["extractor"], model["classifier"]))
                for k in ("accuracy", "uar", "macro_f1", "weighted_f1"):
                    assert model["metrics"][k][i][j] == pytest.approx(expected[k]), (model["model"], i, j, k)
    assert saved["models"][0]["metrics"] != saved["models"][1]["metrics"]  # two matrices, not one copied
    for k in ("accuracy", "uar"):
        for i in range(2):
            for j in range(2):
                best = saved["best_per_cell"][k][i][j]
                scores = {m["model"]: m["metrics"][k][i][j] for m in saved["models"]}
                assert best["value"] == max(scores.values()) == scores[best["model"]]
    text = (out / "cross_corpus.md").read_text()
    assert "## Best model per cell" in text and "## mfcc + logistic_regression" in text and "## mfcc + knn" in text
    assert "**mean over folds**" in text and "pooled over all folds' test predictions" in text
    for name in ("cross_corpus_accuracy.png", "cross_corpus_uar.png"):
        assert (out / name).is_file()

    # A cell pushed on its own: its card shows its model's matrices and names the diagonal's statistic.
    from ser_hf.publish.hub import stage_run

    stage_run(out / "train-ravdess__test-subesco", "me/xc", tmp_path / "staged")
    card = (tmp_path / "staged" / "README.md").read_text()
    best = off["best"]["embedding"] + " + " + off["best"]["classifier"]
    assert "*trained on ravdess, tested on subesco*" in card and f"{best} in every cell" in card
    assert "**mean over folds** ± std over folds" in card and "every file of subesco is the test part" in card


def test_heat_map_titles_and_labels_fit_the_figure_at_any_name_length():
    from ser_hf.evaluation.plots import matrix_figure

    groups = ["ravdess", "a_corpus_whose_name_goes_on_and_on_" * 3, "emodb"]
    title = ("UAR (%) on 6 shared classes (angry, disgust, fear, happy, neutral, sad); rows: training corpus, "
             "columns: test corpus; diagonal: in-corpus, cross_validation=loso, mean over folds")
    values = np.linspace(0, 1, 9).reshape(3, 3)
    for count in (1, 4):
        models = [(f"hf:facebook/hubert-base-ls960 + logistic_regression ({i})", values) for i in range(count)]
        figure = matrix_figure(models, groups, groups, title=title)
        figure.canvas.draw()
        renderer = figure.canvas.get_renderer()
        frame = figure.bbox
        texts = [*figure.texts, *(ax.title for ax in figure.axes)]
        texts += [label for ax in figure.axes for label in (*ax.get_xticklabels(), *ax.get_yticklabels())]
        assert figure.texts[0].get_text().replace("\n", " ") == title
        if count == 1:  # wider than one panel's figure: wrapped, not cut at both ends
            assert "\n" in figure.texts[0].get_text()
        for text in texts:
            if text.get_text():
                box = text.get_window_extent(renderer)
                assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, \
                    (text.get_text(), box, frame)


def test_cross_corpus_refuses_groups_sharing_fewer_than_two_classes(monkeypatch):
    from ser_hf.training import cross_corpus

    def fake(recipe, fold):
        classes = {"ravdess": ["angry", "sad"], "subesco": ["sad", "happy"]}[fold.corpora[0]]
        names = ["angry", "happy", "sad"]
        ds = datasets.Dataset.from_dict({"label": [names.index(c) for c in classes]},
                                        features=datasets.Features({"label": datasets.ClassLabel(names=names)}))
        return ds, []

    monkeypatch.setattr("ser_hf.training.data.load_recipe_dataset", fake)
    recipe = load_recipe("quickstart", ["corpora=[ravdess,subesco]", "cross_corpus=true"])
    with pytest.raises(RecipeError, match=r"share 1 class\(es\) \['sad'\]"):
        cross_corpus.shared_classes(recipe, ["ravdess", "subesco"])
    with pytest.raises(RecipeError, match="cross_corpus needs at least two"):
        load_recipe("quickstart", ["corpora=[ravdess]", "cross_corpus=true"])
    with pytest.raises(RecipeError, match="push_to_hub: a cross-corpus run has no single model"):
        train.main(["--recipe", "quickstart", "corpora=[ravdess,subesco]", "cross_corpus=true", "push_to_hub=true",
                    "hub_model_id=me/xc"])


def test_an_80_20_trainer_run_states_the_validation_it_carved(tmp_path):
    out = tmp_path / "run"
    train.main(["--recipe", "quickstart", "corpora=[emodb]", *FAST, "max_steps=1", "split=seed000",
                f"output_dir={out}"])
    text = (out / "results.md").read_text()
    assert "Protocol: split `seed000`" in text and "test speakers:" in text
    assert "were held out for early stopping" in text
