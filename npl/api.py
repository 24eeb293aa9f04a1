"""The embedding API: NPL programs as Python objects.

    prog = npl.load("pricing.npl", externs={"fetch_rate": rates.get})
    prog.call("total", [1.5, 2.0])        # or prog.fn.total([1.5, 2.0])

`load` and `compile_source` go through the same driver as the CLI
(compiler/driver.py) and the runtime (runtime/codegen.py). Arguments are
checked against the NPL signature and converted (int widens to float;
lists, dicts, sets and tuples element by element; NumPy arrays and CPU torch
tensors pass without a copy; objects with the right attributes become
structs); results come back as Python values, NumPy arrays and struct
objects with attributes. Compiled work is cached per process, keyed by the
source and its fills, so loading a program twice compiles it once.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional

from npl.compiler.driver import Compilation, compile
from npl.lang.diagnostics import CompileError
from npl.lang.errors import ConfigKind
from npl.lang.symbols import FuncInfo
from npl.lang.types import Type
from npl.runtime.convert import HOST, ConversionError, convert

_CACHE: dict[str, Compilation] = {}
_CACHE_LOCK = threading.Lock()


class NplTypeError(ConfigKind, TypeError):
    """A host value does not fit the NPL type it is passed as (a request
    the program cannot honour; a TypeError too)."""


@dataclass
class HoleState:
    name: str
    location: str
    kind: str
    description: str
    state: str                       # "filled" | "missing"
    provenance: Optional[str]        # "synth", "library", "openai/gpt-4o", ...


def _compile_cached(source: str, path: str, *, fills: Optional[dict[str, str]] = None,
                    strict_fills: bool = True) -> Compilation:
    """driver.compile, cached per process by (path, source, fills). Only a
    compilation in which every fill checked is kept: it is the same whether
    the fills were applied strictly or not."""
    fills = fills or {}
    key = hashlib.sha256(repr((path, source, sorted(fills.items()))).encode()).hexdigest()
    with _CACHE_LOCK:
        comp = _CACHE.get(key)
    if comp is None:
        comp = compile(source, path, fills=fills, strict_fills=strict_fills)
        if not comp.rejected:
            with _CACHE_LOCK:
                _CACHE[key] = comp
    return comp


class _Functions:
    """`program.fn.NAME(...)`."""

    def __init__(self, program: "Program"):
        self._program = program

    def __getattr__(self, name: str) -> Callable:
        if name.startswith("__"):
            raise AttributeError(name)
        self._program._function(name)            # raises AttributeError if unknown
        return lambda *args, **kwargs: self._program.call(name, *args, **kwargs)

    def __dir__(self):
        return sorted(self._program._functions())


class Program:
    def __init__(self, comp: Compilation, *, externs: Optional[dict] = None, device: str = "cpu",
                 lock=None, path: Optional[str] = None, step_limit: Optional[int] = None,
                 time_limit: Optional[float] = None):
        from npl.runtime.loader import load_compilation, missing_externs
        missing = missing_externs(comp, externs)
        if missing:
            raise CompileError(missing, comp.sources)
        self._comp = comp
        self._lock = lock
        self._path = path
        self.device = device
        self._externs = dict(externs or {})
        self._function_table: Optional[dict] = None
        self._struct_table: Optional[dict] = None
        self._plans: dict[str, tuple] = {}
        self._runtime = load_compilation(comp, externs=self._wrap_externs(self._externs), device=device,
                                         step_limit=step_limit, time_limit=time_limit)
        self.fn = _Functions(self)

    # ------------------------------------------------------------ calling
    def _functions(self) -> dict:
        if self._function_table is None:
            main = self._comp.program.scopes[self._comp.path]
            self._function_table = {n: s for n, s in main.items()
                                     if isinstance(s, FuncInfo) and not s.extern}
        return self._function_table

    def _function(self, name: str):
        fn = self._functions().get(name)
        if fn is None:
            raise AttributeError(f"{self._comp.path} has no function '{name}' "
                                 f"(functions: {', '.join(sorted(self._functions()))})")
        return fn

    def call(self, name: str, *args, **kwargs) -> Any:
        """Call NPL function `name` with Python values."""
        fn, names, run = self._call_plan(name)
        if kwargs or len(args) != len(names):
            args = _arguments(name, names, args, kwargs)
        structs = self._structs()
        return run(*[to_npl(v, t, structs, f"{name}() argument '{n}'")
                     for v, (n, t) in zip(args, fn.params)])

    def _call_plan(self, name: str) -> tuple:
        """(the function, its parameter names, the runtime's caller of it),
        made once per function: a host may call one function many times."""
        plan = self._plans.get(name)
        if plan is None:
            fn = self._function(name)
            plan = self._plans[name] = (fn, [n for n, _ in fn.params],
                                        self._runtime.caller(fn.ir_name))
        return plan

    def _structs(self) -> dict[str, tuple[type, list]]:
        if self._struct_table is None:
            self._struct_table = {s.ir_name: (self._runtime.struct_class(s.ir_name), s.fields)
                                  for s in self._comp.program.structs.values()}
        return self._struct_table

    def struct(self, name: str) -> type:
        """The Python class of NPL struct `name` (to build arguments)."""
        return self._runtime.struct_class(name)

    def _wrap_externs(self, externs: dict) -> dict:
        out = {}
        for ext in self._comp.module.externs:
            host = externs.get(ext.name)
            if host is not None:
                out[ext.name] = _checked_extern(ext, host, self)
        return out

    # ------------------------------------------------------------ holes and tests
    def holes(self) -> list[HoleState]:
        out = []
        for spec in self._comp.holes:
            entry = self._lock.entries.get(spec.key) if self._lock is not None else None
            filled = spec.key in self._comp.filled
            out.append(HoleState(spec.name, spec.location, spec.kind, spec.description,
                                 "filled" if filled else "missing",
                                 entry.provenance.source if (entry is not None and filled) else None))
        return out

    def test(self, max_examples: int = 100) -> list:
        from npl.runtime.testing import run_tests
        return run_tests(self._runtime, self._comp.module, max_examples=max_examples)

    def fill(self, model: Optional[str] = None, refresh: Optional[list[str]] = None) -> "Program":
        """Fill missing holes (a program loaded from a file) and return the
        reloaded program."""
        if self._path is None:
            raise RuntimeError("fill() needs a program loaded from a file (npl.load)")
        from npl.filling.filler import FillFailedError
        from npl.project import fill_missing, open_program
        opened = open_program(self._path, strict_fills=False, compile=_compile_cached)
        _, result = fill_missing(opened, model=model, quiet=True, refresh=refresh or (),
                                 compile=_compile_cached)
        if result.failures:
            raise FillFailedError(result)
        return load(self._path, externs=self._externs, frozen=True, device=self.device)

    def __repr__(self) -> str:
        return f"<npl.Program {self._comp.path} functions={sorted(self._functions())}>"


def _arguments(name: str, names: list[str], args: tuple, kwargs: dict) -> list:
    """Positional and keyword arguments in parameter order (NplTypeError
    when they do not match the parameters)."""
    if len(args) > len(names):
        raise NplTypeError(f"{name}() takes {len(names)} argument(s), {len(args)} given")
    values = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in names:
            raise NplTypeError(f"{name}() has no parameter '{k}'")
        if k in values:
            raise NplTypeError(f"{name}() got '{k}' twice")
        values[k] = v
    missing = [n for n in names if n not in values]
    if missing:
        raise NplTypeError(f"{name}() is missing argument(s): {', '.join(missing)}")
    return [values[n] for n in names]


def _checked_extern(ext, host: Callable, program: Program) -> Callable:
    def call(*args):
        result = host(*args)
        try:
            return to_npl(result, ext.ret, program._structs(), f"extern {ext.name}() result")
        except NplTypeError as err:
            from npl.runtime.errors import NplRuntimeError
            raise NplRuntimeError("extern", str(err)) from None
    call.__name__ = ext.name
    return call


# ---------------------------------------------------------------- conversion

def to_npl(value: Any, t: Type, structs: dict, what: str) -> Any:
    """Check `value` against NPL type `t` and convert it to the exact NPL
    value (no copy for arrays; runtime/convert.py, host form); NplTypeError
    naming `what` when it does not fit."""
    try:
        return convert(value, t, structs, what, HOST)
    except ConversionError as err:
        raise NplTypeError(str(err)) from None


# ---------------------------------------------------------------- entry points

def load(path: str, *, externs: Optional[dict] = None, frozen: bool = True, model: Optional[str] = None,
         device: str = "cpu") -> Program:
    """Load an NPL program from a file, with the fills of its lock file. With
    frozen=False, missing holes are filled first (with `model`). The program
    is compiled once (and not again while it stays the same)."""
    from npl.project import prepare
    prog = prepare(path, frozen=frozen, model=model, quiet=True, compile=_compile_cached)
    return load_compiled(prog.comp, prog.settings, externs=externs, frozen=frozen, model=model,
                         device=device, lock=prog.lock, path=path)


def load_compiled(comp: Compilation, settings, *, externs: Optional[dict] = None, frozen: bool = True,
                  model: Optional[str] = None, device: str = "cpu", lock=None,
                  path: Optional[str] = None, answers: Optional[str] = None,
                  step_limit: Optional[int] = None, time_limit: Optional[float] = None) -> Program:
    """A Program of `comp` (compiled with every fill) whose oracles answer
    from the store `answers` (default: beside the program) and, unless
    `frozen`, `model`, under `settings` (npl.toml); `step_limit` and
    `time_limit` bound each call (no JIT then). What `load` and each
    `npl map` worker do once the program is compiled."""
    program = Program(comp, externs=externs, device=device, lock=lock, path=path,
                      step_limit=step_limit, time_limit=time_limit)
    from npl.oracle_runs import install_oracles
    program.oracles = install_oracles(program._runtime, comp, settings, frozen=frozen, model=model,
                                      answers=answers)
    return program


def compile_source(text: str, path: str = "<string>", *, externs: Optional[dict] = None,
                   fills: Optional[dict[str, str]] = None, device: str = "cpu") -> Program:
    """Compile NPL source text (holes stay unfilled unless `fills` maps their
    keys to fill source)."""
    comp = _compile_cached(text, path, fills=fills)
    return Program(comp, externs=externs, device=device)
