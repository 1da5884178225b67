"""A deployable Gradio Space assembled from ``ser_hf/space/`` (package data) and the parts of ``ser_hf`` its app reaches.

    python -m ser_hf.publish push-space --repo-id ORG/SPACE --model ORG/NAME[@REVISION] [--model name=ORG/OTHER@REV] \
        [--private] [--dry-run --staging DIR]

The staged folder is self-contained: ``app.py``; ``README.md`` with the Space front matter (gradio ``sdk_version``,
the model repos under ``models:``); ``config.yaml`` naming each model by Hub id and revision (the other settings
come from ``ser_hf/space/config.yaml``); ``ser_hf/`` holding every module ``app.py`` reaches: its imports, followed
through theirs, imports inside functions included, so no ``ser_hf`` import can fail in the Space; and
``requirements.txt`` pinning, at the versions installed here, every
third-party package imported by ``app.py`` or at module level by a staged module. A third-party import that only
a function makes (the metrics behind ``evaluate_long_clip``) is left out of the pins and logged: the Space never calls
those functions, and pinning them would install the training stack.
``--include MODULE`` adds a module (and what it reaches): ``ser_hf.models.cnn_blstm`` for a Space serving one of
ser-hf's own model types, which ``AutoModelForAudioClassification`` imports by name (:data:`ser_hf.registry.MODEL_TYPES`).
"""

from __future__ import annotations

import ast
import logging
import shutil
import sys
from importlib import metadata, resources
from pathlib import Path

import yaml

logger = logging.getLogger(__name__)

LIBRARY_ROOT = Path(str(resources.files("ser_hf"))).parent  # the folder holding the ser_hf package, installed or cloned
SPACE_SOURCE = Path(str(resources.files("ser_hf") / "space"))
# gradio comes from the front matter's sdk_version on the Hub, but a local virtualenv built from
# requirements.txt alone needs it too: pinned at the same version.
ALWAYS = ("gradio",)


