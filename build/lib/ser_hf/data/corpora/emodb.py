"""EmoDB — Berlin Database of Emotional Speech.

Datasheet
    Speakers   10 actors, German: 03 M, 08 F, 09 F, 10 M, 11 M, 12 M, 13 F, 14 F, 15 M, 16 F.
    Emotions   7: W anger (Wut), L boredom (Langeweile), E disgust (Ekel), A fear (Angst),
               F happiness (Freude), T sadness (Trauer), N neutral.
    Files      535 (W 127, L 81, N 79, F 71, A 69, T 62, E 46); 10 texts (a01 .. b10); 1.23-8.98 s.
    Audio      16 kHz, 16-bit mono.
    Licence    None on the original site; audEERING's audb build declares CC0-1.0. Check before reuse.
    Citation   Burkhardt et al. (2005), Interspeech.

Layout
    ``download.zip`` unpacks to ``wav/`` (the 535 files) beside ``erkennung.txt``, ``erklaerung.txt``,
    ``lablaut/``, ``labsilb/``, ``silb/``: only ``*.wav`` is read. Names: ``SSTTTEV.wav``
    (speaker, text, emotion, version letter).
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_hf.data.corpora.base import CorpusFile, CorpusInfo, first_unknown, unparsed

PATTERN = re.compile(r"^(\d{2})([ab]\d{2})([A-Z])([a-z])\.wav$")
EMOTIONS = {"W": "angry", "L": "boredom", "E": "disgust", "A": "fear", "F": "happy", "T": "sad", "N": "neutral"}
SPEAKERS = {
    "03": "male",
    "08": "female",
    "09": "female",
    "10": "male",
    "11": "male",
    "12": "male",
    "13": "female",
    "14": "female",
    "15": "male",
    "16": "female",
}
TEXTS = {
    "a01": "Der Lappen liegt auf dem Eisschrank.",
    "a02": "Das will sie am Mittwoch abgeben.",
    "a04": "Heute abend könnte ich es ihm sagen.",
    "a05": "Das schwarze Stück Papier befindet sich da oben neben dem Holzstück.",
    "a07": "In sieben Stunden wird es soweit sein.",
    "b01": "Was sind denn das für Tüten, die da unter dem Tisch stehen?",
    "b02": "Sie haben es gerade hochgetragen und jetzt gehen sie wieder runter.",
    "b03": "An den Wochenenden bin ich jetzt immer nach Hause gefahren und habe Agnes besucht.",
    "b09": "Ich will das eben wegbringen und dann mit Karl was trinken gehen.",
    "b10": "Die wird auf dem Platz sein, wo wir sie immer hinlegen.",
}

LAYOUT = """\
  ROOT/wav/03a01Fa.wav ... ROOT/wav/16b10Wb.wav   (download.zip unpacked; other files are ignored)"""


def parse(path: Path) -> CorpusFile | str:
    m = PATTERN.match(path.name)
    if not m:
        return unparsed(path, "SSTTTEV.wav (e.g. 03a01Fa.wav)")
    spk, text, emo, version = m.groups()
    reason = first_unknown(path, ("speaker", spk, SPEAKERS), ("text", text, TEXTS), ("emotion", emo, EMOTIONS))
    if reason:
        return reason
    return CorpusFile(
        path=str(path),
        emotion=EMOTIONS[emo],
        raw_label=emo,
        speaker=spk,
        gender=SPEAKERS[spk],
        sentence=TEXTS[text],
        intensity="",
    )


CORPUS = CorpusInfo(
    name="emodb",
    language="de",
    sample_rate="16 kHz",
    licence="unspecified at source (audb build: CC0-1.0)",
    layout=LAYOUT,
    parse=parse,
    citation="Burkhardt F, Paeschke A, Rolfes M, Sendlmeier W, Weiss B (2005) A database of German emotional speech. Interspeech",
    rates_hz=(16000,),
    seconds=(1.23, 8.98),
)
