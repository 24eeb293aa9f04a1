"""The JIT's one tiering policy (runtime/tiering.py): when a function is
compiled, for a program compiled in this process and for one run from the
compile cache (runtime/cached_jit.py).

The policy is checked on a fake clock (each interpreted call costs a fixed
time) and a fake backend, so the decisions are exact and no test depends
on how fast the machine is; then both real backends are checked to bind the
same machine code.
"""
from __future__ import annotations

import sys

import pytest

from npl.runtime import tiering
from npl.runtime.tiering import Tiering, compile_price, native_entry

MS = 1 / 1024                      # an exact binary fraction: no rounding in the sums


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeBackend:
    def __init__(self, cached: bool = False, needs_front_end: bool = False):
        self.cached = cached
        self.needs_front_end = needs_front_end
        self.asked: list[str] = []
        self.compiled: list[str] = []

    def in_disk_cache(self, name: str) -> bool:
        self.asked.append(name)
        return self.cached

    def machine_code(self, name: str):
        self.compiled.append(name)
        return lambda x: ("native", x)

    def entry(self, name, native, interpreted):
        return native_entry(native, interpreted, lambda exc, args: interpreted(*args))


@pytest.fixture
def prices(monkeypatch):
    """Round prices, and Numba counted as loaded (its price is checked apart)."""
    monkeypatch.setattr(tiering, "COMPILE_SECONDS_CACHED", 16 * MS)
    monkeypatch.setattr(tiering, "COMPILE_SECONDS_COLD", 256 * MS)
    monkeypatch.setattr(tiering, "FRONT_END_SECONDS", 128 * MS)
    monkeypatch.setitem(sys.modules, "numba", sys.modules.get("numba", object()))


def tiered(backend, cost: float, kernel: bool = False):
    """A one-function namespace whose interpreted `f` costs `cost` seconds
    on the fake clock, its slot taken over by a Tiering."""
    clock = Clock()

    def f(x):
        clock.now += cost
        return ("interpreted", x)
    namespace = {"f1_f": f}
    slots = Tiering(namespace, {"f": "f1_f"}, backend, clock)
    slots.install([("f", kernel)], "on")
    return namespace, slots


def calls_until_compiled(namespace, backend, limit: int = 100_000) -> int:
    for n in range(1, limit + 1):
        assert namespace["f1_f"](n) == ("interpreted", n)
        if backend.compiled:
            assert namespace["f1_f"](0) == ("native", 0)
            return n
    return 0


@pytest.mark.parametrize("cached, front_end, calls", [
    (False, False, 256),            # cold: COMPILE_SECONDS_COLD of interpreted calls
    (True, False, 16),              # in the disk cache: COMPILE_SECONDS_CACHED
    (False, True, 256 + 128),       # cold from the compile cache: the front end too
    (True, True, 16),               # in the disk cache: no front end needed
])
def test_a_function_is_compiled_once_its_calls_cost_what_compiling_would(
        prices, cached, front_end, calls):
    backend = FakeBackend(cached, front_end)
    namespace, _ = tiered(backend, MS)
    assert calls_until_compiled(namespace, backend) == calls
    assert backend.asked == ["f"] and backend.compiled == ["f"]      # priced once, compiled once


def test_calls_cheaper_than_a_call_into_machine_code_are_never_compiled(prices):
    backend = FakeBackend()
    namespace, slots = tiered(backend, tiering.MIN_CALL_SECONDS / 2)
    assert calls_until_compiled(namespace, backend, limit=200_000) == 0
    assert backend.asked == [] and slots.tiers["f"].budget > 16 * MS


def test_kernels_compile_at_their_first_call_and_eager_at_install(prices):
    backend = FakeBackend()
    namespace, _ = tiered(backend, MS, kernel=True)
    assert backend.compiled == []
    assert namespace["f1_f"](3) == ("native", 3) and backend.compiled == ["f"]
    eager = FakeBackend()
    slots = Tiering({"f1_f": lambda x: x}, {"f": "f1_f"}, eager)
    slots.install([("f", False)], "eager")
    assert eager.compiled == ["f"] and slots.namespace["f1_f"](1) == ("native", 1)


