"""The llama.cpp engine that runs inside the local model's worker process.

Takes in: a GGUF model file, the thread count, the context size and the
weight-repacking mode ("auto", "on" or "off"); then requests (a chat, an
optional GBNF grammar, sampling settings) one at a time.
Gives back: per request a dict with the reply text and token counts
(prompt, completion, and how many prompt tokens were reused from the
previous request's evaluation); failures are `ProviderError`s.

Only the worker (worker.py) imports this module: llama.cpp's native code
never runs in the process of the `npl` command itself, so a crash here ends
the worker, not the user's program (see docs/local-model.md).

The model is loaded once per worker and keeps its llama.cpp context between
requests, so a request whose prompt starts like the previous one (the same
system prompt, or a repair turn that extends the last conversation) only
evaluates the new tokens: llama-cpp-python's `Llama.generate` keeps the
longest common prefix of its KV cache.

Weight repacking ("extra buffer types" in llama.cpp, `use_extra_bufts` in the
model parameters) lays the weights out for the CPU's fastest kernels. On a
CPU with AMX and a llama.cpp built with AMX kernels, it puts the Q4_K weights
into the AMX buffer type, whose matrix multiply can crash (llama.cpp issue
#20824). `choose_repack` turns it off exactly there; everywhere else it
stays on (prompt evaluation is faster with it).

A request may give the reply's start ("prefix": a fill's `def` line and
docstring, which the model would otherwise copy out of the request): the
chat is laid out by the model's own chat template, as llama-cpp-python's
chat completion lays it out, and the prefix is appended to the model's
turn, so only the rest is decoded (a third of a first reply's tokens on
bench/fill_quality.py's problems). The reply's text starts with the prefix;
a prefix the request's grammar does not allow, or a model without a chat
template, gets a reply written whole.

A grammar (see gbnf.py) is first checked with llama.cpp's own GBNF parser
(llama-cpp-python would crash on a bad one), then enforced lazily by
`_GrammarGuide`: only when the model's preferred token breaks the grammar
is the whole vocabulary filtered, so guided decoding runs at nearly the
speed of free decoding instead of the ~1 token/s of filtering every step.
llama.cpp's logging is kept off stderr.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import re
import sys
import tempfile
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

from .base import ProviderError
from .modelfile import INSTALL_HINT
from .repetition import repeated_block, repeated_run

PROVIDER = "local"
REPACK_MODES = ("auto", "on", "off")
AMX_CPU_FLAGS = frozenset({"amx_int8", "amx_tile", "amx_bf16"})


def _import_llama_cpp():
    try:
        import llama_cpp
        from llama_cpp import _logger
    except ImportError as exc:
        raise ProviderError(PROVIDER, "config", f"the local model needs llama-cpp-python, "
                            f"which cannot be imported ({exc}); run: {INSTALL_HINT}") from None
    _logger.set_verbose(False)          # llama.cpp's log lines stay off stderr
    return llama_cpp


# ------------------------------------------------------------ weight repacking

def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU feature flags Linux reports (empty elsewhere)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    match = re.search(r"^flags\s*:(.*)$", text, re.M)
    return frozenset(match.group(1).split()) if match else frozenset()


def build_features(system_info: str) -> dict[str, str]:
    """llama.cpp's `llama_print_system_info()` as {"AVX2": "1", ...}: the
    instruction sets its CPU backend was compiled for."""
    return dict(re.findall(r"([A-Z][A-Z0-9_]*) = (\w+)", system_info))


def choose_repack(mode: str, system_info: str, flags: frozenset[str]) -> tuple[bool, str]:
    """(repack the weights?, why) for the mode "on", "off" or "auto".

    auto: off exactly when llama.cpp can use its AMX kernels, i.e. its CPU
    backend was compiled with AMX_INT8 (which only a build on, or for, an
    AMX CPU is). Where the feature list cannot be read, the CPU's own flags
    decide."""
    if mode == "on":
        return True, "on (NPL_LOCAL_REPACK=on)"
    if mode == "off":
        return False, "off (NPL_LOCAL_REPACK=off)"
    features = build_features(system_info)
    if features:
        amx = features.get("AMX_INT8") == "1"
        where = "llama.cpp was built with AMX kernels"
    else:
        amx = bool(flags & AMX_CPU_FLAGS)
        where = "the CPU has AMX"
    if amx:
        return False, (f"off: {where}, whose Q4_K matrix multiply can crash "
                       f"(llama.cpp issue #20824)")
    return True, "on (no AMX kernels in this llama.cpp)"


@contextlib.contextmanager
def _model_params(llama_cpp, repack: bool) -> Iterator[bool]:
    """While active, `Llama()` loads with `use_extra_bufts = repack`.

    `Llama.__init__` takes its model parameters from the low-level
    `llama_model_default_params()` and has no argument for this one, so the
    function is wrapped for the duration of the load. Yields whether the
    setting could be applied (llama-cpp-python before use_extra_bufts
    cannot turn repacking off)."""
    low = llama_cpp.llama_cpp
    original = low.llama_model_default_params
    applied = hasattr(original(), "use_extra_bufts")

    def params():
        value = original()
        if applied:
            value.use_extra_bufts = repack
        return value
    low.llama_model_default_params = params
    try:
        yield applied
    finally:
        low.llama_model_default_params = original


# ------------------------------------------------------------ grammars

@contextlib.contextmanager
def _stderr_captured():
    """Redirect file descriptor 2 (where llama.cpp's C code writes) into a
    temporary file; yields a function that returns what was written."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lambda: (sink.seek(0), sink.read().decode("utf-8", "replace"))[1]
        finally:
            os.dup2(saved, 2)
            os.close(saved)


@lru_cache(maxsize=32)
def _grammar_problem(grammar: str) -> Optional[str]:
    """None if llama.cpp's own GBNF parser accepts `grammar` (root rule
    `root`), else its error message."""
    llama_cpp = _import_llama_cpp()
    with _stderr_captured() as captured:
        sampler = llama_cpp.llama_sampler_init_grammar(None, grammar.encode("utf-8"), b"root")
        if sampler:
            llama_cpp.llama_sampler_free(sampler)
        message = captured()
    if sampler:
        return None
    lines = [ln.strip() for ln in message.splitlines() if "error" in ln.lower()]
    return "; ".join(lines) or "llama.cpp could not parse it"


def check_grammar(grammar: str) -> None:
    """Raise ProviderError (kind "config") unless llama.cpp accepts the GBNF
    text `grammar`. llama-cpp-python does not check a grammar itself and
    would crash on a bad one, so every grammar passes through here first."""
    problem = _grammar_problem(grammar)
    if problem is not None:
        raise ProviderError(PROVIDER, "config", f"invalid GBNF grammar: {problem}")


_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])


