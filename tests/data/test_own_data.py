"""Own data beside the built-in corpora: the synthetic RAVDESS rewritten in every form a user has their data in
(an audio folder with a metadata file, CSV / JSONL / Parquet manifests, a ``save_to_disk`` dataset, a
``push-dataset`` upload read back from a local stand-in for the Hub) gives the built-in loader's rows, labels,
speakers and prepared audio, and the same metrics for the same recipe; labels, speakers and bad input."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import datasets
import pytest

from ser_hf.data.corpora import CorpusRootError, expand_names, load_corpus
from ser_hf.data.corpora import own
from ser_hf.data.sources import parse_source, source_name
from ser_hf.data.synth import ensure_synthetic, manifest
from ser_hf.recipe import RecipeError, load_recipe
from tests.publish.test_publish import FakeHub

from tests.conftest import write_tone

# RAVDESS's own words for its emotions (ser_hf.data.corpora.ravdess): fearful and surprised map by synonym.
WORDS = {"neutral": "neutral", "calm": "calm", "happy": "happy", "sad": "sad", "angry": "angry", "fear": "fearful",
         "disgust": "disgust", "surprise": "surprised"}
META = ("speaker", "gender", "sentence", "intensity")


def tree_state(root: Path) -> dict:
    return {str(p): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def ravdess() -> tuple[Path, list[dict]]:
    """The tiny synthetic RAVDESS and its files as a user's table would list them."""
    root = ensure_synthetic("ravdess", size="tiny")
    rows = []
    for f in manifest("ravdess", "tiny"):
        code = Path(f["relpath"]).stem.split("-")
        rows.append({"relpath": f["relpath"], "emotion": WORDS[f["emotion"]], "speaker": f["speaker"],
                     "gender": f["gender"], "sentence": f["sentence"],
                     "intensity": {"01": "normal", "02": "strong"}[code[3]]})
    return root, rows


def link_tree(root: Path, rows: list[dict], dest: Path, layout=lambda r: r["relpath"]) -> None:
    for r in rows:
        target = dest / layout(r)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(root / r["relpath"], target)


def write_manifest(ravdess, dest: Path, fmt: str) -> str:
    root, rows = ravdess
    link_tree(root, rows, dest / "audio")
    records = [{"path": f"audio/{r['relpath']}", "emotion": r["emotion"], **{k: r[k] for k in META}} for r in rows]
    path = dest / f"labels.{fmt}"
    if fmt == "csv":
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in reversed(records)))  # any order: rows are sorted
    else:
        datasets.Dataset.from_list(records).to_parquet(str(path))
    return f"{fmt}:{path}"


def write_audiofolder(ravdess, dest: Path) -> str:
    root, rows = ravdess
    link_tree(root, rows, dest, layout=lambda r: f"{r['emotion']}/{r['relpath']}")  # ROOT/<label>/Actor_NN/...
    with open(dest / "metadata.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file_name", *META])
        writer.writerows([f"{r['emotion']}/{r['relpath']}", *(r[k] for k in META)] for r in rows)
    return f"audiofolder:{dest}"


def write_saved_dataset(ravdess, dest: Path) -> str:
    """The original 48-kHz files as Audio bytes, with a ClassLabel label column, saved with save_to_disk."""
    root, rows = ravdess
    names = sorted(set(WORDS.values()))
    ds = datasets.Dataset.from_dict({
        "audio": [{"bytes": (root / r["relpath"]).read_bytes(), "path": Path(r["relpath"]).name} for r in rows],
        "label": [names.index(r["emotion"]) for r in rows],
        **{k: [r[k] for r in rows] for k in META},
    }, features=datasets.Features({"audio": datasets.Audio(decode=False), "label": datasets.ClassLabel(names=names),
                                   **{k: datasets.Value("string") for k in META}}))
    datasets.DatasetDict(train=ds.select(range(0, 120, 2)), test=ds.select(range(1, 120, 2))).save_to_disk(str(dest))
    return f"disk:{dest}"


