"""Tests of the NPL fill grammars (filling/providers/gbnf.py).

Two independent checks: llama.cpp's own GBNF parser accepts each grammar
(the format is right), and a small GBNF interpreter written here decides
which replies each grammar accepts (the language is right): real NPL from
the conformance programs must pass, Python-only constructs must not.
"""
from __future__ import annotations

import importlib.util
import re
import sys
import textwrap
from functools import lru_cache

import pytest

from npl.filling.providers.gbnf import FENCE_OPEN, KINDS, RESERVED_WORDS, fill_grammar

from conftest import conformance_programs, needs_conformance

sys.setrecursionlimit(20000)


# ------------------------------------------------------ a GBNF interpreter
#
# Grammar nodes are tuples: ("lit", text), ("cls", negated, ranges),
# ("ref", name), ("seq", items), ("alt", options), ("rep", node, lo, hi).
# `ends(node, pos)` is the set of positions where `node` can stop matching
# text starting at `pos`, so ambiguity is handled exactly.

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "[": "[",
            "]": "]", "-": "-", "^": "^"}


class GbnfParser:
    """Reads llama.cpp GBNF with one rule per line (as gbnf.py writes it)."""

    def __init__(self, text: str):
        self.rules: dict[str, tuple] = {}
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            name, sep, body = line.partition("::=")
            assert sep, f"not a rule: {line!r}"
            self.src, self.pos = body, 0
            self.rules[name.strip()] = self.alternation()
            self.skip()
            assert self.pos == len(self.src), f"junk after rule: {line!r}"

    def skip(self):
        while self.pos < len(self.src) and self.src[self.pos] == " ":
            self.pos += 1

    def peek(self) -> str:
        self.skip()
        return self.src[self.pos:self.pos + 1]

    def alternation(self):
        options = [self.sequence()]
        while self.peek() == "|":
            self.pos += 1
            options.append(self.sequence())
        return options[0] if len(options) == 1 else ("alt", options)

    def sequence(self):
        items = []
        while self.peek() not in ("", "|", ")"):
            items.append(self.postfix(self.primary()))
        return ("seq", items)

    def postfix(self, node):
        while self.peek() in ("*", "+", "?"):
            op = self.src[self.pos]
            self.pos += 1
            lo, hi = {"*": (0, None), "+": (1, None), "?": (0, 1)}[op]
            node = ("rep", node, lo, hi)
        return node

    def char(self) -> str:
        c = self.src[self.pos]
        self.pos += 1
        if c != "\\":
            return c
        e = self.src[self.pos]
        self.pos += 1
        if e == "x":
            self.pos += 2
            return chr(int(self.src[self.pos - 2:self.pos], 16))
        return _ESCAPES[e]

    def primary(self):
        c = self.peek()
        if c == '"':
            self.pos += 1
            text = ""
            while self.src[self.pos] != '"':
                text += self.char()
            self.pos += 1
            return ("lit", text)
        if c == "[":
            self.pos += 1
            negated = self.src[self.pos] == "^"
            self.pos += negated
            ranges = []
            while self.src[self.pos] != "]":
                lo = self.char()
                hi = lo
                if self.src[self.pos] == "-" and self.src[self.pos + 1] != "]":
                    self.pos += 1
                    hi = self.char()
                ranges.append((lo, hi))
            self.pos += 1
            return ("cls", negated, tuple(ranges))
        if c == "(":
            self.pos += 1
            node = self.alternation()
            assert self.peek() == ")", "unbalanced parenthesis"
            self.pos += 1
            return node
        match = re.compile(r"[a-zA-Z0-9-]+").match(self.src, self.pos)
        assert match, f"unexpected {self.src[self.pos:]!r}"
        self.pos = match.end()
        return ("ref", match.group())


