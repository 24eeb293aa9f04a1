"""Running several verified candidates of one hole side by side (in the
sandbox worker: it runs candidate code), for filling/choice.py.

Takes a job: the program's source, one fills table per candidate (each
passes the hole's checks), the hole's key and the limits. Gives back:

  * `inputs`: the inputs the candidates were run on, shortly written:
    inputs near the hole's examples and new ones of the same types and
    shape, made as the behavioural gaming check makes them
    (filling/gaming.py `probe_inputs`, filling/probes.py);
  * `outputs`: per candidate, its result on each input (its `npl_repr`,
    long ones shortened with a hash of the whole), `error: MESSAGE` for a
    run-time error, or null where a limit stopped it (which decides
    nothing). Inputs run one at a time across all candidates, so within
    the time budget every candidate covers the same inputs;
  * `speed`: per candidate, the seconds (best of REPEATS) and steps its
    calls took on inputs grown to each of SIZES (`grown`), up to the first
    size a limit stopped.

Agreement and speed are measured on the hole's function (for an
expression hole, the function around it).
"""
from __future__ import annotations

import copy
import hashlib
import time
from typing import Any, Optional

from npl.compiler.driver import compile
from npl.lang.types import FLOAT, INT, STR, ListT, OptionalT, TupleT, Type

from .settings import Limits

AGREE_SECONDS = 4.0         # wall time for running every candidate on the inputs
CALL_SECONDS = 1.0          # most one call may take (less when the limits say so)
SPEED_SECONDS = 1.5         # wall time for timing one candidate on grown inputs
SIZES = (8, 64, 512)        # sizes inputs are grown to for timing
BASES = 3                   # generated inputs grown, per size
REPEATS = 2                 # timings of one call; the best counts
SHORT = 60                  # results longer than this are shortened


class NothingToCompare(Exception):
    """The candidates cannot be run side by side (a reason, not a failure)."""


def compare_candidates(job: dict) -> dict:
    """The job's report (see the module docstring); for candidates that
    cannot be compared, a reply with `accepted` false and the reason."""
    from .probes import Unsupported
    try:
        return compared(job)
    except (NothingToCompare, Unsupported) as why:
        return {"accepted": False, "stage": "compare", "passed": [],
                "feedback": f"nothing to compare them on: {why}"}


def compared(job: dict) -> dict:
    limits = Limits(**job["limits"])
    seconds = min(CALL_SECONDS, limits.seconds)
    loaded = [load_candidate(job["source"], job["path"], fills, job["key"], limits, seconds)
              for fills in job["fills"]]
    program, ir_name, module = loaded[0]
    inputs, bases = agreement_inputs(module, program, ir_name)
    if not inputs:
        raise NothingToCompare("no inputs could be made for its parameters")
    outputs = run_all([(p, n) for p, n, _ in loaded], inputs, AGREE_SECONDS)
    types = [p.type for p in module.function(ir_name).params]
    budget = min(SPEED_SECONDS, 6.0 / len(loaded))
    speed = [speed_profile(p, n, types, bases, budget) for p, n, _ in loaded]
    from npl.runtime.values import npl_repr
    return {"accepted": True, "stage": "ok", "feedback": "", "passed": [],
            "inputs": [shorten(npl_repr(args)[1:-1] if len(args) != 1 else npl_repr(args[0]))
                       for args in inputs[:len(outputs[0])]],
            "outputs": outputs, "speed": speed, "sizes": list(SIZES)}


def load_candidate(source: str, path: str, fills: dict, key: str, limits: Limits,
                   seconds: float):
    """(the loaded program, the IR name of the function to run, the IR module)."""
    from npl.runtime.codegen import load
    comp = compile(source, path, fills=fills, strict_fills=True)
    spec = next((h for h in comp.holes if h.key == key), None)
    if spec is None:
        raise LookupError(f"the compared program has no hole with key {key}")
    info = spec.info.function if spec.kind == "function" else spec.enclosing
    if info is None or not info.params:
        raise NothingToCompare("the hole's function takes no arguments")
    program = load(comp.module, sources=comp.sources, step_limit=limits.steps,
                   time_limit=seconds)
    return program, info.ir_name, comp.module


