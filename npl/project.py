"""A program on disk with its lock file and settings: what `npl run`,
`npl test`, `npl fill`, `npl check`, `npl.load`, the REPL and the language
server share.

    open_program(path)               PROG.npl, PROG.npl.lock, npl.toml -> OpenProgram
                                     (compiled with the lock's usable fills)
    fill_missing(prog, model=...)    OpenProgram -> OpenProgram: the filler
                                     (filling/filler.py) fills what is missing,
                                     each fill is written to the lock at once,
                                     the lock is tidied, the program compiled
                                     with the new fills
    prepare(path, frozen=..., ...)   open, fill if allowed (with --frozen a
                                     missing fill is error E040), compile once

The filler itself reads and writes no file; this module decides where the
lock is written (beside the program; nowhere for the REPL's session).

A hole's fill lives in the lock of the file that has the hole: a program
that imports a sibling file (`from shapes import area`) uses the fills of
shapes.npl.lock for shapes.npl's holes (their keys do not depend on the
importer: compiler/holes.py `keyed_tests`), and a fill that `npl fill` makes
for one of them is written there. The importer's examples check those
fills (`npl test`) and never make them missing.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Optional, TextIO

from npl.compiler.driver import Compilation, compile
from npl.compiler.holes import home_module
from npl.filling.lockfile import (LockEntry, LockFile, lock_location, lock_path_for, prune, relocated,
                                  update_lock)
from npl.filling.attempts import AttemptLog, save_sidecar
from npl.filling.paths import attempts_path, settings_path
from npl.filling.settings import Settings
from npl.lang.diagnostics import CompileError, Diagnostic
from npl.lang.errors import ConfigKind
from npl.lang.files import read_text

if TYPE_CHECKING:
    from npl.filling.filler import FillResult

Compiler = Callable[..., Compilation]       # driver.compile, or npl.load's cached one


@dataclass
class OpenProgram:
    """A program as read from disk (or, for the REPL, a session): its text,
    its lock file, its npl.toml settings, and its compilation."""
    path: str
    source: str
    lock: LockFile
    settings: Settings
    comp: Compilation
    imported: dict[str, LockEntry] = field(default_factory=dict)   # entries of imported files' locks

    @property
    def missing(self):
        return self.comp.unfilled

    def entry(self, key: str) -> Optional[LockEntry]:
        """The lock entry of hole `key`: the imported file's own first."""
        return self.imported.get(key) or self.lock.entries.get(key)

    def entries(self) -> dict[str, LockEntry]:
        """Every lock entry known for the program, by key (imported files' first)."""
        return {**self.lock.entries, **self.imported}


class SourceFileError(ConfigKind, OSError):
    """A program file that cannot be read: missing, unreadable or not UTF-8
    (the CLI exits 2 with the message; the embedding API raises it)."""


def read_source(path: str) -> str:
    """The text of a program file (lang/files.py: a regular file of at most
    MAX_SOURCE_BYTES, UTF-8); SourceFileError says why it cannot be read."""
    try:
        return read_text(path)
    except FileNotFoundError:
        raise SourceFileError(f"no such file: {path}") from None
    except UnicodeDecodeError as exc:
        raise SourceFileError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise SourceFileError(f"cannot read {path}: {exc.strerror}") from None


def open_program(path: str, *, strict_fills: bool = True, compile: Compiler = compile) -> OpenProgram:
    """Read and compile `path` with its locked fills. Raises CompileError
    (bad program, bad lock, bad npl.toml), LockFileError or SourceFileError."""
    source = read_source(path)
    lock = LockFile.load(lock_path_for(path))
    settings = Settings.load(Path(settings_path(path)).parent)
    fills = lock.stamped_fills()
    comp = compile(source, path, fills=fills, strict_fills=strict_fills)
    imported = imported_entries(path, comp.program.modules)
    theirs = usable_fills(imported)
    if any(h.key in theirs and fills.get(h.key) != theirs[h.key] for h in comp.holes):
        comp = compile(source, path, fills={**fills, **theirs}, strict_fills=strict_fills)
    return OpenProgram(path, source, lock, settings, comp, imported)


