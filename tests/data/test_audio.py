import os
import struct
import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_hf.data import audio as audio_module
from ser_hf.data.audio import (
    AudioError,
    AudioTooLongError,
    PreprocessConfig,
    decode_wav_bytes,
    encode_wav,
    fix_length,
    preprocess,
    read_audio,
    to_pcm16,
    trim_silence,
)

from tests.conftest import write_tone


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


def long_silence(path: Path, seconds: float = 900.0) -> Path:
    """A compressed "decompression bomb": ``seconds`` of 8-kHz digital silence, a few hundred kB on disk."""
    codec = {".mp3": ["-c:a", "libmp3lame", "-b:a", "8k"], ".ogg": ["-c:a", "libvorbis", "-q:a", "0"], ".flac": [],
             ".m4a": ["-c:a", "aac", "-b:a", "16k"], ".aac": ["-c:a", "aac", "-b:a", "16k", "-f", "adts"]}
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", str(seconds),
                    *codec[path.suffix], str(path)], check=True, timeout=120)
    return path


@pytest.mark.parametrize("suffix", [".mp3", ".ogg", ".flac", ".m4a"])  # libsndfile; FFmpeg through torchcodec
def test_compressed_file_past_the_cap_is_refused_before_decoding(tmp_path, suffix):
    """15 min of silence in < 1 MB decodes to 29 MB of float32 samples (a 10-h file: 1.2 GB); with a cap the
    header alone refuses it, and the reader's memory peak stays far below even one second's decoding buffer."""
    path = long_silence(tmp_path / f"bomb{suffix}")
    assert path.stat().st_size < 1_000_000
    import torchcodec.decoders  # noqa: F401 - imported (with torch) before memory is traced: the m4a reader needs it
    tracemalloc.start()
    try:
        with pytest.raises(AudioTooLongError, match=r"bomb.*: 900 s of audio by its header, longer than the 60-s limit") as caught:
            read_audio(path, 16000, max_seconds=60)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200_000, f"{peak} bytes allocated: samples were decoded"
    assert caught.value.seconds == pytest.approx(900, abs=1) and caught.value.max_seconds == 60
    assert isinstance(caught.value, AudioError)  # callers that catch AudioError keep working
    wave, sr = read_audio(path, None, max_seconds=901)  # within the cap: decoded whole
    assert sr == 8000 and len(wave) == pytest.approx(900 * 8000, abs=2000)


def test_container_that_understates_its_length_is_decoded_no_further_than_the_cap(tmp_path):
    """Raw ADTS AAC states no duration: FFmpeg estimates one from the bitrate (below the truth for this file). Past
    such an estimate, decoding stops just after the cap and the file is refused."""
    from torchcodec.decoders import AudioDecoder

    path = long_silence(tmp_path / "raw.aac", seconds=300)
    stated = AudioDecoder(str(path)).metadata.duration_seconds
    if stated is None or stated > 298:
        pytest.skip(f"this FFmpeg states {stated} s for a 300-s ADTS stream: nothing understated to test")
    limit = float(int(stated) + 1)
    with pytest.raises(AudioTooLongError, match=r"raw.aac: more than \d+ s of audio, longer than .*decoding stopped") as caught:
        read_audio(path, 16000, max_seconds=limit)
    assert not caught.value.exact and limit < caught.value.seconds <= limit + 1.1


def test_plain_wav_past_the_cap_is_refused_before_reading(tmp_path):
    path = write_tone(tmp_path / "long.wav", seconds=3.0, silence=0.0)
    with pytest.raises(AudioTooLongError, match="long.wav: 3 s of audio by its header, longer than the 2.5-s limit"):
        read_audio(path, 16000, max_seconds=2.5)
    assert len(read_audio(path, 16000, max_seconds=3.0)[0]) == 48000
    for subtype in ("PCM_24", "FLOAT"):  # through libsndfile
        other = write_tone(tmp_path / f"long_{subtype}.wav", seconds=3.0, silence=0.0, subtype=subtype)
        with pytest.raises(AudioTooLongError):
            read_audio(other, 16000, max_seconds=2.5)


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


# --- The numpy reader of plain 16-bit PCM WAVs must give exactly what libsndfile gives. ---

