"""Waveform augmentation of the training part: the seed papers' presets on audiomentations.

Presets (each technique always applied; the chain as a whole with probability ``p``):

``seed003`` (bilingual HuBERT paper, §3.4.1 "Classic Augmentations", Algorithms 1-3)
    * ``noise``: Gaussian noise of amplitude 0.035 × max|x| × U(0, 1) (Algorithm 1: "NoiseRatio ←
      0.035", "NoiseAmp ← NoiseRatio × Max × RandomUniform"). The paper takes ``max(data)``; we take
      the peak magnitude, which is the same for any clip whose loudest sample is positive.
    * ``pitch``: up by 0.7 semitones ("a pitch shift factor of 0.7", Algorithm 2 ``n_steps ← 0.7``).
      Algorithm 2 as printed rolls the FFT by ``int(semitones × len / 12)`` with ``semitones =
      0.7 × 12 / len``, i.e. by ``int(0.7) = 0`` bins: a no-op. We apply the 0.7-semitone shift it
      names (``librosa.effects.pitch_shift(n_steps=0.7)`` is what such code usually calls).
    * ``shift``: ``np.roll`` by U(-5, 5) × 1000 samples (Algorithm 3; "Rolled elements reappear at the
      start to maintain the audio's duration"), i.e. up to ±0.31 s at 16 kHz.
    * SpecAugment frequency and time masks (§3.4.2) are not waveform transforms: they are set in
      the model config (``mask_time_prob`` / ``mask_feature_prob``), elsewhere.

``seed004`` (six-corpus CNN/LSTM paper, §3.1.2 "Over-sampling with Data Augmentation")
    * ``stretch``: time stretch at a rate U(0.8, 1.2) (the clip gets shorter or longer);
    * ``pitch``: pitch shift U(-2, 2) semitones;
    * ``noise``: Gaussian noise of amplitude (standard deviation) 0.005.

``seed004_images`` (the same paper's spectrogram-image augmentation, on the waveform before the spectrogram)
    * ``shift``: roll by up to ±10 % of the clip;
    * ``noise``: Gaussian noise of amplitude 0.005.

Three ways to use them, **on the training part only** (validation and test stay untouched; the
caller splits first, then augments ``splits["train"]``):

* :func:`expand_offline`: seed 003's ×5 expansion, the originals plus ``factor - 1`` augmented
  copies stored in the dataset. The paper does not say how its techniques were combined per copy;
  here copy *k* uses technique *k* alone (seed003: noise, pitch, shift) and every further copy the
  whole chain, so ×5 gives original, noise, pitch, shift and all three.
* :class:`OnTheFlyAugment`: the chain applied in the collator with probability ``p``.
* :func:`augmented_copies`: one augmented copy of each row (used by ``balance.oversample``).

audiomentations draws its random numbers from Python's ``random`` and numpy's global generator.
Every call here seeds both from its own seed and restores them afterwards, so results are
reproducible (and independent of ``num_proc``) and the caller's global random state is untouched.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Iterator

import datasets
import numpy as np
from audiomentations import AddGaussianNoise, Compose, PitchShift, Shift, TimeStretch
from audiomentations.core.transforms_interface import BaseWaveformTransform

from ser_hf.data.audio import decode_wav_bytes, encode_wav, read_audio
from ser_hf.registry import AUGMENT_PRESETS

logger = logging.getLogger(__name__)



class PeakRelativeGaussianNoise(BaseWaveformTransform):
    """Gaussian noise whose amplitude is ``max_ratio × max|x| × U(0, 1)`` (seed 003, Algorithm 1).

    audiomentations' own ``AddGaussianNoise`` takes an absolute amplitude, and ``AddGaussianSNR`` a
    signal-to-noise ratio relative to the RMS, neither of which is the paper's rule.
    """

    supports_multichannel = True

    def __init__(self, max_ratio: float = 0.035, p: float = 0.5):
        super().__init__(p)
        self.max_ratio = max_ratio

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int) -> None:
        super().randomize_parameters(samples, sample_rate)
        if self.parameters["should_apply"]:
            peak = float(np.max(np.abs(samples))) if samples.size else 0.0
            self.parameters["amplitude"] = self.max_ratio * peak * random.uniform(0.0, 1.0)

    def apply(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        noise = np.random.standard_normal(samples.shape).astype(np.float32)
        return (samples + self.parameters["amplitude"] * noise).astype(np.float32)


def preset_techniques(preset: str) -> dict[str, BaseWaveformTransform]:
    """The preset's techniques by name, in the order they are chained, each with p = 1."""
    if preset == "seed003":
        return {
            "noise": PeakRelativeGaussianNoise(max_ratio=0.035, p=1.0),
            "pitch": PitchShift(min_semitones=0.7, max_semitones=0.7, p=1.0),
            # a plain np.roll as in Algorithm 3: no fade at the seam (audiomentations fades 5 ms by
            # default, and its fade fails on clips shorter than the shift)
            "shift": Shift(min_shift=-5000, max_shift=5000, shift_unit="samples", rollover=True, fade_duration=0.0,
                           p=1.0),
        }
    if preset == "seed004":
        return {
            # the length changes with the rate: seed 004 fixes every clip to 3 s afterwards anyway
            "stretch": TimeStretch(min_rate=0.8, max_rate=1.2, leave_length_unchanged=False, p=1.0),
            "pitch": PitchShift(min_semitones=-2.0, max_semitones=2.0, p=1.0),
            "noise": AddGaussianNoise(min_amplitude=0.005, max_amplitude=0.005, p=1.0),
        }
    if preset == "seed004_images":
        # Seed 004 shifts its spectrogram images in time and adds Gaussian noise; done here on the waveform
        # before the spectrogram (a time shift of the clip is a time shift of its image). The shift range is
        # not given: up to 10 % of the clip, rolled over as the seed-003 shift is.
        return {
            "shift": Shift(min_shift=-0.1, max_shift=0.1, shift_unit="fraction", rollover=True, fade_duration=0.0, p=1.0),
            "noise": AddGaussianNoise(min_amplitude=0.005, max_amplitude=0.005, p=1.0),
        }
    raise ValueError(f"unknown augmentation preset {preset!r}; choose one of {', '.join(AUGMENT_PRESETS)}")