class LocalHub(FakeHub):
    """The stand-in for the Hub of tests/publish/test_publish.py, with the calls a hub: source makes (a revision's files,
    a download) and Hub-style file paths for a streamed read. A revision's sha is a digest of its files."""

    def upload_folder(self, repo_id, folder_path, revision="main", repo_type="model", commit_message="",
                      delete_patterns=None, allow_patterns=None):
        staged = Path(folder_path).parent / (Path(folder_path).name + "-allowed")
        shutil.copytree(folder_path, staged, ignore=lambda d, names: [
            n for n in names if (Path(d) / n).is_file() and allow_patterns and not any(
                Path(d, n).relative_to(folder_path).match(p) for p in allow_patterns)])
        try:
            return super().upload_folder(repo_id, str(staged), revision, repo_type, commit_message, delete_patterns)
        finally:
            shutil.rmtree(staged)

    def _branch(self, repo_id, revision):
        for branch in (self.root / "dataset" / repo_id).iterdir():
            if revision in (branch.name, self._sha(repo_id, branch.name)):
                return self.folder(repo_id, branch.name, "dataset")
        raise FileNotFoundError(f"{repo_id}@{revision}: no such revision")

    def _sha(self, repo_id, branch):
        folder = self.folder(repo_id, branch, "dataset")
        listing = sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*") if p.is_file())
        return hashlib.sha1(json.dumps(listing).encode()).hexdigest()

    def dataset_info(self, repo_id, revision="main", files_metadata=False):
        folder = self._branch(repo_id, revision)
        files = [p for p in sorted(folder.rglob("*")) if p.is_file()]
        return SimpleNamespace(sha=self._sha(repo_id, folder.name), siblings=[
            SimpleNamespace(rfilename=str(p.relative_to(folder)), size=p.stat().st_size) for p in files])

    def hf_hub_download(self, repo_id, filename, repo_type="dataset", revision="main"):
        self.calls.append(("hf_hub_download", repo_id, filename))
        return str(self._branch(repo_id, revision) / filename)

    def open(self, path, mode="rb"):  # datasets/ORG/NAME@SHA/FILE, as HfFileSystem names it
        repo_and_rev, _, filename = path.removeprefix("datasets/").partition("/")[2].partition("/")
        org = path.removeprefix("datasets/").split("/")[0]
        name, _, sha = repo_and_rev.partition("@")
        return open(self._branch(f"{org}/{name}", sha) / filename, mode)


def push_prepared(ravdess, tmp: Path, hub: LocalHub, extra: list[str] = ()) -> str:
    """`ser-hf prepare` the synthetic RAVDESS, then `ser-hf push-dataset` it to the stand-in."""
    from ser_hf.data.cli import main as data_main
    from ser_hf.publish.hub import push_dataset

    out = tmp / "prepared"
    assert data_main(["prepare", "--corpus", "ravdess", "--root", str(ravdess[0]), "--out", str(out), *extra]) == 0
    assert push_dataset(out, "someone/ser-ravdess", accept_licence=True, api=hub) == "someone/ser-ravdess"
    assert (hub.folder("someone/ser-ravdess", repo_type="dataset") / "preparation.json").is_file()
    return "hub:someone/ser-ravdess"


@pytest.fixture
def hub(tmp_path, monkeypatch) -> LocalHub:
    standin = LocalHub(tmp_path / "hub")
    monkeypatch.setattr(own, "HUB", own.HubDatasets(api=standin, fs=standin))
    return standin


FORMS = ("audiofolder", "csv", "jsonl", "parquet", "disk", "hub")
# A cheap recipe on the tiny synthetic corpora (built-in names) and real files (own data).
MFCC_LR = ["--recipe", "seed000_emodb", "synthetic=true", "synthetic_size=tiny", "extractors=[mfcc]",
           "classifiers=[logistic_regression]", "plots=false"]


def write_form(form: str, ravdess, tmp: Path, hub: LocalHub | None, prepare_args: list[str] = ()) -> str:
    if form == "audiofolder":
        return write_audiofolder(ravdess, tmp / "my_ravdess")
    if form == "disk":
        return write_saved_dataset(ravdess, tmp / "saved")
    if form == "hub":
        return push_prepared(ravdess, tmp, hub, prepare_args)
    return write_manifest(ravdess, tmp / form / "interviews", form)


