"""Decoding a corpus: bad files reported and skipped, rates and channels normalised, caching, no writes."""

import os
from pathlib import Path

import datasets
import numpy as np
import pytest

from ser_hf.data.corpora import CORPORA, load_corpus
from ser_hf.data.prepare import FEATURES, prepare_corpus

from tests.conftest import write_tone


def tree_state(root: Path) -> dict:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


@pytest.fixture
def messy_ravdess(tmp_path) -> Path:
    root = tmp_path / "RAVDESS"
    write_tone(root / "Actor_01/03-01-05-01-01-01-01.wav", sr=48000)
    write_tone(root / "Actor_01/03-01-05-01-01-02-01.wav", sr=44100, channels=2)  # stereo, odd rate
    write_tone(root / "Actor_02/03-01-03-01-01-01-02.wav", sr=16000, subtype="FLOAT")
    write_tone(root / "Actor_02/03-01-04-01-01-01-02.wav", sr=8000, freq=300)
    (root / "Actor_01/03-01-06-01-01-01-01.wav").write_bytes(b"")  # empty
    (root / "Actor_01/03-01-07-01-01-01-01.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage")  # corrupt
    (root / "Actor_02/03-01-08-01-01-01-02.wav").write_text("<html>not audio</html>")  # not audio
    write_tone(root / "Actor_02/03-01-01-01-01-01-02.wav", seconds=0.5, silence=0.0, freq=0.0)  # all zeros
    write_tone(root / "Actor_02/readme.wav")  # name does not parse
    (root / "Actor_02/notes.txt").write_text("not a wav")  # ignored: not an audio suffix
    return root


def test_bad_files_are_reported_and_the_rest_kept(messy_ravdess, tmp_path):
    before = tree_state(messy_ravdess)
    ds, report = prepare_corpus(CORPORA["ravdess"], messy_ravdess, cache_dir=tmp_path / "cache")
    assert tree_state(messy_ravdess) == before  # nothing in the user's folder changed
    assert report.found == 9 and report.kept == 4 and len(ds) == 4
    failed = {Path(p).name: why for p, why in report.failed}
    assert failed["03-01-06-01-01-01-01.wav"].startswith("empty file")
    assert failed["03-01-07-01-01-01-01.wav"].startswith("not readable as audio")
    assert failed["03-01-08-01-01-01-02.wav"].startswith("not readable as audio")
    assert failed["03-01-01-01-01-01-02.wav"].startswith("no signal")
    assert [Path(p).name for p, _ in report.skipped] == ["readme.wav"]
    assert ds.features == FEATURES
    for row in ds.cast_column("audio", datasets.Audio(decode=False)):
        from ser_hf.data.audio import decode_wav_bytes

        wave, sr = decode_wav_bytes(row["audio"]["bytes"])
        assert sr == 16000 and wave.ndim == 1
        assert abs(len(wave) / sr - row["duration"]) < 1e-6
        assert 1.0 <= row["duration"] <= 1.0 + 2 * 2048 / 16000  # silence trimmed to within frames
    # The standard datasets decode path (torchcodec) reads the same column.
    decoded = ds[0]["audio"]
    assert decoded["sampling_rate"] == 16000 and decoded["array"].ndim == 1


def test_results_are_cached_and_invalidated_by_changes(messy_ravdess, tmp_path):
    cache = tmp_path / "cache"
    ds1, _ = prepare_corpus(CORPORA["ravdess"], messy_ravdess, cache_dir=cache)
    entries = list((cache / "prepared").iterdir())
    ds2, _ = prepare_corpus(CORPORA["ravdess"], messy_ravdess, cache_dir=cache)
    assert list((cache / "prepared").iterdir()) == entries and ds2["content_hash"] == ds1["content_hash"]
    write_tone(messy_ravdess / "Actor_03/03-01-05-01-01-01-03.wav")
    ds3, report = prepare_corpus(CORPORA["ravdess"], messy_ravdess, cache_dir=cache)
    assert len(ds3) == len(ds1) + 1 and len(list((cache / "prepared").iterdir())) == 2


def test_parallel_decoding_gives_the_same_rows(messy_ravdess, tmp_path):
    one, _ = prepare_corpus(CORPORA["ravdess"], messy_ravdess, num_proc=1, cache_dir=tmp_path / "a")
    two, report = prepare_corpus(CORPORA["ravdess"], messy_ravdess, num_proc=2, cache_dir=tmp_path / "b")
    assert one["content_hash"] == two["content_hash"] and len(report.failed) == 4


