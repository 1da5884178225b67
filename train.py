#!/usr/bin/env python
"""Train a speech emotion recognition model, as a recipe says (the code is :mod:`ser_hf.train`).

    python train.py --recipe quickstart                          # synthetic corpus, tiny model, CPU, minutes
    accelerate launch train.py --recipe hubert_bilingual         # seed 003
    python train.py --help                                       # every recipe key

Installed without this repository, the same is ``ser-hf train ...`` or ``accelerate launch -m ser_hf.train ...``.
"""

import sys

from ser_hf.train import cli_main, main  # noqa: F401  (main: train.main([...]) in tests and notebooks)

if __name__ == "__main__":
    sys.exit(cli_main())
