"""Native compilation of kernels with Numba: a loaded program in, some of its
functions rebound to machine code.

    @kernel functions   compiled on their first call (all at load with
                        NPL_JIT=eager);
    unmarked functions  that are kernel-eligible start in the interpreter
                        and are compiled once hot (tiering, below);
    NPL_JIT=off         (or `--no-jit`) compiles nothing;
    device "cuda"       (`--device cuda`, NPL_DEVICE=cuda, or device= in the
                        embedding API) runs the kernels that fit
                        runtime/cuda.py's pattern on the GPU.

Numba is imported lazily, once, and only when a program has something to
compile: a kernel-free program never pays for it.

The interpreter is the reference. runtime/numba_codegen.py lowers each
function so that it fails where the interpreter fails; a failed check
reaches the host as a KernelFault naming a *site*, and `Jit.on_fault` turns
it into the exception the interpreter would have raised, raised from
synthetic frames that carry the NPL function names and lines, so the user
sees the same NPL error and stack trace (runtime/errors.py) either way. A
call whose arguments do not fit the compiled signature (an int beyond
int64, a non-contiguous array view) runs in the interpreter. A hot unmarked
function keeps Python's unbounded int: its compiled code checks int64
overflow and an overflowing call is re-run in the interpreter (such
functions are compiled only when they do not write into their array
arguments, so a re-run sees the same inputs).

Cache (runtime/jitcache.py). Each strongly connected component of the call
graph is one generated module in NPL_CACHE_DIR/jit (default: the user
cache folder), named by a hash of its source (which names the modules of
the functions it calls, so the name covers every callee) and of the Numba,
llvmlite, Python and code generator versions. Numba caches the machine
code in __pycache__ beside it, so a second run loads instead of compiling
(`stats["loaded"]`), and an index (jit/index/KEY.json, KEY a hash of the IR
of the function and its callees, source positions included) lets it skip
generating the source too; a program run from the compile cache keeps its
targets' KEYs and binds them without the compiler (runtime/cached_jit.py).
The SHA-256 of a module's source and cache files is kept beside it
(NAME.sum) and checked before every load: a corrupt entry (truncated,
garbled, or left by an interrupted write) is deleted and rebuilt, never
loaded. If Numba cannot compile a function, it keeps running in the
interpreter and a warning names the reason (for @kernel functions).

Tiering: one policy, whichever way the program was loaded. Compiling costs
time, so an unmarked function is compiled only when that is likely to pay
off, by the ski-rental rule: keep "renting" (interpreting) until the time
spent interpreting the function equals the cost of "buying" (compiling) it,
then compile; that never spends more than twice what the best choice in
hindsight would have. Each interpreted call of a candidate is timed (two
perf_counter calls, ~0.1 us). The prices were measured with
bench/jit_tiering.py (2 shared cores, Numba 0.68.1; table in
bench/README.md):

    compiling a small function, Numba warmed up     0.04 - 0.19 s  -> COMPILE_SECONDS_COLD
    loading it from the disk cache                  4 - 9 ms       -> COMPILE_SECONDS_CACHED
    the first compile of a process, extra           0.15 - 0.2 s   (Numba's warm-up)
    importing Numba                                 0.18 - 0.31 s  (with the above -> NUMBA_STARTUP_SECONDS)
    compiling the program again (front end)         0.3 - 0.75 s   -> FRONT_END_SECONDS
    a call into machine code from the interpreter   0.15 - 0.22 us (argument unboxing)
    an interpreted `x * x * 0.5 + x * 3.0 - 1.0`    0.08 - 0.09 us

(ranges: quiet machine to loaded one, load average ~5 on 2 cores) so a
function is compiled once its interpreted calls have taken what compiling
it would cost at that moment (runtime/tiering.py `compile_price`):
COMPILE_SECONDS_CACHED if its modules are in the disk cache (checked once,
after its first COMPILE_SECONDS_CACHED of calls), else COMPILE_SECONDS_COLD,
plus NUMBA_STARTUP_SECONDS while Numba is not loaded yet, plus
FRONT_END_SECONDS while the program's IR is not in memory; and never while
its calls average under MIN_CALL_SECONDS, since a call into machine code
costs about 0.2 us by itself (a loop-free arithmetic function is *slower*
compiled, called from the interpreter). A loop over 1000 elements takes
30-50 us interpreted and ~1 us compiled: it is compiled after 4000-6000
calls cold (the measured break-even is 3500-4300 calls) or after a few
hundred warm. Functions that would change meaning when compiled are never
tiered: an int value in a float slot (`x: float = 3` stays an int in the
interpreter; compiled code must make it a float) and writes into array
arguments (an overflow could not be re-run). Kernels are compiled at their
first call (all targets at load with NPL_JIT=eager).

A program run from the compile cache (npl/fast.py) gets the same wrappers
and the same rule (runtime/tiering.py `Tiering`; runtime/cached_jit.py
compiles for it): its cache entry lists the targets `Jit.targets` chose and
their index keys, so a function whose machine code is in the disk cache is
bound from it at the same moment as on the compiling path, without the
compiler; only a function that must be compiled cold needs the program
compiled again first, which FRONT_END_SECONDS prices in (the only
difference, and what compiling costs there). A short run never imports the
compiler or Numba: nothing is compiled before a candidate's calls have
taken COMPILE_SECONDS_CACHED, and a cold compile waits for at least
COMPILE_SECONDS_COLD + NUMBA_STARTUP_SECONDS. The decisions are made in the
program's own calls, on its thread: no sampling thread, no timing race.
"""
from __future__ import annotations

