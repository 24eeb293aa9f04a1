"""NPL parser: source text in, `npl.lang.ast.Module` (or one `Expr`) out.

`parse(source, path)` reads one .npl file; `parse_expr(text, path, line,
col)` reads one expression that sits at line:col of a bigger file (a fill,
an f-string field). Both raise CompileError with E001 (syntax), E002 (bad
token), E003 (indentation), E018 (a Python construct NPL lacks, saying what
to write instead) or E023 (bad type expression).

Three stages, all here so that Lark trees and tokens never leave the module:
  1. NplLexer (a Lark custom lexer) turns text into tokens: indentation as
     _NEWLINE/_INDENT/_DEDENT, holes `?{...}` with balanced braces, strings,
     and soft keywords (`struct const extern example property where` are
     keywords only where the parser state accepts them, names elsewhere).
  2. The Lark LALR parser built from grammar.lark makes a parse tree. The
     tables are built once per process and cached on disk between runs.
  3. _Builder, a non-recursive Lark transformer, turns the tree into AST
     nodes, decodes literals and f-strings, and rejects what NPL lacks.
"""
from __future__ import annotations

import bisect
import hashlib
import os
import re
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

import lark
from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import UnexpectedInput
from lark.lexer import Lexer

from . import ast as A
from .diagnostics import CompileError, Diagnostic

__all__ = ["parse", "parse_expr"]

SOFT_KEYWORDS = frozenset({"struct", "const", "extern", "example", "property", "where"})

_NO_EXCEPTIONS = ("NPL v0.1 has no exceptions: return an optional `T | None` for a "
                  "missing result, or check a condition with `assert cond, \"message\"`")
_NO_CLOSURES = "pass values in as parameters and return results instead"

# Tokens no grammar rule accepts: meeting one is an E018 with this advice.
UNSUPPORTED: dict[str, str] = {
    "class": "`class` is not supported: declare a record with `struct Name:` and "
             "write functions that take it as a parameter",
    "try": f"`try` is not supported: {_NO_EXCEPTIONS}",
    "except": f"`except` is not supported: {_NO_EXCEPTIONS}",
    "finally": f"`finally` is not supported: {_NO_EXCEPTIONS}",
    "raise": f"`raise` is not supported: {_NO_EXCEPTIONS}",
    "with": "`with` is not supported: NPL has no context managers",
    "global": f"`global` is not supported: {_NO_CLOSURES}",
    "nonlocal": f"`nonlocal` is not supported: {_NO_CLOSURES}",
    "yield": "`yield` is not supported: build a list and return it",
    "async": "`async` is not supported: NPL has no coroutines",
    "await": "`await` is not supported: NPL has no coroutines",
    "del": "`del` is not supported: remove entries with `d.pop(key)` or `xs.pop(i)`",
    "as": "`as` is not supported: NPL has no import aliases, `with` or `except`",
    ";": "`;` is not supported: put each statement on its own line",
    ":=": "the walrus operator `:=` is not supported: assign on a line of its own first",
    "!": "`!` is not an operator: use `not`",
    "&&": "`&&` is not an operator: use `and`",
    "||": "`||` is not an operator: use `or`",
    "<>": "`<>` is not an operator: use `!=`",
    "~": "bitwise `~` is not supported",
    "<<": "bit shifts are not supported: multiply or floor-divide by a power of 2",
    ">>": "bit shifts are not supported: multiply or floor-divide by a power of 2",
}
for _op in ("**=", "|=", "&=", "^=", "<<=", ">>="):
    UNSUPPORTED[_op] = f"`{_op}` is not supported: write `x = x {_op[:-1]} y`"
_IMPORT_ADVICE = ("`import module` is not supported: import definitions from a sibling "
                  ".npl file with `from module import name`")

_MAX_BRACKETS = 200           # nesting limits, so that no later pass recurses
_MAX_INDENTS = 100            # too deep on a pathological program
_MAX_DEPTH = 200


# ================================================================ lexer

