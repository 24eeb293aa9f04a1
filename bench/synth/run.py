"""Benchmark of the example-driven synthesizer (filling/synth/search.py).

Reads tasks.json. Each task has a name, a category (strings, lists, numbers,
dicts), an NPL signature, an English description, examples split into
`given` (the examples a program's author wrote for the hole) and `held_out`
(held back: used only to judge the result), a `reference` solution (for
readers; `--check-data` verifies it on every example) and an `origin`.
Tasks whose origin starts with "SyGuS-Comp PBE-Strings" are ported from the
SyGuS-Comp programming-by-example string track: firstname, lastname,
initials, name-combine, name-combine-2/3/4, dr-name, reverse-name, phone,
phone-1/2/3/4/5/6/9, bikes and univ_1 (without its conditional part); their
examples were re-created in the benchmark's format. Tasks with origin
"npl-lists" are list programs written for this benchmark (map, filter,
fold, index arithmetic, neighbours, sorting).

Each task runs the way `npl fill` runs the synthesizer on a hole with the
given examples: the filler's `held_out` share of them (the last ones; none
of 3, one of 4 or 5) is withheld from the synthesizer and only validates
its candidates, the rest are shown to it, within the budget (CPU seconds
of the search; the candidates' checks are not counted). The accepted
expression is compiled as the NPL program `def f(...) -> T: return EXPR`
by the NPL toolchain and run on the given and the held-back examples:
"solved" means an NPL program that type-checks and passes every given
example, "held-out ok" that it also passes the held-back examples, which
nothing saw. One line per task, then per category and overall the solve
rate, the held-out rate, the median time and the median program size.

    .venv/bin/python bench/synth/run.py [--budget 2.0] [--only NAME ...] [--check-data]
                                        [--no-record]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from npl.api import compile_source
from npl.compiler.driver import compile as compile_npl
from npl.filling.settings import Settings
from npl.filling.synth.search import SynthTask, Validation, synthesize
from npl.filling.synth.values import same_value
from npl.lang.types import (BOOL, FLOAT, INT, DictT, ListT, OptionalT, SetT,
                            TupleT, Type)

TASKS = Path(__file__).with_name("tasks.json")
CATEGORIES = ("strings", "lists", "numbers", "dicts")


@dataclass
class Outcome:
    name: str
    category: str
    shown: int                  # examples the synthesizer saw
    validating: int             # given examples withheld from it, validating its candidates
    solved: bool
    held_out_ok: bool
    seconds: float              # wall-clock time of the search, checks included
    size: Optional[int]
    expr: Optional[str]
    note: str = ""
    rejected: int = 0           # candidates turned down before the answer (or the end)
    cpu_seconds: float = 0.0    # CPU time of the search, checks included (the budget's clock)


def signature_types(signature: str) -> tuple[list[tuple[str, Type]], Type]:
    """Parameter names/types and return type of `def f(...) -> T`, read by
    the NPL front end."""
    comp = compile_npl(f'{signature}:\n    """task"""\n    ...\n', "bench_signature.npl")
    info = comp.program.scopes[comp.path]["f"]
    return list(info.params), info.ret


def typed(value: object, typ: Type) -> object:
    """A JSON value as the Python value of NPL type `typ` (JSON has no
    tuples or sets, and its object keys are strings)."""
    if isinstance(typ, OptionalT):
        return None if value is None else typed(value, typ.inner)
    if isinstance(typ, ListT):
        return [typed(v, typ.elem) for v in value]
    if isinstance(typ, SetT):
        return {typed(v, typ.elem) for v in value}
    if isinstance(typ, TupleT):
        return tuple(typed(v, t) for v, t in zip(value, typ.elems))
    if isinstance(typ, DictT):
        return {_key(k, typ.key): typed(v, typ.value) for k, v in value.items()}
    if typ == FLOAT and isinstance(value, int):
        return float(value)
    return value


def _key(text: str, typ: Type) -> object:
    if typ == INT:
        return int(text)
    if typ == FLOAT:
        return float(text)
    if typ == BOOL:
        return text == "true"
    return text


def examples(raw: list, params: list[tuple[str, Type]], ret: Type) -> list[tuple[tuple, object]]:
    return [(tuple(typed(a, t) for a, (_, t) in zip(args, params)), typed(out, ret))
            for args, out in raw]


def passes(signature: str, expr: str, cases: list[tuple[tuple, object]]) -> tuple[bool, str]:
    """Compile `return EXPR` as NPL and run it on the cases."""
    try:
        program = compile_source(f"{signature}:\n    return {expr}\n", "bench_candidate.npl")
    except Exception as err:                       # a compile error is a finding
        return False, f"NPL rejects it: {str(err).splitlines()[0]}"
    for args, expected in cases:
        try:
            actual = program.call("f", *args)
        except Exception as err:
            return False, f"fails on {args!r}: {str(err).splitlines()[0]}"
        if isinstance(actual, set):
            actual = frozenset(actual)
        if isinstance(expected, set):
            expected = frozenset(expected)
        if not same_value(actual, expected):
            return False, f"on {args!r} gives {actual!r}, expected {expected!r}"
    return True, ""


def split_given(given: list, share: float) -> tuple[list, list]:
    """(shown, validating): the filler's split of a hole's examples
    (filling/filler.py split_examples): the last `share` of them are held
    out of the synthesizer's (and a model's) view and only verify."""
    n_hidden = int(len(given) * share) if len(given) >= 2 else 0
    return given[:len(given) - n_hidden], given[len(given) - n_hidden:]


def run_task(task: dict, budget: float, share: float) -> Outcome:
    params, ret = signature_types(task["signature"])
    given = examples(task["given"], params, ret)
    held = examples(task["held_out"], params, ret)
    shown, validating = split_given(given, share)
    outcome = Outcome(task["name"], task["category"], len(shown), len(validating), False, False,
                      0.0, None, None)
    # The filler's verification, as far as examples go: the candidate compiles
    # as NPL and passes every given example, the withheld ones included.
    validation = Validation(validating, check=lambda expr: passes(task["signature"], expr, given)[0])
    wall, cpu = time.monotonic(), time.thread_time()
    result = synthesize(SynthTask(params, ret, shown, task["description"]), time_budget=budget,
                        validation=validation)
    outcome.seconds = round(time.monotonic() - wall, 3)
    outcome.cpu_seconds = round(time.thread_time() - cpu, 3)
    outcome.rejected = len(validation.rejected)
    if result is None:
        return outcome
    outcome.size, outcome.expr = result.size, result.expr
    outcome.solved, note = passes(task["signature"], result.expr, given)
    if outcome.solved:
        outcome.held_out_ok, note = passes(task["signature"], result.expr, held)
    outcome.note = note
    return outcome


def check_data(tasks: list[dict]) -> int:
    """Verify every reference solution on all of its task's examples."""
    bad = 0
    for task in tasks:
        params, ret = signature_types(task["signature"])
        cases = examples(task["given"] + task["held_out"], params, ret)
        ok, note = passes(task["signature"], task["reference"], cases)
        if not ok:
            bad += 1
            print(f"{task['name']}: reference {task['reference']!r} {note}")
    print(f"{len(tasks) - bad}/{len(tasks)} references pass their examples")
    return 1 if bad else 0


