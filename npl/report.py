"""What a user sees when an `npl` command fails, and its exit status.

`report(exc)` takes any exception that escaped a command, prints its text
on stderr and gives the exit status: a run-time error's NPL stack trace (1),
a compile error's diagnostics and their count (2), a bad lock file, program
file, device or hole name (2), a fill that failed or a provider error (1),
Ctrl-C "npl: interrupted" (130); anything else is a bug in NPL: one
"internal error" line, exit 3, and the Python traceback only with
NPL_DEBUG=1 (then the exception is raised again). docs/security.md lists
the exit codes.

Both ways into `npl run` use it (npl/run_command.py): the compiling path
and the cached one of npl/fast.py. Kept import-light for the latter: no
click, and error classes are only looked at once their module is loaded
(an exception of a class whose module was never imported cannot exist).
"""
from __future__ import annotations

import os
import sys

INTERNAL_HINT = "  (this is a bug in NPL; rerun with NPL_DEBUG=1 for details)"

# Errors known by class name (their modules are heavy to import): (prefix, exit status).
_BY_NAME = {"LockFileError": ("", 2), "DeviceError": ("npl: error: ", 2),
            "SourceFileError": ("npl: error: ", 2), "UnknownHoleError": ("npl: error: ", 2),
            "FillFailedError": ("", 1), "NoFillerError": ("", 1),
            "ProviderError": ("npl: error: ", 1)}


def report(exc: BaseException) -> int:
    """Print what the user sees for `exc` on stderr and return the exit
    status. A SystemExit is not an error and is raised again; so is an NPL
    bug when NPL_DEBUG=1, for its traceback."""
    if isinstance(exc, SystemExit):
        raise exc
    _flush(sys.stdout)                  # the program's output first, then the error
    if isinstance(exc, KeyboardInterrupt):
        _say("npl: interrupted")
        return 130
    if _is(exc, "npl.runtime.errors", "NplRuntimeError"):
        _say(exc.render())
        return 1
    if _is(exc, "npl.lang.diagnostics", "CompileError"):
        n = len(exc.diagnostics)
        _say(f"{exc.render()}\n{n} error{'s' if n != 1 else ''}")
        return 2
    known = _BY_NAME.get(type(exc).__name__)
    if known is not None:
        prefix, status = known
        _say(f"{prefix}{exc}")
        return status
    if os.environ.get("NPL_DEBUG") == "1":
        raise exc
    _say(f"npl: internal error: {type(exc).__name__}: {exc}\n{INTERNAL_HINT}")
    return 3


def _is(exc: BaseException, module: str, name: str) -> bool:
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(exc, getattr(loaded, name))


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _flush(stream) -> None:
    try:
        stream.flush()
    except (OSError, ValueError):       # a closed or broken stdout must not hide the error
        pass
