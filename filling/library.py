"""The module library: every accepted fill, kept for reuse by later holes.

Takes in: `LibraryEntry` records from the filler (the signature, parameter
names, description and source of an accepted fill, the examples and
properties it passed, and its provenance). Gives back: for a new hole, the
stored entries with the same parameter types (in order; names may differ) and
the same return type, ranked by BM25 relevance of their descriptions to the
new hole's description (after the GENOME / CRAFT papers: a library of verified
modules retrieved by signature and meaning).

The library never decides that an entry is correct for a new hole. It is a
source of candidates only: the filler re-verifies every candidate against the
new hole's own examples and properties, exactly as it verifies a model's
fill, and only then accepts it.

Storage: one SQLite database, `library.sqlite3` in the folder named by the
`NPL_LIBRARY` environment variable (or that file itself when the variable
ends in `.sqlite3` / `.db`), by default in the user data folder. WAL mode, a
busy timeout and `BEGIN IMMEDIATE` transactions let several `npl` processes
read and write it at once.

Trust (docs/security.md, "The module library"). Every entry carries a
SHA-256 hash of its content (its id; exports carry it to catch damage) and an
HMAC-SHA256 signature, with the key local to the user beside the database
(filling/library_key.py), over its content and its standing: where it came
from (`origin`: "" when this npl verified and added it, "imported from FILE"
for `import_`) and whether it has passed a hole's checks here (`verified`).
An entry whose hash or signature does not verify (a row written behind
npl's back, a database without its key) is never returned, and is
reported. Imported entries start unverified and become verified when they
pass the checks of a hole that uses them (`mark_verified`).

The library also keeps the model's answers to meaning questions (does this
entry mean what that hole asks for? filling/meaning.py), keyed by the model
and the exact question and signed the same way, so a later fill asks the
model only about pairs it has not judged (`remember_judgement`,
`recall_judgement`). A row that does not verify is ignored: the model is
asked again.
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import math
import os
import re
import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, NamedTuple, Optional, Sequence, Union

import platformdirs

from npl.lang.errors import LockKind
from npl.lang.fileio import write_atomic

from .library_key import LibraryKeyError, library_key
from .lockfile import Provenance, provenance_fields

SCHEMA_VERSION = 2
EXPORT_FORMAT = "npl-library"
EXPORT_VERSION = 1
ID_LENGTH = 16
DB_NAME = "library.sqlite3"
DB_SUFFIXES = (".sqlite3", ".db")
BUSY_TIMEOUT_S = 30.0

PathLike = Union[str, os.PathLike]


TAMPERED = ("was modified outside npl or signed with another library key (its hash or "
            "signature does not verify)")


class LibraryError(LockKind):
    """A library that cannot be opened or used, or a request it cannot
    answer unambiguously (an id prefix matching several entries)."""


@dataclass(frozen=True)
class LibraryEntry:
    """One accepted fill. For an expression hole, the parameters are the
    variables the fill may read. `created` (ISO UTC) and `hash` are set by
    `Library.add` when empty."""
    kind: str                                 # "function" | "expression"
    param_types: tuple[str, ...]
    param_names: tuple[str, ...]
    return_type: str
    description: str
    fill: str
    examples: tuple[str, ...] = ()            # source text of the examples it passed
    properties: tuple[str, ...] = ()          # source text of the properties it passed
    provenance: Provenance = Provenance("manual")    # what its author recorded: a claim
    created: str = ""
    hash: str = ""
    # Its standing in this library (signed, not hashed, not exported):
    origin: str = ""                          # "" (added here) or "imported from FILE"
    verified: bool = True                     # passed a hole's checks here
    signature: str = field(default="", compare=False)     # set by Library

    def __post_init__(self) -> None:
        for name in ("param_types", "param_names", "examples", "properties"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.kind not in ("function", "expression"):
            raise ValueError(f"library entry kind must be 'function' or 'expression', "
                             f"not {self.kind!r}")
        if len(self.param_types) != len(self.param_names):
            raise ValueError(f"{len(self.param_types)} parameter types but "
                             f"{len(self.param_names)} parameter names")

    @property
    def id(self) -> str:
        return self.hash[:ID_LENGTH]

    @property
    def type_signature(self) -> str:
        """`(list[int], int) -> int`, for display."""
        return f"({', '.join(self.param_types)}) -> {self.return_type}"

    @property
    def standing(self) -> str:
        """Where it came from and whether it passed checks here, in words."""
        if not self.origin:
            return "verified here"
        return self.origin + ("" if self.verified else ", unverified")


@dataclass
class SearchResult:
    candidates: list[LibraryEntry] = field(default_factory=list)
    tampered: list[str] = field(default_factory=list)       # ids of skipped entries


@dataclass
class ImportReport:
    added: int = 0
    skipped_tampered: list[str] = field(default_factory=list)
    duplicates: int = 0


# ---------------------------------------------------------------- hashing

_FIELDS = ("kind", "param_types", "param_names", "return_type", "description", "fill",
           "examples", "properties", "provenance", "created")


def entry_to_json(entry: LibraryEntry) -> dict[str, Any]:
    """Every field, JSON-ready (the form used for hashing and exports)."""
    data = {name: getattr(entry, name) for name in _FIELDS}
    for name in ("param_types", "param_names", "examples", "properties"):
        data[name] = list(data[name])
    data["provenance"] = provenance_fields(entry.provenance)
    data["hash"] = entry.hash
    return data


def library_entry_hash(entry: LibraryEntry) -> str:
    """SHA-256 (hex) over the canonical JSON of every field but `hash`."""
    body = entry_to_json(entry)
    del body["hash"]
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(b"npl-library-entry-v1\n" + canonical.encode("utf-8")).hexdigest()


def entry_signature(entry: LibraryEntry, key: bytes) -> str:
    """HMAC-SHA256 (hex) with `key` over the entry's content, hash and standing."""
    body = entry_to_json(entry)
    body["origin"], body["verified"] = entry.origin, entry.verified
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, b"npl-library-signature-v1\n" + canonical.encode("utf-8"),
                    hashlib.sha256).hexdigest()


