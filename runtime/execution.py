"""Where and under which limits generated code runs.

`run_deep(fn, *args)` runs a call on a worker thread with a large stack and
a raised recursion limit, so NPL recursion can go much deeper than Python's
default of 1000 frames; it gives back fn's result or re-raises its exception
in the caller. Workers are kept for reuse (a call costs tens of
microseconds, not a thread start); calls made while already on a worker run
directly.

`Budget` is the optional step/time budget of one program. Generated code
that was compiled with instrumentation decrements the namespace global
`_steps` at every function entry and loop iteration and calls
`Budget.refill()` when it drops below zero; `refill` counts the steps used,
checks the step limit and (every `CHUNK` steps at most) the clock, and hands
out the next chunk. Code compiled without limits has no instrumentation at
all.
"""
from __future__ import annotations

import sys
import threading
import time

from .errors import NplRuntimeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

STACK_BYTES = 512 * 1024 * 1024
RECURSION_LIMIT = 30_000
CHUNK = 1024                      # steps between two clock checks

_on_deep_thread = threading.local()
_limit_lock = threading.Lock()
_limit_users = 0
_saved_limit = 0


def run_deep(fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args) on a big-stack worker thread with NumPy warnings silenced
    (once NumPy is loaded); its exception, if any, is re-raised here."""
    if getattr(_on_deep_thread, "active", False):
        return fn(*args)
    job = _Job(fn, args)
    _raise_recursion_limit()
    try:
        worker = _take_worker()
        worker.job = job
        worker.go.release()
        while not worker.done.acquire(timeout=0.25):
            if not worker.is_alive():
                # It died outside the job (a MemoryError while reporting the
                # result): never wait for it, and never reuse it.
                if job.error is None:
                    job.error = MemoryError("out of memory (the program thread stopped)")
                break
        else:
            _idle_workers.append(worker)
    finally:
        _restore_recursion_limit()
    if job.error is not None:
        raise job.error
    return job.value


class _Job:
    __slots__ = ("fn", "args", "value", "error")

    def __init__(self, fn: Callable[..., Any], args: tuple):
        self.fn, self.args = fn, args
        self.value: Any = None
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            self.value = self.fn(*self.args)
        except BaseException as exc:  # handed to the calling thread
            self.error = exc


class _Worker(threading.Thread):
    """A daemon thread with a big stack that runs jobs one at a time. The
    hand-off is two plain locks, held while nothing is to do: the caller
    sets `job` and releases `go`; the worker runs it and releases `done`
    (no Condition or Event: what a call costs is the two thread switches)."""

    def __init__(self) -> None:
        super().__init__(name="npl-program", daemon=True)
        self.job: Optional[_Job] = None
        self.go = threading.Lock()
        self.done = threading.Lock()
        self.go.acquire()
        self.done.acquire()

    def run(self) -> None:
        _on_deep_thread.active = True
        quiet = False
        while True:
            self.go.acquire()
            job, self.job = self.job, None
            if not quiet and "numpy" in sys.modules:
                quiet = _silence_numpy()
            job.run()
            del job
            self.done.release()


def _silence_numpy() -> bool:
    """Silence NumPy's floating-point warnings on this thread for good (NumPy
    is imported only by programs that use arrays, before their first job)."""
    import numpy as np
    np.errstate(all="ignore").__enter__()
    return True


_idle_workers: list[_Worker] = []


def _take_worker() -> _Worker:
    try:
        return _idle_workers.pop()
    except IndexError:
        pass
    with _limit_lock:
        previous = threading.stack_size()
        threading.stack_size(STACK_BYTES)
        try:
            worker = _Worker()
            worker.start()
        finally:
            threading.stack_size(previous)
    return worker


def _raise_recursion_limit() -> None:
    global _limit_users, _saved_limit
    with _limit_lock:
        if _limit_users == 0:
            _saved_limit = sys.getrecursionlimit()
            sys.setrecursionlimit(max(_saved_limit, RECURSION_LIMIT))
        _limit_users += 1


def _restore_recursion_limit() -> None:
    global _limit_users
    with _limit_lock:
        _limit_users -= 1
        if _limit_users == 0:
            sys.setrecursionlimit(_saved_limit)


class Budget:
    """Step and time limits of one program, applied per top-level call."""

    def __init__(self, namespace: dict, step_limit: Optional[int], time_limit: Optional[float]):
        self.namespace = namespace
        self.step_limit = step_limit
        self.time_limit = time_limit
        self.used = 0
        self.granted = 0
        self.deadline = 0.0

    @property
    def active(self) -> bool:
        return self.step_limit is not None or self.time_limit is not None

    def reset(self) -> None:
        """Start a fresh budget (called at every top-level entry)."""
        self.used = 0
        self.deadline = time.monotonic() + self.time_limit if self.time_limit else 0.0
        self.granted = self._next_chunk()
        self.namespace["_steps"] = self.granted

    def refill(self) -> None:
        """Called by generated code when `_steps` dropped below zero."""
        self.used += self.granted
        if self.step_limit is not None and self.used >= self.step_limit:
            raise NplRuntimeError(
                "step_limit", f"step limit exceeded ({self.step_limit} steps)")
        if self.time_limit is not None and time.monotonic() > self.deadline:
            raise NplRuntimeError(
                "time_limit", f"time limit exceeded ({self.time_limit:g} s)")
        self.granted = self._next_chunk()
        self.namespace["_steps"] = self.granted - 1

    def tick(self) -> bool:
        """One step from inside an expression (comprehensions); always True."""
        ns = self.namespace
        ns["_steps"] -= 1
        if ns["_steps"] < 0:
            self.refill()
        return True

    def _next_chunk(self) -> int:
        if self.step_limit is None:
            return CHUNK
        remaining = self.step_limit - self.used
        return min(remaining, CHUNK) if self.time_limit is not None else remaining

    @property
    def steps_used(self) -> int:
        """Steps taken since the last reset."""
        if not self.active:
            return 0
        return self.used + self.granted - self.namespace["_steps"]
