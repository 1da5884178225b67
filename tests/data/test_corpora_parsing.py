"""File-name rules and download-layout quirks of every corpus, on hand-made files (corpora.md facts)."""

from pathlib import Path

import pytest

from ser_hf.data.corpora import CORPORA
from ser_hf.data.corpora.base import CorpusRootError, scan

from tests.conftest import write_tone


def touch_all(root: Path, names: list[str]) -> None:
    for name in names:
        write_tone(root / name, seconds=0.2, silence=0.0)


def parsed(corpus: str, root: Path):
    result = scan(CORPORA[corpus], root)
    return {Path(f.path).relative_to(root).as_posix(): f for f in result.files}, result


def test_ravdess_codes_gender_song_filter_and_kaggle_duplicates(tmp_path):
    touch_all(tmp_path, [
        "Actor_01/03-01-05-02-01-01-01.wav",
        "Actor_02/03-01-02-01-02-02-02.wav",
        "audio_speech_actors_01-24/Actor_01/03-01-05-02-01-01-01.wav",  # Kaggle's second copy
        "Actor_01/03-02-05-01-01-01-01.wav",  # song
        "Actor_01/03-01-09-01-01-01-01.wav",  # no emotion 09
    ])
    files, result = parsed("ravdess", tmp_path)
    assert set(files) == {"Actor_01/03-01-05-02-01-01-01.wav", "Actor_02/03-01-02-01-02-02-02.wav"}
    angry = files["Actor_01/03-01-05-02-01-01-01.wav"]
    assert (angry.emotion, angry.raw_label, angry.speaker, angry.gender, angry.intensity) == ("angry", "05", "01", "male", "strong")
    calm = files["Actor_02/03-01-02-01-02-02-02.wav"]
    assert (calm.emotion, calm.gender, calm.sentence) == ("calm", "female", "Dogs are sitting by the door")
    assert len(result.duplicates) == 1
    reasons = sorted(r for _, r in result.skipped)
    assert reasons == ["unknown emotion code '09'", "vocal channel 02 is song, not speech"]


def test_tess_kaggle_folders_misnamed_speaker_and_flat_layout(tmp_path):
    base = "TESS Toronto emotional speech set data"
    touch_all(tmp_path / "kaggle", [
        f"{base}/OAF_Pleasant_surprise/OAF_back_ps.wav",
        f"{base}/YAF_fear/YAF_dog_fear.wav",
        f"{base}/OAF_neutral/OA_bite_neutral.wav",
    ])
    files, _ = parsed("tess", tmp_path / "kaggle")
    by_name = {Path(k).name: f for k, f in files.items()}
    assert by_name["OAF_back_ps.wav"].emotion == "surprise" and by_name["OAF_back_ps.wav"].raw_label == "ps"
    assert by_name["OA_bite_neutral.wav"].speaker == "OAF"
    assert {f.gender for f in files.values()} == {"female"}
    touch_all(tmp_path / "flat", ["OAF_back_angry.wav", "YAF_youth_sad.wav"])
    files, _ = parsed("tess", tmp_path / "flat")
    assert sorted(f.emotion for f in files.values()) == ["angry", "sad"]


def test_savee_both_layouts_and_two_letter_codes(tmp_path):
    touch_all(tmp_path / "orig", ["AudioData/JK/sa09.wav", "AudioData/DC/su01.wav", "AudioData/KL/n30.wav", "AudioData/JK/d03.wav"])
    files, _ = parsed("savee", tmp_path / "orig")
    got = {k: (f.speaker, f.emotion) for k, f in files.items()}
    assert got == {
        "AudioData/JK/sa09.wav": ("JK", "sad"),
        "AudioData/DC/su01.wav": ("DC", "surprise"),
        "AudioData/KL/n30.wav": ("KL", "neutral"),
        "AudioData/JK/d03.wav": ("JK", "disgust"),
    }
    touch_all(tmp_path / "kaggle", ["ALL/DC_a01.wav", "ALL/JE_sa15.wav", "ALL/XX_a01.wav"])
    files, result = parsed("savee", tmp_path / "kaggle")
    assert sorted((f.speaker, f.emotion) for f in files.values()) == [("DC", "angry"), ("JE", "sad")]
    assert result.skipped[0][1] == "unknown speaker code 'XX'"


