"""Filling a program's holes: a compiled program and the lock entries known
for it in, the new fills (as lock entries) out.

    fill_holes(comp, entries, settings, model=...) -> FillResult

For each missing hole, the sources are
    lock -> module library -> synthesizer and model
(the lock: a hand-written entry, verified first; a library entry that
passes the hole's checks and is judged to mean the same, filling/meaning.py;
then the synthesizer's program and the model's candidates, weighed by their
evidence and chosen among by agreement and speed, filling/trust.py and
filling/choice.py; the model is `--model`, NPL_MODEL, `model` in npl.toml,
or else the local model when installed).
Holes whose verification runs other holes are filled after them;
independent holes are filled concurrently (bounded). Each accepted fill is
handed to the caller's `on_fill` at once (npl/project.py writes it to
PROG.npl.lock; the REPL keeps it in memory) and added to the module
library. The filler reads and writes no program or lock file: it works on
the source text it is given. A live display shows progress on a terminal; a
summary of sources, calls, tokens and estimated cost ends the run.
"""
from __future__ import annotations

import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable, Optional

from npl.lang import ast
from npl.lang.diagnostics import split_lines
from npl.lang.errors import ConfigKind, FillKind

from npl.compiler.driver import Compilation
from npl.compiler.holes import HoleSpec, called_functions, signature_text, struct_text, test_source

from .attempts import AttemptLog
from .lockfile import LockEntry, restamp
from .settings import Settings
from .model_source import Usage, draw_sample, from_model
from .sources import (CallBudget, FillContext, FillFailed, ModelUnavailable, Outcome,
                      from_library, from_synthesizer)

# Provider failures that end one hole's fill, not the whole run ("context":
# a prompt the model's context cannot hold, even fit to it).
MODEL_FAILURES = ("crash", "timeout", "context")


@dataclass
class FillResult:
    """What a run of the filler did: the accepted fills (`outcomes`, and as
    stamped lock entries by hole key, sub-holes' included), the holes it
    could not fill, and the model's usage."""
    outcomes: list[Outcome] = field(default_factory=list)
    entries: dict[str, LockEntry] = field(default_factory=dict)
    failures: list[FillFailed] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    model: Optional[str] = None
    seconds: float = 0.0


def choose_model(cli_model: Optional[str], settings) -> Optional[str]:
    model = cli_model or os.environ.get("NPL_MODEL") or settings.model
    if model:
        return model
    from .providers.local import local_model_available
    ok, _ = local_model_available()
    return "local/qwen2.5-coder-1.5b" if ok else None


def split_examples(spec: HoleSpec, share: float) -> tuple[list, list]:
    """(visible, held out): a deterministic share of a hole's examples is
    kept out of the prompt and used only to verify."""
    examples = [t for t in spec.tests if isinstance(t.decl, ast.Example)]
    others = [t for t in spec.tests if t not in examples]
    n_hidden = int(len(examples) * share) if len(examples) >= 2 else 0
    hidden = examples[len(examples) - n_hidden:] if n_hidden else []
    return [t for t in examples if t not in hidden] + others, hidden


def dependency_levels(specs: list[HoleSpec], prog) -> list[list[HoleSpec]]:
    """Group holes so that a hole comes after the function holes its
    verification runs: those its tests call, directly or through other
    functions, and those named in its description or in the description of
    a hole function it reaches (a hole's fill will likely call them)."""
    by_func = {s.info.function.name: s for s in specs if s.kind == "function"}

    def mentioned(text: str) -> set[str]:
        return {w for w in re.findall(r"[A-Za-z_]\w*", text or "") if w in by_func}

    def reach(names: set[str]) -> set[str]:
        seen, todo = set(), list(names)
        while todo:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            fn = prog.scopes.get(prog.main_path, {}).get(n)
            if fn is not None and hasattr(fn, "decl") and hasattr(fn.decl, "body"):
                todo.extend(called_functions(fn.decl))
                todo.extend(mentioned(getattr(fn.decl, "hole_doc", "")))
        return seen

    deps = {}
    for s in specs:
        called = set()
        for t in s.tests + s.caller_tests:
            called |= called_functions(t.decl)
        called |= mentioned(s.description)
        own = s.info.function.name if s.info.function else None
        deps[id(s)] = {id(by_func[n]) for n in reach(called) if n in by_func and n != own}
    levels, placed = [], set()
    remaining = list(specs)
    while remaining:
        level = [s for s in remaining if deps[id(s)] <= placed]
        if not level:                       # a cycle: fill the rest together
            level = remaining
        levels.append(level)
        placed |= {id(s) for s in level}
        remaining = [s for s in remaining if id(s) not in placed]
    return levels


