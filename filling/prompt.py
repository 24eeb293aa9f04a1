"""Prompts: a HoleSpec in, chat messages out.

The template lives in one versioned file, filling/prompt_template.txt,
split into named sections (`=== name`). Its version is part of every hole's
key (compiler/holes.py): bump it when a change should refill every hole
(a fill must now do something else), not for a change in how the same
thing is asked. The first request for a function hole is the request a
user would write to ask a model for the function in Python: the
signature and description, the functions and structs it may call, the
visible examples as `assert`s, and a system prompt that gives the reply
format, all in Python's words and ```python blocks (NPL's syntax is
Python's). The reply format is the system prompt's, not the request's
last lines, so that the part every request of a hole kind shares comes
first and a local model evaluates it once (on a 2-core CPU without AMX,
evaluating a prompt token costs about a third of decoding one). NPL's own
rules are not explained up front: what a reply gets wrong is said in the
repair message, by the diagnostic, and the compiler fixes what it can
itself (filling/candidate.py). On bench/fill_quality.py's 150 MBPP
problems the local model's first replies under NPL's earlier, NPL-worded
prompts were right 89 to 94 times against the one-shot Python
baseline's 99; asked in the baseline's words, 95 times, 94 of them
problems the baseline gets right too (bench/README.md, "Asking for
Python").
A fresh sample's request is the first request and how earlier answers
failed (`with_findings`). A reply starts with the request's `def` line
and docstring (`reply_prefix`): a provider that can (the local model)
writes them into the model's turn, so the model does not spend tokens
copying them.

Every prompt is bounded. A repair message shows at most PREVIOUS_CHARS of
the rejected code and FEEDBACK_CHARS of the feedback (a huge value or trace
has its middle left out, with a note of how much), and `fit_messages` fits
the whole conversation to the provider's context (`prompt_budget`): older
repair turns go first, then the longest messages are cut, each with a note.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from .providers.gbnf import FENCE_OPEN

if TYPE_CHECKING:
    from npl.compiler.holes import HoleSpec

TEMPLATE_PATH = Path(__file__).with_name("prompt_template.txt")


@lru_cache(maxsize=1)
def sections() -> dict[str, str]:
    text = TEMPLATE_PATH.read_text(encoding="utf-8")
    out: dict[str, str] = {}
    name = None
    for line in text.splitlines():
        m = re.match(r"^=== (\w+)\s*$", line)
        if m:
            name = m.group(1)
            out[name] = ""
        elif name is not None:
            out[name] += line + "\n"
    return {k: v.strip("\n") for k, v in out.items()}


def _version() -> str:
    first = TEMPLATE_PATH.read_text(encoding="utf-8").splitlines()[0]
    m = re.search(r"version (\d+)", first)
    return m.group(1) if m else "0"


PROMPT_VERSION = _version()


def fill(name: str, **values) -> str:
    return Template(sections()[name]).safe_substitute(**values)


def context_block(spec: "HoleSpec", program_context: list[str]) -> str:
    if not program_context:
        return ""
    return ("It may call these functions and use these structs:\n" + FENCE_OPEN
            + "\n".join(program_context) + "\n```")


def examples_block(spec: "HoleSpec", visible_examples: list[str]) -> str:
    if not visible_examples:
        return ""
    what = "It must satisfy" if spec.kind == "function" else "The function with the gap must satisfy"
    return what + ":\n" + FENCE_OPEN + "\n".join(map(as_assert, visible_examples)) + "\n```"


def as_assert(example: str) -> str:
    """An `example` line as the Python `assert` it means."""
    return "assert " + example[len("example "):] if example.startswith("example ") else example


def docstring_body(description: str) -> str:
    """`description` laid out as the body of a docstring indented one level."""
    return "\n    ".join(description.strip().splitlines())


def build_messages(spec: "HoleSpec", program_context: list[str], visible_examples: list[str],
                   enclosing_source: str = "") -> list[dict]:
    """The first request for a hole."""
    function = function_block(spec, docstring_body(spec.description))
    if spec.kind == "function":
        task = fill("task_function", function=function)
    else:
        task = fill("task_expression", function=function, enclosing_source=enclosing_source)
    user = fill("user", task=task, context=context_block(spec, program_context),
                examples=examples_block(spec, visible_examples))
    user = re.sub(r"\n{3,}", "\n\n", user).strip()
    return [{"role": "system", "content": fill("system", reply_format=reply_format(spec))},
            {"role": "user", "content": user}]


def reply_prefix(spec: "HoleSpec") -> str:
    """How a reply starts: the code block, the `def` line and the docstring,
    as the request shows them (a description that would end the docstring
    early is left out). A provider that can write this into the model's
    turn saves the model copying it: on bench/fill_quality.py's problems
    the local model spent a third of its first replies' tokens on it."""
    description = docstring_body(spec.description)
    if not description or '"""' in description or description.endswith("\\"):
        return f"{FENCE_OPEN}{spec.signature}:\n"
    return f"{FENCE_OPEN}{function_block(spec, description)}\n"


