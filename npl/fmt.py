"""`npl fmt`: the one canonical layout of NPL source.

`format_source(text, path)` takes the text of a .npl file and gives back the
same program in canonical layout (raising CompileError if it does not parse,
FormatError if the result would not be the same program). `main_fmt(files,
check)` is the CLI (a folder stands for the .npl files under it): it
rewrites files in place (and keeps their lock files in step, see
`migrate_lock`), or with --check lists those that would change and exits 1.

The layout (Black's conventions, adapted to NPL):
  * 4-space indentation, one statement per line, lines of at most 88
    columns where brackets allow it: a bracketed list that does not fit is
    broken after its opening bracket, its items on one line four spaces
    deeper if they fit there, else one per line with a trailing comma, and
    the closing bracket on a line of its own. A trailing comma in the source
    keeps a list broken one item per line ("magic trailing comma"). Lines
    without brackets are not broken, nor is a line that no break would fit
    at its start and end (`a[i] = ?{a long hole}` stays whole).
  * one space around binary, comparison and boolean operators, around `=`
    of assignments and `->`; none around `=` of keyword arguments, inside
    brackets, around the `:` of slices, or after unary `-`/`+`; one space
    after commas and after the `:` of annotations, dict entries and lambdas.
  * parentheses only where the grammar needs them (the parse tree keeps no
    others), except that a tuple keeps its parentheses, or their absence, as
    written where a bare tuple may stand (right side of an assignment,
    `return`, loop iterable, expression statement); assignment and loop
    targets are written bare. `elif`, `else:` + `if`, and `...` versus
    `pass` are kept as written. `property` is always written in its block
    form; a struct with neither fields nor docstring gets `pass`.
  * blank lines: none at the start of a block; inside a block, one where the
    source had one or more. Between top-level declarations, one blank line
    around every multi-line declaration (def, struct, property); one-line
    declarations (example, const, extern def, import) keep their grouping:
    one blank line where the source had one or more, none otherwise. A
    comment directly above a declaration stays attached to it.
  * comments are kept: a comment on a line of its own stays before the code
    that followed it (inside a block when indented deeper than the block's
    header); a comment after code stays at the end of that line, two spaces
    after it; a comment inside brackets stays with its item.
  * kept verbatim: every string and f-string (quotes, prefixes, escapes,
    implicit concatenation), number literals as written (`1_000`, `0x1f`),
    hole text `?{...}`, and docstrings (of structs too).

Before it is used, the result is checked: it must parse to the same tree
(lang.ast.ast_equal) and keep every comment, string and hole token;
otherwise the file is left alone and FormatError says why. Formatting twice
gives the same text as formatting once.
"""
from __future__ import annotations

import dataclasses
import sys
from collections import Counter
from pathlib import Path
from typing import Callable, Optional

from npl.lang import ast as A
from npl.lang.errors import InternalError
from npl.lang.fileio import write_atomic
from npl.lang.parser import parse

from .fmt_layout import INDENT, LINE_LENGTH, CommentPool, Group, Item, SourceText, render

__all__ = ["format_source", "FormatError", "main_fmt"]


class FormatError(InternalError):
    """The formatter could not produce an equivalent program (a bug in it;
    `npl fmt` leaves the file alone and says so)."""


# ---------------------------------------------------------------- precedence

(LAMBDA, IFEXP, OR, AND, NOT, CMP, BOR, BXOR, BAND, SHIFT, ARITH, TERM, UNARY, POWER, POSTFIX,
 ATOM) = range(16)
_BINARY = {"|": BOR, "^": BXOR, "&": BAND, "<<": SHIFT, ">>": SHIFT, "+": ARITH, "-": ARITH,
           "*": TERM, "/": TERM, "//": TERM, "%": TERM, "**": POWER}


