"""`npl fill` and `npl verify`: open the program, fill or re-verify its
holes (filling/filler.py, filling/audit.py), print what happened and give
the exit status."""
from __future__ import annotations

import sys
from typing import Optional, TextIO

from npl.filling.audit import reverify
from npl.filling.filler import FillFailedError, UnknownHoleError, targets_for
from npl.filling.lockfile import lock_path_for
from npl.filling.settings import MAX_CANDIDATES
from npl.lang.diagnostics import CompileError
from npl.lang.errors import ConfigKind
from npl.project import fill_missing, missing_fill_errors, open_program


class CandidatesError(ConfigKind, ValueError):
    """`npl fill --candidates K` with K above MAX_CANDIDATES."""


def fill_command(path: str, *, frozen: bool, model: Optional[str], refresh: list[str],
                 log: Optional[TextIO] = None, candidates: Optional[int] = None) -> int:
    """Fill what is missing (and what `refresh` names); `log` gets every
    attempt of every source as a JSON line (filling/attempts.py);
    `candidates` (--candidates K) overrides npl.toml's [fill] candidates."""
    if candidates is not None and candidates > MAX_CANDIDATES:
        raise CandidatesError(f"--candidates {candidates}: at most {MAX_CANDIDATES} candidates "
                              "may be drawn per hole")
    prog = open_program(path, strict_fills=False)
    if candidates is not None:
        prog.settings.candidates = candidates
    if frozen:
        if refresh:
            targets_for(prog.comp, refresh)          # an unknown name is still an error
            raise UnknownHoleError("--refresh fills a hole again, which --frozen forbids: "
                                   "drop one of them")
        if prog.missing or prog.comp.rejected:
            raise CompileError(missing_fill_errors(prog), prog.comp.sources)
        print(f"{path}: every hole is filled")
        return 0
    _, result = fill_missing(prog, model=model, refresh=refresh, log=log)
    if result.failures:
        print(str(FillFailedError(result)), file=sys.stderr)
        return 1
    return 0


def verify_command(path: str, check: bool = False) -> int:
    result = reverify(open_program(path, strict_fills=False), write=not check)
    lock = lock_path_for(path)
    for where, name, why in result.failed:
        print(f"{where}: error: lock entry for hole '{name}' failed verification:\n"
              + indent(why), file=sys.stderr)
    for entry in result.stale:
        print(f"{lock}: warning: lock entry for '{entry.name}' ({entry.key}) matches no hole "
              "of the program (stale; `npl fill` removes it)", file=sys.stderr)
    for entry in result.verified:
        print(f"{entry.location}: verified '{entry.name}' ({entry.provenance.source})"
              + ("; hand-edited, so ignored until `npl verify` stamps it"
                 if check and entry.key in result.edited else ""))
    print(f"{lock}: {len(result.verified)} verified, {len(result.failed)} failed"
          + (f", {len(result.stale)} stale" if result.stale else ""))
    return 1 if result.failed else 0


def indent(text: str) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines())
