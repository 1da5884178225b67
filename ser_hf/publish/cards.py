"""Model cards for training runs: ``ser_hf/publish/model_card.md`` (package data) filled through ``huggingface_hub.ModelCard``.

``render_card(run_dir, repo_id)`` reads what a run left (``config.json``, ``results.json``,
``recipe.yaml``, ``leakage.json``, ``data_report.json``) and returns a ``ModelCard`` whose
``model-index`` has one result per corpus and split (accuracy, weighted F1, macro F1, UAR), so the
Hub and ``huggingface_hub.metadata_load`` read the scores back. A cell of a cross-corpus run
(``OUTPUT_DIR/train-A__test-B``) also shows its model's cross-corpus matrices from ``../cross_corpus.json``,
the diagonal's statistic named.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ser_hf.data.corpora import CORPORA
from ser_hf.data.labels import CANONICAL, get_label_set
from ser_hf.registry import METRICS

TEMPLATE = Path(str(resources.files("ser_hf.publish") / "model_card.md"))  # package data: cards render without a clone

SEED_CITATIONS = [
    "Islam, Hossain, Ahamed, Ifty, Samin, Sadhin. Bilingual Speech Emotion Recognition: Transfer Learning and "
    "Real-Time Applications (seed 003: HuBERT fine-tuning, augmentation, real-time 2-s segments).",
    "Korkmaz (2025). Performance Analysis of YAMNet and VGGish Networks for Emotion Recognition from Audio Signals. "
    "European Journal of Technique, doi:10.36222/ejt.1761640 (seed 000).",
    "Beatrice, Pranathi, Ragul. Emotion Recognition from Speech Using Transfer Learning: A Deep Learning Approach (seed 001).",
    "Chakhtouna, Sekkate, Adib. Speech Emotion Recognition using pre-trained and fine-tuned transfer learning approaches (seed 002).",
    "Bonnefoy, Illouz-Laurent. Recognition of Emotions in Speech using Neural Networks (seed 004).",
]

# What each corpus licence implies for the model trained on it.
NON_COMMERCIAL = {"ravdess", "tess", "savee", "esd", "demos"}
SPLIT_DESCRIPTIONS = {
    "seed003": "70/10/20 train/validation/test, stratified by label (seed 003)",
    "seed000": "80/20 train/test, stratified by label (seed 000); validation taken from train",
    "seed001": "70/15/15 train/validation/test, stratified by label (seed 001)",
    "seed002": "70/30 train/test, stratified by label (seed 002); validation taken from train",
}
SYNTHETIC_DATASET = "ser-hf/synthetic-espeak"


def _read_json(path: Path, default):
    return json.loads(path.read_text()) if path.is_file() else default


def _split_description(split: str) -> str:
    if split in SPLIT_DESCRIPTIONS:
        return SPLIT_DESCRIPTIONS[split]
    kind, _, rest = split.partition(":")
    return {
        "ratio": f"stratified random split {rest} (speaker-dependent)",
        "speaker": f"speaker-independent split {rest} (speakers dealt per corpus and gender)",
        "kfold": f"speaker-independent k-fold, fold spec {rest}",
        "loso": f"leave-one-speaker-out, fold spec {rest}",
        "emobox": f"EmoBox's published fold_{int(rest) + 1 if rest.isdigit() else rest} (emo-box/EmoBox)",
        "corpus": f"cross-corpus: every file of {rest} is the test part, the other corpora train",
    }.get(kind, split)


def _interval_cell(intervals: dict | None, key: str) -> str:
    """``[low, high] %`` of one metric, or ``n/a`` (a run written before intervals were reported)."""
    if not intervals or key not in intervals:
        return "n/a"
    low, high = intervals[key]
    return f"[{100 * low:.2f}, {100 * high:.2f}] %"


def _label_rows(label_set: str, corpora: list[str]) -> tuple[list[dict], str]:
    ls = get_label_set(label_set)
    tables = {name: getattr(__import__(f"ser_hf.data.corpora.{name}", fromlist=["EMOTIONS"]), "EMOTIONS", {})
              for name in corpora if name in CORPORA}  # each corpus's code -> canonical (own data: own_source_rows)
    rows = []
    for cls in ls.classes:
        codes = []
        for name, table in tables.items():
            mine = [code for code, emotion in table.items() if ls.map_row(emotion, name, code) == cls]
            if mine:
                codes.append(f"{name}: {', '.join(mine)}")
        if codes:
            rows.append({"cls": cls, "codes": "; ".join(codes)})
    kept = {emotion for name, table in tables.items() for code, emotion in table.items()
            if ls.map_row(emotion, name, code) is not None}  # JL's secondary emotions: "other" kept by code
    dropped = ", ".join(e for e in CANONICAL if ls.map(e) is None and e not in kept)
    return rows, dropped


def own_source_rows(reports: dict[str, dict], recipe: dict) -> list[dict]:
    """One row per own source of a run (``data_report.json``): its name, spelling, size, classes, speakers, licence."""
    rows = []
    for name, r in reports.items():
        if not r.get("source"):
            continue
        licence = r.get("licence") or recipe.get("licences", {}).get(name) or ""
        rows.append({
            "name": name, "source": r["source"], "files": r.get("kept", "?"),
            "classes": ", ".join(f"{c} {n}" for c, n in r.get("classes", {}).items()) or "see results.json",
            "speakers": r.get("speakers") or "unknown (no speaker column)",
            "licence": licence or "not stated", "licence_stated": bool(licence),
        })
    return rows


def _base_model(recipe: dict) -> str | None:
    """The Hub model this one starts from, where there is one (not for tiny, from-scratch or embedding runs)."""
    if recipe.get("tiny_model"):
        return None
    method = recipe.get("method", "finetune")
    if method == "finetune":
        return recipe.get("model_name_or_path")
    backbone = str(recipe.get("backbone") or "")
    if method == "image_cnn" and backbone.lower() in ("vgg16", "vgg19"):
        weights = str(recipe.get("backbone_weights") or f"timm/{backbone.lower()}.tv_in1k")
        return weights if "/" in weights and not Path(weights).suffix else None
    return backbone if method == "image_cnn" and "/" in backbone else None


def _model_text(recipe: dict) -> str:
    method = recipe.get("method", "finetune")
    tiny = "a tiny randomly initialised " if recipe.get("tiny_model") else ""
    if method == "finetune":
        return f"{tiny}{recipe.get('tiny_model')} encoder" if tiny else f"`{recipe.get('model_name_or_path')}`"
    if method == "image_cnn":
        return (f"{tiny or 'an ImageNet '}`{recipe.get('backbone')}` CNN on {recipe.get('spectrogram', 'mel')}-spectrogram images "
                f"(freeze `{recipe.get('freeze')}`)")
    if method == "cnn_blstm":
        return f"{tiny or 'a '}{recipe.get('cnn_blstm_variant', 'cnn_blstm_attention')} network (seed 004) trained from scratch"
    if method == "patch_finetune":
        return f"{tiny or ''}{recipe.get('backbone')} with a dense head ({'frozen' if recipe.get('freeze') == 'all' else 'fine-tuned'} backbone)"
    return "frozen audio embeddings with a classical classifier"


def _training_summary(recipe: dict, results: dict) -> str:
    if recipe.get("method") == "embeddings":
        best = results.get("best", {})
        return (f"Embeddings {', '.join(recipe.get('extractors', []))} ({recipe.get('pooling', 'mean')} pooling"
                f"{', training frames balanced to the harmonic mean' if recipe.get('balance') == 'harmonic' else ''}) x classifiers "
                f"{', '.join(recipe.get('classifiers', []))}, each standardised, fitted on the training part; best: "
                f"{best.get('embedding')} + {best.get('classifier')} by {best.get('selected_by')}.")
    encoder = ""
    if recipe.get("method", "finetune") == "finetune":
        encoder = f", feature encoder {'frozen' if recipe.get('freeze_feature_encoder') else 'trained'}"
    elif recipe.get("freeze"):
        encoder = f", backbone freeze `{recipe.get('freeze')}`"
    return (
        f"`transformers.Trainer`, {recipe.get('num_train_epochs')} epochs (max_steps {recipe.get('max_steps')}), "
        f"learning rate {recipe.get('learning_rate')}, batch {recipe.get('per_device_train_batch_size')} per device "
        f"× {results.get('run', {}).get('world_size', results.get('world_size', 1))} process(es){encoder}, "
        f"augmentation {recipe.get('augment_preset') or 'none'} (×{recipe.get('augment_offline_factor', 1)} offline), "
        f"balancing {recipe.get('balance', 'none')}, best checkpoint by {recipe.get('metric_for_best_model', 'uar')}."
    )


def _cross_corpus(run_dir: Path, results: dict) -> dict | None:
    """This model's matrices when ``run_dir`` is a cell of a cross-corpus run (``../cross_corpus.json`` names it)."""
    xc = _read_json(run_dir.parent / "cross_corpus.json", {})
    where = [(i, j) for i, row in enumerate(xc.get("cells", [])) for j, name in enumerate(row) if name == run_dir.name]
    if not where or not xc.get("models"):
        return None
    best = results.get("best", {})
    if best.get("embedding"):  # the card's model is the cell's best row
        row = (best["embedding"], best.get("classifier"))
        mine = [m for m in xc["models"] if (m.get("extractor"), m.get("classifier")) == row]
    else:
        mine = xc["models"] if len(xc["models"]) == 1 else []
    if not mine:
        return None
    model, (i, j), groups = mine[0], where[0], xc["test"]
    tables = []
    for key, name in (("uar", "UAR"), ("accuracy", "accuracy")):
        rows = []
        for r, train in enumerate(xc["train"]):
            cells = [f"{100 * v:.2f}" for v in model["metrics"][key][r]]
            if "diagonal" in model:
                cells[r] += f" ± {100 * model['diagonal']['std'][key][r]:.2f}"
            rows.append({"train": train, "cells": cells})
        tables.append({"metric": name, "rows": rows})
    return {"train": xc["train"][i], "test": groups[j], "groups": groups, "model": model["model"],
            "protocol": xc["protocol"], "classes": xc["label_names"], "tables": tables,
            "others": len(xc["models"]) - 1}


