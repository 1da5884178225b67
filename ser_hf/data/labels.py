"""One emotion vocabulary for every corpus, and the named label sets a recipe selects.

Each corpus module turns its own codes into a *canonical* emotion name (``CANONICAL``).
A *label set* then maps canonical names onto the classes a model is trained on. What a
label set leaves out is dropped explicitly and counted (``apply_label_set`` returns the
counts), never silently.

The canonical names follow seed 003's seven classes (``angry disgust fear happy neutral
sad surprise``) and extend them with the other emotions the supported corpora carry.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: the Space reads label sets without the datasets library
    import datasets

CANONICAL: tuple[str, ...] = (
    "angry",
    "disgust",
    "fear",
    "happy",
    "neutral",
    "sad",
    "surprise",
    "calm",  # RAVDESS 02
    "boredom",  # EmoDB L
    "contempt",
    "excited",  # JL-Corpus, IEMOCAP exc
    "guilt",  # DEMoS col
    "other",  # JL secondary emotions and similar
)


@dataclass(frozen=True)
class LabelSet:
    """Classes a model predicts, and how canonical emotions map onto them.

    ``mapping`` sends a canonical emotion to a class name; a canonical emotion absent from
    ``mapping`` is dropped (and counted) when the set is applied.
    """

    name: str
    classes: tuple[str, ...]
    mapping: dict[str, str] = field(default_factory=dict)
    description: str = ""
    narrow: bool = False  # classes narrowed to the emotions present in the data
    # corpus -> its own code (``raw_label``) -> class, consulted before ``mapping``: for classes a corpus names that the
    # canonical vocabulary merges (JL-Corpus's five secondary emotions are all canonical "other")
    by_raw_label: dict[str, dict[str, str]] = field(default_factory=dict)
    keep_all: bool = False  # every name is its own class, canonical or not (label_set: source)

    def map(self, emotion: str) -> str | None:
        return emotion if self.keep_all else self.mapping.get(emotion)

    def map_row(self, emotion: str, corpus: str = "", raw_label: str = "") -> str | None:
        """The class of one file, from its canonical emotion, or from its corpus's own code where the set says so."""
        return self.by_raw_label.get(corpus, {}).get(raw_label) or self.map(emotion)

    def dropped(self) -> tuple[str, ...]:
        return () if self.keep_all else tuple(e for e in CANONICAL if e not in self.mapping)


SEVEN = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
JL_SECONDARY = ("anxious", "apologetic", "assertive", "concerned", "encouraging")  # JL-Corpus raw labels, canonical "other"

LABEL_SETS: dict[str, LabelSet] = {
    # Seed 003: seven classes; RAVDESS calm is merged with neutral.
    "seven": LabelSet(
        "seven",
        SEVEN,
        {**{e: e for e in SEVEN}, "calm": "neutral"},
        "Seed 003's seven classes; calm -> neutral; boredom, contempt, excited, guilt, other dropped.",
    ),
    # Seed 003's real-time demo: four merged classes, neutral left out.
    "realtime4": LabelSet(
        "realtime4",
        ("anger_disgust", "fear_surprise", "happy", "sad"),
        {
            "angry": "anger_disgust",
            "disgust": "anger_disgust",
            "fear": "fear_surprise",
            "surprise": "fear_surprise",
            "happy": "happy",
            "sad": "sad",
        },
        "Seed 003's real-time four classes; neutral and calm (and all else) dropped.",
    ),
    # IEMOCAP-style four classes (EmoBox cross-corpus): excited joins happy, calm is NOT merged.
    "iemocap4": LabelSet(
        "iemocap4",
        ("angry", "happy", "neutral", "sad"),
        {"angry": "angry", "happy": "happy", "excited": "happy", "neutral": "neutral", "sad": "sad"},
        "IEMOCAP-style four classes; excited -> happy; everything else dropped.",
    ),
    # Every canonical emotion is its own class; classes are narrowed to those present.
    "all": LabelSet("all", CANONICAL, {e: e for e in CANONICAL}, "Keep every emotion as its own class.", narrow=True),
    # Seed 000's RAVDESS (7 x 192: neutral removed, calm kept) and seed 002's runs without neutral.
    "all_but_neutral": LabelSet(
        "all_but_neutral",
        tuple(e for e in CANONICAL if e != "neutral"),
        {e: e for e in CANONICAL if e != "neutral"},
        "Every emotion as its own class except neutral, which is dropped (seed 000's RAVDESS, seed 002 without neutral).",
        narrow=True,
    ),
    # EmoBox's classes (emo-box/EmoBox data/<corpus>/label_map.json): what cross_validation=emobox trains on.
    "emobox": LabelSet(
        "emobox",
        tuple(e for e in CANONICAL if e != "other") + JL_SECONDARY,
        {e: e for e in CANONICAL if e != "other"},
        "EmoBox's classes (its label_map.json per corpus): every emotion of the corpus as its own class, calm apart "
        "from neutral, JL-Corpus's five secondary emotions as five classes.",
        narrow=True,
        by_raw_label={"jl_corpus": {e: e for e in JL_SECONDARY}},
    ),
    # Own data (ser_hf.data.corpora.own): a source's labels are kept as they are, for tasks that are not the
    # emotions of the schema (positive/negative/neutral, stress/no stress, ...); built-in corpora keep their
    # canonical emotions.
    "source": LabelSet(
        "source",
        (),
        {},
        "Every source's own classes as they are (own data: positive/negative, stress/no stress, ...); built-in "
        "corpora keep their canonical emotions.",
        narrow=True,
        keep_all=True,
    ),
}

