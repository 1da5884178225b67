"""Publishing: the model card (:mod:`~ser_hf.publish.cards`) and the Hub (:mod:`~ser_hf.publish.hub`):
``python -m ser_hf.publish push RUN --repo-id ORG/NAME``."""
