"""A scripted fake LLM server for tests: OpenAI chat completions (whole and
streamed) and Anthropic messages (whole and streamed) on 127.0.0.1.

Takes a script of `Step`s (a reply text with token usage, an HTTP error with
body and headers, a malformed body, a delay, a hang-up, or a callable that
looks at the request and answers) and gives back, per request, the next
step's answer; when the script runs out it answers with `default`, or a 400
saying the script is exhausted. Every request (path, headers, JSON body) is
recorded for assertions.

In a test:

    with FakeLLMServer([reply("return 1"), error(429, retry_after=0)]) as server:
        provider = OpenAIProvider("m", base_url=server.base_url, api_key="k")

As a process, for CLI end-to-end tests (prints the OpenAI base URL on its
first line of output; stops on SIGTERM or SIGINT):

    python tests/fakellm.py --port 0 --script script.json [--record reqs.jsonl]

script.json is a list of steps, or {"steps": [...], "rules": [...],
"default": step}. A step is {"text": ..., "prompt_tokens": N,
"completion_tokens": N, "delay": S} or {"status": 429, "message": ...,
"retry_after": S} or {"malformed": "raw body"} or {"hang_up": true}. A rule
is a step plus "contains": a string (or list of strings) that must all occur
in the prompt; rules answer once the steps are used up, first match wins.
"""
from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Union

HOST = "127.0.0.1"
OPENAI_PATHS = ("/v1/chat/completions", "/chat/completions")
ANTHROPIC_PATHS = ("/v1/messages",)


@dataclass(frozen=True)
class Step:
    """One scripted answer. With `body` (or a status other than 200) the
    server sends that body as is; otherwise it sends `text`, or what
    `respond(request_json)` returns (a text or another Step), shaped for the
    API that was called."""
    text: Optional[str] = None
    respond: Optional[Callable[[dict], Union[str, "Step"]]] = None
    prompt_tokens: int = 12
    completion_tokens: Optional[int] = None      # default: words in the text
    status: int = 200
    body: Union[str, dict, list, None] = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    hang_up: bool = False


def reply(text: str, *, prompt_tokens: int = 12, completion_tokens: Optional[int] = None,
          delay: float = 0.0) -> Step:
    return Step(text=text, prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens, delay=delay)


def dynamic(respond: Callable[[dict], Union[str, Step]]) -> Step:
    """A step answered by `respond(request_json)`; as `default` it answers
    every request after the script."""
    return Step(respond=respond)


def error(status: int, message: Optional[str] = None, *, retry_after: Optional[float] = None,
          headers: Optional[dict] = None) -> Step:
    """An HTTP error with an API-shaped body ({"error": {"message": ...}})."""
    extra = dict(headers or {})
    if retry_after is not None:
        extra["Retry-After"] = f"{retry_after:g}"
    return Step(status=status, headers=extra,
                body={"error": {"message": message or f"fake error {status}",
                                "type": "fake_error"}})


def malformed(body: Union[str, dict, list] = '{"choices": [', status: int = 200) -> Step:
    """A reply body that is not what the API promises (bad JSON or shape)."""
    return Step(status=status, body=body)


def hang_up() -> Step:
    """Close the connection without answering."""
    return Step(hang_up=True)


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict                    # lower-case names
    json: Optional[Any]              # the decoded body, None if not JSON
    raw: bytes


def prompt_text(request_json: dict) -> str:
    """All the text of a chat request (Anthropic `system` included), for
    dynamic steps that answer by what the prompt is about."""
    parts = [request_json.get("system") or ""]
    for message in request_json.get("messages") or []:
        content = message.get("content")
        parts.append(content if isinstance(content, str) else json.dumps(content))
    return "\n".join(p for p in parts if p)