class _GrammarGuide:
    """A logits processor that keeps decoding inside a GBNF grammar, lazily.

    Checking a grammar against all ~150k vocabulary entries costs about a
    second per token on a laptop CPU, so (like llama.cpp's own
    `common_sampler`) the guide first picks the token it would choose
    anyway and asks the grammar about that one token only; only when the
    grammar rejects it is the whole vocabulary masked and the choice made
    again among the allowed tokens. It makes the choice itself (greedy, or
    seeded top-k/top-p sampling when temperature > 0) and hands llama.cpp a
    one-hot score vector, so llama.cpp's greedy sampler agrees with it."""

    def __init__(self, lib, llama, grammar: str, temperature: float, seed: int):
        self._lib = lib
        vocab = lib.llama_model_get_vocab(llama.model)
        self._sampler = lib.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
        if not self._sampler:               # check_grammar has run, so this is rare
            raise ProviderError(PROVIDER, "config", "llama.cpp rejected the GBNF grammar")
        self._eos = llama.token_eos()
        self._temperature = temperature
        self._rng = np.random.default_rng(seed) if temperature > 0 else None
        self._prompt_len: Optional[int] = None
        self._accepted = 0
        self._one = (lib.llama_token_data * 1)()
        self.full_masks = 0
        self.failure: Optional[str] = None

    def close(self) -> None:
        if self._sampler:
            self._lib.llama_sampler_free(self._sampler)
            self._sampler = None

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Called by llama.cpp through a C callback, which no exception may
        cross: a failure is recorded in `failure` and ends the generation."""
        token = self._eos
        if self.failure is None:
            try:
                self._catch_up(input_ids)
                token = self._choose(scores)
            except Exception as exc:        # noqa: BLE001 -- see the docstring
                self.failure = f"grammar-guided decoding failed: {exc!r}"
                token = self._eos
        chosen = np.full_like(scores, -np.inf)
        chosen[token] = 0.0
        return chosen

    def start_with(self, tokens: list[int]) -> bool:
        """Feed the grammar the reply's given start (`tokens`, which the
        prompt ends with); False, leaving the guide unusable, if the grammar
        does not allow them."""
        for token in tokens:
            if not self._allows(token, 0.0):
                return False
            self._lib.llama_sampler_accept(self._sampler, int(token))
        return True

    def _choose(self, scores: np.ndarray) -> int:
        token = self._pick(scores)
        if self._allows(token, float(scores[token])):
            return token
        scores = self._masked(scores)
        if not np.isfinite(scores).any():
            self.failure = "the grammar allows no next token"
            return self._eos
        return self._pick(scores)

    def _catch_up(self, input_ids: np.ndarray) -> None:
        """Feed the grammar the tokens generated since the last call."""
        if self._prompt_len is None:
            self._prompt_len = len(input_ids)
        for token in input_ids[self._prompt_len + self._accepted:]:
            self._lib.llama_sampler_accept(self._sampler, int(token))
            self._accepted += 1

    def _pick(self, scores: np.ndarray) -> int:
        if self._rng is None:
            return int(np.argmax(scores))
        top = np.argsort(scores)[::-1][:40]
        weights = np.exp((scores[top] - scores[top[0]]) / self._temperature)
        weights /= weights.sum()
        keep = min(int(np.searchsorted(np.cumsum(weights), 0.95)) + 1, len(top))
        weights = weights[:keep] / weights[:keep].sum()
        return int(top[self._rng.choice(keep, p=weights)])

    def _apply(self, data, size: int) -> None:
        array = self._lib.llama_token_data_array(data=data, size=size, selected=-1,
                                                 sorted=False)
        self._lib.llama_sampler_apply(self._sampler, ctypes.byref(array))

    def _allows(self, token: int, score: float) -> bool:
        self._one[0].id, self._one[0].logit, self._one[0].p = token, score, 0.0
        self._apply(ctypes.cast(self._one, self._lib.llama_token_data_p), 1)
        return self._one[0].logit != -np.inf

    def _masked(self, scores: np.ndarray) -> np.ndarray:
        self.full_masks += 1
        data = np.empty(len(scores), dtype=_TOKEN_DATA)
        data["id"] = np.arange(len(scores), dtype=np.int32)
        data["logit"] = scores
        data["p"] = 0.0
        self._apply(data.ctypes.data_as(self._lib.llama_token_data_p), len(data))
        return data["logit"].copy()


# ------------------------------------------------------------ the engine

class LlamaEngine:
    """One GGUF model loaded with llama.cpp, answering one request at a time."""

    def __init__(self, model_path: str, threads: int, n_ctx: int, repack: str = "auto"):
        self._lib = _import_llama_cpp()
        self.n_ctx = n_ctx
        info = self._lib.llama_print_system_info().decode("utf-8", "replace")
        self.repack, self.repack_reason = choose_repack(repack, info, cpu_flags())
        try:                            # verbose=False also mutes llama.cpp's C logging
            with _model_params(self._lib, self.repack) as applied:
                self.llama = self._lib.Llama(model_path=model_path, n_ctx=n_ctx,
                                             n_threads=threads, n_threads_batch=threads,
                                             seed=0, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ProviderError(PROVIDER, "model_file", f"llama.cpp could not load "
                                f"{model_path}: {exc}; is it a valid GGUF model file?") from None
        if not applied and not self.repack:
            self.repack, self.repack_reason = True, (
                "on: this llama-cpp-python cannot turn it off (no use_extra_bufts); "
                "upgrade it: pip install -U llama-cpp-python")

    def describe(self) -> dict:
        """What the worker reports about its engine (see worker.py's hello)."""
        return {"engine": "llama.cpp", "llama_cpp": self._lib.__version__,
                "repack": self.repack, "repack_reason": self.repack_reason}

    def close(self) -> None:
        self.llama.close()

    def complete(self, request: dict, cancelled: Callable[[], bool] = lambda: False) -> dict:
        """Answer one request: {"messages", "max_tokens", "temperature",
        "stop", "grammar", "seed", "stop_repeats", "prefix"} -> {"text",
        "prompt_tokens", "completion_tokens", "cached_tokens", "stopped"}.
        "prefix" is the start of the reply, written for the model (see
        `_prompt`); the text then begins with it. Generation stops early at
        the first token after `cancelled()` says so, and (unless
        "stop_repeats" is false) once the reply's last lines repeat one
        block of code ("stopped" then says which)."""
        grammar = request.get("grammar")
        if grammar:
            check_grammar(grammar)
        before = self._evaluated()
        runaway = _RepetitionStop(self.llama) if request.get("stop_repeats", True) else None
        text, usage = self._generate(request["messages"], str(request.get("prefix") or ""),
                                     int(request["max_tokens"]), float(request["temperature"]),
                                     request.get("stop") or [], grammar, int(request["seed"]),
                                     cancelled, runaway)
        prompt_tokens = int(usage.get("prompt_tokens", 0))
        return {"text": text,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": int(usage.get("completion_tokens", 0)),
                "cached_tokens": _common_prefix(before, self._evaluated(), prompt_tokens),
                "stopped": f"it repeated {runaway.found}" if runaway and runaway.found else ""}

    def _exceeds_context(self, messages: list[dict], max_tokens: int) -> bool:
        return _exceeds_context_of(self.llama, self.n_ctx, messages, max_tokens)

    def _evaluated(self) -> Optional[np.ndarray]:
        """The tokens in the context's KV cache (None if this version of
        llama-cpp-python does not expose them)."""
        ids = getattr(self.llama, "_input_ids", None)
        return None if ids is None else np.array(ids)

    def _prompt(self, messages: list[dict], prefix: str) -> tuple[list[int], list[str]]:
        """(the prompt's tokens, the stop strings): the chat laid out by the
        model's own chat template (`_layout`), as llama-cpp-python's chat
        completion does, up to the assistant's turn, then `prefix`, the
        reply's first characters, which the model continues."""
        layout = self._layout(messages=messages)
        tokens = self.llama.tokenize((layout.prompt + prefix).encode("utf-8"),
                                     add_bos=not layout.added_special, special=True)
        return tokens, [layout.stop] if isinstance(layout.stop, str) else list(layout.stop or [])

    @cached_property
    def _layout(self):
        """The model's chat template as llama-cpp-python's formatter, made
        once; None for a model file without one (llama-cpp-python's chat
        completion then picks a layout, and a reply gets no prefix)."""
        template = self.llama.metadata.get("tokenizer.chat_template", "")
        if not template:
            return None
        eos = self.llama.token_eos()
        return self._lib.llama_chat_format.Jinja2ChatFormatter(
            template=template, eos_token=self._token_text(eos),
            bos_token=self._token_text(self.llama.token_bos()), stop_token_ids=[eos])

    def _token_text(self, token: int) -> str:
        if token == -1:
            return ""
        return self.llama.detokenize([token], special=True).decode("utf-8", "replace")

    def _generate(self, messages: list[dict], prefix: str, max_tokens: int, temperature: float,
                  stop: list[str], grammar: Optional[str], seed: int,
                  cancelled: Callable[[], bool],
                  runaway: Optional["_RepetitionStop"] = None) -> tuple[str, dict]:
        """(the reply's text, its token counts). A prefix that the grammar
        does not allow (or a model without a chat template) is not used:
        the model then writes the whole reply."""
        guide = None
        if self._layout is None:
            prefix = ""
        if grammar:
            guide = _GrammarGuide(self._lib, self.llama, grammar, temperature, seed)
            if prefix and not guide.start_with(self._tokens_of(prefix)):
                guide.close()
                guide, prefix = _GrammarGuide(self._lib, self.llama, grammar, temperature, seed), ""
        prompt = None if self._layout is None else self._prompt(messages, prefix)
        if guide is not None or temperature <= 0:
            sampling = {"temperature": 0.0, "top_k": 1}     # greedy (or the guide's pick)
        else:
            sampling = {"temperature": temperature, "top_k": 40, "top_p": 0.95}
        options = dict(max_tokens=max_tokens, repeat_penalty=1.0, seed=seed, **sampling,
                       logits_processor=[*([guide] if guide else []), *([runaway] if runaway else []),
                                         _end_when(cancelled, self.llama.token_eos())])
        try:
            if prompt is None:
                reply = self.llama.create_chat_completion(messages=messages, stop=stop, **options)
                text = reply["choices"][0]["message"]["content"] or ""
            else:
                reply = self.llama.create_completion(prompt=prompt[0], stop=stop + prompt[1],
                                                     **options)
                text = prefix + (reply["choices"][0]["text"] or "")
        except ValueError as exc:           # e.g. the prompt exceeds n_ctx
            kind = "context" if self._exceeds_context(messages, max_tokens) else "malformed"
            raise ProviderError(PROVIDER, kind, f"{exc} (the context window "
                                f"is {self.n_ctx} tokens)") from None
        finally:
            if guide is not None:
                guide.close()
        if guide is not None and guide.failure:
            raise ProviderError(PROVIDER, "malformed", guide.failure)
        return text, reply.get("usage") or {}

    def _tokens_of(self, text: str) -> list[int]:
        return self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)


