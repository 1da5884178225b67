"""Deprecated: ``python -m ser_hf.data.synth``."""

import sys

from ser_hf.data.synth.__main__ import main

sys.exit(main())