@contextlib.contextmanager
def _seeded_global_rngs(seed: int) -> Iterator[None]:
    """Seed Python's and numpy's global generators (which audiomentations uses), then restore them."""
    py_state, np_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


class Augmenter:
    """A preset's chain (or one of its techniques) as a function ``wave -> augmented wave``.

    ``augmenter(wave)`` draws a fresh seed from the augmenter's own generator (``seed``);
    ``augmenter.apply(wave, seed)`` is a pure function of ``(wave, seed)``. Input is float audio
    (mono, 1-D); output is float32 and is not clipped (WAV encoding clips to [-1, 1]).
    """

    def __init__(self, preset: str, sampling_rate: int = 16000, p: float = 1.0, seed: int | None = None,
                 technique: str | None = None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must lie in [0, 1], got {p}")
        steps = preset_techniques(preset)
        if technique is not None and technique not in steps:
            raise ValueError(f"preset {preset!r} has no technique {technique!r}; it has {', '.join(steps)}")
        self.preset, self.sampling_rate, self.p, self.technique = preset, sampling_rate, p, technique
        self.chain = Compose(list(steps.values()) if technique is None else [steps[technique]], p=1.0)
        self._rng = np.random.default_rng(seed)

    def apply(self, wave: np.ndarray, seed: int) -> np.ndarray:
        """Augment ``wave`` with the random draws fixed by ``seed``."""
        wave = np.asarray(wave, dtype=np.float32)
        with _seeded_global_rngs(int(seed)):
            if random.random() >= self.p or wave.size == 0:
                return wave
            return np.asarray(self.chain(samples=wave, sample_rate=self.sampling_rate), dtype=np.float32)

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        return self.apply(wave, int(self._rng.integers(2**63)))

    def __repr__(self) -> str:
        return f"Augmenter({self.preset!r}, technique={self.technique!r}, p={self.p}, sr={self.sampling_rate})"


def build_augmenter(preset: str, sampling_rate: int = 16000, p: float = 1.0, seed: int | None = None,
                    technique: str | None = None) -> Augmenter:
    """The preset's chain, applied as a whole with probability ``p``: a callable ``wave -> wave``.

    ``technique`` restricts it to one of the preset's techniques (``preset_techniques(preset)``).
    """
    return Augmenter(preset, sampling_rate=sampling_rate, p=p, seed=seed, technique=technique)


class OnTheFlyAugment:
    """Augment training clips as they are batched (in a collator or ``set_transform``).

    Each call augments one waveform with probability ``p``. Inside a ``DataLoader`` worker the
    generator is re-seeded from ``(seed, torch's worker seed)``: torch draws a new worker seed each
    epoch from the (Trainer-seeded) main generator, so workers neither repeat each other nor repeat
    the previous epoch, and a run stays reproducible.
    """

    def __init__(self, preset: str, p: float = 0.5, seed: int = 0, sampling_rate: int = 16000):
        self.seed = seed
        self.augmenter = Augmenter(preset, sampling_rate=sampling_rate, p=p)
        self._rng = np.random.default_rng(seed)
        self._worker_seed: int | None = None

    def _generator(self) -> np.random.Generator:
        try:
            from torch.utils.data import get_worker_info
        except ImportError:  # torch is optional for this module
            return self._rng
        info = get_worker_info()
        if info is not None and info.seed != self._worker_seed:
            self._worker_seed = info.seed
            self._rng = np.random.default_rng([self.seed, info.seed])
        return self._rng

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        return self.augmenter.apply(wave, int(self._generator().integers(2**63)))


def _decode(audio: dict, sampling_rate: int | None) -> tuple[np.ndarray, int]:
    if audio.get("bytes"):
        return decode_wav_bytes(audio["bytes"])
    return read_audio(audio["path"], sampling_rate)


def _augment_batch(batch: dict, indices: list[int], preset: str, technique: str | None, seed: int, stream: int,
                   sampling_rate: int | None, has_duration: bool) -> dict:
    augmenters: dict[int, Augmenter] = {}
    audio_out, durations = [], []
    for index, audio in zip(indices, batch["audio"]):
        wave, sr = _decode(audio, sampling_rate)
        augmenter = augmenters.setdefault(sr, Augmenter(preset, sampling_rate=sr, technique=technique))
        # one seed per (run seed, copy, row): the same result whatever num_proc or batch size
        row_seed = int(np.random.SeedSequence([seed, stream, index]).generate_state(1, np.uint64)[0])
        augmented = augmenter.apply(wave, row_seed)
        audio_out.append({"bytes": encode_wav(augmented, sr), "path": audio.get("path")})
        durations.append(len(augmented) / sr)
    out = {"audio": audio_out, "augmented": [True] * len(audio_out)}
    if has_duration:
        out["duration"] = durations
    return out


def augmented_copies(ds: datasets.Dataset, preset: str, seed: int = 0, technique: str | None = None,
                     stream: int = 0, num_proc: int | None = None) -> datasets.Dataset:
    """One augmented copy of every row of ``ds``.

    The copy's audio is re-encoded as 16-bit WAV bytes in the same ``Audio`` column, ``duration``
    (when present) is recomputed (a time stretch changes it, and length grouping reads it), an
    ``augmented`` column is set to True, and every other column is copied. ``stream`` separates
    the random draws of several copies of the same rows.
    """
    preset_techniques(preset)  # fail early on an unknown preset
    if "audio" not in ds.column_names:
        raise ValueError(f"dataset has no 'audio' column (columns: {ds.column_names})")
    audio_feature = ds.features["audio"]
    raw = ds.cast_column("audio", datasets.Audio(decode=False))
    features = raw.features.copy()
    features["augmented"] = datasets.Value("bool")
    copies = raw.map(
        _augment_batch,
        batched=True,
        batch_size=16,
        with_indices=True,
        features=features,
        num_proc=num_proc if num_proc and num_proc > 1 and len(ds) > 1 else None,
        fn_kwargs={"preset": preset, "technique": technique, "seed": seed, "stream": stream,
                   "sampling_rate": getattr(audio_feature, "sampling_rate", None),
                   "has_duration": "duration" in ds.column_names},
        desc=f"augmenting ({preset}{'/' + technique if technique else ''})",
    )
    return copies.cast_column("audio", audio_feature)


def expand_offline(ds: datasets.Dataset, factor: int, preset: str, seed: int = 0,
                   num_proc: int | None = None) -> datasets.Dataset:
    """The originals plus ``factor - 1`` augmented copies of every row (seed 003: ``factor=5``).

    Only for the training part. Originals come first, unchanged, with ``augmented=False`` (an
    existing ``augmented`` column, e.g. from oversampling, is kept); then copy 1 of every row, copy
    2, ... Copy *k* applies the preset's *k*-th technique alone and copies beyond the number of
    techniques apply the whole chain (for seed003 ×5: noise, pitch, shift, all three).
    """
    if factor < 1:
        raise ValueError(f"factor must be >= 1, got {factor}")
    names = list(preset_techniques(preset))
    if "augmented" in ds.column_names:
        originals = ds
    else:
        originals = ds.add_column("augmented", [False] * len(ds), feature=datasets.Value("bool"))
    if factor == 1:
        return originals
    parts = [originals]
    for copy in range(1, factor):
        technique = names[copy - 1] if copy <= len(names) else None
        parts.append(augmented_copies(ds, preset, seed=seed, technique=technique, stream=copy, num_proc=num_proc))
    expanded = datasets.concatenate_datasets(parts)
    logger.info("expand_offline(%s, x%d): %d -> %d rows", preset, factor, len(ds), len(expanded))
    return expanded
