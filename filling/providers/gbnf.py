"""GBNF grammars that keep a local model's fill reply inside NPL's syntax.

Takes in: the kind of hole being filled, "function" or "expression".
Gives back: a GBNF grammar (llama.cpp's grammar format, root rule `root`)
that accepts exactly one reply shape, with no prose around it:

    ```python
    CODE
    ```

i.e. "```python\\n" CODE "\\n```" (the fill prompt asks for Python, whose
syntax NPL's is; filling/prompt.py). A prose line before the fence is
deliberately NOT allowed: a constrained model then starts on the code at
once, spends no tokens on chatter, and the filler can extract the block
without guessing. Decoding stops at the closing fence.

CODE for kind "expression" is one NPL expression (a tuple if it has
top-level commas, as lang/parser.py's parse_expr reads a fill) on one line;
it may continue over several lines only inside (), [] or {}.

CODE for kind "function" is a function body or one or more complete
definitions (`def` headers, optionally preceded by `@kernel`): a sequence of
lines, each made of leading spaces and then a simple statement, a compound
header ending in ':', a decorator or a comment (or nothing).

What the grammar enforces exactly (following lang/grammar.lark and the
checks in lang/parser.py):
  * Statements (docs/reference.md §4): `x = e`, `xs[i] = e`, `p.f = e`, and
    unpacking into such targets, nested or not (`a, b = e`, `xs[i], xs[j] =
    xs[j], xs[i]`, `(a, b), c = e`); `x: T` and `x: T = e`; `+= -= *= /= //=
    %= **= <<= >>=` on a name, index or attribute; `if/elif/else`, `while`, `for NAMES
    in e` (names nest: `for i, (a, b) in e`),
    `def NAME(p: T, ...) -> T`, each header optionally followed by one simple
    statement on the same line; `return`, `pass`, `break`, `continue`,
    `assert e[, msg]`, expression statements; `@kernel` lines; comments.
  * Expressions (§5) with Python's layering of `lambda`, `a if c else
    b`, `or`, `and`, `not`, comparisons (chained; `in`, `not in`, `is`,
    `is not`) and the arithmetic, shift and set operators `+ - * / // % ** <<
    >> | & ^`
    with unary `-`/`+`; calls with positional and keyword arguments or one
    generator argument; attributes; indexing `a[i, j]`; one slice
    `a[lo:hi:step]`; tuple/list/dict/set displays and comprehensions over
    (nested) name targets; holes `?{...}` with balanced braces; balanced
    brackets throughout.
  * Tokens: ASCII identifiers that are not reserved words, integers with `_`
    (decimal, 0x, 0o, 0b), floats (`1.5`, `.5`, `1.`, `1e-3`), `True False
    None`, strings in single, double and triple quotes (optionally r- or
    u-prefixed) with escapes, implicit concatenation, f-strings.
  * Python-only constructs are impossible: `class`, `try/except/finally`,
    `with ... as`, `yield`, `global`, `nonlocal`, `del`, `async`, `await`
    are reserved words that no rule produces and that cannot be used as
    identifiers (nor `import`, `from`, `as`, nor `raise`, which only starts
    a `raise E(...)` statement of its own, without `from`); likewise `:=`, `;`,
    `~ @`, the bitwise augmented assignments `|= &= ^=`,
    `*args`/`**kwargs` and argument unpacking, parameter and lambda
    defaults, star targets, bytes and complex literals, `...`, decorators
    other than `@kernel`, and tabs.
  * Three Python habits are let through, because forbidding them bends
    the reply into something else (`importmath`, `a = b == 0`,
    `raiseValueError(...)`) rather than into NPL: `import M` / `from M
    import N` lines, chained assignment to names (`a = b = 0`) and `raise
    E(...)`. filling/pythonisms.py rewrites the chains, the raises (as
    `assert False, message`) and the imports of math's built-ins as the
    NPL they mean before the reply is checked; any other import reaches
    the compiler, whose E018 says that NPL has no Python modules.

What it only approximates (the NPL parser and type checker decide):
  * Indentation: GBNF cannot count, so any number of leading spaces is
    accepted on any line; a header's block is not required to be indented
    deeper, `else:` is accepted on any line (so a loop `else`, which NPL
    rejects, gets through), and so is a `def` (NPL rejects nested ones).
  * Types: any identifier may name a type (`T`, `T[...]`, `T | None`,
    integer arguments such as `array[float, 2]`); whether it exists is the
    checker's business, as is every other static rule.
  * f-string replacement fields are checked only for balanced braces, no
    line breaks and no closing quote; their expressions are not parsed.
  * Narrower than NPL, on purpose: word operators (`not`, `in`, `if`, ...)
    need a space on both sides, identifiers are ASCII, backslash line
    continuations are not offered, and an expression fill breaks lines
    only inside brackets.
"""
from __future__ import annotations

