"""Per-corpus plans: which files a synthetic corpus holds, in the real download's layout.

Each ``plan_<corpus>(size, layout)`` returns the audio files to render (path, codes, speaker,
text, native sample rate) and any other files of the real download (``extras``). Sizes:
``tiny`` (unit tests: a few speakers, every structural rule kept), ``small`` (quickstart) and
``full`` (the real corpus's grid and counts; EmoDB matches the per-emotion totals only, since
its speaker x emotion table is not published). Facts come from ``shared/docs/corpora.md``.

Choices where the facts are open, documented here:
* BanglaSER is written at 44.1 kHz under ``BanglaSER/<actor>/``; the last speakers lack neutral
  (7 of 34 in ``full``); intensity 02 for angry and surprise, 01 otherwise.
* SAVEE and JL-Corpus texts are stand-in English sentences (TIMIT and JL prompts are not listed).
* SUBESCO texts are stand-in Bengali sentences; ESD Mandarin speakers read stand-in Chinese ones.
* ``tiny`` and ``small`` keep the files that carry each corpus's quirks (TESS ``OA_bite_neutral``
  and the 96-kHz ``OAF_food_fear`` in the Kaggle layout, SUBESCO's ``]`` file, RAVDESS's doubled
  Kaggle tree, CREMA-D's demographics CSV).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..corpora import banglaser, crema_d, emodb, ravdess, subesco, tess

SIZES = ("tiny", "small", "full")


@dataclass
class PlannedFile:
    relpath: str
    emotion: str
    raw_label: str
    speaker: str
    gender: str
    sentence: str  # the text spoken
    language: str
    voice: str  # espeak language voice
    sampling_rate: int
    duplicate_of: str | None = None  # a byte-identical copy of another planned file


@dataclass
class Plan:
    files: list[PlannedFile]
    extras: dict[str, str] = field(default_factory=dict)  # relpath -> text content ("" = empty file)


def _pick(size: str, tiny, small, full):
    return {"tiny": tiny, "small": small, "full": full}[size]


# ---------------------------------------------------------------- RAVDESS
def plan_ravdess(size: str, layout: str) -> Plan:
    actors = range(1, _pick(size, 2, 8, 24) + 1)
    files = []
    for a in actors:
        gender = "male" if a % 2 else "female"
        for code, emotion in ravdess.EMOTIONS.items():
            for intensity in ("01",) if code == "01" else ("01", "02"):
                for statement, text in ravdess.STATEMENTS.items():
                    for rep in ("01", "02"):
                        name = f"03-01-{code}-{intensity}-{statement}-{rep}-{a:02d}.wav"
                        files.append(PlannedFile(f"Actor_{a:02d}/{name}", emotion, code, f"{a:02d}", gender, text, "en", "en-us", 48000))
    if layout == "kaggle":  # Kaggle ships the whole tree twice
        files += [
            PlannedFile(**{**f.__dict__, "relpath": f"audio_speech_actors_01-24/{f.relpath}", "duplicate_of": f.relpath})
            for f in list(files)
        ]
    return Plan(files)


# ---------------------------------------------------------------- TESS
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
TESS_KAGGLE_FOLDERS = {
    ("OAF", "angry"): "OAF_angry", ("OAF", "disgust"): "OAF_disgust", ("OAF", "fear"): "OAF_Fear",
    ("OAF", "happy"): "OAF_happy", ("OAF", "neutral"): "OAF_neutral", ("OAF", "ps"): "OAF_Pleasant_surprise",
    ("OAF", "sad"): "OAF_Sad", ("YAF", "angry"): "YAF_angry", ("YAF", "disgust"): "YAF_disgust",
    ("YAF", "fear"): "YAF_fear", ("YAF", "happy"): "YAF_happy", ("YAF", "neutral"): "YAF_neutral",
    ("YAF", "ps"): "YAF_pleasant_surprised", ("YAF", "sad"): "YAF_sad",
}  # fmt: skip


def plan_tess(size: str, layout: str) -> Plan:
    words = _pick(size, ["back", "bite", "dog", "food"], TESS_WORDS[:16] + ["food", "young"], TESS_WORDS)
    files = []
    for spk in ("OAF", "YAF"):
        for word in words:
            for code, emotion in tess.EMOTIONS.items():
                name = f"{spk}_{word}_{code}.wav"
                rate = 24414
                if layout == "kaggle":
                    if (spk, word, code) == ("OAF", "bite", "neutral"):
                        name = "OA_bite_neutral.wav"  # Kaggle's misnamed file
                    if (spk, word, code) == ("OAF", "food", "fear"):
                        rate = 96000  # the one 96-kHz file
                    rel = f"TESS Toronto emotional speech set data/{TESS_KAGGLE_FOLDERS[spk, code]}/{name}"
                else:
                    rel = name
                files.append(PlannedFile(rel, emotion, code, spk, "female", f"Say the word {word}", "en", "en", rate))
    return Plan(files)


# ---------------------------------------------------------------- SAVEE
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


def plan_savee(size: str, layout: str) -> Plan:
    per_emotion = _pick(size, 2, 5, 15)
    files = []
    for spk in ("DC", "JE", "JK", "KL"):
        for code, emotion in (("a", "angry"), ("d", "disgust"), ("f", "fear"), ("h", "happy"), ("n", "neutral"), ("sa", "sad"), ("su", "surprise")):
            for i in range(1, (2 * per_emotion if code == "n" else per_emotion) + 1):
                text = SAVEE_SENTENCES[(i - 1) % len(SAVEE_SENTENCES)]
                rel = f"ALL/{spk}_{code}{i:02d}.wav" if layout == "kaggle" else f"AudioData/{spk}/{code}{i:02d}.wav"
                files.append(PlannedFile(rel, emotion, code, spk, "male", text, "en", "en-gb-x-rp", 44100))
    extras = {} if layout == "kaggle" else {"AudioData/Info.txt": "Audio files sampled at 44.1 kHz (synthetic stand-in).\n"}
    return Plan(files, extras)


# ---------------------------------------------------------------- CREMA-D
CREMA_MISSING = {"1002_TIE_NEU_XX", "1076_ITS_NEU_XX"} | {
    f"{a}_{s}_{e}_XX" for a, s in (("1008", "WSI"), ("1009", "MTI"), ("1019", "ITH")) for e in crema_d.EMOTIONS
}


def plan_crema_d(size: str, layout: str) -> Plan:
    actors = _pick(size, ["1001", "1002", "1005", "1006"], [str(a) for a in range(1001, 1013)], [str(a) for a in range(1001, 1092)])
    sentences = _pick(size, ["IEO", "TIE"], ["IEO", "TIE", "DFA", "MTI"], list(crema_d.SENTENCES))
    files = []
    for actor in actors:
        gender = "female" if actor in crema_d.FEMALE else "male"
        for sent in sentences:
            for code, emotion in crema_d.EMOTIONS.items():
                levels = ("LO", "MD", "HI") if sent == "IEO" and code != "NEU" else ("XX",)
                for level in levels:
                    stem = f"{actor}_{sent}_{code}_{level}"
                    if size == "full" and stem in CREMA_MISSING:
                        continue
                    files.append(PlannedFile(f"AudioWAV/{stem}.wav", emotion, code, actor, gender, crema_d.SENTENCES[sent], "en", "en-us", 16000))
    rows = ['"ActorID","Age","Sex","Race","Ethnicity"'] + [
        f'{a},{20 + int(a) % 50},"{"Female" if a in crema_d.FEMALE else "Male"}","Unknown","Not Hispanic"' for a in actors
    ]
    return Plan(files, {"VideoDemographics.csv": "\n".join(rows) + "\n"})


# ---------------------------------------------------------------- SUBESCO
SUBESCO_SPEAKERS = {
    "F_01": "OISHI", "F_02": "MONIKA", "F_03": "SMITA", "F_04": "SWARNALI", "F_05": "MOUNI", "F_06": "SIMI",
    "F_07": "TITHI", "F_08": "JOYEETA", "F_09": "CHAITY", "F_10": "FAHMEE", "M_01": "BASHIR", "M_02": "NIPUN",
    "M_03": "ILIAS", "M_04": "BIBHAS", "M_05": "DURANTO", "M_06": "SHUKANTO", "M_07": "SIBLY", "M_08": "PRASUN",
    "M_09": "SHUMANTA", "M_10": "EVAN",
}  # fmt: skip
SUBESCO_48K = {"F_06", "F_07", "F_08", "M_06", "M_10"}  # all-48-kHz speakers; the rest 44.1 kHz here
SUBESCO_SENTENCES = (
    "আমি আজ বাড়ি যাব", "তুমি কোথায় ছিলে", "আকাশে মেঘ করেছে", "সে বই পড়তে ভালোবাসে", "আমরা কাল সকালে যাব",
    "এখানে অনেক মানুষ", "দরজাটা বন্ধ করো", "সময় শেষ হয়ে গেছে", "তারা খেলা দেখছে", "আমার কথা শোনো",
)  # fmt: skip


def plan_subesco(size: str, layout: str) -> Plan:
    speakers = _pick(size, ["F_02", "F_06", "M_01", "M_06"], ["F_01", "F_02", "F_06", "F_09", "M_01", "M_02", "M_06", "M_09"], list(SUBESCO_SPEAKERS))
    sentences = _pick(size, [1, 2], [1, 2, 3], list(range(1, 11)))
    takes = _pick(size, [3], [1, 3], [1, 2, 3, 4, 5])
    files = []
    for spk in speakers:
        gender = "female" if spk[0] == "F" else "male"
        for s in sentences:
            for code, emotion in subesco.EMOTIONS.items():
                for take in takes:
                    name = f"{spk}_{SUBESCO_SPEAKERS[spk]}_S_{s}_{code}_{take}"
                    if name == "F_02_MONIKA_S_2_SURPRISE_3":
                        name += "]"  # the distributed file's stray bracket
                    rate = 48000 if spk in SUBESCO_48K else 44100
                    files.append(PlannedFile(f"SUBESCO/{name}.wav", emotion, code, spk, gender, SUBESCO_SENTENCES[s - 1], "bn", "bn", rate))
    return Plan(files)


# ---------------------------------------------------------------- BanglaSER
BANGLASER_TEXT = {"01": "১২ টা বেজে গেছে", "02": "আমি জানতাম এমন কিছু হবে", "03": "এ কেমন উপহার"}


def plan_banglaser(size: str, layout: str) -> Plan:
    n_actors, n_without_neutral = _pick(size, (4, 1), (10, 2), (34, 7))
    statements = _pick(size, ["01", "02"], ["01", "02", "03"], ["01", "02", "03"])
    reps = _pick(size, ["01", "02"], ["01", "02", "03"], ["01", "02", "03"])
    files = []
    for a in range(1, n_actors + 1):
        gender = "male" if a % 2 else "female"
        for code, emotion in banglaser.EMOTIONS.items():
            if code == "05" and a > n_actors - n_without_neutral:
                continue  # neutral was recorded for only some speakers
            intensity = "02" if emotion in ("angry", "surprise") else "01"
            for st in statements:
                for rep in reps:
                    name = f"03-01-{code}-{intensity}-{st}-{rep}-{a:02d}.wav"
                    files.append(PlannedFile(f"BanglaSER/{a:02d}/{name}", emotion, code, f"{a:02d}", gender, BANGLASER_TEXT[st], "bn", "bn", 44100))
    return Plan(files)


# ---------------------------------------------------------------- EmoDB
EMODB_TOTALS = {"W": 127, "L": 81, "N": 79, "F": 71, "A": 69, "T": 62, "E": 46}


def plan_emodb(size: str, layout: str) -> Plan:
    speakers = _pick(size, ["03", "08", "09", "10"], list(emodb.SPEAKERS), list(emodb.SPEAKERS))
    texts = _pick(size, ["a01", "a02"], ["a01", "a04", "b01"], list(emodb.TEXTS))
    files = []
    for code, emotion in emodb.EMOTIONS.items():
        cells = [(s, t) for s in speakers for t in texts]
        if size == "full":  # the published per-emotion totals; cells spread evenly over speakers and texts
            step = len(cells) / EMODB_TOTALS[code]
            cells = [cells[int(i * step)] for i in range(EMODB_TOTALS[code])]
        for spk, text in cells:
            files.append(PlannedFile(f"wav/{spk}{text}{code}a.wav", emotion, code, spk, emodb.SPEAKERS[spk], emodb.TEXTS[text], "de", "de", 16000))
    extras = {
        "erkennung.txt": "Satz erkannt\n",
        "erklaerung.txt": "Synthetic stand-in of the EmoDB download.\n",
        "lablaut/README": "",
        "labsilb/README": "",
        "silb/README": "",
    }
    return Plan(files, extras)


# ---------------------------------------------------------------- JL-Corpus
JL_PRIMARY = ("angry", "sad", "neutral", "happy", "excited")
JL_SECONDARY = ("anxious", "apologetic", "assertive", "concerned", "encouraging")
JL_SENTENCES = (
    "Hey, come here quickly.", "I did not expect to see you today.", "The weather is changing again.",
    "We should finish this before the evening.", "That was not what I asked for.", "Can you help me with this?",
    "It will be ready on Monday.", "I think we are going the wrong way.", "Please sit down for a moment.",
    "This is the best news all week.", "You forgot to call me back.", "Let us try it one more time.",
    "The train leaves at nine.", "I am not sure about this.", "Everything will be fine.",
)  # fmt: skip


def plan_jl_corpus(size: str, layout: str) -> Plan:
    base = "Raw JL corpus (unchecked and unannotated)/JL(wav+txt)"
    sentences = _pick(size, 2, 3, 15)
    variants = _pick(size, ("a",), ("a", "b"), ("a", "b"))
    sessions = _pick(size, ("1",), ("1",), ("1", "2"))
    files, extras = [], {}
    for spk in ("male1", "male2", "female1", "female2"):
        gender = "female" if spk.startswith("female") else "male"
        for emo in JL_PRIMARY + JL_SECONDARY:
            n = sentences if emo in JL_PRIMARY or size != "tiny" else 1
            for s in range(1, n + 1):
                for v in variants:
                    for session in sessions:
                        stem = f"{spk}_{emo}_{s}{v}_{session}"
                        text = JL_SENTENCES[(s - 1) % len(JL_SENTENCES)]
                        emotion = emo if emo in JL_PRIMARY else "other"
                        files.append(PlannedFile(f"{base}/{stem}.wav", emotion, emo, spk, gender, text, "en", "en", 44100))
                        extras[f"{base}/{stem}.txt"] = text
    return Plan(files, extras)


# ---------------------------------------------------------------- ESD
ESD_BLOCKS = {"Neutral": 0, "Angry": 350, "Happy": 700, "Sad": 1050, "Surprise": 1400}
ESD_FEMALE = {"0001", "0002", "0003", "0007", "0009", "0015", "0016", "0017", "0018", "0019"}
ESD_EN = (
    "The nine the eggs, I keep.", "I am going to the market today.", "Chickens are not allowed in the kitchen.",
    "He will be back in a minute.", "Turn off the light before you leave.", "What a lovely morning it is.",
    "The cat sat by the warm fire.", "They did not answer the phone.",
)  # fmt: skip
ESD_ZH = ("今天天气很好", "我们明天再见", "你吃饭了吗", "这本书很有意思", "他已经回家了", "请把门关上", "我不知道怎么办", "火车马上就要开了")


def _esd_split(index: int) -> str:
    return "train" if index <= 300 else ("evaluation" if index <= 320 else "test")


def plan_esd(size: str, layout: str) -> Plan:
    speakers = _pick(size, ["0001", "0006", "0011", "0015"], ["0001", "0002", "0006", "0008", "0011", "0012", "0015", "0016"], [f"{i:04d}" for i in range(1, 21)])
    indices = _pick(size, [1, 305, 330], [1, 2, 3, 4, 5, 301, 321, 322], list(range(1, 351)))
    files, extras = [], {}
    for spk in speakers:
        zh = int(spk) <= 10
        lines = []
        for emo, offset in ESD_BLOCKS.items():
            for i in indices:
                uid = f"{offset + i:06d}"
                text = (ESD_ZH if zh else ESD_EN)[(i - 1) % 8]
                folder = f"Emotion Speech Dataset/{spk}/{emo}/{_esd_split(i)}" if layout == "official" else f"{spk}/{emo}"
                gender = "female" if spk in ESD_FEMALE else "male"
                files.append(PlannedFile(f"{folder}/{spk}_{uid}.wav", emo.lower(), emo, spk, gender, text, "zh" if zh else "en", "cmn" if zh else "en-us", 16000))
                lines.append(f"{spk}_{uid}\t{text}\t{emo}")
        prefix = "Emotion Speech Dataset/" if layout == "official" else ""
        extras[f"{prefix}{spk}/{spk}.txt"] = "\n".join(lines) + "\n"
    return Plan(files, extras)


PLANS = {
    "ravdess": (plan_ravdess, ("zenodo", "kaggle")),
    "tess": (plan_tess, ("dataverse", "kaggle")),
    "savee": (plan_savee, ("original", "kaggle")),
    "crema_d": (plan_crema_d, ("github",)),
    "subesco": (plan_subesco, ("zenodo",)),
    "banglaser": (plan_banglaser, ("mendeley",)),
    "emodb": (plan_emodb, ("download",)),
    "jl_corpus": (plan_jl_corpus, ("kaggle",)),
    "esd": (plan_esd, ("official", "kaggle")),
}
