"""Time to accuracy: ser-hf's ``train.py`` against the stock Hugging Face recipe on the same data
and the same initial weights, several seeds, runs alternated, both scored as a user gets them.

    python benchmarks/time_to_accuracy.py --json tta.json                 # 3 seeds, 3 epochs, fp32 and bf16 rows
    python benchmarks/time_to_accuracy.py --serhf-epochs 4 --variant "5 epochs=num_train_epochs=5"  # README table
    python benchmarks/time_to_accuracy.py --seeds 1 --variant grouped=group_by_length=true
    python benchmarks/time_to_accuracy.py --precisions fp32               # only the float32 pair

**Scoring.** Each tool's saved model folder is scored through ``pipeline("audio-classification", model=FOLDER)``,
one test file (path) at a time, as the Space, the Hub widget and any user run it: that is the accuracy and UAR
the tables compare. Each tool's own report (ser-hf's ``results.json``; the stock recipe's ``trainer.predict`` on
padded batches) is printed beside it, so a gap between what a tool reports and what it delivers shows.

**Precision.** ``--precisions fp32 bf16``: a float32 pair (ser-hf ``bf16=false``, the stock recipe as is) and a
bf16 pair (ser-hf's default ``bf16: auto``, the stock recipe with ``--bf16``), on a CPU with bf16 units; a CPU
without them runs only the float32 pair.

Data: the quickstart's synthetic corpus, prepared once by ser-hf and exported as an ``audiofolder``
(``split/label/N.wav``, the same 16-kHz WAVs), which the stock recipe
(``benchmarks/stock_audio_classification.py``) reads as a user of transformers' example would.
Model: the quickstart's tiny HuBERT, initialised once per seed and saved; both tools start from that
folder (the stock recipe numbers the labels alphabetically, so the rows of the random head meet other
classes: same weights, another assignment). Hyper-parameters: the quickstart's (learning rate,
warm-up, batch 16, CNN trained), ``--epochs`` for the stock recipe, which keeps its own default crop
(20 s: none on these clips) unless ``--stock-with-crop`` adds a run with ser-hf's. ser-hf runs with its
defaults but the precision of its pair (each row names its precision).

Each run is a separate process; wall time and CPU time (user + system of the process and its
children) cover the whole command, start-up and the tool's own test prediction included (the pipeline
scoring afterwards is not). ser-hf runs are given ``--serhf-epochs`` (default: the same as the stock recipe);
the question the benchmark answers is whether ser-hf's default reaches the stock recipe's test accuracy and
UAR through the pipeline (mean over seeds) in at most half its wall and CPU time, in each precision.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def export_audiofolder(data, root: Path) -> dict[str, int]:
    """Write each split's 16-kHz WAV bytes as ``root/split/label/N.wav``."""
    from ser_hf.training.data import model_view  # the WAV bytes as stored, undecoded

    sizes = {}
    for split, ds in data.splits.items():
        for i, row in enumerate(model_view(ds)):
            folder = root / split / data.label_names[row["label"]]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{i:05d}.wav").write_bytes(row["audio"]["bytes"])
        sizes[split] = len(ds)
    return sizes


def save_initial_model(recipe, label_names: list[str], seed: int, folder: Path) -> None:
    from transformers import set_seed

    from ser_hf.models import build_recipe_model

    set_seed(seed)
    model, extractor = build_recipe_model(recipe, label_names)
    model.save_pretrained(folder)
    extractor.save_pretrained(folder)


def pipeline_scores(model_dir: Path, test_root: Path) -> dict:
    """Accuracy and UAR of ``pipeline("audio-classification", model=model_dir)`` over ``test_root/label/*.wav``,
    one file path at a time, as a user runs a saved model."""
    import numpy as np
    from transformers import pipeline

    classify = pipeline("audio-classification", model=str(model_dir), device=-1)
    files = sorted(test_root.glob("*/*.wav"))
    truth = np.array([f.parent.name for f in files])
    predicted = np.array([classify(str(f), top_k=1)[0]["label"] for f in files])
    recalls = [float(np.mean(predicted[truth == c] == c)) for c in np.unique(truth)]
    return {"accuracy": float(np.mean(predicted == truth)), "uar": float(np.mean(recalls)), "n": len(files)}


