"""The Gradio Space: predict functions called directly, the running app through gradio_client,
and the page in a real headless Chromium (a screenshot is written)."""

import importlib.util
import shutil
import socket
import subprocess
import time
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

ROOT = Path(__file__).resolve().parents[2]
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


SEVEN = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def load_app(name: str):
    """space/app.py imported afresh under its own module name (its config is read at import time)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "space" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", params=["shipped", "two_models"])
def app(request, tmp_path_factory):
    """The app with the shipped config.yaml (its one model, pointed at a tiny model: the default
    ../outputs/quickstart exists only after `make quickstart`), and with two models sharing an encoder."""
    models = tmp_path_factory.mktemp("space_models")
    tiny_classifier(models / "a", SEVEN, seed=0)
    mp = pytest.MonkeyPatch()
    if request.param == "shipped":
        shipped = yaml.safe_load((ROOT / "space" / "config.yaml").read_text())["models"]
        assert len(shipped) == 1
        mp.setenv("SER_HF_SPACE_MODELS", f"{next(iter(shipped))}={models / 'a'}")
    else:
        # Same encoder, another head: the app must run the encoder once for both.
        shutil.copytree(models / "a", models / "b")
        mp.setenv("SER_HF_SPACE_MODELS", f"hubert={models / 'a'};twin={models / 'b'}")
    module = load_app(f"space_app_{request.param}")
    mp.undo()
    module.models(), module.models("live")  # load while the fixture owns the process's attention
    yield module


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from ser_hf.data.synth import render_long_clip

    d = tmp_path_factory.mktemp("clips")
    wave, annotations = render_long_clip(["angry", "sad", "happy"], silence_between=2.0)
    sf.write(d / "long.wav", wave, 16000)
    sf.write(d / "mic.wav", wave[:6 * 16000], 16000)  # Chromium's fake microphone plays it (in a loop)
    stereo = np.stack([wave[:32000], wave[:32000] * 0.5], axis=1)
    sf.write(d / "stereo_44k.wav", np.asarray(__import__("soxr").resample(stereo, 16000, 44100)), 44100)
    (d / "text.wav").write_text("this is not audio")
    sf.write(d / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    sf.write(d / "silent.wav", np.zeros(16000 * 2, dtype=np.float32), 16000)  # 2 s of digital silence
    sf.write(d / "too_long.wav", np.zeros(16000 * 61, dtype=np.float32) + 0.1, 16000)
    # 700 s of silence in ~60 kB of Vorbis: decoded, 45 MB of samples; refused by its header
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "700",
                    "-c:a", "libvorbis", "-q:a", "0", str(d / "bomb.ogg")], check=True, timeout=120)
    return d


def test_models_load_and_share_one_encoder(app):
    models = app.models()
    if len(models.names) == 1:
        assert models.names == list(yaml.safe_load((ROOT / "space" / "config.yaml").read_text())["models"])
    else:
        assert models.names == ["hubert", "twin"]
        assert len(models.groups) == 1  # identical encoders: one pass serves both heads


def test_file_tab_gives_what_the_pipeline_gives(app, clips):
    """The File tab runs float32 whatever the live tab's fast path: its scores are pipeline()'s for the file."""
    from transformers import pipeline

    assert app.CONFIG["fast_cpu_tabs"] == ["live"]  # as shipped
    assert not app.models().fast and not app.models("long_clip").fast and app.models("live").fast
    classify = pipeline("audio-classification", model=app.CONFIG["models"][app.models().names[0]], device=-1)
    for name in ("mic.wav", "stereo_44k.wav"):
        wave, _ = app.read_audio(str(clips / name), 16000)
        expected = {s["label"]: s["score"] for s in classify({"raw": wave, "sampling_rate": 16000}, top_k=None)}
        got = app.predict_clip(str(clips / name))[0]
        assert got.keys() == expected.keys()
        assert [got[k] for k in expected] == pytest.approx(list(expected.values()), abs=1e-5)


def test_predict_clip_odd_rate_and_channels(app, clips):
    probs = app.predict_clip(str(clips / "stereo_44k.wav"))
    assert len(probs) == len(app.models().names)
    for p in probs:
        assert set(p) == set(SEVEN) and sum(p.values()) == pytest.approx(1.0, abs=1e-5) and p == pytest.approx(probs[0])
    four = app.predict_clip(str(clips / "stereo_44k.wav"), "real-time 4 classes (seed 003)")[0]
    assert set(four) == {"anger_disgust", "fear_surprise", "happy", "sad"}
    assert sum(four.values()) == pytest.approx(1.0, abs=1e-5)


def test_file_tab_outputs_fit_its_components(app, clips):
    """What the click handler returns is one value per output component, for one model as for several
    (with one model the shipped Space used to return a list where its single gr.Label needs a dict)."""
    out = app._clip_outputs(str(clips / "stereo_44k.wav"), "model's classes")
    assert isinstance(out, tuple) and len(out) == len(app.models().names) + 1
    assert all(isinstance(o, dict) for o in out[:-1]) and "ms" in out[-1]
    for name in app.models().names:
        assert f"`{name}`" in out[-1]


def test_silent_clip_runs_no_model(app, clips, monkeypatch):
    monkeypatch.setattr(app.models(), "predict", lambda w: pytest.fail("a model ran on silence"))
    probs, times = app.predict_clip_timed(str(clips / "silent.wav"))
    assert probs == [{"silence": 1.0}] * len(app.models().names) and not any(times.values())
    assert "no model ran" in app._clip_outputs(str(clips / "silent.wav"), "model's classes")[-1]


@pytest.mark.parametrize("name, message", [("text.wav", "not readable as audio"), ("empty.wav", "empty|no audio|too short"),
                                           ("too_long.wav", "longer than"), ("bomb.ogg", "700 s is longer than the 60-s limit")])
def test_bad_input_is_a_clear_gradio_error(app, clips, name, message):
    import gradio as gr

    with pytest.raises(gr.Error, match=message) as caught:
        app.predict_clip(str(clips / name))
    text = str(caught.value)
    assert "\n" not in text and name in text
    assert str(clips) not in text and "/" not in text.split(".", 1)[0] and "libsndfile" not in text and "Error opening" not in text
    with pytest.raises(gr.Error, match="No audio"):
        app.predict_clip(None)


def test_small_file_that_decodes_to_long_audio_is_refused_in_every_tab(app, clips):
    """A compressed file whose header promises more than a tab's cap is refused before decoding, in every tab (a live
    chunk too: the live tab reads the file the browser uploads, capped at a few seconds)."""
    import gradio as gr

    assert (clips / "bomb.ogg").stat().st_size < 200_000
    with pytest.raises(gr.Error, match="bomb.ogg: 700 s is longer than the 600-s limit"):
        app.analyse_long_clip(str(clips / "bomb.ogg"))
    with pytest.raises(gr.Error, match="bomb.ogg: 700 s is longer than the 5-s limit"):
        app.stream_step(str(clips / "bomb.ogg"), None)


def test_stream_reads_chunk_files(app, clips, tmp_path):
    """The live tab's microphone hands over files (what the page uploads): the same timeline as from arrays."""
    wave, _ = sf.read(clips / "long.wav", dtype="float32")
    state_files = state_arrays = None
    for i, start in enumerate(range(0, 5 * 16000, 8000)):
        piece = wave[start:start + 8000]
        sf.write(tmp_path / f"{i}.wav", piece, 16000, subtype="FLOAT")  # the same samples as the array
        state_files, *_ = app.stream_step(str(tmp_path / f"{i}.wav"), state_files, overlap=0.5, smoothing="none")
        state_arrays, *_ = app.stream_step((16000, piece), state_arrays, overlap=0.5, smoothing="none")
    assert [r["start"] for r in state_files["rows"]] == [0, 1, 2, 3]
    first = app.models().names[0]
    assert [r[first] for r in state_files["rows"]] == [r[first] for r in state_arrays["rows"]]


