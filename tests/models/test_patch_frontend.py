"""The VGGish/YAMNet log-mel patch front end against hand-computed references and librosa."""

from __future__ import annotations

import math

import librosa
import numpy as np
import pytest

from ser_hf.models.patch_frontend import (
    LogMelPatchFeatureExtractor,
    mel_weight_matrix,
    vggish_feature_extractor,
    yamnet_feature_extractor,
)

SR = 16000


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    wave = 0.3 * np.sin(2 * np.pi * 180 * t) + 0.1 * np.sin(2 * np.pi * 2300 * t) + 0.02 * rng.standard_normal(len(t))
    return wave.astype(np.float32)


def reference_log_mel(wave: np.ndarray, log_offset: float) -> np.ndarray:
    """A float64 transcription of VGGish's mel_features.py, written with loops (independent of the module)."""
    window_length, hop_length, fft_length = 400, 160, 512
    num_frames = 1 + (len(wave) - window_length) // hop_length
    window = np.array([0.5 - 0.5 * math.cos(2 * math.pi * k / window_length) for k in range(window_length)])
    frames = np.stack([wave[i * hop_length : i * hop_length + window_length].astype(np.float64)
                       for i in range(num_frames)])
    magnitude = np.abs(np.fft.rfft(frames * window, fft_length))

    def mel(f):
        return 1127.0 * math.log(1.0 + f / 700.0)

    bins_mel = [mel(f) for f in np.linspace(0.0, SR / 2, fft_length // 2 + 1)]
    edges = np.linspace(mel(125.0), mel(7500.0), 64 + 2)
    weights = np.zeros((fft_length // 2 + 1, 64))
    for band in range(64):
        lower, center, upper = edges[band : band + 3]
        for j, m in enumerate(bins_mel):
            if j == 0:
                continue  # DC bin zeroed
            weights[j, band] = max(0.0, min((m - lower) / (center - lower), (upper - m) / (upper - center)))
    return np.log(magnitude @ weights + log_offset)


@pytest.mark.parametrize("make, offset", [(vggish_feature_extractor, 0.01), (yamnet_feature_extractor, 0.001)])
def test_log_mel_matches_hand_computed_reference(make, offset):
    wave = speechlike(1.3)
    ours = make().log_mel(wave).numpy()
    reference = reference_log_mel(wave, offset)
    assert ours.shape == reference.shape == (1 + (len(wave) - 400) // 160, 64)
    np.testing.assert_allclose(ours, reference, atol=2e-4, rtol=1e-4)


def test_stft_magnitude_matches_librosa():
    """The framing/window/FFT part against librosa.stft (periodic Hann of 400 in a 512-point FFT).

    librosa centres the 400-sample window inside the 512-sample frame, 56 samples in; prepending
    56 zeros lines its frames up with the published ones (frames at 0, 160, 320, ...).
    """
    wave = speechlike(1.0)
    fe = vggish_feature_extractor()
    window, _ = fe._weights(device="cpu")
    frames = np.stack([wave[i * 160 : i * 160 + 400] for i in range(fe.num_frames(len(wave)))])
    ours = np.abs(np.fft.rfft(frames * window.numpy(), 512))
    theirs = np.abs(librosa.stft(np.concatenate([np.zeros(56, np.float32), wave]), n_fft=512, hop_length=160,
                                 win_length=400, window="hann", center=False)).T
    n = min(len(ours), len(theirs))
    assert n >= len(ours) - 1
    np.testing.assert_allclose(ours[:n], theirs[:n], atol=1e-3, rtol=1e-4)


def test_mel_bands_follow_librosa_htk_scale():
    """Band edges are librosa's HTK mel frequencies; each band is zero outside its two neighbours' centres.

    librosa's filterbank itself is not the reference: it draws the triangles in Hz, the published
    code in mel, so the weights differ inside a band (not at its edges).
    """
    weights = mel_weight_matrix()
    edges_hz = librosa.mel_frequencies(n_mels=66, fmin=125.0, fmax=7500.0, htk=True)
    bin_hz = np.linspace(0, SR / 2, 257)
    assert weights.shape == (257, 64)
    assert np.all(weights[0] == 0)
    for band in range(64):
        inside = (bin_hz > edges_hz[band] - 1e-6) & (bin_hz < edges_hz[band + 2] + 1e-6)
        assert np.all(weights[~inside, band] == 0), band
        peak = bin_hz[np.argmax(weights[:, band])]
        spacing = bin_hz[1]
        assert abs(peak - edges_hz[band + 1]) <= spacing, band


@pytest.mark.parametrize("seconds", [0.5, 0.975, 1.0, 1.5, 2.0, 3.0, 4.0, 10.0])
def test_patch_counts(seconds):
    n = int(round(seconds * SR))
    wave = speechlike(seconds)
    # VGGish: non-overlapping 0.96-s examples of the unpadded STFT frames (published: none under 0.975 s).
    stft_frames = 1 + (n - 400) // 160 if n >= 400 else 0
    published_vggish = 1 + (stft_frames - 96) // 96 if stft_frames >= 96 else 0
    assert vggish_feature_extractor("none").num_patches(n) == published_vggish
    assert vggish_feature_extractor("none").patches(wave).shape == (published_vggish, 96, 64)
    assert vggish_feature_extractor().patches(wave).shape[0] == max(1, published_vggish)
    # YAMNet: pad_waveform -> 1 + ceil(max(0, n - 15600) / 7680) patches of 0.96 s every 0.48 s.
    expected_yamnet = 1 + math.ceil(max(0, n - 15600) / 7680)
    assert yamnet_feature_extractor().num_patches(n) == expected_yamnet
    assert yamnet_feature_extractor().patches(wave).shape == (expected_yamnet, 96, 64)


def test_three_seconds_give_three_vggish_and_six_yamnet_frames():
    wave = speechlike(3.0)
    assert vggish_feature_extractor()(wave)["input_features"].shape == (3, 96, 64)
    assert yamnet_feature_extractor()(wave)["input_features"].shape == (6, 96, 64)


def test_patches_are_consecutive_windows_of_the_spectrogram():
    fe = yamnet_feature_extractor()
    wave = speechlike(2.0)
    spectrogram = fe.log_mel(np.pad(wave, (0, fe.padded_length(len(wave)) - len(wave)))).numpy()
    patches = fe.patches(wave).numpy()
    for i, patch in enumerate(patches):
        np.testing.assert_array_equal(patch, spectrogram[48 * i : 48 * i + 96])


def test_batch_call_stacks_patches_and_counts_them(tmp_path):
    fe = vggish_feature_extractor()
    waves = [speechlike(1.0), speechlike(3.0, 1), speechlike(2.0, 2)]
    out = fe(waves)
    assert out["patch_counts"].tolist() == [1, 3, 2]
    assert out["input_features"].shape == (6, 96, 64)
    np.testing.assert_array_equal(out["input_features"][1:4].numpy(), fe.patches(waves[1]).numpy())
    assert fe(waves, return_tensors="np")["input_features"].dtype == np.float32
    # 48-kHz input is resampled to 16 kHz first.
    assert fe(librosa.resample(waves[1], orig_sr=SR, target_sr=48000), sampling_rate=48000)["patch_counts"].tolist() \
        == [3]


def test_feature_extractor_round_trips_through_save_pretrained(tmp_path):
    yamnet_feature_extractor().save_pretrained(tmp_path)
    loaded = LogMelPatchFeatureExtractor.from_pretrained(tmp_path)
    assert (loaded.log_offset, loaded.patch_hop_frames, loaded.pad_mode) == (0.001, 48, "yamnet")
    with pytest.raises(ValueError, match="pad_mode"):
        LogMelPatchFeatureExtractor(pad_mode="reflect")
