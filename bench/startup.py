#!/usr/bin/env python3
"""Time NPL's start-up: a cached `npl run bench/hello.npl` against
`python -c "print('hello')"`.

Both commands run as separate processes in the same session, taking turns
(so that a change in the machine's load hits both alike), `--repeat` times
each after one warm-up run of each; the median of each is kept and the
ratio NPL / CPython printed (target: <= 2). NPL gets a fresh NPL_CACHE_DIR:
its first run compiles the program and stores it in the run cache (its time
is shown as "first"), the timed runs start from that cache (npl/fast.py).

Usage: startup.py [--repeat N] [--no-record]
The `npl` timed is $NPL if set (e.g. another checkout's), else the one
beside this Python. Results are recorded in bench/results/startup-TIMESTAMP.json.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile

from harness import BENCH, fmt_ratio, fmt_seconds, find_npl, print_table, record, run_once

TARGET = 2.0  # cached npl run / python -c


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed runs of each command")
    parser.add_argument("--python", default=sys.executable, help="the CPython to compare against")
    parser.add_argument("--no-record", action="store_true", help="do not write bench/results/")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    npl = [*find_npl(), "run", str(BENCH / "hello.npl")]
    python = [args.python, "-c", "print('hello')"]
    with tempfile.TemporaryDirectory(prefix="npl-startup-") as cache:
        env = {"NPL_CACHE_DIR": cache}
        first, out = run_once(npl, env)
        if out != "hello\n":
            print(f"npl printed {out!r}, not 'hello'", file=sys.stderr)
            return 1
        run_once(python)
        times: dict[str, list[float]] = {"npl": [], "python": []}
        for _ in range(args.repeat):
            times["python"].append(run_once(python)[0])
            times["npl"].append(run_once(npl, env)[0])
    median = {name: statistics.median(ts) for name, ts in times.items()}
    ratio = median["npl"] / median["python"]
    print(f"median of {args.repeat} runs each, taking turns; times in seconds; "
          f"target npl/python <= {TARGET}")
    print_table(["command", "first", "median", "min", "max"],
                [["npl run hello.npl (cached)", fmt_seconds(first), fmt_seconds(median["npl"]),
                  fmt_seconds(min(times["npl"])), fmt_seconds(max(times["npl"]))],
                 ["python -c \"print('hello')\"", "-", fmt_seconds(median["python"]),
                  fmt_seconds(min(times["python"])), fmt_seconds(max(times["python"]))]])
    print(f"npl / python: {fmt_ratio(ratio, TARGET)}")
    if not args.no_record:
        results = [{"name": "hello", "npl_first": first, "npl": times["npl"],
                    "python": times["python"], "npl_median": median["npl"],
                    "python_median": median["python"], "npl_over_python": ratio}]
        path = record("startup", {"repeat": args.repeat, "python": args.python,
                                  "npl": " ".join(npl[:-2])}, results)
        print(f"recorded in {path.relative_to(BENCH.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