def test_stream_keeps_a_bounded_table(app, monkeypatch):
    monkeypatch.setattr(app, "LIVE_TABLE_ROWS", 3)
    state = None
    for _ in range(5):  # silence: no model runs, rows still pile up
        state, current, table, *_ = app.stream_step((16000, np.zeros(32000, dtype=np.float32)), state, overlap=0.0)
    assert len(state["rows"]) == 3 and len(table) == 3 and list(table["start"]) == [4.0, 6.0, 8.0]


def test_stream_marks_silence_without_running_a_model(app, clips, monkeypatch):
    wave, _ = sf.read(clips / "long.wav", dtype="float32")
    calls = []
    real = app.models("live").predict
    monkeypatch.setattr(app.models("live"), "predict", lambda w: calls.append(len(w)) or real(w))
    state = None
    for start in range(0, len(wave), 8000):  # 0.5-s microphone chunks, int16 at 16 kHz
        chunk = (16000, (wave[start:start + 8000] * 32767).astype(np.int16))
        state, current, table, latency, *labels = app.stream_step(chunk, state, overlap=0.0, smoothing="none")
    first = app.models().names[0]
    silent = table[first] == "silence"
    assert list(silent) == [False, True, False, True, False, True]  # speech / 2-s gaps alternate
    assert len(calls) == 3 and all(n == 32000 for n in calls)  # only the speech segments reached the model
    assert (table.loc[~silent, f"{first} ms"] > 0).all() and (table.loc[~silent, f"{first} %"] > 0).all()
    assert len(labels) == len(app.models().names)


