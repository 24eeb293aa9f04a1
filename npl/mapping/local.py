"""Local worker processes for a map job (the jobs.py Backend).

`LocalPool(bundle, spec, workers)` starts `workers` processes that each load
the program once (worker.py `serve`) and then run one batch at a time over a
socket of their own. A worker is a fresh interpreter running this module's
`child_main` (not multiprocessing's "spawn", which would import the host's
__main__ again: a script without a main guard, a notebook, `python -`), so
nothing is inherited from the parent's threads or state. The parent waits
on every socket at once; a worker that dies (a segfault, the out-of-memory
killer's SIGKILL) closes its socket, so the parent sees at once that its
batch is lost, and a fresh worker takes its place.

A worker that cannot load the program stops the job with the error it
reports (the parent checked the same program, so this is rare: a device or
an installation that differs). Workers that keep dying before they are
ready stop it too. A worker exits when its socket closes, and watches its
parent: if the parent is killed, the worker exits within a second.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection, wait
from typing import Optional

from npl.lang.errors import NplError

from .jobs import Outcome
from .program import ProgramBundle, WorkerError
from .worker import Batch, ReadSpec, serve

TARGET_SECONDS = 0.05             # a batch's work: ~1000 times a batch's round trip
MAX_STARTUP_DEATHS = 3            # workers dying before they are ready, in a row
CHILD = "from npl.mapping.local import child_main; child_main()"


class _Worker:
    """One worker process, its socket, and the batch it holds."""

    def __init__(self):
        mine, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(theirs.fileno()), str(os.getpid())],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=env)
        theirs.close()
        self.conn = Connection(mine.detach())
        self.ready = False
        self.batch: Optional[Batch] = None

    def load(self, shipped: tuple) -> None:
        """Send the (bundle, read spec) without waiting for the worker to
        read it (the program may be bigger than the socket's buffer)."""
        threading.Thread(target=_send_quietly, args=(self.conn, shipped), daemon=True,
                         name="npl-map-send-program").start()

    def stop(self) -> None:
        """Ask an idle worker to exit; kill a busy one, or one still
        starting (the job is over)."""
        if self.ready and self.batch is None:
            _send_quietly(self.conn, None)
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.conn.close()


def _send_quietly(conn: Connection, message) -> None:
    try:
        conn.send(message)
    except (OSError, ValueError):
        pass                            # the worker is gone: its socket's end says so


class LocalPool:
    """`workers` processes running batches (a jobs.py Backend). They start
    at once and import NPL while the parent checks the program; `load`
    gives them the program."""

    target_seconds = TARGET_SECONDS

    def __init__(self, workers: int):
        self.workers = workers
        self.pool = [_Worker() for _ in range(workers)]
        self.shipped: Optional[tuple] = None
        self.startup_deaths = 0

    def load(self, bundle: ProgramBundle, spec: ReadSpec) -> None:
        self.shipped = (bundle, spec)
        for worker in self.pool:
            worker.load(self.shipped)

    def free(self) -> int:
        return sum(1 for w in self.pool if w.ready and w.batch is None)

    def submit(self, batch: Batch) -> None:
        worker = next(w for w in self.pool if w.ready and w.batch is None)
        worker.batch = batch
        _send_quietly(worker.conn, batch)

    def wait(self, timeout: float) -> list[Outcome]:
        ready = set(wait([w.conn for w in self.pool], timeout))
        outcomes = []
        for worker in list(self.pool):
            if worker.conn in ready:
                outcome = self._hear(worker)
                if outcome is not None:
                    outcomes.append(outcome)
        return outcomes

    def _hear(self, worker: _Worker) -> Optional[Outcome]:
        """What `worker` says: ready, a result, a failure to load, or
        nothing at all because it died (its socket is closed)."""
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            return self._died(worker)
        if message == ("ready",):
            worker.ready = True
            self.startup_deaths = 0
            return None
        if isinstance(message, tuple) and message[0] == "failed":
            raise WorkerError(f"a worker process could not load the program:\n{message[1]}")
        batch, worker.batch = worker.batch, None
        return Outcome(batch, result=message)

    def _died(self, worker: _Worker) -> Optional[Outcome]:
        try:
            worker.process.wait(timeout=5)
        except subprocess.TimeoutExpired:     # it closed its socket but lives on
            worker.process.kill()
            worker.process.wait()
        why = exit_description(worker.process.returncode)
        if not worker.ready:
            self.startup_deaths += 1
            if self.startup_deaths >= MAX_STARTUP_DEATHS:
                raise WorkerError(f"worker processes die while loading the program ({why})")
        worker.conn.close()
        fresh = self.pool[self.pool.index(worker)] = _Worker()
        if self.shipped is not None:
            fresh.load(self.shipped)
        return Outcome(worker.batch, died=why) if worker.batch is not None else None

    def close(self) -> None:
        """Stop every worker (again: nothing more)."""
        for worker in self.pool:
            worker.stop()
        self.pool = []


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


def child_main() -> None:
    """A worker process (`python -c CHILD FD PARENT_PID`): the program and
    read spec come first on the socket FD, then batches. It exits when the
    parent is gone; Ctrl-C is the parent's to handle."""
    fd, parent = int(sys.argv[1]), int(sys.argv[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                     name="npl-map-parent-watch").start()
    conn = Connection(fd)
    import npl.api                      # noqa: F401  (the compiler too: while the parent checks)
    try:
        shipped = conn.recv()
    except (EOFError, OSError):
        return
    if shipped is None:                 # the job was refused before it started
        return
    bundle, spec = shipped
    try:
        serve(conn, bundle, spec)
    except NplError:                    # reported on the socket already
        pass


def _watch_parent(parent: int) -> None:
    import time
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(1)
