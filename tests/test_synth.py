"""Tests of the example-driven synthesizer (filling/synth/)."""
from __future__ import annotations

import ast
import math
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npl.filling.synth.concepts import named_concepts
from npl.filling.synth.search import ExampleError, SynthTask, Validation, synthesize
from npl.filling.synth.ops import P_ATOM, P_UNARY, literal, str_literal
from npl.lang.types import BOOL, FLOAT, INT, STR, ArrayT, ListT, OptionalT, TupleT

S = [("s", STR)]
XS = [("xs", ListT(INT))]
WORDS = [("words", ListT(STR))]

# name -> (params, return type, examples, description, smallest program)
CASES = {
    "upper": (S, STR, [("hello",), ("Abc d",)], ["HELLO", "ABC D"], "", "s.upper()"),
    "reverse": (S, STR, [("hello",), ("ab",)], ["olleh", "ba"], "", "s[::-1]"),
    "length": (XS, INT, [([1, 2, 3],), ([],)], [3, 0], "", "len(xs)"),
    "double-sum": (XS, INT, [([1, 2, 3],), ([5],), ([],)], [12, 10, 0], "", "sum(xs) * 2"),
    "positives": (XS, ListT(INT), [([1, -2, 3],), ([-5, 0, 7],)], [[1, 3], [7]], "",
                  "[x for x in xs if x > 0]"),
    "reverse-words": (S, STR, [("the quick fox",), ("a b",)], ["fox quick the", "b a"], "",
                      '" ".join(reversed(s.split()))'),
    "sum-squares": (XS, INT, [([1, 2, 3],), ([5],)], [14, 25], "", "sum(x * x for x in xs)"),
    "email-domain": (S, STR, [("john@example.com",), ("a@b.org",)], ["example.com", "b.org"], "",
                     's.split("@")[1]'),
    "sort-desc": (XS, ListT(INT), [([3, 1, 2],), ([5, 9],)], [[3, 2, 1], [9, 5]], "",
                  "sorted(xs, reverse=True)"),
    "distinct": (XS, ListT(INT), [([3, 1, 3],), ([2, 2],), ([4, 1, 9],)], [[1, 3], [2], [1, 4, 9]],
                 "", "sorted(set(xs))"),
    "mean": ([("xs", ListT(FLOAT))], FLOAT, [([1.0, 2.0],), ([3.0],)], [1.5, 3.0], "",
             "sum(xs) / len(xs)"),
    "longest": (WORDS, STR, [(["bb", "a", "ccc"],), (["zz", "yyyy", "x"],),
                             (["hello", "hi", "abcdefg"],), (["q", "pp"],)],
                ["ccc", "yyyy", "abcdefg", "pp"], "", "max(words, key=lambda word: len(word))"),
    "lengths": (WORDS, ListT(INT), [(["ab", "c"],), (["xyz"],)], [[2, 1], [3]], "",
                "[len(word) for word in words]"),
    "sum-then-double": ([("a", INT), ("b", INT)], INT, [(1, 2), (5, -1), (0, 4)], [6, 8, 8], "",
                        "(a + b) * 2"),
    "digit-sum": ([("n", INT)], INT, [(123,), (7,), (4005,)], [6, 7, 9], "",
                  "sum(int(c) for c in str(n))"),
}


def make_task(case: str) -> tuple[SynthTask, str]:
    params, ret, inputs, outputs, description, expected = CASES[case]
    return SynthTask(params, ret, list(zip(inputs, outputs)), description), expected


def python_value(expr: str, task: SynthTask, args: tuple):
    """Evaluate the expression independently of the synthesizer: NPL's
    semantics are Python's for everything it prints."""
    scope = {name: value for (name, _), value in zip(task.params, args)}
    return eval(expr, {"sqrt": math.sqrt, **scope})


def assert_consistent(expr: str, task: SynthTask) -> None:
    for args, expected in task.examples:
        actual = python_value(expr, task, args)
        assert actual == expected and type(actual) is type(expected) or (
            isinstance(expected, float) and math.isclose(actual, expected)), (expr, args)


@pytest.mark.parametrize("case", sorted(CASES))
def test_finds_the_smallest_program(case):
    task, expected = make_task(case)
    result = synthesize(task, time_budget=5.0)
    assert result is not None, case
    assert result.expr == expected
    assert_consistent(result.expr, task)
    assert ast.parse(result.expr, mode="eval")
    assert result.explored > 0 and result.seconds < 5.0


def test_reports_the_size_of_the_program():
    task, _ = make_task("double-sum")
    assert synthesize(task).size == 4            # call, xs, `*`, 2


