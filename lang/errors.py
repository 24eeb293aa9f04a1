"""The root of every error NPL reports to a user, and the exit codes.

Each layer raises subclasses of one of the kinds below; the command line
(npl/report.py) and the embedding API tell errors apart with `isinstance` and
take the exit status from `exit_code`, never from a class name or a message
(tests/test_errors.py keeps it so).

Exceptions that never reach a user (a synthesizer's search signals, a
kernel's fault code, "this loop is not a GPU pattern") stay plain Python
exceptions and say so in their docstring; any other exception that escapes
to the command line is a bug in NPL and is reported as an internal error.

Exit status (docs/security.md, "Exit codes"):
    0    success
    1    the program failed: a run-time error, a failing test, a hole that
         could not be filled, a provider (model) error
    2    the input is wrong: a compile error, a missing fill with --frozen,
         a bad lock file or npl.toml, a file that cannot be read, a bad
         command-line request
    3    a bug in NPL itself (an internal error)
    130  interrupted (Ctrl-C)
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130

# The line under an internal error's message.
INTERNAL_HINT = "  (this is a bug in NPL; rerun with NPL_DEBUG=1 for details)"


class NplError(Exception):
    """An error NPL reports to its user. `kind` says what went wrong (a
    run-time or provider error refines it per instance: "index",
    "step_limit", "network", ...); `exit_code` is the command line's status
    for it (the same for every error of a kind). `render()` is its text;
    `report_text()` what the command line prints on stderr (npl/report.py)."""

    kind = "error"
    exit_code = EXIT_FAILED

    def render(self) -> str:
        return f"npl: error: {self}"

    def report_text(self) -> str:
        """What the command line prints for it (npl/report.py): `render()`,
        which a class may extend (a compile error adds its count)."""
        return self.render()


class CompileKind(NplError):
    """The program (or a fill, or npl.toml) does not compile."""
    kind = "compile"
    exit_code = EXIT_BAD_INPUT


class RunKind(NplError):
    """The NPL program failed while running."""
    kind = "runtime"
    exit_code = EXIT_FAILED


class FillKind(NplError):
    """A hole could not be filled."""
    kind = "fill"
    exit_code = EXIT_FAILED


class ProviderKind(NplError):
    """A model provider failed (unreachable, refused, crashed, timed out)."""
    kind = "provider"
    exit_code = EXIT_FAILED


class LockKind(NplError):
    """A lock file (or library store) cannot be used."""
    kind = "lock"
    exit_code = EXIT_BAD_INPUT


class ConfigKind(NplError):
    """Settings or a request that cannot be honoured: a bad option value,
    an unknown hole name, a device that is not there, an unreadable file."""
    kind = "config"
    exit_code = EXIT_BAD_INPUT


class InternalError(NplError):
    """A bug in NPL itself (e.g. the IR verifier found malformed IR)."""
    kind = "internal"
    exit_code = EXIT_INTERNAL

    def render(self) -> str:
        return f"npl: internal error: {self}\n{INTERNAL_HINT}"
