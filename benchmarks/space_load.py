"""The Space under load: N concurrent users on the running app, a mix of files, live streams and long clips.

    python benchmarks/space_load.py [--users 16] [--seconds 180] [--warmup-seconds 60] [--max-requests 20000]
                                    [--models "name=DIR;name2=DIR2"] [--json PATH]

Starts the shipped Space (``space/app.py`` with ``space/config.yaml``: its limits and settings) in its own process on
127.0.0.1 with three models: the shipped one (``outputs/quickstart`` when ``make quickstart`` has written it, else a
tiny random HuBERT under that name) and two more tiny random HuBERTs with their own encoders (three encoder passes
per clip), or ``--models``. First one user alone sends one request of each kind, one after another (the baseline
latencies, measured in the same run). Then ``--users`` threads act as visitors, each with its own ``gradio_client``
session, for ``--warmup-seconds`` (not counted) and then ``--seconds``: each picks an action, waits 0.5-3 s, picks again:

* **file** (50 %): a 2-60-s clip of synthetic speech (espeak-ng, with pauses) in one of WAV 16 kHz mono, WAV 44.1 kHz
  stereo, FLAC 48 kHz, MP3 and OGG, through ``/predict_clip``; one in 30 is a 64-kB OGG that decodes to 700 s of
  silence (a "decompression bomb"), which must be refused with the length message;
* **live** (35 %): a 10-30-s live-microphone stream, a 0.5-s 48-kHz chunk every 0.5 s, driven as the page drives
  it (tests/space/client.py: gradio_client 2.7 cannot follow a stream event);
* **long clip** (15 %): a 120-, 300- or 600-s recording through ``/analyse_long_clip``.

Reported per tab: requests served, refused busy (the Space's "Busy: ..." line of a tab, or Gradio's full queue),
refused as bad input (the bombs), failed (anything else: errors, wrong outputs, time-outs), and p50 / p95 / max
latency (file and long clip: submit to result, upload and waiting included; live: each chunk from upload to its
output, and a stream's wait for its first output), with the lone user's p50 and max beside them. The server's resident memory (RSS) is read when it is idle
after the warm-up (which brings it to its working state: worker threads started, per-thread buffers and caches
filled) and again after the run (its peak in between too); the target (issue 24) is zero failed
requests and memory after the run within 10 % of after the warm-up, with 16 users for at least 3 minutes on
2 cores. Bounded: no new action after the deadline or ``--max-requests``; in-flight work gets ``--grace``
seconds, then counts as failed; the server is stopped at the end. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ACTIONS = {"file": 0.50, "live": 0.35, "long_clip": 0.15}
VIEW = "model's classes"
CHUNK_SECONDS = 0.5  # the page's stream_every


def tiny_models(folder: Path) -> dict[str, str]:
    """The shipped config's model (its real folder when it exists) plus two tiny random HuBERTs of their own."""
    from tests.space.test_app import SEVEN, tiny_classifier

    shipped = yaml.safe_load((ROOT / "space" / "config.yaml").read_text())["models"]
    models = {}
    for i, (name, source) in enumerate(shipped.items()):
        # as the app resolves it: beside its config, else from the working directory (the repository here)
        beside = (ROOT / "space" / str(source)).resolve()
        local = beside if beside.exists() else (ROOT / str(source)).resolve()
        models[name] = str(local) if local.is_dir() else str(tiny_classifier(folder / name, SEVEN, seed=i))
    for i in (1, 2):
        models[f"extra{i}"] = str(tiny_classifier(folder / f"extra{i}", SEVEN, seed=100 + i))
    return models


def speech(seconds: float, seed: int) -> np.ndarray:
    """``seconds`` of synthetic emotional speech with pauses (16 kHz), from a 63-s rendering cycled."""
    from ser_hf.data.synth import render_long_clip

    emotions = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"] * 3
    wave, _ = render_long_clip(emotions, silence_between=1.0, seed=seed)
    return np.tile(wave, int(seconds * 16000 / len(wave)) + 1)[: int(seconds * 16000)]