import hashlib
import math
import os
import struct
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any, Callable, Optional

from npl.compiler import ir

from .jitcache import (boundscheck, is_dispatch_error, is_indexed, load_cached, load_generated,
                       read_index, stats, tools_text, write_index)
from .tiering import Tiering, jit_mode, native_entry

DEOPT_LIMIT = 3                 # overflow re-runs before an unmarked function stays interpreted

_compile_lock = threading.RLock()
# site tag (see numba_codegen.Site) -> the sites of one generated module
SITES: dict[int, list] = {}


def warn(message: str) -> None:
    print(f"npl: warning: {message}", file=sys.stderr)


def has_loop(fn: ir.Function) -> bool:
    from .kernel_analysis import walk
    return any(isinstance(n, (ir.While, ir.ForRange, ir.ForEach)) for n in walk(fn.body))


class Jit:
    def __init__(self, program, comp, device: str = "cpu"):
        self.program = program
        self.comp = comp
        self.module: ir.Module = comp.module
        self.device = device
        self.by_name = {f.name: f for f in self.module.functions}
        self.native: dict[str, Callable] = {}         # IR name -> Numba dispatcher
        self.modules: dict[str, str] = {}             # IR name -> generated module name
        self.failed: set[str] = set()
        self.deopts: dict[str, int] = {}
        self.gpu: dict[str, Any] = {}                 # IR name -> runtime.cuda plan
        self._analysis: dict[frozenset, tuple] = {}
        # the slots of the functions it takes over (attach_jit, or a cached
        # run's runtime/cached_jit.py)
        self.tiering: Optional[Tiering] = None

    # ------------------------------------------------------------ selection
    def eligible(self, fn: ir.Function) -> bool:
        from npl.lang.kernels import is_kernel_eligible
        info = self.comp.program.funcs.get(fn.name)
        if info is None or fn.name == self.module.main:
            return False
        return fn.kernel or is_kernel_eligible(self.comp.program, info)

    def analysis(self, fn: ir.Function) -> tuple:
        """(param_writes, call_cycles) over `fn` and the kernels it calls
        (all that either depends on)."""
        closure = self.closure(fn)
        key = frozenset(closure)
        found = self._analysis.get(key)
        if found is None:
            from .kernel_analysis import call_cycles, param_writes
            found = self._analysis[key] = (param_writes(self.module, closure),
                                           call_cycles(closure, self.module))
        return found

    def tierable(self, fn: ir.Function) -> bool:
        """An unmarked eligible function whose compiled code means what the
        interpreted code means (see the module docstring)."""
        from .kernel_analysis import has_prange, widening_sites
        if has_prange(fn) or widening_sites(fn, self.by_name):
            return False
        writes, _ = self.analysis(fn)
        return not writes.get(fn.name)

    def closure(self, fn: ir.Function) -> dict[str, ir.Function]:
        from .kernel_analysis import callees
        seen: dict[str, ir.Function] = {}
        todo = [fn]
        while todo:
            f = todo.pop()
            if f.name in seen:
                continue
            seen[f.name] = f
            todo.extend(self.by_name[c] for c in callees(self.module, f) if c in self.by_name)
        return seen

    # ------------------------------------------------------------ compiling
    def options(self):
        from .numba_codegen import Options
        return Options(boundscheck=boundscheck(), consts=self.const_value)

    def const_value(self, ir_name: str) -> Any:
        slots = getattr(getattr(self.program, "_compiler", None), "globals", {})
        return self.program.namespace[slots[ir_name]]

    def plan(self, fn: ir.Function) -> list[list[str]]:
        """The components (lists of IR names) `fn` needs, callees first."""
        from .kernel_analysis import components
        return components(self.closure(fn), self.module)

    def sources(self, fn: ir.Function) -> list[tuple[list[str], str, str, int, Any]]:
        """[(component, module name, source, tag, builder)] for `fn`'s
        closure, callees first (each module's source names its callees'
        modules, so names are computed bottom-up)."""
        from .kernel_analysis import callees
        from .numba_codegen import ModuleBuilder
        writes, cycles = self.analysis(fn)
        names = dict(self.modules)
        out = []
        for comp in self.plan(fn):
            own = [self.by_name[n] for n in comp]
            imports = {c: names[c] for f in own for c in callees(self.module, f)
                       if c not in comp and c in names}
            builder = ModuleBuilder(self.module, self.by_name, own, imports, self.options(),
                                    writes, cycles)
            source = builder.build()
            mod_name, tag = module_identity(source)
            for n in comp:
                names[n] = mod_name
            out.append((comp, mod_name, source, tag, builder))
        return out

    def compile(self, fn: ir.Function) -> Optional[Callable]:
        """Machine code for `fn` (its callees compiled first), or None."""
        from .numba_ast import NotLowerable
        with _compile_lock:
            if fn.name in self.native:
                return self.native[fn.name]
            if fn.name in self.failed:
                return None
            if self.load_indexed(fn):
                return self.native[fn.name]
            try:
                plan = self.sources(fn)
            except NotLowerable as exc:
                self.fail(fn, f"uses {exc}")
                return None
            for comp, mod_name, source, tag, builder in plan:
                if all(n in self.native for n in comp):
                    continue
                start = time.perf_counter()
                try:
                    mod, fresh = load_generated(mod_name, source, tag)
                except Exception as exc:  # Numba's typing or lowering failed
                    self.fail(fn, f"{type(exc).__name__}: {_first_line(exc)}")
                    return None
                self.adopt(comp, mod_name, mod, tag, fresh, time.perf_counter() - start)
            write_index(self.index_key(fn), [(comp, mod, tag) for comp, mod, _, tag, _ in plan])
            return self.native[fn.name]

    def adopt(self, comp: list[str], mod_name: str, mod, tag: int, fresh: bool, seconds: float) -> None:
        from .jitcache import py_function_name
        from .numba_codegen import Site
        SITES[tag] = [Site(*entry) for entry in mod._NPL_SITES]
        if fresh:
            stats["compiled"] += 1
            stats["compile_seconds"] += seconds
            stats["serial_pranges"] += mod._NPL_SERIAL_PRANGES
        else:
            stats["loaded"] += 1
        for n in comp:
            self.native[n] = getattr(mod, py_function_name(n))
            self.modules[n] = mod_name

    def index_key(self, fn: ir.Function) -> str:
        """What `fn`'s generated modules depend on: the IR of its closure
        (with source positions), the values of the constants it reads, the
        options and the tool versions. The cache index maps it to the
        module names, so a second run does not generate source at all."""
        from .kernel_analysis import fingerprint, walk
        closure = sorted(self.closure(fn).values(), key=lambda f: f.name)
        consts = sorted({n.name for f in closure for n in walk(f.body) if isinstance(n, ir.Global)})
        values = []
        for c in consts:
            try:
                values.append((c, repr(self.const_value(c))))
            except Exception:
                values.append((c, "?"))
        analysis = self.analysis(fn)
        text = "\n".join([fingerprint(closure), repr(values), repr(self.options().boundscheck),
                          repr(sorted((k, sorted(v)) for k, v in analysis[0].items())),
                          repr(sorted((k, sorted(v)) for k, v in analysis[1].items())), _tool_versions()])
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def load_indexed(self, fn: ir.Function) -> bool:
        """Load `fn`'s modules through the cache index, when every one of
        them is there and intact; False sends compile() the long way."""
        try:
            entries = read_index(self.index_key(fn))
        except Exception:
            return False
        if entries is None:
            return False
        for comp, mod_name, tag in entries:
            if all(n in self.native for n in comp):
                continue
            start = time.perf_counter()
            mod = load_cached(mod_name, tag)
            if mod is None:
                return False
            self.adopt(comp, mod_name, mod, tag, False, time.perf_counter() - start)
        return fn.name in self.native

    def is_cached(self, fn: ir.Function) -> bool:
        """Whether the cache index knows `fn`'s modules (and they are there)."""
        try:
            return is_indexed(self.index_key(fn))
        except Exception:
            return False

    def fail(self, fn: ir.Function, why: str) -> None:
        self.failed.add(fn.name)
        if fn.kernel:
            warn(f"kernel '{fn.source_name or fn.name}' could not be compiled ({why}); "
                 "it runs in the interpreter")

    # ------------------------------------------------------------ binding
    def slot(self, fn: ir.Function) -> str:
        return self.program.function_slot(fn.name)

    def bind(self, fn: ir.Function) -> bool:
        """Compile `fn` and bind its slot to the machine code (or to the GPU
        launcher); False if it stays interpreted."""
        return self.tiering.bind(fn.name)

    def targets(self) -> list[tuple[ir.Function, bool]]:
        """(function, is a kernel) for what the JIT takes over: the kernels,
        then the unmarked functions it may tier (eligible, and meaning the
        same compiled; see the module docstring)."""
        module = self.module
        kernels = [f for f in module.functions if f.kernel]
        candidates = [f for f in module.functions
                      if not f.kernel and self.eligible(f) and self.tierable(f)]
        return [(f, True) for f in kernels] + [(f, False) for f in candidates]

    # the tiering.Backend interface (runtime/tiering.py)
    needs_front_end = False

    def in_disk_cache(self, name: str) -> bool:
        return self.is_cached(self.by_name[name])

    def machine_code(self, name: str) -> Optional[Callable]:
        return self.compile(self.by_name[name])

    def entry(self, name: str, native: Callable, interpreted: Callable) -> Callable:
        """The native entry callers call (the GPU launcher in front of it
        for a kernel that runs on the GPU)."""
        fn = self.by_name[name]
        entry = native_entry(native, interpreted,
                             lambda exc, args: self.native_failed(fn, exc, args, interpreted))
        if name in self.gpu:
            entry = self.gpu[name].entry(entry, interpreted)
        return entry

    # ------------------------------------------------------------ failures
    def native_failed(self, fn: ir.Function, exc: Exception, args: tuple, interpreted: Callable):
        """`fn`'s machine code raised `exc` on `args`: run the call in the
        interpreter when Numba refused the arguments, else raise the NPL
        error (see on_fault)."""
        from .numba_rt import KernelFault
        if isinstance(exc, KernelFault):
            return self.on_fault(fn, exc, args, interpreted)
        if is_dispatch_error(exc):
            stats["fallbacks"] += 1
            return interpreted(*args)
        raise_at([self.frame_of(fn, fn.span.line)], exc)

    def on_fault(self, fn: ir.Function, fault: BaseException, args: tuple, interpreted: Callable):
        """A check failed in `fn`'s machine code: re-run an overflowing call
        of an unmarked function in the interpreter, else raise the
        interpreter's error from NPL frames."""
        site_id, x, y = (tuple(fault.args) + (0, 0, 0))[:3]
        found = lookup_site(site_id)
        if found is None:
            raise_at([self.frame_of(fn, fn.span.line)],
                     RuntimeError(f"compiled code failed at an unknown check ({site_id})"))
        site, sub = found
        owner = self.by_name.get(site.function)
        if owner is not None and not owner.kernel and is_deopt(site, sub, x):
            stats["deopts"] += 1
            self.deopts[fn.name] = self.deopts.get(fn.name, 0) + 1
            if self.deopts[fn.name] >= DEOPT_LIMIT:
                self.program.namespace[self.slot(fn)] = interpreted
            return interpreted(*args)
        raise_at(self.frames(fn, site), site_exception(site, sub, x, y))

    def frame_of(self, fn: ir.Function, line: int) -> tuple[str, str, int]:
        return (fn.source_name or fn.name, fn.span.file or self.module.path, line)

    def frames(self, entry: ir.Function, site) -> list[tuple[str, str, int]]:
        """NPL frames from `entry` down to the failed site: the whole chain
        when the static call graph has exactly one way (one call site per
        step) from `entry` to the site's function, else the site alone."""
        target = self.by_name.get(site.function, entry)
        last = self.frame_of(target, site.line)
        if target.name == entry.name:
            return [last]
        paths: list[list[tuple[str, int]]] = []
        calls = self.call_lines()

        def search(f: str, path: list[tuple[str, int]], seen: frozenset) -> None:
            if len(paths) > 1:
                return
            for callee, lines in calls.get(f, {}).items():
                if callee in seen:
                    continue
                step = path + [(f, lines[0] if len(lines) == 1 else -1)]
                if callee == target.name:
                    paths.append(step)
                else:
                    search(callee, step, seen | {callee})
        search(entry.name, [], frozenset([entry.name]))
        if len(paths) != 1 or any(line < 0 for _, line in paths[0]):
            return [last]
        return [self.frame_of(self.by_name[f], line) for f, line in paths[0]] + [last]

    def call_lines(self) -> dict[str, dict[str, list[int]]]:
        if not hasattr(self, "_call_lines"):
            from .kernel_analysis import walk
            out: dict[str, dict[str, list[int]]] = {}
            for f in self.module.functions:
                for n in walk(f.body):
                    if isinstance(n, ir.Call) and n.func in self.by_name:
                        out.setdefault(f.name, {}).setdefault(n.func, []).append(n.span.line)
            self._call_lines = {f: {c: sorted(set(ls)) for c, ls in d.items()} for f, d in out.items()}
        return self._call_lines


