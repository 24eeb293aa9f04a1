"""A program's settings: the `npl.toml` beside it in, a `Settings` out.

Every setting's default is written once, here: the filler's ([fill]) in
`Settings`, the verification limits ([limits]) in `Limits`, which the filler,
`npl verify` and the sandbox worker (filling/sandbox.py) all take. A key
npl.toml does not know, or a value a setting cannot take (a limit of 0, a
string), is a diagnostic (E042) with the line it is on: a misspelt setting or
a limit turned off must never go unnoticed.
"""
from __future__ import annotations

import difflib
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from npl.lang.ast import Span
from npl.lang.diagnostics import CompileError, Diagnostic
from npl.lang.files import MAX_SETTINGS_BYTES, read_bytes

from .paths import SETTINGS_FILE


@dataclass
class Limits:
    """What one candidate's checks may use: steps and seconds per top-level
    call, memory of the worker process, inputs drawn per property. The
    first three are npl.toml's [limits] steps, seconds and memory_mb."""
    steps: int = 5_000_000
    seconds: float = 10.0
    memory_mb: int = 1024
    max_examples: int = 50

    def job_seconds(self) -> float:
        """Wall-clock seconds one sandbox job (all the checks of one
        candidate, filling/sandbox.py) may take: twice the time limit and
        an allowance for compiling the job and replying."""
        return self.seconds * 2 + JOB_ALLOWANCE


MAX_CANDIDATES = 16             # most candidates one hole may draw ([fill] candidates)
JOB_ALLOWANCE = 5.0             # seconds added to twice the time limit for a whole job
CALLS_PER_ATTEMPT = 6           # default [fill] max_calls: this many per attempt


@dataclass
class Settings:
    """npl.toml beside the program (all optional)."""
    model: Optional[str] = None
    attempts: int = 4               # model replies per hole (docs/local-model.md: why 4)
    depth: int = 2
    concurrency: int = 4
    held_out: float = 0.25
    synth_budget: float = 2.0
    max_subholes: int = 4           # holes one fill may open (decomposition)
    max_calls: int = 0              # model calls for one hole, its sub-holes included
                                    # (0: not set, CALLS_PER_ATTEMPT x attempts)
    candidates: int = 1             # verified candidates to draw and choose among
                                    # (filling/choice.py; `npl fill --candidates K`)
    repair: str = "auto"            # which rejections get a repair request
                                    # (SETTING_CHOICES; filling/model_source.py repair_mode)
    limits: Limits = field(default_factory=Limits)
    oracle_attempts: int = 3          # [oracle] attempts: asks per call before a run-time error
    oracle_concurrency: int = 8       # [oracle] concurrency: calls asked at once (hosted models)
    prices: dict[str, Any] = field(default_factory=dict)
    provider: dict[str, Any] = field(default_factory=dict)

    @property
    def calls_per_hole(self) -> int:
        """The model calls one hole may make, its sub-holes' included."""
        return self.max_calls or CALLS_PER_ATTEMPT * self.attempts

    @classmethod
    def load(cls, folder: Path) -> "Settings":
        """The settings of `folder`/npl.toml (the defaults when there is
        none). Raises CompileError (E042) for a file that is not TOML, an
        unknown key or a bad value."""
        path = folder / SETTINGS_FILE
        text = read_settings_text(path)
        if text is None:
            return cls()
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CompileError([Diagnostic("E042", f"npl.toml: {exc}", span_at(str(path), exc))],
                               {str(path): text}) from None
        except RecursionError:
            raise settings_error(path, "", "", "arrays or tables are nested too deeply") from None
        check_known_keys(path, text, data)
        s = cls()
        s.model = data.get("model")
        if s.model is not None and not isinstance(s.model, str):
            raise settings_error(path, text, "model", f"model must be a string such as "
                                 f'"openai/gpt-4o-mini", not {s.model!r}')
        for section in ("fill", "limits", "oracle", "prices", "provider"):
            if not isinstance(data.get(section, {}), dict):
                raise settings_error(path, text, section, f"[{section}] must be a table")
        for section, target in (("fill", s), ("limits", s.limits)):
            table = data.get(section, {})
            for name in KNOWN_SETTINGS[section]:
                if name in table:
                    value = setting(path, text, section, name, table[name], getattr(target, name))
                    setattr(target, name, value)
        for name in KNOWN_SETTINGS["oracle"]:
            if name in data.get("oracle", {}):
                attr = f"oracle_{name}"
                setattr(s, attr, setting(path, text, "oracle", name, data["oracle"][name],
                                         getattr(s, attr)))
        s.prices = data.get("prices", {})
        s.provider = data.get("provider", {})
        return s


