"""Model card and Hub upload of a real (tiny) training run, up to the network call.

The Hub cannot be reached from here: the card is rendered and parsed back with huggingface_hub,
the upload folder is staged for real, the upload logic runs against ``FakeHub`` (HfApi's calls kept as
folders on disk, one per repo and branch), and one upload is attempted against a closed local port to
check that it fails with a clear message that does not contain the token.
"""

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from huggingface_hub import metadata_load

from ser_hf.publish.hub import PublishError, main as hub_main, push_dataset, push_run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "quickstart"
    cmd = [
        sys.executable, "train.py", "--recipe", "quickstart", "corpora=[ravdess,subesco]", "synthetic_size=tiny",
        "max_steps=6", "eval_strategy=steps", "eval_steps=3", "logging_steps=3", f"output_dir={out}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_card_metadata_parses_back_with_real_numbers(run_dir, tmp_path):
    plan = push_run(run_dir, "someone/ser-quickstart", dry_run=True, staging=tmp_path / "stage")
    readme = tmp_path / "stage" / "README.md"
    meta = metadata_load(readme)
    assert meta["pipeline_tag"] == "audio-classification" and meta["library_name"] == "transformers"
    results = json.loads((run_dir / "results.json").read_text())
    test = results.get("test", results)
    index = meta["model-index"][0]["results"]
    corpora = {r["dataset"]["config"] for r in index}
    assert corpora == {"ravdess+subesco", "ravdess", "subesco"}  # the whole test split, then one result per corpus
    overall = next(r for r in index if r["dataset"]["config"] == "ravdess+subesco")
    assert next(m["value"] for m in overall["metrics"] if m["name"] == "Accuracy") == pytest.approx(test["accuracy"], abs=1e-4)
    for r in index:
        if r is overall:
            continue
        assert r["task"]["type"] == "audio-classification" and r["dataset"]["split"] == "test"
        assert {m["name"] for m in r["metrics"]} == {"Accuracy", "Weighted F1", "Macro F1", "UAR"}
        corpus_scores = test["per_group"]["corpus"][r["dataset"]["config"]]
        accuracy = next(m["value"] for m in r["metrics"] if m["name"] == "Accuracy")
        assert accuracy == pytest.approx(corpus_scores["accuracy"], abs=1e-4)
    text = readme.read_text()
    for section in ("## Labels", "## Training data", "## Split protocol and leakage", "## Evaluation results",
                    "## Training procedure", "## Intended use and limitations", "## Citations", "Speaker overlap between parts"):
        assert section in text, section
    assert "More information needed" not in text and "{{" not in text
    assert "Bilingual Speech Emotion Recognition" in text  # seed 003 cited
    assert f"{test['accuracy'] * 100:.2f} %" in text
    assert "README.md" in plan.files and "model.safetensors" in plan.files and "long_clip.json" in plan.files
    # synthetic training data: no corpus-licence talk, and the limits say what the data is
    assert "licences of the training corpora bind" not in text and "Licence terms bind" not in text
    assert "**synthetic** speech" in text and "**acted** speech" not in text
    assert not any(f.startswith("checkpoint") or f.endswith((".bin", ".pt", ".pkl")) for f in plan.files)


def test_staged_folder_loads_with_the_pipeline(run_dir, tmp_path):
    from transformers import pipeline

    push_run(run_dir, "someone/ser-quickstart", dry_run=True, staging=tmp_path / "stage")
    classifier = pipeline("audio-classification", model=str(tmp_path / "stage"))
    import numpy as np

    out = classifier({"raw": np.zeros(16000, dtype=np.float32) + 0.01, "sampling_rate": 16000})
    assert {o["label"] for o in out} <= set(json.loads((run_dir / "config.json").read_text())["id2label"].values())


def test_upload_fails_clearly_without_leaking_the_token(run_dir, tmp_path, monkeypatch, capsys):
    secret = "hf_" + "x" * 30
    monkeypatch.setenv("HF_TOKEN", secret)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # closed port: the network call fails at once
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    code = hub_main(["push", str(run_dir), "--repo-id", "someone/ser-quickstart", "--revision", "run-test", "--staging", str(tmp_path / "s")])
    captured = capsys.readouterr()
    assert code == 2 and "upload to someone/ser-quickstart@run-test failed" in captured.err
    assert secret not in captured.err + captured.out
    for path in (tmp_path / "s").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_repo_id_and_unfinished_runs_are_refused(run_dir, tmp_path):
    with pytest.raises(PublishError, match="ORG/NAME"):
        push_run(run_dir, "no-org", dry_run=True)
    (tmp_path / "half").mkdir()
    with pytest.raises(PublishError, match="not a finished training run"):
        push_run(tmp_path / "half", "a/b", dry_run=True)


def test_dataset_push_warns_about_licences(tmp_path):
    from ser_hf.data.cli import main as data_main
    from ser_hf.data.synth import ensure_synthetic

    out = tmp_path / "prepared"
    assert data_main(["prepare", "--corpus", "savee", "--root", str(ensure_synthetic("savee", size="tiny")), "--out", str(out)]) == 0
    with pytest.raises(PublishError, match="SAVEE EULA"):
        push_dataset(out, "someone/savee", dry_run=True)
    plan = push_dataset(out, "someone/savee", accept_licence=True, dry_run=True)
    assert plan["private"] is True and sum(plan["splits"].values()) == 64


class FakeHub:
    """The HfApi calls ser_hf.publish makes, kept as folders on disk (ROOT/TYPE/ORG/NAME/BRANCH), each branch with its
    commits (newest last, in ROOT/TYPE/ORG/NAME/.commits/BRANCH.json). A new branch starts as a copy of main, and a
    commit is atomic, as on the Hub: its operations go into a copy of the branch, which replaces the branch only once
    every one went through. ``fail``: every upload raises with that message; ``fail_on_file=N``: the next commit (to
    ``fail_ref`` only, if given) raises at its Nth file, as a connection dropped half-way would."""

    def __init__(self, root: Path, fail: str | None = None, fail_on_file: int | None = None,
                 fail_ref: str | None = None):
        self.root, self.fail, self.calls = root, fail, []
        self.fail_on_file, self.fail_ref = fail_on_file, fail_ref

    def folder(self, repo_id: str, revision: str = "main", repo_type: str = "model") -> Path:
        return self.root / repo_type / repo_id / revision

    def commits(self, repo_id: str, revision: str = "main", repo_type: str = "model") -> list[dict]:
        log = self.root / repo_type / repo_id / ".commits" / f"{revision}.json"
        return json.loads(log.read_text()) if log.is_file() else []

    def _commit(self, repo_id, revision, repo_type, title) -> str:
        log = self.root / repo_type / repo_id / ".commits" / f"{revision}.json"
        log.parent.mkdir(parents=True, exist_ok=True)
        commits = self.commits(repo_id, revision, repo_type)
        commit_id = hashlib.sha1(f"{revision} {len(commits)} {title}".encode()).hexdigest()
        log.write_text(json.dumps(commits + [{"id": commit_id, "title": title}]))
        return commit_id

    def list_repo_refs(self, repo_id, repo_type="model"):
        base = self.root / repo_type / repo_id
        names = [p.name for p in base.iterdir() if not p.name.startswith(".")] if base.exists() else []
        return SimpleNamespace(branches=[SimpleNamespace(name=n, target_commit=self.commits(repo_id, n, repo_type)[-1]["id"])
                                         for n in names])

    def list_repo_commits(self, repo_id, repo_type="model", revision="main"):
        return [SimpleNamespace(commit_id=c["id"], title=c["title"]) for c in reversed(self.commits(repo_id, revision, repo_type))]

    def list_repo_files(self, repo_id, revision="main", repo_type="model"):
        base = self.folder(repo_id, revision, repo_type)
        return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file())

    def file_exists(self, repo_id, filename, repo_type="model", revision="main"):
        return (self.folder(repo_id, revision, repo_type) / filename).is_file()

    def create_repo(self, repo_id, repo_type="model", private=False, exist_ok=False, space_sdk=None):
        self.calls.append(("create_repo", repo_id, repo_type))
        main = self.folder(repo_id, "main", repo_type)
        if not main.exists():
            main.mkdir(parents=True)
            (main / ".gitattributes").write_text("*.safetensors filter=lfs\n")
            self._commit(repo_id, "main", repo_type, "initial commit")

    def create_branch(self, repo_id, branch, repo_type="model", exist_ok=False):
        self.calls.append(("create_branch", repo_id, branch))
        target = self.folder(repo_id, branch, repo_type)
        if not target.exists():
            shutil.copytree(self.folder(repo_id, "main", repo_type), target)
            log = self.root / repo_type / repo_id / ".commits"
            (log / f"{branch}.json").write_text((log / "main.json").read_text())  # the same head commit as main

    def create_commit(self, repo_id, operations, commit_message, revision="main", repo_type="model", parent_commit=None):
        self.calls.append(("create_commit", repo_id, revision))
        if self.fail:
            raise RuntimeError(self.fail)
        target = self.folder(repo_id, revision, repo_type)
        if parent_commit is not None and parent_commit != self.commits(repo_id, revision, repo_type)[-1]["id"]:
            raise RuntimeError(f"{revision} moved: parent commit {parent_commit} is not its head")
        stage = target.with_name(f".{revision}.staging")
        shutil.rmtree(stage, ignore_errors=True)
        shutil.copytree(target, stage)
        if any(getattr(op, "_is_committed", False) for op in operations):  # as HfApi.create_commit
            raise ValueError("a CommitOperationAdd has already been committed and cannot be reused")
        for number, op in enumerate(operations, 1):
            if number == self.fail_on_file and self.fail_ref in (None, revision):
                self.fail_on_file = None
                shutil.rmtree(stage)
                raise ConnectionError(f"connection dropped while uploading file {number} ({op.path_in_repo})")
            if hasattr(op, "path_or_fileobj"):
                (stage / op.path_in_repo).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(op.path_or_fileobj, stage / op.path_in_repo)
            else:
                (stage / op.path_in_repo).unlink()
        shutil.rmtree(target)
        stage.rename(target)
        for op in operations:
            if hasattr(op, "path_or_fileobj"):
                op._is_committed = True
        commit_id = self._commit(repo_id, revision, repo_type, commit_message)
        return SimpleNamespace(commit_url=f"https://huggingface.co/{repo_id}/commit/{commit_id}")

    def upload_folder(self, repo_id, folder_path, revision="main", repo_type="model", commit_message="", delete_patterns=None):
        self.calls.append(("upload_folder", repo_id, revision))
        if self.fail:
            raise RuntimeError(self.fail)
        target = self.folder(repo_id, revision or "main", repo_type)
        if delete_patterns == "*":
            shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(folder_path, target, dirs_exist_ok=True)
        return SimpleNamespace(commit_url=f"https://huggingface.co/{repo_id}/commit/{revision}")