def test_load_corpus_columns_and_global_speakers(messy_ravdess):
    ds = load_corpus("ravdess", messy_ravdess, label_set="seven")
    assert set(ds.column_names) == set(FEATURES) | {"label"}
    assert set(ds["speaker"]) == {"ravdess:01", "ravdess:02"}
    assert set(ds["corpus"]) == {"ravdess"} and set(ds["language"]) == {"en"}
    names = ds.features["label"].names
    assert sorted(names[i] for i in ds["label"]) == sorted(["angry", "angry", "happy", "sad"])


def test_identical_audio_under_two_names_shares_a_hash(tmp_path):
    root = tmp_path / "r"
    write_tone(root / "Actor_01/03-01-05-01-01-01-01.wav")
    os.makedirs(root / "Actor_03")
    (root / "Actor_03/03-01-05-01-01-01-03.wav").write_bytes((root / "Actor_01/03-01-05-01-01-01-01.wav").read_bytes())
    ds, _ = prepare_corpus(CORPORA["ravdess"], root, cache_dir=tmp_path / "c")
    assert len(set(ds["content_hash"])) == 1 and len(ds) == 2
    assert np.unique(ds["speaker"]).tolist() == ["ravdess:01", "ravdess:03"]


@pytest.mark.parametrize("trim_db", [25.0, None])
def test_non_finite_samples_are_rejected_with_trimming_on_or_off(tmp_path, trim_db):
    import soundfile as sf

    from ser_hf.data.audio import PreprocessConfig

    root = tmp_path / "r"
    write_tone(root / "Actor_01/03-01-05-01-01-01-01.wav")
    x = (np.sin(np.arange(16000) / 5) * 0.5).astype(np.float32)
    x[100], x[200] = np.nan, np.inf
    sf.write(root / "Actor_01/03-01-03-01-01-01-01.wav", x, 16000, subtype="FLOAT")
    ds, report = prepare_corpus(CORPORA["ravdess"], root, PreprocessConfig(trim_db=trim_db), cache_dir=tmp_path / "c")
    assert report.kept == 1 and len(ds) == 1
    assert [(Path(p).name, why.split(" (")[0]) for p, why in report.failed] == [("03-01-03-01-01-01-01.wav", "non-finite samples")]


def test_truncated_files_are_kept_warned_and_counted(tmp_path):
    root = tmp_path / "r"
    write_tone(root / "Actor_01/03-01-05-01-01-01-01.wav")
    cut = write_tone(root / "Actor_01/03-01-03-01-01-01-01.wav", seconds=2.0)
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    ds, report = prepare_corpus(CORPORA["ravdess"], root, cache_dir=tmp_path / "c")
    assert report.kept == 2 and len(ds) == 2
    assert [Path(p).name for p, _ in report.warned] == ["03-01-03-01-01-01-01.wav"]
    assert report.warned[0][1].startswith("truncated")


def test_a_root_where_every_file_fails_to_decode_is_an_error_and_nothing_is_cached(tmp_path):
    from ser_hf.data.corpora import CorpusRootError

    root = tmp_path / "r"
    (root / "Actor_01").mkdir(parents=True)
    (root / "Actor_01/03-01-05-01-01-01-01.wav").write_bytes(b"")
    (root / "Actor_01/03-01-05-01-01-02-01.wav").write_text("<html>not audio</html>")
    (root / "Actor_01/03-01-05-01-02-01-01.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt junk")
    cache = tmp_path / "c"
    with pytest.raises(CorpusRootError, match="none of the 3 audio files") as err:
        prepare_corpus(CORPORA["ravdess"], root, cache_dir=cache)
    assert "empty file" in str(err.value) and "not readable as audio" in str(err.value)
    assert list((cache / "prepared").iterdir()) == []  # no cached empty result, no partial folder


def test_cache_key_covers_permissions_and_the_skipped_files(messy_ravdess, tmp_path):
    cache = tmp_path / "cache"
    _, first = prepare_corpus(CORPORA["ravdess"], messy_ravdess, cache_dir=cache)
    # A file fixed by chmod (mode only, no new mtime) is decoded again, not served from the cache.
    fixed = messy_ravdess / "Actor_01/03-01-05-01-01-01-01.wav"
    fixed.chmod(0o600)
    prepare_corpus(CORPORA["ravdess"], messy_ravdess, cache_dir=cache)
    assert len(list((cache / "prepared").iterdir())) == 2
    # A badly named file added later appears in the report.
    write_tone(messy_ravdess / "Actor_02/readme2.wav")
    _, report = prepare_corpus(CORPORA["ravdess"], messy_ravdess, cache_dir=cache)
    assert sorted(Path(p).name for p, _ in report.skipped) == ["readme.wav", "readme2.wav"]
    assert len(first.skipped) == 1


