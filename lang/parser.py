"""NPL parser: source text in, `npl.lang.ast.Module` (or one `Expr`) out.

`parse(source, path)` reads one .npl file; `parse_expr(text, path, line,
col)` reads one expression that sits at line:col of a bigger file (a fill,
an f-string field). Both raise CompileError with E001 (syntax), E002 (bad
token), E003 (indentation), E018 (a Python construct NPL lacks, saying what
to write instead) or E023 (bad type expression).

Three stages; Lark trees and tokens never leave these modules:
  1. lang/lexer.py's NplLexer (a Lark custom lexer) turns text into tokens:
     indentation, holes, whole string literals, soft keywords.
  2. The Lark LALR parser built here from grammar.lark makes a parse tree.
     The tables are built once per process and cached on disk between runs.
  3. _Builder, a non-recursive Lark transformer, turns the tree into AST
     nodes and rejects what NPL lacks; lang/literals.py decodes numbers,
     strings and f-strings for it.
This module also words syntax errors: what the parser could accept at the
failing token, in words, with hints for common Python habits.
"""
from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Optional

import lark
from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import UnexpectedInput

from . import ast as A
from .diagnostics import CompileError, Diagnostic
from .fileio import atomic_writer
from .lexer import IMPORT_ADVICE, UNSUPPORTED, LexError, NplLexer, Scanner
from .lexer import Source as _Source
from .literals import clean_docstring, number_literal, string_literal
from .literals import unescape  # noqa: F401  (re-exported: callers import it from here)

__all__ = ["parse", "parse_expr"]

_MAX_DEPTH = 200              # so that no later pass recurses too deep


# ================================================================ parser tables

_GRAMMAR_FILE = Path(__file__).with_name("grammar.lark")
_LARK_OPTIONS = dict(parser="lalr", lexer=NplLexer, start=["module", "expression"],
                     propagate_positions=True, maybe_placeholders=True)
_parser: Optional[Lark] = None


def _get_parser() -> Lark:
    """The process-wide LALR parser, loaded from the disk cache when possible."""
    global _parser
    if _parser is None:
        _parser = _load_or_build()
    return _parser


