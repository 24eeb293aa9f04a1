"""runtime/jit.py as a run-time system: Numba only for programs with
something to compile, tiering of hot unmarked functions, NPL_JIT modes and
--no-jit, the disk cache (second runs load, corrupt entries are rebuilt,
processes sharing it compile a module once)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import npl.api as api
from npl.runtime import tiering

from conftest import npl_command

NO_KERNELS = '''
def fib(n: int) -> int:
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)

def main():
    xs = [fib(i) for i in range(15)]
    print(sum(xs), "done")
'''

WITH_KERNEL = '''
@kernel
def cube(n: int) -> int:
    return n * n * n

def main():
    print(cube(2 ** 21))
'''


def run_python(code: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=full_env)


# ------------------------------------------------------------------ start-up

def test_program_without_kernels_never_imports_numba(tmp_path):
    prog = tmp_path / "plain.npl"
    prog.write_text(NO_KERNELS)
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "npl.cli", "run", str(prog)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout == "986 done\n"
    imported = [line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines()
                if line.startswith("import time:")]
    assert "npl.runtime.loader" in imported               # the log is complete
    assert not [m for m in imported if m.split(".")[0] in ("numba", "llvmlite")]


def test_numba_is_imported_only_for_kernels_through_the_embedding_api():
    code = f'''
        import sys, npl.api as api
        p = api.compile_source({NO_KERNELS!r}, "a.npl")
        p.call("fib", 20)
        print("numba" in sys.modules)
        q = api.compile_source({WITH_KERNEL!r}, "b.npl")
        print("numba" in sys.modules)
        q.call("cube", 3)
        print("numba" in sys.modules)
    '''
    run = run_python(code)
    # loading a program with kernels does not import Numba either: the first call does
    assert run.stdout.split() == ["False", "False", "True"], run.stderr


# ------------------------------------------------------------------ modes

def test_no_jit_and_jit_off_run_kernels_in_the_interpreter(tmp_path):
    prog = tmp_path / "cube.npl"
    prog.write_text(WITH_KERNEL)
    native = subprocess.run([*npl_command(), "run", str(prog)], capture_output=True, text=True, timeout=300)
    flag = subprocess.run([*npl_command(), "run", "--no-jit", str(prog)], capture_output=True, text=True,
                          timeout=300)
    env = subprocess.run([*npl_command(), "run", str(prog)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "NPL_JIT": "off"})
    # int64 wraps in compiled kernels (docs/reference.md §2); the interpreter's int does not
    assert native.stdout == "-9223372036854775808\n", native.stderr
    assert flag.stdout == env.stdout == "9223372036854775808\n"


HOT = '''
@kernel
def k(n: int) -> int:
    return n + 1

def loop_sum(n: int) -> int:
    s = 0
    for i in range(n):
        s += i * i % 7
    return s

def tiny(x: float) -> float:
    return x * 2.0 + 1.0

def main():
    print(loop_sum(10), tiny(1.0), k(1))
'''


def load(mode: str, monkeypatch, source: str = HOT, path: str = "hot.npl") -> api.Program:
    monkeypatch.setenv("NPL_JIT", mode)
    return api.compile_source(source, path)


def bound_natively(prog: api.Program, name: str) -> bool:
    slot = prog._runtime.function_slot(name)
    fn = prog._runtime.namespace[slot]
    return getattr(fn, "__wrapped__", None) is not None


def test_eager_compiles_everything_at_load(monkeypatch):
    prog = load("eager", monkeypatch)
    jit = prog._runtime.jit
    assert {"k", "loop_sum", "tiny"} <= set(jit.native)
    assert bound_natively(prog, "loop_sum") and bound_natively(prog, "k")


def test_off_compiles_nothing(monkeypatch):
    prog = load("off", monkeypatch)
    assert getattr(prog._runtime, "jit", None) is None
    assert prog.call("loop_sum", 100) == sum(i * i % 7 for i in range(100))
    assert not bound_natively(prog, "k")


def test_kernel_compiles_on_first_call(monkeypatch):
    prog = load("on", monkeypatch)
    assert "k" not in prog._runtime.jit.native
    assert prog.call("k", 1) == 2
    assert "k" in prog._runtime.jit.native and bound_natively(prog, "k")


def test_tiering_compiles_what_pays_and_nothing_else(monkeypatch):
    """With 1 ms compile prices, the decision is the per-call rule's: a
    function whose calls do real work is compiled within a few calls, one
    whose calls cost less than a call into machine code
    (MIN_CALL_SECONDS) never is, however often it is called, and a
    function that is never called is never compiled. The threshold is set
    at 20 us, between `tiny` (about 1 us interpreted) and `loop_sum(2000)`
    (hundreds), so that neither a slower machine nor a pause of the process
    moves a function across it."""
    monkeypatch.setattr(tiering, "MIN_CALL_SECONDS", 20e-6)
    monkeypatch.setattr(tiering, "COMPILE_SECONDS_CACHED", 0.001)
    monkeypatch.setattr(tiering, "COMPILE_SECONDS_COLD", 0.001)
    monkeypatch.setattr(tiering, "NUMBA_STARTUP_SECONDS", 0.0)
    prog = load("on", monkeypatch)
    jit = prog._runtime.jit
    calls = 0
    while "loop_sum" not in jit.native and calls < 100:
        assert prog.call("loop_sum", 2000) == sum(i * i % 7 for i in range(2000))
        calls += 1
    assert "loop_sum" in jit.native and bound_natively(prog, "loop_sum"), calls
    assert prog.call("loop_sum", 3000) == sum(i * i % 7 for i in range(3000))
    for _ in range(30_000):
        assert prog.call("tiny", 1.5) == 4.0
    assert "tiny" not in jit.native and not bound_natively(prog, "tiny")
    assert "k" not in jit.native                   # never called


def test_tiering_waits_for_the_compile_budget(monkeypatch):
    """With the real prices: one cheap call does not compile a function;
    calls adding up to more than a cold compile do."""
    prog = load("on", monkeypatch)
    jit = prog._runtime.jit
    prog.call("loop_sum", 10)
    assert "loop_sum" not in jit.native
    calls = 0
    while "loop_sum" not in jit.native and calls < 10_000:
        prog.call("loop_sum", 20_000)
        calls += 1
    assert "loop_sum" in jit.native, calls
    assert calls >= 2


# ------------------------------------------------------------------ the disk cache

CACHED = '''
@kernel
def smooth(x: array[float]) -> array[float]:
    out = zeros(len(x))
    for i in prange(len(x)):
        lo = max(i - 1, 0)
        hi = min(i + 1, len(x) - 1)
        out[i] = (x[lo] + x[i] + x[hi]) / 3.0
    return out

@kernel
def energy(x: array[float]) -> float:
    s = 0.0
    for v in smooth(x):
        s += v * v
    return s

@kernel
def fib(n: int) -> int:
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)

def main():
    print(energy(arange(10) * 1.0), fib(20))
'''

RUN_CACHED = f'''
    import json, sys, numpy as np, npl.api as api
    from npl.runtime import jit
    p = api.compile_source({CACHED!r}, "cached.npl")
    print(json.dumps([p.call("energy", np.arange(10) * 1.0), p.call("fib", 20),
                      {{k: jit.stats[k] for k in ("compiled", "loaded", "discarded")}}]))
'''


def cached_run(cache: Path, env: dict | None = None) -> tuple[float, int, dict]:
    run = run_python(RUN_CACHED, {"NPL_CACHE_DIR": str(cache), **(env or {})})
    assert run.returncode == 0, run.stderr
    assert "warning" not in run.stderr, run.stderr
    energy, fib, stats = json.loads(run.stdout)
    return energy, fib, stats


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("jit-cache")
    first = cached_run(cache)
    return cache, first


def test_second_run_loads_instead_of_compiling(warm_cache):
    cache, (energy, fib, stats) = warm_cache
    assert stats["compiled"] == 3 and stats["loaded"] == 0      # smooth, energy, fib
    again = cached_run(cache)
    assert again[:2] == (energy, fib)
    assert again[2] == {"compiled": 0, "loaded": 3, "discarded": 0}


def corrupt_truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])


def corrupt_flip(p: Path) -> None:
    data = bytearray(p.read_bytes())
    for k in range(len(data) // 3, len(data) // 3 + 16):
        data[k] ^= 0x5A
    p.write_bytes(bytes(data))


def corrupt_garbage(p: Path) -> None:
    p.write_bytes(os.urandom(max(16, p.stat().st_size)))


@pytest.mark.parametrize("pattern,damage", [
    ("__pycache__/*.nbi", corrupt_truncate),
    ("__pycache__/*.nbc", corrupt_flip),
    ("__pycache__/*.nbc", corrupt_garbage),
    ("__pycache__/*.pyc", corrupt_garbage),
    ("npl_k*.py", corrupt_garbage),
    ("npl_k*.sum", corrupt_truncate),
], ids=["index-truncated", "code-bits-flipped", "code-garbage", "bytecode-garbage", "source-garbage",
        "manifest-truncated"])
def test_corrupt_cache_entry_is_discarded_and_rebuilt(tmp_path, warm_cache, pattern, damage):
    import shutil
    cache = tmp_path / "cache"
    shutil.copytree(warm_cache[0], cache)
    if pattern.endswith(".pyc") and not list((cache / "jit").glob(pattern)):
        # byte code is not written here (PYTHONDONTWRITEBYTECODE): plant stale garbage instead
        for source in (cache / "jit").glob("npl_k*.py"):
            (cache / "jit" / "__pycache__" / f"{source.stem}.{sys.implementation.cache_tag}.pyc").write_bytes(b"stale")
    victims = sorted((cache / "jit").glob(pattern))
    assert victims
    for p in victims:
        damage(p)
    energy, fib, stats = cached_run(cache)
    assert (energy, fib) == warm_cache[1][:2]
    assert stats["discarded"] >= 1 and stats["compiled"] >= 1
    assert cached_run(cache)[2] == {"compiled": 0, "loaded": 3, "discarded": 0}    # healed


def test_stale_files_from_an_interrupted_write_are_ignored(tmp_path, warm_cache):
    import shutil
    cache = tmp_path / "cache"
    shutil.copytree(warm_cache[0], cache)
    for p in (cache / "jit").glob("npl_k*.sum"):
        p.unlink()                         # as if killed between Numba's write and ours
    energy, fib, stats = cached_run(cache)
    assert (energy, fib) == warm_cache[1][:2] and stats["compiled"] == 3


def test_machine_code_stays_in_npls_cache_when_numba_cache_dir_is_set(tmp_path, warm_cache):
    numba_dir = tmp_path / "numba-cache"
    cache = tmp_path / "cache"
    first = cached_run(cache, {"NUMBA_CACHE_DIR": str(numba_dir)})
    assert first[2]["compiled"] == 3
    again = cached_run(cache, {"NUMBA_CACHE_DIR": str(numba_dir)})
    assert again[2] == {"compiled": 0, "loaded": 3, "discarded": 0}
    assert not numba_dir.exists() or not any(numba_dir.rglob("*.nbc"))


def test_processes_started_together_compile_each_module_once(tmp_path):
    """`npl map`'s workers, or runs started together, share the disk cache:
    one compiles a module while the others wait for it and load its machine
    code (without the module lock they compiled side by side, and one could
    read another's half-written files and fall back to the interpreter)."""
    cache = tmp_path / "cache"
    env = {**os.environ, "NPL_CACHE_DIR": str(cache)}
    runs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(RUN_CACHED)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(4)]
    results = []
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0 and "warning" not in err, err
        results.append(json.loads(out))
    assert len({(energy, fib) for energy, fib, _ in results}) == 1
    assert sum(stats["compiled"] for _, _, stats in results) == 3          # smooth, energy, fib
    assert sum(stats["loaded"] for _, _, stats in results) == 9


def test_a_module_is_checked_and_imported_under_its_lock(tmp_path, monkeypatch):
    import types

    import filelock

    from npl.runtime import jitcache
    monkeypatch.setenv("NPL_CACHE_DIR", str(tmp_path))
    seen = []

    def import_file(path: Path):
        try:
            filelock.FileLock(str(path.with_suffix(".lock")), timeout=0).acquire()
            seen.append("free")
        except filelock.Timeout:
            seen.append("held")
        module = types.ModuleType(path.stem)
        module._S = 7 << 24
        return module
    monkeypatch.setattr(jitcache, "import_file", import_file)
    jitcache.load_generated("npl_k_lock_test", "_S = 0\n", 7)
    pycache = tmp_path / "jit" / "__pycache__"
    pycache.mkdir()
    (pycache / "npl_k_lock_test.0.nbi").write_bytes(b"machine code")
    jitcache.write_manifest(tmp_path / "jit" / "npl_k_lock_test.py")
    assert jitcache.load_cached("npl_k_lock_test", 7) is not None
    assert seen == ["held", "held"]