def report(outcomes: list[Outcome], budget: float) -> list[dict]:
    """Print one line per task and the summary table; return its rows."""
    width = max(len(o.name) for o in outcomes)
    for o in outcomes:
        status = ("solved " if o.solved else "FAILED ") + ("held-out ok " if o.held_out_ok
                                                            else ("held-out NO " if o.solved else " " * 12))
        size = f"{o.size:3d}" if o.size is not None else "  -"
        line = f"{o.name:<{width}}  {status} {o.cpu_seconds:5.2f}s  size {size}  {o.expr or ''}"
        if o.rejected:
            line += f"   ({o.rejected} turned down first)"
        print(line + (f"   [{o.note}]" if o.note else ""))
    rows = [summary(name, [o for o in outcomes if o.category == name])
            for name in CATEGORIES if any(o.category == name for o in outcomes)]
    rows.append(summary("all", outcomes))
    print()
    print(f"budget {budget:g} CPU s per task; held-out ok: solved and passing the held-back "
          f"examples; median seconds of all tasks, wall and CPU")
    print(f"{'category':<9} {'tasks':>5} {'solved':>13} {'held-out ok':>13} "
          f"{'wall s':>7} {'CPU s':>6} {'size':>5}")
    for r in rows:
        print(f"{r['category']:<9} {r['tasks']:>5} {r['solved']:>5} ({r['solved_pct']:3.0f}%) "
              f"{r['held_out_ok']:>5} ({r['held_out_ok_pct']:3.0f}%) {r['median_seconds']:>7.2f} "
              f"{r['median_cpu_seconds']:>6.2f} "
              f"{r['median_size'] if r['median_size'] is not None else '-':>5}")
    return rows


def summary(category: str, outcomes: list[Outcome]) -> dict:
    solved = [o for o in outcomes if o.solved]
    n = len(outcomes)
    return {"category": category, "tasks": n, "solved": len(solved),
            "solved_pct": round(100 * len(solved) / n, 1),
            "held_out_ok": sum(o.held_out_ok for o in solved),
            "held_out_ok_pct": round(100 * sum(o.held_out_ok for o in solved) / n, 1),
            "median_seconds": round(statistics.median(o.seconds for o in outcomes), 3),
            "median_cpu_seconds": round(statistics.median(o.cpu_seconds for o in outcomes), 3),
            "median_size": statistics.median(o.size for o in solved) if solved else None}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=2.0, help="CPU seconds per task")
    parser.add_argument("--only", nargs="*", help="run only these tasks")
    parser.add_argument("--check-data", action="store_true",
                        help="verify the reference solutions instead of synthesizing")
    parser.add_argument("--no-record", action="store_true",
                        help="do not write bench/results/synth-*.json")
    args = parser.parse_args(argv)
    tasks = json.loads(TASKS.read_text())["tasks"]
    if args.only:
        unknown = set(args.only) - {t["name"] for t in tasks}
        if unknown:
            parser.error(f"unknown task(s): {', '.join(sorted(unknown))}")
        tasks = [t for t in tasks if t["name"] in args.only]
    if args.check_data:
        return check_data(tasks)
    share = Settings().held_out
    outcomes = []
    for task in tasks:
        outcomes.append(run_task(task, args.budget, share))
        o = outcomes[-1]
        print(f"  {o.name}: {'solved' if o.solved else 'failed'} in {o.cpu_seconds:.2f} CPU s",
              file=sys.stderr, flush=True)
    rows = report(outcomes, args.budget)
    if not args.no_record and not args.only:
        sys.path.insert(0, str(TASKS.parent.parent))
        from harness import record                      # bench/harness.py
        out = record("synth", {"budget": args.budget, "held_out_share": share},
                     [asdict(o) for o in outcomes] + [{"summary": rows}])
        print(f"recorded in {out.relative_to(TASKS.parent.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
