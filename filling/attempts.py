"""Attempt records: what each source tried for each hole, and why it was
accepted or not.

Every try of every source is one `Attempt`: a hand-written lock entry
verified, a library entry checked, the synthesizer's candidate checked, a
model request (its prompt, its reply, the fill taken from the reply). An
attempt ends with a verdict ("accepted", "rejected" or "error"), the stage
that decided it and the feedback that stage gave: a check's "compile",
"gaming", "test", "limit" or "ok" (filling/checks.py); "reply" (a reply
with no usable code), "search" (the synthesizer found nothing), "sub-holes"
(the holes a fill opened could not be filled), "provider" (the request
failed), "budget" (the hole's model calls were used up). A model request
adds the tokens the provider reported; every attempt, its seconds.

Sources record through the `AttemptLog` on their FillContext, and only
there (this is the one place attempts are recorded):

    with ctx.attempts.attempt(spec, "library", detail=entry.id) as a:
        a.fill = candidate
        a.judge(check(ctx, spec, candidate))

The block times the attempt and records it when it ends; an exception that
leaves the block is recorded as verdict "error" and propagates. An
`AttemptLog` keeps every record of the run (`records`, `of_hole`) and, given
a `stream` (`npl fill --log FILE.jsonl`), writes each as one JSON line the
moment it is recorded. `save_sidecar` / `load_sidecar` keep the last fill's
attempts of each hole in PROG.npl.attempts.jsonl (filling/paths.py), which
`npl holes --attempts NAME` reads.
"""
from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Iterator, Optional, TextIO

if TYPE_CHECKING:
    from npl.compiler.holes import HoleSpec

    from .checks import Verdict

ACCEPTED, REJECTED, ERROR = "accepted", "rejected", "error"
# The sources an attempt may come from besides a model ("openai/NAME", ...)
# and a hand-written lock entry (lockfile.MANUAL): the names a lock entry's
# provenance gives them.
LIBRARY, SYNTH = "library", "synth"
MAX_PER_HOLE = 64           # attempts of one hole kept in the sidecar (its last ones)
FORMAT = 1                  # of a record's JSON form (the "format" field)


@dataclass
class Attempt:
    """One try of one source for one hole (see the module docstring)."""
    hole: str                           # the hole's name
    key: str                            # its key (compiler/holes.py)
    location: str                       # "prog.npl:12:5"
    source: str                         # "manual" | "library" | "synth" | a model "openai/NAME"
    number: int = 1                     # the source's attempt number for this hole
    detail: str = ""                    # a library entry's id, the synthesized expression, ...
    messages: list[dict] = field(default_factory=list)     # the prompt (model requests)
    reply: str = ""                     # the model's reply text
    fill: Optional[str] = None          # the candidate fill checked (None: none was made)
    verdict: str = ""                   # "accepted" | "rejected" | "error"
    stage: str = ""                     # what decided it: compile, gaming, test, limit, reply, ...
    feedback: str = ""                  # why (as the repair prompt says it), "" when accepted
    prompt_tokens: Optional[int] = None         # where the provider reports them
    completion_tokens: Optional[int] = None
    seconds: float = 0.0
    at: str = ""                        # when it started (UTC, ISO 8601)

    def judge(self, verdict: "Verdict", sub_holes: bool = False) -> "Attempt":
        """Take a candidate check's Verdict (filling/checks.py). Unless the
        source fills `sub_holes` (a model does), a fill that opens holes of
        its own is rejected."""
        self.verdict = ACCEPTED if verdict.accepted else REJECTED
        self.stage = verdict.stage
        self.feedback = verdict.feedback
        if verdict.fixes:                   # the fill checked is the compiler's fix of the reply's
            self.fill = verdict.fill
            fixed = "compiler fixes: " + "; ".join(verdict.fixes)
            self.detail = f"{self.detail}; {fixed}" if self.detail else fixed
        if verdict.accepted and verdict.new_holes and not sub_holes:
            names = ", ".join(h.name for h in verdict.new_holes)
            self.reject("compile", f"The fill contains holes of its own ({names}).")
        return self

    def reject(self, stage: str, feedback: str) -> "Attempt":
        """Rejected before any check (a reply with no usable code: stage
        "reply"), or after one, for a reason the source itself gives."""
        self.verdict, self.stage, self.feedback = REJECTED, stage, feedback
        return self

    def fail(self, stage: str, message: str) -> "Attempt":
        """The attempt could not be made (a provider error: stage "provider")."""
        self.verdict, self.stage, self.feedback = ERROR, stage, message
        return self

    def asked(self, messages: list[dict], completion) -> "Attempt":
        """A model request and its `Completion` (providers/base.py): the
        prompt, the reply and the tokens the provider reported (0 is taken
        as not reported; a second request of the same attempt adds its
        tokens and replaces the prompt and reply)."""
        self.messages = [dict(m) for m in messages]
        self.reply = completion.text
        self.prompt_tokens = _added(self.prompt_tokens, completion.prompt_tokens)
        self.completion_tokens = _added(self.completion_tokens, completion.completion_tokens)
        return self

    def to_json(self) -> dict:
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict) -> "Attempt":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _added(total: Optional[int], tokens: int) -> Optional[int]:
    """Tokens of a request added to an attempt's (an attempt that asks again,
    resampling a repeated answer, counts both requests)."""
    if not tokens:
        return total
    return (total or 0) + tokens


