"""Deprecated location of :mod:`ser_hf.data.corpora`; kept for one release."""

import warnings

warnings.warn("ser_hf.corpora moved to ser_hf.data.corpora; the old path goes in the next release", DeprecationWarning,
              stacklevel=2)

from ser_hf.data.corpora import *  # noqa: E402,F401,F403
