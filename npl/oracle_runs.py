"""Oracles in a run: the answerer a loaded program's @oracle calls go to.

`install_oracles` gives a loaded runtime Program the filling layer's
`Oracles` (filling/oracles.py): the program's answer store beside it
(PROGRAM.npl.answers), the model chosen as for filling (--model, NPL_MODEL,
npl.toml, the local model), --frozen, and npl.toml's [oracle] settings. The
CLI, the REPL and npl.load share it.
"""
from __future__ import annotations

from typing import Optional


def install_oracles(program, comp, settings, *, frozen: bool, model: Optional[str],
                    answers: Optional[str] = None):
    """Install the answerer on `program` (a runtime Program of `comp`) and
    return it, or None when the program has no oracle. `answers` is the
    store's path (default: beside the program, PROGRAM.npl.answers)."""
    if not comp.oracles:
        return None
    from npl.filling.answers import AnswerStore, answers_path_for
    from npl.filling.filler import choose_model
    from npl.filling.oracles import Oracles
    chosen = choose_model(model, settings)
    structs = {s.name: (program.struct_class(s.name), [(f.name, f.type) for f in s.fields])
               for s in comp.module.structs}

    def provider():
        from npl.filling.providers import make_provider
        return make_provider(chosen, config=settings.provider)
    oracles = Oracles(comp.oracles, structs, AnswerStore(answers or answers_path_for(comp.path)),
                      model=chosen, provider=None if frozen else provider, frozen=frozen,
                      attempts=settings.oracle_attempts, concurrency=settings.oracle_concurrency,
                      module=comp.module)
    program.oracles = oracles
    return oracles


def answers_command(path: str, *, prune: bool = False, export: Optional[str] = None,
                    echo=print) -> int:
    """`npl answers PROG`: list the stored answers of PROG's oracles (stale
    ones, of edited or removed oracles, apart); `--export FILE` writes them
    all as JSON Lines; `--prune` deletes the stale ones."""
    import json

    from npl.filling.answers import AnswerStore, answers_path_for
    from npl.project import open_program
    prog = open_program(path, strict_fills=False)
    store = AnswerStore(answers_path_for(path))
    answers = store.all()
    live = {spec.key: spec for spec in prog.comp.oracles}
    if export:
        from npl.lang.fileio import write_atomic
        lines = [json.dumps({"oracle": a.oracle, "key": a.oracle_key, "args": json.loads(a.args),
                             "model": a.model, "answer": a.value, "provenance": a.provenance,
                             "created": a.created, "stale": a.oracle_key not in live},
                            ensure_ascii=False) for a in answers]
        write_atomic(export, "".join(line + "\n" for line in lines))
        echo(f"{export}: {len(lines)} answer(s)")
    for spec in prog.comp.oracles:
        mine = [a for a in answers if a.oracle_key == spec.key]
        echo(f"{spec.location}: oracle {spec.name}: {len(mine)} stored answer(s)")
        for a in mine:
            args = ", ".join(json.dumps(v, ensure_ascii=False) for v in json.loads(a.args))
            echo(f"    {spec.name}({args}) -> {a.answer}   [{a.model}, {a.created}]")
    stale = [a for a in answers if a.oracle_key not in live]
    if stale and prune:
        n = store.prune(set(live))
        echo(f"{answers_path_for(path)}: pruned {n} stale answer(s)")
    elif stale:
        echo(f"{answers_path_for(path)}: {len(stale)} stale answer(s) of edited or removed oracles "
             "(not used; `npl answers --prune` deletes them)")
    store.close()
    return 0