def test_crema_d_levels_demographics_and_fallback(tmp_path):
    touch_all(tmp_path, ["AudioWAV/1001_IEO_ANG_HI.wav", "AudioWAV/1002_TIE_NEU_XX.wav", "AudioWAV/1091_DFA_SAD_XX.wav"])
    files, _ = parsed("crema_d", tmp_path)
    assert files["AudioWAV/1001_IEO_ANG_HI.wav"].intensity == "high"
    assert [files[k].gender for k in sorted(files)] == ["male", "female", "female"]  # embedded table
    (tmp_path / "VideoDemographics.csv").write_text('"ActorID","Age","Sex","Race","Ethnicity"\n1001,51,"Female","Caucasian","Not Hispanic"\n')
    from ser_hf.data.corpora import crema_d

    crema_d._demographics.cache_clear()
    files, _ = parsed("crema_d", tmp_path)
    assert files["AudioWAV/1001_IEO_ANG_HI.wav"].gender == "female"  # the CSV wins
    crema_d._demographics.cache_clear()


def test_subesco_stray_bracket_and_gendered_speaker_ids(tmp_path):
    touch_all(tmp_path, ["SUBESCO/F_02_MONIKA_S_2_SURPRISE_3].wav", "SUBESCO/M_02_NIPUN_S_10_ANGRY_5.wav"])
    files, result = parsed("subesco", tmp_path)
    assert not result.skipped
    assert sorted((f.speaker, f.emotion, f.gender) for f in files.values()) == [
        ("F_02", "surprise", "female"),
        ("M_02", "angry", "male"),
    ]


def test_banglaser_code_order_differs_from_ravdess(tmp_path):
    touch_all(tmp_path, ["BanglaSER/01/03-01-01-01-01-01-01.wav", "BanglaSER/02/03-01-05-01-03-03-02.wav"])
    files, _ = parsed("banglaser", tmp_path)
    assert sorted((f.emotion, f.gender) for f in files.values()) == [("happy", "male"), ("neutral", "female")]


def test_emodb_ignores_other_files_and_rejects_unknown_speakers(tmp_path):
    touch_all(tmp_path, ["wav/03a01Fa.wav", "wav/16b10Lb.wav", "wav/04a01Fa.wav"])
    (tmp_path / "erkennung.txt").write_text("Satz erkannt\n")
    (tmp_path / "silb").mkdir()
    files, result = parsed("emodb", tmp_path)
    assert sorted((f.speaker, f.emotion, f.gender) for f in files.values()) == [("03", "happy", "male"), ("16", "boredom", "female")]
    assert result.skipped == [(str(tmp_path / "wav/04a01Fa.wav"), "unknown speaker code '04'")]


def test_jl_corpus_secondary_emotions_and_transcripts(tmp_path):
    base = "Raw JL corpus (unchecked and unannotated)/JL(wav+txt)"
    touch_all(tmp_path, [f"{base}/female1_anxious_3a_1.wav", f"{base}/male2_excited_10b_2.wav"])
    (tmp_path / base / "female1_anxious_3a_1.txt").write_text("I am not sure about this")
    files, _ = parsed("jl_corpus", tmp_path)
    anxious = files[f"{base}/female1_anxious_3a_1.wav"]
    assert (anxious.emotion, anxious.raw_label, anxious.gender, anxious.sentence) == ("other", "anxious", "female", "I am not sure about this")


def test_esd_layouts_languages_and_parallel_sentences(tmp_path):
    touch_all(tmp_path, [
        "Emotion Speech Dataset/0001/Angry/train/0001_000351.wav",
        "Emotion Speech Dataset/0011/Neutral/test/0011_000001.wav",
        "Emotion Speech Dataset/0015/Happy/0015_000701.wav",
    ])
    files, _ = parsed("esd", tmp_path)
    rows = sorted((f.speaker, f.emotion, f.language, f.gender, f.sentence) for f in files.values())
    assert rows == [
        ("0001", "angry", "zh", "female", "esd_001"),
        ("0011", "neutral", "en", "male", "esd_001"),
        ("0015", "happy", "en", "female", "esd_001"),
    ]


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_missing_root_names_the_expected_layout(tmp_path, name):
    with pytest.raises(CorpusRootError, match="Expected layout") as info:
        scan(CORPORA[name], tmp_path / "nowhere")
    assert "does not exist" in str(info.value)


def test_root_without_usable_files_says_so(tmp_path):
    touch_all(tmp_path, ["random.wav"])
    with pytest.raises(CorpusRootError, match="no usable audio files"):
        scan(CORPORA["ravdess"], tmp_path)
