"""ser-hf: speech emotion recognition on the Hugging Face stack.

The library in layers (:data:`LAYERS`, which ``tests/test_layout.py`` enforces): a module imports only from its own
layer or lower ones, lazy imports inside functions included, and nothing imports in a circle.

0. :mod:`ser_hf.registry` (every name a user types -> its component), :mod:`ser_hf.hardware`,
   :mod:`ser_hf.recipe_fields` (the typed recipe key), :mod:`ser_hf.locks` (host-and-pid names, leases, the run
   folder's lock, full-disk errors, checksums), :mod:`ser_hf.guards` (the processes of a job watching each other,
   sync points on files): the standard library only;
1. :mod:`ser_hf.data`: corpora, audio, labels, splits, augmentation, balancing, the synthetic corpus;
2. :mod:`ser_hf.models` (every trainable architecture and its builder, weight converters),
   :mod:`ser_hf.features` (frozen extractors and the embedding cache), :mod:`ser_hf.inference` (a trained model's
   logits as ``pipeline()`` computes them; the Space's models), :mod:`ser_hf.recipe_sections` (the recipe's sections);
3. :mod:`ser_hf.classifiers` (scikit-learn pipelines, seed 003's MLP, the embeddings table),
   :mod:`ser_hf.evaluation` (metrics, plots, results, long clips);
4. :mod:`ser_hf.recipe` (a recipe file parsed into its sections), :mod:`ser_hf.training` (the training section, a
   run on a fold, the Trainer, the frozen-feature methods, cross-validation, cross-corpus), :mod:`ser_hf.publish`
   (model card, Hub, Space staging), :mod:`ser_hf.export`, :mod:`ser_hf.predict` (``ser-hf predict``);
5. the commands: :mod:`ser_hf.cli` (``ser-hf``), :mod:`ser_hf.train` (``train.py``), :mod:`ser_hf.space` (the Space).

Importing ``ser_hf`` loads neither torch nor transformers; it makes ser-hf's own model types known to the
``transformers`` Auto classes, so ``pipeline("audio-classification", model=RUN_DIR)`` loads any saved ser-hf model.
"""

from ser_hf.registry import install_auto_class_hooks as _install_auto_class_hooks

__version__ = "0.2.0"

# The layer of each part (a module belongs to the longest entry that names it or a package above it).
LAYERS: dict[str, int] = {
    "ser_hf": 0, "ser_hf.registry": 0, "ser_hf.hardware": 0, "ser_hf.recipe_fields": 0, "ser_hf.locks": 0,
    "ser_hf.guards": 0,
    "ser_hf.data": 1,
    "ser_hf.models": 2, "ser_hf.features": 2, "ser_hf.inference": 2, "ser_hf.recipe_sections": 2,
    "ser_hf.classifiers": 3, "ser_hf.evaluation": 3,
    "ser_hf.recipe": 4, "ser_hf.training": 4, "ser_hf.publish": 4, "ser_hf.export": 4, "ser_hf.predict": 4,
    "ser_hf.cli": 5, "ser_hf.train": 5, "ser_hf.space": 5,
}

_install_auto_class_hooks()