_TOKEN_RE_HEAD = r"""
  (?P<space>[ \t\f]+|\ufeff)
| (?P<comment>\#[^\n]*)
| (?P<newline>\n)
| (?P<continuation>\\\n)
| (?P<string>(?:[rR][bBfF]?|[bBfF][rR]?|[uU])?(?:'''|\"\"\"|'|"))
| (?P<number>0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+
    |(?:[0-9](?:_?[0-9])*)?\.[0-9](?:_?[0-9])*(?:[eE][+-]?[0-9](?:_?[0-9])*)?
    |[0-9](?:_?[0-9])*(?:\.(?:[0-9](?:_?[0-9])*)?)?(?:[eE][+-]?[0-9](?:_?[0-9])*)?)
| (?P<name>[^\W\d]\w*)
| (?P<hole>\?\{)
| (?P<punct>"""
_STRING_BODY = {
    "'": re.compile(r"(?:[^'\\\n]|\\.)*'", re.S),
    '"': re.compile(r'(?:[^"\\\n]|\\.)*"', re.S),
    "'''": re.compile(r"(?:[^'\\]|\\.|'(?!''))*'''", re.S),
    '"""': re.compile(r'(?:[^"\\]|\\.|"(?!""))*"""', re.S),
}
_INDENT_RE = re.compile(r"[ \t\f]*")
_WORD_TAIL = re.compile(r"\w*")
_BRACE = re.compile(r"[{}]")
_CLOSER = {"(": ")", "[": "]", "{": "}"}


class _LexError(Exception):
    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


@dataclass
class _Source:
    """What the lexer reads: text, its file, and where the text starts there.
    An `expression` is lexed as if inside brackets (newlines don't count)."""
    text: str
    path: str
    expression: bool = False
    line: int = 1
    col: int = 1
    scanner: Optional["_Scanner"] = None      # set while lexing; read on errors

    def display_text(self) -> str:
        """The text as it sits in its file, for rendering carets."""
        return "\n" * (self.line - 1) + " " * (self.col - 1) + self.text


class NplLexer(Lexer):
    """Lark custom lexer. Its tables come from the grammar's terminals."""
    __future_interface__ = 2

    def __init__(self, lexer_conf):
        named = {t.pattern.value: t.name for t in lexer_conf.terminals if t.pattern.type == "str"}
        self.keywords = {v: n for v, n in named.items() if v.isidentifier()}
        self.punct = {v: n for v, n in named.items() if not v.isidentifier()}
        for text in UNSUPPORTED:
            (self.keywords if text.isidentifier() else self.punct)[text] = "UNSUPPORTED"
        alternatives = "|".join(map(re.escape, sorted(self.punct, key=len, reverse=True)))
        self.token_re = re.compile(_TOKEN_RE_HEAD + alternatives + ")", re.VERBOSE)

    def lex(self, lexer_state, parser_state):
        return _Scanner(self, lexer_state.text, parser_state).tokens()


