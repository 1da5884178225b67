"""No hangs, one job per run folder, nothing lost on a full disk: train.py as two "machines" on the shipped
multi-node config (two ``accelerate launch`` with machine_rank 0 and 1, gloo on CPU, a host name each), one of
them killed (SIGKILL), frozen (SIGSTOP) or raising in preparation, extraction and training; two jobs on one
output_dir; a checkpoint save on a full file system."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import train

from tests.training.test_distributed import TINY_RUN, free_port, kill, process_tree, wait_all

ROOT = Path(__file__).resolve().parents[1]
PEER_TIMEOUT = 10  # seconds; the stated bound: every other process exits within peer_timeout + 15 s of a fault
BOUND = PEER_TIMEOUT + 15
SLACK = 10  # a loaded 2-core CI machine: process start-up and teardown of the launchers

# The job itself, on the rank that fails: at the phase, it raises, or marks the moment and holds still while the test
# kills or freezes its whole node (launcher, agent and worker) from outside.
FAULTY_TRAIN = """
import os, sys, time
from pathlib import Path

phase, fault, marker = os.environ["FAULT_PHASE"], os.environ["FAULT"], Path(os.environ["FAULT_MARKER"])


def strike():
    marker.write_text(str(os.getpid()))
    if fault == "raise":
        raise RuntimeError(f"injected fault in {phase}")
    while True:
        time.sleep(1)


if os.environ["RANK"] == os.environ["FAULT_RANK"]:
    if phase == "preparation":  # rank 0 prepares the corpora while rank 1 waits for it
        import ser_hf.training.data as data
        data.load_corpora = lambda *args, **kwargs: strike()
    elif phase == "extraction":  # rank 1's shard of the embeddings (rank 0 waits at the barrier after its own)
        from ser_hf.features.encoder_layers import HFEncoderExtractor
        HFEncoderExtractor.embed = lambda self, waves: strike()
    elif phase == "training":  # rank 1's sixth batch (drawn one step ahead): checkpoint-4 is on disk, rank 0 waits
        from ser_hf.training.trainer import AudioCollator  # in the all-reduce of step 5
        collate, batches = AudioCollator.__call__, []
        def call(self, rows):
            if self.train:
                batches.append(len(rows))
                if len(batches) == 6:
                    strike()
            return collate(self, rows)
        AudioCollator.__call__ = call
sys.argv[0] = os.environ["TRAIN_PY"]
exec(compile(Path(sys.argv[0]).read_text(), sys.argv[0], "exec"), {"__name__": "__main__"})
"""


def launch(rank: int, port: int, script: Path, args: list[str], log: Path, env: dict) -> subprocess.Popen:
    """One "machine": the shipped multi-node config, its own host name."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
           str(ROOT / "recipes/accelerate/multi_node.yaml"), "--num_machines", "2", "--num_processes", "2",
           "--machine_rank", str(rank), "--main_process_ip", "127.0.0.1", "--main_process_port", str(port),
           "--mixed_precision", "no", "--dynamo_backend", "no", str(script), *args]
    return subprocess.Popen(cmd, cwd=ROOT, env={**env, "SER_HF_HOST": f"node{rank}"}, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def job_args(out: Path, phase: str) -> list[str]:
    args = ["--recipe", "quickstart", f"output_dir={out}", *TINY_RUN, f"peer_timeout={PEER_TIMEOUT}"]
    if phase == "extraction":  # the probe method: every process extracts its shard, then a barrier
        args += ["method=probe", "probe_epochs=5", "plots=false", "seed=11"]
    return args


CASES = [("preparation", "stop"), ("extraction", "raise"), ("training", "kill"), ("training", "stop")]
# The other five of the 3 x 3: the same paths; SER_HF_FAULT_MATRIX=full runs them too (about 45 s each).
MORE = [("preparation", "raise"), ("preparation", "kill"), ("extraction", "kill"), ("extraction", "stop"),
        ("training", "raise")]
FULL = os.environ.get("SER_HF_FAULT_MATRIX") == "full"


@pytest.mark.slow
@pytest.mark.parametrize("phase,fault", CASES + [pytest.param(*case, marks=pytest.mark.skipif(
    not FULL, reason="SER_HF_FAULT_MATRIX=full runs the whole 3 x 3")) for case in MORE])
def test_a_node_that_fails_stops_the_other_naming_it(tmp_path, phase, fault):
    out, marker, script = tmp_path / "run", tmp_path / "struck", tmp_path / "faulty_train.py"
    script.write_text(FAULTY_TRAIN)
    failing = 0 if phase == "preparation" else 1
    # An empty cache of their own: in preparation, node 0 is decoding the corpora while node 1 waits for them.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT), "SER_HF_CACHE": str(tmp_path / "cache"), "TRAIN_PY": str(ROOT / "train.py"),
           "FAULT_RANK": str(failing), "FAULT_PHASE": phase, "FAULT": fault, "FAULT_MARKER": str(marker)}
    logs = [tmp_path / f"node{rank}.log" for rank in (0, 1)]
    port = free_port()
    nodes = [launch(rank, port, script, job_args(out, phase), logs[rank], env) for rank in (0, 1)]
    other = nodes[1 - failing]
    try:
        deadline = time.monotonic() + 400
        while not marker.exists():
            for node, log in zip(nodes, logs):
                assert node.poll() is None, log.read_text()[-4000:]
            assert time.monotonic() < deadline, "the fault was never reached"
            time.sleep(0.1)
        struck = time.monotonic()
        if phase == "training":
            assert (out / "checkpoint-4" / "trainer_state.json").is_file()
        if fault != "raise":  # the whole machine: launcher, agent and worker
            for pid in process_tree(nodes[failing].pid):
                try:
                    os.kill(pid, signal.SIGKILL if fault == "kill" else signal.SIGSTOP)
                except ProcessLookupError:
                    pass
        try:
            status = other.wait(timeout=BOUND + SLACK + 60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"node {1 - failing} still running {BOUND + SLACK + 60} s after the fault:\n"
                        + logs[1 - failing].read_text()[-3000:])
        elapsed = time.monotonic() - struck
    finally:
        kill(nodes)
    text = logs[1 - failing].read_text()
    print(f"{phase}, {fault} on node {failing}: node {1 - failing} exited with status {status} {elapsed:.1f} s later")
    assert status != 0, text[-3000:]
    assert elapsed <= BOUND + SLACK, f"{elapsed:.0f} s"
    named = f"rank {failing} (node {failing}, host node{failing}, pid "
    assert f"ERROR ser_hf.guards: rank {1 - failing} stops: {named}" in text, text[-3000:]
    if fault == "raise":
        assert f") failed: RuntimeError: injected fault in {phase}" in text
        assert nodes[failing].returncode not in (0, None)
    else:
        assert f"has shown no sign of life for {PEER_TIMEOUT}" in text
    if (phase, fault) == ("training", "stop"):  # rank 0 waits in the all-reduce, which nothing can interrupt
        assert "rank 0: the main thread is stuck (in a collective?): exiting with status 1" in text
    else:  # the main thread stops itself, and the job ends with one line
        assert f"train.py: {named}" in text

    if (phase, fault) == ("training", "kill"):  # the same command again: resumes from checkpoint-4
        port = free_port()
        wait_all([launch(rank, port, ROOT / "train.py", job_args(out, phase), logs[rank], env) for rank in (0, 1)],
                 logs, timeout=400)
        again = logs[0].read_text()
        assert f"resuming from {out / 'checkpoint-4'} (global step 4)" in again
        assert "taking over the lock" not in again  # node 0 let go of it when it stopped
        results = json.loads((out / "results.json").read_text())
        assert results["run"]["global_step"] == 8 and results["run"]["steps_this_launch"] == 4


