"""BanglaSER — Bangla speech emotion recognition corpus (Mendeley Data t9h6p943xy, v5).

Datasheet
    Speakers   34 non-professional speakers (17 male, 17 female), 19-47 y, Bengali; odd id = male.
    Emotions   5: 01 happy, 02 sad, 03 angry, 04 surprise, 05 neutral (NOT RAVDESS's order).
    Files      1467 = 3 statements x 3 repetitions x 4 emotions x 34 speakers (1224)
               + neutral for 27 speakers only (243).
    Audio      Smartphone / laptop recordings; rate not documented (resampled anyway).
    Licence    Not stated on the record we saw (Mendeley Data is usually CC BY 4.0): check before reuse.
    Citation   Das RK et al. (2022), Data in Brief 42: 108091.
    Caveat     The code table rests on one source (nkululeko); re-verify on the real download.

Layout
    The Mendeley zip holds ``BanglaSER/`` with per-speaker folders (names unconfirmed), so the whole
    root is searched recursively. Names: ``03-01-EE-II-SS-RR-AA.wav`` (mode, script, emotion,
    intensity, statement, repetition, actor).
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_hf.data.corpora.base import CorpusFile, CorpusInfo, first_unknown, unparsed

PATTERN = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})\.wav$", re.IGNORECASE)
EMOTIONS = {"01": "happy", "02": "sad", "03": "angry", "04": "surprise", "05": "neutral"}
INTENSITY = {"01": "normal", "02": "strong"}
STATEMENTS = {
    "01": "It's twelve o'clock",  # ১২ টা বেজে গেছে
    "02": "I knew something like this would happen",  # আমি জানতাম এমন কিছু হবে
    "03": "What kind of gift is this?",  # এ কেমন উপহার
}

LAYOUT = """\
  ROOT/**/03-01-01-01-01-01-01.wav ... (searched recursively; e.g. ROOT/BanglaSER/01/...)"""


def parse(path: Path) -> CorpusFile | str:
    m = PATTERN.match(path.name)
    if not m:
        return unparsed(path, "03-01-EE-II-SS-RR-AA.wav")
    mode, script, emo, intensity, statement, repetition, actor = m.groups()
    actors = {f"{i:02d}" for i in range(1, 35)}
    reason = first_unknown(
        path, ("mode", mode, {"03"}), ("emotion", emo, EMOTIONS), ("intensity", intensity, INTENSITY),
        ("statement", statement, STATEMENTS), ("repetition", repetition, {"01", "02", "03"}), ("actor", actor, actors),
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
    name="banglaser",
    language="bn",
    sample_rate="not documented",
    licence="not stated (Mendeley Data t9h6p943xy); check before reuse",
    layout=LAYOUT,
    parse=parse,
    citation="Das RK, Islam N, Ahmed MR, et al. (2022) Data in Brief 42: 108091",
)
