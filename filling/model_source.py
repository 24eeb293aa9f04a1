"""The model as a source of fills: the repair loop of docs/reference.md §7,
prompt -> reply -> code (filling/replies.py) -> checks (filling/candidate.py)
-> accepted, or the diagnostic / failing example / trace goes back to the
model as the next message, up to `attempts` times (`from_model`); and one
more sampled candidate, verified once without repair (`draw_sample`, for
filling/choice.py). Every request is recorded (filling/attempts.py) and
counted against the hole's call budget (sources.CallBudget).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from npl.compiler.holes import HoleSpec

from .lockfile import Provenance
from .prompt import (build_messages, fit_messages, prompt_budget, repair_message, reply_prefix,
                     with_findings, without_folder)
from .replies import clipped
from .sources import FillContext, FillFailed, Outcome, body_as_fill, check


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
    written) are dropped: small models like to repeat the context; imports,
    `math.` and chained assignments are written as NPL
    (filling/pythonisms.py)."""
    from .pythonisms import rewrite_pythonisms
    from .replies import ReplyError, classify_expression_reply, classify_function_reply, extract_code
    code = rewrite_pythonisms(drop_definitions(extract_code(text), known - {spec.func_name}))
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
               fill_nested, repair: str = "auto") -> Outcome:
    """Ask `provider` for a fill, repairing up to `attempts` times. A repair
    request is the first request and one turn: the last rejected answer
    and why (older turns are not sent: a small model copies them, and
    they make every request longer). `repair` ([fill] repair in npl.toml,
    filling/settings.py) says after which rejections a repair is asked
    for; after the others the next attempt is a fresh sample. A fill that
    opens holes has them filled by `fill_nested(spec, candidate, holes)`,
    which gives (their outcomes, a problem or "", the checks the whole
    passed)."""
    asker = Asker(ctx, spec, provider, usage)
    repairs_all = repair_mode(repair, provider) == "all"
    messages = asker.first
    outcomes: list[str] = []                # how each attempt ended (see contradiction_hint)
    for attempt in range(1, attempts + 1):
        ctx.on_event(spec, f"asking {provider.name} (attempt {attempt}/{attempts})")
        with ctx.attempts.attempt(spec, provider.name, attempt) as rec:
            completion, candidate = asker.answer(messages, attempt, rec)
            if candidate is not None:
                outcome = judged(ctx, spec, candidate, rec, outcomes, asker, fill_nested)
                if outcome is not None:
                    return outcome
            else:
                outcomes.append("reply")
        ctx.on_event(spec, f"attempt {attempt} rejected: {first_line(asker.last_problem)}")
        cut = cut_off(completion)
        asker.resample_next = "" if repairs_all else resample_reason(outcomes[-1], cut)
        if asker.resample_next and cut:
            asker.found(cut)
        shown = clipped(completion.text)          # a huge or broken reply is not sent back whole
        repair = repair_message(spec, candidate or shown, asker.told(asker.last_problem))
        messages = asker.first + [{"role": "assistant", "content": shown}, repair]
    raise FillFailed(spec, f"no accepted fill after {attempts} attempts; last problem:\n"
                     f"{asker.last_problem}" + contradiction_hint(outcomes), attempts)


def first_messages(ctx: FillContext, spec: HoleSpec) -> list[dict]:
    """The first request for `spec`: the prompt with the visible examples."""
    from npl.compiler.holes import test_source
    visible = [test_source(ctx.program, t) for t in ctx.visible(spec)]
    return build_messages(spec, ctx.program_context(spec), visible, ctx.enclosing_source(spec))


