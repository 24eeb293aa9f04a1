"""The compiler driver: source text in, a compiled program out.

    compile(source, path, fills=...) ->  Compilation
      front_end(source, path):
        parse      lang/parser.py      text      -> AST
        check      lang/checker.py     AST       -> CheckedProgram (+ imports)
        kernels    lang/kernels.py     program   -> (kernel rules)
      compile_checked(front end, fills):
        holes      compiler/holes.py   program   -> HoleSpecs with keys
        fills      compiler/fills.py   fill text -> checked declarations
        lower      compiler/lower.py   program   -> IR
        verify     compiler/irverify.py  IR        -> (internal consistency)

The CLI, the embedding API, the REPL, the filler (which compiles candidate
fills) and the tests all go through `compile`; the language server runs
`front_end` itself, to keep the checked program of a file with errors, and
goes on with `compile_checked` when it has none.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from npl.lang import ast
from npl.lang.checker import Checker
from npl.lang.diagnostics import CompileError, Diagnostic
from npl.lang.errors import InternalError
from npl.lang.files import UnreadableFile, read_text
from npl.lang.gcpause import gc_paused
from npl.lang.parser import parse
from npl.lang.symbols import CheckedProgram

from . import ir
from .fills import apply_fill
from .holes import HoleSpec, collect_holes, collect_oracles
from .lower import HoleBinding, lower_program

MAX_FILL_DEPTH = 8      # hard stop for nested fills; the filler's own limit is lower


class InternalCompilerError(InternalError):
    """A bug in NPL itself (the IR verifier failed)."""


@dataclass
class FillProblem:
    spec: HoleSpec
    diagnostics: list[Diagnostic]


@dataclass
class Compilation:
    path: str
    source: str
    checker: Checker
    program: CheckedProgram
    holes: list[HoleSpec]                       # every hole, nested ones included
    filled: dict[str, HoleBinding]              # key -> binding, for holes with a fill
    rejected: list[FillProblem] = field(default_factory=list)
    oracles: list[HoleSpec] = field(default_factory=list)   # @oracle functions
    module: Optional[ir.Module] = None

    @property
    def sources(self) -> dict[str, str]:
        return self.program.sources

    @property
    def unfilled(self) -> list[HoleSpec]:
        return [h for h in self.holes if h.key not in self.filled]


def read_file(path: str) -> tuple[ast.Module, str]:
    """Read and parse an imported module (an OSError says why it cannot be read)."""
    source = read_module_text(path)
    return parse(source, path), source


@dataclass
class FrontEnd:
    """What the front end made of one source text: the checker with its
    CheckedProgram (None when the text does not parse), every diagnostic of
    parsing, type checking and the kernel rules, and the texts (file ->
    source) to render them against."""
    path: str
    source: str
    checker: Optional[Checker]
    diagnostics: list[Diagnostic]
    sources: dict[str, str]

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)

    def error(self) -> CompileError:
        return CompileError(self.diagnostics, self.sources)


def front_end(source: str, path: str,
              loader: Callable[[str], tuple[ast.Module, str]] = read_file) -> FrontEnd:
    """Parse, type-check and kernel-check `source` (named `path`; its imports
    are read through `loader`). Errors are returned, not raised."""
    try:
        module = parse(source, path)
    except CompileError as err:
        return FrontEnd(path, source, None, err.diagnostics, err.sources)
    checker = Checker(path, loader)
    checker.load_module(path, module, source, "")
    checker.check_all()
    from npl.lang.kernels import check_kernels
    check_kernels(checker.prog, checker.bag)
    return FrontEnd(path, source, checker, list(checker.bag.items), checker.prog.sources)


def read_module_text(path: str) -> str:
    try:
        return read_text(path)
    except UnicodeDecodeError as exc:
        raise UnreadableFile(path, f"it is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def compile(source: str, path: str, *, fills: Optional[dict[str, str]] = None,
            loader: Callable[[str], tuple[ast.Module, str]] = read_file,
            strict_fills: bool = True) -> Compilation:
    """Compile NPL `source` (named `path`). `fills` maps hole keys to fill
    source. With `strict_fills`, a fill that no longer checks is a compile
    error; otherwise it is reported in `Compilation.rejected` and the hole
    stays unfilled (the filler then refills it)."""
    with gc_paused():               # millions of objects for big data, no garbage cycles
        checked = front_end(source, path, loader)
        if checked.has_errors:
            raise checked.error()
        return compile_checked(checked, fills=fills, strict_fills=strict_fills)


def compile_checked(checked: FrontEnd, *, fills: Optional[dict[str, str]] = None,
                    strict_fills: bool = True) -> Compilation:
    """The rest of `compile` for a front end without errors: apply `fills`,
    lower to IR and verify it. The front end's checker is taken over (fills
    are checked into its program): use a FrontEnd once."""
    if checked.checker is None or checked.has_errors:
        raise ValueError("compile_checked needs a front end without errors")
    checker = checked.checker
    comp = Compilation(checked.path, checked.source, checker, checker.prog, [], {})
    apply_fills(comp, fills or {}, strict_fills)
    comp.oracles = collect_oracles(comp.program)
    comp.module = lower_program(comp.program, bindings(comp))
    verify_module(comp.module)
    return comp


def apply_fills(comp: Compilation, fills: dict[str, str], strict: bool) -> None:
    """Apply fills level by level: a fill may contain holes of its own."""
    seen: set[int] = set()
    for depth in range(MAX_FILL_DEPTH + 1):
        new = [s for s in collect_holes(comp.program) if id(s.info.node) not in seen]
        if not new:
            return
        for spec in new:
            seen.add(id(spec.info.node))
            spec.depth = depth
            comp.holes.append(spec)
            if spec.key not in fills:
                continue
            diags, binding = apply_fill(comp.checker, spec, fills[spec.key])
            if binding is not None:
                comp.filled[spec.key] = binding
            elif strict:
                raise CompileError(diags, comp.program.sources)
            else:
                comp.rejected.append(FillProblem(spec, diags))


def bindings(comp: Compilation) -> dict[int, HoleBinding]:
    out = {}
    for spec in comp.holes:
        out[id(spec.info.node)] = comp.filled.get(spec.key) or HoleBinding(spec.key)
    for spec in comp.oracles:
        out[id(spec.info.node)] = HoleBinding(spec.key)
    return out


def verify_module(module: ir.Module) -> None:
    from .irverify import verify
    problems = verify(module)
    if problems:
        raise InternalCompilerError("IR verification failed (a bug in NPL):\n  " + "\n  ".join(problems))


def compile_file(path: str, **kwargs) -> Compilation:
    return compile(read_module_text(path), path, **kwargs)
