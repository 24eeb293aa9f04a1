"""Golden IR: `npl ir` of each tests/golden/PROG.npl must equal PROG.ir.

The lowered IR is the contract between the front end and the runtime, so
any change to it shows up here as a readable diff. After an intended
change, regenerate the expected files and review the diff before
committing:

    NPL_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden_ir.py

A program with a PROG.fills.toml has filled holes; its lock file is written
(into a temporary copy) from those fills first, see tests/lockfill.py.

Also here: every spec program (tests/spec) that compiles lowers to IR that
compiler/verify.verify() finds well-formed, and every one that does not
compile is expected to exit with status 2.
"""
from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from lockfill import with_lock
from npl.cli import main as npl_main
from npl.filling.lockfile import LockFileError
from npl.compiler.irverify import verify
from npl.lang.diagnostics import CompileError
from npl.project import open_program
from test_spec import SPEC, SPEC_PROGRAMS, expectation

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("NPL_UPDATE_GOLDEN") == "1"
GOLDEN_PROGRAMS = sorted(GOLDEN.glob("*.npl"))


def npl_ir(prog: Path, monkeypatch) -> str:
    """`npl ir PROG.npl` run in PROG's folder (the IR names the file as given)."""
    monkeypatch.chdir(prog.parent)
    result = CliRunner().invoke(npl_main, ["ir", prog.name], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_golden_programs_exist():
    assert len(GOLDEN_PROGRAMS) >= 8


@pytest.mark.parametrize("prog", GOLDEN_PROGRAMS, ids=lambda p: p.stem)
def test_golden_ir(prog: Path, tmp_path: Path, monkeypatch):
    got = npl_ir(with_lock(prog, tmp_path), monkeypatch)
    expected_file = prog.with_suffix(".ir")
    if UPDATE:
        expected_file.write_text(got, encoding="utf-8")
    assert expected_file.exists(), f"no {expected_file.name}: run with NPL_UPDATE_GOLDEN=1"
    want = expected_file.read_text(encoding="utf-8")
    if got != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                            f"{prog.stem}.ir (expected)", "npl ir (got)"))
        pytest.fail(f"IR of {prog.name} changed (NPL_UPDATE_GOLDEN=1 to accept):\n{diff}")


def test_filled_holes_lower_to_calls_of_their_fills(tmp_path: Path, monkeypatch):
    prog = with_lock(GOLDEN / "filled_hole.npl", tmp_path)
    monkeypatch.chdir(prog.parent)
    opened = open_program(prog.name)
    assert not opened.missing and len(opened.comp.filled) == 2
    text = npl_ir(prog, monkeypatch)
    assert "hole" not in text.replace("_hole", "")      # no HoleExpr / HoleBody left
    assert "(call:list[float] normalize_hole7 xs:list[float] total:float)" in text


@pytest.mark.parametrize("prog", SPEC_PROGRAMS, ids=lambda p: str(p.relative_to(SPEC)))
def test_spec_program_ir_verifies(prog: Path, tmp_path: Path, monkeypatch):
    path = with_lock(prog, tmp_path)
    monkeypatch.chdir(path.parent)
    try:
        opened = open_program(path.name)
    except (CompileError, LockFileError):
        assert expectation(prog).exit == 2, f"{prog.name} does not compile, yet its expected exit is not 2"
        return
    assert verify(opened.comp.module) == []
