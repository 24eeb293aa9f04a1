"""Model replies to code: what the filler gets back from a model, cleaned up.

`extract_code` takes the raw reply text and gives back the code in it: the
first NPL/Python fenced block, or the unfenced text without the prose around
it, normalised (LF newlines, tabs in indentation expanded) and dedented.
`classify_function_reply` and `classify_expression_reply` then take that code
and say what it is: a whole definition of the hole's function (split into the
body, the signature and any helper definitions), a bare function body, or a
bare expression. Top-level noise that cannot be part of a fill (imports,
`if __name__ == "__main__":` blocks, usage examples after the definition) is
set aside in `dropped`. A reply that is empty, a refusal, or that still holds
`...` placeholders raises `ReplyError` with a reason the filler can feed back;
so does, before anything else looks at it, a reply over MAX_REPLY_CHARS or
one that is not valid Unicode (`check_reply_text`).

This stage is purely textual: the filler parses and type-checks the result
with the real NPL parser. To find line structure it masks the comments,
strings and `?{...}` holes the lexer's `scan_lexemes` finds, then follows
brackets.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from npl.lang.lexemes import Lexeme, scan_lexemes


class ReplyError(Exception):
    """The reply holds no usable code; `reason` says why (internal: it
    becomes repair feedback for the model, never an error of its own)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class FunctionReply:
    kind: str                        # "definition" or "body"
    body: str                        # the function's body, dedented, docstring removed
    helpers: str                     # other top-level defs, in reply order
    source: str                      # the whole code, normalised
    signature: str = ""              # the `def` line as the model wrote it
    dropped: tuple[str, ...] = ()    # top-level code set aside


@dataclass(frozen=True)
class ExpressionReply:
    kind: str                        # "expression", "definition" or "body"
    expression: str                  # when kind == "expression"
    body: str                        # when "definition" or "body"
    helpers: str
    source: str
    signature: str = ""
    dropped: tuple[str, ...] = ()


# -- extracting code from a reply ------------------------------------------

CODE_LANGUAGES = frozenset({"", "npl", "python", "python3", "py", "py3"})
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_CODE_START = re.compile(
    r"(def|return|if|elif|else|for|while|import|from|struct|const|example|property|"
    r"assert|pass|break|continue|raise|try|except|finally|with|class|lambda|not|await)\b"
    r"|[#@'\"(\[{]")
_PROSE_OPENER = re.compile(
    r"(here|sure|certainly|okay|of course|below|note|explanation|let me|the following|"
    r"this (function|code|implementation|solution|version|expression)|i'm|i'll|i've|"
    r"i will|i have|i would)\b", re.IGNORECASE)
_MARKDOWN = re.compile(r"(\d+\.|[-*+>]|#{1,6}|\*\*)\s")
_REFUSAL = re.compile(
    r"(i'm sorry|i am sorry|sorry,|i cannot|i can't|i can not|i won't|i'm unable|"
    r"i am unable|as an ai|unfortunately,? i)", re.IGNORECASE)


MAX_REPLY_CHARS = 64_000        # a reply longer than this is refused unread


def check_reply_text(text: str) -> None:
    """Refuse, before any parsing, a reply too long to be a fill (a hostile
    or runaway provider can send megabytes) or that is not valid Unicode
    text (a lone surrogate, which JSON can carry, cannot be written as UTF-8)."""
    if not isinstance(text, str):
        raise ReplyError("the reply is not text")
    if len(text) > MAX_REPLY_CHARS:
        raise ReplyError(f"the reply is {len(text):,} characters long; a reply may be at most "
                         f"{MAX_REPLY_CHARS:,}: write just the code")
    bad = _SURROGATE.search(text)
    if bad is not None:
        raise ReplyError(f"the reply is not valid Unicode text: it holds a lone surrogate "
                         f"U+{ord(bad.group()):04X} at character {bad.start()}")


def clipped(text: str, limit: int = 4000) -> str:
    """`text` fit to go back into the conversation: at most `limit`
    characters, lone surrogates replaced by U+FFFD."""
    if len(text) > limit:
        text = text[:limit] + f"\n[... {len(text) - limit:,} more characters not shown]"
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    return text


