"""The compile cache of `npl run` and the fast entry point (npl/fast.py).

Every program of the spec tree and of the shared conformance suite that
`npl run` runs is run twice through the fast entry point, first with an
empty cache (compiled by npl/cli.py, which stores an entry) and then from
the cache: stdout, stderr and the exit status must be the same, and the
second run must not have imported the compiler, click or (for programs
without arrays) NumPy. Then the cache's own rules: stale, corrupt and
truncated entries, imported files, lock files and npl.toml, kernels,
hand-edited lock files, and the argument forms the fast path takes.
"""
from __future__ import annotations

import marshal
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import CONFORMANCE
from lockfill import with_lock
from npl import runcache
from npl.run_command import parse_run, run_cached
from npl.runtime.image import ProgramImage

TESTS = Path(__file__).resolve().parent
SPEC = TESTS / "spec"
TIMEOUT = 300

# The console script `npl = "npl.fast:main"`, plus a list of the modules the
# process imported (written at exit to $NPL_TEST_MODULES when set).
WRAPPER = """\
import atexit, os, sys
def _dump_modules():
    out = os.environ.get("NPL_TEST_MODULES")
    if out:
        with open(out, "w") as f:
            f.write("\\n".join(sorted(sys.modules)))
atexit.register(_dump_modules)
sys.argv[0] = "npl"
from npl.fast import main
main()
"""
COMPILER_MODULES = ("click", "lark", "npl.cli", "npl.lang.parser", "npl.lang.checker",
                    "npl.compiler.lower", "npl.runtime.codegen")


def clean_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("NPL_MODEL", "OPENAI_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY",
                 "NPL_DEBUG", "NPL_JIT", "NPL_DEVICE", "NPL_RUN_CACHE", "NPL_TEST_MODULES"):
        env.pop(name, None)
    env["NPL_CACHE_DIR"] = str(cache)
    return env


class Run:
    def __init__(self, p: subprocess.CompletedProcess, modules: set[str]):
        self.stdout, self.stderr, self.rc = p.stdout, p.stderr, p.returncode
        self.modules = modules

    @property
    def outcome(self) -> tuple[str, str, int]:
        return self.stdout, self.stderr, self.rc

    def __repr__(self) -> str:
        loaded = [m for m in COMPILER_MODULES + ("npl.cli", "npl.runtime.image", "numpy")
                  if m in self.modules]
        return f"Run(rc={self.rc}, loaded={loaded}, stderr={self.stderr[-300:]!r})"

    @property
    def fast(self) -> bool:
        """npl/fast.py ran the program (npl/cli.py was never imported)."""
        return "npl.runtime.image" in self.modules and "npl.cli" not in self.modules

    @property
    def from_cache(self) -> bool:
        """... and nothing was compiled (not even for the JIT)."""
        return self.fast and not any(m in self.modules for m in COMPILER_MODULES)