def entry_from_json(data: Any) -> LibraryEntry:
    """Parse an exported entry; ValueError/TypeError says what is wrong."""
    if not isinstance(data, dict):
        raise TypeError("entry is not an object")
    missing = [name for name in (*_FIELDS, "hash") if name not in data]
    if missing:
        raise ValueError(f"missing field {missing[0]!r}")
    values = {name: data[name] for name in (*_FIELDS, "hash")}
    provenance = values.pop("provenance")
    if not isinstance(provenance, dict):
        raise TypeError("provenance is not an object")
    for name in ("param_types", "param_names", "examples", "properties"):
        if not isinstance(values[name], list) or not all(isinstance(v, str) for v in values[name]):
            raise TypeError(f"{name} must be a list of strings")
    for name in ("kind", "return_type", "description", "fill", "created", "hash"):
        if not isinstance(values[name], str):
            raise TypeError(f"{name} must be a string")
    return LibraryEntry(provenance=Provenance(**provenance), **values)


def _same_content(a: LibraryEntry, b: LibraryEntry) -> bool:
    """The same fill for the same signature and description: one entry."""
    return (a.kind, a.param_types, a.return_type, a.description, a.fill) == \
           (b.kind, b.param_types, b.return_type, b.description, b.fill)


# ---------------------------------------------------------------- ranking

_STOPWORDS = frozenset("""
a an and are as at be by each every for from given if in into is it its of on or
that the their then this to was were which with return returns
""".split())


def tokenize(text: str) -> list[str]:
    """Lowercase words split on non-alphanumerics, stemmed; stopwords and
    single letters (usually variable names) dropped."""
    words = re.split(r"[^0-9a-z]+", text.lower())
    return [_stem(w) for w in words
            if w and w not in _STOPWORDS and (len(w) > 1 or w.isdigit())]


