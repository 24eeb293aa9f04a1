"""The program a map job runs: checked once by the parent, shipped to the
workers as plain data, loaded once by each.

    open_bundle(path, func, ...)   PROG.npl with its lock and npl.toml ->
                                   ProgramBundle, or the error that refuses
                                   the job before any record is read: a
                                   compile error, an unfilled code hole
                                   (E040, naming each), an unknown FUNC, an
                                   extern only a host could supply
    load_bundle(bundle)            ProgramBundle -> Loaded: the program
                                   compiled from the shipped sources and
                                   fills, loaded as npl.load loads it
                                   (npl/api.py load_compiled), with FUNC's
                                   signature and the struct classes

A bundle holds the sources (the program and every file it imports), the
lock's fills and the npl.toml settings: what the worker compiles is what the
parent checked, even if a file changes meanwhile, and a Ray worker on
another machine needs no copy of the files. No pickled NPL internals cross.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any, Optional

from npl.lang.diagnostics import CompileError, Diagnostic
from npl.lang.errors import ConfigKind, RunKind
from npl.lang.types import DictT, FuncT, IterT, ListT, OptionalT, SetT, TupleT, Type


class MapRequestError(ConfigKind):
    """A map job that cannot start: an unknown function, a parameter no
    record can hold, a missing input file, a bad option (exit 2)."""


class WorkerError(RunKind):
    """The workers cannot run the job: one cannot load the program, or
    they keep dying before they are ready (exit 1)."""


@dataclass(frozen=True)
class RecordLimits:
    """What one record's call may use: steps and seconds (None: no limit;
    a limited program runs without the JIT), and a worker's memory in MiB
    (None: no cap)."""
    steps: Optional[int] = None
    seconds: Optional[float] = None
    memory_mb: Optional[int] = None


@dataclass(frozen=True)
class ProgramBundle:
    """Everything a worker needs, as plain data."""
    path: str                           # as the user named it: messages say file:line with it
    sources: dict[str, str]             # file -> text: the program and what it imports
    fills: dict[str, str]               # hole key -> fill text (the lock's)
    settings: Any                       # filling/settings.py Settings (npl.toml)
    function: str                       # FUNC
    answers: str                        # the answer store's absolute path
    frozen: bool = False                # oracles answer from the store only
    model: Optional[str] = None         # the oracles' model, chosen by the parent
    device: str = "cpu"
    jit: bool = True
    limits: RecordLimits = field(default_factory=RecordLimits)

    @property
    def digest(self) -> str:
        """A key for this exact program and its options (a Ray worker keeps
        the program it loaded under it)."""
        return hashlib.sha256(repr((sorted(self.sources.items()), sorted(self.fills.items()),
                                    self.function, self.answers, self.frozen, self.model,
                                    self.device, self.jit, self.limits)).encode()).hexdigest()


def open_bundle(path: str, function: str, *, frozen: bool, model: Optional[str] = None,
                device: str = "cpu", jit: bool = True, limits: RecordLimits = RecordLimits(),
                on_open=lambda prog: None) -> tuple[ProgramBundle, Any]:
    """Check PROG.npl for a map job over FUNC: (its bundle, its Compilation).
    Code holes are never filled here: one without a fill refuses the job
    (E040 per hole). The oracles' model is chosen once, here, as for
    `npl run`."""
    from npl.project import prepare
    prog = prepare(path, frozen=True, on_open=on_open)
    comp = prog.comp
    info = function_info(comp, function)
    from npl.runtime.loader import missing_externs
    externs = missing_externs(comp, None)
    if externs:
        raise CompileError(externs, comp.sources)
    for name, t in info.params:
        if not has_data_form(t):
            raise MapRequestError(f"{function}() takes '{name}: {t}', which no record can hold "
                                  "(a function or iterator)")
    chosen = None
    if comp.oracles:
        from npl.filling.filler import choose_model
        chosen = choose_model(model, prog.settings)
    from npl.filling.answers import answers_path_for
    bundle = ProgramBundle(path=path, sources=dict(comp.sources), fills=prog.lock.stamped_fills(),
                           settings=prog.settings, function=function,
                           answers=os.path.abspath(answers_path_for(path)), frozen=frozen,
                           model=chosen, device=device, jit=jit, limits=limits)
    return bundle, comp


def function_info(comp, function: str):
    """FUNC's FuncInfo in the program's own file; MapRequestError naming the
    functions there are when it has none of that name."""
    from npl.lang.symbols import FuncInfo
    scope = comp.program.scopes[comp.path]
    funcs = {n: s for n, s in scope.items() if isinstance(s, FuncInfo) and not s.extern}
    if function not in funcs:
        raise MapRequestError(f"{comp.path} has no function '{function}' (functions: "
                              f"{', '.join(sorted(funcs)) or 'none'})")
    return funcs[function]


def has_data_form(t: Type) -> bool:
    """Whether values of `t` can come from a record (no functions, no
    iterators anywhere inside)."""
    if isinstance(t, (FuncT, IterT)):
        return False
    if isinstance(t, OptionalT):
        return has_data_form(t.inner)
    if isinstance(t, (ListT, SetT)):
        return has_data_form(t.elem)
    if isinstance(t, DictT):
        return has_data_form(t.key) and has_data_form(t.value)
    if isinstance(t, TupleT):
        return all(has_data_form(e) for e in t.elems)
    return True


@dataclass
class Loaded:
    """A worker's program: FUNC's IR name, parameters and return type, the
    runtime program to call it on and the struct table the converter takes."""
    program: Any                        # npl/api.py Program
    ir_name: str
    params: list[tuple[str, Type]]
    ret: Type
    structs: dict

    @property
    def runtime(self):
        return self.program._runtime

    def caller(self):
        """FUNC as a callable taking NPL values of its parameter types."""
        return self.runtime.caller(self.ir_name)


def load_bundle(bundle: ProgramBundle, comp=None) -> Loaded:
    """The bundle's program loaded as npl.load loads it (npl/api.py
    load_compiled): `comp` when the caller has compiled it, else compiled
    here from the bundled sources and fills (strictly: the parent checked
    them)."""
    from npl.api import load_compiled
    comp = comp if comp is not None else compile_bundle(bundle)
    program = load_compiled(comp, bundle.settings, frozen=bundle.frozen, model=bundle.model,
                            device=bundle.device, path=bundle.path, answers=bundle.answers,
                            step_limit=bundle.limits.steps, time_limit=bundle.limits.seconds)
    info = function_info(comp, bundle.function)
    structs = {s.ir_name: (program.struct(s.ir_name), s.fields)
               for s in comp.program.structs.values()}
    return Loaded(program, info.ir_name, list(info.params), info.ret, structs)


def use_bundle_environment(bundle: ProgramBundle) -> None:
    """Make a worker process's JIT and device those of the bundle (the
    runtime reads NPL_JIT and NPL_DEVICE), whatever its environment says."""
    os.environ["NPL_DEVICE"] = bundle.device
    if not bundle.jit:
        os.environ["NPL_JIT"] = "off"


def compile_bundle(bundle: ProgramBundle):
    """The bundled program compiled from its own sources (its imports too)
    and fills: a Compilation with every hole filled."""
    from npl.compiler.driver import compile
    from npl.lang.parser import parse

    def loader(target: str):
        if target not in bundle.sources:
            raise FileNotFoundError(target)
        return parse(bundle.sources[target], target), bundle.sources[target]
    comp = compile(bundle.sources[bundle.path], bundle.path, fills=bundle.fills, loader=loader)
    if comp.unfilled:                   # only if the parent's check was bypassed
        raise CompileError([Diagnostic("E040", f"hole '{h.name}' has no fill", h.info.span)
                            for h in comp.unfilled], comp.sources)
    return comp
