"""Running a candidate's checks in a separate, limited process.

Compiling a candidate runs none of its code, so the filler compiles in
process; *running* the examples and properties that check it, and the
behavioural test-gaming probes (filling/gaming.py), happens here, in a
worker process (`python -m npl.filling.sandbox --memory-mb N`) that

  * caps its data segment (RLIMIT_DATA) at N MiB above what it uses when idle
    (after its imports and the start of its big-stack program thread), so a
    memory-hungry candidate gets a MemoryError inside the worker, never the
    machine's memory;
  * runs the generated code with the runtime's step budget and wall-time
    limit, and no JIT;
  * sends the program's own output to a bounded buffer (an output flood is a
    limit, not a broken protocol): the JSON protocol uses a private copy of
    the original stdout.

The parent gives each job a wall-clock deadline (`Limits.job_seconds`: twice the
per-call time limit plus a fixed allowance, counted from when the worker is
ready); a worker that misses it (a single long built-in operation such as
`sum(range(10**12))` never reaches a step check), or dies (memory exhausted,
crashed), is killed, and the candidate is rejected with that reason.

One candidate must never poison the next. Workers are reused across jobs,
but one is retired (replaced by a fresh one) after any job that a limit
stopped (steps, time, memory, output, stack) or that failed unexpectedly,
and after any job that left its heap more than `HEAP_SLACK_MB` above the
size it had when it became ready (a candidate's leftovers would count
against the next candidate's memory limit). And a limit stop or checker
failure in a worker that had run an earlier job is checked again in a fresh
worker before it is reported: every failure is the candidate's own.

Protocol: one JSON object per line each way. The worker first says
{"ready": true}. Job: {source, path, fills, key, limits, hidden}; reply:
{accepted, stage, feedback, finding, passed, error, failed, retire, heap_mb}
(`error`: the kind of the run-time error that failed the first failing
check, or ""; `failed`: whether that check is an "example" or a "property";
`finding`: the feedback without the trace).
A job with "op": "compare" runs several candidates side by side instead
(`fills` is then a list of fills tables; filling/agreement.py): its reply
adds {inputs, outputs, speed, sizes}.
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


STARTUP_TIMEOUT = 120.0         # seconds a new worker may take to import and get ready
HEAP_SLACK_MB = 64              # growth of a worker's heap over a job that retires it


class SandboxWorker:
    def __init__(self, memory_mb: int):
        self.memory_mb = memory_mb
        self.ready = False
        self.jobs = 0                   # jobs sent to it so far
        # Started from one long-lived thread: the worker asks to be killed when
        # its parent dies, and Linux means the parent *thread* by that.
        self.proc = spawner().submit(
            subprocess.Popen, [sys.executable, "-m", "npl.filling.sandbox",
                               "--memory-mb", str(int(memory_mb)), "--parent", str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            bufsize=1, env={**os.environ, "NPL_JIT": "off"}).result()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except Exception:
            pass

    def _exchange(self, message: Optional[dict], timeout: float) -> Optional[dict]:
        """Send `message` (if any) and read one reply line within `timeout`
        seconds; None if the worker missed it or died (then it is killed)."""
        reply: dict = {}

        def talk():
            try:
                if message is not None:
                    self.proc.stdin.write(json.dumps(message) + "\n")
                    self.proc.stdin.flush()
                line = self.proc.stdout.readline()
                if line:
                    reply.update(json.loads(line))
            except (OSError, ValueError):
                pass
        t = threading.Thread(target=talk, daemon=True)
        t.start()
        t.join(timeout)
        late = t.is_alive()
        if late or not reply:
            self.kill()
            return None if late else {}
        return reply

    def run(self, job: dict, deadline: float) -> dict:
        """Send `job`; the reply, or a limit verdict if the worker dies or
        misses the deadline (it is then killed)."""
        if not self.ready:
            hello = self._exchange(None, STARTUP_TIMEOUT)
            if not hello or not hello.get("ready"):
                return {"accepted": False, "stage": "checker", "passed": [], "retire": True,
                        "feedback": "It could not be checked: the checking process did not start."}
            self.ready = True
        self.jobs += 1
        reply = self._exchange(job, deadline)
        if reply is None:
            return {"accepted": False, "stage": "limit", "passed": [],
                    "feedback": f"It was stopped: it ran past the time limit (the checks of one "
                                f"candidate may take at most {deadline:g} s; a single long "
                                "operation or an endless loop is the usual cause)."}
        if not reply:
            return {"accepted": False, "stage": "limit", "passed": [],
                    "feedback": f"It was stopped: it exhausted the memory limit "
                                f"({self.memory_mb} MiB) or crashed the checker."}
        return reply


class SandboxPool:
    def __init__(self):
        self.idle: list[SandboxWorker] = []
        self.lock = threading.Lock()

    def take(self, memory_mb: int) -> SandboxWorker:
        with self.lock:
            for i, w in enumerate(self.idle):
                if w.memory_mb == memory_mb:
                    del self.idle[i]
                    if w.alive():
                        return w
                    break
        return SandboxWorker(memory_mb)

    def run(self, job: dict, deadline: float) -> dict:
        """Run `job` in a pooled worker. A limit stop or a checker failure in
        a worker that had run earlier jobs is run again in a fresh worker,
        whose verdict stands."""
        memory_mb = int(job["limits"].get("memory_mb", 1024))
        worker = self.take(memory_mb)
        reused = worker.jobs > 0
        reply = self.run_in(worker, job, deadline)
        if reused and not reply["accepted"] and reply["stage"] in ("limit", "checker"):
            reply = self.run_in(SandboxWorker(memory_mb), job, deadline)
        if reply["stage"] == "checker":
            reply["stage"] = "test"
        return reply

    def run_in(self, worker: SandboxWorker, job: dict, deadline: float) -> dict:
        """Run `job` in `worker`, then pool the worker, or retire it after a
        limit stop, a failure, or a job that left its heap grown."""
        reply = worker.run(job, deadline)
        retire = reply.pop("retire", False) or reply["stage"] in ("limit", "checker") \
            or reply.pop("heap_mb", 0) > HEAP_SLACK_MB
        if retire:
            worker.kill()
        elif worker.alive():
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
_spawner = None


def spawner():
    """The one thread that starts workers (it lives as long as the process)."""
    global _spawner
    with _pool_lock:
        if _spawner is None:
            from concurrent.futures import ThreadPoolExecutor
            _spawner = ThreadPoolExecutor(1, thread_name_prefix="npl-sandbox-spawner")
        return _spawner


def pool() -> SandboxPool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = SandboxPool()
            import atexit
            atexit.register(_pool.close)
        return _pool


def run_checks_isolated(source: str, path: str, fills: dict[str, str], key: str, limits,
                        hidden: frozenset = frozenset()) -> dict:
    """Run the checks of hole `key` in a worker. `hidden`: ids ("file:line")
    of held-out examples, whose text a failure report must not reveal."""
    job = {"source": source, "path": path, "fills": fills, "key": key, "limits": asdict(limits),
           "hidden": sorted(hidden)}
    return pool().run(job, deadline=limits.job_seconds())


def compare_isolated(source: str, path: str, fills: list[dict[str, str]], key: str,
                     limits) -> dict:
    """Run the candidates of hole `key` (one fills table each) side by side
    in a worker (filling/agreement.py); its report, or a reply with
    `accepted` false and the reason in `feedback`."""
    from .agreement import AGREE_SECONDS, SPEED_SECONDS
    job = {"op": "compare", "source": source, "path": path, "fills": fills, "key": key,
           "limits": asdict(limits)}
    deadline = limits.job_seconds() + AGREE_SECONDS + SPEED_SECONDS * min(len(fills), 4)
    return pool().run(job, deadline=deadline)


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


def limit_memory(memory_mb: int) -> int:
    """Cap the data segment at `memory_mb` MiB above its size now; that size."""
    import resource
    data = idle_data_bytes()
    cap = data + memory_mb * (1 << 20)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
    return data


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
    if job.get("op") == "compare":
        from .agreement import compare_candidates
        return compare_candidates(job)
    from npl.compiler.driver import compile
    from .checks import Limits, run_checks
    limits = Limits(**job["limits"])
    comp = compile(job["source"], job["path"], fills=job["fills"], strict_fills=True)
    spec = next((h for h in comp.holes if h.key == job["key"]), None)
    if spec is None:
        raise LookupError(f"the checked program has no hole with key {job['key']} (was npl "
                          "changed while it ran?)")
    verdict = run_checks(comp, spec, limits, hidden=frozenset(job.get("hidden", ())))
    return {"accepted": verdict.accepted, "stage": verdict.stage, "feedback": verdict.feedback,
            "passed": verdict.passed, "error": verdict.error, "failed": verdict.failed,
            "finding": verdict.finding, "retire": verdict.error == "memory"}


def warm_up() -> None:
    """Import and start everything a job needs before memory is capped."""
    import npl.runtime.codegen  # noqa: F401
    import npl.runtime.testing  # noqa: F401
    from npl.compiler import driver  # noqa: F401
    from . import agreement, checks, gaming, probes, tracing  # noqa: F401
    from npl.runtime.execution import run_deep
    # The big-stack program thread: its stack is a private mapping that
    # RLIMIT_DATA counts, so starting it under the cap would fail outright
    # when memory_mb is below the stack size (and eat the allowance otherwise).
    run_deep(lambda: None)


def die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this worker when the npl process that started it
    dies (a killed `npl fill` must not leave a candidate running)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 9, 0, 0, 0)               # PR_SET_PDEATHSIG, SIGKILL
    except Exception:
        pass                                    # elsewhere: the closed stdin ends the worker
    if os.getppid() != parent:                  # the parent died before prctl
        os._exit(0)


def worker_main(memory_mb: int, parent: int) -> None:
    die_with_parent(parent)
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = BoundedOutput()
    warm_up()
    idle = limit_memory(memory_mb)
    proto.write(json.dumps({"ready": True}) + "\n")
    proto.flush()
    for line in sys.stdin:
        job = json.loads(line)
        sys.stdout = BoundedOutput()
        try:
            reply = handle(job)
        except MemoryError:
            reply = {"accepted": False, "stage": "limit", "passed": [], "error": "memory",
                     "retire": True,
                     "feedback": f"It was stopped: it exhausted the memory limit ({memory_mb} MiB)."}
        except Exception as exc:
            reply = {"accepted": False, "stage": "checker", "passed": [], "retire": True,
                     "feedback": f"It could not be checked: {type(exc).__name__}: {exc}"}
        reply["heap_mb"] = heap_growth_mb(idle)
        proto.write(json.dumps(reply) + "\n")
        proto.flush()


def heap_growth_mb(idle: int) -> float:
    """MiB the data segment holds above its idle size, once the job's
    garbage is collected (what the next job would find already used)."""
    import gc
    gc.collect()
    return max(0, idle_data_bytes() - idle) / (1 << 20)


def parse_args(argv: list[str]) -> tuple[int, int]:
    """--memory-mb N --parent PID"""
    opts = dict(zip(argv[::2], argv[1::2]))
    return int(opts.get("--memory-mb", 1024)), int(opts.get("--parent", os.getppid()))


if __name__ == "__main__":
    worker_main(*parse_args(sys.argv[1:]))
