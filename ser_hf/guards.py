"""The processes of one multi-process job watching each other: a process that dies, freezes or fails stops them all,
named, instead of leaving them in a collective for the process group's timeout.

Under ``accelerate launch`` / torchrun, ``train.py`` makes every process of the job a :class:`Job`: it keeps a small
status file, ``OUTPUT_DIR/.ser_hf/launch-<id>/rank-<r>.json`` (output_dir is on a file system every machine sees),
rewritten in place every ``beat`` seconds (a heartbeat) and at once when something changes: its state (running,
failed with its error, stopping with the cause, done), the sync point it reached, what it published. Rank 0 reads
every file; the other processes read rank 0's. A background thread in each process stops the job when

* a process reports ``failed`` (it raised: its own one-line error is named),
* a process of this host no longer runs (killed),
* a status file stops changing for ``peer_timeout`` seconds of this process's own watching (frozen, its machine cut
  off, or killed on another machine), or never appears (an output_dir that is not shared);

rank 0 relays what it sees to the others (``stopping`` with the cause). The thread logs the cause, interrupts the
main thread, and ends the process with exit status 1 (``os._exit``) if the main thread is stuck in a collective.
The bound: every process exits within ``peer_timeout`` + 15 s of the last sign of life of the one that failed
(detection within a poll of ``peer_timeout``, at most 2 s; then at most two polls + 2 s for a stuck main thread).

Long waits that are legitimate never wait on a collective: one process writes while the others wait on a file
(:func:`main_first`: node 0 preparing a corpus, the checkpoint lookup; :func:`barrier`: the embeddings extracted,
a checkpoint or the final model written), logging what they wait for every 30 s; only liveness bounds them.
Collectives that remain (gradient all-reduce, evaluation gathers) all start within moments of each other and keep
the process group's timeout, ``ddp_timeout`` (:func:`set_collective_timeout`; on CPU ``TrainingArguments`` leaves
gloo at 30 minutes).

Without a Job (one process, or a script that forms its own process group), :func:`main_first` and
:func:`barrier` are accelerate's collective versions. Standard library at import (layer 0).
"""

from __future__ import annotations

import _thread
import contextlib
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ser_hf.locks import OutputDirLock, host_name, pid_alive

logger = logging.getLogger(__name__)

STATUS_DIR = ".ser_hf"  # under output_dir: lock.json, launch-<id>/rank-<r>.json
PROGRESS_EVERY = 30.0  # seconds between "still waiting" lines
EXIT_STATUS = 1
COMMUNICATION_ERROR = re.compile(
    r"gloo|nccl|Connection (?:closed|reset) by peer|Broken pipe|Timed out waiting|ProcessGroup|Socket Timeout|"
    r"DistBackendError|DistNetworkError|DistStoreError", re.IGNORECASE)


def new_launch_id() -> str:
    """A launch's name, unique across hosts: its start time, the host and rank 0's process id."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{host_name()}-{os.getpid()}"


class PeerFailure(RuntimeError):
    """This process stops because another process of the job failed, died or froze; the message names it."""


def is_communication_error(err: BaseException) -> bool:
    """A collective or the rendezvous store failed: usually the sign of another process's failure, not the cause."""
    try:
        from torch.distributed import DistError
    except ImportError:  # no torch.distributed
        DistError = ()  # noqa: N806
    return isinstance(err, DistError) or bool(COMMUNICATION_ERROR.search(f"{type(err).__name__}: {err}"))


def one_line(err: BaseException, limit: int = 400) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:limit]


@dataclass
class _Watch:
    """What this process saw of another one's status file."""

    raw: bytes | None = None
    status: dict | None = None
    quiet: float = 0.0  # seconds of this process's watching during which the file did not change
    last_look: float | None = None


