"""The library's layout: layers without back edges, no import circles, cheap imports, lazy registration that works."""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ser_hf"

# Layer of each part: a module may import from its own layer or a lower one, never a higher one.
LAYERS = {
    "ser_hf": 0, "ser_hf.registry": 0, "ser_hf.hardware": 0,
    "ser_hf.data": 1,
    "ser_hf.recipe": 2, "ser_hf.models": 2, "ser_hf.features": 2, "ser_hf.inference": 2,
    "ser_hf.classifiers": 3, "ser_hf.evaluation": 3,
    "ser_hf.training": 4, "ser_hf.publish": 4, "ser_hf.export": 4, "ser_hf.predict": 4,
    "ser_hf.cli": 5,  # the `ser-hf` console command dispatches to every command line: the top, like train.py
    # deprecated re-exports of moved names, kept for one release: above everything they point to
    "ser_hf.baselines": 5, "ser_hf.hub": 5, "ser_hf.synth": 5, "ser_hf.corpora": 5, "ser_hf.splits": 5,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> int:
    best = max((k for k in LAYERS if module == k or module.startswith(k + ".")), key=len)
    return LAYERS[best]


def ser_hf_imports(path: Path) -> set[str]:
    """Every ser_hf module ``path`` imports, at module level or inside a function (lazy imports count too)."""
    tree = ast.parse(path.read_text())
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("ser_hf"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("ser_hf"):
                found.add(target)
                found.update(f"{target}.{a.name}" for a in node.names)  # "from pkg import submodule"
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        graph[name] = {m for m in ser_hf_imports(path) if m in modules and m != name}
    return graph


def test_no_import_from_a_higher_layer():
    back_edges = [f"{a} -> {b}" for a, targets in import_graph().items() for b in targets
                  if layer_of(b) > layer_of(a)]
    assert not back_edges, "imports into a higher layer:\n" + "\n".join(sorted(back_edges))


def test_no_import_circles():
    graph = import_graph()
    # a package's __init__ is not an edge to its own submodules' importers: drop parent-package edges
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


HEAVY = ("torch", "transformers", "datasets", "sklearn", "skops", "opensmile", "gradio", "librosa")


def test_import_ser_hf_and_train_help_load_nothing_heavy():
    loaded = _run(f"import sys, ser_hf; print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    assert loaded == "[]"
    loaded = _run(
        "import runpy, sys\n"
        "sys.argv = ['train.py', '--help']\n"
        "try:\n    runpy.run_path('train.py', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    assert loaded.splitlines()[0].startswith("usage: train.py") and loaded.splitlines()[-1] == "[]"


def test_registry_entries_resolve_and_model_types_match():
    from ser_hf.registry import CLASSIFIERS, EXTRACTORS, METHODS, MODEL_TYPES, resolve

    for registry in (METHODS, EXTRACTORS, CLASSIFIERS):
        for name, target in registry.items():
            assert callable(resolve(target)), f"{name}: {target}"
    for model_type, entry in MODEL_TYPES.items():
        assert resolve(entry.config).model_type == model_type
        assert resolve(entry.feature_extractor).__name__ == entry.feature_extractor.split(":")[1]


@pytest.mark.parametrize("transformers_first", [False, True])
def test_saved_ser_hf_model_loads_with_pipeline_after_import_ser_hf(tmp_path, transformers_first):
    """A saved CNN-BLSTM (a ser-hf model type) loads in a fresh process after a bare ``import ser_hf``, whether
    transformers' Auto mappings were imported before or after it."""
    from ser_hf.models.cnn_blstm import CNNBLSTMAttentionConfig, CNNBLSTMAttentionForAudioClassification
    from ser_hf.models.spectrogram import SpectrogramImageFeatureExtractor

    labels = ["angry", "happy", "sad"]
    config = CNNBLSTMAttentionConfig(num_labels=3, id2label=dict(enumerate(labels)),
                                     label2id={n: i for i, n in enumerate(labels)}, num_mel_bins=32,
                                     conv_channels=(8, 16), lstm_hidden_size=16, attention_size=16)
    CNNBLSTMAttentionForAudioClassification(config).save_pretrained(tmp_path)
    SpectrogramImageFeatureExtractor(clip_seconds=1.0, n_mels=32, n_mfcc=32, image_size=None, channels=1,
                                     normalize="standard").save_pretrained(tmp_path)
    before = "import transformers.models.auto.feature_extraction_auto, transformers.models.auto.configuration_auto\n"
    out = _run(
        (before if transformers_first else "")
        + "import numpy as np, sys, ser_hf\n"
        + "assert 'ser_hf.models.cnn_blstm' not in sys.modules\n"
        + "from transformers import pipeline\n"
        + f"clf = pipeline('audio-classification', model={str(tmp_path)!r})\n"
        + "print(sorted(p['label'] for p in clf(np.zeros(16000, dtype=np.float32))))")
    assert out == str(sorted(labels))


def test_deprecated_paths_still_work():
    from ser_hf.classifiers.pipelines import load_classifier

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from ser_hf.baselines import load_classifier as old
    assert old is load_classifier
    assert any(issubclass(w.category, DeprecationWarning) and "ser_hf.classifiers" in str(w.message) for w in caught)
    out = _run("import warnings; warnings.simplefilter('ignore'); import ser_hf.hub as h; "
               "from ser_hf.publish.hub import push_run; print(h.push_run is push_run)")
    assert out == "True"
    result = subprocess.run([sys.executable, "-m", "ser_hf.synth", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and "--corpus" in result.stdout


def test_loading_a_finetuned_model_imports_no_baseline_machinery(tmp_path):
    """The Space's model loading pulls in what a HuBERT classifier needs, not scikit-learn, skops or openSMILE."""
    from ser_hf.models import build_model

    model, extractor = build_model(["angry", "happy", "sad"], tiny_model="hubert")
    model.save_pretrained(tmp_path)
    extractor.save_pretrained(tmp_path)
    loaded = _run("import sys\n"
                  "from ser_hf.inference import load_model\n"
                  f"m = load_model('tiny', {str(tmp_path)!r})\n"
                  "assert m.labels == ['angry', 'happy', 'sad'], m.labels\n"
                  "print(sorted(k for k in ('sklearn', 'skops', 'opensmile', 'librosa', 'ser_hf.models.image_cnn', "
                  "'ser_hf.features.extract', 'ser_hf.classifiers.pipelines') if k in sys.modules))")
    assert loaded == "[]"
