"""Where a program's companion files are: its lock file and its settings.

    PROG.npl.lock   beside the program (filling/lockfile.py reads and writes it)
    PROG.npl.attempts.jsonl   beside it: the last fill's attempts of each hole
                    (filling/attempts.py; a record, never read to fill)
    npl.toml        in the folder of the program's resolved path (npl/project.py)

Plain string paths and nothing but `os`: the cached `npl run`
(npl/runcache.py) keys its entries on both files and must start fast.
"""
from __future__ import annotations

import os

SETTINGS_FILE = "npl.toml"


def lock_path(program: str) -> str:
    """PROG.npl.lock beside PROG.npl."""
    folder, name = os.path.split(program)
    return os.path.join(folder, name + ".lock")


def settings_path(program: str) -> str:
    """The npl.toml whose settings apply to `program`: beside the file it
    resolves to (through symbolic links)."""
    return os.path.join(os.path.dirname(os.path.realpath(program)), SETTINGS_FILE)


def attempts_path(program: str) -> str:
    """PROG.npl.attempts.jsonl beside PROG.npl."""
    folder, name = os.path.split(program)
    return os.path.join(folder, name + ".attempts.jsonl")