def _imports(path: Path, module_level_only: bool) -> set[str]:
    """Absolute imports of ``path``: at module level (incl. under if/try there), or everywhere."""
    tree = ast.parse(path.read_text())
    nodes = []
    if module_level_only:
        todo = list(tree.body)
        while todo:
            node = todo.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
                continue
            nodes.append(node)
            todo.extend(ast.iter_child_nodes(node))
    else:
        nodes = list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def _module_file(name: str) -> Path | None:
    base = LIBRARY_ROOT / Path(*name.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return base.with_suffix(".py") if base.with_suffix(".py").is_file() else None


def library_closure(app: Path, include: tuple[str, ...] = ()) -> tuple[list[Path], set[str], set[str]]:
    """The ``ser_hf`` files the app reaches (every parent package too, imports inside functions followed), the
    third-party top-level packages it needs (the app's own imports, and the module-level imports of every module it
    loads whatever it calls: those reached through module-level imports) and the third-party packages that only
    functions import (directly, or through a module that only a function imports)."""
    files: set[Path] = set()
    app_imports = _imports(app, module_level_only=False)
    needed = {m.split(".")[0] for m in app_imports if not m.startswith("ser_hf")}
    lazy: set[str] = set()
    # (module, loaded whenever the app runs?): the app's own imports and --include count as always loaded
    todo = [(m, True) for m in app_imports if m.startswith("ser_hf")] + [(m, True) for m in include]
    always: set[Path] = set()
    while todo:
        name, eager = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            path = _module_file(".".join(parts[:i]))
            if path is None or (path in files and (path in always or not eager)):
                continue
            files.add(path)
            if eager:
                always.add(path)
            module_level = _imports(path, module_level_only=True)
            for imported in _imports(path, module_level_only=False):
                at_load = eager and imported in module_level
                if imported.startswith("ser_hf"):
                    todo.append((imported, at_load))  # lazy ones too: a missing ser_hf module would fail in the Space
                else:
                    (needed if at_load else lazy).add(imported.split(".")[0])
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    needed -= stdlib
    return sorted(files), needed, lazy - needed - stdlib


def pinned_requirements(imports: set[str]) -> list[str]:
    """``name==version`` lines for ``imports`` (top-level import names), at the versions installed here; an import
    that no installed distribution provides is an error naming it."""
    providers = metadata.packages_distributions()
    lines, missing = [], []
    for name in sorted(imports | set(ALWAYS)):
        dists = providers.get(name)
        if not dists:
            missing.append(name)
            continue
        # a local build tag (torch 2.13.0+cpu) names no release on PyPI, where the Space installs from
        lines.append(f"{dists[0]}=={metadata.version(dists[0]).split('+')[0]}")
    if missing:
        raise ValueError(f"the Space imports {', '.join(missing)}, which no installed package provides: install it first")
    return sorted(set(lines), key=str.lower)


def parse_models(specs: list[str]) -> dict[str, str]:
    """``ORG/NAME[@REV]`` or ``name=ORG/NAME[@REV]`` -> {display name: source}; names must be unique."""
    models: dict[str, str] = {}
    for spec in specs:
        name, _, source = spec.rpartition("=") if "=" in spec else ("", "", spec)
        repo = source.split("@", 1)[0]
        if repo.count("/") != 1 or not all(repo.split("/")):
            raise ValueError(f"--model {spec!r}: expected ORG/NAME or ORG/NAME@REVISION (optionally name=...)")
        name = name or repo.split("/")[1]
        if name in models:
            raise ValueError(f"--model {spec!r}: the name {name!r} is given twice; use name=ORG/NAME to tell them apart")
        models[name] = source
    if not models:
        raise ValueError("push-space needs at least one --model ORG/NAME[@REVISION]")
    return models


def front_matter(repo_id: str, models: dict[str, str]) -> str:
    import gradio

    meta = {
        "title": f"Speech emotion recognition: {repo_id.split('/')[-1]}"[:60],
        "emoji": "🎙️", "colorFrom": "indigo", "colorTo": "pink",
        "sdk": "gradio", "sdk_version": gradio.__version__, "python_version": f"{sys.version_info.major}.{sys.version_info.minor}",
        "app_file": "app.py", "pinned": False, "license": "apache-2.0",
        "models": sorted({s.split("@", 1)[0] for s in models.values()}),
        "short_description": "Emotion in speech from a file, the microphone or a long clip",
    }
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def stage_space(repo_id: str, models: dict[str, str], staging: str | Path, include: tuple[str, ...] = ()) -> list[str]:
    """Write the Space into ``staging``; returns the staged files (relative paths)."""
    staging = Path(staging)
    staging.mkdir(parents=True, exist_ok=True)
    app = SPACE_SOURCE / "app.py"
    files, imports, lazy = library_closure(app, include)
    shutil.copy2(app, staging / "app.py")
    for path in files:
        target = staging / path.relative_to(LIBRARY_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    config = yaml.safe_load((SPACE_SOURCE / "config.yaml").read_text())
    config["models"] = dict(models)
    (staging / "config.yaml").write_text(
        "# Written by `python -m ser_hf.publish push-space`: Hub model ids, pinned to a revision where one was given.\n"
        + yaml.safe_dump(config, sort_keys=False)
    )
    (staging / "requirements.txt").write_text(
        "# Pinned by `ser-hf push-space` at the versions it ran with: what the app and its modules import.\n"
        + "\n".join(pinned_requirements(imports)) + "\n"
    )
    if lazy:
        logger.info("not pinned (imported only inside functions the Space does not call): %s", ", ".join(sorted(lazy)))
    lines = "\n".join(f"- `{name}`: [{src}](https://huggingface.co/{src.split('@', 1)[0]})"
                      + (f" at revision `{src.split('@', 1)[1]}`" if "@" in src else "") for name, src in models.items())
    body = (SPACE_SOURCE / "README.md").read_text().split("---\n", 2)[-1]
    body = body.split("\n## Deploy", 1)[0].rstrip() + "\n"  # the repository-only part stays behind
    (staging / "README.md").write_text(front_matter(repo_id, models) + body + f"\n## Models in this Space\n\n{lines}\n\n"
                                       "Emotion recognition from acted speech transfers poorly to natural speech; "
                                       "do not use it to make decisions about people.\n")
    staged = sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file())
    logger.info("staged the Space %s: %d files, models %s", repo_id, len(staged), models)
    return staged
