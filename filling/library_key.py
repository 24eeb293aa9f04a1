"""The module library's signing key: a secret local to the user, with which
filling/library.py signs every entry it stores (HMAC-SHA256).

Takes the path of a library database and gives back the key of that library:
32 random bytes kept as hex in `NAME.key` beside `NAME.sqlite3` (or `.db`),
created on first use with permissions 0600 (read and write for the owner
only). A database file that arrives without its key (copied, synced, or
written by someone who cannot read the key) holds no entry that verifies.

Refused, with a LibraryKeyError saying why: a key file that is not 64
hexadecimal digits, and on POSIX systems one that other users may read or
write (they could sign entries of their own).
"""
from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from pathlib import Path

from npl.lang.errors import LockKind

KEY_BYTES = 32
KEY_SUFFIX = ".key"
PRIVATE = 0o600


class LibraryKeyError(LockKind):
    """A key file that cannot be read, created or trusted."""


def key_path_for(database: Path) -> Path:
    """`library.key` beside `library.sqlite3`."""
    return database.with_suffix(KEY_SUFFIX)


def library_key(database: Path) -> bytes:
    """The key beside `database`, created when there is none."""
    path = key_path_for(database)
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                     PRIVATE)
    except FileExistsError:                  # another npl process made it just now
        return _read(path)
    except OSError as err:
        raise LibraryKeyError(f"cannot create the library key {path}: {err.strerror}") from err
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(KEY_BYTES) + "\n")
    return _read(path)


def _read(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise
    except OSError as err:
        why = "it is a symbolic link" if err.errno == errno.ELOOP else err.strerror
        raise LibraryKeyError(f"cannot read the library key {path}: {why}") from err
    with os.fdopen(fd, "r", encoding="ascii", errors="replace") as f:
        mode = os.fstat(f.fileno()).st_mode
        text = f.read(4 * KEY_BYTES).strip()
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise LibraryKeyError(f"the library key {path} is open to other users (mode "
                              f"{stat.S_IMODE(mode):04o}); make it private with "
                              f"`chmod 600 {path}`")
    if not re.fullmatch(rf"[0-9a-f]{{{2 * KEY_BYTES}}}", text):
        raise LibraryKeyError(f"the library key {path} is damaged (expected "
                              f"{2 * KEY_BYTES} hexadecimal digits); delete it to start a new "
                              "key (entries signed with the old one are then ignored)")
    return bytes.fromhex(text)
