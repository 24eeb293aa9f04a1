"""The local model's worker process: the model runs here, not in `npl`.

Started by worker_client.py as

    python -m npl.filling.providers.worker --socket PATH --model FILE.gguf
        --threads N --n-ctx N --repack auto|on|off [--idle SECONDS]
        [--parent PID]

it loads the engine (llama_engine.LlamaEngine, or the class that
NPL_LOCAL_ENGINE names as "module:Class", which is how tests put a fake
model in its place), listens on the Unix socket PATH, and reports on stdout
one JSON line: {"ready": true, "hello": {...}} or {"ready": false, "kind":
..., "message": ...}. Then it serves requests until it is told to stop, its
parent (with --parent) is gone, or no request came for --idle seconds.

The protocol is one JSON object per line, one request per connection:

    client: {"op": "complete", "messages": [...], "max_tokens": N,
             "temperature": T, "stop": [...], "grammar": "..." | null,
             "seed": N, "keep_alive": S, "stop_repeats": true | false,
             "prefix": "the reply's start"}
            {"op": "hello"}   {"op": "stop"}
    worker: {"event": "started"}          when it begins the request
            {"ok": true, "result": {...}} or {"ok": false, "kind": ..., "message": ...}

A generation stops early when nobody will read its answer: its client
closed the connection (killed, or gone at its deadline) or, with --parent,
the parent died (class Cancel, asked by the engine after every token).

"started" lets a client that queued behind another (several `npl`
commands share one worker) start its deadline when its own request starts.
Requests are served one at a time, which is what a llama.cpp context
allows. A native crash (SIGSEGV, abort) kills only this process:
faulthandler writes the Python stack to stderr, which the client has sent
to a log file and reads to say what happened.
"""
from __future__ import annotations

import argparse
import contextlib
import faulthandler
import importlib
import json
import os
import select
import shutil
import socket
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

from .base import ProviderError

ENGINE_ENV = "NPL_LOCAL_ENGINE"
MAX_MESSAGE = 64 * 1024 * 1024          # bytes in one protocol line
POLL_S = 0.5                             # how often an idle worker looks around


# ------------------------------------------------------------ protocol

def send(sock: socket.socket, message: dict) -> None:
    """Write one protocol message (a JSON line)."""
    sock.sendall(json.dumps(message).encode("utf-8") + b"\n")


class LineReader:
    """Reads protocol messages from a socket, each within a deadline."""

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._buffer = b""

    def read(self, deadline: Optional[float]) -> Optional[dict]:
        """The next message; None when the other side closed the connection.
        Raises TimeoutError once time.monotonic() passes `deadline`, and
        ConnectionError (or ValueError for a malformed line) when it broke."""
        while b"\n" not in self._buffer:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no answer before the deadline")
                self._sock.settimeout(left)
            else:
                self._sock.settimeout(None)
            try:
                chunk = self._sock.recv(1 << 16)
            except socket.timeout:
                raise TimeoutError("no answer before the deadline") from None
            if not chunk:
                return None
            self._buffer += chunk
            if len(self._buffer) > MAX_MESSAGE:
                raise ValueError("protocol message too long")
        line, self._buffer = self._buffer.split(b"\n", 1)
        message = json.loads(line)
        if not isinstance(message, dict):
            raise ValueError("protocol message is not an object")
        return message


# ------------------------------------------------------------ the engine

def load_engine(model: str, threads: int, n_ctx: int, repack: str) -> Any:
    """The engine named by NPL_LOCAL_ENGINE ("module:Class"), else llama.cpp's."""
    named = os.environ.get(ENGINE_ENV, "").strip()
    if named:
        module_name, _, class_name = named.partition(":")
        try:
            engine_class = getattr(importlib.import_module(module_name), class_name or "Engine")
        except (ImportError, AttributeError) as exc:
            raise ProviderError("local", "config", f"{ENGINE_ENV}={named!r} names no engine "
                                f"class ({exc})") from None
    else:
        from .llama_engine import LlamaEngine as engine_class
    return engine_class(model, threads, n_ctx, repack)


# ------------------------------------------------------------ serving