class GbnfMatcher:
    def __init__(self, grammar: str):
        self.rules = GbnfParser(grammar).rules
        undefined = {n for n in self._refs() if n not in self.rules}
        assert not undefined, f"undefined rules: {undefined}"

    def _refs(self):
        def walk(node):
            if node[0] == "ref":
                yield node[1]
            elif node[0] in ("seq", "alt"):
                for child in node[1]:
                    yield from walk(child)
            elif node[0] == "rep":
                yield from walk(node[1])
        for body in self.rules.values():
            yield from walk(body)

    def accepts(self, text: str) -> bool:
        self.text, self.memo = text, {}
        return len(text) in self.ends(self.rules["root"], 0)

    def ends(self, node, pos: int) -> frozenset:
        key = (id(node), pos)
        if key not in self.memo:
            self.memo[key] = frozenset()         # guards against left recursion
            self.memo[key] = frozenset(self._ends(node, pos))
        return self.memo[key]

    def _ends(self, node, pos: int):
        kind, text = node[0], self.text
        if kind == "lit":
            return {pos + len(node[1])} if text.startswith(node[1], pos) else set()
        if kind == "cls":
            if pos >= len(text):
                return set()
            inside = any(lo <= text[pos] <= hi for lo, hi in node[2])
            return {pos + 1} if inside != node[1] else set()
        if kind == "ref":
            return self.ends(self.rules[node[1]], pos)
        if kind == "alt":
            return set().union(*(self.ends(opt, pos) for opt in node[1]))
        if kind == "seq":
            frontier = {pos}
            for item in node[1]:
                frontier = set().union(*(self.ends(item, p) for p in frontier))
            return frontier
        _, inner, lo, hi = node                    # "rep"
        results, frontier, count, seen = set(), {pos}, 0, set()
        while frontier:
            if count >= lo:
                results |= frontier
            if hi is not None and count == hi:
                break
            seen |= frontier
            frontier = set().union(*(self.ends(inner, p) for p in frontier)) - seen
            count += 1
        return results


@lru_cache(maxsize=None)
def matcher(kind: str) -> GbnfMatcher:
    return GbnfMatcher(fill_grammar(kind))


def accepts(kind: str, code: str) -> bool:
    return matcher(kind).accepts(f"{FENCE_OPEN}{code}\n```")


def test_matcher_itself_follows_gbnf_semantics():
    m = GbnfMatcher('root ::= "a" [b-c]* (x | "e")? [^a]\nx ::= "d" "d"+\n')
    for good in ("az", "abcbz", "adddz", "a\n", "aeq", "ad"):
        assert m.accepts(good), good
    for bad in ("a", "adz", "aa", "bz", "abcdz", "adda"):
        assert not m.accepts(bad), bad


# ------------------------------------------------------ format

def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="function, expression"):
        fill_grammar("statement")


@pytest.mark.parametrize("kind", KINDS)
def test_llama_cpp_parses_the_grammar(kind):
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (pip install 'npl[local]')")
    from npl.filling.providers.base import ProviderError
    from npl.filling.providers.llama_engine import check_grammar
    check_grammar(fill_grammar(kind))
    with pytest.raises(ProviderError, match="Undefined rule"):
        check_grammar(fill_grammar(kind).replace("ws-i ::=", "ws-zz ::="))


# ------------------------------------------------------ what it accepts

def _top_level_functions(source: str) -> list[str]:
    """The text of each (decorated) def at column 0 of an NPL program."""
    blocks, current = [], None
    for line in source.splitlines():
        starts = line.startswith(("def ", "@kernel"))
        if starts and not (current and current[-1].startswith("@")):
            current = [line]
            blocks.append(current)
        elif current is not None and (line.startswith((" ", "def ")) or not line.strip()):
            current.append(line)
        else:
            current = None
    return ["\n".join(b).rstrip() for b in blocks]


def _conformance_functions() -> list[tuple[str, str]]:
    return [(f"{p.stem}:{i}", fn) for p in conformance_programs()
            for i, fn in enumerate(_top_level_functions(p.read_text()))]


CONFORMANCE = _conformance_functions()


@needs_conformance
@pytest.mark.parametrize("label,function", CONFORMANCE, ids=[c[0] for c in CONFORMANCE])
def test_conformance_functions_and_bodies_are_accepted(label, function):
    assert accepts("function", function), function
    body = "\n".join(function.splitlines()[2 if function.startswith("@") else 1:])
    assert accepts("function", body), body
    assert accepts("function", textwrap.dedent(body)), body


@needs_conformance
def test_conformance_corpus_is_substantial():
    assert len(CONFORMANCE) >= 25


