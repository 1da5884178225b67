"""Per-corpus plans: which files a synthetic corpus holds, in the real download's layout.

``PLANS[corpus] = (builder, layouts)``; ``builder(size, layout)`` returns a :class:`Plan`: the audio
files to render (relative path, codes, speaker, text, voice, native sample rate) and the other files
of the real download (``extras``). The facts (codes, speakers, genders, texts, counts, quirks) are
copied from ``shared/docs/corpora.md`` on purpose rather than imported from ``ser_hf.data.corpora``: the
synthetic corpus is the loaders' test data, so it must not inherit a loader's mistake.

Sizes: ``tiny`` (unit tests: fewest speakers and sentences that keep every structural rule),
``small`` (quickstart: several speakers per gender, a few hundred files) and ``full`` (the real grid
and counts).

Choices where corpora.md leaves the facts open:

* TESS ``kaggle`` is written with one level of nesting (``TESS Toronto emotional speech set data/
  <FOLDER>/``); the doubly nested copy is not reproduced. ``OA_bite_neutral.wav`` and the 96-kHz
  ``OAF_food_fear.wav`` exist in the Kaggle layout only (the Dataverse manifest has the fixed name;
  its 96-kHz file is not reproduced there either).
* SAVEE, JL-Corpus, SUBESCO and ESD texts are stand-ins (the TIMIT, JL, SUBESCO and ESD prompts are
  not in corpora.md). ESD's 350 sentences are built from word lists so that one block index is one
  sentence; Mandarin is spoken from pinyin by ``cmn-latn-pinyin`` (1.51's ``cmn`` voice reads many
  characters as English letters), while the manifest and transcripts carry the characters. ESD
  transcripts are UTF-8 (the real ones mix encodings) and, as in the real Mandarin transcripts,
  name the emotion in Chinese for speakers 0001-0010.
* CREMA-D layout ``github`` has ``VideoDemographics.csv`` (all 91 actors, real sexes, invented
  ages and race); ``kaggle`` has ``AudioWAV/`` only. In ``full`` the 20 missing files are left out and
  ``1076_MTI_SAD_XX.wav`` is silent (noise floor only), as in the real corpus.
* SUBESCO rates: F_06 F_07 F_08 M_06 M_10 at 48 kHz; the mixed speakers F_09 M_07 M_08 M_09 have
  their odd sentences at 48 kHz except M_09's sentence 9 NEUTRAL, so ``full`` has the real
  2445 x 48 kHz + 4555 x 44.1 kHz; everyone else 44.1 kHz.
* BanglaSER: 44.1 kHz, per-speaker folders ``BanglaSER/<AA>/``; the last speakers lack neutral
  (7 of 34 in ``full``: 28-34); intensity 02 for angry and surprise, 01 otherwise.
* EmoDB ``full`` matches both the per-emotion and the per-speaker totals (the speaker x emotion
  table itself is not published: cells are proportional to the margins) and the version-letter
  totals (a 170, b 150, c 135, d 73, e 5, f 2). The non-wav files are small placeholders.
* DEMoS: the name grammar (``<PR|NP>_<g>_<SS>_<emo><NN><v>``, neutral ``<g>_<SS>_neu<NN><v>`` in ``NEU/``)
  and the totals come from a published listing of the real file names (see ``ser_hf.data.corpora.demos``).
  ``full`` matches the per-speaker and per-emotion totals of all files and of PR files (cells
  proportional to the margins, PR cells capped by their cell) and the neutral count of each speaker;
  speaker 20's missing happiness is not reproduced. Take numbers run 00, 01, ... per cell; take 00 is
  ``a`` as in reality, the ``b``/``c`` letters of later takes are invented, and the real repeats of
  one number with both letters are not reproduced. The sample rate is unknown: 48 kHz is a guess. The
  texts are Italian stand-ins (what DEMoS speakers say is not documented) and ``DEMoS_readme.txt`` is a
  paraphrase of the real legend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SIZES = ("tiny", "small", "full")


@dataclass(frozen=True)
class PlannedFile:
    relpath: str
    emotion: str  # canonical name
    raw_label: str  # the corpus's own code, as in the path
    speaker: str  # corpus-local id as a loader sees it
    gender: str
    sentence: str  # the text spoken
    language: str
    voice: str  # espeak-ng language voice (the speaker's variant is added when rendering)
    sampling_rate: int
    spoken: str = ""  # what espeak reads when it differs from ``sentence`` (Mandarin: pinyin)
    duplicate_of: str | None = None  # relpath of the byte-identical original
    silent: bool = False  # a file without speech (CREMA-D's 1076_MTI_SAD_XX)


@dataclass
class Plan:
    files: list[PlannedFile]
    extras: dict[str, str | bytes] = field(default_factory=dict)  # relpath -> content (str is written UTF-8)


def _pick(size: str, tiny, small, full):
    return {"tiny": tiny, "small": small, "full": full}[size]


# ------------------------------------------------------------------------------------------ RAVDESS
RAVDESS_EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fear", "07": "disgust", "08": "surprise"}  # fmt: skip
RAVDESS_STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}


def plan_ravdess(size: str, layout: str) -> Plan:
    """``Actor_NN/03-01-EE-II-SS-RR-NN.wav`` at 48 kHz; odd actors male; neutral has no strong intensity."""
    files = []
    for actor in range(1, _pick(size, 2, 8, 24) + 1):
        gender = "male" if actor % 2 else "female"
        for code, emotion in RAVDESS_EMOTIONS.items():
            for intensity in ("01",) if code == "01" else ("01", "02"):
                for statement, text in RAVDESS_STATEMENTS.items():
                    for rep in ("01", "02"):
                        name = f"03-01-{code}-{intensity}-{statement}-{rep}-{actor:02d}.wav"
                        files.append(PlannedFile(f"Actor_{actor:02d}/{name}", emotion, code, f"{actor:02d}", gender, text, "en", "en-us", 48000))  # fmt: skip
    if layout == "kaggle":  # the Kaggle copy holds the whole tree twice
        files += [_copy(f, f"audio_speech_actors_01-24/{f.relpath}") for f in list(files)]
    return Plan(files)


def _copy(f: PlannedFile, relpath: str) -> PlannedFile:
    return PlannedFile(**{**f.__dict__, "relpath": relpath, "duplicate_of": f.relpath})


# ------------------------------------------------------------------------------------------ TESS
TESS_EMOTIONS = {"angry": "angry", "disgust": "disgust", "fear": "fear", "happy": "happy", "neutral": "neutral", "ps": "surprise", "sad": "sad"}  # fmt: skip
TESS_WORDS = (
    "back bar base bath bean beg bite boat bone book bought burn cab calm came cause chain chair chalk chat check cheek "
    "chief choice cool dab date dead death deep dime dip ditch dodge dog doll door fail fall far fat fit five food gap gas "
    "gaze germ get gin goal good goose gun half hall hash hate have haze hire hit hole home hurl hush jail jar join judge "
    "jug juice keen keep keg kick kill king kite knock late laud lean learn lease lid life limb live loaf long lore lose lot "
    "love luck make match merge mess met mill mob mode mood moon mop mouse nag name near neat nice note numb pad page pain "
    "pass pearl peg perch phone pick pike pole pool puff rag raid rain raise rat reach read red ring ripe road room rose rot "
    "rough rush said sail search seize sell shack shall shawl sheep shirt should shout size soap soup sour south sub such "
    "sure take talk tape team tell thin third thought thumb time tip tire ton tool tough turn vine voice void vote wag walk "
    "wash week wheat when which whip white wife wire witch yearn yes young youth"
).split()
TESS_KAGGLE_FOLDERS = {  # Kaggle's inconsistent case and spelling, verbatim
    ("OAF", "angry"): "OAF_angry", ("OAF", "disgust"): "OAF_disgust", ("OAF", "fear"): "OAF_Fear",
    ("OAF", "happy"): "OAF_happy", ("OAF", "neutral"): "OAF_neutral", ("OAF", "ps"): "OAF_Pleasant_surprise",
    ("OAF", "sad"): "OAF_Sad", ("YAF", "angry"): "YAF_angry", ("YAF", "disgust"): "YAF_disgust",
    ("YAF", "fear"): "YAF_fear", ("YAF", "happy"): "YAF_happy", ("YAF", "neutral"): "YAF_neutral",
    ("YAF", "ps"): "YAF_pleasant_surprised", ("YAF", "sad"): "YAF_sad",
}  # fmt: skip


def plan_tess(size: str, layout: str) -> Plan:
    """``<SPK>_<word>_<emo>.wav`` at 24 414 Hz, flat (Dataverse) or in Kaggle's 14 folders."""
    # tiny and small keep "bite" and "food": the words that carry the Kaggle quirks.
    words = _pick(size, ["back", "bite", "dog", "food"], TESS_WORDS[:16] + ["food", "young"], TESS_WORDS)
    files = []
    for spk in ("OAF", "YAF"):
        for word in words:
            for code, emotion in TESS_EMOTIONS.items():
                name, rate = f"{spk}_{word}_{code}.wav", 24414
                if layout == "kaggle":
                    if (spk, word, code) == ("OAF", "bite", "neutral"):
                        name = "OA_bite_neutral.wav"  # Kaggle's misnamed file
                    if (spk, word, code) == ("OAF", "food", "fear"):
                        rate = 96000  # the one 96-kHz file
                    relpath = f"TESS Toronto emotional speech set data/{TESS_KAGGLE_FOLDERS[spk, code]}/{name}"
                else:
                    relpath = name
                text = f"Say the word {word}"
                files.append(PlannedFile(relpath, emotion, code, spk, "female", text, "en", "en", rate))
    return Plan(files)


