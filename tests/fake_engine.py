"""A stand-in for llama.cpp in the local model's worker process, for tests
of what happens when the model crashes, is killed or hangs.

Used as NPL_LOCAL_ENGINE=fake_engine:FakeEngine (with tests/ on PYTHONPATH,
since the worker is another process). It loads nothing: the "model file"
can be any file. It behaves as the environment says:

    FAKE_ENGINE_FAULT   none (default), segv (a real segmentation fault),
                        abort, kill (SIGKILL itself, as the out-of-memory
                        killer would), hang, wait (block until the test
                        kills the worker), error (a ProviderError),
                        segv-if-repack (crash only with weight repacking
                        on, as llama.cpp's AMX bug does), load-error,
                        load-segv (fail or crash while loading),
                        slow (generate a "token" every 10 ms for
                        FAKE_ENGINE_SLOW_S seconds, default 60, stopping
                        early when the worker says nobody waits: logs a
                        "cancelled" event), runaway (the reply is ended
                        early as a degenerate repetition, as the real
                        engine's repetition stop does)
    FAKE_ENGINE_REPLY   the reply text (default: a fenced NPL function), whole:
                        a request's "prefix" is logged, not prepended
    FAKE_ENGINE_LOG     a file that gets one JSON line per load and request

A request whose last message contains "FAULT:NAME" uses that fault instead.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import time

from npl.filling.providers.base import ProviderError

DEFAULT_REPLY = "```npl\ndef f(x: int) -> int:\n    return x\n```"


def _log(event: dict) -> None:
    path = os.environ.get("FAKE_ENGINE_LOG")
    if path:
        with open(path, "a") as log:
            log.write(json.dumps({"pid": os.getpid(), **event}) + "\n")


def _segfault() -> None:
    ctypes.string_at(0)                 # reads address 0: SIGSEGV


def _act(fault: str, repack: bool) -> None:
    if fault == "segv" or (fault == "segv-if-repack" and repack):
        _segfault()
    elif fault == "abort":
        os.abort()
    elif fault == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif fault in ("hang", "wait"):
        while True:
            time.sleep(3600)
    elif fault == "error":
        raise ProviderError("local", "malformed", "the fake engine refuses this request")


def _generate_slowly(cancelled) -> None:
    started = time.monotonic()
    while time.monotonic() - started < float(os.environ.get("FAKE_ENGINE_SLOW_S", "60")):
        if cancelled():
            _log({"event": "cancelled", "after": time.monotonic() - started})
            return
        time.sleep(0.01)


class FakeEngine:
    def __init__(self, model: str, threads: int, n_ctx: int, repack: str):
        self.fault = os.environ.get("FAKE_ENGINE_FAULT", "none")
        self.repack = repack != "off"
        self.previous: list = []
        _log({"event": "load", "repack": self.repack, "mode": repack, "model": model})
        if self.fault == "load-error":
            raise ProviderError("local", "model_file", f"the fake engine cannot load {model}")
        if self.fault == "load-segv":
            _segfault()

    def describe(self) -> dict:
        return {"engine": "fake", "repack": self.repack,
                "repack_reason": "on" if self.repack else "off"}

    def complete(self, request: dict, cancelled=lambda: False) -> dict:
        messages = request["messages"]
        last = messages[-1]["content"]
        fault = last.split("FAULT:", 1)[1].split()[0] if "FAULT:" in last else self.fault
        _log({"event": "request", "fault": fault, "messages": len(messages), "last": last[:300],
              "end": last[-300:], "temperature": request.get("temperature"),
              "prefix": request.get("prefix", ""), "stop": request.get("stop", [])})
        _act(fault, self.repack)
        if fault == "slow":
            _generate_slowly(cancelled)
        cached = 0
        for old, new in zip(self.previous, messages):
            if old != new:
                break
            cached += 1
        self.previous = list(messages)
        text = os.environ.get("FAKE_ENGINE_REPLY", DEFAULT_REPLY)
        stopped = "it repeated `if x == 0: / return True` 8 times" if fault == "runaway" else ""
        return {"text": text, "prompt_tokens": sum(len(m["content"].split()) for m in messages),
                "completion_tokens": len(text.split()), "cached_tokens": cached,
                "stopped": stopped}


def use_fake_engine(tmp_path, monkeypatch, also_unset: tuple[str, ...] = ()):
    """Point `local/` models at this engine for one test: (a fake GGUF file,
    a short runtime folder for the worker's socket, which the test removes).
    The engine logs its requests to tmp_path/engine.jsonl."""
    import tempfile
    from pathlib import Path
    model = tmp_path / "fake.gguf"
    model.write_bytes(b"GGUF, not really")
    runtime = Path(tempfile.mkdtemp(prefix="nplrt-"))       # short: socket paths are limited
    monkeypatch.setenv("NPL_LOCAL_ENGINE", "fake_engine:FakeEngine")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [
        str(Path(__file__).resolve().parent), os.environ.get("PYTHONPATH", "")])))
    monkeypatch.setenv("FAKE_ENGINE_LOG", str(tmp_path / "engine.jsonl"))
    monkeypatch.setenv("NPL_RUNTIME_DIR", str(runtime))
    for name in ("NPL_LOCAL_REPACK", "NPL_LOCAL_KEEP_ALIVE", "FAKE_ENGINE_FAULT",
                 "FAKE_ENGINE_REPLY", *also_unset):
        monkeypatch.delenv(name, raising=False)
    return model, runtime
