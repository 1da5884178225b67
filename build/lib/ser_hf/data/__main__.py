"""``python -m ser_hf.data prepare ...`` (see :mod:`ser_hf.data.cli`)."""

import sys

from ser_hf.data.cli import main

sys.exit(main())