@pytest.fixture
def no_temp_left(tmp_path, monkeypatch):
    """Temporary folders go to a folder of their own, which must be empty again afterwards."""
    import tempfile

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    yield temp
    assert not list(temp.iterdir()), f"left behind: {list(temp.iterdir())}"


def _loading_line(readme: Path) -> str:
    return next(line for line in readme.read_text().splitlines() if "pipeline(\"audio-classification\"" in line)


def test_first_push_fills_main_later_runs_their_branch_and_promote_moves_main(run_dir, tmp_path, no_temp_left):
    from transformers import pipeline

    hub = FakeHub(tmp_path / "hub")
    repo = "someone/ser-quickstart"
    push_run(run_dir, repo, revision="run-a", api=hub)
    main = hub.folder(repo)
    assert (main / "model.safetensors").is_file() and (hub.folder(repo, "run-a") / "model.safetensors").is_file()
    # what pipeline("audio-classification", model=ORG/NAME) downloads: main, with the card's plain loading line
    classifier = pipeline("audio-classification", model=str(main))
    labels = set(json.loads((run_dir / "config.json").read_text())["id2label"].values())
    assert {o["label"] for o in classifier({"raw": __import__("numpy").zeros(16000, dtype="float32") + 0.01, "sampling_rate": 16000})} <= labels
    assert _loading_line(main / "README.md").endswith(f'model="{repo}")')
    assert 'revision="run-a"` pins this one' in (main / "README.md").read_text()

    before = (main / "README.md").read_text()
    push_run(run_dir, repo, revision="run-b", api=hub)  # a later run: its own branch only
    assert (main / "README.md").read_text() == before
    assert _loading_line(hub.folder(repo, "run-b") / "README.md").endswith(f'model="{repo}", revision="run-b")')
    push_run(run_dir, repo, revision="run-b", api=hub)  # the same upload again: nothing to do
    assert len(hub.commits(repo, "run-b")) == len(hub.commits(repo)) + 1
    other = tmp_path / "other_run"
    shutil.copytree(run_dir, other)
    (other / "results.md").write_text("another run\n")
    with pytest.raises(PublishError, match="run-b exists already"):  # another run never replaces it silently
        push_run(other, repo, revision="run-b", api=hub)

    push_run(run_dir, repo, revision="run-c", api=hub, promote=True)
    assert 'revision="run-c"` pins this one' in (main / "README.md").read_text()
    assert ("create_commit", repo, "main") in hub.calls


