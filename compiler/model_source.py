"""Filling a hole with a model, with repair (the loop of SPEC section 7).

prompt -> reply -> code (compiler/replies.py) -> verify (compiler/verifier.py)
-> accepted, or the diagnostic / failing example / trace goes back to the
model as the next message, up to `attempts` times. A fill that contains
holes of its own (decomposition) has them filled in turn, to `max_depth`,
before the whole is verified.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
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


def reply_to_fill(spec: HoleSpec, text: str, known: frozenset = frozenset()) -> str:
    """The model's reply as fill source (raises ReplyError). Definitions of
    functions the program already has (`known`, other than the one being
    written) are dropped: small models like to repeat the context."""
    from .replies import ReplyError, classify_expression_reply, classify_function_reply, extract_code
    code = drop_definitions(extract_code(text), known - {spec.func_name})
    if spec.kind == "function":
        r = classify_function_reply(code, spec.func_name)
        helpers = (r.helpers.strip() + "\n\n") if r.helpers.strip() else ""
        if not r.body.strip():
            raise ReplyError("the reply has no function body")
        return helpers + body_as_fill(spec, r.body)
    r = classify_expression_reply(code, spec.func_name)
    if r.kind == "expression":
        return r.expression.strip()
    if r.helpers.strip():
        raise ReplyError("an expression hole takes one expression, without helper functions")
    return body_as_fill(spec, r.body)


def drop_definitions(code: str, names) -> str:
    """`code` without its top-level `def NAME(...)` blocks for NAME in `names`."""
    if not names:
        return code
    out, skipping = [], False
    for line in code.splitlines():
        if line and not line[0].isspace():
            m = re.match(r"def\s+(\w+)\s*\(", line)
            skipping = bool(m and m.group(1) in names)
        if not skipping:
            out.append(line)
    return "\n".join(out).strip("\n") + "\n"


def grammar_for(provider, spec: HoleSpec) -> Optional[str]:
    if not getattr(provider, "name", "").startswith("local/"):
        return None
    try:
        from .providers.gbnf import fill_grammar
        return fill_grammar("function")     # both kinds are asked for a definition
    except Exception:
        return None


def from_model(ctx: FillContext, spec: HoleSpec, provider, attempts: int, usage: Usage,
               fill_nested) -> Outcome:
    """Ask `provider` for a fill, repairing up to `attempts` times."""
    from .holes import test_source
    visible = [test_source(ctx_program(ctx), t) for t in ctx.visible(spec)] if ctx.visible(spec) else []
    messages = build_messages(spec, ctx.program_context(spec), visible, ctx.enclosing_source(spec))
    grammar = grammar_for(provider, spec)
    hole_usage = Usage()
    last_problem = ""
    outcomes: list[str] = []                # how each attempt ended (see contradiction_hint)
    answers: set[str] = set()               # earlier answers (reply_key)

    def ask(chat: list[dict], **sampling):
        completion = provider.complete(chat, max_tokens=768, grammar=grammar, **sampling)
        usage.add(completion)
        hole_usage.add(completion)
        return completion

    for attempt in range(1, attempts + 1):
        ctx.on_event(spec, f"asking {provider.name} (attempt {attempt}/{attempts})")
        completion = ask(messages, temperature=0.0)
        candidate, unusable = parse_reply(ctx, spec, completion.text)
        if reply_key(completion.text, candidate) in answers:
            # Greedy decoding answered the feedback with a rejected answer again (small
            # models copy the conversation): sample a fresh answer to the first request
            # instead of spending the attempt on a known failure.
            ctx.on_event(spec, f"attempt {attempt} repeated an earlier answer; sampling another")
            completion = ask(messages[:2], temperature=RESAMPLE_TEMPERATURE, seed=attempt)
            candidate, unusable = parse_reply(ctx, spec, completion.text)
        answers.add(reply_key(completion.text, candidate))
        if candidate is None:
            last_problem = unusable
            outcomes.append("reply")
        else:
            verdict = check(ctx, spec, candidate)
            outcomes.append(attempt_outcome(verdict))
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
    raise FillFailed(spec, f"no accepted fill after {attempts} attempts; last problem:\n{last_problem}"
                     + contradiction_hint(outcomes), attempts)


RESAMPLE_TEMPERATURE = 0.8


def parse_reply(ctx: FillContext, spec: HoleSpec, text: str) -> tuple[Optional[str], str]:
    """(the fill a reply gives, "") or (None, why the reply cannot be used)."""
    from .replies import ReplyError
    try:
        return reply_to_fill(spec, text, known_functions(ctx)), ""
    except ReplyError as err:
        return None, f"Your reply could not be used: {err}"


def reply_key(text: str, candidate: Optional[str]) -> str:
    """What makes two replies the same answer: the fill they give (layout,
    docstrings and repeated context aside), else their text."""
    return normalized(candidate if candidate is not None else text)


def normalized(reply: str) -> str:
    return " ".join(reply.split())


def attempt_outcome(verdict) -> str:
    """"example" (failed an example), "gaming", or the verdict's stage."""
    if verdict.stage == "test" and verdict.feedback.startswith(("It fails the example",
                                                               "It fails a held-out example")):
        return "example"
    return verdict.stage


def contradiction_hint(outcomes: list[str]) -> str:
    """When the model's code kept compiling but never agreed with the
    examples (or special-cased them), the likelier culprit is the hole: its
    examples and description may say different things."""
    against = [o for o in outcomes if o in ("example", "gaming")]
    compiled = [o for o in outcomes if o not in ("reply", "compile")]
    if len(against) >= 2 and (len(against) == len(compiled) or outcomes.count("gaming") >= 2):
        return ("\nnote: every candidate that compiled failed the examples or special-cased "
                "them: the examples may contradict the description. Check each `example` "
                "against the description (and the description against what you mean).")
    return ""


def known_functions(ctx: FillContext) -> frozenset:
    prog = ctx.program
    if prog is None:
        return frozenset()
    return frozenset(f.name for f in prog.funcs.values() if f.module == prog.main_path)


def first_line(text: str) -> str:
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[0][:120] if lines else ""


def ctx_program(ctx: FillContext):
    return ctx.program
