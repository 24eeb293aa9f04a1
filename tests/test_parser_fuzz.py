"""Property tests for the parser (Hypothesis).

Any text gives a Module or a CompileError whose diagnostics point inside the
file; never another exception. Expressions agree with Python's own parser on
structure (precedence, associativity); string escapes agree with Python's.
"""
from __future__ import annotations

import ast as pyast
import warnings

from hypothesis import HealthCheck, given, settings, strategies as st

import npl.lang.ast as A
from npl.lang.ast import ast_equal
from npl.lang.diagnostics import CODES, CompileError
from npl.lang.parser import parse, parse_expr, unescape

from conftest import ROOT, conformance_programs

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Seeds for mutation: the spec programs of this repository, and the shared
# conformance suite where it is beside the checkout.
SEEDS = sorted((ROOT / "tests" / "spec").rglob("*.npl")) + conformance_programs()
PROGRAMS = [p.read_text(encoding="utf-8") for p in SEEDS]


def test_the_seed_corpus_is_substantial():
    assert len(PROGRAMS) >= 50


def check_outcome(text: str) -> None:
    """parse() either returns a Module whose spans lie in the text, or raises
    CompileError whose diagnostics do and render without failing."""
    line_count = text.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1
    try:
        module = parse(text, "fuzz.npl")
    except CompileError as e:
        assert e.diagnostics
        for d in e.diagnostics:
            assert d.code in CODES
            assert_span_inside(d.span, line_count)
            assert d.render(text).startswith(f"fuzz.npl:{d.span.line}:{d.span.col}: error[{d.code}]")
        return
    assert isinstance(module, A.Module) and module.path == "fuzz.npl"
    for node in A.walk(module):
        assert_span_inside(node.span, line_count)


def assert_span_inside(span: A.Span, line_count: int) -> None:
    assert span.file == "fuzz.npl"
    assert 1 <= span.line <= span.end_line <= line_count
    assert span.col >= 1 and span.end_col >= 1
    assert (span.line, span.col) <= (span.end_line, span.end_col)


# ------------------------------------------------------------ arbitrary text

@FUZZ
@given(st.text(max_size=300))
def test_random_text(text):
    check_outcome(text)


VOCABULARY = [
    "def", "f", "(", ")", ":", "->", "int", "float", "list", "[", "]", "{", "}", ",", "=",
    "return", "if", "elif", "else", "while", "for", "in", "not", "and", "or", "is", "None",
    "True", "pass", "break", "continue", "assert", "lambda", "struct", "const", "extern",
    "example", "property", "where", "from", "import", "@kernel", "x", "xs", "1", "2.5", "0x1f",
    "'s'", '"""doc"""', 'f"{x:.2f}"', "?{a hole {with} braces}", "...", "+", "-", "*", "**",
    "/", "//", "%", "|", "&", "^", "<", "<=", "==", "!=", "+=", ".", "#c", "\\", "class", ";",
    ":=", "yield", "*args", "\t", "?{", "f'{", "'''",
]
SEPARATORS = [" ", " ", "", "\n", "\n    ", "\n        ", "\n  "]


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(VOCABULARY), st.sampled_from(SEPARATORS)), max_size=60))
def test_random_token_sequences(pieces):
    check_outcome("".join(token + sep for token, sep in pieces))


# ------------------------------------------------------------ mutated programs

def mutate(data, text: str) -> str:
    lines = text.split("\n")
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        kind = data.draw(st.sampled_from(["delete line", "duplicate line", "swap lines",
                                          "delete char", "insert char", "replace char"]))
        i = data.draw(st.integers(0, len(lines) - 1))
        if kind == "delete line" and len(lines) > 1:
            del lines[i]
        elif kind == "duplicate line":
            lines.insert(i, lines[i])
        elif kind == "swap lines":
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            line = lines[i]
            k = data.draw(st.integers(0, len(line)))
            char = data.draw(st.sampled_from(list(" \t:()[]{}'\"#?\\=,.x1\n")))
            if kind == "insert char":
                lines[i] = line[:k] + char + line[k:]
            elif k < len(line):
                lines[i] = line[:k] + ("" if kind == "delete char" else char) + line[k + 1:]
    return "\n".join(lines)


