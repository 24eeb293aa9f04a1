"""A map job's batches as Ray tasks (the jobs.py Backend for `--ray`).

`RayBackend(bundle, spec, address)` connects to the Ray cluster at
`address` (`ray.init(address=...)`), or starts a local Ray instance when
there is none and no address is given (an instance already started in this
process is used as it is). The program goes to the cluster once, as plain
data (program.py ProgramBundle: its sources, its lock's fills, its
settings), never as pickled NPL internals. Each task runs one batch
(worker.py Runner); a Ray worker process loads the program at its first
task and keeps it for the next ones. The results are the same lines a
local run writes.

A worker that dies (Ray's WorkerCrashedError, a node lost) is reported as
died, so jobs.py retries its records as it does locally: Ray's own retries
are off. The environment variables a worker needs (the model's endpoint and
key, NPL's settings: docs/reference.md §14) go with each task.

Ray is imported only here, only for `--ray`; without it the job stops with
`pip install "npl[ray]"`.
"""
from __future__ import annotations

import os
from typing import Any, Optional

from .jobs import Outcome
from .program import MapRequestError, ProgramBundle, WorkerError
from .worker import Batch, BatchResult, ReadSpec, Runner

TARGET_SECONDS = 0.25             # a task's work: many times a task's overhead
QUEUED_PER_CPU = 2                # tasks in flight per CPU of the cluster
FORWARDED_ENV = ("NPL_MODEL", "OPENAI_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL",
                 "ANTHROPIC_API_KEY", "NPL_LOCAL_MODEL", "NPL_LOCAL_KEEP_ALIVE", "NPL_LOCAL_REPACK",
                 "NPL_JIT", "NPL_JIT_BOUNDSCHECK", "NPL_CACHE_DIR")

_RUNNERS: dict[str, Runner] = {}  # in a Ray worker process: the programs it loaded


def import_ray():
    """The ray module, or MapRequestError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise MapRequestError('--ray needs Ray, which is not installed here: '
                              'pip install "npl[ray]"') from None
    return ray


def run_batch(shipped: tuple, batch: Batch) -> BatchResult:
    """A Ray task: `batch` run by this worker process's Runner of the
    shipped (bundle, read spec), loaded at the first task."""
    bundle, spec = shipped
    key = bundle.digest + repr(spec)
    runner = _RUNNERS.get(key)
    if runner is None:
        runner = _RUNNERS[key] = Runner(bundle, spec)
    return runner.run(batch)


class RayBackend:
    """Batches as Ray tasks (a jobs.py Backend)."""

    target_seconds = TARGET_SECONDS

    def __init__(self, address: Optional[str] = None):
        ray = self.ray = import_ray()
        self.owned = not ray.is_initialized()
        if self.owned:
            try:
                ray.init(address=address or None, include_dashboard=False, logging_level="warning",
                         log_to_driver=True, configure_logging=True)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise MapRequestError(f"cannot connect to the Ray cluster at {address or 'local'}: "
                                      f"{exc}") from None
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.running: dict[Any, Batch] = {}

    def load(self, bundle: ProgramBundle, spec: ReadSpec) -> None:
        """Put the program in the cluster's object store, once."""
        shipped = self.ray.put((bundle, spec))
        env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
        task = self.ray.remote(num_cpus=1, max_retries=0)(run_batch)
        self.submit_task = lambda batch: task.options(runtime_env={"env_vars": env}).remote(
            shipped, batch)

    def free(self) -> int:
        return QUEUED_PER_CPU * self.workers - len(self.running)

    def submit(self, batch: Batch) -> None:
        self.running[self.submit_task(batch)] = batch

    def wait(self, timeout: float) -> list[Outcome]:
        ray = self.ray
        refs = list(self.running)
        ready, rest = ray.wait(refs, num_returns=1, timeout=timeout)
        if ready and rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        return [self._outcome(ref) for ref in ready]

    def _outcome(self, ref) -> Outcome:
        from ray import exceptions
        batch = self.running.pop(ref)
        try:
            return Outcome(batch, result=self.ray.get(ref))
        except (exceptions.WorkerCrashedError, exceptions.NodeDiedError,
                exceptions.OutOfMemoryError, exceptions.ObjectLostError) as exc:
            return Outcome(batch, died=f"Ray: {type(exc).__name__}")
        except exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None) or exc
            text = cause.report_text() if hasattr(cause, "report_text") else str(cause)
            raise WorkerError(f"a Ray worker could not run the program:\n{text}") from None

    def close(self) -> None:
        """Cancel what runs; shut down a Ray instance this backend started
        (again: nothing more)."""
        for ref in self.running:
            self.ray.cancel(ref, force=True)
        self.running.clear()
        if self.owned:
            self.ray.shutdown()
            self.owned = False
