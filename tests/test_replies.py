"""Turning model replies into code: fences, prose, refusals, normalisation,
and classifying the code as a definition, a body or an expression."""
from __future__ import annotations

import pytest

from npl.filling.replies import (ExpressionReply, FunctionReply, ReplyError,
                                  classify_expression_reply, classify_function_reply,
                                  extract_code)

COUNT = '''def count_vowels(s: str) -> int:
    total = 0
    for c in s.lower():
        if c in "aeiou":
            total += 1
    return total'''
COUNT_BODY = '''total = 0
for c in s.lower():
    if c in "aeiou":
        total += 1
return total'''


def fn(code: str, name: str = "count_vowels") -> FunctionReply:
    return classify_function_reply(code, name)


def ex(code: str, name: str = "__hole_1") -> ExpressionReply:
    return classify_expression_reply(code, name)


def reason(call) -> str:
    with pytest.raises(ReplyError) as info:
        call()
    return info.value.reason


# -- extract_code: fences ----------------------------------------------------------

@pytest.mark.parametrize("fence", ["```npl", "```python", "```py", "```", "```Python",
                                   "~~~python", "```python3 title=fill.npl"])
def test_fenced_code_is_taken_whatever_the_label(fence):
    closing = fence[:3]
    text = f"Here is the function:\n\n{fence}\n{COUNT}\n{closing}\n\nIt lowercases s first."
    assert extract_code(text) == COUNT


def test_the_first_code_block_wins():
    text = f"```python\n{COUNT}\n```\nOr shorter:\n```python\nreturn 0\n```"
    assert extract_code(text) == COUNT


def test_blocks_in_other_languages_are_skipped():
    text = f"Output:\n```text\n2\n```\nCode:\n```python\n{COUNT}\n```"
    assert extract_code(text) == COUNT


def test_only_foreign_code_is_rejected():
    text = "```javascript\nfunction f(s) { return 1; }\n```"
    assert "`javascript`" in reason(lambda: extract_code(text))


def test_an_empty_block_is_rejected():
    assert "empty" in reason(lambda: extract_code("Here:\n```python\n\n```"))


def test_a_fence_cut_off_by_max_tokens_runs_to_the_end():
    assert extract_code("```python\nreturn sum(xs)\n") == "return sum(xs)"


def test_a_fence_closed_on_the_code_line():
    assert extract_code("```python\nx = 1\nreturn x```") == "x = 1\nreturn x"


def test_an_indented_fenced_body_is_dedented():
    text = "```python\n    total = 0\n    return total\n```"
    assert extract_code(text) == "total = 0\nreturn total"


# -- extract_code: unfenced -----------------------------------------------------------

def test_unfenced_code_is_returned_as_is():
    assert extract_code(COUNT) == COUNT


def test_leading_and_trailing_prose_is_stripped():
    text = (f"Sure! Here's an implementation:\n\n{COUNT}\n\n"
            "This function walks the string once.\nIt returns the count.")
    assert extract_code(text) == COUNT


def test_markdown_bullets_after_the_code_are_stripped():
    text = f"{COUNT}\n\nExplanation:\n- lowercase first\n- count"
    assert extract_code(text) == COUNT


def test_indented_prose_lines_inside_code_are_kept_but_col0_prose_cuts():
    text = "total = 0\n# Note: start at zero.\nreturn total\nThat is all."
    assert extract_code(text) == "total = 0\n# Note: start at zero.\nreturn total"


@pytest.mark.parametrize("text, code", [
    ("`sum(xs) / len(xs)`", "sum(xs) / len(xs)"),
    ("The answer is `total / len(xs)`.", "total / len(xs)"),
    ("sum(xs) / len(xs)", "sum(xs) / len(xs)"),
    ("[x / total for x in xs]", "[x / total for x in xs]"),
])
def test_expression_replies(text, code):
    assert extract_code(text) == code


def test_windows_newlines_tabs_and_bom_are_normalised():
    text = "\ufeffdef f(x: int) -> int:\r\n\tif x > 0:\r\n\t\treturn x\t\r\n\treturn 0\r\n"
    assert extract_code(text) == ("def f(x: int) -> int:\n    if x > 0:\n"
                                  "        return x\n    return 0")