# ------------------------------------------------------------------------------------------ SAVEE
SAVEE_EMOTIONS = {"a": "angry", "d": "disgust", "f": "fear", "h": "happy", "n": "neutral", "sa": "sad", "su": "surprise"}  # fmt: skip
SAVEE_SENTENCES = (
    "She had your dark suit in greasy wash water all year.", "Don't ask me to carry an oily rag like that.",
    "Will you tell me why?", "Who authorized the unlimited expense account?", "Destroy every file related to my audits.",
    "The small boy put the worm on the hook.", "Clear pronunciation is appreciated.", "Pizzerias are convenient for a quick lunch.",
    "Those musicians harmonize marvellously.", "The best way to learn is to solve extra problems.",
    "Cut a small corner off each edge.", "Her right hand aches whenever the barometric pressure changes.",
    "The eastern coast is a place for pure pleasure and excitement.", "Tornado winds can destroy a whole town.",
    "Agricultural products are unevenly distributed.", "Drop five forms in the box before you go out.",
    "He stole a dime from a beggar.", "Straw hats are out of fashion this year.", "The kitten chased the dog down the street.",
    "A good attitude is unbeatable.",
)  # fmt: skip
SAVEE_INFO = """\
Surrey Audio-Visual Expressed Emotion (SAVEE) database -- synthetic stand-in written by ser-hf.

Audio files are stored in the folders DC, JE, JK and KL (one per speaker), sampled at 44.1 kHz.
The initial letter(s) of the file name represents the emotion class, and the following digits
represent the sentence number: 'a','d','f','h','n','sa','su' = anger, disgust, fear, happiness,
neutral, sadness, surprise. E.g. 'd03.wav' is the 3rd disgust sentence.
"""