def comparable(ds: datasets.Dataset) -> list[tuple]:
    """What must match between loaders: file name, label, local speaker and metadata, prepared audio."""
    audio = ds.cast_column("audio", datasets.Audio(decode=False))["audio"]
    return [(Path(p).name, label, s.split(":", 1)[1], g, t, i, h, a["bytes"])
            for p, label, s, g, t, i, h, a in zip(ds["path"], ds["label"], ds["speaker"], ds["gender"], ds["sentence"],
                                                  ds["intensity"], ds["content_hash"], audio)]


@pytest.mark.parametrize("form", FORMS)
def test_every_form_gives_the_builtin_loaders_rows_labels_speakers_and_audio(form, ravdess, tmp_path, hub):
    builtin = load_corpus("ravdess", ravdess[0])
    source = write_form(form, ravdess, tmp_path, hub)
    folder = parse_source(source).folder
    before = tree_state(folder) if folder else None
    ds, report = load_corpus(source, return_report=True)
    assert ds.features["label"].names == builtin.features["label"].names
    assert comparable(ds) == comparable(builtin)
    assert set(ds["corpus"]) == {source_name(source)} and report.source == parse_source(source).text
    assert report.kept == 120 and not report.skipped and not report.failed and not report.duplicates
    assert report.speakers == 2 and report.classes == dict(Counter(builtin.features["label"].int2str(builtin["label"])))
    if folder:
        assert tree_state(folder) == before  # nothing written inside the source's folder
    again, _ = load_corpus(source, return_report=True)  # the second time from the cache
    assert again["content_hash"] == ds["content_hash"]


def test_a_large_hub_revision_is_streamed_row_group_by_row_group(ravdess, tmp_path, hub, monkeypatch):
    source = push_prepared(ravdess, tmp_path, hub)
    monkeypatch.setattr(own, "STREAM_ABOVE_BYTES", 0)
    ds = load_corpus(source, num_proc=2, use_cache=False)
    assert comparable(ds) == comparable(load_corpus("ravdess", ravdess[0]))
    downloaded = [call[2] for call in hub.calls if call[0] == "hf_hub_download"]
    assert downloaded == ["preparation.json"]  # the Parquet files were read over the file system, not downloaded
    local = hub.folder("someone/ser-ravdess", repo_type="dataset") / "data"  # the same Parquet files, on disk
    assert comparable(load_corpus(f"disk:{local}")) == comparable(ds)


@pytest.mark.slow
def test_every_form_gives_the_same_metrics_for_the_same_recipe(ravdess, tmp_path, hub):
    import train

    recipe = ["--recipe", "seed000_ravdess", "extractors=[mfcc]", "classifiers=[logistic_regression,knn]",
              "dataloader_num_workers=0", "plots=false"]
    # seed000_ravdess prepares without trimming and with peak normalisation: the pushed folder is prepared so too
    sources = {form: write_form(form, ravdess, tmp_path, hub, ["--trim-db", "0", "--peak-normalize"]) for form in FORMS}
    runs = {"ravdess": train.main([*recipe, "corpora=[ravdess]", f"roots.ravdess={ravdess[0]}",
                                   f"output_dir={tmp_path / 'out-ravdess'}"])}
    for form, source in sources.items():
        runs[form] = train.main([*recipe, f"corpora=[{source}]", f"output_dir={tmp_path / ('out-' + form)}"])
    def scores(run):
        return [{k: v for k, v in row.items() if k != "fit_seconds"} for row in run["baselines"]]

    for form in FORMS:
        assert scores(runs[form]) == scores(runs["ravdess"]), form
    cv = {name: train.main([*recipe, f"corpora=[{source}]", "cross_validation=loso",
                            f"output_dir={tmp_path / ('cv-' + name)}"] + ([f"roots.ravdess={ravdess[0]}"] if name == "ravdess" else []))
          for name, source in (("ravdess", "ravdess"), ("csv", sources["csv"]))}
    assert [r["mean"] for r in cv["csv"]["rows"]] == [r["mean"] for r in cv["ravdess"]["rows"]]
    assert cv["csv"]["protocol"]["speaker_independent"]


