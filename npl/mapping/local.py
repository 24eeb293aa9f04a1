"""Local worker processes for a map job (the jobs.py Backend).

`LocalPool(bundle, spec, workers)` starts `workers` processes (the "spawn"
start method: a fresh interpreter, nothing inherited from the parent's
threads) that each load the program once (worker.py `serve`) and then run
one batch at a time, over a pipe of their own. The parent waits on every
pipe and every process's sentinel at once, so it sees at once a result, or
a worker that died (a segfault, the out-of-memory killer's SIGKILL): that
worker's batch is reported as died, and a fresh worker takes its place.

A worker that cannot load the program stops the job with the error it
reports (the parent loaded the same program, so this is rare: a device or
an installation that differs). Workers that keep dying before they are
ready stop it too. A worker exits when its pipe closes, and watches its
parent: if the parent is killed, the worker exits within a second.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from multiprocessing.connection import wait
from typing import Optional

from npl.lang.errors import NplError

from .jobs import Outcome
from .program import ProgramBundle, WorkerError
from .worker import Batch, ReadSpec, serve

TARGET_SECONDS = 0.05             # a batch's work: ~1000 times a batch's round trip
MAX_STARTUP_DEATHS = 3            # workers dying before they are ready, in a row


class _Worker:
    """One worker process, its pipe, and the batch it holds."""

    def __init__(self, ctx, bundle: ProgramBundle, spec: ReadSpec):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_main, args=(child, bundle, spec, os.getpid()),
                                   name="npl-map-worker", daemon=True)
        self.process.start()
        child.close()
        self.ready = False
        self.batch: Optional[Batch] = None

    def stop(self) -> None:
        """Ask an idle worker to exit; kill a busy one (the job is over)."""
        if self.batch is None:
            try:
                self.conn.send(None)
            except (OSError, ValueError):
                pass
            self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class LocalPool:
    """`workers` processes running batches (a jobs.py Backend)."""

    target_seconds = TARGET_SECONDS

    def __init__(self, bundle: ProgramBundle, spec: ReadSpec, workers: int):
        self.bundle, self.spec, self.workers = bundle, spec, workers
        self.ctx = multiprocessing.get_context("spawn")
        self.pool = [_Worker(self.ctx, bundle, spec) for _ in range(workers)]
        self.startup_deaths = 0

    def free(self) -> int:
        return sum(1 for w in self.pool if w.ready and w.batch is None)

    def submit(self, batch: Batch) -> None:
        worker = next(w for w in self.pool if w.ready and w.batch is None)
        worker.batch = batch
        try:
            worker.conn.send(batch)
        except (OSError, ValueError):
            pass                        # it died: its sentinel says so next

    def wait(self, timeout: float) -> list[Outcome]:
        ready = set(wait([w.conn for w in self.pool] + [w.process.sentinel for w in self.pool],
                         timeout))
        outcomes = []
        for worker in list(self.pool):
            if worker.conn in ready or worker.process.sentinel in ready:
                outcome = self._hear(worker)
                if outcome is not None:
                    outcomes.append(outcome)
        return outcomes

    def _hear(self, worker: _Worker) -> Optional[Outcome]:
        """What `worker` says: ready, a result, a failure to load, or
        nothing at all because it died."""
        try:
            message = worker.conn.recv() if worker.conn.poll() else None
        except (EOFError, OSError):
            message = None
        if message is None:
            return self._died(worker) if _gone(worker) else None
        if message == ("ready",):
            worker.ready = True
            self.startup_deaths = 0
            return None
        if isinstance(message, tuple) and message[0] == "failed":
            raise WorkerError(f"a worker process could not load the program:\n{message[1]}")
        batch, worker.batch = worker.batch, None
        return Outcome(batch, result=message)

    def _died(self, worker: _Worker) -> Optional[Outcome]:
        worker.process.join()
        why = exit_description(worker.process.exitcode)
        if not worker.ready:
            self.startup_deaths += 1
            if self.startup_deaths >= MAX_STARTUP_DEATHS:
                raise WorkerError(f"worker processes die while loading the program ({why})")
        worker.conn.close()
        self.pool[self.pool.index(worker)] = _Worker(self.ctx, self.bundle, self.spec)
        return Outcome(worker.batch, died=why) if worker.batch is not None else None

    def close(self) -> None:
        for worker in self.pool:
            worker.stop()


def _gone(worker: _Worker) -> bool:
    """Whether a worker whose sentinel fired has exited (waiting briefly
    for its exit status)."""
    worker.process.join(timeout=1)
    return not worker.process.is_alive()


def exit_description(code: Optional[int]) -> str:
    """How a worker process ended, for an error message."""
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = {"SIGKILL": ": out of memory, or killed", "SIGSEGV": ": a segmentation fault"}
        return f"killed by {name}{hint.get(name, '')}"
    return f"it exited with status {code}"


def _main(conn, bundle: ProgramBundle, spec: ReadSpec, parent: int) -> None:
    """A worker process: exit when the parent is gone, serve until told to
    stop. Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                     name="npl-map-parent-watch").start()
    try:
        serve(conn, bundle, spec)
    except NplError:                    # reported through the pipe already
        pass


def _watch_parent(parent: int) -> None:
    import time
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(1)