class Worker:
    """The serving loop around one engine."""

    def __init__(self, engine: Any, listener: socket.socket, idle: Optional[float],
                 parent: Optional[int]):
        self.engine = engine
        self.listener = listener
        self.idle = idle
        self.parent = parent
        self.hello = {"pid": os.getpid(), **engine.describe()}
        self.stopping = False

    def serve(self) -> None:
        """Answer connections until stopped, orphaned or idle too long."""
        self.listener.settimeout(POLL_S)
        last = time.monotonic()
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                if self.orphaned() or (self.idle is not None
                                        and time.monotonic() - last > self.idle):
                    return
                continue
            with conn:
                conn.settimeout(None)
                self._answer(conn)
            last = time.monotonic()

    def orphaned(self) -> bool:
        return self.parent is not None and os.getppid() != self.parent

    def _answer(self, conn: socket.socket) -> None:
        try:
            request = LineReader(conn).read(time.monotonic() + 30.0)
            if request is None:
                return
            send(conn, {"event": "started"})
            send(conn, self._result(request, Cancel(conn, self.orphaned)))
        except (OSError, ValueError, TimeoutError):
            return                      # the client went away or spoke nonsense

    def _result(self, request: dict, cancelled: Callable[[], bool]) -> dict:
        op = request.get("op")
        if isinstance(request.get("keep_alive"), (int, float)) and self.idle is not None:
            self.idle = max(0.0, float(request["keep_alive"]))
        if op == "hello":
            return {"ok": True, "result": self.hello}
        if op == "stop":
            self.stopping = True
            return {"ok": True, "result": {}}
        if op != "complete":
            return {"ok": False, "kind": "malformed", "message": f"unknown request {op!r}"}
        started = time.perf_counter()
        try:
            result = self.engine.complete(request, cancelled)
        except ProviderError as err:
            return {"ok": False, "kind": err.kind, "message": err.message}
        except Exception as exc:        # noqa: BLE001 -- reported, the worker goes on
            return {"ok": False, "kind": "server",
                    "message": f"the local model failed: {type(exc).__name__}: {exc}"}
        if cancelled():
            return {"ok": False, "kind": "cancelled", "message": "nobody waits for this answer"}
        return {"ok": True, "result": {**result, "seconds": time.perf_counter() - started}}


class Cancel:
    """Whether a generation should stop: its client closed the connection
    (it died, or gave up at its deadline) or the worker's parent is gone.
    The engine asks after every token; the socket and the parent are
    looked at no more often than every CHECK_S seconds."""

    CHECK_S = 0.2

    def __init__(self, conn: socket.socket, orphaned: Callable[[], bool]):
        self.conn = conn
        self.orphaned = orphaned
        self.next_check = time.monotonic() + self.CHECK_S
        self.cancelled = False

    def __call__(self) -> bool:
        if self.cancelled or time.monotonic() < self.next_check:
            return self.cancelled
        self.next_check = time.monotonic() + self.CHECK_S
        self.cancelled = self.orphaned() or _closed(self.conn)
        return self.cancelled


def _closed(conn: socket.socket) -> bool:
    """The peer closed (or reset) the connection: a read would say end of
    file. Never blocks (the socket may have a timeout set)."""
    try:
        readable, _, _ = select.select([conn], [], [], 0)
        return bool(readable) and conn.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def _parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="npl-model-worker")
    parser.add_argument("--socket", required=True, type=Path)
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-ctx", type=int, default=8192)
    parser.add_argument("--repack", choices=("auto", "on", "off"), default="auto")
    parser.add_argument("--repack-reason", default="")
    parser.add_argument("--idle", type=float, default=None)
    parser.add_argument("--parent", type=int, default=None)
    parser.add_argument("--private-dir", type=Path, default=None)
    return parser.parse_args(argv)


def _report(message: dict) -> None:
    """The one line on stdout the starting client waits for; stdout is
    then pointed at /dev/null, so a client that has gone cannot break it."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def main(argv: Optional[list[str]] = None) -> int:
    args = _parse_args(argv)
    faulthandler.enable(file=sys.stderr, all_threads=True)
    try:
        engine = load_engine(args.model, args.threads, args.n_ctx, args.repack)
    except ProviderError as err:
        _report({"ready": False, "kind": err.kind, "message": err.message})
        return 1
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(args.socket))
        listener.listen(16)
    except OSError as exc:
        _report({"ready": False, "kind": "config",
                 "message": f"cannot listen on {args.socket}: {exc}"})
        return 1
    bound = args.socket.stat().st_ino
    worker = Worker(engine, listener, args.idle, args.parent)
    if args.repack_reason:
        worker.hello["repack_reason"] = args.repack_reason
    _report({"ready": True, "hello": worker.hello})
    try:
        worker.serve()
    finally:
        listener.close()
        with contextlib.suppress(OSError):      # unless a newer worker owns the name now
            if args.socket.stat().st_ino == bound:
                args.socket.unlink()
        if args.private_dir is not None and worker.orphaned():
            shutil.rmtree(args.private_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
