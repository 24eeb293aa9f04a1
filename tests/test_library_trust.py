"""The module library as a supply chain: signed entries (a forged or copied
one is ignored with a warning), imported entries unverified until they pass
a hole's checks, no reuse on a hole that nothing checks, and the lock file
recording where a fill really came from, never what an entry claims."""
from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest

from conftest import npl_command
from npl.filling.library import (UNSIGNED_ORIGIN, Library, LibraryEntry, LibraryError,
                                 _signature_key, entry_to_json, library_entry_hash)
from npl.filling.library_key import key_path_for
from npl.filling.lockfile import Provenance

VOWELS = LibraryEntry(
    "function", ("str",), ("s",), "int", "Count the vowels a, e, i, o, u in s, in either case.",
    'def count_vowels(s: str) -> int:\n    return sum(1 for c in s.lower() if c in "aeiou")\n',
    examples=('example count_vowels("Hello") == 2',),
    provenance=Provenance("openai/gpt-4o", "gpt-4o", 1, 100, 20, 1.0))
# Signature and description match VOWELS' holes, but it is wrong.
WRONG_VOWELS = dataclasses.replace(
    VOWELS, fill="def count_vowels(s: str) -> int:\n    return len(s)\n",
    description="Count the vowels in s.")

# Worded nearly as VOWELS: without a model, only such wording (and the checks
# passed) lets an entry be reused (filling/meaning.py).
PROGRAM = '''\
def vowel_total(text: str) -> int:
    """Count the vowels a, e, i, o, u in text, in either case."""
    ...

example vowel_total("Banana") == 3
example vowel_total("QUEUE") == 4

def main():
    print(vowel_total("Offline filling"))
'''
UNCHECKED = '''\
def vowel_total(text: str) -> int:
    """How many vowels (a e i o u, upper or lower case) does the text contain?"""
    ...

def main():
    print(vowel_total("Offline filling"))
'''


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("NPL_LOCAL_MODEL", "off")


def run_npl(args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(npl_command() + args, cwd=cwd, capture_output=True, text=True,
                          env=dict(os.environ), timeout=180)


def lock_holes(path: Path) -> dict:
    data = tomllib.loads(path.with_name(path.name + ".lock").read_text("utf-8"))
    return {h["name"]: h for h in data.get("holes", {}).values()}


def forge(library_path: Path, entry: LibraryEntry, signature: str = "") -> str:
    """Write `entry` straight into the database, with a correct content hash
    (anyone can compute it) and `signature`; return its id."""
    entry = dataclasses.replace(entry, created="2026-01-01T00:00:00+00:00")
    entry = dataclasses.replace(entry, hash=library_entry_hash(entry))
    values = entry_to_json(entry)
    for name in ("param_types", "param_names", "examples", "properties", "provenance"):
        values[name] = json.dumps(values[name])
    with sqlite3.connect(library_path) as db:
        key = db.execute("SELECT signature_key FROM entries LIMIT 1").fetchone()
        db.execute("INSERT INTO entries (hash, signature_key, kind, param_types, param_names, "
                   "return_type, description, fill, examples, properties, provenance, created, "
                   "origin, verified, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', 1, ?)",
                   (entry.hash, key[0], entry.kind, values["param_types"], values["param_names"],
                    entry.return_type, entry.description, entry.fill, values["examples"],
                    values["properties"], values["provenance"], entry.created, signature))
    return entry.id


# ---------------------------------------------------------------- signatures

def test_key_is_private_and_beside_the_database(tmp_path):
    with Library(tmp_path / "lib") as lib:
        lib.add(VOWELS)
        key = key_path_for(lib.path)
    assert key == tmp_path / "lib" / "library.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_text().strip()) == 64
    with Library(tmp_path / "team.db") as lib:
        assert key_path_for(lib.path) == tmp_path / "team.key"


def test_forged_row_with_a_valid_hash_but_no_valid_signature_is_ignored(tmp_path):
    with Library(tmp_path / "lib") as lib:
        good = lib.add(VOWELS)
        path = lib.path
    unsigned = forge(path, WRONG_VOWELS)
    guessed = forge(path, dataclasses.replace(WRONG_VOWELS, description="Count vowels."),
                    signature="0" * 64)
    with Library(tmp_path / "lib") as lib:
        found = lib.search(["str"], "int", "count the vowels")
        assert [c.id for c in found.candidates] == [good]
        assert sorted(found.tampered) == sorted([unsigned, guessed])
        assert [e.id for e in lib.list()] == [good]
        with pytest.raises(LibraryError, match="signed with another library key"):
            lib.get(unsigned)


def test_a_database_copied_without_its_key_verifies_nothing(tmp_path):
    with Library(tmp_path / "mine") as lib:
        entry_id = lib.add(VOWELS)
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "library.sqlite3").write_bytes(
        (tmp_path / "mine" / "library.sqlite3").read_bytes())
    with Library(tmp_path / "copy") as lib:                 # a new key is made for the copy
        assert lib.list() == [] and lib.tampered() == [entry_id]


