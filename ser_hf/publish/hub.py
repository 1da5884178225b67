"""Publish a training run (or a prepared dataset) to the Hugging Face Hub.

    python -m ser_hf.publish push outputs/quickstart --repo-id ORG/NAME [--private] [--revision NAME] [--force] [--promote] [--dry-run]
    python -m ser_hf.publish push-dataset prepared/ravdess --repo-id ORG/NAME [--public] [--accept-licence]
    python -m ser_hf.publish push-space --repo-id ORG/SPACE --model ORG/NAME[@REVISION] ... [--dry-run --staging DIR]

A run goes to its own branch (``--revision``, default ``run-<date>-<hash of the results>``); a branch
that exists already is never overwritten without ``--force``. The first push to a repository also fills
``main`` (so ``pipeline("audio-classification", model="ORG/NAME")`` gets that model); later runs stay on
their branch until ``--promote`` copies them to ``main``. Each step is one atomic commit, the branch first and
``main`` only then, so a push that fails half-way leaves ``main`` as it was and the same command completes it.
What is uploaded is staged in a folder first (model weights, config, feature extractor, model card, results,
plots, recipe, long-clip results; never checkpoints, optimiser states or pickles); a temporary staging folder is
removed afterwards. The token comes only from ``HF_TOKEN`` or ``hf auth login``, is checked before anything is
staged, and is never printed or written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

# What a run folder may publish; everything else (checkpoint-*/, optimizer.pt, training_args.bin) stays.
RUN_FILES = (
    "config.json",
    "model.safetensors",
    "preprocessor_config.json",
    "results.json",
    "results.md",
    "recipe.yaml",
    "leakage.json",
    "long_clip.json",
    "data_report.json",
    "confusion_matrix.png",
    "roc_curves.png",
)
REQUIRED = ("config.json", "model.safetensors", "preprocessor_config.json", "results.json")
# An embeddings run (method: embeddings) publishes its table, plots and fitted classifiers (skops files and MLP
# folders of safetensors + JSON) instead of one transformers model.
EMBEDDING_RUN_FILES = ("baselines.md", "baselines.csv", "baselines.json")
EMBEDDING_RUN_DIRS = ("classifiers", "plots")
# Corpora whose terms forbid redistributing their audio (corpora.md).
NO_REDISTRIBUTION = {"demos": "the DEMoS EULA (academic research only)", "savee": "the SAVEE EULA", "esd": "ESD's research-only terms", "tess": "CC BY-NC-ND 4.0 (no derivatives)"}


class PublishError(RuntimeError):
    pass


@dataclass
class UploadPlan:
    repo_id: str
    revision: str
    folder: Path
    files: list[str] = field(default_factory=list)
    private: bool = False
    repo_type: str = "model"
    promote: bool = False  # also uploaded to main


def default_revision(run_dir: Path) -> str:
    digest = hashlib.sha1((run_dir / "results.json").read_bytes()).hexdigest()[:8]
    return f"run-{time.strftime('%Y%m%d')}-{digest}"


def stage_run(run_dir: str | Path, repo_id: str, staging: str | Path, revision: str | None = None,
              run_revision: str | None = None) -> list[str]:
    """Copy what a run publishes into ``staging`` and render its model card as README.md.

    ``revision``: the branch the card's loading line must name (None: the model is on ``main``);
    ``run_revision``: this run's own branch, shown as the way to pin it.
    """
    from ser_hf.publish.cards import render_card

    run_dir, staging = Path(run_dir), Path(staging)
    embeddings = (run_dir / "baselines.json").is_file() and not (run_dir / "model.safetensors").is_file()
    required = ("results.json", "baselines.json") if embeddings else REQUIRED
    missing = [f for f in required if not (run_dir / f).is_file()]
    if missing:
        raise PublishError(f"{run_dir} is not a finished training run: missing {', '.join(missing)}")
    staging.mkdir(parents=True, exist_ok=True)
    files = []
    for name in RUN_FILES + (EMBEDDING_RUN_FILES if embeddings else ()):
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, staging / name)
            files.append(name)
    for folder in EMBEDDING_RUN_DIRS if embeddings else ():
        for path in sorted((run_dir / folder).rglob("*")):
            if path.is_file() and path.suffix in (".skops", ".json", ".safetensors", ".png"):
                rel = path.relative_to(run_dir)
                (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, staging / rel)
                files.append(str(rel))
    card = render_card(run_dir, repo_id, revision=revision, run_revision=run_revision)
    card.save(staging / "README.md")
    files.append("README.md")
    data = card.data.to_dict()
    if data.get("license") == "other":
        (staging / "LICENSE_NOTES.md").write_text(
            "# Licence notes\n\nThis model was trained on corpora licensed for non-commercial or research use only. "
            "Their terms apply to the model: see the Training data section of README.md.\n"
        )
        files.append("LICENSE_NOTES.md")
    return sorted(files)


def _api():
    from huggingface_hub import HfApi

    return HfApi()  # token: HF_TOKEN or the `hf auth login` cache, resolved by huggingface_hub itself


def _token() -> str | None:
    """The token huggingface_hub would use: ``HF_TOKEN``, else the one ``hf auth login`` stored."""
    from huggingface_hub import get_token

    return get_token()


def require_token() -> None:
    """Fail before any staging when no token is set (a dry run needs none)."""
    if not _token():
        raise PublishError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (a token with write access), "
                           "or pass --dry-run to stage without uploading")


def _main_has_model(api, repo_id: str, repo_type: str) -> bool:
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        return api.file_exists(repo_id, "config.json", repo_type=repo_type, revision="main")
    except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError):
        return False


def staged_digest(folder: Path, files: list[str]) -> str:
    """What a staged upload holds (every file's name and bytes), short: it names the upload in its commit message,
    so a rerun recognises a branch that already holds exactly this upload."""
    digest = hashlib.sha1()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha1((folder / name).read_bytes()).digest())
    return digest.hexdigest()[:12]


def _refs(api, repo_id: str, repo_type: str) -> dict[str, str]:
    """Branch name -> head commit id ({} for a repository that does not exist yet)."""
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        return {b.name: b.target_commit for b in api.list_repo_refs(repo_id, repo_type=repo_type).branches}
    except RepositoryNotFoundError:
        return {}


def upload(plan: UploadPlan, force: bool = False, api=None, promote: bool = False) -> str:
    """Upload the staged folder to the run's branch in one commit, then, with ``promote``, make ``main`` exactly
    those files in one more commit; returns the URL of the branch's commit.

    A commit on the Hub is atomic (every file or none), and ``main`` changes only after the branch holds the whole
    run: a push that fails half-way (network, quota) leaves ``main`` as it was, and the same command again completes
    it. A branch that already holds exactly this upload (its head commit names the staged files' digest) is not
    uploaded again; one that is still a bare copy of ``main`` (a push that stopped after creating it) is reused;
    any other existing branch is another run's, overwritten only with ``force``."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    api = api or _api()
    digest = staged_digest(plan.folder, plan.files)
    message = f"ser-hf: {plan.revision} [{digest}]"

    def adds() -> list:  # fresh operations per commit: huggingface_hub refuses to commit one twice
        return [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(plan.folder / name)) for name in plan.files]

    url = f"{plan.repo_id}@{plan.revision}"
    try:
        refs = _refs(api, plan.repo_id, plan.repo_type)
        uploaded = False
        if plan.revision in refs and plan.revision != "main":
            head = api.list_repo_commits(plan.repo_id, repo_type=plan.repo_type, revision=plan.revision)[0]
            uploaded = head.title == message
            if not uploaded and refs[plan.revision] != refs.get("main") and not force:
                raise PublishError(f"{plan.repo_id}@{plan.revision} exists already; pass --force to overwrite it, "
                                   "or another --revision")
            if uploaded:
                logger.info("%s holds this upload already (%s): not uploaded again", url, digest)
        api.create_repo(plan.repo_id, repo_type=plan.repo_type, private=plan.private, exist_ok=True)
        if plan.revision != "main" and plan.revision not in refs:
            api.create_branch(plan.repo_id, branch=plan.revision, repo_type=plan.repo_type, exist_ok=True)
        if not uploaded:
            commit = api.create_commit(plan.repo_id, operations=adds(), commit_message=message,
                                       revision=plan.revision, repo_type=plan.repo_type)
            url = str(getattr(commit, "commit_url", commit))
        if promote and plan.revision != "main":
            # main mirrors the run exactly: files of an older run that this one lacks go, in the same commit
            # (.gitattributes stays); it is based on the main seen now, so a concurrent change is not overwritten.
            main_head = _refs(api, plan.repo_id, plan.repo_type).get("main")
            present = api.list_repo_files(plan.repo_id, revision="main", repo_type=plan.repo_type)
            stale = [CommitOperationDelete(path_in_repo=p) for p in present
                     if p not in plan.files and p != ".gitattributes"]
            api.create_commit(plan.repo_id, operations=adds() + stale, revision="main", repo_type=plan.repo_type,
                              commit_message=f"ser-hf: promote {plan.revision} [{digest}] to main",
                              parent_commit=main_head)
    except PublishError:
        raise
    except Exception as err:  # network, auth, permissions: say which repo, never echo the token
        raise PublishError(f"upload to {plan.repo_id}@{plan.revision} failed: {type(err).__name__}: {_redact(str(err))} "
                           "(main is as it was; the same command again completes the push)") from None
    return url


def _redact(text: str) -> str:
    """``text`` with every token huggingface_hub could have sent (HF_TOKEN, the `hf auth login` one) masked."""
    tokens = {os.environ.get("HF_TOKEN") or ""}
    try:
        tokens.add(_token() or "")
    except Exception:  # a broken token file must not hide the error being reported
        pass
    for token in tokens - {""}:
        text = text.replace(token, "***")
    return text


def push_run(run_dir: str | Path, repo_id: str, revision: str | None = None, private: bool = False, force: bool = False,
             dry_run: bool = False, staging: str | Path | None = None, promote: bool = False, api=None) -> UploadPlan | str:
    """Stage a run and upload it to its branch (and to ``main`` on the repository's first push, or with ``promote``).

    A dry run stages and returns the plan; without ``staging`` the temporary folder is removed again (the plan
    lists the files). ``api``: an ``HfApi``-like object (tests inject one).
    """
    run_dir = Path(run_dir)
    if "/" not in repo_id:
        raise PublishError(f"--repo-id must be ORG/NAME, got {repo_id!r}")
    if not (run_dir / "results.json").is_file():
        raise PublishError(f"{run_dir} is not a finished training run: missing results.json")
    if not dry_run and api is None:
        require_token()
    revision = revision or default_revision(run_dir)
    if not dry_run:
        api = api or _api()
        # The repository's first model also goes to main: the card's plain loading line must find something.
        try:
            promote = promote or not _main_has_model(api, repo_id, "model")
        except Exception as err:  # network, auth: as in upload(), one line without the token
            raise PublishError(f"upload to {repo_id}@{revision} failed: {type(err).__name__}: {_redact(str(err))}") from None
    on_main = promote or revision == "main"
    temporary = staging is None
    folder = Path(tempfile.mkdtemp(prefix="ser_hf_push_")) if temporary else Path(staging)
    try:
        files = stage_run(run_dir, repo_id, folder, revision=None if on_main else revision, run_revision=revision)
        plan = UploadPlan(repo_id, revision, folder, files, private, promote=on_main)
        logger.info("staged %d files for %s@%s%s", len(files), plan.repo_id, plan.revision, " (+ main)" if on_main else "")
        if dry_run:
            return plan
        return upload(plan, force=force, api=api, promote=on_main)
    finally:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)


