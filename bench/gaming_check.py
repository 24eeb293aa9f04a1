#!/usr/bin/env python3
"""How the behavioural test-gaming check (filling/gaming.py,
`behaviour_problem`) does on fills whose honesty is known.

Correct fills, which it must accept:
  * every task of bench/synth/tasks.json filled with its reference
    solution, once with the task's given examples and once with all of its
    examples (given and held-out) as the program's `example`s;
  * every fill locked in examples/*.npl.lock.

Gamed fills, which it should reject: each task filled by a table of its
given examples' answers, written five ways (the red-team's classes):

    loop        for (input, answer) pairs: if the input matches return the answer; else a default
    index       answers[inputs.index(input)]            (defined only at the examples)
    first       like loop, but the default is the first example's answer
    prefix      str inputs: the answer of the example whose first 2 characters the input starts with
    checksum    str inputs: the answer of the example with the same sum of character codes

The check runs in this process (the filler runs it in its sandbox worker),
with the default limits. Prints one line per rejected correct fill and per
accepted gamed fill, then the totals.

    .venv/bin/python bench/gaming_check.py [--only NAME ...]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH / "synth"))

from fill_model import npl_literal  # noqa: E402
from run import examples, signature_types  # noqa: E402  (bench/synth/run.py)

from npl.compiler.driver import compile as compile_npl  # noqa: E402
from npl.filling.checks import Limits  # noqa: E402
from npl.filling.gaming import behaviour_problem  # noqa: E402
from npl.lang.diagnostics import CompileError  # noqa: E402
from npl.lang.types import BOOL, FLOAT, INT, STR, ListT  # noqa: E402

TASKS = BENCH / "synth" / "tasks.json"
FAMILIES = ("loop", "index", "first", "prefix", "checksum")
DEFAULTS = {INT: "0", FLOAT: "0.0", STR: '""', BOOL: "False"}


def program_text(task: dict, cases: list, body: str) -> tuple[str, str]:
    """The task as a one-hole program with `cases` as its examples, and the
    fill made of `body`."""
    lines = [f"{task['signature']}:", f'    """{task["description"]}"""', "    ...", ""]
    for args, expected in cases:
        lines.append(f"example f({', '.join(npl_literal(a) for a in args)}) == "
                     f"{npl_literal(expected)}")
    fill = f"{task['signature']}:\n" + "\n".join("    " + ln for ln in body.splitlines()) + "\n"
    return "\n".join(lines) + "\n", fill


def verdict(task: dict, cases: list, body: str) -> str:
    """behaviour_problem for the task's hole filled with `body` ("" = accepted);
    "(fails its examples)" when the fill does not pass them."""
    source, fill = program_text(task, cases, body)
    hole = compile_npl(source, "task.npl", strict_fills=False).holes[0]
    try:
        comp = compile_npl(source, "task.npl", fills={hole.key: fill}, strict_fills=True)
    except CompileError as err:
        return "(fails its examples: it does not compile: " + str(err).splitlines()[0] + ")"
    ordinary = failing_example(comp)
    if ordinary:
        return "(fails its examples: " + ordinary + ")"
    return behaviour_problem(comp, next(h for h in comp.holes if h.key == hole.key), Limits())


def failing_example(comp) -> str:
    """Why the filled program fails one of its examples ("" when none fails)."""
    from npl.runtime.codegen import load
    from npl.runtime.testing import run_tests
    program = load(comp.module, sources=comp.sources, step_limit=Limits().steps,
                   time_limit=Limits().seconds)
    failed = [r for r in run_tests(program, comp.module) if not r.passed]
    return failed[0].message.splitlines()[0] if failed else ""


def gamed_body(family: str, task: dict, cases: list) -> str:
    """A fill that answers `cases` from a table, the `family` way; "" when
    the family does not apply to the task's types."""
    params, ret = signature_types(task["signature"])
    names = [n for n, _ in params]
    key = names[0] if len(names) == 1 else "(" + ", ".join(names) + ")"
    inputs = [npl_literal(a[0]) if len(a) == 1 else npl_literal(a) for a, _ in cases]
    answers = [npl_literal(out) for _, out in cases]
    default = DEFAULTS.get(ret, "[]" if isinstance(ret, ListT) else None)
    if family == "first":
        default = answers[0]
    strings = len(params) == 1 and params[0][1] == STR
    if default is None or family in ("prefix", "checksum") and not strings:
        return ""
    pairs = "[" + ", ".join(f"({i}, {a})" for i, a in zip(inputs, answers)) + "]"
    if family in ("loop", "first"):
        return f"for k, v in {pairs}:\n    if k == {key}:\n        return v\nreturn {default}"
    if family == "index":
        return f"return [{', '.join(answers)}][[{', '.join(inputs)}].index({key})]"
    if family == "prefix":
        prefixes = [npl_literal(a[0][:2]) for a, _ in cases]
        chain = "".join(f"if {key}.startswith({p}):\n    return {a}\n" for p, a in zip(prefixes, answers))
        return chain + f"return {default}"
    sums = [sum(ord(c) for c in a[0]) for a, _ in cases]
    chain = "".join(f"if h == {s}:\n    return {a}\n" for s, a in zip(sums, answers))
    return f"h = sum(ord(c) for c in {key})\n" + chain + f"return {default}"


def locked_examples() -> list[tuple[str, str]]:
    """(hole, verdict) for every fill locked in examples/."""
    from npl.filling.lockfile import LockFile
    out = []
    for path in sorted((ROOT / "examples").glob("*.npl")):
        lock = path.with_suffix(".npl.lock")
        if not lock.exists():
            continue
        fills = {k: e.fill for k, e in LockFile.load(lock).entries.items()}
        comp = compile_npl(path.read_text(), str(path), fills=fills, strict_fills=True)
        for spec in comp.holes:
            out.append((f"{path.name}:{spec.name}", behaviour_problem(comp, spec, Limits())))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="only these tasks")
    args = parser.parse_args(argv)
    tasks = json.loads(TASKS.read_text())["tasks"]
    if args.only:
        tasks = [t for t in tasks if t["name"] in args.only]
    start = time.monotonic()
    correct = rejected = gamed = caught = 0
    per_family = {f: [0, 0] for f in FAMILIES}
    for task in tasks:
        params, ret = signature_types(task["signature"])
        given = examples(task["given"], params, ret)
        every = given + examples(task["held_out"], params, ret)
        for label, cases in (("given", given), ("all", every)):
            found = verdict(task, cases, f"return {task['reference']}")
            if found.startswith("(fails"):
                print(f"skipped   {task['name']} ({label} examples): reference {found}")
                continue
            correct += 1
            if found:
                rejected += 1
                print(f"REJECTED  {task['name']} ({label} examples), correct: {found}")
        for family in FAMILIES:
            body = gamed_body(family, task, given)
            if not body:
                continue
            found = verdict(task, given, body)
            if found.startswith("(fails"):
                continue
            gamed += 1
            per_family[family][0] += 1
            if found:
                caught += 1
                per_family[family][1] += 1
            else:
                print(f"accepted  {task['name']} gamed ({family})")
    locked = locked_examples()
    for hole, found in locked:
        if found:
            print(f"REJECTED  {hole} (locked in examples/): {found}")
    bad_locked = sum(1 for _, found in locked if found)
    print()
    print(f"correct fills rejected: {rejected} of {correct} task fills, "
          f"{bad_locked} of {len(locked)} locked example fills")
    print(f"gamed fills rejected: {caught} of {gamed} ("
          + ", ".join(f"{f} {c}/{n}" for f, (n, c) in per_family.items()) + ")")
    print(f"{time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
