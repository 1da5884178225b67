"""Augmentation presets (seeds 003 and 004), offline x5 expansion and on-the-fly augmentation."""

from __future__ import annotations

import random

import datasets
import numpy as np
import pytest

from ser_hf.registry import AUGMENT_PRESETS
from ser_hf.data.audio import decode_wav_bytes, encode_wav
from ser_hf.data.augment import (
    OnTheFlyAugment,
    PeakRelativeGaussianNoise,
    build_augmenter,
    expand_offline,
    preset_techniques,
)

SR = 16000


def tone(freq: float = 220.0, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t) * np.hanning(len(t)) ** 0.1).astype(np.float32)


def dominant_frequency(wave: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave)), n=8 * len(wave)))
    return float(np.fft.rfftfreq(8 * len(wave), 1 / SR)[np.argmax(spectrum)])


def tiny_dataset(n: int = 4) -> datasets.Dataset:
    rows = [{"audio": {"bytes": encode_wav(tone(200 + 40 * i, 0.5), SR), "path": f"clip{i}.wav"},
             "label": i % 3, "speaker": f"spk{i}", "duration": 0.5} for i in range(n)]
    features = datasets.Features({"audio": datasets.Audio(sampling_rate=SR),
                                  "label": datasets.ClassLabel(names=["angry", "happy", "sad"]),
                                  "speaker": datasets.Value("string"), "duration": datasets.Value("float32")})
    return datasets.Dataset.from_list(rows, features=features)


def raw_audio(ds: datasets.Dataset) -> list[bytes]:
    return [a["bytes"] for a in ds.cast_column("audio", datasets.Audio(decode=False))["audio"]]


def test_seed003_noise_amplitude_is_at_most_0035_times_the_peak():
    wave = tone(amplitude=0.6)
    peak = float(np.abs(wave).max())
    noise = build_augmenter("seed003", technique="noise")
    stds = np.array([np.std(noise.apply(wave, seed) - wave) for seed in range(40)])
    assert stds.max() <= 0.035 * peak * 1.05  # std of N(0, 1) noise samples: within 5 % of the amplitude
    assert stds.min() < 0.01 * peak  # U(0, 1) scaling: some draws are small
    assert stds.max() > 0.025 * peak  # ... and some close to the bound
    # the rule is relative to the clip's own peak: a quieter clip gets proportionally less noise
    quiet_std = np.std(noise.apply(wave * 0.1, 7) - wave * 0.1)
    assert quiet_std == pytest.approx(0.1 * np.std(noise.apply(wave, 7) - wave), rel=1e-3)


def test_peak_relative_noise_is_an_audiomentations_transform():
    transform = PeakRelativeGaussianNoise(max_ratio=0.035, p=1.0)
    out = transform(samples=tone(), sample_rate=SR)
    assert out.dtype == np.float32 and out.shape == (SR,)
    assert 0 <= transform.parameters["amplitude"] <= 0.035 * 0.5


