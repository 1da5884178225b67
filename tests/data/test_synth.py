"""The synthetic corpus: exact grids, native rates, layout quirks, determinism, and learnable-but-not-trivial emotions.

Expected counts are computed here from the real corpora's grids (shared/docs/corpora.md) and the
documented tiny choices (which speakers, sentences, takes), independently of ``ser_hf.data.synth.layouts``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_hf.data.synth import CORPORA, LAYOUTS, ensure_synthetic, generate, manifest, plan, render_long_clip
from ser_hf.data.synth.__main__ import main as cli_main

SEVEN = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
CREMA_FEMALE = set(
    "1002 1003 1004 1006 1007 1008 1009 1010 1012 1013 1018 1020 1021 1024 1025 1028 1029 1030 1037 1043 1046 1047 "
    "1049 1052 1053 1054 1055 1056 1058 1060 1061 1063 1072 1073 1074 1075 1076 1078 1079 1082 1084 1089 1091".split()
)
ESD_FEMALE = set("0001 0002 0003 0007 0009 0015 0016 0017 0018 0019".split())
EMODB_MALE = {"03", "10", "11", "12", "15"}
DEMOS_FEMALE = set("01 17 21 22 29 31 36 37 38 40 43 44 45 46 47 48 49 54 55 56 57 60 61".split())

# The file-name grammar of each download (corpora.md), applied to the relative path.
NAME = {
    "ravdess": r"Actor_(\d\d)/03-01-0[1-8]-0[12]-0[12]-0[12]-\1\.wav",
    "tess": r"(OAF|YAF)_[a-z]+_(angry|disgust|fear|happy|neutral|ps|sad)\.wav",
    "savee": r"AudioData/(DC|JE|JK|KL)/(a|d|f|h|n|sa|su)\d\d\.wav",
    "crema_d": r"AudioWAV/10\d\d_(IEO|TIE|IOM|IWW|TAI|MTI|IWL|ITH|DFA|ITS|TSI|WSI)_(ANG|DIS|FEA|HAP|NEU|SAD)_(LO|MD|HI|XX)\.wav",  # noqa: E501
    "subesco": r"SUBESCO/[MF]_\d\d_[A-Z]+_S_([1-9]|10)_(ANGRY|DISGUST|FEAR|HAPPY|NEUTRAL|SAD|SURPRISE)_[1-5]\]?\.wav",
    "banglaser": r"BanglaSER/(\d\d)/03-01-0[1-5]-0[12]-0[1-3]-0[1-3]-\1\.wav",
    "emodb": r"wav/(03|08|09|10|11|12|13|14|15|16)(a0[12457]|b0[1239]|b10)[WLEAFTN][a-f]\.wav",
    "jl_corpus": r"Raw JL corpus \(unchecked and unannotated\)/JL\(wav\+txt\)/(fe)?male[12]_[a-z]+_\d+[ab]_[12]\.wav",
    "esd": r"Emotion Speech Dataset/(\d{4})/(Neutral|Angry|Happy|Sad|Surprise)/(train|evaluation|test)/\1_\d{6}\.wav",
    "demos": r"(DEMOS/(PR|NP)_[fm]_\d\d_(col|dis|gio|pau|rab|sor|tri)|NEU/[fm]_\d\d_neu)\d\d[abc]\.wav",
}


def tiny_grid(corpus: str) -> tuple[Counter, Counter]:
    """(files per emotion, files per speaker) of the tiny size, from the real grid rules."""
    if corpus == "ravdess":  # actors 01-02; neutral 1 intensity x 2 statements x 2 reps, the 7 others 2 x 2 x 2
        return Counter({"neutral": 2 * 4, **{e: 2 * 8 for e in ("calm", "happy", "sad", "angry", "fear", "disgust", "surprise")}}), Counter({"01": 60, "02": 60})  # fmt: skip
    if corpus == "tess":  # 4 words x 7 emotions x 2 speakers
        return Counter({e: 4 * 2 for e in SEVEN}), Counter({"OAF": 28, "YAF": 28})
    if corpus == "savee":  # 2 sentences per emotion, neutral twice as many, 4 speakers
        return Counter({**{e: 2 * 4 for e in SEVEN}, "neutral": 4 * 4}), Counter({s: 6 * 2 + 4 for s in ("DC", "JE", "JK", "KL")})  # fmt: skip
    if corpus == "crema_d":  # 4 actors x (IEO: 5 emotions x LO/MD/HI + NEU_XX; TIE: 6 x XX)
        return Counter({**{e: 4 * (3 + 1) for e in ("angry", "disgust", "fear", "happy", "sad")}, "neutral": 4 * 2}), Counter({a: 16 + 6 for a in ("1001", "1002", "1005", "1006")})  # fmt: skip
    if corpus == "subesco":  # 4 speakers x 2 sentences x 7 emotions x take 3
        return Counter({e: 4 * 2 for e in SEVEN}), Counter({s: 2 * 7 for s in ("F_02", "F_06", "M_01", "M_06")})
    if corpus == "banglaser":  # 4 actors x 2 statements x 2 reps; actor 04 has no neutral
        return Counter({"neutral": 3 * 4, **{e: 4 * 4 for e in ("happy", "sad", "angry", "surprise")}}), Counter({"01": 20, "02": 20, "03": 20, "04": 16})  # fmt: skip
    if corpus == "emodb":  # speakers 03 08 09 10 x texts a01 a02 x 7 emotions
        return Counter({e: 4 * 2 for e in ("angry", "boredom", "disgust", "fear", "happy", "sad", "neutral")}), Counter({s: 2 * 7 for s in ("03", "08", "09", "10")})  # fmt: skip
    if corpus == "jl_corpus":  # 4 speakers; primary emotions 2 sentences, secondary ones 1 (all -> "other")
        return Counter({**{e: 4 * 2 for e in ("angry", "sad", "neutral", "happy", "excited")}, "other": 4 * 5}), Counter({s: 5 * 2 + 5 for s in ("male1", "male2", "female1", "female2")})  # fmt: skip
    if corpus == "esd":  # speakers 0001 0006 (Mandarin) 0011 0015 (English) x 3 utterances (one per split) x 5 emotions
        return Counter({e: 4 * 3 for e in ("neutral", "angry", "happy", "sad", "surprise")}), Counter({s: 15 for s in ("0001", "0006", "0011", "0015")})  # fmt: skip
    if corpus == "demos":  # speakers 01 22 (F) 02 06 (M) x 7 emotions x 2 takes; neutral 2 takes, not for 22
        return Counter({**{e: 4 * 2 for e in ("guilt", "disgust", "happy", "fear", "angry", "surprise", "sad")}, "neutral": 3 * 2}), Counter({"01": 16, "22": 14, "02": 16, "06": 16})  # fmt: skip
    raise KeyError(corpus)


def expected_rate(corpus: str, m: dict) -> int:
    if corpus == "subesco":
        return 48000 if m["speaker"] in {"F_06", "F_07", "F_08", "M_06", "M_10"} else 44100  # tiny has no mixed speaker
    return {"ravdess": 48000, "tess": 24414, "savee": 44100, "crema_d": 16000, "banglaser": 44100, "emodb": 16000,
            "jl_corpus": 44100, "esd": 16000, "demos": 48000}[corpus]  # fmt: skip


def expected_gender(corpus: str, speaker: str) -> str:
    if corpus in ("ravdess", "banglaser"):
        return "male" if int(speaker) % 2 else "female"
    if corpus == "crema_d":
        return "female" if speaker in CREMA_FEMALE else "male"
    if corpus == "esd":
        return "female" if speaker in ESD_FEMALE else "male"
    if corpus == "emodb":
        return "male" if speaker in EMODB_MALE else "female"
    if corpus == "demos":
        return "female" if speaker in DEMOS_FEMALE else "male"
    if corpus == "subesco":
        return "female" if speaker.startswith("F") else "male"
    if corpus == "jl_corpus":
        return "female" if speaker.startswith("female") else "male"
    return {"tess": "female", "savee": "male"}[corpus]


def digest(root: Path) -> dict[str, str]:
    files = (p for p in sorted(root.rglob("*")) if p.is_file())
    return {p.relative_to(root).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest() for p in files}


@pytest.mark.parametrize("corpus", CORPORA)
def test_tiny_corpus_has_the_exact_grid_rates_and_names(corpus):
    root = ensure_synthetic(corpus, size="tiny")
    files = manifest(corpus, size="tiny")
    emotions, speakers = tiny_grid(corpus)
    assert Counter(m["emotion"] for m in files) == emotions
    assert Counter(m["speaker"] for m in files) == speakers
    on_disk = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.wav"))
    assert on_disk == sorted(m["relpath"] for m in files)  # and nothing else that looks like audio
    for m in files:
        assert re.fullmatch(NAME[corpus], m["relpath"]), m["relpath"]
        assert m["gender"] == expected_gender(corpus, m["speaker"])
        assert m["raw_label"] in m["relpath"] and m["sentence"] and not m["duplicate"]
        info = sf.info(str(root / m["relpath"]))
        assert (info.samplerate, info.channels, info.subtype) == (expected_rate(corpus, m), 1, "PCM_16")
        assert m["sampling_rate"] == info.samplerate
        assert 0.8 < info.duration < 8
    # Quiet lead-in above a noise floor: the loaders' 25-dB trim has something to remove.
    wave, sr = sf.read(str(root / files[0]["relpath"]))
    lead = wave[: int(0.1 * sr)]
    assert 0 < np.sqrt(np.mean(lead**2)) < 10 ** (-40 / 20) * np.max(np.abs(wave))


def test_full_sizes_reproduce_the_real_grids():
    count = lambda corpus, key: Counter(m[key] for m in manifest(corpus, "full"))  # noqa: E731
    assert {c: len(manifest(c, "full")) for c in CORPORA} == {
        "ravdess": 1440, "tess": 2800, "savee": 480, "crema_d": 7442, "subesco": 7000, "banglaser": 1467,
        "emodb": 535, "jl_corpus": 2400, "esd": 35000, "demos": 9697,
    }  # fmt: skip
    assert count("ravdess", "emotion") == Counter({"neutral": 96, **{e: 192 for e in ("calm", "happy", "sad", "angry", "fear", "disgust", "surprise")}})  # fmt: skip
    assert set(count("savee", "speaker").values()) == {120} and count("savee", "emotion")["neutral"] == 120
    assert set(count("tess", "sentence").values()) == {14}  # 200 words, each 7 emotions x 2 speakers
    crema = plan("crema_d", "full")
    per_actor = Counter(f.speaker for f in crema.files)
    assert Counter(per_actor.values()) == Counter({82: 86, 76: 3, 81: 2})
    assert count("crema_d", "emotion") == Counter({**{e: 1271 for e in ("angry", "disgust", "fear", "happy", "sad")}, "neutral": 1087})  # fmt: skip
    assert [f.relpath for f in crema.files if f.silent] == ["AudioWAV/1076_MTI_SAD_XX.wav"]
    assert Counter(m["gender"] for m in manifest("crema_d", "full") if m["relpath"].endswith("_IEO_NEU_XX.wav")) == Counter({"male": 48, "female": 43})  # fmt: skip
    assert count("subesco", "sampling_rate") == Counter({44100: 4555, 48000: 2445})
    assert set(count("subesco", "emotion").values()) == {1000}
    bangla = manifest("banglaser", "full")
    assert len({m["speaker"] for m in bangla if m["emotion"] == "neutral"}) == 27
    # 17 x 36 per gender plus neutral 3 x 3 for speakers 01-27 (14 odd = male, 13 even = female)
    assert Counter(m["gender"] for m in bangla) == Counter({"male": 17 * 36 + 14 * 9, "female": 17 * 36 + 13 * 9})
    assert count("emodb", "raw_label") == Counter({"W": 127, "L": 81, "N": 79, "F": 71, "A": 69, "T": 62, "E": 46})
    assert count("emodb", "speaker") == Counter({"16": 71, "14": 69, "13": 61, "08": 58, "15": 56, "11": 55, "03": 49, "09": 43, "10": 38, "12": 35})  # fmt: skip
    assert Counter(m["relpath"][-5] for m in manifest("emodb", "full")) == Counter({"a": 170, "b": 150, "c": 135, "d": 73, "e": 5, "f": 2})  # fmt: skip
    assert set(count("jl_corpus", "raw_label").values()) == {240}
    esd = manifest("esd", "full")
    splits = Counter(m["relpath"].split("/")[3] for m in esd)
    assert splits == Counter({"train": 30000, "evaluation": 2000, "test": 3000})  # 300/20/30 per speaker and emotion
    assert len({m["sentence"] for m in esd if m["speaker"] == "0011"}) == 350  # one block index = one sentence


def test_small_sizes_suit_a_quickstart():
    for corpus in CORPORA:
        files = manifest(corpus, "small")
        genders = Counter(gender for _, gender in {(m["speaker"], m["gender"]) for m in files})
        assert 150 <= len(files) <= 1000, corpus
        if corpus not in ("tess", "savee", "jl_corpus"):  # single-gender corpora, or only 2+2 speakers in reality
            assert min(genders.values()) >= 3 and len(genders) == 2, (corpus, genders)


def test_same_seed_same_bytes_other_seed_other_audio(tmp_path):
    cached = ensure_synthetic("emodb", size="tiny", seed=0)
    generate("emodb", tmp_path / "again", size="tiny", seed=0)
    generate("emodb", tmp_path / "other", size="tiny", seed=1)
    assert digest(cached) == digest(tmp_path / "again")
    a, b = digest(cached), digest(tmp_path / "other")
    assert a.keys() == b.keys() and all(a[k] != b[k] for k in a if k.endswith(".wav"))


def test_ravdess_kaggle_duplicates_the_tree_byte_for_byte(tmp_path):
    files = generate("ravdess", tmp_path, size="tiny", layout="kaggle")
    copies = [m for m in files if m["duplicate"]]
    assert len(files) == 240 and len(copies) == 120
    for m in copies:
        assert m["relpath"].startswith("audio_speech_actors_01-24/Actor_")
        original = m["relpath"].removeprefix("audio_speech_actors_01-24/")
        assert (tmp_path / m["relpath"]).read_bytes() == (tmp_path / original).read_bytes()


def test_tess_kaggle_folders_and_quirks(tmp_path):
    generate("tess", tmp_path, size="tiny", layout="kaggle")
    base = tmp_path / "TESS Toronto emotional speech set data"
    assert sorted(p.name for p in base.iterdir()) == sorted(
        "OAF_angry OAF_disgust OAF_Fear OAF_happy OAF_neutral OAF_Pleasant_surprise OAF_Sad "
        "YAF_angry YAF_disgust YAF_fear YAF_happy YAF_neutral YAF_pleasant_surprised YAF_sad".split()
    )
    assert (base / "OAF_neutral/OA_bite_neutral.wav").is_file() and not list(tmp_path.rglob("OAF_bite_neutral.wav"))
    assert sf.info(str(base / "OAF_Fear/OAF_food_fear.wav")).samplerate == 96000
    assert {sf.info(str(p)).samplerate for p in tmp_path.rglob("*.wav") if p.name != "OAF_food_fear.wav"} == {24414}
    assert (base / "OAF_Pleasant_surprise/OAF_back_ps.wav").is_file()
    flat = [m["relpath"] for m in manifest("tess", "tiny", "dataverse")]
    assert "OAF_bite_neutral.wav" in flat and all("/" not in p for p in flat)


def test_layout_variants_and_extra_files():
    savee = manifest("savee", "tiny", "kaggle")
    assert all(re.fullmatch(r"ALL/(DC|JE|JK|KL)_(a|d|f|h|n|sa|su)\d\d\.wav", m["relpath"]) for m in savee)
    assert "ALL/KL_n04.wav" in {m["relpath"] for m in savee} and "ALL/KL_a03.wav" not in {m["relpath"] for m in savee}
    assert "44.1 kHz" in plan("savee", "tiny", "original").extras["AudioData/Info.txt"]

    demographics = plan("crema_d", "tiny", "github").extras["VideoDemographics.csv"]
    assert demographics.startswith('"ActorID","Age","Sex","Race","Ethnicity"\n1001,51,"Male","Caucasian",')
    rows = list(csv.DictReader(io.StringIO(demographics)))
    assert len(rows) == 91 and {r["ActorID"] for r in rows if r["Sex"] == "Female"} == CREMA_FEMALE
    assert not plan("crema_d", "tiny", "kaggle").extras
    levels = Counter(m["relpath"].split("_")[-1] for m in manifest("crema_d", "tiny") if "_IEO_" not in m["relpath"])
    assert levels == Counter({"XX.wav": 24})

    assert "SUBESCO/F_02_MONIKA_S_2_SURPRISE_3].wav" in {m["relpath"] for m in manifest("subesco", "tiny")}
    assert "SUBESCO/F_02_MONIKA_S_2_SURPRISE_3].wav" in {m["relpath"] for m in manifest("subesco", "small")}
    small_rates = {(m["speaker"], m["sampling_rate"]) for m in manifest("subesco", "small")}
    assert {("F_09", 44100), ("F_09", 48000)} <= small_rates  # a mixed-rate speaker

    for m in manifest("banglaser", "tiny"):
        code, intensity = m["relpath"].split("/")[-1].split("-")[2:4]
        assert {"01": "happy", "02": "sad", "03": "angry", "04": "surprise", "05": "neutral"}[code] == m["emotion"]
        assert intensity == ("02" if m["emotion"] in ("angry", "surprise") else "01")
        assert m["language"] == "bn" and m["sentence"] in ("১২ টা বেজে গেছে", "আমি জানতাম এমন কিছু হবে", "এ কেমন উপহার")

    emodb = plan("emodb", "tiny").extras
    assert {"erkennung.txt", "erklaerung.txt"} <= set(emodb)
    assert {p.split("/")[0] for p in emodb} >= {"lablaut", "labsilb", "silb"}

    jl = plan("jl_corpus", "tiny")
    assert all(jl.extras[f.relpath[:-4] + ".txt"] == f.sentence for f in jl.files)
    assert {f.raw_label for f in jl.files if f.emotion == "other"} == {"anxious", "apologetic", "assertive", "concerned", "encouraging"}  # fmt: skip

    esd = plan("esd", "tiny", "official")
    zh = esd.extras["Emotion Speech Dataset/0001/0001.txt"].splitlines()
    assert zh[0].split("\t")[:2] == ["0001_000001", "老师找到了红风筝。"]
    assert {line.split("\t")[2] for line in zh} == {"中立", "生气", "快乐", "伤心", "惊喜"}
    en = esd.extras["Emotion Speech Dataset/0011/0011.txt"].splitlines()
    assert {line.split("\t")[2] for line in en} == {"Neutral", "Angry", "Happy", "Sad", "Surprise"}
    kaggle = manifest("esd", "tiny", "kaggle")
    assert all(re.fullmatch(r"(\d{4})/(Neutral|Angry|Happy|Sad|Surprise)/\1_\d{6}\.wav", m["relpath"]) for m in kaggle)
    uid = {m["relpath"].split("/")[1]: int(m["relpath"][-10:-4]) for m in kaggle if m["speaker"] == "0011"}
    assert uid["Neutral"] <= 350 < uid["Angry"] <= 700 < uid["Happy"] <= 1050 < uid["Sad"] <= 1400 < uid["Surprise"]


def test_every_layout_plans():
    for corpus, layouts in LAYOUTS.items():
        for layout in layouts:
            assert manifest(corpus, "tiny", layout)
    with pytest.raises(ValueError):
        plan("tess", "tiny", "zenodo")


def test_writes_only_into_new_or_own_folders(tmp_path):
    out = tmp_path / "tess"
    generate("tess", out, size="tiny")
    first = digest(out)
    generate("tess", out, size="tiny")  # an earlier output of the same arguments: written again
    assert digest(out) == first
    with pytest.raises(FileExistsError):
        generate("tess", out, size="tiny", seed=1)  # another seed's bytes differ
    (out / "OAF_back_angry.wav").write_bytes(b"RIFF-not-ours")
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        generate("tess", out, size="tiny")
    assert (out / "notes.txt").read_text() == "mine"


def test_ensure_synthetic_caches_atomically_and_rebuilds_stale(tmp_path):
    root = ensure_synthetic("jl_corpus", size="tiny", cache_dir=tmp_path)
    assert root == tmp_path / "synth" / "jl_corpus-kaggle-tiny-seed0"
    stamp = root.with_name(root.name + ".json")
    assert json.loads(stamp.read_text(encoding="utf-8"))["version"] >= 1
    assert sorted(p.name for p in root.parent.iterdir()) == [root.name, stamp.name]  # no temp folders left
    marker = root / "Raw JL corpus (unchecked and unannotated)" / "stale-marker"
    marker.write_text("")
    assert ensure_synthetic("jl_corpus", size="tiny", cache_dir=tmp_path) == root and marker.exists()  # reused
    stamp.write_text('{"version": 0}')
    assert ensure_synthetic("jl_corpus", size="tiny", cache_dir=tmp_path) == root and not marker.exists()  # rebuilt
    assert sorted(p.name for p in root.parent.iterdir()) == [root.name, stamp.name]


def test_cli_reports_what_it_wrote(tmp_path, capsys):
    assert cli_main(["--corpus", "esd", "--out", str(tmp_path / "esd"), "--size", "tiny", "--layout", "kaggle"]) == 0
    out = capsys.readouterr().out
    assert "60 audio files" in out and "angry 12" in out and "4 speakers" in out and "0001(f) 15" in out
    assert (tmp_path / "esd/0011/0011.txt").read_text(encoding="utf-8").count("\n") == 15
    assert cli_main(["--corpus", "esd", "--out", str(tmp_path / "esd"), "--size", "tiny", "--seed", "5"]) == 2


def test_learnable_but_not_trivial():
    """MFCC mean/std + logistic regression, leave-one-speaker-out, 7 classes (calm left out; chance 14 %)."""
    import librosa
    import soxr
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import LeaveOneGroupOut, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    root = ensure_synthetic("ravdess", size="small")
    files = [m for m in manifest("ravdess", "small") if m["emotion"] in SEVEN]
    features = []
    for m in files:
        wave, sr = sf.read(str(root / m["relpath"]), dtype="float32")
        mfcc = librosa.feature.mfcc(y=soxr.resample(wave, sr, 16000), sr=16000, n_mfcc=20)
        features.append(np.concatenate([mfcc.mean(1), mfcc.std(1)]))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    labels, speakers = [m["emotion"] for m in files], [m["speaker"] for m in files]
    scores = cross_val_score(model, np.array(features), labels, groups=speakers, cv=LeaveOneGroupOut())
    assert len(set(speakers)) == 8 and len(set(labels)) == 7
    assert 0.25 <= scores.mean() <= 0.96, scores


def test_long_clip_annotations_line_up():
    wave, annotations = render_long_clip(["angry", "sad", "happy"], seconds_per_segment=2.0, silence_between=1.0)
    assert wave.dtype == np.float32 and [a[2] for a in annotations] == ["angry", "sad", "happy"]
    assert annotations[1][:2] == pytest.approx((3.0, 5.0)) and len(wave) == 16000 * 9
    gap = wave[int(2.1 * 16000) : int(2.9 * 16000)]
    speech = wave[: 2 * 16000]
    assert np.sqrt(np.mean(gap**2)) < 0.01 < np.sqrt(np.mean(speech**2))  # the gaps are silence for an RMS gate
    assert render_long_clip(["neutral"], language="de", seed=1)[0].size == 16000 * 3
    with pytest.raises(ValueError):
        render_long_clip(["elated"])
