"""Makes setuptools ship the `f1` evaluate module; load it with `evaluate.load(path)`, not by import."""