@pytest.mark.parametrize("text", ["", "   \n\n  "])
def test_empty_replies_are_rejected(text):
    assert reason(lambda: extract_code(text)) == "the reply is empty"


@pytest.mark.parametrize("text", [
    "I'm sorry, but I can't help with that.",
    "I cannot write this function without more details",
    "As an AI language model, I must decline.",
])
def test_refusals_are_recognised(text):
    assert "declined" in reason(lambda: extract_code(text))


def test_prose_without_code_is_rejected_and_quoted():
    text = "The function should count vowels. It is straightforward."
    message = reason(lambda: extract_code(text))
    assert "no code" in message and "The function should count vowels" in message


# -- classify_function_reply ---------------------------------------------------------

def test_a_whole_definition():
    reply = fn(COUNT)
    assert reply.kind == "definition" and reply.body == COUNT_BODY
    assert reply.signature == "def count_vowels(s: str) -> int:"
    assert reply.helpers == "" and reply.dropped == () and reply.source == COUNT


def test_a_repeated_docstring_is_removed_from_the_body():
    code = COUNT.replace(":\n", ':\n    """Count the vowels in s,\nin either case."""\n', 1)
    assert fn(code).body == COUNT_BODY


def test_a_bare_body():
    reply = fn(COUNT_BODY)
    assert reply.kind == "body" and reply.body == COUNT_BODY and reply.signature == ""


def test_a_bare_body_with_a_leading_docstring_and_comments():
    code = '"""Count vowels."""\n# start at zero\ntotal = 0\n\n# done\nreturn total'
    assert fn(code).body == "# start at zero\ntotal = 0\n\n# done\nreturn total"


def test_helpers_before_and_after_the_definition():
    code = ("def is_vowel(c: str) -> bool:\n    return c in 'aeiou'\n\n"
            "def count_vowels(s: str) -> int:\n    return len([c for c in s if is_vowel(c)])\n\n"
            "@kernel\ndef unused(n: int) -> int:\n    return n\n")
    reply = fn(code)
    assert reply.kind == "definition"
    assert reply.body == "return len([c for c in s if is_vowel(c)])"
    assert reply.helpers == ("def is_vowel(c: str) -> bool:\n    return c in 'aeiou'\n\n"
                             "@kernel\ndef unused(n: int) -> int:\n    return n")


def test_a_body_with_a_helper():
    code = ("def is_vowel(c: str) -> bool:\n    return c in 'aeiou'\n\n"
            "return sum(1 for c in s if is_vowel(c))")
    reply = fn(code)
    assert reply.kind == "body" and reply.body == "return sum(1 for c in s if is_vowel(c))"
    assert reply.helpers.startswith("def is_vowel(")


def test_usage_imports_and_main_guards_are_dropped():
    code = (f"import math\nfrom typing import List\n\n{COUNT}\n\nprint(count_vowels('hello'))\n"
            "assert count_vowels('') == 0\n\nif __name__ == '__main__':\n    print(1)\n")
    reply = fn(code)
    assert reply.kind == "definition" and reply.body == COUNT_BODY and reply.helpers == ""
    assert reply.dropped == ("import math", "from typing import List",
                             "print(count_vowels('hello'))", "assert count_vowels('') == 0",
                             "if __name__ == '__main__':\n    print(1)")


def test_a_one_line_definition():
    reply = fn("def double(x: int) -> int: return x * 2", "double")
    assert (reply.kind, reply.body) == ("definition", "return x * 2")
    assert reply.signature == "def double(x: int) -> int:"


def test_a_signature_over_several_lines():
    code = ("def scale(xs: list[float],\n          k: float = 1.0) -> dict[str, float]:\n"
            "    return {'k': k}")
    reply = fn(code, "scale")
    assert reply.body == "return {'k': k}"
    assert reply.signature.endswith("-> dict[str, float]:")


def test_strings_and_holes_do_not_confuse_the_structure():
    code = ('def f(s: str) -> str:\n    t = """\ndef g(x):\n..."""\n'
            "    name = ?{the user's name, or {default} if empty}\n"
            "    return t + name + '...'  # more ...\n")
    reply = fn(code, "f")
    assert reply.kind == "definition" and reply.helpers == ""
    assert reply.body.startswith('t = """\ndef g(x):\n..."""') and "'...'" in reply.body


