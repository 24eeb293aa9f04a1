"""NPL lexer: source text in, a stream of Lark tokens out.

Takes in a `Source` (the text of a file, or of one expression that sits at
a line and column of a bigger file); gives back, through Lark's custom-lexer
interface, the tokens the LALR parser in lang/parser.py reads:
  * indentation as _NEWLINE / _INDENT / _DEDENT markers (zero-width, right
    after the last real token, so that spans end where their text ends);
    newlines inside brackets, comments and backslash continuations make none;
  * holes `?{...}` as one HOLE token, braces balanced (`hole_end`);
  * string literals as whole STRING / FSTRING tokens (`string_end`;
    lang/literals.py decodes them later), numbers as NUMBER;
  * a bracketed display of constants only (data: `[3, 1, 4, ...]`) as one
    DATA token, read by lang/data_literals.py;
  * soft keywords (`struct const extern example property where`) as keywords
    only where the parser state accepts them, as names elsewhere;
  * Python tokens that NPL lacks (`class`, `try`, `;`, `:=`, `<<` ...) as
    UNSUPPORTED tokens, which no grammar rule accepts: the parser turns
    meeting one into an E018 with the advice in `UNSUPPORTED`.
Lexical errors (a bad character, an unterminated string or hole, unmatched
brackets, tabs or inconsistent indentation, and anywhere a Unicode
bidirectional control, which can make code display differently from how it
runs: "Trojan Source") raise `LexError` carrying an E001 / E002 / E003 /
E018 Diagnostic.

Where a string literal or a hole ends is lang/lexemes.py's, shared with
`scan_lexemes`, which finds them in any text for the tools that read source
around the parser.

Lines end at a line feed only: callers turn CR LF and lone CRs into line
feeds first, and no other character (form feed, U+2028, ...) ends a line, as
in Python's tokenizer; lang/diagnostics.source_line splits the same way.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Optional

from lark import Token
from lark.lexer import Lexer

from . import ast as A
from .diagnostics import Diagnostic
from .lexemes import STRING_OPEN, hole_end, string_end

__all__ = ["SOFT_KEYWORDS", "UNSUPPORTED", "IMPORT_ADVICE", "LexError", "Source", "NplLexer",
           "Scanner"]

SOFT_KEYWORDS = frozenset({"struct", "const", "extern", "example", "property", "where"})

NO_EXCEPTIONS = ("NPL v0.1 has no exceptions: return an optional `T | None` for a "
                 "missing result, or check a condition with `assert cond, \"message\"`")
_NO_CLOSURES = "pass values in as parameters and return results instead"

# Tokens no grammar rule accepts: meeting one is an E018 with this advice.
UNSUPPORTED: dict[str, str] = {
    "class": "`class` is not supported: declare a record with `struct Name:` and "
             "write functions that take it as a parameter",
    "try": f"`try` is not supported: {NO_EXCEPTIONS}",
    "except": f"`except` is not supported: {NO_EXCEPTIONS}",
    "finally": f"`finally` is not supported: {NO_EXCEPTIONS}",
    "raise": f"`raise` is not supported: {NO_EXCEPTIONS}",
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
}
for _op in ("|=", "&=", "^="):
    UNSUPPORTED[_op] = f"`{_op}` is not supported: write `x = x {_op[:-1]} y`"
IMPORT_ADVICE = ("`import module` is not supported: import definitions from a sibling "
                  ".npl file with `from module import name`")

# The characters that reorder displayed text (embeddings, overrides, isolates):
# anywhere in a program or fill, even a comment or string, they are an error.
_BIDI_NAMES = {0x202A: "LEFT-TO-RIGHT EMBEDDING", 0x202B: "RIGHT-TO-LEFT EMBEDDING",
               0x202C: "POP DIRECTIONAL FORMATTING", 0x202D: "LEFT-TO-RIGHT OVERRIDE",
               0x202E: "RIGHT-TO-LEFT OVERRIDE", 0x2066: "LEFT-TO-RIGHT ISOLATE",
               0x2067: "RIGHT-TO-LEFT ISOLATE", 0x2068: "FIRST STRONG ISOLATE",
               0x2069: "POP DIRECTIONAL ISOLATE"}
# ... and lone surrogates (no file holds one, but text from a model or the
# embedding API can), which cannot even be written out as UTF-8.
_FORBIDDEN = re.compile("[\\u202a-\\u202e\\u2066-\\u2069\\ud800-\\udfff]")

_MAX_BRACKETS = 200           # nesting limits, so that no later pass recurses
_MAX_INDENTS = 100            # too deep on a pathological program


_TOKEN_RE_HEAD = r"""
  (?P<space>[ \t\f]+|\ufeff)