def test_a_function_that_cannot_be_compiled_stays_interpreted(prices):
    backend = FakeBackend(cached=True)
    backend.machine_code = lambda name: backend.compiled.append(name)      # None: not compiled
    namespace, slots = tiered(backend, MS)
    for n in range(16):
        assert namespace["f1_f"](n) == ("interpreted", n)
    assert backend.compiled == ["f"] and namespace["f1_f"] is slots.interpreted["f"]


def test_the_price_of_numba_and_the_front_end(monkeypatch):
    monkeypatch.delitem(sys.modules, "numba", raising=False)
    cold = tiering.COMPILE_SECONDS_COLD + tiering.NUMBA_STARTUP_SECONDS
    assert compile_price(False, False) == cold
    assert compile_price(False, True) == cold + tiering.FRONT_END_SECONDS
    assert compile_price(True, True) == \
        tiering.COMPILE_SECONDS_CACHED + tiering.NUMBA_STARTUP_SECONDS
    monkeypatch.setitem(sys.modules, "numba", object())
    assert compile_price(True, False) == tiering.COMPILE_SECONDS_CACHED


def test_native_entry_hands_failures_over():
    def native(x):
        if x < 0:
            raise ValueError("negative")
        return x * 2

    def interpreted(x):
        return x * 2
    failures = []
    entry = native_entry(native, interpreted, lambda exc, args: failures.append((exc, args)) or -1)
    assert entry(2) == 4 and entry(-1) == -1
    assert str(failures[0][0]) == "negative" and failures[0][1] == (-1,)
    assert entry.__wrapped__ is native and entry.__name__ == "interpreted"


# Not the spin of tests/test_fastpath.py: its generated module would be in
# sys.modules already, with its files in another test's cache folder.
SPIN = """\
def spin(n: int) -> int:
    s = 7
    for i in range(n):
        s = (s * 69069 + 1) % 4294967296
    return s

def main():
    print(spin(10))
"""


def test_both_backends_bind_the_same_machine_code(tmp_path, monkeypatch):
    """The compiling path (runtime/jit.py) compiles a hot spin and files it
    under its index key; a run from the compile cache (runtime/cached_jit.py)
    with the keys the entry stores binds that machine code by the same rule,
    without compiling the program again."""
    from npl.compiler.driver import compile
    from npl.runtime.cached_jit import attach, describe
    from npl.runtime.image import Runner
    from npl.runtime.loader import load_compilation
    monkeypatch.setattr(tiering, "COMPILE_SECONDS_CACHED", 0.0005)
    monkeypatch.setattr(tiering, "COMPILE_SECONDS_COLD", 0.0005)
    monkeypatch.setattr(tiering, "NUMBA_STARTUP_SECONDS", 0.0)
    monkeypatch.setenv("NPL_JIT", "on")
    comp = compile(SPIN, str(tmp_path / "spin.npl"))
    program = load_compilation(comp)
    targets, keys = describe(program, comp)
    assert targets == [("spin", False)] and [name for name, _ in keys[1]] == ["spin"]
    jit = program.jit
    slot = program.function_slot("spin")
    for _ in range(50):
        assert program.namespace[slot](20_000) == program.jit.tiering.interpreted["spin"](20_000)
    assert "spin" in jit.native                              # compiled, and filed in the disk cache

    runner = Runner(program.image)
    runner.initialise()
    cached = attach(runner, targets, keys, recompile=lambda: pytest.fail("compiled again"))
    interpreted = cached.interpreted["spin"]
    for _ in range(50):
        assert runner.namespace[slot](20_000) == interpreted(20_000)
    bound = runner.namespace[slot]
    assert bound.__wrapped__ is jit.native["spin"]           # the very same dispatcher
    assert not cached.backend.upgraded
