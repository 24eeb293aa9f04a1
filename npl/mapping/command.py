"""`npl map PROG.npl FUNC --input IN --output OUT` (SPEC section 11;
docs/map.md): what npl/cli.py's command does with its options.

The program is checked first (an unfilled code hole refuses the job before
any record is read), then the input is opened, the job runs (run.py) with
a progress bar on a terminal, and one summary line ends it. Exit status: 0
when every record of the output has a result, 1 when any is an error (or
the job stopped on a run-time error), 2 for a bad request (a compile error,
a missing input file, a bad option), 130 when interrupted: lang/errors.py.
"""
from __future__ import annotations

import sys
from typing import Optional, Union

from npl.lang.errors import EXIT_FAILED, EXIT_OK

from .program import MapRequestError, RecordLimits, open_bundle
from .progress import MapProgress, stopped, summary
from .records import open_input
from .run import FileJob, default_workers, local_first, map_file


def map_command(program: str, function: str, *, input: str, output: str, fmt: Optional[str] = None,
                workers: Optional[int] = None, ray: Union[None, str] = None, resume: bool = False,
                frozen: bool = False, model: Optional[str] = None, device: str = "cpu",
                no_jit: bool = False, batch_size: Optional[int] = None,
                steps: Optional[int] = None, seconds: Optional[float] = None,
                memory_mb: Optional[int] = None, on_open=lambda prog: None) -> int:
    """Run the job and give its exit status; the summary goes to stderr.
    `ray`: None (local workers), "" (a local Ray instance) or an address."""
    if batch_size is not None and batch_size < 1:
        raise MapRequestError(f"--batch-size must be at least 1, not {batch_size}")
    backend = local_first(workers, ray)
    try:
        bundle, _ = open_bundle(program, function, frozen=frozen, model=model, device=device,
                                jit=not no_jit, limits=RecordLimits(steps, seconds, memory_mb),
                                on_open=on_open)
        source = open_input(input, fmt)
    except BaseException:
        if backend is not None:
            backend.close()
        raise
    job = FileJob(bundle, source, output, workers=workers, ray=ray, resume=resume,
                  batch_size=batch_size)
    progress = MapProgress()

    def start(kept) -> None:
        progress.start(source.count() if progress.interactive else None, len(kept.done))
    try:
        stats, kept = map_file(job, on_batch=progress.advance, on_start=start, backend=backend)
    except BaseException:
        progress.close()
        if progress.started:
            print(stopped(progress.written, progress.failed, output), file=sys.stderr, flush=True)
        raise
    progress.close()
    where = "Ray" if ray is not None else f"{workers or default_workers()} worker(s)"
    print(summary(records=stats.records, failed=stats.failed, seconds=stats.seconds,
                  kept=len(kept.done), kept_failed=kept.failed, output=output, workers=where),
          file=sys.stderr, flush=True)
    return EXIT_FAILED if stats.failed or kept.failed else EXIT_OK
