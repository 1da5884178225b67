"""Embedding extraction throughput and classifier fit times, on CPU, with random weights; seed 003's MLP grid.

    python benchmarks/extract.py [--files 24] [--seconds 3] [--fit-rows 1344] [--skip-hubert] [--skip-networks]
        [--corpus-size small | --ravdess-root DIR] [--workers N] [--mlp-trials 10] [--grid-seeds 0 1] [--json PATH]

Builds ``--files`` speech-like 16-kHz WAVs of ``--seconds`` as a ``datasets.Dataset`` (the prepared
corpus format), then measures in the same run, cache off, one process:

* audio-seconds per second of ``extract(..., pooling="mean")`` for VGGish, YAMNet and a
  HuBERT-base-sized encoder (``HubertModel(HubertConfig())``, last layer), against the named
  baseline MFCC statistics (librosa) and openSMILE eGeMAPS functionals;
* fit time of every classifier (5 scikit-learn pipelines + one MLP configuration for
  ``--mlp-epochs`` epochs) on ``--fit-rows`` rows of each embedding (rows drawn from the
  extracted ones with 1 % noise, 7 random classes; 1344 = seed 000's RAVDESS subset).

Weights are random (the Hub is out of reach here): the speed of a network does not depend on its
weights, its accuracy does, so only timings are printed.

On a labelled corpus (the synthetic RAVDESS of ``--corpus-size``, or a real one with ``--ravdess-root``; seven
classes, a stratified 80/10/10 split, seed 42), also in the same run:

* the per-file extractors (MFCC statistics, eGeMAPS) in this process (``num_workers=0``, the baseline) and over
  ``--workers`` processes: seconds, audio-seconds per second, speed-up, and whether the features are identical;
* seed 003's MLP grid (``--mlp-trials`` points of the 198, drawn with each ``--grid-seeds`` seed) on each table:
  the straightforward loop (:func:`~ser_hf.classifiers.mlp.train_mlp_reference`, one trial after the other,
  torch's thread setting: the implementation before the stacked one) against :class:`MLPClassifier`'s
  :func:`~ser_hf.classifiers.mlp.train_mlps`: fit seconds, speed-up, chosen point, best validation loss, test
  accuracy and UAR of both.

``--json PATH`` writes every figure with named fields beside the printed tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_dataset(files: int, seconds: float, seed: int = 0):
    import datasets

    from ser_hf.data.audio import content_hash, encode_wav, to_pcm16

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    audio, hashes = [], []
    for i in range(files):
        f0 = rng.uniform(90, 250) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(2, 5) * t))
        phase = 2 * np.pi * np.cumsum(f0) / 16000
        wave = 0.3 * sum(np.sin(k * phase) / k for k in range(1, 6)) + 0.003 * rng.standard_normal(len(t))
        audio.append({"bytes": encode_wav(wave.astype(np.float32), 16000), "path": f"bench{i}.wav"})
        hashes.append(content_hash(to_pcm16(wave)))
    ds = datasets.Dataset.from_dict({"audio": audio, "content_hash": hashes})
    return ds.cast_column("audio", datasets.Audio(sampling_rate=16000))


def labelled_corpus(args):
    """The benchmark's labelled corpus as train / validation / test parts."""
    from ser_hf.data.corpora import load_corpus
    from ser_hf.data.splits import ratio_split
    from ser_hf.data.synth import ensure_synthetic

    root = args.ravdess_root or ensure_synthetic("ravdess", args.corpus_size)
    name = f"RAVDESS at {root}" if args.ravdess_root else f"synthetic RAVDESS ({args.corpus_size})"
    return name, ratio_split(load_corpus("ravdess", root, label_set="seven"), (0.8, 0.1, 0.1), seed=42)