from functools import lru_cache
from string import Template

FENCE_OPEN = "```python\n"          # how a reply opens; the prompt says so too
FENCE_CLOSE = "\n```"
KINDS = ("function", "expression")

# Words no fill may use as an identifier: NPL's hard keywords and Python's
# keywords that NPL rejects. NPL's soft keywords (struct, const, extern,
# example, property, where) stay usable as names, as in lang/parser.py.
NPL_KEYWORDS = (
    "False", "None", "True", "and", "assert", "break", "continue", "def",
    "elif", "else", "for", "from", "if", "import", "in", "is", "lambda", "not",
    "or", "pass", "return", "while",
)
PYTHON_ONLY_KEYWORDS = (
    "as", "async", "await", "class", "del", "except", "finally", "global",
    "nonlocal", "raise", "try", "with", "yield",
)
RESERVED_WORDS = tuple(sorted(set(NPL_KEYWORDS) | set(PYTHON_ONLY_KEYWORDS)))

_ID_START = "ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
_ID_CHARS = "0123456789" + _ID_START

# Rules written once per whitespace context: $c is "i" (inline: a line
# outside brackets, spaces only) or "b" (inside brackets: newlines and
# comments allowed too).
_CONTEXT_RULES = Template(r"""
expr-$c ::= lambda-$c | cond-$c
lambda-$c ::= "lambda" (s1-$c name (ws-$c "," ws-$c name)*)? ws-$c ":" ws-$c expr-$c
cond-$c ::= disj-$c (s1-$c "if" s1-$c disj-$c s1-$c "else" s1-$c expr-$c)?
disj-$c ::= conj-$c (s1-$c "or" s1-$c conj-$c)*
conj-$c ::= inv-$c (s1-$c "and" s1-$c inv-$c)*
inv-$c ::= "not" s1-$c inv-$c | comparison-$c
comparison-$c ::= arith-$c (ws-$c compop ws-$c arith-$c | s1-$c wordcompop s1-$c arith-$c)*
arith-$c ::= factor-$c (ws-$c arithop ws-$c factor-$c)*
factor-$c ::= [-+] ws-$c factor-$c | primary
""")

