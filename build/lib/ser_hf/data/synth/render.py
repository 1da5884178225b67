"""espeak-ng speech with emotion rendered through prosody and voice quality.

Each emotion moves pitch (``-p``), pitch range (SSML ``<prosody range>``; espeak-ng 1.51 has no
``-P``), rate (``-s``) and loudness, and colours the voice in post-processing (breath noise,
tremolo, saturation, dullness). Loudness is applied after that stage rather than with ``-a``
because the colouring normalises the peak. Speakers differ by espeak voice variant (m1..m7 /
f1..f5), base pitch, rate and recording level; every utterance gets its own jitter, so classes
overlap and the corpus is learnable without being trivial.
"""

from __future__ import annotations

import io
import subprocess
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import lfilter  # imported here, not in the worker threads: concurrent first imports can hang

ESPEAK_RATE = 22050


@dataclass(frozen=True)
class Prosody:
    pitch: float  # offset on espeak's 0-99 pitch scale
    range: float  # SSML range in % of normal
    rate: float  # factor on the speaker's words per minute
    loudness: float  # factor on amplitude
    breath: float = 0.0  # breath-noise level relative to the voice
    tremolo: float = 0.0  # depth of a 5-7 Hz amplitude modulation
    drive: float = 0.0  # tanh saturation (strained, pressed voice)
    dull: float = 0.0  # one-pole low-pass coefficient (soft, dark voice)


EMOTION_PROSODY: dict[str, Prosody] = {
    "neutral": Prosody(0, 100, 1.00, 1.00),
    "calm": Prosody(-4, 75, 0.90, 0.85, breath=0.02, dull=0.3),
    "happy": Prosody(10, 150, 1.10, 1.15),
    "sad": Prosody(-9, 55, 0.80, 0.75, breath=0.04, dull=0.55),
    "angry": Prosody(6, 135, 1.15, 1.45, drive=2.5),
    "fear": Prosody(14, 115, 1.22, 0.95, breath=0.05, tremolo=0.35),
    "disgust": Prosody(-6, 90, 0.86, 1.10, drive=1.2, dull=0.25),
    "surprise": Prosody(17, 185, 1.03, 1.20),
    "boredom": Prosody(-7, 40, 0.82, 0.80, dull=0.4),
    "excited": Prosody(13, 165, 1.20, 1.30, drive=0.6),
    "contempt": Prosody(-3, 80, 0.92, 1.00, drive=0.6, dull=0.2),
    "guilt": Prosody(-5, 65, 0.88, 0.80, breath=0.03),
    "other": Prosody(2, 110, 1.00, 1.00, breath=0.01),
}


@dataclass(frozen=True)
class Speaker:
    voice: str  # espeak voice with variant, e.g. "en-us+m3"
    pitch: float  # base pitch 0-99
    rate: float  # base words per minute
    gain: float = 1.0  # recording level: keeps loudness from naming the emotion outright


MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m6", "m7")  # m5 is left out: it is a creaky voice on its own
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5")


def make_speaker(language_voice: str, gender: str, index: int, rng: np.random.Generator) -> Speaker:
    """Speaker ``index`` (counted within its gender) of a corpus: a voice variant plus its own pitch, rate and level."""
    variants = MALE_VARIANTS if gender == "male" else FEMALE_VARIANTS
    base = 38.0 if gender == "male" else 55.0
    return Speaker(
        f"{language_voice}+{variants[index % len(variants)]}",
        pitch=base + rng.uniform(-8, 8),
        rate=rng.uniform(145, 185),
        gain=rng.uniform(0.7, 1.3),
    )