class Asker:
    """One hole's requests to the model: the call budget, the prompt fit to
    the context, the grammar, the usage counted, and the last problem."""

    def __init__(self, ctx: FillContext, spec: HoleSpec, provider, usage: Usage):
        self.ctx, self.spec, self.provider, self.usage = ctx, spec, provider, usage
        self.first = first_messages(ctx, spec)      # the first request
        self.grammar = grammar_for(provider, spec)
        self.prefix = reply_prefix(spec)            # the `def` line and docstring
        self.budget = prompt_budget(provider, REPLY_TOKENS)
        self.hole_usage = Usage()
        self.last_problem = ""
        self.answers: set[str] = set()      # earlier answers (reply_key)
        self.repeated = False               # a greedy reply repeated one of them
        self.resample_next = ""             # why the next attempt is a fresh sample ("": it is not)
        self.findings: list[str] = []       # how the latest answers that ran failed

    def told(self, problem: str) -> str:
        """`problem` as the model is told it (filling/prompt.py `without_folder`)."""
        return without_folder(problem, self.ctx.path)

    def found(self, finding: str) -> None:
        """Keep `finding` (how an answer failed when run) for the next fresh
        sample: the last MAX_FINDINGS different ones."""
        if finding and finding not in self.findings:
            self.findings = (self.findings + [finding])[-MAX_FINDINGS:]

    def ask(self, chat: list[dict], attempt: int, rec, **sampling):
        """One request (recorded in `rec`); FillFailed when no call is left."""
        from .providers.base import ProviderError
        if not self.ctx.calls.take():
            rec.fail("budget", out_of_calls(self.ctx, ""))
            raise FillFailed(self.spec, out_of_calls(self.ctx, self.last_problem), attempt - 1)
        chat = fit_messages(chat, self.budget)      # older repair turns go first, then cuts
        try:
            completion = self.provider.complete(chat, max_tokens=REPLY_TOKENS, stop=REPLY_STOPS,
                                                grammar=self.grammar, prefix=self.prefix,
                                                **sampling)
        except ProviderError as err:
            rec.fail("provider", str(err))
            raise
        self.usage.add(completion)
        self.hole_usage.add(completion)
        rec.asked(chat, completion)
        return completion

    def fresh(self, seed: int, rec):
        """A fresh answer to the first request, sampled at RESAMPLE_TEMPERATURE
        with `seed` (the attempt's or the sample's number). The request says
        how earlier answers failed when run (`findings`), not their code."""
        findings = [self.told(finding) for finding in self.findings]
        return self.ask(with_findings(self.first, findings), seed, rec,
                        temperature=RESAMPLE_TEMPERATURE, seed=seed)

    def fresh_answer(self, attempt: int, rec):
        """(completion, candidate, unusable) of a fresh sample; one that
        repeats an earlier answer, whose verdict is known, is drawn again
        with another seed, up to FRESH_REDRAWS times (on bench/fill_quality.py's
        MBPP problems with the local 1.5B model, 18 of 120 fresh samples
        repeated a rejected answer word for word)."""
        for redraw in range(FRESH_REDRAWS + 1):
            completion = self.fresh(attempt + REDRAW_SEED_STEP * redraw, rec)
            candidate, unusable = parse_reply(self.ctx, self.spec, completion)
            if reply_key(completion.text, candidate) not in self.answers:
                break
            if redraw < FRESH_REDRAWS:
                rec.detail += f"; drawn again ({redraw + 1}): the sample repeated an earlier answer"
        return completion, candidate, unusable

    def answer(self, messages: list[dict], attempt: int, rec):
        """(the completion, its fill or None); an unusable reply's reason
        becomes the last problem. Greedy decoding that answers the feedback
        with a rejected answer again (small models copy the conversation)
        is replaced by a sampled fresh answer to the first request, instead
        of spending the attempt on a known failure. Once that happened, the
        hole's later attempts ask for a sampled fresh answer at once: on
        bench/fill_quality.py's MBPP problems with the local 1.5B model,
        every later repair request, greedy or sampled, repeated an earlier
        answer again (42 of 42), and every fill accepted after a repeat came
        from a fresh sample. After a rejection that the [fill] repair mode
        does not repair (`resample_next`), the attempt is a fresh sample too."""
        if self.repeated or self.resample_next:
            why = "an earlier repair repeated an answer" if self.repeated else self.resample_next
            rec.detail = f"sampled fresh (temperature {RESAMPLE_TEMPERATURE}): {why}"
            completion, candidate, unusable = self.fresh_answer(attempt, rec)
        else:
            completion = self.ask(messages, attempt, rec, temperature=0.0)
            candidate, unusable = parse_reply(self.ctx, self.spec, completion)
            if reply_key(completion.text, candidate) in self.answers:
                self.repeated = True
                self.ctx.on_event(self.spec, f"attempt {attempt} repeated an earlier answer; "
                                  "sampling another")
                rec.detail = "resampled: the first reply repeated an earlier answer"
                completion, candidate, unusable = self.fresh_answer(attempt, rec)
        self.answers.add(reply_key(completion.text, candidate))
        rec.fill = candidate
        if candidate is None:
            self.last_problem = unusable
            rec.reject("reply", unusable)
        return completion, candidate

    def provenance(self, attempt: int) -> Provenance:
        name, used = self.provider.name, self.hole_usage
        return Provenance(name, name.partition("/")[2], attempt, used.prompt_tokens,
                          used.completion_tokens, round(used.seconds, 3))


