"""`npl library list | show | remove | export | import`, run as the real
command (a subprocess) against the per-test library that conftest.py names
with NPL_LIBRARY: tables, tampered entries, and clear errors with exit
codes (1 for an unknown / ambiguous / tampered id or a bad file, 2 for a
malformed id)."""
from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from conftest import npl_command
from npl.filling.library import Library, LibraryEntry, library_entry_hash
from npl.filling.lockfile import Provenance

VOWELS = LibraryEntry(
    "function", ("str",), ("s",), "int", "Count the vowels a, e, i, o, u in s, in either case.",
    'def count_vowels(s: str) -> int:\n    return sum(1 for c in s.lower() if c in "aeiou")\n',
    examples=('example count_vowels("Hello") == 2',),
    properties=("property vowels_bounded(s: str):\n    count_vowels(s) <= len(s)",),
    provenance=Provenance("openai/gpt-4o", "gpt-4o", 2, 120, 30, 1.5))
DOUBLE = LibraryEntry(
    "function", ("list[int]",), ("xs",), "list[int]", "Each element of xs times two.",
    "def double_all(xs: list[int]) -> list[int]:\n    return [x + x for x in xs]\n",
    examples=("example double_all([1, 2]) == [2, 4]",), provenance=Provenance("synth", seconds=0.2))


def npl(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}          # wide tables: one line per entry
    return subprocess.run(npl_command() + ["library", *args], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=60)


@pytest.fixture
def ids() -> list[str]:
    with Library() as lib:
        return [lib.add(VOWELS), lib.add(DOUBLE)]


def tamper(entry_id: str, fill: str) -> None:
    """Edit an entry's row behind the library's back (its hash now lies)."""
    with Library() as lib:
        path = lib.path
    with sqlite3.connect(path) as db:
        changed = db.execute("UPDATE entries SET fill = ? WHERE hash LIKE ?",
                             (fill, entry_id + "%")).rowcount
    assert changed == 1


def test_list_shows_a_table_of_every_entry(ids):
    r = npl("list")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert "module library" in lines[0] and os.environ["NPL_LIBRARY"] in lines[0]
    assert any(c in r.stdout for c in "┃│|")                       # a drawn table
    vowels = next(line for line in lines if ids[0] in line)
    assert "count_vowels(s: str) -> int" in vowels and "Count the vowels" in vowels
    assert "openai/gpt-4o, 2 attempts" in vowels
    double = next(line for line in lines if ids[1] in line)
    assert "double_all(xs: list[int]) -> list[int]" in double and "synth" in double
    assert lines[-1] == "2 entries"


def test_list_of_an_empty_library_says_so():
    r = npl("list")
    assert r.returncode == 0 and "is empty" in r.stdout


def test_show_prints_code_checks_and_provenance(ids):
    r = npl("show", ids[0][:6])                                   # a prefix is enough
    assert r.returncode == 0, r.stderr
    out = r.stdout
    with Library() as lib:
        full = lib.get(ids[0]).hash
    assert full in out and ids[0] in out
    assert "count_vowels(s: str) -> int" in out and "(str) -> int" in out
    assert "Count the vowels a, e, i, o, u in s, in either case." in out
    assert "openai/gpt-4o, 2 attempts" in out and "2 attempt(s), 120+30 tokens, 1.5 s" in out
    assert 'example count_vowels("Hello") == 2' in out
    assert "property vowels_bounded(s: str):" in out
    assert 'return sum(1 for c in s.lower() if c in "aeiou")' in out


def test_unknown_malformed_and_ambiguous_ids_are_clear_errors(tmp_path):
    # Two entries whose ids share their first four digits (found by varying the wording).
    by_prefix: dict[str, LibraryEntry] = {}
    for i in range(20000):
        e = dataclasses.replace(DOUBLE, description=f"Each element of xs times two ({i}).",
                                created="2026-01-01T00:00:00+00:00")
        e = dataclasses.replace(e, hash=library_entry_hash(e))
        if e.id[:4] in by_prefix:
            pair = [by_prefix[e.id[:4]], e]
            break
        by_prefix[e.id[:4]] = e
    with Library() as lib:
        for e in pair:
            lib.add(e)
        assert {x.id for x in lib.list()} == {e.id for e in pair}
    prefix = pair[0].id[:4]
    for command in ("show", "remove"):
        r = npl(command, prefix)
        assert r.returncode == 1 and "ambiguous" in r.stderr and "Traceback" not in r.stderr
        r = npl(command, "0000000f0000")
        if r.returncode == 0:                                      # an astronomically unlikely hit
            continue
        assert r.returncode == 1 and "no library entry with id '0000000f0000'" in r.stderr
        r = npl(command, "not-an-id")
        assert r.returncode == 2 and "is not a library entry id" in r.stderr
    with Library() as lib:
        assert len(lib.list()) == 2                                # nothing was removed


