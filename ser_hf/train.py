"""Train a speech emotion recognition model, as a recipe says.

    ser-hf train --recipe quickstart                              # synthetic corpus, tiny model, CPU, minutes
    accelerate launch -m ser_hf.train --recipe hubert_bilingual   # seed 003 (from a clone: accelerate launch train.py)
    accelerate launch --config_file "$(ser-hf recipes path accelerate/multi_gpu.yaml)" -m ser_hf.train \
        --recipe hubert_bilingual learning_rate=3e-5
    ser-hf train --recipe vggish_lr_emodb                         # seed 000: frozen embeddings x classifiers
    ser-hf train --recipe seed000_emodb cross_validation=loso     # every fold, then mean +- std over folds
    ser-hf train --recipe cross_corpus_en_bn                      # train on each corpus group, test on every other
    ser-hf train --help                                           # every recipe key

The recipe's ``method`` picks the model: finetune (an HF audio encoder), image_cnn, cnn_blstm,
patch_finetune (all trained by the same Trainer path), embeddings (a table of frozen embeddings x
classifiers) or probe (a learned weighted sum of a frozen encoder's layers + a small head).

One run (ser_hf.training.run.run_once): recipe -> datasets -> model -> Trainer -> test evaluation
-> outputs, top to bottom, resumed from the last complete checkpoint when launched again.
``cross_validation`` runs it once per fold (ser_hf.training.cross_validation) and ``cross_corpus``
once per train/test pair of corpora (ser_hf.training.cross_corpus), each on a Fold of the same recipe. The repository's ``train.py`` is this
module's :func:`cli_main` in a few lines, for ``accelerate launch train.py``.
"""

from __future__ import annotations

import sys

from ser_hf.recipe import RecipeError, parse_args


def main(argv: list[str] | None = None) -> dict | None:
    """Run the recipe the command line names; the result of the run (None on ranks > 0)."""
    recipe = parse_args(sys.argv[1:] if argv is None else argv)  # --help and a bad recipe stop here
    from ser_hf.training.job import guarded_job

    # One job per output_dir (a lock); launched as several processes, they watch each other (ser_hf.guards).
    with guarded_job(recipe):
        return run(recipe)


def run(recipe) -> dict | None:
    """What the recipe asks for: a cross-corpus matrix, a cross-validation or one run on its split."""
    # datasets and the models load only now, once the recipe is known to be valid.
    if recipe.protocol.cross_corpus:  # train on each corpus (group), test on every other
        from ser_hf.training.cross_corpus import run_cross_corpus

        return run_cross_corpus(recipe)
    if recipe.protocol.cross_validation != "none":  # every fold through run_once, then mean +- std and pooled
        from ser_hf.training.cross_validation import run_cross_validation

        return run_cross_validation(recipe)
    from ser_hf.training.data import single_run
    from ser_hf.training.run import run_once

    return run_once(recipe, single_run(recipe))


def cli_main(argv: list[str] | None = None, prog: str = "train.py") -> int:
    """:func:`main` as a command: a recipe, corpus or weights problem is one line and exit status 1."""
    try:
        main(argv)
    except Exception as err:
        from ser_hf.data.corpora.base import CorpusRootError
        from ser_hf.guards import PeerFailure
        from ser_hf.locks import OutputDirInUse, StorageFullError, is_storage_full
        from ser_hf.models.weights import MissingWeightsError

        one_line = (RecipeError, CorpusRootError, MissingWeightsError, OutputDirInUse, PeerFailure, StorageFullError)
        if isinstance(err, one_line):  # the message says what to do
            print(f"{prog}: {err}", file=sys.stderr)
            return 1
        if is_storage_full(err):
            print(f"{prog}: out of space: {str(err).splitlines()[0]}", file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(prog="python -m ser_hf.train"))
