"""Shared helpers for the benchmark runners (run_plain.py, run_kernels.py).

Runs commands as separate processes and times them with a monotonic clock
(whole-process wall time: start-up, compilation and the program itself),
keeps the best of several runs, compares program outputs, formats the
results as a table and records them as JSON under bench/results/.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"


class RunFailed(RuntimeError):
    """A benchmark command exited with a non-zero status or timed out."""


@dataclass
class Timing:
    """The times of repeated runs of one command, and what it printed."""
    command: list[str]
    times: list[float] = field(default_factory=list)
    stdout: str = ""

    @property
    def best(self) -> float:
        return min(self.times)


def find_npl() -> list[str]:
    """The `npl` command: $NPL if set, else the one installed beside this
    Python, else the one on PATH."""
    if os.environ.get("NPL"):
        return os.environ["NPL"].split()
    beside = Path(sys.executable).parent / "npl"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("npl")
    if found is None:
        raise RunFailed("no `npl` command: install the project (pip install -e .) or set NPL")
    return [found]


def run_once(command: list[str], env: dict | None = None, timeout: float = 900) -> tuple[float, str]:
    """Run `command`; return its wall time in seconds and its stdout."""
    merged = {**os.environ, **(env or {})}
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=merged,
                              timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired as exc:
        raise RunFailed(f"{' '.join(command)}: timed out after {timeout:.0f} s") from exc
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-800:]
        raise RunFailed(f"{' '.join(command)}: exit {done.returncode}\n{tail}")
    return elapsed, done.stdout


def time_runs(command: list[str], repeat: int, env: dict | None = None,
              timeout: float = 900) -> Timing:
    """Run `command` `repeat` times; every run must print the same output."""
    timing = Timing(command=command)
    for _ in range(repeat):
        elapsed, stdout = run_once(command, env, timeout)
        if timing.times and stdout != timing.stdout:
            raise RunFailed(f"{' '.join(command)}: output changed between runs")
        timing.times.append(elapsed)
        timing.stdout = stdout
    return timing


def same_output(expected: Timing, *others: Timing) -> str | None:
    """None when every timing printed `expected`'s output, else a message."""
    for other in others:
        if other.stdout != expected.stdout:
            return (f"output differs:\n--- {' '.join(expected.command)}\n{expected.stdout}"
                    f"--- {' '.join(other.command)}\n{other.stdout}")
    return None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def fmt_seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def fmt_ratio(value: float | None, target: float | None = None) -> str:
    if value is None:
        return "-"
    if target is None:
        return f"{value:.2f}"
    return f"{value:.2f} {'ok' if value <= target else 'MISS'}"


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


def machine_info() -> dict:
    info = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }
    try:
        import numba
        info["numba"] = numba.__version__
    except ImportError:
        pass
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True)
    if head.returncode == 0:
        info["commit"] = head.stdout.strip()
    return info


def portable(value):
    """`value` (JSON data) with every absolute path made machine-independent:
    a path inside the checkout becomes relative to it (`bench/hello.npl`,
    `.venv/bin/npl`), any other one its last part (`python3`)."""
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable(v) for v in value]
    if isinstance(value, str) and os.path.isabs(value) and "\n" not in value:
        path = Path(value)
        return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    return value


def record(suite: str, settings: dict, results: list[dict], directory: Path = RESULTS) -> Path:
    """Write one JSON file for this run: bench/results/SUITE-TIMESTAMP.json,
    with no absolute path of this machine in it (see `portable`)."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc)
    path = directory / f"{suite}-{stamp:%Y%m%d-%H%M%S}.json"
    payload = {"suite": suite, "date": stamp.isoformat(timespec="seconds"),
               "machine": machine_info(), "settings": portable(settings),
               "results": portable(results)}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def timing_dict(timing: Timing | None) -> dict | None:
    return None if timing is None else asdict(timing) | {"best": timing.best}
