"""The frozen CNN's output cached per training clip (recipe key ``cache_frozen_features``): the same frames, logits
and losses as the uncached path for clips within the crop, crops in frames for longer ones, evaluation on audio."""

from __future__ import annotations

import datasets
import numpy as np
import pytest
import torch
from transformers import HubertConfig, set_seed

from ser_hf.data.audio import decode_wav_bytes, encode_wav
from ser_hf.hardware import cpu_has_bf16
from ser_hf.inference import clip_inputs
from ser_hf.models import build_model
from ser_hf.recipe import RecipeError, load_recipe
from ser_hf.training import AudioCollator, PreparedData, build_trainer
from ser_hf.training.feature_cache import (
    CACHE_FOLDER,
    CachedFeatureCollator,
    conv_geometry,
    frames_for_samples,
    samples_for_frames,
)

LABELS = ["angry", "happy", "sad"]
SR = 16000


def noise_rows(seconds: list[float], seed: int = 0) -> datasets.Dataset:
    rng = np.random.default_rng(seed)
    rows = [{"audio": {"bytes": encode_wav((0.2 * rng.standard_normal(int(s * SR))).astype(np.float32), SR),
                       "path": None}, "label": i % len(LABELS), "duration": s} for i, s in enumerate(seconds)]
    return datasets.Dataset.from_list(rows)


def cached_trainer(tmp_path, seconds, cache: bool, **overrides):
    """The Trainer of a tiny HuBERT whose CNN is frozen (as the real recipes freeze it), float32, on noise clips."""
    ds = noise_rows(seconds)
    recipe = load_recipe("quickstart", [f"output_dir={tmp_path}", "dataloader_num_workers=0", "bf16=false",
                                        "freeze_feature_encoder=true", f"cache_frozen_features={cache}",
                                        "per_device_train_batch_size=4", "logging_steps=1", "early_stopping_patience=null",
                                        *[f"{k}={v}" for k, v in overrides.items()]])
    data = PreparedData(datasets.DatasetDict(train=ds, validation=ds, test=ds), LABELS, [], {})
    set_seed(recipe.training.seed)
    model, extractor = build_model(LABELS, tiny_model=recipe.model.tiny_model)
    args = recipe.training.replace(max_steps=6, eval_strategy="no", save_strategy="no", load_best_model_at_end=False,
                                   disable_tqdm=True)
    return build_trainer(recipe, args, model, extractor, data), ds


def test_frame_geometry_of_the_base_models():
    geometry = conv_geometry(HubertConfig())
    assert samples_for_frames(geometry, 1) == 400 and samples_for_frames(geometry, 50) == 400 + 320 * 49
    for frames in (1, 2, 49, 50, 301):
        assert frames_for_samples(geometry, samples_for_frames(geometry, frames)) == frames
        assert frames_for_samples(geometry, samples_for_frames(geometry, frames) - 1) == frames - 1  # the fewest
    assert frames_for_samples(geometry, 6 * SR) == 299


def test_cached_frames_are_each_clips_own_cnn_output_and_give_the_uncached_logits(tmp_path):
    seconds = [0.45, 1.7, 1.0, 0.8, 1.25]
    trainer, ds = cached_trainer(tmp_path, seconds, cache=True, max_train_seconds=3.0)
    model, collator = trainer.model, trainer.data_collator
    assert isinstance(collator, CachedFeatureCollator) and trainer.train_dataset.column_names == \
        ["label", "duration", "cache_row"], "no audio column: training decodes nothing"
    assert (tmp_path / CACHE_FOLDER / "features.bin").is_file()
    model.eval()
    extractor = trainer.processing_class
    with torch.no_grad():
        for i in range(len(ds)):
            wave = decode_wav_bytes(ds[i]["audio"]["bytes"])[0]
            alone = model.hubert.feature_extractor(clip_inputs(extractor, wave)["input_values"])[0].T
            cached = collator.cache.clip(i, 0, int(collator.cache.frames[i]))
            assert cached.shape == alone.shape and torch.allclose(cached, alone, atol=1e-5), i
        # A padded batch of cached frames against the uncached padded batch of the same clips (the model's CNN
        # runs on a 2-D input: the stock path), and the frame counts the model derives from the mask.
        rows = [trainer.train_dataset[i] for i in range(len(ds))]
        from_cache = collator(rows)
        from_audio = AudioCollator(extractor, 3.0, pad_to_multiple_seconds=None)([ds[i] for i in range(len(ds))])
        logits = [model(**{k: v for k, v in b.items() if k != "labels"}).logits for b in (from_cache, from_audio)]
        assert torch.allclose(logits[0], logits[1], atol=1e-5)
        frames = model._get_feat_extract_output_lengths(from_cache["attention_mask"].sum(-1))
        assert frames.tolist() == collator.cache.frames.tolist()


