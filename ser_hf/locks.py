"""Who writes what on a disk other machines share: host-and-process names, leases, the run folder's lock, and writes
that fail (a full disk, a quota) or come back corrupt.

A process id says nothing about a folder another machine is writing, so everything ser-hf writes under a name of its
own carries the host too: ``<entry>.partial-<host>-<pid>``, ``<entry>.old-<host>-<pid>``, the lock of a run folder.
While it writes, the owner keeps a *lease*: it touches the partial folder (or lock file) every ``LEASE_REFRESH``
seconds. Something owned is stale, and may be removed or taken over, only when

* its lease is older than ``LEASE_EXPIRY`` (any host: the owner stopped refreshing it), or
* its host is this host and its process no longer runs here.

Leases need nothing but modification times that every machine sees, which every shared file system clusters use
keeps (NFS v3 and v4, Lustre, GPFS / Spectrum Scale, BeeGFS, CephFS). fcntl / flock locks are not a safe test of
death across machines: they are coherent between machines on NFSv4 (and v3 with lockd), GPFS and CephFS, and on
Lustre only when mounted with ``flock`` (``localflock`` locks per machine, the default refuses them); BeeGFS keeps
them per machine unless global locks are turned on. So the run folder's lock takes a flock where the file system
has one (a lock held elsewhere is a live holder), but a lock it gets is never the only proof that the holder died.

The host is ``socket.gethostname()``, or ``$SER_HF_HOST`` where set (containers that share one host name; tests that
play two machines on one). Standard library only (layer 0); xxhash (a dependency of datasets) for checksums.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

LEASE_REFRESH = 30.0  # seconds between touches of a lease while its owner works
LEASE_EXPIRY = 600.0  # a lease untouched this long is dead, whatever the clocks of the machines say (10 min of slack)
LOCK_RENEWAL = 10.0  # seconds between renewals of a run folder's lock
LOCK_GONE_AFTER = 60.0  # another machine's lock holder that renews nothing for this long, watched from here, is gone
OWNED = re.compile(r"\.(?P<kind>partial|old)-(?:(?P<host>[A-Za-z0-9._-]+)-)?(?P<pid>\d+)$")  # host absent: before 0.2


def host_name() -> str:
    """This machine's name in lock and partial names: ``$SER_HF_HOST`` or the host name, safe in a file name."""
    name = os.environ.get("SER_HF_HOST") or socket.gethostname() or "localhost"
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def owned_name(name: str, kind: str = "partial") -> str:
    """``name`` as this process's ``kind`` (partial, old) of it: ``NAME.partial-<host>-<pid>``."""
    return f"{name}.{kind}-{host_name()}-{os.getpid()}"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (in this process's pid namespace)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def process_start(pid: int) -> int | None:
    """When ``pid`` started (clock ticks after boot, /proc/PID/stat field 22): tells a reused process id apart."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def is_stale(host: str | None, pid: int, mtime: float, now: float | None = None) -> bool:
    """Whether something owned by ``pid`` on ``host`` (None: a name without a host) with its lease touched at
    ``mtime`` is stale: the lease expired, or the owner is a process of this host that no longer runs."""
    if (time.time() if now is None else now) - mtime > LEASE_EXPIRY:
        return True
    return host == host_name() and pid != os.getpid() and not pid_alive(pid)


def stale_owned(folder: Path) -> list[Path]:
    """The stale ``*.partial-<host>-<pid>`` / ``*.old-<host>-<pid>`` entries (folders or files) right in ``folder``."""
    stale = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return stale
    for entry in entries:
        match = OWNED.search(entry.name)
        if not match:
            continue
        try:
            mtime = entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:  # its owner finished meanwhile
            continue
        if is_stale(match["host"], int(match["pid"]), mtime):
            stale.append(Path(entry.path))
    return stale


class Lease:
    """Touch ``path`` every ``LEASE_REFRESH`` seconds from a daemon thread while the ``with`` block runs, so that
    other machines see its owner at work (:func:`is_stale`)."""

    def __init__(self, path: str | Path, interval: float = LEASE_REFRESH):
        self.path, self.interval = Path(path), interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease {self.path.name}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(OSError):  # gone (published, removed): nothing left to keep
                os.utime(self.path)

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


# ---------------------------------------------------------------- the run folder's lock
class OutputDirInUse(RuntimeError):
    """Another job holds the run folder; the message names it."""


@dataclass
class Holder:
    host: str
    pid: int
    start: int | None  # process_start(pid) on its host
    launch: str  # the job's launch id (ser_hf.guards)
    started: str  # wall-clock time, for people
    command: str

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host} (launch {self.launch}, started {self.started}: {self.command})"

    def alive(self, mtime: float) -> bool:
        """Whether the holder still runs: its lease is fresh, and on this host its process (the same one) runs."""
        if time.time() - mtime > LEASE_EXPIRY:
            return False
        if self.host != host_name():
            return True  # another machine's process: its lease is all we can see
        if not pid_alive(self.pid):
            return False
        return self.start is None or process_start(self.pid) in (None, self.start)


def _flock(fd: int) -> bool | None:
    """Try an exclusive flock: True got it, False another process holds it, None the file system has none."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as err:
        if err.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL, errno.EBADF):
            return None
        raise
    return True