def plan_savee(size: str, layout: str) -> Plan:
    """4 male speakers; ``<code><NN>.wav`` per speaker folder (original) or ``ALL/<SPK>_<code><NN>.wav``."""
    per_emotion = _pick(size, 2, 5, 15)
    files = []
    for spk in ("DC", "JE", "JK", "KL"):
        for code, emotion in SAVEE_EMOTIONS.items():
            for i in range(1, (2 * per_emotion if code == "n" else per_emotion) + 1):  # neutral: twice the sentences
                relpath = f"ALL/{spk}_{code}{i:02d}.wav" if layout == "kaggle" else f"AudioData/{spk}/{code}{i:02d}.wav"
                text = SAVEE_SENTENCES[(i - 1) % len(SAVEE_SENTENCES)]
                files.append(PlannedFile(relpath, emotion, code, spk, "male", text, "en", "en-gb-x-rp", 44100))
    return Plan(files, {} if layout == "kaggle" else {"AudioData/Info.txt": SAVEE_INFO})


# ------------------------------------------------------------------------------------------ CREMA-D
CREMA_EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
CREMA_SENTENCES = {
    "IEO": "It's eleven o'clock", "TIE": "That is exactly what happened", "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about", "TAI": "The airplane is almost full", "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock", "ITH": "I think I have a doctor's appointment", "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before", "TSI": "The surface is slick", "WSI": "We'll stop in a couple of minutes",
}  # fmt: skip
CREMA_FEMALE = frozenset(
    "1002 1003 1004 1006 1007 1008 1009 1010 1012 1013 1018 1020 1021 1024 1025 1028 1029 1030 1037 1043 1046 1047 "
    "1049 1052 1053 1054 1055 1056 1058 1060 1061 1063 1072 1073 1074 1075 1076 1078 1079 1082 1084 1089 1091".split()
)
CREMA_ACTORS = [str(a) for a in range(1001, 1092)]
CREMA_MISSING = {"1002_TIE_NEU_XX", "1076_ITS_NEU_XX"} | {
    f"{actor}_{sent}_{emo}_XX"
    for actor, sent in (("1008", "WSI"), ("1009", "MTI"), ("1019", "ITH"))
    for emo in CREMA_EMOTIONS
}
CREMA_SILENT = "1076_MTI_SAD_XX"
_CREMA_RACES = ("Caucasian", "African American", "Asian", "Unknown")
_CREMA_FIRST_ROWS = {"1001": (51, "Caucasian"), "1002": (21, "Caucasian")}  # as in the real CSV; later rows invented


def plan_crema_d(size: str, layout: str) -> Plan:
    """``AudioWAV/<actor>_<SENT>_<EMO>_<LVL>.wav`` at 16 kHz; only IEO has LO/MD/HI levels."""
    male = [a for a in CREMA_ACTORS if a not in CREMA_FEMALE]
    female = [a for a in CREMA_ACTORS if a in CREMA_FEMALE]
    actors = _pick(size, ["1001", "1002", "1005", "1006"], sorted(male[:6] + female[:6]), CREMA_ACTORS)
    sentences = _pick(size, ["IEO", "TIE"], ["IEO", "TIE", "DFA", "MTI"], list(CREMA_SENTENCES))
    files = []
    for actor in actors:
        gender = "female" if actor in CREMA_FEMALE else "male"
        for sent in sentences:
            for code, emotion in CREMA_EMOTIONS.items():
                for level in ("LO", "MD", "HI") if sent == "IEO" and code != "NEU" else ("XX",):
                    stem = f"{actor}_{sent}_{code}_{level}"
                    if size == "full" and stem in CREMA_MISSING:
                        continue
                    silent = size == "full" and stem == CREMA_SILENT
                    files.append(PlannedFile(f"AudioWAV/{stem}.wav", emotion, code, actor, gender, CREMA_SENTENCES[sent], "en", "en-us", 16000, silent=silent))  # fmt: skip
    extras = {}
    if layout == "github":  # the real CSV lists all 91 actors, quoted strings, unquoted numbers
        rows = ['"ActorID","Age","Sex","Race","Ethnicity"']
        for a in CREMA_ACTORS:
            n = int(a)
            sex = "Female" if a in CREMA_FEMALE else "Male"
            age, race = _CREMA_FIRST_ROWS.get(a, (20 + (n * 37) % 55, _CREMA_RACES[n % 4]))
            ethnicity = "Hispanic" if n % 7 == 3 else "Not Hispanic"
            rows.append(f'{a},{age},"{sex}","{race}","{ethnicity}"')
        extras["VideoDemographics.csv"] = "\n".join(rows) + "\n"
    return Plan(files, extras)


