"""One ``train.py`` job around whatever it runs: the lock on its ``output_dir``, and, when launched as several
processes, their watch over each other (:mod:`ser_hf.guards`).

* The world's main process locks ``output_dir`` (``.ser_hf/lock.json``: host, process id, launch) for the job's
  lifetime; another job that finds a live holder stops at once with one line naming it; a holder that is gone
  (its process no longer runs on this host, or its lease expired) is taken over with a warning. The processes of
  one job share the lock: they learn the launch from rank 0 in the job's first collective.
* Under ``accelerate launch`` / torchrun every process then keeps its status file under
  ``output_dir/.ser_hf/launch-<id>/`` and watches the others': a process that raises, dies or freezes stops every
  process with exit status 1 within ``peer_timeout`` seconds (seconds when it raised or died on this host), each
  naming it. Relaunched, the job resumes from its last complete checkpoint.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from ser_hf import guards
from ser_hf.guards import EXIT_STATUS, STATUS_DIR, Job, new_launch_id, set_current_job
from ser_hf.locks import OutputDirLock, OutputDirInUse
from ser_hf.recipe import Recipe
from ser_hf.training.data import check_output_dir

logger = logging.getLogger(__name__)


def _exit_now() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_STATUS)


def _remove_earlier_launches(output_dir: Path, launch: str) -> None:
    """Status folders of earlier launches (this job holds the lock: none of them is running)."""
    for folder in (output_dir / STATUS_DIR).glob("launch-*"):
        if folder.name != f"launch-{launch}":
            shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def guarded_job(recipe: Recipe) -> Iterator[Job | None]:
    """Hold ``recipe.training.output_dir`` for the ``with`` block; under a multi-process launch, form the process group
    (``TrainingArguments``, with ``ddp_timeout`` as its collectives' timeout) and start this process's :class:`Job`."""
    check_output_dir(recipe)  # nothing is written under a corpus root, not even the lock
    command = " ".join(sys.argv)
    out = Path(recipe.training.output_dir)
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        lock = OutputDirLock(out, new_launch_id()).acquire(command)
        try:
            yield None
        finally:
            lock.release()
        return

    import torch.distributed as dist

    from ser_hf.training.run import setup_logging

    args = recipe.training
    setup_logging(args)  # asks for the process index: forms the process group (gloo on CPU, NCCL on GPUs)
    guards.set_collective_timeout(args.ddp_timeout)  # on CPU TrainingArguments leaves gloo's 30 minutes
    lock, refusal, launch = None, None, None
    if args.process_index == 0:
        launch = new_launch_id()
        try:
            lock = OutputDirLock(out, launch).acquire(command)
        except OutputDirInUse as err:
            refusal = str(err)
    shared = [launch, refusal]
    dist.broadcast_object_list(shared, src=0)  # the job's first collective: every process is just starting
    launch, refusal = shared
    if refusal:
        raise OutputDirInUse(refusal)
    if lock is not None:
        _remove_earlier_launches(out, launch)
    job = Job(out / STATUS_DIR / f"launch-{launch}", args.process_index, args.world_size, args.local_process_index,
              recipe.training.peer_timeout, lock).start()
    set_current_job(job)
    try:
        yield job
    except BaseException as err:
        # Finalizing the interpreter with a broken process group can take seconds (gloo's teardown): once the error
        # is printed, end at once with exit status 1.
        atexit.register(_exit_now)
        peer = job.fail(err)
        if peer is not None:
            raise peer from None
        raise
    finally:
        set_current_job(None)
        job.finish()
        if lock is not None:
            lock.release()
    guards.close_process_group()  # reached only when the job ended well
