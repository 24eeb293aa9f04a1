#!/usr/bin/env python3
"""Time NPL's start-up: a cached `npl run bench/hello.npl` against
`python -c "print('hello')"`.

Both commands run as separate processes in the same session, taking turns
(so that a change in the machine's load hits both alike), `--repeat` times
each after one warm-up run of each; the median of each is kept and the
ratio NPL / CPython printed (target: <= 2). NPL gets a fresh NPL_CACHE_DIR:
its first run compiles the program and stores it in the compile cache (its
time is shown as "first"), the timed runs start from that cache
(npl/fast.py). run_kernels.py reports the same measurement.

Usage: startup.py [--repeat N] [--python PATH] [--no-record]
The `npl` timed is $NPL if set (e.g. another checkout's), else the one
beside this Python. Results are recorded in bench/results/startup-TIMESTAMP.json.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile

from harness import (BENCH, RunFailed, find_npl, fmt_ratio, fmt_seconds, print_table, record,
                     run_once)

TARGET = 2.0  # cached npl run / python -c


def measure(npl: list[str], python: str, repeat: int) -> dict:
    """First and cached runs of `npl run bench/hello.npl`, and `python -c`,
    taking turns: every time, the medians and their ratio."""
    hello = [*npl, "run", str(BENCH / "hello.npl")]
    baseline = [python, "-c", "print('hello')"]
    with tempfile.TemporaryDirectory(prefix="npl-startup-") as cache:
        env = {"NPL_CACHE_DIR": cache}
        first, out = run_once(hello, env)
        if out != "hello\n":
            raise RunFailed(f"{' '.join(hello)} printed {out!r}, not 'hello'")
        run_once(baseline)
        times: dict[str, list[float]] = {"npl": [], "python": []}
        for _ in range(repeat):
            times["python"].append(run_once(baseline)[0])
            times["npl"].append(run_once(hello, env)[0])
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    return {"name": "hello", "npl_first": first, "npl": times["npl"], "python": times["python"],
            "npl_median": medians["npl"], "python_median": medians["python"],
            "npl_over_python": medians["npl"] / medians["python"], "repeat": repeat}


def summary(result: dict) -> str:
    """One line: the medians, the first run and the ratio."""
    return (f"start-up: npl run bench/hello.npl {fmt_seconds(result['npl_median'])} s cached "
            f"(first {fmt_seconds(result['npl_first'])} s), python -c "
            f"{fmt_seconds(result['python_median'])} s (medians of {result['repeat']}), ratio "
            f"{fmt_ratio(result['npl_over_python'], TARGET)} (target <= {TARGET})")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed runs of each command")
    parser.add_argument("--python", default=sys.executable, help="the CPython to compare against")
    parser.add_argument("--no-record", action="store_true", help="do not write bench/results/")
    args = parser.parse_args(argv)
    npl = find_npl()
    result = measure(npl, args.python, args.repeat)
    npl_times, python_times = result["npl"], result["python"]
    print(f"median of {args.repeat} runs each, taking turns; times in seconds")
    print_table(["command", "first", "median", "min", "max"],
                [["npl run hello.npl (cached)", fmt_seconds(result["npl_first"]),
                  fmt_seconds(result["npl_median"]), fmt_seconds(min(npl_times)),
                  fmt_seconds(max(npl_times))],
                 ["python -c \"print('hello')\"", "-", fmt_seconds(result["python_median"]),
                  fmt_seconds(min(python_times)), fmt_seconds(max(python_times))]])
    print(summary(result))
    if not args.no_record:
        path = record("startup", {"repeat": args.repeat, "python": args.python,
                                  "npl": " ".join(npl)}, [result])
        print(f"recorded in {path.relative_to(BENCH.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
