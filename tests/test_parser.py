"""Parser tests: AST shapes, spans and diagnostics for the syntax of
docs/reference.md sections 1, 3, 4, 5, 7 and 8 (lang/lexer.py,
lang/literals.py, lang/parser.py, lang/grammar.lark)."""
from __future__ import annotations

import textwrap

import pytest

import npl.lang.ast as A
from npl.lang.ast import ast_equal
from npl.lang.diagnostics import CompileError, Diagnostic
from npl.lang.parser import parse, parse_expr

from conftest import CONFORMANCE, ROOT, conformance_programs, needs_conformance


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def body(text: str) -> tuple[A.Stmt, ...]:
    """Statements of `text` parsed as the body of a function."""
    module = parse("def f():\n" + textwrap.indent(src(text), "    "), "t.npl")
    return module.decls[0].body


def stmt(text: str) -> A.Stmt:
    (only,) = body(text)
    return only


def expr(text: str) -> A.Expr:
    return parse_expr(text, "t.npl")


def error(text: str) -> Diagnostic:
    with pytest.raises(CompileError) as info:
        parse(src(text), "t.npl")
    return info.value.diagnostics[0]


def where(node: A.Node) -> tuple[int, int, int, int]:
    s = node.span
    return (s.line, s.col, s.end_line, s.end_col)


def show(e) -> str:
    """Fully parenthesized rendering of an expression, for precedence tests."""
    if isinstance(e, A.Name):
        return e.id
    if isinstance(e, (A.IntLit, A.FloatLit)):
        return repr(e.value)
    if isinstance(e, A.BinOp):
        return f"({show(e.left)} {e.op} {show(e.right)})"
    if isinstance(e, A.UnaryOp):
        return f"({e.op}{' ' if e.op == 'not' else ''}{show(e.operand)})"
    if isinstance(e, A.BoolOp):
        return "(" + f" {e.op} ".join(map(show, e.values)) + ")"
    if isinstance(e, A.Compare):
        rest = "".join(f" {op} {show(c)}" for op, c in zip(e.ops, e.comparators))
        return f"({show(e.left)}{rest})"
    if isinstance(e, A.IfExp):
        return f"({show(e.body)} if {show(e.test)} else {show(e.orelse)})"
    if isinstance(e, A.Call):
        return f"{show(e.func)}({', '.join(map(show, e.args))})"
    if isinstance(e, A.Attribute):
        return f"{show(e.value)}.{e.attr}"
    if isinstance(e, A.Index):
        return f"{show(e.value)}[{', '.join(map(show, e.indices))}]"
    if isinstance(e, A.Lambda):
        return f"(lambda {', '.join(e.params)}: {show(e.body)})"
    raise AssertionError(f"show() does not render {type(e).__name__}")


N = A.Name
I = A.IntLit


# ============================================================ conformance

@needs_conformance
@pytest.mark.parametrize("path", conformance_programs(), ids=lambda p: p.name)
def test_conformance_programs_parse(path):
    module = parse(path.read_text(), str(path))
    assert module.path == str(path)
    assert module.decls
    for node in A.walk(module):
        if node is not module:
            assert node.span.file == str(path)
            assert (node.span.line, node.span.col) <= (node.span.end_line, node.span.end_col)


@needs_conformance
def test_conformance_property_with_where():
    module = parse((CONFORMANCE / "tests_pass.npl").read_text(), "tests_pass.npl")
    prop = next(d for d in module.decls if isinstance(d, A.Property))
    assert prop.name == "clamp_in_range"
    assert [p.name for p in prop.params] == ["x", "lo", "hi"]
    assert ast_equal(prop.where, A.Compare(N("lo"), ("<=",), (N("hi"),)))
    assert isinstance(prop.expr, A.Compare) and prop.expr.ops == ("<=", "<=")


# ============================================================ declarations

def test_function_with_params_return_type_and_docstring():
    module = parse(src('''
        def norm(p: Point, scale: float) -> float:
            """Length of p.

               Scaled."""
            return sqrt(p.x * p.x) * scale
        '''), "t.npl")
    (f,) = module.decls
    assert f.name == "norm" and f.decorators == () and not f.is_hole
    assert [(p.name, p.annotation.name) for p in f.params] == [("p", "Point"), ("scale", "float")]
    assert ast_equal(f.returns, A.TypeExpr("float"))
    assert f.docstring == "Length of p.\n\nScaled."
    assert len(f.body) == 1 and isinstance(f.body[0], A.Return)
    assert where(f) == (1, 1, 5, 35)
    assert where(f.params[1]) == (1, 20, 1, 32)