# ------------------------------------------------------------------------------------------ SUBESCO
SUBESCO_EMOTIONS = {e: e.lower() for e in ("ANGRY", "DISGUST", "FEAR", "HAPPY", "NEUTRAL", "SAD", "SURPRISE")}
SUBESCO_SPEAKERS = {
    "F_01": "OISHI", "F_02": "MONIKA", "F_03": "SMITA", "F_04": "SWARNALI", "F_05": "MOUNI", "F_06": "SIMI",
    "F_07": "TITHI", "F_08": "JOYEETA", "F_09": "CHAITY", "F_10": "FAHMEE", "M_01": "BASHIR", "M_02": "NIPUN",
    "M_03": "ILIAS", "M_04": "BIBHAS", "M_05": "DURANTO", "M_06": "SHUKANTO", "M_07": "SIBLY", "M_08": "PRASUN",
    "M_09": "SHUMANTA", "M_10": "EVAN",
}  # fmt: skip
SUBESCO_48K = frozenset({"F_06", "F_07", "F_08", "M_06", "M_10"})
SUBESCO_MIXED = frozenset({"F_09", "M_07", "M_08", "M_09"})
SUBESCO_SENTENCES = (
    "আমি আজ বাড়ি যাব", "তুমি কোথায় ছিলে", "আকাশে মেঘ করেছে", "সে বই পড়তে ভালোবাসে", "আমরা কাল সকালে যাব",
    "এখানে অনেক মানুষ", "দরজাটা বন্ধ করো", "সময় শেষ হয়ে গেছে", "তারা খেলা দেখছে", "আমার কথা শোনো",
)  # fmt: skip


def _subesco_rate(spk: str, sentence: int, code: str) -> int:
    if spk in SUBESCO_48K:
        return 48000
    if spk in SUBESCO_MIXED and sentence % 2 and (spk, sentence, code) != ("M_09", 9, "NEUTRAL"):
        return 48000
    return 44100


def plan_subesco(size: str, layout: str) -> Plan:
    """Flat ``SUBESCO/<G>_<NN>_<NAME>_S_<sent>_<EMOTION>_<take>.wav``; 44.1 or 48 kHz by speaker."""
    speakers = _pick(size, ["F_02", "F_06", "M_01", "M_06"], ["F_01", "F_02", "F_06", "F_09", "M_01", "M_02", "M_06", "M_09"], list(SUBESCO_SPEAKERS))  # fmt: skip
    sentences = _pick(size, [1, 2], [1, 2, 3], list(range(1, 11)))
    takes = _pick(size, [3], [1, 3], [1, 2, 3, 4, 5])  # take 3 always: F_02's sentence-2 take 3 is the "]" file
    files = []
    for spk in speakers:
        gender = "female" if spk[0] == "F" else "male"
        for s in sentences:
            for code, emotion in SUBESCO_EMOTIONS.items():
                for take in takes:
                    stem = f"{spk}_{SUBESCO_SPEAKERS[spk]}_S_{s}_{code}_{take}"
                    if stem == "F_02_MONIKA_S_2_SURPRISE_3":
                        stem += "]"  # the distributed file's stray bracket
                    rate = _subesco_rate(spk, s, code)
                    files.append(PlannedFile(f"SUBESCO/{stem}.wav", emotion, code, spk, gender, SUBESCO_SENTENCES[s - 1], "bn", "bn", rate))  # fmt: skip
    return Plan(files)


# ------------------------------------------------------------------------------------------ BanglaSER
BANGLASER_EMOTIONS = {"01": "happy", "02": "sad", "03": "angry", "04": "surprise", "05": "neutral"}  # not RAVDESS order
BANGLASER_STATEMENTS = {"01": "১২ টা বেজে গেছে", "02": "আমি জানতাম এমন কিছু হবে", "03": "এ কেমন উপহার"}


def plan_banglaser(size: str, layout: str) -> Plan:
    """``BanglaSER/<AA>/03-01-EE-II-SS-RR-AA.wav`` at 44.1 kHz; odd actors male; neutral for some speakers only."""
    n_actors, n_without_neutral = _pick(size, (4, 1), (10, 2), (34, 7))
    statements = _pick(size, ["01", "02"], ["01", "02", "03"], ["01", "02", "03"])
    reps = _pick(size, ["01", "02"], ["01", "02", "03"], ["01", "02", "03"])
    files = []
    for actor in range(1, n_actors + 1):
        gender = "male" if actor % 2 else "female"
        for code, emotion in BANGLASER_EMOTIONS.items():
            if code == "05" and actor > n_actors - n_without_neutral:
                continue  # neutral was recorded for only 27 of the 34 speakers
            intensity = "02" if emotion in ("angry", "surprise") else "01"
            for st in statements:
                for rep in reps:
                    name = f"03-01-{code}-{intensity}-{st}-{rep}-{actor:02d}.wav"
                    files.append(PlannedFile(f"BanglaSER/{actor:02d}/{name}", emotion, code, f"{actor:02d}", gender, BANGLASER_STATEMENTS[st], "bn", "bn", 44100))  # fmt: skip
    return Plan(files)