@pytest.mark.parametrize("bf16", [False, pytest.param(True, marks=pytest.mark.skipif(
    not cpu_has_bf16(), reason="bf16 autocast on CPU needs AMX / AVX512-BF16 (emulated elsewhere: slow)"))])
def test_losses_match_with_the_cache_on_and_off_and_evaluation_runs_on_audio(tmp_path, bf16):
    """Clips within the crop: the same weights, batches and random draws give the same training losses (float32 to
    float tolerance; bf16, whose cache stores the bf16 frames the autocast CNN gives, to bf16 rounding); evaluation
    runs the whole model on audio in float32 either way, so it agrees too."""
    seconds = [0.5, 1.8, 0.9, 1.3, 0.7, 1.1, 1.6, 0.6, 1.4, 1.0, 0.8, 1.2]
    losses, eval_losses = {}, {}
    for cache in (False, True):
        trainer, _ = cached_trainer(tmp_path / str(cache), seconds, cache=cache, max_train_seconds=2.0,
                                    bf16=str(bf16).lower())
        if cache:
            assert trainer.data_collator.cache.dtype == ("bfloat16" if bf16 else "float32")
        trainer.train()
        losses[cache] = [e["loss"] for e in trainer.state.log_history if "loss" in e]
        eval_losses[cache] = trainer.evaluate()["eval_loss"]
        assert not (tmp_path / str(cache) / CACHE_FOLDER).exists(), "the cache is removed when training ends"
    assert len(losses[True]) == 6
    assert losses[True] == pytest.approx(losses[False], rel=1e-3 if bf16 else 1e-4)
    assert eval_losses[True] == pytest.approx(eval_losses[False], rel=1e-3 if bf16 else 1e-4)
    assert len(set(losses[True])) > 1, "the model trained"


def test_longer_clips_are_cropped_in_frames_of_their_cached_output(tmp_path):
    trainer, _ = cached_trainer(tmp_path, [3.0, 0.6], cache=True, max_train_seconds=1.0, pad_to_multiple_seconds=0.5)
    collator, row = trainer.data_collator, trainer.train_dataset[0]
    crop = frames_for_samples(collator.geometry, SR)  # what the uncached path's 1-s crop gives: 49 frames
    full = collator.cache.clip(0, 0, int(collator.cache.frames[0]))
    starts = set()
    torch.manual_seed(0)
    for _ in range(6):
        batch = collator([row, trainer.train_dataset[1]])
        assert batch["input_values"].shape[:2] == (2, 50), "padded to a multiple of 25 frames (0.5 s)"
        assert batch["attention_mask"].sum(-1).tolist() == [samples_for_frames(collator.geometry, crop),
                                                            samples_for_frames(collator.geometry, 29)]
        window = batch["input_values"][0, :crop]
        start = next(s for s in range(len(full) - crop + 1) if torch.equal(full[s : s + crop], window))
        starts.add(start)
    assert len(starts) > 1, "random crops"
    assert collator.stats["real"] == 6 * (SR + int(0.6 * SR)), "real audio: the 1-s crop and the short clip"


def test_a_resumed_run_reads_the_cache_and_other_rows_rebuild_it(tmp_path, monkeypatch):
    import ser_hf.training.feature_cache as feature_cache

    cached_trainer(tmp_path, [0.5, 0.9], cache=True)
    built = (tmp_path / CACHE_FOLDER / "key.json").read_text()

    def refuse(*args, **kwargs):
        raise AssertionError("rebuilt a valid cache")

    with monkeypatch.context() as patch:
        patch.setattr(feature_cache, "build_cache", refuse)
        cached_trainer(tmp_path, [0.5, 0.9], cache=True)  # the same rows and weights: read back
    cached_trainer(tmp_path, [0.5, 0.9, 1.1], cache=True)  # other rows: built again
    assert (tmp_path / CACHE_FOLDER / "key.json").read_text() != built
    assert not list(tmp_path.glob(f"{CACHE_FOLDER}.partial-*"))


def test_the_cache_is_refused_where_the_cnn_output_is_not_fixed(tmp_path):
    with pytest.raises(RecipeError, match="cache_frozen_features: .* freeze_feature_encoder is false"):
        load_recipe("quickstart", ["cache_frozen_features=true"])  # the quickstart trains its random CNN
    with pytest.raises(RecipeError, match="cache_frozen_features: .* augment_online_p"):
        load_recipe("quickstart", ["cache_frozen_features=true", "freeze_feature_encoder=true",
                                   "augment_online_p=0.5", "augment_preset=seed003"])
    with pytest.raises(RecipeError, match="cache_frozen_features: .* method"):
        load_recipe("quickstart", ["cache_frozen_features=true", "freeze_feature_encoder=true", "method=cnn_blstm"])
    with pytest.raises(RecipeError, match="no CNN feature encoder"):
        cached_trainer(tmp_path, [0.5, 0.9], cache=True, tiny_model="whisper")