def test_function_hole():
    module = parse(src('''
        def count_vowels(s: str) -> int:
            """Count the vowels a, e, i, o, u in s, in either case."""
            ...

        example count_vowels("Hello") == 2
        '''), "t.npl")
    f, example = module.decls
    assert f.is_hole
    assert f.hole_doc == "Count the vowels a, e, i, o, u in s, in either case."
    assert f.body == ()
    assert isinstance(example, A.Example) and isinstance(example.expr, A.Compare)


def test_docstring_with_more_statements_is_not_a_hole():
    (f,) = parse(src('''
        def f() -> int:
            """Doc."""
            x = 1
            ...
        '''), "t.npl").decls
    assert not f.is_hole and f.docstring == "Doc."
    assert [type(s) for s in f.body] == [A.Assign, A.Pass]


def test_kernel_decorator_and_one_line_body():
    (f,) = parse("@kernel\ndef g(x: array[float, 2]) -> float: return x[0, 0]\n", "t.npl").decls
    assert f.decorators == ("kernel",)
    assert ast_equal(f.params[0].annotation, A.TypeExpr("array", (A.TypeExpr("float"), A.IntTypeArg(2))))
    assert ast_equal(f.body, (A.Return(A.Index(N("x"), (I(0), I(0)))),))
    assert f.span.line == 2


def test_extern_const_struct_example_import():
    module = parse(src('''
        from shapes import Circle, area
        from geometry import (Point,
                              Line,)
        const G: float = 6.674e-11
        const LIMIT = 10
        struct Point:
            """A point."""
            x: float
            y: float

        extern def fetch_rate(currency: str) -> float    # host supplied
        extern def log(msg: str)
        example norm(Point(3.0, 4.0)) == 5.0
        '''), "t.npl")
    imp, imp2, g, limit, point, rate, log, example = module.decls
    assert (imp.module, imp.names) == ("shapes", ("Circle", "area"))
    assert imp2.names == ("Point", "Line")
    assert ast_equal(g, A.ConstDef("G", A.TypeExpr("float"), A.FloatLit(6.674e-11)))
    assert ast_equal(limit, A.ConstDef("LIMIT", None, I(10)))
    assert [(f.name, f.annotation.name) for f in point.fields] == [("x", "float"), ("y", "float")]
    assert where(point.fields[1]) == (9, 5, 9, 13)
    assert isinstance(rate, A.ExternDef) and rate.returns.name == "float"
    assert log.returns is None
    assert where(example) == (13, 1, 13, 37)


def test_property_forms():
    one_line, block = parse(src('''
        property p(x: int): x + 0 == x
        property q(s: str):
            # a comment inside
            reverse(reverse(s)) == s
        '''), "t.npl").decls
    assert one_line.where is None and isinstance(one_line.expr, A.Compare)
    assert block.where is None and isinstance(block.expr, A.Compare)
    assert where(block) == (2, 1, 4, 29)


@pytest.mark.parametrize("word", ["where", "example", "property", "struct", "const", "extern"])
def test_soft_keywords_are_names_inside_functions(word):
    (s1, s2) = body(f"{word} = 1\nprint({word})\n")
    assert ast_equal(s1, A.Assign(N(word), I(1)))
    assert ast_equal(s2.value.args, (N(word),))


# ============================================================ types

@pytest.mark.parametrize("text, expected", [
    ("int", A.TypeExpr("int")),
    ("list[int]", A.TypeExpr("list", (A.TypeExpr("int"),))),
    ("dict[str, list[int]]",
     A.TypeExpr("dict", (A.TypeExpr("str"), A.TypeExpr("list", (A.TypeExpr("int"),))))),
    ("tuple[int, str]", A.TypeExpr("tuple", (A.TypeExpr("int"), A.TypeExpr("str")))),
    ("set[int]", A.TypeExpr("set", (A.TypeExpr("int"),))),
    ("array[float, 2]", A.TypeExpr("array", (A.TypeExpr("float"), A.IntTypeArg(2)))),
    ("int | None", A.OptionalTypeExpr(A.TypeExpr("int"))),
    ("None | list[str]", A.OptionalTypeExpr(A.TypeExpr("list", (A.TypeExpr("str"),)))),
    ("None", A.TypeExpr("None")),
])
def test_type_expressions(text, expected):
    (f,) = parse(f"def f(x: {text}) -> {text}:\n    pass\n", "t.npl").decls
    assert ast_equal(f.params[0].annotation, expected)
    assert ast_equal(f.returns, expected)
    assert f.params[0].annotation.span.col == 10