def _espeak(text: str, speaker: Speaker, prosody: Prosody, rng: np.random.Generator) -> np.ndarray:
    pitch = int(np.clip(speaker.pitch + prosody.pitch + rng.normal(0, 4), 5, 95))
    rate = int(np.clip(speaker.rate * prosody.rate * rng.normal(1, 0.06), 80, 320))
    speech_range = int(np.clip(prosody.range * rng.normal(1, 0.12), 20, 300))
    ssml = f'<speak><prosody range="{speech_range}%">{_escape(text)}</prosody></speak>'
    cmd = ["espeak-ng", "-m", "-z", "-v", speaker.voice, "-p", str(pitch), "-s", str(rate), "--stdout", ssml]
    try:
        out = subprocess.run(cmd, capture_output=True, check=True).stdout
    except FileNotFoundError as err:
        raise RuntimeError("the synthetic corpus needs espeak-ng (apt-get install espeak-ng)") from err
    except subprocess.CalledProcessError as err:
        message = err.stderr.decode(errors="replace")
        raise RuntimeError(f"espeak-ng failed for voice {speaker.voice}: {message}") from err
    wave, sr = sf.read(_wav_stream(out), dtype="float32")
    if sr != ESPEAK_RATE:
        wave = soxr.resample(wave, sr, ESPEAK_RATE)
    return wave


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _wav_stream(data: bytes) -> io.BytesIO:
    """espeak's ``--stdout`` WAV header has unknown sizes; patch them so libsndfile reads it."""
    data = bytearray(data)
    if data[:4] == b"RIFF":
        data[4:8] = (len(data) - 8).to_bytes(4, "little")
        idx = data.find(b"data")
        if idx >= 0:
            data[idx + 4 : idx + 8] = (len(data) - idx - 8).to_bytes(4, "little")
    return io.BytesIO(bytes(data))


def colour(wave: np.ndarray, prosody: Prosody, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Voice quality after synthesis: breath, tremolo, pressed voice, dullness."""
    wave = wave.astype(np.float64)
    peak = np.max(np.abs(wave)) or 1.0
    wave = wave / peak
    envelope = np.convolve(np.abs(wave), np.ones(441) / 441, mode="same")
    if prosody.dull:
        a = np.clip(prosody.dull * rng.uniform(0.8, 1.2), 0, 0.9)
        wave = lfilter([1 - a], [1, -a], wave)
    if prosody.drive:
        drive = prosody.drive * rng.uniform(0.7, 1.3)
        wave = np.tanh(drive * wave) / np.tanh(drive)
    if prosody.tremolo:
        t = np.arange(len(wave)) / sr
        depth = prosody.tremolo * rng.uniform(0.6, 1.2)
        wave = wave * (1 - depth * 0.5 * (1 + np.sin(2 * np.pi * rng.uniform(5, 7) * t)))
    if prosody.breath:
        noise = rng.standard_normal(len(wave))
        wave = wave + prosody.breath * rng.uniform(0.5, 1.5) * 8 * envelope * noise
    return wave / (np.max(np.abs(wave)) or 1.0)


def render_utterance(
    text: str,
    speaker: Speaker,
    emotion: str | None,
    sampling_rate: int,
    rng: np.random.Generator,
    lead: tuple[float, float] = (0.2, 0.6),
    trail: tuple[float, float] = (0.15, 0.5),
) -> np.ndarray:
    """One utterance at ``sampling_rate`` with quiet lead/trail (noise floor) for the trimmer.

    ``emotion=None`` gives a take without speech (about 2.6 s of noise floor), like CREMA-D's silent file.
    """
    if emotion is None:
        voice = np.zeros(int(rng.uniform(2.4, 2.8) * sampling_rate))
    else:
        prosody = EMOTION_PROSODY[emotion]
        voice = colour(_espeak(text, speaker, prosody, rng), prosody, ESPEAK_RATE, rng)
        voice = voice * np.clip(0.35 * speaker.gain * prosody.loudness * rng.normal(1, 0.1), 0.05, 0.95)
        if sampling_rate != ESPEAK_RATE:
            voice = soxr.resample(voice, ESPEAK_RATE, sampling_rate)
    n_lead = int(rng.uniform(*lead) * sampling_rate)
    n_trail = int(rng.uniform(*trail) * sampling_rate)
    wave = np.concatenate([np.zeros(n_lead), voice, np.zeros(n_trail)])
    wave += rng.standard_normal(len(wave)) * 10 ** (-62 / 20)  # a recording's noise floor
    return np.clip(wave, -1, 1).astype(np.float32)
