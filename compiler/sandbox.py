"""Running a candidate's checks in a separate, limited process.

Compiling a candidate runs none of its code, so the filler compiles in
process; *running* the examples and properties that check it happens here,
in a worker process (`python -m npl.compiler.sandbox`) that

  * caps its data segment (RLIMIT_DATA) at the configured memory limit above
    what it uses when idle, and its CPU time;
  * runs the generated code with the runtime's step budget and wall-time
    limit, and no JIT;
  * sends the program's own output to a bounded buffer (an output flood is a
    limit, not a broken protocol): the JSON protocol uses a private copy of
    the original stdout.

The parent gives each job a wall-clock deadline; a worker that misses it, or
dies (memory exhausted, crashed), is killed and replaced, and the candidate
is rejected with that reason. Workers are reused across jobs.

Protocol: one JSON object per line each way. Job: {source, path, fills, key,
limits}; reply: {accepted, stage, feedback, passed}.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import asdict
from typing import Optional

OUTPUT_LIMIT = 1 << 20          # bytes a checked program may print


class SandboxWorker:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-m", "npl.compiler.sandbox"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1,
                                     env={**os.environ, "NPL_JIT": "off"})

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except Exception:
            pass

    def run(self, job: dict, deadline: float) -> dict:
        """Send `job`; the reply, or a limit verdict if the worker dies or
        misses the deadline (it is then killed)."""
        reply: dict = {}

        def talk():
            try:
                self.proc.stdin.write(json.dumps(job) + "\n")
                self.proc.stdin.flush()
                line = self.proc.stdout.readline()
                if line:
                    reply.update(json.loads(line))
            except (OSError, ValueError):
                pass
        t = threading.Thread(target=talk, daemon=True)
        t.start()
        t.join(deadline)
        if t.is_alive():
            self.kill()
            return {"accepted": False, "stage": "limit", "passed": [],
                    "feedback": f"It was stopped: it ran longer than the {deadline:.0f} s limit."}
        if not reply:
            self.kill()
            return {"accepted": False, "stage": "limit", "passed": [],
                    "feedback": "It was stopped: it exhausted the memory limit (or crashed the checker)."}
        return reply


class SandboxPool:
    def __init__(self):
        self.idle: list[SandboxWorker] = []
        self.lock = threading.Lock()

    def run(self, job: dict, deadline: float) -> dict:
        with self.lock:
            worker = self.idle.pop() if self.idle else None
        if worker is None or not worker.alive():
            worker = SandboxWorker()
        reply = worker.run(job, deadline)
        if worker.alive():
            with self.lock:
                self.idle.append(worker)
        return reply

    def close(self) -> None:
        with self.lock:
            for w in self.idle:
                w.kill()
            self.idle.clear()


_pool: Optional[SandboxPool] = None
_pool_lock = threading.Lock()


def pool() -> SandboxPool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = SandboxPool()
            import atexit
            atexit.register(_pool.close)
        return _pool


def run_checks_isolated(source: str, path: str, fills: dict[str, str], key: str, limits) -> dict:
    job = {"source": source, "path": path, "fills": fills, "key": key, "limits": asdict(limits)}
    return pool().run(job, deadline=limits.seconds * 2 + 20)


# ---------------------------------------------------------------- worker side

class BoundedOutput:
    """sys.stdout for checked programs: keeps at most OUTPUT_LIMIT bytes."""

    def __init__(self):
        self.size = 0

    def write(self, text: str) -> int:
        self.size += len(text)
        if self.size > OUTPUT_LIMIT:
            from npl.runtime.errors import NplRuntimeError
            raise NplRuntimeError("output_limit", f"output limit exceeded: more than {OUTPUT_LIMIT} "
                                  "bytes printed")
        return len(text)

    def flush(self) -> None:
        pass


def limit_memory(memory_mb: int) -> None:
    import resource
    data = idle_data_bytes()
    cap = data + memory_mb * (1 << 20)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))


def idle_data_bytes() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 512 << 20


def handle(job: dict) -> dict:
    from .driver import compile
    from .verifier import Limits, run_checks
    limits = Limits(**job["limits"])
    comp = compile(job["source"], job["path"], fills=job["fills"], strict_fills=True)
    spec = next(h for h in comp.holes if h.key == job["key"])
    verdict = run_checks(comp, spec, limits)
    return {"accepted": verdict.accepted, "stage": verdict.stage, "feedback": verdict.feedback,
            "passed": verdict.passed}


def worker_main() -> None:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = BoundedOutput()
    import npl.runtime.codegen  # noqa: F401  (warm imports before capping memory)
    import npl.runtime.testing  # noqa: F401
    limited = False
    for line in sys.stdin:
        job = json.loads(line)
        if not limited:
            limit_memory(int(job["limits"].get("memory_mb", 1024)))
            limited = True
        sys.stdout = BoundedOutput()
        try:
            reply = handle(job)
        except MemoryError:
            reply = {"accepted": False, "stage": "limit", "passed": [],
                     "feedback": "It was stopped: it exhausted the memory limit."}
        except Exception as exc:
            reply = {"accepted": False, "stage": "test", "passed": [],
                     "feedback": f"It could not be checked: {type(exc).__name__}: {exc}"}
        proto.write(json.dumps(reply) + "\n")
        proto.flush()


if __name__ == "__main__":
    worker_main()
