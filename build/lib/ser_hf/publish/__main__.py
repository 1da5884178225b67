"""``python -m ser_hf.publish push ...`` / ``push-dataset ...`` (see :mod:`ser_hf.publish.hub`)."""

import sys

from ser_hf.publish.hub import main

sys.exit(main())
