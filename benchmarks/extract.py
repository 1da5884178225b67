"""Embedding extraction throughput and classifier fit times, on CPU, with random weights.

    python benchmarks/extract.py [--files 24] [--seconds 3] [--fit-rows 1344] [--skip-hubert]

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
"""

from __future__ import annotations

import argparse
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
    args = parser.parse_args(argv)

    import datasets
    import torch
    from transformers import HubertConfig, HubertModel

    from ser_hf.features.extract import build_extractor, extract
    from ser_hf.classifiers.pipelines import CLASSIFIER_NAMES, fit_classifier
    from ser_hf.features.encoder_layers import HFEncoderExtractor
    from ser_hf.classifiers.mlp import MLPConfig, train_mlp

    datasets.disable_progress_bars()
    if args.threads:
        torch.set_num_threads(args.threads)
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

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, args.fit_rows)
    print(f"\nfit seconds on {args.fit_rows} rows, 7 classes (rows resampled from the embeddings + 1 % noise)")
    print(f"{'embedding':32s} " + " ".join(f"{c:>19s}" for c in (*CLASSIFIER_NAMES, f"mlp {args.mlp_epochs} ep")))
    for name, rows in features.items():
        x = rows[rng.integers(0, len(rows), args.fit_rows)]
        x = (x + 0.01 * x.std(0, keepdims=True) * rng.standard_normal(x.shape)).astype(np.float32)
        times = []
        for clf in CLASSIFIER_NAMES:
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