def _stem(word: str) -> str:
    """A light suffix stripper: plurals, then -ing / -ed, then a final -e, so
    that "values" / "value" and "sorted" / "sorting" / "sorts" meet."""
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"),
                         ("shes", "sh")):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            word = word[: -len(suffix)] + keep
            break
    else:
        if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
            word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def bm25_scores(query: str, documents: Sequence[str], k1: float = 1.2,
                b: float = 0.75) -> list[float]:
    """Okapi BM25 score of each document for the query, documents as corpus."""
    docs = [Counter(tokenize(d)) for d in documents]
    terms = set(tokenize(query))
    if not docs or not terms:
        return [0.0] * len(docs)
    average = sum(sum(d.values()) for d in docs) / len(docs) or 1.0
    frequency = {t: sum(1 for d in docs if t in d) for t in terms}
    scores = []
    for doc in docs:
        length = sum(doc.values())
        score = 0.0
        for term in terms:
            tf = doc.get(term, 0)
            if tf:
                idf = math.log(1 + (len(docs) - frequency[term] + 0.5) / (frequency[term] + 0.5))
                score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))
        scores.append(score)
    return scores


# ---------------------------------------------------------------- the library

def default_library_path() -> Path:
    """`NPL_LIBRARY` (a folder, or a .sqlite3/.db file), else the user data folder."""
    configured = os.environ.get("NPL_LIBRARY", "").strip()
    return _database_path(configured) if configured else \
        Path(platformdirs.user_data_dir("npl")) / DB_NAME


def _database_path(path: PathLike) -> Path:
    path = Path(path).expanduser()
    return path if path.suffix in DB_SUFFIXES else path / DB_NAME


def _signature_key(param_types: Iterable[str], return_type: str) -> str:
    """The lookup key of a signature; whitespace inside type names is ignored."""
    return json.dumps([[_squash(t) for t in param_types], _squash(return_type)])


def _squash(type_name: str) -> str:
    return re.sub(r"\s+", "", type_name)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    hash TEXT PRIMARY KEY,
    signature_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    param_types TEXT NOT NULL,
    param_names TEXT NOT NULL,
    return_type TEXT NOT NULL,
    description TEXT NOT NULL,
    fill TEXT NOT NULL,
    examples TEXT NOT NULL,
    properties TEXT NOT NULL,
    provenance TEXT NOT NULL,
    created TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT '',
    verified INTEGER NOT NULL DEFAULT 0,
    signature TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS entries_by_signature ON entries(signature_key);
CREATE TABLE IF NOT EXISTS judgements (
    question TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    same INTEGER NOT NULL,
    reply TEXT NOT NULL,
    at TEXT NOT NULL,
    signature TEXT NOT NULL
);
"""
# Version 1 had no signatures: its entries are kept, signed as unverified.
_SIGNING_COLUMNS = ("origin TEXT NOT NULL DEFAULT ''", "verified INTEGER NOT NULL DEFAULT 0",
                    "signature TEXT NOT NULL DEFAULT ''")
UNSIGNED_ORIGIN = "kept from before entries were signed"
_JSON_COLUMNS = ("param_types", "param_names", "examples", "properties", "provenance")
_COLUMNS = ("hash", "signature_key", *_FIELDS, "origin", "verified", "signature")


class Remembered(NamedTuple):
    """A model's answer to a meaning question (filling/meaning.py), kept."""
    model: str
    same: bool
    reply: str
    at: str                     # when it was asked (UTC, ISO 8601)


def judgement_signature(key: bytes, question: str, answer: Remembered) -> str:
    """HMAC-SHA256 (hex) with `key` over a kept judgement and its question."""
    canonical = json.dumps([question, *answer], separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, b"npl-library-judgement-v1\n" + canonical.encode("utf-8"),
                    hashlib.sha256).hexdigest()