_COMMON_RULES = r"""
ws-i ::= " "*
s1-i ::= " "+
ws-b ::= ([ \n] | comment "\n")*
s1-b ::= [ \n] ws-b
comment ::= "#" [^\n]*
arithop ::= "**" | "*" | "//" | "/" | "%" | "+" | "-" | "|" | "&" | "^" | "<<" | ">>"
compop ::= "==" | "!=" | "<=" | ">=" | "<" | ">"
wordcompop ::= "in" | "not" s1-i "in" | "is" | "is" s1-i "not"

exprlist ::= expr-i (ws-i "," ws-i expr-i)* (ws-i ",")?
primary ::= atom trailer*
trailer ::= "(" ws-b (args ws-b)? ")" | "[" ws-b subscript ws-b "]" | "." name
args ::= expr-b compfor | arg (ws-b "," ws-b arg)* (ws-b ",")?
arg ::= name ws-b "=" ws-b expr-b | expr-b
subscript ::= slice | expr-b (ws-b "," ws-b expr-b)* (ws-b ",")?
slice ::= expr-b? ws-b ":" ws-b expr-b? (ws-b ":" ws-b expr-b?)?

atom ::= name | number | strings | hole | "True" | "False" | "None" | paren | list | braces
paren ::= "(" ws-b (expr-b (compfor | (ws-b "," ws-b expr-b)* (ws-b ",")?) ws-b)? ")"
list ::= "[" ws-b (expr-b (compfor | (ws-b "," ws-b expr-b)* (ws-b ",")?) ws-b)? "]"
braces ::= "{" ws-b ((dictitems | setitems) ws-b)? "}"
dictitems ::= kv (compfor | (ws-b "," ws-b kv)* (ws-b ",")?)
setitems ::= expr-b (compfor | (ws-b "," ws-b expr-b)* (ws-b ",")?)
kv ::= expr-b ws-b ":" ws-b expr-b
compfor ::= (s1-b "for" s1-b fortargets s1-b "in" s1-b disj-b (s1-b "if" s1-b disj-b)*)+
fortargets ::= fortarget (ws-i "," ws-i fortarget)* (ws-i ",")?
fortarget ::= name | "(" ws-b fortarget (ws-b "," ws-b fortarget)* (ws-b ",")? ws-b ")"
hole ::= "?{" holetext "}"
holetext ::= ([^{}] | "{" holetext "}")*

number ::= float | int
int ::= digits | "0" [xX] ("_"? [0-9a-fA-F])+ | "0" [oO] ("_"? [0-7])+ | "0" [bB] ("_"? [01])+
digits ::= [0-9] ("_"? [0-9])*
float ::= digits "." digits? exponent? | "." digits exponent? | digits exponent
exponent ::= [eE] [-+]? digits
strings ::= (string | fstring) (ws-i (string | fstring))*
string ::= [rRuU]? stringbody
stringbody ::= "\"" ([^"\\\n] | escape)* "\"" | "'" ([^'\\\n] | escape)* "'" | tdq | tsq
escape ::= "\\" [^\n]
tdq ::= "\"\"\"" ("\""? "\""? ([^"\\] | "\\" [^\x00]))* "\"\"\""
tsq ::= "'''" ("'"? "'"? ([^'\\] | "\\" [^\x00]))* "'''"
fstring ::= [fF] "\"" ([^"\\\n{}] | escape | "{{" | "}}" | fielddq)* "\"" | [fF] "'" ([^'\\\n{}] | escape | "{{" | "}}" | fieldsq)* "'"
fielddq ::= "{" [^"\n{}]+ ("{" [^"\n{}]* "}" [^"\n{}]*)* "}"
fieldsq ::= "{" [^'\n{}]+ ("{" [^'\n{}]* "}" [^'\n{}]*)* "}"

type ::= typeatom (ws-i "|" ws-i typeatom)*
typeatom ::= "None" | name ("[" ws-b typearg (ws-b "," ws-b typearg)* ws-b "]")?
typearg ::= type | digits
"""

_STATEMENT_RULES = r"""
line ::= " "* (item ws-i comment? | comment)?
item ::= simple | header (ws-i simple)? | "@kernel"
simple ::= "pass" | "break" | "continue" | "return" (s1-i exprlist)? | assert | raise | annassign | assign | augassign | exprlist | import
assert ::= "assert" s1-i expr-i (ws-i "," ws-i expr-i)?
raise ::= "raise" (s1-i expr-i)?
annassign ::= name ws-i ":" ws-i type (ws-i "=" ws-i exprlist)?
assign ::= targets ws-i "=" ws-i (name ws-i "=" ws-i)* exprlist
import ::= "import" s1-i module (ws-i "," ws-i module)* | "from" s1-i dotted s1-i "import" s1-i imported
module ::= dotted (s1-i "as" s1-i name)?
dotted ::= name ("." name)*
imported ::= "*" | importname (ws-i "," ws-i importname)* | "(" ws-b importname (ws-b "," ws-b importname)* (ws-b ",")? ws-b ")"
importname ::= name (s1-i "as" s1-i name)?
augassign ::= target ws-i augop ws-i exprlist
augop ::= "+=" | "-=" | "*=" | "/=" | "//=" | "%=" | "**=" | "<<=" | ">>="
targets ::= target | targetitem (ws-i "," ws-i targetitem)+ (ws-i ",")? | targettuple
targetitem ::= target | targettuple
targettuple ::= "(" ws-b targetitem (ws-b "," ws-b targetitem)+ (ws-b ",")? ws-b ")"
target ::= name ("." name | "[" ws-b subscript ws-b "]")*
header ::= ("if" | "elif" | "while") s1-i expr-i ws-i ":" | "else" ws-i ":" | "for" s1-i fortargets s1-i "in" s1-i exprlist ws-i ":" | defheader
defheader ::= "def" s1-i name ws-i "(" ws-b (params ws-b)? ")" (ws-i "->" ws-i type)? ws-i ":"
params ::= param (ws-b "," ws-b param)* (ws-b ",")?
param ::= name ws-i ":" ws-i type
"""

