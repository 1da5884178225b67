"""TESS — Toronto Emotional Speech Set.

Datasheet
    Speakers   2 actresses, Canadian English: OAF (older, 64 y) and YAF (younger, 26 y).
    Emotions   7: angry, disgust, fear, happy, neutral, ps (pleasant surprise), sad.
    Files      2800 = 200 NU-6 target words ("Say the word ___") x 7 emotions x 2 speakers.
    Audio      24 414 Hz, 16-bit mono; OAF_food_fear.wav is 96 kHz (resampled like every file).
    Licence    CC BY-NC-ND 4.0 (Scholars Portal Dataverse doi:10.5683/SP2/E8H2MF).
    Citation   Pichora-Fuller & Dupuis (2020), Toronto emotional speech set (TESS), Borealis.
    Caveat     Two speakers only: no speaker-independent split with validation and test is possible;
               every word is spoken in every emotion, so random splits share sentences.

Layout
    Dataverse: flat ``ROOT/OAF_back_angry.wav``. Kaggle: ``ROOT/TESS Toronto emotional speech set data/
    <FOLDER>/<file>.wav`` (sometimes nested twice) with inconsistently spelled folders
    (``OAF_Fear``, ``YAF_pleasant_surprised`` ...). The emotion is read from the file name, never the
    folder. Kaggle's misnamed ``OA_bite_neutral.wav`` is mapped to speaker OAF.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_hf.data.corpora.base import CorpusFile, CorpusInfo, first_unknown, unparsed

PATTERN = re.compile(r"^([A-Z]+)_([a-z]+)_([a-z]+)\.wav$", re.IGNORECASE)
EMOTIONS = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happy",
    "neutral": "neutral",
    "ps": "surprise",  # pleasant surprise (positive valence); raw_label keeps "ps"
    "sad": "sad",
}
SPEAKERS = {"OAF": "OAF", "YAF": "YAF", "OA": "OAF"}  # OA: Kaggle's misnamed OA_bite_neutral.wav

LAYOUT = """\
  ROOT/OAF_back_angry.wav ... ROOT/YAF_youth_sad.wav        (Dataverse download, flat)
  or ROOT/TESS Toronto emotional speech set data/OAF_Fear/OAF_back_fear.wav ...   (Kaggle)"""


def parse(path: Path) -> CorpusFile | str:
    m = PATTERN.match(path.name)
    if not m:
        return unparsed(path, "<SPK>_<word>_<emotion>.wav")
    spk, word, emo = m.group(1).upper(), m.group(2).lower(), m.group(3).lower()
    reason = first_unknown(path, ("speaker", spk, SPEAKERS), ("emotion", emo, EMOTIONS))
    if reason:
        return reason
    return CorpusFile(
        path=str(path),
        emotion=EMOTIONS[emo],
        raw_label=emo,
        speaker=SPEAKERS[spk],
        gender="female",
        sentence=f"Say the word {word}",
    )


CORPUS = CorpusInfo(
    name="tess",
    language="en",
    sample_rate="24.414 kHz",
    licence="CC BY-NC-ND 4.0",
    layout=LAYOUT,
    parse=parse,
    # Same speaker + word + emotion = same recording, whatever the folder or OA/OAF spelling.
    dedupe_key=lambda f: (f.speaker, f.sentence, f.raw_label),
    citation="Pichora-Fuller MK, Dupuis K (2020) Toronto emotional speech set (TESS). doi:10.5683/SP2/E8H2MF",
    rates_hz=(24414, 96000),
    seconds=(1.25, 2.99),
)
