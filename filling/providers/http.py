"""HTTP plumbing shared by the hosted-model providers.

Takes a provider's request (URL, headers, JSON body) and gives back either the
decoded JSON reply (`HttpSession.post_json`) or the server-sent events of a
streamed reply (`HttpSession.post_events`). On the way it applies connect and
read timeouts, retries 408/409/429/5xx replies and connection failures with
exponential backoff and jitter (honouring `Retry-After`), and turns every
failure into a `ProviderError` whose message names the provider and URL and
never the API key. `HostedClient` is the base of the OpenAI and Anthropic
clients: configuration from arguments and the environment, and the request
and reply round trip they share.
"""
from __future__ import annotations

import os

import email.utils
import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping, Optional

import httpx

from .base import Completion, ProviderError

RETRYABLE_STATUS = frozenset({408, 409, 429})
USER_AGENT = "npl/0.1"
MAX_MESSAGE_CHARS = 300


@dataclass(frozen=True)
class HttpSettings:
    """How patiently to talk to a model server. `sleep` and `jitter` are
    injectable so tests need not wait."""
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    jitter: Callable[[], float] = field(default=random.random, compare=False)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (0-based): half the
        exponential step plus a random share of the other half."""
        step = min(self.backoff_max, self.backoff_base * (2 ** attempt))
        return step / 2 + step / 2 * self.jitter()


@dataclass(frozen=True)
class ServerEvent:
    """One server-sent event: its `event:` name ("" if none) and data."""
    event: str
    data: str


def redact_url(url: str) -> str:
    """The URL without any user:password part, for messages."""
    try:
        parsed = httpx.URL(url)
    except Exception:  # noqa: BLE001 - a bad URL is reported elsewhere
        return url
    if parsed.userinfo:
        parsed = parsed.copy_with(username=None, password=None)
    return str(parsed)


def retry_after_seconds(headers: httpx.Headers) -> Optional[float]:
    """The wait a server asks for: `retry-after-ms`, or `Retry-After` as
    seconds or an HTTP date. None when absent or unreadable."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# How servers say a prompt is longer than the model's context (OpenAI's
# code, Anthropic's, llama.cpp's and vLLM's messages).
CONTEXT_EXCEEDED = re.compile(r"context_length_exceeded|maximum context length|context window|"
                              r"prompt is too long|exceeds? (the )?(max(imum)? )?context",
                              re.IGNORECASE)


def server_message(body: str) -> str:
    """The human part of an error body: OpenAI/Anthropic `error.message`,
    FastAPI `detail`, Ollama `error`, else the raw text (shortened)."""
    text = body.strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            text = error["message"]
        elif isinstance(error, str):
            text = error
        elif isinstance(data.get("detail"), str):
            text = data["detail"]
        elif isinstance(data.get("message"), str):
            text = data["message"]
    text = " ".join(text.split())
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + "..."
    return text or "(empty body)"


