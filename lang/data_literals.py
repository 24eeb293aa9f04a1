"""Constant data displays read in one pass: text in, AST literal nodes out.

A program may hold data: a list of 400,000 numbers, a table of strings. Fed
token by token through the LALR parser, each element climbs the whole
expression-precedence chain (a dozen reductions, each building a tree
node), which makes a megabyte of data take tens of seconds. The lexer
(lang/lexer.py) therefore offers each `[`, `(` or `{` that opens an
expression to `read_data` first: if the display holds only constants
(numbers, plain strings, `True`/`False`/`None`, `-number`) and displays of
constants, nested, with at least `DATA_MIN` constants in all, it becomes one
DATA token whose AST (the very nodes and spans the parser would build) is
made here. Anything else, and any literal with a problem to report (a
leading zero, a bad escape, a bytes or f-string), gives None, and the
parser reads the display as usual.
"""
from __future__ import annotations

import bisect
import re
from typing import TYPE_CHECKING, Optional

from lark import Token

from . import ast as A
from .gcpause import gc_paused
from .literals import number_literal, string_literal

if TYPE_CHECKING:
    from .lexer import Scanner

__all__ = ["DATA_MIN", "read_data"]

DATA_MIN = 16                 # constants a display needs to take this path
_CLOSER = {"(": ")", "[": "]", "{": "}"}
_CONSTANT_NAMES = {"True": True, "False": False, "None": None}
_SKIP = ("space", "comment", "newline", "continuation")
_BLANKS = re.compile(r"(?:[ \t\f\n]+|#[^\n]*|\\\n)*")      # what separates tokens here
_WORD_TAIL = re.compile(r"\w*")
# A plain constant: a decimal number (after a `-` on its line), a string
# without escapes or prefix, True, False or None. Six groups.
_SCALAR = (r"(?:(-)[ \t]*)?(?:([1-9][0-9]{0,17}|0)"
           r"|([0-9]+\.[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?"
           r"|[0-9]+[eE][+-]?[0-9]+))(?![\w.])"
           r"|\"([^\"\\\n]*)\"|'([^'\\\n]*)'|(True|False|None)(?!\w)")
_SCALAR_GROUPS = 6
_END = r"[ \t\n]*(?:(,)|(?=[\]\)}]))"       # a comma, or the closing bracket next
_ELEMENT = re.compile(r"[ \t\n]*(?:" + _SCALAR + ")" + _END)
_PAIR = re.compile(r"[ \t\n]*(?:" + _SCALAR + r")[ \t\n]*:[ \t\n]*(?:" + _SCALAR + ")" + _END)


class _NotData(Exception):
    """The display is not plain constant data: the parser reads it."""


def read_data(scanner: "Scanner", start: int,
              depth_left: int) -> Optional[tuple[int, A.Expr, int]]:
    """(end offset, AST node, its depth in nodes) of the constant display
    opening at `start`, or None. `depth_left`: how many brackets may still
    open."""
    reader = _Reader(scanner)
    try:
        with gc_paused():
            end, node = reader.display(start, depth_left)
    except _NotData:
        return None
    if reader.constants < DATA_MIN:
        return None
    return end, node, depth_left - reader.lowest_depth_left + 2     # + a leaf and its `-`


