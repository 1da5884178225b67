"""ser-hf: speech emotion recognition on the Hugging Face stack.

The library in layers, each importing only from the ones before it:

1. :mod:`ser_hf.data`: corpora, audio, labels, splits, augmentation, balancing, the synthetic corpus;
2. :mod:`ser_hf.models` (every trainable architecture and its builder, weight converters),
   :mod:`ser_hf.features` (frozen extractors and the embedding cache), :mod:`ser_hf.inference` (loading and
   running a trained model);
3. :mod:`ser_hf.classifiers` (scikit-learn pipelines, seed 003's MLP, the embeddings table),
   :mod:`ser_hf.evaluation` (metrics, plots, results, long clips);
4. :mod:`ser_hf.training` (a recipe's data, the Trainer, the embeddings method), :mod:`ser_hf.publish`
   (model card, Hub);
5. ``train.py`` and ``space/app.py``.

:mod:`ser_hf.recipe` (the recipe fields) and :mod:`ser_hf.registry` (names -> components) sit beside them and
import nothing heavy; so do :mod:`ser_hf.locks` (host-and-pid names, leases, the run folder's lock, full-disk errors,
checksums) and :mod:`ser_hf.guards` (the processes of a job watching each other, sync points on files). Importing ``ser_hf`` loads neither torch nor transformers; it makes ser-hf's own model
types known to the ``transformers`` Auto classes, so ``pipeline("audio-classification", model=RUN_DIR)`` loads
any saved ser-hf model.
"""

from ser_hf.registry import install_auto_class_hooks as _install_auto_class_hooks

__version__ = "0.1.0"

_install_auto_class_hooks()
