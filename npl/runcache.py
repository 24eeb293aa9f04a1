"""The compile cache of `npl run`: a compiled program kept on disk, so that
running it again needs no parser, checker, lowering or code generation.

The cache (NPL_CACHE_DIR, else the user cache folder, subfolder `run`;
NPL_RUN_CACHE=off turns it off) holds one entry per program path: the
program image (runtime/image.py: the marshaled code object of the generated
module and what building its namespace and reporting its errors needs), what
the JIT takes over (runtime/cached_jit.py `describe`: its targets and their
keys in the JIT's disk cache) and a SHA-256 key of everything the compile
depended on: this NPL (its version and the size and time of each source
file of the compiler), Python's, the program's path and bytes, its lock
file and the npl.toml that applies to it (filling/paths.py). The entry also
lists each imported .npl file and its lock file (which holds the fills of
its holes) with their hashes, or that the lock was absent; all are checked
before the entry is used. An entry that is missing, stale, unreadable or of another
format is ignored (and rebuilt by the compiling path); entries are written
atomically (a temporary file renamed into place).

Not cached, so always compiled: programs the lock file marks as edited by
hand (the compiling path prints a warning for them), programs with holes
still to fill, externs or no `main`.

    lookup(path)                  the Entry to run, or None
    store(path, comp, program)    after the compiling path has loaded it
"""
from __future__ import annotations

import marshal
import os
import sys

from npl.filling.paths import lock_path, settings_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from npl.runtime.image import ProgramImage

# Bump when the layout of a cache entry changes.
CACHE_FORMAT = 4
_MAGIC = "npl-run-cache"
# The implementation fingerprint: the files that decide what a program
# compiles to (front end, lowering, code generation, the image format, fills
# from the lock file) or what the entry says about the JIT (its targets and
# their index keys), by package; None: all of the package's files. The CLI
# and the tools are left out.
_FINGERPRINT = (("npl", ("__init__.py", "runcache.py", "project.py")),
                ("npl.lang", None), ("npl.compiler", None), ("npl.filling", None),
                ("npl.stdlib", None),
                ("npl.runtime", ("codegen.py", "values.py", "rtvalues.py", "image.py",
                                 "jit.py", "jitcache.py", "cached_jit.py", "kernel_analysis.py",
                                 "numba_ast.py", "numba_codegen.py", "numba_prims.py",
                                 "numba_rt.py", "numba_intrinsics.py")))
_SOURCE_SUFFIXES = (".py", ".lark", ".txt", ".toml", ".gbnf")
ABSENT = "-"        # the digest of a dependency that is not there (an imported file's lock)


def enabled() -> bool:
    """NPL_RUN_CACHE=off (or 0, no) turns the cache off."""
    return os.environ.get("NPL_RUN_CACHE", "on").lower() not in ("off", "0", "no")


class Entry:
    """A valid cache entry: the image, the JIT's targets ([(IR name, is a
    kernel)], or True when they are not known) and keys (None, or the
    tools' versions and [(IR name, index key)]; runtime/cached_jit.py)."""

    __slots__ = ("image", "targets", "keys")

    def __init__(self, image: ProgramImage, targets, keys):
        self.image = image
        self.targets = targets
        self.keys = keys

    def runs_cached(self) -> bool:
        """Whether a cached run can do what the JIT needs: everything but
        targets the compiling run could not tell (unless NPL_JIT is off)."""
        if self.targets is not True:
            return True
        from npl.runtime.tiering import jit_mode
        return jit_mode() == "off"


def cache_dir() -> str:
    """NPL_CACHE_DIR/run, else the user cache folder's npl/run (what
    platformdirs.user_cache_dir("npl") gives; computed here on Linux, as
    importing platformdirs would cost more than the rest of a cached run)."""
    base = os.environ.get("NPL_CACHE_DIR")
    if not base:
        if sys.platform.startswith("linux"):
            xdg = os.environ.get("XDG_CACHE_HOME", "")
            root = xdg if os.path.isabs(xdg) else os.path.expanduser("~/.cache")
            base = os.path.join(root, "npl")
        else:
            import platformdirs
            base = platformdirs.user_cache_dir("npl")
    return os.path.join(base, "run")


def _sha256():
    try:
        from _sha256 import sha256          # the C module: much quicker to import than hashlib
    except ImportError:
        from hashlib import sha256
    return sha256


def _read(path: str) -> Optional[bytes]:
    """A regular file's bytes (lang/files.py); None for anything else (a
    FIFO, a device, a file too big...): the full path then says why."""
    from npl.lang.files import read_bytes
    try:
        return read_bytes(path)
    except OSError:
        return None


def entry_path(path: str) -> str:
    """One entry per program path: a changed program replaces its entry."""
    name = _sha256()(f"{os.path.abspath(path)}\0{path}".encode("utf-8", "surrogatepass"))
    return os.path.join(cache_dir(), name.hexdigest()[:32] + ".nplrun")


