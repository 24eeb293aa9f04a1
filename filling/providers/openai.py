"""`openai/NAME`: any OpenAI-compatible chat-completions endpoint.

Takes a chat (list of {"role", "content"}) and gives back one `Completion`
from POST {base}/chat/completions: OpenAI itself, or vLLM, Ollama, llama.cpp
server, LM Studio and the like. The base URL comes from the `base_url`
setting, else OPENAI_BASE_URL, else https://api.openai.com/v1; the key from
OPENAI_API_KEY (sent as a Bearer token; local servers need none). Replies are
read whole or, with `stream=True`, as server-sent events with usage from the
final chunk.
"""
from __future__ import annotations

import json
from contextlib import closing
from typing import Callable, Iterator, Mapping, Optional

from .base import ProviderError
from .http import USER_AGENT, HostedClient, HttpSettings, ServerEvent, redact_url, token_count

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DONE: dict = {}          # marks the `data: [DONE]` line of a stream


class OpenAIProvider(HostedClient):
    """A Provider for one model behind an OpenAI-compatible server.

    `grammar_field` names the request field that carries a GBNF grammar on
    servers that accept one ("grammar" for llama.cpp server, "guided_grammar"
    for vLLM); without it the grammar is not sent. `on_text` receives each
    piece of a streamed reply as it arrives.
    """

    PROVIDER = "openai"
    BASE_URL_ENV = "OPENAI_BASE_URL"
    DEFAULT_BASE_URL = DEFAULT_BASE_URL

    def __init__(self, model: str, *, base_url: Optional[str] = None,
                 api_key: Optional[str] = None, api_key_env: str = "OPENAI_API_KEY",
                 stream: bool = False, grammar_field: Optional[str] = None,
                 http: Optional[HttpSettings] = None,
                 on_text: Optional[Callable[[str], None]] = None,
                 environ: Optional[Mapping[str, str]] = None):
        super().__init__(model, base_url=base_url, api_key=api_key, api_key_env=api_key_env,
                         stream=stream, http=http, on_text=on_text, environ=environ)
        self.grammar_field = grammar_field

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    # -- request -----------------------------------------------------------

    def _headers(self) -> dict:
        headers = {"content-type": "application/json", "user-agent": USER_AGENT}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        elif self.base_url == DEFAULT_BASE_URL:
            raise ProviderError(self.name, "auth", f"no API key for {DEFAULT_BASE_URL}: "
                                f"set {self.api_key_env}, or set OPENAI_BASE_URL to "
                                f"a local OpenAI-compatible server")
        return headers

    def _body(self, messages: list[dict], max_tokens: int, temperature: float,
              stop: Optional[list[str]], grammar: Optional[str], seed: Optional[int]) -> dict:
        body = {"model": self.model,
                "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
                "temperature": temperature, "max_tokens": max_tokens}
        if stop:
            body["stop"] = list(stop)
        if grammar and self.grammar_field:
            body[self.grammar_field] = grammar
        if seed is not None:
            body["seed"] = seed
        if self.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def _schema_fields(self, schema: dict) -> dict:
        # strict mode takes a subset of JSON schema (no prefixItems: tuples)
        strict = "prefixItems" not in json.dumps(schema)
        return {"response_format": {"type": "json_schema", "json_schema": {
            "name": "answer", "schema": schema, "strict": strict}}}

    # -- whole replies ---------------------------------------------------------

    def _read_reply(self, reply: dict) -> tuple[str, int, int]:
        choices = reply.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self._malformed("has no choices", reply)
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise self._malformed("has no choices[0].message", reply)
        text = _content_text(message.get("content"))
        if text is None:
            refusal = message.get("refusal")
            if isinstance(refusal, str) and refusal:
                return refusal, *_usage(reply)
            raise self._malformed("has no text in choices[0].message.content", reply)
        return text, *_usage(reply)

    # -- streamed replies --------------------------------------------------------

    def _read_stream(self, headers: dict, body: dict) -> tuple[str, int, int]:
        pieces: list[str] = []
        usage = (0, 0)
        finished = False
        with closing(self.session.post_events(self.url, headers, body)) as events:
            for chunk in self._chunks(events):
                if chunk is DONE:
                    finished = True
                    break
                if isinstance(chunk.get("usage"), dict):
                    usage = _usage(chunk)
                finished = self._take_choices(chunk, pieces) or finished
        if not finished:
            raise self.session.error("malformed", f"the stream from {redact_url(self.url)} "
                                     f"ended before the reply was complete")
        return "".join(pieces), *usage

    def _take_choices(self, chunk: dict, pieces: list[str]) -> bool:
        """Append the chunk's text to `pieces`; True if it ends the reply."""
        finished = False
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict):
                raise self._malformed("sent a chunk whose choice is not an object", chunk)
            delta = choice.get("delta")
            piece = _content_text(delta.get("content")) if isinstance(delta, dict) else None
            if piece:
                pieces.append(piece)
                if self.on_text:
                    self.on_text(piece)
            finished = finished or bool(choice.get("finish_reason"))
        return finished

    def _chunks(self, events: Iterator[ServerEvent]) -> Iterator[dict]:
        for event in events:
            if event.data.strip() == "[DONE]":
                yield DONE
                return
            chunk = self.session.decode_object(event.data, self.url)
            if "error" in chunk:
                raise self.session.error("server", f"{redact_url(self.url)} reported an "
                                         f"error mid-stream: {_error_text(chunk['error'])}")
            yield chunk


def _content_text(content: object) -> Optional[str]:
    """Message content as text: a string, or the text parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        if all(isinstance(p, str) for p in parts) and parts:
            return "".join(parts)
    return None


def _usage(reply: dict) -> tuple[int, int]:
    usage = reply.get("usage")
    if not isinstance(usage, dict):
        return 0, 0
    return token_count(usage.get("prompt_tokens")), token_count(usage.get("completion_tokens"))


def _error_text(error: object) -> str:
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    return str(error)[:200]
