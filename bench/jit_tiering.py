#!/usr/bin/env python3
"""The measurements behind runtime/jit.py's tiering prices.

For a few representative eligible functions: what compiling costs (from
scratch, and loading from the disk cache; for a run from the compile cache,
compiling the program again first), and what one call costs
interpreted and compiled (through the entry interpreted code calls), at a
few problem sizes. The break-even number of calls is compile cost /
(interpreted - compiled per-call time).

Usage: python bench/jit_tiering.py [--repeat N]
Each compile measurement runs in a fresh process with its own cache folder
(the first compile of a process also pays Numba's own warm-up, shown
separately).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

PROGRAM = '''
def poly(x: float) -> float:
    return x * x * 0.5 + x * 3.0 - 1.0

def count(n: int) -> int:
    c = 0
    for i in range(n):
        if i % 3 == 0:
            c += i
    return c

def norm(a: array[float]) -> float:
    s = 0.0
    for v in a:
        s += v * v
    return sqrt(s)

def main():
    print(poly(1.0), count(10), norm(zeros(3)))
'''

CALLS = {"poly": [("x", "1.5")], "count": [("n=10", "10"), ("n=1000", "1000"), ("n=100000", "100000")],
         "norm": [("len 10", "np.ones(10)"), ("len 1000", "np.ones(1000)"), ("len 100000", "np.ones(100000)")]}

COMPILE = '''
import json, time, sys
import numba                                  # not part of the compile time
import npl.api as api
from npl.runtime import jit
prog = api.compile_source({program!r}, "tier.npl")
j = prog._runtime.jit
out = {{}}
for name in {names!r}:
    t = time.perf_counter()
    assert j.compile(j.by_name[name]) is not None
    out[name] = time.perf_counter() - t
print(json.dumps(out))
'''

STARTUP = '''
import json, time
t = time.perf_counter()
import numba
t1 = time.perf_counter()
from npl.runtime import numba_rt
t2 = time.perf_counter()
print(json.dumps({"import_numba": t1 - t, "import_numba_rt": t2 - t1}))
'''

# What a run from the compile cache does before it can compile a function
# cold (runtime/cached_jit.py upgrade): import the front end, compile the
# program again, put a Program and a Jit over the running namespace.
FRONT_END = '''
import json, time
t0 = time.perf_counter()
from npl.project import open_program
from npl.runtime.codegen import adopt, load
from npl.runtime.jit import Jit
comp = open_program({path!r}).comp
t1 = time.perf_counter()
loaded = load(comp.module, sources=comp.sources)          # the cached run's namespace: not counted
t2 = time.perf_counter()
Jit(adopt(comp.module, loaded.image, loaded.namespace, {{}}), comp)
t3 = time.perf_counter()
print(json.dumps({{"front_end": (t1 - t0) + (t3 - t2)}}))
'''

PER_CALL = '''
import json, os, time, numpy as np
import npl.api as api
os.environ["NPL_JIT"] = "off"
interp = api.compile_source({program!r}, "tier.npl")
os.environ["NPL_JIT"] = "eager"
native = api.compile_source({program!r}, "tier.npl")
def per_call(prog, name, arg, budget=0.3):
    fn = prog._runtime.namespace[prog._runtime.function_slot(name)]
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < budget:
        for _ in range(10):
            fn(arg)
        calls += 10
    best = float("inf")
    for _ in range({repeat}):
        t = time.perf_counter()
        for _ in range(calls):
            fn(arg)
        best = min(best, (time.perf_counter() - t) / calls)
    return best
out = []
for name, cases in {calls!r}.items():
    for label, expr in cases:
        arg = eval(expr)
        out.append([name, label, per_call(interp, name, arg), per_call(native, name, arg)])
print(json.dumps(out))
'''


def python(code: str, cache: str) -> str:
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         env={**os.environ, "NPL_CACHE_DIR": cache}, timeout=900)
    if run.returncode != 0:
        raise SystemExit(run.stderr)
    return run.stdout.strip().splitlines()[-1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args(argv)
    names = list(CALLS)
    cold: dict[str, list[float]] = {n: [] for n in names}
    first: list[float] = []
    startup: list[dict] = []
    front_end: list[float] = []
    warm: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(opts.repeat):
        with tempfile.TemporaryDirectory() as cache:
            # the first function compiled in a process pays Numba's warm-up
            first.append(json.loads(python(COMPILE.format(program=PROGRAM, names=["poly"]), cache))["poly"])
        for name in names:
            other = next(n for n in names if n != name)          # absorbs the warm-up
            with tempfile.TemporaryDirectory() as cache:
                cold[name].append(json.loads(python(COMPILE.format(program=PROGRAM, names=[other, name]),
                                                    cache))[name])
                warm[name].append(json.loads(python(COMPILE.format(program=PROGRAM, names=[other, name]),
                                                    cache))[name])
            with tempfile.TemporaryDirectory() as cache:             # Numba's one-time costs
                startup.append(json.loads(python(STARTUP, cache)))
                path = os.path.join(cache, "tier.npl")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(PROGRAM)
                front_end.append(json.loads(python(FRONT_END.format(path=path), cache))["front_end"])
    with tempfile.TemporaryDirectory() as cache:
        rows = json.loads(python(PER_CALL.format(program=PROGRAM, calls=CALLS, repeat=opts.repeat), cache))
    print(f"import numba: {min(d['import_numba'] for d in startup):.3f} s, "
          f"import numba_rt: {min(d['import_numba_rt'] for d in startup):.3f} s, "
          f"first compile in a process (Numba warm-up included): {min(first):.3f} s")
    print(f"compiling the program again (a cached run's front end): {min(front_end):.3f} s")
    print(f"{'function':10} {'compile cold s':>15} {'load cached s':>14}   (after the process's first)")
    for name in names:
        print(f"{name:10} {min(cold[name]):>15.3f} {min(warm[name]):>14.4f}")
    print(f"\n{'function':10} {'case':12} {'interp us':>11} {'native us':>11} {'calls to repay cold':>20}")
    for name, label, ti, tn in rows:
        saving = ti - tn
        repay = f"{min(cold[name]) / saving:,.0f}" if saving > 0 else "never"
        print(f"{name:10} {label:12} {ti * 1e6:>11.2f} {tn * 1e6:>11.2f} {repay:>20}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