def imported_entries(program: str, modules: Iterable[str]) -> dict[str, LockEntry]:
    """The entries of the lock files of the files `program` imports
    (`modules`, the program's own file among them), each beside its file,
    by key. A lock that cannot be read is a LockFileError naming it."""
    out: dict[str, LockEntry] = {}
    for module in modules:
        if module != program:
            out.update(LockFile.load(lock_path_for(module)).entries)
    return out


def usable_fills(entries: dict[str, LockEntry]) -> dict[str, str]:
    """{hole key: fill} of the stamped entries (LockFile.stamped_fills)."""
    return {k: e.fill for k, e in entries.items() if not e.needs_verification}


def prepare(path: str, *, frozen: bool, model: Optional[str] = None, quiet: bool = False,
            on_open: Callable[[OpenProgram], None] = lambda prog: None,
            compile: Compiler = compile) -> OpenProgram:
    """Open the program with its lock and settings and make sure every hole
    has a fill: with `frozen`, a missing one is a CompileError (E040);
    otherwise the filler fills it (`model`; `quiet`: no progress display).
    `on_open` sees the program as opened (the CLI warns of hand-edited lock
    entries). The program is compiled once when nothing was missing, and
    once more after filling; `compile` is npl.load's cached compile."""
    prog = open_program(path, strict_fills=frozen, compile=compile)
    on_open(prog)
    if not prog.missing and not prog.comp.rejected:
        return prog
    if frozen:
        raise CompileError(missing_fill_errors(prog), prog.comp.sources)
    from npl.filling.filler import FillFailedError
    prog, result = fill_missing(prog, model=model, quiet=quiet, compile=compile)
    if result.failures:
        raise FillFailedError(result)
    if prog.comp.rejected:                   # changed by another process meanwhile
        raise CompileError(prog.comp.rejected[0].diagnostics, prog.comp.sources)
    if prog.missing:
        raise CompileError(missing_fill_errors(prog), prog.comp.sources)
    return prog


def fill_missing(prog: OpenProgram, *, model: Optional[str] = None, quiet: bool = False,
                 refresh: Iterable[str] = (), save: bool = True, log: Optional[TextIO] = None,
                 compile: Compiler = compile) -> tuple[OpenProgram, FillResult]:
    """Fill the holes of `prog` that have no usable fill, and those `refresh`
    names, with the filler. Each accepted fill is written to the lock file
    at once (so an interrupted run keeps what it did), then entries whose
    hole is gone are pruned and the others moved to where their holes are
    now. With `save=False` nothing is written: the new entries are kept in
    the returned program's lock only (the REPL's session is no file).
    Every source's attempts are written to `log` as they happen (JSON
    lines, `npl fill --log`) and, with `save`, the attempts of the holes
    this run tried replace theirs in PROG.npl.attempts.jsonl
    (filling/attempts.py), also when the run stops early.

    Returns (the program compiled with its new fills, not strictly; the
    filler's FillResult: holes it could not fill are in its `failures`)."""
    from npl.filling.filler import fill_holes
    lock_path = lock_path_for(prog.path)
    module_locks: set[Path] = set()         # imported files' locks written to

    def write(entry: LockEntry) -> None:
        path = home_lock(entry.location, prog.path)
        if path != lock_path:
            module_locks.add(path)
        entry = relocated(entry, lock_location(entry.location, path))
        update_lock(path, lambda entries: entries.__setitem__(entry.key, entry))

    attempts = AttemptLog(log)
    try:
        result = fill_holes(prog.comp, prog.entries(), prog.settings, model=model,
                            refresh=refresh, quiet=quiet, attempts=attempts,
                            on_fill=write if save else (lambda entry: None))
    finally:
        if save:
            keep_attempts(prog, attempts)
    if save:
        lock = LockFile.load(lock_path)
        imported = imported_entries(prog.path, prog.comp.program.modules)
    else:
        lock = LockFile(prog.lock.path, {**prog.lock.entries, **result.entries}, prog.lock.tampered,
                        prog.lock.kept_tables)
        imported = prog.imported
    fills = {**lock.stamped_fills(), **usable_fills(imported)}
    comp = compile(prog.source, prog.path, fills=fills, strict_fills=False)
    if save and lock_path.exists():          # a run that filled nothing creates no lock
        live = {h.key: lock_location(h.location, lock_path) for h in comp.holes}
        lock = update_lock(lock_path, lambda entries: tidy_lock(entries, live))
    for path in sorted(module_locks):       # an imported file's lock: its own holes only
        live = {h.key: lock_location(h.location, path) for h in comp.holes
                if home_lock(h.location, prog.path) == path}
        update_lock(path, lambda entries: tidy_lock(entries, live))
    return OpenProgram(prog.path, prog.source, lock, prog.settings, comp, imported), result


