"""CREMA-D — Crowd-sourced Emotional Multimodal Actors Dataset (AudioWAV).

Datasheet
    Speakers   91 actors (48 male, 43 female), 20-74 y, several ethnicities; US English.
    Emotions   6: ANG anger, DIS disgust, FEA fear, HAP happy, NEU neutral, SAD sad.
    Sentences  12; only IEO is spoken at LO/MD/HI levels (non-neutral emotions), all else XX.
    Files      7442 of the 7462-cell grid (20 never recorded); 5.26 h, 1.27-5.0 s.
    Audio      16 kHz WAV in AudioWAV/ (AudioMP3/ is ignored).
    Licence    Open Database License 1.0, contents under the Database Contents License 1.0.
    Citation   Cao et al. (2014), IEEE Trans. Affective Computing 5(4).
    Known      1076_MTI_SAD_XX has no signal; it is skipped by the decoder's "no signal" check.

Layout
    ``ROOT/AudioWAV/<actor>_<sentence>_<emotion>_<level>.wav``; ``ROOT/VideoDemographics.csv`` gives the
    sex per actor when present (Kaggle copies lack it: the 43 female ids below are used instead).
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path

from ser_hf.data.corpora.base import CorpusFile, CorpusInfo, first_unknown, unparsed

PATTERN = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})\.wav$", re.IGNORECASE)
EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
ACTORS = frozenset(str(i) for i in range(1001, 1092))
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
# From VideoDemographics.csv (ODbL/DbCL); every other id in 1001-1091 is male.
FEMALE = frozenset(
    "1002 1003 1004 1006 1007 1008 1009 1010 1012 1013 1018 1020 1021 1024 1025 1028 1029 1030 1037 1043 "
    "1046 1047 1049 1052 1053 1054 1055 1056 1058 1060 1061 1063 1072 1073 1074 1075 1076 1078 1079 1082 "
    "1084 1089 1091".split()
)

LAYOUT = """\
  ROOT/AudioWAV/1001_DFA_ANG_XX.wav ... ROOT/AudioWAV/1091_WSI_SAD_XX.wav
  ROOT/VideoDemographics.csv   (optional: "ActorID","Age","Sex","Race","Ethnicity")"""


@lru_cache(maxsize=8)
def _demographics(root: str) -> dict[str, str]:
    csv_path = Path(root) / "VideoDemographics.csv"
    if not csv_path.is_file():
        return {}
    with open(csv_path, newline="", encoding="utf-8-sig") as fh:
        return {row["ActorID"].strip(): row["Sex"].strip().lower() for row in csv.DictReader(fh)}


def parse(path: Path) -> CorpusFile | str:
    if path.parent.name != "AudioWAV":
        return "not under AudioWAV/"
    m = PATTERN.match(path.name)
    if not m:
        return unparsed(path, "<actor>_<SENT>_<EMO>_<LVL>.wav")
    actor, sent, emo, level = m.group(1), m.group(2).upper(), m.group(3).upper(), m.group(4).upper()
    reason = first_unknown(
        path, ("actor", actor, ACTORS), ("sentence", sent, SENTENCES), ("emotion", emo, EMOTIONS), ("level", level, LEVELS)
    )
    if reason:
        return reason
    gender = _demographics(str(path.parent.parent)).get(actor) or ("female" if actor in FEMALE else "male")
    return CorpusFile(
        path=str(path),
        emotion=EMOTIONS[emo],
        raw_label=emo,
        speaker=actor,
        gender=gender,
        sentence=SENTENCES[sent],
        intensity=LEVELS[level],
    )


CORPUS = CorpusInfo(
    name="crema_d",
    language="en",
    sample_rate="16 kHz",
    licence="ODbL 1.0 (database) + DbCL 1.0 (contents)",
    layout=LAYOUT,
    parse=parse,
    citation="Cao H, Cooper DG, Keutmann MK, Gur RC, Nenkova A, Verma R (2014) IEEE TAC 5(4):377-390",
    rates_hz=(16000,),
    seconds=(1.27, 5.0),
)
