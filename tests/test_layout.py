"""The library's layout: layers without back edges, no import circles, cheap imports, lazy registration that works."""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ser_hf"

# The layer order, stated once in the package (ser_hf.LAYERS and its docstring).
from ser_hf import LAYERS  # noqa: E402


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

    for name, method in METHODS.items():
        assert method.kind in ("trainer", "frozen"), name
        assert callable(resolve(method.build)) and dataclasses.is_dataclass(resolve(method.config)), name
    for name, target in EXTRACTORS.items():
        assert callable(resolve(target)), f"{name}: {target}"
    for name, entry in CLASSIFIERS.items():
        assert callable(resolve(entry.factory)), f"{name}: {entry.factory}"
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


def test_tests_mirror_the_package():
    """Each folder of tests/ is the tests of the ser_hf package of its name; no test module is named after a
    package that no longer exists (the baselines package went in 0.1)."""
    tests = ROOT / "tests"
    for folder in (p for p in tests.iterdir() if p.is_dir() and (p / "__init__.py").is_file()):
        assert (PACKAGE / folder.name).is_dir(), f"tests/{folder.name}/ has no ser_hf/{folder.name}/ to test"
    for path in tests.rglob("test_*.py"):
        assert not path.stem.startswith("test_baselines"), f"{path}: the baselines package is gone"