@pytest.mark.parametrize("code, line", [
    ("total = 0\n...\nreturn total", 2),
    ("def count_vowels(s: str) -> int:\n    # TODO\n    ...", 3),
    ('def count_vowels(s: str) -> int:\n    """Count vowels."""\n    ...', 3),
    ("def helper(c: str) -> bool:\n    return ...\n\nreturn 1", 2),
])
def test_placeholders_are_rejected_with_their_line(code, line):
    message = reason(lambda: fn(code))
    assert "still contains `...`" in message and f"line {line}" in message


def test_a_helper_that_is_a_function_hole_is_allowed():
    code = ('def is_vowel(c: str) -> bool:\n    """True for a, e, i, o, u."""\n    ...\n\n'
            "def count_vowels(s: str) -> int:\n    return sum(1 for c in s if is_vowel(c))")
    reply = fn(code)
    assert reply.kind == "definition" and '"""True for a, e, i, o, u."""' in reply.helpers


def test_defining_the_wrong_function_is_rejected():
    message = reason(lambda: fn("def countVowels(s: str) -> int:\n    return 0"))
    assert "`countVowels`" in message and "not `count_vowels`" in message


def test_defining_the_function_twice_is_rejected():
    assert "2 times" in reason(lambda: fn(f"{COUNT}\n\n{COUNT}"))


def test_a_definition_with_only_a_docstring_is_rejected():
    code = 'def count_vowels(s: str) -> int:\n    """Count vowels."""'
    assert "docstring but no code" in reason(lambda: fn(code))


def test_a_definition_without_a_colon_is_rejected():
    assert "no `:`" in reason(lambda: fn("def count_vowels(s: str) -> int\n    return 0"))


# -- classify_expression_reply ---------------------------------------------------------

@pytest.mark.parametrize("code, expression", [
    ("sum(xs) / len(xs)", "sum(xs) / len(xs)"),
    ("return [x / total for x in xs]", "[x / total for x in xs]"),
    ("result = [x / total for x in xs]", "[x / total for x in xs]"),
    ("result: list[float] = [x / total for x in xs]", "[x / total for x in xs]"),
    ("a == b", "a == b"),
    ("x if x > 0 else -x  # absolute value", "x if x > 0 else -x"),
    ("[x / total  # scale\n for x in xs]", "[x / total\n for x in xs]"),
    ("'...'.join(parts)", "'...'.join(parts)"),
    ("sorted(words, key=lambda w: len(w))", "sorted(words, key=lambda w: len(w))"),
])
def test_bare_expressions(code, expression):
    reply = ex(code)
    assert (reply.kind, reply.expression, reply.body) == ("expression", expression, "")


def test_a_definition_of_the_lifted_function():
    code = ("def __hole_1(xs: list[float], total: float) -> list[float]:\n"
            "    return [x / total for x in xs]")
    reply = ex(code)
    assert (reply.kind, reply.body) == ("definition", "return [x / total for x in xs]")


def test_a_single_definition_under_another_name_counts_as_the_lifted_function():
    reply = ex("def normalize(xs: list[float]) -> list[float]:\n"
               "    t = sum(xs)\n    return [x / t for x in xs]")
    assert reply.kind == "definition" and reply.body == "t = sum(xs)\nreturn [x / t for x in xs]"


def test_statements_for_an_expression_hole_are_a_body():
    reply = ex("t = sum(xs)\nreturn [x / t for x in xs]")
    assert (reply.kind, reply.body, reply.expression) == (
        "body", "t = sum(xs)\nreturn [x / t for x in xs]", "")


def test_an_expression_with_a_placeholder_is_rejected():
    assert "still contains `...`" in reason(lambda: ex("[f(x) for x in ...]"))


def test_only_helpers_and_no_expression_is_rejected():
    code = "def a() -> int:\n    return 1\n\ndef b() -> int:\n    return 2"
    message = reason(lambda: ex(code))
    assert "`a`, `b`" in message and "`__hole_1`" in message


def test_an_empty_code_string_is_rejected():
    assert reason(lambda: ex("\n  \n")) == "the reply has no code"