def push_space(repo_id: str, models: list[str], private: bool = False, dry_run: bool = False,
               staging: str | Path | None = None, include: tuple[str, ...] = (), api=None) -> UploadPlan | str:
    """Stage a self-contained Space serving ``models`` (``ORG/NAME[@REVISION]`` or ``name=ORG/NAME[@REVISION]``)
    and upload it to the Space repo ``repo_id`` (see :mod:`ser_hf.publish.space`)."""
    from ser_hf.publish.space import parse_models, stage_space

    if "/" not in repo_id:
        raise PublishError(f"--repo-id must be ORG/NAME, got {repo_id!r}")
    try:
        sources = parse_models(models)
    except ValueError as err:
        raise PublishError(str(err)) from None
    if not dry_run and api is None:
        require_token()
    temporary = staging is None
    folder = Path(tempfile.mkdtemp(prefix="ser_hf_space_")) if temporary else Path(staging)
    try:
        try:
            files = stage_space(repo_id, sources, folder, include)
        except ValueError as err:
            raise PublishError(str(err)) from None
        plan = UploadPlan(repo_id, "main", folder, files, private, repo_type="space")
        if dry_run:
            return plan
        api = api or _api()
        try:
            api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
            commit = api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="space",
                                       commit_message="ser-hf: Space for " + ", ".join(sources.values()))
        except Exception as err:
            raise PublishError(f"upload to Space {repo_id} failed: {type(err).__name__}: {_redact(str(err))}") from None
        return str(getattr(commit, "commit_url", commit))
    finally:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)