def _prec(e: A.Expr) -> int:
    if isinstance(e, A.Lambda):
        return LAMBDA
    if isinstance(e, A.IfExp):
        return IFEXP
    if isinstance(e, A.BoolOp):
        return OR if e.op == "or" else AND
    if isinstance(e, A.UnaryOp):
        return NOT if e.op == "not" else UNARY
    if isinstance(e, A.Compare):
        return CMP
    if isinstance(e, A.BinOp):
        return _BINARY[e.op]
    if isinstance(e, (A.Call, A.Attribute, A.Index, A.Slice)):
        return POSTFIX
    return ATOM


def _span_of(first: A.Span, last: A.Span) -> A.Span:
    return A.Span(first.file, first.line, first.col, last.end_line, last.end_col)


class Formatter:
    """One file: its parse tree, text and comments, and the output lines."""

    def __init__(self, source: str, path: str):
        self.text = source.replace("\r\n", "\n").replace("\r", "\n")
        self.module = parse(self.text, path)
        self.src = SourceText(self.text)
        self.pool = CommentPool(self.src.comments)
        self.out: list[str] = []
        self.last_line = 0              # source line of the last thing written

    # ============================================================ expressions

    def expr(self, e: A.Expr, min_prec: int = LAMBDA) -> list:
        parts = self._expr(e)
        if _prec(e) < min_prec:
            return [self.group("(", [(e.span, lambda: parts)], ")", e.span, comma=False)]
        return parts

    def group(self, opener: str, entries: list, closer: str, span: Optional[A.Span], *,
              comma: bool = True, one_tuple: bool = False, magic: bool = False) -> Group:
        """A bracketed list. `entries` are (span or None, builder of parts);
        comments inside the brackets are attached to the items."""
        items: list[Item] = []
        lo = span.line if span else 0
        for k, (s, build) in enumerate(entries):
            if s is None:
                items.append(Item(build()))
                continue
            before = self.pool.take(lo, s.line - 1)
            parts = build()
            before += self.pool.take(s.line, s.end_line - 1)
            nxt = next((n for n, _ in entries[k + 1:] if n is not None), None)
            ends_line = nxt.line > s.end_line if nxt is not None else (span is not None and span.end_line > s.end_line)
            after = self.pool.take(s.end_line, s.end_line) if ends_line else []
            items.append(Item(parts, [c.text for c in before], after[0].text if after else None))
            lo = s.end_line + 1
        end = self.pool.take(lo, span.end_line - 1) if span and entries else []
        return Group(opener, items, closer, comma, one_tuple, magic, [c.text for c in end])

    def listing(self, opener: str, elts, closer: str, span: A.Span, one_tuple=False) -> Group:
        entries = [(x.span, lambda x=x: self.expr(x)) for x in elts]
        magic = bool(elts) and not one_tuple and self.src.comma_after(elts[-1].span)
        return self.group(opener, entries, closer, span, one_tuple=one_tuple, magic=magic)

    def verbatim(self, e: A.Expr) -> list:
        """A literal or hole as written. A literal made of several string
        tokens over several lines gets parentheses (it may have had them)."""
        text = self.src.slice(e.span)
        start = self.src.offset(e.span.line, e.span.col)
        if "\n" in text and self.src.string_tokens_in(start, start + len(text)) > 1:
            self.pool.take_if(lambda c: start <= self.src.offset(c.line, c.col) < start + len(text))
            return [Group("(", [Item([text])], ")", comma=False)]
        return [text]

    def _expr(self, e: A.Expr) -> list:
        x = self.expr
        if isinstance(e, (A.IntLit, A.FloatLit, A.StrLit, A.FString, A.Hole)):
            return self.verbatim(e)
        if isinstance(e, A.BoolLit):
            return ["True" if e.value else "False"]
        if isinstance(e, A.NoneLit):
            return ["None"]
        if isinstance(e, A.Name):
            return [e.id]
        if isinstance(e, A.BinOp):
            p = _BINARY[e.op]
            if e.op == "**":
                return x(e.left, POSTFIX) + [" ** "] + x(e.right, UNARY)
            return x(e.left, p) + [f" {e.op} "] + x(e.right, p + 1)
        if isinstance(e, A.UnaryOp):
            if e.op == "not":
                return ["not "] + x(e.operand, NOT)
            return [e.op] + x(e.operand, UNARY)
        if isinstance(e, A.BoolOp):
            p = _prec(e)
            out: list = []
            for k, v in enumerate(e.values):
                out += ([f" {e.op} "] if k else []) + x(v, p + 1)
            return out
        if isinstance(e, A.Compare):
            out = x(e.left, BOR)
            for op, right in zip(e.ops, e.comparators):
                out += [f" {op} "] + x(right, BOR)
            return out
        if isinstance(e, A.IfExp):
            return x(e.body, OR) + [" if "] + x(e.test, OR) + [" else "] + x(e.orelse, LAMBDA)
        if isinstance(e, A.Lambda):
            head = "lambda " + ", ".join(e.params) if e.params else "lambda"
            return [head + ": "] + x(e.body, LAMBDA)
        if isinstance(e, A.Call):
            return self.call(e)
        if isinstance(e, A.Attribute):
            value = x(e.value, POSTFIX)
            if isinstance(e.value, A.IntLit):
                value = ["("] + value + [")"]
            return value + ["." + e.attr]
        if isinstance(e, A.Index):
            entries = [(i.span, lambda i=i: x(i)) for i in e.indices]
            magic = len(e.indices) > 1 and self.src.comma_after(e.indices[-1].span)
            return x(e.value, POSTFIX) + [self.group("[", entries, "]", e.span, magic=magic)]
        if isinstance(e, A.Slice):
            def bounds() -> list:
                out = x(e.lower) if e.lower else []
                out += [":"] + (x(e.upper) if e.upper else [])
                return out + ([":"] + x(e.step) if e.step else [])
            first = e.lower or e.upper or e.step
            entries = [(_span_of(first.span, (e.step or e.upper or e.lower).span) if first else None, bounds)]
            return x(e.value, POSTFIX) + [self.group("[", entries, "]", e.span, comma=False)]
        if isinstance(e, A.ListExpr):
            return [self.listing("[", e.elts, "]", e.span)]
        if isinstance(e, A.SetExpr):
            return [self.listing("{", e.elts, "}", e.span)]
        if isinstance(e, A.TupleExpr):
            return [self.listing("(", e.elts, ")", e.span, one_tuple=len(e.elts) == 1)]
        if isinstance(e, A.DictExpr):
            entries = [(_span_of(k.span, v.span), lambda k=k, v=v: x(k) + [": "] + x(v))
                       for k, v in zip(e.keys, e.values)]
            magic = bool(e.values) and self.src.comma_after(e.values[-1].span)
            return [self.group("{", entries, "}", e.span, magic=magic)]
        if isinstance(e, (A.ListComp, A.SetComp, A.GeneratorExp, A.DictComp)):
            opener, closer = {A.ListComp: "[]", A.SetComp: "{}", A.GeneratorExp: "()",
                              A.DictComp: "{}"}[type(e)]
            return [self.group(opener, [(e.span, lambda: self.comprehension(e))], closer, e.span,
                               comma=False)]
        raise FormatError(f"cannot format a {type(e).__name__}")

    def comprehension(self, e) -> list:
        x = self.expr
        out = x(e.key) + [": "] + x(e.value) if isinstance(e, A.DictComp) else x(e.elt)
        for gen in e.generators:
            out += [" for "] + self.target(gen.target) + [" in "] + x(gen.iter, OR)
            for cond in gen.conds:
                out += [" if "] + x(cond, OR)
        return out

    def call(self, e: A.Call) -> list:
        func = self.expr(e.func, POSTFIX)
        if len(e.args) == 1 and not e.keywords and isinstance(e.args[0], A.GeneratorExp):
            gen = e.args[0]
            return func + [self.group("(", [(gen.span, lambda: self.comprehension(gen))], ")",
                                      e.span, comma=False)]
        entries = [(a.span, lambda a=a: self.expr(a)) for a in e.args]
        entries += [(k.span, lambda k=k: [k.name + "="] + self.expr(k.value)) for k in e.keywords]
        last = (e.keywords[-1] if e.keywords else e.args[-1]) if (e.args or e.keywords) else None
        magic = last is not None and self.src.comma_after(last.span)
        return func + [self.group("(", entries, ")", e.span, magic=magic)]

    def target(self, t: A.Expr, bare: bool = True) -> list:
        """An assignment or loop target (tuples bare), or, with bare=False, a
        value that may be a tuple written bare (kept bare if it was)."""
        if isinstance(t, A.TupleExpr) and len(t.elts) > 1 and \
                (bare or not self.src.slice(t.span).startswith("(")):
            out: list = []
            for k, elt in enumerate(t.elts):
                out += ([", "] if k else []) + self.expr(elt)
            return out
        return self.expr(t)

    def type_text(self, t) -> str:
        if isinstance(t, A.OptionalTypeExpr):
            return self.type_text(t.inner) + " | None"
        if isinstance(t, A.IntTypeArg):
            return str(t.value)
        if t.args:
            return f"{t.name}[{', '.join(self.type_text(a) for a in t.args)}]"
        return t.name

    def params(self, d) -> Group:
        """The parenthesized parameters of a def, extern def or property."""
        src = self.src
        open_at = src.text.index("(", src.offset(d.span.line, d.span.col))
        at = open_at + 1
        if d.params:
            at = src.offset(d.params[-1].span.end_line, d.params[-1].span.end_col)
        c, at = src.next_significant(at)
        if c == ",":
            c, at = src.next_significant(at + 1)
        span = _span_of(A.Span(d.span.file, *src.position(open_at), 0, 0),
                        A.Span(d.span.file, 0, 0, *src.position(at + 1)))
        entries = [(p.span, lambda p=p: [f"{p.name}: {self.type_text(p.annotation)}"])
                   for p in d.params]
        magic = bool(d.params) and src.comma_after(d.params[-1].span)
        return self.group("(", entries, ")", span, magic=magic)

    # ============================================================ output

    def write_line(self, indent: int, parts: list, first: int, last: int) -> None:
        """One logical line from source lines first..last: render it, place
        the comments of those lines that nothing inside took."""
        left = self.pool.take(first, last)
        pad = " " * indent
        for c in left[:-1]:
            self.out.append(pad + c.text)
        lines = render(parts, indent, indent)
        if left:
            lines[-1] += "  " + left[-1].text
        self.out.append(pad + lines[0])
        self.out.extend(lines[1:])
        self.last_line = max(self.last_line, last)

    def blank(self) -> None:
        if self.out and self.out[-1] != "":
            self.out.append("")

    def comments_before(self, line: int, indent: int, at_block_start: bool) -> bool:
        """Write the comments left before source line `line`; gives whether
        anything was written."""
        wrote = False
        while self.pool.peek() is not None and self.pool.peek().line < line:
            c = self.pool.pop()
            if not (at_block_start and not wrote) and self.src.has_blank(self.last_line, c.line):
                self.blank()
            self.out.append(" " * indent + c.text)
            self.last_line = c.line
            wrote = True
        return wrote

    def block_tail(self, indent: int, parent_col: int) -> None:
        """Comments after a block's last statement, before the code that
        follows it, that are indented deeper than its header belong to it."""
        _, at = self.src.next_significant(self.src.offset(self.last_line + 1, 1)
                                          if self.last_line < len(self.src.lines) else len(self.src.text))
        limit = self.src.position(at)[0] if at < len(self.src.text) else len(self.src.lines) + 1
        while (c := self.pool.peek()) is not None and c.own_line and c.col > parent_col \
                and c.line < limit:
            self.pool.pop()
            if self.src.has_blank(self.last_line, c.line):
                self.blank()
            self.out.append(" " * indent + c.text)
            self.last_line = c.line

    def block(self, stmts, indent: int, parent_col: int, started: bool = False) -> None:
        for k, s in enumerate(stmts):
            start = not started and k == 0
            wrote = self.comments_before(s.span.line, indent, start)
            if (not start or wrote) and self.src.has_blank(self.last_line, s.span.line):
                self.blank()
            self.stmt(s, indent)
        self.block_tail(indent, parent_col)

    def header_end(self, after: A.Span) -> int:
        """The line of the `:` that ends a header whose last part is `after`."""
        return self.src.position(self.src.next_significant(
            self.src.offset(after.end_line, after.end_col))[1])[0]

    def signature_end(self, d) -> int:
        """The line of the `:` (or, for an extern, the last character) that
        ends the signature of a def, extern def or property."""
        if getattr(d, "returns", None) is not None:
            offset = self.src.offset(d.returns.span.end_line, d.returns.span.end_col)
        elif d.params:
            offset = self.src.offset(d.params[-1].span.end_line, d.params[-1].span.end_col)
        else:
            offset = self.src.text.index("(", self.src.offset(d.span.line, d.span.col))
        while True:
            c, at = self.src.next_significant(offset)
            if c not in ",()":
                return self.src.position(at)[0] if c == ":" else self.src.position(max(offset - 1, 0))[0]
            offset = at + 1

    # ============================================================ statements

    def stmt(self, s: A.Stmt, indent: int) -> None:
        x, line = self.expr, (lambda parts: self.write_line(indent, parts, s.span.line, s.span.end_line))
        if isinstance(s, A.Assign):
            parts = self.target(s.target)
            if s.annotation is not None:
                parts = parts + [": " + self.type_text(s.annotation)]
            if s.value is not None:
                parts = parts + [" = "] + self.target(s.value, False)
            line(parts)
        elif isinstance(s, A.AugAssign):
            line(self.expr(s.target) + [f" {s.op}= "] + self.target(s.value, False))
        elif isinstance(s, A.ExprStmt):
            line(self.target(s.value, False))
        elif isinstance(s, A.Return):
            line(["return"] + ([" "] + self.target(s.value, False) if s.value is not None else []))
        elif isinstance(s, A.Assert):
            line(["assert "] + x(s.test) + ([", "] + x(s.msg) if s.msg is not None else []))
        elif isinstance(s, A.Pass):
            line(["..." if self.src.slice(s.span) == "..." else "pass"])
        elif isinstance(s, A.Break):
            line(["break"])
        elif isinstance(s, A.Continue):
            line(["continue"])
        elif isinstance(s, A.If):
            self.if_stmt(s, indent, "if ")
        elif isinstance(s, A.While):
            head = ["while "] + x(s.test) + [":"]
            self.write_line(indent, head, s.span.line, self.header_end(s.test.span))
            self.block(s.body, indent + INDENT, s.span.col)
        elif isinstance(s, A.For):
            head = ["for "] + self.target(s.target) + [" in "] + self.target(s.iter, False) + [":"]
            self.write_line(indent, head, s.span.line, self.header_end(s.iter.span))
            self.block(s.body, indent + INDENT, s.span.col)
        elif isinstance(s, A.FuncDef):
            self.funcdef(s, indent)
        else:
            raise FormatError(f"cannot format a {type(s).__name__}")

    def if_stmt(self, s: A.If, indent: int, keyword: str) -> None:
        head = [keyword] + self.expr(s.test) + [":"]
        self.write_line(indent, head, s.span.line, self.header_end(s.test.span))
        self.block(s.body, indent + INDENT, s.span.col)
        if not s.orelse:
            return
        nested = s.orelse[0]
        if len(s.orelse) == 1 and isinstance(nested, A.If) and \
                self.src.slice(nested.span).startswith("elif"):
            self.comments_before(nested.span.line, indent, False)
            self.if_stmt(nested, indent, "elif ")
            return
        _, at = self.src.next_significant(self.src.offset(s.body[-1].span.end_line,
                                                          s.body[-1].span.end_col))
        else_line = self.src.position(at)[0]
        self.comments_before(else_line, indent, False)
        self.write_line(indent, ["else:"], else_line, else_line)
        self.block(s.orelse, indent + INDENT, s.span.col)

    # ============================================================ declarations

    def decl(self, d) -> None:
        if isinstance(d, A.FuncDef):
            self.funcdef(d)
        elif isinstance(d, A.StructDef):
            self.write_line(0, [f"struct {d.name}:"], d.span.line, d.span.line)
            doc = self.docstring(d.span, d.fields[0].span if d.fields else None) is not None
            for k, f in enumerate(d.fields):
                wrote = self.comments_before(f.span.line, INDENT, k == 0 and not doc)
                if (k > 0 or doc or wrote) and self.src.has_blank(self.last_line, f.span.line):
                    self.blank()
                self.write_line(INDENT, [f"{f.name}: {self.type_text(f.annotation)}"],
                                f.span.line, f.span.end_line)
            if not d.fields and not doc:
                self.write_line(INDENT, ["pass"], d.span.end_line, d.span.end_line)
            self.block_tail(INDENT, d.span.col)
        elif isinstance(d, A.ExternDef):
            head = [f"extern def {d.name}", self.params(d)]
            head += [f" -> {self.type_text(d.returns)}"] if d.returns else []
            self.write_line(0, head, d.span.line, d.span.end_line)
        elif isinstance(d, A.ConstDef):
            ann = f": {self.type_text(d.annotation)}" if d.annotation else ""
            self.write_line(0, [f"const {d.name}{ann} = "] + self.target(d.value, False),
                            d.span.line, d.span.end_line)
        elif isinstance(d, A.Example):
            self.write_line(0, ["example "] + self.expr(d.expr), d.span.line, d.span.end_line)
        elif isinstance(d, A.Property):
            head = [f"property {d.name}", self.params(d), ":"]
            self.write_line(0, head, d.span.line, self.signature_end(d))
            for k, (kw, e) in enumerate((("where ", d.where), ("", d.expr))):
                if e is None:
                    continue
                self.comments_before(e.span.line, INDENT, k == 0 or d.where is None)
                self.write_line(INDENT, [kw] + self.expr(e), e.span.line, e.span.end_line)
            self.block_tail(INDENT, d.span.col)
        elif isinstance(d, A.ImportFrom):
            names = [(None, lambda n=n: [n]) for n in d.names]
            head = [f"from {d.module} import "]
            flat_line = head[0] + ", ".join(d.names)
            parts = [flat_line] if len(flat_line) <= LINE_LENGTH else head + [self.group("(", names, ")", None)]
            self.write_line(0, parts, d.span.line, d.span.end_line)
        else:
            raise FormatError(f"cannot format a {type(d).__name__}")

    def docstring(self, span: A.Span, before: Optional[A.Span], indent: int = INDENT) -> Optional[int]:
        """Write the docstring that starts a def or struct body, verbatim;
        gives the offset after it (None when there is none)."""
        start = self.src.offset(span.line, span.col)
        end = self.src.offset(*(before.line, before.col) if before else (span.end_line, span.end_col))
        run = self.src.strings_from(start, end)
        if not run:
            return None
        first, last = self.src.position(run[0][0]), self.src.position(run[-1][1])
        self.comments_before(first[0], indent, True)
        text = self.src.text[run[0][0]:run[-1][1]]
        self.write_line(indent, [text], first[0], last[0])
        return run[-1][1]

    def funcdef(self, d: A.FuncDef, indent: int = 0) -> None:
        """A top-level function (`indent` 0) or a nested one."""
        for line, name in zip(self.decorator_lines(d), d.decorators):
            self.comments_before(line, indent, True)
            self.write_line(indent, [f"@{name}"], line, line)
        self.comments_before(d.span.line, indent, True)
        head = [f"def {d.name}", self.params(d)]
        head += [f" -> {self.type_text(d.returns)}:" if d.returns else ":"]
        self.write_line(indent, head, d.span.line, self.signature_end(d))
        doc_end, inner = None, indent + INDENT
        if d.docstring is not None:
            doc_end = self.docstring(d.span, d.body[0].span if d.body else None, inner)
        if d.is_hole and doc_end is not None:
            line = self.src.position(self.src.next_significant(doc_end)[1])[0]
            self.comments_before(line, inner, False)
            self.write_line(inner, ["..."], line, line)
        self.block(d.body, inner, d.span.col, started=doc_end is not None)

    def decorator_lines(self, d: A.FuncDef) -> list[int]:
        """The lines of the decorators of `d`, top down."""
        lines, k = [], d.span.line - 1
        while len(lines) < len(d.decorators) and k >= 1:
            if self.src.line_text(k).lstrip().startswith("@"):
                lines.append(k)
            k -= 1
        return lines[::-1]

    def decl_start(self, d) -> int:
        """The first line of a declaration (its first decorator's)."""
        lines = self.decorator_lines(d) if isinstance(d, A.FuncDef) else []
        return lines[0] if lines else d.span.line

    # ============================================================ module

    def format(self) -> str:
        prev = None
        for d in self.module.decls:
            start = self.decl_start(d)
            while (c := self.pool.peek()) is not None and c.line < start:
                self.pool.pop()
                self.separate(prev, None, c.line)
                self.out.append(c.text)
                self.last_line, prev = c.line, c
            self.separate(prev, d, start)
            self.decl(d)
            prev = d
        while self.pool.peek() is not None:
            c = self.pool.pop()
            self.separate(prev, None, c.line)
            self.out.append(c.text)
            self.last_line, prev = c.line, c
        return "\n".join(self.out).rstrip("\n") + "\n" if self.out else ""

    def separate(self, prev, cur, line: int) -> None:
        """The blank line (or none) between two top-level entries: `prev` and
        `cur` are declarations or, as None (cur) / Comment (prev), comments."""
        if prev is None:
            return
        if self.src.has_blank(self.last_line, line):
            self.blank()
        elif not _is_comment(prev) and (_multi(prev) or (cur is not None and _multi(cur))):
            self.blank()


