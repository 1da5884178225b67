"""The Gradio Space (``app.py``, its ``config.yaml``, ``README.md`` with the Space front matter and ``requirements.txt``),
shipped inside the package: ``python -m ser_hf.space`` runs it locally, ``ser-hf push-space`` stages it with the library
modules it reaches (:mod:`ser_hf.publish.space`). Importing this package loads nothing: ``app.py`` reads its config and
builds the interface when run."""
