"""The interface every model provider implements.

A provider takes a chat (a list of {"role", "content"} messages) and returns
one `Completion`. Providers are synchronous; the filler runs several in
threads for concurrency. Every failure is a `ProviderError` naming the
provider and the kind of failure, so the CLI can report it clearly and leave
the program and lock untouched.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol

from npl.lang.errors import ProviderKind


@dataclass(frozen=True)
class Completion:
    text: str
    model: str                       # full spec, e.g. "openai/gpt-4o-mini"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    stopped: str = ""                # why the provider ended the reply early ("" if it did not)


class ProviderError(ProviderKind):
    """A model provider failed (exit status 1). `kind` refines ProviderKind's
    "provider" per instance: auth, network, timeout, rate_limit, server,
    malformed, config, model_file, crash (the local model's worker process
    died: a native crash, an out-of-memory kill), context (the prompt does
    not fit the model's context window)."""

    def __init__(self, provider: str, kind: str, message: str):
        self.provider = provider
        self.kind = kind
        self.message = message
        super().__init__(f"{provider}: {kind}: {message}")


class Provider(Protocol):
    name: str                        # the spec it was made from, "openai/NAME"

    def complete(self, messages: list[dict], *, max_tokens: int = 1024,
                 temperature: float = 0.0, stop: Optional[list[str]] = None,
                 grammar: Optional[str] = None, seed: Optional[int] = None,
                 prefix: str = "") -> Completion:
        """Send the chat and return the model's reply. `grammar` is a GBNF
        grammar that constrains decoding; providers that cannot use one
        ignore it. `seed` picks the random stream of a sampled reply
        (temperature > 0), where the provider supports one. `prefix` is how
        the reply should start (a fill's `def` line and docstring): a
        provider that can, the local model, writes it into the model's turn
        and decodes only the rest, and the reply's text starts with it;
        the others ignore it (the request asks for the same start)."""
        ...