def test_prefers_the_smallest_consistent_program():
    one = SynthTask([("x", INT)], INT, [((2,), 4)])
    two = SynthTask([("x", INT)], INT, [((2,), 4), ((3,), 9)])
    loose, tight = synthesize(one), synthesize(two)
    assert loose.size <= tight.size == 3
    assert tight.expr == "x * x"
    assert_consistent(loose.expr, one)


def test_uses_constants_from_the_description():
    task = SynthTask([("x", INT)], INT, [((1,), 18), ((5,), 22), ((-3,), 14)],
                     "add 17 to x")
    assert synthesize(task).expr == "x + 17"
    count = SynthTask(S, INT, [(("abcab",), 2), (("xyz",), 0), (("aab",), 1)],
                      "how many times 'ab' occurs in s")
    assert synthesize(count).expr == 's.count("ab")'


def test_uses_separators_seen_in_the_outputs():
    task = SynthTask([("first", STR), ("last", STR)], STR,
                     [(("Nancy", "FreeHafer"), "FreeHafer, Nancy"), (("Jan", "Kotas"), "Kotas, Jan")])
    assert synthesize(task).expr == 'last + ", " + first'


def test_conditional_from_described_branches():
    task = SynthTask([("n", INT)], STR, [((3,), "pos"), ((-2,), "neg"), ((7,), "pos"), ((-9,), "neg")],
                     'say "pos" or "neg"')
    result = synthesize(task, time_budget=5.0)
    assert result.expr == '"pos" if n > 0 else "neg"'


def test_gives_up_quietly_when_the_budget_runs_out():
    noise = [((s,), n) for s, n in [("q", 17), ("zz", -4), ("abc", 1000), ("k", 3), ("mm", 8)]]
    started = time.monotonic()
    assert synthesize(SynthTask(S, INT, noise), time_budget=0.3) is None
    assert time.monotonic() - started < 1.5


def test_max_size_bounds_the_search():
    task, _ = make_task("sum-squares")            # needs size 6
    assert synthesize(task, max_size=4) is None
    assert synthesize(task, max_size=6).size == 6


def test_same_task_same_program():
    task, _ = make_task("reverse-words")
    assert synthesize(task).expr == synthesize(task).expr


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.lists(st.integers(-5, 5), max_size=4), st.integers(-20, 20)),
                min_size=2, max_size=4, unique_by=lambda p: tuple(p[0])))
def test_never_returns_a_program_inconsistent_with_an_example(pairs):
    task = SynthTask(XS, INT, [((xs,), out) for xs, out in pairs])
    result = synthesize(task, time_budget=0.3)
    if result is not None:
        assert_consistent(result.expr, task)


def test_rejects_examples_that_do_not_fit_the_signature():
    with pytest.raises(ExampleError, match="example 2: 2 argument"):
        synthesize(SynthTask(S, STR, [(("a",), "A"), (("a", "b"), "A")]))
    with pytest.raises(ExampleError, match="argument 'n'.*True.*int"):
        synthesize(SynthTask([("n", INT)], INT, [((True,), 1)]))
    with pytest.raises(ExampleError, match="expected output.*'x'.*list\\[int\\]"):
        synthesize(SynthTask(XS, ListT(INT), [(([1],), "x")]))


def test_unsupported_signatures_give_none():
    assert synthesize(SynthTask([("a", ArrayT(FLOAT))], FLOAT, [(([1.0],), 1.0)])) is None
    assert synthesize(SynthTask(S, STR, [])) is None


def test_ints_widen_to_float_outputs():
    task = SynthTask([("x", INT)], FLOAT, [((2,), 3.0), ((5,), 6.0)])
    assert synthesize(task).expr == "x + 1"


def test_optional_and_tuple_returns():
    pair = SynthTask([("a", INT), ("b", INT)], TupleT((INT, INT)),
                     [((7, 2), (3, 1)), ((9, 3), (3, 0)), ((5, 4), (1, 1))])
    assert synthesize(pair).expr == "(a // b, a % b)"
    maybe = SynthTask([("x", INT)], OptionalT(INT), [((3,), 3), ((-1,), None), ((5,), 5)],
                      "x if positive")
    result = synthesize(maybe, time_budget=5.0)
    assert result is not None
    assert_consistent(result.expr, maybe)


def test_bools_are_never_numbers():
    # `sum(x > 0 for x in xs)` would be smaller, but is a type error in NPL
    task = SynthTask(XS, INT, [(([1, -2, 3],), 2), (([0],), 0), (([-3, -1, 5, 6, 7],), 3),
                               (([4, 9],), 2), (([-1, -2],), 0), (([10, 20, 30, 40],), 4)])
    assert synthesize(task, time_budget=5.0).expr == "len([x for x in xs if x > 0])"


def test_literals_print_as_npl_source():
    assert str_literal("a b") == '"a b"'
    assert str_literal('say "hi"') == "'say \"hi\"'"
    assert str_literal("tab\there") == '"tab\\there"'
    assert literal(-1) == ("-1", P_UNARY) and literal(2.5) == ("2.5", P_ATOM)