VALID_BODIES = [
    '    """Count the vowels."""\n    return sum(1 for c in s.lower() if c in "aeiou")',
    "    words = s.split()\n    words.reverse()\n    return ' '.join(words)",
    "total = 0\nfor k in range(1, n + 1):\n    total += k ** 2\nreturn total",
    "    seen: set[int] = set()\n    best: int | None = None\n    x: int\n"
    "    for i, pair in enumerate(zip(xs, ys)):  # pairs\n        pass\n    return None",
    "    d = {k: v for k, v in counts.items() if v > 1}\n    return sorted(d, key=lambda k: (-d[k], k))",
    "    m = zeros((2, 3))\n    m[0, 1] = 1.5e-3\n    return xs[1:] if len(m) else xs[::-1][:n:2]",
    "    return [\n        x * 2  # doubled\n        for x in xs\n    ]",
    '    assert n >= 0, "n must be non-negative"\n    return f"{n:>5} {xs[0]!r} {{literal}}"',
    "    p.x += 1.0\n    q, r = divmod(a, b)\n    return not (q is None or r is not None) and a not in xs",
    "    return ?{the largest element of xs}",
    "    m = n >> 1\n    m <<= 2\n    m **= 2\n    return m << 3 | n >> 1 & 7",
    "@kernel\ndef helper(x: array[float, 2], n: int) -> float:\n    return 0.0\n\n"
    "def main():\n    print(helper(zeros((2, 2)), 0x1F), .5, 1_000)",
    "    while True:\n        if x:\n            break\n        elif y:\n            continue\n        else:\n            x = -x",
    "    '''Docstring with \"quotes\" and\n    two lines.'''\n    return (a, b,)",
    "    if not xs: return 0\n    n = len(xs)\n    return n",
    '    return r"\\d+" "x" f"{a}" + str(0o17 + 0b101)',
    "    xs[i], xs[j] = xs[j], xs[i]\n    p.x, p.y = p.y, p.x\n    (a, b), m[0, 1] = t, 2",
    "    for i, (a, (b, c)) in enumerate(pairs):\n        pass\n"
    "    return [a + b for i, (a, b) in enumerate(ps) if i > 0]",
]


@pytest.mark.parametrize("body", VALID_BODIES)
def test_valid_npl_bodies_are_accepted(body):
    assert accepts("function", body), body


VALID_EXPRESSIONS = [
    "sum(x * x for x in xs)",
    "[w for w in s.split(' ') if w]",
    "{k: len(v) for k, v in groups.items()}",
    "a if a > b else b",
    "max(words, key=lambda w: (len(w), w))",
    "not xs or xs[-1] <= 0.5",
    "(1, 'a', None, True, -2.5e3)",
    "sqrt(dx ** 2 + dy ** 2) / 2",
    "f'{name}: {value:.2f}'",
    "sorted(set(xs) | {0}, reverse=True)[:3]",
    "[\n    x + 1\n    for x in range(10)\n]",
    "?{a {nested} description}",
    "(a // b) % c",
    "a, b + 1",
    "not a == b and c in d or e is not None",
    "2 ** -x if -x < 0 else -2",
]


@pytest.mark.parametrize("expression", VALID_EXPRESSIONS)
def test_valid_npl_expressions_are_accepted(expression):
    assert accepts("expression", expression), expression


# ------------------------------------------------------ what it rejects

PYTHON_ONLY = [
    "class Helper:\n    pass",
    "try:\n    return int(s)\nexcept ValueError:\n    return 0",
    "with open(path) as f:\n    return f.read()",
    "for x in xs:\n    yield x",
    "global counter",
    "nonlocal total",
    "del xs[0]",
    'raise ValueError("bad") from err',
    "async def f() -> int:\n    return 1",
    "return await g()",
    "if (n := len(xs)) > 3:\n    return n",
    "x = 1; y = 2",
    "def f(*args: int) -> int:\n    return 0",
    "def f(x: int = 3) -> int:\n    return x",
    "@staticmethod\ndef f() -> int:\n    return 0",
    "\treturn 1",
    "x |= 2",
    "return ~x",
    "return 1j",
    "print 'hello'",
    "return (1, 2",
    "return xs[0]]",
    'return "unterminated',
    "yield = 3",
    "True = 2",
    "for i, xs[0] in enumerate(pairs):\n    pass",
    "first, *rest = xs",
    "f(x) = 1",
    "lambda x=1: x",
]


@pytest.mark.parametrize("code", PYTHON_ONLY)
def test_python_only_constructs_are_rejected(code):
    assert not accepts("function", code), code