# What npl.toml may hold: top-level keys, and the keys of [fill] and [limits]
# ([prices] and [provider] are checked where they are used).
KNOWN_SETTINGS = {"": ("model", "fill", "limits", "oracle", "prices", "provider"),
                  "fill": ("attempts", "depth", "concurrency", "held_out", "synth_budget",
                           "max_subholes", "max_calls", "candidates", "repair"),
                  "limits": ("steps", "seconds", "memory_mb"),
                  "oracle": ("attempts", "concurrency")}

# The range of each number setting (npl.toml [fill] / [limits]).
SETTING_MINIMUM = {"attempts": 1, "depth": 0, "concurrency": 1, "held_out": 0.0,
                   "synth_budget": 0.0, "steps": 1, "seconds": 0.001, "memory_mb": 16,
                   "max_subholes": 0, "max_calls": 1, "candidates": 1}
SETTING_MAXIMUM = {"attempts": 100, "depth": 8, "concurrency": 64, "held_out": 1.0,
                   "synth_budget": 3600.0, "steps": 1_000_000_000_000, "seconds": 86400.0,
                   "memory_mb": 1 << 20, "max_subholes": 64, "max_calls": 1000,
                   "candidates": MAX_CANDIDATES}


# The string settings and the values each may take.
SETTING_CHOICES = {"repair": ("auto", "all", "diagnostics")}

# [fill] repair: after which rejections the model is asked to repair its
# answer (the answer and why it was rejected go back to it), rather than
# for a fresh answer to the first request (filling/model_source.py).
#   all          every rejection
#   diagnostics  an unusable reply, a compile error, test-gaming; after a
#                failed example, property or resource limit, or a reply cut
#                off (repetition stop, token limit), the next attempt is a
#                fresh sample
#   auto         diagnostics for a local model, all for a hosted one


def check_known_keys(path: Path, text: str, data: dict) -> None:
    """A diagnostic (E042) for a key npl.toml does not know: a misspelt or
    misplaced setting must not be silently ignored."""
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


def setting(path: Path, text: str, section: str, name: str, value: Any, default: Any) -> Any:
    """`value` as the type of `default`, or a diagnostic (E042) naming the key:
    a limit of 0, nan, inf or a string must never silently turn a limit off,
    nor a huge one make a worker or a model run without end."""
    if name in SETTING_CHOICES:
        if value not in SETTING_CHOICES[name]:
            raise settings_error(path, text, f"{section}.{name}",
                                 f"{section}.{name} must be one of "
                                 f"{', '.join(repr(c) for c in SETTING_CHOICES[name])}, not {value!r}")
        return value
    kind = type(default)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = number and (kind is float or isinstance(value, int)) and math.isfinite(value)
    low, high = SETTING_MINIMUM[name], SETTING_MAXIMUM[name]
    if not ok or value < low or (name == "held_out" and value >= high):
        want = "an integer" if kind is int else \
            "a finite number" if number and not math.isfinite(value) else "a number"
        bound = " below 1" if name == "held_out" else ""
        raise settings_error(path, text, f"{section}.{name}",
                             f"{section}.{name} must be {want} of at least {low}{bound}, "
                             f"not {value!r}")
    if value > high:
        raise settings_error(path, text, f"{section}.{name}",
                             f"{section}.{name} must be at most {high}, not {value!r}")
    return kind(value)


def read_settings_text(path: Path) -> Optional[str]:
    """npl.toml's text, or None when there is none; E042 when it cannot be read."""
    try:
        data = read_bytes(path, MAX_SETTINGS_BYTES)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise settings_error(path, "", "", f"cannot read npl.toml: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise settings_error(path, "", "", f"npl.toml is not UTF-8 text ({exc.reason} at byte "
                             f"{exc.start})") from None


def settings_error(path: Path, text: str, key: str, message: str) -> CompileError:
    """An E042 diagnostic at the line of npl.toml where `key` is written."""
    name = key.rpartition(".")[2]
    m = re.search(rf"^[ \t]*\[?{re.escape(name)}\b", text, re.M) if name else None
    line = text.count("\n", 0, m.start()) + 1 if m else 1
    return CompileError([Diagnostic("E042", f"npl.toml: {message}", Span(str(path), line, 1, line, 2))],
                        {str(path): text})


def span_at(path: str, exc) -> Span:
    line = getattr(exc, "lineno", 1) or 1
    col = getattr(exc, "colno", 1) or 1
    return Span(path, line, col, line, col + 1)