# ------------------------------------------------------------------ sites and errors

DEOPT_KINDS = {"int_overflow", "int_pow", "int_round"}


def lookup_site(site_id: int):
    from .numba_rt import INT64_MAX
    if not isinstance(site_id, int) or site_id <= 0 or site_id > INT64_MAX:
        return None
    sites = SITES.get(site_id >> 24)
    index = (site_id & 0xFFFFFF) >> 2
    if sites is None or index >= len(sites):
        return None
    return sites[index], site_id & 3


def is_deopt(site, sub: int, x: int) -> bool:
    """A failure that only means int64 was too small (unmarked functions)."""
    if site.kind in ("int_overflow", "int_pow"):
        return sub == 1
    if site.kind == "int_round":
        return True
    if site.kind == "to_int" and sub == 1:
        return math.isfinite(bits2f(x))
    return False


def bits2f(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<q", bits))[0]


def site_exception(site, sub: int, x: int, y: int) -> BaseException:
    """The exception the interpreter raises for the failure at `site`."""
    from .errors import NplRuntimeError
    from .numba_rt import unpack_shape
    kind = site.kind
    if kind == "index":
        if site.detail and site.detail[0] == "tuple":
            return IndexError(f"index out of range: tuple index {x}, length {y}")
        return IndexError(f"index {x} is out of bounds for axis {sub} with size {y}")
    if kind in ("zero_division",) or (kind == "int_overflow" and sub == 0):
        return ZeroDivisionError("division by zero")
    if kind == "int_pow":
        return NplRuntimeError("value", "negative exponent in int ** int; use a float base")
    if kind == "float_pow":
        if sub == 0:
            return ZeroDivisionError("0.0 cannot be raised to a negative power")
        if sub == 1:
            return NplRuntimeError("value", "negative number raised to a fractional power "
                                   f"({bits2f(x)!r} ** {bits2f(y)!r})")
        return OverflowError(34, "Numerical result out of range")
    if kind == "math_domain":
        return ValueError("math domain error")
    if kind == "math_range":
        return OverflowError("math range error")
    if kind == "log_base":
        return ValueError("math domain error") if sub == 0 else ZeroDivisionError("float division by zero")
    if kind == "to_int":
        if sub == 0:
            return ValueError("cannot convert float NaN to integer")
        value = bits2f(x)
        if math.isinf(value):
            return OverflowError("cannot convert float infinity to integer")
        return OverflowError(f"{value!r} does not fit in a kernel's 64-bit int")
    if kind == "int_round":
        return OverflowError(f"round({x}, {y}) does not fit in a kernel's 64-bit int")
    if kind == "negative_dim":
        return ValueError("negative dimensions are not allowed")
    if kind == "range_step":
        return ValueError("range() arg 3 must not be zero")
    if kind == "slice_step":
        return ValueError("slice step cannot be zero")
    if kind == "empty_reduce":
        return NplRuntimeError("value", f"{site.detail[0]}() of an empty array")
    if kind == "dot":
        a, b = unpack_shape(x), unpack_shape(y)
        da, db = {0: (0, 0), 1: (1, 0), 2: (0, 0)}[sub]
        return ValueError(f"shapes {a} and {b} not aligned: {_dim(a, da)} (dim {da}) != "
                          f"{_dim(b, db)} (dim {db})")
    if kind == "broadcast":
        return ValueError(f"operands could not be broadcast together with shapes "
                          f"{unpack_shape(x)} {unpack_shape(y)} ")
    if kind == "assert":
        shown = {"int": lambda: str(x), "bool": lambda: str(bool(x)),
                 "float": lambda: repr(bits2f(x))}.get(site.detail[0] if site.detail else "none")
        return NplRuntimeError("assert", "assertion failed" if shown is None else f"assertion failed: {shown()}")
    if kind == "recursion":
        return RecursionError("maximum recursion depth exceeded")
    return RuntimeError(f"compiled code failed ({kind})")


def _dim(shape: str, k: int) -> str:
    parts = [p for p in shape.strip("(),").split(",") if p]
    return parts[k] if k < len(parts) else "?"


_frame_functions: dict[tuple, Callable] = {}


def raise_at(frames: list[tuple[str, str, int]], exc: BaseException) -> None:
    """Raise `exc` from a chain of synthetic frames, one per (function name,
    NPL file, line), outermost first, so that the traceback reads like the
    interpreter's (runtime/errors.py keeps frames whose file is NPL)."""
    exc.__cause__ = None
    exc.__suppress_context__ = True
    chain = [_frame_function(name, file, line, i == len(frames) - 1)
             for i, (name, file, line) in enumerate(frames)]
    chain[0](exc, chain[1:])


def _frame_function(display: str, file: str, line: int, last: bool) -> Callable:
    key = (display, file, line, last)
    fn = _frame_functions.get(key)
    if fn is None:
        import ast
        stmt = ast.Raise(ast.Name("e", ast.Load()), None) if last else ast.Expr(
            ast.Call(ast.Subscript(ast.Name("rest", ast.Load()), ast.Constant(0), ast.Load()),
                     [ast.Name("e", ast.Load()),
                      ast.Subscript(ast.Name("rest", ast.Load()), ast.Slice(ast.Constant(1)), ast.Load())],
                     []))
        args = ast.arguments([], [ast.arg("e"), ast.arg("rest")], None, [], [], None, [])
        tree = ast.Module([ast.FunctionDef("frame", args, [stmt], [], None)], [])
        for node in ast.walk(tree):
            if "lineno" in node._attributes:
                node.lineno = node.end_lineno = max(line, 1)
                node.col_offset = node.end_col_offset = 0
        code = compile(tree, file, "exec", dont_inherit=True)
        fcode = next(c for c in code.co_consts if isinstance(c, types.CodeType))
        fcode = fcode.replace(co_name=display, co_qualname=display)
        fn = types.FunctionType(fcode, {"__builtins__": {}}, display)
        _frame_functions[key] = fn
    return fn


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("Failed in", "During:", "\x1b")):
            return line[:200]
    return type(exc).__name__


