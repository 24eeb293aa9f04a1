"""Native compilation of kernels with Numba: a loaded program in, some of its
functions rebound to machine code.

    @kernel functions   compiled on their first call (all at load with
                        NPL_JIT=eager);
    unmarked functions  that are kernel-eligible start in the interpreter
                        and are compiled once hot (tiering, see HOT_CALLS);
    NPL_JIT=off         (or `--no-jit`) compiles nothing.

Numba is imported lazily, once, and only when a program has something to
compile: a kernel-free program never pays for it. Compiled code is cached
on disk (NPL_CACHE_DIR, default the user cache folder): the generated module
is named by a hash of its source (the IR of the function and its callees)
and of the Numba and llvmlite versions, and Numba's own cache sits beside
it, so a second run loads machine code instead of compiling. A corrupt cache
entry is discarded and rebuilt. If Numba cannot compile a function, it keeps
running in the interpreter (the reference) and a warning says why.
"""
from __future__ import annotations

import hashlib
import importlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

from npl.compiler import ir

# Tiering thresholds: an eligible function is compiled after this many
# interpreted calls (fewer when it loops, as then each call does real work).
HOT_CALLS = 200
HOT_CALLS_WITH_LOOP = 3

_numba_lock = threading.Lock()
_compile_lock = threading.RLock()
stats = {"compiled": 0, "cache_dir": None, "compile_seconds": 0.0}


def jit_mode() -> str:
    mode = os.environ.get("NPL_JIT", "on").lower()
    return mode if mode in ("on", "off", "eager") else "on"


def cache_dir() -> Path:
    base = os.environ.get("NPL_CACHE_DIR")
    if base:
        root = Path(base)
    else:
        import platformdirs
        root = Path(platformdirs.user_cache_dir("npl"))
    path = root / "jit"
    path.mkdir(parents=True, exist_ok=True)
    return path


def warn(message: str) -> None:
    print(f"npl: warning: {message}", file=sys.stderr)


def has_loop(fn: ir.Function) -> bool:
    def visit(stmts) -> bool:
        for s in stmts:
            if isinstance(s, (ir.While, ir.ForRange, ir.ForEach)):
                return True
            if isinstance(s, ir.If) and (visit(s.body) or visit(s.orelse)):
                return True
        return False
    return visit(fn.body)


