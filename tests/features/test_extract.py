"""extract(): pooling, file index, caching; HF encoder embeddings; openSMILE and MFCC features."""

from __future__ import annotations

import datasets
import numpy as np
import pytest
import torch
from transformers import HubertConfig, HubertModel, WhisperConfig, WhisperModel

from ser_hf.data.audio import content_hash, encode_wav, to_pcm16
from ser_hf.features.extract import build_extractor, extract, pool_per_file
from ser_hf.features.encoder_layers import HFEncoderExtractor
from ser_hf.features.extract import EmbeddingExtractor, dataset_key
from ser_hf.features.handcrafted import MFCCExtractor, OpenSmileExtractor

SR = 16000
SECONDS = [3.0, 1.2, 2.0, 0.6]


def tiny_dataset(seconds=SECONDS, seed: int = 0) -> datasets.Dataset:
    rng = np.random.default_rng(seed)
    waves = []
    for s in seconds:
        t = np.arange(int(s * SR)) / SR
        waves.append((0.3 * np.sin(2 * np.pi * rng.uniform(120, 250) * t) + 0.01 * rng.standard_normal(len(t)))
                     .astype(np.float32))
    ds = datasets.Dataset.from_dict({
        "audio": [{"bytes": encode_wav(w, SR), "path": f"file{i}.wav"} for i, w in enumerate(waves)],
        "label": [i % 2 for i in range(len(waves))],
        "path": [f"file{i}.wav" for i in range(len(waves))],
        "content_hash": [content_hash(to_pcm16(w)) for w in waves],
    })
    return ds.cast_column("audio", datasets.Audio(sampling_rate=SR))


class CountingExtractor(EmbeddingExtractor):
    """Two frames per second of audio; counts its calls (for the cache tests)."""

    name = "counting"

    def __init__(self, scale: float = 1.0):
        self.calls = 0
        self.scale = scale

    def cache_config(self):
        return {"name": self.name, "scale": self.scale}

    def embed(self, waves):
        self.calls += 1
        return [np.full((max(1, int(2 * len(w) / SR)), 3), self.scale * len(w), np.float32) for w in waves]


def test_mean_and_frame_pooling_and_the_cache(tmp_path):
    ds = tiny_dataset()
    extractor = CountingExtractor()
    mean = extract(ds, extractor, cache_dir=tmp_path, batch_size=3, progress=False)
    assert mean.features.shape == (4, 3) and mean.file_index.tolist() == [0, 1, 2, 3]
    assert mean.features[:, 0].tolist() == [s * SR for s in SECONDS]
    assert extractor.calls == 2  # 4 files in batches of 3

    again = extract(ds, extractor, cache_dir=tmp_path, batch_size=3, progress=False)
    assert again.from_cache and extractor.calls == 2
    np.testing.assert_array_equal(again.features, mean.features)

    frames = extract(ds, extractor, cache_dir=tmp_path, pooling="frames", progress=False)
    assert extractor.calls == 3
    assert frames.file_index.tolist() == [0] * 6 + [1] * 2 + [2] * 4 + [3] * 1
    assert frames.row_labels(ds["label"]).tolist() == [0] * 6 + [1] * 2 + [0] * 4 + [1]
    np.testing.assert_allclose(pool_per_file(frames.features, frames.file_index, 4), mean.features)

    # Another extractor configuration or other audio is another cache entry.
    extract(ds, CountingExtractor(scale=2.0), cache_dir=tmp_path, progress=False)
    other = CountingExtractor()
    extract(tiny_dataset(seed=1), other, cache_dir=tmp_path, progress=False)
    assert other.calls == 1
    assert dataset_key(ds) != dataset_key(tiny_dataset(seed=1))
    assert dataset_key(ds) == dataset_key(tiny_dataset())
    # use_cache=False recomputes and writes nothing.
    before = sorted(p.name for p in tmp_path.iterdir())
    extract(ds, extractor, cache_dir=tmp_path, use_cache=False, progress=False)
    assert extractor.calls == 4 and sorted(p.name for p in tmp_path.iterdir()) == before
    with pytest.raises(ValueError, match="pooling"):
        extract(ds, extractor, cache_dir=tmp_path, pooling="max")