def test_use_cache_false_decodes_again_and_replaces_the_entry(messy_ravdess, tmp_path):
    cache = tmp_path / "cache"
    prepare_corpus(CORPORA["ravdess"], messy_ravdess, cache_dir=cache)
    (entry,) = (cache / "prepared").iterdir()
    before = (entry / "report.json").stat().st_ino
    ds, _ = prepare_corpus(CORPORA["ravdess"], messy_ravdess, cache_dir=cache, use_cache=False)
    assert [p.name for p in (cache / "prepared").iterdir()] == [entry.name] and len(ds) == 4
    assert (entry / "report.json").stat().st_ino != before


def test_stale_partials_go_and_live_ones_of_any_host_stay(messy_ravdess, tmp_path):
    """This host's partial of a dead process goes, a live process's stays. Another machine's process id means
    nothing here: its partial stays while its lease (the folder's mtime) is fresh and goes once it is older than
    LEASE_EXPIRY; so does a name without a host (written before names carried one)."""
    import os
    import subprocess
    import time

    from ser_hf.locks import LEASE_EXPIRY, host_name

    prepared = tmp_path / "cache" / "prepared"
    dead = subprocess.Popen(["true"])
    dead.wait()
    alive = subprocess.Popen(["sleep", "60"])
    key, here = "ravdess-0123456789abcdef", host_name()
    folders = {
        "dead here": f"{key}.partial-{here}-{dead.pid}", "alive here": f"{key}.partial-{here}-{alive.pid}",
        "other host": f"{key}.partial-node-07.cluster-{dead.pid}", "other host, expired": f"{key}.old-node-07-{dead.pid}",
        "no host": f"{key}.partial-{dead.pid}", "no host, expired": f"{key}.partial-{dead.pid + 1}",
    }
    try:
        for name in folders.values():
            (prepared / name).mkdir(parents=True)
            (prepared / name / "data.arrow").write_bytes(b"\0" * 4096)
        expired = time.time() - LEASE_EXPIRY - 60
        for label in ("other host, expired", "no host, expired"):
            os.utime(prepared / folders[label], (expired, expired))
        prepare_corpus(CORPORA["ravdess"], messy_ravdess, cache_dir=tmp_path / "cache")
        kept = {label for label, name in folders.items() if (prepared / name).exists()}
        assert kept == {"alive here", "other host", "no host"}
    finally:
        alive.kill()
        alive.wait()


def test_publish_keeps_a_complete_entry_another_writer_made_first(tmp_path):
    from ser_hf.data.prepare import publish_atomically

    def complete(folder: Path, text: str) -> Path:
        folder.mkdir()
        (folder / "report.json").write_text(text)
        (folder / "data.arrow").write_text(text)
        return folder

    target = tmp_path / "ravdess-0123456789abcdef"
    complete(target, "first")
    second = complete(tmp_path / "ravdess-0123456789abcdef.partial-2", "second")
    assert publish_atomically(second, target) == target  # no "directory not empty"
    assert (target / "data.arrow").read_text() == "first" and not second.exists()
    third = complete(tmp_path / "ravdess-0123456789abcdef.partial-3", "third")
    publish_atomically(third, target, replace=True)
    assert (target / "data.arrow").read_text() == "third" and sorted(p.name for p in tmp_path.iterdir()) == [target.name]
    # An incomplete folder under the key (no report.json) is replaced.
    (target / "report.json").unlink()
    publish_atomically(complete(tmp_path / "p4", "fourth"), target)
    assert (target / "report.json").read_text() == "fourth"


KILLED_PREPARATION = """
import sys
from ser_hf.data.corpora import CORPORA
from ser_hf.data.prepare import prepare_corpus
prepare_corpus(CORPORA["ravdess"], sys.argv[1], num_proc=2, cache_dir=sys.argv[2])
"""