def test_a_key_other_users_can_read_or_a_damaged_key_is_refused(tmp_path):
    with Library(tmp_path / "lib") as lib:
        key = key_path_for(lib.path)
    key.chmod(0o644)
    with pytest.raises(LibraryError, match=r"open to other users \(mode 0644\).*chmod 600"):
        Library(tmp_path / "lib")
    key.chmod(0o600)
    key.write_text("not a key\n")
    with pytest.raises(LibraryError, match="damaged"):
        Library(tmp_path / "lib")


def test_fill_warns_about_a_forged_entry_and_does_not_use_it(tmp_path):
    with Library() as lib:
        lib.add(dataclasses.replace(VOWELS, description="Unrelated words entirely."))
        path = lib.path
    forged = forge(path, dataclasses.replace(
        VOWELS, fill="def count_vowels(s: str) -> int:\n    return len([c for c in s.lower() "
                     "if c in \"aeiou\"])\n"))
    (tmp_path / "prog.npl").write_text(PROGRAM)
    r = run_npl(["fill", "prog.npl"], tmp_path)
    assert r.returncode == 1                                   # nothing else could fill it
    assert f"library entry {forged} was modified outside npl or signed with another library key" \
        in r.stderr
    assert "Traceback" not in r.stderr


# ---------------------------------------------------------------- import

def exported(tmp_path: Path, *entries: LibraryEntry) -> Path:
    """An export file named team.json holding `entries`, made in another library."""
    with Library(tmp_path / "elsewhere") as other:
        for e in entries:
            other.add(e)
        other.export(tmp_path / "team.json")
    return tmp_path / "team.json"


def test_imported_entries_are_unverified_until_they_pass_a_hole(tmp_path):
    with Library() as lib:
        report = lib.import_(exported(tmp_path, VOWELS))
        assert report.added == 1
        [entry] = lib.list()
    assert (entry.origin, entry.verified) == ("imported from team.json", False)
    assert entry.standing == "imported from team.json, unverified"
    (tmp_path / "prog.npl").write_text(PROGRAM)
    r = run_npl(["fill", "prog.npl"], tmp_path)               # no model: the library fills it
    assert r.returncode == 0, r.stderr
    assert f"by library (entry {entry.id}, imported from team.json)" in r.stderr
    hole = lock_holes(tmp_path / "prog.npl")["vowel_total"]
    assert hole["provenance"]["source"] == "library"
    assert hole["provenance"]["library_entry"] == f"{entry.id}, imported from team.json"
    lock_text = (tmp_path / "prog.npl.lock").read_text()
    assert "gpt-4o" not in lock_text                          # the entry's claim is not copied
    with Library() as lib:
        [entry] = lib.list()
    assert (entry.origin, entry.verified) == ("imported from team.json", True)
    assert entry.standing == "imported from team.json"


def test_an_imported_entry_that_fails_the_hole_stays_unverified_and_unused(tmp_path):
    with Library() as lib:
        lib.import_(exported(tmp_path, WRONG_VOWELS))
        [entry] = lib.list()
    (tmp_path / "prog.npl").write_text(PROGRAM)
    r = run_npl(["fill", "prog.npl"], tmp_path)
    assert r.returncode == 1
    assert f"library: entry {entry.id} rejected (test:" in r.stderr
    with Library() as lib:
        assert [(e.id, e.verified) for e in lib.list()] == [(entry.id, False)]