class HttpSession:
    """One provider's connection pool plus its retry policy.

    `secrets` are strings (API keys) scrubbed from every error message;
    `auth_hint` is appended to authentication errors ("check OPENAI_API_KEY").
    Safe to share between the filler's threads.
    """

    def __init__(self, provider: str, settings: HttpSettings, *,
                 secrets: tuple[str, ...] = (), auth_hint: str = ""):
        self.provider = provider
        self.settings = settings
        self.secrets = tuple(s for s in secrets if s)
        self.auth_hint = auth_hint
        self._client: Optional[httpx.Client] = None
        self._lock = threading.Lock()

    # -- public -----------------------------------------------------------

    def post_json(self, url: str, headers: dict, body: dict) -> dict:
        """POST `body` and return the reply's JSON object."""
        response = self._open(url, headers, body)
        try:
            raw = response.read()
        except httpx.TimeoutException:
            raise self._timeout(url) from None
        except httpx.TransportError as exc:
            raise self.error("network", f"connection to {redact_url(url)} "
                             f"broke while reading the reply ({_reason(exc)})") from None
        finally:
            response.close()
        return self.decode_object(raw.decode("utf-8", "replace"), url)

    def post_events(self, url: str, headers: dict, body: dict) -> Iterator[ServerEvent]:
        """POST `body` and yield the reply's server-sent events as they come."""
        response = self._open(url, headers, body)
        try:
            yield from _parse_events(response.iter_lines())
        except httpx.TimeoutException:
            raise self._timeout(url) from None
        except httpx.TransportError as exc:
            raise self.error("network", f"stream from {redact_url(url)} broke "
                             f"off ({_reason(exc)})") from None
        finally:
            response.close()

    def decode_object(self, text: str, url: str) -> dict:
        """Parse a JSON object from a reply body, or raise `malformed`."""
        try:
            data = json.loads(text)
        except ValueError:
            raise self.error("malformed", f"{redact_url(url)} replied with text "
                             f"that is not JSON: {_snippet(text)!r}") from None
        if not isinstance(data, dict):
            raise self.error("malformed", f"{redact_url(url)} replied with JSON "
                             f"that is not an object: {_snippet(text)!r}")
        return data

    def error(self, kind: str, message: str) -> ProviderError:
        """A ProviderError for this provider, with secrets scrubbed."""
        for secret in self.secrets:
            message = message.replace(secret, "[redacted]")
        return ProviderError(self.provider, kind, message)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- sending with retries -----------------------------------------------

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                timeout = httpx.Timeout(self.settings.read_timeout,
                                        connect=self.settings.connect_timeout)
                self._client = httpx.Client(timeout=timeout)
            return self._client

    def _open(self, url: str, headers: dict, body: dict) -> httpx.Response:
        """Send until a 2xx reply (returned unread) or a final failure."""
        for attempt in range(self.settings.max_retries + 1):
            last_try = attempt == self.settings.max_retries
            wait = self._try_once(url, headers, body, attempt, last_try)
            if isinstance(wait, httpx.Response):
                return wait
            self.settings.sleep(wait)
        raise AssertionError("unreachable: the last try returns or raises")

    def _try_once(self, url: str, headers: dict, body: dict, attempt: int,
                  last_try: bool) -> httpx.Response | float:
        """One request: the open response, or how long to wait before the
        next try. Raises when the failure is final."""
        client = self._http()
        try:
            request = client.build_request("POST", url, headers=headers, json=body)
            response = client.send(request, stream=True)
        except httpx.ConnectTimeout:
            if last_try:
                raise self.error("timeout", f"could not connect to {redact_url(url)} "
                                 f"within {self.settings.connect_timeout:g}s") from None
            return self.settings.backoff(attempt)
        except httpx.TimeoutException:
            raise self._timeout(url) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise self.error("config", f"bad URL {redact_url(url)!r}: {exc}") from None
        except httpx.TransportError as exc:
            if last_try:
                raise self.error("network", f"could not reach {redact_url(url)} "
                                 f"({_reason(exc)})") from None
            return self.settings.backoff(attempt)
        if response.status_code < 300:
            return response
        return self._failed_status(response, url, attempt, last_try)

    def _failed_status(self, response: httpx.Response, url: str, attempt: int,
                       last_try: bool) -> float:
        try:
            text = response.read().decode("utf-8", "replace")
        except httpx.HTTPError:
            text = ""
        finally:
            response.close()
        status = response.status_code
        if 300 <= status < 400:
            target = response.headers.get("location", "elsewhere")
            raise self.error("config", f"HTTP {status} from {redact_url(url)}: the "
                             f"server redirects to {redact_url(target)}; check the base URL")
        if status in RETRYABLE_STATUS or status >= 500:
            asked = retry_after_seconds(response.headers)
            too_long = asked is not None and asked > self.settings.max_retry_after
            if not last_try and not too_long:
                return asked if asked is not None else self.settings.backoff(attempt)
            raise self._status_error(status, text, url, attempt, asked if too_long else None)
        raise self._status_error(status, text, url, attempt, None)

    def _status_error(self, status: int, text: str, url: str, attempt: int,
                      asked: Optional[float]) -> ProviderError:
        where = f"HTTP {status} from {redact_url(url)}"
        detail = server_message(text)
        tries = f" after {attempt + 1} tries" if attempt else ""
        if status in (401, 403):
            hint = f"; {self.auth_hint}" if self.auth_hint else ""
            return self.error("auth", f"{where}: {detail}{hint}")
        if status == 429:
            wait = f"; the server asks to wait {asked:.0f}s" if asked else ""
            return self.error("rate_limit", f"{where}{tries}: {detail}{wait}")
        if status >= 500 or status in RETRYABLE_STATUS:
            return self.error("server", f"{where}{tries}: {detail}")
        if status == 404:
            return self.error("config", f"{where}: {detail}; check the model name "
                              f"and the base URL")
        if status in (400, 413) and CONTEXT_EXCEEDED.search(text):
            return self.error("context", f"{where}: the prompt does not fit the model's "
                              f"context: {detail}")
        return self.error("config", f"{where}: the server refused the request: {detail}")

    def _timeout(self, url: str) -> ProviderError:
        return self.error("timeout", f"no reply from {redact_url(url)} within "
                          f"{self.settings.read_timeout:g}s (raise `timeout` in "
                          f"npl.toml for slow models)")


