"""The repository stands alone: no committed file names an absolute path of
one machine (a home folder, a scratch or work folder, this checkout's own
place), and the quickstart's lock is never committed. Tests find the
shared conformance suite beside the checkout (../shared, see conftest.py)
and skip, saying so, without it."""
from __future__ import annotations

import re
import subprocess

import pytest

from conftest import ROOT

# An absolute path into a home, work or scratch folder, on Unix or Windows.
# The lookbehind leaves URLs (`host/home/...`) and relative paths alone.
MACHINE_PATH = re.compile(
    r"(?<![\w.~/-])/(?:home|Users|root|work|tmp|mnt|scratch)/[\w.-]"
    r"|\b[A-Za-z]:\\(?:Users|Documents and Settings)\\", re.I)
SKIPPED_PARTS = {".git", ".venv", "__pycache__", "node_modules", "build", "dist"}


def tracked_files() -> list[str]:
    """The checkout's files, relative to it: git's list where this is a git
    checkout, else every file outside build and environment folders."""
    try:
        done = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        done = None
    if done is not None and done.returncode == 0 and done.stdout:
        return [name for name in done.stdout.decode("utf-8").split("\0") if name]
    return [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*")
            if p.is_file() and not (SKIPPED_PARTS & set(p.relative_to(ROOT).parts))
            and not any(part.endswith(".egg-info") for part in p.parts)]


def machine_paths(text: str) -> list[tuple[int, str]]:
    """(line number, line) of each line of `text` naming a machine path or
    this checkout's absolute place."""
    here = re.compile(r"(?<![\w.~/-])" + re.escape(str(ROOT)) + r"(?![\w.-])")
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)
            if MACHINE_PATH.search(line) or here.search(line)]


def test_the_pattern_finds_machine_paths_and_nothing_else():
    found = ['CONFORMANCE = Path("' + "/work" + '/shared/conformance")',
             '"python": "' + "/home" + '/ana/.venv/bin/python"',
             "see " + "/Users" + "/bo/npl/README.md", "C:" + "\\Users\\bo\\npl",
             "cache in " + "/tmp" + "/npl-cache", str(ROOT / "docs" / "reference.md")]
    clean = ["SHARED = ROOT.parent / 'shared'", "../shared/conformance/run.py",
             "#!/usr/bin/env python3", "https://example.com/home/page", "~/.cache/npl",
             "a // b / c", "tests/work/x.npl", "NPL_CACHE_DIR=/somewhere"]
    assert [bool(machine_paths(line)) for line in found] == [True] * len(found)
    assert [line for line in clean if machine_paths(line)] == []


def test_no_committed_file_names_a_machine_path():
    files = tracked_files()
    assert len(files) > 100, "the file list is suspiciously short"
    offenders = []
    for name in files:
        try:
            text = (ROOT / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue                       # binary, or deleted but not yet committed
        offenders += [f"{name}:{n}: {line}" for n, line in machine_paths(text)]
    assert not offenders, "absolute paths of one machine:\n" + "\n".join(offenders)



def test_the_quickstart_has_no_committed_lock():
    """The README's first command fills examples/quickstart.npl with the
    model; a committed lock would leave it nothing to fill (and could carry
    a fill from one machine's module library)."""
    try:
        done = subprocess.run(["git", "ls-files", "examples/quickstart.npl.lock"], cwd=ROOT,
                              capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        done = None
    if done is None or done.returncode != 0:
        pytest.skip("not a git checkout: which files are committed is not known")
    assert done.stdout.strip() == b"", "examples/quickstart.npl.lock is committed"