class FakeLLMServer:
    """A threaded HTTP server on 127.0.0.1 answering from a script."""

    def __init__(self, script: Iterable[Union[Step, str]] = (), *,
                 default: Union[Step, str, None] = None, port: int = 0,
                 max_requests: int = 1000, chunk_size: int = 8):
        self._steps = deque(_as_step(s) for s in script)
        self.default = _as_step(default) if default is not None else None
        self.max_requests = max_requests
        self.chunk_size = chunk_size
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd = _Server((HOST, port), _Handler)
        self._httpd.fake = self
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> "FakeLLMServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="fakellm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> "FakeLLMServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses and records ---------------------------------------------------

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (what OPENAI_BASE_URL should be)."""
        return f"http://{HOST}:{self.port}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def pending(self) -> int:
        """Scripted steps not yet used."""
        with self._lock:
            return len(self._steps)

    def add(self, *steps: Union[Step, str]) -> None:
        with self._lock:
            self._steps.extend(_as_step(s) for s in steps)

    def next_step(self, request: RecordedRequest) -> Step:
        """Record the request and choose its answer."""
        with self._lock:
            self._requests.append(request)
            if len(self._requests) > self.max_requests:
                return error(400, f"fakellm: more than {self.max_requests} requests")
            if self._steps:
                return self._steps.popleft()
        if self.default is not None:
            return self.default
        return error(400, f"fakellm: script exhausted after {len(self._requests) - 1} replies")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeLLMServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10                     # drop idle kept-alive connections
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        self._send_json(404, {"error": {"message": f"fakellm: no GET {self.path}"}})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        request = RecordedRequest(self.path, {k.lower(): v for k, v in self.headers.items()},
                                  body, raw)
        api = ("openai" if self.path in OPENAI_PATHS
               else "anthropic" if self.path in ANTHROPIC_PATHS else None)
        if api is None:
            self._send_json(404, {"error": {"message": f"fakellm: no endpoint {self.path}"}})
            return
        step = self.server.fake.next_step(request)
        body = body if isinstance(body, dict) else {}
        if step.respond is not None:
            step = _resolve(step, body)
        self._answer(step, api, body)

    def _answer(self, step: Step, api: str, body: dict) -> None:
        if step.delay and self.server.fake.stopping.wait(step.delay):
            return
        if step.hang_up:
            self.close_connection = True
            return
        if step.body is not None or step.status != 200:
            self._send_raw(step.status, step.body, step.headers)
            return
        text = _apply_stop(step.text or "", body.get("stop") or body.get("stop_sequences"))
        usage = (step.prompt_tokens, step.completion_tokens
                 if step.completion_tokens is not None else max(1, len(text.split())))
        if body.get("stream"):
            size = self.server.fake.chunk_size
            events = (_openai_events(text, usage, body, size) if api == "openai"
                      else _anthropic_events(text, usage, body, size))
            self._send_stream(events)
        elif api == "openai":
            self._send_json(200, _openai_reply(text, usage, body))
        else:
            self._send_json(200, _anthropic_reply(text, usage, body))

    def _send_raw(self, status: int, body: Union[str, dict, list, None], headers: dict) -> None:
        data = (body if isinstance(body, str) else json.dumps(body or {})).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_json(self, status: int, payload: dict) -> None:
        self._send_raw(status, payload, {})

    def _send_stream(self, events: Iterable[str]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True
        for event in events:
            self.wfile.write(event.encode())
            self.wfile.flush()


def _resolve(step: Step, body: dict) -> Step:
    """The answer of a dynamic step; a failing callable answers 400 with the
    exception, so the test sees it in the client's error."""
    try:
        answer = step.respond(body)
    except Exception as exc:  # noqa: BLE001 - reported to the client
        return error(400, f"fakellm: the dynamic step raised {exc!r}")
    return answer if isinstance(answer, Step) else replace(step, respond=None, text=answer)


def _apply_stop(text: str, stop: Union[str, list, None]) -> str:
    sequences = [stop] if isinstance(stop, str) else list(stop or [])
    cuts = [text.find(s) for s in sequences if s and s in text]
    return text[:min(cuts)] if cuts else text


def _openai_reply(text: str, usage: tuple[int, int], body: dict) -> dict:
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                      "total_tokens": sum(usage)}}


def _openai_events(text: str, usage: tuple[int, int], body: dict, size: int) -> Iterable[str]:
    def chunk(delta: dict, finish: Optional[str]) -> str:
        payload = {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                   "model": body.get("model", "fake"),
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(payload)}\n\n"
    yield chunk({"role": "assistant", "content": ""}, None)
    for start in range(0, len(text), size):
        yield chunk({"content": text[start:start + size]}, None)
    yield chunk({}, "stop")
    if (body.get("stream_options") or {}).get("include_usage"):
        payload = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [],
                   "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                             "total_tokens": sum(usage)}}
        yield f"data: {json.dumps(payload)}\n\n"
    yield "data: [DONE]\n\n"