def test_a_killed_preparation_leaves_no_workers_and_its_partial_is_cleaned(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    import psutil

    root = tmp_path / "r"
    for actor in range(1, 13):
        for emo in range(1, 9):
            for rep in (1, 2):
                write_tone(root / f"Actor_{actor:02d}/03-01-{emo:02d}-01-01-{rep:02d}-{actor:02d}.wav", seconds=2.0, sr=44100, silence=0.0)
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_PREPARATION, str(root), str(cache)], cwd=Path(__file__).parents[2])
    try:
        deadline = time.monotonic() + 60
        workers: list[psutil.Process] = []
        while time.monotonic() < deadline and len(workers) < 2:
            workers = psutil.Process(proc.pid).children()
            time.sleep(0.05)
        assert len(workers) >= 2, "the decoding workers never started"
        workers = psutil.Process(proc.pid).children(recursive=True)  # the pool and datasets' queue manager
        proc.send_signal(signal.SIGKILL)  # at once: on a fast machine the decoding may take under a second
        proc.wait()
        gone, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive, f"orphaned workers: {[p.pid for p in alive]}"
    finally:
        for p in workers:  # whatever outlived the test, so that a failure leaves no processes behind
            if p.is_running():
                p.kill()
        proc.kill()
    assert list((cache / "prepared").glob("*.partial-*")), "the killed run left its partial folder"
    small = tmp_path / "small"
    write_tone(small / "Actor_01/03-01-05-01-01-01-01.wav")
    prepare_corpus(CORPORA["ravdess"], small, cache_dir=cache)
    assert not list((cache / "prepared").glob("*.partial-*"))


def test_dangling_symlinks_fifos_and_folders_named_wav_are_listed(tmp_path):
    """A git-annex / DVC tree whose content was never fetched: every name a dangling symlink."""
    from ser_hf.data.corpora import CorpusRootError
    from ser_hf.data.corpora.base import scan

    root = tmp_path / "annex"
    (root / "Actor_01").mkdir(parents=True)
    for rep in ("01", "02"):
        (root / f"Actor_01/03-01-05-01-01-{rep}-01.wav").symlink_to(root / f".git/annex/objects/xx/SHA256E-{rep}.wav")
    with pytest.raises(CorpusRootError) as err:
        scan(CORPORA["ravdess"], root)
    assert "2 skipped" in str(err.value) and "broken symlink: content not fetched?" in str(err.value)

    write_tone(root / "Actor_02/03-01-05-01-01-01-02.wav")
    os.mkfifo(root / "Actor_02/03-01-03-01-01-01-02.wav")
    (root / "Actor_02/03-01-04-01-01-01-02.wav").mkdir()
    result = scan(CORPORA["ravdess"], root)
    assert [Path(f.path).name for f in result.files] == ["03-01-05-01-01-01-02.wav"]
    reasons = {Path(p).name: why for p, why in result.skipped}
    assert reasons["03-01-05-01-01-01-01.wav"].startswith("broken symlink: content not fetched?")
    assert reasons["03-01-03-01-01-01-02.wav"].startswith("not a regular file")
    assert reasons["03-01-04-01-01-01-02.wav"].startswith("a folder, not a file")
    _, report = prepare_corpus(CORPORA["ravdess"], root, cache_dir=tmp_path / "c")
    assert report.found == 5 and report.kept == 1 and len(report.skipped) == 4
    from ser_hf.data.summary import summarize

    ds, report = load_corpus("ravdess", root, return_report=True, cache_dir=tmp_path / "c")
    text = summarize(ds, [report])
    assert "skipped 2x: broken symlink: content not fetched?" in text and "skipped 1x: not a regular file" in text


@pytest.mark.parametrize("num_proc", [1, 2])
def test_the_arrow_writer_gives_the_rows_and_split_of_datasets_map(messy_ravdess, tmp_path, num_proc):
    """The Arrow writer replaced datasets.map: same rows, same order, same values, same report, same split."""
    from ser_hf.data.audio import PreprocessConfig, decode_wav_bytes, preprocess, read_audio, to_pcm16
    from ser_hf.data.splits import ratio_split, speaker_split

    for actor in (3, 4, 5):
        for emotion in (3, 4, 5):
            write_tone(messy_ravdess / f"Actor_{actor:02d}/03-01-{emotion:02d}-01-01-01-{actor:02d}.wav", seconds=0.5,
                       sr=48000, freq=150.0 + 40 * emotion + actor)
    before, before_report = prepare_corpus(CORPORA["ravdess"], messy_ravdess, num_proc=num_proc,
                                           cache_dir=tmp_path / "map", writer="datasets.map")
    after, after_report = prepare_corpus(CORPORA["ravdess"], messy_ravdess, num_proc=num_proc,
                                         cache_dir=tmp_path / "arrow")
    assert len(after) == 13 and after.features == before.features == FEATURES
    assert after.data.table.equals(before.data.table)  # every column, every row, in order
    assert after_report == before_report and len(after_report.failed) == 4
    assert [Path(f["filename"]).name for f in after.cache_files] == [
        Path(f["filename"]).name for f in before.cache_files]
    for split in (lambda ds: speaker_split(ds, seed=1), lambda ds: ratio_split(ds, seed=3, stratify_by="emotion")):
        parts_before, parts_after = split(before), split(after)
        assert {k: v["path"] for k, v in parts_after.items()} == {k: v["path"] for k, v in parts_before.items()}
    # The values are the decoded audio, not merely what both writers agree on.
    cfg = PreprocessConfig()
    for row in after.cast_column("audio", datasets.Audio(decode=False)):
        expected = to_pcm16(preprocess(read_audio(row["path"], 16000)[0], cfg))
        wave, sr = decode_wav_bytes(row["audio"]["bytes"])
        assert sr == 16000 and np.array_equal(np.round(wave * 32768).astype(np.int16), expected)
        assert row["audio"]["path"] == Path(row["path"]).name and row["duration"] == np.float32(len(expected) / 16000)
    # An entry either writer made is the other's cache hit: the key is the same.
    again, _ = prepare_corpus(CORPORA["ravdess"], messy_ravdess, num_proc=num_proc, cache_dir=tmp_path / "map")
    assert len(list((tmp_path / "map" / "prepared").iterdir())) == 1 and again.data.table.equals(after.data.table)