def judged(ctx: FillContext, spec: HoleSpec, candidate: str, rec, outcomes: list[str],
           asker: Asker, fill_nested) -> Optional[Outcome]:
    """The checks' verdict on a candidate: its Outcome when accepted (with
    the holes it opens filled), else None with the problem in `asker`."""
    verdict = check(ctx, spec, candidate, fix=True)
    candidate = verdict.fill or candidate
    outcomes.append(attempt_outcome(verdict))
    rec.judge(verdict, sub_holes=True)
    if not verdict.accepted:
        asker.last_problem = verdict.feedback
        if outcomes[-1] in RUN_TIME_OUTCOMES:
            asker.found(verdict.finding or verdict.feedback)
        return None
    sub: list[Outcome] = []
    passed, problem = verdict.passed, ""
    if verdict.new_holes:
        sub, problem, passed = fill_nested(spec, candidate, verdict.new_holes)
    if problem:
        asker.last_problem = problem
        rec.reject("sub-holes", problem)
        return None
    return Outcome(spec, candidate, asker.provenance(rec.number), passed, sub)


RESAMPLE_TEMPERATURE = 0.8
FRESH_REDRAWS = 2           # draws again of a fresh sample that repeats an earlier answer
REDRAW_SEED_STEP = 1000     # a redraw's seed: the attempt's plus this, times the redraw
RUN_TIME_OUTCOMES = ("example", "test", "limit")     # rejections of code that ran
MAX_FINDINGS = 2            # failures of earlier answers a fresh request tells of


def repair_mode(repair: str, provider) -> str:
    """"all" or "diagnostics": the [fill] repair setting, with "auto"
    decided by the provider. A local model gets "diagnostics": on
    bench/fill_quality.py's 150 MBPP problems, the local 1.5B model answered
    28 of 29 repair requests after a failed example with the rejected
    answer again (each such request also sends the failing example's trace,
    hundreds of tokens to read on a CPU), while after a compile error 7 of
    21 repairs were new answers. A hosted model gets "all": runtime-informed
    repair is where larger models gain (the LDB and MGDebugger papers)."""
    if repair != "auto":
        return repair
    return "diagnostics" if getattr(provider, "name", "").startswith("local/") else "all"


REPLY_TOKENS = 768          # the most a reply may have
# A reply ends where its code would go on with top-level statements: the
# usage examples (`print(f(3))  # Output: 27`) a model appends after the
# function are never part of a fill, and decoding them costs time (a local
# model spent about 2% of its tokens on them on bench/fill_quality.py's
# problems). At most four strings, the most OpenAI's API takes.
REPLY_STOPS = ["\nprint(", "\nassert ", "\nif __name__"]