@pytest.mark.slow
def test_a_second_job_on_the_same_output_dir_refuses_and_a_dead_holder_is_taken_over(tmp_path):
    """Two independent jobs (two train.py, as `accelerate launch --num_machines 2` without the config starts, each
    of world size 1) on one output_dir at the same moment: one runs, the other stops with one line naming it. Once
    the winner is killed, the next launch takes its lock over."""
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "train.py", "--recipe", "quickstart", f"output_dir={out}", *TINY_RUN]
    logs = [tmp_path / f"job{i}.log" for i in (0, 1)]
    jobs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT) for log in logs]
    try:
        deadline = time.monotonic() + 120
        while all(job.poll() is None for job in jobs):
            assert time.monotonic() < deadline, "neither job stopped"
            time.sleep(0.2)
        loser = next(i for i, job in enumerate(jobs) if job.poll() is not None)
        winner = jobs[1 - loser]
        assert jobs[loser].returncode != 0 and winner.poll() is None
        lines = logs[loser].read_text().strip().splitlines()
        assert lines[-1].startswith(f"train.py: output_dir {out} is in use by another job: pid {winner.pid} on host "), lines
        assert len([line for line in lines if "Traceback" in line]) == 0
    finally:
        kill(jobs)
    third = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in third.stdout:
            if "taking over the lock" in line:
                assert f"of pid {winner.pid} on host " in line and "its process is gone" in line
                break
        else:
            pytest.fail("the third job did not take the dead holder's lock over")
    finally:
        third.kill()
        third.wait()


@pytest.mark.slow
def test_a_full_disk_during_a_checkpoint_keeps_the_last_one_and_a_relaunch_resumes(small_disk, monkeypatch):
    """The run folder on a small file system that fills up after checkpoint-2: saving checkpoint-4 stops with one
    line naming it and the checkpoint that is intact; the cut-off folder is gone; freed, a relaunch resumes."""
    from transformers import TrainerCallback

    import ser_hf.training.run as run
    from ser_hf.locks import StorageFullError

    from tests.conftest import fill_disk

    disk = small_disk("32m")
    out = disk / "run"
    fillers = []

    class FillDiskAfterFirstCheckpoint(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == 2:
                fillers.append(fill_disk(disk))

    build = run.build_trainer
    monkeypatch.setattr(run, "build_trainer", lambda *a, **k: _with_callback(build(*a, **k),
                                                                            FillDiskAfterFirstCheckpoint()))
    args = ["--recipe", "quickstart", f"output_dir={out}", *TINY_RUN, "max_steps=4", "eval_steps=2"]
    with pytest.raises(StorageFullError) as caught:
        train.main(args)
    message = str(caught.value)
    assert message.startswith(f"saving checkpoint-4: writing {out / 'checkpoint-4'}"), message
    assert "No space left on device" in message and "\n" not in message
    assert "the last complete checkpoint, checkpoint-2, is intact: a relaunch resumes from it" in message
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-2"]
    assert (out / "checkpoint-2" / "trainer_state.json").is_file()

    monkeypatch.setattr(run, "build_trainer", build)
    fillers[0].unlink()
    results = train.main(args)
    assert results["run"]["resumed_from"] == str(out / "checkpoint-2") and results["run"]["global_step"] == 4


def _with_callback(trainer, callback):
    trainer.add_callback(callback)
    return trainer