# ============================================================ statements

def test_assignments():
    a, b, c, d, e, f, g, h = body('''
        x = 1
        x: float = 0
        y: list[int]
        a, b = pair
        (c, d) = 1, 2
        xs[i] = v
        p.f = 2
        for_ = 3
        ''')
    assert ast_equal(a, A.Assign(N("x"), I(1)))
    assert ast_equal(b, A.Assign(N("x"), I(0), A.TypeExpr("float")))
    assert ast_equal(c, A.Assign(N("y"), None, A.TypeExpr("list", (A.TypeExpr("int"),))))
    assert ast_equal(d, A.Assign(A.TupleExpr((N("a"), N("b"))), N("pair")))
    assert ast_equal(e, A.Assign(A.TupleExpr((N("c"), N("d"))), A.TupleExpr((I(1), I(2)))))
    assert ast_equal(f, A.Assign(A.Index(N("xs"), (N("i"),)), N("v")))
    assert ast_equal(g, A.Assign(A.Attribute(N("p"), "f"), I(2)))
    assert ast_equal(h, A.Assign(N("for_"), I(3)))
    assert where(d) == (5, 5, 5, 16)


def test_tuple_targets_hold_items_fields_and_nested_tuples():
    swap, fields, mixed, nested = body('''
        xs[i], xs[j] = xs[j], xs[i]
        p.x, p.y = p.y, p.x
        a, m[0, 1], (b, c.d) = t
        (a, b), c = pair, 3
        ''')
    x_i, x_j = A.Index(N("xs"), (N("i"),)), A.Index(N("xs"), (N("j"),))
    assert ast_equal(swap, A.Assign(A.TupleExpr((x_i, x_j)), A.TupleExpr((x_j, x_i))))
    px, py = A.Attribute(N("p"), "x"), A.Attribute(N("p"), "y")
    assert ast_equal(fields, A.Assign(A.TupleExpr((px, py)), A.TupleExpr((py, px))))
    assert ast_equal(mixed.target, A.TupleExpr((
        N("a"), A.Index(N("m"), (I(0), I(1))), A.TupleExpr((N("b"), A.Attribute(N("c"), "d"))))))
    assert ast_equal(nested.target, A.TupleExpr((A.TupleExpr((N("a"), N("b"))), N("c"))))
    assert where(nested.target.elts[0]) == (5, 5, 5, 11)


def test_loop_and_comprehension_targets_nest():
    f = stmt("for i, (a, (b, c)) in enumerate(ps):\n    pass\n")
    assert ast_equal(f.target, A.TupleExpr((N("i"), A.TupleExpr((
        N("a"), A.TupleExpr((N("b"), N("c")))))))) and where(f.target.elts[1]) == (2, 12, 2, 23)
    e = expr("[a + b for i, (a, b) in enumerate(ps) if i > 0]")
    (g,) = e.generators
    assert ast_equal(g.target, A.TupleExpr((N("i"), A.TupleExpr((N("a"), N("b"))))))
    assert len(g.conds) == 1


@pytest.mark.parametrize("text, message, line, col", [
    ("def f():\n    for i, xs[0] in ys:\n        pass\n", "loop variable must be a name", 2, 12),
    ("def f():\n    for i, (a, p.x) in ys:\n        pass\n", "loop variable must be a name", 2, 16),
    ("def f():\n    ys = [a for a, (b, c[0]) in ps]\n", "loop variable must be a name", 2, 24),
    ("def f():\n    a, g() = t\n", "cannot assign to a function call", 2, 8),
    ("def f():\n    (a, 1), b = t\n", "cannot assign to a literal", 2, 9),
    ("def f():\n    a, b += t\n", "augmented assignment takes a single target", 2, 5),
])
def test_bad_elements_of_tuple_targets(text, message, line, col):
    d = error(text)
    assert (d.code, d.span.line, d.span.col) == ("E001", line, col)
    assert message in d.message


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "//", "%"])
def test_augmented_assignment(op):
    assert ast_equal(stmt(f"total {op}= x[i]\n"),
                     A.AugAssign(N("total"), op, A.Index(N("x"), (N("i"),))))


