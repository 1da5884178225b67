"""SAVEE — Surrey Audio-Visual Expressed Emotion.

Datasheet
    Speakers   4 male British-English postgraduates (27-31 y): DC, JE, JK, KL.
    Emotions   7: a anger, d disgust, f fear, h happiness, n neutral, sa sadness, su surprise.
    Files      480: per speaker 15 sentences per emotion, neutral 30 (n01-n30).
    Audio      44.1 kHz, 16-bit.
    Licence    Free for research after registration; the EULA forbids redistribution.
    Citation   Haq & Jackson (2009), AVSP; Haq & Jackson (2010), Machine Audition.

Layout
    Original: ``AudioData/<SPK>/<code><NN>.wav`` (+ ``AudioData/Info.txt``); some downloads nest a second
    ``AudioData/AudioData/`` copy (de-duplicated by speaker + name). Kaggle: flat ``ALL/<SPK>_<code><NN>.wav``.
    Two-letter codes ``sa``/``su`` are tried before the one-letter ones.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_hf.data.corpora.base import CorpusFile, CorpusInfo, first_unknown, unparsed

SPEAKERS = ("DC", "JE", "JK", "KL")
EMOTIONS = {
    "a": "angry",
    "d": "disgust",
    "f": "fear",
    "h": "happy",
    "n": "neutral",
    "sa": "sad",
    "su": "surprise",
}
# sa|su before the single letters, so "sa03" is sadness and not "s" + "a03".
KAGGLE = re.compile(r"^([A-Z]{2})_(sa|su|[a-z])(\d{2})\.wav$", re.IGNORECASE)
ORIGINAL = re.compile(r"^(sa|su|[a-z])(\d{2})\.wav$", re.IGNORECASE)

LAYOUT = """\
  ROOT/AudioData/DC/a01.wav ... ROOT/AudioData/KL/su15.wav   (original download)
  or ROOT/ALL/DC_a01.wav ... ROOT/ALL/KL_su15.wav            (Kaggle, flat)"""


def parse(path: Path) -> CorpusFile | str:
    m = KAGGLE.match(path.name)
    if m:
        spk, code, idx = m.group(1).upper(), m.group(2).lower(), m.group(3)
    else:
        m = ORIGINAL.match(path.name)
        if not m:
            return unparsed(path, "<SPK>/<code><NN>.wav or <SPK>_<code><NN>.wav")
        spk, code, idx = path.parent.name.upper(), m.group(1).lower(), m.group(2)
    reason = first_unknown(path, ("speaker", spk, SPEAKERS), ("emotion", code, EMOTIONS))
    if reason:
        return reason
    return CorpusFile(
        path=str(path),
        emotion=EMOTIONS[code],
        raw_label=code,
        speaker=spk,
        gender="male",
        # Sentence numbers are per emotion (a01 and d01 are different TIMIT sentences).
        sentence=f"{code}{idx}",
    )


CORPUS = CorpusInfo(
    name="savee",
    language="en",
    sample_rate="44.1 kHz",
    licence="Research use after registration; redistribution not allowed (SAVEE EULA)",
    layout=LAYOUT,
    parse=parse,
    dedupe_key=lambda f: (f.speaker, f.raw_label, f.sentence),
    citation="Haq S, Jackson PJB (2009) Speaker-dependent audio-visual emotion recognition. AVSP",
    rates_hz=(44100,),
    seconds=(1.63, 7.14),
)
