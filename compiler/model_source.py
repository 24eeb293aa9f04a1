"""Filling a hole with a model, with repair (the loop of SPEC section 7).

prompt -> reply -> code (compiler/replies.py) -> verify (compiler/verifier.py)
-> accepted, or the diagnostic / failing example / trace goes back to the
model as the next message, up to `attempts` times. A fill that contains
holes of its own (decomposition) has them filled in turn, to `max_depth`,
before the whole is verified.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

from .fill_sources import FillContext, FillFailed, Outcome, body_as_fill, check
from .holes import HoleSpec
from .lockfile import Provenance
from .prompt import build_messages, repair_message


@dataclass
class Usage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def add(self, completion) -> None:
        self.calls += 1
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens
        self.seconds += completion.seconds


def reply_to_fill(spec: HoleSpec, text: str) -> str:
    """The model's reply as fill source (raises ReplyError)."""
    from .replies import ReplyError, classify_expression_reply, classify_function_reply, extract_code
    code = extract_code(text)
    if spec.kind == "function":
        r = classify_function_reply(code, spec.func_name)
        helpers = (r.helpers.strip() + "\n\n") if r.helpers.strip() else ""
        if not r.body.strip():
            raise ReplyError("the reply has no function body")
        return helpers + body_as_fill(spec, r.body)
    r = classify_expression_reply(code, spec.func_name)
    if r.kind == "expression":
        return r.expression.strip()
    helpers = (r.helpers.strip() + "\n\n") if r.helpers.strip() else ""
    if helpers:
        raise ReplyError("an expression hole takes one expression, without helper functions")
    return body_as_fill(spec, r.body)


def grammar_for(provider, spec: HoleSpec) -> Optional[str]:
    if not getattr(provider, "name", "").startswith("local/"):
        return None
    try:
        from .providers.gbnf import fill_grammar
        return fill_grammar(spec.kind)
    except Exception:
        return None


def from_model(ctx: FillContext, spec: HoleSpec, provider, attempts: int, usage: Usage,
               fill_nested) -> Outcome:
    """Ask `provider` for a fill, repairing up to `attempts` times."""
    from .replies import ReplyError
    from .holes import test_source
    visible = [test_source(ctx_program(ctx), t) for t in ctx.visible(spec)] if ctx.visible(spec) else []
    messages = build_messages(spec, ctx.program_context(spec), visible, ctx.enclosing_source(spec))
    grammar = grammar_for(provider, spec)
    hole_usage = Usage()
    last_problem = ""
    for attempt in range(1, attempts + 1):
        ctx.on_event(spec, f"asking {provider.name} (attempt {attempt}/{attempts})")
        completion = provider.complete(messages, max_tokens=768, temperature=0.0, grammar=grammar)
        usage.add(completion)
        hole_usage.add(completion)
        candidate = None
        try:
            candidate = reply_to_fill(spec, completion.text)
        except ReplyError as err:
            last_problem = f"Your reply could not be used: {err}"
        else:
            verdict = check(ctx, spec, candidate)
            if verdict.accepted:
                sub: list[Outcome] = []
                if verdict.new_holes:
                    sub, last_problem = fill_nested(spec, candidate, verdict.new_holes)
                    if last_problem:
                        verdict = None
                if verdict is not None:
                    prov = Provenance(provider.name, provider.name.partition("/")[2], attempt,
                                      hole_usage.prompt_tokens, hole_usage.completion_tokens,
                                      round(hole_usage.seconds, 3))
                    return Outcome(spec, candidate, prov, verdict.passed, sub)
            else:
                last_problem = verdict.feedback
        ctx.on_event(spec, f"attempt {attempt} rejected: {first_line(last_problem)}")
        messages = messages + [{"role": "assistant", "content": completion.text},
                               repair_message(spec, candidate or completion.text, last_problem)]
    raise FillFailed(spec, f"no accepted fill after {attempts} attempts; last problem:\n{last_problem}",
                     attempts)


def first_line(text: str) -> str:
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[0][:120] if lines else ""


def ctx_program(ctx: FillContext):
    return ctx.program