def test_if_elif_else_chain_nests_in_orelse():
    s = stmt('''
        if n < 0:
            return "negative"
        elif n == 0:
            return "zero"
        elif n % 2 == 0:
            pass
        else:
            return "odd"
        ''')
    assert isinstance(s, A.If) and len(s.orelse) == 1
    elif1 = s.orelse[0]
    elif2 = elif1.orelse[0]
    assert ast_equal(elif1.test, A.Compare(N("n"), ("==",), (I(0),)))
    assert ast_equal(elif2.orelse, (A.Return(A.StrLit("odd")),))
    assert where(s) == (2, 5, 9, 21)
    assert where(elif1) == (4, 5, 9, 21)


def test_loops_and_simple_statements():
    w, f, f2, r, r2, a, a2, e = body('''
        while True:
            break
        for x in xs:
            continue
        for k, v in d.items(): pass
        return
        return a, b
        assert x > 0
        assert ok, "message"
        print("hi")
        ''')
    assert ast_equal(w, A.While(A.BoolLit(True), (A.Break(),)))
    assert ast_equal(f, A.For(N("x"), N("xs"), (A.Continue(),)))
    assert ast_equal(f2.target, A.TupleExpr((N("k"), N("v"))))
    assert ast_equal(r, A.Return(None))
    assert ast_equal(r2, A.Return(A.TupleExpr((N("a"), N("b")))))
    assert a.msg is None and ast_equal(a2.msg, A.StrLit("message"))
    assert ast_equal(e, A.ExprStmt(A.Call(N("print"), (A.StrLit("hi"),))))


def test_comments_blank_lines_and_missing_final_newline():
    module = parse("# head\n\ndef f():\n\n    # c1\n      # odd indent comment\n    x = 1  # tail\n\n\n"
                   "        \n    return x\n# end\ndef g():\n    pass", "t.npl")
    f, g = module.decls
    assert [type(s) for s in f.body] == [A.Assign, A.Return]
    assert where(f.body[0]) == (7, 5, 7, 10)
    assert ast_equal(g.body, (A.Pass(),))


def test_newlines_inside_brackets_and_backslash_continuation():
    s1, s2 = body('''
        xs = [1,
              2,   # comment inside
        3]
        y = 1 + \\
            2
        ''')
    assert ast_equal(s1.value, A.ListExpr((I(1), I(2), I(3))))
    assert ast_equal(s2.value, A.BinOp("+", I(1), I(2)))


def test_crlf_line_endings():
    (f,) = parse("def f():\r\n    x = 1\r\n    return x\r\n", "t.npl").decls
    assert len(f.body) == 2 and where(f.body[1]) == (3, 5, 3, 13)


# ============================================================ expressions

@pytest.mark.parametrize("text, shown", [
    ("-2 ** 2", "(-(2 ** 2))"),
    ("2 ** -1", "(2 ** (-1))"),
    ("2 ** 3 ** 2", "(2 ** (3 ** 2))"),
    ("a - b - c", "((a - b) - c)"),
    ("a + b * c // d % e", "(a + (((b * c) // d) % e))"),
    ("a | b ^ c & d", "(a | (b ^ (c & d)))"),
    ("a & b + c", "(a & (b + c))"),
    ("not a == b", "(not (a == b))"),
    ("a or b and not c", "(a or (b and (not c)))"),
    ("a and b and c", "(a and b and c)"),
    ("x if c else y if d else z", "(x if c else (y if d else z))"),
    ("a + b if a > b else -a", "((a + b) if (a > b) else (-a))"),
    ("lambda p: p.x + 1", "(lambda p: (p.x + 1))"),
    ("lambda: 0", "(lambda : 0)"),
    ("f(x)[0].y(1)", "f(x)[0].y(1)"),
    ("-x.y ** 2", "(-(x.y ** 2))"),
    ("a < b == c", "(a < b == c)"),
    ("(a + b) * c", "((a + b) * c)"),
])
def test_precedence(text, shown):
    assert show(expr(text)) == shown


def test_comparison_operators():
    e = expr("a in b not in c is d is not e != f >= g")
    assert e.ops == ("in", "not in", "is", "is not", "!=", ">=")
    assert [c.id for c in e.comparators] == ["b", "c", "d", "e", "f", "g"]


def test_calls_keywords_and_generator_argument():
    e = expr("sorted(xs, key=lambda p: p[1], reverse=True)")
    assert ast_equal(e, A.Call(N("sorted"), (N("xs"),), (
        A.Keyword("key", A.Lambda(("p",), A.Index(N("p"), (I(1),)))),
        A.Keyword("reverse", A.BoolLit(True)))))
    assert where(e.keywords[1]) == (1, 32, 1, 44)
    g = expr("sum(x * x for x in xs)")
    (gen,) = g.args
    assert isinstance(gen, A.GeneratorExp)
    assert ast_equal(gen.generators, (A.Comprehension(N("x"), N("xs")),))
    assert ast_equal(expr('"".join(c for c in s if c.isdigit())').func, A.Attribute(A.StrLit(""), "join"))


