"""Deprecated location of :mod:`ser_hf.publish.hub` (``python -m ser_hf.publish``); kept for one release."""

import sys
import warnings

warnings.warn("ser_hf.hub moved to ser_hf.publish.hub (command: python -m ser_hf.publish); "
              "the old path goes in the next release", DeprecationWarning, stacklevel=2)

from ser_hf.publish.hub import PublishError, UploadPlan, push_dataset, stage_run, upload  # noqa: E402,F401
from ser_hf.publish.hub import main, push_run  # noqa: E402,F401

if __name__ == "__main__":
    sys.exit(main())