class Library:
    """The module library in one SQLite file. Safe to share between threads
    (one connection behind a lock) and between processes (SQLite locking)."""

    def __init__(self, path: Optional[PathLike] = None):
        self.path = _database_path(path) if path is not None else default_library_path()
        self._mutex = threading.Lock()
        self._key = b""
        self._db = self._open()

    def close(self) -> None:
        with self._mutex:
            self._db.close()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- writing

    def add(self, entry: LibraryEntry) -> str:
        """Store an entry (stamping `created` and `hash` when empty, and
        signing it with its `origin` and `verified` as given: by default, a
        fill this npl verified); return its id. Adding an entry already
        present (same hash, or the same fill for the same signature and
        description) returns the existing id."""
        entry = self._stamped(entry)
        with self._write() as db:
            return self._insert(db, entry)[0]

    def mark_verified(self, entry: LibraryEntry) -> None:
        """Record that `entry` (an unverified one, e.g. imported) passed the
        checks of a hole here; its origin stays as it is."""
        if entry.verified:
            return
        with self._write() as db:
            rows = db.execute("SELECT * FROM entries WHERE hash = ?", (entry.hash,)).fetchall()
            if not self._check_rows(rows)[0]:
                raise LibraryError(f"library entry {entry.id} is gone or no longer verifies")
            promoted = dataclasses.replace(entry, verified=True)
            db.execute("UPDATE entries SET verified = 1, signature = ? WHERE hash = ?",
                       (entry_signature(promoted, self._key), entry.hash))

    # -- meaning judgements: what a model said about an entry and a hole

    def remember_judgement(self, question: str, model: str, same: bool, reply: str) -> None:
        """Keep a model's answer to the meaning question whose key is
        `question` (filling/meaning.py `question_key`), signed like an entry."""
        answer = Remembered(model, same, reply,
                            datetime.now(timezone.utc).isoformat(timespec="seconds"))
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO judgements VALUES (?, ?, ?, ?, ?, ?)",
                       (question, model, int(same), reply, answer.at,
                        judgement_signature(self._key, question, answer)))

    def recall_judgement(self, question: str) -> Optional[Remembered]:
        """The kept answer to `question`, or None (never asked, or a row
        whose signature does not verify: then the model is asked again)."""
        rows = self._query("SELECT * FROM judgements WHERE question = ?", (question,))
        if not rows:
            return None
        row = rows[0]
        answer = Remembered(row["model"], bool(row["same"]), row["reply"], row["at"])
        expected = judgement_signature(self._key, question, answer)
        return answer if hmac.compare_digest(row["signature"], expected) else None

    def remove(self, id_prefix: str) -> bool:
        """Delete the entry with this id prefix (tampered ones too)."""
        with self._write() as db:
            full = self._resolve(db, id_prefix)
            if full is None:
                return False
            db.execute("DELETE FROM entries WHERE hash = ?", (full,))
            return True

    def import_(self, path: PathLike) -> ImportReport:
        """Add the entries of an export file, as unverified ones whose origin
        is "imported from NAME" (the file's name). Entries whose hash does
        not verify (or that are malformed) are refused and reported by id."""
        raw_entries = _read_export(Path(path))
        report = ImportReport()
        origin = f"imported from {Path(path).name}"
        with self._write() as db:
            for index, raw in enumerate(raw_entries):
                entry = _verified_import(raw)
                if entry is None:
                    report.skipped_tampered.append(_claimed_id(raw, index))
                    continue
                entry = dataclasses.replace(entry, origin=origin, verified=False)
                _, inserted = self._insert(db, entry)
                report.added += inserted
                report.duplicates += not inserted
        return report

    # -- reading

    def search(self, param_types: list[str], return_type: str, description: str,
               limit: int = 5) -> SearchResult:
        """Entries with exactly these parameter types and return type whose
        description shares at least one word with `description`, best first."""
        key = _signature_key(param_types, return_type)
        rows = self._query("SELECT * FROM entries WHERE signature_key = ?", (key,))
        valid, tampered = self._check_rows(rows)
        scores = bm25_scores(description, [e.description for e in valid])
        ranked = sorted(zip(scores, valid), key=lambda pair: (-pair[0], pair[1].created,
                                                               pair[1].hash))
        candidates = [entry for score, entry in ranked if score > 0][:max(limit, 0)]
        return SearchResult(candidates, tampered)

    def list(self) -> list[LibraryEntry]:
        """Every entry whose hash and signature verify, oldest first."""
        return self._check_rows(self._query("SELECT * FROM entries ORDER BY created, hash"))[0]

    def tampered(self) -> list[str]:
        """Ids of the entries whose hash or signature does not verify."""
        return self._check_rows(self._query("SELECT * FROM entries ORDER BY created, hash"))[1]

    def get(self, id_prefix: str) -> Optional[LibraryEntry]:
        """The entry with this id prefix, None if there is none. Raises
        LibraryError for an ambiguous prefix or a tampered entry."""
        with self._mutex:
            full = self._resolve(self._db, id_prefix)
            rows = self._db.execute("SELECT * FROM entries WHERE hash = ?", (full,)).fetchall()
        if not rows:
            return None
        valid, tampered = self._check_rows(rows)
        if tampered:
            raise LibraryError(f"library entry {tampered[0]} {TAMPERED}; remove it")
        return valid[0]

    def export(self, path: PathLike) -> int:
        """Write every valid entry to a JSON file; return how many."""
        entries = self.list()
        document = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION,
                    "entries": [entry_to_json(e) for e in entries]}
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        write_atomic(path, text)
        return len(entries)

    # -- internals

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._key = library_key(self.path)
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                 check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            self._migrate(db)
            return db
        except (sqlite3.Error, OSError, LibraryKeyError) as err:
            raise LibraryError(f"cannot open the module library {self.path}: {err}") from err

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise LibraryError(f"module library {self.path} has schema version {version}, "
                                   f"newer than this npl understands ({SCHEMA_VERSION})")
            if version == 1:
                self._sign_unsigned(db)
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _sign_unsigned(self, db: sqlite3.Connection) -> None:
        """Schema 1 -> 2: add the signing columns; sign each entry whose hash
        verifies as an unverified one (a row that was edited stays unsigned,
        so it is ignored and reported like any other)."""
        for column in _SIGNING_COLUMNS:
            db.execute(f"ALTER TABLE entries ADD COLUMN {column}")
        for row in db.execute("SELECT * FROM entries").fetchall():
            try:
                entry = dataclasses.replace(_row_to_entry(row), origin=UNSIGNED_ORIGIN,
                                            verified=False)
            except (ValueError, TypeError):
                continue
            if library_entry_hash(entry) == entry.hash:
                db.execute("UPDATE entries SET origin = ?, verified = 0, signature = ? "
                           "WHERE hash = ?", (UNSIGNED_ORIGIN, entry_signature(entry, self._key),
                                              entry.hash))

    def _check_rows(self, rows: Iterable[sqlite3.Row]) -> tuple[list[LibraryEntry], list[str]]:
        """Split rows into entries whose hash and signature verify and the
        ids of the others."""
        valid: list[LibraryEntry] = []
        tampered: list[str] = []
        for row in rows:
            try:
                entry = _row_to_entry(row)
            except (ValueError, TypeError):
                tampered.append(str(row["hash"])[:ID_LENGTH])
                continue
            if library_entry_hash(entry) == entry.hash and \
                    hmac.compare_digest(entry.signature, entry_signature(entry, self._key)):
                valid.append(entry)
            else:
                tampered.append(entry.id)
        return valid, tampered

    def _write(self) -> "_Transaction":
        return _Transaction(self._db, self._mutex, self.path)

    def _query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._mutex:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as err:
                raise LibraryError(f"module library {self.path}: {err}") from err

    @staticmethod
    def _stamped(entry: LibraryEntry) -> LibraryEntry:
        if not entry.created:
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            entry = dataclasses.replace(entry, created=now, hash="")
        if not entry.hash:
            entry = dataclasses.replace(entry, hash=library_entry_hash(entry))
        elif entry.hash != library_entry_hash(entry):
            raise LibraryError(f"library entry {entry.id}: hash does not match its content")
        return entry

    def _insert(self, db: sqlite3.Connection, entry: LibraryEntry) -> tuple[str, bool]:
        """Sign `entry` and insert it unless present; return (id, whether it
        was inserted)."""
        key = _signature_key(entry.param_types, entry.return_type)
        rows = db.execute("SELECT * FROM entries WHERE signature_key = ?", (key,)).fetchall()
        for existing in self._check_rows(rows)[0]:
            if existing.hash == entry.hash or _same_content(existing, entry):
                return existing.id, False
        values = entry_to_json(entry)
        for name in _JSON_COLUMNS:
            values[name] = json.dumps(values[name], ensure_ascii=False)
        values.update(signature_key=key, origin=entry.origin, verified=int(entry.verified),
                      signature=entry_signature(entry, self._key))
        db.execute(f"INSERT OR REPLACE INTO entries ({', '.join(_COLUMNS)}) "
                   f"VALUES ({', '.join('?' * len(_COLUMNS))})",
                   tuple(values[c] for c in _COLUMNS))
        return entry.id, True

    @staticmethod
    def _resolve(db: sqlite3.Connection, id_prefix: str) -> Optional[str]:
        prefix = id_prefix.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{4,64}", prefix):
            raise LibraryError(f"{id_prefix!r} is not a library entry id "
                               "(at least 4 hexadecimal digits)")
        rows = db.execute("SELECT hash FROM entries WHERE hash >= ? AND hash < ? LIMIT 2",
                          (prefix, prefix + "g")).fetchall()
        if len(rows) > 1:
            raise LibraryError(f"library entry id {id_prefix!r} is ambiguous; give more digits")
        return rows[0][0] if rows else None