# -- end to end: raw reply to parts ------------------------------------------------------

def test_a_typical_chatty_reply_end_to_end():
    text = ("Certainly! Below is the implementation.\r\n\r\n```python\r\n"
            "from math import sqrt\r\n\r\n"
            "def norm(p: Point) -> float:\r\n"
            '\t"""Return the Euclidean norm of p."""\r\n'
            "\treturn sqrt(p.x * p.x + p.y * p.y)\r\n\r\n"
            "# Example usage\r\nprint(norm(Point(3.0, 4.0)))\r\n```\r\n\r\n"
            "The function uses Pythagoras.")
    reply = fn(extract_code(text), "norm")
    assert reply.kind == "definition"
    assert reply.body == "return sqrt(p.x * p.x + p.y * p.y)"
    assert reply.dropped == ("from math import sqrt", "print(norm(Point(3.0, 4.0)))")


# -- nested helper functions (lang/nested.py) --------------------------------

HEAP_REPLY = '''def heap_queue_largest(nums: list[int], n: int) -> list[int]:
    """The n largest, in descending order."""
    # a helper, as Python would have it
    def heapify(arr: list[int], size: int, i: int):
        largest = i
        left = 2 * i + 1
        if left < size and arr[left] > arr[largest]:
            largest = left
        if largest != i:
            arr[i], arr[largest] = arr[largest], arr[i]
            heapify(arr, size, largest)

    def build(arr: list[int]):
        for i in range(len(arr) // 2 - 1, -1, -1):
            heapify(arr, len(arr), i)
    xs = list(nums)
    build(xs)
    return sorted(xs, reverse=True)[:n]
'''

CLOSURE_REPLY = ("def heap_queue_largest(nums: list[int], n: int) -> list[int]:\n"
                 "    picked: list[int] = []\n"
                 "    def take(k: int):\n"
                 "        if k < n:\n"
                 "            picked.append(sorted(nums, reverse=True)[k])\n"
                 "            take(k + 1)\n"
                 "    take(0)\n"
                 "    return picked\n")


@pytest.mark.parametrize("reply", [HEAP_REPLY, CLOSURE_REPLY])
def test_a_reply_with_nested_functions_is_kept_as_written_and_runs(tmp_path, reply):
    import npl
    from npl.compiler.driver import compile
    from npl.filling.model_source import reply_to_fill
    hole = ('def heap_queue_largest(nums: list[int], n: int) -> list[int]:\n'
            '    """The n largest, in descending order."""\n    ...\n')
    spec = compile(hole, "heap.npl", strict_fills=False).holes[0]
    fill = reply_to_fill(spec, "```npl\n" + reply + "```")
    assert fill.startswith("def heap_queue_largest(") and "\n    def " in fill
    program = tmp_path / "heap.npl"
    program.write_text(fill)
    assert npl.load(str(program)).call("heap_queue_largest", [25, 35, 22, 85, 14, 65], 3) == [85, 65, 35]


# -- Python habits with an NPL meaning (filling/pythonisms.py) ----------------

def test_imports_are_dropped_and_math_names_written_bare():
    from npl.filling.pythonisms import rewrite_pythonisms
    code = ("def f(w: int, h: int) -> float:\n    import math\n    from math import floor\n"
            "    return math.sqrt(w ** 2 + h ** 2) + math.pi * floor(2.5)\n")
    assert rewrite_pythonisms(code) == (
        "def f(w: int, h: int) -> float:\n    return sqrt(w ** 2 + h ** 2) + pi * floor(2.5)\n")


def test_math_integer_functions_are_written_bare_and_their_import_dropped():
    from npl.filling.pythonisms import rewrite_pythonisms
    code = ("def f(n: int) -> int:\n    from math import comb, factorial\n"
            "    return sum(comb(n, i) for i in range(n)) + math.gcd(n, 4) + factorial(3)\n")
    assert rewrite_pythonisms(code) == (
        "def f(n: int) -> int:\n"
        "    return sum(comb(n, i) for i in range(n)) + gcd(n, 4) + factorial(3)\n")


