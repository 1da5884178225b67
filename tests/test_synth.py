"""The synthetic corpus: layouts, rates, determinism, and learnable-but-not-trivial emotions."""

import hashlib

import numpy as np
import pytest
import soundfile as sf

from ser_hf.synth import CORPORA, LAYOUTS, generate, plan, render_long_clip


def digest(root):
    return {p.relative_to(root).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_audio(tmp_path):
    generate("emodb", tmp_path / "a", size="tiny", seed=3)
    generate("emodb", tmp_path / "b", size="tiny", seed=3)
    generate("emodb", tmp_path / "c", size="tiny", seed=4)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")
    assert (tmp_path / "a/erkennung.txt").is_file() and (tmp_path / "a/silb").is_dir()


@pytest.mark.parametrize("corpus, rates", [
    ("ravdess", {48000}), ("tess", {24414}), ("savee", {44100}), ("crema_d", {16000}),
    ("subesco", {44100, 48000}), ("emodb", {16000}), ("esd", {16000}), ("jl_corpus", {44100}), ("banglaser", {44100}),
])
def test_native_sample_rates(corpus, rates):
    files = plan(corpus, "tiny").files
    assert {f.sampling_rate for f in files} == rates


def test_written_files_have_the_planned_rate(tmp_path):
    manifest = generate("subesco", tmp_path / "s", size="tiny")
    for m in manifest:
        assert sf.info(str(tmp_path / "s" / m["relpath"])).samplerate == m["sampling_rate"]
    assert (tmp_path / "s/SUBESCO/F_02_MONIKA_S_2_SURPRISE_3].wav").is_file()


def test_full_sizes_match_the_real_corpora():
    expected = {"ravdess": 1440, "tess": 2800, "savee": 480, "crema_d": 7442, "subesco": 7000, "banglaser": 1467,
                "emodb": 535, "jl_corpus": 2400, "esd": 35000}
    assert {c: len(plan(c, "full").files) for c in CORPORA} == expected
    emodb = plan("emodb", "full").files
    assert sorted(np.unique([f.raw_label for f in emodb], return_counts=True)[1]) == sorted([127, 81, 79, 71, 69, 62, 46])


def test_every_layout_plans(tmp_path):
    for corpus, layouts in LAYOUTS.items():
        for layout in layouts:
            assert plan(corpus, "tiny", layout).files


def test_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x/keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        generate("tess", tmp_path / "x", size="tiny")
    assert (tmp_path / "x/keep.txt").read_text() == "mine"


def test_learnable_but_not_trivial():
    """MFCC statistics + logistic regression, leave-one-speaker-out, on 7 classes (chance 14 %)."""
    import librosa
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import LeaveOneGroupOut, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ser_hf.audio import decode_wav_bytes
    from ser_hf.corpora import load_corpus
    from ser_hf.synth import ensure_synthetic

    ds = load_corpus("savee", ensure_synthetic("savee", size="tiny"), label_set="seven")
    ds = ds.cast_column("audio", __import__("datasets").Audio(decode=False))
    features = []
    for row in ds:
        wave, sr = decode_wav_bytes(row["audio"]["bytes"])
        mfcc = librosa.feature.mfcc(y=wave, sr=sr, n_mfcc=20)
        features.append(np.concatenate([mfcc.mean(1), mfcc.std(1)]))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    scores = cross_val_score(model, np.array(features), ds["label"], groups=ds["speaker"], cv=LeaveOneGroupOut())
    assert 0.25 <= scores.mean() <= 0.96, scores


def test_long_clip_annotations_line_up():
    wave, annotations = render_long_clip(["angry", "sad", "happy"], seconds_per_segment=2.0, silence_between=1.0)
    assert [a[2] for a in annotations] == ["angry", "sad", "happy"]
    assert annotations[1][0] == pytest.approx(3.0) and len(wave) == 16000 * 9
    gap = wave[int(2.1 * 16000): int(2.9 * 16000)]
    assert np.sqrt(np.mean(gap ** 2)) < 0.01  # the gaps are silence for the RMS gate
