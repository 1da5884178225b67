"""The one registry of ser-hf's named parts: every name a user types, defined once, and what it gives.

Each entry names its implementation as ``"module:attribute"``, imported on first use, so nothing here imports more
than the standard library and ``import ser_hf`` stays fast. The recipe's checks, the builders, the tables and the card
all read these names from here; adding a part is one module and one line below (see CONTRIBUTING.md).

=====================  ======================================================================================
registry               what a name gives
=====================  ======================================================================================
:data:`METHODS`        a recipe's ``method``: its kind, its recipe section, its builder (or runner)
:data:`EXTRACTORS`     an embedding extractor (``build_extractor(name)``); ``hf:<id>`` is a prefix entry
:data:`CLASSIFIERS`    a classifier factory (``make_classifier(name)``), its file format and trusted types
:data:`PROBE_HEADS`    the head ``method: probe`` trains on a frozen encoder (a recipe's ``probe_head``)
:data:`METRICS`        a headline metric: the shipped ``evaluate`` module and arguments that compute it
:data:`MODEL_TYPES`    ser-hf's own ``transformers`` model types: their config and feature-extractor classes
choice lists           :data:`BALANCE_METHODS`, :data:`AUGMENT_PRESETS`, :data:`SPECTROGRAM_KINDS`, :data:`POOLINGS`,
                       :data:`CNN_BLSTM_VARIANTS`, :data:`FREEZE_RULE`; and :data:`SAMPLING_RATE`
=====================  ======================================================================================

ser-hf's model types still load with ``AutoConfig`` / ``AutoModelForAudioClassification`` / ``AutoFeatureExtractor``
/ ``pipeline("audio-classification")`` after ``import ser_hf``: :func:`install_auto_class_hooks` puts a stand-in
for each config and feature-extractor class into ``transformers``' Auto mappings as soon as those mappings are
imported (now, if they already are). The first use of a stand-in imports the real module, whose
``AutoConfig.register`` / ``AutoModel*.register`` calls then replace it with the real classes.
"""

from __future__ import annotations

import importlib
import importlib.abc
import re
import sys
from dataclasses import dataclass, field
from typing import Any

# Every prepared corpus, extractor and model runs at this rate.
SAMPLING_RATE = 16000


@dataclass(frozen=True)
class Method:
    """A recipe ``method``. ``kind``: ``trainer`` (a ``transformers`` model trained by the Trainer; ``build`` returns
    the model and its feature extractor) or ``frozen`` (frozen features and small classifiers, no Trainer; ``build``
    runs the whole method). ``config``: its recipe section, a torch-free dataclass."""

    kind: str
    config: str
    build: str


METHODS: dict[str, Method] = {
    "finetune": Method("trainer", "ser_hf.recipe_sections:FinetuneConfig", "ser_hf.models.build:build_finetune"),
    "image_cnn": Method("trainer", "ser_hf.recipe_sections:ImageCNNConfig", "ser_hf.models.build:build_image_cnn"),
    "cnn_blstm": Method("trainer", "ser_hf.recipe_sections:CNNBLSTMConfig", "ser_hf.models.build:build_cnn_blstm"),
    "patch_finetune": Method("trainer", "ser_hf.recipe_sections:PatchFinetuneConfig",
                             "ser_hf.models.build:build_patch_finetune"),
    # frozen features x classifiers: one extraction, then classifiers on the main process; no early-stopping
    # validation set is carved for them
    "embeddings": Method("frozen", "ser_hf.recipe_sections:EmbeddingsConfig", "ser_hf.training.embeddings:run_embeddings_recipe"),
    "probe": Method("frozen", "ser_hf.recipe_sections:ProbeConfig", "ser_hf.training.probe:run_probe_recipe"),
}

FROZEN_FEATURE_METHODS = tuple(name for name, m in METHODS.items() if m.kind == "frozen")

# method: probe, the head on the frozen encoder (a recipe's probe_head)
PROBE_HEADS: dict[str, str] = {
    "weighted_layers": "ser_hf.training.probe:run_weighted_layer_probe",  # softmax-weighted layers + linear head
    "emobox": "ser_hf.training.emobox_probe:run_emobox_probe",  # EmoBox's head on one layer's frames
}

EXTRACTORS: dict[str, str] = {
    "vggish": "ser_hf.features.networks:VGGishExtractor",
    "yamnet": "ser_hf.features.networks:YAMNetExtractor",
    "egemaps": "ser_hf.features.handcrafted:egemaps_extractor",
    "compare": "ser_hf.features.handcrafted:compare_extractor",
    "mfcc": "ser_hf.features.handcrafted:MFCCExtractor",
    "hf:": "ser_hf.features.encoder_layers:HFEncoderExtractor",  # hf:<model id or folder>
}