@FUZZ
@given(st.sampled_from(PROGRAMS), st.data())
def test_mutated_programs(program, data):
    check_outcome(mutate(data, program))


@FUZZ
@given(st.sampled_from(PROGRAMS), st.integers(0, 10_000))
def test_truncated_programs(program, cut):
    check_outcome(program[:cut % (len(program) + 1)])


# ------------------------------------------------------------ expressions vs Python

ATOMS = st.sampled_from(["a", "b", "xs", "0", "7", "2.5", "True", "None", "'s'"])
BINARY = ["+", "-", "*", "/", "//", "%", "**", "|", "^", "&", "<", "<=", "==", "!=", ">",
          ">=", "in", "not in", "is", "is not", "and", "or"]


def compound(children):
    return st.one_of(
        st.tuples(children, st.sampled_from(BINARY), children).map(" ".join),
        st.tuples(st.sampled_from(["-", "+", "not "]), children).map("".join),
        children.map(lambda c: f"({c})"),
        st.tuples(children, children, children).map(lambda t: f"{t[0]} if {t[1]} else {t[2]}"),
        st.lists(children, max_size=3).map(lambda args: f"f({', '.join(args)})"),
        st.tuples(children, children).map(lambda t: f"{t[0]}[{t[1]}]"),
        children.map(lambda c: f"{c}.real"),
        st.lists(children, max_size=3).map(lambda elts: f"[{', '.join(elts)}]"),
        children.map(lambda c: f"lambda q: {c}"),
    )


EXPRESSIONS = st.recursive(ATOMS, compound, max_leaves=10)

PY_BINARY = {pyast.Add: "+", pyast.Sub: "-", pyast.Mult: "*", pyast.Div: "/", pyast.FloorDiv: "//",
             pyast.Mod: "%", pyast.Pow: "**", pyast.BitOr: "|", pyast.BitXor: "^", pyast.BitAnd: "&"}
PY_COMPARE = {pyast.Lt: "<", pyast.LtE: "<=", pyast.Eq: "==", pyast.NotEq: "!=", pyast.Gt: ">",
              pyast.GtE: ">=", pyast.In: "in", pyast.NotIn: "not in", pyast.Is: "is",
              pyast.IsNot: "is not"}
PY_UNARY = {pyast.USub: "-", pyast.UAdd: "+", pyast.Not: "not"}


def from_python(node) -> A.Expr:
    """The NPL AST that Python's AST of the same text should correspond to."""
    conv = from_python
    if isinstance(node, pyast.Constant):
        value = node.value
        if value is None:
            return A.NoneLit()
        kind = {bool: A.BoolLit, int: A.IntLit, float: A.FloatLit, str: A.StrLit}[type(value)]
        return kind(value)
    if isinstance(node, pyast.Name):
        return A.Name(node.id)
    if isinstance(node, pyast.BinOp):
        return A.BinOp(PY_BINARY[type(node.op)], conv(node.left), conv(node.right))
    if isinstance(node, pyast.UnaryOp):
        return A.UnaryOp(PY_UNARY[type(node.op)], conv(node.operand))
    if isinstance(node, pyast.BoolOp):
        return A.BoolOp("and" if isinstance(node.op, pyast.And) else "or", tuple(map(conv, node.values)))
    if isinstance(node, pyast.Compare):
        return A.Compare(conv(node.left), tuple(PY_COMPARE[type(o)] for o in node.ops),
                         tuple(map(conv, node.comparators)))
    if isinstance(node, pyast.IfExp):
        return A.IfExp(conv(node.body), conv(node.test), conv(node.orelse))
    if isinstance(node, pyast.Call):
        return A.Call(conv(node.func), tuple(map(conv, node.args)))
    if isinstance(node, pyast.Attribute):
        return A.Attribute(conv(node.value), node.attr)
    if isinstance(node, pyast.Subscript):
        return A.Index(conv(node.value), (conv(node.slice),))
    if isinstance(node, pyast.List):
        return A.ListExpr(tuple(map(conv, node.elts)))
    if isinstance(node, pyast.Lambda):
        return A.Lambda(tuple(a.arg for a in node.args.args), conv(node.body))
    raise AssertionError(f"unexpected Python node {type(node).__name__}")