def test_import_and_list_say_that_imported_entries_are_unverified(tmp_path):
    env = {**os.environ, "COLUMNS": "200"}
    path = exported(tmp_path, VOWELS)
    r = subprocess.run(npl_command() + ["library", "import", str(path)], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 0 and "imported entries are unverified" in r.stdout, r.stderr
    r = subprocess.run(npl_command() + ["library", "list"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert "imported from team.json, unverified; by openai/gpt-4o" in r.stdout
    with Library() as lib:
        entry_id = lib.list()[0].id
    r = subprocess.run(npl_command() + ["library", "show", entry_id], capture_output=True,
                       text=True, env=env, timeout=60)
    assert "imported from team.json, unverified" in r.stdout
    assert "as recorded by whoever added it" in r.stdout


def test_mark_verified_refuses_an_entry_that_no_longer_verifies(tmp_path):
    with Library(tmp_path / "lib") as lib:
        lib.import_(exported(tmp_path, VOWELS))
        [entry] = lib.list()
        with sqlite3.connect(lib.path) as db:
            db.execute("UPDATE entries SET description = 'edited'")
        with pytest.raises(LibraryError, match="no longer verifies"):
            lib.mark_verified(entry)


# ---------------------------------------------------------------- reuse rules

def test_no_reuse_on_a_hole_that_nothing_checks(tmp_path):
    with Library() as lib:
        lib.add(VOWELS)                                       # a verified entry that would fit
    (tmp_path / "prog.npl").write_text(UNCHECKED)
    r = run_npl(["fill", "prog.npl"], tmp_path)
    assert r.returncode == 1, r.stderr
    assert "library: not used: no example or property checks this hole" in r.stderr
    assert not (tmp_path / "prog.npl.lock").exists() or lock_holes(tmp_path / "prog.npl") == {}


def test_a_locally_verified_entry_is_recorded_as_library(tmp_path):
    with Library() as lib:
        entry_id = lib.add(VOWELS)
    (tmp_path / "prog.npl").write_text(PROGRAM)
    r = run_npl(["fill", "prog.npl"], tmp_path)
    assert r.returncode == 0, r.stderr
    hole = lock_holes(tmp_path / "prog.npl")["vowel_total"]
    assert (hole["provenance"]["source"], hole["provenance"]["library_entry"]) == \
        ("library", entry_id)
    assert hole["provenance"].get("model", "") == ""


# ---------------------------------------------------------------- schema 1 libraries

SCHEMA_1 = """
CREATE TABLE entries (hash TEXT PRIMARY KEY, signature_key TEXT NOT NULL, kind TEXT NOT NULL,
    param_types TEXT NOT NULL, param_names TEXT NOT NULL, return_type TEXT NOT NULL,
    description TEXT NOT NULL, fill TEXT NOT NULL, examples TEXT NOT NULL,
    properties TEXT NOT NULL, provenance TEXT NOT NULL, created TEXT NOT NULL);
"""


def test_a_schema_1_library_keeps_its_entries_as_unverified(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA_1)
        db.execute("PRAGMA user_version = 1")
        for e, edited in ((VOWELS, False), (WRONG_VOWELS, True)):
            e = dataclasses.replace(e, created="2025-01-01T00:00:00+00:00")
            e = dataclasses.replace(e, hash=library_entry_hash(e))
            v = entry_to_json(e)
            row = [e.hash, _signature_key(e.param_types, e.return_type), e.kind] + \
                [json.dumps(v[n]) for n in ("param_types", "param_names")] + \
                [e.return_type, e.description, e.fill + ("# edited\n" if edited else "")] + \
                [json.dumps(v[n]) for n in ("examples", "properties", "provenance")] + [e.created]
            db.execute(f"INSERT INTO entries VALUES ({', '.join('?' * 12)})", row)
    with Library(path) as lib:
        [kept] = lib.list()
        assert kept.fill == VOWELS.fill
        assert [c.id for c in lib.search(["str"], "int", "count vowels").candidates] == [kept.id]
        assert (kept.origin, kept.verified) == (UNSIGNED_ORIGIN, False)
        assert len(lib.tampered()) == 1                        # the edited row stays unsigned
    with Library(path) as lib:                                 # opening again changes nothing
        assert [e.id for e in lib.list()] == [kept.id] and len(lib.tampered()) == 1