def test_a_truncated_or_bit_flipped_cache_entry_is_extracted_again(tmp_path, caplog):
    """Each entry ends in a checksum of its .npy bytes: a cut-off entry and one with a flipped bit are reported and
    extracted again (only those two), never used."""
    ds = tiny_dataset()
    extractor = CountingExtractor()
    first = extract(ds, extractor, cache_dir=tmp_path, batch_size=1, progress=False)
    entries = sorted(tmp_path.rglob("*.npy"))
    assert len(entries) == 4 and not list(tmp_path.rglob("*.partial-*"))
    entries[0].write_bytes(entries[0].read_bytes()[:-20])
    data = bytearray(entries[1].read_bytes())
    data[-16 - 2] ^= 0x01  # a bit of the last value (16 bytes of checksum follow): np.load alone reads it as it is
    entries[1].write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger="ser_hf.features.extract"):
        again = extract(ds, extractor, cache_dir=tmp_path, batch_size=1, progress=False)
    assert f"embedding cache entry {entries[0]} is corrupt (truncated)" in caplog.text
    assert f"embedding cache entry {entries[1]} is corrupt (checksum mismatch)" in caplog.text
    assert extractor.calls == 4 + 2
    np.testing.assert_array_equal(again.features, first.features)
    caplog.clear()
    extract(ds, extractor, cache_dir=tmp_path, progress=False)  # rewritten whole: read back silently
    assert extractor.calls == 6 and "corrupt" not in caplog.text


def test_a_full_disk_while_caching_embeddings_is_one_line_and_loses_nothing(small_disk):
    from ser_hf.locks import StorageFullError

    from tests.conftest import fill_disk

    cache = small_disk("1m")
    extractor = CountingExtractor()
    first = extract(tiny_dataset(), extractor, cache_dir=cache, progress=False)
    filler = fill_disk(cache)
    with pytest.raises(StorageFullError) as caught:
        extract(tiny_dataset(seed=1), extractor, cache_dir=cache, progress=False)
    message = str(caught.value)
    assert message.startswith("writing the embedding cache: writing ") and ".npy.partial-" in message, message
    assert "No space left on device" in message and "earlier entries of the cache are intact" in message
    assert not list(cache.rglob("*.partial-*"))
    calls = extractor.calls
    again = extract(tiny_dataset(), extractor, cache_dir=cache, progress=False)  # the earlier entries, intact
    assert again.from_cache and extractor.calls == calls
    np.testing.assert_array_equal(again.features, first.features)
    filler.unlink()
    assert not extract(tiny_dataset(seed=1), extractor, cache_dir=cache, progress=False).from_cache


def test_vggish_and_yamnet_frames_per_file(tmp_path):
    ds = tiny_dataset()
    vggish = build_extractor("vggish", random_weights=True)
    v = extract(ds, vggish, cache_dir=tmp_path, pooling="frames", progress=False)
    # 3 s -> 3, 1.2 s -> 1, 2 s -> 2, 0.6 s -> 1 (padded to one example)
    assert np.bincount(v.file_index).tolist() == [3, 1, 2, 1] and v.dim == 128
    yamnet = build_extractor("yamnet", random_weights=True)
    y = extract(ds, yamnet, cache_dir=tmp_path, pooling="mean", progress=False)
    assert y.features.shape == (4, 1024)
    # The cache key holds the weights: another random seed is another entry.
    assert yamnet.cache_config()["weights"] != build_extractor("yamnet", random_weights=True, seed=1).cache_config()[
        "weights"]
    # Published VGGish padding (none): a 0.6-s file has no example, so mean pooling refuses.
    from ser_hf.features.networks import VGGishExtractor

    strict = VGGishExtractor(model=vggish.model, pad_mode="none")
    with pytest.raises(ValueError, match="no frame"):
        extract(ds, strict, cache_dir=tmp_path, progress=False)


def tiny_hubert(norm: str = "layer") -> HubertModel:
    torch.manual_seed(0)
    return HubertModel(HubertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                                    conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                                    feat_extract_norm=norm, do_stable_layer_norm=norm == "layer")).eval()


