"""Answering @oracle calls with a model (SPEC section 10; docs/oracles.md).

`Oracles` is the runtime's `OracleAnswerer` (runtime/oracles.py) for one
program: a call's arguments (NPL values) are looked up in the answer store
(filling/answers.py) under the oracle's key and the model; a stored answer
is reused, a missing one is asked of the model — unless the run is frozen,
when it is a run-time error naming the oracle and its arguments — checked
against the return type and stored.

Asking: the prompt holds the docstring, the signature, the examples as
worked cases and the call with its arguments as NPL literals; the reply is
`{"answer": VALUE}` as JSON. The local model decodes under a GBNF grammar
made from the return type, so it can only write a well-typed value; hosted
providers get the JSON schema as structured output. A reply that does not
parse or check is asked again with the error, at most `attempts` times;
then the call is a run-time error showing the arguments and the last reply.

Calls asked together (`ask_all`: a comprehension over an oracle) run on up
to `concurrency` threads (one for the local model), results in order.
"""
from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from npl.compiler import ir
from npl.compiler.holes import HoleSpec
from npl.runtime.errors import NplRuntimeError
from npl.runtime.values import npl_repr

from .answers import AnswerStore, canonical
from .oracle_types import AnswerTypeError, answer_schema, from_json, gbnf, to_json

MAX_REPLY_CHARS = 200_000          # a longer reply is not parsed at all
MAX_TOKENS = 1024

SYSTEM = """You are a function implemented by judgement instead of code. Given the \
function's description, its signature, worked examples and one call, you reply with the \
value the call returns, as JSON: exactly one object {"answer": VALUE} and nothing else. \
VALUE must have the declared return type: strings in double quotes, `None` as null, lists, \
sets and tuples as arrays, a struct as an object with exactly its fields."""


