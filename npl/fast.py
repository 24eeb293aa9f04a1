"""The `npl` command's entry point, with a fast path for `npl run`.

`npl run [--frozen] [--no-jit] [--device cpu] PROG.npl [ARGS...]` of a
program that ran before starts from the compile cache: no click, no parser,
no checker, no lowering, no code generation, no NumPy unless the program
uses arrays. Everything else (other commands and options, a first run, a
changed program) goes to the full command line, npl/cli.py, which stores a
cache entry once it has compiled and loaded a program for `npl run`.

The cache (NPL_CACHE_DIR, else the user cache folder, subfolder `run`;
NPL_RUN_CACHE=off turns it off) holds one entry per program path: the
program image (runtime/image.py: the marshaled code object of the generated
module and what building its namespace and reporting its errors needs) and
a SHA-256 key of everything the compile depended on: this NPL (its version
and the size and time of each source file of the compiler), Python's, the
program's path and bytes, its lock file and the npl.toml beside it. The
entry also lists each imported .npl file with its hash; all are checked
before the entry is used. An entry that is missing, stale, unreadable or of
another format is ignored and rebuilt by the full path; entries are written
atomically (a temporary file renamed into place).

Not cached, so always compiled: programs the lock file marks as edited by
hand (the full path prints a warning for them), programs with holes still to
fill, oracles (their answerer is set up by the full path), externs or no
`main`. A program with kernels or other functions the
JIT may compile runs from the cache too (JitWatch): at a kernel's first
call its machine code is bound straight from the JIT's disk cache when a
previous run compiled it (the entry keeps each kernel's cache index key),
else the compiler and the JIT are brought in; unmarked functions get them
once sampling finds the program spending its time there, so short runs
never pay for them. With NPL_JIT=eager such a program takes the full path.

Output and exit status are those of the full path: 0, 1 after a run-time
error (its NPL stack trace on stderr), 130 when interrupted.
"""
from __future__ import annotations

import marshal
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

# Bump when the layout of a cache entry changes.
CACHE_FORMAT = 2
_MAGIC = "npl-run-cache"
# The implementation fingerprint: the files that decide what a program
# compiles to (front end, lowering, code generation, the image format, fills
# from the lock file) or the kernels' cache index keys (the JIT), by package;
# None: all of the package's files. The CLI and the tools are left out.
_FINGERPRINT = (("npl", ("__init__.py", "fast.py", "project.py")),
                ("npl.lang", None), ("npl.compiler", None), ("npl.filling", None),
                ("npl.stdlib", None),
                ("npl.runtime", ("codegen.py", "values.py", "rtvalues.py", "image.py",
                                 "jit.py", "jitcache.py", "kernel_analysis.py", "numba_ast.py",
                                 "numba_codegen.py", "numba_prims.py", "numba_rt.py",
                                 "numba_intrinsics.py")))
_SOURCE_SUFFIXES = (".py", ".lark", ".txt", ".toml", ".gbnf")


def main(argv: Optional[list[str]] = None) -> None:
    """The `npl` console script: `npl run` from the cache when it can,
    otherwise npl/cli.py."""
    args = sys.argv[1:] if argv is None else list(argv)
    request = parse_run(args) if cache_enabled() else None
    if request is not None:
        status = run_cached(request)
        if status is not None:
            sys.exit(status)
    from npl.cli import main as cli_main
    if argv is None:
        cli_main()
    else:
        cli_main(args=args, prog_name="npl")


def cache_enabled() -> bool:
    return os.environ.get("NPL_RUN_CACHE", "on").lower() not in ("off", "0", "no")


# ------------------------------------------------------------------ command line

class RunRequest:
    """`npl run` as the fast path understands it."""

    __slots__ = ("path", "args", "no_jit")

    def __init__(self, path: str, args: list[str], no_jit: bool):
        self.path = path
        self.args = args
        self.no_jit = no_jit


# npl/cli.py RUN_OPTIONS: after the program they are the program's arguments,
# and the full command line says so in a note (left to it).
_RUN_OPTIONS = ("--frozen", "--model", "--device", "--no-jit")