def agreement_inputs(module, program, ir_name: str) -> tuple[list[tuple], list[tuple]]:
    """(inputs near the examples and new ones, the new ones alone): made
    from the example calls `f(args) == value` when there are any, else new
    inputs of the parameter types with no examples to shape them."""
    from .gaming import example_calls, probe_inputs, with_input_makers
    calls = example_calls(module, ir_name)
    examples = []
    if calls:
        extended, makers = with_input_makers(module, calls)
        from npl.runtime.codegen import load
        maker = load(extended, step_limit=1_000_000, time_limit=CALL_SECONDS)
        try:
            examples = [(tuple(maker.call(m)), True) for m in makers]
        except Exception:                 # an example input that cannot be computed again
            examples = []
    probes = probe_inputs(module, program, ir_name, examples)
    from npl.runtime.values import npl_repr
    new = sorted((p.args for p in probes if p.generated), key=lambda a: -len(npl_repr(a)))
    return [p.args for p in probes], new[:BASES]


def run_all(loaded: list[tuple[Any, str]], inputs: list[tuple], seconds: float) -> list[list]:
    """Each candidate's outcome on each input, input by input, until
    `seconds` have passed (every candidate then has the same inputs)."""
    outputs: list[list] = [[] for _ in loaded]
    deadline = time.monotonic() + seconds
    for args in inputs:
        if time.monotonic() > deadline:
            break
        for i, (program, ir_name) in enumerate(loaded):
            outputs[i].append(outcome(program, ir_name, args))
    return outputs


def outcome(program, ir_name: str, args: tuple) -> Optional[str]:
    """The shortened `npl_repr` of the result, `error: ...`, or None (a limit)."""
    from npl.runtime.errors import LIMIT_KINDS, NplRuntimeError
    from npl.runtime.values import npl_repr
    try:
        return shorten(npl_repr(program.call(ir_name, *copy.deepcopy(args))))
    except NplRuntimeError as err:
        return None if err.kind in LIMIT_KINDS else shorten(f"error: {err.message}")
    except Exception:
        return None


def shorten(text: str) -> str:
    if len(text) <= SHORT:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:12]
    return f"{text[:SHORT - 20]}...#{digest}"


# ---------------------------------------------------------------- speed

def speed_profile(program, ir_name: str, types: list[Type], bases: list[tuple],
                  seconds: float) -> dict:
    """{"seconds": [...], "steps": [...]} over SIZES: per size, the summed
    best time (and steps) of the `bases` grown to that size; the lists end
    at the first size a limit or `seconds` stopped."""
    profile: dict[str, list] = {"seconds": [], "steps": []}
    if not bases:
        return profile
    deadline = time.monotonic() + seconds
    for size in SIZES:
        total, steps = 0.0, 0
        for base in bases:
            args = grown(base, types, size)
            best = None
            for _ in range(REPEATS):
                taken = timed(program, ir_name, args)
                if taken is None:
                    return profile
                best = taken if best is None else (min(best[0], taken[0]), taken[1])
            total += best[0]
            steps += best[1]
            if time.monotonic() > deadline:
                return profile
        profile["seconds"].append(round(total, 6))
        profile["steps"].append(steps)
    return profile


def timed(program, ir_name: str, args: tuple) -> Optional[tuple[float, int]]:
    """(seconds, steps) of one call; None when a limit stopped it."""
    from npl.runtime.errors import LIMIT_KINDS, NplRuntimeError
    args = copy.deepcopy(args)
    start = time.perf_counter()
    try:
        program.call(ir_name, *args)
    except NplRuntimeError as err:
        if err.kind in LIMIT_KINDS:
            return None
    except Exception:
        return None
    return time.perf_counter() - start, program.steps_used


def grown(args: tuple, types: list[Type], size: int) -> tuple:
    """`args` with each string and list grown (cycled) to `size` items, and,
    when the function takes no string or list, each int to `size` (of its
    sign): the int is then what the work grows with. Other values as they are."""
    sized = any(sized_type(t) for t in types)
    return tuple(grow(a, t, size, grow_ints=not sized) for a, t in zip(args, types))


def sized_type(t: Type) -> bool:
    return t == STR or isinstance(t, ListT) or (isinstance(t, OptionalT) and sized_type(t.inner))


def grow(value: Any, t: Type, size: int, grow_ints: bool) -> Any:
    if value is None:
        return None
    if isinstance(t, OptionalT):
        return grow(value, t.inner, size, grow_ints)
    if t == STR:
        text = value or "ab"
        return (text * (size // len(text) + 1))[:size]
    if isinstance(t, ListT):
        return [copy.deepcopy(value[i % len(value)]) for i in range(size)] if value else value
    if isinstance(t, TupleT):
        return tuple(grow(v, et, size, grow_ints) for v, et in zip(value, t.elems))
    if t == INT and grow_ints:
        return -size if value < 0 else size
    if t == FLOAT and grow_ints:
        return -float(size) if value < 0 else float(size)
    return value