class AttemptLog:
    """The attempts of one fill run, thread-safe (holes fill concurrently).
    With `stream`, each record is also written there as one JSON line and
    flushed at once."""

    def __init__(self, stream: Optional[TextIO] = None):
        self.stream = stream
        self.records: list[Attempt] = []
        self._lock = threading.Lock()

    def record(self, attempt: Attempt) -> None:
        line = json.dumps(attempt.to_json())        # ASCII: a reply's lone surrogates too
        with self._lock:
            self.records.append(attempt)
            if self.stream is not None:
                self.stream.write(line + "\n")
                self.stream.flush()

    @contextmanager
    def attempt(self, spec: "HoleSpec", source: str, number: int = 1,
                detail: str = "") -> Iterator[Attempt]:
        """An Attempt for `spec` to fill in; recorded, timed, when the block
        ends (as verdict "error" if an exception leaves it, which goes on)."""
        a = Attempt(spec.name, spec.key, spec.location, source, number, detail,
                    at=datetime.now(timezone.utc).isoformat(timespec="milliseconds"))
        start = time.monotonic()
        try:
            yield a
        except BaseException as exc:
            if not a.verdict:
                a.fail("error", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            a.seconds = round(time.monotonic() - start, 3)
            self.record(a)

    def of_hole(self, key: str) -> list[Attempt]:
        with self._lock:
            return [a for a in self.records if a.key == key]

    def keys(self) -> list[str]:
        """The keys of the holes with attempts, in the order first tried."""
        with self._lock:
            return list(dict.fromkeys(a.key for a in self.records))


# ---------------------------------------------------------------- the sidecar

def load_sidecar(path: str) -> list[Attempt]:
    """The attempts kept in a sidecar file; [] when it is missing. Lines that
    are not attempt records (a damaged or foreign file) are skipped: the
    file is a record of what happened, never an input to filling."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            data = json.loads(line)
            if isinstance(data, dict) and data.get("format") == FORMAT:
                out.append(Attempt.from_json(data))
        except (ValueError, TypeError):
            continue
    return out


def save_sidecar(path: str, log: AttemptLog, keep: set[str],
                 tried: Optional[set[str]] = None) -> None:
    """Write the sidecar: this run's attempts of each hole it tried (the
    last MAX_PER_HOLE of each; of the holes in `tried` only, when given) in
    place of the earlier ones, and the earlier records of the holes in
    `keep` (the file's holes) that this run did not try; records of holes
    the file no longer has are dropped. Written atomically; nothing is
    written when there is nothing to keep."""
    from npl.lang.fileio import write_atomic
    tried = [k for k in log.keys() if tried is None or k in tried]
    old = [a for a in load_sidecar(path) if a.key in keep and a.key not in tried]
    new: list[Attempt] = []
    for key in tried:                   # in the order the holes were first tried
        new += log.of_hole(key)[-MAX_PER_HOLE:]
    if not old and not new:
        return
    write_atomic(path, "".join(json.dumps(a.to_json()) + "\n"
                               for a in old + new))
