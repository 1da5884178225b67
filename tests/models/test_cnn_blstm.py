"""Seed 004's CNN-BLSTM with attention: variants, attention, Keras-style L2 loss, save/load, learning, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from huggingface_hub.errors import StrictDataclassClassValidationError
from transformers import AutoConfig, AutoModelForAudioClassification

from ser_hf.models.cnn_blstm import (
    CNN_BLSTM_VARIANTS,
    CNNBLSTMAttentionConfig,
    CNNBLSTMAttentionForAudioClassification,
    cnn_blstm_variant,
)

TINY = {"num_mel_bins": 16, "conv_channels": (4, 8), "lstm_hidden_size": 8, "attention_size": 8, "num_labels": 4}


def tiny_model(seed: int = 0, **overrides) -> CNNBLSTMAttentionForAudioClassification:
    torch.manual_seed(seed)
    return CNNBLSTMAttentionForAudioClassification(CNNBLSTMAttentionConfig(**{**TINY, **overrides}))


def band_task(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Class k = energy in mel bins 4k..4k+3, random noise everywhere: separable only by frequency position."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 4
    x = 0.5 * torch.randn(n, 1, 16, 16, generator=g)
    for i, k in enumerate(labels.tolist()):
        x[i, 0, 4 * k:4 * k + 4] += 2.0
    return x, labels


def test_paper_defaults():
    config = CNNBLSTMAttentionConfig()
    assert list(config.conv_channels) == [32, 64, 128, 256] and config.conv_dropout == 0.3
    assert config.use_cnn and config.use_lstm and config.bidirectional and config.use_attention
    assert (config.lstm_hidden_size, config.attention_size, config.dropout, config.l2) == (128, 128, 0.3, 0.01)
    # 256 channels x (128 mel bins / 2**4) per frame go into the BiLSTM.
    assert config.sequence_size == 256 * 8
    model = CNNBLSTMAttentionForAudioClassification(config)
    assert model.lstm.input_size == 2048 and model.lstm.bidirectional and model.classifier.in_features == 256


@pytest.mark.parametrize("name", sorted(CNN_BLSTM_VARIANTS))
def test_variant_shapes_and_attentions(name):
    model = tiny_model(**cnn_blstm_variant(name)).eval()
    x = torch.randn(3, 1, 16, 20)
    out = model(x, output_attentions=True)
    assert out.logits.shape == (3, 4) and out.loss is None
    assert (model.lstm is None) == (name == "cnn")
    assert (len(model.cnn) == 0) == (name == "lstm")
    if name == "cnn_blstm_attention":
        assert out.attentions.shape == (3, 20 // 4)
    else:
        assert out.attentions is None
    as_tuple = model(x, labels=torch.tensor([0, 1, 2]), return_dict=False)
    assert len(as_tuple) == 2 and torch.equal(as_tuple[1], out.logits)


def test_three_and_four_dim_inputs_agree_and_kwargs_are_accepted():
    model = tiny_model().eval()
    x = torch.randn(2, 16, 12)
    a = model(x).logits
    b = model(x.unsqueeze(1), attention_mask=torch.ones(2, 12, dtype=torch.long)).logits
    assert torch.equal(a, b)


def test_attention_weights_sum_to_one_and_follow_the_input():
    model = tiny_model().eval()
    out = model(torch.randn(5, 1, 16, 32), output_attentions=True)
    assert out.attentions.shape == (5, 8) and (out.attentions >= 0).all()
    torch.testing.assert_close(out.attentions.sum(-1), torch.ones(5))
    assert not torch.allclose(out.attentions[0], out.attentions[1])  # data dependent, not a fixed average
    assert model(torch.randn(5, 1, 16, 32)).attentions is None  # only on request


@pytest.mark.parametrize("l2", [0.01, 0.0])
def test_loss_is_cross_entropy_plus_keras_l2_on_kernels(l2):
    model = tiny_model(l2=l2).eval()
    x, labels = torch.randn(4, 1, 16, 16), torch.tensor([0, 3, 1, 2])
    out = model(x, labels=labels)
    # Kernels: every conv / dense weight (>= 2-D), not biases, not batch norm, not the LSTM.
    kernels = {n: p for n, p in model.named_parameters() if p.dim() >= 2 and not n.startswith("lstm.")}
    assert sorted(kernels) == ["attention.proj.weight", "attention.score.weight", "classifier.weight",
                               "cnn.0.0.weight", "cnn.1.0.weight"]
    reference = F.cross_entropy(out.logits, labels) + l2 * sum((p ** 2).sum() for p in kernels.values())
    torch.testing.assert_close(out.loss, reference)
    if l2:
        assert out.loss > F.cross_entropy(out.logits, labels) + 0.01


def test_every_parameter_gets_a_gradient():
    model = tiny_model(conv_dropout=0.0, dropout=0.0).train()
    x, labels = band_task(8)
    model(x, labels=labels).loss.backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert dead == []


def test_save_pretrained_then_auto_from_pretrained(tmp_path):
    id2label = {0: "angry", 1: "happy", 2: "neutral", 3: "sad"}
    model = tiny_model(id2label=id2label, label2id={v: k for k, v in id2label.items()})
    model.train()(torch.randn(4, 1, 16, 16))  # move the batch-norm statistics off their initial values
    model.eval().save_pretrained(tmp_path)
    loaded = AutoModelForAudioClassification.from_pretrained(tmp_path).eval()
    assert type(loaded) is CNNBLSTMAttentionForAudioClassification
    assert type(loaded.config) is CNNBLSTMAttentionConfig and loaded.config.model_type == "cnn_blstm_attention"
    assert list(loaded.config.conv_channels) == [4, 8] and loaded.config.id2label == id2label
    state, loaded_state = model.state_dict(), loaded.state_dict()
    assert state.keys() == loaded_state.keys()
    assert all(torch.equal(state[k], loaded_state[k]) for k in state)
    x = torch.randn(3, 1, 16, 24)
    torch.testing.assert_close(loaded(x).logits, model(x).logits, rtol=0, atol=0)
    config = AutoConfig.for_model("cnn_blstm_attention", **TINY)
    assert isinstance(config, CNNBLSTMAttentionConfig) and config.num_labels == 4


def test_tiny_model_learns_a_separable_task():
    model = tiny_model(seed=1, conv_dropout=0.1, dropout=0.1, l2=1e-4)
    x, labels = band_task(64)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(60):
        optimizer.zero_grad()
        loss = model(x, labels=labels).loss
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        train_acc = (model(x).logits.argmax(-1) == labels).float().mean().item()
        test_x, test_labels = band_task(32, seed=1)
        test_acc = (model(test_x).logits.argmax(-1) == test_labels).float().mean().item()
    assert train_acc >= 0.95 and test_acc >= 0.9, (train_acc, test_acc)


def test_bad_configs_raise():
    with pytest.raises(StrictDataclassClassValidationError, match="use_cnn and use_lstm are both False"):
        CNNBLSTMAttentionConfig(**{**TINY, "use_cnn": False, "use_lstm": False})
    with pytest.raises(StrictDataclassClassValidationError, match="needs at least 32 mel bins"):
        CNNBLSTMAttentionConfig(**{**TINY, "conv_channels": (4, 4, 4, 4, 4)})
    with pytest.raises(StrictDataclassClassValidationError, match="l2 >= 0"):
        CNNBLSTMAttentionConfig(**{**TINY, "l2": -0.1})
    # Without the CNN nothing is pooled, so any number of mel bins (and frames) is fine.
    model = tiny_model(**{**cnn_blstm_variant("lstm"), "conv_channels": (4, 4, 4, 4, 4)})
    assert model(torch.randn(2, 16, 1)).logits.shape == (2, 4)
    with pytest.raises(ValueError, match="unknown CNN-BLSTM variant 'blstm'.*'cnn_blstm_attention'"):
        cnn_blstm_variant("blstm")


def test_bad_inputs_raise():
    model = tiny_model()
    with pytest.raises(ValueError, match="3 frames are too few: 2 max pools need at least 4 frames"):
        model(torch.randn(2, 1, 16, 3))
    assert model(torch.randn(2, 1, 16, 4)).logits.shape == (2, 4)
    with pytest.raises(ValueError, match=r"expected input_features \(batch, 1, 16, frames\)"):
        model(torch.randn(2, 1, 20, 16))