def test_a_push_interrupted_half_way_leaves_main_unchanged_and_runs_again_to_completion(run_dir, tmp_path,
                                                                                     no_temp_left):
    repo = "someone/ser-quickstart"
    hub = FakeHub(tmp_path / "hub", fail_on_file=3)  # the first push: the run's branch commit breaks at file 3
    with pytest.raises(PublishError, match=r"ConnectionError: connection dropped while uploading file 3 .*"
                                           r"\(main is as it was; the same command again completes the push\)"):
        push_run(run_dir, repo, revision="run-a", api=hub)
    assert hub.list_repo_files(repo) == [".gitattributes"] and hub.list_repo_files(repo, "run-a") == [".gitattributes"]
    push_run(run_dir, repo, revision="run-a", api=hub)  # the same command: the bare branch is reused, no --force
    files = hub.list_repo_files(repo, "run-a")
    assert "model.safetensors" in files and hub.list_repo_files(repo) == files  # the first push fills main too

    main_before = {f: (hub.folder(repo) / f).read_bytes() for f in hub.list_repo_files(repo)}
    main_commits = hub.commits(repo)
    hub.fail_on_file, hub.fail_ref = 5, "main"  # a promoted run: the branch goes up, main's commit breaks at file 5
    with pytest.raises(PublishError, match="connection dropped while uploading file 5"):
        push_run(run_dir, repo, revision="run-b", api=hub, promote=True)
    assert {f: (hub.folder(repo) / f).read_bytes() for f in hub.list_repo_files(repo)} == main_before
    assert hub.commits(repo) == main_commits
    branch_commits = hub.commits(repo, "run-b")
    push_run(run_dir, repo, revision="run-b", api=hub, promote=True)  # again: only main is left to do
    assert hub.commits(repo, "run-b") == branch_commits  # not uploaded twice
    assert hub.list_repo_files(repo) == hub.list_repo_files(repo, "run-b")
    assert 'revision="run-b"` pins this one' in (hub.folder(repo) / "README.md").read_text()
    assert hub.commits(repo)[-1]["title"].startswith("ser-hf: promote run-b [")