def parse_run(argv: list[str]) -> Optional[RunRequest]:
    """`run [--frozen] [--no-jit] [--device cpu] PROG [ARGS...]`, else None.
    As in npl/cli.py, options come before PROG and everything after it is
    the program's (`allow_interspersed_args` is off there). `--frozen`
    changes nothing for a cached program: it has every fill."""
    if not argv or argv[0] != "run":
        return None
    no_jit = False
    cpu = os.environ.get("NPL_DEVICE", "cpu").strip().lower() == "cpu"   # --device's default
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--frozen":
            pass
        elif arg == "--no-jit":
            no_jit = True
        elif arg == "--device" and i + 1 < len(argv) and argv[i + 1] == "cpu":
            cpu = True
            i += 1
        elif arg == "--device=cpu":
            cpu = True
        elif arg.startswith("-"):
            return None                   # --help, --model, --device cuda, --, ...
        else:
            rest = argv[i + 1:]
            if not cpu or any(a.split("=")[0] in _RUN_OPTIONS for a in rest):
                return None               # the GPU; or npl/cli.py's note about misplaced options
            return RunRequest(arg, rest, no_jit)
        i += 1
    return None


def jit_mode() -> str:
    """As runtime/jit.py reads NPL_JIT."""
    mode = os.environ.get("NPL_JIT", "on").lower()
    return mode if mode in ("on", "off", "eager") else "on"


# ------------------------------------------------------------------ the fast path

def run_cached(request: RunRequest) -> Optional[int]:
    """Run `request` from the cache and give its exit status, or None when
    there is no usable entry (then nothing has been printed or run)."""
    if request.no_jit:
        os.environ["NPL_JIT"] = "off"     # as npl/cli.py configure_jit does
    os.environ["NPL_DEVICE"] = "cpu"
    try:
        entry = lookup(request.path)
    except Exception:                     # an unusable entry: the full path rebuilds it
        entry = None
    if entry is None:
        arm_store(request)
        return None
    image, targets, kernels = entry
    mode = jit_mode()
    if targets and mode != "off" and (targets is True or mode == "eager"):
        return None                       # the JIT needs the compiler's data from the start
    try:
        from npl.runtime.image import Runner
        runner = Runner(image)
    except Exception:
        arm_store(request)
        return None
    watch = JitWatch(runner, request.path, targets, kernels) if targets and mode == "on" else None
    return execute(runner, request.args, watch)