def test_a_failing_worker_fails_the_preparation_and_leaves_no_partial(messy_ravdess, tmp_path, monkeypatch):
    from ser_hf.data import prepare

    def broken(file, *args):
        raise RuntimeError(f"decoder crashed on {Path(file['path']).name}")

    monkeypatch.setattr(prepare, "_decode_file", broken)  # the forked workers inherit the patch
    with pytest.raises(RuntimeError, match="decoder crashed on"):
        prepare_corpus(CORPORA["ravdess"], messy_ravdess, num_proc=2, cache_dir=tmp_path / "c")
    assert list((tmp_path / "c" / "prepared").iterdir()) == []


def test_a_truncated_or_bit_flipped_cache_entry_is_decoded_again(messy_ravdess, tmp_path, caplog):
    """Every file of an entry carries its length and checksum (checksums.json): a truncated Arrow file and one with a
    flipped bit are each found before use, reported, and the entry rebuilt; the rows are the original ones."""
    cache = tmp_path / "cache"
    first, _ = prepare_corpus(CORPORA["ravdess"], messy_ravdess, cache_dir=cache)
    rows = first.cast_column("audio", datasets.Audio(decode=False))[:]
    (entry,) = (cache / "prepared").iterdir()
    arrow = entry / "data.arrow"
    size = arrow.stat().st_size
    for damage, reason in ((lambda data: data[: len(data) // 2], f"data.arrow has {size // 2} bytes, {size} were"),
                           (lambda data: data[:-100] + bytes([data[-100] ^ 0x10]) + data[-99:], "data.arrow does not match")):
        arrow.write_bytes(damage(arrow.read_bytes()))
        caplog.clear()
        with caplog.at_level("WARNING", logger="ser_hf.data.prepare"):
            again, _ = prepare_corpus(CORPORA["ravdess"], messy_ravdess, cache_dir=cache)
        assert f"the cached preparation {entry} is corrupt ({reason}" in caplog.text
        assert again.cast_column("audio", datasets.Audio(decode=False))[:] == rows
        assert [p.name for p in (cache / "prepared").iterdir()] == [entry.name]  # rebuilt in place, nothing aside
        assert arrow.stat().st_size == size


def test_a_full_disk_during_preparation_is_one_line_and_loses_nothing(messy_ravdess, small_disk):
    """A cache on a small file system: the earlier entry stays usable, the failed one leaves no partial folder."""
    from ser_hf.data.synth import ensure_synthetic
    from ser_hf.locks import StorageFullError

    disk = small_disk("4m")
    cache = disk / "cache"
    prepare_corpus(CORPORA["ravdess"], messy_ravdess, cache_dir=cache)  # a few kB: fits
    (earlier,) = (cache / "prepared").iterdir()
    with pytest.raises(StorageFullError) as caught:  # the tiny synthetic RAVDESS needs about 6 MB
        prepare_corpus(CORPORA["ravdess"], ensure_synthetic("ravdess", size="tiny"), cache_dir=cache)
    message = str(caught.value)
    assert message.startswith("preparing ravdess: writing ") and "No space left on device" in message, message
    assert "partial-" in message and "earlier cache entries are intact" in message and "\n" not in message
    assert list((cache / "prepared").iterdir()) == [earlier]  # no partial left
    ds, _ = prepare_corpus(CORPORA["ravdess"], messy_ravdess, cache_dir=cache)  # still served from the cache
    assert len(ds) == 4
