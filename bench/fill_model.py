#!/usr/bin/env python3
"""How well a model fills holes through NPL's whole loop: prompt, reply
parsing, verification and repair (filling/model_source.py).

Each task of bench/synth/tasks.json becomes the program

    def f(name: str) -> str:
        \"\"\"the first name\"\"\"
        ...

    example f("Nancy FreeHafer") == "Nancy"        # the task's `given` examples

filled by `--model` (default: the embedded local model) with the library and
the synthesizer turned off, so every fill is the model's. A task is
"filled" when a fill passed verification (every given example) within the
`attempts` replies, and "held-out ok" when that fill also gives the right
value on the task's held-out examples, which neither the model nor the
verifier saw. Tasks whose result is a float are left out (an `example`
compares exactly; the synthesizer benchmark compares floats with a
tolerance).

Variants, each run over the same tasks in this process (the model is
loaded once):

    resample      the default loop: a reply that repeats an earlier one is
                  replaced by a fresh sample of the first request
    no-resample   every reply goes through verification and repair, even a
                  repeated one (the loop before resampling was added)

Prints one line per task and variant, then per variant: tasks filled,
held-out ok, replies (model calls) and seconds. The variants take turns at
going first (a local model reuses the evaluation of a prompt it has just
seen, so the second of two identical first requests is faster); compare
seconds with that in mind, and calls and tasks filled without. Results go to
bench/results/fill-YYYYmmdd-HHMMSS.json.

    .venv/bin/python bench/fill_model.py [--model local/qwen2.5-coder-1.5b]
        [--variants resample no-resample] [--only NAME ...] [--limit N]
        [--attempts 4] [--no-record]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH / "synth"))

from run import examples, signature_types  # noqa: E402  (bench/synth/run.py)

from npl.api import load  # noqa: E402
from npl.filling import model_source  # noqa: E402
from npl.filling.synth.values import same_value  # noqa: E402
from npl.lang.types import Type  # noqa: E402
from npl.project import fill_missing, open_program  # noqa: E402

TASKS = BENCH / "synth" / "tasks.json"
VARIANTS = ("resample", "no-resample")


@dataclass
class Result:
    task: str
    variant: str
    filled: bool
    held_out_ok: bool
    calls: int
    seconds: float
    fill: str = ""
    note: str = ""


def involves_float(t: Type) -> bool:
    return "float" in str(t)


def npl_literal(value) -> str:
    """A Python value written as an NPL literal (bool, int, str, list, dict, tuple, set)."""
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(map(npl_literal, sorted(value))) + "}" if value else "set()"
    if isinstance(value, list):
        return "[" + ", ".join(map(npl_literal, value)) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(map(npl_literal, value)) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{npl_literal(k)}: {npl_literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def program_text(task: dict, given: list) -> str:
    lines = [f"{task['signature']}:", f'    """{task["description"]}"""', "    ...", ""]
    for args, expected in given:
        call = ", ".join(npl_literal(a) for a in args)
        lines.append(f"example f({call}) == {npl_literal(expected)}")
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def variant_of_the_loop(variant: str):
    """no-resample: no reply ever counts as a repeat."""
    if variant == "resample":
        yield
        return
    original, counter = model_source.normalized, iter(range(10 ** 9))
    model_source.normalized = lambda reply: f"{next(counter)}:{reply}"
    try:
        yield
    finally:
        model_source.normalized = original


def run_task(task: dict, variant: str, model: str, attempts: int, folder: Path) -> Result:
    params, ret = signature_types(task["signature"])
    given, held = examples(task["given"], params, ret), examples(task["held_out"], params, ret)
    work = folder / variant / task["name"]
    work.mkdir(parents=True)
    (work / "npl.toml").write_text(f"[fill]\nattempts = {attempts}\nsynth_budget = 0\n"
                                   "held_out = 0\nconcurrency = 1\n")
    path = work / "prog.npl"
    path.write_text(program_text(task, given))
    start = time.perf_counter()
    with variant_of_the_loop(variant):
        _, report = fill_missing(open_program(str(path), strict_fills=False), model=model, quiet=True)
        if report.failures:
            return Result(task["name"], variant, False, False, report.usage.calls,
                          time.perf_counter() - start, note=report.failures[0].reason.splitlines()[-1])
    seconds = time.perf_counter() - start
    fill = report.outcomes[0].fill if report.outcomes else ""
    program = load(str(path))
    wrong = []
    for args, expected in held:
        try:
            actual = program.call("f", *args)
        except Exception as exc:                # an NPL run-time error on an unseen input
            wrong.append(f"f{args!r}: {type(exc).__name__}")
            continue
        if not same_value(actual, expected):
            wrong.append(f"f{args!r} = {actual!r}, expected {expected!r}")
    return Result(task["name"], variant, True, not wrong, report.usage.calls, seconds, fill,
                  "; ".join(wrong))


def summary(results: list[Result], variants: list[str]) -> list[dict]:
    rows = []
    for v in variants:
        mine = [r for r in results if r.variant == v]
        rows.append({"variant": v, "tasks": len(mine), "filled": sum(r.filled for r in mine),
                     "held_out_ok": sum(r.held_out_ok for r in mine),
                     "calls": sum(r.calls for r in mine),
                     "seconds": round(sum(r.seconds for r in mine), 1)})
    return rows


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="local/qwen2.5-coder-1.5b")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--only", nargs="+", metavar="NAME")
    parser.add_argument("--limit", type=int, help="the first N tasks (after --only)")
    parser.add_argument("--attempts", type=int, default=4)
    parser.add_argument("--no-record", action="store_true")
    return parser.parse_args(argv)


def chosen_tasks(args) -> list[dict]:
    tasks = json.loads(TASKS.read_text())["tasks"]
    tasks = [t for t in tasks if not involves_float(signature_types(t["signature"])[1])]
    if args.only:
        tasks = [t for t in tasks if t["name"] in args.only]
    return tasks[:args.limit] if args.limit else tasks


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ["NPL_LIBRARY"] = "off"
    tasks = chosen_tasks(args)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-fill-") as tmp:
        for i, task in enumerate(tasks):
            # alternate which variant goes first: llama.cpp reuses the evaluation
            # of a prompt it has just seen, which makes the second one faster
            for variant in (args.variants if i % 2 == 0 else args.variants[::-1]):
                r = run_task(task, variant, args.model, args.attempts, Path(tmp))
                results.append(r)
                mark = "held-out ok" if r.held_out_ok else ("filled" if r.filled else "FAILED")
                print(f"{r.task:18} {r.variant:12} {mark:12} calls {r.calls}  {r.seconds:5.1f} s  "
                      f"{r.note[:70]}", flush=True)
    rows = summary(results, args.variants)
    print()
    for row in rows:
        print(f"{row['variant']:12} filled {row['filled']}/{row['tasks']}, held-out ok "
              f"{row['held_out_ok']}/{row['tasks']}, {row['calls']} model calls, {row['seconds']} s")
    if not args.no_record:
        out = BENCH / "results" / time.strftime("fill-%Y%m%d-%H%M%S.json", time.gmtime())
        out.write_text(json.dumps({"model": args.model, "attempts": args.attempts,
                                   "machine": {"python": platform.python_version(),
                                               "cpus": os.cpu_count(), "platform": platform.platform()},
                                   "summary": rows, "results": [asdict(r) for r in results]},
                                  indent=1))
        print(f"recorded in {out.relative_to(BENCH.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