class Jit:
    def __init__(self, program, comp):
        self.program = program
        self.comp = comp
        self.module: ir.Module = comp.module
        self.by_name = {f.name: f for f in self.module.functions}
        self.native: dict[str, Callable] = {}
        self.failed: set[str] = set()

    # ------------------------------------------------------------ selection
    def eligible(self, fn: ir.Function) -> bool:
        from npl.lang.kernels import is_kernel_eligible
        info = self.comp.program.funcs.get(fn.name)
        if info is None or fn.name == self.module.main:
            return False
        return fn.kernel or is_kernel_eligible(self.comp.program, info)

    def closure(self, fn: ir.Function) -> list[ir.Function]:
        from .numba_codegen import callees
        seen: dict[str, ir.Function] = {}
        todo = [fn]
        while todo:
            f = todo.pop()
            if f.name in seen:
                continue
            seen[f.name] = f
            todo.extend(self.by_name[c] for c in callees(self.module, f) if c in self.by_name)
        return list(seen.values())

    # ------------------------------------------------------------ compiling
    def compile(self, fn: ir.Function) -> Optional[Callable]:
        """Machine code for `fn` (and its callees), or None."""
        with _compile_lock:
            if fn.name in self.native:
                return self.native[fn.name]
            if fn.name in self.failed:
                return None
            from .numba_codegen import NotLowerable, has_prange, module_source, py_function_name
            group = self.closure(fn)
            try:
                source = module_source(self.module, group, parallel={f.name for f in group if has_prange(f)},
                                       boundscheck=os.environ.get("NPL_JIT_BOUNDSCHECK", "1") != "0")
            except NotLowerable as exc:
                self.fail(fn, f"uses {exc}")
                return None
            start = time.perf_counter()
            try:
                mod = load_generated(source)
            except Exception as exc:  # Numba's typing or lowering failed
                self.fail(fn, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
                return None
            stats["compile_seconds"] += time.perf_counter() - start
            stats["compiled"] += 1
            for f in group:
                self.native.setdefault(f.name, getattr(mod, py_function_name(f.name)))
            return self.native[fn.name]

    def fail(self, fn: ir.Function, why: str) -> None:
        self.failed.add(fn.name)
        if fn.kernel:
            warn(f"kernel '{fn.source_name or fn.name}' could not be compiled ({why}); "
                 "it runs in the interpreter")

    # ------------------------------------------------------------ binding
    def install(self, fn: ir.Function, threshold: int) -> None:
        slot = function_slot(self.program, fn.name)
        interpreted = self.program.namespace[slot]
        count = [0]
        jit = self

        def trampoline(*args):
            count[0] += 1
            if count[0] > threshold:
                native = jit.compile(fn)
                if native is not None:
                    entry = native_entry(fn, native, interpreted)
                    jit.program.namespace[slot] = entry
                    return entry(*args)
                jit.program.namespace[slot] = interpreted
            return interpreted(*args)
        trampoline.__name__ = getattr(interpreted, "__name__", fn.name)
        self.program.namespace[slot] = trampoline

    def compile_now(self, fn: ir.Function) -> None:
        native = self.compile(fn)
        if native is not None:
            slot = function_slot(self.program, fn.name)
            self.program.namespace[slot] = native_entry(fn, native, self.program.namespace[slot])


def native_entry(fn: ir.Function, native: Callable, interpreted: Callable) -> Callable:
    """What interpreted callers call: the machine code, except for calls
    passing an array view that is not C-contiguous (the compiled signature
    takes C-contiguous arrays), which stay in the interpreter."""
    from npl.lang.types import ArrayT
    arrays = [i for i, p in enumerate(fn.params) if isinstance(p.type, ArrayT)]
    if not arrays:
        return native

    def entry(*args):
        for i in arrays:
            if not args[i].flags.c_contiguous:
                return interpreted(*args)
        return native(*args)
    entry.__name__ = getattr(interpreted, "__name__", fn.name)
    return entry


def function_slot(program, ir_name: str) -> str:
    """The namespace name under which `program` binds function `ir_name`."""
    return program.function_slot(ir_name)


def load_generated(source: str):
    """Write `source` into the cache (named by its hash and the toolchain
    versions) and import it; Numba caches the machine code beside it."""
    import llvmlite
    with _numba_lock:
        import numba
    digest = hashlib.sha256(f"{source}\n{numba.__version__}\n{llvmlite.__version__}".encode()).hexdigest()[:24]
    folder = cache_dir()
    path = folder / f"npl_k{digest}.py"
    if not path.exists() or path.read_text(encoding="utf-8") != source:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source, encoding="utf-8")
        os.replace(tmp, path)
    try:
        return import_file(path)
    except Exception:
        discard_cache(path)          # a corrupt cache entry: rebuild it once
        path.write_text(source, encoding="utf-8")
        return import_file(path)


def import_file(path: Path):
    """Import a generated module by name from the cache folder (Numba's
    cache rebuilds a function's environment by importing its module)."""
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.append(folder)
    if path.stem in sys.modules:
        return sys.modules[path.stem]
    importlib.invalidate_caches()
    return importlib.import_module(path.stem)


def discard_cache(path: Path) -> None:
    pycache = path.parent / "__pycache__"
    for p in pycache.glob(f"{path.stem}*") if pycache.exists() else []:
        try:
            p.unlink()
        except OSError:
            pass


def attach_jit(program, comp) -> Optional[Jit]:
    """Bind `program`'s kernels (and hot eligible functions) to native code
    according to NPL_JIT; returns the Jit, or None when nothing applies."""
    mode = jit_mode()
    if mode == "off" or comp.module is None:
        return None
    module = comp.module
    kernels = [f for f in module.functions if f.kernel]
    jit = Jit(program, comp)
    candidates = [f for f in module.functions if not f.kernel and jit.eligible(f)]
    if not kernels and not candidates:
        return None
    for f in kernels:
        if mode == "eager":
            jit.compile_now(f)
        else:
            jit.install(f, threshold=0)
    for f in candidates:
        if mode == "eager":
            jit.compile_now(f)
        else:
            jit.install(f, HOT_CALLS_WITH_LOOP if has_loop(f) else HOT_CALLS)
    return jit
