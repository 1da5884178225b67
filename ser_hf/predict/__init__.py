"""``ser-hf predict``: trained models applied to one's own recordings.

``python -m ser_hf.predict INPUTS --model M --out OUT`` (or ``ser-hf predict``; ``accelerate launch -m
ser_hf.predict`` for several processes). The parts: :mod:`~ser_hf.predict.options` (the names, defaults and
columns), :mod:`~ser_hf.predict.inputs` (files, folders, globs, manifests, a prepared split),
:mod:`~ser_hf.predict.segments` (whole clips, windows, voice activity), :mod:`~ser_hf.predict.models` (several models,
batched by length), :mod:`~ser_hf.predict.run` (decoding workers, batching, rows), :mod:`~ser_hf.predict.output`
(journals, resume, the tables), :mod:`~ser_hf.predict.report` (merge, metrics) and :mod:`~ser_hf.predict.cli`.
"""
