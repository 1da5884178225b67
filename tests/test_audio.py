import os

import numpy as np
import pytest

from ser_hf.data.audio import (
    AudioError,
    PreprocessConfig,
    decode_wav_bytes,
    encode_wav,
    fix_length,
    preprocess,
    read_audio,
    trim_silence,
)

from .conftest import write_tone


def test_read_mixes_down_and_resamples(tmp_path):
    path = write_tone(tmp_path / "st.wav", seconds=1.0, sr=44100, channels=2, silence=0.0)
    wave, sr = read_audio(path, 16000)
    assert sr == 16000 and wave.ndim == 1 and wave.dtype == np.float32
    assert abs(len(wave) - 16000) <= 1
    # Channels were 0.5x and 1.0x of the tone: the mean has peak ~0.375.
    assert 0.33 < np.abs(wave).max() < 0.42


def test_float_wav_is_read_at_full_precision(tmp_path):
    path = write_tone(tmp_path / "f.wav", sr=16000, subtype="FLOAT", silence=0.0)
    wave, _ = read_audio(path, 16000)
    assert np.abs(wave).max() == pytest.approx(0.5, abs=1e-4)


@pytest.mark.parametrize("content, reason", [(b"", "empty file"), (b"RIFF\x10\x00\x00\x00WAVEjunk", "not readable as audio"), (b"hello, not audio", "not readable")])
def test_bad_files_raise_with_the_name(tmp_path, content, reason):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=reason) as info:
        read_audio(path)
    assert "bad.wav" in str(info.value)


def test_trim_matches_librosa():
    librosa = pytest.importorskip("librosa")
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(200, 40000))
        x = (rng.standard_normal(n) * 1e-3).astype(np.float32)
        a, b = sorted(rng.integers(0, n, 2))
        x[a:b] += np.sin(np.arange(b - a) * 0.07).astype(np.float32)
        assert np.array_equal(trim_silence(x, 25), librosa.effects.trim(x, top_db=25)[0])


def test_preprocess_trims_normalises_and_fixes_length(tmp_path):
    wave, sr = read_audio(write_tone(tmp_path / "t.wav", seconds=1.0, silence=0.5), 16000)
    assert len(wave) == 32000
    trimmed = preprocess(wave, PreprocessConfig())
    assert 16000 <= len(trimmed) <= 16000 + 2048  # the silence went, to within a frame
    normed = preprocess(wave, PreprocessConfig(peak_normalize=True, fixed_seconds=3.0))
    assert len(normed) == 48000 and np.abs(normed).max() == pytest.approx(0.99, abs=1e-3)


def test_silent_audio_is_rejected():
    with pytest.raises(AudioError, match="no signal"):
        preprocess(np.zeros(16000, dtype=np.float32), PreprocessConfig(), name="x.wav")


def test_fix_length_centres():
    x = np.arange(10, dtype=np.float32)
    assert fix_length(x, 4).tolist() == [3, 4, 5, 6]
    assert fix_length(x, 14).tolist() == [0, 0] + list(range(10)) + [0, 0]


def test_wav_bytes_round_trip():
    x = (np.sin(np.arange(1600) / 5) * 0.5).astype(np.float32)
    y, sr = decode_wav_bytes(encode_wav(x, 16000))
    assert sr == 16000 and np.max(np.abs(x - y)) < 1e-4


def write_float_wav(path, values, sr=16000):
    import soundfile as sf

    sf.write(path, np.asarray(values, dtype=np.float32), sr, subtype="FLOAT")
    return path


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_rejected_by_name(tmp_path, bad):
    x = (np.sin(np.arange(16000) / 5) * 0.5).astype(np.float32)
    x[8000] = bad
    path = write_float_wav(tmp_path / "nan.wav", x)
    with pytest.raises(AudioError, match="nan.wav: non-finite samples"):
        read_audio(path, 16000)


def truncate(path, keep: float = 0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def test_truncated_wav_is_read_with_a_warning(tmp_path):
    path = truncate(write_tone(tmp_path / "cut.wav", seconds=1.0, silence=0.0))
    info: dict = {}
    wave, sr = read_audio(path, 16000, info=info)
    assert 7000 < len(wave) < 9000
    assert info["sample_rate"] == 16000 and info["channels"] == 1 and info["frames"] == len(wave)
    assert len(info["warnings"]) == 1 and info["warnings"][0].startswith("truncated (the header promises 16000 frames")
    intact: dict = {}
    read_audio(write_tone(tmp_path / "ok.wav"), 16000, info=intact)
    assert intact["warnings"] == []


def test_unreadable_file_says_permission_denied(tmp_path, monkeypatch):
    """As root chmod 000 does not stop a read, so the open call itself is made to fail as it would for a user."""
    import errno

    path = write_tone(tmp_path / "locked.wav")
    real_open = os.open

    def denied(file, flags, *args, **kwargs):
        if os.fspath(file) == str(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(AudioError, match="locked.wav: permission denied"):
        read_audio(path, 16000)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod-000 file anyway; the simulated test above covers it")
def test_unreadable_file_says_permission_denied_for_a_user(tmp_path):
    path = write_tone(tmp_path / "locked.wav")
    path.chmod(0)
    with pytest.raises(AudioError, match="permission denied"):
        read_audio(path, 16000)