def test_indexing_and_slicing():
    assert ast_equal(expr("a[i, j]"), A.Index(N("a"), (N("i"), N("j"))))
    assert ast_equal(expr("g[(0, 1)]"), A.Index(N("g"), (A.TupleExpr((I(0), I(1))),)))
    cases = {"xs[a:b:c]": ("a", "b", "c"), "xs[:]": (None, None, None), "xs[::2]": (None, None, "2"),
             "xs[1:]": ("1", None, None), "xs[:n]": (None, "n", None), "xs[a::]": ("a", None, None)}
    for text, parts in cases.items():
        s = expr(text)
        assert isinstance(s, A.Slice), text
        got = tuple(None if p is None else (p.id if isinstance(p, A.Name) else str(p.value))
                    for p in (s.lower, s.upper, s.step))
        assert got == parts, text


def test_collection_literals():
    assert ast_equal(expr("{}"), A.DictExpr((), ()))
    assert ast_equal(expr("()"), A.TupleExpr(()))
    assert ast_equal(expr("(x,)"), A.TupleExpr((N("x"),)))
    assert ast_equal(expr("(x)"), N("x"))
    assert ast_equal(expr("[1, 2,]"), A.ListExpr((I(1), I(2))))
    assert ast_equal(expr("[]"), A.ListExpr(()))
    assert ast_equal(expr("{1, 2}"), A.SetExpr((I(1), I(2))))
    assert ast_equal(expr('{"k": 1, "j": 2}'), A.DictExpr((A.StrLit("k"), A.StrLit("j")), (I(1), I(2))))
    assert ast_equal(expr("1, 2"), A.TupleExpr((I(1), I(2))))


def test_comprehensions():
    e = expr("[f(x) for x in xs if p(x) if q(x) for y in ys]")
    assert isinstance(e, A.ListComp) and len(e.generators) == 2
    assert len(e.generators[0].conds) == 2 and e.generators[1].conds == ()
    assert where(e.generators[0]) == (1, 7, 1, 34)
    d = expr("{k: v * v for k, v in d.items()}")
    assert isinstance(d, A.DictComp) and ast_equal(d.generators[0].target, A.TupleExpr((N("k"), N("v"))))
    assert isinstance(expr("{f(x) for x in xs}"), A.SetComp)
    assert isinstance(expr("(x for x in xs)"), A.GeneratorExp)


@pytest.mark.parametrize("text, value", [
    ("123", 123), ("1_000", 1000), ("0x1f", 31), ("0o17", 15), ("0b101", 5), ("0", 0), ("00", 0),
    ("1.5", 1.5), ("1e-3", 0.001), (".5", 0.5), ("1_000.0", 1000.0), ("2.", 2.0), ("1E5", 1e5),
])
def test_number_literals(text, value):
    e = expr(text)
    assert type(e) is (A.IntLit if isinstance(value, int) else A.FloatLit)
    assert e.value == value and type(e.value) is type(value)


def test_constants_and_string_literals():
    assert ast_equal(expr("True, False, None"),
                     A.TupleExpr((A.BoolLit(True), A.BoolLit(False), A.NoneLit())))
    assert expr(r"'a\tb\n\\ \'q\' \x41\u00e9\N{BULLET} \q'").value == "a\tb\n\\ 'q' A\u00e9\u2022 \\q"
    assert expr(r'r"\n\d"').value == "\\n\\d"
    assert expr('"""two\nlines"""').value == "two\nlines"
    assert expr("'''it's'''").value == "it's"
    assert ast_equal(expr('"a" \'b\' r"\\c"'), A.StrLit("ab\\c"))


# ============================================================ holes

def test_expression_hole_with_nested_braces_and_newlines():
    module = parse(src('''
        def normalize(xs: list[float]) -> list[float]:
            total = sum(xs)
            return ?{each element of xs divided by total,
                     as a list {not a set}   }
            x = 1
        '''), "t.npl")
    ret, after = module.decls[0].body[1:]
    assert ast_equal(ret.value, A.Hole("each element of xs divided by total,\n"
                                       "             as a list {not a set}"))
    assert where(ret.value) == (3, 12, 4, 39)
    assert where(after) == (5, 5, 5, 10)