def push_dataset(prepared_dir: str | Path, repo_id: str, private: bool = True, accept_licence: bool = False,
                 dry_run: bool = False, api=None):
    """Push a ``python -m ser_hf.data prepare`` output. Corpora whose terms forbid redistribution need
    ``accept_licence`` (you confirm you hold the right to share them), and the repo is private by default.

    Uploaded: every split as Parquet shards in the Hub's layout (``data/<split>-00000-of-0000N.parquet``), with the
    preparation's ``report.json`` and ``preparation.json``, so ``hub:ORG/NAME`` reads it back (as own data) with its
    audio as prepared. ``api``: an ``HfApi``-like object (tests inject one).
    """
    import datasets

    from ser_hf.data.corpora.own import PREPARATION_FILE
    from ser_hf.data.shards import push_parquet_shards, write_parquet_shards

    prepared_dir = Path(prepared_dir)
    if not (prepared_dir / "report.json").is_file():
        # without the preparation report the corpora, hence their licences, are unknown: refuse rather than guess
        raise PublishError(f"{prepared_dir / 'report.json'} not found: cannot check the corpus licences. "
                           "Push only a folder written by `python -m ser_hf.data prepare`.")
    reports = json.loads((prepared_dir / "report.json").read_text())
    corpora = {r["corpus"] for r in reports if not r.get("synthetic")}
    restricted = {c: why for c, why in NO_REDISTRIBUTION.items() if c in corpora}
    unstated = sorted(r["corpus"] for r in reports if r.get("source") and not r.get("licence"))
    warning = (
        "Corpus licences: " + "; ".join(f"{c}: {why}" for c, why in sorted(restricted.items()))
        + ". Redistributing this audio may break those terms."
    ) if restricted else "Check every corpus licence before sharing its audio (several are non-commercial)."
    if unstated:
        warning += f" The licence of {', '.join(unstated)} (own data) is not stated."
    logger.warning(warning)
    if restricted and not accept_licence:
        raise PublishError(warning + " Pass --accept-licence only if you hold the right to share it.")
    if not dry_run and api is None:
        require_token()
    dd = datasets.load_from_disk(str(prepared_dir / "data"))
    if dry_run:
        return {"repo_id": repo_id, "splits": {k: len(v) for k, v in dd.items()}, "private": private, "warning": warning}
    staging = Path(tempfile.mkdtemp(prefix="ser_hf_dataset_"))
    try:
        write_parquet_shards(dd, staging)
        for name in ("report.json", PREPARATION_FILE):
            if (prepared_dir / name).is_file():
                shutil.copy2(prepared_dir / name, staging / name)
        push_parquet_shards(staging, repo_id, private=private, api=api or _api())
    except Exception as err:
        raise PublishError(f"dataset upload to {repo_id} failed: {type(err).__name__}: {_redact(str(err))}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return repo_id


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m ser_hf.publish", description="Publish ser-hf runs and datasets to the Hub.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("push", help="push a training run (model, card, results) to its own branch")
    p.add_argument("run_dir")
    p.add_argument("--repo-id", required=True)
    p.add_argument("--revision", default=None, help="branch for this run (default run-<date>-<hash>)")
    p.add_argument("--private", action="store_true")
    p.add_argument("--force", action="store_true", help="overwrite an existing branch")
    p.add_argument("--dry-run", action="store_true", help="stage and list the files, upload nothing")
    p.add_argument("--staging", default=None, help="folder to stage the upload in (default: a temp folder, removed afterwards)")
    p.add_argument("--promote", action="store_true", help="also make this run the repo's main (what pipeline(model=ORG/NAME) loads)")
    sp = sub.add_parser("push-space", help="assemble a self-contained Gradio Space for Hub models and upload it")
    sp.add_argument("--repo-id", required=True, help="the Space repo, ORG/NAME")
    sp.add_argument("--model", action="append", required=True, metavar="[NAME=]ORG/MODEL[@REVISION]",
                    help="a model to serve (repeat for several, shown side by side); @REVISION pins a branch, tag or commit")
    sp.add_argument("--include", action="append", default=[], metavar="MODULE",
                    help="an extra ser_hf module to ship, e.g. ser_hf.models.cnn_blstm for ser-hf's own model types")
    sp.add_argument("--private", action="store_true")
    sp.add_argument("--dry-run", action="store_true", help="stage and list the files, upload nothing")
    sp.add_argument("--staging", default=None, help="folder to stage the Space in (default: a temp folder, removed afterwards)")
    d = sub.add_parser("push-dataset", help="push a prepared DatasetDict (licence warning)")
    d.add_argument("prepared_dir")
    d.add_argument("--repo-id", required=True)
    d.add_argument("--public", action="store_true", help="make the dataset repo public (private by default)")
    d.add_argument("--accept-licence", action="store_true")
    d.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.command == "push":
            out = push_run(args.run_dir, args.repo_id, args.revision, args.private, args.force, args.dry_run, args.staging,
                           promote=args.promote)
        elif args.command == "push-space":
            out = push_space(args.repo_id, args.model, args.private, args.dry_run, args.staging, tuple(args.include))
        if args.command in ("push", "push-space"):
            if isinstance(out, UploadPlan):
                where = f"from {out.folder}" if args.staging else "(staged in a temporary folder, now removed; --staging DIR keeps it)"
                target = f"{out.repo_id}@{out.revision}" + (" and main" if out.promote and out.revision != "main" else "")
                print(f"would upload to {out.repo_type} {target} {where}:")
                print("\n".join(f"  {f}" for f in out.files))
            else:
                print(f"pushed: {out}")
        else:
            out = push_dataset(args.prepared_dir, args.repo_id, not args.public, args.accept_licence, args.dry_run)
            print(json.dumps(out, indent=1) if isinstance(out, dict) else f"pushed dataset {out}")
    except (PublishError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