def _multi(node) -> bool:
    return isinstance(node, (A.FuncDef, A.StructDef, A.Property))


def _is_comment(node) -> bool:
    return not isinstance(node, A.Node)


# ---------------------------------------------------------------- entry points

def _tokens(text: str) -> tuple[Counter, list[str], list[str]]:
    src = SourceText(text)
    return (Counter(c.text for c in src.comments), [text[a:b] for a, b in src.strings],
            [text[a:b] for a, b in src.holes])


def format_source(source: str, path: str = "<string>") -> str:
    """The canonical layout of `source`. Raises CompileError when it does not
    parse, FormatError when the result would not be the same program."""
    fmt = Formatter(source, path)
    result = fmt.format()
    try:
        again = parse(result, path)
    except Exception as exc:
        raise FormatError(f"{path}: formatting produced text that does not parse: {exc}") from None
    if not A.ast_equal(A.Module(path, fmt.module.decls), A.Module(path, again.decls)):
        raise FormatError(f"{path}: formatting would change the program; file left as it is")
    if _tokens(fmt.text) != _tokens(result):
        raise FormatError(f"{path}: formatting would lose a comment, string or hole; "
                          "file left as it is")
    return result


def migrate_lock(path: str, before: str, after: str) -> int:
    """Keep the lock file of `path` in step after its text changed from
    `before` to `after` (the same program): a hole's key covers the text of
    its examples (whitespace aside), so a layout change such as dropping
    redundant parentheses in an example re-keys its holes. Each entry of
    a hole whose key changed is stored again under the new key (restamped:
    the fill, the hole and its tests are the same program). Returns how many
    entries moved; programs that do not compile are left alone."""
    from npl.compiler.driver import compile
    from npl.filling.lockfile import LockFile, lock_path_for, update_lock
    from npl.lang.diagnostics import CompileError
    lock_path = lock_path_for(path)
    if not lock_path.exists():
        return 0
    lock = LockFile.load(lock_path)
    fills = {k: e.fill for k, e in lock.entries.items()}
    moves: dict[str, str] = {}
    try:
        old = compile(before, path, fills=fills, strict_fills=False).holes
        for _ in range(8):                        # one round per nesting depth
            mapped = {moves.get(k, k): f for k, f in fills.items()}
            new = compile(after, path, fills=mapped, strict_fills=False).holes
            found = {o.key: n.key for o, n in _paired(old, new)
                     if o.key != n.key and o.key in lock.entries and o.key not in moves}
            if not found:
                break
            moves.update(found)
    except CompileError:
        return 0
    if not moves:
        return 0

    def move(entries: dict) -> None:
        for old_key, new_key in moves.items():
            entry = entries.pop(old_key, None)
            spec = next((h for h in new if h.key == new_key), None)
            if entry is not None and new_key not in entries:
                entries[new_key] = dataclasses.replace(
                    entry, key=new_key, hash="",
                    location=spec.location if spec else entry.location)
    update_lock(lock_path, move)
    return len(moves)


