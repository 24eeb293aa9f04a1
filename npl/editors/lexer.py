"""Pygments lexer for NPL source files (`*.npl`).

`NplLexer` covers the lexical structure of docs/reference.md §1-§8: keywords,
declarations (`def`, `struct`, `const`, `extern def`, `example`, `property`,
`from ... import`), decorators (`@kernel`), built-in functions and math
constants, type names, numbers, plain, triple-quoted and f-strings (with
`{expr:spec}` fields lexed as code), comments, and holes.

Holes get their own token type, `HOLE` (`Token.Literal.String.Hole`), so a
style can show the English parts of a program apart from its code:

* an expression hole `?{ ... }` is one run of `HOLE` tokens from `?{` to its
  closing `}`; it may span lines and contain balanced braces;
* a function hole's docstring (a `def` body made of a docstring and `...`)
  is a `HOLE` token, while an ordinary docstring is `String.Doc`.

Pygments finds the lexer through the `pygments.lexers` entry point declared
in pyproject.toml, so `pygmentize -l npl FILE` works once NPL is installed.
"""
from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, combined, include, words
from pygments.token import (
    Comment, Keyword, Name, Number, Operator, Punctuation, String, Text,
    Token, Whitespace,
)

__all__ = ["NplLexer", "HOLE"]

HOLE = Token.Literal.String.Hole

KEYWORDS = (
    "if", "elif", "else", "while", "for", "break", "continue", "return",
    "pass", "assert", "lambda",
)
OPERATOR_WORDS = ("and", "or", "not", "is", "in")
CONSTANTS = ("None", "True", "False")
TYPES = ("int", "float", "bool", "str", "list", "dict", "set", "tuple", "array", "Counter")
BUILTINS = (
    # I/O and general functions (docs/reference.md §6), minus the type names.
    "print", "len", "range", "enumerate", "zip", "abs", "min", "max", "sum",
    "sorted", "reversed", "map", "filter", "any", "all", "round", "divmod",
    "pow", "ord", "chr", "hex", "bin",
    # heaps
    "heappush", "heappop", "heapify", "heappushpop", "heapreplace", "nlargest", "nsmallest",
    # math
    "factorial", "comb", "perm", "gcd", "lcm", "isqrt",
    "sqrt", "exp", "log", "log2", "log10", "sin", "cos", "tan", "asin", "acos",
    "atan", "atan2", "floor", "ceil", "isnan", "isinf",
    # arrays and kernels
    "zeros", "ones", "empty", "full", "arange", "dot", "copy", "prange",
)
# `e` is a built-in constant too, but as a one-letter name it is far more
# often a local variable (`for e in edges`), so it is left unhighlighted.
BUILTIN_CONSTANTS = ("pi", "inf", "nan")

IDENT = r"[^\W\d]\w*"
DIGITS = r"\d(?:_?\d)*"
EXPONENT = rf"[eE][+-]?{DIGITS}"

# A string literal on one line, either quote, with escapes: used to spot a
# function hole whose docstring is written with single quotes.
ONE_LINE_STRING = r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'"""
# A triple-quoted string that cannot run on past its own closing quotes.
TRIPLE_STRING = (r'"""(?:[^"\\]|\\[\s\S]|"(?!""))*"""'
                 r"|'''(?:[^'\\]|\\[\s\S]|'(?!''))*'''")


def _string_body(quote: str, token) -> list:
    """Rules for the inside of a plain string closed by `quote` (escapes
    come first, from the "escapes" state). An unclosed one-line string
    ends at the newline, where Pygments goes back to the root state."""
    if len(quote) == 1:
        text = [(rf"[^\\{quote}\n]+", token)]
    else:
        text = [(rf"[^\\{quote[0]}]+", token), (quote[0], token)]
    return [(quote, token, "#pop")] + text + [(r"\\", token)]


def _fstring_body(quote: str, token) -> list:
    """Rules for the inside of an f-string closed by `quote`: `{{`/`}}` are
    escapes, `{` opens a replacement field, and a lone `}` ends a format
    spec (the field's expression state pops at the `:`)."""
    newline = r"\n" if len(quote) == 1 else ""
    return [
        (quote, token, "#pop"),
        (r"\{\{|\}\}", String.Escape),
        (r"\{", String.Interpol, "fstring-field"),
        (r"\}", String.Interpol),
        (rf"[^\\{{}}{quote[0]}{newline}]+", token),
        (quote[0], token),
        (r"\\", token),
    ]


