"""`anthropic/NAME`: Anthropic's Messages API.

Takes a chat (list of {"role", "content"}) and gives back one `Completion`
from POST {base}/v1/messages. System messages move to the top-level `system`
field, consecutive turns of one role are merged, the reply's text blocks are
joined, and usage input/output tokens are read (cache reads and writes count
as input). The key comes from ANTHROPIC_API_KEY (x-api-key header), the base
URL from the `base_url` setting, else ANTHROPIC_BASE_URL, else
https://api.anthropic.com. With `stream=True` the reply is read as
server-sent events.
"""
from __future__ import annotations

import json
from contextlib import closing
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

from .base import ProviderError
from .http import USER_AGENT, HostedClient, HttpSettings, redact_url, token_count

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
CHAT_ROLES = ("user", "assistant")


class AnthropicProvider(HostedClient):
    """A Provider for one Anthropic model. Grammars are not supported by the
    API and are ignored. `on_text` receives each piece of a streamed reply."""

    PROVIDER = "anthropic"
    BASE_URL_ENV = "ANTHROPIC_BASE_URL"
    DEFAULT_BASE_URL = DEFAULT_BASE_URL

    def __init__(self, model: str, *, base_url: Optional[str] = None,
                 api_key: Optional[str] = None, api_key_env: str = "ANTHROPIC_API_KEY",
                 stream: bool = False, http: Optional[HttpSettings] = None,
                 on_text: Optional[Callable[[str], None]] = None,
                 environ: Optional[Mapping[str, str]] = None):
        super().__init__(model, base_url=base_url, api_key=api_key, api_key_env=api_key_env,
                         stream=stream, http=http, on_text=on_text, environ=environ)

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1/messages"

    # -- request -----------------------------------------------------------

    def _headers(self) -> dict:
        if not self.api_key and self.base_url == DEFAULT_BASE_URL:
            raise ProviderError(self.name, "auth", f"no API key for {DEFAULT_BASE_URL}: "
                                f"set {self.api_key_env}")
        headers = {"content-type": "application/json", "user-agent": USER_AGENT,
                   "anthropic-version": API_VERSION}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        return headers

    def _body(self, messages: list[dict], max_tokens: int, temperature: float,
              stop: Optional[list[str]], grammar: Optional[str], seed: Optional[int]) -> dict:
        # the Messages API takes neither a grammar nor a seed
        system, chat = split_system(messages)
        body: dict = {"model": self.model, "messages": chat,
                      "max_tokens": max_tokens, "temperature": temperature}
        if system:
            body["system"] = system
        if stop:
            body["stop_sequences"] = list(stop)
        if self.stream:
            body["stream"] = True
        return body

    def _schema_fields(self, schema: dict) -> dict:
        # structured output through a tool whose input is the answer
        return {"tools": [{"name": "answer", "description": "Give the value asked for.",
                           "input_schema": schema}],
                "tool_choice": {"type": "tool", "name": "answer"}}

    # -- replies -------------------------------------------------------------

    def _read_reply(self, reply: dict) -> tuple[str, int, int]:
        blocks = reply.get("content")
        if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
            raise self._malformed("has no list of content blocks", reply)
        texts = [b.get("text") for b in blocks if b.get("type") == "text"]
        if not all(isinstance(t, str) for t in texts):
            raise self._malformed("has a text block without text", reply)
        tools = [b.get("input") for b in blocks
                 if b.get("type") == "tool_use" and b.get("name") == "answer" and "input" in b]
        if tools:                         # a structured answer (the `answer` tool's input)
            texts = [json.dumps(tools[0])]
        prompt_tokens, completion_tokens = _usage(reply.get("usage"))
        return "".join(texts), prompt_tokens, completion_tokens

    def _read_stream(self, headers: dict, body: dict) -> tuple[str, int, int]:
        state = _StreamState()
        with closing(self.session.post_events(self.url, headers, body)) as events:
            for event in events:
                data = self.session.decode_object(event.data, self.url)
                if self._take_event(data.get("type", event.event), data, state):
                    break
            else:
                raise self.session.error("malformed", f"the stream from {redact_url(self.url)} "
                                         f"ended before message_stop")
        return "".join(state.pieces), state.prompt_tokens, state.completion_tokens

    def _take_event(self, kind: str, data: dict, state: "_StreamState") -> bool:
        """Fold one stream event into `state`; True at message_stop."""
        if kind == "error":
            raise self.session.error("server", f"{redact_url(self.url)} reported an "
                                     f"error mid-stream: {_error_text(data.get('error'))}")
        if kind == "message_start" and isinstance(data.get("message"), dict):
            state.prompt_tokens, state.completion_tokens = _usage(data["message"].get("usage"))
        elif kind == "content_block_delta":
            piece = _delta_text(data.get("delta"))
            if piece:
                state.pieces.append(piece)
                if self.on_text:
                    self.on_text(piece)
        elif kind == "message_delta" and isinstance(data.get("usage"), dict):
            state.completion_tokens = (token_count(data["usage"].get("output_tokens"))
                                       or state.completion_tokens)
        return kind == "message_stop"


@dataclass
class _StreamState:
    pieces: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0


def split_system(messages: list[dict]) -> tuple[str, list[dict]]:
    """Move system messages out of the chat (joined by blank lines) and merge
    consecutive turns of one role, as the Messages API wants."""
    system: list[str] = []
    chat: list[dict] = []
    for message in messages:
        role, content = message["role"], message["content"]
        if role == "system":
            system.append(content)
        elif role not in CHAT_ROLES:
            raise ValueError(f"unknown chat role {role!r}; expected system, user or assistant")
        elif chat and chat[-1]["role"] == role:
            chat[-1]["content"] += "\n\n" + content
        else:
            chat.append({"role": role, "content": content})
    if not chat:
        raise ValueError("the chat has no user message")
    return "\n\n".join(system), chat


def _usage(usage: object) -> tuple[int, int]:
    if not isinstance(usage, dict):
        return 0, 0
    prompt = sum(token_count(usage.get(key)) for key in
                 ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
    return prompt, token_count(usage.get("output_tokens"))


def _delta_text(delta: object) -> Optional[str]:
    if isinstance(delta, dict) and delta.get("type") == "text_delta":
        text = delta.get("text")
        return text if isinstance(text, str) else None
    return None


def _error_text(error: object) -> str:
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    return str(error)[:200]
