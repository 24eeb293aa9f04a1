"""A program on disk with its lock file and settings: what `npl run`,
`npl check`, `npl test` and `npl.load` share.

`open_program(path)` reads PROG.npl, its lock file PROG.npl.lock and the
settings of an `npl.toml` beside it, and compiles the program with the
locked fills. Filling missing holes is filling/filler.py's job; this module
only knows what is there.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from npl.compiler.driver import Compilation, compile
from npl.filling.lockfile import LockFile, lock_path_for
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
    oracle_attempts: int = 3          # [oracle] attempts: asks per call before a run-time error
    oracle_concurrency: int = 8       # [oracle] concurrency: calls asked at once (hosted models)
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
        text = path.read_text(encoding="utf-8")
        check_known_keys(path, text, data)
        s.model = data.get("model")
        if s.model is not None and not isinstance(s.model, str):
            raise settings_error(path, text, "model", f"model must be a string such as "
                                 f'"openai/gpt-4o-mini", not {s.model!r}')
        for section, table in (("fill", fill), ("limits", limits), ("prices", data.get("prices", {})),
                               ("provider", data.get("provider", {}))):
            if not isinstance(table, dict):
                raise settings_error(path, text, section, f"[{section}] must be a table")
        for name in ("attempts", "depth", "concurrency", "held_out", "synth_budget"):
            if name in fill:
                setattr(s, name, setting(path, text, "fill", name, fill[name], getattr(s, name)))
        for key, attr in (("steps", "step_limit"), ("seconds", "time_limit"),
                          ("memory_mb", "memory_limit_mb")):
            if key in limits:
                setattr(s, attr, setting(path, text, "limits", key, limits[key], getattr(s, attr)))
        oracle = data.get("oracle", {})
        if not isinstance(oracle, dict):
            raise settings_error(path, text, "oracle", "[oracle] must be a table")
        for key in ("attempts", "concurrency"):
            if key in oracle:
                attr = f"oracle_{key}"
                setattr(s, attr, setting(path, text, "oracle", key, oracle[key], getattr(s, attr)))
        s.prices = data.get("prices", {})
        s.provider = data.get("provider", {})
        return s


# What npl.toml may hold: top-level keys, and the keys of [fill] and [limits]
# ([prices] and [provider] are checked where they are used).
KNOWN_SETTINGS = {"": ("model", "fill", "limits", "oracle", "prices", "provider"),
                  "oracle": ("attempts", "concurrency"),
                  "fill": ("attempts", "depth", "concurrency", "held_out", "synth_budget"),
                  "limits": ("steps", "seconds", "memory_mb")}


def check_known_keys(path: Path, text: str, data: dict) -> None:
    """A diagnostic (E042) for a key npl.toml does not know: a misspelt or
    misplaced setting must not be silently ignored."""
    import difflib
    for section, known in KNOWN_SETTINGS.items():
        table = data if not section else data.get(section, {})
        if not isinstance(table, dict):
            continue
        for key in table:
            if key in known:
                continue
            where = f"[{section}] " if section else ""
            home = [name for name, keys in KNOWN_SETTINGS.items() if name and key in keys]
            if home and home[0] != section:
                hint = f"; it belongs under [{home[0]}]"
            else:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else \
                    f" (known: {', '.join(known)})"
            raise settings_error(path, text, f"{section}.{key}" if section else key,
                                 f"unknown setting {where}{key!r}{hint}")


# The smallest value each number setting accepts (npl.toml [fill] / [limits]).
SETTING_MINIMUM = {"attempts": 1, "depth": 0, "concurrency": 1, "held_out": 0.0,
                   "synth_budget": 0.0, "steps": 1, "seconds": 0.001, "memory_mb": 16}


def setting(path: Path, text: str, section: str, name: str, value: Any, default: Any) -> Any:
    """`value` as the type of `default`, or a diagnostic (E042) naming the key:
    a limit of 0 or a string must never silently turn a limit off."""
    kind = type(default)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and \
        (kind is float or isinstance(value, int))
    low = SETTING_MINIMUM.get(name)
    if ok and low is not None and value < low:
        ok = False
    if ok and name == "held_out" and value >= 1:
        ok = False
    if not ok:
        want = "an integer" if kind is int else "a number"
        bound = " below 1" if name == "held_out" else ""
        raise settings_error(path, text, f"{section}.{name}",
                             f"{section}.{name} must be {want} of at least {low}{bound}, "
                             f"not {value!r}")
    return kind(value)


def settings_error(path: Path, text: str, key: str, message: str) -> CompileError:
    import re
    name = key.rpartition(".")[2]
    m = re.search(rf"^[ \t]*\[?{re.escape(name)}\b", text, re.M)
    line = text.count("\n", 0, m.start()) + 1 if m else 1
    from npl.lang.ast import Span
    return CompileError([Diagnostic("E042", f"npl.toml: {message}", Span(str(path), line, 1, line, 2))],
                        {str(path): text})


def span_at(path: str, exc):
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


class SourceFileError(OSError):
    """A program file that cannot be read: missing, unreadable or not UTF-8
    (the CLI exits 2 with the message; the embedding API raises it)."""


def read_source(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise SourceFileError(f"no such file: {path}") from None
    except UnicodeDecodeError as exc:
        raise SourceFileError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise SourceFileError(f"cannot read {path}: {exc.strerror}") from None


def open_program(path: str, *, strict_fills: bool = True) -> OpenProgram:
    """Read and compile `path` with its locked fills. Raises CompileError
    (bad program, bad lock) or LockFileError."""
    source = read_source(path)
    lock = LockFile.load(lock_path_for(path))
    settings = Settings.load(Path(path).resolve().parent)
    comp = compile(source, path, fills=lock.stamped_fills(), strict_fills=strict_fills)
    return OpenProgram(path, source, lock, settings, comp)


def missing_fill_errors(prog: OpenProgram) -> list[Diagnostic]:
    out = []
    lock_name = os.path.basename(str(lock_path_for(prog.path)))
    for spec in prog.missing:
        out.append(Diagnostic("E040", f"hole '{spec.name}' has no fill in {lock_name}",
                              spec.info.span, notes=("fill it with `npl fill " + prog.path + "`",)))
    return out
