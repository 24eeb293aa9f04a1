"""One error hierarchy (lang/errors.py): every error a user can cause is an
NplError of one kind, with the exit status of that kind; errors are told
apart with `isinstance` and typed fields, never by a class's name or an
exception's message text.

The scan below reads the code folders' Python source (ast, not regexes over
lines) and fails on
  * a class-name comparison: `type(x).__name__ == ...`, `x.__class__.__name__
    in (...)`, a name assigned from one and compared later, or a string naming
    one of NPL's classes (or a built-in exception) compared with anything;
  * message-text classification: `"..." in str(exc)`, `str(exc).startswith`,
    a comparison with `exc.args[...]`/`exc.message` or with a name assigned
    from those, where `exc` is bound by `except ... as exc` or is a parameter
    annotated as an exception; and `"..." in x.feedback`, `x.message.startswith(...)`
    (the texts a check or a test result carries).
Its own tests check that it catches each of the forms removed from the code.
"""
from __future__ import annotations

import ast
import builtins
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CODE_FOLDERS = ("lang", "compiler", "runtime", "stdlib", "filling", "npl")

# Foreign exceptions whose text is the only information they carry, turned
# into NPL's typed errors in one place each: (file, function) -> why.
ALLOWED = {
    ("runtime/jitcache.py", "is_dispatch_error"):
        "Numba's dispatcher refuses arguments with a plain TypeError/ValueError/OverflowError "
        "whose message is all that tells it from a failure inside compiled code",
}

_TEXT_METHODS = {"startswith", "endswith", "find", "rfind", "index", "rindex", "count"}
_NAME_ATTRS = {"__name__", "__qualname__", "__module__"}
_CARRIED_TEXTS = {"feedback", "message"}


def npl_class_names() -> set[str]:
    names = {n for n, v in vars(builtins).items() if isinstance(v, type) and
             issubclass(v, BaseException)}
    for folder in CODE_FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    names.add(node.name)
    return names


def _has_str(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Constant) and isinstance(n.value, str) for n in ast.walk(node))


def _is_class_name(node: ast.AST) -> bool:
    """`type(x).__name__`, `x.__class__.__name__`, `cls.__qualname__`."""
    return isinstance(node, ast.Attribute) and node.attr in _NAME_ATTRS and not (
        isinstance(node.value, ast.Name) and node.value.id in ("__main__",))