_SURROGATE = re.compile("[\ud800-\udfff]")


def extract_code(text: str) -> str:
    """The code in a model's reply; raises ReplyError if there is none (or
    if `check_reply_text` refuses it)."""
    check_reply_text(text)
    text = _normalize(text)
    if not text.strip():
        raise ReplyError("the reply is empty")
    if "```" in text or "~~~" in text:
        fenced = _first_code_block(text)
        if fenced is not None:
            return fenced
    inline = re.fullmatch(r"\s*`([^`\n]+)`\s*", text)
    if inline:
        return inline.group(1).strip()
    return _unfenced_code(text)


def _normalize(text: str) -> str:
    """LF newlines, no BOM, tabs and no-break spaces in indentation expanded
    (NPL rejects tabs), no trailing spaces."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    lines = []
    for line in text.split("\n"):
        lead = re.match(r"[ \t\u00a0]*", line).group()
        lines.append((lead.replace("\u00a0", " ").expandtabs(4) + line[len(lead):]).rstrip())
    return "\n".join(lines)


def _first_code_block(text: str) -> Optional[str]:
    """The first non-empty fenced block marked as NPL/Python (or unmarked).
    None if the reply has no fences; ReplyError if none of them fits."""
    blocks = _fenced_blocks(text)
    if not blocks:
        return None
    others = []
    for language, code in blocks:
        if language not in CODE_LANGUAGES:
            others.append(language)
        elif code.strip():
            return _dedent(code).strip("\n")
    if others:
        raise ReplyError(f"the reply's code is marked as `{others[0]}`, not NPL or Python")
    raise ReplyError("the reply's code block is empty")


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) for each fenced block; an unclosed fence (a reply cut
    off by max_tokens) runs to the end."""
    blocks, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence = opening.group("fence")
        end, tail = _fence_end(lines, i + 1, fence)
        info = opening.group("info").strip().split()
        language = info[0].lower().lstrip(".{") if info else ""
        blocks.append((language, "\n".join(lines[i + 1:end] + tail)))
        i = end + 1
    return blocks


def _fence_end(lines: list[str], start: int, fence: str) -> tuple[int, list[str]]:
    """Index of the closing fence line, and the code left on it when the
    fence closes at the end of a code line (`return x```)."""
    closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
    for j in range(start, len(lines)):
        if closing.match(lines[j]):
            return j, []
        if lines[j].endswith(fence):
            return j, [lines[j][:-len(fence)]]
    return len(lines), []


def _unfenced_code(text: str) -> str:
    """The text between leading prose ("Here is the function:") and trailing
    prose (an explanation after the code)."""
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines)
                  if line.strip() and not _is_prose(line)), None)
    if start is None:
        return _code_from_prose(text)
    code_lines = lines[start:]
    cut = next((line.first for line in _logical_lines("\n".join(code_lines))
                if line.first > 0 and line.indent == 0 and not line.blank
                and _is_prose(code_lines[line.first])), len(code_lines))
    return _dedent("\n".join(code_lines[:cut])).strip("\n")


def _is_prose(line: str) -> bool:
    """Whether a line is English rather than code, judged by its shape."""
    stripped = line.strip()
    if not stripped or _CODE_START.match(stripped):
        return False
    if "`" in stripped or stripped[-1] in ".!?:":
        return True
    return any(pattern.match(stripped) for pattern in (_PROSE_OPENER, _REFUSAL, _MARKDOWN))


def _code_from_prose(text: str) -> str:
    """A reply that is all prose: one inline `code` span is the answer;
    otherwise it is a refusal or a reply without code."""
    spans = list(dict.fromkeys(_INLINE_CODE.findall(text)))
    if len(spans) == 1:
        return spans[0].strip()
    first = next(line.strip() for line in text.split("\n") if line.strip())
    shown = first if len(first) <= 100 else first[:100] + "..."
    if _REFUSAL.match(first):
        raise ReplyError(f"the model declined to write the code: {shown!r}")
    raise ReplyError(f"the reply contains no code, only prose: {shown!r}")


