"""The example programs: each locked one runs offline from its lock (`npl run
--frozen`) with the output recorded beside it, and its fills re-verify."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from test_fill_e2e import run_npl

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# The examples committed with a lock and their expected output. (The README's
# first command fills quickstart.npl, leaving a lock but no expected output.)
LOCKED = sorted(p for p in EXAMPLES.glob("*.npl")
                if p.with_suffix(".npl.lock").exists() and p.with_suffix(".out").exists())


def test_there_are_five_locked_examples():
    assert len(LOCKED) >= 5, [p.name for p in LOCKED]


@pytest.mark.parametrize("program", LOCKED, ids=lambda p: p.stem)
def test_locked_example_runs_frozen_and_reverifies(program: Path, tmp_path: Path):
    folder = tmp_path / "examples"
    shutil.copytree(EXAMPLES, folder)         # `npl verify` (without --check) restamps the lock
    env = {"NPL_LOCAL_MODEL": "off", "OPENAI_BASE_URL": "http://127.0.0.1:9"}
    r = run_npl(["run", "--frozen", program.name], folder, env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == program.with_suffix(".out").read_text()
    lock = (folder / program.name).with_suffix(".npl.lock")
    committed = lock.read_bytes()
    r = run_npl(["verify", "--check", program.name], folder, env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 failed" in r.stdout and lock.read_bytes() == committed
    r = run_npl(["verify", program.name], folder, env)          # restamps
    assert r.returncode == 0 and "0 failed" in r.stdout, r.stdout + r.stderr


ANSWERED = sorted(p for p in EXAMPLES.glob("*.npl") if p.with_suffix(".npl.answers").exists())


def test_there_is_an_oracle_example():
    assert [p.name for p in ANSWERED] == ["triage.npl"]


@pytest.mark.parametrize("program", ANSWERED, ids=lambda p: p.stem)
def test_oracle_example_runs_frozen_from_its_stored_answers(program: Path, tmp_path: Path):
    folder = tmp_path / "examples"
    shutil.copytree(EXAMPLES, folder)
    env = {"NPL_LOCAL_MODEL": "off", "OPENAI_BASE_URL": "http://127.0.0.1:9", "NPL_RUN_CACHE": "off"}
    r = run_npl(["run", "--frozen", program.name], folder, env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == program.with_suffix(".out").read_text()
    assert "answered from the store, 0 asked" in r.stderr
