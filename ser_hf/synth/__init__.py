"""Deprecated location of :mod:`ser_hf.data.synth` (``python -m ser_hf.data.synth``); kept for one release."""

import warnings

warnings.warn("ser_hf.synth moved to ser_hf.data.synth (command: python -m ser_hf.data.synth); "
              "the old path goes in the next release", DeprecationWarning, stacklevel=2)

from ser_hf.data.synth import *  # noqa: E402,F401,F403
from ser_hf.data.synth import CORPORA, ensure_synthetic, generate, render_long_clip  # noqa: E402,F401
