"""The stock Hugging Face recipe for audio classification, re-implemented as the baseline of
``benchmarks/time_to_accuracy.py``.

It follows transformers' ``examples/pytorch/audio-classification/run_audio_classification.py``
as a user would run it on a folder of WAVs (written here, not copied):

* the data is an ``audiofolder`` (``split/label/file.wav``), cast to ``Audio(sampling_rate=16000)``
  and decoded on every access by ``datasets`` (torchcodec);
* training rows go through ``set_transform``: a random sub-clip of at most ``--max-length-seconds``
  (the example's default: 20 s, so no crop on these clips) and the feature extractor (per-clip
  normalisation); evaluation rows take the whole clip;
* batches are padded by the Trainer's default collator for a sequence feature extractor
  (``DataCollatorWithPadding``: the longest clip of the batch), in random order;
* the model is ``AutoModelForAudioClassification.from_pretrained`` with the dataset's labels;
  evaluation and a checkpoint every epoch, the best by accuracy loaded at the end.

Prints and writes (``--json``) test accuracy and UAR (macro recall) of the loaded best model as the example's own
``trainer.predict`` computes them (padded batches), and saves that model to ``--output-dir`` as the example does.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import datasets
import numpy as np
from transformers import AutoConfig, AutoFeatureExtractor, AutoModelForAudioClassification, Trainer, TrainingArguments, set_seed

METRICS = Path(__file__).resolve().parents[1] / "ser_hf" / "evaluation" / "metrics"


def random_subsample(wav: np.ndarray, max_length: float, sample_rate: int) -> np.ndarray:
    """A random window of ``max_length`` seconds (the example's own rule, with Python's RNG)."""
    sample_length = int(round(sample_rate * max_length))
    if len(wav) <= sample_length:
        return wav
    offset = random.randint(0, len(wav) - sample_length - 1)
    return wav[offset : offset + sample_length]


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", required=True, help="audiofolder root with train/, validation/ and test/")
    p.add_argument("--model", required=True, help="model folder (save_pretrained) to start from")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--learning-rate", type=float, default=3e-5)
    p.add_argument("--warmup-ratio", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--eval-batch-size", type=int, default=32)
    p.add_argument("--max-length-seconds", type=float, default=20.0)
    p.add_argument("--freeze-feature-encoder", choices=["true", "false"], default="true")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (the example's --bf16; on CPU with use_cpu)")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    datasets.disable_progress_bars()
    set_seed(args.seed)

    raw = datasets.load_dataset("audiofolder", data_dir=args.data_dir)
    extractor = AutoFeatureExtractor.from_pretrained(args.model)
    raw = raw.cast_column("audio", datasets.Audio(sampling_rate=extractor.sampling_rate))
    input_name = extractor.model_input_names[0]

    def train_transforms(batch):
        wavs = [random_subsample(a["array"], args.max_length_seconds, extractor.sampling_rate) for a in batch["audio"]]
        inputs = extractor(wavs, sampling_rate=extractor.sampling_rate)
        return {input_name: inputs.get(input_name), "labels": list(batch["label"])}

    def val_transforms(batch):
        inputs = extractor([a["array"] for a in batch["audio"]], sampling_rate=extractor.sampling_rate)
        return {input_name: inputs.get(input_name), "labels": list(batch["label"])}

    labels = raw["train"].features["label"].names
    label2id = {name: i for i, name in enumerate(labels)}
    config = AutoConfig.from_pretrained(args.model, num_labels=len(labels), label2id=label2id,
                                        id2label={i: n for n, i in label2id.items()}, finetuning_task="audio-classification")
    model = AutoModelForAudioClassification.from_pretrained(args.model, config=config, ignore_mismatched_sizes=True)
    if args.freeze_feature_encoder == "true":
        model.freeze_feature_encoder()
    raw["train"].set_transform(train_transforms, output_all_columns=False)
    for split in ("validation", "test"):
        raw[split].set_transform(val_transforms, output_all_columns=False)

    import evaluate

    accuracy = evaluate.load(str(METRICS / "accuracy"))

    def compute_metrics(pred):
        return accuracy.compute(predictions=np.argmax(pred.predictions, axis=1), references=pred.label_ids)

    training_args = TrainingArguments(
        output_dir=args.output_dir, num_train_epochs=args.epochs, learning_rate=args.learning_rate,
        warmup_steps=args.warmup_ratio, per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.eval_batch_size, eval_strategy="epoch", save_strategy="epoch",
        load_best_model_at_end=True, metric_for_best_model="accuracy", save_total_limit=3, seed=args.seed,
        remove_unused_columns=False, dataloader_num_workers=args.workers, logging_steps=10, report_to="none",
        disable_tqdm=True, use_cpu=True, bf16=args.bf16,
    )
    trainer = Trainer(model=model, args=training_args, train_dataset=raw["train"], eval_dataset=raw["validation"],
                      compute_metrics=compute_metrics, processing_class=extractor)
    train_result = trainer.train()
    trainer.save_model()  # the example saves the (best) model and its feature extractor: what a user keeps
    prediction = trainer.predict(raw["test"])
    predicted = np.argmax(prediction.predictions, axis=1)
    truth = prediction.label_ids
    recalls = [float(np.mean(predicted[truth == c] == c)) for c in np.unique(truth)]
    result = {"test_accuracy": float(np.mean(predicted == truth)), "test_uar": float(np.mean(recalls)),
              "train_runtime_s": train_result.metrics["train_runtime"], "global_step": trainer.state.global_step,
              "labels": labels}
    print(json.dumps(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
