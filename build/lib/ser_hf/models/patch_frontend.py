"""The log-mel patch front end shared by VGGish and YAMNet, as published, in PyTorch.

Both networks read 96 x 64 log-mel "patches" computed the same way (VGGish:
``research/audioset/vggish/mel_features.py``; YAMNet: ``research/audioset/yamnet/features.py``):

1. frames of 25 ms (400 samples at 16 kHz) every 10 ms (160 samples), **not** centred or padded
   (``1 + (n - 400) // 160`` frames);
2. a *periodic* Hann window, ``0.5 - 0.5 cos(2 pi k / 400)``, and the magnitude of a 512-point
   real FFT (the window length rounded up to a power of two; the 400 samples sit at the start of
   the 512-sample buffer);
3. a 64-band mel filterbank between 125 and 7500 Hz on the HTK mel scale
   ``1127 ln(1 + f / 700)``, its triangles drawn in the *mel* domain (not in Hz as librosa does)
   and the DC bin zeroed; VGGish's ``spectrogram_to_mel_matrix`` and TensorFlow's
   ``linear_to_mel_weight_matrix`` build the same matrix;
4. ``log(mel + offset)``: offset 0.01 for VGGish, 0.001 for YAMNet;
5. patches of 96 frames (0.96 s): VGGish hops 96 frames (non-overlapping examples), YAMNet hops
   48 frames (0.48 s).

Padding is where the two differ. VGGish pads nothing: a waveform shorter than
``400 + 95 * 160 = 15600`` samples (0.975 s) has no example, and a longer one drops its tail.
YAMNet's ``pad_waveform`` first pads to 0.975 s, then rounds the rest up to a whole number of
0.48-s hops, so ``n`` samples give ``1 + ceil(max(0, n - 15600) / 7680)`` patches (3 s -> 6).
``pad_mode="minimum"`` (the VGGish preset's default here) pads only waveforms shorter than one
example, so every file of a corpus gets at least one embedding; ``pad_mode="none"`` is the
published VGGish behaviour exactly (identical for files of 0.975 s or more).

Features are computed in float32 with ``torch.fft`` on the device of the waveform tensor (a CUDA
tensor in, patches computed on the GPU); the published VGGish front end runs in
float64 NumPy, which differs by ~1e-5 in the log domain (tested against a float64 transcription
of ``mel_features.py`` and against librosa's STFT).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import torch
from transformers import BatchFeature, SequenceFeatureExtractor

PAD_MODES = ("none", "minimum", "yamnet")
_MEL_BREAK_FREQUENCY_HERTZ = 700.0
_MEL_HIGH_FREQUENCY_Q = 1127.0


def hertz_to_mel(frequencies_hertz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale, as ``mel_features.hertz_to_mel``."""
    return _MEL_HIGH_FREQUENCY_Q * np.log(1.0 + np.asarray(frequencies_hertz, dtype=np.float64) /
                                         _MEL_BREAK_FREQUENCY_HERTZ)


@functools.lru_cache(maxsize=16)
def mel_weight_matrix(
    num_mel_bins: int = 64,
    num_spectrogram_bins: int = 257,
    sampling_rate: int = 16000,
    lower_edge_hertz: float = 125.0,
    upper_edge_hertz: float = 7500.0,
) -> np.ndarray:
    """(num_spectrogram_bins, num_mel_bins) float64 weights, as ``mel_features.spectrogram_to_mel_matrix``.

    Each band is a triangle in the mel domain rising from its lower edge to its centre and falling to
    its upper edge; the edges are ``num_mel_bins + 2`` points evenly spaced in mel. Row 0 (DC) is zero.
    The result is cached and read-only: copy it before changing it.
    """
    nyquist_hertz = sampling_rate / 2.0
    if lower_edge_hertz < 0.0:
        raise ValueError(f"lower_edge_hertz {lower_edge_hertz:.1f} must be >= 0")
    if lower_edge_hertz >= upper_edge_hertz:
        raise ValueError(f"lower_edge_hertz {lower_edge_hertz:.1f} >= upper_edge_hertz {upper_edge_hertz:.1f}")
    if upper_edge_hertz > nyquist_hertz:
        raise ValueError(f"upper_edge_hertz {upper_edge_hertz:.1f} is greater than Nyquist {nyquist_hertz:.1f}")
    spectrogram_bins_mel = hertz_to_mel(np.linspace(0.0, nyquist_hertz, num_spectrogram_bins))
    band_edges_mel = np.linspace(hertz_to_mel(lower_edge_hertz), hertz_to_mel(upper_edge_hertz), num_mel_bins + 2)
    lower, center, upper = band_edges_mel[:-2], band_edges_mel[1:-1], band_edges_mel[2:]
    lower_slope = (spectrogram_bins_mel[:, None] - lower) / (center - lower)
    upper_slope = (upper - spectrogram_bins_mel[:, None]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(lower_slope, upper_slope))
    weights[0, :] = 0.0
    weights.flags.writeable = False
    return weights