# ------------------------------------------------------------------------------------------ EmoDB
EMODB_EMOTIONS = {"W": "angry", "L": "boredom", "E": "disgust", "A": "fear", "F": "happy", "T": "sad", "N": "neutral"}
EMODB_SPEAKERS = {"03": "male", "08": "female", "09": "female", "10": "male", "11": "male", "12": "male", "13": "female", "14": "female", "15": "male", "16": "female"}  # fmt: skip
EMODB_TEXTS = {
    "a01": "Der Lappen liegt auf dem Eisschrank.", "a02": "Das will sie am Mittwoch abgeben.",
    "a04": "Heute abend könnte ich es ihm sagen.", "a05": "Das schwarze Stück Papier befindet sich da oben neben dem Holzstück.",
    "a07": "In sieben Stunden wird es soweit sein.", "b01": "Was sind denn das für Tüten, die da unter dem Tisch stehen?",
    "b02": "Sie haben es gerade hochgetragen und jetzt gehen sie wieder runter.",
    "b03": "An den Wochenenden bin ich jetzt immer nach Hause gefahren und habe Agnes besucht.",
    "b09": "Ich will das eben wegbringen und dann mit Karl was trinken gehen.",
    "b10": "Die wird auf dem Platz sein, wo wir sie immer hinlegen.",
}  # fmt: skip
EMODB_EMOTION_TOTALS = {"W": 127, "L": 81, "E": 46, "A": 69, "F": 71, "T": 62, "N": 79}
EMODB_SPEAKER_TOTALS = {"03": 49, "08": 58, "09": 43, "10": 38, "11": 55, "12": 35, "13": 61, "14": 69, "15": 56, "16": 71}  # fmt: skip
EMODB_VERSION_TOTALS = {"a": 170, "b": 150, "c": 135, "d": 73, "e": 5, "f": 2}


def _table_with_margins(
    rows: dict[str, int], cols: dict[str, int], caps: dict[tuple[str, str], int] | None = None
) -> dict[tuple[str, str], int]:
    """An integer table proportional to rows x cols whose sums are exactly the given margins.

    With ``caps`` no cell exceeds its cap (DEMoS: prototypical files within each speaker-emotion cell);
    the margins are then met only if the caps allow it, which the caller's counts must be checked for.
    """
    cap = (lambda k: caps[k]) if caps else (lambda k: float("inf"))
    total = sum(rows.values())
    exact = {(r, c): rows[r] * cols[c] / total for r in rows for c in cols}
    table = {k: int(min(v, cap(k))) for k, v in exact.items()}
    row_left = {r: rows[r] - sum(table[r, c] for c in cols) for r in rows}
    col_left = {c: cols[c] - sum(table[r, c] for r in rows) for c in cols}
    for (r, c) in sorted(exact, key=lambda k: (table[k] - exact[k], k)):  # largest remainders first
        if row_left[r] and col_left[c] and table[r, c] < cap((r, c)):
            table[r, c] += 1
            row_left[r] -= 1
            col_left[c] -= 1
    for r in rows:  # whatever the remainders could not place (both margins sum to the same total)
        for c in cols:
            while row_left[r] and col_left[c] and table[r, c] < cap((r, c)):
                table[r, c] += 1
                row_left[r] -= 1
                col_left[c] -= 1
    return table


def plan_emodb(size: str, layout: str) -> Plan:
    """``wav/SSTTTEV.wav`` at 16 kHz (speaker, text, emotion letter, version letter) plus the zip's other files."""
    texts = list(EMODB_TEXTS)
    if size == "full":  # each speaker-emotion cell walks through the texts from its own offset
        counts = _table_with_margins(EMODB_SPEAKER_TOTALS, EMODB_EMOTION_TOTALS)
        cells = {
            (s, e): [texts[(3 * int(s) + k + i) % len(texts)] for i in range(n)]
            for k, ((s, e), n) in enumerate(counts.items())
        }
    else:
        tiny, small = (["03", "08", "09", "10"], ["a01", "a02"]), (list(EMODB_SPEAKERS), ["a01", "a04", "b01"])
        speakers, chosen = tiny if size == "tiny" else small
        cells = {(s, e): chosen for s in speakers for e in EMODB_EMOTIONS}
    version_left = dict(EMODB_VERSION_TOTALS)
    files = []
    for (spk, code), cell_texts in cells.items():
        taken: dict[str, set[str]] = {}
        for text in cell_texts:
            # The version letter is distinct per (speaker, text, emotion); in full it is drawn so that the
            # real letter totals come out, elsewhere it just varies.
            if size == "full":
                free = [v for v in version_left if v not in taken.get(text, set())]
                letter = max(free, key=lambda v: (version_left[v], -ord(v)))
                version_left[letter] -= 1
            else:
                letter = "abcd"[len(files) % 4]
            taken.setdefault(text, set()).add(letter)
            files.append(PlannedFile(f"wav/{spk}{text}{code}{letter}.wav", EMODB_EMOTIONS[code], code, spk, EMODB_SPEAKERS[spk], EMODB_TEXTS[text], "de", "de", 16000))  # fmt: skip
    recognition = "".join(f"{f.relpath[4:-4]} {60 + i * 7 % 40},{i % 10}\n" for i, f in enumerate(files))
    extras = {  # the real zip's other entries; a loader must skip them
        "erkennung.txt": ("Satz erkannt\n" + recognition).encode("latin-1"),
        "erklaerung.txt": "Erklärung: synthetischer Ersatz für die Berliner Datenbank (ser-hf).\n".encode("latin-1"),
        "lablaut/placeholder.lablaut": b"",
        "labsilb/placeholder.labsilb": b"",
        "silb/placeholder.silb": b"",
    }
    return Plan(files, extras)