@pytest.mark.parametrize("case", ["positives", "sum-squares", "longest", "digit-sum", "mean",
                                  "sum-then-double"])
def test_programs_compile_and_run_as_npl(case):
    from npl.api import compile_source
    task, _ = make_task(case)
    expr = synthesize(task, time_budget=5.0).expr
    params = ", ".join(f"{name}: {t}" for name, t in task.params)
    program = compile_source(f"def f({params}) -> {task.ret}:\n    return {expr}\n",
                             "synth_test.npl")
    for args, expected in task.examples:
        assert program.call("f", *args) == expected


# ------------------------------------------------- searching on past a rejection

EVENS_SHOWN = [(([1, 2, 3, 4],), [2, 4]), (([5, 6, 7, 8],), [6, 8]), (([7],), [])]
EVENS_WITHHELD = [(([2, 9, 4],), [2, 4])]


def test_searches_on_past_a_candidate_that_fails_a_withheld_example():
    """`xs[1::2]`-like programs fit the shown examples first; the withheld
    example turns them down and the search goes on to one that fits both
    (without any description to steer it)."""
    task = SynthTask(XS, ListT(INT), EVENS_SHOWN)
    first = synthesize(task)
    assert python_value(first.expr, task, EVENS_WITHHELD[0][0]) != [2, 4]
    validation = Validation(EVENS_WITHHELD)
    result = synthesize(task, validation=validation, time_budget=5.0)
    assert result is not None and result.expr != first.expr
    assert validation.rejected[0] == first.expr and result.rejected == len(validation.rejected)
    everything = SynthTask(XS, ListT(INT), EVENS_SHOWN + EVENS_WITHHELD)
    assert_consistent(result.expr, everything)
    assert python_value(result.expr, task, ([10, 11, 12, 13],)) == [10, 12]


def test_withheld_examples_never_shape_the_search():
    """The search sees the shown examples only: the program it tries first
    is the same with or without withheld ones."""
    task = SynthTask(XS, ListT(INT), EVENS_SHOWN)
    seen = []
    synthesize(task, validation=Validation(check=lambda expr: seen.append(expr) or False,
                                           max_checks=1))
    assert seen == [synthesize(task).expr]


def test_a_rejected_candidates_variants_come_next():
    """On the shown elements `xs.count(x) == ys.count(x)` (cheap here: the
    description names occurrences) has the values of `x in ys`, so the bank
    keeps it alone; the withheld example turns the program down and its
    variants, built from the terms of equal value the bank kept aside,
    include the one that generalises."""
    params = [("xs", ListT(INT)), ("ys", ListT(INT))]
    shown = [(([1, 2, 3], [3, 1]), [1, 3]), (([4, 5], [6]), []), (([7, 8, 9], [8]), [8])]
    withheld = [(([1, 2, 2, 3], [2, 3]), [2, 2, 3])]
    task = SynthTask(params, ListT(INT), shown, "the numbers of xs that also occur in ys")
    validation = Validation(withheld)
    result = synthesize(task, validation=validation, time_budget=5.0)
    assert validation.rejected and "count" in validation.rejected[0]
    assert_consistent(result.expr, SynthTask(params, ListT(INT), shown + withheld))
    assert python_value(result.expr, task, ([5, 6, 7], [7, 6, 5])) == [5, 6, 7]


def test_the_callers_check_decides_and_its_time_is_not_the_searchs():
    task = SynthTask([("x", INT)], INT, [((1,), 1), ((2,), 2), ((3,), 3)])
    asked = []

    def check(expr):                       # a property: never negative
        asked.append(expr)
        time.sleep(0.2)
        return all(python_value(expr, task, (n,)) >= 0 for n in range(-3, 4))
    validation = Validation(check=check)
    result = synthesize(task, validation=validation, time_budget=0.3)
    assert asked[0] == "x" and result.expr == asked[-1] == "abs(x)"
    assert validation.checks == len(asked) and validation.rejected == asked[:-1]


def test_checks_are_limited():
    task = SynthTask([("x", INT)], INT, [((1,), 1), ((2,), 2), ((3,), 3)])
    validation = Validation(check=lambda expr: False, max_checks=3)
    assert synthesize(task, validation=validation) is None
    assert validation.checks == 3 and len(validation.rejected) == 3


def test_withheld_examples_must_fit_the_signature():
    task = SynthTask(S, STR, [(("a",), "A"), (("b",), "B"), (("c",), "C")])
    with pytest.raises(ExampleError, match="withheld example 1: 2 argument"):
        synthesize(task, validation=Validation([(("a", "b"), "A")]))