_FENCE = FENCE_OPEN.replace("\n", "\\n")      # as a GBNF string literal
_ROOTS = {
    "function": f'root ::= "{_FENCE}" code "\\n```"\n'
                'code ::= " "* (item ws-i comment? | comment) ("\\n" line)*\n',
    "expression": f'root ::= "{_FENCE}" ws-i exprlist ws-i "\\n```"\n',
}


def _char_class(chars: str) -> str:
    """A GBNF character class for `chars`, with runs written as ranges."""
    codes = sorted(set(map(ord, chars)))
    parts, start = [], 0
    while start < len(codes):
        end = start
        while end + 1 < len(codes) and codes[end + 1] == codes[end] + 1:
            end += 1
        lo, hi = chr(codes[start]), chr(codes[end])
        parts.append(lo if lo == hi else f"{lo}-{hi}" if end > start + 1 else lo + hi)
        start = end + 1
    return "[" + "".join(parts) + "]"


def _identifier_rules(reserved: tuple[str, ...]) -> str:
    """Rules for `name`: ASCII identifiers except the words in `reserved`.

    GBNF has no negative lookahead, so the exclusion is spelled out as a
    trie: rule `nm-P` produces the possible rests of an identifier that
    starts with the prefix P of some reserved word."""
    prefixes = {word[:i] for word in reserved for i in range(len(word) + 1)}
    rules = []
    for prefix in sorted(prefixes):
        nexts = sorted({w[len(prefix)] for w in reserved
                        if w.startswith(prefix) and len(w) > len(prefix)})
        allowed = _ID_START if prefix == "" else _ID_CHARS
        others = "".join(c for c in allowed if c not in nexts)
        alternatives = [f'"{c}" nm-{prefix}{c}' for c in nexts]
        alternatives.append(f"{_char_class(others)} idchar*")
        body = " | ".join(alternatives)
        if prefix in reserved or prefix == "":
            rules.append(f"nm-{prefix} ::= {body}")
        else:
            rules.append(f"nm-{prefix} ::= ({body})?")
    rules[0] = rules[0].replace("nm- ::=", "name ::=", 1)
    rules.append(f"idchar ::= {_char_class(_ID_CHARS)}")
    return "\n".join(rules) + "\n"


@lru_cache(maxsize=None)
def fill_grammar(kind: str) -> str:
    """The GBNF grammar for a fill reply of `kind` ("function" or
    "expression"); see the module docstring for what it accepts."""
    if kind not in _ROOTS:
        raise ValueError(f"unknown fill kind {kind!r}; expected one of {', '.join(KINDS)}")
    sections = [
        f"# NPL fill reply grammar, kind {kind!r} (generated by npl.filling.providers.gbnf)",
        _ROOTS[kind],
        _CONTEXT_RULES.substitute(c="i"),
        _CONTEXT_RULES.substitute(c="b"),
        _COMMON_RULES,
        _STATEMENT_RULES if kind == "function" else "",
        _identifier_rules(RESERVED_WORDS),
    ]
    return "\n".join(s.strip("\n") + "\n" for s in sections if s)


def main(argv: list[str] | None = None) -> int:
    """`python -m npl.filling.providers.gbnf KIND` prints that grammar, e.g.
    to try it with llama.cpp's own tools."""
    import sys
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in KINDS:
        print(f"usage: python -m npl.filling.providers.gbnf {{{'|'.join(KINDS)}}}",
              file=sys.stderr)
        return 2
    print(fill_grammar(args[0]), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
