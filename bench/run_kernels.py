#!/usr/bin/env python3
"""Time the kernel benchmarks: NPL @kernel code against hand-written Numba
and plain CPython, plus NPL's start-up on a hello program.

Each benchmark in bench/kernels/ is PROG.npl (with @kernel functions),
PROG_numba.py (the same algorithm, @njit(cache=True), parallel=True where
the NPL code uses prange) and PROG.py (plain CPython). For NPL and Numba the
script makes a fresh, empty cache directory (NPL_CACHE_DIR, NUMBA_CACHE_DIR),
times the first run (compile + run) and then the best of --repeat cached
runs, NPL's and Numba's interleaved so that both meet the same machine
load; "compile" is first minus cached. CPython runs --cpython-repeat times.
All three must print the same output. Targets: NPL/Numba <= 1.1 on cached
runs, and `npl run bench/hello.npl` <= 2 x `python -c "print('hello')"`
(startup.py: medians of runs taking turns).

Times are whole-process wall times: at the default sizes (those of the
Computer Language Benchmarks Game style problems) start-up, including
importing Numba, is a large share of a cached run. --large uses sizes where
the kernels run for seconds (CPython is then skipped: it would take many
minutes; --cpython runs it anyway).

Usage: run_kernels.py [--repeat N] [--only NAME ...] [--size NAME=N ...]
                      [--large] [--quick] [--no-cpython | --cpython]
                      [--baselines-only] [--no-record]
Results are recorded in bench/results/kernels-TIMESTAMP.json.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import startup
from harness import (
    BENCH, RunFailed, Timing, find_npl, fmt_ratio, fmt_seconds, print_table, ratio,
    record, same_output, time_runs, timing_dict,
)

KERNEL_TARGET = 1.1   # NPL / Numba, cached runs


@dataclass(frozen=True)
class KernelBenchmark:
    name: str
    stem: str          # bench/kernels/STEM.npl, STEM_numba.py, STEM.py
    size: int          # default problem size, passed as the last argument
    large_size: int    # kernels run for seconds
    quick_size: int    # a smoke test

    def command(self, tool: str, npl: list[str], python: str, size: int) -> list[str]:
        base = BENCH / "kernels" / self.stem
        if tool == "npl":
            return [*npl, "run", "--frozen", str(base.with_suffix(".npl")), str(size)]
        script = base.with_name(self.stem + "_numba.py") if tool == "numba" else base.with_suffix(".py")
        return [python, str(script), str(size)]


BENCHMARKS = [
    KernelBenchmark("n-body", "nbody", 200_000, 20_000_000, 1_000),
    KernelBenchmark("spectral-norm", "spectral_norm", 1_000, 5_000, 100),
    KernelBenchmark("mandelbrot", "mandelbrot", 1_000, 4_000, 100),
    KernelBenchmark("matmul", "matmul", 400, 1_500, 40),
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5,
                        help="cached runs of NPL and Numba, interleaved (best is kept)")
    parser.add_argument("--cpython-repeat", type=int, default=1, help="runs of the CPython programs")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    parser.add_argument("--size", action="append", default=[], metavar="NAME=N",
                        help="override a benchmark's problem size")
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--large", action="store_true", help="sizes where the kernels run for seconds")
    sizes.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test, not a measurement")
    cpython = parser.add_mutually_exclusive_group()
    cpython.add_argument("--no-cpython", action="store_true", help="skip the CPython programs")
    cpython.add_argument("--cpython", action="store_true", help="run CPython even with --large")
    parser.add_argument("--baselines-only", action="store_true", help="run only Numba and CPython")
    parser.add_argument("--python", default=sys.executable, help="the Python for the baselines")
    parser.add_argument("--no-record", action="store_true", help="do not write bench/results/")
    return parser.parse_args(argv)


def chosen_sizes(args: argparse.Namespace) -> dict[str, int]:
    pick = (lambda b: b.quick_size) if args.quick else (lambda b: b.large_size) if args.large \
        else (lambda b: b.size)
    sizes = {b.name: pick(b) for b in BENCHMARKS}
    for item in args.size:
        name, _, value = item.partition("=")
        if name not in sizes or not value.isdigit():
            raise SystemExit(f"--size wants NAME=N with NAME in {sorted(sizes)}")
        sizes[name] = int(value)
    return sizes


def first_and_cached(command: list[str], repeat: int, env: dict) -> tuple[Timing, Timing]:
    """One run against an empty cache, then `repeat` runs that may use it."""
    first = time_runs(command, 1, env)
    cached = time_runs(command, repeat, env)
    if cached.stdout != first.stdout:
        raise RunFailed(f"{' '.join(command)}: a cached run printed something else")
    return first, cached


def compiled_tools(commands: dict[str, list[str]], repeat: int) -> dict[str, tuple[Timing, Timing]]:
    """Time NPL and Numba (tool -> command), each with its caches in a fresh
    temporary directory: a first run each, then `repeat` rounds of one
    cached run each, interleaved so that both see the same machine load.
    A tool that fails is left out (its error raised after the others)."""
    out: dict[str, tuple[Timing, Timing]] = {}
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-kernels-") as tmp:
        envs = {tool: {"NUMBA_CACHE_DIR": str(Path(tmp) / tool / "numba"),
                       "NPL_CACHE_DIR": str(Path(tmp) / tool / "npl")} for tool in commands}
        for tool, command in commands.items():
            try:
                out[tool] = (time_runs(command, 1, envs[tool]), Timing(command=command))
            except RunFailed as exc:
                errors.append(str(exc))
        for _ in range(repeat):
            for tool, (first, cached) in list(out.items()):
                try:
                    run = time_runs(first.command, 1, envs[tool])
                except RunFailed as exc:
                    errors.append(str(exc))
                    del out[tool]
                    continue
                if run.stdout != first.stdout:
                    errors.append(f"{' '.join(first.command)}: a cached run printed something else")
                    del out[tool]
                    continue
                cached.times += run.times
                cached.stdout = run.stdout
    if errors:
        raise PartialFailure(out, errors)
    return out


class PartialFailure(RunFailed):
    def __init__(self, timings: dict, errors: list[str]):
        super().__init__("\n".join(errors))
        self.timings = timings
        self.errors = errors


def run_benchmark(bench: KernelBenchmark, size: int, args, npl: list[str] | None) -> dict:
    """Time the Numba, CPython and NPL programs; failures are recorded."""
    result: dict = {"name": bench.name, "size": size, "errors": []}
    timings: dict[str, Timing] = {}
    tools = ["numba"] + (["npl"] if npl else [])
    commands = {tool: bench.command(tool, npl or [], args.python, size) for tool in tools}
    try:
        compiled = compiled_tools(commands, args.repeat)
    except PartialFailure as exc:
        compiled = exc.timings
        result["errors"] += exc.errors
    for tool, (first, cached) in compiled.items():
        timings[tool] = cached
        result[tool] = {"first": timing_dict(first), "cached": timing_dict(cached),
                        "compile": max(0.0, first.best - cached.best)}
    if run_cpython(args):
        try:
            timings["cpython"] = time_runs(bench.command("cpython", [], args.python, size),
                                           args.cpython_repeat)
            result["cpython"] = timing_dict(timings["cpython"])
        except RunFailed as exc:
            result["errors"].append(str(exc))
    if len(timings) > 1:
        reference, *others = timings.values()
        mismatch = same_output(reference, *others)
        result["same_output"] = mismatch is None
        if mismatch:
            result["errors"].append(mismatch)
    result["npl_over_numba"] = ratio(cached_best(result, "npl"), cached_best(result, "numba"))
    result["npl_over_numba_first"] = ratio(first_best(result, "npl"), first_best(result, "numba"))
    result["cpython_over_npl"] = ratio(cpython_best(result), cached_best(result, "npl"))
    return result


def run_cpython(args) -> bool:
    return not args.no_cpython and (args.cpython or not args.large)


def cached_best(result: dict, tool: str) -> float | None:
    return result[tool]["cached"]["best"] if tool in result else None


def first_best(result: dict, tool: str) -> float | None:
    return result[tool]["first"]["best"] if tool in result else None


def compile_time(result: dict, tool: str) -> float | None:
    return result[tool]["compile"] if tool in result else None


def cpython_best(result: dict) -> float | None:
    return result["cpython"]["best"] if "cpython" in result else None


def output_verdict(result: dict) -> str:
    if result.get("same_output") is False:
        return "DIFFERENT"
    if result["errors"]:
        return "FAILED"
    return "same" if result.get("same_output") else "-"


def time_hello(args, npl: list[str]) -> dict:
    """Start-up: `npl run bench/hello.npl` against `python -c "print('hello')"`
    (startup.py)."""
    return startup.measure(npl, args.python, max(args.repeat, 5))


def report(results: list[dict], hello: dict | None) -> None:
    print(f"times in seconds; cached = best of the runs after the first; "
          f"target NPL/Numba <= {KERNEL_TARGET} (cached)")
    print_table(
        ["benchmark", "size", "npl cached", "numba cached", "cpython", "npl/numba",
         "cpython/npl", "output"],
        [[r["name"], str(r["size"]), fmt_seconds(cached_best(r, "npl")),
          fmt_seconds(cached_best(r, "numba")), fmt_seconds(cpython_best(r)),
          fmt_ratio(r["npl_over_numba"], KERNEL_TARGET), fmt_ratio(r["cpython_over_npl"]),
          output_verdict(r)] for r in results])
    print("\nfirst run, fresh cache (compile = first - cached)")
    print_table(
        ["benchmark", "npl first", "npl compile", "numba first", "numba compile", "npl/numba first"],
        [[r["name"], fmt_seconds(first_best(r, "npl")), fmt_seconds(compile_time(r, "npl")),
          fmt_seconds(first_best(r, "numba")), fmt_seconds(compile_time(r, "numba")),
          fmt_ratio(r["npl_over_numba_first"])] for r in results])
    for r in results:
        for error in r["errors"]:
            print(f"\n{r['name']}: {error}", file=sys.stderr)
    if hello is not None:
        print(f"\n{startup.summary(hello)}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    sizes = chosen_sizes(args)
    npl = None if args.baselines_only else find_npl()
    selected = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    results = [run_benchmark(b, sizes[b.name], args, npl) for b in selected]
    hello = None
    if npl is not None:
        try:
            hello = time_hello(args, npl)
        except RunFailed as exc:
            print(f"hello: {exc}", file=sys.stderr)
    report(results, hello)
    if not args.no_record and not args.quick:
        settings = {"repeat": args.repeat, "cpython_repeat": args.cpython_repeat,
                    "python": args.python, "sizes": sizes, "large": args.large,
                    "npl": " ".join(npl or [])}
        path = record("kernels", settings, results + ([hello] if hello else []))
        print(f"recorded in {path.relative_to(BENCH.parent)}")
    failed = any(r["errors"] for r in results) or (npl is not None and hello is None)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
