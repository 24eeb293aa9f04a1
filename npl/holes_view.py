"""`npl holes PROG`: each hole with its state, fill and provenance, and the
share of each fill source (the filler chain) over the program's holes."""
from __future__ import annotations

import textwrap
from collections import Counter

from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax


def show_holes(path: str, console: Console | None = None) -> None:
    from npl.project import open_program
    prog = open_program(path, strict_fills=False)
    console = console or Console(highlight=False, soft_wrap=True)
    comp, lock = prog.comp, prog.lock
    rejected = {p.spec.key for p in comp.rejected}
    sources: Counter = Counter()
    for spec in comp.holes:
        entry = prog.entry(spec.key)       # an imported file's holes: from its own lock
        if spec.key in comp.filled and entry is not None:
            p = entry.provenance
            state = "filled"
            source = p.source + (f" [{p.library_entry}]" if p.library_entry else "")
            detail = (f"attempts {p.attempts}, tokens {p.prompt_tokens}+{p.completion_tokens}, "
                      f"{p.seconds:.1f} s" if p.attempts else "")
            sources[p.source] += 1
        else:
            state = "invalid fill" if spec.key in rejected else "missing"
            source, detail = "-", ""
            sources["missing"] += 1
        indent = "  " * spec.depth
        console.print(f"{indent}[bold]{escape(spec.name)}[/bold]  {escape(spec.location)}  [{'green' if state == 'filled' else 'red'}]"
                      f"{state}[/]  {escape(source)}  {detail}".rstrip())
        description = ("\n" + indent + "    ").join(spec.description.splitlines())
        console.print(f"{indent}  {spec.kind} hole: {escape(description)}")
        console.print(f"{indent}  {escape(spec.signature)}   key {spec.key[:12]}")
        if entry is not None and spec.key in comp.filled:
            for line in evidence_lines(entry.provenance):
                console.print(f"{indent}  {escape(line)}")
            fill = textwrap.indent(entry.fill.rstrip("\n"), " " * (2 + 2 * spec.depth))
            console.print(Syntax(fill, "python", theme="ansi_dark", line_numbers=False,
                                 code_width=max(map(len, fill.splitlines()), default=1)))
    show_oracles(comp, console)
    for t in lock.tampered:
        console.print(f"[yellow]warning[/yellow]: lock entry {t.name} was edited by hand ({t.reason}); ignored")
    total = sum(sources.values())
    if not total and comp.oracles:
        return
    if total:
        share = ", ".join(f"{k} {v}/{total}" for k, v in sorted(sources.items()))
        console.print(f"chain: lock -> library -> synth -> model; sources: {share}")
    else:
        console.print(f"{path}: no holes")


def evidence_lines(p) -> list[str]:
    """What the lock says about why a fill was trusted and how it was chosen."""
    lines = []
    e = p.evidence
    if "meaning" in e:
        lines.append(f"meaning: {e['meaning']}, judged by {e.get('judged_by', '?')} "
                     f"(word similarity {e.get('similarity', '?')}, {e.get('checks', '?')} check(s))")
    if "trusted" in e:
        lines.append(f"evidence: {e.get('examples', '?')} example(s), {e.get('held_out', 0)} held "
                     f"out, program size {e.get('program_size', '?')}; trusted: {e['trusted'] or '-'}")
    c = p.choice
    if c.get("clusters"):
        groups = "; ".join(", ".join(map(str, g)) for g in c["clusters"] if isinstance(g, list))
        lines.append(f"chosen: {c.get('chosen')} of {len(c.get('candidates', []))} candidates, "
                     f"by agreement on {c.get('inputs')} inputs (clusters: {groups})")
    elif c.get("chosen"):
        lines.append(f"chosen: {c['chosen']}" + (f" ({c['note']})" if c.get("note") else ""))
    return lines


def show_oracles(comp, console: Console) -> None:
    """Each @oracle with its stored answers (current ones, and by model)."""
    if not comp.oracles:
        return
    from npl.filling.answers import AnswerStore, answers_path_for
    answers = AnswerStore(answers_path_for(comp.path)).all()
    for spec in comp.oracles:
        mine = [a for a in answers if a.oracle_key == spec.key]
        models = Counter(a.model for a in mine)
        stored = ", ".join(f"{n} by {m}" for m, n in sorted(models.items())) or "none yet"
        console.print(f"[bold]{escape(spec.name)}[/bold]  {escape(spec.location)}  [cyan]oracle[/]  "
                      f"stored answers: {escape(stored)}")
        console.print(f"  {escape(' '.join(spec.description.split()))}")
        console.print(f"  {escape(spec.signature)}   key {spec.key[:12]}")