@dataclass(frozen=True)
class Classifier:
    """A classifier of the embeddings table. ``factory(seed=, calibration_folds=)`` gives an unfitted estimator,
    wrapped in a scaling pipeline and saved with skops (``trusted``: the types of a fitted one beyond skops'
    default trusted set); ``pipeline=False``: the factory is a class with its own ``fit``/``save_pretrained``
    (seed 003's MLP grid), saved as a folder."""

    factory: str
    pipeline: bool = True
    trusted: tuple[str, ...] = ()


_CALIBRATED = ("sklearn.calibration._CalibratedClassifier", "sklearn.calibration._SigmoidCalibration")
CLASSIFIERS: dict[str, Classifier] = {
    "svm_linear": Classifier("ser_hf.classifiers.pipelines:svm_linear", trusted=_CALIBRATED),
    "svm_rbf": Classifier("ser_hf.classifiers.pipelines:svm_rbf", trusted=_CALIBRATED),
    "knn": Classifier("ser_hf.classifiers.pipelines:knn", trusted=(
        "sklearn.metrics._dist_metrics.EuclideanDistance64", "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree")),
    "random_forest": Classifier("ser_hf.classifiers.pipelines:random_forest", trusted=("sklearn.tree._tree.Tree",)),
    "logistic_regression": Classifier("ser_hf.classifiers.pipelines:logistic_regression"),
    "mlp": Classifier("ser_hf.classifiers.mlp:MLPClassifier", pipeline=False),  # seed 003's MLP and its grid search
}


@dataclass(frozen=True)
class Metric:
    """A headline metric: the ``evaluate`` module computing it (a shipped one, ``ser_hf/evaluation/metrics/<module>/``,
    or the folder of another), the arguments it takes, the key of its result, and its name in tables and cards."""

    module: str
    display: str
    arguments: dict = field(default_factory=dict)
    result_key: str = ""

    @property
    def key(self) -> str:
        return self.result_key or self.module.rstrip("/").rsplit("/", 1)[-1]


# The order is the order of every table; the first is what "accuracy" means on the Hub.
METRICS: dict[str, Metric] = {
    "accuracy": Metric("accuracy", "accuracy"),
    "uar": Metric("uar", "UAR"),  # unweighted average recall: the speech-emotion field's headline on unbalanced data
    "macro_f1": Metric("f1", "macro F1", {"average": "macro"}),
    "weighted_f1": Metric("f1", "weighted F1", {"average": "weighted"}),
}

# Choice lists of recipe keys, read by the recipe's checks and by the code that implements each choice.
BALANCE_METHODS = ("none", "harmonic", "undersample", "oversample", "class_weights")
AUGMENT_PRESETS = ("seed003", "seed004", "seed004_images")
SPECTROGRAM_KINDS = ("mel", "mfcc")
POOLINGS = ("mean", "frames")  # of frozen embeddings: one row per file, or one per frame
# seed 004's models: which blocks of the CNN-BLSTM each variant keeps
CNN_BLSTM_VARIANTS: dict[str, dict[str, bool]] = {
    "cnn": {"use_cnn": True, "use_lstm": False, "bidirectional": False, "use_attention": False},
    "lstm": {"use_cnn": False, "use_lstm": True, "bidirectional": False, "use_attention": False},
    "cnn_lstm": {"use_cnn": True, "use_lstm": True, "bidirectional": False, "use_attention": False},
    "cnn_blstm": {"use_cnn": True, "use_lstm": True, "bidirectional": True, "use_attention": False},
    "cnn_blstm_attention": {"use_cnn": True, "use_lstm": True, "bidirectional": True, "use_attention": True},
}
# image_cnn / patch_finetune freezing: none, all, or a count of blocks / layers from either end
FREEZE_RULE = re.compile(r"^(none|all|(last_blocks|last_layers|first_layers):[1-9]\d*)$")


@dataclass(frozen=True)
class ModelType:
    """A ``transformers`` model type defined by ser-hf: where its config and feature-extractor classes live."""

    config: str
    feature_extractor: str