def draw_sample(ctx: FillContext, spec: HoleSpec, provider, usage: Usage, index: int) -> Optional[Outcome]:
    """One more candidate for `spec`: a fresh answer to the first request,
    sampled (RESAMPLE_TEMPERATURE, seed `index`), verified once, without
    repair; None when it is not accepted (or opens holes of its own, or no
    call is left), with the reason in the hole's notes and its attempt
    record. A provider error propagates (recorded)."""
    label = f"sample {index + 1}"
    asker = Asker(ctx, spec, provider, usage)
    with ctx.attempts.attempt(spec, provider.name, index + 1,
                              detail=f"{label} (temperature {RESAMPLE_TEMPERATURE}, seed {index})") as rec:
        try:
            completion = asker.fresh(index, rec)
        except FillFailed:                  # no call left (recorded)
            ctx.on_event(spec, f"{label}: not drawn: no model call left for this hole")
            return None
        candidate, unusable = parse_reply(ctx, spec, completion)
        rec.fill = candidate
        if candidate is None:
            rec.reject("reply", unusable)
            ctx.on_event(spec, f"{label} rejected: {first_line(unusable)}")
            return None
        verdict = check(ctx, spec, candidate, fix=True)
        candidate = verdict.fill or candidate
        rec.judge(verdict)
        if rec.verdict != "accepted":
            ctx.on_event(spec, f"{label} rejected: {first_line(rec.feedback) or rec.stage}")
            return None
    return Outcome(spec, candidate, asker.provenance(1), verdict.passed)


def out_of_calls(ctx: FillContext, last_problem: str) -> str:
    """Why a fill stopped at its call budget, for the final error."""
    return (f"stopped: this hole has used all {ctx.calls.limit} model calls it may make "
            "(max_calls in npl.toml [fill]; the calls of the holes its fills open count "
            "too)" + (f"; last problem:\n{last_problem}" if last_problem else ""))


def parse_reply(ctx: FillContext, spec: HoleSpec, completion) -> tuple[Optional[str], str]:
    """(the fill a reply gives, "") or (None, why the reply cannot be used)."""
    from .replies import ReplyError
    if completion.stopped:
        return None, f"Your reply was cut off: {completion.stopped}. {WRITE_GENERAL_CODE}"
    try:
        return reply_to_fill(spec, completion.text, known_functions(ctx)), ""
    except ReplyError as err:
        return None, f"Your reply could not be used: {err}"


WRITE_GENERAL_CODE = "Do not list cases; write a general computation that works for every input."


def cut_off(completion) -> str:
    """How `completion` was cut off, as a finding for the next fresh
    request, or "" when it ended by itself."""
    if completion.stopped:
        return f"An answer was cut off: {completion.stopped}. {WRITE_GENERAL_CODE}"
    if completion.completion_tokens >= REPLY_TOKENS:
        return (f"An answer ran to the limit of {REPLY_TOKENS} tokens without ending. "
                "Write a short, general function.")
    return ""


def resample_reason(outcome: str, cut: str) -> str:
    """Why the attempt after a rejection (`outcome`, see attempt_outcome;
    `cut`, see cut_off) in [fill] repair mode "diagnostics" is a fresh
    sample, or "" when it is a repair. A reply that was cut off is not
    repaired: asked to repair one, the local 1.5B model wrote the cut-off
    answer again every time (7 of 7 on bench/fill_quality.py's problems,
    over three runs), up to the token limit once more."""
    if outcome in RUN_TIME_OUTCOMES:
        return "the last answer failed when run, and [fill] repair asks for a fresh answer then"
    if cut:
        return "the last answer was cut off, and a repair copies it"
    return ""


def reply_key(text: str, candidate: Optional[str]) -> str:
    """What makes two replies the same answer: the fill they give (layout,
    docstrings and repeated context aside), else their text (its start,
    for a reply too long to use)."""
    from .replies import MAX_REPLY_CHARS
    return normalized(candidate if candidate is not None else text[:MAX_REPLY_CHARS])


def normalized(reply: str) -> str:
    return " ".join(reply.split())


def attempt_outcome(verdict) -> str:
    """"example" (failed an example), "gaming", or the verdict's stage."""
    if verdict.stage == "test" and verdict.failed == "example":
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