class _Scanner(ast.NodeVisitor):
    """Finds class-name comparisons and message-text classification in one
    module; `found` lists (line, what)."""

    def __init__(self, class_names: set[str]):
        self.class_names = class_names
        self.found: list[tuple[int, str]] = []
        self.exceptions: list[set[str]] = [set()]    # per function: names bound to exceptions
        self.texts: list[set[str]] = [set()]         # per function: names holding their text
        self.names: list[set[str]] = [set()]         # per function: names holding a class name
        self.lazy: list[bool] = [False]              # in a module's __getattr__ (lazy exports)

    # -------------------------------------------------------------- scopes
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        excs = set()
        for arg in node.args.args + node.args.kwonlyargs + node.args.posonlyargs:
            note = ast.unparse(arg.annotation) if arg.annotation is not None else ""
            if note.strip("'\"").endswith(("Error", "Exception", "BaseException")):
                excs.add(arg.arg)
        self.exceptions.append(excs)
        self.texts.append(set())
        self.names.append(set())
        self.lazy.append(node.name == "__getattr__")
        self.generic_visit(node)
        self.exceptions.pop()
        self.texts.pop()
        self.names.pop()
        self.lazy.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.exceptions[-1].add(node.name)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                if self.is_text(node.value):
                    self.texts[-1].add(target.id)
                if any(_is_class_name(n) for n in ast.walk(node.value)):
                    self.names[-1].add(target.id)
        self.generic_visit(node)

    # -------------------------------------------------------------- what is what
    def is_exception(self, node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and node.id in self.exceptions[-1]

    def is_text(self, node: ast.AST) -> bool:
        """An exception's message: str(e), repr(e), e.args..., e.message,
        or a name assigned from one of them."""
        for n in ast.walk(node):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and \
                    n.func.id in ("str", "repr", "format") and n.args and self.is_exception(n.args[0]):
                return True
            if isinstance(n, ast.Attribute) and n.attr in ("args", "message", "msg", "strerror") \
                    and self.is_exception(n.value):
                return True
            if isinstance(n, ast.Name) and n.id in self.texts[-1]:
                return True
        return False

    def is_name(self, node: ast.AST) -> bool:
        return any(_is_class_name(n) or (isinstance(n, ast.Name) and n.id in self.names[-1])
                   for n in ast.walk(node))

    def names_a_class(self, node: ast.AST) -> bool:
        return any(isinstance(n, ast.Constant) and n.value in self.class_names
                   for n in ast.walk(node))

    # -------------------------------------------------------------- findings
    def visit_Compare(self, node: ast.Compare) -> None:
        sides = [node.left, *node.comparators]
        if any(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)) for op in node.ops):
            if any(self.is_name(s) for s in sides):
                self.found.append((node.lineno, "a class's name compared"))
            elif not self.lazy[-1] and any(self.names_a_class(s) for s in sides):
                self.found.append((node.lineno, "a string naming a class compared"))
            elif any(self.is_text(s) for s in sides) and (
                    any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops)
                    or any(_has_str(s) for s in sides if not self.is_text(s))):
                self.found.append((node.lineno, "an exception's message text compared"))
            elif any(isinstance(s, ast.Attribute) and s.attr in _CARRIED_TEXTS for s in sides) \
                    and any(isinstance(s, ast.Constant) and isinstance(s.value, str) for s in sides):
                self.found.append((node.lineno, "a carried error text searched"))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _TEXT_METHODS and self.is_name(func.value):
            self.found.append((node.lineno, f"a class's name .{func.attr}()"))
        elif isinstance(func, ast.Attribute) and func.attr in _TEXT_METHODS and self.is_text(func.value):
            self.found.append((node.lineno, f"an exception's message text .{func.attr}()"))
        elif isinstance(func, ast.Attribute) and func.attr in _TEXT_METHODS \
                and isinstance(func.value, ast.Attribute) and func.value.attr in _CARRIED_TEXTS:
            self.found.append((node.lineno, f"a carried error text .{func.attr}()"))
        if isinstance(func, ast.Attribute) and func.attr in ("search", "match", "fullmatch") \
                and any(self.is_text(a) for a in node.args):
            self.found.append((node.lineno, "an exception's message text matched"))
        self.generic_visit(node)


def scan_source(source: str, class_names: set[str]) -> list[tuple[int, str, str]]:
    """(line, enclosing function, what) for each finding in `source`."""
    tree = ast.parse(source)
    scanner = _Scanner(class_names)
    scanner.visit(tree)
    owners: dict[int, str] = {}
    for fn in ast.walk(tree):           # outer functions first: the innermost one wins
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for line in range(fn.lineno, (fn.end_lineno or fn.lineno) + 1):
                owners[line] = fn.name
    return [(line, owners.get(line, "<module>"), what) for line, what in scanner.found]


@pytest.fixture(scope="module")
def class_names() -> set[str]:
    return npl_class_names()


def test_no_error_is_classified_by_class_name_or_message_text(class_names):
    problems = []
    for folder in CODE_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for line, owner, what in scan_source(path.read_text(encoding="utf-8"), class_names):
                if (rel, owner) not in ALLOWED:
                    problems.append(f"{rel}:{line} ({owner}): {what}")
    assert not problems, "use isinstance or a typed field instead:\n" + "\n".join(problems)


# ---------------------------------------------------------------- the scan's own tests

@pytest.mark.parametrize("snippet", [
    # the forms this change removed
    "def report(exc: Exception):\n    kind = type(exc).__name__\n    if kind == 'LockFileError':\n"
    "        pass\n",
    "def f(exc):\n    kind = type(exc).__name__\n    if kind in ('DeviceError', 'SourceFileError'):\n"
    "        pass\n",
    "def f(e, t):\n    if e.op == '-' and t.__class__.__name__ == 'SetT':\n        pass\n",
    "def f(sym):\n    return type(sym).__name__ == 'ConstInfo'\n",
    "def f(spec):\n    return [t for t in spec.tests if type(t.decl).__name__ == 'Example']\n",
    "def f(verdict):\n    return {'retire': 'out of memory' in verdict.feedback}\n",
    "def f(first):\n    return 'step limit exceeded' in first.message\n",
    "def f(verdict):\n    return verdict.feedback.startswith(('It fails the example',))\n",
    "def classify(exc: BaseException):\n    text = str(exc)\n    if 'NoneType' in text:\n"
    "        return 'none'\n",
    "def f(exc: BaseException):\n    text = str(exc)\n    return text.startswith('(34')\n",
    "def f(exc: KeyError):\n    key = exc.args[0]\n    return key.startswith('pop from an empty')\n",
    # and a few more
    "try:\n    pass\nexcept Exception as err:\n    if 'out of memory' in str(err):\n        pass\n",
    "def f():\n    try:\n        pass\n    except OSError as e:\n        return e.strerror == 'x'\n",
    "def f(x):\n    return x.__class__.__qualname__ != 'ArrayT'\n",
    "def f(kind):\n    return kind == 'ProviderError'\n",
    "def f(v):\n    return type(v).__module__.startswith('torch')\n",
])
def test_the_scan_catches_name_and_text_classification(snippet, class_names):
    assert scan_source(snippet, class_names), snippet


