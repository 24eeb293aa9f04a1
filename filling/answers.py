"""The answer store: every oracle answer, kept (SPEC section 10).

`PROGRAM.npl.answers`, beside the program, is a SQLite database: one row per
(oracle key, arguments, model) with the answer as JSON and its provenance
(model, tokens, seconds, attempts, when). SQLite gives what the store must
be: atomic writes, many writer processes and threads at once (WAL, a busy
timeout; `npl map`'s workers share one store), and a damaged file reported
as such (`AnswerStoreError`, exit 2), never silently emptied or replaced.

An oracle's key (compiler/holes.py) hashes its docstring, signature and
examples: editing one makes the oracle's old answers stale. They are not
used, and `npl answers PROG --prune` deletes them.
"""
from __future__ import annotations

import atexit
import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

from npl.lang.errors import LockKind

FORMAT = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    oracle_key TEXT NOT NULL,
    oracle     TEXT NOT NULL,
    args       TEXT NOT NULL,
    model      TEXT NOT NULL,
    answer     TEXT NOT NULL,
    provenance TEXT NOT NULL,
    created    TEXT NOT NULL,
    PRIMARY KEY (oracle_key, args, model)
);
"""


class AnswerStoreError(LockKind):
    """The answer store cannot be used (damaged, of another format,
    unwritable). Nothing in it is changed."""


@dataclass(frozen=True)
class Answer:
    oracle_key: str
    oracle: str
    args: str                      # canonical JSON of the argument list
    model: str
    answer: str                    # JSON of the value
    provenance: dict
    created: str

    @property
    def value(self) -> Any:
        return json.loads(self.answer)


def answers_path_for(program_path: str) -> str:
    return program_path + ".answers"


def canonical(data: Any) -> str:
    """The JSON text that keys arguments: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class AnswerStore:
    """One program's answers. Thread-safe; opened lazily, so a program whose
    oracles are never called creates no file."""

    def __init__(self, path: str):
        self.path = path
        self._db: Optional[sqlite3.Connection] = None
        self._lock = threading.Lock()

    # -- reading
    def get(self, oracle_key: str, args: str, model: Optional[str]) -> Optional[Answer]:
        """The stored answer for the call: `model`'s, else (model None) the
        newest of any model."""
        if self._db is None and not os.path.exists(self.path):
            return None
        where, params = "oracle_key = ? AND args = ?", [oracle_key, args]
        if model is not None:
            where += " AND model = ?"
            params.append(model)
        rows = self._query(f"SELECT * FROM answers WHERE {where} ORDER BY created DESC LIMIT 1", params)
        return _answer(rows[0]) if rows else None

    def all(self) -> list[Answer]:
        if self._db is None and not os.path.exists(self.path):
            return []
        return [_answer(r) for r in self._query("SELECT * FROM answers ORDER BY oracle, created", [])]

    # -- writing
    def put(self, oracle_key: str, oracle: str, args: str, model: str, answer: Any,
            provenance: dict) -> None:
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        row = (oracle_key, oracle, args, model, canonical(answer), canonical(provenance), created)
        self._execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)", row)

    def prune(self, live_keys: set[str]) -> int:
        """Delete the answers of oracle keys not in `live_keys`; how many."""
        stale = [a for a in self.all() if a.oracle_key not in live_keys]
        for key in {a.oracle_key for a in stale}:
            self._execute("DELETE FROM answers WHERE oracle_key = ?", (key,))
        return len(stale)

    def close(self) -> None:
        """Fold the write-ahead log into the database file and close it (a
        closed store is one file; it reopens on the next use)."""
        with self._lock:
            if self._db is not None:
                try:
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.DatabaseError:
                    pass                  # another process holds the log: it folds it in
                self._db.close()
                self._db = None

    # -- internals
    def _query(self, sql: str, params) -> list[tuple]:
        with self._lock:
            try:
                return self._open().execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise self._damaged(exc) from None

    def _execute(self, sql: str, params) -> None:
        with self._lock:
            try:
                db = self._open()
                with db:
                    db.execute(sql, params)
            except sqlite3.DatabaseError as exc:
                raise self._damaged(exc) from None

    def _open(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        try:
            db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False,
                                 isolation_level=None)
        except sqlite3.Error as exc:
            raise AnswerStoreError(f"cannot open the answer store {self.path}: {exc}") from None
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
            db.executescript(SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            if row is None:
                db.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (str(FORMAT),))
            elif row[0] != str(FORMAT):
                raise AnswerStoreError(f"the answer store {self.path} has format {row[0]}; this NPL "
                                       f"reads format {FORMAT}")
        except sqlite3.DatabaseError as exc:
            db.close()
            raise self._damaged(exc) from None
        except AnswerStoreError:
            db.close()
            raise
        self._db = db
        atexit.register(self.close)
        return db

    def _damaged(self, exc: Exception) -> AnswerStoreError:
        return AnswerStoreError(f"the answer store {self.path} cannot be used ({exc}); it was left "
                                "as it is: move it aside to start a new one")


def _answer(row: tuple) -> Answer:
    key, oracle, args, model, answer, provenance, created = row
    try:
        prov = json.loads(provenance)
    except ValueError:
        prov = {}
    return Answer(key, oracle, args, model, answer, prov, created)