| (?P<comment>\#[^\n]*)
| (?P<newline>\n)
| (?P<continuation>\\\n)
| (?P<string>""" + STRING_OPEN + r""")
| (?P<number>0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+
    |(?:[0-9](?:_?[0-9])*)?\.[0-9](?:_?[0-9])*(?:[eE][+-]?[0-9](?:_?[0-9])*)?
    |[0-9](?:_?[0-9])*(?:\.(?:[0-9](?:_?[0-9])*)?)?(?:[eE][+-]?[0-9](?:_?[0-9])*)?)
| (?P<name>[^\W\d]\w*)
| (?P<hole>\?\{)
| (?P<punct>"""
_INDENT_RE = re.compile(r"[ \t\f]*")
_WORD_TAIL = re.compile(r"\w*")
_CLOSER = {"(": ")", "[": "]", "{": "}"}


class LexError(Exception):
    """A token the lexer cannot read (internal: the parser reports its
    `diagnostic` in a CompileError)."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


@dataclass
class Source:
    """What the lexer reads: text, its file, and where the text starts there.
    An `expression` is lexed as if inside brackets (newlines don't count)."""
    text: str
    path: str
    expression: bool = False
    line: int = 1
    col: int = 1
    scanner: Optional["Scanner"] = None      # set while lexing; read on errors

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
        return Scanner(self, lexer_state.text, parser_state).tokens()


class Scanner:
    """One run of the lexer over one Source; a generator of Lark tokens."""

    def __init__(self, lexer: NplLexer, src: Source, parser_state):
        self.lexer, self.src, self.parser_state = lexer, src, parser_state
        self.text = src.text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        self.indents = [0]
        self.brackets: list[int] = []            # offsets of open ( [ {
        self.last: Optional[Token] = None        # the last token yielded
        self.prev: Optional[Token] = None        # the one before it
        self.last_end = 0                        # offset after the last real token
        self.data_nodes: dict[int, A.Expr] = {}  # DATA token offset -> its AST
        self.data_depths: dict[int, int] = {}     # id(a DATA node) -> its depth in nodes
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

    def error(self, code: str, message: str, start: int, end: int) -> LexError:
        return LexError(Diagnostic(code, message, self.span(start, end)))

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
        bad = _FORBIDDEN.search(text)
        if bad is not None:
            raise self.forbidden_character(bad.start())
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
        if m.group() in _CLOSER and self.accepts("DATA"):
            data = self.data(start)
            if data is not None:
                return data
        self.track_bracket(m.group(), start)
        return self.make(self.lexer.punct[m.group()], start, end)

    def data(self, start: int) -> Optional[Token]:
        """A DATA token for the display of constants opening at `start`
        (lang/data_literals.py), its AST kept in `self.data_nodes`."""
        from .data_literals import read_data
        found = read_data(self, start, _MAX_BRACKETS - len(self.brackets))
        if found is None:
            return None
        end, node, depth = found
        self.data_nodes[start] = node
        self.data_depths[id(node)] = depth
        return self.make("DATA", start, end)

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
        end, closed = string_end(self.text, m)
        if not closed:
            what = "triple-quoted string" if len(quote) == 3 else "string"
            line_end = self.text.find("\n", start)
            raise self.error("E002", f"unterminated {what} literal: no closing {quote}",
                             start, line_end if line_end >= 0 else len(self.text))
        kind = "FSTRING" if "f" in opening[:-len(quote)].lower() else "STRING"
        return self.make(kind, start, end)

    def hole_end(self, start: int) -> int:
        end = hole_end(self.text, start)
        if end is None:
            raise self.error("E002", "unterminated hole: this `?{` has no matching `}`",
                             start, start + 2)
        return end

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

    def forbidden_character(self, i: int) -> LexError:
        code = ord(self.text[i])
        if code not in _BIDI_NAMES:
            return self.error("E002", f"invalid character U+{code:04X}: a lone surrogate is "
                              "not Unicode text", i, i + 1)
        return self.error("E002", f"Unicode bidirectional control U+{code:04X} "
                          f"({_BIDI_NAMES[code]}): it can make code display differently from how "
                          "it runs (\"Trojan Source\"); remove it, or in a string write it as "
                          f"the escape `\\u{code:04x}`", i, i + 1)

    def invalid_character(self, i: int) -> LexError:
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