@pytest.mark.parametrize("snippet", [
    "if __name__ == '__main__':\n    main()\n",
    "def __getattr__(name):\n    if name == 'CompileError':\n        return 1\n",
    "def f(self, e):\n    return getattr(self, 'x_' + type(e).__name__)(e)\n",
    "def f(exc):\n    raise ValueError(f'cannot store a {type(exc).__name__}: {exc}')\n",
    "def f(exc: Exception):\n    return isinstance(exc, KeyError) and exc.args[0] is None\n",
    "def f(text: str):\n    return 'x' in text\n",
    "def f(err):\n    return err.kind in ('memory', 'step_limit')\n",
    "def f(exc: OverflowError):\n    return exc.args[:1] == (errno.ERANGE,)\n",
])
def test_the_scan_leaves_dispatch_and_messages_alone(snippet, class_names):
    assert not scan_source(snippet, class_names), snippet


# ---------------------------------------------------------------- the hierarchy

def _classes():
    from npl.api import NplTypeError
    from npl.compiler.driver import InternalCompilerError
    from npl.filling.filler import FillFailedError, UnknownHoleError
    from npl.filling.library import LibraryError
    from npl.filling.lockfile import LockFileError
    from npl.filling.providers.base import ProviderError
    from npl.filling.providers.pricing import PricingError
    from npl.fmt import FormatError
    from npl.lang import errors as E
    from npl.lang.diagnostics import CompileError
    from npl.project import SourceFileError
    from npl.runtime.codegen import CodegenError
    from npl.runtime.cuda import DeviceError
    from npl.runtime.errors import NplRuntimeError
    # class, its kind, its exit status, the Python base callers rely on
    return [
        (CompileError, E.CompileKind, 2, None),
        (NplRuntimeError, E.RunKind, 1, None),
        (FillFailedError, E.FillKind, 1, None),
        (ProviderError, E.ProviderKind, 1, None),
        (LockFileError, E.LockKind, 2, None),
        (LibraryError, E.LockKind, 2, None),
        (DeviceError, E.ConfigKind, 2, None),
        (SourceFileError, E.ConfigKind, 2, OSError),
        (UnknownHoleError, E.ConfigKind, 2, ValueError),
        (PricingError, E.ConfigKind, 2, ValueError),
        (NplTypeError, E.ConfigKind, 2, TypeError),
        (InternalCompilerError, E.InternalError, 3, None),
        (CodegenError, E.InternalError, 3, None),
        (FormatError, E.InternalError, 3, None),
    ]


@pytest.mark.parametrize("cls, kind, status, base", _classes(), ids=lambda v: getattr(v, "__name__", str(v)))
def test_each_user_facing_error_has_a_kind_and_its_exit_status(cls, kind, status, base):
    from npl.lang.errors import NplError
    assert issubclass(cls, kind) and issubclass(cls, NplError)
    assert cls.exit_code == status
    if base is not None:
        assert issubclass(cls, base)


def test_the_embedding_api_names_the_root():
    import npl
    from npl.lang.errors import NplError
    assert npl.NplError is NplError
    assert all(issubclass(getattr(npl, n), NplError)
               for n in ("CompileError", "NplRuntimeError", "NplTypeError", "SourceFileError"))


def test_exit_codes_match_docs_security():
    """docs/security.md's table gives each kind of lang/errors.py the exit
    status the kind has, and lists every status lang/errors.py defines."""
    import re

    from npl.lang import errors as E
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \| ([^|]*)\|", text, re.MULTILINE)
    documented = {int(status): re.findall(r"`(\w+)`", kinds) for status, kinds in rows}
    assert set(documented) == {E.EXIT_OK, E.EXIT_FAILED, E.EXIT_BAD_INPUT, E.EXIT_INTERNAL,
                               E.EXIT_INTERRUPTED}
    kinds = {c.__name__: c for c in vars(E).values()
             if isinstance(c, type) and issubclass(c, E.NplError) and c is not E.NplError}
    assert sorted(k for names in documented.values() for k in names) == sorted(kinds)
    for status, names in documented.items():
        for name in names:
            assert kinds[name].exit_code == status, name


