"""Makes setuptools ship the `accuracy` evaluate module; load it with `evaluate.load(path)`, not by import."""
