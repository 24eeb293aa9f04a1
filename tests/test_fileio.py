"""lang/fileio.py: the one atomic file writer (lock files, the module
library's export, the parser, JIT and run caches, the local model, npl fmt)."""
from __future__ import annotations

import os
import stat
import sys
import threading

import pytest

from npl.lang import fileio
from npl.lang.fileio import atomic_writer, stale_temporaries, write_atomic


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_writes_bytes_and_text_and_creates_folders(tmp_path):
    target = tmp_path / "a" / "b" / "out.bin"
    write_atomic(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    write_atomic(str(target), "h\u00e9\n")                  # str paths too; text as UTF-8
    assert target.read_bytes() == "h\u00e9\n".encode("utf-8")
    assert leftovers(target.parent) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    target = tmp_path / "prog.npl"
    target.write_text("old")
    target.chmod(0o640)
    write_atomic(target, "new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    fresh = tmp_path / "fresh"
    write_atomic(fresh, "x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask


def test_an_error_inside_the_block_leaves_the_old_file(tmp_path):
    target = tmp_path / "model.gguf"
    target.write_bytes(b"old")
    with pytest.raises(ValueError):
        with atomic_writer(target) as out:
            out.write(b"half of the new")
            raise ValueError("checksum mismatch")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_a_failed_rename_removes_the_temporary(tmp_path, monkeypatch):
    target = tmp_path / "x.lock"
    target.write_text("old")

    def refuse(src, dst):
        raise PermissionError("read-only folder")
    monkeypatch.setattr(fileio.os, "replace", refuse)
    with pytest.raises(PermissionError):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32",
                    reason="symbolic links")
def test_writing_through_a_symlink_replaces_its_target(tmp_path):
    real = tmp_path / "real.npl"
    real.write_text("old")
    link = tmp_path / "link.npl"
    link.symlink_to(real)
    write_atomic(link, "new")
    assert link.is_symlink()
    assert real.read_text() == "new"


def test_stale_temporaries_are_those_of_the_file(tmp_path):
    target = tmp_path / "prog.npl.lock"
    mine = tmp_path / ".prog.npl.lock.123-abcd.tmp"
    other = tmp_path / ".other.lock.123-abcd.tmp"
    for p in (target, mine, other):
        p.write_text("")
    assert stale_temporaries(target) == [str(mine)]
    assert stale_temporaries(tmp_path / "missing" / "x") == []


def test_concurrent_writers_leave_one_whole_version(tmp_path):
    target = tmp_path / "entry"
    versions = [bytes([k]) * 200_000 for k in range(8)]
    threads = [threading.Thread(target=write_atomic, args=(target, v)) for v in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert target.read_bytes() in versions
    assert leftovers(tmp_path) == []


def test_imports_only_the_standard_basics():
    """The `npl` fast path imports it: no pathlib, tempfile or NPL module."""
    import ast
    tree = ast.parse(open(fileio.__file__, encoding="utf-8").read())
    imported = {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"os", "contextlib", "__future__"}, imported
