"""Lock files for test programs, written at test time.

A hole's key hashes the fill protocol version (compiler/holes.py KEY_VERSION)
among other things, so a committed PROG.npl.lock goes stale whenever the
prompt changes. Test programs therefore keep their fills in PROG.fills.toml,

    [fills]
    count_vowels = '''
    def count_vowels(s: str) -> int:
        return ...'''
    "normalize@11" = "[x / total for x in xs]"

(hole name = fill source), and `write_lock` turns that into a valid,
stamped lock file for the current compiler.
"""
from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from npl.filling.lockfile import (LockEntry, Provenance, lock_location, lock_path_for, restamp,
                                   update_lock)
from npl.project import open_program


def fills_file(prog: Path) -> Path:
    return prog.with_name(prog.stem + ".fills.toml")


def read_fills(prog: Path) -> dict[str, str]:
    data = tomllib.loads(fills_file(prog).read_text(encoding="utf-8"))
    return {name: text.strip("\n") for name, text in data["fills"].items()}


def write_lock(prog: Path, fills: dict[str, str]) -> Path:
    """Write PROG.npl.lock holding `fills` (hole name -> fill source) as
    stamped manual entries. Every hole of the program must have a fill."""
    opened = open_program(str(prog), strict_fills=False)
    entries = {}
    path = lock_path_for(prog)
    for spec in opened.comp.holes:
        if spec.name not in fills:
            raise KeyError(f"{prog.name}: no fill for hole {spec.name!r} in {fills_file(prog).name}")
        entry = LockEntry(spec.key, spec.name, spec.kind, lock_location(spec.location, path),
                          spec.description,
                          spec.signature, fills[spec.name], Provenance(source="manual"), {})
        entries[spec.key] = restamp(entry)
    update_lock(path, lambda current: current.update(entries))
    return path


def with_lock(prog: Path, tmp: Path) -> Path:
    """`prog` itself when it has no fills; otherwise a copy of its folder
    under `tmp` with the lock file written, and the program in the copy."""
    if not fills_file(prog).exists():
        return prog
    folder = tmp / prog.stem / prog.parent.name
    shutil.copytree(prog.parent, folder)
    copy = folder / prog.name
    write_lock(copy, read_fills(copy))
    return copy
