"""Degenerate repetition in a model's code reply.

A small model asked for a function sometimes stops computing and starts
listing cases, the same lines with new numbers, until it runs out of
tokens:

    if x == 229:
        return True
    if x == 233:
        return True
    ...

On bench/fill_quality.py's MBPP run with the local 1.5B model, 4 of the 7
replies longer than 450 tokens were such lists (up to 100 s each), and none
was right. The local engine checks the reply as it grows and ends it once
its last lines are one block of code repeated `MIN_REPEATS` times, or a
longer block repeated over MIN_REPEATED_LINES lines (`repeated_block`);
the fill loop then rejects the reply with that reason instead of spending
the rest of the token budget on it.

A block counts only when it holds a compound statement's header (a line
ending in `:`) and a name: a list of numbers or a JSON value spread over
lines is data, not case enumeration, and is never cut.

The same happens inside one line (`repeated_run`): in the 150-problem run
after the one above, one reply grew `mask = (1 - 1) ^ (1 - 1) ^ ...` to the
token limit three times over, 294 s of one hole. A line that ends in one
piece repeated `MIN_RUN` times in a row is ended too, when the piece holds
a name or an operator (literals blanked as in `shape`): `0, 0, 0, ...` is
data and is never cut. A longer piece is cut after fewer repeats, once
the run fills MIN_RUN_CHARS (`run_needed`).
"""
from __future__ import annotations

import re
from typing import Optional

MIN_REPEATS = 8                 # a block repeated this many times in a row,
MIN_REPEATED_LINES = 32         # or fewer times for a longer block: this many lines,
LEAST_REPEATS = 4               # but never fewer than this many times
MAX_PERIOD = 8                  # blocks of 1 to this many lines
MIN_RUN = 16                    # a piece of one line repeated this many times in a row,
MIN_RUN_CHARS = 640             # or fewer times for a longer piece: this many characters,
MAX_UNIT = 320                  # pieces of 1 to this many characters

_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")
_NAME = re.compile(r"[A-Za-z_]")
_CODE_PIECE = re.compile(r"[A-Za-z_+\-*/%^&|<>=]")


def shape(line: str) -> str:
    """A line with its literals blanked: `if x == 233:` -> `if x == 0:`."""
    return _NUMBER.sub("0", _STRING.sub("''", line.strip()))


def repeats_needed(period: int, min_repeats: int = MIN_REPEATS) -> int:
    """How many times in a row a block of `period` lines must repeat to be
    cut: `min_repeats` for short blocks, fewer for a long one, so that no
    block runs on for more than MIN_REPEATED_LINES lines. In the seventh fill
    benchmark run, a reply repeated a 5-line `for`/`if`/`break`/`else`/
    `return` block to the token limit (768 tokens, 42 s)."""
    return max(LEAST_REPEATS, min(min_repeats, -(-MIN_REPEATED_LINES // period)))


def repeated_block(text: str, min_repeats: int = MIN_REPEATS) -> Optional[str]:
    """The repeating block that `text`'s last complete lines are made of,
    as "`line / line` N times", or None."""
    lines = [shape(line) for line in text.split("\n")[:-1]]      # complete lines only
    lines = [line for line in lines if line]
    for period in range(1, MAX_PERIOD + 1):
        repeats = repeats_needed(period, min_repeats)
        need = period * repeats
        if len(lines) < need:
            break
        tail = lines[-need:]
        block = tail[:period]
        if tail != block * repeats or not _is_code(block):
            continue
        times = repeats
        while len(lines) >= period * (times + 1) and \
                lines[-period * (times + 1):-period * times] == block:
            times += 1
        return f"`{' / '.join(block)}` {times} times"
    return None


def _is_code(block: list[str]) -> bool:
    return any(line.endswith(":") for line in block) and \
        any(_NAME.search(_STRING.sub("", line)) for line in block)


def run_needed(unit: int, min_run: int = MIN_RUN) -> int:
    """How many times in a row a piece of `unit` characters must repeat in
    one line to be cut: `min_run` for short pieces, fewer for a long one,
    so that no run goes past MIN_RUN_CHARS (but never fewer than
    LEAST_REPEATS times). In the ninth fill benchmark run, a reply chained
    `{k: v for k, v in dict1.items() if k not in dict3} | ...` over three
    dicts in one line to the token limit."""
    return max(LEAST_REPEATS, min(min_run, -(-MIN_RUN_CHARS // unit)))


def repeated_run(text: str, min_run: int = MIN_RUN) -> Optional[str]:
    """The piece of code that `text`'s last line (complete or not) ends
    in, repeated at least `run_needed` times in a row, as "`piece` N
    times in one line", or None."""
    line = shape(text.rsplit("\n", 1)[-1])
    for unit in range(1, MAX_UNIT + 1):
        times = run_needed(unit, min_run)
        need = unit * times
        if len(line) < min(need, unit * LEAST_REPEATS):
            break
        piece = line[-unit:]
        if len(line) < need or line[-need:] != piece * times or not _CODE_PIECE.search(piece):
            continue
        while line[-unit * (times + 1):-unit * times] == piece:
            times += 1
        return f"`{piece.strip()}` {times} times in one line"
    return None
