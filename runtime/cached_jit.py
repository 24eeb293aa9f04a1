"""The JIT of a program run from the compile cache (npl/runcache.py).

Both halves of what the cache entry says about the JIT live here: what the
compiling run stores (`describe`: the targets runtime/jit.py `Jit.targets`
chose, and each target's index key in the JIT's disk cache) and what a
cached run does with it (`attach`: the same runtime/tiering.py `Tiering`
wrappers and policy as the compiling path, with `CachedJit` compiling).

`CachedJit` binds a target whose machine code the disk cache holds straight
to it (runtime/jitcache.py `load_indexed`, by the stored key), without the
compiler. Anything else (a target the disk cache lacks, a failure in
machine code to report as the NPL error) first compiles the program again
(`recompile`: the same source, lock and settings, as the cache key says),
puts a runtime/codegen.py `Program` over the running namespace and hands
over to a runtime/jit.py `Jit`, exactly the one the compiling path has. If
compiling again fails, the program goes on in the interpreter.

Importing this module imports no compiler module (`describe` does, on the
compiling path).
"""
from __future__ import annotations

import os
import threading

from .tiering import Tiering, jit_mode, native_entry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .image import Runner
    from .jit import Jit

def describe(program, comp) -> tuple:
    """(targets, keys) of a program the compiling path has just loaded (its
    constants initialised, its JIT attached or not): targets, [(IR name, is
    a kernel)], or True when the JIT cannot tell them; keys, None or (the
    tools' versions and options, [(IR name, index key)]): what the targets'
    machine code for the CPU is filed under in the JIT's disk cache."""
    try:
        from .jit import Jit, _tool_versions
        jit = getattr(program, "jit", None) or Jit(program, comp)
        chosen = jit.targets()
    except Exception:
        return True, None
    targets = [(f.name, kernel) for f, kernel in chosen]
    if jit.device != "cpu" or not chosen:
        return targets, None
    try:
        versions = f"{_tool_versions()}; boundscheck {jit.options().boundscheck}"
        return targets, (versions, [(f.name, jit.index_key(f)) for f, _ in chosen])
    except Exception:
        return targets, None


def attach(runner: Runner, targets: list[tuple[str, bool]], keys,
           recompile: Callable[[], Any]) -> Optional[Tiering]:
    """Take over the slots of `targets` in `runner`'s namespace (its
    constants initialised) as runtime/jit.py `attach_jit` does on the
    compiling path, under NPL_JIT; None when the JIT is off or has nothing
    to do. `recompile()` gives the program's Compilation."""
    mode = jit_mode()
    if mode == "off" or not targets:
        return None
    backend = CachedJit(runner, keys, recompile)
    tiering = backend.tiering = Tiering(runner.namespace, runner.image.functions, backend)
    tiering.install(targets, mode)
    return tiering


class CachedJit:
    """The tiering.Backend of a cached run: machine code from the disk
    cache by the entry's keys; the full `Jit` for everything else."""

    def __init__(self, runner: Runner, keys, recompile: Callable[[], Any]):
        self.runner = runner
        self.versions, pairs = keys if keys else ("", [])
        self.keys: dict[str, str] = dict(pairs)
        self.recompile = recompile
        self.tiering: Optional[Tiering] = None
        self.jit: Optional[Jit] = None
        self.upgraded = False
        self._tools_match: Optional[bool] = None
        self._lock = threading.RLock()

    @property
    def needs_front_end(self) -> bool:
        return not self.upgraded

    def in_disk_cache(self, name: str) -> bool:
        if self.jit is not None:
            return self.jit.in_disk_cache(name)
        key = self.keys.get(name)
        if key is None:
            return False
        from .jitcache import is_indexed
        return is_indexed(key)

    def machine_code(self, name: str) -> Optional[Callable]:
        if self.jit is None:
            native = self._from_disk(name)
            if native is not None:
                return native
        jit = self.upgrade()
        if jit is None or name not in jit.by_name:
            return None
        return jit.machine_code(name)

    def entry(self, name: str, native: Callable, interpreted: Callable) -> Callable:
        return native_entry(native, interpreted,
                            lambda exc, args: self.native_failed(name, exc, args, interpreted))

    def native_failed(self, name: str, exc: Exception, args: tuple, interpreted: Callable):
        """Machine code failed: bring in the full JIT, which turns the
        failure into the NPL error (or runs the call in the interpreter)
        exactly as on the compiling path."""
        from .jitcache import is_dispatch_error, stats
        if is_dispatch_error(exc):
            stats["fallbacks"] += 1
            return interpreted(*args)
        jit = self.upgrade()
        fn = jit.by_name.get(name) if jit is not None else None
        if fn is None:
            raise exc
        jit.compile(fn)                   # loads its modules: their error sites are known
        return jit.native_failed(fn, exc, args, interpreted)

    def _from_disk(self, name: str) -> Optional[Callable]:
        """`name`'s machine code from the disk cache, when the entry's key
        names it there for these tools and options."""
        key = self.keys.get(name)
        if key is None or not self.tools_match():
            return None
        try:
            from .jitcache import load_indexed
            return load_indexed([(name, key)]).get(name)
        except Exception:
            if os.environ.get("NPL_DEBUG") == "1":
                raise
            return None

    def tools_match(self) -> bool:
        """Whether the keys were made for this Numba, llvmlite and options."""
        if self._tools_match is None:
            from . import jitcache
            try:
                self._tools_match = self.versions.startswith(jitcache.tool_versions() + " ") \
                    and self.versions.endswith(f"; boundscheck {jitcache.boundscheck()}")
            except Exception:
                self._tools_match = False
        return self._tools_match

    def upgrade(self) -> Optional[Jit]:
        """Compile the program again and put the full JIT behind the
        running namespace (once); None when that failed."""
        with self._lock:
            if self.upgraded:
                return self.jit
            self.upgraded = True
            runner = self.runner
            try:
                from .codegen import adopt
                from .jit import Jit
                comp = self.recompile()
                program = adopt(comp.module, runner.image, runner.namespace, runner.structs)
                jit = Jit(program, comp)
                jit.tiering = self.tiering
                program.jit = self.jit = jit
            except (Exception, SystemExit):
                if os.environ.get("NPL_DEBUG") == "1":
                    raise
            return self.jit