def _cache_file(grammar: str) -> Path:
    """$XDG_CACHE_HOME/npl/parser-HASH.lark (default ~/.cache); the hash covers
    everything the tables depend on, so a stale file is never read."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    options = repr(sorted((k, str(v)) for k, v in _LARK_OPTIONS.items()))
    key = "\0".join((grammar, options, lark.__version__, sys.version))
    digest = hashlib.sha256(key.encode()).hexdigest()
    return Path(base) / "npl" / f"parser-{digest[:24]}.lark"


def _load_or_build() -> Lark:
    grammar = _GRAMMAR_FILE.read_text(encoding="utf-8")
    cache = _cache_file(grammar)
    try:
        with open(cache, "rb") as f:
            return Lark.load(f)
    except Exception:       # absent, unreadable or from another version: rebuild it
        pass
    parser = Lark(grammar, **_LARK_OPTIONS)
    try:
        with atomic_writer(cache) as f:     # a concurrent reader never sees half a file
            parser.save(f)
    except OSError:         # a read-only or full disk only costs start-up time
        pass
    return parser


def _parse_tree(src: _Source, start: str):
    try:
        return _get_parser().parse(src, start=start)
    except LexError as e:
        raise CompileError([e.diagnostic], {src.path: src.display_text()}) from None
    except UnexpectedInput as e:
        raise CompileError([_syntax_error(e, src)], {src.path: src.display_text()}) from None


# ================================================================ syntax errors

_EXPR_START = {"NAME", "NUMBER", "STRING", "FSTRING", "HOLE", "DATA", "LPAR", "LSQB",
               "LBRACE", "MINUS", "PLUS", "NOT", "LAMBDA", "TRUE", "FALSE", "NONE", "STAR"}
_BINARY = {"PLUS", "MINUS", "STAR", "SLASH", "DSLASH", "PERCENT", "POW", "VBAR",
           "CIRCUMFLEX", "AMPER", "LSHIFT", "RSHIFT", "EQEQ", "NOTEQ", "LESS", "LESSEQ", "MORE", "MOREEQ",
           "IN", "NOT", "IS", "AND", "OR"}
_POSTFIX = _BINARY | {"IF", "DOT", "LPAR", "LSQB"}
_AUGMENTED = {"PLUSEQ", "MINUSEQ", "STAREQ", "SLASHEQ", "DSLASHEQ", "PERCENTEQ", "POWEQ",
              "LSHIFTEQ", "RSHIFTEQ"}
_DECL_START = {"DEF", "AT", "STRUCT", "CONST", "EXTERN", "EXAMPLE", "PROPERTY", "FROM"}
_STMT_START = {"IF", "WHILE", "FOR", "RETURN", "PASS", "BREAK", "CONTINUE", "ASSERT",
               "DEF", "AT", "ELLIPSIS"}
_CLOSING = ["COLON", "RPAR", "RSQB", "RBRACE", "COMMA", "EQUAL", "ARROW", "IN", "ELSE", "IMPORT"]
_WORDS = {"NAME": "a name", "NUMBER": "a number", "STRING": "a string",
          "FSTRING": "an f-string", "HOLE": "a hole", "_NEWLINE": "end of line",
          "_INDENT": "an indented block", "_DEDENT": "the end of the block",
          "$END": "end of file"}
FROM_IN_BLOCK = ("`from ... import` stands only at the top level, for definitions of a "
                 "sibling .npl file: NPL has no Python modules (sqrt, pi, heappush, Counter "
                 "and the like are built in)")
_DECLARATIONS = ("a declaration (`def`, `struct`, `const`, `example`, `property`, "
                 "`extern def` or `from ... import`)")


def _syntax_error(err: UnexpectedInput, src: _Source) -> Diagnostic:
    token = getattr(err, "token", None)
    if token is None:
        here = A.Span(src.path, src.line, src.col, src.line, src.col)
        return Diagnostic("E001", "invalid syntax", here)
    span = _token_span(token, src)
    expected = _acceptable(err)
    if token.type == "UNSUPPORTED":
        return Diagnostic("E018", UNSUPPORTED[token.value], span)
    if token.type == "IMPORT":
        return Diagnostic("E018", IMPORT_ADVICE, span)
    if token.type == "FROM" and "RETURN" in expected:      # where a statement may stand
        return Diagnostic("E018", FROM_IN_BLOCK, span)
    if token.type == "_INDENT":
        return Diagnostic("E003", "unexpected indent", span)
    previous = src.scanner.prev if src.scanner is not None else None
    if (previous is not None and previous.value == "match" and "EQUAL" in expected
            and src.scanner.starts_line(previous)):
        return Diagnostic("E018", "`match` statements are not supported: use an "
                          "`if`/`elif` chain", _token_span(previous, src))
    found = _describe_token(token, src)
    if "_INDENT" in expected:
        return Diagnostic("E003", f"expected an indented block, found {found}", span)
    words = _expected_words(expected, token)
    return Diagnostic("E001", f"expected {words}, found {found}", span,
                      notes=_hints(token, expected, src.scanner))


def _acceptable(err: UnexpectedInput) -> set[str]:
    """The terminals the parser could really take at the error. (The error's
    own `expected` is the LALR state's lookahead set, which merged states
    inflate with tokens from other contexts.)"""
    interactive = getattr(err, "interactive_parser", None)
    if interactive is None:
        return set(getattr(err, "expected", ()) or ())
    return set(interactive.accepts())


def _token_span(token: Token, src: _Source) -> A.Span:
    if token.type == "$END":        # Lark's end token has no position of its own
        scanner = src.scanner
        end = scanner.last_end if scanner is not None else 0
        line, col = scanner.pos(end) if scanner is not None else (src.line, src.col)
        return A.Span(src.path, line, col, line, col)
    return A.Span(src.path, token.line, token.column, token.end_line, token.end_column)


def _describe_token(token: Token, src: _Source) -> str:
    if token.type == "$END" and src.expression:
        return "the end of the expression"
    if token.type in ("_NEWLINE", "_DEDENT", "$END"):
        return _WORDS[token.type]
    value = token.value if len(token.value) <= 30 else token.value[:27] + "..."
    value = value.replace("\n", "\\n")
    if token.type == "NAME":
        return f"name `{value}`"
    if token.type == "NUMBER":
        return f"number `{value}`"
    if token.type in ("STRING", "FSTRING"):
        return f"string {value}"
    if token.type == "HOLE":
        return f"hole `{value}`"
    return f"keyword `{value}`" if value.isidentifier() else f"`{value}`"


def _expected_words(expected: set[str], found: Token) -> str:
    rest, words = set(expected), []
    if "EXAMPLE" in rest:
        words.append(_DECLARATIONS)
        rest -= _DECL_START | {"$END"}
    if "WHILE" in rest:
        words.append("a statement")
        rest -= _STMT_START | _EXPR_START
    if "NUMBER" in rest:
        words.append("an expression")
        rest -= _EXPR_START
    if len(rest & _BINARY) >= 3:
        at_end = found.type in ("_NEWLINE", "$END", "_DEDENT")
        if not (at_end and rest & {"COLON", "RPAR", "RSQB", "RBRACE"}):
            words.append("an operator")
        rest -= _POSTFIX
    if "EQUAL" in rest:         # `=` stands for the augmented assignments too
        rest -= _AUGMENTED
    ordered = sorted(rest, key=lambda t: (_CLOSING.index(t) if t in _CLOSING else 99, t))
    words += [_WORDS.get(t) or f"`{_terminal_text(t)}`" for t in ordered]
    words = words[:6]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _terminal_text(name: str) -> str:
    for t in _get_parser().terminals:
        if t.name == name and t.pattern.type == "str":
            return t.pattern.value
    return name.lower()


def _hints(token: Token, expected: set[str], scanner: Optional[Scanner]) -> tuple[str, ...]:
    notes = []
    if "EXAMPLE" in expected and token.type not in ("$END",):
        notes.append("statements belong inside functions (a program starts at `def main()`); "
                     "a module-level value is declared with `const NAME = value`")
    if token.type == "EQUAL" and "EQEQ" in expected:
        notes.append("use `==` to compare values")
    if scanner is not None:
        if token.type == "IF" and scanner.prev is not None and scanner.prev.type == "ELSE":
            notes.append("write `elif` instead of `else if`")
        if scanner.brackets and token.type != "$END":
            line, col = scanner.pos(scanner.brackets[-1])
            if line < token.line:
                notes.append(f"the `{scanner.text[scanner.brackets[-1]]}` at line {line}, "
                             f"column {col} is not closed")
    return tuple(notes)


# ================================================================ tree -> AST

# The decorators NPL knows: `@kernel` (native compilation) and `@oracle` (a
# function hole the model answers at run time).
DECORATORS = ("kernel", "oracle")

class _SliceParts:
    """`lo:hi:step` inside brackets, before it becomes a Slice node."""
    __slots__ = ("lower", "upper", "step")

    def __init__(self, lower, upper, step):
        self.lower, self.upper, self.step = lower, upper, step


_LITERALS = (A.IntLit, A.FloatLit, A.StrLit, A.BoolLit, A.NoneLit, A.FString, A.ListExpr,
             A.DictExpr, A.SetExpr, A.ListComp, A.SetComp, A.DictComp, A.GeneratorExp)


@v_args(meta=True)
class _Builder(Transformer_NonRecursive):
    """Parse tree -> AST. Problems are collected in `diagnostics` and raised
    together by `_raise_errors`, so one run reports every E018 at once."""

    def __init__(self, src: _Source):
        super().__init__(visit_tokens=False)
        self.src, self.path = src, src.path
        self.diagnostics: list[Diagnostic] = []
        self.ellipses: set[A.Pass] = set()          # Pass nodes written as `...`

    # ---------------------------------------------------------- helpers

    def _span(self, meta) -> A.Span:
        return A.Span(self.path, meta.line, meta.column, meta.end_line, meta.end_column)

    def _token_span(self, token: Token) -> A.Span:
        return A.Span(self.path, token.line, token.column, token.end_line, token.end_column)

    def _error(self, code: str, message: str, span: A.Span) -> None:
        self.diagnostics.append(Diagnostic(code, message, span))

    def _raise_errors(self) -> None:
        if self.diagnostics:
            raise CompileError(self.diagnostics, {self.path: self.src.display_text()})

    def _fragment(self, text: str, line: int, col: int) -> A.Expr:
        """Parse an f-string field's expression where it sits in the file."""
        try:
            return _parse_fragment(_Source(text, self.path, True, line, col))
        except CompileError as e:
            self.diagnostics.extend(e.diagnostics)
            return A.NoneLit(span=A.Span(self.path, line, col, line, col))

    def _block(self, stmts, defs: bool = False) -> tuple[A.Stmt, ...]:
        """The statements of a suite; a nested `def` stands only directly in
        a function's body (`defs`), not inside `if`, `while` or `for`."""
        body = []
        for stmt in stmts:
            if isinstance(stmt, A.FuncDef) and not defs:
                self._error("E018", f"define `{stmt.name}` directly in the function's body, "
                            "not inside `if`, `while` or `for`", stmt.span)
            else:
                body.append(stmt)
        return tuple(body)

    def _check_target(self, target: A.Expr, context: str) -> None:
        """`context` is "assign", "augmented" or "loop". An assignment stores
        into names, items and fields, a loop binds names; both unpack into
        tuples of such targets, nested or not (`for i, (a, b) in ...`). A
        slice is a target only of a plain assignment, on its own (`assign`)."""
        if isinstance(target, A.Name):
            return
        if isinstance(target, (A.Index, A.Attribute)) and context != "loop":
            return
        if isinstance(target, A.TupleExpr) and context != "augmented":
            for elt in target.elts:
                self._check_target(elt, context)
            return
        self._error(*_bad_target(target, context))

    # ---------------------------------------------------------- declarations

    def module(self, meta, ch):
        return [d for d in ch if d is not None]

    def expression(self, meta, ch):
        return ch[0]

    def decorated(self, meta, ch):
        *decorators, func = ch
        return replace(func, decorators=tuple(d for d in decorators if d is not None))

    def decorator(self, meta, ch):
        expr = ch[0]
        if isinstance(expr, A.Name) and expr.id in DECORATORS:
            return expr.id
        if isinstance(expr, A.Call) and isinstance(expr.func, A.Name) and expr.func.id in DECORATORS:
            message = f"`@{expr.func.id}` takes no arguments"
        elif isinstance(expr, A.Name):
            message = f"unknown decorator `@{expr.id}`: the decorators are `@kernel` and `@oracle`"
        else:
            message = "decorators other than `@kernel` and `@oracle` are not supported"
        self._error("E018", message, self._span(meta))
        return None

    def funcdef(self, meta, ch):
        name, params, returns, body = ch
        doc, stmts = None, list(body)
        if stmts and isinstance(stmts[0], A.ExprStmt) and isinstance(stmts[0].value, A.StrLit):
            doc, stmts = clean_docstring(stmts[0].value.value), stmts[1:]
        is_hole = doc is not None and len(stmts) == 1 and stmts[0] in self.ellipses
        return A.FuncDef(name.value, tuple(params or ()), returns,
                         () if is_hole else self._block(stmts, defs=True), docstring=doc,
                         hole_doc=doc if is_hole else None, span=self._span(meta))

    def externdef(self, meta, ch):
        name, params, returns = ch
        return A.ExternDef(name.value, tuple(params or ()), returns, span=self._span(meta))

    def params(self, meta, ch):
        return [p for p in ch if p is not None]

    def param(self, meta, ch):
        name, annotation, default = ch
        if default is not None:
            self._error("E018", "default parameter values are not supported: callers pass "
                        "every argument", default.span)
        if annotation is None:
            self._error("E001", f"parameter `{name}` needs a type, as in `{name}: int`",
                        self._token_span(name))
            return None
        return A.Param(name.value, annotation, span=self._span(meta))

    def star_param(self, meta, ch):
        self._error("E018", "`*args` and `**kwargs` parameters are not supported: take a "
                    "list parameter instead", self._span(meta))
        return None

    def structdef(self, meta, ch):
        name, body = ch
        fields = []
        for i, stmt in enumerate(body):
            if isinstance(stmt, A.Assign) and stmt.annotation is not None:
                if stmt.value is not None:
                    self._error("E018", "struct fields have no default values: the constructor "
                                "takes every field", stmt.value.span)
                if isinstance(stmt.target, A.Name):
                    fields.append(A.StructField(stmt.target.id, stmt.annotation, span=stmt.span))
            elif isinstance(stmt, A.FuncDef):
                self._error("E018", f"structs have no methods: define `{stmt.name}` at the top "
                            "level, taking the struct as a parameter", stmt.span)
            elif not (isinstance(stmt, A.Pass) or i == 0 and isinstance(stmt, A.ExprStmt)
                      and isinstance(stmt.value, A.StrLit)):
                self._error("E001", "a struct body holds fields only, one `name: type` per line",
                            stmt.span)
        return A.StructDef(name.value, tuple(fields), span=self._span(meta))

    def constdef(self, meta, ch):
        name, annotation, value = ch
        return A.ConstDef(name.value, annotation, value, span=self._span(meta))

    def example(self, meta, ch):
        return A.Example(ch[0], span=self._span(meta))

    def property(self, meta, ch):
        name, params, (where, expr) = ch
        return A.Property(name.value, tuple(params or ()), where, expr, span=self._span(meta))

    def property_body(self, meta, ch):
        return (None, ch[0]) if len(ch) == 1 else (ch[0], ch[1])

    def where_line(self, meta, ch):
        return ch[0]

    def import_from(self, meta, ch):
        module, names = ch
        if len(module) > 1:
            self._error("E018", f"dotted module paths are not supported: import from a sibling "
                        f"file, as in `from {module[-1]} import ...`", self._span(meta))
        return A.ImportFrom(".".join(module), tuple(names), span=self._span(meta))

    def dotted_name(self, meta, ch):
        return [t.value for t in ch]

    def import_names(self, meta, ch):
        return [t.value for t in ch]

    def import_star(self, meta, ch):
        self._error("E018", "`import *` is not supported: name each definition you import",
                    self._span(meta))
        return []

    # ---------------------------------------------------------- types

    def type(self, meta, ch):
        if len(ch) == 1:
            return ch[0]
        others = [t for t in ch if not (isinstance(t, A.TypeExpr) and t.name == "None")]
        if len(ch) == 2 and len(others) == 1:
            return A.OptionalTypeExpr(others[0], span=self._span(meta))
        self._error("E023", "the only union type is `T | None`", self._span(meta))
        return ch[0]

    def type_name(self, meta, ch):
        name, args = ch
        return A.TypeExpr(name.value, tuple(args or ()), span=self._span(meta))

    def type_none(self, meta, ch):
        return A.TypeExpr("None", span=self._span(meta))

    def type_args(self, meta, ch):
        return [self._type_arg(a) for a in ch]

    def _type_arg(self, arg):
        if not isinstance(arg, Token):
            return arg
        if not arg.value.replace("_", "").isdigit():
            self._error("E023", "a type argument is a type or a whole number (an array's rank)",
                        self._token_span(arg))
        digits = arg.value.replace("_", "")
        return A.IntTypeArg(int(digits) if digits.isdigit() else 0, span=self._token_span(arg))

    # ---------------------------------------------------------- statements

    def suite(self, meta, ch):
        return [s for s in ch if s is not None]

    def expr_stmt(self, meta, ch):
        return A.ExprStmt(ch[0], span=self._span(meta))

    def assign(self, meta, ch):
        *targets, value = ch
        if len(targets) > 1:
            self._error("E018", "chained assignment `a = b = value` is not supported: assign "
                        "one target per statement", self._span(meta))
        if not isinstance(targets[0], A.Slice):         # `xs[i:j] = ys` stands alone
            self._check_target(targets[0], "assign")
        return A.Assign(targets[0], value, span=self._span(meta))

    def annassign(self, meta, ch):
        target, annotation, value = ch
        if not isinstance(target, A.Name):
            self._error("E001", "only a plain name can be declared with a type, as in "
                        "`x: int = 0`", target.span)
        return A.Assign(target, value, annotation, span=self._span(meta))

    def augassign(self, meta, ch):
        target, op, value = ch
        self._check_target(target, "augmented")
        return A.AugAssign(target, op.value[:-1], value, span=self._span(meta))

    def return_stmt(self, meta, ch):
        return A.Return(ch[0], span=self._span(meta))

    def pass_stmt(self, meta, ch):
        return A.Pass(span=self._span(meta))

    def break_stmt(self, meta, ch):
        return A.Break(span=self._span(meta))

    def continue_stmt(self, meta, ch):
        return A.Continue(span=self._span(meta))

    def assert_stmt(self, meta, ch):
        return A.Assert(ch[0], ch[1], span=self._span(meta))

    def ellipsis_stmt(self, meta, ch):
        node = A.Pass(span=self._span(meta))
        self.ellipses.add(node)
        return node

    def if_stmt(self, meta, ch):
        test, body, *elifs, orelse = ch
        span = self._span(meta)
        tail = self._block(orelse) if orelse is not None else ()
        for clause_meta, clause_test, clause_body in reversed(elifs):
            start = self._span(clause_meta)
            tail = (A.If(clause_test, self._block(clause_body), tail, span=A.Span(
                self.path, start.line, start.col, span.end_line, span.end_col)),)
        return A.If(test, self._block(body), tail, span=span)

    def elif_clause(self, meta, ch):
        return (meta, ch[0], ch[1])

    def while_stmt(self, meta, ch):
        test, body, _ = ch
        return A.While(test, self._block(body), span=self._span(meta))

    def for_stmt(self, meta, ch):
        target, iterable, body, _ = ch
        self._check_target(target, "loop")
        return A.For(target, iterable, self._block(body), span=self._span(meta))

    def loop_else(self, meta, ch):
        self._error("E018", "`else` after a loop is not supported: set a flag variable in "
                    "the loop instead", self._span(meta))
        return None

    # ---------------------------------------------------------- expressions

    def testlist_star(self, meta, ch):
        *elts, comma = ch
        if len(elts) == 1 and comma is None:
            return elts[0]
        return A.TupleExpr(tuple(elts), span=self._span(meta))

    target_list = testlist_star

    def star_expr(self, meta, ch):
        self._error("E018", "star-unpacking `*x` is not supported: index and slice the "
                    "sequence instead", self._span(meta))
        return ch[1]

    def ifexp(self, meta, ch):
        return A.IfExp(ch[0], ch[1], ch[2], span=self._span(meta))

    def lambdef(self, meta, ch):
        params, body = ch
        return A.Lambda(tuple(params or ()), body, span=self._span(meta))

    def lambda_params(self, meta, ch):
        return [p for p in ch if p is not None]

    def lambda_param(self, meta, ch):
        name, default = ch
        if default is not None:
            self._error("E018", "lambda parameters cannot have default values",
                        self._span(meta))
        return name.value

    def or_test(self, meta, ch):
        return A.BoolOp("or", tuple(ch), span=self._span(meta))

    def and_test(self, meta, ch):
        return A.BoolOp("and", tuple(ch), span=self._span(meta))

    def unary(self, meta, ch):
        return A.UnaryOp(ch[0].value, ch[1], span=self._span(meta))

    def comparison(self, meta, ch):
        return A.Compare(ch[0], tuple(ch[1::2]), tuple(ch[2::2]), span=self._span(meta))

    def comp_op(self, meta, ch):
        return " ".join(t.value for t in ch)

    def binop(self, meta, ch):
        left, op, right = ch
        return A.BinOp(op.value, left, right, span=self._span(meta))

    def call(self, meta, ch):
        func, arguments = ch
        args, keywords = [], []
        for arg in arguments or ():
            if not isinstance(arg, A.Keyword):
                if keywords:
                    self._error("E001", "a positional argument cannot follow keyword arguments",
                                arg.span)
                args.append(arg)
            elif any(k.name == arg.name for k in keywords):
                self._error("E001", f"keyword argument `{arg.name}` is repeated", arg.span)
            else:
                keywords.append(arg)
        return A.Call(func, tuple(args), tuple(keywords), span=self._span(meta))

    def arguments(self, meta, ch):
        return [a for a in ch if a is not None]

    def generator_arg(self, meta, ch):
        return [A.GeneratorExp(ch[0], ch[1], span=self._span(meta))]

    def kwarg(self, meta, ch):
        name, value = ch
        if not isinstance(name, A.Name):
            self._error("E001", "a keyword argument needs a plain name before `=` "
                        "(to compare, write `==`)", name.span)
            return value
        return A.Keyword(name.id, value, span=self._span(meta))

    def star_arg(self, meta, ch):
        self._error("E018", "argument unpacking (`*xs`, `**kw`) is not supported: pass the "
                    "arguments one by one", self._span(meta))
        return ch[1]

    def subscript(self, meta, ch):
        value, items = ch
        slices = [s for s in items if isinstance(s, _SliceParts)]
        if not slices:
            return A.Index(value, tuple(items), span=self._span(meta))
        if len(items) > 1:
            self._error("E018", "multi-dimensional slicing is not supported: slice one "
                        "dimension at a time", self._span(meta))
        s = slices[0]
        return A.Slice(value, s.lower, s.upper, s.step, span=self._span(meta))

    def subscripts(self, meta, ch):
        return list(ch)

    def slice(self, meta, ch):
        return _SliceParts(*ch)

    def sliceop(self, meta, ch):
        return ch[0]

    def attribute(self, meta, ch):
        return A.Attribute(ch[0], ch[1].value, span=self._span(meta))

    def paren(self, meta, ch):
        return ch[0]

    def tuple_lit(self, meta, ch):
        return A.TupleExpr(tuple(ch), span=self._span(meta))

    def generator(self, meta, ch):
        return A.GeneratorExp(ch[0], ch[1], span=self._span(meta))

    def list_lit(self, meta, ch):
        return A.ListExpr(tuple(e for e in ch if e is not None), span=self._span(meta))

    def list_comp(self, meta, ch):
        return A.ListComp(ch[0], ch[1], span=self._span(meta))

    def set_lit(self, meta, ch):
        return A.SetExpr(tuple(ch), span=self._span(meta))

    def set_comp(self, meta, ch):
        return A.SetComp(ch[0], ch[1], span=self._span(meta))

    def dict_lit(self, meta, ch):
        pairs = [p for p in ch if p is not None]
        return A.DictExpr(tuple(k for k, _ in pairs), tuple(v for _, v in pairs),
                          span=self._span(meta))

    def dict_comp(self, meta, ch):
        pair, generators = ch
        if pair is None:
            return A.DictExpr((), (), span=self._span(meta))
        return A.DictComp(pair[0], pair[1], generators, span=self._span(meta))

    def dict_pair(self, meta, ch):
        return (ch[0], ch[1])

    def dict_unpack(self, meta, ch):
        self._error("E018", "dict unpacking `**d` is not supported: copy the dict and "
                    "`update` it", self._span(meta))
        return None

    def comp_for(self, meta, ch):
        clauses = []                       # [target, iter, conds, start meta, end meta]
        for kind, *rest in ch:
            if kind == "for":
                target, iterable, m = rest
                clauses.append([target, iterable, [], m, m])
            else:
                condition, m = rest
                clauses[-1][2].append(condition)
                clauses[-1][4] = m
        return tuple(A.Comprehension(target, iterable, tuple(conds), span=A.Span(
            self.path, start.line, start.column, end.end_line, end.end_column))
            for target, iterable, conds, start, end in clauses)

    def comp_for_clause(self, meta, ch):
        self._check_target(ch[0], "loop")
        return ("for", ch[0], ch[1], meta)

    def comp_if(self, meta, ch):
        return ("if", ch[0], meta)

    # ---------------------------------------------------------- atoms

    def name(self, meta, ch):
        return A.Name(ch[0].value, span=self._span(meta))

    def true(self, meta, ch):
        return A.BoolLit(True, span=self._span(meta))

    def false(self, meta, ch):
        return A.BoolLit(False, span=self._span(meta))

    def none(self, meta, ch):
        return A.NoneLit(span=self._span(meta))

    def hole(self, meta, ch):
        text = ch[0].value[2:-1].strip()
        if not text:
            self._error("E001", "empty hole: describe the value in English, as in "
                        "`?{the largest element of xs}`", self._span(meta))
        return A.Hole(text, span=self._span(meta))

    def data(self, meta, ch):
        return self.src.scanner.data_nodes.pop(ch[0].start_pos)

    def number(self, meta, ch):
        return number_literal(ch[0].value, self._span(meta), self._error)

    def string(self, meta, ch):
        return string_literal(ch, self._span(meta), self._error, self._fragment)