@dataclass
class OracleStats:
    calls: int = 0                 # oracle calls the program made
    reused: int = 0                # answered from the store
    asked: int = 0                 # answered by asking the model
    requests: int = 0              # model requests (retries included)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Oracles:
    """Answers one program's oracle calls. `specs` are the compilation's
    oracles (compiler/holes.py collect_oracles); `structs` maps a struct's
    IR name to (class, [(field, type)]); `provider` is a callable giving the
    model provider on first use (None: no model, e.g. frozen)."""

    def __init__(self, specs: list[HoleSpec], structs: dict, store: AnswerStore, *,
                 model: Optional[str], provider: Optional[Callable[[], Any]], frozen: bool,
                 attempts: int = 3, concurrency: int = 8, module: Optional[ir.Module] = None,
                 constrained: bool = True):
        self.by_name = {s.info.function.ir_name: s for s in specs}
        self.structs = structs
        self.fields = {name: fields for name, (_, fields) in structs.items()}
        self.store = store
        self.model = model
        self._provider_factory = provider
        self._provider = None
        self.frozen = frozen
        self.attempts = max(1, attempts)
        self.local = bool(model and model.startswith("local/"))
        self.concurrency = 1 if self.local else max(1, concurrency)
        self.cases = {name: worked_cases(module, name) for name in self.by_name} if module else {}
        self.constrained = constrained        # grammar / schema-guided decoding (bench: off)
        self.stats = OracleStats()
        self._provider_lock = threading.Lock()
        self._model_lock = threading.Lock()   # the local model answers one at a time

    # -- the runtime's interface
    def ask(self, fn: ir.Function, args: tuple) -> Any:
        return self._answer(self._spec(fn), args)

    def ask_all(self, fn: ir.Function, calls: list[tuple]) -> list[Any]:
        spec = self._spec(fn)
        if len(calls) <= 1 or self.concurrency == 1:
            return [self._answer(spec, args) for args in calls]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(calls)),
                                thread_name_prefix="npl-oracle") as pool:
            return list(pool.map(lambda args: self._answer(spec, args), calls))

    # -- one call
    def _spec(self, fn: ir.Function) -> HoleSpec:
        return self.by_name[fn.name]

    def _answer(self, spec: HoleSpec, args: tuple) -> Any:
        with self.stats.lock:
            self.stats.calls += 1
        key_args = canonical([to_json(a) for a in args])
        stored = self.store.get(spec.key, key_args, None if self.frozen else self.model)
        if stored is None and self.frozen:
            stored = self.store.get(spec.key, key_args, None)
        if stored is not None:
            try:
                value = from_json(stored.value, spec.ret, self.structs)
            except AnswerTypeError:
                value = _MISSING              # a stored answer of another type: ask again
            if value is not _MISSING:
                with self.stats.lock:
                    self.stats.reused += 1
                return value
        if self.frozen:
            raise NplRuntimeError("oracle", f"oracle '{spec.name}' has no stored answer for "
                                  f"{call_text(spec, args)}, and --frozen forbids asking a model")
        value, answer, provenance = self._ask_model(spec, args)
        self.store.put(spec.key, spec.name, key_args, self.model or "", answer, provenance)
        with self.stats.lock:
            self.stats.asked += 1
        return value

    def _ask_model(self, spec: HoleSpec, args: tuple) -> tuple[Any, Any, dict]:
        provider = self._get_provider(spec)
        messages = build_messages(spec, args, self.cases.get(spec.info.function.ir_name, []),
                                  self.fields)
        extra = {} if not self.constrained else \
            ({"grammar": gbnf(spec.ret, self.fields)} if self.local
             else {"json_schema": answer_schema(spec.ret, self.fields)})
        started, tokens, problem, reply = time.monotonic(), [0, 0], "", ""
        for attempt in range(1, self.attempts + 1):
            completion = self._complete(spec, args, provider, messages, extra)
            tokens[0] += completion.prompt_tokens
            tokens[1] += completion.completion_tokens
            reply = completion.text
            try:
                data = parse_answer(reply)
                value = from_json(data, spec.ret, self.structs)
            except (ValueError, AnswerTypeError) as exc:
                problem = str(exc)
                messages = messages + [{"role": "assistant", "content": reply[:2000]},
                                       {"role": "user", "content": repair_text(problem)}]
                continue
            provenance = {"model": self.model, "prompt_tokens": tokens[0],
                          "completion_tokens": tokens[1], "attempts": attempt,
                          "seconds": round(time.monotonic() - started, 3)}
            return value, data, provenance
        raise NplRuntimeError("oracle", f"oracle '{spec.name}' gave no valid answer for "
                              f"{call_text(spec, args)} in {self.attempts} attempt(s): {problem}; "
                              f"last reply: {_short(reply)}")

    def _complete(self, spec, args, provider, messages, extra):
        from .providers.base import ProviderError
        started = time.monotonic()
        try:
            if self.local:
                with self._model_lock:
                    completion = provider.complete(messages, max_tokens=MAX_TOKENS, **extra)
            else:
                completion = provider.complete(messages, max_tokens=MAX_TOKENS, **extra)
        except ProviderError as err:
            raise NplRuntimeError("oracle", f"oracle '{spec.name}' could not ask {self.model} "
                                  f"for {call_text(spec, args)}: {err}") from None
        with self.stats.lock:
            self.stats.requests += 1
            self.stats.prompt_tokens += completion.prompt_tokens
            self.stats.completion_tokens += completion.completion_tokens
            self.stats.seconds += time.monotonic() - started
        return completion

    def _get_provider(self, spec: HoleSpec):
        with self._provider_lock:
            if self._provider is None:
                if self._provider_factory is None or not self.model:
                    raise NplRuntimeError("oracle", f"oracle '{spec.name}' needs a model to answer "
                                          "it: name one with --model, NPL_MODEL or npl.toml")
                from .providers.base import ProviderError
                try:
                    self._provider = self._provider_factory()
                except ProviderError as err:
                    raise NplRuntimeError("oracle", f"oracle '{spec.name}': {err}") from None
            return self._provider

    def summary(self, prices: Optional[dict] = None) -> Optional[str]:
        """The line `npl run` prints on stderr, or None when no oracle was called."""
        s = self.stats
        if not s.calls:
            return None
        line = f"npl: {s.calls} oracle call(s): {s.reused} answered from the store, {s.asked} asked"
        if s.requests:
            from .providers.pricing import estimate_cost
            cost = estimate_cost(self.model or "", s.prompt_tokens, s.completion_tokens, prices)
            cost_text = f"${cost:.4f}" if cost is not None else "unknown cost"
            line += (f" ({s.requests} request(s) to {self.model}, {s.prompt_tokens} prompt + "
                     f"{s.completion_tokens} completion tokens, {s.seconds:.1f} s, est. {cost_text})")
        return line