class NplLexer(RegexLexer):
    """Lexer for NPL, the typed Python-look language with holes."""

    name = "NPL"
    aliases = ["npl"]
    filenames = ["*.npl"]
    mimetypes = ["text/x-npl"]

    tokens = {
        "root": [
            (r"\n", Whitespace),
            # A function hole: a docstring line followed by a line `...`.
            (rf"^([ \t]+)({TRIPLE_STRING}|{ONE_LINE_STRING})([ \t]*\n[ \t]*)(\.\.\.)",
             bygroups(Whitespace, HOLE, Whitespace, Punctuation)),
            # Any other string standing alone at the start of a statement.
            (rf'^([ \t]*)({TRIPLE_STRING})', bygroups(Whitespace, String.Doc)),
            include("declarations"),
            include("expr"),
        ],
        "declarations": [
            (rf"(def)(\s+)({IDENT})", bygroups(Keyword.Declaration, Whitespace, Name.Function)),
            (rf"(struct)(\s+)({IDENT})", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (rf"(const)(\s+)({IDENT})", bygroups(Keyword.Declaration, Whitespace, Name.Constant)),
            (rf"^(property)(\s+)({IDENT})", bygroups(Keyword.Declaration, Whitespace, Name.Function)),
            (r"^(example|extern)\b", Keyword.Declaration),
            (r"^([ \t]+)(where)\b", bygroups(Whitespace, Keyword)),
            (rf"^(from)(\s+)({IDENT}(?:\.{IDENT})*)(\s+)(import)\b",
             bygroups(Keyword.Namespace, Whitespace, Name.Namespace, Whitespace, Keyword.Namespace)),
            (rf"(@)({IDENT})", bygroups(Name.Decorator, Name.Decorator)),
        ],
        "expr": [
            (r"[^\S\n]+", Whitespace),
            (r"#.*$", Comment.Single),
            (r"\\\n", Text),
            (r"\?\{", HOLE, "hole"),
            include("strings"),
            include("numbers"),
            (r"\.\.\.", Punctuation),
            (rf"(\.)({IDENT})", bygroups(Punctuation, Name.Attribute)),
            (r"->|\*\*=?|//=?|[-+*/%]=|==|!=|<=|>=|[-+*/%<>=|&^~]", Operator),
            (r"[()\[\]{}:,.;]", Punctuation),
            (words(OPERATOR_WORDS, suffix=r"\b"), Operator.Word),
            (words(KEYWORDS, suffix=r"\b"), Keyword),
            (words(CONSTANTS, suffix=r"\b"), Keyword.Constant),
            # `int(x)` and `list(xs)` are conversions; elsewhere these are types.
            (words(TYPES, suffix=r"\b(?=\s*\()"), Name.Builtin),
            (words(TYPES, suffix=r"\b"), Keyword.Type),
            (words(BUILTINS, suffix=r"\b"), Name.Builtin),
            (words(BUILTIN_CONSTANTS, suffix=r"\b"), Name.Builtin.Pseudo),
            (IDENT, Name),
        ],
        "hole": [
            (r"[^{}]+", HOLE),
            (r"\{", HOLE, "#push"),
            (r"\}", HOLE, "#pop"),
        ],
        "numbers": [
            (r"0[xX](?:_?[0-9a-fA-F])+\b", Number.Hex),
            (rf"(?:{DIGITS}\.(?:{DIGITS})?|\.{DIGITS})(?:{EXPONENT})?", Number.Float),
            (rf"{DIGITS}{EXPONENT}", Number.Float),
            (DIGITS, Number.Integer),
        ],
        "strings": [
            (r'([fF])(""")', bygroups(String.Affix, String.Double), "fstring-tdq"),
            (r"([fF])(''')", bygroups(String.Affix, String.Single), "fstring-tsq"),
            (r'([fF])(")', bygroups(String.Affix, String.Double), "fstring-dq"),
            (r"([fF])(')", bygroups(String.Affix, String.Single), "fstring-sq"),
            (r'"""', String.Double, combined("escapes", "tdq")),
            (r"'''", String.Single, combined("escapes", "tsq")),
            (r'"', String.Double, combined("escapes", "dq")),
            (r"'", String.Single, combined("escapes", "sq")),
        ],
        "escapes": [
            (r"\\([\\abfnrtv\"'\n]|x[0-9a-fA-F]{2}|[0-7]{1,3}|u[0-9a-fA-F]{4}"
             r"|U[0-9a-fA-F]{8}|N\{[^}]+\})", String.Escape),
        ],
        "tdq": _string_body('"""', String.Double),
        "tsq": _string_body("'''", String.Single),
        "dq": _string_body('"', String.Double),
        "sq": _string_body("'", String.Single),
        "fstring-tdq": [include("escapes")] + _fstring_body('"""', String.Double),
        "fstring-tsq": [include("escapes")] + _fstring_body("'''", String.Single),
        "fstring-dq": [include("escapes")] + _fstring_body('"', String.Double),
        "fstring-sq": [include("escapes")] + _fstring_body("'", String.Single),
        "fstring-field": [
            (r"[(\[{]", Punctuation, "fstring-nested"),
            (r"(![rsa])?\}", String.Interpol, "#pop"),
            # The format spec after `:` is lexed by the enclosing f-string
            # state, which also takes the field's closing `}`.
            (r"(![rsa])?:", String.Interpol, "#pop"),
            (r"\s+", Whitespace),
            include("expr"),
        ],
        "fstring-nested": [
            (r"[(\[{]", Punctuation, "#push"),
            (r"[)\]}]", Punctuation, "#pop"),
            (r"\s+", Whitespace),
            include("expr"),
        ],
    }