# ------------------------------------------------------------------ the cache

# The run-time support the generated modules call into (part of every key).
RUNTIME_SUPPORT_FILES = ("numba_rt.py", "numba_intrinsics.py")


def versions() -> str:
    """What the generated code's meaning depends on, besides its source
    (read without importing Numba, so that a cache check stays cheap)."""
    from . import numba_codegen

    def version(package: str) -> str:
        module = sys.modules.get(package)
        if module is not None:
            return module.__version__
        from importlib.metadata import version as installed     # slower (~40 ms)
        return installed(package)
    folder = Path(numba_codegen.__file__).parent
    rt_source = b"".join((folder / name).read_bytes() for name in RUNTIME_SUPPORT_FILES)
    rt_hash = hashlib.sha256(rt_source).hexdigest()[:16]
    return (f"{tools_text(version('numba'), version('llvmlite'))} codegen "
            f"{numba_codegen.CODEGEN_VERSION} rt {rt_hash} python {sys.version_info[:2]}")


_versions: Optional[str] = None


def _tool_versions() -> str:
    global _versions
    if _versions is None:
        _versions = versions()
    return _versions


def module_identity(source: str) -> tuple[str, int]:
    """(module name, site tag) of a generated module's source."""
    digest = hashlib.sha256(f"{source}\n{_tool_versions()}".encode()).hexdigest()
    return f"npl_k{digest[:20]}", int(digest[20:29], 16)