class Filler:
    """One run of the filler over `comp`'s holes (see fill_holes)."""

    def __init__(self, comp: Compilation, entries: dict[str, LockEntry], settings: Settings,
                 model: Optional[str], quiet: bool = False,
                 on_fill: Callable[[LockEntry], None] = lambda entry: None,
                 attempts: Optional[AttemptLog] = None):
        self.comp = comp
        self.entries = entries
        self.settings = settings
        self.model = model
        self.on_fill = on_fill
        self.attempts = attempts if attempts is not None else AttemptLog()
        self.provider = None
        self.result = FillResult(model=model)
        self.progress = make_progress(quiet)
        self.library = open_library()
        self.fills = {k: e.fill for k, e in entries.items()}
        self.notes: dict[str, list[str]] = {}       # hole key -> what each source did
        self.warned: set[str] = set()
        self.refreshed: set[str] = set()            # keys of holes `--refresh` names
        self.mutex = threading.Lock()
        self.writing = threading.Lock()             # one accepted fill written at a time

    def context(self, fills: Optional[dict[str, str]] = None,
                calls: Optional[CallBudget] = None, defer_tests: bool = False) -> FillContext:
        """What the sources need to fill one hole: `fills` (default: the
        accepted ones), the hole's call budget (default: a new one) and
        whether its tests wait for its siblings."""
        s = self.settings
        if fills is None:
            with self.mutex:
                fills = dict(self.fills)
        return FillContext(self.comp.source, self.comp.path, fills, s.limits,
                           visible=lambda spec: split_examples(spec, s.held_out)[0],
                           program_context=self.program_context,
                           enclosing_source=self.enclosing_source,
                           max_depth=s.depth, program=self.comp.program,
                           on_event=self.note, warn=self.warn, max_subholes=s.max_subholes,
                           calls=calls or CallBudget(s.calls_per_hole), defer_tests=defer_tests,
                           attempts=self.attempts)

    def note(self, spec: HoleSpec, message: str) -> None:
        """A step of filling `spec` (shown live; kept for the error if it fails)."""
        with self.mutex:
            self.notes.setdefault(spec.key, []).append(message)
        self.progress.event(spec, message, show=shown_note(message))

    def warn(self, message: str) -> None:
        """A warning about the run (e.g. a tampered library entry), said once."""
        with self.mutex:
            if message in self.warned:
                return
            self.warned.add(message)
        self.progress.warn(message)

    def program_context(self, spec: HoleSpec) -> list[str]:
        prog = self.comp.program
        own = spec.info.function
        lines = [struct_text(s) for s in prog.structs.values()]
        for fn in prog.funcs.values():
            if fn is own or fn is spec.enclosing or fn.name == "main" or fn.module != prog.main_path:
                continue
            doc = " ".join((getattr(fn.decl, "hole_doc", None) or "").split())
            lines.append(signature_text(fn) + (f"   # {doc}" if doc else ""))
        return lines

    def enclosing_source(self, spec: HoleSpec) -> str:
        fn = spec.enclosing
        if fn is None or spec.kind == "function":
            return ""
        src = split_lines(self.comp.program.sources.get(fn.module, ""))
        span = fn.decl.span
        return "\n".join(src[span.line - 1:span.end_line])

    def get_provider(self):
        if self.provider is None:
            if not self.model:
                return None
            from .providers import make_provider
            self.provider = make_provider(self.model, config=self.settings.provider)
        return self.provider

    # ------------------------------------------------------------ filling
    def fill_one(self, spec: HoleSpec, ctx: Optional[FillContext] = None) -> Outcome:
        ctx = ctx or self.context()
        with self.mutex:
            self.notes[spec.key] = []
        self.progress.start(spec)
        if spec.key in self.refreshed:
            # not its lock entry, nor the library (which holds what the lock does)
            with self.mutex:
                self.notes[spec.key].append("lock, library: skipped (--refresh)")
            outcome = None
        else:
            from .sources import from_manual  # a hand-written lock entry first
            outcome = from_manual(ctx, spec, self.entries.get(spec.key)) or \
                from_library(ctx, spec, self.library, self.meaning_judge(ctx))
        if outcome is None:
            outcome = self.by_evidence(ctx, spec)
        self.progress.done(spec, describe_source(outcome.provenance))
        return outcome

    def by_evidence(self, ctx: FillContext, spec: HoleSpec) -> Outcome:
        """The synthesizer's and the model's candidates, one chosen by the
        evidence each has (filling/trust.py). A refreshed hole is written
        anew by the model; the synthesizer fills it only when there is no
        model or the model itself failed."""
        from .trust import Sources, decide
        budget = self.settings.synth_budget
        sources = Sources(
            synthesize=lambda: from_synthesizer(ctx, spec, budget),
            ask_model=(lambda: self.from_model(ctx, spec, self.get_provider())) if self.model else None,
            sample=lambda index: self.sample(ctx, spec, self.get_provider(), index),
            candidates=self.settings.candidates, synth_first=spec.key not in self.refreshed)
        outcome = decide(ctx, spec, sources)
        if outcome is None:
            raise FillFailed(spec, self.offline_failure(spec))
        return outcome

    def from_model(self, ctx: FillContext, spec: HoleSpec, provider) -> Outcome:
        """The model's fill (the repair loop). When the model itself fails
        (a local model that crashed or hung, a request that timed out), this
        hole fails with ModelUnavailable while the other holes go on."""
        from .providers.base import ProviderError
        try:
            return from_model(ctx, spec, provider, self.settings.attempts, self.result.usage,
                              lambda parent, cand, holes: self.fill_nested(ctx, parent, cand, holes),
                              self.settings.repair)
        except ProviderError as err:
            if err.kind not in MODEL_FAILURES:
                raise
            raise ModelUnavailable(spec, f"the model failed: {err.message}") from err

    def sample(self, ctx: FillContext, spec: HoleSpec, provider, index: int) -> Optional[Outcome]:
        """One more sampled candidate (sources.draw_sample); None when the
        model failed on it."""
        from .providers.base import ProviderError
        try:
            return draw_sample(ctx, spec, provider, self.result.usage, index)
        except ProviderError as err:
            if err.kind not in MODEL_FAILURES:
                raise
            self.note(spec, f"sample {index + 1}: the model failed: {err.message}")
            return None

    def meaning_judge(self, ctx: FillContext):
        """judge(spec, entry) for the library (filling/meaning.py): an
        identical description is its own judgement; otherwise the model's
        answer, kept from an earlier fill or asked now when there is a
        model and the hole has a call left, else the wording rule."""
        from .meaning import identical, judge_by_wording, question_key, remembered
        from .providers.base import ProviderError

        def judge(spec: HoleSpec, entry):
            if identical(spec, entry):
                return judge_by_wording(spec, entry)
            try:
                provider = self.get_provider()
            except ProviderError:
                provider = None
            if provider is None:
                return judge_by_wording(spec, entry)
            question = question_key(spec, entry, provider)
            kept = self.kept_judgement(question)
            if kept is not None:
                return remembered(spec, entry, kept)
            if not ctx.calls.take():
                return judge_by_wording(spec, entry)
            try:
                judgement = self.asked_meaning(ctx, spec, entry, provider)
                self.keep_judgement(question, judgement)
                return judgement
            except ProviderError as err:
                self.note(spec, f"library: could not ask {provider.name} about entry "
                                f"{entry.id} ({err.message}); judged by its wording")
                return judge_by_wording(spec, entry)
        return judge

    def asked_meaning(self, ctx: FillContext, spec: HoleSpec, entry, provider):
        """The model's meaning judgement of `entry` for `spec`, recorded as
        an attempt of the model (verdict accepted: the same function)."""
        from .attempts import ACCEPTED
        from .meaning import judge_by_model

        def spent(messages, completion):
            self.result.usage.add(completion)
            rec.asked(messages, completion)
        with ctx.attempts.attempt(spec, provider.name,
                                  detail=f"meaning of library entry {entry.id}") as rec:
            judgement = judge_by_model(spec, entry, provider, spent)
            if judgement.same:
                rec.verdict, rec.stage = ACCEPTED, "meaning"
            else:
                rec.reject("meaning", judgement.describe())
        return judgement

    def kept_judgement(self, question: str):
        """The library's kept answer to a meaning question, or None."""
        from .library import LibraryError
        try:
            return self.library.recall_judgement(question)
        except LibraryError as err:             # a broken library never blocks filling
            self.warn(f"module library: kept meaning judgements unavailable: {err}")
            return None

    def keep_judgement(self, question: str, judgement) -> None:
        """Keep a model's meaning judgement in the library (`question_key`)."""
        from .library import LibraryError
        try:
            self.library.remember_judgement(question, judgement.by, judgement.same,
                                            judgement.reply)
        except LibraryError as err:
            self.warn(f"module library: could not keep a meaning judgement: {err}")

    def offline_failure(self, spec: HoleSpec) -> str:
        """Why no offline source could fill `spec`: what each one did."""
        with self.mutex:
            notes = list(self.notes.get(spec.key, []))
        if spec.kind != "function":
            notes = ["library, synthesizer: they fill function holes only "
                     "(this is an expression hole)"]
        tried = "".join(f"\n    {n}" for n in notes)
        return "no model is configured and no offline filler could fill it:" + tried

    def fill_nested(self, ctx: FillContext, parent: HoleSpec, candidate: str, holes: list[HoleSpec]):
        """Fill the holes inside `candidate`, then verify the whole. Sibling
        sub-holes are filled together: each is only compiled while another
        is still open (its tests run through its siblings), and the whole
        candidate, every sub-hole filled, is what is tested. They share the
        parent's call budget."""
        from .sources import held_out_ids
        from .candidate import verify
        fills = dict(ctx.fills)
        fills[parent.key] = candidate
        subs: list[Outcome] = []
        for h in holes:
            sub_ctx = self.context(fills, ctx.calls, defer_tests=len(holes) > 1)
            try:
                subs.append(self.fill_one(h, sub_ctx))
            except FillFailed as err:
                return [], f"The sub-hole '{h.name}' could not be filled: {err.reason}", []
            fills[h.key] = subs[-1].fill
        del fills[parent.key]
        verdict = verify(ctx.source, ctx.path, fills, parent, candidate, ctx.limits,
                         allow_new_holes=False, hidden=held_out_ids(ctx, parent))
        if not verdict.accepted:
            if len(holes) > 1:
                names = ", ".join(f"'{h.name}'" for h in holes)
                return [], (f"Its sub-holes {names} were filled, but together they fail:\n"
                            + verdict.feedback), []
            return [], verdict.feedback, []
        for sub in subs:
            if not sub.passed:
                sub.passed = list(verdict.passed)       # checked with the whole
        return subs, "", verdict.passed

    def run(self, targets: list[HoleSpec]) -> FillResult:
        start = time.monotonic()
        workers = 1 if (self.model or "").startswith("local/") else max(1, self.settings.concurrency)
        with self.progress:
            for level in dependency_levels(targets, self.comp.program):
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    futures = [(s, pool.submit(self.fill_and_accept, s)) for s in level]
                    crash: Optional[BaseException] = None
                    for spec, fut in futures:
                        try:
                            fut.result()
                        except FillFailed as err:
                            self.progress.failed(spec, err.reason)
                            self.result.failures.append(err)
                        except Exception as exc:    # the others are written: report it after
                            crash = crash or exc
                    if crash is not None:
                        raise crash
        self.result.seconds = time.monotonic() - start
        return self.result

    def fill_and_accept(self, spec: HoleSpec) -> Outcome:
        """Fill `spec` and hand its fill on (`on_fill`: the caller writes it)
        as soon as it is verified: a later hole that fails, or crashes,
        costs it nothing."""
        outcome = self.fill_one(spec)
        with self.writing:
            try:
                self.accept(outcome)
            except (TypeError, ValueError) as exc:      # the entry cannot be stored
                raise FillFailed(spec, f"its verified fill could not be written to the lock "
                                       f"file: {exc}") from exc
        return outcome

    def accept(self, outcome: Outcome) -> None:
        for sub in outcome.sub:
            self.accept(sub)
        entry = lock_entry(outcome)
        self.on_fill(entry)
        with self.mutex:
            self.fills[outcome.spec.key] = outcome.fill
            self.result.outcomes.append(outcome)
            self.result.entries[entry.key] = entry
        if self.library is not None and outcome.provenance.source != "library" and outcome.spec.kind == "function":
            add_to_library(self.library, outcome, self.comp.program)


