"""A staged Space (``python -m ser_hf.publish push-space --dry-run``) runs from a virtualenv built from its own
requirements.txt alone, and Chromium drives every tab of it. A local model folder stands in for the Hub id."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.space.test_app import SEVEN, tiny_classifier

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_staged_space_runs_from_a_clean_virtualenv(tmp_path):
    import numpy as np
    import soundfile as sf
    import soxr

    from ser_hf.data.synth import render_long_clip

    stage = tmp_path / "space"
    proc = subprocess.run(
        [sys.executable, "-m", "ser_hf.publish", "push-space", "--repo-id", "someone/ser-demo",
         "--model", "someone/ser-quickstart@run-a", "--dry-run", "--staging", str(stage)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "someone/ser-quickstart@run-a" in (stage / "config.yaml").read_text()

    venv = tmp_path / "venv"
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(stage / "requirements.txt")],
                         capture_output=True, text=True, timeout=1500)
    assert pip.returncode == 0, pip.stdout[-2000:] + pip.stderr[-2000:]
    clean = subprocess.run([str(venv / "bin" / "python"), "-c", "import datasets"], capture_output=True)
    assert clean.returncode != 0  # the Space's environment really lacks the training stack

    model = tiny_classifier(tmp_path / "model", SEVEN)
    clips = tmp_path / "clips"
    clips.mkdir()
    wave, _ = render_long_clip(["angry", "sad", "happy"], silence_between=2.0)
    sf.write(clips / "long.wav", wave, 16000)
    sf.write(clips / "mic.wav", wave[:6 * 16000], 16000)
    stereo = np.stack([wave[:32000], wave[:32000] * 0.5], axis=1)
    sf.write(clips / "stereo_44k.wav", soxr.resample(stereo, 16000, 44100), 44100)
    sf.write(clips / "silent.wav", np.zeros(32000, dtype=np.float32), 16000)
    (clips / "text.wav").write_text("this is not audio")

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(SER_HF_SPACE_MODELS=f"ser-quickstart={model}", GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
               GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PATH=f"{venv / 'bin'}:{env['PATH']}")
    log = open(tmp_path / "app.log", "w")
    server = subprocess.Popen([str(venv / "bin" / "python"), "app.py"], cwd=stage, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 240
        while True:
            try:
                urllib.request.urlopen(url, timeout=5)
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "app.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "the staged app did not answer in 240 s"
                time.sleep(1)
        from tests.space.browser import drive_space

        seen = drive_space(url, ["ser-quickstart"], set(SEVEN), clips, ROOT / "tests" / "artifacts" / "space_staged")
        assert seen["file_labels"][0] in SEVEN and "segments" in seen["long_summary"]
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