def _title(display: str) -> str:
    return display[:1].upper() + display[1:]


def card_data(run_dir: Path, repo_id: str) -> tuple[ModelCardData, dict]:
    config = _read_json(run_dir / "config.json", {})
    results = _read_json(run_dir / "results.json", None)
    if results is None:
        raise FileNotFoundError(f"{run_dir}/results.json not found: is {run_dir} the output folder of train.py?")
    recipe = yaml.safe_load((run_dir / "recipe.yaml").read_text()) if (run_dir / "recipe.yaml").is_file() else {}
    metrics = results.get("test", results)
    corpora = results.get("corpora") or []
    synthetic = "synthetic" in str(results.get("data", "")) or bool(recipe.get("synthetic"))
    classes = results.get("labels") or [config["id2label"][str(i)] for i in range(len(config.get("id2label", {})))]
    dataset_of = {c: (SYNTHETIC_DATASET if synthetic else c) for c in corpora}

    eval_results = []
    cv = results.get("cross_validation")
    split_name = f"test (pooled over {cv['folds']} folds)" if cv else "test"
    if cv:  # the headline of a cross-validated run: mean +- std over folds, protocol named
        for key, metric in METRICS.items():
            name = _title(metric.display)
            eval_results.append(EvalResult(
                task_type="audio-classification", task_name="Speech emotion recognition",
                dataset_type=SYNTHETIC_DATASET if synthetic else "+".join(corpora),
                dataset_name=f"{'+'.join(corpora)} ({'synthetic' if synthetic else 'real'})",
                dataset_split=f"cross-validation: {cv['protocol']['description']}",
                metric_type=metric.module,
                metric_name=f"{name} (mean over {cv['folds']} folds)", metric_value=round(float(cv["mean"][key]), 4),
                metric_config=metric.arguments.get("average"),
                metric_args={"std": round(float(cv["std"][key]), 4), "folds": cv["folds"],
                             "protocol": cv["protocol"]["description"],
                             **({"ci_95": [round(float(v), 4) for v in cv["ci"][key]]} if cv.get("ci") else {})}))
    per_corpus = metrics.get("per_group", {}).get("corpus", {})
    overall = "+".join(corpora) or "test"
    test_ci = (results.get("intervals") or {}).get("ci", {})
    # The whole test split first (the card's headline numbers), then each corpus on its own.
    groups = {overall: metrics, **{c: v for c, v in per_corpus.items() if c != overall}}
    for corpus, scores in groups.items():
        for key, metric in METRICS.items():
            if scores.get(key) is None:
                continue
            eval_results.append(
                EvalResult(
                    task_type="audio-classification",
                    task_name="Speech emotion recognition",
                    dataset_type=dataset_of.get(corpus, SYNTHETIC_DATASET if synthetic else corpus),
                    dataset_name=(f"{corpus} ({'synthetic' if synthetic else 'real'})"
                                  + (", whole test split" if corpus == overall and per_corpus else "")),
                    dataset_config=corpus if synthetic else None,
                    dataset_split=split_name,
                    metric_type=metric.module,
                    metric_name=_title(metric.display),
                    metric_value=round(float(scores[key]), 4),
                    metric_config=metric.arguments.get("average"),
                    metric_args=({"ci_95": [round(float(v), 4) for v in test_ci[key]],
                                  "ci_resampled": results["intervals"]["unit"] + "s"}
                                 if corpus == overall and key in test_ci else None),
                )
            )
    languages = sorted({CORPORA[c].language.split("+")[0] for c in corpora if c in CORPORA} | ({"zh"} if "esd" in corpora else set()))
    non_commercial = sorted(set(corpora) & NON_COMMERCIAL) if not synthetic else []
    data = ModelCardData(
        model_name=repo_id.split("/")[-1],
        language=languages or None,
        license="other" if non_commercial else "apache-2.0",
        license_name="training-corpora-terms" if non_commercial else None,
        license_link="LICENSE_NOTES.md" if non_commercial else None,
        library_name="transformers",
        pipeline_tag="audio-classification",
        tags=["audio-classification", "speech-emotion-recognition", "ser-hf"] + (["synthetic-data"] if synthetic else []),
        base_model=_base_model(recipe),
        metrics=["accuracy", "f1", "uar"],
        eval_results=eval_results,
    )
    context = dict(results=results, metrics=metrics, recipe=recipe,
                   metric_names=[(key, m.display) for key, m in METRICS.items()], classes=classes, synthetic=synthetic, corpora=corpora, non_commercial=non_commercial)
    return data, context


