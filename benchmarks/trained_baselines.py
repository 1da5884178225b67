"""Training and inference speed of the Trainer-based baselines at full size, random weights.

    python benchmarks/trained_baselines.py [--steps 5] [--batch-size 8] [--device cpu|cuda] [--only NAME ...] [--json PATH]

For each model the recipes train (seed 002's VGG-19 C2, seed 004's VGG-19 with 15 frozen layers,
ResNet-50 with a frozen base, seed 004's CNN-BLSTM with attention, seed 001's frozen YAMNet + head,
seed 000's fully fine-tuned VGGish), built exactly as ``train.py`` builds it (``build_recipe_model``
on the recipe with ``tiny_model`` unset, the pre-trained weights replaced by random ones since the
Hub is out of reach; speed does not depend on the weights), it prints:

* the front end's throughput (waveform -> model input, audio-seconds per second);
* optimiser steps (forward + backward + Adam) on a batch of ``--batch-size`` 3-s clips:
  samples per second and audio-seconds per second, median of ``--steps`` timed steps after 2 warm-up;
* inference latency of one 3-s clip (front end + model), p50 of ``--steps`` runs: what the Space adds.

``--json PATH`` writes the same figures with named fields (one object per model, plus the machine and settings).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SECONDS = 3.0
# name -> (recipe, overrides); full-size architectures, random weights
MODELS = {
    "vgg19_c2 (seed 002)": ("vgg19_mel_demos_c2", ["random_weights=true"]),
    "vgg19_first15 (seed 004)": ("vgg19_mel_english6", ["random_weights=true"]),
    "resnet50_frozen (seed 003/004)": ("resnet50_mel_english6", ["freeze=all"]),
    "cnn_blstm_attention (seed 004)": ("cnn_blstm_attention_english6", []),
    "yamnet_frozen_head (seed 001)": ("yamnet_transfer_ravdess", ["random_weights=true"]),
    "vggish_finetune (seed 000)": ("vggish_finetune_emodb", ["random_weights=true"]),
}


def build(recipe_name: str, overrides: list[str], labels: list[str]):
    from ser_hf.models.build import build_recipe_model
    from ser_hf.recipe import load_recipe

    recipe = load_recipe(recipe_name, ["synthetic=true", *overrides])
    if recipe.method == "image_cnn" and not recipe.model.backbone.lower().startswith("vgg"):
        # ResNet-50's architecture without the Hub: transformers' default ResNetConfig is ResNet-50
        from transformers import ResNetConfig

        from ser_hf.models import image_cnn
        from ser_hf.models.build import spectrogram_extractor

        cfg = image_cnn.SpectrogramCNNConfig(
            image_backbone="auto", image_backbone_config=ResNetConfig().to_dict(), image_size=recipe.model.image_size,
            pooling="avg", head_hidden_sizes=recipe.model.head_hidden_sizes, head_dropout=recipe.model.head_dropout,
            head_batchnorm=recipe.model.head_batchnorm, head_l2=recipe.model.l2, freeze=recipe.model.freeze, num_labels=len(labels))
        return image_cnn.SpectrogramCNNForAudioClassification(cfg), spectrogram_extractor(recipe, image=True)
    return build_recipe_model(recipe, labels)


def timed(fn, steps: int, warmup: int = 2, sync=lambda: None) -> list[float]:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--only", nargs="*", default=None, help="model names (substrings) to run")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    labels = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    rng = np.random.default_rng(0)
    waves = [(0.1 * rng.standard_normal(int(SECONDS * 16000))).astype(np.float32) for _ in range(args.batch_size)]
    y = torch.tensor([i % len(labels) for i in range(args.batch_size)], device=device)
    report = {"benchmark": "trained_baselines", "argv": sys.argv[1:] if argv is None else argv,
              "device": str(device), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
              "python": platform.python_version(), "cpus": os.cpu_count(), "batch_size": args.batch_size,
              "clip_seconds": SECONDS, "steps": args.steps, "models": []}
    print(f"device {device}, torch threads {torch.get_num_threads()}, batch {args.batch_size} x {SECONDS:.0f}-s clips, "
          f"{args.steps} timed steps")
    print(f"{'model':32s} {'params':>8s} {'trainable':>9s} {'front end':>11s} {'train':>9s} {'train':>10s} {'infer p50':>10s}")
    print(f"{'':32s} {'(M)':>8s} {'(M)':>9s} {'(audio-s/s)':>11s} {'(smp/s)':>9s} {'(audio-s/s)':>10s} {'(ms/clip)':>10s}")
    for name, (recipe, overrides) in MODELS.items():
        if args.only and not any(o in name for o in args.only):
            continue
        torch.manual_seed(0)
        model, extractor = build(recipe, overrides, labels)
        model.to(device)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6
        fe_times = timed(lambda: extractor(waves, sampling_rate=16000, return_tensors="pt"), args.steps, 1)
        batch = {k: v.to(device) for k, v in extractor(waves, sampling_rate=16000, return_tensors="pt").items()}
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        model.train()

        def step():
            optimizer.zero_grad(set_to_none=True)
            model(**batch, labels=y).loss.backward()
            optimizer.step()

        train_times = timed(step, args.steps, sync=sync)
        model.eval()
        one = [waves[0]]

        @torch.inference_mode()
        def infer():
            inputs = {k: v.to(device) for k, v in extractor(one, sampling_rate=16000, return_tensors="pt").items()}
            model(**inputs)

        infer_times = timed(infer, args.steps, sync=sync)
        per_step = statistics.median(train_times)
        print(f"{name:32s} {params:8.2f} {trainable:9.2f} {args.batch_size * SECONDS / statistics.median(fe_times):11.1f} "
              f"{args.batch_size / per_step:9.2f} {args.batch_size * SECONDS / per_step:10.1f} "
              f"{1000 * statistics.median(infer_times):10.1f}")
        report["models"].append({
            "model": name, "recipe": recipe, "params_m": params, "trainable_m": trainable,
            "front_end_audio_s_per_s": args.batch_size * SECONDS / statistics.median(fe_times),
            "train_samples_per_s": args.batch_size / per_step, "train_audio_s_per_s": args.batch_size * SECONDS / per_step,
            "train_step_s": per_step, "infer_p50_ms": 1000 * statistics.median(infer_times)})
        del model, optimizer, batch
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
