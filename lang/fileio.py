"""Writing a file all at once: a reader sees the old contents or the new,
never a part, and a crash mid-write leaves the old file in place.

`write_atomic(path, data)` and `atomic_writer(path)` (for data written in
pieces) write to a temporary file beside `path`, named `.NAME.RANDOM.tmp`,
flush it to disk, give it the permissions of the file it replaces (a new
file gets 0o666 less the umask, as `open` does), rename it over `path`
(`os.replace`, atomic on POSIX and Windows) and sync the folder, so that the
rename itself survives a crash. On any failure, an exception raised inside
`atomic_writer`'s block included, the temporary file is removed, `path` is
left as it was and the error propagates. A `path` that is a symbolic link
has its target replaced, as writing through the link would.

`stale_temporaries(path)` lists the temporary files of writers of `path`
that were killed mid-write, for a caller that holds a lock on `path` to
remove. The module imports only `os` and `contextlib` (the `npl` command's
fast path stores its cache with it).
"""
from __future__ import annotations

import os
from contextlib import contextmanager

__all__ = ["write_atomic", "atomic_writer", "stale_temporaries"]

_SUFFIX = ".tmp"
_O_BINARY = getattr(os, "O_BINARY", 0)       # Windows: no newline translation


def write_atomic(path: str | os.PathLike, data: bytes | str) -> None:
    """Replace the file `path` with `data` (a str is written as UTF-8),
    all at once. Creates missing parent folders."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with atomic_writer(path) as out:
        out.write(data)


@contextmanager
def atomic_writer(path: str | os.PathLike):
    """A binary file to write `path`'s new contents to; they replace the
    file when the block ends, and are dropped if it raises."""
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    fd, temp = _create_temporary(target)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        _copy_mode(target, temp)
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    _sync_folder(folder)


def stale_temporaries(path: str | os.PathLike) -> list[str]:
    """The temporary files that `write_atomic` writers of `path` left behind
    (killed before the rename). Only safe to delete while no writer runs."""
    target = os.path.realpath(path)
    folder, prefix = os.path.dirname(target), _prefix(target)
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [os.path.join(folder, n) for n in sorted(names)
            if n.startswith(prefix) and n.endswith(_SUFFIX)]


def _prefix(target: str) -> str:
    return "." + os.path.basename(target) + "."


def _create_temporary(target: str) -> tuple[int, str]:
    """Create a new, empty temporary file beside `target`: (fd, path)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY
    base = os.path.join(os.path.dirname(target), _prefix(target))
    while True:
        temp = f"{base}{os.getpid()}-{os.urandom(4).hex()}{_SUFFIX}"
        try:
            return os.open(temp, flags, 0o666), temp
        except FileExistsError:
            continue


def _copy_mode(target: str, temp: str) -> None:
    """Give `temp` the permission bits of `target`, if that exists."""
    try:
        mode = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        return
    os.chmod(temp, mode)


def _sync_folder(folder: str) -> None:
    """Make a rename in `folder` durable (POSIX; elsewhere a no-op)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