def periodic_hann(window_length: int) -> np.ndarray:
    """``0.5 - 0.5 cos(2 pi k / N)``, k = 0..N-1: the window of ``mel_features`` and ``tf.signal.stft``."""
    return 0.5 - 0.5 * np.cos(2 * np.pi / window_length * np.arange(window_length))


@functools.lru_cache(maxsize=8)
def _device_weights(window_length: int, num_mel_bins: int, num_spectrogram_bins: int, sampling_rate: int,
                    lower_edge_hertz: float, upper_edge_hertz: float, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Window and mel matrix as float32 tensors on ``device``, built once per device (not stored on the
    feature extractor, whose attributes ``save_pretrained`` writes to JSON)."""
    mel = mel_weight_matrix(num_mel_bins, num_spectrogram_bins, sampling_rate, lower_edge_hertz, upper_edge_hertz)
    return (torch.as_tensor(periodic_hann(window_length), dtype=torch.float32, device=device),
            torch.as_tensor(np.array(mel), dtype=torch.float32, device=device))


# What a training collator passes to any audio feature extractor; extractors that bring every clip to their own
# shape (patches, fixed-length images) accept and ignore them.
IGNORED_ARGUMENTS = frozenset({"padding", "pad_to_multiple_of", "return_attention_mask", "max_length", "truncation"})


def waves_at_rate(raw_speech, sampling_rate: int | None, target_rate: int) -> list:
    """One waveform or a list of them, as a list, resampled (soxr HQ) from ``sampling_rate`` when it differs."""
    single = isinstance(raw_speech, (np.ndarray, torch.Tensor)) and raw_speech.ndim == 1
    waves = [raw_speech] if single else list(raw_speech)
    if sampling_rate is not None and sampling_rate != target_rate:
        import soxr

        waves = [soxr.resample(np.asarray(w, dtype=np.float32), sampling_rate, target_rate, quality="HQ") for w in waves]
    return waves


class LogMelPatchFeatureExtractor(SequenceFeatureExtractor):
    """Waveforms -> VGGish/YAMNet log-mel patches ``(num_patches, patch_frames, num_mel_bins)``.

    Calling it on one waveform or a list returns a ``BatchFeature`` with ``input_features`` (the
    patches of all waveforms stacked in order) and ``patch_counts`` (patches per waveform), so a
    batch of files runs through the network as one tensor and is split back afterwards.
    :func:`vggish_feature_extractor` and :func:`yamnet_feature_extractor` give the published settings.
    It saves and loads with ``save_pretrained`` / ``from_pretrained`` (``preprocessor_config.json``).
    """

    model_input_names = ["input_features"]

    def __init__(
        self,
        sampling_rate: int = 16000,
        window_seconds: float = 0.025,
        hop_seconds: float = 0.010,
        num_mel_bins: int = 64,
        lower_edge_hertz: float = 125.0,
        upper_edge_hertz: float = 7500.0,
        log_offset: float = 0.01,
        patch_window_seconds: float = 0.96,
        patch_hop_seconds: float = 0.96,
        pad_mode: str = "minimum",
        **kwargs,
    ):
        kwargs.pop("feature_size", None)  # saved by SequenceFeatureExtractor.to_dict; always num_mel_bins here
        kwargs.pop("padding_value", None)
        super().__init__(feature_size=num_mel_bins, sampling_rate=sampling_rate, padding_value=0.0, **kwargs)
        if pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
        self.window_seconds = window_seconds
        self.hop_seconds = hop_seconds
        self.num_mel_bins = num_mel_bins
        self.lower_edge_hertz = lower_edge_hertz
        self.upper_edge_hertz = upper_edge_hertz
        self.log_offset = log_offset
        self.patch_window_seconds = patch_window_seconds
        self.patch_hop_seconds = patch_hop_seconds
        self.pad_mode = pad_mode

    # The integer sizes, each computed as the published code computes it.
    @property
    def window_length(self) -> int:
        return int(round(self.sampling_rate * self.window_seconds))  # 400

    @property
    def hop_length(self) -> int:
        return int(round(self.sampling_rate * self.hop_seconds))  # 160

    @property
    def fft_length(self) -> int:
        return 2 ** int(math.ceil(math.log(self.window_length) / math.log(2.0)))  # 512

    @property
    def patch_frames(self) -> int:
        return int(round(self.patch_window_seconds / self.hop_seconds))  # 96

    @property
    def patch_hop_frames(self) -> int:
        return int(round(self.patch_hop_seconds / self.hop_seconds))  # 96 (VGGish) or 48 (YAMNet)

    @property
    def min_num_samples(self) -> int:
        """Samples for one patch: one patch of hops plus the rest of the last STFT window (15600)."""
        if self.pad_mode == "yamnet":  # pad_waveform's float arithmetic, truncated like tf.cast
            return int((self.patch_window_seconds + self.window_seconds - self.hop_seconds) * self.sampling_rate)
        return self.window_length + (self.patch_frames - 1) * self.hop_length

    def padded_length(self, num_samples: int) -> int:
        """Length of a waveform of ``num_samples`` after this front end's padding."""
        if self.pad_mode == "none":
            return num_samples
        if self.pad_mode == "minimum":
            return max(num_samples, self.min_num_samples)
        # YAMNet: pad to one patch, then round up to a whole number of patch hops.
        minimum = self.min_num_samples
        hop_samples = int(self.patch_hop_seconds * self.sampling_rate)
        after_first = max(num_samples, minimum) - minimum
        return minimum + hop_samples * math.ceil(after_first / hop_samples)

    def num_frames(self, num_samples: int) -> int:
        """STFT frames of a waveform of ``num_samples`` (no centring, no padding)."""
        if num_samples < self.window_length:
            return 0
        return 1 + (num_samples - self.window_length) // self.hop_length

    def num_patches(self, num_samples: int) -> int:
        """Patches (= embeddings) for a waveform of ``num_samples``, padding included."""
        frames = self.num_frames(self.padded_length(num_samples))
        return 0 if frames < self.patch_frames else 1 + (frames - self.patch_frames) // self.patch_hop_frames

    def _weights(self, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
        return _device_weights(self.window_length, self.num_mel_bins, self.fft_length // 2 + 1, self.sampling_rate,
                               float(self.lower_edge_hertz), float(self.upper_edge_hertz), str(device))

    def log_mel(self, waveform: torch.Tensor | np.ndarray) -> torch.Tensor:
        """(num_frames, num_mel_bins) log-mel spectrogram of one mono waveform (no padding applied)."""
        wave = torch.as_tensor(np.asarray(waveform, dtype=np.float32) if isinstance(waveform, np.ndarray) else waveform,
                               dtype=torch.float32)
        if wave.dim() != 1:
            raise ValueError(f"expected a mono waveform (1-D), got shape {tuple(wave.shape)}")
        window, mel = self._weights(wave.device)
        if wave.numel() < self.window_length:
            return torch.empty(0, self.num_mel_bins, device=wave.device)
        frames = wave.unfold(0, self.window_length, self.hop_length)  # (T, 400)
        magnitude = torch.fft.rfft(frames * window, n=self.fft_length).abs()  # (T, 257)
        return torch.log(magnitude @ mel + self.log_offset)

    def patches(self, waveform: torch.Tensor | np.ndarray) -> torch.Tensor:
        """(num_patches, patch_frames, num_mel_bins) patches of one waveform, padding applied."""
        wave = torch.as_tensor(np.asarray(waveform, dtype=np.float32) if isinstance(waveform, np.ndarray) else waveform,
                               dtype=torch.float32)
        target = self.padded_length(wave.numel())
        if target > wave.numel():
            wave = torch.nn.functional.pad(wave, (0, target - wave.numel()))
        spectrogram = self.log_mel(wave)
        if spectrogram.shape[0] < self.patch_frames:
            return torch.empty(0, self.patch_frames, self.num_mel_bins, device=wave.device)
        return spectrogram.unfold(0, self.patch_frames, self.patch_hop_frames).transpose(1, 2)

    def __call__(
        self,
        raw_speech: np.ndarray | torch.Tensor | Sequence[np.ndarray | torch.Tensor],
        sampling_rate: int | None = None,
        return_tensors: str | None = "pt",
        **kwargs,
    ) -> BatchFeature:
        """Patches of one waveform or a list of them; waveforms at another rate are resampled (soxr)."""
        if kwargs:
            raise TypeError(f"unexpected arguments: {sorted(kwargs)}")
        waves = waves_at_rate(raw_speech, sampling_rate, self.sampling_rate)
        per_wave = [self.patches(w) for w in waves]
        features = torch.cat(per_wave) if per_wave else torch.empty(0, self.patch_frames, self.num_mel_bins)
        counts = torch.tensor([p.shape[0] for p in per_wave], dtype=torch.long)
        data = {"input_features": features, "patch_counts": counts}
        if return_tensors == "np":
            data = {k: v.cpu().numpy() for k, v in data.items()}
        elif return_tensors not in ("pt", None):
            raise ValueError(f"return_tensors must be 'pt' or 'np', got {return_tensors!r}")
        return BatchFeature(data)


def vggish_feature_extractor(pad_mode: str = "minimum") -> LogMelPatchFeatureExtractor:
    """VGGish's front end (``vggish_params.py``): log offset 0.01, 0.96-s non-overlapping examples.

    ``pad_mode="none"`` is the published behaviour (no example for files under 0.975 s);
    the default pads such files with silence to one example.
    """
    return LogMelPatchFeatureExtractor(log_offset=0.01, patch_window_seconds=0.96, patch_hop_seconds=0.96,
                                       pad_mode=pad_mode)


def yamnet_feature_extractor() -> LogMelPatchFeatureExtractor:
    """YAMNet's front end (``yamnet/params.py``): log offset 0.001, 0.96-s patches every 0.48 s, ``pad_waveform``."""
    return LogMelPatchFeatureExtractor(log_offset=0.001, patch_window_seconds=0.96, patch_hop_seconds=0.48,
                                       pad_mode="yamnet")