# -- lexical scanning --------------------------------------------------------

@dataclass(frozen=True)
class _Line:
    """One logical line: physical lines first..last joined, with string,
    comment and hole text masked so that only code structure is visible."""
    first: int
    last: int
    indent: int
    masked: str

    @property
    def blank(self) -> bool:
        return not self.masked.strip("# \n")


def _mask(code: str) -> tuple[str, list[bool]]:
    """`code` with string and hole contents replaced by `_` and comments by
    `#` plus spaces (same length, newlines kept), and for each physical line
    whether it continues the one before (open bracket, string, backslash)."""
    out: list[str] = []
    continues = [False]
    depth, code_start = 0, 0
    for lexeme in [*scan_lexemes(code), Lexeme("end", len(code), len(code))]:
        for i in range(code_start, lexeme.start):
            char = code[i]
            depth = depth + 1 if char in "([{" else max(0, depth - 1) if char in ")]}" else depth
            if char == "\n":
                continues.append(depth > 0 or code[i - 1:i] == "\\")
        out.append(code[code_start:lexeme.start])
        token = code[lexeme.start:lexeme.end]
        if lexeme.kind == "comment":
            out.append("#" + " " * (len(token) - 1))
        elif token:
            out.append(_masked_literal(token))
            continues.extend([True] * token.count("\n"))
        code_start = lexeme.end
    return "".join(out), continues


def _masked_literal(token: str) -> str:
    """A string or hole token with all but its (prefix and) first and last
    characters replaced by `_`, line feeds kept."""
    prefix = len(token) - len(token.lstrip("rRbBfFuU"))
    body = token[prefix:]
    if len(body) < 2:
        return token
    return token[:prefix] + body[0] + re.sub(r"[^\n]", "_", body[1:-1]) + body[-1]


def _logical_lines(code: str) -> list[_Line]:
    masked, continues = _mask(code)
    lines: list[_Line] = []
    for k, text in enumerate(masked.split("\n")):
        if k and continues[k] and lines:
            prev = lines[-1]
            lines[-1] = _Line(prev.first, k, prev.indent, prev.masked + "\n" + text)
        else:
            lines.append(_Line(k, k, len(text) - len(text.lstrip(" ")), text))
    return lines


def _dedent(code: str) -> str:
    """Remove the indentation common to all logical lines (string
    continuation lines lose at most that much)."""
    starts = [line for line in _logical_lines(code) if not line.blank]
    margin = min((line.indent for line in starts), default=0)
    if margin == 0:
        return code
    return "\n".join(line[min(margin, len(line) - len(line.lstrip(" "))):]
                     for line in code.split("\n"))


# -- top-level structure -------------------------------------------------------

_DEF = re.compile(r"def\s+([A-Za-z_]\w*)\s*\(")
_DOCSTRING = re.compile(r"[rRuU]?[\"'][_\n]*[\"']")


@dataclass(frozen=True)
class _Item:
    """A top-level definition or statement with everything indented under it."""
    kind: str                        # "def", "import", "main_guard", "statement"
    name: str                        # the def's name
    lines: tuple[_Line, ...]         # logical lines, decorators first

    @property
    def first(self) -> int:
        return self.lines[0].first

    @property
    def last(self) -> int:
        return self.lines[-1].last


def _items(code: str) -> list[_Item]:
    """Group logical lines under the unindented line that starts each item
    (decorators join the def they decorate)."""
    groups: list[list[_Line]] = []
    for line in _logical_lines(code):
        if line.blank:
            continue
        starts_item = line.indent == 0 and not (groups and _is_decorator(groups[-1][-1]))
        if starts_item or not groups:
            groups.append([line])
        else:
            groups[-1].append(line)
    return [_item(tuple(group)) for group in groups]


def _is_decorator(line: _Line) -> bool:
    return line.masked.lstrip().startswith("@")