def shown_note(message: str) -> bool:
    """Whether a note is also a line of output when there is no live
    display: an offline source's rejection, a meaning judgement, why the
    synthesizer was trusted alone, and how a choice among candidates went."""
    offline = message.startswith(("library:", "synthesizer:"))
    return (offline and any(w in message for w in ("rejected", "judged", "trusted alone"))) or \
        message.startswith(("chose ", "candidates disagree"))


def describe_source(p) -> str:
    """`synth`, `openai/gpt-4o`, or `library (entry ID from openai/gpt-4o)`."""
    if p.source == "library" and p.library_entry:
        return f"library (entry {p.library_entry})"
    return p.source


def lock_entry(o: Outcome) -> LockEntry:
    """The stamped lock entry of an accepted fill (manual ones too), located
    where the hole is in the program as compiled; whoever writes it to a
    lock file relocates it (lockfile.lock_location)."""
    spec = o.spec
    verification = {"checks_passed": sorted(o.passed), "verified_at":
                    datetime.now(timezone.utc).replace(microsecond=0).isoformat()}
    return restamp(LockEntry(spec.key, spec.name, spec.kind, spec.location,
                             spec.description, spec.signature, o.fill, o.provenance,
                             verification))


def open_library():
    if os.environ.get("NPL_LIBRARY", "x") == "off":
        return None
    try:
        from .library import Library
        return Library()
    except Exception as exc:            # a broken library never blocks filling
        print(f"npl: warning: module library unavailable: {exc}", file=sys.stderr)
        return None