# Names a label of one's own data may carry for a canonical emotion (compared in lower case, with "_" and "-" as
# spaces): the corpora's own words and the common three-letter codes (IEMOCAP, CREMA-D, MSP-Podcast).
SYNONYMS: dict[str, str] = {
    **{word: "angry" for word in ("anger", "ang", "mad")},
    **{word: "disgust" for word in ("disgusted", "dis", "disgusting")},
    **{word: "fear" for word in ("fearful", "fea", "afraid", "scared")},
    **{word: "happy" for word in ("happiness", "joy", "joyful", "hap")},
    **{word: "neutral" for word in ("neu", "neutrality", "no emotion")},
    **{word: "sad" for word in ("sadness", "sorrow")},
    **{word: "surprise" for word in ("surprised", "sur", "pleasant surprise", "ps")},
    **{word: "calm" for word in ("calmness",)},
    **{word: "boredom" for word in ("bored", "bor")},
    **{word: "contempt" for word in ("contemptuous", "con")},
    **{word: "excited" for word in ("excitement", "exc")},
    **{word: "guilt" for word in ("guilty",)},
    **{word: "other" for word in ("oth",)},
}


def canonical_emotion(name: str) -> str | None:
    """The canonical emotion a label names (``"Joy"`` -> ``happy``, ``"ANG"`` -> ``angry``), or None."""
    key = " ".join(str(name).strip().lower().replace("_", " ").replace("-", " ").split())
    if key in CANONICAL:
        return key
    return SYNONYMS.get(key)


def label_map_problem(label_map: dict[str, str], label_set: str) -> str | None:
    """Why ``label_map`` (own data: source label -> class) cannot be used under ``label_set``, or None: under a set
    of the schema every target must name a canonical emotion (under ``source`` any name is a class)."""
    if get_label_set(label_set).keep_all:
        return None
    for label, target in label_map.items():
        if canonical_emotion(target) is None:
            return (f"{label}={target}: {target!r} is no emotion of the schema ({', '.join(CANONICAL)}, or a synonym "
                    "such as joy); with label_set source any name is a class")
    return None


def get_label_set(name: str) -> LabelSet:
    try:
        return LABEL_SETS[name]
    except KeyError:
        raise ValueError(f"unknown label set {name!r}; choose one of {sorted(LABEL_SETS)}") from None


def apply_label_set(
    ds: "datasets.Dataset", label_set: str | LabelSet, num_proc: int | None = None
) -> tuple["datasets.Dataset", Counter]:
    """Add a ``label`` ClassLabel column from ``emotion``; drop rows the set leaves out.

    Returns the new dataset and a Counter of dropped canonical emotions. For the narrowing
    sets (``all``, ``all_but_neutral``, ``emobox``) the classes are narrowed to those some row maps to, in the set's
    order, so a model gets no output that the data can never train.
    """
    import datasets

    ls = get_label_set(label_set) if isinstance(label_set, str) else label_set
    emotions = ds["emotion"]
    if ls.by_raw_label and {"corpus", "raw_label"} <= set(ds.column_names):
        mapped = [ls.map_row(e, c, r) for e, c, r in zip(emotions, ds["corpus"], ds["raw_label"])]
    else:
        mapped = [ls.map(e) for e in emotions]
    dropped = Counter(e for e, m in zip(emotions, mapped) if m is None)
    classes = ls.classes
    if ls.narrow:  # the set's classes some row maps to, in the set's order
        present = {m for m in mapped if m is not None}
        classes = tuple(c for c in (CANONICAL if ls.keep_all else ls.classes) if c in present)
        if ls.keep_all:  # a source's own classes after the canonical ones, in a fixed (sorted) order
            classes += tuple(sorted(c for c in present if c not in CANONICAL))
    index = {c: i for i, c in enumerate(classes)}
    # Label every row (-1 = dropped) before selecting: add_column on an index-mapped dataset
    # would copy all the audio, select after it only records indices.
    labels = [index[m] if m is not None else -1 for m in mapped]
    if "label" in ds.column_names:
        ds = ds.remove_columns("label")
    ds = ds.add_column("label", labels, feature=datasets.ClassLabel(names=list(classes)))
    if dropped:
        ds = ds.select([i for i, y in enumerate(labels) if y >= 0])
    return ds, dropped