class OutputDirLock:
    """The lock a job holds on its ``output_dir`` for its lifetime: ``OUTPUT_DIR/.ser_hf/lock.json`` names the
    holder (host, process id, launch). Taken by the world's main process only, so the processes of one job share it.

    :meth:`acquire` refuses with :class:`OutputDirInUse` when a live holder has it; a holder that is gone (its
    process no longer runs on this host, its lease expired, or, on another machine, it renews nothing while this
    process watches for ``LOCK_GONE_AFTER`` s: a job requeued onto another node) is taken over with a warning. The
    file is never deleted, only emptied at :meth:`release`, so a flock always concerns the one file everyone opens.
    """

    def __init__(self, output_dir: str | Path, launch: str):
        self.path = Path(output_dir) / ".ser_hf" / "lock.json"
        self.launch = launch
        self._fd: int | None = None
        self._lease: Lease | None = None

    def _holder(self) -> tuple[Holder | None, float]:
        try:
            text, mtime = os.read(self._fd, 1 << 16).decode(errors="replace"), os.fstat(self._fd).st_mtime
        except OSError:
            return None, 0.0
        try:
            return Holder(**json.loads(text)), mtime
        except (ValueError, TypeError):  # empty (released) or unreadable: nobody
            return None, mtime

    def acquire(self, command: str = "") -> OutputDirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            locked = _flock(self._fd)
            holder, mtime = self._holder()
            for _ in range(20):  # a holder that has just taken the flock writes its name a moment later
                if locked is not False or holder is not None:
                    break
                time.sleep(0.1)
                os.lseek(self._fd, 0, os.SEEK_SET)
                holder, mtime = self._holder()
            if holder is not None and holder.launch == self.launch:
                holder = None  # this very job (a second acquire in the same launch)
            gone = None
            if holder is not None and not holder.alive(mtime):
                gone = "its process is gone" if holder.host == host_name() and time.time() - mtime <= LEASE_EXPIRY \
                    else f"its lease is older than {LEASE_EXPIRY:.0f} s"
            elif holder is not None and locked is not False and holder.host != host_name():
                # Another machine's holder, and no flock says it lives (a file system without coherent locks):
                # it lives if it renews its lease (every LOCK_RENEWAL s) while this process watches.
                holder, gone = self._watch_renewal(holder, mtime)
            if locked is False or (holder is not None and gone is None):
                who = holder.describe() if holder else "a process that holds its flock and has not written its name"
                raise OutputDirInUse(
                    f"output_dir {self.path.parent.parent} is in use by another job: {who}; wait for it to end, stop it, "
                    "or choose another output_dir")
            if holder is not None:
                logger.warning("taking over the lock of %s on %s: %s", holder.describe(), self.path.parent.parent, gone)
            me = Holder(host_name(), os.getpid(), process_start(os.getpid()), self.launch,
                        time.strftime("%Y-%m-%d %H:%M:%S"), command[:300])
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, json.dumps(me.__dict__).encode(), 0)
            os.fsync(self._fd)
        except BaseException:
            os.close(self._fd)
            self._fd = None
            raise
        self._lease = Lease(self.path, LOCK_RENEWAL).__enter__()
        return self

    def _watch_renewal(self, holder: Holder, mtime: float) -> tuple[Holder | None, str | None]:
        """Watch the lock file for up to ``LOCK_GONE_AFTER`` s: (its holder now, None) as soon as it changes (a
        renewal, or a release: holder None), else (holder, why it is taken to be gone). The file is opened afresh each
        time: NFS checks a file's attributes with the server on open (close-to-open), not on a plain stat."""
        logger.warning("output_dir %s is held by %s on another machine: watching up to %.0f s for its lease to be "
                       "renewed", self.path.parent.parent, holder.describe(), LOCK_GONE_AFTER)
        deadline = time.monotonic() + LOCK_GONE_AFTER
        while time.monotonic() < deadline:
            time.sleep(min(1.0, LOCK_RENEWAL / 5))
            with contextlib.suppress(OSError):
                fd = os.open(self.path, os.O_RDONLY)
                try:
                    if os.fstat(fd).st_mtime != mtime:
                        text = os.read(fd, 1 << 16).decode(errors="replace")
                        try:
                            return Holder(**json.loads(text)), None
                        except (ValueError, TypeError):
                            return None, None
                finally:
                    os.close(fd)
        return holder, f"it did not renew its lease for {LOCK_GONE_AFTER:.0f} s"

    def release(self) -> None:
        """Empty the lock file (if it still names this process) and let go of the flock; safe to call twice."""
        if self._fd is None:
            return
        if self._lease is not None:
            self._lease.__exit__(None, None, None)
            self._lease = None
        with contextlib.suppress(OSError):
            os.lseek(self._fd, 0, os.SEEK_SET)
            holder, _ = self._holder()
            if holder is not None and holder.pid == os.getpid() and holder.host == host_name():
                os.ftruncate(self._fd, 0)
        os.close(self._fd)
        self._fd = None


