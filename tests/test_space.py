"""The Gradio Space: predict functions called directly, the running app through gradio_client,
and the page in a real headless Chromium (a screenshot is written)."""

import importlib
import shutil
import socket
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"


def tiny_classifier(path: Path, labels: list[str], seed: int = 0) -> Path:
    """A tiny random HuBERT classifier saved like a train.py output (config + weights + extractor)."""
    import torch
    from transformers import AutoModelForAudioClassification, HubertConfig, Wav2Vec2FeatureExtractor

    torch.manual_seed(seed)
    config = HubertConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
        conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, classifier_proj_size=16,
        num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)},
    )
    AutoModelForAudioClassification.from_config(config).save_pretrained(path)
    Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True, return_attention_mask=True).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def app(tmp_path_factory, monkeypatch_module):
    models = tmp_path_factory.mktemp("space_models")
    seven = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    tiny_classifier(models / "a", seven, seed=0)
    # Same encoder, another head: the app must run the encoder once for both.
    shutil.copytree(models / "a", models / "b")
    monkeypatch_module.setenv("SER_HF_SPACE_MODELS", f"hubert={models / 'a'};twin={models / 'b'}")
    monkeypatch_module.syspath_prepend(str(ROOT / "space"))
    sys.modules.pop("app", None)
    module = importlib.import_module("app")
    yield module
    sys.modules.pop("app", None)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from ser_hf.data.synth import render_long_clip

    d = tmp_path_factory.mktemp("clips")
    wave, annotations = render_long_clip(["angry", "sad", "happy"], silence_between=2.0)
    sf.write(d / "long.wav", wave, 16000)
    stereo = np.stack([wave[:32000], wave[:32000] * 0.5], axis=1)
    sf.write(d / "stereo_44k.wav", np.asarray(__import__("soxr").resample(stereo, 16000, 44100)), 44100)
    (d / "text.wav").write_text("this is not audio")
    sf.write(d / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    sf.write(d / "too_long.wav", np.zeros(16000 * 61, dtype=np.float32) + 0.1, 16000)
    return d


def test_models_share_one_encoder(app):
    models = app.models()
    assert models.names == ["hubert", "twin"]
    assert len(models.groups) == 1  # identical encoders: one pass serves both heads


def test_predict_clip_odd_rate_and_channels(app, clips):
    a, b = app.predict_clip(str(clips / "stereo_44k.wav"))
    assert set(a) == {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"}
    assert sum(a.values()) == pytest.approx(1.0, abs=1e-5) and a == pytest.approx(b)
    four = app.predict_clip(str(clips / "stereo_44k.wav"), "real-time 4 classes (seed 003)")[0]
    assert set(four) == {"anger_disgust", "fear_surprise", "happy", "sad"}
    assert sum(four.values()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("name, message", [("text.wav", "not readable as audio"), ("empty.wav", "empty|no audio|too short"), ("too_long.wav", "longer than")])
def test_bad_input_is_a_clear_gradio_error(app, clips, name, message):
    import gradio as gr

    with pytest.raises(gr.Error, match=message):
        app.predict_clip(str(clips / name))
    with pytest.raises(gr.Error, match="No audio"):
        app.predict_clip(None)


def test_stream_marks_silence_without_running_a_model(app, clips, monkeypatch):
    wave, _ = sf.read(clips / "long.wav", dtype="float32")
    calls = []
    real = app.models().predict
    monkeypatch.setattr(app.models(), "predict", lambda w: calls.append(len(w)) or real(w))
    state = None
    for start in range(0, len(wave), 8000):  # 0.5-s microphone chunks, int16 at 16 kHz
        state, current, table, latency = app.stream_step((16000, (wave[start:start + 8000] * 32767).astype(np.int16)), state)
    silent = table["hubert"] == "silence"
    assert list(silent) == [False, True, False, True, False, True]  # speech / 2-s gaps alternate
    assert len(calls) == 3 and all(n == 32000 for n in calls)  # only the speech segments reached the model
    assert (table.loc[~silent, "latency_ms"] > 0).all()


def test_long_clip_timeline_and_distribution(app, clips):
    table, distribution, summary = app.analyse_long_clip(str(clips / "long.wav"))
    assert len(table) == 6 and list(table["start"]) == [0, 2, 4, 6, 8, 10]
    assert distribution["silence"] == pytest.approx(0.5) and sum(distribution.values()) == pytest.approx(1.0)
    assert "3 silent" in summary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def running_app(app):
    demo = app.build_demo()
    port = _free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, max_file_size="25mb")
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_gradio_client_drives_the_running_app(running_app, clips):
    from gradio_client import Client, handle_file

    client = Client(running_app, verbose=False)
    result = client.predict(handle_file(str(clips / "stereo_44k.wav")), "model's classes", api_name="/predict_clip")
    assert len(result) == 2 and result[0]["label"] in {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"}
    table, distribution, summary = client.predict(handle_file(str(clips / "long.wav")), "model's classes", api_name="/analyse_long_clip")
    assert "6 segments" in summary


@pytest.mark.slow
def test_real_browser_upload_shows_the_label(running_app, clips):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("Debian's chromium is needed for the browser test (apt-get install chromium; `make setup` does it)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(running_app, wait_until="domcontentloaded")
        page.get_by_role("button", name="Recognise").wait_for(timeout=60000)
        page.locator("input[type=file]").first.set_input_files(str(clips / "stereo_44k.wav"))
        page.get_by_role("button", name="Recognise").click()
        # gr.Label renders the top class as a heading once the prediction arrives.
        page.locator("[data-testid='label-output-value']").first.wait_for(timeout=60000)
        text = page.locator("[data-testid='label-output-value']").first.inner_text()
        page.wait_for_timeout(1500)  # let the result fade in before the screenshot
        page.screenshot(path=str(ARTIFACTS / "space_file_tab.png"), full_page=True)
        browser.close()
    assert text.strip() in {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"}
    assert (ARTIFACTS / "space_file_tab.png").stat().st_size > 10_000
