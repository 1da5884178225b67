"""ESD — Emotional Speech Dataset (Mandarin and English).

Datasheet
    Speakers   20: 0001-0010 Mandarin, 0011-0020 English. Female: 0001 0002 0003 0007 0009 0015 0016
               0017 0018 0019; the others male (the official README; nkululeko's list is wrong).
    Emotions   5: Neutral, Angry, Happy, Sad, Surprise; 350 parallel utterances each per speaker.
    Files      35 000 (1750 per speaker), 16 kHz.
    Utterances Per speaker, ids 000001-000350 Neutral, 351-700 Angry, 701-1050 Happy, 1051-1400 Sad,
               1401-1750 Surprise; the same position in each block is the same sentence, so the
               sentence id is ``(id - 1) % 350 + 1`` (used by the leakage report).
    Licence    Research purposes only (HLTSingapore/Emotional-Speech-Data).
    Citation   Zhou, Sisman, Liu & Li (2021), ICASSP.

Layout
    Official: ``ROOT/Emotion Speech Dataset/<spk>/<Emotion>/{train,evaluation,test}/<spk>_<id>.wav``;
    Kaggle: ``ROOT/<spk>/<Emotion>/<spk>_<id>.wav``. Transcripts ``<spk>/<spk>.txt`` are not needed here.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_hf.data.corpora.base import CorpusFile, CorpusInfo, first_unknown, unparsed

PATTERN = re.compile(r"^(\d{4})_(\d{6})\.wav$")
EMOTIONS = {"neutral": "neutral", "angry": "angry", "happy": "happy", "sad": "sad", "surprise": "surprise"}
SPEAKERS = frozenset(f"{i:04d}" for i in range(1, 21))
FEMALE = frozenset("0001 0002 0003 0007 0009 0015 0016 0017 0018 0019".split())

LAYOUT = """\
  ROOT/Emotion Speech Dataset/0001/Angry/train/0001_000351.wav   (official)
  or ROOT/0001/Angry/0001_000351.wav                              (Kaggle)"""


def parse(path: Path) -> CorpusFile | str:
    m = PATTERN.match(path.name)
    if not m:
        return unparsed(path, "<speaker>_<utterance>.wav")
    spk, uid = m.groups()
    # The emotion folder is the parent, or the grandparent when a split folder sits between.
    folder = path.parent.name if path.parent.name.lower() in EMOTIONS else path.parent.parent.name
    emo = folder.lower()
    reason = first_unknown(path, ("emotion folder", emo, EMOTIONS), ("speaker", spk, SPEAKERS))
    if reason:
        return reason
    return CorpusFile(
        path=str(path),
        emotion=EMOTIONS[emo],
        raw_label=folder,
        speaker=spk,
        gender="female" if spk in FEMALE else "male",
        sentence=f"esd_{(int(uid) - 1) % 350 + 1:03d}",
        language="zh" if int(spk) <= 10 else "en",
    )


CORPUS = CorpusInfo(
    name="esd",
    language="zh+en",
    sample_rate="16 kHz",
    licence="Research purposes only",
    layout=LAYOUT,
    parse=parse,
    dedupe_key=lambda f: (Path(f.path).name,),
    citation="Zhou K, Sisman B, Liu R, Li H (2021) Seen and unseen emotional style transfer for voice conversion. ICASSP",
    rates_hz=(16000,),
)
