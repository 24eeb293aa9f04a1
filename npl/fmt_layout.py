"""Layout machinery for `npl fmt`: the source scanner and the line breaker.

Takes source text (for `SourceText`) or a tree of `Group`s (for `render`);
gives back comments, string-token positions and significant characters
(`SourceText`), and the lines of one logical line of output (`render`).

`SourceText` scans a .npl file with the lexer's `scan_lexemes`
(lang/lexer.py), so that `#` inside strings and holes is never taken for a
comment. It records
every comment (1-based line and column, text, whether it stands on a line of
its own) and the offsets of every string token (docstrings are found there,
since the parser keeps only their cleaned text).

A logical line is a list of parts: text (`str`) and `Group`s, a bracketed,
comma-separated list of `Item`s. `render` prints the parts flat when they fit
in `LINE_LENGTH` columns and no group must break; otherwise it breaks groups,
those that must break first (a comment inside, or a "magic" trailing comma in
the source), then the last one that is still flat, until the line fits or
nothing is left to break. A broken group puts its items on one line four
spaces deeper when they fit there (and nothing forces the group), else each
item on its own line, each followed by a comma (unless the group has no
trailing comma, as for slices, comprehensions and parentheses); its closing
bracket goes on a line of its own.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Optional, Union

from npl.lang.lexemes import scan_lexemes

LINE_LENGTH = 88
INDENT = 4



@dataclass(frozen=True)
class Comment:
    line: int
    col: int
    text: str                 # from `#`, trailing whitespace removed
    own_line: bool            # nothing but indentation before it


class SourceText:
    """One source file: comments, string tokens, positions."""

    def __init__(self, text: str):
        self.text = text
        self.lines = text.split("\n")
        self.line_starts = [0]
        for line in self.lines[:-1]:
            self.line_starts.append(self.line_starts[-1] + len(line) + 1)
        self.comments: list[Comment] = []
        self.strings: list[tuple[int, int]] = []        # (start, end) offsets
        self.holes: list[tuple[int, int]] = []
        self._scan()
        self._string_starts = [s for s, _ in self.strings]

    def _scan(self) -> None:
        for lexeme in scan_lexemes(self.text):
            start, end = lexeme.start, lexeme.end
            if lexeme.kind == "comment":
                line, col = self.position(start)
                before = self.lines[line - 1][:col - 1]
                self.comments.append(Comment(line, col, self.text[start:end].rstrip(),
                                             not before.strip()))
            else:
                (self.strings if lexeme.kind == "string" else self.holes).append((start, end))

    # ---------------------------------------------------------- positions

    def offset(self, line: int, col: int) -> int:
        return self.line_starts[line - 1] + col - 1

    def position(self, offset: int) -> tuple[int, int]:
        idx = bisect.bisect_right(self.line_starts, offset) - 1
        return idx + 1, offset - self.line_starts[idx] + 1

    def slice(self, span) -> str:
        return self.text[self.offset(span.line, span.col):self.offset(span.end_line, span.end_col)]

    def line_text(self, line: int) -> str:
        return self.lines[line - 1] if 1 <= line <= len(self.lines) else ""

    def has_blank(self, after: int, before: int) -> bool:
        """Whether a blank line lies strictly between lines `after` and `before`."""
        return any(not self.line_text(k).strip() for k in range(after + 1, before))

    def next_significant(self, offset: int) -> tuple[str, int]:
        """The first character at or after `offset` that is not whitespace, a
        line continuation or part of a comment, and its offset ("" at the end)."""
        text = self.text
        while offset < len(text):
            c = text[offset]
            if c in " \t\f\r\n":
                offset += 1
            elif c == "\\" and text[offset + 1:offset + 2] == "\n":
                offset += 2
            elif c == "#":
                nl = text.find("\n", offset)
                offset = len(text) if nl < 0 else nl
            else:
                return c, offset
        return "", offset

    def comma_after(self, span) -> bool:
        """Whether the next significant character after `span` is a comma."""
        return self.next_significant(self.offset(span.end_line, span.end_col))[0] == ","

    def strings_from(self, offset: int, end: int) -> list[tuple[int, int]]:
        """The run of string tokens that starts at the first one at or after
        `offset` (and before `end`): tokens only separated by spaces or line
        continuations belong to one literal."""
        k = bisect.bisect_left(self._string_starts, offset)
        run: list[tuple[int, int]] = []
        while k < len(self.strings) and self.strings[k][0] < end:
            if run and re.fullmatch(r"(?:[ \t\f]|\\\n)*", self.text[run[-1][1]:self.strings[k][0]]) is None:
                break
            run.append(self.strings[k])
            k += 1
        return run

    def string_tokens_in(self, start: int, end: int) -> int:
        k = bisect.bisect_left(self._string_starts, start)
        n = 0
        while k < len(self.strings) and self.strings[k][0] < end:
            n, k = n + 1, k + 1
        return n


class CommentPool:
    """The comments not yet placed in the output, in source order."""

    def __init__(self, comments: list[Comment]):
        self.items = sorted(comments, key=lambda c: (c.line, c.col))

    def take(self, lo: int, hi: int, own_only: bool = False) -> list[Comment]:
        """Remove and return the comments on lines lo..hi (inclusive)."""
        taken, kept = [], []
        for c in self.items:
            if lo <= c.line <= hi and (c.own_line or not own_only):
                taken.append(c)
            else:
                kept.append(c)
        self.items = kept
        return taken

    def take_if(self, keep) -> list[Comment]:
        """Remove and return the comments for which `keep(comment)` is true."""
        taken = [c for c in self.items if keep(c)]
        self.items = [c for c in self.items if not keep(c)]
        return taken

    def peek(self) -> Optional[Comment]:
        return self.items[0] if self.items else None

    def pop(self) -> Comment:
        return self.items.pop(0)


# ---------------------------------------------------------------- groups

Part = Union[str, "Group"]


@dataclass
class Item:
    parts: list
    before: list[str] = field(default_factory=list)     # comments on lines of their own
    after: Optional[str] = None                         # comment at the end of its line


@dataclass
class Group:
    opener: str
    items: list[Item]
    closer: str
    comma: bool = True            # a trailing comma after the last item when broken
    one_tuple: bool = False       # `(x,)`: the comma is there even when flat
    magic: bool = False           # the source had a trailing comma: keep it broken
    end_comments: list[str] = field(default_factory=list)

    @property
    def forced(self) -> bool:
        return self.magic or bool(self.end_comments) or any(
            it.before or it.after or _any_forced(it.parts) for it in self.items)


def _any_forced(parts: list) -> bool:
    return any(isinstance(p, Group) and p.forced for p in parts)


def flat(parts: list) -> str:
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append(p)
        else:
            inner = ", ".join(flat(it.parts) for it in p.items)
            out.append(p.opener + inner + ("," if p.one_tuple else "") + p.closer)
    return "".join(out)


def _fits(first: str, col: int) -> bool:
    return col + len(first) <= LINE_LENGTH


def render(parts: list, col: int, indent: int) -> list[str]:
    """The lines of `parts` placed at column `col` (0-based) of a line whose
    indentation is `indent`: the first line is to be appended to what is
    already there; the others carry their own indentation."""
    if not _any_forced(parts):
        text = flat(parts)
        if _fits(text.split("\n", 1)[0], col):
            return text.split("\n")
    groups = [k for k, p in enumerate(parts) if isinstance(p, Group)]
    breaking = {k for k in groups if parts[k].forced}
    spare = [k for k in reversed(groups) if k not in breaking]
    while True:
        lines = _emit(parts, breaking, col, indent)
        first_ok = _fits(lines[0], col)
        last_ok = len(lines) == 1 or len(lines[-1]) <= LINE_LENGTH
        if first_ok and last_ok:
            return lines
        if not spare:
            # no breaking makes the first and last lines fit (`a[i] = <a long
            # hole>`): not worth it, unless something forces a break
            return lines if _any_forced(parts) else flat(parts).split("\n")
        breaking.add(spare.pop(0))


def _emit(parts: list, breaking: set[int], col: int, indent: int) -> list[str]:
    lines = [""]

    def add(text: str) -> None:
        chunks = text.split("\n")
        lines[-1] += chunks[0]
        lines.extend(chunks[1:])

    for k, p in enumerate(parts):
        if isinstance(p, str):
            add(p)
        elif k not in breaking:
            add(flat([p]))
        else:
            add(p.opener)
            inner = indent + INDENT
            pad = " " * inner
            if not p.forced:            # all items on one indented line, if they fit
                one = pad + ", ".join(flat(it.parts) for it in p.items) + ("," if p.one_tuple else "")
                if len(one.split("\n", 1)[0]) <= LINE_LENGTH:
                    lines.extend(one.split("\n"))
                    lines.append(" " * indent + p.closer)
                    continue
            for n, item in enumerate(p.items):
                lines.extend(pad + c for c in item.before)
                sub = render(item.parts, inner, inner)
                if n < len(p.items) - 1 or p.comma or p.one_tuple:
                    sub[-1] += ","
                if item.after:
                    sub[-1] += "  " + item.after
                lines.append(pad + sub[0])
                lines.extend(sub[1:])
            lines.extend(pad + c for c in p.end_comments)
            lines.append(" " * indent + p.closer)
    return lines