def _item(lines: tuple[_Line, ...]) -> _Item:
    head = next((line for line in lines if not _is_decorator(line)), lines[0])
    text = head.masked.strip()
    match = _DEF.match(text)
    if match:
        return _Item("def", match.group(1), lines)
    if re.match(r"(import|from)\s", text):
        return _Item("import", "", lines)
    if re.match(r"if\s+__name__\s*==", text):
        return _Item("main_guard", "", lines)
    return _Item("statement", "", lines)


def _source(item: _Item, physical: list[str]) -> str:
    return "\n".join(physical[item.first:item.last + 1])


@dataclass(frozen=True)
class _Parts:
    """A reply split up: the main def (if any), helpers, other code."""
    code: str
    physical: list[str]
    main: Optional[_Item]
    helpers: list[_Item]
    statements: list[_Item]
    dropped: list[_Item]


def _split(code: str, name: str, *, lenient_name: bool) -> _Parts:
    code = _dedent(_normalize(code)).strip("\n")
    if not code.strip():
        raise ReplyError("the reply has no code")
    items = _items(code)
    defs = [item for item in items if item.kind == "def"]
    mains = [item for item in defs if item.name == name]
    if len(mains) > 1:
        raise ReplyError(f"the reply defines `{name}` {len(mains)} times")
    statements = [item for item in items if item.kind == "statement"]
    if not mains and lenient_name and len(defs) == 1 and not statements:
        mains = defs
    noise = [item for item in items if item.kind in ("import", "main_guard")]
    main = mains[0] if mains else None
    if main is not None:
        noise, statements = sorted(noise + statements, key=lambda it: it.first), []
    helpers = [item for item in defs if item is not main]
    return _Parts(code, code.split("\n"), main, helpers, statements, noise)


def _split_def(item: _Item, physical: list[str]) -> tuple[str, str]:
    """(signature, dedented body) of a def item."""
    header = next(line for line in item.lines if not _is_decorator(line))
    original = "\n".join(physical[header.first:header.last + 1])
    colon = _header_colon(header.masked)
    if colon is None:
        raise ReplyError(f"the definition of `{item.name}` has no `:` after its signature")
    signature, inline = original[:colon + 1].strip(), original[colon + 1:].strip()
    rest = "\n".join(physical[header.last + 1:item.last + 1])
    body = inline if inline else _dedent(rest).strip("\n")
    return signature, body


def _header_colon(masked: str) -> Optional[int]:
    """Index of the `:` that ends a def header (after the parameter list)."""
    depth, seen_params = 0, False
    for i, char in enumerate(masked):
        if char in "([{":
            depth += 1
            seen_params = True
        elif char in ")]}":
            depth -= 1
        elif char == ":" and depth == 0 and seen_params:
            return i
    return None


def _strip_docstring(body: str) -> str:
    """The body without a leading docstring (models often repeat it)."""
    lines = [line for line in _logical_lines(body) if not line.blank]
    if not lines or not _DOCSTRING.fullmatch(lines[0].masked.strip().rstrip("#").strip()):
        return body
    physical = body.split("\n")
    return "\n".join(physical[lines[0].last + 1:]).strip("\n")


def _is_function_hole(item: _Item, physical: list[str]) -> bool:
    """A helper written as docstring + `...`: a hole to fill in turn."""
    _, body = _split_def(item, physical)
    rest = _strip_docstring(body)
    return rest != body and rest.strip() == "..."


def _check_placeholders(parts: _Parts) -> None:
    """Reject `...` left in the code that will be used (a helper that is a
    function hole, docstring + `...`, is a legitimate sub-hole)."""
    kept = ([parts.main] if parts.main else []) + parts.statements + [
        item for item in parts.helpers if not _is_function_hole(item, parts.physical)]
    for item in kept:
        for line in item.lines:
            column = line.masked.find("...")
            if column >= 0:
                row = line.first + line.masked.count("\n", 0, column) + 1
                raise ReplyError(f"the reply still contains `...` (line {row}); "
                                 f"write the code out in full")


def _joined(items: list[_Item], physical: list[str]) -> str:
    return "\n\n".join(_source(item, physical) for item in items)


