"""Running a map job: records cut into batches, the batches run by a
backend (local.py's worker processes, or ray_backend.py's Ray tasks), the
results handed on in input order.

    run_job(backend, records, emit, ...)
        records: (index, line number, raw record), in input order
        emit(results, failed): called once per batch, in input order, with
            its results (output lines, or (ok, data) pairs) and how many of
            them are errors
        -> JobStats

A backend runs a batch on one worker and reports an `Outcome`: the batch's
result, or that the worker died while it held the batch (a segfault, the
out-of-memory killer). Such a batch's records are each tried once more, on
their own, in a live worker, so one bad record takes only itself down; a
record whose worker dies again is an error result saying so. Everything
else that goes wrong with a record is its own error result, made by the
worker (worker.py).

Batch size: `batch_size`, else adaptive: the first batches are small, then
each batch is sized to take about the backend's `target_seconds`, from the
time the records took so far (enough to make the cost of shipping a batch
small against its work, small enough to balance the load and show
progress).
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Iterator, Optional, Protocol

from .worker import Batch, BatchResult

FIRST_BATCH = 4
MAX_BATCH = 4096


@dataclass
class Outcome:
    """What became of a batch: its result, or why its worker is gone."""
    batch: Batch
    result: Optional[BatchResult] = None
    died: Optional[str] = None


class Backend(Protocol):
    """Where batches run."""
    workers: int                       # batches it runs at once
    target_seconds: float              # how long one batch should take

    def load(self, bundle, spec) -> None:
        """Give the workers the program (program.py ProgramBundle) and how
        to read records (worker.py ReadSpec)."""

    def free(self) -> int:
        """How many more batches it takes now."""

    def submit(self, batch: Batch) -> None:
        """Start running `batch`."""

    def wait(self, timeout: float) -> list[Outcome]:
        """The outcomes that arrived within `timeout` seconds (maybe none)."""

    def close(self) -> None:
        """Stop every worker (closing twice does nothing more)."""


@dataclass
class JobStats:
    records: int = 0
    failed: int = 0
    seconds: float = 0.0


class BatchSizer:
    """The size of the next batch: fixed, or about `target` seconds of work
    at the mean time per record seen so far."""

    def __init__(self, fixed: Optional[int], target: float):
        self.fixed = fixed
        self.target = target
        self.records = 0
        self.seconds = 0.0

    def size(self) -> int:
        if self.fixed:
            return self.fixed
        if not self.records:
            return FIRST_BATCH
        per_record = max(self.seconds / self.records, 1e-7)
        return max(1, min(MAX_BATCH, int(self.target / per_record)))

    def observe(self, records: int, seconds: float) -> None:
        self.records += records
        self.seconds += seconds


class _Slots:
    """Results waiting for their turn: one slot per batch sequence number,
    filled in parts when a batch is retried record by record."""

    def __init__(self, emit: Callable[[list, int], None]):
        self.emit = emit
        self.slots: dict[int, list] = {}
        self.failed: dict[int, int] = {}
        self.missing: dict[int, int] = {}
        self.next = 0                  # the next sequence number to hand on

    def open(self, seq: int, size: int) -> None:
        self.slots[seq] = [None] * size
        self.missing[seq] = size
        self.failed[seq] = 0

    def fill(self, seq: int, offset: int, results: list, failed: int) -> None:
        self.slots[seq][offset:offset + len(results)] = results
        self.missing[seq] -= len(results)
        self.failed[seq] += failed
        while self.next in self.slots and not self.missing[self.next]:
            n = self.next
            self.emit(self.slots.pop(n), self.failed.pop(n))
            del self.missing[n]
            self.next += 1

    def waiting(self, upto: int) -> int:
        """Batches up to sequence number `upto` not handed on yet."""
        return upto - self.next


def run_job(backend: Backend, records: Iterable[tuple[int, int, Any]],
            emit: Callable[[list, int], None], *, batch_size: Optional[int] = None,
            failure: Callable[[tuple, str], Any]) -> JobStats:
    """Run every record on `backend`; `emit` gets each batch's results in
    input order. `failure(record, message)` makes the error result of a
    record no worker could run. The backend is closed at the end, and on
    any exception (Ctrl-C too)."""
    job = _Job(backend, iter(records), emit, BatchSizer(batch_size, backend.target_seconds), failure)
    try:
        return job.run()
    finally:
        backend.close()


class _Job:
    def __init__(self, backend: Backend, records: Iterator, emit: Callable[[list, int], None],
                 sizer: BatchSizer, failure: Callable[[tuple, str], Any]):
        self.backend = backend
        self.records = records
        self.sizer = sizer
        self.failure = failure
        self.stats = JobStats()
        self.retries: deque[Batch] = deque()
        self.in_flight = 0
        self.next_seq = 0
        self.exhausted = False
        self.window = max(8, 4 * backend.workers)    # batches ahead of the one written next

        def counted(results: list, failed: int) -> None:
            self.stats.records += len(results)
            self.stats.failed += failed
            emit(results, failed)
        self.slots = _Slots(counted)

    def run(self) -> JobStats:
        started = time.perf_counter()
        while True:
            self.submit()
            if not self.in_flight and not self.retries and self.exhausted:
                break
            for outcome in self.backend.wait(1.0):
                self.in_flight -= 1
                self.take(outcome)
        self.stats.seconds = time.perf_counter() - started
        return self.stats

    def submit(self) -> None:
        """Give the backend what it takes: retries first, then new batches
        while the results not yet written stay within the window."""
        while self.backend.free() > 0:
            if self.retries:
                batch = self.retries.popleft()
            elif not self.exhausted and self.slots.waiting(self.next_seq) < self.window:
                batch = self.new_batch()
                if batch is None:
                    continue
            else:
                return
            self.backend.submit(batch)
            self.in_flight += 1

    def new_batch(self) -> Optional[Batch]:
        records = []
        size = self.sizer.size()
        for record in self.records:
            records.append(record)
            if len(records) >= size:
                break
        else:
            self.exhausted = True
        if not records:
            return None
        batch = Batch(self.next_seq, records)
        self.slots.open(batch.seq, len(records))
        self.next_seq += 1
        return batch

    def take(self, outcome: Outcome) -> None:
        batch = outcome.batch
        if outcome.result is not None:
            self.sizer.observe(len(batch.records), outcome.result.seconds)
            self.slots.fill(batch.seq, batch.offset, outcome.result.results, outcome.result.failed)
        elif batch.tries == 0 and len(batch.records) > 1:
            for k, record in enumerate(batch.records):      # each record alone, once more
                self.retries.append(Batch(batch.seq, [record], tries=1, offset=batch.offset + k))
        elif batch.tries == 0:
            self.retries.append(replace(batch, tries=1))
        else:
            message = (f"the worker process running this record died ({outcome.died}), and again "
                       "when it was retried in a fresh worker")
            self.slots.fill(batch.seq, batch.offset,
                            [self.failure(record, message) for record in batch.records],
                            len(batch.records))