@pytest.mark.slow
def test_an_own_source_mixes_with_a_builtin_corpus_in_one_run(ravdess, tmp_path):
    import train

    source = write_manifest(ravdess, tmp_path / "interviews", "csv")
    out = tmp_path / "mixed"
    result = train.main([*MFCC_LR, f"corpora=[{source}, emodb]", "licences.interviews=CC BY 4.0", f"output_dir={out}"])
    results = json.loads((out / "results.json").read_text())
    assert results["corpora"] == ["interviews", "emodb"] and set(results["test"]["per_group"]["corpus"]) == {"interviews", "emodb"}
    assert result["test"]["accuracy"] == results["test"]["accuracy"]
    reports = {r["corpus"]: r for r in json.loads((out / "data_report.json").read_text())}
    assert reports["interviews"]["licence"] == "CC BY 4.0" and reports["interviews"]["speakers"] == 2
    from ser_hf.publish.cards import render_card

    card = str(render_card(out, "someone/mixed"))
    assert f"| interviews | `{parse_source(source).text}` | {reports['interviews']['kept']} |" in card
    assert "CC BY 4.0" in card and "not stated" not in card


@pytest.mark.slow
def test_cross_corpus_against_a_builtin_corpus_names_the_source(ravdess, tmp_path):
    import train

    source = write_manifest(ravdess, tmp_path / "interviews", "csv")
    out = tmp_path / "xc"
    result = train.main([*MFCC_LR, f"corpora=[{source}, tess]", "cross_corpus=true", "label_set=seven",
                         f"output_dir={out}"])
    assert result["train"] == ["interviews", "tess"] and len(result["label_names"]) == 7
    assert (out / "train-interviews__test-tess" / "results.json").is_file()
    held_out = json.loads((out / "train-tess__test-interviews" / "results.json").read_text())
    assert held_out["split"] == "corpus:interviews" and held_out["split_sizes"]["test"] == 120


def test_an_audiofolder_reads_flac_and_mp3_beside_wav_and_split_folders(tmp_path):
    import soundfile as sf

    root = tmp_path / "my_calls"
    wav = write_tone(root / "train/angry/a.wav", sr=22050)
    data, sr = sf.read(wav)
    for folder in ("train/happy", "test/sad"):
        (root / folder).mkdir(parents=True)
    sf.write(root / "train/happy/b.flac", data, sr)
    sf.write(root / "test/sad/c.mp3", data, sr)
    (root / "stray.wav").write_bytes(wav.read_bytes())  # outside any label folder
    ds, report = load_corpus("audiofolder:" + str(root), return_report=True)
    assert {Path(p).name: e for p, e in zip(ds["path"], ds["emotion"])} == {"a.wav": "angry", "b.flac": "happy", "c.mp3": "sad"}
    assert not report.failed and report.skipped == [(str(root / "stray.wav"), "not in a label folder (ROOT/<label>/...)")]
    assert set(ds["speaker"]) == {"my_calls:"} and report.speakers == 0  # no metadata: no speakers
    assert min(ds["duration"]) > 0.8


@pytest.mark.slow  # torchcodec imports torch: seconds
@pytest.mark.skipif(not shutil.which("ffmpeg"), reason="ffmpeg makes the test file")
def test_an_m4a_recording_decodes_through_ffmpeg(tmp_path):
    import subprocess

    wav = write_tone(tmp_path / "calls/neutral/a.wav", sr=44100)
    (tmp_path / "calls/angry").mkdir()
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(wav), str(tmp_path / "calls/angry/b.m4a")], check=True)
    (tmp_path / "calls/angry/broken.m4a").write_text("not audio")
    ds, report = load_corpus(f"audiofolder:{tmp_path / 'calls'}", return_report=True)
    assert sorted(ds["emotion"]) == ["angry", "neutral"] and abs(ds["duration"][0] - ds["duration"][1]) < 0.05
    assert [Path(p).name for p, _ in report.failed] == ["broken.m4a"] and "not readable as audio" in report.failed[0][1]


# ------------------------------------------------------------------------------------------ labels