def _anthropic_reply(text: str, usage: tuple[int, int], body: dict) -> dict:
    return {"id": "msg_fake", "type": "message", "role": "assistant",
            "model": body.get("model", "fake"), "stop_reason": "end_turn",
            "content": [{"type": "text", "text": text}],
            "usage": {"input_tokens": usage[0], "output_tokens": usage[1]}}


def _anthropic_events(text: str, usage: tuple[int, int], body: dict, size: int) -> Iterable[str]:
    def event(name: str, payload: dict) -> str:
        return f"event: {name}\ndata: {json.dumps({'type': name, **payload})}\n\n"
    message = {"id": "msg_fake", "type": "message", "role": "assistant", "content": [],
               "model": body.get("model", "fake"),
               "usage": {"input_tokens": usage[0], "output_tokens": 1}}
    yield event("message_start", {"message": message})
    yield event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
    yield event("ping", {})
    for start in range(0, len(text), size):
        delta = {"type": "text_delta", "text": text[start:start + size]}
        yield event("content_block_delta", {"index": 0, "delta": delta})
    yield event("content_block_stop", {"index": 0})
    yield event("message_delta", {"delta": {"stop_reason": "end_turn"},
                                  "usage": {"output_tokens": usage[1]}})
    yield event("message_stop", {})


def _as_step(step: Union[Step, str]) -> Step:
    return step if isinstance(step, Step) else reply(step)


# -- scripts from JSON (the standalone process) -----------------------------------

def step_from_json(data: dict) -> Step:
    """A Step from its JSON form (see the module docstring)."""
    if "malformed" in data:
        return malformed(data["malformed"], status=data.get("status", 200))
    if data.get("hang_up"):
        return hang_up()
    if data.get("status", 200) != 200:
        return replace(error(data["status"], data.get("message"),
                             retry_after=data.get("retry_after"),
                             headers=data.get("headers")), delay=data.get("delay", 0.0))
    if not isinstance(data.get("text"), str):
        raise ValueError(f"fakellm: a step needs text, status, malformed or hang_up: {data}")
    return reply(data["text"], prompt_tokens=data.get("prompt_tokens", 12),
                 completion_tokens=data.get("completion_tokens"), delay=data.get("delay", 0.0))


def rules_step(rules: list[dict], fallback: Optional[Step]) -> Step:
    """A dynamic step answering with the first rule whose `contains` strings
    all occur in the prompt."""
    compiled = []
    for rule in rules:
        needles = rule["contains"]
        needles = [needles] if isinstance(needles, str) else list(needles)
        compiled.append((needles, step_from_json({k: v for k, v in rule.items()
                                                  if k != "contains"})))

    def respond(request_json: dict) -> Step:
        prompt = prompt_text(request_json)
        for needles, step in compiled:
            if all(needle in prompt for needle in needles):
                return step
        return fallback or error(400, "fakellm: no rule matches this prompt")
    return dynamic(respond)


def load_script(path: Path) -> tuple[list[Step], Optional[Step]]:
    """(steps, default) from a script file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, list):
        return [step_from_json(s) for s in data], None
    steps = [step_from_json(s) for s in data.get("steps", [])]
    default = step_from_json(data["default"]) if "default" in data else None
    if data.get("rules"):
        default = rules_step(data["rules"], default)
    return steps, default


class _RecordingServer(FakeLLMServer):
    """Appends each request to a JSON-lines file as it arrives."""

    def __init__(self, record: Path, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.record = record
        self._record_lock = threading.Lock()

    def next_step(self, request: RecordedRequest) -> Step:
        with self._record_lock, self.record.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"path": request.path, "headers": request.headers,
                                  "json": request.json}) + "\n")
        return super().next_step(request)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Scripted fake LLM server (tests only).")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--script", type=Path, required=True, help="JSON script file")
    parser.add_argument("--record", type=Path, help="append requests to this JSON-lines file")
    parser.add_argument("--max-requests", type=int, default=1000)
    args = parser.parse_args(argv)
    try:
        steps, default = load_script(args.script)
    except (OSError, ValueError, KeyError) as exc:
        parser.error(f"cannot use script {args.script}: {exc}")
    options = {"default": default, "port": args.port, "max_requests": args.max_requests}
    server = (_RecordingServer(args.record, steps, **options) if args.record
              else FakeLLMServer(steps, **options))
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    with server:
        print(server.base_url, flush=True)
        done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