MODEL_TYPES: dict[str, ModelType] = {
    "vggish": ModelType("ser_hf.models.vggish:VGGishConfig", "ser_hf.models.patch_frontend:LogMelPatchFeatureExtractor"),
    "yamnet": ModelType("ser_hf.models.yamnet:YAMNetConfig", "ser_hf.models.patch_frontend:LogMelPatchFeatureExtractor"),
    "spectrogram_cnn": ModelType("ser_hf.models.image_cnn:SpectrogramCNNConfig",
                                 "ser_hf.models.spectrogram:SpectrogramImageFeatureExtractor"),
    "cnn_blstm_attention": ModelType("ser_hf.models.cnn_blstm:CNNBLSTMAttentionConfig",
                                     "ser_hf.models.spectrogram:SpectrogramImageFeatureExtractor"),
    "patch_embedding_classifier": ModelType("ser_hf.models.patch_classifier:PatchClassifierConfig",
                                            "ser_hf.models.patch_classifier:PatchClassifierFeatureExtractor"),
}


def resolve(target: str) -> Any:
    """The object a ``"module:attribute"`` entry names, importing its module."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def lookup(registry: dict[str, str], name: str, what: str) -> Any:
    """``registry[name]`` resolved (prefix entries such as ``hf:`` match by prefix); unknown names raise ``ValueError``."""
    target = registry.get(name)
    if target is None:
        target = next((t for key, t in registry.items() if key.endswith(":") and name.startswith(key)), None)
    if target is None:
        known = ", ".join(k + "<...>" if k.endswith(":") else k for k in registry)
        raise ValueError(f"unknown {what} {name!r}; known: {known}")
    return resolve(target)


# ---------------------------------------------------------------- transformers Auto classes
class LazyClass:
    """Stands in for a class in a ``transformers`` Auto mapping until first use, then delegates to the real one."""

    def __init__(self, target: str):
        self._target = target
        self.__module__, _, self.__name__ = target.partition(":")
        self.__qualname__ = self.__name__

    def resolve(self) -> type:
        return resolve(self._target)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy / pickle / inspect probes must not import a model module
            raise AttributeError(name)
        return getattr(self.resolve(), name)

    def __call__(self, *args, **kwargs):
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<lazy {self._target}>"


_CONFIG_STANDINS: dict[str, LazyClass] = {}


def _config_standin(model_type: str) -> LazyClass:
    return _CONFIG_STANDINS.setdefault(model_type, LazyClass(MODEL_TYPES[model_type].config))


def _register_configs(configuration_auto) -> None:
    for model_type in MODEL_TYPES:
        if model_type not in configuration_auto.CONFIG_MAPPING._extra_content:  # a real class stays
            configuration_auto.CONFIG_MAPPING.register(model_type, _config_standin(model_type), exist_ok=True)


def _register_feature_extractors(feature_extraction_auto) -> None:
    # AutoFeatureExtractor finds a class by the name saved in preprocessor_config.json among these values.
    for model_type, entry in MODEL_TYPES.items():
        feature_extraction_auto.FEATURE_EXTRACTOR_MAPPING.register(
            _config_standin(model_type), LazyClass(entry.feature_extractor), exist_ok=True)


_HOOKS = {
    "transformers.models.auto.configuration_auto": _register_configs,
    "transformers.models.auto.feature_extraction_auto": _register_feature_extractors,
}


class _HookedLoader(importlib.abc.Loader):
    """The module's own loader, plus a call once the module has run."""

    def __init__(self, loader, hook):
        self._loader, self._hook = loader, hook

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        self._hook(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename, ... as the real loader has them
        return getattr(self._loader, name)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs a hook right after one of :data:`_HOOKS`' modules is imported."""

    def find_spec(self, fullname, path, target=None):
        hook = _HOOKS.get(fullname)
        if hook is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _HookedLoader(spec.loader, hook)
                return spec
        return None


def install_auto_class_hooks() -> None:
    """Make ser-hf's model types known to ``transformers``' Auto classes (idempotent, imports nothing heavy)."""
    for name, hook in _HOOKS.items():
        if name in sys.modules:
            hook(sys.modules[name])
    if not any(isinstance(finder, _AfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport())


# ---------------------------------------------------------------- lazy package attributes
def lazy_attributes(package: str, exports: dict[str, str], deprecated: bool = False):
    """A module ``__getattr__`` (PEP 562) giving each name of ``exports`` (name -> module, relative to ``package``
    unless it starts with ``ser_hf.``) from its module on first access, so importing the package stays cheap.
    ``deprecated=True`` warns that the name moved (old import paths kept for one release)."""

    def __getattr__(name: str):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = module if module.startswith("ser_hf.") else f"{package}.{module}"
        if deprecated:
            import warnings

            warnings.warn(f"{package}.{name} moved to {module}.{name}; {package} goes in the next release",
                          DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(module), name)

    return __getattr__