_PCM_GUID = bytes.fromhex("0100000000001000800000aa00389b71")
_FLOAT_GUID = bytes.fromhex("0300000000001000800000aa00389b71")


def _chunk(cid: bytes, body: bytes, pad: bool = True) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if pad and len(body) % 2 else b"")


def _fmt(channels=1, sr=48000, bits=16, tag=1, extensible=False, guid=_PCM_GUID, align=None, extra=b"") -> bytes:
    align = channels * ((bits + 7) // 8) if align is None else align
    body = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, sr, (sr * align) % 2**32, align, bits)
    if extensible:
        body += struct.pack("<HHI", 22, bits, 4 if channels == 1 else 3) + guid
    return _chunk(b"fmt ", body + extra)


def _wav(data: bytes, fmt: bytes | None = None, before=(), after=(), data_size=None, magic=b"RIFF") -> bytes:
    size = len(data) if data_size is None else data_size
    body = b"WAVE" + b"".join(before) + (_fmt() if fmt is None else fmt) + b"data" + struct.pack("<I", size) + data
    body += b"".join(after)
    return magic + struct.pack("<I", len(body)) + body


def _pcm(frames: int, channels: int = 1, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(-32768, 32768, frames * channels).astype("<i2").tobytes()


def _read_both(path, monkeypatch) -> tuple[tuple, tuple, bool]:
    """read_audio's result (bits, rate, info) or error message, with the fast reader and with soundfile only."""
    fast = audio_module._read_plain_pcm16
    took = []

    def spy(*args):
        took.append(fast(*args))
        return took[-1]

    def outcome():
        info: dict = {}
        try:
            wave, sr = read_audio(path, None, info=info)
        except AudioError as err:
            return ("error", str(err))
        return ("ok", wave.dtype, wave.view(np.uint32).tobytes(), sr, info)

    monkeypatch.setattr(audio_module, "_read_plain_pcm16", spy)
    with_fast = outcome()
    monkeypatch.setattr(audio_module, "_read_plain_pcm16", lambda *args: None)
    reference = outcome()
    monkeypatch.setattr(audio_module, "_read_plain_pcm16", fast)
    return with_fast, reference, any(t is not None for t in took)


@pytest.mark.parametrize("fmt", ["WAV", "WAVEX"])
@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
@pytest.mark.parametrize("channels", [1, 2, 3])
def test_fast_reader_matches_soundfile_on_what_soundfile_writes(tmp_path, monkeypatch, fmt, subtype, channels):
    x = np.random.default_rng(channels).uniform(-1, 1, (1001, channels)).astype(np.float32)
    path = tmp_path / "x.wav"
    sf.write(path, x, 44100, subtype=subtype, format=fmt)
    fast, reference, took = _read_both(path, monkeypatch)
    assert fast == reference
    assert took == (subtype == "PCM_16")  # every plain 16-bit file takes the fast path, nothing else does


_LIST_INFO = _chunk(b"LIST", b"INFO" + _chunk(b"ISFT", b"Lavf58.76.100\0") + _chunk(b"INAM", b"abc"))
_FAST_LAYOUTS = {  # (file bytes, whether the numpy reader takes it)
    "stereo": (_wav(_pcm(500, 2), _fmt(channels=2)), True),
    "extensible": (_wav(_pcm(500), _fmt(extensible=True)), True),
    "extensible float": (_wav(_pcm(500), _fmt(extensible=True, bits=32, guid=_FLOAT_GUID)), False),
    "fmt with extra bytes": (_wav(_pcm(500), _fmt(extra=b"\0\0")), True),
    "odd data size": (_wav(_pcm(500)[:-1] + b"\0", data_size=999), True),
    "odd data size at the end": (_wav(_pcm(500)[:-1], data_size=999), True),
    "truncated": (_wav(_pcm(500), data_size=4000), True),
    "truncated mid-frame": (_wav(_pcm(500, 2)[:-3], _fmt(channels=2), data_size=4000), True),
    "LIST before data": (_wav(_pcm(500), before=[_LIST_INFO]), True),
    "JUNK and fact before data": (
        _wav(_pcm(500), before=[_chunk(b"JUNK", bytes(28)), _chunk(b"fact", bytes(4))]), True
    ),
    "LIST after data": (_wav(_pcm(500), after=[_LIST_INFO, _chunk(b"id3 ", b"ID3" + bytes(30))]), True),
    "zero padding after data": (_wav(_pcm(500), after=[bytes(64)]), True),
    "odd chunk then data": (_wav(_pcm(500), before=[_chunk(b"JUNK", bytes(3))]), True),
    "odd chunk after data": (_wav(_pcm(500), after=[_chunk(b"JUNK", bytes(3)), _LIST_INFO]), True),
    "PEAK after data": (_wav(_pcm(500), after=[_chunk(b"PEAK", bytes(16))]), False),
    "cue before data": (_wav(_pcm(500), before=[_chunk(b"cue ", struct.pack("<I", 0))]), False),
    "a second data chunk": (_wav(_pcm(500), after=[_chunk(b"data", _pcm(10))]), False),
    "LIST holding data": (_wav(_pcm(500), before=[_chunk(b"LIST", b"INFO" + b"data" + bytes(12))]), False),
    "LIST of other sub-chunks": (
        _wav(_pcm(500), before=[_chunk(b"LIST", b"INFO" + _chunk(b"ISFT", b"abc", pad=False))]), False
    ),
    "block align off": (_wav(_pcm(500), _fmt(align=4)), False),
    "block align zero": (_wav(_pcm(500), _fmt(align=0)), False),
    "15 bits": (_wav(_pcm(500), _fmt(bits=15)), False),
    "zero rate": (_wav(_pcm(500), _fmt(sr=0)), False),
    "zero channels": (_wav(_pcm(500), _fmt(channels=0, align=0)), False),
    "empty data chunk": (_wav(b"", data_size=0), False),
    "no fmt": (b"RIFF" + struct.pack("<I", 1012) + b"WAVE" + _chunk(b"data", _pcm(500)), False),
    "data before fmt": (b"RIFF" + struct.pack("<I", 1036) + b"WAVE" + _chunk(b"data", _pcm(500)) + _fmt(), False),
    "wavpack in data": (_wav(b"wvpk" + _pcm(500)), False),
    "RIFX": (_wav(_pcm(500), magic=b"RIFX"), False),
    "one frame": (_wav(_pcm(1)), False),
    "header cut": (_wav(_pcm(500))[:40], False),
}


@pytest.mark.parametrize("layout", sorted(_FAST_LAYOUTS))
def test_fast_reader_matches_soundfile_on_odd_layouts(tmp_path, monkeypatch, layout):
    content, fast_path = _FAST_LAYOUTS[layout]
    path = tmp_path / "x.wav"
    path.write_bytes(content)
    fast, reference, took = _read_both(path, monkeypatch)
    assert fast == reference
    assert took == fast_path


def test_fast_reader_keeps_the_truncation_warning(tmp_path, monkeypatch):
    path = tmp_path / "cut.wav"
    path.write_bytes(_wav(_pcm(1000), data_size=4000))
    fast, reference, took = _read_both(path, monkeypatch)
    assert took and fast == reference
    assert fast[-1]["frames"] == 1000 and fast[-1]["warnings"][0].startswith("truncated (the header promises 2000")


def test_aiff_named_wav_goes_through_soundfile(tmp_path, monkeypatch):
    path = tmp_path / "x.wav"
    sf.write(path, np.zeros((100, 1), np.float32) + 0.25, 16000, format="AIFF", subtype="PCM_16")
    fast, reference, took = _read_both(path, monkeypatch)
    assert fast == reference and fast[0] == "ok" and not took


def test_fast_reader_matches_soundfile_on_random_damage(tmp_path, monkeypatch):
    """Valid plain files with one random change to a header byte, the sizes, the chunks or the length."""
    rng = np.random.default_rng(11)
    extras = [_LIST_INFO, _chunk(b"JUNK", bytes(6)), _chunk(b"fact", bytes(2)), _chunk(b"PEAK", bytes(16)), bytes(8)]
    path = tmp_path / "x.wav"
    took_any = 0
    for i in range(150):
        channels = int(rng.choice([1, 2]))
        frames = int(rng.choice([3, 100, 501]))
        fmt = _fmt(channels=channels, extensible=bool(rng.random() < 0.3))
        before = [extras[j] for j in rng.permutation(5)[: rng.integers(0, 2)]]
        after = [extras[j] for j in rng.permutation(5)[: rng.integers(0, 2)]]
        content = bytearray(_wav(_pcm(frames, channels, seed=i), fmt, before, after))
        change = rng.integers(4)
        if change == 0:
            content[rng.integers(min(len(content), 100))] = rng.integers(256)
        elif change == 1:
            content = content[: rng.integers(30, len(content) + 1)]
        elif change == 2:
            at = content.index(b"data") + 4
            content[at : at + 4] = struct.pack("<I", int(rng.integers(0, 2 * frames * channels * 2 + 8)))
        path.write_bytes(bytes(content))
        fast, reference, took = _read_both(path, monkeypatch)
        assert fast == reference, (i, bytes(content[:80]))
        took_any += took
    assert took_any > 50


def _reference_row(path, cfg: PreprocessConfig) -> bytes:
    """The prepared WAV bytes as the code before the numpy reader made them (soundfile, abs, zeros, clip x2)."""
    with sf.SoundFile(path) as fh:
        if fh.subtype == "PCM_16":
            data = np.multiply(fh.read(dtype="int16", always_2d=True), 1 / 32768, dtype=np.float32)
        else:
            data = fh.read(dtype="float32", always_2d=True)
        sr = fh.samplerate
    wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if sr != cfg.sampling_rate:
        wave = audio_module.soxr.resample(wave, sr, cfg.sampling_rate, quality="HQ")
    wave = np.ascontiguousarray(wave, dtype=np.float32)
    peak = float(np.max(np.abs(wave)))
    if cfg.trim_db is not None:
        n, hop = len(wave), 512
        n_blocks = -(-n // hop)
        squares = np.zeros(n_blocks * hop, dtype=np.float64)
        np.square(wave, out=squares[:n])
        padded = np.concatenate([np.zeros(2), squares.reshape(n_blocks, hop).sum(axis=1), np.zeros(2)])
        db = 10.0 * np.log10(np.maximum(np.convolve(padded, np.ones(4), mode="valid")[: 1 + n // hop] / 2048, 1e-10))
        loud = np.flatnonzero(db > db.max() - cfg.trim_db)
        wave = wave[loud[0] * hop : min(n, (loud[-1] + 1) * hop)]
    if cfg.peak_normalize:
        wave = wave * (0.99 / peak)
    if cfg.fixed_seconds:
        wave = fix_length(wave, int(round(cfg.fixed_seconds * cfg.sampling_rate)))
    wave = np.clip(wave, -1.0, 1.0).astype(np.float32, copy=False)
    return encode_wav(np.round(np.clip(wave, -1.0, 1.0) * 32767.0).astype("<i2"), cfg.sampling_rate)


@pytest.mark.parametrize(
    "cfg",
    [PreprocessConfig(), PreprocessConfig(trim_db=None), PreprocessConfig(peak_normalize=True, fixed_seconds=1.0)],
)
def test_prepared_bytes_are_those_of_the_reference_pipeline(tmp_path, cfg):
    rng = np.random.default_rng(5)
    cases = [(48000, 1, "PCM_16", 0.3), (48000, 2, "PCM_16", 0.9), (44100, 1, "PCM_16", 1.0), (16000, 1, "PCM_16", 0.5)]
    cases += [(48000, 1, "PCM_24", 0.4), (16000, 2, "FLOAT", 1.7), (22050, 1, "FLOAT", 0.01)]  # 1.7: clipped
    for i, (sr, channels, subtype, gain) in enumerate(cases):
        n = int(sr * rng.uniform(0.5, 2.0))
        t = np.arange(n) / sr
        x = gain * np.sin(2 * np.pi * rng.uniform(100, 400) * t) * (t > 0.2) + 1e-3 * rng.standard_normal(n)
        x = np.stack([x * (c + 1) / channels for c in range(channels)], axis=1)
        path = tmp_path / f"{i}.wav"
        sf.write(path, x.astype(np.float32), sr, subtype=subtype)
        wave, out_sr = read_audio(path, cfg.sampling_rate)
        assert encode_wav(to_pcm16(preprocess(wave, cfg)), out_sr) == _reference_row(path, cfg), (i, cfg)
