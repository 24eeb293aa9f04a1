"""Re-verifying a lock file: `npl verify PROG.npl`, and hand-written fills
during `npl fill`.

A lock entry is trusted because it was verified, not because it is in the
file: its hash only says it has not changed since. `npl verify` re-runs the
verification of every entry — stamped ones, hand-written ones
(`provenance.source = "manual"`, no hash) and hand-edited ones (hash
mismatch) — exactly as a new fill is verified (compile in place, test-gaming
check, every example and property that exercises it, in the sandbox worker
under the npl.toml limits). An entry that passes is restamped with a fresh
verification record (a hand-edited one becomes `manual`: its text is no
longer what its recorded source produced); one that fails is reported with
the reason and left as it is (a hand-edited or unstamped entry is then still
not used). Entries whose key matches no hole of the program are reported as
stale (`npl fill` prunes them).

`npl verify --check` verifies the same way and writes nothing (for CI: the
lock file stays byte for byte as committed). The command itself (output,
exit status) is npl/fill_commands.py.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone

from npl.compiler.holes import HoleSpec
from .lockfile import (MANUAL, LockEntry, Provenance, entry_from_table, lock_path_for, restamp,
                       update_lock)
from .candidate import verify
from .checks import Verdict


@dataclass
class Result:
    verified: list[LockEntry] = field(default_factory=list)       # restamped
    failed: list[tuple[str, str, str]] = field(default_factory=list)   # (where, name, why)
    stale: list[LockEntry] = field(default_factory=list)
    edited: set[str] = field(default_factory=set)                   # keys of hand-edited entries


def stamped_entry(entry: LockEntry, verdict: Verdict, *, manual: bool) -> LockEntry:
    """`entry` with a fresh verification record and hash."""
    verification = {"checks_passed": sorted(verdict.passed), "verified_at":
                    datetime.now(timezone.utc).replace(microsecond=0).isoformat()}
    provenance = Provenance(MANUAL) if manual and entry.provenance.source != MANUAL else entry.provenance
    return restamp(dataclasses.replace(entry, verification=verification, provenance=provenance,
                                       hash=""))


def candidates(lock) -> tuple[dict[str, LockEntry], list[tuple[str, str, str]], set[str]]:
    """Every entry worth verifying (valid, manual, and parsable hand-edited
    ones), the unparsable ones as failures, and the keys of hand-edited ones."""
    entries = dict(lock.entries)
    failed, edited = [], set()
    for report in lock.tampered:
        table = lock.kept_tables.get(report.key)
        try:
            entry = entry_from_table(report.key, table)
        except (TypeError, ValueError) as err:
            failed.append((f"{lock.path}:{report.line}", report.name or report.key,
                           f"malformed entry: {err}"))
            continue
        entries[report.key] = entry
        edited.add(report.key)
    return entries, failed, edited


def reverify(prog, write: bool = True) -> Result:
    """Verify every entry of the lock file of `prog` (an opened program:
    path, source, lock, settings); restamp those that pass (unless `write`
    is false: then the lock file is left as it is)."""
    from npl.compiler.driver import compile
    path = prog.path
    entries, failed, edited = candidates(prog.lock)
    result = Result(failed=list(failed), edited=set(edited))
    fills = {k: e.fill for k, e in entries.items()}
    comp = compile(prog.source, path, fills=fills, strict_fills=False)
    specs = {h.key: h for h in comp.holes}
    for problem in comp.rejected:
        key = problem.spec.key
        if key in fills:
            why = "it does not compile:\n" + "\n".join(
                d.render(comp.sources.get(d.span.file)) for d in problem.diagnostics)
            result.failed.append((problem.spec.location, entries[key].name, why))
            fills.pop(key)
    limits = prog.settings.limits
    for spec in ordered([specs[k] for k in fills if k in specs], comp):
        entry = entries[spec.key]
        others = {k: v for k, v in fills.items() if k != spec.key}
        verdict = verify(prog.source, path, others, spec, entry.fill, limits)
        if verdict.accepted:
            result.verified.append(stamped_entry(entry, verdict, manual=spec.key in edited))
        else:
            result.failed.append((spec.location, entry.name, verdict.feedback))
            fills.pop(spec.key)
    result.stale = [e for k, e in entries.items() if k not in specs]
    if result.verified and write:
        verified = {e.key: e for e in result.verified}

        def store(current: dict[str, LockEntry]) -> None:
            for key, entry in verified.items():
                now = current.get(key)
                if now is None or now.fill == entries[key].fill:   # unchanged meanwhile
                    current[key] = entry
        update_lock(lock_path_for(path), store)
    return result


def ordered(specs: list[HoleSpec], comp) -> list[HoleSpec]:
    """Holes in the order the filler fills them (callees first)."""
    from .filler import dependency_levels
    return [s for level in dependency_levels(specs, comp.program) for s in level]