def per_file_extraction(splits, workers: int) -> tuple[list[dict], dict]:
    """Each per-file extractor over every part, in this process and over ``workers`` processes."""
    import datasets

    from ser_hf.features.extract import build_extractor, extract

    everything = datasets.concatenate_datasets(list(splits.values()))
    audio_seconds = float(sum(everything["duration"]))
    figures, tables = [], {}
    for name in ("mfcc", "egemaps"):
        extractor = build_extractor(name)
        timed = {}
        for label, n in (("serial", 0), ("parallel", workers)):
            start = time.perf_counter()
            timed[label] = extract(everything, extractor, use_cache=False, progress=False, num_workers=n)
            timed[label].seconds = time.perf_counter() - start
        serial, parallel = timed["serial"], timed["parallel"]
        figures.append({"extractor": name, "files": len(everything), "audio_seconds": audio_seconds, "workers": workers,
                        "serial_s": serial.seconds, "parallel_s": parallel.seconds,
                        "serial_audio_s_per_s": audio_seconds / serial.seconds,
                        "parallel_audio_s_per_s": audio_seconds / parallel.seconds,
                        "speedup": serial.seconds / parallel.seconds,
                        "identical": bool(np.array_equal(serial.features, parallel.features))})
        bounds = np.cumsum([0] + [len(part) for part in splits.values()])
        tables[name] = {part: (parallel.features[a:b], np.asarray(splits[part]["label"]))
                        for part, a, b in zip(splits, bounds[:-1], bounds[1:])}
    return figures, tables


def reference_grid(points: list[dict], seed: int, parts, max_epochs: int = 5000) -> tuple:
    """Seed 003's grid with the straightforward loop, one trial after the other: the implementation before."""
    from ser_hf.classifiers.mlp import MLPConfig, train_mlp_reference

    (x, y), (xv, yv) = parts
    best = None
    for point in points:
        config = MLPConfig(input_dim=x.shape[1], num_classes=int(max(y.max(), yv.max())) + 1, seed=seed,
                           max_epochs=max_epochs, **point)
        model, result = train_mlp_reference(config, x, y, xv, yv, device="cpu")
        if best is None or result.best_val_loss < best[1].best_val_loss:
            best = (model, result, point)
    return best


