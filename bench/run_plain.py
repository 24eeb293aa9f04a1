#!/usr/bin/env python3
"""Time the plain (kernel-free) benchmarks: NPL against CPython.

Each benchmark in bench/plain/ is a pair PROG.npl / PROG.py with the same
algorithm and output. This script runs `npl run --frozen PROG.npl [SIZE]`
and `python PROG.py [SIZE]` (the Python running this script, unless
--python says otherwise) several times each, checks that both print the
same output, and prints the best time of each and the ratio NPL / CPython
(target: <= 1.0). NPL runs share one fresh NPL_CACHE_DIR, so the first NPL
run pays for any compilation and later runs may use the cache; the first
run's time is shown as well.

Usage: run_plain.py [--repeat N] [--only NAME ...] [--size NAME=N ...]
                    [--quick] [--baselines-only] [--no-record]
Results are recorded in bench/results/plain-TIMESTAMP.json.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness import (
    BENCH, RunFailed, fmt_ratio, fmt_seconds, find_npl, print_table, ratio, record,
    same_output, time_runs, timing_dict,
)

TARGET = 1.0  # NPL / CPython


@dataclass(frozen=True)
class PlainBenchmark:
    name: str
    stem: str          # bench/plain/STEM.npl and STEM.py
    size: int          # the default problem size, passed as the last argument
    quick_size: int    # a size that runs in well under a second

    def files(self) -> tuple[Path, Path]:
        base = BENCH / "plain" / self.stem
        return base.with_suffix(".npl"), base.with_suffix(".py")


BENCHMARKS = [
    PlainBenchmark("fannkuch-redux", "fannkuch", 10, 7),
    PlainBenchmark("binary-trees", "binary_trees", 16, 8),
    PlainBenchmark("word-count", "word_count", 500_000, 5_000),
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command (best is kept)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    parser.add_argument("--size", action="append", default=[], metavar="NAME=N",
                        help="override a benchmark's problem size")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test, not a measurement")
    parser.add_argument("--baselines-only", action="store_true", help="run only the Python programs")
    parser.add_argument("--python", default=sys.executable, help="the CPython to compare against")
    parser.add_argument("--no-record", action="store_true", help="do not write bench/results/")
    return parser.parse_args(argv)


def chosen_sizes(args: argparse.Namespace) -> dict[str, int]:
    sizes = {b.name: (b.quick_size if args.quick else b.size) for b in BENCHMARKS}
    for item in args.size:
        name, _, value = item.partition("=")
        if name not in sizes or not value.isdigit():
            raise SystemExit(f"--size wants NAME=N with NAME in {sorted(sizes)}")
        sizes[name] = int(value)
    return sizes


def run_benchmark(bench: PlainBenchmark, size: int, args, npl: list[str] | None,
                  cache_env: dict) -> tuple[list[str], dict]:
    """Time one benchmark; a failing NPL run is reported, not raised, so
    that the CPython time is still shown."""
    npl_file, py_file = bench.files()
    cpython = time_runs([args.python, str(py_file), str(size)], args.repeat)
    result = {"name": bench.name, "size": size, "cpython": timing_dict(cpython)}
    row = [bench.name, str(size), "-", "-", fmt_seconds(cpython.best), "-"]
    if npl is None:
        return row + ["baseline only"], result
    try:
        npl_timing = time_runs([*npl, "run", "--frozen", str(npl_file), str(size)],
                               args.repeat, cache_env)
    except RunFailed as exc:
        print(f"{bench.name}: {exc}", file=sys.stderr)
        return row + ["NPL FAILED"], result | {"error": str(exc)}
    mismatch = same_output(cpython, npl_timing)
    if mismatch:
        print(mismatch, file=sys.stderr)
    npl_over_cpython = ratio(npl_timing.best, cpython.best)
    result |= {"npl": timing_dict(npl_timing), "npl_over_cpython": npl_over_cpython,
               "same_output": mismatch is None}
    row[2:4] = [fmt_seconds(npl_timing.times[0]), fmt_seconds(npl_timing.best)]
    row[5] = fmt_ratio(npl_over_cpython, TARGET)
    return row + ["same" if mismatch is None else "DIFFERENT"], result


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    sizes = chosen_sizes(args)
    selected = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    npl = None if args.baselines_only else find_npl()
    rows, results, failed = [], [], False
    with tempfile.TemporaryDirectory(prefix="npl-bench-") as cache:
        cache_env = {"NPL_CACHE_DIR": cache}
        for bench in selected:
            try:
                row, result = run_benchmark(bench, sizes[bench.name], args, npl, cache_env)
            except RunFailed as exc:  # the CPython program itself failed
                print(f"{bench.name}: {exc}", file=sys.stderr)
                row = [bench.name, str(sizes[bench.name]), "-", "-", "-", "-", "FAILED"]
                result = {"name": bench.name, "error": str(exc)}
            failed |= "error" in result or result.get("same_output") is False
            rows.append(row)
            results.append(result)
    print(f"best of {args.repeat}; times in seconds; target NPL/CPython <= {TARGET}")
    print_table(["benchmark", "size", "npl first", "npl best", "cpython", "npl/cpython", "output"], rows)
    if not args.no_record and not args.quick:
        path = record("plain", {"repeat": args.repeat, "python": args.python, "sizes": sizes,
                                "npl": " ".join(npl or [])}, results)
        print(f"recorded in {path.relative_to(BENCH.parent)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