@FUZZ
@given(EXPRESSIONS)
def test_expressions_parse_as_python_does(text):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = from_python(pyast.parse(text, mode="eval").body)
    except SyntaxError:
        try:
            parse_expr(text, "e.npl")
        except CompileError:
            return
        raise AssertionError(f"NPL accepts {text!r}, which Python rejects")
    got = parse_expr(text, "e.npl")
    assert ast_equal(got, expected), text
    assert got.span.line == got.span.end_line == 1
    assert 1 <= got.span.col < got.span.end_col <= len(text) + 1


# ------------------------------------------------------------ string escapes vs Python

ESCAPE_PIECES = st.sampled_from([
    "a", "Z", " ", "é", "\u2022", '"', "\\n", "\\t", "\\\\", "\\'", '\\"', "\\0", "\\12", "\\777",
    "\\x41", "\\x4", "\\u00e9", "\\u00", "\\U0001F600", "\\U00110000", "\\N{BULLET}",
    "\\N{NO SUCH NAME}", "\\N", "\\q", "\\8", "\\a\\b\\f\\v\\r", "\\\n",
])


@FUZZ
@given(st.lists(ESCAPE_PIECES, max_size=12).map("".join))
def test_string_escapes_decode_as_python_does(body):
    literal = "'" + body + "'"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = pyast.literal_eval(literal)
    except (SyntaxError, ValueError):
        try:
            parse_expr(literal, "s.npl")
        except CompileError as e:
            assert e.diagnostics[0].code == "E002"
            return
        raise AssertionError(f"NPL accepts {literal!r}, which Python rejects")
    assert unescape(body) == expected
    assert parse_expr(literal, "s.npl").value == expected


@FUZZ
@given(EXPRESSIONS, st.integers(1, 500), st.integers(1, 120))
def test_parse_expr_offsets_shift_every_span(text, line, col):
    try:
        here = parse_expr(text, "e.npl")
    except CompileError:
        return
    there = parse_expr(text, "e.npl", line=line, col=col)
    for a, b in zip(A.walk(here), A.walk(there)):
        assert (b.span.line, b.span.col) == (a.span.line + line - 1, a.span.col + col - 1)
        assert (b.span.end_line, b.span.end_col) == (a.span.end_line + line - 1, a.span.end_col + col - 1)


# ------------------------------------------------------------ f-strings vs Python

FSTRING_PIECES = st.sampled_from([
    "a", " ", "{", "}", "{{", "}}", ":", "!", "=", "'", "\\n", "\\", "#", "(", "]", "0", ".2f",
    "{x}", "{x!r}", "{x!s}", "{x:>4}", "{x:{w}}", "{x=}", "{x[0]}", "{'a'}", "{ x }",
    "{x==y}", "{x!=y}", "{x:{w}.{p}f}", "{x:%}", "\\N{BULLET}", "{x:{{}}}",
])


def from_python_fstring(node) -> list:
    parts = []
    for value in node.values:
        if isinstance(value, pyast.Constant):
            parts.append(value.value)
            continue
        spec = tuple(from_python_fstring(value.format_spec)) if value.format_spec else ()
        conversion = {-1: None, 114: "r", 115: "s"}[value.conversion]
        expr = A.DictExpr((), ()) if isinstance(value.value, pyast.Dict) else from_python(value.value)
        parts.append(A.FormatField(expr, conversion, spec))
    return parts


@FUZZ
@given(st.lists(FSTRING_PIECES, max_size=8).map("".join))
def test_fstrings_parse_as_python_does(body):
    text = 'f"' + body + '"'
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = pyast.parse(text, mode="eval").body
    except SyntaxError:
        tree = None
    try:
        got = parse_expr(text, "f.npl")
    except CompileError as e:
        assert tree is None, f"NPL rejects {text!r}, which Python accepts: {e}"
        return
    assert tree is not None, f"NPL accepts {text!r}, which Python rejects"
    if isinstance(tree, pyast.Constant):            # no fields: Python folds it to a str
        assert all(isinstance(p, str) for p in got.parts) and "".join(got.parts) == tree.value
    else:
        assert ast_equal(got, A.FString(tuple(from_python_fstring(tree)))), text