def npl(args: list[str], cwd: Path, env: dict[str, str], modules_file: Path) -> Run:
    env = dict(env, NPL_TEST_MODULES=str(modules_file))
    if modules_file.exists():
        modules_file.unlink()
    p = subprocess.run([sys.executable, "-c", WRAPPER, *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=TIMEOUT)
    modules = set(modules_file.read_text().split("\n")) if modules_file.exists() else set()
    return Run(p, modules)


def entry_of(prog: Path, cache: Path, monkeypatch) -> tuple | None:
    """The cache entry of `prog` run as `npl run PROG.name` in its folder."""
    monkeypatch.setenv("NPL_CACHE_DIR", str(cache))
    monkeypatch.chdir(prog.parent)
    path = Path(runcache.entry_path(prog.name))
    return marshal.loads(path.read_bytes()) if path.exists() else None


# ------------------------------------------------------------------ every program, twice

def run_programs() -> list[Path]:
    progs = []
    for folder in (SPEC, CONFORMANCE):
        if not folder.is_dir():
            continue
        for p in sorted(folder.rglob("*.npl")):
            if p.with_suffix(".out").exists():
                progs.append(p)
            elif p.with_suffix(".expect").exists():
                lines = p.with_suffix(".expect").read_text(encoding="utf-8").splitlines()
                if "command: run" in [line.strip() for line in lines]:
                    progs.append(p)
    return progs


PROGRAMS = run_programs()


def test_the_program_list_is_not_empty():
    assert len(PROGRAMS) > 30
    assert any(p.parent.name == "conformance" for p in PROGRAMS) or not CONFORMANCE.is_dir()


@pytest.fixture(scope="module")
def twice(tmp_path_factory):
    """prog -> (cold run, cached run, where it ran, cache folder)."""
    cache = tmp_path_factory.mktemp("run-cache")
    env = clean_env(cache)
    filled = tmp_path_factory.mktemp("filled")
    scratch = tmp_path_factory.mktemp("modules")
    runnable = {prog: with_lock(prog, filled) for prog in PROGRAMS}

    def both(i: int, prog: Path):
        path = runnable[prog]
        args = ["run", "--frozen", path.name]
        cold = npl(args, path.parent, env, scratch / f"{i}-cold")
        warm = npl(args, path.parent, env, scratch / f"{i}-warm")
        return cold, warm, path, cache

    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        futures = {prog: pool.submit(both, i, prog) for i, prog in enumerate(PROGRAMS)}
        yield {prog: f.result() for prog, f in futures.items()}


@pytest.mark.parametrize("prog", PROGRAMS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_cached_run_matches_the_compiling_run(prog, twice, monkeypatch):
    cold, warm, path, cache = twice[prog]
    assert "Traceback (most recent call last)" not in cold.stderr + warm.stderr
    assert warm.outcome == cold.outcome
    if prog.with_suffix(".out").exists():
        assert cold.rc == 0 and cold.stdout == prog.with_suffix(".out").read_text(encoding="utf-8")
    entry = entry_of(path, cache, monkeypatch)
    if cold.rc == 0:
        assert entry is not None, "a program that ran is cached"
    if entry is None:
        assert not warm.from_cache
        return
    image = ProgramImage.from_data(entry[4])
    targets = entry[3]
    assert targets is not True, "the JIT's targets are known"
    assert warm.fast, sorted(m for m in warm.modules if "npl" in m)
    if not targets:                       # nothing for the JIT: nothing compiled
        assert warm.from_cache, sorted(m for m in warm.modules if "npl" in m)
    if any(kernel for _, kernel in targets):
        # the cold run compiled the kernels it called: the warm one binds them from the JIT cache
        assert warm.from_cache, sorted(m for m in warm.modules if "npl" in m)
    if warm.from_cache and not image.uses_numpy:
        assert "numpy" not in warm.modules


# ------------------------------------------------------------------ the cache's rules

@pytest.fixture
def env(tmp_path):
    return clean_env(tmp_path / "cache")


def test_a_changed_program_is_compiled_again(tmp_path, env):
    prog = tmp_path / "p.npl"
    prog.write_text('def main():\n    print("one")\n')
    first = npl(["run", "p.npl"], tmp_path, env, tmp_path / "m")
    second = npl(["run", "p.npl"], tmp_path, env, tmp_path / "m")
    assert first.stdout == second.stdout == "one\n" and second.from_cache
    prog.write_text('def main():\n    print("two")\n')
    third = npl(["run", "p.npl"], tmp_path, env, tmp_path / "m")
    assert third.stdout == "two\n" and not third.from_cache
    fourth = npl(["run", "p.npl"], tmp_path, env, tmp_path / "m")
    assert fourth.stdout == "two\n" and fourth.from_cache
    assert len(list((tmp_path / "cache" / "run").iterdir())) == 1     # replaced, not added


def test_a_changed_import_is_compiled_again(tmp_path, env):
    (tmp_path / "shapes.npl").write_text("def area(w: int, h: int) -> int:\n    return w * h\n")
    (tmp_path / "main.npl").write_text(
        "from shapes import area\n\ndef main():\n    print(area(2, 3))\n")
    assert npl(["run", "main.npl"], tmp_path, env, tmp_path / "m").stdout == "6\n"
    cached = npl(["run", "main.npl"], tmp_path, env, tmp_path / "m")
    assert cached.stdout == "6\n" and cached.from_cache
    (tmp_path / "shapes.npl").write_text("def area(w: int, h: int) -> int:\n    return w + h\n")
    changed = npl(["run", "main.npl"], tmp_path, env, tmp_path / "m")
    assert changed.stdout == "5\n" and not changed.from_cache
    (tmp_path / "shapes.npl").unlink()
    gone = npl(["run", "main.npl"], tmp_path, env, tmp_path / "m")
    assert gone.rc == 2 and "cannot import 'shapes'" in gone.stderr


def test_the_key_covers_the_lock_file_and_npl_toml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.npl").write_text("def main():\n    pass\n")
    keys = [runcache.cache_key("p.npl")]
    (tmp_path / "p.npl.lock").write_text("# lock\n")
    keys.append(runcache.cache_key("p.npl"))
    (tmp_path / "npl.toml").write_text("[limits]\nsteps = 10\n")
    keys.append(runcache.cache_key("p.npl"))
    (tmp_path / "p.npl").write_text("def main():\n    pass\n\n")
    keys.append(runcache.cache_key("p.npl"))
    assert len(set(keys)) == 4 and keys[-1] == runcache.cache_key("p.npl")
    assert runcache.cache_key("missing.npl") is None


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other key", "empty"])
def test_a_damaged_entry_is_ignored_and_rebuilt(tmp_path, env, damage):
    (tmp_path / "p.npl").write_text(
        "struct P:\n    x: int\n\ndef main():\n    print(P(3))\n    xs = [1, 2]\n"
        "    i = 5\n    print(xs[i])\n")
    cold = npl(["run", "p.npl"], tmp_path, env, tmp_path / "m")
    assert cold.rc == 1 and cold.stdout == "P(x=3)\n"
    assert "index out of range: list index 5, length 2" in cold.stderr
    [entry] = (tmp_path / "cache" / "run").iterdir()
    good = entry.read_bytes()
    if damage == "garbage":
        entry.write_bytes(b"\x00not marshal" * 10)
    elif damage == "truncated":
        entry.write_bytes(good[: len(good) // 2])
    elif damage == "other key":
        data = marshal.loads(good)
        entry.write_bytes(marshal.dumps((data[0], "0" * 64) + data[2:]))
    else:
        entry.write_bytes(b"")
    again = npl(["run", "p.npl"], tmp_path, env, tmp_path / "m")
    assert again.outcome == cold.outcome and not again.from_cache
    assert marshal.loads(entry.read_bytes())[1] == marshal.loads(good)[1]     # rebuilt
    cached = npl(["run", "p.npl"], tmp_path, env, tmp_path / "m")
    assert cached.outcome == cold.outcome and cached.from_cache
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]          # no temporary files


def test_arguments_exit_status_and_numpy(tmp_path, env):
    (tmp_path / "args.npl").write_text(
        "def main(args: list[str]):\n    print(args)\n    assert len(args) < 3, \"too many\"\n")
    for argv in (["a", "-x"], ["1", "-v", "3"]):
        cold = npl(["run", "args.npl", *argv], tmp_path, env, tmp_path / "m")
        warm = npl(["run", "--no-jit", "--device", "cpu", "--frozen", "args.npl", *argv],
                   tmp_path, env, tmp_path / "m")
        assert warm.outcome == cold.outcome and warm.from_cache
        assert "numpy" not in warm.modules
    assert warm.rc == 1 and "assertion failed: too many" in warm.stderr
    # npl's own options after the program are the program's, with a note
    # (the same from the cache and from the compiling path).
    noted = npl(["run", "args.npl", "--frozen"], tmp_path, env, tmp_path / "m")
    assert noted.stdout == "['--frozen']\n" and "npl: note: --frozen" in noted.stderr
    assert noted.from_cache
    compiled = npl(["run", "args.npl", "--frozen"], tmp_path, dict(env, NPL_RUN_CACHE="off"),
                   tmp_path / "m")
    assert compiled.outcome == noted.outcome and not compiled.fast
    (tmp_path / "arr.npl").write_text(
        "def main():\n    a = zeros(3)\n    a[1] = 2.5\n    print(a)\n    print(sum(a))\n")
    cold = npl(["run", "arr.npl"], tmp_path, env, tmp_path / "m")
    warm = npl(["run", "--device=cpu", "arr.npl"], tmp_path, env, tmp_path / "m")
    assert cold.stdout == "array([0.0, 2.5, 0.0])\n2.5\n"
    assert warm.outcome == cold.outcome and warm.from_cache and "numpy" in warm.modules


def test_deep_recursion_and_constants_from_the_cache(tmp_path, env):
    (tmp_path / "deep.npl").write_text(
        "const BASE: int = 7\n\ndef down(n: int) -> int:\n    if n == 0:\n        return BASE\n"
        "    return 1 + down(n - 1)\n\ndef main():\n    print(down(20000))\n    print(down(-1))\n")
    cold = npl(["run", "deep.npl"], tmp_path, env, tmp_path / "m")
    warm = npl(["run", "deep.npl"], tmp_path, env, tmp_path / "m")
    assert cold.stdout == "20007\n" and cold.rc == 1, cold.stderr
    assert "stack overflow" in cold.stderr and "in down (deep.npl:6)" in cold.stderr
    assert warm.outcome == cold.outcome and warm.from_cache


KERNEL = """\
@kernel
def scale(xs: array[float], k: float):
    for i in prange(len(xs)):
        xs[i] = xs[i] * k

def main():
    xs = ones(4)
    scale(xs, 3.0)
    print(xs)
"""


def test_kernel_programs_from_the_cache(tmp_path, env, monkeypatch):
    (tmp_path / "k.npl").write_text(KERNEL)
    cold = npl(["run", "--no-jit", "k.npl"], tmp_path, env, tmp_path / "m")
    assert cold.rc == 0 and cold.stdout == "array([3.0, 3.0, 3.0, 3.0])\n", cold.stderr
    assert entry_of(tmp_path / "k.npl", tmp_path / "cache", monkeypatch)[3] == [("scale", True)]
    warm = npl(["run", "--no-jit", "k.npl"], tmp_path, env, tmp_path / "m")
    assert warm.outcome == cold.outcome and warm.from_cache
    off = npl(["run", "k.npl"], tmp_path, dict(env, NPL_JIT="off"), tmp_path / "m")
    assert off.outcome == cold.outcome and off.from_cache
    # With the JIT on, the kernel's first call compiles the program again and
    # attaches the JIT, which compiles the kernel: same output. (The entry,
    # stored by a --no-jit run, names no kernel in the JIT's cache.)
    jit = npl(["run", "k.npl"], tmp_path, env, tmp_path / "m")
    assert jit.outcome == cold.outcome and jit.fast and not jit.from_cache
    assert "numba" in jit.modules and "npl.runtime.jit" in jit.modules
    # NPL_JIT=eager compiles every target before main, from the cache too.
    eager = npl(["run", "k.npl"], tmp_path, dict(env, NPL_JIT="eager"), tmp_path / "m")
    assert eager.outcome == cold.outcome and eager.fast and "numba" in eager.modules
    # An entry whose JIT targets are unknown runs from the cache only with the JIT off.
    entry = runcache.lookup("k.npl")
    assert entry.runs_cached()
    entry.targets = True
    for mode, cached in (("on", False), ("eager", False), ("off", True)):
        monkeypatch.setenv("NPL_JIT", mode)
        assert entry.runs_cached() == cached


def test_cached_kernels_are_bound_without_the_compiler(tmp_path, env):
    """Once a run has compiled the kernels, a cached run binds them to the
    JIT cache's machine code at their first call: no parser, no checker."""
    (tmp_path / "k.npl").write_text(KERNEL)
    first = npl(["run", "k.npl"], tmp_path, env, tmp_path / "m")
    assert first.rc == 0 and first.stdout == "array([3.0, 3.0, 3.0, 3.0])\n", first.stderr
    assert not first.fast
    warm = npl(["run", "k.npl"], tmp_path, env, tmp_path / "m")
    assert warm.outcome == first.outcome and warm.from_cache, warm
    assert "numba" in warm.modules and "npl.runtime.jitcache" in warm.modules
    assert "npl.lang.ast" not in warm.modules and "npl.compiler.ir" not in warm.modules
    # other JIT options need other machine code: the full JIT makes it
    unchecked = npl(["run", "k.npl"], tmp_path, dict(env, NPL_JIT_BOUNDSCHECK="0"), tmp_path / "m")
    assert unchecked.outcome == first.outcome and unchecked.fast and not unchecked.from_cache


FAULTING_KERNEL = """\
@kernel
def pick(xs: array[float], i: int) -> float:
    return xs[i] * 2.0

@kernel
def total(xs: array[float]) -> float:
    s = 0.0
    for i in range(len(xs)):
        s += pick(xs, i)
    return s

def main(args: list[str]):
    xs = ones(3)
    print(total(xs))
    if len(args) > 0:
        print(pick(xs, int(args[0])))
"""


@pytest.mark.parametrize("arg", ["1", "7"], ids=["never-compiled-alone", "faulting"])
def test_cached_kernels_fall_back_to_the_full_jit_with_the_same_outcome(tmp_path, env, arg):
    """`pick` has no cache index of its own (only `total` was called from
    NPL code), so calling it upgrades; a fault in compiled code gives the
    full path's NPL error."""
    (tmp_path / "f.npl").write_text(FAULTING_KERNEL)
    npl(["run", "f.npl"], tmp_path, env, tmp_path / "m")
    warm = npl(["run", "f.npl"], tmp_path, env, tmp_path / "m")
    assert warm.rc == 0 and warm.from_cache, warm
    full = npl(["run", "f.npl", arg], tmp_path, dict(env, NPL_RUN_CACHE="off"), tmp_path / "m")
    cached = npl(["run", "f.npl", arg], tmp_path, env, tmp_path / "m")
    assert cached.fast and cached.outcome == full.outcome
    if arg == "7":
        assert full.rc == 1 and "index out of range" in full.stderr and "f.npl:3" in full.stderr
    else:
        assert full.outcome == ("6.0\n2.0\n", "", 0)


PRANGE_FAULT = """\
@kernel
def inverses(xs: array[float]) -> array[float]:
    out = zeros(len(xs))
    for i in prange(len(xs)):
        out[i] = 1.0 / xs[i]
    return out

def main(args: list[str]):
    xs = ones(3)
    if len(args) > 0:
        xs[1] = 0.0
    print(inverses(xs))
"""


def test_a_fault_inside_a_parallel_loop_of_a_cached_kernel(tmp_path, env):
    (tmp_path / "p.npl").write_text(PRANGE_FAULT)
    npl(["run", "p.npl"], tmp_path, env, tmp_path / "m")
    full = npl(["run", "p.npl", "zero"], tmp_path, dict(env, NPL_RUN_CACHE="off"), tmp_path / "m")
    cached = npl(["run", "p.npl", "zero"], tmp_path, env, tmp_path / "m")
    assert full.rc == 1 and "division by zero" in full.stderr and "p.npl:5" in full.stderr
    assert cached.fast and cached.outcome == full.outcome


def test_a_damaged_jit_cache_entry_is_compiled_again_from_the_fast_path(tmp_path, env):
    (tmp_path / "k.npl").write_text(KERNEL)
    first = npl(["run", "k.npl"], tmp_path, env, tmp_path / "m")
    for data in (tmp_path / "cache" / "jit" / "__pycache__").glob("*.nbc"):
        data.write_bytes(b"garbage")
    again = npl(["run", "k.npl"], tmp_path, env, tmp_path / "m")
    assert again.outcome == first.outcome and again.fast and not again.from_cache


SPIN_FUNCTION = """\
def spin(n: int) -> int:
    s = 1
    for i in range(n):
        s = (s * 1103515245 + 12345) % 2147483648
    return s
"""

def spin(n: int) -> int:
    s = 1
    for _ in range(n):
        s = (s * 1103515245 + 12345) % 2147483648
    return s


HOT_CALLS = SPIN_FUNCTION + """
def main(args: list[str]):
    n = int(args[0])
    total = 0
    for k in range(int(args[1])):
        total = (total + spin(n)) % 1000003
    print(total)
"""

# A run that calls spin(20000) 4000 times spends seconds in it interpreted
# (0.5-2 ms a call), several times the most a cold compile is priced at
# (runtime/tiering.py: 1.1 s with Numba and the front end to load), so it
# is compiled whatever the machine's speed; one call of spin(10) never is.
HOT_ARGS = ["20000", "4000"]


def hot_total(n: int, calls: int) -> str:
    return f"{calls * spin(n) % 1000003}\n"


def test_hot_unmarked_functions_are_compiled_from_the_cache_too(tmp_path, env, monkeypatch):
    """The cached run tiers an unmarked function by the compiling path's
    rule: a short run loads neither the compiler nor Numba; a long one
    compiles spin (compiling the program again first, as its machine code
    is not in the JIT's disk cache yet); the next long run binds spin to
    that machine code without the compiler, by the key the entry keeps."""
    (tmp_path / "w.npl").write_text(HOT_CALLS)
    cold = npl(["run", "--no-jit", "w.npl", "10", "1"], tmp_path, env, tmp_path / "m")
    assert cold.rc == 0 and cold.stdout == hot_total(10, 1), cold
    entry = entry_of(tmp_path / "w.npl", tmp_path / "cache", monkeypatch)
    assert entry[3] == [("spin", False)] and [n for n, _ in entry[5][1]] == ["spin"]
    short = npl(["run", "w.npl", "10", "1"], tmp_path, env, tmp_path / "m")
    assert short.outcome == cold.outcome and short.from_cache and "numba" not in short.modules
    long = npl(["run", "w.npl", *HOT_ARGS], tmp_path, env, tmp_path / "m")
    assert long.outcome == (hot_total(20000, 4000), "", 0) and long.fast, long
    assert "npl.lang.parser" in long.modules and "numba" in long.modules
    again = npl(["run", "w.npl", *HOT_ARGS], tmp_path, env, tmp_path / "m")
    assert again.outcome == long.outcome and again.from_cache and "numba" in again.modules, again


MIXED = """\
@kernel
def scale(xs: array[float], k: float):
    for i in prange(len(xs)):
        xs[i] = xs[i] * k

""" + SPIN_FUNCTION + """
def main(args: list[str]):
    xs = ones(4)
    scale(xs, 3.0)
    total = 0
    for k in range(int(args[1])):
        total = (total + spin(int(args[0]))) % 1000003
    print(xs, total)
"""


def test_kernels_from_the_cache_and_a_hot_unmarked_function(tmp_path, env, monkeypatch):
    """Kernels bind from the JIT cache; an unmarked function still gets
    compiled once its calls have repaid it."""
    (tmp_path / "x.npl").write_text(MIXED)
    npl(["run", "x.npl", "10", "1"], tmp_path, env, tmp_path / "m")
    assert entry_of(tmp_path / "x.npl", tmp_path / "cache", monkeypatch)[3] == [
        ("scale", True), ("spin", False)]
    short = npl(["run", "x.npl", "10", "1"], tmp_path, env, tmp_path / "m")
    assert short.rc == 0 and short.from_cache and "numba" in short.modules, short
    long = npl(["run", "x.npl", *HOT_ARGS], tmp_path, env, tmp_path / "m")
    assert long.outcome == (f"array([3.0, 3.0, 3.0, 3.0]) {hot_total(20000, 4000)}", "", 0)
    assert long.fast and "npl.lang.parser" in long.modules          # compiled again for spin


SPIN = SPIN_FUNCTION + """
def main(args: list[str]):
    print(spin(int(args[0])))
"""


def test_the_full_jit_takes_over_a_cached_run(tmp_path, env, monkeypatch):
    """What a cached run does when it must compile: the program is compiled
    again, a runtime/jit.py Jit is put behind the namespace the cached run
    is executing (its tiering wrappers stay), and a compiled spin gives the
    interpreter's result."""
    from npl.project import open_program
    from npl.runtime.cached_jit import attach
    from npl.runtime.image import Runner
    (tmp_path / "w.npl").write_text(SPIN)
    npl(["run", "w.npl", "10"], tmp_path, env, tmp_path / "m")
    entry_of(tmp_path / "w.npl", tmp_path / "cache", monkeypatch)
    monkeypatch.delenv("NPL_JIT", raising=False)
    entry = runcache.lookup("w.npl")
    runner = Runner(entry.image)
    runner.initialise()
    slot = entry.image.functions["spin"]
    interpreted = runner.namespace[slot]
    compiles = []

    def recompile():
        compiles.append(1)
        return open_program("w.npl").comp
    tiering = attach(runner, entry.targets, entry.keys, recompile)
    assert runner.namespace[slot] is not interpreted          # the timing wrapper
    assert tiering.interpreted["spin"] is interpreted
    backend = tiering.backend
    jit = backend.upgrade()
    assert jit is not None and "spin" in jit.by_name and compiles == [1]
    assert backend.upgrade() is jit and compiles == [1]       # once only
    assert jit.bind(jit.by_name["spin"])
    compiled = runner.namespace[slot]
    assert compiled is not interpreted and hasattr(compiled, "__wrapped__")
    assert compiled(100000) == interpreted(100000) == spin(100000)


def test_hand_edited_lock_files_are_never_cached(tmp_path, env):
    prog = with_lock(SPEC / "holes" / "filled.npl", tmp_path)
    text = prog.read_text()
    prog.write_text(text.replace('?{the number of vowels in the word "queue"}', "4"))
    lock = prog.with_name(prog.name + ".lock")
    edited = lock.read_text().replace('fill = "4"', 'fill = "5"')
    assert edited != lock.read_text(), lock.read_text()
    lock.write_text(edited)
    cold = npl(["run", "--frozen", prog.name], prog.parent, env, tmp_path / "m")
    assert cold.rc == 0 and "edited by hand" in cold.stderr, cold.stderr
    warm = npl(["run", "--frozen", prog.name], prog.parent, env, tmp_path / "m")
    assert warm.outcome == cold.outcome and not warm.from_cache


def test_the_cache_can_be_turned_off(tmp_path, env):
    (tmp_path / "p.npl").write_text('def main():\n    print("x")\n')
    env = dict(env, NPL_RUN_CACHE="off")
    for _ in range(2):
        run = npl(["run", "p.npl"], tmp_path, env, tmp_path / "m")
        assert run.stdout == "x\n" and not run.from_cache
    assert not (tmp_path / "cache" / "run").exists()


def test_other_commands_go_to_the_full_command_line(tmp_path, env):
    (tmp_path / "p.npl").write_text("def main():\n    pass\n\nexample 1 + 1 == 2\n")
    check = npl(["check", "p.npl"], tmp_path, env, tmp_path / "m")
    assert check.rc == 0 and "p.npl: ok" in check.stdout and "click" in check.modules
    test = npl(["test", "p.npl"], tmp_path, env, tmp_path / "m")
    assert test.rc == 0 and "1 passed, 0 failed" in test.stdout
    missing = npl(["run", "nope.npl"], tmp_path, env, tmp_path / "m")
    assert missing.rc == 2 and missing.stderr == "npl: error: no such file: nope.npl\n"


PARSED = [
    (["run", "p.npl"], ("p.npl", [], False, "cpu", None)),
    (["run", "--frozen", "--no-jit", "p.npl", "a", "-b"],
     ("p.npl", ["a", "-b"], True, "cpu", None)),
    (["run", "p.npl", "a", "--frozen"], ("p.npl", ["a", "--frozen"], False, "cpu", None)),
    (["run", "p.npl", "--device=cpu"], ("p.npl", ["--device=cpu"], False, "cpu", None)),
    (["run", "--device", "cpu", "p.npl"], ("p.npl", [], False, "cpu", None)),
    (["run", "--device=CPU", "--frozen", "p.npl", "-v"], ("p.npl", ["-v"], False, "cpu", None)),
    (["run", "--device", "cuda", "p.npl"], ("p.npl", [], False, "cuda", None)),
    (["run", "--model", "x/y", "p.npl"], ("p.npl", [], False, "cpu", "x/y")),
    (["run", "--model=x/y", "--no-jit", "p.npl"], ("p.npl", [], True, "cpu", "x/y")),
    (["run", "--model", "--frozen", "p.npl"], ("p.npl", [], False, "cpu", "--frozen")),
    (["run", "--device", "cpu", "--device=cuda", "p.npl"], ("p.npl", [], False, "cuda", None)),
]


@pytest.mark.parametrize("argv, expected", PARSED + [
    (["run", "--device", "gpu", "p.npl"], None),
    (["run", "--frozen=yes", "p.npl"], None),
    (["run", "--help"], None),
    (["run", "-h", "p.npl"], None),
    (["run", "--verbose", "p.npl"], None),
    (["run", "--", "p.npl"], None),
    (["run"], None),
    (["run", "--frozen"], None),
    (["run", "--device"], None),
    (["run", "--model"], None),
    (["check", "p.npl"], None),
    ([], None),
])
def test_parse_run(argv, expected, monkeypatch):
    monkeypatch.delenv("NPL_DEVICE", raising=False)
    request = parse_run(argv)
    got = None if request is None else (request.path, request.args, request.no_jit,
                                        request.device, request.options["model"])
    assert got == expected


@pytest.mark.parametrize("argv", [argv for argv, _ in PARSED])
def test_parse_run_reads_the_options_as_click_does(argv, monkeypatch):
    """One table of options (npl/run_command.py RUN_OPTIONS) behind both
    readers: the fast path's gives what click's command gives."""
    from npl.cli import run as run_command
    monkeypatch.delenv("NPL_DEVICE", raising=False)
    request = parse_run(argv)
    params = run_command.make_context("run", list(argv[1:])).params
    assert params == {"program": request.path, "args": tuple(request.args), **request.options}


@pytest.mark.parametrize("value, device", [("cuda", "cuda"), ("CPU", "cpu"), ("", "cpu"),
                                           ("tpu", None)])
def test_parse_run_reads_npl_device(value, device, monkeypatch):
    monkeypatch.setenv("NPL_DEVICE", value)
    request = parse_run(["run", "p.npl"])
    assert (request and request.device) == device
    monkeypatch.setenv("NPL_DEVICE", value)
    assert parse_run(["run", "--device", "cpu", "p.npl"]).device == "cpu"


def test_only_cpu_runs_come_from_the_cache(monkeypatch):
    monkeypatch.setattr(runcache, "lookup", lambda path: pytest.fail("looked up"))
    assert run_cached(parse_run(["run", "--device", "cuda", "p.npl"])) is None
    monkeypatch.setenv("NPL_RUN_CACHE", "off")
    assert run_cached(parse_run(["run", "p.npl"])) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="computed by hand on Linux only")
@pytest.mark.parametrize("xdg", [None, "absolute", "relative/ignored"])
def test_cache_dir_is_platformdirs_user_cache_dir(monkeypatch, tmp_path, xdg):
    import platformdirs
    monkeypatch.delenv("NPL_CACHE_DIR", raising=False)
    if xdg is None:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache") if xdg == "absolute" else xdg)
    assert runcache.cache_dir() == os.path.join(platformdirs.user_cache_dir("npl"), "run")
    monkeypatch.setenv("NPL_CACHE_DIR", "/somewhere")
    assert runcache.cache_dir() == os.path.join("/somewhere", "run")


def test_image_round_trip_and_rejects():
    from npl.compiler.driver import compile
    from npl.runtime.codegen import load
    source = "struct P:\n    x: int\n\ndef main():\n    print(P(1) == P(1))\n"
    comp = compile(source, "rt.npl")
    image = load(comp.module, sources=comp.sources).image
    back = ProgramImage.loads(image.dumps())
    assert (back.main, back.main_takes_args, back.files, back.sources, back.uses_numpy) == \
        (image.main, image.main_takes_args, image.files, image.sources, False)
    assert back.code == image.code and back.structs[0][:3] == ("S0_P", "P", ("x",))
    for bad in (b"", b"\x01\x02", marshal.dumps((99,)), marshal.dumps("text")):
        with pytest.raises(ValueError):
            ProgramImage.loads(bad)


# ------------------------------------------------------------------ plain-code speed

def test_two_number_min_and_max_are_inline_and_exact(capsys):
    """min/max of two int or float variables compile to a comparison (no
    call) that returns what Python's min/max return, NaN and -0.0 included."""
    from npl.compiler.driver import compile
    from npl.runtime.codegen import load
    from npl.runtime.image import code_names
    source = (
        "def main():\n"
        "    xs: list[float] = [nan, -0.0, 0.0, 1.5, -1.5, -inf, inf]\n"
        "    for a0 in xs:\n"
        "        for b0 in xs:\n"
        "            a = a0\n"
        "            b = b0\n"
        "            print(max(a, b), min(a, b), max(a, 0.0), min(0.0, b))\n"
        "    ns = [3, -2, 7]\n"
        "    for i in ns:\n"
        "        for j in ns:\n"
        "            print(max(i, j), min(i, j), max(i, j + 1))\n")
    comp = compile(source, "minmax.npl")
    program = load(comp.module, sources=comp.sources)
    main_code = program.namespace[program.function_slot("main")].__code__
    program.run_main([])
    out = capsys.readouterr().out
    xs = [float("nan"), -0.0, 0.0, 1.5, -1.5, float("-inf"), float("inf")]
    want = "".join(f"{max(a, b)} {min(a, b)} {max(a, 0.0)} {min(0.0, b)}\n"
                   for a in xs for b in xs)
    want += "".join(f"{max(i, j)} {min(i, j)} {max(i, j + 1)}\n"
                    for i in [3, -2, 7] for j in [3, -2, 7])
    assert out == want
    assert "_min" not in code_names(main_code)     # every min is inline
    assert "_max" in code_names(main_code)         # max(i, j + 1): an expression, a call


def test_running_main_tunes_the_garbage_collector(tmp_path):
    import gc
    from npl.compiler.driver import compile
    from npl.runtime.codegen import load
    from npl.runtime.image import YOUNG_GC_THRESHOLD
    comp = compile("def main():\n    pass\n", "gc.npl")
    program = load(comp.module, sources=comp.sources)
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, before[1], before[2])
        program.run_main([])
        assert gc.get_threshold()[0] == YOUNG_GC_THRESHOLD
        assert gc.get_freeze_count() > 0
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def test_length_tests_in_conditions_are_truth_tests(capsys):
    """`len(x) > 0`, `!= 0`, `== 0` in an if/while/and/or test compile to
    x's truth value (no len call) for str, list, dict, set and tuple; the
    results are those of the comparison."""
    from npl.compiler.driver import compile
    from npl.runtime.codegen import load
    from npl.runtime.image import code_names
    source = (
        "def describe(xs: list[int], s: str, d: dict[str, int], st: set[int],\n"
        "             t: tuple[int, int]) -> str:\n"
        "    out = ''\n"
        "    if len(xs) > 0:\n"
        "        out = out + 'x'\n"
        "    if len(s) == 0:\n"
        "        out = out + 'e'\n"
        "    if len(d) != 0 or len(st) > 0:\n"
        "        out = out + 'd'\n"
        "    while len(s) > 0 and len(t) != 0:\n"
        "        s = s[1:]\n"
        "        out = out + 's'\n"
        "    return out\n\n"
        "def main():\n"
        "    print(describe([], '', {}, set(), (1, 2)))\n"
        "    print(describe([1], 'ab', {'k': 1}, set(), (1, 2)))\n"
        "    print(describe([], 'a', {}, {3}, (1, 2)))\n"
        "    xs: list[int] = []\n"
        "    print(len(xs) > 0, len(xs) == 0)\n")
    comp = compile(source, "len.npl")
    program = load(comp.module, sources=comp.sources)
    program.run_main([])
    assert capsys.readouterr().out == "e\nxdss\nds\nFalse True\n"
    describe = program.namespace[program.function_slot("describe")].__code__
    main = program.namespace[program.function_slot("main")].__code__
    assert "_len" not in code_names(describe) and "_len" in code_names(main)


INLINE = """\
def step(s: int) -> int:
    return (s * 1103515245 + 12345) % 2147483648

def mix(a: int, b: int) -> int:
    return a * a - b // 7 + (a % -3)

def lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t

def between(x: float, lo: float, hi: float) -> bool:
    return lo <= x and x < hi

def inv(x: int) -> int:
    return 100 // x

def main():
    s = 42
    for i in range(5):
        s = step(s)
        n = -s
        print(s, mix(s, n), mix(-5, 3), mix(s, -s))
    big = 10 ** 30
    print(step(big), mix(big, big))
    a = 1.5
    b = -2.0
    t = 0.25
    print(lerp(a, b, t), lerp(a, b, 3.0), between(a, b, t), between(t, b, a))
    z = 0
    print(inv(4))
    print(inv(z))
"""


def test_small_total_functions_are_inlined_without_changing_anything(capsys):
    """A function that is one `return` of an expression that cannot fail is
    compiled into its callers (no call), with the same results; one that can
    fail (100 // x) is still called, so its frame is in the trace; with a
    step limit nothing is inlined (each call counts a step)."""
    from npl.compiler.driver import compile
    from npl.runtime.codegen import compile_module, load
    from npl.runtime.errors import NplRuntimeError
    from npl.runtime.image import code_names
    comp = compile(INLINE, "inline.npl")
    program = load(comp.module, sources=comp.sources)
    with pytest.raises(NplRuntimeError) as info:
        program.run_main([])
    out = capsys.readouterr().out

    def step(s): return (s * 1103515245 + 12345) % 2147483648
    def mix(a, b): return a * a - b // 7 + (a % -3)
    want, s = "", 42
    for _ in range(5):
        s = step(s)
        want += f"{s} {mix(s, -s)} {mix(-5, 3)} {mix(s, -s)}\n"
    big = 10 ** 30
    want += f"{step(big)} {mix(big, big)}\n"
    a, b, t = 1.5, -2.0, 0.25
    want += f"{a + (b - a) * t} {a + (b - a) * 3.0} {b <= a and a < t} {b <= t and t < a}\n25\n"
    assert out == want
    assert info.value.kind == "zero_division"
    assert [f.function for f in info.value.frames] == ["main", "inv"]
    import dis
    main = program.namespace[program.function_slot("main")].__code__
    loads = [i.argval for i in dis.get_instructions(main) if i.opname == "LOAD_GLOBAL"]
    slots = {name: program.function_slot(name) for name in ("step", "mix", "lerp", "between", "inv")}
    assert [loads.count(slots[n]) for n in ("step", "mix", "lerp", "between", "inv")] \
        == [0, 1, 0, 0, 2]                    # mix(s, -s): an argument that is an expression
    instrumented, _ = compile_module(comp.module, instrument=True)
    assert {slots["step"], slots["mix"]} <= code_names(instrumented)
