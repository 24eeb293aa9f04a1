"""One worker's side of a map job: the program loaded once, then batches of
records in, their results out. The local process pool (local.py) and the Ray
tasks (ray_backend.py) run the same `Runner`.

    Runner(bundle, shape_of)     loads the program (program.py load_bundle)
    runner.run(batch)            Batch -> BatchResult: per record, the raw
                                 record read and converted to FUNC's
                                 parameter types (records.py), the call,
                                 the result as JSON; every failure of a
                                 record (bad input, an NPL run-time error,
                                 a step or time limit, a missing oracle
                                 answer) is that record's error, and the
                                 batch goes on
    serve(conn, bundle, spec)    a local worker process's loop over its socket

A batch runs on one of the runtime's big-stack threads (runtime/execution.py
run_deep) as a whole, so a record's call costs no thread hand-off.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Optional

from npl.lang.errors import NplError
from npl.runtime.convert import to_json
from npl.runtime.errors import NplRuntimeError

from .program import ProgramBundle, load_bundle, use_bundle_environment
from .records import PYTHON, RecordError, Shape, arguments, output_line

LINES = "lines"                        # results as output lines (npl map)
VALUES = "values"                      # results as (ok, JSON data or message) (npl.map)


@dataclass
class Batch:
    """Consecutive records to run: (index, line number, raw record) each.
    `seq` numbers the batches in input order; a batch retried record by
    record keeps its number, each part at its `offset`; `tries` counts the
    workers that died running it."""
    seq: int
    records: list
    tries: int = 0
    offset: int = 0


@dataclass
class BatchResult:
    """A batch's results in its records' order (output lines, or (ok, data)
    pairs), how many failed, and the seconds its calls took."""
    seq: int
    results: list
    failed: int
    seconds: float


@dataclass(frozen=True)
class ReadSpec:
    """How a worker reads records and gives results: the input format
    (records.py FORMATS, or PYTHON), a CSV header, LINES or VALUES."""
    format: str
    header: Optional[list] = None
    output: str = LINES


@dataclass
class Runner:
    """A worker's loaded program and how it reads records."""
    bundle: ProgramBundle
    spec: ReadSpec
    loaded: Any = field(init=False)
    call: Any = field(init=False)
    shape: Shape = field(init=False)

    def __post_init__(self):
        use_bundle_environment(self.bundle)
        self.loaded = load_bundle(self.bundle)
        self.call = self.loaded.caller()
        self.shape = Shape(self.spec.format, self.loaded.params, self.loaded.structs,
                           self.spec.header)

    def run(self, batch: Batch) -> BatchResult:
        """The results of a batch's records, in order."""
        from npl.runtime.execution import run_deep
        started = time.perf_counter()
        results, failed = run_deep(self._run_all, batch.records)
        return BatchResult(batch.seq, results, failed, time.perf_counter() - started)

    def _run_all(self, records: list) -> tuple[list, int]:
        lines = self.spec.output == LINES
        out, failed = [], 0
        for index, line, raw in records:
            ident, ok, data = self.one(raw, line)
            failed += not ok
            if lines:
                out.append(output_line(index, ident, result=data) if ok else
                           output_line(index, ident, error=data))
            else:
                out.append((ok, data))
        return out, failed

    def one(self, raw: Any, line: int) -> tuple[Any, bool, Any]:
        """(the record's id, True, its result as JSON data) or (its id,
        False, the error message)."""
        ident = None
        try:
            args, ident = arguments(raw, line, self.shape)
            value = self.call(*args)
        except RecordError as err:
            return err.ident, False, str(err)
        except NplRuntimeError as err:
            return ident, False, describe(err)
        except NplError as err:
            return ident, False, str(err)
        except Exception as err:                    # a bug in NPL: this record's error, not the job's
            return ident, False, f"internal error: {type(err).__name__}: {err} (a bug in NPL)"
        try:
            return ident, True, to_json(value)
        except (TypeError, RecursionError) as err:  # a function value; nesting too deep to write
            return ident, False, f"the result cannot be written as JSON: {err}"


def describe(err: NplRuntimeError) -> str:
    """A run-time error as one line: its message and where it happened."""
    where = err.location
    if where is None:
        return err.message
    return f"{err.message} (at {where.file}:{where.line}, in {where.function})"


# ---------------------------------------------------------------- a local worker process

def serve(conn, bundle: ProgramBundle, spec: ReadSpec) -> None:
    """A local worker process: load the program, say ("ready",) or
    ("failed", message, exit status), then answer each Batch with its
    BatchResult until the connection closes or None comes."""
    try:
        runner = Runner(bundle, spec)
        if bundle.limits.memory_mb:
            from npl.filling.sandbox import limit_memory
            limit_memory(bundle.limits.memory_mb)
    except NplError as err:
        conn.send(("failed", err.report_text(), err.exit_code))
        return
    conn.send(("ready",))
    while True:
        try:
            batch = conn.recv()
        except (EOFError, OSError):
            return
        if batch is None:
            return
        conn.send(runner.run(batch))


__all__ = ["Batch", "BatchResult", "ReadSpec", "Runner", "serve", "LINES", "VALUES", "PYTHON",
           "describe"]
