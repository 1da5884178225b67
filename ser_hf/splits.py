"""Deprecated location of :mod:`ser_hf.data.splits`; kept for one release."""

import warnings

warnings.warn("ser_hf.splits moved to ser_hf.data.splits; the old path goes in the next release", DeprecationWarning,
              stacklevel=2)

from ser_hf.data.splits import *  # noqa: E402,F401,F403