class Job:
    """One process of a multi-process job: its status file, its watch over the others, and the file-based sync
    points every process passes in the same order (:meth:`main_first`, :meth:`barrier`)."""

    def __init__(self, folder: str | Path, rank: int, world_size: int, local_rank: int = 0,
                 peer_timeout: float = 120.0, lock: OutputDirLock | None = None):
        self.folder = Path(folder)
        self.rank, self.world_size, self.local_rank = rank, world_size, local_rank
        self.peer_timeout = float(peer_timeout)
        self.beat = min(10.0, max(0.5, self.peer_timeout / 6))
        self.poll = min(2.0, max(0.25, self.beat / 2))
        self.lock = lock
        self.failure: str | None = None  # why the job stops (another process's failure), once known
        self._seq = 0
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._main_exiting = False
        self._watches = {r: _Watch() for r in (range(world_size) if rank == 0 else [0]) if r != rank}
        self.status = {
            "rank": rank, "host": host_name(), "pid": os.getpid(), "node": os.environ.get("GROUP_RANK"),
            "local_rank": local_rank, "state": "running", "error": None, "cause": None, "beat": 0,
            "arrived": [0, ""], "released": 0, "published": 0, "waiting_for": [],
        }
        self._thread = threading.Thread(target=self._run, name="ser_hf job watch", daemon=True)

    # ------------------------------------------------------------ status files
    def path(self, rank: int) -> Path:
        return self.folder / f"rank-{rank}.json"

    def _write(self, **changes) -> None:
        with self._mutex:
            self.status.update(changes)
            self.status["beat"] += 1
            self.status["time"] = time.time()
            data = json.dumps(self.status)
            # In place, not by rename: NFS readers see a rewritten file on their next open (close-to-open), while a
            # renamed one may hide behind a cached directory entry. A reader that catches it half-written skips it.
            with contextlib.suppress(OSError):
                with open(self.path(self.rank), "w") as fh:
                    fh.write(data)

    def read(self, rank: int) -> tuple[bytes | None, dict | None]:
        try:
            raw = self.path(rank).read_bytes()
            return raw, json.loads(raw)
        except (OSError, ValueError):
            return None, None

    def describe(self, status: dict | None, rank: int) -> str:
        if not status:
            return f"rank {rank}"
        node = f"node {status['node']}, " if status.get("node") is not None else ""
        return f"rank {rank} ({node}host {status['host']}, pid {status['pid']})"

    # ------------------------------------------------------------ the watch
    def start(self) -> Job:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._write()
        self._thread.start()
        return self

    def _run(self) -> None:
        last_beat = time.monotonic()
        while not self._stop.wait(self.poll):
            if time.monotonic() - last_beat >= self.beat:
                self._write()
                last_beat = time.monotonic()
            if self.failure is None:
                why = self._look()
                if why:
                    self._stop_job(why)

    def _look(self) -> str | None:
        """Read the watched status files once; the reason the job must stop, if there is one."""
        now = time.monotonic()
        for rank, watch in self._watches.items():
            raw, status = self.read(rank)
            if watch.last_look is not None:
                # Only time this process spent watching counts: after a pause of its own (a stalled disk, a
                # suspended machine) a quiet file proves nothing.
                step = min(now - watch.last_look, 3 * self.poll)
                watch.quiet = watch.quiet + step if raw is None or raw == watch.raw else 0.0
            watch.last_look = now
            if raw is not None and status is not None:
                watch.raw, watch.status = raw, status
            status = watch.status
            who = self.describe(status, rank)
            if status is None:
                if watch.quiet > self.peer_timeout:
                    return (f"rank {rank} never reported in {self.folder} within {self.peer_timeout:.0f} s: did it "
                            "start, and is output_dir on a file system every node sees?")
                continue
            if status["state"] == "done":
                continue
            if status["state"] == "failed":
                return f"{who} failed: {status['error']}"
            if status["state"] == "stopping" and status.get("cause"):
                return status["cause"]
            if status["host"] == host_name() and not pid_alive(status["pid"]):
                return f"{who} is gone (killed?) without reporting an error"
            if watch.quiet > self.peer_timeout:
                return (f"{who} has shown no sign of life for {watch.quiet:.0f} s (frozen, or its machine cut off or "
                        f"killed; peer_timeout={self.peer_timeout:.0f} s)")
        if self.rank == 0:
            return self._release_barrier()
        return None

    def _release_barrier(self) -> str | None:
        """Rank 0: release the sync point every process has reached; a process at another one is a divergence."""
        seq, name = self.status["arrived"]
        if seq <= self.status["released"]:
            return None
        waiting = []
        for rank, watch in self._watches.items():
            other_seq, other_name = (watch.status or {}).get("arrived", [0, ""])
            if other_seq == seq and other_name != name or other_seq > seq:
                return (f"the processes disagree: rank 0 is at sync point {seq} ({name!r}), rank {rank} at "
                        f"{other_seq} ({other_name!r})")
            if other_seq < seq and (watch.status or {}).get("state") != "done":
                waiting.append(rank)
        if waiting:
            if waiting != self.status["waiting_for"]:
                self._write(waiting_for=waiting)
        else:
            self._write(released=seq, waiting_for=[])
        return None

    def _stop_job(self, why: str) -> None:
        """Another process failed: say so, tell the others, and end this process (the main thread first, if it can)."""
        self.failure = why
        logger.error("rank %d stops: %s", self.rank, why)
        self._write(state="stopping", cause=why)
        if self.lock is not None:
            self.lock.release()  # a relaunch on another machine need not wait for the lease to expire
        if self._main_exiting:
            return
        _thread.interrupt_main()  # the main thread raises at its next Python instruction; in a collective it cannot
        grace = 2 * self.poll + 2.0
        if not self._stop.wait(grace) and not self._main_exiting:
            logger.error("rank %d: the main thread is stuck (in a collective?): exiting with status %d", self.rank,
                         EXIT_STATUS)
            for handler in logging.getLogger().handlers:
                with contextlib.suppress(Exception):
                    handler.flush()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_STATUS)

    # ------------------------------------------------------------ the end
    def fail(self, err: BaseException) -> PeerFailure | None:
        """The main thread raised ``err``: a PeerFailure to raise instead when another process's failure explains
        it, else None (``err`` is this process's own failure, now reported to the others)."""
        self._main_exiting = True
        if self.failure is None and is_communication_error(err):
            # A collective failed: another process probably died or froze. Give the watch the time to name it.
            deadline = time.monotonic() + self.peer_timeout + 2 * self.beat
            logger.warning("rank %d: a collective failed (%s); looking for the process that caused it", self.rank,
                           one_line(err, 200))
            while self.failure is None and time.monotonic() < deadline:
                time.sleep(self.poll)
        if self.failure is not None:
            return PeerFailure(self.failure)
        self._write(state="failed", error=one_line(err))
        return None

    def finish(self, state: str | None = "done") -> None:
        self._main_exiting = True
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if state and self.status["state"] == "running":
            self._write(state=state)

    def wait_for_others_to_finish(self, timeout: float) -> None:
        """After :meth:`finish`: wait (at most ``timeout`` s) until every watched process has finished too, so that
        removing the status folder next cannot look, to a process still watching, like a peer gone without a word."""
        deadline = time.monotonic() + timeout
        for rank in self._watches:
            while time.monotonic() < deadline:
                status = self.read(rank)[1]
                if status is not None and (status["state"] != "running" or (
                        status["host"] == host_name() and not pid_alive(status["pid"]))):
                    break
                time.sleep(0.05)

    # ------------------------------------------------------------ sync points
    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _wait(self, done, what: str, waiting_for) -> None:
        """Poll ``done()`` until true; PeerFailure when the job stops meanwhile; a progress line every 30 s."""
        started = time.monotonic()
        next_note = started + min(10.0, PROGRESS_EVERY)
        while not done():
            if self.failure is not None:
                raise PeerFailure(self.failure)
            if time.monotonic() >= next_note:
                logger.info("rank %d: waiting %.0f s for %s to %s", self.rank, time.monotonic() - started,
                            waiting_for() or "the others", what)
                next_note += PROGRESS_EVERY
            time.sleep(self.poll)

    def barrier(self, name: str) -> None:
        """Wait, on files, until every process has reached this point (called by all, in the same order)."""
        seq = self._next()
        self._write(arrived=[seq, name])

        def leader() -> dict:  # rank 0 releases the sync point and lists whom it still waits for
            return self.status if self.rank == 0 else (self._watches[0].status or {})

        def waiting_for() -> str:
            ranks = leader().get("waiting_for") or []
            return "rank(s) " + ", ".join(map(str, ranks)) if ranks else ""

        self._wait(lambda: leader().get("released", 0) >= seq, f"reach {name!r}", waiting_for)

    @contextlib.contextmanager
    def main_first(self, name: str, local: bool = False) -> Iterator[None]:
        """The main process (of the world, or of this node with ``local``) runs the block first while the others
        wait on its status file; then the others run it; then everyone meets (:meth:`barrier`)."""
        seq = self._next()
        first = self.rank - self.local_rank if local else 0
        if self.rank == first:
            yield
            self._write(published=seq)
        else:
            def published() -> bool:
                if first == 0 and 0 in self._watches:
                    status = self._watches[0].status
                else:  # this node's main process: read its file here
                    status = self.read(first)[1]
                    if status and status["state"] == "failed" and self.failure is None:
                        self.failure = f"{self.describe(status, first)} failed: {status['error']}"
                return (status or {}).get("published", 0) >= seq

            self._wait(published, f"finish {name!r}", lambda: f"rank {first}")
            yield
        self.barrier(f"{name} done")