def _paired(old: list, new: list) -> list:
    """Holes of two compilations of one program, matched by nesting depth
    and order (a depth whose holes differ in number is not matched)."""
    pairs = []
    for depth in sorted({h.depth for h in old}):
        a = [h for h in old if h.depth == depth]
        b = [h for h in new if h.depth == depth]
        if len(a) != len(b) or any(x.kind != y.kind for x, y in zip(a, b)):
            break
        pairs += zip(a, b)
    return pairs


def _expand(names: list[str]) -> list[str]:
    """Files as given; a folder stands for the .npl files under it (hidden
    folders skipped), in sorted order."""
    out = []
    for name in names:
        path = Path(name)
        if path.is_dir():
            out += sorted(str(p) for p in path.rglob("*.npl")
                          if not any(part.startswith(".") for part in p.relative_to(path).parts))
        else:
            out.append(name)
    return out


def main_fmt(files: list[str], check: bool, echo: Callable[..., None] = print) -> int:
    """Format `files` in place (or, with `check`, only report). Returns the
    exit status: 0 all formatted, 1 some would change (--check), 2 errors."""
    from npl.lang.diagnostics import CompileError
    from npl.project import SourceFileError, read_source
    status, changed = 0, []
    files = _expand(files)
    for name in files:
        path = Path(name)
        try:
            original = read_source(name)
        except SourceFileError as exc:
            echo(f"npl fmt: error: {exc}", file=sys.stderr)
            status = 2
            continue
        try:
            result = format_source(original, name)
        except CompileError as err:
            echo(err.render(), file=sys.stderr)
            status = 2
            continue
        except FormatError as err:
            echo(f"npl fmt: error: {err}", file=sys.stderr)
            status = 2
            continue
        if result == original:
            continue
        changed.append(name)
        if check:
            echo(f"would reformat {name}")
            continue
        write_atomic(path, result)
        moved = migrate_lock(name, original, result)
        echo(f"reformatted {name}" + (f" ({moved} lock entr{'ies' if moved != 1 else 'y'} re-keyed)"
                                      if moved else ""))
    if not changed and status == 0:
        echo(f"{len(files)} file{'s' if len(files) != 1 else ''} already formatted")
    return 1 if check and changed and status == 0 else status