# ---------------------------------------------------------------- failed and corrupt writes
STORAGE_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_STORAGE_FULL_TEXT = re.compile(r"No space left on device|Disk quota exceeded|File too large|StorageFull|"
                                r"errno (?:28|122|27)\b", re.IGNORECASE)


class StorageFullError(OSError):
    """A write failed for want of space (a full disk, a quota, a file-size limit); the message names the path."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def is_storage_full(err: BaseException) -> bool:
    """Whether ``err`` (or what caused it) is a write that failed for want of space: by errno, or by the text that
    pyarrow, safetensors and torch's zip writer put in their own exceptions."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in STORAGE_FULL_ERRNOS:
            return True
        if _STORAGE_FULL_TEXT.search(str(err)):
            return True
        err = err.__cause__ or err.__context__
    return False


def free_bytes(path: str | Path) -> int | None:
    """Bytes free to this user on the file system holding ``path`` (its nearest existing parent)."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        stat = os.statvfs(path)
    except OSError:
        return None
    return stat.f_bavail * stat.f_frsize


def storage_full_error(path: str | Path, err: BaseException, what: str, kept: str) -> StorageFullError:
    """The one-line error for a write to ``path`` that ran out of space: what failed, why, what is intact."""
    reason = os.strerror(err.errno) if isinstance(err, OSError) and err.errno in STORAGE_FULL_ERRNOS else \
        str(err).splitlines()[0][:200] if str(err) else type(err).__name__
    return StorageFullError(errno.ENOSPC, f"{what}: writing {path} failed ({reason}); {kept}; free some space (or "
                                          "raise the quota) and run again")


@contextlib.contextmanager
def storage_guard(path: str | Path, what: str, kept: str, remove: str | Path | None = None):
    """Run a write of ``path``; if it fails for want of space, remove ``remove`` (what the write left half done)
    and raise one :class:`StorageFullError` naming ``path``, what failed and what is ``kept`` intact."""
    try:
        yield
    except Exception as err:
        # torch's zip writer says only "file write failed": a file system with under 1 MiB left tells the rest.
        free = free_bytes(path) if isinstance(err, (OSError, RuntimeError)) else None
        if not (is_storage_full(err) or (free is not None and free < 1 << 20)):
            raise
        if remove is not None:
            shutil.rmtree(remove, ignore_errors=True)
        if isinstance(err, StorageFullError):
            raise
        raise storage_full_error(path, err, what, kept) from err


def file_digest(path: str | Path, chunk: int = 8 << 20) -> str:
    """xxh3-64 of a file's bytes (about 7 GB/s from memory: the cost is reading the file)."""
    import xxhash

    digest = xxhash.xxh3_64()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def bytes_digest(data: bytes | memoryview) -> bytes:
    """xxh3-64 of ``data``, 8 bytes."""
    import xxhash

    return xxhash.xxh3_64_digest(data)
