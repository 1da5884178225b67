"""Hand-made features: openSMILE functionals (eGeMAPS, ComParE) and MFCC statistics.

``OpenSmileExtractor`` runs audEERING's ``opensmile`` package (which ships the SMILExtract
library, no system install): ``eGeMAPSv02`` functionals are 88 values per file, ``ComParE_2016``
functionals 6373; ``level="lld"`` gives the low-level descriptors per 10-ms frame instead
(25 for eGeMAPS, 65 for ComParE).

``MFCCExtractor`` computes MFCCs with librosa on 25-ms windows every 10 ms (512-point FFT,
64 mel bands, 0-8 kHz) and, by default, their mean and standard deviation over the file (seed
001 compares against "SVM on MFCC" with 13-40 coefficients; 40 is used here). With
``statistics=()`` it gives the per-frame MFCCs, for frame pooling.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ser_hf.features.extract import EmbeddingExtractor

OPENSMILE_FEATURE_SETS = ("eGeMAPSv02", "ComParE_2016")
MFCC_STATISTICS = ("mean", "std", "min", "max", "median")


class OpenSmileExtractor(EmbeddingExtractor):
    """openSMILE functionals (one row per file) or low-level descriptors (one row per frame)."""

    per_file_cpu = True

    def __init__(self, feature_set: str = "eGeMAPSv02", level: str = "functionals"):
        try:
            import opensmile
        except ImportError as err:
            raise ImportError("openSMILE features need the opensmile package: pip install opensmile==2.6.0") from err
        if feature_set not in OPENSMILE_FEATURE_SETS:
            raise ValueError(f"feature_set must be one of {OPENSMILE_FEATURE_SETS}, got {feature_set!r}")
        if level not in ("functionals", "lld"):
            raise ValueError(f"level must be 'functionals' or 'lld', got {level!r}")
        self.feature_set = feature_set
        self.level = level
        self.name = {"eGeMAPSv02": "egemaps", "ComParE_2016": "compare"}[feature_set] + ("" if level == "functionals"
                                                                                          else "_lld")
        self.version = opensmile.__version__
        self._smile = self._build()

    def _build(self):
        import opensmile

        return opensmile.Smile(
            feature_set=getattr(opensmile.FeatureSet, self.feature_set),
            feature_level=opensmile.FeatureLevel.Functionals if self.level == "functionals"
            else opensmile.FeatureLevel.LowLevelDescriptors,
        )

    def __getstate__(self) -> dict:  # for extract()'s worker processes: the Smile object is rebuilt there
        return {k: v for k, v in self.__dict__.items() if k != "_smile"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._smile = self._build()

    @property
    def feature_names(self) -> list[str]:
        return list(self._smile.feature_names)

    def cache_config(self) -> dict:
        return {"name": self.name, "feature_set": self.feature_set, "level": self.level, "opensmile": self.version}

    def embed(self, waves: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [self._smile.process_signal(np.asarray(w, dtype=np.float32), self.sampling_rate)
                .to_numpy(dtype=np.float32) for w in waves]


class MFCCExtractor(EmbeddingExtractor):
    """MFCC statistics over the file (default: mean and std of 40 MFCCs, 80 values), or per-frame MFCCs."""

    per_file_cpu = True

    def __init__(self, n_mfcc: int = 40, statistics: Sequence[str] = ("mean", "std"), deltas: bool = False,
                 n_fft: int = 512, win_length: int = 400, hop_length: int = 160, n_mels: int = 64,
                 fmin: float = 0.0, fmax: float = 8000.0):
        unknown = [s for s in statistics if s not in MFCC_STATISTICS]
        if unknown:
            raise ValueError(f"unknown statistics {unknown}; choose from {MFCC_STATISTICS}")
        self.name = "mfcc"
        self.n_mfcc, self.statistics, self.deltas = n_mfcc, tuple(statistics), deltas
        self.n_fft, self.win_length, self.hop_length = n_fft, win_length, hop_length
        self.n_mels, self.fmin, self.fmax = n_mels, fmin, fmax

    def cache_config(self) -> dict:
        import librosa

        return {"name": self.name, "n_mfcc": self.n_mfcc, "statistics": list(self.statistics), "deltas": self.deltas,
                "n_fft": self.n_fft, "win_length": self.win_length, "hop_length": self.hop_length,
                "n_mels": self.n_mels, "fmin": self.fmin, "fmax": self.fmax, "librosa": librosa.__version__}

    def frames(self, wave: np.ndarray) -> np.ndarray:
        """(frames, n_mfcc) MFCCs (plus deltas when asked) of one waveform."""
        import librosa

        mfcc = librosa.feature.mfcc(y=np.asarray(wave, dtype=np.float32), sr=self.sampling_rate, n_mfcc=self.n_mfcc,
                                    n_fft=self.n_fft, win_length=self.win_length, hop_length=self.hop_length,
                                    n_mels=self.n_mels, fmin=self.fmin, fmax=self.fmax)
        if self.deltas:
            n = mfcc.shape[1]
            width = 9 if n >= 9 else (n if n % 2 else n - 1)  # librosa: odd, at least 3, at most the frame count
            delta = librosa.feature.delta(mfcc, width=width) if width >= 3 else np.zeros_like(mfcc)
            mfcc = np.vstack([mfcc, delta])
        return mfcc.T

    def embed(self, waves: Sequence[np.ndarray]) -> list[np.ndarray]:
        out = []
        for wave in waves:
            frames = self.frames(wave)
            if not self.statistics:
                out.append(frames.astype(np.float32))
                continue
            stats = {"mean": np.mean, "std": np.std, "min": np.min, "max": np.max, "median": np.median}
            out.append(np.concatenate([stats[s](frames, axis=0) for s in self.statistics])[None].astype(np.float32))
        return out


def egemaps_extractor(**kwargs) -> OpenSmileExtractor:
    """eGeMAPS v02 functionals (88 per file): the registry's ``egemaps``."""
    return OpenSmileExtractor(feature_set="eGeMAPSv02", **kwargs)


def compare_extractor(**kwargs) -> OpenSmileExtractor:
    """ComParE 2016 functionals (6,373 per file): the registry's ``compare``."""
    return OpenSmileExtractor(feature_set="ComParE_2016", **kwargs)