def add_to_library(library, outcome: Outcome, prog) -> None:
    from .library import LibraryEntry
    spec = outcome.spec
    examples = tuple(test_source(prog, t) for t in spec.tests if isinstance(t.decl, ast.Example))
    props = tuple(test_source(prog, t) for t in spec.tests if isinstance(t.decl, ast.Property))
    try:
        library.add(LibraryEntry("function", tuple(str(t) for _, t in spec.params),
                                 tuple(n for n, _ in spec.params), str(spec.ret), spec.description,
                                 outcome.fill, examples, props, outcome.provenance))
    except Exception as exc:
        print(f"npl: warning: could not add to the module library: {exc}", file=sys.stderr)


def make_progress(quiet: bool):
    from .progress import Progress
    return Progress(quiet=quiet)


# ---------------------------------------------------------------- entry points

class UnknownHoleError(ConfigKind, ValueError):
    """`npl fill --refresh NAME` names no hole of the program (or comes
    with --frozen)."""


def targets_for(comp: Compilation, refresh: Iterable[str]) -> list[HoleSpec]:
    """The holes to fill: those without a usable fill and those `refresh`
    names (top-level holes only: a fill's sub-holes are filled with it).
    Raises UnknownHoleError for a name that is no hole of the program."""
    chosen = list(comp.unfilled) + [p.spec for p in comp.rejected]
    for name in refresh:
        matched = [h for h in comp.holes if matches(h, name)]
        if not matched:
            holes = ", ".join(f"{h.name} ({h.location})" for h in comp.holes if h.depth == 0)
            raise UnknownHoleError(f"no hole named '{name}' in {comp.path}; "
                                   + (f"its holes: {holes}" if holes else "it has no holes"))
        if all(h.depth > 0 for h in matched):
            raise UnknownHoleError(f"'{name}' is a sub-hole, written by the fill of another "
                                   "hole: refresh that hole, and its sub-holes are filled anew")
        chosen += [h for h in matched if h not in chosen]
    return [h for h in chosen if h.depth == 0]


