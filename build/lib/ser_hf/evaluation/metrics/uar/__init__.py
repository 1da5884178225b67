"""Makes setuptools ship the `uar` evaluate module; load it with `evaluate.load(path)`, not by import."""
