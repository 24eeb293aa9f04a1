"""When the JIT compiles a function, and what sits in its namespace slot
until then: the one tiering policy, for a program compiled in this process
and for one run from the compile cache alike.

A loaded program's functions live in namespace slots that generated callers
look up at each call. `Tiering` owns the slots of the functions the JIT may
compile (its *targets*): a kernel's slot holds a first-call wrapper, an
unmarked candidate's a timing wrapper that keeps the ski-rental account,
and a compiled function's the `native_entry` over its machine code. What
compiles is a `Backend`: runtime/jit.py `Jit` when the program's IR is in
memory, runtime/cached_jit.py `CachedJit` for a program run from the compile
cache (machine code from the JIT's disk cache, else the program compiled
again and handed to a `Jit`). The policy, its prices and their measurements
are explained in runtime/jit.py's docstring.

This module imports no compiler module: a cached `npl run` installs these
wrappers before, and usually without, the compiler.
"""
from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional, Protocol

    class Backend(Protocol):
        """What compiles the targets of a `Tiering`."""

        needs_front_end: bool     # compiling needs the program compiled again first

        def in_disk_cache(self, name: str) -> bool:
            """Whether the JIT's disk cache holds `name`'s machine code."""

        def machine_code(self, name: str) -> Optional[Callable]:
            """`name`'s machine code (compiled or loaded), or None: it
            stays interpreted."""

        def entry(self, name: str, native: Callable, interpreted: Callable) -> Callable:
            """What callers call once `name` is compiled (a `native_entry`)."""

# Tiering prices (seconds); runtime/jit.py's docstring gives the measurements.
COMPILE_SECONDS_COLD = 0.2
COMPILE_SECONDS_CACHED = 0.01
NUMBA_STARTUP_SECONDS = 0.5
FRONT_END_SECONDS = 0.4
MIN_CALL_SECONDS = 1e-6

JIT_MODES = ("on", "off", "eager")


def jit_mode() -> str:
    """NPL_JIT: "on" (the default), "off" (also `--no-jit`) or "eager"."""
    mode = os.environ.get("NPL_JIT", "on").lower()
    return mode if mode in JIT_MODES else "on"


class Tier:
    """The ski-rental account of one candidate: interpreted seconds spent,
    calls, and the spending at which `Tiering.consider` looks again."""
    __slots__ = ("spent", "calls", "budget", "priced")

    def __init__(self) -> None:
        self.spent = 0.0
        self.calls = 0
        self.budget = COMPILE_SECONDS_CACHED
        self.priced = False


def compile_price(cached: bool, front_end: bool) -> float:
    """What compiling one function costs now: loading it from the disk
    cache or compiling it cold, plus Numba's start-up while Numba is not
    loaded, plus compiling the program again while its IR is not in memory
    (a run from the compile cache)."""
    price = COMPILE_SECONDS_CACHED if cached else COMPILE_SECONDS_COLD
    if "numba" not in sys.modules:
        price += NUMBA_STARTUP_SECONDS
    if front_end and not cached:
        price += FRONT_END_SECONDS
    return price


class Tiering:
    """The slots of a program's JIT targets (IR name -> namespace slot in
    `slots`), their interpreted functions, and the wrappers in between."""

    def __init__(self, namespace: dict, slots: dict[str, str], backend: Backend,
                 clock: Callable[[], float] = time.perf_counter):
        self.namespace = namespace
        self.slots = slots
        self.backend = backend
        self.clock = clock
        self.interpreted: dict[str, Callable] = {}
        self.tiers: dict[str, Tier] = {}

    def install(self, targets: list[tuple[str, bool]], mode: str) -> None:
        """Take over the slots of `targets` ((IR name, is a kernel)):
        kernels compile at their first call, unmarked candidates once their
        interpreted time repays compiling them; with mode "eager" all
        compile now."""
        for name, _ in targets:
            self.interpreted[name] = self.namespace[self.slots[name]]
        for name, kernel in targets:
            if mode == "eager":
                self.bind(name)
            elif kernel:
                self.install_kernel(name)
            else:
                self.install_tiered(name)

    def bind(self, name: str) -> bool:
        """Compile `name` and bind its slot to the machine code; False if
        it stays interpreted."""
        interpreted = self.interpreted[name]
        native = self.backend.machine_code(name)
        slot = self.slots[name]
        if native is None:
            self.namespace[slot] = interpreted
            return False
        self.namespace[slot] = self.backend.entry(name, native, interpreted)
        return True

    def install_kernel(self, name: str) -> None:
        """Compile on the first call."""
        namespace, slot, bind = self.namespace, self.slots[name], self.bind

        def first_call(*args):
            if namespace.get(slot) is first_call:
                bind(name)
            return namespace[slot](*args)
        first_call.__name__ = getattr(self.interpreted[name], "__name__", name)
        namespace[slot] = first_call

    def install_tiered(self, name: str) -> None:
        """Interpret, timing each call, until compiling pays."""
        namespace, slot, consider = self.namespace, self.slots[name], self.consider
        interpreted = self.interpreted[name]
        tier = self.tiers[name] = Tier()
        clock = self.clock

        def tiering(*args):
            start = clock()
            result = interpreted(*args)
            tier.spent += clock() - start
            tier.calls += 1
            if tier.spent >= tier.budget and namespace.get(slot) is tiering:
                consider(name, tier)
            return result
        tiering.__name__ = getattr(interpreted, "__name__", name)
        namespace[slot] = tiering

    def consider(self, name: str, tier: Tier) -> None:
        """The ski-rental rule: compile once the interpreted calls have
        cost what compiling would; never while calls are cheaper than a call
        into machine code (then look again when the spending has doubled)."""
        if tier.spent < tier.calls * MIN_CALL_SECONDS:
            tier.budget = tier.spent * 2
            return
        if not tier.priced:
            tier.priced = True
            tier.budget = compile_price(self.backend.in_disk_cache(name),
                                        self.backend.needs_front_end)
            if tier.spent < tier.budget:
                return
        self.bind(name)


def native_entry(native: Callable, interpreted: Callable,
                 failed: Callable[[Exception, tuple], Any]) -> Callable:
    """What interpreted callers call once a function is compiled: its
    machine code, with an exception handed to `failed(exc, args)` (which
    turns a failed check into the NPL error, or runs a call whose arguments
    do not fit the compiled signature in the interpreter)."""
    def entry(*args):
        try:
            return native(*args)
        except Exception as exc:
            return failed(exc, args)
    entry.__name__ = getattr(interpreted, "__name__", "entry")
    entry.__wrapped__ = native
    return entry