def test_heapq_names_are_written_bare_and_its_imports_dropped():
    from npl.filling.pythonisms import rewrite_pythonisms
    code = ("import heapq\nfrom heapq import heappop, nlargest\n\n"
            "def f(xs: list[int], k: int) -> list[int]:\n    heapq.heapify(xs)\n"
            "    heapq.heappush(xs, heappop(xs))\n    return heapq.nlargest(k, xs)\n")
    assert rewrite_pythonisms(code) == (
        "\ndef f(xs: list[int], k: int) -> list[int]:\n    heapify(xs)\n"
        "    heappush(xs, heappop(xs))\n    return nlargest(k, xs)\n")


def test_itertools_combinations_is_written_bare_and_its_import_dropped():
    from npl.filling.pythonisms import rewrite_pythonisms
    code = ("import itertools\nfrom itertools import combinations\n\n"
            "def f(xs: list[int]) -> int:\n"
            "    return len(list(combinations(xs, 2))) + len(list(itertools.permutations(xs, 2)))\n")
    assert rewrite_pythonisms(code) == (
        "\ndef f(xs: list[int]) -> int:\n"
        "    return len(list(combinations(xs, 2))) + len(list(permutations(xs, 2)))\n")


def test_collections_counter_is_written_bare_and_its_import_dropped():
    from npl.filling.pythonisms import rewrite_pythonisms
    code = ("from collections import Counter\nimport collections\n\n"
            "def f(xs: list[int]) -> int:\n    c = collections.Counter(xs)\n"
            "    return Counter(xs)[0] + c[1]\n")
    assert rewrite_pythonisms(code) == (
        "\ndef f(xs: list[int]) -> int:\n    c = Counter(xs)\n    return Counter(xs)[0] + c[1]\n")


@pytest.mark.parametrize("imports", ["import math", "from math import prod", "import os",
                                     "from collections import Counter, defaultdict",
                                     "import math as m",
                                     "from heapq import merge", "import heapq as hq",
                                     "from itertools import product"])
def test_imports_of_what_npl_lacks_stay_for_the_compiler_to_report(imports):
    from npl.filling.pythonisms import rewrite_pythonisms
    code = f"def f(x: int) -> int:\n    {imports}\n    return math.prod([x])\n"
    assert f"\n    {imports}\n" in rewrite_pythonisms(code)


def test_an_import_alone_in_a_block_leaves_pass():
    from npl.filling.pythonisms import rewrite_pythonisms
    code = "def f(x: float) -> float:\n    if x > 0:\n        import math\n    return math.floor(x)\n"
    assert rewrite_pythonisms(code) == \
        "def f(x: float) -> float:\n    if x > 0:\n        pass\n    return floor(x)\n"


def test_chained_assignment_to_names_is_split_left_to_right():
    from npl.filling.pythonisms import rewrite_pythonisms
    code = ("def f(xs: list[int]) -> int:\n    lo = hi = best = max(xs,\n        key=abs)  # note\n"
            "    if xs: a = b = 1\n    return lo + hi + best\n")
    assert rewrite_pythonisms(code) == (
        "def f(xs: list[int]) -> int:\n    lo = max(xs,\n        key=abs)\n    hi = lo\n"
        "    best = lo\n    if xs: a = b = 1\n    return lo + hi + best\n")


def test_a_raise_becomes_an_assert_that_fails_with_its_message():
    """NPL has no exceptions, so nothing can catch a raise: it ends the
    program with its message, which is what `assert False, message` does."""
    from npl.filling.pythonisms import rewrite_pythonisms
    code = ("def f(n: int) -> int:\n    if n < 0: raise ValueError(f\"bad {n}\")  # why\n"
            "    if n == 0:\n        raise KeyError(n)\n    if n > 9:\n        raise\n    return n\n")
    assert rewrite_pythonisms(code) == (
        "def f(n: int) -> int:\n    if n < 0: assert False, f'bad {n}'  # why\n"
        "    if n == 0:\n        assert False, 'KeyError(n)'\n    if n > 9:\n        assert False\n"
        "    return n\n")