def execute(runner, argv: list[str], watch: Optional[JitWatch] = None) -> int:
    """What npl/cli.py `run` and runtime/loader.py `run_main` do once the
    program is loaded, with the same output and exit status."""
    from npl.runtime.errors import NplRuntimeError
    try:
        try:
            runner.initialise()
            if watch is not None:         # the JIT attaches after the constants, as in loader.py
                watch.start()
            try:
                runner.run_main(argv)
            finally:
                if watch is not None:
                    watch.stop()
        except NplRuntimeError as err:
            sys.stdout.flush()
            print(err.render(), file=sys.stderr)
            return 1
        finally:
            sys.stdout.flush()
        return 0
    except KeyboardInterrupt:
        print("npl: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:             # as npl/cli.py report_error
        if os.environ.get("NPL_DEBUG") == "1":
            raise
        print(f"npl: internal error: {type(exc).__name__}: {exc}\n"
              "  (this is a bug in NPL; rerun with NPL_DEBUG=1 for details)", file=sys.stderr)
        return 3


# ------------------------------------------------------------------ the JIT

# A cached program whose unmarked functions the JIT could compile is
# sampled every SAMPLE_SECONDS (SLOW_SAMPLE_SECONDS after its first
# FAST_SAMPLES samples: each sample takes the interpreter lock from the
# program); when at least HOT_SHARE of the last WINDOW samples found it
# inside one of them, the program is compiled again and the JIT attached to
# it (as npl/cli.py does at start).
SAMPLE_SECONDS = 0.01
SLOW_SAMPLE_SECONDS = 0.05
FAST_SAMPLES = 50
WINDOW = 10
HOT_SHARE = 0.5
SAMPLER_STACK_BYTES = 64 * 1024 * 1024       # compiling recurses
_FRAMES_LOOKED_AT = 64


class JitWatch:
    """Brings the JIT to a program run from the cache, when it is worth it.

    `targets` are the (IR name, is a kernel) of the functions the JIT may
    compile. A kernel is compiled before its first call, as on the full
    path: the upgrade happens in that call, on the program's thread.

    When `kernels` (the JIT's cache versions and each kernel's index key,
    stored with the entry) finds their machine code in the JIT's disk
    cache, that first call binds them to it directly (runtime/jitcache.py
    `load_indexed`), without the compiler: the cached run then costs what a
    hand-written Numba program's does. The compiler comes in only if
    compiled code fails (to report the NPL error as the full path would), a
    kernel is not in the cache, or an unmarked function gets hot.

    An unmarked function gives the interpreter's result whether it is
    compiled or not (runtime/jit.py re-runs overflowing calls), so compiling
    one is only a question of speed. Short runs and programs that spend
    little time in such functions never pay for the compiler: a sampler
    thread looks at where the program is every SAMPLE_SECONDS and upgrades
    once the program is mostly (HOT_SHARE) inside them. Upgrading and
    binding kernels take the same lock; kernels bound to cached machine
    code keep it while the upgrade compiles the program.

    Upgrading compiles the program again (npl/project.py open_program: the
    same source, lock and settings, as the cache key says) and calls
    runtime/jit.py `attach_jit` on a runtime/codegen.py `Program` over the
    running namespace, exactly as the full path attaches the JIT. If that
    fails the program goes on in the interpreter."""

    def __init__(self, runner, path: str, targets: list, kernels=None):
        import threading
        self.runner = runner
        self.path = path
        self.targets = [(str(name), bool(kernel)) for name, kernel in targets]
        self.kernels = kernels
        self.lock = threading.RLock()
        self.stopped = threading.Event()
        self.upgraded = False
        self.bound = False
        self.jit = None
        self.originals: dict[str, object] = {}

    def start(self) -> None:
        import threading
        namespace = self.runner.namespace
        slots = self.runner.image.functions
        for name, kernel in self.targets:
            if kernel and name in slots:
                slot = slots[name]
                self.originals[slot] = namespace[slot]
                namespace[slot] = self._first_call(slot)
        hot = set()
        for name, kernel in self.targets:
            if kernel:
                continue
            code = getattr(namespace.get(slots.get(name, "")), "__code__", None)
            if code is not None:
                hot |= _all_code(code)
        if not hot:
            return
        previous = threading.stack_size(SAMPLER_STACK_BYTES)
        try:
            threading.Thread(target=self._sample, args=(frozenset(hot),), daemon=True,
                             name="npl-jit-watch").start()
        finally:
            threading.stack_size(previous)

    def stop(self) -> None:
        self.stopped.set()

    def _first_call(self, slot: str):
        namespace = self.runner.namespace

        def first_call(*args):
            if namespace.get(slot) is first_call:
                self.bind_kernels()
            return namespace[slot](*args)
        first_call.__name__ = getattr(self.originals[slot], "__name__", slot)
        return first_call

    def _sample(self, hot: frozenset) -> None:
        import threading
        from collections import deque
        me = threading.get_ident()
        files = self.runner.image.files
        window: deque = deque(maxlen=WINDOW)
        taken = 0
        while not self.stopped.wait(SAMPLE_SECONDS if taken < FAST_SAMPLES
                                    else SLOW_SAMPLE_SECONDS):
            taken += 1
            window.append(_inside(hot, files, me))
            if len(window) == WINDOW and sum(window) >= HOT_SHARE * WINDOW:
                if not self.stopped.is_set():
                    self.upgrade()
                return

    def bind_kernels(self) -> None:
        """Bind the kernels the JIT's cache holds to their machine code (a
        call of any other one upgrades), or upgrade now when it holds none."""
        with self.lock:
            if self.upgraded or self.bound:
                return
            self.bound = True
            natives = self._cached_natives()
            if not natives:
                self.upgrade()
                return
            namespace, slots = self.runner.namespace, self.runner.image.functions
            for name, kernel in self.targets:
                if not kernel:
                    continue
                slot = slots[name]
                if name in natives:
                    namespace[slot] = self._entry(name, natives[name], self.originals[slot])
                else:                     # not in the cache as an entry: the full JIT compiles it
                    namespace[slot] = self._upgrading_call(slot)

    def _upgrading_call(self, slot: str):
        def upgrading_call(*args):
            self.upgrade()
            return self.runner.namespace[slot](*args)
        upgrading_call.__name__ = getattr(self.originals[slot], "__name__", slot)
        return upgrading_call

    def _cached_natives(self):
        """{IR name: machine code} of the kernels the disk cache holds, or
        None when the entry's keys do not fit."""
        if not self.kernels:
            return None
        versions, keys = self.kernels
        if {name for name, _ in keys} != {name for name, kernel in self.targets if kernel}:
            return None
        try:
            from npl.runtime import jitcache
            if not versions.startswith(jitcache.tool_versions() + " ") \
                    or not versions.endswith(f"; boundscheck {jitcache.boundscheck()}"):
                return None               # other tools, or keys made for other options
            return jitcache.load_indexed(keys)
        except Exception:
            if os.environ.get("NPL_DEBUG") == "1":
                raise
            return None

    def _entry(self, name: str, native, interpreted):
        """What NPL code calls for a kernel bound from the cache (as
        runtime/jit.py native_entry)."""
        def entry(*args):
            try:
                return native(*args)
            except Exception as exc:
                return self._native_failed(name, exc, args, interpreted)
        entry.__name__ = getattr(interpreted, "__name__", name)
        entry.__wrapped__ = native
        return entry

    def _native_failed(self, name: str, exc: Exception, args: tuple, interpreted):
        """Compiled code failed: bring in the compiler and the full JIT,
        which turns the failure into the NPL error (or runs the call in the
        interpreter) exactly as on the full path."""
        from npl.runtime.jitcache import is_dispatch_error
        if is_dispatch_error(exc):
            return interpreted(*args)
        jit = self.upgrade()
        fn = jit.by_name.get(name) if jit is not None else None
        if fn is None:
            raise exc
        jit.compile(fn)                   # loads its modules: their error sites are known
        return jit.native_failed(fn, exc, args, interpreted)

    def upgrade(self):
        """Compile the program again and attach the full JIT to the running
        namespace; returns the runtime/jit.py Jit (None when that failed)."""
        with self.lock:
            if self.upgraded:
                return self.jit
            self.upgraded = True
            namespace = self.runner.namespace
            try:
                from npl.project import open_program
                from npl.runtime.codegen import adopt
                from npl.runtime.jit import attach_jit
                comp = open_program(self.path, strict_fills=True).comp
                program = adopt(comp.module, self.runner.image, namespace, self.runner.structs)
                # kernels keep their cached machine code while the program compiles;
                # attach_jit takes the interpreted functions from their slots
                self._restore()
                self.jit = attach_jit(program, comp)
            except (Exception, SystemExit):
                self._restore()
                if os.environ.get("NPL_DEBUG") == "1":
                    raise
            return self.jit

    def _restore(self) -> None:
        namespace = self.runner.namespace
        for slot, original in self.originals.items():
            namespace[slot] = original


def _all_code(code) -> set:
    """A code object and those nested in it (comprehensions, lambdas)."""
    found = {code}
    for const in code.co_consts:
        if hasattr(const, "co_consts"):
            found |= _all_code(const)
    return found


def _inside(hot: frozenset, files, me: int) -> bool:
    """Is some other thread's innermost NPL frame one of `hot`'s code? A
    frame that has not started yet (the interpreter hands over at function
    entries, so samples pile up there) counts as its caller: the call is
    the caller's cost."""
    for ident, frame in sys._current_frames().items():
        if ident == me:
            continue
        depth = 0
        while frame is not None and depth < _FRAMES_LOOKED_AT:
            code = frame.f_code
            if code.co_filename in files and (frame.f_lasti > 0 or frame.f_back is None):
                return code in hot
            frame = frame.f_back
            depth += 1
    return False


# ------------------------------------------------------------------ cache entries

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
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def entry_path(path: str) -> str:
    """One entry per program path: a changed program replaces its entry."""
    name = _sha256()(f"{os.path.abspath(path)}\0{path}".encode("utf-8", "surrogatepass"))
    return os.path.join(cache_dir(), name.hexdigest()[:32] + ".nplrun")


def lock_path(path: str) -> str:
    """PROG.npl.lock beside the program (filling/lockfile.py lock_path_for)."""
    folder, name = os.path.split(path)
    return os.path.join(folder, name + ".lock")


def settings_path(path: str) -> str:
    """The npl.toml npl/project.py reads (beside the resolved program)."""
    return os.path.join(os.path.dirname(os.path.realpath(path)), "npl.toml")


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


def lookup(path: str):
    """(ProgramImage, JIT targets, kernel keys) of a valid entry for `path`,
    or None. The targets: [] when the JIT has nothing to do, else a list of
    (IR name, is a kernel), or True when they are not known. The kernel
    keys: None, or (the JIT's tool versions, [(IR name, index key)]) for
    every kernel (runtime/jit.py `Jit.index_key`)."""
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
    _, _, deps, targets, image_data, kernels = entry
    sha256 = _sha256()
    for dep, digest in deps:             # imported .npl files
        content = _read(dep)
        if content is None or sha256(content).hexdigest() != digest:
            return None
    from npl.runtime.image import ProgramImage
    try:
        image = ProgramImage.from_data(image_data)
    except (ValueError, TypeError):
        return None
    if targets is not True:
        targets = [(name, kernel) for name, kernel in targets]
    if kernels is not None:
        versions, keys = kernels
        kernels = (str(versions), [(str(name), str(k)) for name, k in keys])
    return image, targets, kernels


def arm_store(request: RunRequest) -> None:
    """Have the full path store an entry once it has loaded the program."""
    from npl.runtime import loader
    loader.after_load = lambda comp, program: store(request.path, comp, program)


def _as_read(data: bytes) -> str:
    """Text as open(path, encoding="utf-8") reads it (universal newlines)."""
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def store(path: str, comp, program) -> bool:
    """Write the cache entry of a program the full path has just compiled and
    loaded for `npl run` (True when written). Never fails: a program that
    cannot be cached simply is not."""
    try:
        return _store(path, comp, program)
    except Exception:
        if os.environ.get("NPL_DEBUG") == "1":
            raise
        return False


def _store(path: str, comp, program) -> bool:
    module = comp.module
    if getattr(program, "limited", True) or module is None or module.main is None \
            or any(f.oracle for f in module.functions) \
            or module.externs or comp.unfilled or comp.rejected:
        return False
    from npl.filling.lockfile import LockFile, lock_path_for
    if LockFile.load(lock_path_for(path)).tampered:
        return False                      # the full path warns about these every time
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
    if cache_key(path) != key:            # the lock or npl.toml changed meanwhile
        return False
    entry = (_MAGIC, key, deps, jit_targets(comp, program), program.image.to_data(),
             kernel_keys(program))
    write_atomic(entry_path(path), marshal.dumps(entry))
    return True


def jit_targets(comp, program):
    """The functions the JIT (runtime/jit.py attach_jit) may compile when it
    is on, as [(IR name, is a kernel)]: kernels and the unmarked functions
    it deems eligible; True when the JIT cannot tell."""
    module = comp.module
    targets = [(f.name, True) for f in module.functions if f.kernel]
    try:
        from npl.runtime.jit import Jit
        jit = Jit(program, comp)
        targets += [(f.name, False) for f in module.functions
                    if not f.kernel and jit.eligible(f)]
    except Exception:
        return True
    return targets


def kernel_keys(program):
    """(tool versions, [(IR name, index key)]) of the program's kernels, as
    the JIT attached to it computes them (the constants are initialised by
    now), or None when there is no JIT or no kernel."""
    jit = getattr(program, "jit", None)
    if jit is None:
        return None
    kernels = [f for f in jit.module.functions if f.kernel]
    if not kernels or jit.device != "cpu":
        return None
    try:
        from npl.runtime.jit import _tool_versions
        options = f"; boundscheck {jit.options().boundscheck}"
        return (_tool_versions() + options, [(f.name, jit.index_key(f)) for f in kernels])
    except Exception:
        return None


def write_atomic(target: str, data: bytes) -> None:
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    tmp = f"{target}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


if __name__ == "__main__":
    main()