def mlp_grid(tables: dict, trials: int, seeds: list[int], max_epochs: int = 5000, figures: list | None = None,
             on_row=lambda: None) -> list[dict]:
    """Old loop against the new fit on each table and seed: fit seconds and test scores (appended to ``figures``,
    ``on_row`` called after each: a long run leaves what it measured)."""
    import torch
    from sklearn.metrics import balanced_accuracy_score

    from ser_hf.classifiers.mlp import MLPClassifier, sample_grid

    figures = [] if figures is None else figures
    for name, parts in tables.items():
        (x_test, y_test) = parts["test"]
        for seed in seeds:
            row = {"embedding": name, "seed": seed, "trials": trials, "max_epochs": max_epochs, "train_rows": len(parts["train"][0]),
                   "validation_rows": len(parts["validation"][0]), "test_rows": len(y_test),
                   "torch_threads": torch.get_num_threads()}
            start = time.perf_counter()
            model, result, point = reference_grid(sample_grid(trials, seed), seed, (parts["train"], parts["validation"]),
                                                   max_epochs)
            row["reference_fit_s"] = time.perf_counter() - start
            with torch.no_grad():
                predicted = model(torch.as_tensor(x_test)).argmax(1).numpy()
            row["reference"] = {"point": point, "best_val_loss": result.best_val_loss,
                                "test_accuracy": float((predicted == y_test).mean()),
                                "test_uar": float(balanced_accuracy_score(y_test, predicted))}
            start = time.perf_counter()
            fast = MLPClassifier(n_trials=trials, seed=seed, max_epochs=max_epochs, device="cpu", progress=False).fit(
                *parts["train"], *parts["validation"])
            row["fast_fit_s"] = time.perf_counter() - start
            predicted = fast.predict(x_test)
            best = min(fast.trials, key=lambda t: t["best_val_loss"])
            row["fast"] = {"point": {k: best[k] for k in point}, "best_val_loss": best["best_val_loss"],
                           "test_accuracy": float((predicted == y_test).mean()),
                           "test_uar": float(balanced_accuracy_score(y_test, predicted))}
            row["speedup"] = row["reference_fit_s"] / row["fast_fit_s"]
            figures.append(row)
            on_row()
            print(f"{name:10s} {seed:4d} {row['reference_fit_s']:10.2f} {row['fast_fit_s']:9.2f} {row['speedup']:8.1f}x "
                  f"{100 * row['reference']['test_accuracy']:9.2f} {100 * row['fast']['test_accuracy']:9.2f} "
                  f"{100 * row['reference']['test_uar']:9.2f} {100 * row['fast']['test_uar']:9.2f} "
                  f"{row['reference']['best_val_loss']:9.4f} {row['fast']['best_val_loss']:9.4f}", flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=24, help="number of synthetic files")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each file")
    parser.add_argument("--batch-size", type=int, default=8, help="files per forward pass")
    parser.add_argument("--fit-rows", type=int, default=1344, help="rows of each embedding the classifiers fit on")
    parser.add_argument("--mlp-epochs", type=int, default=50, help="epochs of the timed MLP configuration")
    parser.add_argument("--skip-hubert", action="store_true", help="leave out the HuBERT-base-sized encoder")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's choice); on a shared, loaded machine 1 can be "
                             "much faster for the small MLP steps")
    parser.add_argument("--skip-networks", action="store_true",
                        help="leave out the tone dataset's extractor and fit tables (only the labelled corpus part)")
    parser.add_argument("--corpus-size", default="small", choices=("none", "tiny", "small", "full"),
                        help="synthetic RAVDESS for the per-file extraction and the MLP grid (none: skip that part)")
    parser.add_argument("--ravdess-root", default=None, help="a real RAVDESS download instead of the synthetic one")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes of the parallel per-file extraction (default: the CPUs this process may use)")
    parser.add_argument("--mlp-trials", type=int, default=10, help="grid points of seed 003's MLP search")
    parser.add_argument("--grid-max-epochs", type=int, default=5000, help="epoch limit of each trial (seed 003: 5000)")
    parser.add_argument("--grid-embeddings", nargs="*", default=["mfcc", "egemaps"],
                        help="tables the MLP grid is fitted on (none: skip the grid)")
    parser.add_argument("--grid-seeds", type=int, nargs="*", default=[0], help="seeds of the grid (draw and init)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    import datasets
    import torch

    from ser_hf.features.extract import default_num_workers

    datasets.disable_progress_bars()
    if args.threads:
        torch.set_num_threads(args.threads)
    report = {"benchmark": "extract", "argv": sys.argv[1:] if argv is None else argv,
              "machine": {"cpus": default_num_workers(), "load_average": list(os.getloadavg()),
                          "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                          "python": platform.python_version()}}

    def save():
        if args.json:
            args.json.write_text(json.dumps(report, indent=1, default=str))

    if not args.skip_networks:
        report["tones"] = tone_benchmarks(args)
    if args.corpus_size != "none" or args.ravdess_root:
        name, splits = labelled_corpus(args)
        workers = args.workers or default_num_workers()
        print(f"\n{name}: {', '.join(f'{k} {len(v)}' for k, v in splits.items())} files; per-file extractors in "
              f"this process vs {workers} processes, cache off")
        extraction, tables = per_file_extraction(splits, workers)
        print(f"{'extractor':10s} {'files':>6s} {'serial s':>9s} {'parallel s':>10s} {'speed-up':>9s} "
              f"{'audio-s/s':>10s} {'audio-s/s':>10s} identical")
        for f in extraction:
            print(f"{f['extractor']:10s} {f['files']:6d} {f['serial_s']:9.2f} {f['parallel_s']:10.2f} "
                  f"{f['speedup']:8.2f}x {f['serial_audio_s_per_s']:10.1f} {f['parallel_audio_s_per_s']:10.1f} "
                  f"{f['identical']}")
        print(f"\nseed 003's MLP grid, {args.mlp_trials} trials: old loop (reference) vs stacked fit; test scores in %")
        print(f"{'embedding':10s} {'seed':>4s} {'old fit s':>10s} {'new fit s':>9s} {'speed-up':>9s} {'old acc':>9s} "
              f"{'new acc':>9s} {'old UAR':>9s} {'new UAR':>9s} {'old vloss':>9s} {'new vloss':>9s}")
        report["corpus"] = {"name": name, "parts": {k: len(v) for k, v in splits.items()}}
        report["per_file_extraction"] = extraction
        report["mlp_grid"] = []
        save()
        mlp_grid({k: tables[k] for k in args.grid_embeddings}, args.mlp_trials, args.grid_seeds, args.grid_max_epochs,
                 report["mlp_grid"], save)
    save()
    if args.json:
        print(f"\nfigures written to {args.json}")
    return 0


def tone_benchmarks(args) -> dict:
    """The tone dataset: every extractor's throughput, every classifier's fit time."""
    import torch
    from transformers import HubertConfig, HubertModel

    from ser_hf.classifiers.mlp import MLPConfig, train_mlp
    from ser_hf.classifiers.pipelines import fit_classifier, pipeline_classifiers
    from ser_hf.features.encoder_layers import HFEncoderExtractor
    from ser_hf.features.extract import build_extractor, extract

    figures = {"extractors": [], "fit_seconds": []}
    ds = make_dataset(args.files, args.seconds)
    audio_seconds = args.files * args.seconds
    print(f"{args.files} files x {args.seconds:.1f} s = {audio_seconds:.0f} s of audio; CPU, torch threads "
          f"{torch.get_num_threads()}, random weights, cache off")

    torch.manual_seed(0)
    extractors = {
        "mfcc stats (baseline)": lambda: build_extractor("mfcc"),
        "egemaps (openSMILE)": lambda: build_extractor("egemaps"),
        "vggish": lambda: build_extractor("vggish", random_weights=True),
        "yamnet": lambda: build_extractor("yamnet", random_weights=True),
    }
    if not args.skip_hubert:
        extractors["hubert-base (HubertConfig())"] = lambda: HFEncoderExtractor(model=HubertModel(HubertConfig()))

    features: dict[str, np.ndarray] = {}
    baseline_rate = None
    print(f"\n{'extractor':32s} {'dim':>6s} {'wall s':>8s} {'audio-s/s':>10s} {'vs baseline':>12s}")
    for name, build in extractors.items():
        extractor = build()
        extractor.cache_config()  # weights hash outside the timed part (it keys the cache, which is off here)
        extract(ds.select(range(min(2, len(ds)))), extractor, use_cache=False, device="cpu", progress=False)  # warm-up
        start = time.perf_counter()
        emb = extract(ds, extractor, batch_size=args.batch_size, use_cache=False, device="cpu", progress=False)
        wall = time.perf_counter() - start
        rate = audio_seconds / wall
        baseline_rate = baseline_rate or rate
        features[name] = emb.features
        print(f"{name:32s} {emb.dim:6d} {wall:8.2f} {rate:10.1f} {rate / baseline_rate:11.2f}x")
        figures["extractors"].append({"extractor": name, "dim": emb.dim, "wall_s": wall, "audio_s_per_s": rate,
                                      "vs_baseline": rate / baseline_rate})

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, args.fit_rows)
    print(f"\nfit seconds on {args.fit_rows} rows, 7 classes (rows resampled from the embeddings + 1 % noise)")
    print(f"{'embedding':32s} " + " ".join(f"{c:>19s}" for c in (*pipeline_classifiers(), f"mlp {args.mlp_epochs} ep")))
    for name, rows in features.items():
        x = rows[rng.integers(0, len(rows), args.fit_rows)]
        x = (x + 0.01 * x.std(0, keepdims=True) * rng.standard_normal(x.shape)).astype(np.float32)
        times = []
        for clf in pipeline_classifiers():
            start = time.perf_counter()
            fit_classifier(clf, x, labels, seed=0)
            times.append(time.perf_counter() - start)
        cut = int(0.9 * args.fit_rows)
        config = MLPConfig(input_dim=x.shape[1], num_classes=7, hidden_layers=[1024, 512], max_epochs=args.mlp_epochs,
                           patience=args.mlp_epochs)
        start = time.perf_counter()
        train_mlp(config, x[:cut], labels[:cut], x[cut:], labels[cut:], device="cpu")
        times.append(time.perf_counter() - start)
        print(f"{name:32s} " + " ".join(f"{t:19.2f}" for t in times))
        figures["fit_seconds"].append({"embedding": name, **dict(zip((*pipeline_classifiers(), "mlp_config"), times))})
    return figures


if __name__ == "__main__":
    raise SystemExit(main())
