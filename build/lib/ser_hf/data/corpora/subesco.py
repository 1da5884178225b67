"""SUBESCO — SUST Bangla Emotional Speech Corpus.

Datasheet
    Speakers   20 (10 female F_01-F_10, 10 male M_01-M_10), Bengali; speaker id = gender + number.
    Emotions   7: ANGRY, DISGUST, FEAR, HAPPY, NEUTRAL, SAD, SURPRISE (no contempt, whatever seed 003 says).
    Files      7000 = 10 sentences x 7 emotions x 5 takes x 20 speakers (1000 per emotion), 7.83 h.
    Audio      Mixed: 4555 files at 44.1 kHz, 2445 at 48 kHz (per speaker); all resampled.
    Licence    CC BY 4.0 (Hugging Face card sustcsenlp/bn_emotion_speech_corpus).
    Citation   Sultana et al. (2021), PLoS ONE 16(4): e0250173.

Layout
    Zenodo 4526477 unpacks to a flat ``SUBESCO/`` folder:
    ``<G>_<NN>_<NAME>_S_<sentence>_<EMOTION>_<take>.wav``. The distributed file
    ``F_02_MONIKA_S_2_SURPRISE_3].wav`` has a stray ``]``; it is accepted (other parsers drop it).
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_hf.data.corpora.base import CorpusFile, CorpusInfo, first_unknown, unparsed

PATTERN = re.compile(r"^([MF])_(\d{2})_([A-Z]+)_S_(\d{1,2})_([A-Z]+)_(\d)\]?\.wav$", re.IGNORECASE)
EMOTIONS = {
    "ANGRY": "angry",
    "DISGUST": "disgust",
    "FEAR": "fear",
    "HAPPY": "happy",
    "NEUTRAL": "neutral",
    "SAD": "sad",
    "SURPRISE": "surprise",
}

SENTENCES = frozenset(str(i) for i in range(1, 11))

LAYOUT = """\
  ROOT/F_01_OISHI_S_1_ANGRY_1.wav ... (flat; ROOT is the unpacked SUBESCO/ folder or its parent)"""


def parse(path: Path) -> CorpusFile | str:
    m = PATTERN.match(path.name)
    if not m:
        return unparsed(path, "<G>_<NN>_<NAME>_S_<sentence>_<EMOTION>_<take>.wav")
    gender, number, _name, sentence, emo, take = m.groups()
    emo = emo.upper()
    reason = first_unknown(path, ("emotion", emo, EMOTIONS), ("sentence", str(int(sentence)), SENTENCES))
    if reason:
        return reason
    gender = gender.upper()
    return CorpusFile(
        path=str(path),
        emotion=EMOTIONS[emo],
        raw_label=emo,
        speaker=f"{gender}_{number}",  # F_02 and M_02 are different people
        gender="female" if gender == "F" else "male",
        sentence=f"S_{int(sentence)}",
    )


CORPUS = CorpusInfo(
    name="subesco",
    language="bn",
    sample_rate="44.1 / 48 kHz (mixed)",
    licence="CC BY 4.0",
    layout=LAYOUT,
    parse=parse,
    citation="Sultana S, Rahman MS, Selim MR, Iqbal MZ (2021) PLoS ONE 16(4): e0250173",
    rates_hz=(44100, 48000),
    seconds=(2.75, 6.03),
)
