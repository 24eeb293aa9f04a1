"""Module library: storage, signature-filtered BM25 search, integrity, export/import."""
from __future__ import annotations

import dataclasses
import json
import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from npl.filling.library import (
    Library, LibraryEntry, LibraryError, bm25_scores, library_entry_hash, tokenize,
)
from npl.filling.lockfile import Provenance

FORK = multiprocessing.get_context("fork")


@pytest.fixture(autouse=True)
def isolated_library_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may touch the real user data folder."""
    monkeypatch.setenv("NPL_LIBRARY", str(tmp_path / "default-library"))


@pytest.fixture
def library(tmp_path: Path):
    with Library(tmp_path / "lib") as lib:
        yield lib


def entry(description: str, fill: str = "    return 0\n", *, params=(("s", "str"),),
          returns: str = "int", kind: str = "function") -> LibraryEntry:
    return LibraryEntry(
        kind=kind, param_types=[t for _, t in params], param_names=[n for n, _ in params],
        return_type=returns, description=description, fill=fill,
        examples=[f"f({params[0][0]!r}) == 0"] if params else [],
        properties=["property p(s: str): f(s) >= 0"],
        provenance=Provenance("openai/gpt-4o", "gpt-4o", attempts=1, prompt_tokens=10,
                              completion_tokens=5, seconds=0.5))


STRING_COUNTERS = [
    entry("Count the digits 0-9 that occur in s.", "    return sum(c.isdigit() for c in s)\n"),
    entry("Count the vowels a, e, i, o, u in s, in either case.",
          "    return sum(c in 'aeiou' for c in s.lower())\n"),
    entry("Return the length of the longest word in s.",
          "    return max((len(w) for w in s.split()), default=0)\n"),
    entry("Count the uppercase letters in s.", "    return sum(c.isupper() for c in s)\n"),
]


# ---------------------------------------------------------------- storage

def test_add_get_list_and_idempotent_add(library: Library) -> None:
    ids = [library.add(e) for e in STRING_COUNTERS]
    assert len(set(ids)) == 4 and all(len(i) == 16 for i in ids)
    assert library.add(STRING_COUNTERS[1]) == ids[1]               # same fill again: one entry
    stored = library.get(ids[1][:6])
    assert stored.id == ids[1] and stored.hash.startswith(ids[1])
    assert stored.hash == library_entry_hash(stored) and stored.created
    assert dataclasses.replace(stored, created="", hash="") == STRING_COUNTERS[1]
    assert library.add(stored) == ids[1]
    assert sorted(e.id for e in library.list()) == sorted(ids)


def test_remove(library: Library) -> None:
    kept, gone = library.add(STRING_COUNTERS[0]), library.add(STRING_COUNTERS[1])
    assert library.remove(gone[:8]) is True
    assert library.remove(gone[:8]) is False
    assert library.get(gone) is None
    assert [e.id for e in library.list()] == [kept]
    with pytest.raises(LibraryError, match="not a library entry id"):
        library.remove("xyz")


def test_entry_with_a_wrong_hash_is_refused(library: Library) -> None:
    stamped = library.get(library.add(STRING_COUNTERS[0]))
    forged = dataclasses.replace(stamped, fill="    return 42\n")
    with pytest.raises(LibraryError, match="hash does not match"):
        library.add(forged)


def test_parameter_names_and_types_must_line_up() -> None:
    with pytest.raises(ValueError, match="1 parameter types but 2 parameter names"):
        LibraryEntry("function", ["int"], ["a", "b"], "int", "d", "    return a\n")


# ---------------------------------------------------------------- search

def test_search_ranks_a_differently_worded_description_first(library: Library) -> None:
    for e in STRING_COUNTERS:
        library.add(e)
    vowels = library.search(["str"], "int", "How many vowel characters does the text contain?")
    assert vowels.candidates[0].description.startswith("Count the vowels")
    digits = library.search(["str"], "int", "number of decimal digits in a string")
    assert digits.candidates[0].description.startswith("Count the digits")
    words = library.search(["str"], "int", "length of the longest of the words")
    assert words.candidates[0].description.startswith("Return the length of the longest")
    assert vowels.tampered == digits.tampered == []


def test_search_never_returns_another_signature(library: Library) -> None:
    description = "Count the vowels a, e, i, o, u in s."
    library.add(entry(description, params=(("s", "list[str]"),)))
    library.add(entry(description, returns="bool"))
    library.add(entry(description, params=(("s", "str"), ("n", "int"))))
    library.add(entry(description, params=()))
    assert library.search(["str"], "int", description).candidates == []
    match = library.add(entry(description))
    assert [c.id for c in library.search(["str"], "int", description).candidates] == [match]


def test_renamed_parameters_and_spacing_in_types_still_match(library: Library) -> None:
    stored = library.add(entry("Sum the counts of every key in d.",
                               params=(("d", "dict[str, int]"), ("key_list", "list[str]"))))
    found = library.search(["dict[str,int]", "list[ str ]"], "int",
                           "total of the counts for the keys")
    assert [c.id for c in found.candidates] == [stored]
    assert found.candidates[0].param_names == ("d", "key_list")


def test_search_skips_unrelated_descriptions_and_honours_limit(library: Library) -> None:
    for e in STRING_COUNTERS:
        library.add(e)
    assert library.search(["str"], "int", "checksum modulo prime").candidates == []
    counted = library.search(["str"], "int", "count things in s", limit=2).candidates
    assert len(counted) == 2 and all("Count" in c.description for c in counted)


def test_tampered_row_is_skipped_and_reported(library: Library, tmp_path: Path) -> None:
    ids = [library.add(e) for e in STRING_COUNTERS]
    with sqlite3.connect(library.path) as raw:
        raw.execute("UPDATE entries SET fill = ? WHERE hash LIKE ?",
                    ("    return 999\n", ids[1] + "%"))
    result = library.search(["str"], "int", "count the vowels")
    assert ids[1] not in [c.id for c in result.candidates]
    assert result.tampered == [ids[1]]
    assert ids[1] not in [e.id for e in library.list()] and library.tampered() == [ids[1]]
    with pytest.raises(LibraryError, match="modified outside npl"):
        library.get(ids[1])
    assert library.export(tmp_path / "out.json") == 3
    assert library.remove(ids[1]) and library.tampered() == []


# ---------------------------------------------------------------- export / import

def test_export_import_round_trip(library: Library, tmp_path: Path) -> None:
    for e in STRING_COUNTERS:
        library.add(e)
    exported = tmp_path / "export.json"
    assert library.export(exported) == 4
    document = json.loads(exported.read_text("utf-8"))
    assert (document["format"], document["version"]) == ("npl-library", 1)
    assert all(len(e["hash"]) == 64 for e in document["entries"])
    with Library(tmp_path / "other.sqlite3") as other:
        report = other.import_(exported)
        assert (report.added, report.skipped_tampered, report.duplicates) == (4, [], 0)
        imported = other.list()
        assert {(e.origin, e.verified) for e in imported} == {("imported from export.json", False)}
        assert [dataclasses.replace(e, origin="", verified=True) for e in imported] == library.list()
        again = other.import_(exported)
        assert (again.added, again.duplicates) == (0, 4)


def test_import_refuses_tampered_and_malformed_entries(library: Library, tmp_path: Path) -> None:
    for e in STRING_COUNTERS:
        library.add(e)
    exported = tmp_path / "export.json"
    library.export(exported)
    document = json.loads(exported.read_text("utf-8"))
    document["entries"][2]["fill"] = "    return 1\n"
    del document["entries"][3]["description"]
    exported.write_text(json.dumps(document), "utf-8")
    with Library(tmp_path / "other.db") as other:
        report = other.import_(exported)
        bad = [document["entries"][i]["hash"][:16] for i in (2, 3)]
        assert (report.added, report.skipped_tampered) == (2, bad)
        assert {e.id for e in other.list()} == {e["hash"][:16] for e in document["entries"][:2]}


@pytest.mark.parametrize("text, message", [
    ('{"format": "npl-library",\n "version": 1,\n "entries": [}', r":3:14: invalid library export"),
    ('{"format": "other", "version": 1, "entries": []}', "not an npl library export"),
    ('{"format": "npl-library", "version": 7, "entries": []}',
     "unsupported library export version 7"),
])
def test_unusable_export_files_are_errors(library: Library, tmp_path: Path, text: str,
                                          message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text, "utf-8")
    with pytest.raises(LibraryError, match=message):
        library.import_(path)


# ---------------------------------------------------------------- location and opening

def test_npl_library_env_var_names_the_folder_or_the_file(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPL_LIBRARY", str(tmp_path / "shared"))
    with Library() as lib:
        assert lib.path == tmp_path / "shared" / "library.sqlite3"
        lib.add(STRING_COUNTERS[0])
    assert (tmp_path / "shared" / "library.sqlite3").is_file()
    monkeypatch.setenv("NPL_LIBRARY", str(tmp_path / "team.db"))
    with Library() as lib:
        assert lib.path == tmp_path / "team.db" and lib.list() == []
    assert (tmp_path / "team.db").is_file()


def test_unusable_database_files_are_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LibraryError, match="cannot open the module library"):
        Library(junk)
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as raw:
        raw.execute("PRAGMA user_version = 99")
    with pytest.raises(LibraryError, match="schema version 99"):
        Library(newer)


def _add_batch(path: str, writer: int, count: int) -> None:
    with Library(path) as lib:
        for i in range(count):
            lib.add(entry(f"helper number {i} written by process {writer}",
                          f"    return {writer * 1000 + i}\n"))


def test_concurrent_writers_keep_every_entry(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite3")
    Library(path).close()
    procs = [FORK.Process(target=_add_batch, args=(path, w, 25)) for w in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    with Library(path) as lib:
        assert len(lib.list()) == 75 and lib.tampered() == []


# ---------------------------------------------------------------- ranking internals

def test_tokenize_stems_and_drops_stopwords() -> None:
    assert tokenize("Return the sorted values of xs") == tokenize("sorting each value in xs")
    assert tokenize("count_vowels: Counts VOWELS in s") == ["count", "vowel", "count", "vowel"]


def test_bm25_prefers_rare_terms_and_repeated_terms() -> None:
    documents = ["sum list", "sum list prime", "sum list", "sum sum list"]
    scores = bm25_scores("prime sum", documents)
    assert max(range(4), key=scores.__getitem__) == 1              # the rare term decides
    assert scores[3] > scores[0] == scores[2] > 0                  # term frequency counts
    assert bm25_scores("unrelated", documents) == [0.0] * 4