def test_reserved_words_only_excluded_as_whole_identifiers():
    for word in RESERVED_WORDS:
        assert not accepts("function", f"{word} = 1"), word
        assert accepts("function", f"{word}_ = 1"), word
        assert accepts("function", f"{word}x = 1"), word
        assert accepts("function", f"x{word} = 1"), word


EXPRESSION_REJECTED = ["x = 1", "return x", "a\nb", "if x:", "pass", "x := 1",
                       "f(*xs)", "(1, 2", "lambda x=1: x", "a + not b", "yield x"]


@pytest.mark.parametrize("code", EXPRESSION_REJECTED)
def test_expression_grammar_takes_exactly_one_expression(code):
    assert not accepts("expression", code), code


# Valid NPL that the grammar leaves out on purpose (see the module docstring).
NARROWER_BY_DESIGN = [("function", "total = 1 + \\\n    2"), ("function", "..."),
                      ("function", "x = not(y)"), ("expression", "x +\n1")]


@pytest.mark.parametrize("kind,code", NARROWER_BY_DESIGN)
def test_deliberate_narrowings_are_rejected(kind, code):
    assert not accepts(kind, code), code


# Python habits the grammar lets through, for filling/pythonisms.py to
# rewrite as NPL (forbidding them bends the reply into something else).
TRANSLATED = ["import math\nreturn math.sqrt(x)", "from math import sqrt, floor as fl",
              "import math, itertools as it", "from collections import (\n    Counter,\n)",
              "a = b = 0", "lo = hi = mid = len(xs) // 2", 'raise ValueError("bad")',
              "if n < 0: raise ValueError(f'bad {n}')", "raise"]


@pytest.mark.parametrize("code", TRANSLATED)
def test_python_habits_with_an_npl_meaning_are_let_through(code):
    assert accepts("function", code), code


@pytest.mark.parametrize("code", ["import", "from math import", "import math as", "a = b[0] = 1",
                                  "a = b += 1", "from . import x"])
def test_import_and_chained_assignment_stay_well_formed(code):
    assert not accepts("function", code), code


def test_translated_habits_become_npl_that_parses():
    from npl.filling.pythonisms import rewrite_pythonisms
    for code in ("import math\nreturn math.sqrt(x)", "from math import sqrt\nreturn sqrt(x)",
                 "a = b = 0", "lo = hi = mid = len(xs) // 2", 'raise ValueError("bad")',
                 "if n < 0: raise ValueError(f'bad {n}')", "raise KeyError(n)", "raise"):
        module = rewrite_pythonisms(_as_module(code))
        assert _npl_accepts("function", module.removeprefix("def f():\n").rstrip()), module


# ------------------------------------------------------ the lists above are right

def _as_module(code: str) -> str:
    if code.startswith(("def ", "@kernel")):
        return code + "\n"
    return "def f():\n" + textwrap.indent(code, "    ", lambda line: True) + "\n"


def _npl_accepts(kind: str, code: str) -> bool:
    parser = pytest.importorskip("npl.lang.parser")
    from npl.lang.diagnostics import CompileError
    try:
        if kind == "expression":
            parser.parse_expr(code, "fill.npl")
        else:
            parser.parse(_as_module(code), "fill.npl")
    except CompileError:
        return False
    return True


def test_npl_parser_agrees_with_the_valid_lists():
    cases = [("function", b) for b in VALID_BODIES] + [("expression", e) for e in VALID_EXPRESSIONS]
    cases += [(kind, code) for kind, code in NARROWER_BY_DESIGN]
    assert [c for c in cases if not _npl_accepts(*c)] == []


def test_npl_parser_agrees_with_the_rejected_lists():
    cases = [("function", c) for c in PYTHON_ONLY] + [("expression", e) for e in EXPRESSION_REJECTED]
    assert [c for c in cases if _npl_accepts(*c)] == []


def test_reply_must_be_exactly_one_fenced_block():
    m = matcher("function")
    assert m.accepts("```python\nreturn 1\n```")
    for reply in ("return 1", "```npl\nreturn 1\n```", "Here it is:\n```python\nreturn 1\n```",
                  "```python\nreturn 1\n```\nDone.", "```python\n\n```", "```python\nreturn 1```"):
        assert not m.accepts(reply), reply
