"""A program on disk with its lock file and settings: what `npl run`,
`npl check`, `npl test` and `npl.load` share.

`open_program(path)` reads PROG.npl, its lock file PROG.npl.lock and the
settings of an `npl.toml` beside it, and compiles the program with the
locked fills. Filling missing holes is compiler/filler.py's job; this module
only knows what is there.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from npl.compiler.driver import Compilation, compile
from npl.compiler.lockfile import LockFile, LockFileError, lock_path_for
from npl.lang.diagnostics import CompileError, Diagnostic


@dataclass
class Settings:
    """npl.toml beside the program (all optional)."""
    model: Optional[str] = None
    attempts: int = 4
    depth: int = 2
    concurrency: int = 4
    held_out: float = 0.25
    step_limit: int = 5_000_000
    time_limit: float = 10.0
    memory_limit_mb: int = 1024
    synth_budget: float = 2.0
    prices: dict[str, Any] = field(default_factory=dict)
    provider: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> "Settings":
        path = folder / "npl.toml"
        if not path.exists():
            return cls()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise CompileError([Diagnostic("E042", f"npl.toml: {exc}", span_at(str(path), exc))],
                               {str(path): path.read_text(encoding="utf-8")}) from None
        s = cls()
        fill = data.get("fill", {})
        limits = data.get("limits", {})
        s.model = data.get("model")
        for name in ("attempts", "depth", "concurrency", "held_out", "synth_budget"):
            if name in fill:
                setattr(s, name, type(getattr(s, name))(fill[name]))
        if "steps" in limits:
            s.step_limit = int(limits["steps"])
        if "seconds" in limits:
            s.time_limit = float(limits["seconds"])
        if "memory_mb" in limits:
            s.memory_limit_mb = int(limits["memory_mb"])
        s.prices = data.get("prices", {})
        s.provider = data.get("provider", {})
        return s


def span_at(path: str, exc) -> "Span":
    from npl.lang.ast import Span
    line = getattr(exc, "lineno", 1) or 1
    col = getattr(exc, "colno", 1) or 1
    return Span(path, line, col, line, col + 1)


@dataclass
class OpenProgram:
    path: str
    source: str
    lock: LockFile
    settings: Settings
    comp: Compilation

    @property
    def missing(self):
        return self.comp.unfilled


def read_source(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise SystemExit(f"npl: error: no such file: {path}") from None
    except UnicodeDecodeError as exc:
        raise SystemExit(f"npl: error: {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise SystemExit(f"npl: error: cannot read {path}: {exc.strerror}") from None


def usable_fills(lock: LockFile) -> dict[str, str]:
    """Fills from the lock that can be used as they are (stamped entries)."""
    return {k: e.fill for k, e in lock.entries.items() if not e.needs_verification}


def open_program(path: str, *, strict_fills: bool = True) -> OpenProgram:
    """Read and compile `path` with its locked fills. Raises CompileError
    (bad program, bad lock) or LockFileError."""
    source = read_source(path)
    lock = LockFile.load(lock_path_for(path))
    settings = Settings.load(Path(path).resolve().parent)
    comp = compile(source, path, fills=usable_fills(lock), strict_fills=strict_fills)
    return OpenProgram(path, source, lock, settings, comp)


def missing_fill_errors(prog: OpenProgram) -> list[Diagnostic]:
    out = []
    lock_name = os.path.basename(str(lock_path_for(prog.path)))
    for spec in prog.missing:
        out.append(Diagnostic("E040", f"hole '{spec.name}' has no fill in {lock_name}",
                              spec.info.span, notes=("fill it with `npl fill " + prog.path + "`",)))
    return out