def test_remove_deletes_one_entry(ids):
    r = npl("remove", ids[1])
    assert r.returncode == 0, r.stderr
    assert f"removed library entry {ids[1]}" in r.stdout and "double_all" in r.stdout
    with Library() as lib:
        assert [e.id for e in lib.list()] == [ids[0]]
    r = npl("remove", ids[1])
    assert r.returncode == 1 and "no library entry" in r.stderr


def test_tampered_entry_is_reported_and_can_be_removed(ids):
    tamper(ids[0], "def count_vowels(s: str) -> int:\n    return 2\n")
    r = npl("list")
    assert r.returncode == 0
    assert ids[0] not in r.stdout and ids[1] in r.stdout
    assert "1 entry, 1 tampered" in r.stdout
    assert f"library entry {ids[0]} was modified outside npl" in r.stderr
    assert f"npl library remove {ids[0]}" in r.stderr
    r = npl("show", ids[0])
    assert r.returncode == 1 and "modified outside npl" in r.stderr and "return 2" not in r.stdout
    r = npl("export", "out.json", cwd=Path(os.environ["NPL_LIBRARY"]))
    assert r.returncode == 0 and "exported 1 entry" in r.stdout
    assert "left out of the export" in r.stderr
    r = npl("remove", ids[0][:8])
    assert r.returncode == 0 and f"removed tampered library entry {ids[0]}" in r.stdout
    r = npl("list")
    assert r.returncode == 0 and r.stderr == "" and r.stdout.splitlines()[-1] == "1 entry"


def test_export_then_import_into_another_library(ids, tmp_path):
    exported = tmp_path / "lib.json"
    r = npl("export", str(exported))
    assert r.returncode == 0 and f"exported 2 entries to {exported}" in r.stdout
    document = json.loads(exported.read_text("utf-8"))
    assert document["format"] == "npl-library"
    assert sorted(e["hash"][:16] for e in document["entries"]) == sorted(ids)
    other = {**os.environ, "NPL_LIBRARY": str(tmp_path / "other")}
    run = lambda *a: subprocess.run(npl_command() + ["library", *a], capture_output=True,  # noqa: E731
                                    text=True, env={**other, "COLUMNS": "200"}, timeout=60)
    r = run("import", str(exported))
    assert r.returncode == 0 and "imported 2 entries" in r.stdout, r.stderr
    r = run("import", str(exported))
    assert r.returncode == 0 and "imported 0 entries" in r.stdout and "2 already present" in r.stdout
    r = run("list")
    assert all(i in r.stdout for i in ids) and r.stdout.splitlines()[-1] == "2 entries"
    with Library(tmp_path / "other") as lib:
        copied = lib.get(ids[0])
    assert (copied.fill, copied.provenance, copied.examples) == \
        (VOWELS.fill, VOWELS.provenance, VOWELS.examples)


def test_import_refuses_an_edited_entry_and_keeps_the_rest(ids, tmp_path):
    exported = tmp_path / "lib.json"
    assert npl("export", str(exported)).returncode == 0
    document = json.loads(exported.read_text("utf-8"))
    edited = next(e for e in document["entries"] if e["hash"].startswith(ids[0]))
    edited["fill"] = edited["fill"].replace('s.lower()', 's')       # a subtly worse fill
    exported.write_text(json.dumps(document), "utf-8")
    env = {**os.environ, "NPL_LIBRARY": str(tmp_path / "other")}
    r = subprocess.run(npl_command() + ["library", "import", str(exported)], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 1
    assert "imported 1 entry" in r.stdout
    assert f"entry {ids[0]} refused" in r.stderr and "hash does not match" in r.stderr
    with Library(tmp_path / "other") as lib:
        assert [e.id for e in lib.list()] == [ids[1]]


@pytest.mark.parametrize("text, message", [
    ("{not json", "invalid library export"),
    ('{"format": "something-else", "entries": []}', "not an npl library export"),
    ('{"format": "npl-library", "version": 99, "entries": []}', "unsupported library export version 99"),
    ('{"format": "npl-library", "version": 1, "entries": {}}', '"entries" must be a list'),
])
def test_bad_export_files_are_errors(tmp_path, text, message):
    bad = tmp_path / "bad.json"
    bad.write_text(text, "utf-8")
    r = npl("import", str(bad))
    assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr
    r = npl("import", str(tmp_path / "absent.json"))
    assert r.returncode == 1 and "cannot read library export" in r.stderr


def test_a_turned_off_library_is_an_error(monkeypatch):
    monkeypatch.setenv("NPL_LIBRARY", "off")
    r = npl("list")
    assert r.returncode == 1 and "turned off (NPL_LIBRARY=off)" in r.stderr


def test_library_commands_are_listed_in_help():
    r = subprocess.run(npl_command() + ["library", "--help"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0
    for command in ("list", "show", "remove", "export", "import"):
        assert command in r.stdout