def test_seed003_roll_keeps_length_and_shifts_by_at_most_5000_samples():
    wave = np.random.default_rng(0).standard_normal(SR).astype(np.float32)  # every roll is distinguishable
    shift = build_augmenter("seed003", technique="shift")
    amounts = []
    for seed in range(12):
        out = shift.apply(wave, seed)
        assert out.shape == wave.shape
        start = np.flatnonzero(wave == out[0])  # where the rolled signal's first sample came from
        assert len(start) == 1
        amount = (-int(start[0]) + SR // 2) % SR - SR // 2  # as a signed roll
        assert np.array_equal(np.roll(wave, amount), out)
        assert -5000 <= amount <= 5000
        amounts.append(amount)
    assert len(set(amounts)) > 6 and min(amounts) < 0 < max(amounts)


def test_seed003_pitch_shift_raises_a_tone_by_07_semitones_and_keeps_length():
    wave = tone(220.0)
    out = build_augmenter("seed003", technique="pitch").apply(wave, 0)
    assert out.shape == wave.shape
    assert dominant_frequency(out) == pytest.approx(220.0 * 2 ** (0.7 / 12), abs=2.0)  # 229.1 Hz


def test_seed003_chain_keeps_length_and_changes_the_audio():
    wave = tone()
    out = build_augmenter("seed003").apply(wave, 1)
    assert out.shape == wave.shape and out.dtype == np.float32
    assert not np.allclose(out, wave)


def test_seed004_stretch_changes_length_within_rate_bounds_and_noise_is_0005():
    wave = tone(seconds=1.0)
    stretch = build_augmenter("seed004", technique="stretch")
    lengths = [len(stretch.apply(wave, seed)) for seed in range(10)]
    assert all(SR / 1.2 - 200 <= n <= SR / 0.8 + 200 for n in lengths)
    assert len(set(lengths)) > 1
    silence = np.zeros(4 * SR, dtype=np.float32)
    assert np.std(build_augmenter("seed004", technique="noise").apply(silence, 0)) == pytest.approx(0.005, rel=0.02)
    semitones = []
    for seed in range(8):
        shifted = build_augmenter("seed004", technique="pitch").apply(tone(220.0), seed)
        semitones.append(12 * np.log2(dominant_frequency(shifted) / 220.0))
    assert all(-2.2 <= s <= 2.2 for s in semitones) and np.ptp(semitones) > 0.5


def test_augmenter_is_seedable_and_leaves_global_random_state_alone():
    wave = tone()
    augment = build_augmenter("seed003")
    assert np.array_equal(augment.apply(wave, 5), augment.apply(wave, 5))
    assert not np.array_equal(augment.apply(wave, 5), augment.apply(wave, 6))
    a, b = build_augmenter("seed003", seed=3), build_augmenter("seed003", seed=3)
    assert np.array_equal(a(wave), b(wave))

    random.seed(123)
    np.random.seed(123)
    expected = (random.random(), np.random.random())
    random.seed(123)
    np.random.seed(123)
    augment(wave)
    assert (random.random(), np.random.random()) == expected


def test_probability_zero_leaves_audio_unchanged_and_unknown_names_fail():
    wave = tone()
    assert np.array_equal(build_augmenter("seed004", p=0.0)(wave), wave)
    with pytest.raises(ValueError, match="preset"):
        build_augmenter("seed999")
    with pytest.raises(ValueError, match="technique"):
        build_augmenter("seed003", technique="stretch")
    assert set(AUGMENT_PRESETS) == {"seed003", "seed004", "seed004_images"}
    assert list(preset_techniques("seed003")) == ["noise", "pitch", "shift"]


def test_on_the_fly_augments_about_p_of_the_clips_reproducibly():
    wave = tone(seconds=0.25)
    first = OnTheFlyAugment("seed003", p=0.5, seed=0)
    changed = [not np.array_equal(first(wave), wave) for _ in range(40)]
    assert 8 <= sum(changed) <= 32
    again = OnTheFlyAugment("seed003", p=0.5, seed=0)
    assert [not np.array_equal(again(wave), wave) for _ in range(40)] == changed


def test_on_the_fly_dataloader_workers_do_not_repeat_each_other():
    import torch

    augment = OnTheFlyAugment("seed004", p=1.0, seed=0)
    wave = tone(seconds=0.25)
    loader = torch.utils.data.DataLoader([wave] * 4, batch_size=1, num_workers=2,
                                         collate_fn=lambda rows: augment(rows[0]))
    outputs = [out for out in loader]
    # each worker's copy of the augmenter starts from the same state; without re-seeding per
    # worker, worker 0 and worker 1 would produce identical clips
    assert len({out.tobytes() for out in outputs}) == 4


def test_expand_offline_x5_keeps_originals_and_labels_and_adds_augmented_copies():
    ds = tiny_dataset(4)
    expanded = expand_offline(ds, factor=5, preset="seed003", seed=0)
    assert len(expanded) == 5 * len(ds)
    assert expanded.features["audio"] == ds.features["audio"]
    assert expanded.features["label"] == ds.features["label"]
    assert list(expanded["augmented"]) == [False] * 4 + [True] * 16
    assert list(expanded["label"]) == list(ds["label"]) * 5
    assert list(expanded["speaker"]) == list(ds["speaker"]) * 5

    original_bytes, expanded_bytes = raw_audio(ds), raw_audio(expanded)
    assert expanded_bytes[:4] == original_bytes  # originals untouched
    for i, data in enumerate(expanded_bytes[4:]):
        wave, sr = decode_wav_bytes(data)
        source, _ = decode_wav_bytes(original_bytes[i % 4])
        assert sr == SR and len(wave) == len(source)  # seed003 never changes the length
        assert not np.allclose(wave, source, atol=1e-3)
    # reproducible
    assert raw_audio(expand_offline(ds, 5, "seed003", seed=0)) == expanded_bytes
    assert raw_audio(expand_offline(ds, 5, "seed003", seed=1))[4:] != expanded_bytes[4:]
    # factor 1: the originals, marked
    assert list(expand_offline(ds, 1, "seed003")["augmented"]) == [False] * 4


def test_expand_offline_updates_duration_of_stretched_copies_and_is_independent_of_num_proc():
    ds = tiny_dataset(3)
    expanded = expand_offline(ds, factor=2, preset="seed004", seed=0)  # copy 1 = time stretch
    lengths = [len(decode_wav_bytes(b)[0]) / SR for b in raw_audio(expanded)]
    durations = list(expanded["duration"])
    assert durations == pytest.approx(lengths, abs=1e-4)
    assert any(abs(d - 0.5) > 0.01 for d in durations[3:])
    parallel = expand_offline(ds, factor=2, preset="seed004", seed=0, num_proc=2)
    assert raw_audio(parallel) == raw_audio(expanded)


def test_seed004_image_shift_rolls_the_clip_by_at_most_a_tenth():
    wave = tone()
    shift = build_augmenter("seed004_images", technique="shift")
    for seed in range(5):
        shifted = shift.apply(wave, seed)
        offsets = [k for k in range(-len(wave) // 10, len(wave) // 10 + 1) if np.allclose(np.roll(wave, k), shifted)]
        assert offsets, "not a roll of the clip within 10 %"
    noisy = build_augmenter("seed004_images", technique="noise").apply(np.zeros(16000, np.float32), 0)
    assert np.std(noisy) == pytest.approx(0.005, rel=0.02)