class _Scanner:
    """One run of the lexer over one _Source; a generator of Lark tokens."""

    def __init__(self, lexer: NplLexer, src: _Source, parser_state):
        self.lexer, self.src, self.parser_state = lexer, src, parser_state
        self.text = src.text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        self.indents = [0]
        self.brackets: list[int] = []            # offsets of open ( [ {
        self.last: Optional[Token] = None        # the last token yielded
        self.prev: Optional[Token] = None        # the one before it
        self.last_end = 0                        # offset after the last real token
        src.scanner = self

    # ---------------------------------------------------------- positions

    def pos(self, offset: int) -> tuple[int, int]:
        idx = bisect.bisect_right(self.line_starts, offset) - 1
        col = offset - self.line_starts[idx] + 1
        return self.src.line + idx, col + (self.src.col - 1 if idx == 0 else 0)

    def span(self, start: int, end: int) -> A.Span:
        return A.Span(self.src.path, *self.pos(start), *self.pos(end))

    def starts_line(self, token: Token) -> bool:
        line_start = self.line_starts[bisect.bisect_right(self.line_starts, token.start_pos) - 1]
        return not self.text[line_start:token.start_pos].strip()

    def error(self, code: str, message: str, start: int, end: int) -> _LexError:
        return _LexError(Diagnostic(code, message, self.span(start, end)))

    def make(self, type_: str, start: int, end: int) -> Token:
        (line, col), (end_line, end_col) = self.pos(start), self.pos(end)
        token = Token(type_, self.text[start:end], start, line, col, end_line, end_col, end)
        self.prev, self.last = self.last, token
        if end > start:
            self.last_end = end
        return token

    def marker(self, type_: str) -> Token:
        """A zero-width _NEWLINE or _DEDENT right after the last real token,
        so that statement and block spans end where their text ends."""
        return self.make(type_, self.last_end, self.last_end)

    # ---------------------------------------------------------- main loop

    def tokens(self):
        text, i = self.text, 0
        if not self.src.expression:
            i = yield from self.line_start(0)
        while i < len(text):
            m = self.lexer.token_re.match(text, i)
            if m is None:
                raise self.invalid_character(i)
            kind = m.lastgroup
            if kind == "newline" and not self.brackets and not self.src.expression:
                if self.last is not None and self.last.type != "_NEWLINE":
                    yield self.marker("_NEWLINE")
                i = yield from self.line_start(m.end())
            elif kind in ("space", "comment", "continuation", "newline"):
                i = m.end()
            else:
                yield self.token(kind, m)
                i = self.last_end
        yield from self.finish()

    def token(self, kind: str, m: re.Match) -> Token:
        start, end = m.start(), m.end()
        if kind == "name":
            return self.name(m.group(), start, end)
        if kind == "number":
            return self.make("NUMBER", start, self.number_end(m))
        if kind == "string":
            return self.string(m)
        if kind == "hole":
            return self.make("HOLE", start, self.hole_end(start))
        self.track_bracket(m.group(), start)
        return self.make(self.lexer.punct[m.group()], start, end)

    def name(self, word: str, start: int, end: int) -> Token:
        if not word.isidentifier():
            bad = next(k for k in range(start, end) if not self.text[start:k + 1].isidentifier())
            raise self.invalid_character(bad)
        type_ = self.lexer.keywords.get(word, "NAME")
        if word in SOFT_KEYWORDS and not self.accepts(type_):
            type_ = "NAME"
        return self.make(type_, start, end)

    def accepts(self, terminal: str) -> bool:
        state = self.parser_state
        return terminal in state.parse_conf.states[state.position]

    def number_end(self, m: re.Match) -> int:
        end = _WORD_TAIL.match(self.text, m.end()).end()
        if end > m.end():
            if self.text[m.end():end] in ("j", "J"):
                raise self.error("E018", "complex numbers are not supported", m.start(), end)
            raise self.error("E002", f"invalid number literal `{self.text[m.start():end]}`",
                             m.start(), end)
        return end

    def string(self, m: re.Match) -> Token:
        start, opening = m.start(), m.group()
        quote = opening.lstrip("rRbBfFuU")
        body = _STRING_BODY[quote].match(self.text, m.end())
        if body is None:
            what = "triple-quoted string" if len(quote) == 3 else "string"
            line_end = self.text.find("\n", start)
            raise self.error("E002", f"unterminated {what} literal: no closing {quote}",
                             start, line_end if line_end >= 0 else len(self.text))
        kind = "FSTRING" if "f" in opening[:-len(quote)].lower() else "STRING"
        return self.make(kind, start, body.end())

    def hole_end(self, start: int) -> int:
        depth = 0
        for brace in _BRACE.finditer(self.text, start + 1):
            depth += 1 if brace.group() == "{" else -1
            if depth == 0:
                return brace.end()
        raise self.error("E002", "unterminated hole: this `?{` has no matching `}`",
                         start, start + 2)

    def track_bracket(self, punct: str, start: int) -> None:
        if punct in _CLOSER:
            if len(self.brackets) >= _MAX_BRACKETS:
                raise self.error("E001", f"too many nested brackets (the limit is {_MAX_BRACKETS})",
                                 start, start + 1)
            self.brackets.append(start)
        elif punct in (")", "]", "}"):
            if not self.brackets:
                raise self.error("E001", f"unmatched `{punct}`: no bracket is open here",
                                 start, start + 1)
            opener = self.brackets.pop()
            if _CLOSER[self.text[opener]] != punct:
                line, col = self.pos(opener)
                raise self.error("E001", f"`{punct}` does not match the `{self.text[opener]}` "
                                 f"at line {line}, column {col}", start, start + 1)

    def invalid_character(self, i: int) -> _LexError:
        char = self.text[i]
        if char == "?":
            return self.error("E002", "`?` must start a hole: `?{description}`", i, i + 1)
        if char == "\\":
            return self.error("E002", "`\\` may only end a line (a line continuation)", i, i + 1)
        shown = f"`{char}`" if char.isprintable() and not char.isspace() else f"U+{ord(char):04X}"
        return self.error("E002", f"invalid character {shown}", i, i + 1)

    # ---------------------------------------------------------- lines

    def line_start(self, i: int):
        """Skip blank and comment-only lines from offset `i`; at the next line
        with code, yield _INDENT/_DEDENTs. Returns that code's offset."""
        text = self.text
        while True:
            j = _INDENT_RE.match(text, i).end()
            if j == len(text):
                return j
            if text[j] == "\n":
                i = j + 1
            elif text[j] == "#":
                k = text.find("\n", j)
                if k < 0:
                    return len(text)
                i = k + 1
            else:
                break
        indent = text[i:j]
        if "\t" in indent:
            tab = i + indent.index("\t")
            raise self.error("E003", "tab in indentation: NPL indents with spaces only",
                             tab, tab + 1)
        yield from self.indent_to(len(indent.rsplit("\f", 1)[-1]), i, j)
        return j

    def indent_to(self, width: int, line_start: int, first: int):
        if width > self.indents[-1]:
            if len(self.indents) > _MAX_INDENTS:
                raise self.error("E003", f"too many levels of indentation (the limit is "
                                 f"{_MAX_INDENTS})", line_start, first)
            self.indents.append(width)
            yield self.make("_INDENT", first, first)
            return
        while width < self.indents[-1]:
            self.indents.pop()
            yield self.marker("_DEDENT")
        if width != self.indents[-1]:
            levels = ", ".join(str(n) for n in self.indents)
            raise self.error("E003", f"inconsistent dedent: an indentation of {width} spaces "
                             f"matches no enclosing block (those are indented {levels})",
                             line_start, first)

    def finish(self):
        if self.brackets:
            opener = self.brackets[-1]
            raise self.error("E001", f"`{self.text[opener]}` is never closed", opener, opener + 1)
        if self.src.expression:
            return
        if self.last is not None and self.last.type != "_NEWLINE":
            yield self.marker("_NEWLINE")
        while len(self.indents) > 1:
            self.indents.pop()
            yield self.marker("_DEDENT")


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
        cache.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache.parent, prefix=".tmp-", delete=False) as f:
            try:
                parser.save(f)
            except BaseException:
                os.unlink(f.name)
                raise
        os.replace(f.name, cache)       # atomic: a concurrent reader never sees half a file
    except OSError:         # a read-only or full disk only costs start-up time
        pass
    return parser


