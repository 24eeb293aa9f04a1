"""Tests test what is locked: a program that imports a file with holes uses
the fills locked for that file (shapes.npl.lock); the importer's examples
check those fills and never refill them (`npl test`, `npl run --frozen`), a
failing one names the fill; `npl fill` of the importer writes a missing
fill of the imported file to that file's lock; the cached `npl run` sees a
changed lock of an imported file."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import npl_command
from fakellm import FakeLLMServer
from npl.compiler.driver import compile

SHAPES = '''\
def double(x: int) -> int:
    """x times two."""
    ...

example double(2) == 4
'''
APP = '''\
from shapes import double

example double(5) == {expected}

def main():
    print(double(3))
'''
PLUS = "```npl\ndef double(x: int) -> int:\n    return x + x\n```"
SQUARE = "```npl\ndef double(x: int) -> int:\n    return x * x\n```"


def run_npl(args, cwd, env_extra=None, timeout=180):
    env = {**os.environ, "NPL_LOCAL_MODEL": "off", "NPL_LIBRARY": "off", **(env_extra or {})}
    return subprocess.run(npl_command() + args, cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "shapes.npl").write_text(SHAPES)
    (tmp_path / "app.npl").write_text(APP.format(expected=10))
    return tmp_path


def fill_shapes(folder: Path, answer: str = PLUS, *args: str) -> None:
    with FakeLLMServer(default=answer) as server:
        r = run_npl(["fill", "shapes.npl", "--model", "openai/m", *args], folder,
                    {"OPENAI_BASE_URL": server.base_url})
    assert r.returncode == 0, r.stderr


def test_an_importers_examples_do_not_change_the_imported_holes_key(folder):
    alone = compile(SHAPES, str(folder / "shapes.npl"))
    imported = compile(APP.format(expected=10), str(folder / "app.npl"))
    assert [h.key for h in imported.holes] == [h.key for h in alone.holes]
    (spec,) = imported.holes
    assert len(spec.tests) == 2        # both examples still check a fill


def test_npl_test_of_an_importer_checks_the_locked_fill_and_never_refills(folder):
    fill_shapes(folder)
    before = (folder / "shapes.npl.lock").read_bytes()
    with FakeLLMServer(default=SQUARE) as server:
        env = {"OPENAI_BASE_URL": server.base_url}
        r = run_npl(["test", "app.npl", "--model", "openai/m"], folder, env)
        assert r.returncode == 0, r.stderr
        assert "2 passed, 0 failed" in r.stdout
        (folder / "app.npl").write_text(APP.format(expected=11))     # an example the fill fails
        r = run_npl(["test", "app.npl", "--model", "openai/m"], folder, env)
        assert server.requests == []                                 # nothing was refilled
    assert r.returncode == 1
    assert "FAIL app.npl:3 example@3" in r.stdout and "left side is 10, right side is 11" in r.stdout
    assert ("it checks the locked fill of hole 'double' (shapes.npl:1:1, in shapes.npl.lock, "
            "by openai/m)") in r.stdout
    assert "npl fill app.npl --refresh double" in r.stdout
    assert "1 passed, 1 failed" in r.stdout
    assert (folder / "shapes.npl.lock").read_bytes() == before
    assert not (folder / "app.npl.lock").exists()
    r = run_npl(["run", "--frozen", "app.npl"], folder)
    assert (r.returncode, r.stdout) == (0, "6\n"), r.stderr
    r = run_npl(["test", "--frozen", "app.npl"], folder)
    assert r.returncode == 1 and "it checks the locked fill of hole 'double'" in r.stdout
    r = run_npl(["holes", "app.npl"], folder)
    assert "filled  openai/m" in r.stdout


def test_npl_fill_of_an_importer_writes_the_imported_fill_to_its_files_lock(folder):
    with FakeLLMServer([SQUARE, PLUS]) as server:             # x * x fails the importer's example
        r = run_npl(["fill", "app.npl", "--model", "openai/m"], folder,
                    {"OPENAI_BASE_URL": server.base_url})
        assert r.returncode == 0, r.stderr
        assert len(server.requests) == 2
    assert "x + x" in (folder / "shapes.npl.lock").read_text()
    assert 'location = "shapes.npl:1:1"' in (folder / "shapes.npl.lock").read_text()
    assert not (folder / "app.npl.lock").exists()
    r = run_npl(["test", "--frozen", "shapes.npl"], folder)     # the file alone uses it too
    assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout + r.stderr
    # and its attempts are kept beside it, where `npl holes shapes.npl --attempts` looks
    assert not (folder / "app.npl.attempts.jsonl").exists()
    r = run_npl(["holes", "shapes.npl", "--attempts", "double"], folder)
    assert r.returncode == 0, r.stderr
    assert "x * x" in r.stdout and "x + x" in r.stdout and "accepted" in r.stdout, r.stdout


def test_the_cached_run_sees_a_changed_lock_of_an_imported_file(folder):
    fill_shapes(folder)
    assert run_npl(["run", "app.npl"], folder).stdout == "6\n"
    assert run_npl(["run", "app.npl"], folder).stdout == "6\n"          # from the run cache
    fill_shapes(folder, SQUARE, "--refresh", "double")                  # x * x passes double(2) == 4
    r = run_npl(["run", "app.npl"], folder)
    assert (r.returncode, r.stdout) == (0, "9\n"), r.stderr
    (folder / "shapes.npl.lock").unlink()
    r = run_npl(["run", "--frozen", "app.npl"], folder)
    assert r.returncode == 2 and "double" in r.stderr


def test_the_language_server_uses_the_imported_files_lock(folder):
    from pygls.uris import from_fs_path

    from npl.lsp import analyze
    text = APP.format(expected=10)
    missing = analyze(from_fs_path(str(folder / "app.npl")), text)
    assert [h.name for h in missing.comp.unfilled] == ["double"]
    fill_shapes(folder)
    filled = analyze(from_fs_path(str(folder / "app.npl")), text)
    assert filled.diagnostics == [] and not filled.comp.unfilled
    assert [h.name for h in filled.comp.holes if h.key in filled.comp.filled] == ["double"]
