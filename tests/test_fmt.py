"""`npl fmt` (npl/fmt.py): same program, canonical layout, comments kept.

Round trip on every conformance program and on the project's spec and
example programs (format, parse, compare trees with ast_equal; format again,
same text), exact layouts for the conventions the module documents, comment
placement, the safety check, lock-file re-keying, and the CLI's --check.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, SHARED, npl_command
from npl.fmt import FormatError, Formatter, format_source, main_fmt
from npl.fmt_layout import SourceText
from npl.lang.ast import ast_equal
from npl.lang.diagnostics import CompileError
from npl.lang.parser import parse

PROGRAMS = sorted((SHARED / "conformance").glob("*.npl")) + \
    sorted((ROOT / "tests" / "spec").glob("**/*.npl")) + sorted((ROOT / "examples").glob("**/*.npl"))


def roundtrip(source: str, path: str = "t.npl") -> str:
    out = format_source(source, path)
    assert ast_equal(parse(source, path), parse(out, path))
    assert format_source(out, path) == out, "formatting is not idempotent"
    return out


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_programs_round_trip(program: Path):
    source = program.read_text(encoding="utf-8")
    try:
        parse(source, str(program))
    except CompileError:
        pytest.skip("a program with a syntax error (formatting needs a parse tree)")
    out = roundtrip(source, str(program))
    comments = sorted(c.text for c in SourceText(source).comments)
    assert sorted(c.text for c in SourceText(out).comments) == comments


@pytest.mark.parametrize("program", sorted((ROOT / "examples").glob("*.npl")) + sorted(
    (ROOT / "bench").glob("**/*.npl")), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_projects_own_programs_are_formatted(program: Path):
    """examples/ and bench/ are written as `npl fmt` writes (the spec tests
    keep their layouts on purpose)."""
    text = program.read_text(encoding="utf-8")
    assert format_source(text, str(program)) == text, f"run: npl fmt {program.relative_to(ROOT)}"


@pytest.mark.skipif(not (SHARED / "conformance").is_dir(),
                    reason=f"no conformance suite at {SHARED / 'conformance'}")
def test_conformance_suite_is_present():
    assert len([p for p in PROGRAMS if "conformance" in str(p)]) >= 15


MESSY = '''\
# file comment
from shapes import Circle,area   # import comment


const  G:float=6.674e-11 # gravity
const N = 1_000
struct Point:
    """A point."""
    x : float  # the x
    # about y
    y: float
struct Empty:
    pass
@kernel
def norm(p: Point)->float:
    return sqrt(p.x*p.x+p.y * p.y)   # pythagoras
example norm(Point(3.0,4.0))==5.0
example norm(Point(0.0, 0.0)) == 0.0
property nonneg(p: Point): norm(p)>=0.0
def count(s: str) -> int:
    """Count the vowels,
       in either case."""
    ...
def f(xs: list[float], k: int) -> float:
    total = sum(xs)  


    y = [1,
         2,  # two
         3]
    z = {"a": -x ** 2, 'b': (-x) ** 2, "c": 2 ** -1, "d": (a ** b) ** c}
    w = (a - (b - c)) - d
    v = not (a and b) or c and (d or e)
    s = ("abc"
         "def")
    h = ?{each element of xs
          divided by total}
    if x > 1:
        return 1
    elif x > 0:  # elif comment
        return 2
    else:
        if x < -1:
            return 3
        # inside the else
    # before the loop
    for (i, x) in enumerate(xs):
        pass
    return (a, b)
'''

MESSY_FORMATTED = '''\
# file comment
from shapes import Circle, area  # import comment

const G: float = 6.674e-11  # gravity
const N = 1_000

struct Point:
    """A point."""
    x: float  # the x
    # about y
    y: float

struct Empty:
    pass

@kernel
def norm(p: Point) -> float:
    return sqrt(p.x * p.x + p.y * p.y)  # pythagoras

example norm(Point(3.0, 4.0)) == 5.0
example norm(Point(0.0, 0.0)) == 0.0

property nonneg(p: Point):
    norm(p) >= 0.0

def count(s: str) -> int:
    """Count the vowels,
       in either case."""
    ...

def f(xs: list[float], k: int) -> float:
    total = sum(xs)

    y = [
        1,
        2,  # two
        3,
    ]
    z = {"a": -x ** 2, 'b': (-x) ** 2, "c": 2 ** -1, "d": (a ** b) ** c}
    w = a - (b - c) - d
    v = not (a and b) or c and (d or e)
    s = ("abc"
         "def")
    h = ?{each element of xs
          divided by total}
    if x > 1:
        return 1
    elif x > 0:  # elif comment
        return 2
    else:
        if x < -1:
            return 3
        # inside the else
    # before the loop
    for i, x in enumerate(xs):
        pass
    return (a, b)
'''


def test_canonical_layout():
    assert roundtrip(MESSY) == MESSY_FORMATTED


def test_a_nested_function_is_laid_out_at_its_depth():
    src = ("def f(n: int) -> int:\n    k=2\n    def g(x:int)->int:\n"
           "            \"\"\"Scaled.\"\"\"\n            return x*k\n    return g(n)\n")
    assert roundtrip(src) == ("def f(n: int) -> int:\n    k = 2\n    def g(x: int) -> int:\n"
                              "        \"\"\"Scaled.\"\"\"\n        return x * k\n    return g(n)\n")


def test_long_lines_break_at_brackets():
    src = ("def long_function_name(first_argument: list[float], second_argument: dict[str, int],"
           " third: int) -> float:\n"
           "    r = some_function(first_argument, second_argument, third, another_argument, more_args)\n"
           "    return g(aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbbbbbbbb, cccccccccccccccccccccccccccc, "
           "ddddddddddddddddddddddd, eeeeeeeeeeeeeee)\n")
    assert roundtrip(src) == (
        "def long_function_name(\n"
        "    first_argument: list[float], second_argument: dict[str, int], third: int\n"
        ") -> float:\n"
        "    r = some_function(\n"
        "        first_argument, second_argument, third, another_argument, more_args\n"
        "    )\n"
        "    return g(\n"
        "        aaaaaaaaaaaaaaaa,\n"
        "        bbbbbbbbbbbbbbbbbbbbbbbbbb,\n"
        "        cccccccccccccccccccccccccccc,\n"
        "        ddddddddddddddddddddddd,\n"
        "        eeeeeeeeeeeeeee,\n"
        "    )\n")
    assert all(len(line) <= 88 for line in roundtrip(src).splitlines())


def test_a_break_that_cannot_make_the_line_fit_is_not_made():
    """`a[i] = ?{...}`: the hole cannot be broken, and breaking `[i]` would
    leave the long part on the last line anyway, so the line stays whole."""
    hole = "?{" + "the value reflected upward keeping ninety percent of its speed " * 2 + "}"
    src = f"def f(vel: list[float], i: int):\n    vel[i] = {hole}\n"
    assert roundtrip(src) == src
    long_call = 'def f():\n    print("' + "x" * 90 + '")\n'
    assert roundtrip(long_call) == 'def f():\n    print(\n        "' + "x" * 90 + '",\n    )\n'


def test_magic_trailing_comma_keeps_a_list_broken():
    src = "def main():\n    xs = [1, 2,]\n    print(f(a,), g(b))\n"
    assert roundtrip(src) == ("def main():\n    xs = [\n        1,\n        2,\n    ]\n"
                              "    print(\n        f(\n            a,\n        ),\n        g(b),\n    )\n")


def test_strings_numbers_and_holes_stay_verbatim():
    src = ("def main():\n    print('single', \"dou\\tble\", r'\\d+', f'{x!r:>{w}}', 0x1F, 1_000, 1e-3, .5)\n"
           "    s = '''tri\n  ple'''\n    y: int = ?{  a hole { with braces }  # not a comment\n   }\n")
    out = roundtrip(src)
    for token in ("'single'", '"dou\\tble"', "r'\\d+'", "f'{x!r:>{w}}'", "0x1F", "1_000", "1e-3",
                  ".5", "'''tri\n  ple'''", "?{  a hole { with braces }  # not a comment\n   }"):
        assert token in out


def test_comments_are_all_kept_in_place():
    src = ("def f(\n    a: int,  # first\n    # about b\n    b: int,\n) -> int:  # header\n"
           "    # leading\n    x = call(  # opener\n        a,\n        b,  # bee\n        # end of args\n"
           "    )  # closer\n    if x:\n        pass\n        # deep tail\n    # shallow\n"
           "    return x\n    # tail of f\n\n# between\ndef g():\n    pass\n# eof\n")
    out = roundtrip(src)
    lines = out.splitlines()
    assert "    a: int,  # first" in lines
    assert lines[lines.index("    # about b") + 1] == "    b: int,"
    assert ") -> int:  # header" in lines
    assert lines[lines.index("    # leading") + 1].startswith("    x = call(")
    assert "        b,  # bee" in lines and "        # end of args" in lines
    assert "    )  # closer" in lines
    assert lines[lines.index("        # deep tail") - 1] == "        pass"
    assert lines[lines.index("    # shallow") + 1] == "    return x"
    assert lines[lines.index("    # tail of f") - 1] == "    return x"
    assert lines[lines.index("# between") + 1] == "def g():"
    assert lines[-1] == "# eof"
    assert sorted(c.text for c in SourceText(out).comments) == \
        sorted(c.text for c in SourceText(src).comments)


def test_crlf_and_comment_only_files():
    assert roundtrip("def main():\r\n    print(1)  # x\r\n") == "def main():\n    print(1)  # x\n"
    assert roundtrip("# a\n\n\n\n# b\n") == "# a\n\n# b\n"
    assert roundtrip("") == ""


def test_precedence_parentheses_are_exactly_the_needed_ones():
    cases = {
        "(a + b) * c": "(a + b) * c", "a + (b * c)": "a + b * c", "(a - b) - c": "a - b - c",
        "a - (b - c)": "a - (b - c)", "(a or b) or c": "(a or b) or c", "-(x ** 2)": "-x ** 2",
        "(-x) ** 2": "(-x) ** 2", "a ** (b ** c)": "a ** b ** c", "(a ** b) ** c": "(a ** b) ** c",
        "(a < b) == c": "(a < b) == c", "not (a == b)": "not a == b",
        "(lambda v: v)(1)": "(lambda v: v)(1)", "(a if b else c).x": "(a if b else c).x",
        "[x for x in (a if b else c)]": "[x for x in (a if b else c)]", "(1).real": "(1).real",
    }
    for src, want in cases.items():
        out = roundtrip(f"def main():\n    y = {src}\n")
        assert out == f"def main():\n    y = {want}\n", src


def test_a_broken_result_is_refused(monkeypatch):
    monkeypatch.setattr(Formatter, "format", lambda self: "def main():\n    print(2)\n")
    with pytest.raises(FormatError, match="change the program"):
        format_source("def main():\n    print(1)\n")
    monkeypatch.setattr(Formatter, "format", lambda self: "def main():\n    print(1)\n")
    with pytest.raises(FormatError, match="lose a comment"):
        format_source("def main():\n    print(1)  # keep me\n")


def test_syntax_error_is_a_compile_error():
    with pytest.raises(CompileError):
        format_source("def main(:\n    pass\n")


def lock_one_fill(prog: Path):
    from npl.compiler.driver import compile
    from npl.filling.lockfile import LockEntry, Provenance, lock_path_for, update_lock
    spec = compile(prog.read_text(), str(prog)).holes[0]
    entry = LockEntry(spec.key, spec.name, spec.kind, spec.location, spec.description,
                      spec.signature, "def double(x: int) -> int:\n    return x * 2\n",
                      Provenance(source="synth"))
    update_lock(lock_path_for(prog), lambda entries: entries.__setitem__(entry.key, entry))
    return spec


def formatted_lock_state(prog: Path):
    from npl.compiler.driver import compile
    from npl.filling.lockfile import LockFile, lock_path_for
    lock = LockFile.load(lock_path_for(prog))
    comp = compile(prog.read_text(), str(prog), fills={k: e.fill for k, e in lock.entries.items()})
    return comp, lock


def test_respacing_an_example_keeps_the_hole_key(tmp_path):
    prog = tmp_path / "p.npl"
    prog.write_text('def double(x: int) -> int:\n    """Twice x."""\n    ...\n'
                    "example double(2)==4\n")
    spec = lock_one_fill(prog)
    assert main_fmt([str(prog)], check=False, echo=lambda *a, **k: None) == 0
    assert "example double(2) == 4\n" in prog.read_text()
    comp, lock = formatted_lock_state(prog)
    assert comp.holes[0].key == spec.key and spec.key in comp.filled
    assert list(lock.entries) == [spec.key] and not lock.tampered


def test_formatting_rekeys_the_lock_file_when_an_example_changes_shape(tmp_path):
    prog = tmp_path / "p.npl"
    prog.write_text('def double(x: int) -> int:\n    """Twice x."""\n    ...\n'
                    "example double((2)) == 4\n")
    spec = lock_one_fill(prog)
    assert main_fmt([str(prog)], check=False, echo=lambda *a, **k: None) == 0
    assert "example double(2) == 4\n" in prog.read_text()       # redundant parentheses dropped
    comp, lock = formatted_lock_state(prog)
    assert comp.holes[0].key != spec.key and comp.holes[0].key in comp.filled
    assert list(lock.entries) == [comp.holes[0].key] and not lock.tampered


def run_fmt(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(npl_command() + ["fmt", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_cli_check_and_rewrite(tmp_path):
    good = tmp_path / "good.npl"
    bad = tmp_path / "bad.npl"
    broken = tmp_path / "broken.npl"
    good.write_text("def main():\n    print(1 + 2)\n")
    bad.write_text("def main():\n    print(1+2)  # sum\n")
    broken.write_text("def main(:\n")
    r = run_fmt("--check", "good.npl", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run_fmt("--check", "good.npl", "bad.npl", cwd=tmp_path)
    assert r.returncode == 1
    assert "would reformat bad.npl" in r.stdout and "good.npl" not in r.stdout
    assert bad.read_text() == "def main():\n    print(1+2)  # sum\n"
    r = run_fmt("bad.npl", cwd=tmp_path)
    assert r.returncode == 0 and "reformatted bad.npl" in r.stdout
    assert bad.read_text() == "def main():\n    print(1 + 2)  # sum\n"
    assert run_fmt("--check", "bad.npl", cwd=tmp_path).returncode == 0
    r = run_fmt("--check", "broken.npl", cwd=tmp_path)
    assert r.returncode == 2 and "broken.npl:1:10" in r.stderr and "E001" in r.stderr
    assert broken.read_text() == "def main(:\n"
    broken.unlink()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.npl").write_text("def main():\n    print(2*3)\n")
    r = run_fmt("--check", ".", cwd=tmp_path)          # a folder: the .npl files under it
    assert r.returncode == 1 and r.stdout.splitlines() == [f"would reformat {Path('sub/deep.npl')}"]


def _expressions():
    from hypothesis import strategies as st
    atoms = st.sampled_from(["a", "b", "1", "2.5", "0x1f", "'s'", '"t"', "xs[0]", "f(a)", "None",
                             "True", "?{a hole}", "p.x", "-1"])
    binary = ["+", "-", "*", "/", "//", "%", "**", "|", "&", "^", "<", "==", "!=", "in", "not in",
              "is", "is not", "and", "or"]

    def compound(inner):
        two = st.tuples(inner, inner)
        return st.one_of(
            st.builds(lambda l, op, r: f"{l} {op} {r}", inner, st.sampled_from(binary), inner),
            inner.map(lambda x: f"({x})"),
            inner.map(lambda x: f"-{x}"),
            inner.map(lambda x: f"(not {x})"),
            st.builds(lambda a, b, c: f"{a} if {b} else {c}", inner, inner, inner),
            inner.map(lambda x: f"(lambda v: {x})"),
            two.map(lambda t: f"g({t[0]}, k={t[1]})"),
            inner.map(lambda x: f"({x})[{x}]"),
            inner.map(lambda x: f"({x}).real"),
            two.map(lambda t: f"[{t[0]}, {t[1]}]"),
            two.map(lambda t: f"({t[0]}, {t[1]})"),
            two.map(lambda t: f"xs[{t[0]}:{t[1]}]"),
            two.map(lambda t: f"[v for v in {t[0]} if {t[1]}]"),
            two.map(lambda t: f"{{{t[0]}: {t[1]}}}"),
            inner.map(lambda x: f"sum(v for v in {x})"),
        )
    return st.recursive(atoms, compound, max_leaves=10)


def test_random_expressions_round_trip():
    """Operators, redundant parentheses and nesting in every combination the
    grammar allows: the output is the same tree (format_source checks that)
    and formatting it again changes nothing."""
    from hypothesis import assume, given, settings

    @settings(max_examples=300)
    @given(_expressions())
    def check(expr):
        source = f"def main():\n    y = {expr}\n    return y\n"
        try:
            parse(source, "t.npl")
        except CompileError:
            assume(False)
        roundtrip(source)

    check()


def test_decorators_keep_their_names():
    from npl.fmt import format_source
    source = ('@oracle\ndef f(x: int) -> int:\n    """d"""\n    ...\n\n\n'
              '@kernel\ndef g(x: int) -> int:\n    return x\n')
    out = format_source(source, "d.npl")
    assert out.startswith("@oracle\ndef f(") and "\n@kernel\ndef g(" in out, out