def test_stream_overlap_and_smoothing(app, clips):
    wave, _ = sf.read(clips / "long.wav", dtype="float32")
    state, current, table, latency, *labels = app.stream_step((16000, wave[:6 * 16000]), None, overlap=0.5, smoothing="ema")
    assert list(table["start"]) == [0, 1, 2, 3, 4]  # 2-s windows every second
    assert "%" in current and "ms" in latency
    assert all(sum(l.values()) == pytest.approx(1.0, abs=1e-5) for l in labels)  # confidences shown in the live tab


def test_smoother_keeps_a_label_through_one_odd_window():
    from ser_hf.inference import ProbabilitySmoother

    a, b = {"angry": 0.8, "sad": 0.2}, {"angry": 0.3, "sad": 0.7}
    for method in ("ema", "majority"):
        s = ProbabilitySmoother(method, alpha=0.5, window=3)
        tops = [max(p, key=p.get) for p in (s.update(a), s.update(a), s.update(b), s.update(a))]
        assert tops == ["angry"] * 4, method
    raw = ProbabilitySmoother("none")
    assert [max(p, key=p.get) for p in (raw.update(a), raw.update(b))] == ["angry", "sad"]
    with pytest.raises(ValueError, match="smoothing method 'median'"):
        ProbabilitySmoother("median")


def test_long_clip_timeline_and_distribution(app, clips):
    import matplotlib.figure

    table, figure, distributions, summary = app.analyse_long_clip(str(clips / "long.wav"))
    assert len(table) == 6 and list(table["start"]) == [0, 2, 4, 6, 8, 10]
    assert isinstance(figure, matplotlib.figure.Figure) and len(figure.axes) == len(app.models().names)
    assert list(distributions) == app.models().names
    for d in distributions.values():  # over voiced segments only
        assert "silence" not in d and sum(d.values()) == pytest.approx(1.0)
    assert "3 silent" in summary and "3 voiced" in summary
    out = app._long_outputs(str(clips / "long.wav"), "model's classes")
    assert len(out) == 3 + len(app.models().names)


def test_config_fast_cpu_tabs_are_checked(app, tmp_path):
    shipped = yaml.safe_load((ROOT / "space" / "config.yaml").read_text())
    for bad, message in (({"fast_cpu": True}, "replaced in 0.2.0 by 'fast_cpu_tabs'"),
                         ({"fast_cpu_tabs": ["files"]}, "fast_cpu_tabs .*must be a list of file, live, long_clip")):
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump({**shipped, **bad}))
        with pytest.raises(ValueError, match=message):
            app.load_config(path)


def test_config_upload_cap_must_hold_the_longest_clip(app, tmp_path):
    config = yaml.safe_load((ROOT / "space" / "config.yaml").read_text())
    assert config["max_upload_mb"] >= app.upload_mb_needed(config["max_long_clip_seconds"])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({**config, "max_upload_mb": 25}))
    with pytest.raises(ValueError, match="max_upload_mb 25 is below the 117 MB that max_long_clip_seconds 600 needs"):
        app.load_config(tmp_path / "config.yaml")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({**config, "long_clip_concurrency": 0, "live_max_waiting": 2.5}))
    with pytest.raises(ValueError, match="live_max_waiting: 2.5, long_clip_concurrency: 0: must be a whole number >= 1"):
        app.load_config(tmp_path / "config.yaml")
    del config["silence_rms"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError, match="config.yaml: missing key.*silence_rms"):
        app.load_config(tmp_path / "config.yaml")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def running_app(app):
    port = _free_port()
    demo = app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_gradio_client_drives_the_running_app(running_app, app, clips):
    from gradio_client import Client, handle_file

    n = len(app.models().names)
    client = Client(running_app, verbose=False)
    result = client.predict(handle_file(str(clips / "stereo_44k.wav")), "model's classes", api_name="/predict_clip")
    assert len(result) == n + 1 and result[0]["label"] in set(SEVEN) and "ms" in result[-1]
    *_, summary = client.predict(handle_file(str(clips / "long.wav")), "model's classes", api_name="/analyse_long_clip")
    assert "6 segments" in summary