def test_report_prints_each_kind_and_returns_its_status(capsys, monkeypatch):
    from npl.filling.providers.base import ProviderError
    from npl.lang.ast import Span
    from npl.lang.diagnostics import CompileError, Diagnostic
    from npl.report import report
    from npl.runtime.errors import NplRuntimeError
    monkeypatch.delenv("NPL_DEBUG", raising=False)
    diag = Diagnostic("E010", "undefined name 'x'", Span("p.npl", 1, 1, 1, 2))
    assert report(CompileError([diag], {"p.npl": "x\n"})) == 2
    assert capsys.readouterr().err.endswith("^\n1 error\n")
    assert report(NplRuntimeError("index", "index out of range")) == 1
    assert capsys.readouterr().err == "error: index out of range\n"
    assert report(ProviderError("openai/m", "network", "down")) == 1
    assert capsys.readouterr().err == "npl: error: openai/m: network: down\n"
    assert report(KeyboardInterrupt()) == 130
    assert capsys.readouterr().err == "npl: interrupted\n"
    assert report(ZeroDivisionError("boom")) == 3
    assert capsys.readouterr().err.startswith("npl: internal error: ZeroDivisionError: boom\n")
    monkeypatch.setenv("NPL_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        report(ZeroDivisionError("boom"))


def test_report_stays_light():
    """npl/fast.py's start path imports npl/report.py: no click, no compiler."""
    code = ("import sys, npl.report; bad = [m for m in ('click', 'npl.compiler', 'npl.runtime', "
            "'npl.filling') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(ROOT.parent))
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- the command line

def _npl(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    from conftest import npl_command
    return subprocess.run(npl_command() + args, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "NPL_RUN_CACHE": "off", **(env or {})}, timeout=120)


HOLE = 'def double(n: int) -> int:\n    """Twice n."""\n    ...\n\ndef main():\n    print(double(2))\n'


@pytest.mark.parametrize("case, program, args, status, message", [pytest.param(*c, id=c[0]) for c in [
    ("compile", "def main():\n    print(x)\n", ["run"], 2, "error[E010]"),
    ("run-time", "def main():\n    xs: list[int] = []\n    print(xs[1])\n", ["run"], 1,
     "error: index out of range: list index 1, length 0\n  in main (p.npl:3)"),
    ("bad lock", "def main():\n    print(1)\n", ["run"], 2, "p.npl.lock:1:"),
    ("unknown --refresh hole", HOLE, ["fill", "--refresh", "nosuch"], 2,
     "npl: error: no hole named 'nosuch' in p.npl"),
    ("provider", HOLE, ["fill", "--model", "bogus/m"], 1,
     "npl: error: bogus/m: config: unknown provider"),
]])
def test_the_command_line_exits_with_the_status_of_the_error_kind(tmp_path, case, program, args,
                                                                    status, message):
    (tmp_path / "p.npl").write_text(program)
    if case == "bad lock":
        (tmp_path / "p.npl.lock").write_text("version = [\n")
    r = _npl(args[:1] + ["p.npl"] + args[1:], tmp_path)
    assert r.returncode == status, (r.stdout, r.stderr)
    assert message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr


def test_output_closed_by_the_reader_is_a_plain_run_time_error(tmp_path):
    """`npl run PROG.npl | head -1`: the pipe closes while the program
    prints; that is said as it is, not as an internal error."""
    from conftest import npl_command
    (tmp_path / "p.npl").write_text("def main():\n    for i in range(200000):\n        print(i)\n")
    run = subprocess.Popen(npl_command() + ["run", "p.npl"], cwd=tmp_path, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env={**os.environ, "NPL_RUN_CACHE": "off"})
    assert run.stdout.readline() == b"0\n"
    run.stdout.close()                                  # the reader stops, as head does
    err = run.stderr.read().decode()
    assert run.wait(timeout=120) == 1
    assert "error: standard output was closed before the program ended" in err
    assert "in main (p.npl:3)" in err and "please report" not in err and "Traceback" not in err