def _bad_target(target: A.Expr, context: str) -> tuple[str, str, A.Span]:
    if isinstance(target, A.Slice) and context != "loop":
        what = "an augmented assignment to" if context == "augmented" else "a tuple of targets holding"
        return "E018", f"{what} a slice is not supported: assign the slice on its own " \
            "(xs[i:j] = xs[i:j] + ys)", target.span
    if context == "loop":
        return "E001", "a loop variable must be a name (or names: `for k, v in ...`)", target.span
    if isinstance(target, A.TupleExpr):
        return "E001", "augmented assignment takes a single target", target.span
    if isinstance(target, A.Call):
        return "E001", "cannot assign to a function call", target.span
    if isinstance(target, _LITERALS):
        return "E001", "cannot assign to a literal", target.span
    return "E001", "cannot assign to this expression", target.span


# ================================================================ public API

def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _check_depth(root: A.Node, src: _Source) -> None:
    """Reject trees nested more than _MAX_DEPTH deep (`-` * 5000 + `x`, a
    sum of 1000 terms): later passes recurse over the AST. Data displays
    (DATA tokens) are not walked again: the lexer knows their depth."""
    known = src.scanner.data_depths if src.scanner is not None else {}
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if depth + known.get(id(node), 0) > _MAX_DEPTH:
            raise CompileError([Diagnostic(
                "E001", f"this is nested too deeply (over {_MAX_DEPTH} levels): split it "
                "up with intermediate variables", node.span)], {src.path: src.display_text()})
        if id(node) not in known:
            stack.extend((child, depth + 1) for child in A.children(node))


def _parse_fragment(src: _Source) -> A.Expr:
    builder = _Builder(src)
    expr = builder.transform(_parse_tree(src, "expression"))
    builder._raise_errors()
    _check_depth(expr, src)
    return expr


def parse(source: str, path: str) -> A.Module:
    """Parse the text of one .npl file. Raises CompileError."""
    src = _Source(_normalize_newlines(source), path)
    builder = _Builder(src)
    decls = builder.transform(_parse_tree(src, "module"))
    builder._raise_errors()
    lines = src.text.split("\n")
    module = A.Module(path, tuple(decls), span=A.Span(path, 1, 1, len(lines), len(lines[-1]) + 1))
    _check_depth(module, src)
    return module


def parse_expr(source: str, path: str, line: int = 1, col: int = 1) -> A.Expr:
    """Parse one expression (a tuple if it has top-level commas) that starts
    at `line`:`col` of `path`; newlines inside it don't end it. Spans are
    positions in that file. Raises CompileError."""
    return _parse_fragment(_Source(_normalize_newlines(source), path, True, line, col))
