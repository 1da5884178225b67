"""Waveforms -> spectrogram "images": the input of the image-transfer CNNs (seeds 002, 003, 004) and of
the CNN-BLSTM (seed 004).

Every clip is first brought to ``clip_seconds`` (centred: symmetric zero padding or a centre crop,
as seed 004 does), so every image covers the same time span and one batch is one tensor. Then:

``kind="mel"`` (seeds 002, 004)
    power mel spectrogram (Hamming window by default, hop = half the window: seed 002's
    "half-overlap"), in dB relative to the image's peak, floored ``top_db`` below it.
``kind="mfcc"`` (seed 003)
    the DCT-II (orthonormal) of that dB mel spectrogram, first ``n_mfcc`` coefficients (librosa's MFCC).

The array (frequency rows, time columns) is optionally resized to ``image_size`` (bilinear; seed
003's 288 x 288 figures were resized to 224 x 224, so 224 is the default), scaled per image to
[0, 1], repeated to ``channels`` and normalised (``"imagenet"``: the ImageNet mean/std the
pre-trained CNNs were trained with). ``image_size=None, channels=1, normalize="standard"`` gives
the plain log-mel input of the CNN-BLSTM.

It is a ``SequenceFeatureExtractor``: ``save_pretrained`` / ``from_pretrained`` and the training
collator treat it like any Hugging Face audio feature extractor (``n_samples`` marks the fixed length).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from transformers import BatchFeature, SequenceFeatureExtractor

from ser_hf.models.patch_frontend import IGNORED_ARGUMENTS, waves_at_rate
from ser_hf.registry import SPECTROGRAM_KINDS

NORMALIZATIONS = ("imagenet", "unit", "standard")
WINDOWS = ("hamming", "hann")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@lru_cache(maxsize=8)
def _mel_filters(sampling_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> torch.Tensor:
    import librosa

    # librosa's defaults (Slaney mel scale and area normalisation), the filters the seeds' code used.
    return torch.from_numpy(librosa.filters.mel(sr=sampling_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)).float()


@lru_cache(maxsize=8)
def _dct_matrix(n_mels: int, n_mfcc: int) -> torch.Tensor:
    from scipy.fft import dct

    return torch.from_numpy(dct(np.eye(n_mels), type=2, norm="ortho", axis=0)[:n_mfcc]).float()  # (n_mfcc, n_mels)


def fit_length(wave: torch.Tensor, length: int) -> torch.Tensor:
    """Centre ``wave`` in ``length`` samples: symmetric zero padding, or a centre crop."""
    n = wave.shape[-1]
    if n >= length:
        start = (n - length) // 2
        return wave[..., start : start + length]
    left = (length - n) // 2
    return torch.nn.functional.pad(wave, (left, length - n - left))


class SpectrogramImageFeatureExtractor(SequenceFeatureExtractor):
    """Waveforms -> ``input_features`` ``(batch, channels, height, width)`` spectrogram images."""

    model_input_names = ["input_features"]

    def __init__(
        self,
        sampling_rate: int = 16000,
        clip_seconds: float = 3.0,
        kind: str = "mel",
        n_fft: int = 512,
        win_length: int = 400,
        hop_length: int = 200,
        window: str = "hamming",
        n_mels: int = 128,
        n_mfcc: int = 40,
        fmin: float = 0.0,
        fmax: float | None = None,
        top_db: float = 80.0,
        image_size: int | None = 224,
        channels: int = 3,
        normalize: str = "imagenet",
        **kwargs,
    ):
        kwargs.pop("feature_size", None)
        kwargs.pop("padding_value", None)
        super().__init__(feature_size=n_mels, sampling_rate=sampling_rate, padding_value=0.0, **kwargs)
        for name, value, choices in (("kind", kind, SPECTROGRAM_KINDS), ("normalize", normalize, NORMALIZATIONS),
                                     ("window", window, WINDOWS)):
            if value not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {value!r}")
        if win_length > n_fft:
            raise ValueError(f"win_length ({win_length}) cannot exceed n_fft ({n_fft})")
        if normalize == "imagenet" and channels != 3:
            raise ValueError("normalize='imagenet' needs channels=3 (the ImageNet statistics are per RGB channel)")
        self.clip_seconds = clip_seconds
        self.kind = kind
        self.n_fft, self.win_length, self.hop_length, self.window = n_fft, win_length, hop_length, window
        self.n_mels, self.n_mfcc, self.fmin, self.fmax = n_mels, n_mfcc, fmin, fmax
        self.top_db = top_db
        self.image_size = image_size
        self.channels = channels
        self.normalize = normalize

    @property
    def n_samples(self) -> int:
        """Every clip is brought to this many samples (the training collator reads it as a fixed input length)."""
        return int(round(self.clip_seconds * self.sampling_rate))

    @property
    def num_frames(self) -> int:
        return 1 + self.n_samples // self.hop_length  # centred STFT

    @property
    def image_shape(self) -> tuple[int, int, int]:
        height = self.n_mfcc if self.kind == "mfcc" else self.n_mels
        if self.image_size:
            return (self.channels, self.image_size, self.image_size)
        return (self.channels, height, self.num_frames)

    def spectrogram(self, waves: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, rows, frames) dB mel spectrogram or MFCCs, before resizing/scaling."""
        window = (torch.hamming_window if self.window == "hamming" else torch.hann_window)(
            self.win_length, periodic=True, device=waves.device)
        stft = torch.stft(waves, self.n_fft, self.hop_length, self.win_length, window, center=True,
                          pad_mode="constant", return_complex=True)
        power = stft.real**2 + stft.imag**2  # (batch, n_fft // 2 + 1, frames)
        mel = _mel_filters(self.sampling_rate, self.n_fft, self.n_mels, float(self.fmin),
                           None if self.fmax is None else float(self.fmax)).to(waves.device)
        db = 10.0 * torch.log10(torch.clamp(mel @ power, min=1e-10))
        # dB relative to each image's own peak, as librosa's power_to_db(ref=np.max, top_db=80).
        peak = db.amax(dim=(1, 2), keepdim=True)
        db = torch.maximum(db - peak, torch.full_like(db, -self.top_db)) if self.top_db else db - peak
        if self.kind == "mfcc":
            return _dct_matrix(self.n_mels, self.n_mfcc).to(waves.device) @ db
        return db

    def images(self, waves: torch.Tensor) -> torch.Tensor:
        """(batch, samples) clips of ``n_samples`` -> (batch, channels, height, width) normalised images."""
        x = self.spectrogram(waves).unsqueeze(1)  # (batch, 1, rows, frames)
        if self.image_size:
            x = torch.nn.functional.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear",
                                                align_corners=False)
        if self.normalize == "standard":
            mean = x.mean(dim=(2, 3), keepdim=True)
            std = x.std(dim=(2, 3), keepdim=True).clamp_min(1e-5)
            return ((x - mean) / std).expand(-1, self.channels, -1, -1).contiguous()
        low, high = x.amin(dim=(2, 3), keepdim=True), x.amax(dim=(2, 3), keepdim=True)
        x = ((x - low) / (high - low).clamp_min(1e-6)).expand(-1, self.channels, -1, -1)
        if self.normalize == "imagenet":
            mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
            std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
            x = (x - mean) / std
        return x.contiguous()

    def __call__(
        self,
        raw_speech: np.ndarray | torch.Tensor | Sequence[np.ndarray | torch.Tensor],
        sampling_rate: int | None = None,
        return_tensors: str | None = "pt",
        **kwargs,
    ) -> BatchFeature:
        """Images of one waveform or a list of them; waveforms at another rate are resampled (soxr).

        The padding arguments a collator passes to audio extractors (``padding``, ``pad_to_multiple_of``,
        ``return_attention_mask``) are accepted and ignored: every clip becomes ``clip_seconds`` long.
        """
        unknown = set(kwargs) - IGNORED_ARGUMENTS
        if unknown:
            raise TypeError(f"unexpected arguments: {sorted(unknown)}")
        waves = waves_at_rate(raw_speech, sampling_rate, self.sampling_rate)
        if not waves:
            raise ValueError("no waveform given")
        batch = torch.stack([fit_length(torch.as_tensor(np.asarray(w, dtype=np.float32)).reshape(-1), self.n_samples)
                             for w in waves])
        features = self.images(batch)
        if return_tensors == "np":
            return BatchFeature({"input_features": features.numpy()})
        if return_tensors not in ("pt", None):
            raise ValueError(f"return_tensors must be 'pt' or 'np', got {return_tensors!r}")
        return BatchFeature({"input_features": features})
