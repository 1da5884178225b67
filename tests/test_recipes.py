"""Recipes: every shipped file loads and validates; unknown keys and bad values fail by name; overrides work."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ser_hf.data.corpora import CorpusRootError, expand_names
from ser_hf.recipe import FIELDS, RECIPES_DIR, Recipe, RecipeError, load_recipe, parse_args, parse_overrides
from ser_hf.training.data import check_roots

RECIPES = sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))
SEED_003_CORPORA = ["tess", "ravdess", "savee", "crema_d", "subesco", "banglaser"]
ACCELERATE_CONFIGS = sorted((RECIPES_DIR / "accelerate").glob("*.yaml"))


def test_the_recipes_the_project_promises_are_shipped():
    wanted = {"quickstart", "hubert_bilingual", "hubert_english", "hubert_bangla", "wav2vec2_bilingual", "hubert_bilingual_si"}
    wanted |= {f"hubert_{c}" for c in SEED_003_CORPORA}
    assert wanted <= set(RECIPES)
    assert {p.stem for p in ACCELERATE_CONFIGS} >= {"single_gpu", "multi_gpu", "cpu"}


@pytest.mark.parametrize("name", RECIPES)
def test_every_recipe_loads_and_validates(name):
    recipe = load_recipe(name)
    assert isinstance(recipe, Recipe)
    text = (RECIPES_DIR / f"{name}.yaml").read_text()
    assert f"--recipe {name}" in text.split("\n\n")[0], "the header comment gives the launch command"
    raw = yaml.safe_load(text)
    assert set(raw) <= set(FIELDS)
    assert recipe.output_dir.endswith(name)
    names = expand_names(recipe.corpora)
    if recipe.synthetic:
        assert all(root is None for root in recipe.corpus_roots().values())
    else:  # real recipes: a Hub model and a root for every corpus
        assert "/" in recipe.model_name_or_path and recipe.tiny_model is None
        assert set(recipe.corpus_roots()) == set(names)


@pytest.mark.parametrize("name", ACCELERATE_CONFIGS, ids=lambda p: p.stem)
def test_accelerate_configs_parse(name):
    config = yaml.safe_load(name.read_text())
    assert config["distributed_type"] in ("NO", "MULTI_GPU")
    assert "accelerate launch --config_file" in name.read_text() or config["use_cpu"]


def test_hubert_bilingual_is_seed_003():
    r = load_recipe("hubert_bilingual")
    assert expand_names(r.corpora) == SEED_003_CORPORA
    assert (r.label_set, r.split, r.model_name_or_path) == ("seven", "seed003", "facebook/hubert-base-ls960")
    assert r.freeze_feature_encoder and r.num_train_epochs == 5
    assert (r.augment_preset, r.augment_offline_factor) == ("seed003", 5)
    assert r.trim_db == 25


def test_speaker_independent_and_wav2vec2_variants_differ_only_where_they_should():
    base = load_recipe("hubert_bilingual")
    si, w2v = load_recipe("hubert_bilingual_si"), load_recipe("wav2vec2_bilingual")
    diff = lambda a, b: {k for k in FIELDS if getattr(a, k) != getattr(b, k)}  # noqa: E731
    assert diff(base, si) == {"split", "output_dir"} and si.split.startswith("speaker:")
    assert diff(base, w2v) == {"model_name_or_path", "output_dir"} and "wav2vec2" in w2v.model_name_or_path


def test_quickstart_needs_no_download():
    r = load_recipe("quickstart")
    assert r.synthetic and r.tiny_model == "hubert"


def test_unknown_key_in_a_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("corpora: [ravdess]\nlearning_rte: 1e-4\n")
    with pytest.raises(RecipeError, match="learning_rte.*did you mean 'learning_rate'"):
        load_recipe(str(path))


def test_unknown_key_on_the_command_line_is_an_error_naming_it():
    with pytest.raises(RecipeError, match="'no_such_key'"):
        load_recipe("quickstart", ["no_such_key=1"])
    with pytest.raises(RecipeError, match="'roots_x.tess'"):
        load_recipe("quickstart", ["roots_x.tess=/x"])


def test_overrides_both_styles_typed_and_in_order():
    r = load_recipe(
        "hubert_bilingual",
        ["learning_rate=1e-4", "--num_train_epochs", "3", "--max-steps=7", "corpora=ravdess,tess",
         "roots.ravdess=/data/R", "early_stopping_patience=null", "group_by_length=false", "learning_rate=2e-4"],
    )
    assert r.learning_rate == 2e-4 and isinstance(r.learning_rate, float)  # the last one wins
    assert r.num_train_epochs == 3.0 and r.max_steps == 7 and isinstance(r.max_steps, int)
    assert r.corpora == ["ravdess", "tess"]
    assert r.roots["ravdess"] == "/data/R" and r.roots["tess"] == "TESS"  # merged into the file's mapping
    assert r.early_stopping_patience is None and r.group_by_length is False
    assert r.corpus_roots() == {"ravdess": "/data/R", "tess": "data/TESS"}


def test_parse_args_finds_the_recipe_anywhere():
    assert parse_args(["seed=3", "--recipe", "quickstart"]).seed == 3
    assert parse_args(["--recipe=quickstart"]).tiny_model == "hubert"
    path = RECIPES_DIR / "quickstart.yaml"
    assert parse_args(["--recipe", str(path)]).synthetic
    with pytest.raises(RecipeError, match="give a recipe"):
        parse_args(["seed=3"])
    with pytest.raises(RecipeError, match="no recipe 'nope'.*quickstart"):
        parse_args(["--recipe", "nope"])


@pytest.mark.parametrize(
    "override, message",
    [
        ("balance=smote", "balance: 'smote' is not one of"),
        ("metric_for_best_model=loss", "metric_for_best_model"),
        ("label_set=eight", "label_set"),
        ("corpora=ravdess,atlantis", "corpora: unknown corpus 'atlantis'"),
        ("augment_offline_factor=5", "needs augment_preset"),
        ("per_device_train_batch_size=eight", "per_device_train_batch_size: cannot use 'eight'"),
        ("synthetic=maybe", "synthetic: cannot use 'maybe'"),
        ("eval_strategy=steps", "needs eval_steps"),
        ("learning_rate=null", "learning_rate cannot be null"),
        ("method=svm", "method: 'svm' is not one of"),
        ("method=image_cnn", "needs backbone"),
        ("spectrogram=cqt", "spectrogram"),
        ("augment_online_p=0.5", "needs online_augment_preset or augment_preset"),
        ("online_augment_preset=seed999", "online_augment_preset"),
    ],
)
def test_bad_values_fail_before_anything_runs(override, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe("quickstart", [override])


def test_overrides_parser_rejects_bare_words():
    assert parse_overrides(["a=1", "--b", "2", "--c=3"]) == [("a", "1"), ("b", "2"), ("c", "3")]
    with pytest.raises(RecipeError, match="key=value"):
        parse_overrides(["oops"])
    with pytest.raises(RecipeError, match="needs a value"):
        parse_overrides(["--seed"])


def test_resolved_recipe_round_trips(tmp_path):
    r = load_recipe("hubert_bilingual", ["roots.ravdess=/data/R"])
    path = tmp_path / "resolved.yaml"
    path.write_text(r.to_yaml())
    assert load_recipe(str(path)) == r


def test_real_recipe_without_its_corpora_fails_with_a_clear_message(tmp_path):
    r = load_recipe("hubert_bilingual", [f"data_root={tmp_path}", f"roots.tess={tmp_path}"])
    with pytest.raises(CorpusRootError) as err:
        check_roots(r)
    text = str(err.value)
    for corpus in SEED_003_CORPORA[1:]:
        assert f"roots.{corpus}=" in text
    assert "tess:" not in text  # that one exists
    assert "synthetic=true" in text


def test_a_corpus_without_a_root_is_named():
    with pytest.raises(RecipeError, match="no root for corpus emodb"):
        load_recipe("hubert_bilingual", ["corpora=emodb"]).corpus_roots()


def test_every_field_has_help():
    assert all(f.metadata.get("help") for f in FIELDS.values())


def test_readme_style_launch_commands_name_existing_files():
    for path in RECIPES_DIR.glob("*.yaml"):
        for line in path.read_text().splitlines():
            if "--config_file" in line:
                config = line.split("--config_file")[1].split()[0]
                assert (RECIPES_DIR.parent / config).is_file(), f"{path.name}: {config}"
    assert Path(RECIPES_DIR.parent / "train.py").is_file()