def matches(spec: HoleSpec, name: str) -> bool:
    loc = spec.location
    return name in (spec.name, spec.func_name, loc) or loc.startswith(name + ":") or \
        (spec.info.function is not None and spec.info.function.name == name and spec.kind == "function")


def fill_holes(comp: Compilation, entries: dict[str, LockEntry], settings: Settings, *,
               model: Optional[str] = None, refresh: Iterable[str] = (), quiet: bool = False,
               on_fill: Callable[[LockEntry], None] = lambda entry: None,
               attempts: Optional[AttemptLog] = None) -> FillResult:
    """Fill every hole of `comp` that has no usable fill, and those
    `refresh` names.

    comp: the program (its source text and path; imports are read beside
    the path) compiled with its usable fills, not strictly (a locked fill
    that no longer checks is refilled). entries: the lock entries known for
    it, hole key -> LockEntry (a hand-written one is verified and, if it
    passes, used first). settings: npl.toml's. model: as given by the user
    (choose_model adds NPL_MODEL, npl.toml and the local model).

    Each accepted fill goes to `on_fill` as a stamped LockEntry as soon as it
    is accepted, and into the result; where they are written is the
    caller's choice. Holes that could not be filled are in
    `FillResult.failures` (FillFailedError(result) says why). Every try of
    every source is recorded in `attempts` (filling/attempts.py), when given."""
    refresh = list(refresh)
    targets = targets_for(comp, refresh)
    chosen = choose_model(model, settings)
    filler = Filler(comp, entries, settings, chosen, quiet, on_fill, attempts)
    filler.refreshed = {spec.key for spec in targets if any(matches(spec, n) for n in refresh)}
    for spec in targets:
        filler.fills.pop(spec.key, None)
    result = filler.run(targets) if targets else FillResult(model=chosen)
    filler.progress.summary(result, settings)
    return result