def test_hole_text_may_contain_quotes_and_hashes():
    assert expr("?{the user's \"name\" # not a comment}").text == "the user's \"name\" # not a comment"


def test_hole_inside_call_and_fstring():
    assert ast_equal(expr("f(?{a}, k=?{b {c}})"),
                     A.Call(N("f"), (A.Hole("a"),), (A.Keyword("k", A.Hole("b {c}")),)))
    (field,) = expr('f"{?{the user\'s {name}}}"').parts
    assert ast_equal(field.expr, A.Hole("the user's {name}"))


# ============================================================ f-strings

def test_fstring_parts_specs_and_conversions():
    e = expr('f"x = {x:.3f} {y!r} {{literal}} {z:>{width}} {n=}"')
    assert ast_equal(e, A.FString((
        "x = ", A.FormatField(N("x"), None, (".3f",)),
        " ", A.FormatField(N("y"), "r"),
        " {literal} ", A.FormatField(N("z"), None, (">", A.FormatField(N("width"), None))),
        " n=", A.FormatField(N("n"), "r"))))


def test_fstring_field_spans_are_file_positions():
    (s,) = body('''
        print(f"n={n * 2}, v={v:.2f}")
        ''')
    n_field, v_field = [p for p in s.value.args[0].parts if isinstance(p, A.FormatField)]
    assert where(n_field) == (2, 15, 2, 22)
    assert where(n_field.expr) == (2, 16, 2, 21)
    assert where(v_field.expr) == (2, 27, 2, 28)


def test_triple_quoted_fstring_field_on_a_later_line():
    (s,) = body('''
        msg = f"""head
        {total:,} and {d["k"]}"""
        ''')
    total, lookup = [p for p in s.value.parts if isinstance(p, A.FormatField)]
    assert where(total.expr) == (3, 6, 3, 11) and total.spec == (",",)
    assert ast_equal(lookup.expr, A.Index(N("d"), (A.StrLit("k"),)))


def test_fstring_escapes_and_concatenation():
    e = expr(r'"a{" f"\t{x}\N{BULLET}" rf"\n{y}"')
    assert ast_equal(e, A.FString(("a{\t", A.FormatField(N("x"), None), "\u2022\\n",
                                   A.FormatField(N("y"), None))))


# ============================================================ parse_expr

def test_parse_expr_offsets_spans_and_allows_newlines():
    e = parse_expr("a +\n  b[1]", "big.npl", line=10, col=7)
    assert e.span.file == "big.npl"
    assert where(e) == (10, 7, 11, 7)
    assert where(e.right) == (11, 3, 11, 7)


def test_parse_expr_error_position_is_in_the_file():
    with pytest.raises(CompileError) as info:
        parse_expr("a + * b", "big.npl", line=3, col=20)
    d = info.value.diagnostics[0]
    assert (d.code, d.span.line, d.span.col) == ("E001", 3, 24)
    assert "big.npl:3:24: error[E001]: expected an expression, found `*`" in info.value.render()


# ============================================================ unsupported constructs (E018)