# ------------------------------------------------------------------------------------------ JL-Corpus
JL_PRIMARY = ("angry", "sad", "neutral", "happy", "excited")
JL_SECONDARY = ("anxious", "apologetic", "assertive", "concerned", "encouraging")  # canonical "other"
JL_SENTENCES = (
    "Hey, come here quickly.", "I did not expect to see you today.", "The weather is changing again.",
    "We should finish this before the evening.", "That was not what I asked for.", "Can you help me with this?",
    "It will be ready on Monday.", "I think we are going the wrong way.", "Please sit down for a moment.",
    "This is the best news all week.", "You forgot to call me back.", "Let us try it one more time.",
    "The train leaves at nine.", "I am not sure about this.", "Everything will be fine.",
)  # fmt: skip
JL_FOLDER = "Raw JL corpus (unchecked and unannotated)/JL(wav+txt)"


def plan_jl_corpus(size: str, layout: str) -> Plan:
    """``<spk>_<emotion>_<sent><a|b>_<session>.wav`` at 44.1 kHz with a ``.txt`` transcript beside each."""
    sentences = _pick(size, 2, 3, 15)
    variants = _pick(size, ("a",), ("a", "b"), ("a", "b"))
    sessions = _pick(size, ("1",), ("1",), ("1", "2"))
    files, extras = [], {}
    for spk in ("male1", "male2", "female1", "female2"):
        gender = "female" if spk.startswith("female") else "male"
        for emo in JL_PRIMARY + JL_SECONDARY:
            n = 1 if size == "tiny" and emo in JL_SECONDARY else sentences
            for s in range(1, n + 1):
                for variant in variants:
                    for session in sessions:
                        stem = f"{JL_FOLDER}/{spk}_{emo}_{s}{variant}_{session}"
                        text = JL_SENTENCES[(s - 1) % len(JL_SENTENCES)]
                        emotion = emo if emo in JL_PRIMARY else "other"
                        files.append(PlannedFile(f"{stem}.wav", emotion, emo, spk, gender, text, "en", "en-gb", 44100))
                        extras[f"{stem}.txt"] = text
    return Plan(files, extras)


# ------------------------------------------------------------------------------------------ ESD
ESD_BLOCKS = {"Neutral": 0, "Angry": 350, "Happy": 700, "Sad": 1050, "Surprise": 1400}
ESD_CHINESE_EMOTION = {"Neutral": "中立", "Angry": "生气", "Happy": "快乐", "Sad": "伤心", "Surprise": "惊喜"}
ESD_FEMALE = frozenset("0001 0002 0003 0007 0009 0015 0016 0017 0018 0019".split())
_EN_SUBJECTS = ("The teacher", "My brother", "Our neighbour", "The old man", "A young girl", "The driver", "Her friend")
_EN_VERBS = ("found", "painted", "carried", "sold", "lost")
_EN_OBJECTS = ("a red kite", "the wooden box", "two tickets", "a small boat", "the blue car", "some bread", "an old map", "the letter", "a warm coat", "the silver key")  # fmt: skip
# Mandarin words as (characters, pinyin): espeak-ng 1.51's ``cmn`` voice reads many characters as English
# letters and tone digits, so the audio is rendered from pinyin with ``cmn-latn-pinyin``.
_ZH_SUBJECTS = (("老师", "lao3 shi1"), ("我哥哥", "wo3 ge1 ge5"), ("邻居", "lin2 ju1"), ("那个老人", "na4 ge5 lao3 ren2"), ("小女孩", "xiao3 nv3 hai2"), ("司机", "si1 ji1"), ("她的朋友", "ta1 de5 peng2 you5"))  # fmt: skip
_ZH_VERBS = (("找到了", "zhao3 dao4 le5"), ("画了", "hua4 le5"), ("拿走了", "na2 zou3 le5"), ("卖掉了", "mai4 diao4 le5"), ("丢了", "diu1 le5"))  # fmt: skip
_ZH_OBJECTS = (("红风筝", "hong2 feng1 zheng1"), ("木盒子", "mu4 he2 zi5"), ("两张票", "liang3 zhang1 piao4"), ("小船", "xiao3 chuan2"), ("蓝色的车", "lan2 se4 de5 che1"), ("面包", "mian4 bao1"), ("旧地图", "jiu4 di4 tu2"), ("那封信", "na4 feng1 xin4"), ("厚外套", "hou4 wai4 tao4"), ("银钥匙", "yin2 yao4 shi5"))  # fmt: skip