def test_hf_encoder_mean_pools_the_chosen_layer(tmp_path):
    ds = tiny_dataset([1.5, 0.8, 1.1])
    model = tiny_hubert()
    extractor = HFEncoderExtractor(model=model, layer=-1)
    batched = extract(ds, extractor, cache_dir=tmp_path, batch_size=4, progress=False)
    assert batched.features.shape == (3, 32)
    # Exactly the mean of the last hidden state of each file run alone.
    waves = [np.asarray(a["array"], np.float32) for a in ds["audio"]]
    fe = extractor.feature_extractor
    for i, w in enumerate(waves):
        with torch.no_grad():
            hidden = model(fe(w, sampling_rate=SR, return_tensors="pt")["input_values"],
                           output_hidden_states=True).hidden_states[-1][0]
        np.testing.assert_allclose(batched.features[i], hidden.mean(0).numpy(), atol=1e-4, rtol=1e-3)
    frames = extract(ds, extractor, cache_dir=tmp_path, batch_size=4, pooling="frames", progress=False)
    expected = [int(n) for n in model._get_feat_extract_output_lengths(torch.tensor([len(w) for w in waves]))]
    assert np.bincount(frames.file_index).tolist() == expected  # 50 frames per second

    # A one-hot layer weighting is that layer; "mean" averages all hidden states.
    one_hot = HFEncoderExtractor(model=model, layer=[0, 0, 1]).embed(waves[:1])[0]
    np.testing.assert_allclose(one_hot, extractor.embed(waves[:1])[0], atol=1e-5)
    assert HFEncoderExtractor(model=model, layer="mean").embed(waves[:1])[0].shape == (expected[0], 32)
    with pytest.raises(ValueError, match="layer"):
        HFEncoderExtractor(model=model, layer=5)


def test_hf_encoder_group_norm_and_whisper_shapes():
    waves = [np.random.default_rng(0).standard_normal(n).astype(np.float32) * 0.1 for n in (16000, 24000)]
    group = HFEncoderExtractor(model=tiny_hubert("group"))
    assert not group.feature_extractor.return_attention_mask  # as base checkpoints ship
    assert [f.shape for f in group.embed(waves)] == [(49, 32), (74, 32)]
    torch.manual_seed(0)
    whisper = WhisperModel(WhisperConfig(d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64,
                                         decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64,
                                         num_mel_bins=80))
    frames = HFEncoderExtractor(model=whisper, layer=-1).embed(waves)
    assert [f.shape for f in frames] == [(50, 32), (75, 32)]  # one frame per 20 ms of real audio


def test_missing_encoder_says_how_to_get_it(tmp_path):
    empty = tmp_path / "no-model-here"
    empty.mkdir()
    with pytest.raises(OSError, match="hf download"):
        build_extractor(f"hf:{empty}")
    with pytest.raises(ValueError, match="unknown extractor"):
        build_extractor("openl3")


def test_handcrafted_features():
    waves = [np.asarray(a["array"], np.float32) for a in tiny_dataset(SECONDS[:2])["audio"]]
    stats = MFCCExtractor().embed(waves)
    assert [s.shape for s in stats] == [(1, 80), (1, 80)]
    frames = MFCCExtractor(statistics=()).embed(waves)
    assert frames[0].shape == (301, 40)  # 3 s, 10-ms hop, centred frames
    np.testing.assert_allclose(stats[0][0, :40], frames[0].mean(0), rtol=1e-5, atol=1e-4)
    assert MFCCExtractor(deltas=True, statistics=("mean",)).embed(waves)[0].shape == (1, 80)
    egemaps = OpenSmileExtractor("eGeMAPSv02").embed(waves)
    assert [e.shape for e in egemaps] == [(1, 88), (1, 88)] and np.isfinite(egemaps[0]).all()
    assert build_extractor("compare").embed(waves[:1])[0].shape == (1, 6373)
    assert OpenSmileExtractor("eGeMAPSv02", level="lld").embed(waves[:1])[0].shape[1] == 25


@pytest.mark.parametrize("extractor", [MFCCExtractor(statistics=()), OpenSmileExtractor("eGeMAPSv02")],
                         ids=["mfcc_frames", "egemaps"])
def test_per_file_extractors_in_worker_processes_match_one_process(tmp_path, extractor):
    ds = tiny_dataset(SECONDS * 2)
    pooling = "frames" if extractor.name == "mfcc" else "mean"
    serial = extract(ds, extractor, use_cache=False, progress=False, pooling=pooling, num_workers=0)
    parallel = extract(ds, extractor, cache_dir=tmp_path, progress=False, pooling=pooling, num_workers=2)
    np.testing.assert_array_equal(parallel.features, serial.features)  # bit-identical, in row order
    np.testing.assert_array_equal(parallel.file_index, serial.file_index)
    assert len(list(tmp_path.rglob("*.npy"))) == len(ds)  # the workers' results went to the per-file cache
    again = extract(ds, extractor, cache_dir=tmp_path, progress=False, pooling=pooling, num_workers=2)
    assert again.from_cache
    np.testing.assert_array_equal(again.features, serial.features)
