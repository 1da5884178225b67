"""The project installs itself (editable) with a ``ser-hf`` console command, so the README's commands and Python
examples work outside the repository root. Installed into a throwaway virtualenv that borrows the dependencies of
the one running the tests (never into the shared one)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("prepare", "synth", "push", "push-dataset", "train")


def test_pyproject_declares_the_console_command():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {"ser-hf": "ser_hf.cli:main"}
    assert project["build-system"]["build-backend"] == "setuptools.build_meta"
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install -q --no-deps -e ." in makefile  # the set-up step installs the project itself


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    # The dependencies come from the running environment (like --system-site-packages, for a virtualenv).
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin/python"), "install", "-q", "--no-deps",
         "--no-build-isolation", "--no-index", "-e", str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return venv


def run_outside(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**env, "PATH": f"{venv / 'bin'}:{env.get('PATH', '')}"})


def test_ser_hf_command_mirrors_the_python_m_forms(installed, tmp_path):
    top = run_outside(installed, "ser-hf", "--help", cwd=tmp_path)
    assert top.returncode == 0, top.stderr
    for command in COMMANDS:
        assert command in top.stdout
    prepare = run_outside(installed, "ser-hf", "prepare", "--help", cwd=tmp_path)
    assert prepare.returncode == 0 and "--corpus" in prepare.stdout and "--no-cache" in prepare.stdout
    synth = run_outside(installed, "ser-hf", "synth", "--help", cwd=tmp_path)
    assert synth.returncode == 0 and "--size" in synth.stdout
    push = run_outside(installed, "ser-hf", "push", "--help", cwd=tmp_path)
    assert push.returncode == 0 and "--repo-id" in push.stdout and "--dry-run" in push.stdout
    push_dataset = run_outside(installed, "ser-hf", "push-dataset", "--help", cwd=tmp_path)
    assert push_dataset.returncode == 0 and "--accept-licence" in push_dataset.stdout
    train = run_outside(installed, "ser-hf", "train", "--help", cwd=tmp_path)
    assert train.returncode == 0 and train.stdout.startswith("usage: train.py") and "quickstart" in train.stdout
    bad = run_outside(installed, "ser-hf", "prepare", "--corpus", "ravdess", "--root", str(tmp_path / "nope"),
                      "--out", str(tmp_path / "o"), cwd=tmp_path)
    assert bad.returncode == 2 and "does not exist" in bad.stderr


def test_readme_python_example_imports_outside_the_repository(installed, tmp_path):
    code = ("from ser_hf.data.corpora import load_corpus, load_corpora\n"
            "from ser_hf.data.splits import ratio_split, speaker_kfold, fold_split, leakage_report\n"
            "import ser_hf; print(ser_hf.__file__)")
    proc = run_outside(installed, str(installed / "bin/python"), "-c", code, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == str(ROOT / "ser_hf/__init__.py")