class _Reader:
    def __init__(self, scanner: "Scanner"):
        self.scanner = scanner
        self.text = scanner.text
        self.token_re = scanner.lexer.token_re
        self.line_starts = scanner.line_starts
        self.path, self.first_line, self.first_col = scanner.src.path, scanner.src.line, scanner.src.col
        self.constants = 0
        self.lowest_depth_left = 1 << 30

    # ------------------------------------------------------------ tokens

    def next_token(self, i: int) -> re.Match:
        """The next token at or after `i` (inside brackets, newlines and
        comments are blanks)."""
        m = self.token_re.match(self.text, _BLANKS.match(self.text, i).end())
        if m is None or m.lastgroup in _SKIP:
            raise _NotData
        return m

    def pos(self, offset: int) -> tuple[int, int]:
        """(line, column) of `offset`, as Scanner.pos gives it."""
        idx = bisect.bisect_right(self.line_starts, offset) - 1
        col = offset - self.line_starts[idx] + 1
        return self.first_line + idx, col + (self.first_col - 1 if idx == 0 else 0)

    def span(self, start: int, end: int) -> A.Span:
        line, col = self.pos(start)
        if end - start == 1 or self.text.find("\n", start, end) < 0:
            return A.Span(self.path, line, col, line, col + (end - start))
        return A.Span(self.path, line, col, *self.pos(end))

    # ------------------------------------------------------------ displays

    def display(self, start: int, depth_left: int) -> tuple[int, A.Expr]:
        if depth_left <= 0:
            raise _NotData
        self.lowest_depth_left = min(self.lowest_depth_left, depth_left)
        opener = self.text[start]
        closer = _CLOSER[opener]
        keys: list[A.Expr] = []
        values: list[A.Expr] = []
        is_dict: Optional[bool] = None
        trailing_comma = False
        i = start + 1
        while True:
            pairs = is_dict or (is_dict is None and opener == "{"
                                and _PAIR.match(self.text, i) is not None)
            count = len(values)
            i, comma = self.scalar_run(i, keys if pairs else None, values)
            if len(values) > count:
                is_dict, trailing_comma = bool(pairs), comma
            m = self.next_token(i)
            if m.group() == closer:
                break
            key, i = self.element(m, depth_left)
            m = self.next_token(i)
            if opener == "{" and is_dict in (None, True) and m.group() == ":":
                is_dict = True
                value, i = self.element(self.next_token(m.end()), depth_left)
                keys.append(key)
                values.append(value)
                m = self.next_token(i)
            elif is_dict:
                raise _NotData
            else:
                is_dict = False
                values.append(key)
            trailing_comma = m.group() == ","
            if m.group() == closer:
                break
            if not trailing_comma:
                raise _NotData
            i = m.end()
        end = m.end()
        return end, self.node(opener, keys, values, is_dict, trailing_comma, start, end)

    def scalar_run(self, i: int, keys: Optional[list], values: list) -> tuple[int, bool]:
        """Read plain constants `C,` (dict items `C: C,`, when `keys` is a
        list) from `i` on, the bulk of most data, in one tight loop; the
        last may stand before a closing bracket instead of a comma. Returns
        the offset after the last one read, and whether a comma ended it."""
        pairs = keys is not None
        match = (_PAIR if pairs else _ELEMENT).match
        comma_group = 2 * _SCALAR_GROUPS + 1 if pairs else _SCALAR_GROUPS + 1
        text, comma = self.text, False
        m = match(text, i)
        while m is not None:
            if pairs:
                keys.append(self.scalar(m, 0))
                values.append(self.scalar(m, _SCALAR_GROUPS))
            else:
                values.append(self.scalar(m, 0))
            self.constants += 1
            comma = m.start(comma_group) >= 0
            i = m.end()
            m = match(text, i) if comma else None
        return i, comma

    def scalar(self, m: re.Match, g: int) -> A.Expr:
        """The node of the constant that groups g+1.. of `m` matched
        (the nodes are built as `_new` does, inline: this is most of the
        time a big display takes to compile)."""
        if m.start(g + 2) >= 0:
            start, end = m.span(g + 2)
            cls, value = A.IntLit, int(m.group(g + 2))
        elif m.start(g + 3) >= 0:
            start, end = m.span(g + 3)
            cls, value = A.FloatLit, float(m.group(g + 3))
        elif m.start(g + 4) >= 0 or m.start(g + 5) >= 0:
            start, end = m.span(g + 4 if m.start(g + 4) >= 0 else g + 5)
            start, end, cls, value = start - 1, end + 1, A.StrLit, m.group(g + 4) or m.group(g + 5) or ""
        else:
            start, end = m.span(g + 6)
            value = _CONSTANT_NAMES[m.group(g + 6)]
            cls = A.NoneLit if value is None else A.BoolLit
        new = object.__new__
        span = new(A.Span)
        fields = span.__dict__
        line, col = self.pos(start)
        fields["file"], fields["line"], fields["col"] = self.path, line, col
        fields["end_line"], fields["end_col"] = line, col + end - start    # one line
        node = new(cls)
        fields = node.__dict__
        fields["span"] = span
        if cls is not A.NoneLit:
            fields["value"] = value
        minus = m.start(g + 1)
        if minus >= 0:                  # `-` and its number are on one line
            span = _new(A.Span, file=self.path, line=line, col=col - (start - minus),
                        end_line=line, end_col=col + end - start)
            node = _new(A.UnaryOp, op="-", operand=node, span=span)
        return node

    def node(self, opener: str, keys: list, values: list, is_dict: Optional[bool],
             trailing_comma: bool, start: int, end: int) -> A.Expr:
        """The node the parser builds for the display (a parenthesised
        single element is that element)."""
        span = self.span(start, end)
        if opener == "[":
            return A.ListExpr(tuple(values), span=span)
        if opener == "(":
            if len(values) == 1 and not trailing_comma:
                return values[0]
            return A.TupleExpr(tuple(values), span=span)
        if is_dict is None or is_dict:
            return A.DictExpr(tuple(keys), tuple(values), span=span)
        return A.SetExpr(tuple(values), span=span)

    def element(self, m: re.Match, depth_left: int) -> tuple[A.Expr, int]:
        """One constant or nested display starting with token `m`; (node, end)."""
        kind, text = m.lastgroup, m.group()
        if kind == "punct" and text in _CLOSER:
            end, node = self.display(m.start(), depth_left - 1)
            return node, end
        if kind == "punct" and text == "-":
            number = self.next_token(m.end())
            if number.lastgroup != "number":
                raise _NotData
            operand, end = self.number(number)
            return A.UnaryOp("-", operand, span=self.span(m.start(), end)), end
        if kind == "number":
            return self.number(m)
        if kind == "string":
            return self.strings(m)
        if kind == "name" and text in _CONSTANT_NAMES:
            self.constants += 1
            span = self.span(m.start(), m.end())
            value = _CONSTANT_NAMES[text]
            node = A.NoneLit(span=span) if value is None else A.BoolLit(value, span=span)
            return node, m.end()
        raise _NotData

    # ------------------------------------------------------------ constants

    def number(self, m: re.Match) -> tuple[A.Expr, int]:
        start, end = m.span()
        if _WORD_TAIL.match(self.text, end).end() > end:        # `1j`, `12abc`
            raise _NotData
        self.constants += 1
        text = m.group()
        span = self.span(start, end)
        if text.isdigit() and (text[0] != "0" or len(text) == 1) and len(text) < 4000:
            return A.IntLit(int(text), span=span), end          # the common case, quickly
        return number_literal(text, span, _refuse), end

    def strings(self, m: re.Match) -> tuple[A.Expr, int]:
        """A run of implicitly concatenated plain string literals."""
        from .lexemes import STRING_BODY
        tokens = []
        start = m.start()
        while m is not None and m.lastgroup == "string":
            opening = m.group()
            quote = opening.lstrip("rRbBfFuU")
            if any(c in opening[:-len(quote)].lower() for c in "bf"):
                raise _NotData
            body = STRING_BODY[quote].match(self.text, m.end())
            if body is None:
                raise _NotData
            tokens.append(self.token(m.start(), body.end()))
            end = body.end()
            m = self.token_re.match(self.text, end)
            while m is not None and m.lastgroup in _SKIP:
                m = self.token_re.match(self.text, m.end())
        self.constants += 1
        return string_literal(tokens, self.span(start, end), _refuse, _no_fields), end

    def token(self, start: int, end: int) -> Token:
        (line, col), (end_line, end_col) = self.pos(start), self.pos(end)
        return Token("STRING", self.text[start:end], start, line, col, end_line, end_col, end)


def _new(cls, **fields):
    """`cls(**fields)` for a frozen dataclass, without its generated
    __init__, which sets each field through object.__setattr__ and is most
    of the cost of 100,000s of literals (the fields must all be given)."""
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


def _refuse(code: str, message: str, span: A.Span) -> None:
    raise _NotData          # the parser reads it again and reports the problem


def _no_fields(text: str, line: int, col: int) -> A.Expr:
    raise _NotData