_fingerprint: Optional[str] = None


def implementation_fingerprint() -> str:
    """NPL's version, Python's, and the name, size and modification time of
    each file in _FINGERPRINT: editing the compiler invalidates the cache."""
    global _fingerprint
    if _fingerprint is None:
        import importlib
        import npl
        parts = [npl.__version__, sys.version, str(marshal.version)]
        for package, names in _FINGERPRINT:
            for folder in getattr(importlib.import_module(package), "__path__", []):
                try:
                    entries = sorted(os.scandir(folder), key=lambda e: e.name)
                except OSError:
                    continue
                for e in entries:
                    if (e.name in names if names else e.name.endswith(_SOURCE_SUFFIXES)) \
                            and e.is_file():
                        st = e.stat()
                        parts.append(f"{package}/{e.name}:{st.st_size}:{st.st_mtime_ns}")
        _fingerprint = "\n".join(parts)
    return _fingerprint


def cache_key(path: str) -> Optional[str]:
    """The key of `path`'s compile as things are on disk now, or None when
    the program cannot be read."""
    program = _read(path)
    if program is None:
        return None
    h = _sha256()()
    for part in (_MAGIC, str(CACHE_FORMAT), implementation_fingerprint(),
                 os.path.abspath(path), path):
        data = part.encode("utf-8", "surrogatepass")
        h.update(b"%d:" % len(data) + data)
    for data in (program, _read(lock_path(path)), _read(settings_path(path))):
        if data is None:
            h.update(b"-")
        else:
            h.update(b"%d:" % len(data) + data)
    return h.hexdigest()


def lookup(path: str) -> Optional[Entry]:
    """The valid entry for `path`, or None (never raises: an entry that
    cannot be used is simply not there)."""
    try:
        return _lookup(path)
    except Exception:
        if os.environ.get("NPL_DEBUG") == "1":
            raise
        return None


def _lookup(path: str) -> Optional[Entry]:
    key = cache_key(path)
    if key is None:
        return None
    data = _read(entry_path(path))
    if data is None:
        return None
    try:
        entry = marshal.loads(data)
    except (EOFError, ValueError, TypeError):
        return None
    if not (isinstance(entry, tuple) and len(entry) == 6 and entry[0] == _MAGIC
            and entry[1] == key):
        return None
    _, _, deps, targets, image_data, keys = entry
    sha256 = _sha256()
    for dep, digest in deps:             # imported .npl files and their locks
        content = _read(dep)
        if (content is None) != (digest == ABSENT) or \
                (content is not None and sha256(content).hexdigest() != digest):
            return None
    from npl.runtime.image import ProgramImage
    try:
        image = ProgramImage.from_data(image_data)
    except (ValueError, TypeError):
        return None
    if targets is not True:
        targets = [(str(name), bool(kernel)) for name, kernel in targets]
    if keys is not None:
        versions, pairs = keys
        keys = (str(versions), [(str(name), str(k)) for name, k in pairs])
    return Entry(image, targets, keys)


def _as_read(data: bytes) -> str:
    """Text as open(path, encoding="utf-8") reads it (universal newlines)."""
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def store(path: str, comp, program) -> bool:
    """Write the cache entry of a program the compiling path has just
    compiled and loaded for `npl run` (True when written). Never fails: a
    program that cannot be cached simply is not."""
    try:
        return _store(path, comp, program)
    except Exception:
        if os.environ.get("NPL_DEBUG") == "1":
            raise
        return False


def _store(path: str, comp, program) -> bool:
    module = comp.module
    if getattr(program, "limited", True) or module is None or module.main is None \
            or module.externs or comp.unfilled or comp.rejected \
            or any(f.oracle for f in module.functions):    # the full path sets up their answerer
        return False
    from npl.filling.lockfile import LockFile
    if LockFile.load(lock_path(path)).tampered:
        return False                      # the compiling path warns about these every time
    key = cache_key(path)
    source = _read(path)
    if key is None or source is None or _as_read(source) != comp.source:
        return False                      # changed since it was compiled
    sha256 = _sha256()
    deps = []
    for dep in comp.program.modules:
        if dep == comp.path:
            continue
        content = _read(dep)
        if content is None or _as_read(content) != comp.sources.get(dep):
            return False
        deps.append((dep, sha256(content).hexdigest()))
        lock = _read(lock_path(dep))         # the fills of its holes (npl/project.py)
        deps.append((lock_path(dep), ABSENT if lock is None else sha256(lock).hexdigest()))
    if cache_key(path) != key:            # the lock or npl.toml changed meanwhile
        return False
    from npl.runtime.cached_jit import describe
    targets, keys = describe(program, comp)
    entry = (_MAGIC, key, deps, targets, program.image.to_data(), keys)
    from npl.lang.fileio import write_atomic
    write_atomic(entry_path(path), marshal.dumps(entry))
    return True