def home_lock(location: str, program: str) -> Path:
    """The lock file of the hole at `location` ("PATH:LINE:COL"): the lock
    of the file the hole belongs to (for a hole in a fill, the file of the
    hole it fills); `program`'s own for its holes."""
    return lock_path_for(home_file(location, program))


def keep_attempts(prog: OpenProgram, attempts: AttemptLog) -> None:
    """Keep this run's attempts in the attempts file of the file each hole
    belongs to (PROG.npl.attempts.jsonl, or an imported file's own, as its
    fills go to its own lock), for `npl holes --attempts`; a file that
    cannot be written costs a warning only."""
    holes: dict[str, set[str]] = {prog.path: set()}      # each file's holes
    for spec in prog.comp.holes:
        holes.setdefault(home_file(spec.location, prog.path), set()).add(spec.key)
    tried: dict[str, set[str]] = {}
    for key in attempts.keys():
        home = home_file(attempts.of_hole(key)[0].location, prog.path)
        tried.setdefault(home, set()).add(key)
    for path in sorted(set(holes) | set(tried)):
        sidecar = attempts_path(path)
        try:
            save_sidecar(sidecar, attempts, holes.get(path, set()), tried.get(path, set()))
        except OSError as exc:
            print(f"npl: warning: could not keep the fill's attempts in {sidecar}: "
                  f"{exc.strerror or exc}", file=sys.stderr)


def home_file(location: str, program: str) -> str:
    """The file the hole at `location` ("PATH:LINE:COL") belongs to:
    `program` for its own holes (as the program was named), else the
    imported file's path."""
    home = home_module(location.rsplit(":", 2)[0])
    return program if os.path.abspath(home) == os.path.abspath(program) else home


def fills_checked_by(prog: OpenProgram) -> Callable[[str], str]:
    """For `npl test`: given a failing test's location ("file:line"), which
    locked fills it checks, where each is locked, and how to fill it anew
    (a test never refills: `npl fill --refresh` does)."""
    by_test: dict[str, list] = {}
    for spec in prog.comp.holes:
        if spec.depth == 0 and spec.key in prog.comp.filled:
            for t in spec.tests + spec.caller_tests:
                by_test.setdefault(f"{t.decl.span.file}:{t.decl.span.line}", []).append(spec)

    def explain(location: str) -> str:
        lines = []
        for spec in by_test.get(location, []):
            entry = prog.entry(spec.key)
            source = f", by {entry.provenance.source}" if entry is not None else ""
            lines.append(f"it checks the locked fill of hole '{spec.name}' ({spec.location}, "
                         f"in {home_lock(spec.location, prog.path).name}{source}); fix the "
                         f"example, or fill the hole anew against every example: "
                         f"npl fill {prog.path} --refresh {spec.name}")
        return "\n".join(lines)
    return explain


def tidy_lock(entries: dict[str, LockEntry], live: dict[str, str]) -> None:
    """Drop entries whose hole is gone; move the others' locations (key ->
    location in `live`) to where their holes are now."""
    prune(entries, live)
    for key, location in live.items():
        entry = entries.get(key)
        if entry is not None and entry.location != location:
            entries[key] = relocated(entry, location)


def missing_fill_errors(prog: OpenProgram) -> list[Diagnostic]:
    out = []
    lock_name = os.path.basename(str(lock_path_for(prog.path)))
    for spec in prog.missing:
        out.append(Diagnostic("E040", f"hole '{spec.name}' has no fill in {lock_name}",
                              spec.info.span, notes=("fill it with `npl fill " + prog.path + "`",)))
    return out
