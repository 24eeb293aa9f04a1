"""Reading the files a user names: programs, imported modules, lock files,
npl.toml.

`read_bytes(path, limit)` gives the bytes of a *regular* file of at most
`limit` bytes; `read_text` decodes them as UTF-8 with universal newlines,
as `open(path, encoding="utf-8")` reads. Anything else raises before
reading it whole or waiting on it: a directory, a FIFO (which would block
until a writer comes), a device such as /dev/zero (which never ends), a file
over the limit, all as `UnreadableFile` (an OSError whose `strerror` says
why); a missing file as FileNotFoundError; text that is not UTF-8 as
UnicodeDecodeError.
"""
from __future__ import annotations

import errno
import os
import stat

MAX_SOURCE_BYTES = 16 << 20           # a program or module file
MAX_SETTINGS_BYTES = 1 << 20          # npl.toml


class UnreadableFile(OSError):
    """A file npl will not read: not a regular file, or too big."""

    def __init__(self, path: str, reason: str, code: int = errno.EINVAL):
        super().__init__(code, reason, str(path))


def read_bytes(path, limit: int = MAX_SOURCE_BYTES) -> bytes:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)           # O_NONBLOCK: opening a FIFO does not wait for a writer
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise UnreadableFile(path, "it is a directory", errno.EISDIR)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile(path, "it is not a regular file (a device, FIFO or socket)")
        if info.st_size > limit:
            raise UnreadableFile(path, f"it is {info.st_size:,} bytes; npl reads files of at most "
                                       f"{limit:,} bytes", errno.EFBIG)
        chunks, size = [], 0
        while size <= limit:            # the file may grow while it is read
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise UnreadableFile(path, f"it is over {limit:,} bytes, the most npl reads",
                                 errno.EFBIG)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path, limit: int = MAX_SOURCE_BYTES) -> str:
    text = read_bytes(path, limit).decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n")
