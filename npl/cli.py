"""The `npl` command line (docs/reference.md §12).

Exit status: 0 success, 1 a run-time error or a failing test, 2 a compile
error (bad program, missing fill in --frozen mode, bad lock file, a program
file that cannot be read); lang/errors.py defines them per kind of error,
docs/security.md lists them all. An error that escapes a command is reported
by npl/report.py; Python tracebacks from NPL's own code are never shown
unless NPL_DEBUG=1.
"""
from __future__ import annotations

import sys
from typing import NoReturn

import click

from npl.report import report
from npl.run_command import RUN_OPTIONS, apply_jit_options, note_misplaced, run_compiled


def guarded(fn):
    """Turn an error escaping the command into its message and exit status
    (npl/report.py)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SystemExit:
            raise
        except (Exception, KeyboardInterrupt) as exc:
            report_error(exc)
    return wrapper


def report_error(exc: BaseException) -> NoReturn:
    """Print what the user sees for `exc` and exit with its status: an
    NplError's text and its kind's exit code, 130 for Ctrl-C, 3 (an internal
    error) for anything else."""
    sys.exit(report(exc))


def common_options(fn):
    """`npl run`'s options (npl/run_command.py RUN_OPTIONS), for click."""
    for option in RUN_OPTIONS:
        if option.flag:
            fn = click.option(option.name, is_flag=True, help=option.help)(fn)
        else:
            kind = click.Choice(option.choices, case_sensitive=False) if option.choices else None
            fn = click.option(option.name, type=kind, default=option.default,
                              metavar=option.metavar, envvar=option.envvar, help=option.help)(fn)
    return fn


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="npl")
def main():
    """NPL: write programs with holes in plain English; fill them once with a
    model, verify, lock, and run natively."""


def report_tampered(prog) -> None:
    for t in prog.lock.tampered:
        click.echo(f"{prog.lock.path}:{t.line}: warning: lock entry for '{t.name}' was edited by hand "
                   f"({t.reason}); it is ignored (run `npl verify` to re-verify and restamp)", err=True)


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@common_options
@click.argument("program", type=click.Path(dir_okay=False))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@guarded
def run(program, args, frozen, model, device, no_jit):
    """Check PROGRAM, fill missing holes, and run its main().

    npl's options go before PROGRAM; everything after it is passed to main."""
    note_misplaced(program, list(args))
    apply_jit_options(no_jit, device)
    from npl.project import prepare
    prog = prepare(program, frozen=frozen, model=model, on_open=report_tampered)
    oracles = []

    def setup(loaded):
        from npl.oracle_runs import install_oracles
        oracles.append(install_oracles(loaded, prog.comp, prog.settings, frozen=frozen, model=model))
    try:
        status = run_compiled(program, prog.comp, list(args),
                              setup=setup if prog.comp.oracles else None)
    finally:
        line = oracles[0].summary(prog.settings.prices or None) if oracles and oracles[0] else None
        if line:
            click.echo(line, err=True)
    sys.exit(status)


@main.command()
@click.argument("program", type=click.Path(dir_okay=False))
@guarded
def check(program):
    """Parse and type-check PROGRAM; list its holes and whether each is filled."""
    from npl.project import open_program
    prog = open_program(program, strict_fills=False)
    report_tampered(prog)
    comp = prog.comp
    for spec in comp.holes:
        state = "filled" if spec.key in comp.filled else "missing"
        click.echo(f"{spec.location}: hole {spec.name}: {state}")
    for spec in comp.oracles:
        click.echo(f"{spec.location}: oracle {spec.name}: answered by a model at run time")
    for problem in comp.rejected:
        click.echo(f"{problem.spec.location}: hole {problem.spec.name}: locked fill no longer checks:", err=True)
        for d in problem.diagnostics:
            click.echo(d.render(comp.sources.get(d.span.file)), err=True)
    n = len(comp.holes)
    k = len(comp.oracles)
    click.echo(f"{program}: ok" + (f" ({n} hole{'s' if n != 1 else ''}, "
                                   f"{len(comp.filled)} filled)" if n else "")
               + (f" ({k} oracle{'s' if k != 1 else ''})" if k else ""))


@main.command()
@common_options
@click.argument("program", type=click.Path(dir_okay=False))
@click.option("--max-examples", default=100, show_default=True, help="Inputs drawn per property.")
@click.option("--strict", is_flag=True, help="An oracle's wrong answer to its example fails the run.")
@guarded
def test(program, frozen, model, device, no_jit, max_examples, strict):
    """Run PROGRAM's examples and properties."""
    apply_jit_options(no_jit, device)
    from npl.project import prepare
    prog = prepare(program, frozen=frozen, model=model, on_open=report_tampered)
    from npl.runtime.loader import run_tests_cli

    def setup(loaded):
        from npl.oracle_runs import install_oracles
        install_oracles(loaded, prog.comp, prog.settings, frozen=frozen, model=model)
    from npl.project import fills_checked_by
    sys.exit(run_tests_cli(prog.comp, max_examples=max_examples, strict=strict,
                           setup=setup if prog.comp.oracles else None,
                           explain=fills_checked_by(prog)))


@main.command(name="ir")
@click.argument("program", type=click.Path(dir_okay=False))
@guarded
def ir_cmd(program):
    """Print PROGRAM's lowered IR."""
    from npl.compiler.irprint import print_module
    from npl.project import open_program
    prog = open_program(program, strict_fills=False)
    click.echo(print_module(prog.comp.module), nl=False)


