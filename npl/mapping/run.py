"""The two ways into a map job: a data file to an output file (`npl map`),
and Python values to Python values (`npl.map`).

    map_file(job, on_batch)      FileJob -> (JobStats, Resume): the input's
                                 records, minus those a resumed output holds,
                                 run; their lines appended to the output in
                                 input order, flushed batch by batch
    map_values(program, FUNC, records, ...)
                                 Python values -> the results in order, each
                                 converted back to what `Program.call`
                                 returns (structs as struct objects)
    make_backend(...)            local worker processes, or Ray
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Union

from npl.lang.errors import RunKind
from npl.runtime.convert import JSON, convert

from .jobs import JobStats, run_job
from .program import MapRequestError, ProgramBundle, RecordLimits, load_bundle, open_bundle
from .records import PYTHON, InputFile, Resume, output_line, raw_id, scan_output
from .worker import LINES, VALUES, ReadSpec


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                       # not Linux
        return max(1, os.cpu_count() or 1)


def make_backend(*, workers: Optional[int], ray: Union[None, bool, str]):
    """Where the batches run, started but without a program yet (`load`
    gives it): Ray tasks when `ray` is True or an address (a local Ray
    instance for True or ""), else `workers` local processes (default: one
    per core), which start importing NPL at once."""
    if ray is not None and ray is not False:
        from .ray_backend import RayBackend
        return RayBackend(address=ray if isinstance(ray, str) and ray else None)
    if workers is not None and workers < 1:
        raise MapRequestError(f"--workers must be at least 1, not {workers}")
    from .local import LocalPool
    return LocalPool(workers or default_workers())


def local_first(workers: Optional[int], ray: Union[None, bool, str]):
    """The local workers, started now so that they import NPL while the
    parent checks the program; None for Ray (started once the program
    checks: a refused job starts no cluster)."""
    return make_backend(workers=workers, ray=None) if ray is None or ray is False else None


# ---------------------------------------------------------------- files

@dataclass
class FileJob:
    """What `npl map` was asked to do."""
    bundle: ProgramBundle
    source: InputFile
    output: str
    workers: Optional[int] = None
    ray: Union[None, bool, str] = None
    resume: bool = False
    batch_size: Optional[int] = None


def map_file(job: FileJob, on_batch: Callable[[int, int], None] = lambda n, failed: None,
             on_start: Callable[[Resume], None] = lambda resume: None,
             backend=None) -> tuple[JobStats, Resume]:
    """Run the job on `backend` (make_backend's, not loaded yet; default:
    made here); `on_start(resume)` once the output is scanned, then
    `on_batch(records, failed)` after each batch written. The backend is
    closed at the end, whatever happens."""
    try:
        check_output(job.source.path, job.output)
        resume = scan_output(job.output) if job.resume else Resume()
        backend = backend or make_backend(workers=job.workers, ray=job.ray)
        backend.load(job.bundle, ReadSpec(job.source.format, job.source.header, LINES))
        out = open_output(job.output, resume)       # only once the workers could start
    except BaseException:
        if backend is not None:
            backend.close()
        raise
    on_start(resume)
    fmt, header = job.source.format, job.source.header
    records = ((index, line, raw) for index, (line, raw) in enumerate(job.source.records())
               if index not in resume.done)

    def failure(record: tuple, message: str) -> str:
        index, _, raw = record
        return output_line(index, raw_id(raw, fmt, header), error=message)
    with out:
        def emit(lines: list, failed: int) -> None:
            out.write("".join(lines).encode("utf-8"))
            out.flush()
            on_batch(len(lines), failed)
        stats = run_job(backend, records, emit, batch_size=job.batch_size, failure=failure)
    return stats, resume


def check_output(input_path: str, output: str) -> None:
    """MapRequestError when the output would overwrite the input, or its
    folder does not exist."""
    if os.path.exists(output) and os.path.samefile(input_path, output):
        raise MapRequestError(f"the output {output} is the input file")
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):
        raise MapRequestError(f"cannot write {output}: no folder {folder}")


def open_output(path: str, resume: Resume):
    """The output file, binary: a new one, or (resuming) the old one cut
    after its last whole line, positioned at its end."""
    try:
        if not resume.done and not resume.torn:
            return open(path, "wb")
        f = open(path, "r+b")
        f.truncate(resume.keep_bytes)
        f.seek(resume.keep_bytes)
        return f
    except OSError as exc:
        raise MapRequestError(f"cannot write {path}: {exc.strerror}") from None


# ---------------------------------------------------------------- Python values

class MapRecordError(RunKind):
    """One record of `npl.map` that failed: its `index` and `message`."""

    def __init__(self, index: int, message: str):
        super().__init__(f"record {index}: {message}")
        self.index = index
        self.message = message


class MapError(RunKind):
    """`npl.map` with errors="raise" and a record that failed: `results`
    holds every result, a MapRecordError in each failed record's place."""

    def __init__(self, results: list, failures: list[MapRecordError]):
        first = failures[0]
        super().__init__(f"{len(failures)} of {len(results)} record(s) failed; the first, "
                         f"{first}")
        self.results = results
        self.failures = failures


def map_values(program: Any, function: str, records: Iterable[Any], *,
               workers: Optional[int] = None, ray: Union[None, bool, str] = None,
               frozen: bool = True, model: Optional[str] = None,
               batch_size: Optional[int] = None, errors: str = "raise",
               steps: Optional[int] = None, seconds: Optional[float] = None) -> list:
    """`function` of the program (a path, or an npl.Program loaded from one)
    on each record, on worker processes (or Ray); the results in order.
    As npl.load, oracles answer from the store only unless frozen=False."""
    if errors not in ("raise", "return"):
        raise MapRequestError(f'errors must be "raise" or "return", not {errors!r}')
    path = getattr(program, "_path", program)
    if path is None:
        raise MapRequestError("npl.map needs a program loaded from a file (npl.load), or its path")
    backend = local_first(workers, ray)
    try:
        bundle, comp = open_bundle(os.fspath(path), function, frozen=frozen, model=model,
                                   limits=RecordLimits(steps, seconds))
        loaded = load_bundle(bundle, comp)
        backend = backend or make_backend(workers=workers, ray=ray)
        backend.load(bundle, ReadSpec(PYTHON, None, VALUES))
    except BaseException:
        if backend is not None:
            backend.close()
        raise
    results: list = []
    failures: list[MapRecordError] = []

    def emit(batch: list, failed: int) -> None:
        for ok, data in batch:
            index = len(results)
            if ok:
                results.append(convert(data, loaded.ret, loaded.structs, "the result", JSON))
            else:
                failures.append(MapRecordError(index, data))
                results.append(failures[-1])
    items = ((index, None, item) for index, item in enumerate(records))
    run_job(backend, items, emit, batch_size=batch_size,
            failure=lambda record, message: (False, message))
    if failures and errors == "raise":
        raise MapError(results, failures)
    return results