def write_clip(path: Path, wave: np.ndarray) -> Path:
    """``wave`` (16 kHz) in the format ``path``'s name asks for (the stem carries the rate and channels)."""
    import soxr

    if "44k_stereo" in path.stem:
        wave = soxr.resample(wave, 16000, 44100)
        sf.write(path, np.stack([wave, wave * 0.8], axis=1), 44100)
    elif path.suffix in (".mp3", ".ogg"):
        tmp = path.with_suffix(".tmp.wav")
        sf.write(tmp, wave, 16000)
        codec = ["-c:a", "libmp3lame", "-b:a", "64k"] if path.suffix == ".mp3" else ["-c:a", "libvorbis", "-q:a", "3"]
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(tmp), *codec, str(path)], check=True, timeout=600)
        tmp.unlink()
    elif path.suffix == ".flac":
        sf.write(path, soxr.resample(wave, 16000, 48000), 48000)
    else:
        sf.write(path, wave, 16000)
    return path


def make_material(folder: Path, seed: int = 0) -> dict[str, list[Path]]:
    """Clips for both phases. The File tab gets 24 files for the warm-up and 48 others for the run: every upload
    has a length of its own, as in real use, so caches keyed by input shape show up in the memory figures."""
    rng = random.Random(seed)
    (folder / "chunks").mkdir(parents=True, exist_ok=True)
    pool = speech(600, seed)
    files = []
    for i in range(72):
        seconds = rng.uniform(2, 60)
        start = rng.uniform(0, 600 - seconds)
        kind = ["16k.wav", "44k_stereo.wav", "48k.flac", "mp3", "ogg"][i % 5]
        name = f"file{i:02d}_{seconds:.1f}s_{kind}" if "." in kind else f"file{i:02d}_{seconds:.1f}s.{kind}"
        files.append(write_clip(folder / name, pool[int(start * 16000): int((start + seconds) * 16000)]))
    bomb = folder / "bomb_700s_silence.ogg"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "700",
                    "-c:a", "libvorbis", "-q:a", "0", str(bomb)], check=True, timeout=600)
    longs = [write_clip(folder / "long120_16k.wav", pool[: 120 * 16000]), write_clip(folder / "long300.mp3", pool[: 300 * 16000]),
             write_clip(folder / "long600_16k.wav", pool)]
    import soxr

    at48k = soxr.resample(pool[: 60 * 16000], 16000, 48000)
    step = int(CHUNK_SECONDS * 48000)
    chunks = []
    for i in range(len(at48k) // step):  # what the page uploads: int16 WAV at the microphone's rate
        chunks.append(folder / "chunks" / f"{i:03d}.wav")
        sf.write(chunks[-1], at48k[i * step:(i + 1) * step], 48000, subtype="PCM_16")
    return {"file_warmup": files[:24], "file": files[24:], "bomb": [bomb], "long_clip": longs, "chunks": chunks}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6 if path.exists() else 0.0


def start_server(models: dict[str, str], work: Path) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "SER_HF_SPACE_MODELS": ";".join(f"{k}={v}" for k, v in models.items()),
           "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HUB_OFFLINE": "1", "GRADIO_TEMP_DIR": str(work / "gradio_uploads"), "PYTHONPATH": str(ROOT)}
    log = open(work / "server.log", "w")
    server = subprocess.Popen([sys.executable, str(ROOT / "space" / "app.py")], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while True:
        try:
            urllib.request.urlopen(url, timeout=5)
            return server, url
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Space did not start:\n" + (work / "server.log").read_text()[-3000:])
            time.sleep(1)


class Tally:
    """Outcomes and latencies per tab, shared by the user threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.failures: list[str] = []
        self.started = 0

    def take(self, budget: int) -> bool:
        with self.lock:
            self.started += 1
            return self.started <= budget

    def add(self, tab: str, outcome: str, seconds: float | None = None, latency_key: str | None = None, error: str = ""):
        with self.lock:
            self.counts[tab][outcome] += 1
            if seconds is not None:
                self.latency[latency_key or tab].append(seconds)
            if outcome == "failed" and len(self.failures) < 20:
                self.failures.append(f"{tab}: {error[:300]}")


def classify(err: Exception) -> str:
    from tests.space.client import BUSY_WORDS

    text = str(err)
    if any(w in text for w in BUSY_WORDS):
        return "busy"
    if "longer than the" in text and "limit of this tab" in text:
        return "refused_bad_input"
    return "failed"


class User(threading.Thread):
    def __init__(self, index: int, url: str, material: dict, tally: Tally, n_models: int, deadline: float,
                 hard_end: float, budget: int):
        super().__init__(daemon=True)
        from gradio_client import Client

        self.rng = random.Random(index)
        self.client = Client(url, verbose=False)
        self.live_session = f"load-user-{index}-{self.rng.getrandbits(32):08x}"  # one page: one session for its streams
        self.material, self.tally, self.n_models = material, tally, n_models
        self.deadline, self.hard_end, self.budget = deadline, hard_end, budget

    def run(self) -> None:
        time.sleep(self.rng.uniform(0, 2))  # visitors do not arrive in step
        while time.monotonic() < self.deadline and self.tally.take(self.budget):
            action = self.rng.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]
            try:
                getattr(self, action)()
            except Exception as err:  # noqa: BLE001 - every outcome is counted, none ends the user
                outcome = classify(err)
                self.tally.add(action, outcome, error=f"{type(err).__name__}: {err}")
            time.sleep(self.rng.uniform(0.5, 3.0))

    def _request(self, api_name: str, path: Path) -> tuple:
        from gradio_client import handle_file

        start = time.monotonic()
        job = self.client.submit(handle_file(str(path)), VIEW, api_name=api_name)
        result = job.result(timeout=max(self.hard_end - time.monotonic(), 1))
        return result, time.monotonic() - start

    def bomb(self) -> None:
        """The 64-kB OGG of 700 s: it must be refused with the length message (counted apart), never served."""
        try:
            self._request("/predict_clip", self.material["bomb"][0])
        except Exception as err:  # noqa: BLE001
            self.tally.add("file", classify(err), error=f"bomb: {err}")
            return
        self.tally.add("file", "failed", error="a 700-s bomb was accepted")

    def file(self, path: Path | None = None) -> None:
        if path is None and self.rng.random() < 1 / 30:
            return self.bomb()
        result, seconds = self._request("/predict_clip", path or self.rng.choice(self.material["file"]))
        if len(result) != self.n_models + 1 or not all(isinstance(r, dict) and r.get("label") for r in result[:-1]):
            raise RuntimeError(f"unexpected File-tab output {str(result)[:200]}")
        self.tally.add("file", "ok", seconds)

    def long_clip(self, path: Path | None = None) -> None:
        result, seconds = self._request("/analyse_long_clip", path or self.rng.choice(self.material["long_clip"]))
        if "segments of" not in str(result[-1]):
            raise RuntimeError(f"unexpected Long-clip output {str(result[-1])[:200]}")
        self.tally.add("long_clip", "ok", seconds)

    def live(self, seconds: float | None = None) -> None:
        from tests.space.client import LiveStream

        chunks = self.material["chunks"]
        n = int((seconds or self.rng.uniform(10, 30)) / CHUNK_SECONDS)
        first = self.rng.randrange(len(chunks) - n)
        stream = LiveStream(self.client, VIEW, timeout=max(self.hard_end - time.monotonic(), 1))
        stream.session_hash = self.live_session
        try:
            start = time.monotonic()
            stream.open(chunks[first])
            self.tally.add("live", "stream_opened", time.monotonic() - start, latency_key="live_first_output")
            for chunk in chunks[first + 1: first + n]:
                if time.monotonic() >= self.deadline:
                    break
                tick = time.monotonic()
                outputs, seconds = stream.send(chunk)
                if len(outputs) != 4 + self.n_models or not isinstance(outputs[1], str):
                    raise RuntimeError(f"unexpected live output {str(outputs)[:200]}")
                self.tally.add("live", "ok", seconds)
                time.sleep(max(0.0, CHUNK_SECONDS - (time.monotonic() - tick)))
        finally:
            stream.close()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def run_phase(url: str, material: dict, n_models: int, users: int, seconds: float, grace: float, budget: int) -> tuple[Tally, float]:
    """``users`` visitors for ``seconds``; returns what they met and the wall time (in-flight work included)."""
    tally = Tally()
    start = time.monotonic()
    deadline, hard_end = start + seconds, start + seconds + grace
    threads = [User(i, url, material, tally, n_models, deadline, hard_end, budget) for i in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(hard_end - time.monotonic(), 0) + 30)
    stuck = sum(t.is_alive() for t in threads)
    if stuck:
        tally.add("all", "failed", error=f"{stuck} users still waiting {grace:.0f} s after the deadline")
    return tally, time.monotonic() - start


def one_user(url: str, material: dict, n_models: int, grace: float) -> Tally:
    """The baseline, in the same run: one visitor alone, one request after another: a file of each format, the
    bomb, a 10-s live stream and each long clip. It also serves every kind of request once before the warm-up."""
    tally = Tally()
    far = time.monotonic() + 24 * 3600
    user = User(0, url, material, tally, n_models, deadline=far, hard_end=time.monotonic() + grace, budget=10**9)
    for path in material["file_warmup"][:5]:
        user.file(path)
    user.bomb()
    user.live(seconds=10)
    for path in material["long_clip"]:
        user.long_clip(path)
    return tally


def summarise(tally: Tally) -> dict:
    tabs = {}
    for tab in ("file", "live", "long_clip"):
        counts, lat = tally.counts.get(tab, {}), tally.latency.get(tab, [])
        tabs[tab] = {
            "served": counts.get("ok", 0), "busy": counts.get("busy", 0), "refused_bad_input": counts.get("refused_bad_input", 0),
            "failed": counts.get("failed", 0), "p50_s": percentile(lat, 0.5), "p95_s": percentile(lat, 0.95),
            "max_s": max(lat) if lat else None,
        }
    first = tally.latency.get("live_first_output", [])
    tabs["live"].update(streams=tally.counts.get("live", {}).get("stream_opened", 0),
                        first_output_p50_s=percentile(first, 0.5), first_output_p95_s=percentile(first, 0.95))
    return tabs


def other_load() -> dict:
    """What else ran on the machine: load average and the busiest other processes (the benchmark shares 2 cores)."""
    top = subprocess.run(["ps", "-eo", "pcpu,etimes,args", "--sort=-pcpu"], capture_output=True, text=True).stdout.splitlines()[1:8]
    return {"loadavg": Path("/proc/loadavg").read_text().split()[:3], "top_processes": [line.strip()[:160] for line in top]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=16, help="concurrent visitors")
    parser.add_argument("--seconds", type=float, default=180, help="measured run (after the warm-up)")
    parser.add_argument("--warmup-seconds", type=float, default=60, help="the same load before the run, not counted")
    parser.add_argument("--grace", type=float, default=300, help="seconds in-flight work may take after a deadline")
    parser.add_argument("--max-requests", type=int, default=20000, help="actions started at most, per phase")
    parser.add_argument("--models", default=None, help='"name=DIR;name2=DIR2" instead of the shipped + 2 tiny models')
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    config = yaml.safe_load((ROOT / "space" / "config.yaml").read_text())
    with tempfile.TemporaryDirectory(prefix="ser_hf_space_load_") as tmp:
        work = Path(tmp)
        models = dict(i.split("=", 1) for i in args.models.split(";")) if args.models else tiny_models(work / "models")
        print(f"making clips in {work} ...", flush=True)
        material = make_material(work / "clips")
        before = other_load()
        server, url = start_server(models, work)
        try:
            rss_start = rss_mb(server.pid)
            samples: list[tuple[float, float]] = []
            stop = threading.Event()
            t0 = time.monotonic()

            def sample():
                while not stop.wait(1.0):
                    samples.append((round(time.monotonic() - t0, 1), round(rss_mb(server.pid), 1)))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            print(f"Space at {url} with {list(models)}; one user alone (the baseline)", flush=True)
            alone = one_user(url, material, len(models), args.grace)
            print(f"warm-up {args.warmup_seconds:.0f} s, {args.users} users", flush=True)
            warm, _ = run_phase(url, {**material, "file": material["file_warmup"]}, len(models), args.users,
                                args.warmup_seconds, args.grace, args.max_requests)
            time.sleep(5)  # idle: in-flight buffers released
            rss_warm = rss_mb(server.pid)
            t_run = time.monotonic() - t0
            print(f"RSS after warm-up {rss_warm:.0f} MB; run {args.seconds:.0f} s, {args.users} users", flush=True)
            tally, wall = run_phase(url, material, len(models), args.users, args.seconds, args.grace, args.max_requests)
            time.sleep(5)
            rss_after = rss_mb(server.pid)
            stop.set()
            uploads = folder_mb(work / "gradio_uploads")
            after = other_load()
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        peak = max((mb for t, mb in samples if t >= t_run), default=rss_after)

    tabs, baseline = summarise(tally), summarise(alone)
    failed = sum(t["failed"] for t in tabs.values()) + tally.counts.get("all", {}).get("failed", 0)
    ratio = rss_after / rss_warm
    result = {
        "benchmark": "space_load", "users": args.users, "seconds": args.seconds, "wall_s": round(wall, 1),
        "warmup_seconds": args.warmup_seconds, "models": models, "tabs": tabs, "failed": failed, "failures": tally.failures,
        "one_user": baseline, "one_user_failures": alone.failures,
        "warmup_failed": sum(c.get("failed", 0) for c in warm.counts.values()), "warmup_failures": warm.failures,
        "limits": {k: config[k] for k in config if k.endswith(("_concurrency", "_max_waiting", "_seconds")) or k == "max_upload_mb"},
        "rss_mb": {"start": round(rss_start, 1), "after_warmup": round(rss_warm, 1), "after_run": round(rss_after, 1),
                   "peak_during_run": round(peak, 1), "after_over_warmup": round(ratio, 3)},
        "rss_samples": samples, "uploads_mb": round(uploads, 1), "machine_before": before, "machine_after": after,
        "cpus": os.cpu_count(), "target_met": failed == 0 and ratio <= 1.10 and args.users >= 16 and args.seconds >= 180,
    }

    print(f"\n{args.users} users, {wall:.0f} s (after a {args.warmup_seconds:.0f}-s warm-up), models {list(models)}")
    print(f"{'tab':<10} {'served':>7} {'busy':>5} {'bad in':>6} {'failed':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7}"
          f" {'alone: p50 s':>13} {'max s':>7}")
    fmt = lambda v: f"{v:7.2f}" if v is not None else f"{'-':>7}"  # noqa: E731
    for tab, row in tabs.items():
        print(f"{tab:<10} {row['served']:>7} {row['busy']:>5} {row['refused_bad_input']:>6} {row['failed']:>6} "
              f"{fmt(row['p50_s'])} {fmt(row['p95_s'])} {fmt(row['max_s'])} {fmt(baseline[tab]['p50_s']):>13} "
              f"{fmt(baseline[tab]['max_s'])}")
    live = tabs["live"]
    print(f"live: {live['streams']} streams (per row: one 0.5-s chunk, upload to output); first output "
          f"p50 {fmt(live['first_output_p50_s']).strip()} s, p95 {fmt(live['first_output_p95_s']).strip()} s")
    print(f"failed requests: {failed}" + "".join(f"\n  {f}" for f in tally.failures[:10])
          + (f" (alone: {len(alone.failures)}: {alone.failures[:3]})" if alone.failures else ""))
    print(f"server RSS: start {rss_start:.0f} MB, after warm-up {rss_warm:.0f} MB, after the run {rss_after:.0f} MB "
          f"({100 * (ratio - 1):+.1f} %), peak during the run {peak:.0f} MB; uploads kept {uploads:.0f} MB")
    print(f"load average before / after: {before['loadavg']} / {after['loadavg']}")
    print("target (16 users, >= 180 s, 0 failed, RSS after <= 1.10 x after warm-up): "
          + ("met" if result["target_met"] else "NOT met"))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