def timed(command: list[str], log: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system, children included) and the exit status of ``command``."""
    started = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status)


def run_stock(work: Path, init: Path, seed: int, epochs: float, recipe, crop: float | None = None,
              bf16: bool = False) -> dict:
    """The stock recipe; ``crop`` gives it ser-hf's training crop (its own default, 20 s, crops nothing here),
    ``bf16`` its ``--bf16`` flag (CPU autocast)."""
    name = f"stock-seed{seed}" + (f"-crop{crop:g}" if crop else "") + ("-bf16" if bf16 else "")
    out = work / name
    shutil.rmtree(out, ignore_errors=True)
    result_file = work / f"{name}.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "stock_audio_classification.py"),
               "--data-dir", str(work / "audiofolder"), "--model", str(init), "--output-dir", str(out),
               "--epochs", str(epochs), "--learning-rate", str(recipe.training.learning_rate),
               "--warmup-ratio", str(recipe.training.warmup_steps), "--batch-size", str(recipe.training.per_device_train_batch_size),
               "--eval-batch-size", str(recipe.training.per_device_eval_batch_size),
               "--freeze-feature-encoder", str(recipe.model.freeze_feature_encoder).lower(), "--seed", str(seed),
               "--json", str(result_file), *(["--max-length-seconds", str(crop)] if crop else []),
               *(["--bf16"] if bf16 else [])]
    wall, cpu, rc = timed(command, work / f"{name}.log")
    if rc:
        raise RuntimeError(f"the stock recipe failed (exit {rc}); see {work / f'{name}.log'}")
    r = json.loads(result_file.read_text())
    scores = pipeline_scores(out, work / "audiofolder" / "test")
    shutil.rmtree(out, ignore_errors=True)
    tool = "stock HF recipe" + (f", {crop:g}-s crops" if crop else "") + (", bf16" if bf16 else ", fp32")
    return {"tool": tool, "seed": seed, "epochs": epochs, "accuracy": scores["accuracy"], "uar": scores["uar"],
            "reported_accuracy": r["test_accuracy"], "reported_uar": r["test_uar"],
            "wall_s": wall, "cpu_s": cpu, "train_runtime_s": r["train_runtime_s"],
            "steps": r["global_step"], "precision": "bf16" if bf16 else "float32"}


def run_serhf(work: Path, init: Path, seed: int, epochs: float, name: str, overrides: list[str],
              checkout: Path = ROOT) -> dict:
    out = work / f"serhf-{name.replace(' ', '_')}-seed{seed}"
    shutil.rmtree(out, ignore_errors=True)
    for o in overrides:  # a variant may give its own epochs (the last num_train_epochs on the command line wins)
        if o.startswith("num_train_epochs="):
            epochs = float(o.partition("=")[2])
    command = [sys.executable, str(checkout / "train.py"), "--recipe", "quickstart", f"model_name_or_path={init}",
               "tiny_model=null", f"num_train_epochs={epochs}", f"seed={seed}", f"output_dir={out}", "resume=false",
               *overrides]
    log = out.with_suffix(".log")
    wall, cpu, rc = timed(command, log)
    if rc:
        raise RuntimeError(f"ser-hf failed (exit {rc}); see {log}")
    r = json.loads((out / "results.json").read_text())
    scores = pipeline_scores(out, work / "audiofolder" / "test")
    shutil.rmtree(out, ignore_errors=True)
    return {"tool": f"ser-hf {name}", "seed": seed, "epochs": epochs, "accuracy": scores["accuracy"],
            "uar": scores["uar"], "reported_accuracy": r["test"]["accuracy"], "reported_uar": r["test"]["uar"],
            "wall_s": wall, "cpu_s": cpu, "train_runtime_s": r["run"]["train_runtime_s"],
            "steps": r["run"]["global_step"], "padding": r["run"]["train_padding_fraction"],
            "precision": r["run"].get("precision")}


def summarise(rows: list[dict]) -> list[dict]:
    import numpy as np

    out = []
    for tool in dict.fromkeys(r["tool"] for r in rows):
        mine = [r for r in rows if r["tool"] == tool]
        summary = {"tool": tool, "runs": len(mine), "epochs": mine[0]["epochs"], "precision": mine[0]["precision"]}
        for key in ("accuracy", "uar", "reported_accuracy", "reported_uar", "wall_s", "cpu_s", "train_runtime_s"):
            values = np.array([r[key] for r in mine], dtype=float)
            summary[key] = float(values.mean())
            summary[key + "_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        out.append(summary)
    return out


def print_tables(rows: list[dict], summary: list[dict]) -> None:
    print("Accuracy and UAR: the saved model through pipeline(), one test file at a time; 'reported': the tool's own figure.")
    print("| tool | seed | epochs | steps | precision | test accuracy | test UAR | reported accuracy | wall s | CPU s | train s | padding |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        pad = f"{100 * r['padding']:.1f} %" if r.get("padding") is not None else "-"
        print(f"| {r['tool']} | {r['seed']} | {r['epochs']:g} | {r['steps']} | {r.get('precision') or '-'} | "
              f"{100 * r['accuracy']:.1f} % | {100 * r['uar']:.1f} % | {100 * r['reported_accuracy']:.1f} % | "
              f"{r['wall_s']:.0f} | {r['cpu_s']:.0f} | {r['train_runtime_s']:.0f} | {pad} |")
    print()
    print("| tool | precision | epochs | test accuracy (mean ± sd) | test UAR | reported accuracy | wall s | CPU s | "
          "wall vs stock | CPU vs stock |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for s in summary:
        # each tool against the stock run of its own precision (the float32 pair, the bf16 pair)
        base = next((b for b in summary if b["tool"].startswith("stock") and b["precision"] == s["precision"]), summary[0])
        print(f"| {s['tool']} | {s['precision']} | {s['epochs']:g} | {100 * s['accuracy']:.1f} ± {100 * s['accuracy_std']:.1f} % | "
              f"{100 * s['uar']:.1f} ± {100 * s['uar_std']:.1f} % | {100 * s['reported_accuracy']:.1f} % | "
              f"{s['wall_s']:.0f} | {s['cpu_s']:.0f} | {s['wall_s'] / base['wall_s']:.2f} | {s['cpu_s'] / base['cpu_s']:.2f} |")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--epochs", type=float, default=3.0, help="epochs of the stock recipe")
    p.add_argument("--serhf-epochs", type=float, default=None, help="epochs of the ser-hf runs (default: --epochs)")
    p.add_argument("--precisions", nargs="+", choices=["fp32", "bf16"], default=None,
                   help="float32 pair and/or bf16 pair (default: both on a CPU or GPU with bf16, else fp32)")
    p.add_argument("--variant", action="append", default=[],
                   help="NAME=KEY=VALUE[,KEY=VALUE]: also run ser-hf with these recipe overrides (repeatable)")
    p.add_argument("--no-default", action="store_true", help="skip ser-hf's default run (variants only)")
    p.add_argument("--before", default=None, metavar="DIR",
                   help="also run the default of another ser-hf checkout (e.g. `git worktree add DIR v0.x`) as 'before'")
    p.add_argument("--stock-with-crop", action="store_true",
                   help="also run the stock recipe with ser-hf's training crop (--max-length-seconds max_train_seconds)")
    p.add_argument("--work", default=None, help="working folder (kept); default: a temporary one")
    p.add_argument("--json", default=None, help="write every run and the summary here")
    args = p.parse_args(argv)

    import datasets

    from ser_hf.hardware import cpu_has_bf16
    from ser_hf.recipe import load_recipe
    from ser_hf.training import prepare_data

    datasets.disable_progress_bars()
    precisions = args.precisions or (["fp32", "bf16"] if cpu_has_bf16() else ["fp32"])
    recipe = load_recipe("quickstart", [])
    data = prepare_data(recipe)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="tta-"))
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "audiofolder").is_dir():
        sizes = export_audiofolder(data, work / "audiofolder")
        print(f"exported the quickstart split as an audiofolder: {sizes}")
    variants = [] if args.no_default else [("default", [], ROOT)]
    if args.before:
        variants.append(("before", [], Path(args.before).resolve()))
    for spec in args.variant:
        name, _, overrides = spec.partition("=")
        variants.append((name, [o for o in overrides.split(",") if o], ROOT))
    serhf_epochs = args.serhf_epochs or args.epochs

    rows = []
    for seed in args.seeds:
        init = work / f"init-seed{seed}"
        if not init.is_dir():
            save_initial_model(recipe, data.label_names, seed, init)
        # Alternated per seed and precision, so load from elsewhere on the machine falls on every tool alike.
        for precision in precisions:
            bf16 = precision == "bf16"
            crops = [None] + ([recipe.training.max_train_seconds] if args.stock_with_crop else [])
            for crop in crops:
                rows.append(run_stock(work, init, seed, args.epochs, recipe, crop=crop, bf16=bf16))
                print(json.dumps(rows[-1]), flush=True)
            for name, overrides, checkout in variants:
                # bf16: the recipe's own bf16: auto (bf16 here); fp32: told so
                row = run_serhf(work, init, seed, serhf_epochs, name, [*overrides, f"bf16={'auto' if bf16 else 'false'}"],
                                checkout)
                rows.append({**row, "tool": f"{row['tool']}, {precision}"})
                print(json.dumps(rows[-1]), flush=True)
    summary = summarise(rows)
    print_tables(rows, summary)
    result = {"data": f"quickstart synthetic corpus (train {len(data.splits['train'])}, test {len(data.splits['test'])} clips)",
              "scoring": "saved model folder through pipeline('audio-classification'), one test file path at a time",
              "cpu_cores": os.cpu_count(), "cpu_bf16_units": cpu_has_bf16(), "runs": rows, "summary": summary}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return result


if __name__ == "__main__":
    main()