class FillFailedError(FillKind):
    """Some holes could not be filled: the message says which and why (and,
    with no model, what a user can do about it)."""

    def __init__(self, result: FillResult):
        self.result = result
        lines = []
        for f in result.failures:
            lines.append(f"{f.spec.location}: error[E040]: could not fill hole '{f.spec.name}': {f.reason}")
        if result.failures and not result.model:
            lines += ways_to_fill(result.failures)
        super().__init__("\n".join(lines))

    def render(self) -> str:
        return str(self)


def ways_to_fill(failures: list[FillFailed]) -> list[str]:
    """What a user can do about holes that nothing offline could fill."""
    from .sources import MIN_SYNTH_EXAMPLES
    from .providers.local import local_model_available
    names = ", ".join(f.spec.name for f in failures)
    _, local_reason = local_model_available()
    return [f"{len(failures)} hole(s) unfilled ({names}); ways to fill them:",
            f"  - add examples: with at least {MIN_SYNTH_EXAMPLES} `example f(...) == value` lines "
            "a function hole can be filled by the synthesizer (or by a library entry that passes them "
            "and is worded as the hole is)",
            "  - name a model: --model openai/NAME or anthropic/NAME, NPL_MODEL, or "
            "`model = \"...\"` in npl.toml",
            f"  - use the local model ({local_reason or 'local/qwen2.5-coder-1.5b'})",
            "  - write the fill yourself in the lock file, with provenance source = \"manual\" "
            "(`npl fill` verifies and stamps it)"]