def _statement_lines(parts: _Parts) -> str:
    """The statements as written, with the comments and blank lines between
    them, leaving out the lines of helpers and dropped items."""
    others = {row for item in parts.helpers + parts.dropped
              for row in range(item.first, item.last + 1)}
    first, last = parts.statements[0].first, parts.statements[-1].last
    rows = [parts.physical[row] for row in range(first, last + 1) if row not in others]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(rows))


# -- classifying ---------------------------------------------------------------

def classify_function_reply(code: str, func_name: str) -> FunctionReply:
    """What a reply for the function hole `func_name` holds: its whole
    definition (possibly with helper defs) or just a body."""
    parts = _split(code, func_name, lenient_name=False)
    helpers = _joined(parts.helpers, parts.physical)
    dropped = tuple(_source(item, parts.physical) for item in parts.dropped)
    if parts.main is not None:
        signature, body = _split_def(parts.main, parts.physical)
        kind = "definition"
    else:
        if not parts.statements:
            names = ", ".join(f"`{item.name}`" for item in parts.helpers) or "nothing"
            raise ReplyError(f"the reply defines {names} but not `{func_name}`")
        signature, body, kind = "", _statement_lines(parts), "body"
    body = _checked_body(parts, body, func_name)
    return FunctionReply(kind, body, helpers, parts.code, signature, dropped)


def classify_expression_reply(code: str, lifted_name: str) -> ExpressionReply:
    """What a reply for an expression hole holds: a bare expression (a
    leading `return` or `name =` removed), a definition of the lifted
    function `lifted_name` (any single def counts, since the name is
    synthetic), or a body of statements for it."""
    parts = _split(code, lifted_name, lenient_name=True)
    helpers = _joined(parts.helpers, parts.physical)
    dropped = tuple(_source(item, parts.physical) for item in parts.dropped)
    if parts.main is not None:
        signature, body = _split_def(parts.main, parts.physical)
        body = _checked_body(parts, body, lifted_name)
        return ExpressionReply("definition", "", body, helpers, parts.code, signature, dropped)
    if not parts.statements:
        names = ", ".join(f"`{item.name}`" for item in parts.helpers)
        raise ReplyError(f"the reply defines {names} but neither `{lifted_name}` "
                         f"nor an expression")
    _check_placeholders(parts)
    expression = _single_expression(parts)
    if expression is not None:
        return ExpressionReply("expression", expression, "", helpers, parts.code, "", dropped)
    body = _statement_lines(parts)
    return ExpressionReply("body", "", body, helpers, parts.code, "", dropped)


def _checked_body(parts: _Parts, body: str, name: str) -> str:
    _check_placeholders(parts)
    body = _strip_docstring(body)
    if not body.strip():
        raise ReplyError(f"the reply's `{name}` has a docstring but no code")
    return body


_STATEMENT = re.compile(r"(if|elif|else|for|while|return|assert|pass|break|continue|raise|"
                        r"def|del|with|try|global|nonlocal|struct|const|example|property)\b")
_ASSIGNMENT = re.compile(r"[A-Za-z_]\w*\s*(:[^=]*)?=(?!=)")


def _single_expression(parts: _Parts) -> Optional[str]:
    """The expression if the reply's code is one expression (or `return E`
    or `name = E`), comments removed; None if it is statements."""
    if len(parts.statements) != 1 or len(parts.statements[0].lines) != 1:
        return None
    line = parts.statements[0].lines[0]
    original = "\n".join(parts.physical[line.first:line.last + 1])
    kept = [(o[:m.index("#")] if "#" in m else o).rstrip()
            for o, m in zip(original.split("\n"), line.masked.split("\n"))]
    text, masked = "\n".join(kept).strip(), line.masked.strip()
    returned = re.match(r"return\b\s*", masked)
    assigned = _ASSIGNMENT.match(masked)
    if returned:
        text = text[returned.end():]
    elif assigned:
        text = text[assigned.end():]
    elif _STATEMENT.match(masked):
        return None
    text = text.strip()
    return text or None
