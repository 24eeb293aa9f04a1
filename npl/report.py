"""What a user sees when an `npl` command fails, and its exit status.

`report(exc)` takes any exception that escaped a command and prints its text
on stderr: an NplError its `report_text()` (a compile error's diagnostics and
their count, a run-time error's NPL stack trace, a lock file's located
diagnostic, ...) with its kind's `exit_code`; Ctrl-C "npl: interrupted" with
130; anything else is a bug in NPL: one "internal error" line, exit 3, and
the Python traceback only with NPL_DEBUG=1 (then the exception is re-raised).
The exit codes are lang/errors.py's (docs/security.md lists them).

Both ways into a command use it: npl/cli.py and the cached `npl run` of
npl/fast.py. Kept import-light for the latter: no click, nothing but the
error hierarchy.
"""
from __future__ import annotations

import os
import sys

from npl.lang.errors import (EXIT_INTERNAL, EXIT_INTERRUPTED, INTERNAL_HINT, InternalError,
                             NplError)


def report(exc: BaseException) -> int:
    """Print what the user sees for `exc` on stderr and return the exit
    status. A SystemExit is not an error and is raised again; so is an NPL
    bug when NPL_DEBUG=1, for its traceback."""
    if isinstance(exc, SystemExit):
        raise exc
    _flush(sys.stdout)                  # the program's output first, then the error
    if isinstance(exc, KeyboardInterrupt):
        _say("npl: interrupted")
        return EXIT_INTERRUPTED
    if isinstance(exc, NplError) and not isinstance(exc, InternalError):
        _say(exc.report_text())
        return exc.exit_code
    if os.environ.get("NPL_DEBUG") == "1":
        raise exc
    if isinstance(exc, InternalError):
        _say(exc.report_text())
        return exc.exit_code
    _say(f"npl: internal error: {type(exc).__name__}: {exc}\n{INTERNAL_HINT}")
    return EXIT_INTERNAL


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _flush(stream) -> None:
    try:
        stream.flush()
    except (OSError, ValueError):       # a closed or broken stdout must not hide the error
        pass