def _parse_tree(src: _Source, start: str):
    try:
        return _get_parser().parse(src, start=start)
    except _LexError as e:
        raise CompileError([e.diagnostic], {src.path: src.display_text()}) from None
    except UnexpectedInput as e:
        raise CompileError([_syntax_error(e, src)], {src.path: src.display_text()}) from None


# ================================================================ syntax errors

_EXPR_START = {"NAME", "NUMBER", "STRING", "FSTRING", "HOLE", "LPAR", "LSQB", "LBRACE",
               "MINUS", "PLUS", "NOT", "LAMBDA", "TRUE", "FALSE", "NONE", "STAR"}
_BINARY = {"PLUS", "MINUS", "STAR", "SLASH", "DSLASH", "PERCENT", "POW", "VBAR",
           "CIRCUMFLEX", "AMPER", "EQEQ", "NOTEQ", "LESS", "LESSEQ", "MORE", "MOREEQ",
           "IN", "NOT", "IS", "AND", "OR"}
_POSTFIX = _BINARY | {"IF", "DOT", "LPAR", "LSQB"}
_AUGMENTED = {"PLUSEQ", "MINUSEQ", "STAREQ", "SLASHEQ", "DSLASHEQ", "PERCENTEQ"}
_DECL_START = {"DEF", "AT", "STRUCT", "CONST", "EXTERN", "EXAMPLE", "PROPERTY", "FROM"}
_STMT_START = {"IF", "WHILE", "FOR", "RETURN", "PASS", "BREAK", "CONTINUE", "ASSERT",
               "DEF", "AT", "ELLIPSIS"}