@pytest.mark.slow
def test_real_browser_drives_every_tab(running_app, app, clips, request):
    from tests.space.browser import drive_space

    kind = request.node.callspec.params["app"]
    seen = drive_space(running_app, app.models().names, set(SEVEN), clips, ARTIFACTS / f"space_{kind}")
    assert "segments" in seen["long_summary"] and seen["live"]
    assert (ARTIFACTS / f"space_{kind}" / "long_clip_tab.png").stat().st_size > 10_000


@pytest.fixture(scope="module")
def limited_app(tmp_path_factory, clips):
    """The app with one worker and a short waiting line per tab, running on a free port; and a 600-s speech clip."""
    d = tmp_path_factory.mktemp("limited")
    tiny_classifier(d / "model", SEVEN)
    config = yaml.safe_load((ROOT / "space" / "config.yaml").read_text())
    config.update(file_concurrency=1, file_max_waiting=1, live_concurrency=1, live_max_waiting=1,
                  long_clip_concurrency=1, long_clip_max_waiting=2)
    (d / "config.yaml").write_text(yaml.safe_dump(config))
    mp = pytest.MonkeyPatch()
    mp.setenv("SER_HF_SPACE_CONFIG", str(d / "config.yaml"))
    mp.setenv("SER_HF_SPACE_MODELS", f"tiny={d / 'model'}")
    module = load_app("space_app_limited")
    mp.undo()
    wave, _ = sf.read(clips / "long.wav", dtype="float32")
    # the longest clip the tab takes: three of them keep it busy for seconds even on a quiet machine
    sf.write(d / "long600.wav", np.tile(wave, 50)[: 600 * 16000], 16000)
    sf.write(d / "chunk.wav", wave[:8000], 16000)  # 0.5 s of speech: one microphone chunk
    port = _free_port()
    demo = module.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield module, f"http://127.0.0.1:{port}/", demo, d
    demo.close()


def _wait_for(predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_long_clips_do_not_block_the_live_tab_and_a_full_line_says_busy(limited_app):
    """Three long clips occupy the Long-clip tab (one running, two waiting: its whole line); meanwhile a live stream
    is served, chunk after chunk, before the last long clip is done. A fourth long clip, and a live stream past the
    live tab's line (one streaming, one waiting), get the "Busy: ... Try again" answer at once."""
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import ValidationError

    from tests.space.client import Busy, LiveStream

    app, url, demo, d = limited_app
    client = Client(url, verbose=False)
    long_jobs = [client.submit(handle_file(str(d / "long600.wav")), "model's classes", api_name="/analyse_long_clip")
                 for _ in range(3)]
    _wait_for(lambda: app.waiting_in(demo, "long_clip") == 2, "two long clips waiting behind the first")
    start = time.monotonic()
    with pytest.raises(ValidationError, match="Busy: 2 requests are waiting for the Long clip tab. Try again"):
        client.predict(handle_file(str(d / "long600.wav")), "model's classes", api_name="/analyse_long_clip")
    assert time.monotonic() - start < 10  # refused at once, not after the clips ahead of it

    live, waiting, served = LiveStream(client, smoothing="none"), LiveStream(client), {}
    try:
        live.open(d / "chunk.wav")
        outputs = [live.send(d / "chunk.wav")[0] for _ in range(4)]  # 2.5 s of audio: two 2-s windows (hop 1 s)
        assert not long_jobs[-1].done(), "the long clips were done before the live stream was served: nothing shown"
        assert "%" in outputs[-1][1] and "ms" in outputs[-1][3]  # a label with its confidence; the latency line

        # the only live slot is taken: a second stream waits in the live line, a third is told "busy"
        opener = threading.Thread(target=lambda: served.setdefault("first", waiting.open(d / "chunk.wav")), daemon=True)
        opener.start()
        _wait_for(lambda: app.waiting_in(demo, "live") == 1, "a live stream waiting for the slot")
        refused = LiveStream(client)
        with pytest.raises(Busy, match="Busy: all 1 live streams are in use and 1 more are waiting. Try again"):
            refused.open(d / "chunk.wav")
        refused.close()
    finally:
        live.close()
    opener.join(timeout=60)
    assert "first" in served  # the waiting stream got the slot once the first one closed
    waiting.close()
    for job in long_jobs:
        assert "300 segments" in job.result(timeout=600)[-1]