def esd_sentence(index: int, chinese: bool) -> tuple[str, str]:
    """Sentence ``index`` (1-350) of the parallel set, 7 x 5 x 10 distinct combinations: (text, text to speak)."""
    i = index - 1
    if not chinese:
        text = f"{_EN_SUBJECTS[i // 50]} {_EN_VERBS[(i // 10) % 5]} {_EN_OBJECTS[i % 10]}."
        return text, text
    words = (_ZH_SUBJECTS[i // 50], _ZH_VERBS[(i // 10) % 5], _ZH_OBJECTS[i % 10])
    return "".join(w[0] for w in words) + "。", " ".join(w[1] for w in words) + "."


def _esd_split(index: int) -> str:
    return "train" if index <= 300 else ("evaluation" if index <= 320 else "test")  # 300/20/30 per emotion


def plan_esd(size: str, layout: str) -> Plan:
    """``<spk>/<Emotion>/[<split>/]<spk>_<uid>.wav`` at 16 kHz plus ``<spk>/<spk>.txt``; 0001-0010 Mandarin."""
    speakers = _pick(size, ["0001", "0006", "0011", "0015"], ["0001", "0002", "0006", "0008", "0011", "0012", "0015", "0016"], [f"{i:04d}" for i in range(1, 21)])  # fmt: skip
    indices = _pick(size, [1, 305, 330], [1, 2, 3, 4, 5, 301, 321, 322], list(range(1, 351)))  # every split folder
    prefix = "Emotion Speech Dataset/" if layout == "official" else ""
    files, extras = [], {}
    for spk in speakers:
        chinese = int(spk) <= 10
        gender = "female" if spk in ESD_FEMALE else "male"
        lines = []
        for emo, offset in ESD_BLOCKS.items():
            folder = f"{prefix}{spk}/{emo}"
            for i in indices:
                uid = f"{spk}_{offset + i:06d}"
                text, spoken = esd_sentence(i, chinese)
                relpath = f"{folder}/{_esd_split(i)}/{uid}.wav" if layout == "official" else f"{folder}/{uid}.wav"
                voice = "cmn-latn-pinyin" if chinese else "en-us"
                files.append(PlannedFile(relpath, emo.lower(), emo, spk, gender, text, "zh" if chinese else "en", voice, 16000, spoken=spoken))  # fmt: skip
                lines.append(f"{uid}\t{text}\t{ESD_CHINESE_EMOTION[emo] if chinese else emo}")
        extras[f"{prefix}{spk}/{spk}.txt"] = "\n".join(lines) + "\n"
    return Plan(files, extras)


# ------------------------------------------------------------------------------------------ DEMoS
DEMOS_EMOTIONS = {"col": "guilt", "dis": "disgust", "gio": "happy", "pau": "fear", "rab": "angry", "sor": "surprise", "tri": "sad"}  # fmt: skip
DEMOS_FEMALE = frozenset("01 17 21 22 29 31 36 37 38 40 43 44 45 46 47 48 49 54 55 56 57 60 61".split())
DEMOS_SPEAKERS = tuple(f"{i:02d}" for i in range(1, 70) if i != 35)  # 68: 23 F, 45 M
# Emotional files per speaker and per emotion, prototypical (PR) files per speaker (59 speakers) and per
# emotion, neutral files per speaker (58 speakers): all from the listing of the real file names.
DEMOS_EMOTION_TOTALS = {"col": 1129, "dis": 1678, "gio": 1395, "pau": 1156, "rab": 1477, "sor": 1000, "tri": 1530}
DEMOS_PR_TOTALS = {"col": 209, "dis": 140, "gio": 167, "pau": 177, "rab": 246, "sor": 203, "tri": 422}
DEMOS_SPEAKER_TOTALS = {
    "01": 119, "02": 121, "03": 123, "04": 121, "05": 119, "06": 114, "07": 114, "08": 120, "09": 126, "10": 115,
    "11": 124, "12": 119, "13": 121, "14": 122, "15": 120, "16": 117, "17": 126, "18": 123, "19": 115, "20": 100,
    "21": 118, "22": 132, "23": 126, "24": 125, "25": 123, "26": 126, "27": 127, "28": 120, "29": 123, "30": 133,
    "31": 125, "32": 134, "33": 162, "34": 150, "36": 195, "37": 151, "38": 139, "39": 135, "40": 146, "41": 149,
    "42": 134, "43": 138, "44": 156, "45": 171, "46": 164, "47": 169, "48": 132, "49": 131, "50": 181, "51": 148,
    "52": 157, "53": 158, "54": 151, "55": 143, "56": 136, "57": 147, "58": 143, "59": 187, "60": 180, "61": 140,
    "62": 148, "63": 156, "64": 152, "65": 140, "66": 149, "67": 158, "68": 134, "69": 144,
}  # fmt: skip
DEMOS_PR_SPEAKER_TOTALS = {
    "01": 24, "02": 19, "03": 15, "04": 10, "05": 45, "08": 36, "09": 32, "10": 25, "11": 51, "12": 14, "14": 1,
    "15": 4, "16": 15, "17": 18, "18": 18, "19": 26, "21": 36, "22": 91, "23": 43, "24": 16, "25": 7, "26": 26,
    "27": 16, "28": 39, "29": 40, "30": 44, "31": 34, "33": 54, "34": 2, "36": 18, "37": 10, "38": 2, "39": 27,
    "40": 2, "41": 9, "43": 6, "45": 9, "46": 4, "47": 18, "49": 20, "50": 65, "51": 45, "52": 13, "53": 43,
    "54": 13, "55": 16, "56": 9, "57": 48, "58": 7, "59": 88, "60": 62, "61": 28, "63": 12, "64": 2, "65": 5,
    "66": 74, "67": 11, "68": 40, "69": 57,
}  # fmt: skip
DEMOS_NO_NEUTRAL = frozenset("09 15 20 22 29 32 38 45 59 62".split())
# Neutral files of the speakers who do not have the usual 6.
DEMOS_NEUTRAL_COUNTS = {"03": 5, "07": 5, "10": 5, "13": 5, "16": 5, "28": 4, "41": 2, "42": 5, "43": 5, "49": 5, "50": 5, "68": 5}  # fmt: skip
DEMOS_SENTENCES = (
    "Domani mattina andiamo al mercato.", "Il treno parte alle nove.", "Ho lasciato le chiavi sul tavolo.",
    "Questa sera piove di nuovo.", "La lettera è arrivata ieri.", "Non ho ancora finito il lavoro.",
    "Il gatto dorme sulla sedia.", "Abbiamo cambiato casa in primavera.", "La porta del giardino è aperta.",
    "Ci vediamo dopo pranzo.",
)  # fmt: skip
DEMOS_README = """\
DEMoS: Database of Elicited Mood in Speech -- synthetic stand-in written by ser-hf.

File names: the first two letters are PR (prototypical, selected samples) or NP (non-prototypical);
the letter after the first '_' is the speaker's gender (f, m); the number after the second '_' is
the speaker; the three letters after the last '_' are the emotion: col guilt, dis disgust,
gio happiness, pau fear, rab anger, sor surprise, tri sadness, neu neutral.
Emotional files are in DEMOS/, neutral ones (no PR/NP prefix) in NEU/.
"""


def _demos_take(take: int, emotion_index: int, speaker: str) -> str:
    """``NNv``: take 00 is always ``a`` (as in the real names); later takes are mostly ``b``, some ``c``."""
    letter = "a" if take == 0 else ("c" if (take + emotion_index + int(speaker)) % 8 == 0 else "b")
    return f"{take:02d}{letter}"


def plan_demos(size: str, layout: str) -> Plan:
    """``DEMOS/<PR|NP>_<g>_<SS>_<emo><NNv>.wav`` and ``NEU/<g>_<SS>_neu<NNv>.wav`` at 48 kHz, plus a readme."""
    emotions = list(DEMOS_EMOTIONS)
    if size == "full":  # the real per-speaker and per-emotion totals, of all files and of PR files
        speakers = list(DEMOS_SPEAKERS)
        counts = _table_with_margins(DEMOS_SPEAKER_TOTALS, DEMOS_EMOTION_TOTALS)
        pr = _table_with_margins(DEMOS_PR_SPEAKER_TOTALS, DEMOS_PR_TOTALS, caps=counts)
        neutral = {s: 0 if s in DEMOS_NO_NEUTRAL else DEMOS_NEUTRAL_COUNTS.get(s, 6) for s in speakers}
    else:
        # tiny: 01 and 22 female, 02 and 06 male; 22 has no neutral, 06 no PR file (as in reality).
        speakers = ["01", "22", "02", "06"] if size == "tiny" else ["01", "17", "22", "29", "02", "06", "11", "59"]
        takes = _pick(size, 2, 4, None)
        counts = {(s, e): takes for s in speakers for e in emotions}
        pr = {(s, e): takes // 2 for s in speakers if s in DEMOS_PR_SPEAKER_TOTALS for e in emotions}
        neutral = {s: 0 if s in DEMOS_NO_NEUTRAL else takes for s in speakers}
    files = []
    for spk in speakers:
        g = "f" if spk in DEMOS_FEMALE else "m"
        gender = "female" if g == "f" else "male"
        for ei, code in enumerate(emotions):
            n, n_pr = counts[spk, code], pr.get((spk, code), 0)  # pr lists PR speakers only
            for take in range(n):
                prototypical = (take + 1) * n_pr // n > take * n_pr // n  # spreads the n_pr PR takes over the n
                prefix = "PR" if prototypical else "NP"
                name = f"DEMOS/{prefix}_{g}_{spk}_{code}{_demos_take(take, ei, spk)}.wav"
                text = DEMOS_SENTENCES[(take + int(spk)) % len(DEMOS_SENTENCES)]
                files.append(PlannedFile(name, DEMOS_EMOTIONS[code], code, spk, gender, text, "it", "it", 48000))
        for take in range(neutral[spk]):
            name = f"NEU/{g}_{spk}_neu{_demos_take(take, len(emotions), spk)}.wav"
            text = DEMOS_SENTENCES[(take + int(spk)) % len(DEMOS_SENTENCES)]
            files.append(PlannedFile(name, "neutral", "neu", spk, gender, text, "it", "it", 48000))
    return Plan(files, {"DEMoS_readme.txt": DEMOS_README})


# corpus -> (builder, layouts); the first layout is the default.
PLANS = {
    "ravdess": (plan_ravdess, ("zenodo", "kaggle")),
    "tess": (plan_tess, ("dataverse", "kaggle")),
    "savee": (plan_savee, ("original", "kaggle")),
    "crema_d": (plan_crema_d, ("github", "kaggle")),
    "subesco": (plan_subesco, ("zenodo",)),
    "banglaser": (plan_banglaser, ("mendeley",)),
    "emodb": (plan_emodb, ("download",)),
    "jl_corpus": (plan_jl_corpus, ("kaggle",)),
    "esd": (plan_esd, ("official", "kaggle")),
    "demos": (plan_demos, ("zenodo",)),
}