_CLOSING = ["COLON", "RPAR", "RSQB", "RBRACE", "COMMA", "EQUAL", "ARROW", "IN", "ELSE", "IMPORT"]
_WORDS = {"NAME": "a name", "NUMBER": "a number", "STRING": "a string",
          "FSTRING": "an f-string", "HOLE": "a hole", "_NEWLINE": "end of line",
          "_INDENT": "an indented block", "_DEDENT": "the end of the block",
          "$END": "end of file"}
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
        return Diagnostic("E018", _IMPORT_ADVICE, span)
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


def _hints(token: Token, expected: set[str], scanner: Optional[_Scanner]) -> tuple[str, ...]:
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


# ================================================================ string literals

_SIMPLE_ESCAPES = {"\n": "", "\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b",
                   "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPE = re.compile(r"\\(\n|[\\'\"abfnrtv]|[0-7]{1,3}|x[0-9a-fA-F]{0,2}|u[0-9a-fA-F]{0,4}"
                     r"|U[0-9a-fA-F]{0,8}|N(?:\{[^}\n]*\})?|.)", re.S)
_HEX_DIGITS = {"x": 2, "u": 4, "U": 8}


class _EscapeError(Exception):
    def __init__(self, offset: int, message: str):
        super().__init__(message)
        self.offset, self.message = offset, message


def unescape(body: str) -> str:
    """Python's escape sequences in the text of a (non-raw) str literal.
    Unknown escapes such as `\\q` keep their backslash, as in Python."""
    if "\\" not in body:
        return body
    return _ESCAPE.sub(_escape_value, body)


def _escape_value(m: re.Match) -> str:
    e = m.group(1)
    if e in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[e]
    if e[0] in "01234567":
        return chr(int(e, 8))
    if e[0] in _HEX_DIGITS:
        need = _HEX_DIGITS[e[0]]
        if len(e) - 1 != need:
            raise _EscapeError(m.start(), f"truncated `\\{e[0]}` escape: it takes {need} "
                               "hex digits")
        if int(e[1:], 16) > 0x10FFFF:
            raise _EscapeError(m.start(), f"`\\{e}` is not a Unicode character")
        return chr(int(e[1:], 16))
    if e[0] == "N":
        if len(e) == 1:
            raise _EscapeError(m.start(), "malformed `\\N` escape: write `\\N{CHARACTER NAME}`")
        import unicodedata
        try:
            return unicodedata.lookup(e[2:-1])
        except KeyError:
            raise _EscapeError(m.start(), f"unknown Unicode character name `{e[2:-1]}`") from None
    return m.group(0)


class _Literal:
    """One string token split into prefix, quote and body, with the file
    position of every body offset."""

    def __init__(self, token: Token):
        text = token.value
        prefix = re.match(r"[a-zA-Z]*", text).group()
        quote = 3 if text[len(prefix):len(prefix) + 3] in ('"""', "'''") else 1
        self.prefix = prefix.lower()
        self.body = text[len(prefix) + quote:len(text) - quote]
        self.line, self.col = token.line, token.column + len(prefix) + quote
        self.newlines = [k for k, c in enumerate(self.body) if c == "\n"]

    def pos(self, k: int) -> tuple[int, int]:
        n = bisect.bisect_left(self.newlines, k)
        if n == 0:
            return self.line, self.col + k
        return self.line + n, k - self.newlines[n - 1]


class _FStringReader:
    """Splits an f-string body into literal text and FormatFields, parsing
    each field's expression at its real position in the file."""

    def __init__(self, builder: "_Builder", lit: _Literal):
        self.b, self.lit, self.body = builder, lit, lit.body
        self.raw = "r" in lit.prefix

    def span(self, start: int, end: int) -> A.Span:
        return A.Span(self.b.path, *self.lit.pos(start), *self.lit.pos(end))

    def error(self, message: str, start: int, end: int) -> None:
        self.b._error("E001", f"f-string: {message}", self.span(start, end))

    def parts(self, k: int = 0, in_spec: bool = False) -> tuple[list, int]:
        """Read from offset k to the end (or, in a format spec, to its `}`)."""
        body, out, text, chunk_start = self.body, [], "", k
        while k < len(body):
            c = body[k]
            if c == "\\" and not self.raw:
                k = self.escape_end(k)
            elif c == "{" and not in_spec and body.startswith("{{", k):
                text += self.decode(chunk_start, k) + "{"
                k = chunk_start = k + 2
            elif c == "}" and not in_spec and body.startswith("}}", k):
                text += self.decode(chunk_start, k) + "}"
                k = chunk_start = k + 2
            elif c == "{":
                text += self.decode(chunk_start, k)
                field, debug_text, k = self.field(k)
                text += debug_text
                if text:
                    out.append(text)
                text, chunk_start = "", k
                if field is not None:
                    out.append(field)
            elif c == "}":
                if in_spec:
                    break
                self.error("a single `}` is not allowed: write `}}` for a literal brace", k, k + 1)
                k += 1
            else:
                k += 1
        text += self.decode(chunk_start, k)
        if text:
            out.append(text)
        return out, k

    def escape_end(self, k: int) -> int:
        """Skip the escape at k; a `\\N{...}` brace is not a field, but the
        brace of `\\{` is (the backslash stays literal, as in Python)."""
        if self.body.startswith("N{", k + 1):
            return self.body.find("}", k) + 1 or len(self.body)
        return k + 1 if self.body[k + 1:k + 2] in ("{", "}", "") else k + 2

    def decode(self, start: int, end: int) -> str:
        chunk = self.body[start:end]
        if self.raw:
            return chunk
        try:
            return unescape(chunk)
        except _EscapeError as e:
            self.b._error("E002", e.message, self.span(start + e.offset, start + e.offset + 2))
            return chunk

    def field(self, start: int) -> tuple[Optional[A.FormatField], str, int]:
        """Read `{expr=!c:spec}` from the `{` at `start`; gives the field, the
        text a debug `=` adds before it, and the offset after the `}`."""
        body = self.body
        j = self.expression_end(start + 1)
        source, debug_text = body[start + 1:j], ""
        if j < len(body) and body[j] == "=":
            j = _WHITESPACE.match(body, j + 1).end()
            debug_text = body[start + 1:j]
        conversion = None
        if body.startswith("!", j):
            conversion = body[j + 1:j + 2]
            if conversion not in ("r", "s"):
                self.error("a conversion is `!r` or `!s`", j, j + 2)
            j += 2
        spec = []
        if body.startswith(":", j):
            spec, j = self.parts(j + 1, in_spec=True)
        if not body.startswith("}", j):
            self.error("expected `}` to close this field", start, start + 1)
            return None, debug_text, len(body)
        if not source.strip():
            self.error("empty expression in `{}`", start, j + 1)
            return None, debug_text, j + 1
        if debug_text and conversion is None and not spec:
            conversion = "r"
        expr = self.b._fragment(source, *self.lit.pos(start + 1))
        field = A.FormatField(expr, conversion, tuple(spec), span=self.span(start, j + 1))
        return field, debug_text, j + 1

    def expression_end(self, k: int) -> int:
        """Offset of the `}`, `!`, `:` or debug `=` that ends a field's expression."""
        body, depth = self.body, 0
        while k < len(body):
            c, nxt = body[k], body[k + 1:k + 2]
            if c in "=!<>" and nxt == "=":
                k += 2
                continue
            if c in "([{":
                depth += 1
            elif c in ")]}":
                if depth == 0 and c == "}":
                    return k
                depth -= 1
            elif c in "'\"":
                close = body.find(c, k + 1)
                k = close if close >= 0 else len(body)
            elif c == "?" and nxt == "{":
                k = self.hole_end(k)
                continue
            elif depth == 0 and c in "!:=":
                return k
            elif c == "#":
                self.error("a field's expression cannot contain `#`", k, k + 1)
            k += 1
        return k

    def hole_end(self, k: int) -> int:
        depth = 0
        for brace in _BRACE.finditer(self.body, k + 1):
            depth += 1 if brace.group() == "{" else -1
            if depth == 0:
                return brace.end()
        return len(self.body)


_WHITESPACE = re.compile(r"\s*")


def _clean_docstring(text: str) -> str:
    """Docstring text without its common indentation (inspect.cleandoc's rule)."""
    lines = text.expandtabs().split("\n")
    indents = [len(s) - len(s.lstrip()) for s in lines[1:] if s.strip()]
    margin = min(indents, default=0)
    return "\n".join([lines[0].strip()] + [s[margin:].rstrip() for s in lines[1:]]).strip()


# ================================================================ tree -> AST

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

    def _block(self, stmts) -> tuple[A.Stmt, ...]:
        body = []
        for stmt in stmts:
            if isinstance(stmt, A.FuncDef):
                self._error("E018", f"nested functions are not supported: define `{stmt.name}` "
                            "at the top level of the file", stmt.span)
            else:
                body.append(stmt)
        return tuple(body)

    def _check_target(self, target: A.Expr, context: str) -> None:
        """`context` is "assign", "augmented" or "loop"."""
        if isinstance(target, A.Name):
            return
        if isinstance(target, (A.Index, A.Attribute)) and context != "loop":
            return
        if isinstance(target, A.TupleExpr) and context != "augmented":
            for elt in target.elts:
                if isinstance(elt, A.TupleExpr):
                    self._error("E018", "nested unpacking is not supported: unpack in two steps",
                                elt.span)
                elif not isinstance(elt, A.Name):
                    self._error("E018", "unpacking assigns to plain names only: assign to "
                                "this target in a statement of its own", elt.span)
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
        if isinstance(expr, A.Name) and expr.id == "kernel":
            return "kernel"
        if isinstance(expr, A.Call) and isinstance(expr.func, A.Name) and expr.func.id == "kernel":
            message = "`@kernel` takes no arguments"
        elif isinstance(expr, A.Name):
            message = f"unknown decorator `@{expr.id}`: the only decorator is `@kernel`"
        else:
            message = "decorators other than `@kernel` are not supported"
        self._error("E018", message, self._span(meta))
        return None

    def funcdef(self, meta, ch):
        name, params, returns, body = ch
        doc, stmts = None, list(body)
        if stmts and isinstance(stmts[0], A.ExprStmt) and isinstance(stmts[0].value, A.StrLit):
            doc, stmts = _clean_docstring(stmts[0].value.value), stmts[1:]
        is_hole = doc is not None and len(stmts) == 1 and stmts[0] in self.ellipses
        return A.FuncDef(name.value, tuple(params or ()), returns,
                         () if is_hole else self._block(stmts), docstring=doc,
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

    def number(self, meta, ch):
        text, span = ch[0].value.replace("_", ""), self._span(meta)
        if text[:2].lower() in ("0x", "0o", "0b"):
            return A.IntLit(int(text, 0), span=span)
        if any(c in text for c in ".eE"):
            return A.FloatLit(float(text), span=span)
        if text[0] == "0" and text.strip("0"):
            self._error("E002", f"leading zeros are not allowed in a decimal number: write "
                        f"`{text.lstrip('0')}`, or `0o{text.lstrip('0')}` for octal", span)
            return A.IntLit(0, span=span)
        try:
            return A.IntLit(int(text), span=span)
        except ValueError:          # beyond Python's int-from-text digit limit
            self._error("E002", f"integer literal too long ({len(text)} digits)", span)
            return A.IntLit(0, span=span)

    def string(self, meta, ch):
        parts, formatted = [], False
        for token in ch:
            lit = _Literal(token)
            if "b" in lit.prefix:
                self._error("E018", "bytes literals are not supported: use a `str`",
                            self._token_span(token))
            if "f" in lit.prefix:
                formatted = True
                parts += _FStringReader(self, lit).parts()[0]
            else:
                parts.append(lit.body if "r" in lit.prefix else self._unescape(lit))
        merged = _merge_text(parts)
        if not formatted:
            return A.StrLit("".join(merged), span=self._span(meta))
        return A.FString(tuple(merged), span=self._span(meta))

    def _unescape(self, lit: _Literal) -> str:
        try:
            return unescape(lit.body)
        except _EscapeError as e:
            line, col = lit.pos(e.offset)
            self._error("E002", e.message, A.Span(self.path, line, col, line, col + 2))
            return lit.body


def _merge_text(parts: list) -> list:
    """Join neighbouring literal pieces: ["a", "b", field] -> ["ab", field]."""
    merged: list = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return merged


def _bad_target(target: A.Expr, context: str) -> tuple[str, str, A.Span]:
    if isinstance(target, A.Slice):
        return "E018", "assigning to a slice is not supported: build a new list", target.span
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
    sum of 1000 terms): later passes recurse over the AST."""
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > _MAX_DEPTH:
            raise CompileError([Diagnostic(
                "E001", f"this is nested too deeply (over {_MAX_DEPTH} levels): split it "
                "up with intermediate variables", node.span)], {src.path: src.display_text()})
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