def test_missing_token_is_reported_before_staging(run_dir, tmp_path, monkeypatch, capsys):
    import huggingface_hub.constants

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    code = hub_main(["push", str(run_dir), "--repo-id", "someone/ser-quickstart", "--staging", str(tmp_path / "s")])
    assert code == 2 and "no Hugging Face token: set HF_TOKEN or run `hf auth login`" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_login_token_is_redacted_too(run_dir, tmp_path, monkeypatch, no_temp_left):
    import huggingface_hub.constants

    secret = "hf_" + "L" * 34
    (tmp_path / "token").write_text(secret)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "token"))
    hub = FakeHub(tmp_path / "hub", fail=f"401 Unauthorized: token {secret} has no write access")
    with pytest.raises(PublishError) as caught:
        push_run(run_dir, "someone/ser-quickstart", revision="run-x", api=hub)
    assert secret not in str(caught.value) and "token *** has no write access" in str(caught.value)


def test_dry_run_leaves_no_temporary_folder(run_dir, no_temp_left, capsys):
    assert hub_main(["push", str(run_dir), "--repo-id", "someone/ser-quickstart", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "model.safetensors" in out and "now removed" in out


def test_dataset_push_without_report_is_refused(tmp_path):
    (tmp_path / "prepared" / "data").mkdir(parents=True)
    with pytest.raises(PublishError, match="report.json not found: cannot check the corpus licences"):
        push_dataset(tmp_path / "prepared", "someone/data", accept_licence=True, dry_run=True)


def test_push_space_stages_a_self_contained_space(tmp_path, no_temp_left):
    import gradio
    import yaml

    from ser_hf.publish.hub import push_space

    stage = tmp_path / "space"
    plan = push_space("someone/ser-demo", ["someone/ser-quickstart@run-a", "other=someone/ser-other"], dry_run=True, staging=stage)
    files = set(plan.files)
    assert {"app.py", "README.md", "config.yaml", "requirements.txt", "ser_hf/__init__.py", "ser_hf/inference.py"} <= files
    assert not any(f.startswith(("ser_hf/training", "ser_hf/models", "ser_hf/publish", "ser_hf/classifiers")) for f in files)
    config = yaml.safe_load((stage / "config.yaml").read_text())
    assert config["models"] == {"ser-quickstart": "someone/ser-quickstart@run-a", "other": "someone/ser-other"}
    assert config["max_upload_mb"] == yaml.safe_load((ROOT / "space" / "config.yaml").read_text())["max_upload_mb"]
    front = metadata_load(stage / "README.md")
    assert front["sdk"] == "gradio" and front["sdk_version"] == gradio.__version__ and front["app_file"] == "app.py"
    assert front["models"] == ["someone/ser-other", "someone/ser-quickstart"]
    requirements = (stage / "requirements.txt").read_text()
    for pin in ("torch==2.13.0", "transformers==", "gradio==" + gradio.__version__, "soundfile==", "soxr==", "pandas==", "matplotlib=="):
        assert pin in requirements, pin
    for heavy in ("datasets", "evaluate", "scikit-learn", "xxhash"):  # the Space imports none of them
        assert heavy not in requirements
    with pytest.raises(PublishError, match="expected ORG/NAME"):
        push_space("someone/ser-demo", ["not-a-repo"], dry_run=True)
    assert push_space("someone/ser-demo", ["someone/ser-quickstart"], dry_run=True).files  # temp folder removed (fixture)


def test_push_space_uploads_through_the_api(tmp_path, no_temp_left):
    from ser_hf.publish.hub import push_space

    hub = FakeHub(tmp_path / "hub")
    push_space("someone/ser-demo", ["someone/ser-quickstart@run-a"], api=hub)
    assert (hub.folder("someone/ser-demo", repo_type="space") / "app.py").is_file()
    assert ("create_repo", "someone/ser-demo", "space") in hub.calls