def function_block(spec: "HoleSpec", description: str) -> str:
    """The function to write as the request shows it: its `def` line and
    docstring (the template's `function` section)."""
    return fill("function", signature=spec.signature, description=description)


def with_findings(first: list[dict], findings: list[str]) -> list[dict]:
    """The first request with what earlier answers got wrong (`findings`:
    failed examples and limits, without the code or its trace) added to its
    last message: a fresh answer that knows the mistakes, and has no code to
    copy. The first request's text stays its prefix, so a local model
    reuses its evaluation."""
    if not findings:
        return first
    text = elided("\n\n".join(f.strip() for f in findings), FEEDBACK_CHARS, "these findings")
    last = dict(first[-1], content=first[-1]["content"] + "\n\n" + fill("resample_hint", findings=text))
    return first[:-1] + [last]


def repair_message(spec: "HoleSpec", previous: str, problem: str) -> dict:
    """The message after a rejected reply: its code (`previous`) and why it
    was rejected (`problem`), each cut to its budget."""
    return {"role": "user", "content": fill(
        "repair", previous=elided(previous.strip(), PREVIOUS_CHARS, "your code"),
        problem=elided(problem.strip(), FEEDBACK_CHARS, "this feedback"),
        reply_format=reply_format(spec))}


def without_folder(text: str, program: str) -> str:
    """`text` (a diagnostic, failing example or trace) with the program's
    folder left out of the paths it names: the model needs the file's
    name, not where the user keeps it, and a hosted provider should not
    learn it (nor spend tokens on it)."""
    folder = os.path.dirname(os.path.abspath(program))
    if os.path.dirname(folder) == folder:             # the root: nothing to leave out
        return text
    return text.replace(folder + os.sep, "")


def reply_format(spec: "HoleSpec") -> str:
    return fill("reply_function" if spec.kind == "function" else "reply_expression")


# ---------------------------------------------------------------- budgets

PREVIOUS_CHARS = 4_000          # of the rejected code shown back in a repair message
FEEDBACK_CHARS = 6_000          # of the feedback (diagnostic, failing example, trace)
CHARS_PER_TOKEN = 3             # a cautious estimate for code and English
DEFAULT_CONTEXT_TOKENS = 32_000     # for a provider that does not say its context
MIN_MESSAGE_CHARS = 400         # a message is never cut below this


def elided(text: str, limit: int, what: str = "this text") -> str:
    """`text`, or when it is longer than `limit` characters, its start and
    end with the middle replaced by a note saying how much of `what` was
    left out (lines are kept whole where the cut allows)."""
    if len(text) <= limit:
        return text
    keep = max(0, limit - 80)
    head, tail = text[:keep * 2 // 3], text[len(text) - keep // 3:]
    if "\n" in head[len(head) // 2:]:
        head = head[:head.rindex("\n")]
    if "\n" in tail[:len(tail) // 2]:
        tail = tail[tail.index("\n") + 1:]
    left_out = len(text) - len(head) - len(tail)
    return f"{head}\n[... {left_out:,} characters of {what} left out ...]\n{tail}"


def prompt_budget(provider, max_tokens: int) -> int:
    """The characters a prompt to `provider` may have: its context
    (`context_tokens`, where it says one) less the reply's tokens, at
    CHARS_PER_TOKEN characters a token."""
    context = getattr(provider, "context_tokens", None) or DEFAULT_CONTEXT_TOKENS
    return max(MIN_MESSAGE_CHARS * 4, (context - max_tokens) * CHARS_PER_TOKEN)


def size(messages: list[dict]) -> int:
    return sum(len(m["content"]) for m in messages)


def fit_messages(messages: list[dict], budget: int) -> list[dict]:
    """The conversation fit to `budget` characters: the system message and
    first request, then the repair turns (assistant reply, user feedback).
    The oldest repair turns are dropped first (the last one is kept, with a
    note of how many went); then the longest messages are cut (`elided`)."""
    if size(messages) <= budget:
        return messages
    head, turns = messages[:2], messages[2:]
    dropped = 0
    while len(turns) > 2 and size(head + turns) > budget:
        turns, dropped = turns[2:], dropped + 1
    out = [dict(m) for m in head + turns]
    if dropped:
        out[-1]["content"] = (f"({dropped} earlier rejected attempt(s) are left out of this "
                              "conversation to fit the model's context.)\n\n" + out[-1]["content"])
    while size(out) > budget:
        longest = max(out, key=lambda m: len(m["content"]))
        text = longest["content"]
        if len(text) <= MIN_MESSAGE_CHARS + 100:     # nothing left worth cutting
            break
        target = max(MIN_MESSAGE_CHARS, len(text) - (size(out) - budget) - 100)
        longest["content"] = elided(text, target, "this message")
    return out
