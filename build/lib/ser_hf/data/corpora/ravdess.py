"""RAVDESS — Ryerson Audio-Visual Database of Emotional Speech and Song (speech, audio-only).

Datasheet
    Speakers   24 professional actors, North-American English; odd actor id = male, even = female.
    Emotions   8: 01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust, 08 surprised.
               Neutral has only the normal intensity: 4 files per actor, 8 for every other emotion.
    Files      1440 (60 per actor; neutral 96, every other emotion 192), 1.48 h, 2.94-5.27 s.
    Audio      48 kHz, 16-bit PCM; a handful of files are reported stereo (always downmixed).
    Licence    CC BY-NC-SA 4.0 (Zenodo 1188976); commercial licences are sold separately.
    Citation   Livingstone & Russo (2018), PLoS ONE 13(5): e0196391.

Layout
    Zenodo ``Audio_Speech_Actors_01-24.zip`` unpacks to ``Actor_01/ .. Actor_24/`` (no top folder).
    Kaggle's copy holds that tree twice (``Actor_NN/`` and ``audio_speech_actors_01-24/Actor_NN/``),
    byte-identical: duplicates are dropped by (actor, file name). Song files (vocal channel 02) and
    video modalities are skipped with a reason.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_hf.data.corpora.base import CorpusFile, CorpusInfo, first_unknown, unparsed

# MM-VV-EE-II-SS-RR-AA.wav: modality, vocal channel, emotion, intensity, statement, repetition, actor.
PATTERN = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})\.wav$", re.IGNORECASE)
EMOTIONS = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fear",
    "07": "disgust",
    "08": "surprise",
}
INTENSITY = {"01": "normal", "02": "strong"}
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}

LAYOUT = """\
  ROOT/Actor_01/03-01-05-01-02-01-01.wav   (Zenodo Audio_Speech_Actors_01-24.zip, unpacked)
  ...
  ROOT/Actor_24/03-01-08-02-02-02-24.wav
  (Kaggle's extra copy ROOT/audio_speech_actors_01-24/Actor_NN/ is recognised and de-duplicated)"""


def parse(path: Path) -> CorpusFile | str:
    m = PATTERN.match(path.name)
    if not m:
        return unparsed(path, "MM-VV-EE-II-SS-RR-AA.wav")
    modality, vocal, emo, intensity, statement, repetition, actor = m.groups()
    if modality != "03":
        return f"modality {modality} is not audio-only (03)"
    if vocal != "01":
        return f"vocal channel {vocal} is song, not speech"
    actors = {f"{i:02d}" for i in range(1, 25)}
    reason = first_unknown(
        path, ("emotion", emo, EMOTIONS), ("intensity", intensity, INTENSITY), ("statement", statement, STATEMENTS),
        ("repetition", repetition, {"01", "02"}), ("actor", actor, actors),
    )
    if reason:
        return reason
    return CorpusFile(
        path=str(path),
        emotion=EMOTIONS[emo],
        raw_label=emo,
        speaker=actor,
        gender="male" if int(actor) % 2 else "female",
        sentence=STATEMENTS[statement],
        intensity=INTENSITY[intensity],
    )


CORPUS = CorpusInfo(
    name="ravdess",
    language="en",
    sample_rate="48 kHz",
    licence="CC BY-NC-SA 4.0",
    layout=LAYOUT,
    parse=parse,
    citation="Livingstone SR, Russo FA (2018) PLoS ONE 13(5): e0196391",
    rates_hz=(48000,),
    seconds=(2.94, 5.27),
)
