"""Shared helpers for the safety tests (red team, limits, gaming, lock
integrity): run the real `npl` CLI against a scripted model server, and
observe what it did to the folder it ran in."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Optional

from conftest import npl_command

FENCE = "```"


def run_npl(args: list[str], cwd: Path, env_extra: Optional[dict] = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(npl_command() + args, cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout)


def as_reply(function_source: str) -> str:
    """A model reply holding `function_source` in an npl code block."""
    return f"{FENCE}npl\n{function_source.strip()}\n{FENCE}"


def function_reply(signature: str, body: str, helpers: str = "") -> str:
    """A reply defining `signature` with `body` (indented here)."""
    lines = "\n".join("    " + ln if ln.strip() else ln for ln in body.strip("\n").splitlines())
    return as_reply((helpers.strip() + "\n\n" if helpers.strip() else "") + f"{signature}:\n{lines}")


def last_user_message(request) -> str:
    """The newest user message of a recorded chat request (the repair
    prompt for every request after the first)."""
    messages = request.json["messages"]
    return next(m["content"] for m in reversed(messages) if m["role"] == "user")


def system_message(request) -> str:
    return next(m["content"] for m in request.json["messages"] if m["role"] == "system")


def folder_state(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative path -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


LOCK_GUARD = ".{}.lck"          # the inter-process lock file update_lock creates


def new_files(before: dict[str, bytes], after: dict[str, bytes], program: str) -> set[str]:
    """Files that appeared, other than the lock's guard file and the record
    of the fill's attempts (filling/attempts.py)."""
    return set(after) - set(before) - {LOCK_GUARD.format(program + ".lock"),
                                       program + ".attempts.jsonl"}


def assert_clean_failure(r: subprocess.CompletedProcess, status: int = 1) -> None:
    """npl failed with the documented status and a message, not a Python
    traceback."""
    assert r.returncode == status, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    assert "internal error" not in r.stderr, r.stderr


def write_settings(folder: Path, *, attempts: int = 4, steps: int = 100_000, seconds: float = 1.0,
                   memory_mb: int = 256, held_out: float = 0.0, extra: str = "") -> None:
    (folder / "npl.toml").write_text(
        f"[fill]\nattempts = {attempts}\nconcurrency = 1\nheld_out = {held_out}\nsynth_budget = 0\n"
        f"[limits]\nsteps = {steps}\nseconds = {seconds}\nmemory_mb = {memory_mb}\n" + extra)


def stamp_fills(program: Path, fills: dict[str, str], source: str = "openai/m") -> None:
    """Write program's lock with `fills` (hole name -> fill source) as
    verified-looking, stamped entries (as `npl fill` would)."""
    from npl.filling.lockfile import (LockEntry, Provenance, lock_location, lock_path_for, restamp,
                                       update_lock)
    from npl.project import open_program
    prog = open_program(str(program), strict_fills=False)
    entries = []
    for spec in prog.comp.holes:
        if spec.name in fills:
            location = lock_location(spec.location, lock_path_for(program))
            entries.append(restamp(LockEntry(spec.key, spec.name, spec.kind, location,
                                             spec.description, spec.signature, fills[spec.name],
                                             Provenance(source, source.partition("/")[2], 1),
                                             {"checks_passed": [], "verified_at": "2024-01-01T00:00:00+00:00"})))
    assert len(entries) == len(fills), [h.name for h in prog.comp.holes]

    def store(current):
        for e in entries:
            current[e.key] = e
    update_lock(lock_path_for(program), store)
