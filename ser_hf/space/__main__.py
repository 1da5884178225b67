"""``python -m ser_hf.space``: the Space on this machine (``SER_HF_SPACE_CONFIG`` / ``SER_HF_SPACE_MODELS`` choose models)."""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).with_name("app.py")), run_name="__main__")