E018_CASES = [
    ("class A:\n    pass\n", "`struct", 1, 1),
    ("import os\n", "from module import name", 1, 1),
    ("def f():\n    try:\n        g()\n    except E:\n        pass\n", "no exceptions", 2, 5),
    ("def f():\n    raise ValueError()\n", "return an optional", 2, 5),
    ("def f():\n    with g() as h:\n        pass\n", "context managers", 2, 5),
    ("def f():\n    global total\n", "parameters", 2, 5),
    ("def f():\n    nonlocal total\n", "parameters", 2, 5),
    ("def f():\n    yield 1\n", "build a list", 2, 5),
    ("async def f():\n    pass\n", "coroutines", 1, 1),
    ("def f():\n    await g()\n", "coroutines", 2, 5),
    ("def f():\n    if (n := 10) > 5:\n        pass\n", "walrus", 2, 11),
    ("def f(*args: int):\n    pass\n", "`*args`", 1, 7),
    ("def f(x: int, **kw: int):\n    pass\n", "`**kwargs`", 1, 15),
    ("def f():\n    g(*xs)\n", "argument unpacking", 2, 7),
    ("def f():\n    g(**kw)\n", "argument unpacking", 2, 7),
    ("def f():\n    first, *rest = xs\n", "star-unpacking", 2, 12),
    ("def f():\n    ys = [*xs, 1]\n", "star-unpacking", 2, 11),
    ("def f():\n    del xs[0]\n", "pop", 2, 5),
    ("@cache\ndef f():\n    pass\n", "`@kernel`", 1, 1),
    ("@kernel(parallel=True)\ndef f():\n    pass\n", "no arguments", 1, 1),
    ("def f():\n    x = 1; y = 2\n", "own line", 2, 10),
    ("def f():\n    g = sorted(xs, key=lambda x=1: x)\n", "default values", 2, 31),
    ("def f(x: int = 3):\n    pass\n", "default parameter values", 1, 16),
    ("def f():\n    if x:\n        def g():\n            pass\n", "directly in the function's body",
     3, 9),
    ("def f():\n    for x in xs:\n        pass\n    else:\n        pass\n", "flag variable", 4, 5),
    ("def f():\n    while x:\n        pass\n    else:\n        pass\n", "flag variable", 4, 5),
    ("def f():\n    a = b = 0\n", "chained assignment", 2, 5),
    ("from a.b import c\n", "dotted module", 1, 1),
    ("from a import *\n", "`import *`", 1, 15),
    ("from a import b as c\n", "aliases", 1, 17),
    ("def f():\n    x = a && b\n", "`and`", 2, 11),
    ("def f():\n    x = !a\n", "`not`", 2, 9),
    ("def f():\n    x |= 2\n", "x = x | y", 2, 7),
    ("def f():\n    x = b'raw'\n", "bytes", 2, 9),
    ("def f():\n    x = 2j\n", "complex", 2, 9),
    ("def f():\n    x = a[1:2, 0]\n", "multi-dimensional slicing", 2, 9),
    ("def f():\n    xs[1:3] += ys\n", "augmented assignment to a slice", 2, 5),
    ("def f():\n    a, xs[1:] = t\n", "tuple of targets holding a slice", 2, 8),
    ("def f():\n    d = {**a}\n", "dict unpacking", 2, 10),
    ("struct S:\n    x: int = 0\n", "default values", 2, 14),
    ("struct S:\n    x: int\n    def area(self: S) -> int:\n        return 1\n", "no methods", 3, 5),
    ("def f():\n    match x:\n        case 1:\n            pass\n", "`if`/`elif`", 2, 5),
]


@pytest.mark.parametrize("text, message, line, col", E018_CASES, ids=[c[0][:30] for c in E018_CASES])
def test_unsupported_python_constructs_say_what_to_use(text, message, line, col):
    d = error(text)
    assert d.code == "E018"
    assert message in d.message
    assert (d.span.line, d.span.col) == (line, col)


def test_every_unsupported_construct_is_reported_at_once():
    with pytest.raises(CompileError) as info:
        parse("def f(*a: int, b: int = 1):\n    x, *y = g(**k)\n", "t.npl")
    assert [(d.code, d.span.line, d.span.col) for d in info.value.diagnostics] == [
        ("E018", 1, 7), ("E018", 1, 25), ("E018", 2, 8), ("E018", 2, 15)]


# ============================================================ syntax errors

SYNTAX_CASES = [
    ("def f(x: int) -> int\n    return x\n", "E001", "expected `:`, found end of line", 1, 21),
    ("def f():\n    print(1, 2\n    x = 3\n", "E001", "found name `x`", 3, 5),
    ("def f():\n    print(1, 2\n", "E001", "`(` is never closed", 2, 10),
    ("def f():\n    x = [1, 2)\n", "E001", "`)` does not match the `[` at line 2, column 9", 2, 14),
    ("def f():\n    x = )\n", "E001", "unmatched `)`", 2, 9),
    ("def f():\n    if x = 1:\n        pass\n", "E001", "expected `:`, found `=`", 2, 10),
    ("def f():\n    x = 1 2\n", "E001", "or end of line, found number `2`", 2, 11),
    ("def f(x):\n    pass\n", "E001", "parameter `x` needs a type", 1, 7),
    ("x = 5\n", "E001", "expected a declaration", 1, 1),
    ("def f():\n    f() = 1\n", "E001", "cannot assign to a function call", 2, 5),
    ("def f():\n    g(a=1, 2)\n", "E001", "positional argument cannot follow", 2, 12),
    ("def f():\n    x = ?{}\n", "E001", "empty hole", 2, 9),
    ("def f():\n    x = f'{x!z}'\n", "E001", "`!r` or `!s`", 2, 13),
    ("def f():\n    x = f'a } b'\n", "E001", "single `}`", 2, 13),
    ("def f():\n    x = f'{a +}'\n", "E001", "expected an expression, found the end of the expression", 2, 15),
    ("def f():\n    x = $\n", "E002", "invalid character `$`", 2, 9),
    ("def f():\n    x = 'abc\n", "E002", "unterminated string literal", 2, 9),
    ('def f():\n    x = """abc\n', "E002", "unterminated triple-quoted string", 2, 9),
    ("def f():\n    x = ?{abc\n", "E002", "unterminated hole", 2, 9),
    ("def f():\n    x = 007\n", "E002", "leading zeros", 2, 9),
    ("def f():\n    x = 1abc\n", "E002", "invalid number literal `1abc`", 2, 9),
    ("def f():\n    x = '\\x4'\n", "E002", "truncated `\\x` escape", 2, 10),
    ("def f():\n    x = a ? b\n", "E002", "`?` must start a hole", 2, 11),
    ("def f():\n\tx = 1\n", "E003", "tab in indentation", 2, 1),
    ("def f():\n    x = 1\n  y = 2\n", "E003", "inconsistent dedent", 3, 1),
    ("def f():\n    x = 1\n        y = 2\n", "E003", "unexpected indent", 3, 9),
    ("def f():\nreturn 1\n", "E003", "expected an indented block", 2, 1),
    ("def f() -> int | str:\n    pass\n", "E023", "`T | None`", 1, 12),
]


