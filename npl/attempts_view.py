"""`npl holes PROG --attempts NAME`: what each source tried in the last fill
of hole NAME, as kept in PROG.npl.attempts.jsonl (filling/attempts.py):
per attempt the source, verdict and stage, time and tokens, the model's
reply, the fill checked and why it was rejected; with `prompts`, each
prompt message whole."""
from __future__ import annotations

import textwrap

from npl.filling.attempts import Attempt, load_sidecar
from npl.filling.filler import UnknownHoleError, matches
from npl.filling.paths import attempts_path
from npl.filling.replies import clipped

MAX_LINES = 40          # of a reply, fill or reason shown (the sidecar has them whole)
MAX_CHARS = 4000


def show_attempts(path: str, name: str, *, prompts: bool = False, echo=print) -> int:
    """Print the attempts of hole `name`'s last fill; 0, or UnknownHoleError
    when `name` is neither a hole of the program nor a hole with records."""
    from npl.project import open_program
    comp = open_program(path, strict_fills=False).comp
    specs = [h for h in comp.holes if matches(h, name)]
    keys = {h.key for h in specs}
    sidecar = attempts_path(path)
    records = [a for a in load_sidecar(sidecar) if a.key in keys or a.hole == name]
    if not specs and not records:
        holes = ", ".join(f"{h.name} ({h.location})" for h in comp.holes if h.depth == 0)
        raise UnknownHoleError(f"no hole named '{name}' in {path}; "
                               + (f"its holes: {holes}" if holes else "it has no holes"))
    if not records:
        echo(f"{name}: no attempts recorded in {sidecar}: `npl fill` keeps there the attempts "
             "of each hole it fills (a hole filled from its lock entry has none)")
        return 0
    echo(f"{sidecar}: {len(records)} attempt(s) for '{name}' in its last fill")
    for i, a in enumerate(records, 1):
        echo("")
        echo(headline(i, a))
        if prompts:
            for m in a.messages:
                echo(f"  prompt ({m.get('role', '?')}):\n" + block(str(m.get("content", "")), None))
        elif a.messages:
            chars = sum(len(str(m.get("content", ""))) for m in a.messages)
            echo(f"  prompt: {len(a.messages)} message(s), {chars:,} characters (--prompts shows them)")
        if a.reply:
            echo("  reply:\n" + block(a.reply))
        if a.fill is not None and a.fill != a.reply:
            echo("  fill:\n" + block(a.fill))
        if a.feedback:
            echo("  why:\n" + block(a.feedback))
    return 0


def headline(i: int, a: Attempt) -> str:
    """`#2 openai/m attempt 2 (prog.npl:1:1): rejected at test, 1.09 s, tokens 120 + 35`."""
    what = f"#{i} {a.hole} ({a.location}) {a.source}"
    if a.source.count("/"):
        what += f" attempt {a.number}"
    if a.detail:
        what += f" [{a.detail}]"
    verdict = a.verdict + (f" at {a.stage}" if a.verdict != "accepted" and a.stage else "")
    tokens = ""
    if a.prompt_tokens is not None or a.completion_tokens is not None:
        tokens = f", tokens {a.prompt_tokens or 0} + {a.completion_tokens or 0}"
    return f"{what}: {verdict}, {a.seconds:.2f} s{tokens}"


def block(text: str, limit: int | None = MAX_LINES) -> str:
    """`text` indented, at most `limit` lines and MAX_CHARS characters (a
    note says how many more)."""
    if limit is not None:
        text = clipped(text, MAX_CHARS)
    lines = text.rstrip("\n").splitlines() or [""]
    more = ""
    if limit is not None and len(lines) > limit:
        more = f"\n    [... {len(lines) - limit} more lines]"
        lines = lines[:limit]
    return textwrap.indent("\n".join(lines), "    ", lambda line: True) + more
