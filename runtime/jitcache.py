"""The JIT's disk cache, and loading compiled kernels from it.

NPL_CACHE_DIR/jit (default: the user cache folder's npl/jit) holds one
generated Python module per strongly connected component of a program's
call graph (runtime/numba_codegen.py writes them), Numba's machine code for
it in __pycache__ beside it, a manifest (NAME.sum: the SHA-256 of the
module's source and cache files, checked before every load), and an index
(index/KEY.json, KEY a hash of a function's IR and everything its code
depends on: runtime/jit.py `Jit.index_key`) naming the modules a function
needs. See runtime/jit.py for how keys and names are made. A module is
checked, compiled, imported and written under its lock (NAME.lock), so
processes sharing the cache compile it once and never read each other's
half-written files.

This module knows nothing of the IR: a program run from the compile cache
(runtime/cached_jit.py) binds its JIT targets through `load_indexed`
without importing the compiler.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

from npl.lang.fileio import write_atomic

# The generated module's global that holds its site tag << 24: written as 0
# by the code generator, set to the module's tag when the module is stored.
SITE_BASE = "_S"
# How long a process waits for another to compile the same module.
LOCK_TIMEOUT_S = 600

_numba_lock = threading.Lock()
stats: dict[str, Any] = {"compiled": 0, "loaded": 0, "compile_seconds": 0.0, "cache_dir": None,
                         "deopts": 0, "fallbacks": 0, "serial_pranges": 0, "gpu_launches": 0,
                         "discarded": 0}


def cache_dir() -> Path:
    base = os.environ.get("NPL_CACHE_DIR")
    if base:
        root = Path(base)
    else:
        import platformdirs
        root = Path(platformdirs.user_cache_dir("npl"))
    path = root / "jit"
    path.mkdir(parents=True, exist_ok=True)
    stats["cache_dir"] = str(path)
    return path



def is_dispatch_error(exc: BaseException) -> bool:
    """Numba refused the arguments before running any compiled code."""
    text = str(exc)
    if isinstance(exc, TypeError):
        return "No matching definition" in text or "cannot determine Numba type" in text
    if isinstance(exc, (OverflowError, ValueError)):
        return "too big to convert" in text or "too large to convert" in text \
            or "cannot determine Numba type" in text
    return False


def load_generated(mod_name: str, source: str, tag: int):
    """Write the module into the cache (if it is not there, or differs)
    and import it; returns (module, compiled: whether Numba compiled rather
    than loaded machine code). A cache entry that fails its checksum, or
    fails to load, is discarded and the module compiled afresh."""
    source = source.replace(f"\n{SITE_BASE} = 0\n", f"\n{SITE_BASE} = {tag << 24}\n", 1)
    if mod_name in sys.modules:
        return sys.modules[mod_name], False
    folder = cache_dir()
    path = folder / f"{mod_name}.py"
    with _numba_lock:
        import numba  # noqa: F401  (imported once, here)
    with module_lock(path):
        try:
            current = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            current = None
        if current != source:
            discard(path)
            write_atomic(path, source.encode("utf-8"))
        elif not verify(path):
            discard(path, keep_source=True)
        had_cache = bool(cache_files(path))
        try:
            module = import_file(path)
        except Exception:
            if not had_cache:
                raise                               # nothing cached: a real compile failure
            discard(path)                           # a corrupt cache entry: rebuild it once
            write_atomic(path, source.encode("utf-8"))
            module = import_file(path)
            had_cache = False
        compiled = not had_cache or _any_miss(module)
        write_manifest(path)
    return module, compiled


def load_cached(mod_name: str, tag: int):
    """Import a generated module that the cache holds intact (source and
    machine code matching its manifest), or None."""
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    path = cache_dir() / f"{mod_name}.py"
    if not path.exists() or not cache_files(path):
        return None
    with _numba_lock:
        import numba  # noqa: F401
    with module_lock(path):                 # checked again: another process may be writing it
        if not cache_files(path) or not verify(path):
            return None
        try:
            module = import_file(path)
        except Exception:
            return None
    if _any_miss(module) or getattr(module, SITE_BASE, None) != tag << 24:
        return None                 # it compiled after all: not what the index promised
    return module


@contextmanager
def module_lock(path: Path):
    """Hold the lock of generated module `path` (NAME.lock beside it)
    across processes: one process at a time checks, compiles, imports and
    writes a module's cache files, so that `npl map`'s workers, or two runs
    started together, never see each other's half-written machine code
    (the others wait, then load what the first compiled). The operating
    system frees the lock of a process that dies."""
    import filelock
    with filelock.FileLock(str(path.with_suffix(".lock")), timeout=LOCK_TIMEOUT_S):
        yield


def read_index(key: str):
    path = cache_dir() / "index" / f"{key}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, list):
        return None
    return [(list(comp), str(mod), int(tag)) for comp, mod, tag in data]


def is_indexed(key: str) -> bool:
    """Whether the index names modules for `key` and they are all there
    (not yet whether they are intact: loading checks that)."""
    entries = read_index(key)
    folder = cache_dir()
    return entries is not None and all((folder / f"{mod}.sum").exists() for _, mod, _ in entries)


def write_index(key: str, entries: list) -> None:
    folder = cache_dir() / "index"
    folder.mkdir(exist_ok=True)
    write_atomic(folder / f"{key}.json", json.dumps([[c, m, t] for c, m, t in entries]).encode())


def _any_miss(module) -> bool:
    for value in vars(module).values():
        st = getattr(value, "stats", None)
        if st is not None and getattr(st, "cache_misses", None):
            return True
    return False


def import_file(path: Path):
    """Import a generated module by name from the cache folder (Numba's
    cache rebuilds a function's environment by importing its module, and
    generated modules import their callees' modules by name)."""
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.append(folder)
    importlib.invalidate_caches()
    from numba.core import config
    from numba.core.errors import NumbaWarning
    # Numba's machine code goes to __pycache__ beside the module, where the
    # manifest covers it, even when NUMBA_CACHE_DIR points elsewhere
    saved = config.CACHE_LOCATOR_CLASSES
    config.CACHE_LOCATOR_CLASSES = "InTreeCacheLocator"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NumbaWarning)
            return importlib.import_module(path.stem)
    except BaseException:
        sys.modules.pop(path.stem, None)
        raise
    finally:
        config.CACHE_LOCATOR_CLASSES = saved