@pytest.mark.parametrize("text, code, message, line, col", SYNTAX_CASES, ids=[c[2][:40] for c in SYNTAX_CASES])
def test_syntax_errors(text, code, message, line, col):
    d = error(text)
    assert (d.code, d.span.line, d.span.col) == (code, line, col)
    assert message in d.message


def test_unclosed_bracket_note_and_elif_hint():
    d = error("def f():\n    print(1, 2\n    x = 3\n")
    assert d.notes == ("the `(` at line 2, column 10 is not closed",)
    d = error("def f():\n    if a:\n        pass\n    else if b:\n        pass\n")
    assert "write `elif` instead of `else if`" in d.notes


def test_error_rendering_has_location_line_and_caret():
    with pytest.raises(CompileError) as info:
        parse("def f(x: int) -> int\n    return x\n", "prog.npl")
    assert info.value.render() == (
        "prog.npl:1:21: error[E001]: expected `:`, found end of line\n"
        "    def f(x: int) -> int\n"
        "                        ^")


def test_empty_and_comment_only_files():
    assert parse("", "t.npl").decls == ()
    assert parse("# nothing\n\n   # here\n", "t.npl").decls == ()


def test_match_is_only_flagged_as_a_statement():
    d = error("def f():\n    x = match y\n")
    assert d.code == "E001" and "found name `y`" in d.message


# ============================================================ limits

@pytest.mark.parametrize("text", ["-" * 5000 + "x", " + ".join(["a"] * 1000), "not " * 500 + "x",
                                  "a" + ".b" * 300, "x if c else " * 300 + "y"])
def test_pathological_nesting_is_an_error_not_a_crash(text):
    with pytest.raises(CompileError) as info:
        parse_expr(text, "t.npl")
    assert info.value.diagnostics[0].code == "E001"
    assert "nested too deeply" in info.value.diagnostics[0].message


def test_reasonable_nesting_is_fine():
    assert isinstance(parse_expr(" + ".join(["a"] * 150), "t.npl"), A.BinOp)


def test_too_many_brackets_and_indentation_levels():
    with pytest.raises(CompileError, match="too many nested brackets"):
        parse_expr("(" * 300 + "x" + ")" * 300, "t.npl")
    deep = "def f():\n" + "".join(" " * i + "if x:\n" for i in range(1, 120)) + " " * 120 + "pass\n"
    with pytest.raises(CompileError, match="too many levels of indentation"):
        parse(deep, "t.npl")


# ============================================================ parser tables cache

def test_parser_tables_are_cached_on_disk_and_rebuilt_when_corrupt(tmp_path, monkeypatch):
    import lark
    import npl.lang.parser as P

    builds = []

    class CountingLark(lark.Lark):
        def __init__(self, *args, **kwargs):
            builds.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(P, "Lark", CountingLark)
    built = P._load_or_build()
    (cache,) = (tmp_path / "npl").iterdir()
    loaded = P._load_or_build()
    assert len(builds) == 1
    text = (ROOT / "tests" / "spec" / "types" / "strings.npl").read_text()
    assert built.parse(P._Source(text, "s.npl"), start="module") == \
        loaded.parse(P._Source(text, "s.npl"), start="module")
    cache.write_bytes(b"not a pickle")
    P._load_or_build()
    assert len(builds) == 2 and cache.read_bytes() != b"not a pickle"