def labelled_manifest(dest: Path, labels: list[str], speakers: list[str] | None = None) -> str:
    """A CSV of short tones, one per label (a file per row), with a speaker column when ``speakers``."""
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / "labels.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label"] + (["speaker"] if speakers else []))
        for i, label in enumerate(labels):
            write_tone(dest / f"clips/{i:03d}.wav", seconds=0.4, freq=200 + 20 * i)
            writer.writerow([f"clips/{i:03d}.wav", label] + ([speakers[i]] if speakers else []))
    return f"csv:{dest / 'labels.csv'}"


def test_labels_map_by_case_synonyms_and_label_map_and_unmapped_ones_come_first_in_the_summary(tmp_path, capsys):
    from ser_hf.data.summary import summarize

    source = labelled_manifest(tmp_path / "calls", ["Joy", "ANGER", "sadness", "neutral", "meh", "meh", "whatever"])
    ds, report = load_corpus(source, label_set="seven", return_report=True, label_map={"MEH": "calm"})
    assert sorted(ds.features["label"].int2str(ds["label"])) == ["angry", "happy", "neutral", "neutral", "neutral", "sad"]
    assert sorted(set(zip(ds["raw_label"], ds["emotion"]))) == [
        ("ANGER", "angry"), ("Joy", "happy"), ("meh", "calm"), ("neutral", "neutral"), ("sadness", "sad")]
    assert report.unmapped_labels == {"whatever": 1}
    first = summarize(ds, [report]).splitlines()[0]
    assert first.startswith("NOTE: calls: labels that name no emotion") and "'whatever' (1 files)" in first
    from ser_hf.data.cli import main as data_main

    assert data_main(["prepare", "--corpus", source, "--out", str(tmp_path / "o"), "--label-map", "meh=happie"]) == 2
    assert "'happie' is no emotion of the schema" in capsys.readouterr().err


