"""``python -m ser_hf.predict`` and ``accelerate launch -m ser_hf.predict``."""

import sys

from ser_hf.predict.cli import main

if __name__ == "__main__":
    sys.exit(main())