_JOB: Job | None = None


def current_job() -> Job | None:
    return _JOB


def set_current_job(job: Job | None) -> None:
    global _JOB
    _JOB = job


def _distributed_state():
    """accelerate's state when this process is one of several with a process group formed, else None."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return None
    from accelerate import PartialState

    return PartialState()


@contextlib.contextmanager
def main_first(name: str, local: bool = False) -> Iterator[None]:
    """The main process (``local``: of each node) runs the block first, the others after it; on files under a Job,
    with accelerate's collective barriers otherwise; nothing to wait for in a single process."""
    if _JOB is not None:
        with _JOB.main_first(name, local):
            yield
        return
    state = _distributed_state()
    if state is None:
        yield
        return
    with state.local_main_process_first() if local else state.main_process_first():
        yield


def barrier(name: str) -> None:
    """Every process waits here for the others: on files under a Job, a collective barrier otherwise."""
    if _JOB is not None:
        _JOB.barrier(name)
        return
    state = _distributed_state()
    if state is not None:
        state.wait_for_everyone()


def set_collective_timeout(seconds: float) -> None:
    """Give the formed process group's collectives a timeout of ``seconds`` (gloo's default is 30 minutes, and on
    CPU ``TrainingArguments`` does not pass its ``ddp_timeout`` on)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    from datetime import timedelta

    try:
        dist.distributed_c10d._set_pg_timeout(timedelta(seconds=seconds))
    except (AttributeError, ValueError, RuntimeError) as err:  # a torch without it, a backend without timeouts
        logger.warning("could not set the collective timeout to %s s: %s", seconds, err)


def close_process_group() -> None:
    """Tear down the formed process group after a job that ended well. Left to interpreter exit, gloo's threads can
    abort the process ("terminate called without an active exception", SIGABRT) after all its work is written, and
    the launcher then reports the whole job failed."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
