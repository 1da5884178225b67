"""JL-Corpus — emotional speech of New-Zealand English (primary and secondary emotions).

Datasheet
    Speakers   4: male1, male2, female1, female2 (NZ English).
    Emotions   5 primary (angry, sad, neutral, happy, excited) and 5 secondary (anxious, apologetic,
               assertive, concerned, encouraging); secondary ones map to canonical "other"
               (``raw_label`` keeps the name).
    Files      2400 (240 per emotion), 44.1 kHz.
    Licence    Kaggle tli725/jl-corpus; ODC-By per nkululeko (unconfirmed).
    Citation   James, Tian & Watson (2018), Interspeech.

Layout
    ``ROOT/Raw JL corpus (unchecked and unannotated)/JL(wav+txt)/<spk>_<emotion>_<sent><a|b>_<session>.wav``
    with a ``.txt`` transcript of the same name; other folders of the Kaggle download are searched too
    and de-duplicated by file name.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_hf.data.corpora.base import CorpusFile, CorpusInfo, first_unknown, unparsed

PATTERN = re.compile(r"^((?:fe)?male[12])_([a-z]+)_(\d+)([ab])_(\d)\.wav$", re.IGNORECASE)
EMOTIONS = {
    "angry": "angry",
    "sad": "sad",
    "neutral": "neutral",
    "happy": "happy",
    "excited": "excited",
    "anxious": "other",
    "apologetic": "other",
    "assertive": "other",
    "concerned": "other",
    "encouraging": "other",
}

LAYOUT = """\
  ROOT/Raw JL corpus (unchecked and unannotated)/JL(wav+txt)/male1_angry_1a_1.wav (+ male1_angry_1a_1.txt)"""


def parse(path: Path) -> CorpusFile | str:
    m = PATTERN.match(path.name)
    if not m:
        return unparsed(path, "<speaker>_<emotion>_<sentence><a|b>_<session>.wav")
    spk, emo, sent, _variant, _session = m.groups()
    spk, emo = spk.lower(), emo.lower()
    reason = first_unknown(path, ("emotion", emo, EMOTIONS))
    if reason:
        return reason
    transcript = path.with_suffix(".txt")
    text = transcript.read_text(encoding="utf-8", errors="replace").strip() if transcript.is_file() else ""
    return CorpusFile(
        path=str(path),
        emotion=EMOTIONS[emo],
        raw_label=emo,
        speaker=spk,
        gender="female" if spk.startswith("female") else "male",
        sentence=text or f"{emo}_{sent}",
    )


CORPUS = CorpusInfo(
    name="jl_corpus",
    language="en",
    sample_rate="44.1 kHz",
    licence="ODC-By per nkululeko (unconfirmed); check the Kaggle terms",
    layout=LAYOUT,
    parse=parse,
    dedupe_key=lambda f: (Path(f.path).name.lower(),),
    citation="James J, Tian L, Watson CI (2018) An open source emotional speech corpus for human robot interaction applications. Interspeech",
    rates_hz=(44100,),
)