# ------------------------------------------------------------------ attaching

def attach_jit(program, comp, device: Optional[str] = None) -> Optional[Jit]:
    """Bind `program`'s kernels (and hot eligible functions) to native code
    according to NPL_JIT and the device ("cpu" or "cuda"; default
    NPL_DEVICE); returns the Jit, or None when nothing applies. Raises
    runtime.cuda.DeviceError when the device is "cuda" and no usable GPU
    is present."""
    mode = jit_mode()
    device = (device or os.environ.get("NPL_DEVICE") or "cpu").lower()
    if mode == "off" or comp.module is None:
        return None
    jit = Jit(program, comp, device)
    targets = jit.targets()
    if not targets:
        return None
    kernels = [f for f, kernel in targets if kernel]
    if device == "cuda" and kernels:
        from . import cuda
        cuda.require()
        for f in kernels:
            try:
                jit.gpu[f.name] = cuda.plan(jit, f)
            except cuda.NotGpu as why:
                if os.environ.get("NPL_JIT_VERBOSE") == "1":
                    warn(f"kernel '{f.source_name or f.name}' runs on the CPU: {why}")
    program.jit = jit
    jit.tiering = Tiering(program.namespace, program.image.functions, jit)
    jit.tiering.install([(f.name, kernel) for f, kernel in targets], mode)
    return jit
