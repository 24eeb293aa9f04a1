"""Prompts: a HoleSpec in, chat messages out.

The template lives in one versioned file, filling/prompt_template.txt,
split into named sections (`=== name`). Its version is part of every hole's
key (compiler/holes.py): bump it when a change should refill every hole
(new instructions), not for a fix to how the same facts are laid out. A prompt
holds what a capable model needs and no more: the signature and
description, the names and types in scope, the signatures of the functions
and structs it may call, the examples it may see (held-out ones excluded),
a compact summary of NPL, and the reply format.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

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
    return "It may call these functions and use these structs:\n```npl\n" + "\n".join(program_context) + "\n```"


def examples_block(spec: "HoleSpec", visible_examples: list[str]) -> str:
    if not visible_examples:
        return ""
    what = "It must satisfy" if spec.kind == "function" else "The function with the gap must satisfy"
    return what + ":\n```npl\n" + "\n".join(visible_examples) + "\n```"


def docstring_body(description: str) -> str:
    """`description` laid out as the body of a docstring indented one level."""
    return "\n    ".join(description.strip().splitlines())


def build_messages(spec: "HoleSpec", program_context: list[str], visible_examples: list[str],
                   enclosing_source: str = "") -> list[dict]:
    """The first request for a hole."""
    if spec.kind == "function":
        task = fill("task_function", signature=spec.signature,
                    description=docstring_body(spec.description))
        reply = fill("reply_function")
    else:
        task = fill("task_expression", signature=spec.signature,
                    description=docstring_body(spec.description),
                    enclosing_source=enclosing_source)
        reply = fill("reply_expression")
    user = fill("user", task=task, context=context_block(spec, program_context),
                examples=examples_block(spec, visible_examples), reply_format=reply)
    user = re.sub(r"\n{3,}", "\n\n", user).strip()
    return [{"role": "system", "content": sections()["system"]},
            {"role": "user", "content": user}]


def repair_message(spec: "HoleSpec", previous: str, problem: str) -> dict:
    reply = fill("reply_function" if spec.kind == "function" else "reply_expression")
    return {"role": "user", "content": fill("repair", previous=previous.strip(), problem=problem.strip(),
                                            reply_format=reply)}