def token_count(value: object) -> int:
    """A usage field as a token count; anything but a natural number is 0
    (servers that do not count tokens leave the fields out or null)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return 0


def _parse_events(lines: Iterator[str]) -> Iterator[ServerEvent]:
    """Split an SSE stream into events (blank line ends one; `:` comments
    and unknown fields are skipped)."""
    event, data = "", []
    for line in lines:
        if not line:
            if data:
                yield ServerEvent(event, "\n".join(data))
            event, data = "", []
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
    if data:
        yield ServerEvent(event, "\n".join(data))


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def _snippet(text: str, limit: int = 120) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "..."


class HostedClient:
    """What every hosted-provider client shares: its name, base URL (the
    argument, then `BASE_URL_ENV`, then `DEFAULT_BASE_URL`), API key (the
    argument, then `api_key_env`), streaming, an HttpSession that scrubs the
    key from every message, and `complete`, which sends the body a subclass
    builds (`_headers`, `_body`) and reads its reply whole (`_read_reply`)
    or streamed (`_read_stream`) into text and token counts."""

    PROVIDER = ""
    BASE_URL_ENV = ""
    DEFAULT_BASE_URL = ""

    def __init__(self, model: str, *, base_url: Optional[str], api_key: Optional[str],
                 api_key_env: str, stream: bool, http: Optional[HttpSettings],
                 on_text: Optional[Callable[[str], None]], environ: Optional[Mapping[str, str]]):
        env = os.environ if environ is None else environ
        self.name = f"{self.PROVIDER}/{model}"
        self.model = model
        self.base_url = (base_url or env.get(self.BASE_URL_ENV) or self.DEFAULT_BASE_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else env.get(api_key_env, "")
        self.api_key_env = api_key_env
        self.stream = stream
        self.on_text = on_text
        self.session = HttpSession(self.name, http or HttpSettings(), secrets=(self.api_key,),
                                   auth_hint=f"check {api_key_env}")

    @property
    def url(self) -> str:
        raise NotImplementedError

    def complete(self, messages: list[dict], *, max_tokens: int = 1024,
                 temperature: float = 0.0, stop: Optional[list[str]] = None,
                 grammar: Optional[str] = None, seed: Optional[int] = None,
                 json_schema: Optional[dict] = None, prefix: str = "") -> Completion:
        """`json_schema`: ask for a reply that is a JSON text of this schema
        (structured output; oracles, filling/oracles.py): the reply's text is
        then that JSON. Such a request is never streamed. `prefix` is ignored:
        not every hosted model may be given the start of its reply."""
        headers = self._headers()
        body = self._body(messages, max_tokens, temperature, stop, grammar, seed)
        if json_schema is not None:
            body.pop("stream", None)
            body.pop("stream_options", None)
            body.update(self._schema_fields(json_schema))
        started = time.monotonic()
        if self.stream and json_schema is None:
            text, prompt_tokens, completion_tokens = self._read_stream(headers, body)
        else:
            reply = self.session.post_json(self.url, headers, body)
            text, prompt_tokens, completion_tokens = self._read_reply(reply)
        return Completion(text=text, model=self.name, prompt_tokens=prompt_tokens,
                          completion_tokens=completion_tokens,
                          seconds=time.monotonic() - started)

    def close(self) -> None:
        self.session.close()

    def _headers(self) -> dict:
        raise NotImplementedError

    def _schema_fields(self, schema: dict) -> dict:
        """The request fields that ask for a reply of JSON `schema`."""
        raise NotImplementedError

    def _body(self, messages: list[dict], max_tokens: int, temperature: float,
              stop: Optional[list[str]], grammar: Optional[str], seed: Optional[int]) -> dict:
        raise NotImplementedError

    def _read_reply(self, reply: dict) -> tuple[str, int, int]:
        raise NotImplementedError

    def _read_stream(self, headers: dict, body: dict) -> tuple[str, int, int]:
        raise NotImplementedError

    def _malformed(self, what: str, reply: dict) -> ProviderError:
        return self.session.error("malformed", f"the reply from {redact_url(self.url)} "
                                  f"{what}: {json.dumps(reply)[:200]}")
