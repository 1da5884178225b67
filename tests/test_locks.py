"""ser_hf.locks: the run folder's lock, and partial cache entries that name their host and keep a lease, so that
machines sharing one cache never remove each other's live work. Two "hosts" are two UTS + PID namespaces
(``unshare``, as root) where this machine allows it, else two injected host names ($SER_HF_HOST)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ser_hf.locks import LEASE_EXPIRY, OutputDirInUse, OutputDirLock, host_name

ROOT = Path(__file__).resolve().parents[1]

HOLD_LOCK = """
import sys, time
from ser_hf.locks import OutputDirLock
OutputDirLock(sys.argv[1], "launch-a").acquire("train.py --recipe a")
print("locked", flush=True)
time.sleep(120)
"""


def test_the_run_folder_lock_refuses_a_live_holder_and_takes_over_a_gone_one(tmp_path, caplog, monkeypatch):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(OutputDirInUse) as caught:
            OutputDirLock(out, "launch-b").acquire()
        assert str(caught.value).startswith(f"output_dir {out} is in use by another job: pid {holder.pid} on host "
                                            f"{host_name()} (launch launch-a, started ")
        assert "train.py --recipe a" in str(caught.value) and "\n" not in str(caught.value)
    finally:
        holder.kill()  # SIGKILL: the lock file still names it
        holder.wait()
    with caplog.at_level("WARNING", logger="ser_hf.locks"):
        lock = OutputDirLock(out, "launch-c").acquire()
    assert f"taking over the lock of pid {holder.pid} on host {host_name()}" in caplog.text
    assert "its process is gone" in caplog.text
    assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    lock.release()
    assert lock.path.read_text() == ""  # released: emptied, never deleted (a flock always concerns one file)

    # Another machine's holder: its process id means nothing here; it lives while it renews its lease (the file's
    # mtime, every LOCK_RENEWAL s): a job requeued onto another node takes over once the old one renews nothing.
    import threading

    import ser_hf.locks as locks

    monkeypatch.setattr(locks, "LOCK_RENEWAL", 0.5)
    monkeypatch.setattr(locks, "LOCK_GONE_AFTER", 3.0)
    other = {"host": "node-9.cluster", "pid": 1, "start": None, "launch": "launch-x", "started": "", "command": ""}
    lock.path.write_text(json.dumps(other))
    stop = threading.Event()

    def renew():  # what the holder's lease thread does on node-9
        while not stop.wait(0.3):
            os.utime(lock.path)

    renewer = threading.Thread(target=renew)
    renewer.start()
    try:
        with pytest.raises(OutputDirInUse, match="pid 1 on host node-9.cluster"):
            OutputDirLock(out, "launch-d").acquire()
    finally:
        stop.set()
        renewer.join()
    for label, age, why in (("gone", 0, "it did not renew its lease for 3 s"),
                            ("expired", LEASE_EXPIRY + 60, f"its lease is older than {LEASE_EXPIRY:.0f} s")):
        lock.path.write_text(json.dumps(other))
        os.utime(lock.path, (time.time() - age, time.time() - age))
        caplog.clear()
        started = time.monotonic()
        with caplog.at_level("WARNING", logger="ser_hf.locks"):
            OutputDirLock(out, f"launch-{label}").acquire().release()
        assert f"taking over the lock of pid 1 on host node-9.cluster" in caplog.text and why in caplog.text, label
        assert time.monotonic() - started < (5 if label == "gone" else 1)


PREPARE_SLOWLY = """
import logging, sys, time
import ser_hf.data.prepare as prepare
from ser_hf.data.corpora import CORPORA

logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
decode = prepare._decode_file
def slowly(*args, **kwargs):  # 120 files in about 6 s: the other host starts while this one writes
    time.sleep(0.05)
    return decode(*args, **kwargs)
prepare._decode_file = slowly
ds, report = prepare.prepare_corpus(CORPORA["ravdess"], sys.argv[1], cache_dir=sys.argv[2], num_proc=1)
print("rows", len(ds), report.kept, flush=True)
"""


def as_host(name: str) -> tuple[list[str], dict]:
    """Command prefix and environment that run a command as machine ``name``: its own UTS and PID namespaces
    (same process ids as the other "machine", another host name) where unshare works, else $SER_HF_HOST."""
    prefix = ["unshare", "--uts", "--pid", "--fork", "--mount-proc", "sh", "-c", 'hostname "$0" && "$@"', name]
    try:
        works = subprocess.run([*prefix, "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        works = False
    return (prefix, {}) if works else ([], {"SER_HF_HOST": name})


@pytest.mark.slow
def test_two_hosts_preparing_into_one_shared_cache_never_remove_each_others_partial(tmp_path):
    """Host A is writing its partial entry when host B, on the same cache, cleans up stale partials and prepares the
    same corpus. In namespaces both writers have the same process id, so pid-only names would be one folder."""
    from ser_hf.data.synth import ensure_synthetic

    corpus, cache = ensure_synthetic("ravdess", size="tiny"), tmp_path / "shared_cache"
    prepared = cache / "prepared"
    runs, partials = [], set()
    for host in ("hostA", "hostB"):
        prefix, extra = as_host(host)
        log = tmp_path / f"{host}.log"
        runs.append((subprocess.Popen([*prefix, sys.executable, "-c", PREPARE_SLOWLY, str(corpus), str(cache)],
                                      env={**os.environ, "PYTHONPATH": str(ROOT), **extra}, cwd=ROOT,
                                      stdout=log.open("w"), stderr=subprocess.STDOUT), log))
        deadline = time.monotonic() + 120
        while not any(f".partial-{host}-" in p.name for p in (list(prepared.iterdir()) if prepared.is_dir() else [])):
            assert runs[-1][0].poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.05)
        partials |= {p.name for p in prepared.iterdir() if ".partial-" in p.name}
    for proc, log in runs:
        assert proc.wait(timeout=180) == 0, log.read_text()[-3000:]
    texts = [log.read_text() for _, log in runs]
    for text in texts:
        assert "rows 120 120" in text
        assert "left by a preparation that did not finish" not in text  # nobody removed anything
    assert len(partials) == 2 and all(".partial-" in name for name in partials)  # one per host, both live at once
    assert [p.name for p in prepared.iterdir()] == [sorted(partials)[0].split(".partial-")[0]]  # one entry, no partial
    if as_host("x")[0]:  # namespaces: the same process id on both hosts
        assert len({name.rsplit("-", 1)[1] for name in partials}) == 1, partials
