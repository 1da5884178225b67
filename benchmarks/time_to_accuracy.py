"""Time to accuracy: ser-hf's ``train.py`` against the stock Hugging Face recipe on the same data
and the same initial weights, several seeds, runs alternated.

    python benchmarks/time_to_accuracy.py --json tta.json                 # 3 seeds, 3 epochs each
    python benchmarks/time_to_accuracy.py --seeds 1 --variant random=group_by_length=false

Data: the quickstart's synthetic corpus, prepared once by ser-hf and exported as an ``audiofolder``
(``split/label/N.wav``, the same 16-kHz WAVs), which the stock recipe
(``benchmarks/stock_audio_classification.py``) reads as a user of transformers' example would.
Model: the quickstart's tiny HuBERT, initialised once per seed and saved; both tools start from that
folder (the stock recipe numbers the labels alphabetically, so the rows of the random head meet other
classes: same weights, another assignment). Hyper-parameters: the quickstart's (learning rate,
warm-up, batch 16, CNN trained), ``--epochs`` for the stock recipe, which keeps its own default crop
(20 s: none on these clips) unless ``--stock-with-crop`` adds a run with ser-hf's. ser-hf runs with its
defaults, whose ``bf16: auto`` means bf16 autocast on a CPU with bf16 units (each row names its precision);
``--stock-with-bf16`` adds a stock run with ser-hf's crop and the example's ``--bf16``, the same two levers.

Each run is a separate process; wall time and CPU time (user + system of the process and its
children) cover the whole command, start-up and test prediction included. ser-hf runs are given
``--serhf-epochs`` (default: the same as the stock recipe); the question the benchmark answers is
whether ser-hf's default reaches the stock recipe's test accuracy and UAR (mean over seeds) in at most
half its time.
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
               "--epochs", str(epochs), "--learning-rate", str(recipe.learning_rate),
               "--warmup-ratio", str(recipe.warmup_ratio), "--batch-size", str(recipe.per_device_train_batch_size),
               "--eval-batch-size", str(recipe.per_device_eval_batch_size),
               "--freeze-feature-encoder", str(recipe.freeze_feature_encoder).lower(), "--seed", str(seed),
               "--json", str(result_file), *(["--max-length-seconds", str(crop)] if crop else []),
               *(["--bf16"] if bf16 else [])]
    wall, cpu, rc = timed(command, work / f"{name}.log")
    if rc:
        raise RuntimeError(f"the stock recipe failed (exit {rc}); see {work / f'{name}.log'}")
    r = json.loads(result_file.read_text())
    shutil.rmtree(out, ignore_errors=True)
    tool = "stock HF recipe" + (f", {crop:g}-s crops" if crop else "") + (", bf16" if bf16 else "")
    return {"tool": tool, "seed": seed, "epochs": epochs, "accuracy": r["test_accuracy"],
            "uar": r["test_uar"], "wall_s": wall, "cpu_s": cpu, "train_runtime_s": r["train_runtime_s"],
            "steps": r["global_step"], "precision": "bf16" if bf16 else "float32"}


def run_serhf(work: Path, init: Path, seed: int, epochs: float, name: str, overrides: list[str],
              checkout: Path = ROOT) -> dict:
    out = work / f"serhf-{name}-seed{seed}"
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, str(checkout / "train.py"), "--recipe", "quickstart", f"model_name_or_path={init}",
               "tiny_model=null", f"num_train_epochs={epochs}", f"seed={seed}", f"output_dir={out}", "resume=false",
               *overrides]
    wall, cpu, rc = timed(command, work / f"serhf-{name}-seed{seed}.log")
    if rc:
        raise RuntimeError(f"ser-hf failed (exit {rc}); see {work / f'serhf-{name}-seed{seed}.log'}")
    r = json.loads((out / "results.json").read_text())
    shutil.rmtree(out, ignore_errors=True)
    return {"tool": f"ser-hf {name}", "seed": seed, "epochs": epochs, "accuracy": r["test"]["accuracy"],
            "uar": r["test"]["uar"], "wall_s": wall, "cpu_s": cpu, "train_runtime_s": r["run"]["train_runtime_s"],
            "steps": r["run"]["global_step"], "padding": r["run"]["train_padding_fraction"],
            "precision": r["run"].get("precision")}


def summarise(rows: list[dict]) -> list[dict]:
    import numpy as np

    out = []
    for tool in dict.fromkeys(r["tool"] for r in rows):
        mine = [r for r in rows if r["tool"] == tool]
        summary = {"tool": tool, "runs": len(mine), "epochs": mine[0]["epochs"]}
        for key in ("accuracy", "uar", "wall_s", "cpu_s", "train_runtime_s"):
            values = np.array([r[key] for r in mine], dtype=float)
            summary[key] = float(values.mean())
            summary[key + "_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        out.append(summary)
    return out


def print_tables(rows: list[dict], summary: list[dict]) -> None:
    print("| tool | seed | epochs | steps | precision | test accuracy | test UAR | wall s | CPU s | train s | padding |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        pad = f"{100 * r['padding']:.1f} %" if r.get("padding") is not None else "-"
        print(f"| {r['tool']} | {r['seed']} | {r['epochs']:g} | {r['steps']} | {r.get('precision') or '-'} | "
              f"{100 * r['accuracy']:.1f} % | "
              f"{100 * r['uar']:.1f} % | {r['wall_s']:.0f} | {r['cpu_s']:.0f} | {r['train_runtime_s']:.0f} | {pad} |")
    print()
    base = summary[0]
    print("| tool | epochs | test accuracy (mean ± sd) | test UAR | wall s | CPU s | wall vs stock | CPU vs stock |")
    print("|---|---|---|---|---|---|---|---|")
    for s in summary:
        print(f"| {s['tool']} | {s['epochs']:g} | {100 * s['accuracy']:.1f} ± {100 * s['accuracy_std']:.1f} % | "
              f"{100 * s['uar']:.1f} ± {100 * s['uar_std']:.1f} % | {s['wall_s']:.0f} | {s['cpu_s']:.0f} | "
              f"{s['wall_s'] / base['wall_s']:.2f} | {s['cpu_s'] / base['cpu_s']:.2f} |")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--epochs", type=float, default=3.0, help="epochs of the stock recipe")
    p.add_argument("--serhf-epochs", type=float, default=None, help="epochs of the ser-hf runs (default: --epochs)")
    p.add_argument("--variant", action="append", default=[],
                   help="NAME=KEY=VALUE[,KEY=VALUE]: also run ser-hf with these recipe overrides (repeatable)")
    p.add_argument("--no-default", action="store_true", help="skip ser-hf's default run (variants only)")
    p.add_argument("--before", default=None, metavar="DIR",
                   help="also run the default of another ser-hf checkout (e.g. `git worktree add DIR v0.x`) as 'before'")
    p.add_argument("--stock-with-crop", action="store_true",
                   help="also run the stock recipe with ser-hf's training crop (--max-length-seconds max_train_seconds)")
    p.add_argument("--stock-with-bf16", action="store_true",
                   help="also run the stock recipe with ser-hf's crop and --bf16 (what ser-hf's bf16: auto picks on a "
                        "CPU with bf16 units)")
    p.add_argument("--work", default=None, help="working folder (kept); default: a temporary one")
    p.add_argument("--json", default=None, help="write every run and the summary here")
    args = p.parse_args(argv)

    import datasets

    from ser_hf.recipe import load_recipe
    from ser_hf.training import prepare_data

    datasets.disable_progress_bars()
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
    stock_runs = [(None, False)]  # (crop, bf16): as a user runs it, then with ser-hf's levers where asked
    stock_runs += [(recipe.max_train_seconds, False)] if args.stock_with_crop else []
    stock_runs += [(recipe.max_train_seconds, True)] if args.stock_with_bf16 else []

    rows = []
    for seed in args.seeds:
        init = work / f"init-seed{seed}"
        if not init.is_dir():
            save_initial_model(recipe, data.label_names, seed, init)
        # Alternated per seed, so load from elsewhere on the machine falls on every tool alike.
        for crop, bf16 in stock_runs:
            rows.append(run_stock(work, init, seed, args.epochs, recipe, crop=crop, bf16=bf16))
            print(json.dumps(rows[-1]), flush=True)
        for name, overrides, checkout in variants:
            rows.append(run_serhf(work, init, seed, serhf_epochs, name, overrides, checkout))
            print(json.dumps(rows[-1]), flush=True)
    summary = summarise(rows)
    print_tables(rows, summary)
    result = {"data": f"quickstart synthetic corpus (train {len(data.splits['train'])}, test {len(data.splits['test'])} clips)",
              "cpu_cores": os.cpu_count(), "runs": rows, "summary": summary}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return result


if __name__ == "__main__":
    main()
