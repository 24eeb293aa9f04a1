#!/usr/bin/env python3
"""Compare two `npl` installs (say, main's checkout and a branch's) on cached
runs, by CPU time.

On a shared machine wall times swing by tens of percent with other jobs'
load; the CPU time a process uses (user + system, from the OS) swings far
less, which makes it the better measure of whether a change made NPL's own
work slower. Each program runs once per install to fill its compile cache
(a fresh NPL_CACHE_DIR each), then the two installs take turns; the median
CPU time of each and their ratio are printed.

Usage: compare.py NPL_A NPL_B [--repeat N]
e.g.   compare.py ../main/.venv/bin/npl .venv/bin/npl
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile

from harness import BENCH

PROGRAMS = [("hello", ["hello.npl"], 6),
            ("fannkuch-redux 9", ["plain/fannkuch.npl", "9"], 1),
            ("binary-trees 14", ["plain/binary_trees.npl", "14"], 1),
            ("word count 100000", ["plain/word_count.npl", "100000"], 1),
            ("n-body 50000", ["kernels/nbody.npl", "50000"], 1)]


def cpu_seconds(command: list[str], env: dict) -> float:
    """User + system CPU time of one run of `command` (which must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)}: exit {done.returncode}\n{done.stderr[-800:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def compare(npls: list[str], args: list[str], repeat: int) -> list[float]:
    """Median CPU seconds of cached `npl run ARGS` for each install."""
    times: list[list[float]] = [[] for _ in npls]
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        envs = [dict(os.environ, NPL_CACHE_DIR=folder) for folder in (a, b)]
        commands = [[npl, "run", *args] for npl in npls]
        for command, env in zip(commands, envs):
            cpu_seconds(command, env)                       # compiles and fills the cache
        for _ in range(repeat):
            for i, (command, env) in enumerate(zip(commands, envs)):
                times[i].append(cpu_seconds(command, env))
    return [statistics.median(t) for t in times]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("npl", nargs=2, help="the two `npl` commands, A then B")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each (x6 for hello)")
    opts = parser.parse_args(argv)
    print(f"median CPU seconds of cached runs, taking turns; A = {opts.npl[0]}, B = {opts.npl[1]}")
    print(f"{'program':20} {'A':>9} {'B':>9} {'B / A':>7}")
    for name, args, weight in PROGRAMS:
        a, b = compare(opts.npl, [str(BENCH / args[0]), *args[1:]], opts.repeat * weight)
        print(f"{name:20} {a:9.3f} {b:9.3f} {b / a:7.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