class _RepetitionStop:
    """A logits processor that ends a reply once its last lines repeat one
    block of code, or its last line one piece of code
    (filling/providers/repetition.py): `found` then says
    which block, how many times. It looks every CHECK_EVERY tokens."""
    CHECK_EVERY = 8

    def __init__(self, llama):
        self._llama = llama
        self._eos = llama.token_eos()
        self._prompt_len: Optional[int] = None
        self.found: Optional[str] = None

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if self._prompt_len is None:
            self._prompt_len = len(input_ids)
        made = len(input_ids) - self._prompt_len
        if self.found is None and made and made % self.CHECK_EVERY == 0:
            try:
                text = self._llama.detokenize(
                    [int(t) for t in input_ids[self._prompt_len:]]).decode("utf-8", "replace")
                self.found = repeated_block(text) or repeated_run(text)
            except Exception:               # noqa: BLE001 -- a C callback: nothing may escape
                self.found = None
        if self.found is not None:
            scores = np.full_like(scores, -np.inf)
            scores[self._eos] = 0.0
        return scores


def _end_when(cancelled: Callable[[], bool], eos: int):
    """A logits processor that makes end-of-text the only choice once
    `cancelled()` says so: the generation ends at the next token.
    (create_chat_completion takes no stopping criteria; the last logits
    processor decides, after the grammar's.)"""
    def end_when_cancelled(_input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if cancelled():
            scores = np.full_like(scores, -np.inf)
            scores[eos] = 0.0
        return scores
    return end_when_cancelled


def _exceeds_context_of(llama, n_ctx: int, messages: list[dict], max_tokens: int) -> bool:
    """Whether the chat's text alone (the chat template adds more) and the
    reply's tokens already exceed the context window: the request, not the
    model, is at fault (ProviderError kind "context": that hole fails)."""
    text = "\n".join(str(m.get("content", "")) for m in messages)
    try:
        tokens = len(llama.tokenize(text.encode("utf-8", "replace"), add_bos=False))
    except (ValueError, RuntimeError, TypeError):
        return False
    return tokens + max_tokens > n_ctx


def _common_prefix(before: Optional[np.ndarray], after: Optional[np.ndarray],
                   prompt_tokens: int) -> int:
    """How many of the prompt's tokens the previous request had already
    evaluated (the KV prefix llama.cpp kept), 0 when unknown."""
    if before is None or after is None or not len(before):
        return 0
    n = min(len(before), len(after), prompt_tokens)
    differs = np.flatnonzero(before[:n] != after[:n])
    return int(differs[0]) if len(differs) else n