@pytest.mark.parametrize("code", [
    "def f(x: int) -> int:\n    raise ValueError(\n        'two lines')\n",   # one line only
    "def f(math: int) -> int:\n    return math.sqrt\n",          # `math` is the reply's own name
    "def f(heapq: list[int]) -> None:\n    heapq.heapify()\n",   # and `heapq` here
    "def f(xs: list[int]) -> None:\n    xs[0] = xs[1] = 0\n",     # not plain names
    "def f(x: int) -> int:\n    return x +\n",                   # not Python
])
def test_other_code_is_left_as_it_is(code):
    from npl.filling.pythonisms import rewrite_pythonisms
    assert rewrite_pythonisms(code) == code


def load_filled(tmp_path, hole: str, reply: str):
    """The program of function hole `hole` filled from the model's
    `reply`, loaded."""
    import npl
    from npl.compiler.driver import compile
    from npl.filling.model_source import reply_to_fill
    spec = compile(hole, "fill.npl", strict_fills=False).holes[0]
    program = tmp_path / "fill.npl"
    program.write_text(reply_to_fill(spec, reply))
    return npl.load(str(program))


def test_a_reply_with_python_habits_compiles_and_runs(tmp_path):
    hole = ('def is_monotonic(xs: list[int]) -> float:\n'
            '    """1.0 when xs never goes down or never goes up, else the root of 2."""\n    ...\n')
    reply = ("```npl\ndef is_monotonic(xs: list[int]) -> float:\n    import math\n"
             "    up = down = True\n    for i in range(1, len(xs)):\n"
             "        if xs[i] > xs[i - 1]:\n            down = False\n"
             "        elif xs[i] < xs[i - 1]:\n            up = False\n"
             "    return 1.0 if up or down else math.sqrt(2)\n```")
    loaded = load_filled(tmp_path, hole, reply)
    assert loaded.call("is_monotonic", [1, 2, 2, 5]) == 1.0
    assert abs(loaded.call("is_monotonic", [1, 3, 2]) - 2 ** 0.5) < 1e-12


def test_a_reply_with_heapq_compiles_and_runs(tmp_path):
    hole = ('def k_smallest(xs: list[int], k: int) -> list[int]:\n'
            '    """The k smallest numbers of xs, smallest first."""\n    ...\n')
    reply = ("```python\nimport heapq\n\ndef k_smallest(xs: list[int], k: int) -> list[int]:\n"
             "    heap = []\n    for x in xs:\n        heapq.heappush(heap, x)\n"
             "    return [heapq.heappop(heap) for _ in range(min(k, len(heap)))]\n```")
    loaded = load_filled(tmp_path, hole, reply)
    assert loaded.call("k_smallest", [5, 1, 4, 2], 3) == [1, 2, 4]
    assert loaded.call("k_smallest", [], 2) == []


def test_a_reply_with_counter_compiles_and_runs(tmp_path):
    """The local model's first reply to an MBPP problem (#130), word for
    word: Counter is built in, so it is a fill as it stands."""
    hole = ('def max_occurrences(nums: list[int]) -> int:\n'
            '    """Write a function to find the item with maximum frequency in a given list."""\n'
            '    ...\n')
    reply = ("```python\ndef max_occurrences(nums: list[int]) -> int:\n"
             '    """Write a function to find the item with maximum frequency in a given list."""\n'
             "    from collections import Counter\n"
             "    return Counter(nums).most_common(1)[0][0]\n```")
    loaded = load_filled(tmp_path, hole, reply)
    assert loaded.call("max_occurrences", [2, 3, 8, 4, 7, 9, 8, 2, 6, 5, 1, 6, 1, 2, 3, 2]) == 2
    assert loaded.call("max_occurrences", [1, 3, 3]) == 3


def test_a_reply_that_raises_compiles_runs_and_stops_with_the_message(tmp_path):
    import npl
    hole = 'def first_even(xs: list[int]) -> int:\n    """The first even number in xs."""\n    ...\n'
    reply = ("```npl\ndef first_even(xs: list[int]) -> int:\n    for x in xs:\n"
             "        if x % 2 == 0:\n            return x\n"
             "    raise ValueError(f\"no even number in {xs}\")\n```")
    loaded = load_filled(tmp_path, hole, reply)        # no E016: the raise ends its path
    assert loaded.call("first_even", [3, 4, 6]) == 4
    with pytest.raises(npl.NplRuntimeError, match=r"no even number in \[1, 3\]"):
        loaded.call("first_even", [1, 3])