def cache_files(path: Path) -> list[Path]:
    """Numba's index and data files and the byte code of module `path`."""
    pycache = path.parent / "__pycache__"
    if not pycache.is_dir():
        return []
    return sorted(p for p in pycache.iterdir() if p.name.startswith(path.stem + "."))


def _manifest(path: Path) -> dict[str, str]:
    files = [path] + cache_files(path)
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def write_manifest(path: Path) -> None:
    entries = _manifest(path)
    try:
        if json.loads(path.with_suffix(".sum").read_text(encoding="utf-8")) == entries:
            return
    except (OSError, ValueError):
        pass
    write_atomic(path.with_suffix(".sum"), json.dumps(entries, sort_keys=True).encode())


def verify(path: Path) -> bool:
    """The module's source and cache files are exactly the ones last
    written (trivially true before any cache file exists)."""
    if not cache_files(path):
        return True
    try:
        expected = json.loads(path.with_suffix(".sum").read_text(encoding="utf-8"))
        return isinstance(expected, dict) and expected == _manifest(path)
    except (OSError, ValueError):
        return False


def discard(path: Path, keep_source: bool = False) -> None:
    """Delete a module's cache files (and its source unless keep_source)."""
    victims = cache_files(path) + [path.with_suffix(".sum")]
    if not keep_source:
        victims.append(path)
    victims = [p for p in victims if p.exists()]
    if victims:
        stats["discarded"] += 1
    for p in victims:
        try:
            p.unlink()
        except OSError:
            pass


def py_function_name(ir_name: str, variant: str = "") -> str:
    """The name of IR function `ir_name`'s compiled function in its
    generated module: k_NAME (raising), k_NAME__d (with a depth count),
    k_NAME__e (flagging), k_NAME__ed (both)."""
    return "k_" + encode_name(ir_name) + (f"__{variant}" if variant else "")


def encode_name(name: str) -> str:
    return "".join(c if c.isalnum() and c.isascii() else f"_{ord(c):x}_" for c in name)


def boundscheck() -> bool:
    """Whether compiled code checks array indices (NPL_JIT_BOUNDSCHECK=0: not)."""
    return os.environ.get("NPL_JIT_BOUNDSCHECK", "1") != "0"


def tool_versions() -> str:
    """The Numba and llvmlite versions (Numba imported), as the start of
    runtime/jit.py `versions()` gives them."""
    import llvmlite
    import numba
    return tools_text(numba.__version__, llvmlite.__version__)


def tools_text(numba_version: str, llvmlite_version: str) -> str:
    return f"numba {numba_version} llvmlite {llvmlite_version}"


def load_indexed(keys: list[tuple[str, str]]) -> dict[str, Callable]:
    """{IR name: compiled function} for those of [(IR name, index key)]
    whose modules the cache holds intact, as the index names them. A
    function missing here (never compiled as an entry of its own, or its
    cache damaged) is for the caller to compile the long way."""
    natives: dict[str, Callable] = {}
    for name, key in keys:
        entries = read_index(key)
        owner = next((mod for comp, mod, _ in entries or () if name in comp), None)
        if owner is None:
            continue
        for _, mod_name, tag in entries:
            fresh = mod_name not in sys.modules
            if load_cached(mod_name, tag) is None:
                break
            stats["loaded"] += fresh
        else:
            natives[name] = getattr(sys.modules[owner], py_function_name(name))
    return natives