def test_result_reports_its_evidence():
    task = SynthTask(XS, ListT(INT), EVENS_SHOWN, "the even numbers")
    result = synthesize(task, validation=Validation(EVENS_WITHHELD))
    assert result.expr == "[x for x in xs if x % 2 == 0]"
    assert (result.examples_used, result.held_out_passed, result.size) == (3, 1, 8)
    assert result.rejected == 0          # the description's concept made it the first candidate


# ------------------------------------------------------------------ list programs

# name -> (description, shown, withheld, held back: judged on the answer only)
LIST_TASKS = {
    "count-positive": ("how many numbers are greater than zero",
                       [([1, -2, 3], 2), ([-1, -1], 0), ([4, -3], 1)], [([5, 6, 7], 3)],
                       [([0, 2, -9, 8], 2), ([], 0)]),
    "differences": ("the differences between neighbouring numbers",
                    [([1, 4, 9, 16], [3, 5, 7]), ([5, 3], [-2]), ([2, 2, 7, 1], [0, 5, -6])],
                    [([10], [])], [([0, 1, 3, 6, 10], [1, 2, 3, 4]), ([], [])]),
    "max-abs": ("the largest absolute value", [([3, -7, 2], 7), ([1, 2], 2), ([-4, -9, 5], 9)],
                [([0], 0)], [([-2, 1], 2), ([-10, 3, 8], 10)]),
    "every-other": ("every other element, starting with the first",
                    [([1, 2, 3, 4, 5], [1, 3, 5]), ([10, 20], [10]), ([7, 8, 9, 10], [7, 9])],
                    [([], [])], [([4], [4]), ([0, 1, 0, 1, 0, 1], [0, 0, 0])]),
    "clip-negatives": ("the list with negative numbers replaced by zero",
                       [([1, -2, 3], [1, 0, 3]), ([-5, -6], [0, 0]), ([0, 4], [0, 4])],
                       [([], [])], [([7, -1, -8, 2], [7, 0, 0, 2])]),
    "largest-even": ("the largest even number",
                     [([1, 2, 3, 4], 4), ([8, 3, 6], 8), ([10, 11], 10)], [([2, 7, -4, 9], 2)],
                     [([-6, -3, -2], -2), ([5, 12, 7, 20, 1], 20)]),
    "is-sorted": ("whether the list is in ascending order",
                  [([1, 2, 3], True), ([3, 1], False), ([5], True)], [([2, 2, 4, 1], False)],
                  [([], True), ([1, 3, 2], False), ([0, 0, 1], True)]),
    "top-three": ("the three largest numbers, largest first",
                  [([5, 1, 9, 3, 7], [9, 7, 5]), ([2, 8], [8, 2]), ([4, 4, 4, 1], [4, 4, 4])],
                  [([10, 20, 30, 40], [40, 30, 20])], [([1], [1]), ([6, 2, 8, 4, 0, 5], [8, 6, 5])]),
    "odd-squares": ("the squares of the odd numbers",
                    [([1, 2, 3], [1, 9]), ([4, 6], []), ([5, 7], [25, 49])],
                    [([-3, 0, 2, 11], [9, 121])], [([], []), ([8, 9, 10], [81])]),
}


@pytest.mark.parametrize("name", sorted(LIST_TASKS))
def test_list_programs_generalise_to_examples_never_seen(name):
    description, shown, withheld, held_back = LIST_TASKS[name]
    first = shown[0][1]
    ret = ListT(INT) if isinstance(first, list) else (BOOL if isinstance(first, bool) else INT)
    pairs = lambda cases: [((xs,), out) for xs, out in cases]          # noqa: E731
    task = SynthTask(XS, ret, pairs(shown), description)
    result = synthesize(task, validation=Validation(pairs(withheld)), time_budget=5.0)
    assert result is not None, name
    assert_consistent(result.expr, SynthTask(XS, ret, pairs(shown + withheld + held_back)))


def test_positions_are_never_element_values():
    """Without a description, `len(xs[:sum(xs)])` fit these four counts of
    positives by accident; an index or slice bound computed from the
    elements' values is no longer built."""
    shown = [(([1, -2, 3],), 2), (([-1, -1],), 0), (([4, -3],), 1)]
    result = synthesize(SynthTask(XS, INT, shown), validation=Validation([(([5, 6, 7],), 3)]),
                        time_budget=3.0)
    assert result is None or "[:sum(" not in result.expr and "[sum(" not in result.expr


def test_concepts_named_by_the_description():
    names = lambda text: {c.name for c in named_concepts(text)}      # noqa: E731
    assert {"even", "at-least-int"} <= names("how many even numbers are at least t")
    assert "smallest-int" not in names("how many numbers are at least t")
    assert "positive-int" in names("how many numbers are greater than zero")
    assert names("reverse the string") == set()