def test_the_prepare_cli_reads_an_own_source_with_named_columns_a_label_map_and_a_licence(tmp_path):
    from ser_hf.data.cli import main as data_main

    dest = tmp_path / "calls"
    labelled_manifest(dest, ["cross", "happy", "sad", "neutral"] * 4, [f"agent{i % 4}" for i in range(16)])
    (dest / "labels.csv").write_text((dest / "labels.csv").read_text().replace("path,label,speaker", "clip,mood,agent"))
    out = tmp_path / "prepared"
    args = ["prepare", "--corpus", f"csv:{dest / 'labels.csv'}", "--label-map", "cross=angry", "--column", "path=clip",
            "--column", "label=mood,speaker=agent", "--licence", "calls=CC BY 4.0, with attribution", "--split", "loso:0"]
    with pytest.raises(SystemExit, match="overlaps the csv:"):  # never inside the source's folder
        data_main([*args, "--out", str(dest / "out")])
    assert data_main([*args, "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())[0]
    assert report["licence"] == "CC BY 4.0, with attribution" and report["speakers"] == 4 and report["kept"] == 16
    assert report["classes"] == {"angry": 4, "happy": 4, "neutral": 4, "sad": 4}
    assert json.loads((out / "leakage.json").read_text())["speaker_independent"]
    assert json.loads((out / "preparation.json").read_text())["preprocess"]["trim_db"] == 25.0
    assert "calls (csv:" in (out / "summary.txt").read_text()


def test_label_set_source_keeps_a_sources_own_classes(tmp_path):
    source = labelled_manifest(tmp_path / "sentiment", ["positive", "negative", "neutral", "positive", "pos"])
    ds = load_corpus(source, label_set="source", label_map={"pos": "positive"})
    assert ds.features["label"].names == ["neutral", "negative", "positive"]
    assert Counter(ds.features["label"].int2str(ds["label"])) == {"positive": 3, "negative": 1, "neutral": 1}
    recipe = load_recipe("seed000_emodb", [f"corpora=[{source}]", "label_set=source", "label_map.pos=positive"])
    assert recipe.data.label_map == {"pos": "positive"}
    with pytest.raises(RecipeError, match="label_map.pos=positiv: 'positiv' is no emotion of the schema"):
        load_recipe("seed000_emodb", [f"corpora=[{source}]", "label_map.pos=positiv"])


# ---------------------------------------------------------------------------------------- speakers


@pytest.mark.slow
def test_without_a_speaker_column_speaker_independent_protocols_refuse_and_auto_falls_back(tmp_path):
    import train

    labels = ["angry", "happy", "sad", "neutral"] * 6
    source = labelled_manifest(tmp_path / "calls", labels)
    base = [*MFCC_LR, f"corpora=[{source}]"]
    for protocol in ("cross_validation=loso", "cross_validation=kfold:3", "split=speaker:0.8,0.2", "split=loso:0"):
        with pytest.raises(RecipeError, match=r"is speaker-independent, but calls has no speaker column .*columns.speaker"):
            train.main([*base, protocol, f"output_dir={tmp_path / 'x'}"])
    cv = train.main([*base, "cross_validation=auto", f"output_dir={tmp_path / 'auto'}"])
    assert cv["protocol"]["scheme"] == "filekfold" and not cv["protocol"]["speaker_independent"]
    assert "no speaker column in calls" in cv["protocol"]["description"]
    assert "SPEAKER-DEPENDENT" in (tmp_path / "auto" / "cv_results.md").read_text()
    train.main([*base, f"output_dir={tmp_path / 'split'}"])
    results = json.loads((tmp_path / "split" / "results.json").read_text())
    assert results["speakers_unknown"] == ["calls"] and not results["speaker_independent"]
    assert "Speakers unknown: calls has no speaker column" in (tmp_path / "split" / "results.md").read_text()
    from ser_hf.publish.cards import render_card

    card = str(render_card(tmp_path / "split", "someone/calls"))
    assert "**Speakers unknown:** calls has no speaker column" in card and "speaker-dependent" in card
    assert "| calls | `" in card and "unknown (no speaker column) | not stated |" in card
    assert "The licence of calls is **not stated**" in card


# --------------------------------------------------------------------------------------- bad input


def test_bad_rows_are_listed_with_reason_and_count_and_the_rest_kept(tmp_path):
    from ser_hf.data.summary import summarize

    dest = tmp_path / "calls"
    source = labelled_manifest(dest, ["angry", "happy", "sad", "neutral", "angry", "happy"], ["a", "a", "b", "b", "c", "c"])
    (dest / "clips/bad.wav").write_text("<html>not audio</html>")
    for name in ("odd.wav", "blank.wav"):
        write_tone(dest / "clips" / name)
    write_tone(tmp_path / "outside.wav")
    with open(dest / "labels.csv", "a", newline="") as fh:
        csv.writer(fh).writerows([
            ["clips/gone.wav", "angry", "a"],  # a missing file
            ["clips/bad.wav", "happy", "a"],  # an unreadable file
            ["clips/000.wav", "happy", "a"],  # a duplicate path
            ["clips/odd.wav", "jealousy", "b"],  # an unknown label
            ["clips/blank.wav", "", "b"],  # an empty label
            ["../outside.wav", "sad", "b"],  # a path that leaves the manifest's folder
        ])
    before = tree_state(dest)
    ds, report = load_corpus(source, return_report=True)
    assert tree_state(dest) == before  # nothing written inside the source's folder
    assert len(ds) == 6 and report.found == 12
    reasons = Counter(why.split(" (")[0] for _, why in report.skipped)
    assert reasons == {"file not found": 1, "path leaves the manifest's folder": 1, "unknown label": 1, "empty label": 1}
    assert report.unmapped_labels == {"jealousy": 1}
    assert len(report.duplicates) == 1 and len(report.failed) == 1 and "not readable as audio" in report.failed[0][1]
    text = summarize(ds, [report])
    for line in ("skipped 1x: file not found", "skipped 1x: path leaves the manifest's folder", "skipped 1x: unknown label",
                 "skipped 1x: empty label", "failed 1x: not readable as audio", "duplicates 1x"):
        assert line in text, line


def test_a_manifest_without_its_columns_a_dataset_without_audio_and_an_unusable_source_are_errors(tmp_path, hub):
    source = labelled_manifest(tmp_path / "calls", ["angry", "happy"])
    with pytest.raises(CorpusRootError, match=r"no column 'mood' \(columns.label\); its columns: path, label"):
        load_corpus(source, columns={"label": "mood"})
    (tmp_path / "plain.csv").write_text("clip,who\na.wav,x\n")
    with pytest.raises(CorpusRootError, match="has no path and no label column"):
        load_corpus(f"csv:{tmp_path / 'plain.csv'}")
    nothing = labelled_manifest(tmp_path / "junk", ["jealousy", ""])
    with pytest.raises(CorpusRootError, match=r"no usable rows among 2 \(unknown label x1, empty label x1\)"):
        load_corpus(nothing)
    datasets.Dataset.from_dict({"label": ["angry"], "text": ["hi"]}).save_to_disk(str(tmp_path / "noaudio"))
    with pytest.raises(CorpusRootError, match="has no audio column"):
        load_corpus(f"disk:{tmp_path / 'noaudio'}")
    folder = hub.folder("someone/texts", repo_type="dataset") / "data"
    folder.mkdir(parents=True)
    datasets.Dataset.from_dict({"label": ["angry"], "text": ["hi"]}).to_parquet(str(folder / "train-00000-of-00001.parquet"))
    with pytest.raises(CorpusRootError, match="hub:someone/texts: the dataset has no audio column"):
        load_corpus("hub:someone/texts")
    with pytest.raises(CorpusRootError, match="cannot read the Hub dataset someone/missing@main"):
        load_corpus("hub:someone/missing")


def test_spellings_names_and_their_errors(tmp_path):
    assert parse_source("csv:/data/interviews/labels.csv").name == "interviews"
    assert parse_source("manifest:/data/calls.tsv").format == "tsv"
    assert parse_source("hub:ORG/my-ser-dataset@v1.0").revision == "v1.0"
    assert parse_source("hub:ORG/my-ser-dataset@v1.0").name == "my-ser-dataset"
    assert parse_source("mine=audiofolder:/data/x").name == "mine"
    assert parse_source("disk:/prepared/ravdess/data").name == "ravdess"
    for bad, message in (("manifest:/x/labels.txt", "cannot tell the manifest's format"), ("hub:just-a-name", "ORG/NAME"),
                         ("Bad Name=csv:/x.csv", "source name"), ("csv:", "give the path")):
        with pytest.raises(ValueError, match=message):
            parse_source(bad)
    with pytest.raises(ValueError, match="named 'ravdess', like the built-in corpus"):
        expand_names(["audiofolder:/data/RAVDESS"])
    with pytest.raises(ValueError, match="both named 'a'"):
        expand_names(["csv:/a/labels.csv", "csv:/b/a.csv"])
    with pytest.raises(RecipeError, match="licences.calls: no own source named 'calls'"):
        load_recipe("seed000_emodb", ["licences.calls=CC0"])
    with pytest.raises(RecipeError, match="columns.mood: not a column of the schema"):
        load_recipe("seed000_emodb", ["columns.mood=x"])
    source = labelled_manifest(tmp_path / "calls", ["angry", "happy"])
    with pytest.raises(RecipeError, match="output_dir: .* overlaps the csv:"):
        from ser_hf.training.data import check_roots

        check_roots(load_recipe("seed000_emodb", [f"corpora=[{source}]", f"output_dir={tmp_path / 'calls' / 'out'}"]))


def test_the_readme_shows_each_form_as_a_command_that_parses_and_names_every_column():
    import shlex

    from ser_hf.data.cli import build_parser
    from ser_hf.data.sources import SOURCE_COLUMNS, SOURCE_KINDS
    from ser_hf.recipe import parse_args

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Your own data", 1)[1].split("\n## ", 1)[0]
    commands = [shlex.split(line.split("  #")[0]) for line in section.splitlines()
                if line.startswith(("python train.py", "ser-hf prepare"))]
    kinds = set()
    for argv in commands:
        if argv[0] == "python":
            recipe = parse_args(argv[2:])
            kinds.update(parse_source(c).kind for c in recipe.data.corpora if ":" in c)
        else:
            args = build_parser().parse_args(argv[1:])
            kinds.add(parse_source(args.corpus).kind)
    assert kinds == {"audiofolder", "manifest", "hub", "disk"}
    for spelling in SOURCE_KINDS:
        assert f"`{spelling}:" in section, spelling
    for names in SOURCE_COLUMNS.values():
        for name in names:
            assert f"`{name}`" in section, name