_MISSING = object()


# ---------------------------------------------------------------- prompt and reply

def worked_cases(module: ir.Module, fn_name: str) -> list[tuple[tuple, Any]]:
    """(arguments, answer) of each example `oracle(CONSTS) == CONST` of the
    oracle `fn_name` (IR name), for the prompt."""
    cases = []
    for t in module.tests:
        e = t.expr
        if t.kind != "example" or not isinstance(e, ir.Compare) or e.ops != ("eq",):
            continue
        for call, other in (e.operands, e.operands[::-1]):
            if isinstance(call, ir.Call) and call.func == fn_name and isinstance(other, ir.Const) \
                    and all(isinstance(a, ir.Const) for a in call.args):
                cases.append((tuple(a.value for a in call.args), other.value))
                break
    return cases


def build_messages(spec: HoleSpec, args: tuple, cases: list[tuple[tuple, Any]],
                   structs: Optional[dict[str, list]] = None) -> list[dict]:
    """The chat for one call. `cases` are the worked examples; the one for
    these very arguments (when `npl test` asks an example) is left out.
    `structs` ({IR name: [(field, type)]}) defines the structs the
    signature names."""
    fn = spec.info.function
    params = ", ".join(f"{n}: {t}" for n, t in spec.params)
    named = [s for s in (structs or {}) if re.search(rf"\b{re.escape(s)}\b", f"{params} {spec.ret}")]
    defs = "".join(f"    struct {s}: " + ", ".join(f"{f}: {t}" for f, t in structs[s]) + "\n"
                   for s in named)
    parts = [f"Function:\n{defs}    def {fn.name}({params}) -> {spec.ret}\n"
             f"Description: {' '.join(spec.description.split())}"]
    examples = [f"{call_text(spec, a)} == {npl_repr(v)}" for a, v in cases if a != tuple(args)]
    if examples:
        parts.append("Worked examples (each call == its value):\n"
                     + "\n".join(f"    {e}" for e in examples))
    parts.append(f"Call:\n    {call_text(spec, args)}\n\nReply with {{\"answer\": VALUE}} where "
                 f"VALUE is this call's value, of type {spec.ret}.")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def call_text(spec: HoleSpec, args: tuple) -> str:
    """`name(arg, ...)` with the arguments as NPL literals (shortened)."""
    text = ", ".join(_short(npl_repr(a), 300) for a in args)
    return f"{spec.name}({text})"


def repair_text(problem: str) -> str:
    return (f"That reply cannot be used: {problem}. Reply again with only the JSON object "
            "{\"answer\": VALUE}.")


def parse_answer(reply: str) -> Any:
    """The VALUE of a reply `{"answer": VALUE}` (code fences and text around
    the object are tolerated); ValueError saying what is wrong."""
    if len(reply) > MAX_REPLY_CHARS:
        raise ValueError(f"the reply is {len(reply)} characters long (at most {MAX_REPLY_CHARS})")
    text = reply.strip()
    fence = re.search(r"```(?:json)?\s*\n(.*?)```", text, re.S)
    if fence:
        text = fence.group(1).strip()
    start = text.find("{")
    if start < 0:
        raise ValueError("the reply holds no JSON object")
    try:
        data, _ = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the reply is not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(data, dict) or "answer" not in data:
        raise ValueError('the reply is not an object with an "answer" field')
    return data["answer"]


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."