def render_card(run_dir: str | Path, repo_id: str = "ser-hf/model", template: str | Path = TEMPLATE,
                revision: str | None = None, run_revision: str | None = None) -> ModelCard:
    """The card of ``run_dir``. ``revision``: the branch the loading line must name (None: the model is on
    ``main``, where ``pipeline(model=repo_id)`` finds it); ``run_revision``: this run's own branch, shown as the pin."""
    run_dir = Path(run_dir)
    data, ctx = card_data(run_dir, repo_id)
    results, metrics, recipe = ctx["results"], ctx["metrics"], ctx["recipe"]
    leakage = _read_json(run_dir / "leakage.json", results.get("leakage", {}))
    reports = {r["corpus"]: r for r in _read_json(run_dir / "data_report.json", [])}
    label_set = recipe.get("label_set", results.get("label_set", "seven"))
    label_rows, dropped = _label_rows(label_set, ctx["corpora"])
    split_sizes = results.get("split_sizes", {})
    own_sources = own_source_rows(reports, recipe)
    corpora_rows = []
    for name in (c for c in ctx["corpora"] if c not in {o["name"] for o in own_sources}):
        info = CORPORA.get(name)
        kept = reports.get(name, {}).get("kept")
        corpora_rows.append({
            "name": name + (" (synthetic stand-in)" if ctx["synthetic"] else ""),
            "language": info.language if info else "?",
            "split_counts": f"{kept} prepared" if kept is not None else "see results.json",
            "licence": "synthetic espeak-ng speech, Apache-2.0 (ser-hf)" if ctx["synthetic"] else (info.licence if info else "?"),
        })
    if split_sizes:
        corpora_rows.append({"name": "**all**", "language": "", "split_counts": " / ".join(str(split_sizes.get(k, 0)) for k in ("train", "validation", "test")), "licence": ""})
    if ctx["synthetic"]:
        licence_text = "The training data is synthetic (generated by ser-hf with espeak-ng); no corpus licence applies."
    elif ctx["non_commercial"]:
        licence_text = (
            f"**Licence terms bind this model.** {', '.join(ctx['non_commercial'])} are licensed for non-commercial or research "
            "use only (RAVDESS CC BY-NC-SA 4.0, TESS CC BY-NC-ND 4.0, SAVEE, ESD and DEMoS research-only): this model may not be used "
            "commercially, and share-alike terms apply to derivatives. Check each corpus licence before any use."
        )
    else:
        licence_text = "Check each corpus licence above before use; attribution is required by all of them."
    per_group = [(g, sorted(rows.items())) for g, rows in metrics.get("per_group", {}).items()]
    confusion_rows = list(zip(ctx["classes"], metrics.get("confusion_matrix", [])))
    top = "; ".join(f"{c['true']} → {c['predicted']} ({c['count']})" for c in metrics.get("top_confusions", [])[:5])
    long_clip = results.get("long_clip") if results.get("long_clip", {}).get("accuracy") is not None else None
    training_summary = _training_summary(recipe, results)
    best = results.get("best", {})
    citations = [getattr(CORPORA[c], "citation", "") for c in ctx["corpora"] if c in CORPORA and not ctx["synthetic"]]
    return ModelCard.from_template(
        data,
        template_path=str(template),
        model_name=repo_id.split("/")[-1],
        repo_id=repo_id,
        revision=revision,
        run_revision=run_revision if run_revision != revision else None,
        base_model_text=_model_text(recipe),
        method=recipe.get("method", "finetune"),
        results=results,  # the template reads results.run (main's 177ddaf left it unpassed)
        metric_names=ctx["metric_names"],
        baselines=results.get("baselines", []),
        best_embedding=best.get("embedding"),
        best_classifier_file=Path(best.get("classifier_path") or "classifier.skops").name,
        selected_by=best.get("selected_by"),
        classes=ctx["classes"],
        synthetic=ctx["synthetic"],
        label_set=label_set,
        label_set_description=get_label_set(label_set).description,
        label_rows=label_rows,
        dropped=dropped,
        corpora=corpora_rows,
        licence_text=licence_text,
        trim_db=recipe.get("trim_db", 25.0),
        peak_normalize=recipe.get("peak_normalize"),
        fixed_seconds=recipe.get("fixed_seconds"),
        split=recipe.get("split", results.get("split", "")),
        split_seed=recipe.get("split_seed", ""),
        split_description=_split_description(recipe.get("split", results.get("split", ""))),
        speaker_independent=leakage.get("speaker_independent", False),
        leakage_pairs=sorted(leakage.get("pairs", {}).items()),
        leakage_warnings=leakage.get("warnings", []),
        n_test=metrics.get("n", split_sizes.get("test", "")),
        metrics=metrics,
        per_group=per_group,
        per_class=list(metrics.get("per_class", {}).items()),
        confusion_rows=confusion_rows,
        top_confusions=top,
        long_clip=long_clip,
        training_summary=training_summary,
        recipe_yaml=yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True).strip(),
        cross_validation=results.get("cross_validation"),
        intervals=results.get("intervals") or {},
        calibration=results.get("calibration"),
        interval=_interval_cell,
        cross_corpus=_cross_corpus(run_dir, results),
        citations=SEED_CITATIONS,
        corpus_citations=[c for c in citations if c],
        own_sources=own_sources,
        own_unstated=[o["name"] for o in own_sources if not o["licence_stated"]],
        speakers_unknown=results.get("speakers_unknown", []),
    )