@main.command()
@click.argument("program", type=click.Path(dir_okay=False))
@click.option("--attempts", "attempts", default=None, metavar="NAME",
              help="Show the attempts of the last fill of hole NAME (function name, hole "
                   "name or file:line), from PROGRAM.npl.attempts.jsonl.")
@click.option("--prompts", is_flag=True, help="With --attempts: show each prompt whole.")
@guarded
def holes(program, attempts, prompts):
    """Show each hole of PROGRAM, its fill and provenance."""
    if attempts is not None:
        from npl.attempts_view import show_attempts
        sys.exit(show_attempts(program, attempts, prompts=prompts))
    from npl.holes_view import show_holes
    show_holes(program)


@main.command()
@common_options
@click.argument("program", type=click.Path(dir_okay=False))
@click.option("--refresh", "refresh", multiple=True, metavar="NAME",
              help="Refill this hole (function name or file:line); may repeat.")
@click.option("--log", "log", type=click.File("a", encoding="utf-8", lazy=False), default=None,
              metavar="FILE.jsonl",
              help="Append every attempt of every source (prompt, reply, verdict) to FILE, "
                   "one JSON object a line, as they happen.")
@click.option("--candidates", type=click.IntRange(min=1), default=None, metavar="K",
              help="Draw K candidates per hole and choose by agreement, then speed "
                   "(default: [fill] candidates in npl.toml, else 1).")
@guarded
def fill(program, frozen, model, device, no_jit, refresh, log, candidates):
    """Fill PROGRAM's missing holes and update its lock file."""
    from npl.fill_commands import fill_command
    sys.exit(fill_command(program, frozen=frozen, model=model, refresh=list(refresh), log=log,
                          candidates=candidates))


@main.command()
@click.option("--check", is_flag=True, help="Change nothing; list the files that would change (exit 1 if any).")
@click.argument("files", nargs=-1, required=True, type=click.Path())
def fmt(files, check):
    """Rewrite FILES (and the .npl files under folders) in NPL's canonical layout."""
    from npl.fmt import main_fmt
    sys.exit(main_fmt(list(files), check, echo=click.echo))


@main.command()
@click.argument("program", required=False, type=click.Path(dir_okay=False))
@click.option("--model", default=None, metavar="PROVIDER/MODEL", help="Model for `:fill`.")
def repl(program, model):
    """Interactive session: definitions, statements, expressions, :type, :holes, :fill."""
    from npl.repl import run_repl
    sys.exit(run_repl(program, model=model))


@main.command()
def lsp():
    """Language server (LSP over stdio): diagnostics, hover, definitions, symbols, refill."""
    from npl.lsp import serve
    serve()

from npl.library_cli import library  # noqa: E402
main.add_command(library)


@main.command()
@click.argument("program", type=click.Path(dir_okay=False))
@click.option("--prune", is_flag=True, help="Delete the answers of edited or removed oracles.")
@click.option("--export", metavar="FILE", default=None, help="Write every stored answer to FILE (JSON Lines).")
@guarded
def answers(program, prune, export):
    """List the stored answers of PROGRAM's oracles (PROGRAM.npl.answers)."""
    from npl.oracle_runs import answers_command
    sys.exit(answers_command(program, prune=prune, export=export, echo=click.echo))


@main.command(name="map")
@common_options
@click.argument("program", type=click.Path(dir_okay=False))
@click.argument("function")
@click.option("--input", "input_path", required=True, metavar="FILE",
              help="The records: JSON Lines (.jsonl) or CSV (.csv).")
@click.option("--output", required=True, metavar="FILE", help="Where the results go (JSON Lines).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default=None,
              help="The input's format (default: from its extension).")
@click.option("--workers", type=int, default=None, metavar="N",
              help="Worker processes (default: one per core).")
@click.option("--ray", is_flag=False, flag_value="", default=None, metavar="[ADDRESS]",
              help="Run on Ray: the cluster at ADDRESS (HEAD:6379), or a local instance.")
@click.option("--resume", is_flag=True, help="Keep the records OUTPUT holds; run and append the rest.")
@click.option("--batch-size", type=int, default=None, metavar="K",
              help="Records per batch (default: sized by measurement).")
@click.option("--steps", type=int, default=None, metavar="N", help="Most steps one record's call may take.")
@click.option("--seconds", type=float, default=None, metavar="S",
              help="Most seconds one record's call may run.")
@click.option("--memory-mb", type=int, default=None, metavar="M",
              help="Most memory (MiB) a worker process may use.")
@guarded
def map_cmd(program, function, input_path, output, fmt, workers, ray, resume, batch_size, steps,
            seconds, memory_mb, frozen, model, device, no_jit):
    """Call FUNCTION of PROGRAM on every record of the input; one result per
    record, in input order, in OUTPUT (docs/map.md)."""
    apply_jit_options(no_jit, device)
    from npl.mapping.command import map_command
    sys.exit(map_command(program, function, input=input_path, output=output, fmt=fmt,
                         workers=workers, ray=ray, resume=resume, frozen=frozen, model=model,
                         device=device, no_jit=no_jit, batch_size=batch_size, steps=steps,
                         seconds=seconds, memory_mb=memory_mb, on_open=report_tampered))


@main.command(name="verify")
@click.argument("program", type=click.Path(dir_okay=False))
@click.option("--check", is_flag=True, help="Verify only: never write the lock file (for CI).")
@guarded
def verify_cmd(program, check):
    """Re-verify every lock entry of PROGRAM (hand-written and hand-edited
    ones too); restamp those that pass, report those that fail (exit 1)."""
    from npl.fill_commands import verify_command
    sys.exit(verify_command(program, check=check))


if __name__ == "__main__":
    main()