class _Transaction:
    """`BEGIN IMMEDIATE` ... `COMMIT` (or `ROLLBACK` on error) under the mutex."""

    def __init__(self, db: sqlite3.Connection, mutex: threading.Lock, path: Path):
        self.db, self.mutex, self.path = db, mutex, path

    def __enter__(self) -> sqlite3.Connection:
        self.mutex.acquire()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as err:
            self.mutex.release()
            raise LibraryError(f"module library {self.path} is busy or unusable: {err}") from err
        return self.db

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        except sqlite3.Error as err:
            if exc_type is None:
                raise LibraryError(f"module library {self.path}: {err}") from err
        finally:
            self.mutex.release()
        if isinstance(exc, sqlite3.Error):
            raise LibraryError(f"module library {self.path}: {exc}") from exc


# ---------------------------------------------------------------- rows and files

def _row_to_entry(row: sqlite3.Row) -> LibraryEntry:
    data = {name: row[name] for name in _FIELDS}
    for name in _JSON_COLUMNS:
        data[name] = json.loads(data[name])
    data["hash"] = row["hash"]
    entry = entry_from_json(data)
    keys = row.keys()
    if "signature" not in keys:                 # a schema 1 row, before migration
        return entry
    if not isinstance(row["origin"], str) or not isinstance(row["signature"], str):
        raise TypeError("origin and signature must be strings")
    return dataclasses.replace(entry, origin=row["origin"], verified=bool(row["verified"]),
                               signature=row["signature"])


def _read_export(path: Path) -> list[Any]:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise LibraryError(f"cannot read library export {path}: {err}") from err
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise LibraryError(f"{path}:{err.lineno}:{err.colno}: invalid library export: "
                           f"{err.msg}") from err
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        raise LibraryError(f"{path}: not an npl library export "
                           f"(expected \"format\": \"{EXPORT_FORMAT}\")")
    if document.get("version") != EXPORT_VERSION:
        raise LibraryError(f"{path}: unsupported library export version "
                           f"{document.get('version')!r} (this npl reads {EXPORT_VERSION})")
    entries = document.get("entries")
    if not isinstance(entries, list):
        raise LibraryError(f"{path}: \"entries\" must be a list")
    return entries


def _verified_import(raw: Any) -> Optional[LibraryEntry]:
    try:
        entry = entry_from_json(raw)
    except (ValueError, TypeError):
        return None
    if not entry.hash or library_entry_hash(entry) != entry.hash:
        return None
    return entry


def _claimed_id(raw: Any, index: int) -> str:
    claimed = raw.get("hash") if isinstance(raw, dict) else None
    if isinstance(claimed, str) and claimed:
        return claimed[:ID_LENGTH]
    return f"#{index}"
