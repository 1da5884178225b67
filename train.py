#!/usr/bin/env python
"""Train a speech emotion recognition model, as a recipe says.

    python train.py --recipe quickstart                          # synthetic corpus, tiny model, CPU, minutes
    accelerate launch train.py --recipe hubert_bilingual         # seed 003
    accelerate launch --config_file recipes/accelerate/multi_gpu.yaml train.py --recipe hubert_bilingual learning_rate=3e-5
    python train.py --recipe vggish_lr_emodb                     # seed 000: frozen embeddings x classifiers
    accelerate launch train.py --recipe vgg19_mel_demos_c2       # seed 002: VGG-19 on mel-spectrogram images
    python train.py --help                                       # every recipe key

    python train.py --recipe seed000_emodb cross_validation=loso  # every fold, then mean +- std over folds
    python train.py --recipe cross_corpus_en_bn                  # train on each corpus group, test on every other

The recipe's ``method`` picks the model: finetune (an HF audio encoder), image_cnn, cnn_blstm,
patch_finetune (all trained by the same Trainer path), embeddings (a table of frozen embeddings x
classifiers) or probe (a learned weighted sum of a frozen encoder's layers + a small head).

One run (ser_hf.training.run.run_recipe): recipe -> datasets -> model -> Trainer -> test evaluation
-> outputs, top to bottom, resumed from the last complete checkpoint when launched again.
``cross_validation`` runs it once per fold (ser_hf.training.cross_validation) and ``cross_corpus``
once per train/test pair of corpora (ser_hf.training.cross_corpus).
"""

from __future__ import annotations

import sys

from ser_hf.recipe import RecipeError, parse_args


def main(argv: list[str] | None = None) -> dict | None:
    recipe = parse_args(sys.argv[1:] if argv is None else argv)  # --help and a bad recipe stop here, in a second
    from ser_hf.training.job import guarded_job

    # One job per output_dir (a lock); launched as several processes, they watch each other (ser_hf.guards).
    with guarded_job(recipe):
        return run(recipe)


def run(recipe) -> dict | None:
    # torch, transformers and datasets load only now (seconds), once the recipe is known to be valid.
    if recipe.cross_corpus:  # train on each corpus (group), test on every other
        from ser_hf.training.cross_corpus import run_cross_corpus

        return run_cross_corpus(recipe)
    if recipe.cross_validation != "none":  # every fold through run_recipe, then mean +- std and pooled
        from ser_hf.training.cross_validation import run_cross_validation

        return run_cross_validation(recipe)
    from ser_hf.training.run import run_recipe

    return run_recipe(recipe)


if __name__ == "__main__":
    try:
        main()
    except Exception as err:
        from ser_hf.data.corpora.base import CorpusRootError
        from ser_hf.guards import PeerFailure
        from ser_hf.locks import OutputDirInUse, StorageFullError, is_storage_full
        from ser_hf.models.weights import MissingWeightsError

        one_line = (RecipeError, CorpusRootError, MissingWeightsError, OutputDirInUse, PeerFailure, StorageFullError)
        if isinstance(err, one_line):  # the message says what to do
            sys.exit(f"train.py: {err}")
        if is_storage_full(err):
            sys.exit(f"train.py: out of space: {str(err).splitlines()[0]}")
        raise
