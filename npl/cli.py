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
    sys.exit(run_tests_cli(prog.comp, max_examples=max_examples, strict=strict,
                           setup=setup if prog.comp.oracles else None))


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
@guarded
def holes(program):
    """Show each hole of PROGRAM, its fill and provenance."""
    from npl.holes_view import show_holes
    show_holes(program)


@main.command()
@common_options
@click.argument("program", type=click.Path(dir_okay=False))
@click.option("--refresh", "refresh", multiple=True, metavar="NAME",
              help="Refill this hole (function name or file:line); may repeat.")
@click.option("--candidates", type=click.IntRange(min=1), default=None, metavar="K",
              help="Draw K candidates per hole and choose by agreement, then speed "
                   "(default: [fill] candidates in npl.toml, else 1).")
@guarded
def fill(program, frozen, model, device, no_jit, refresh, candidates):
    """Fill PROGRAM's missing holes and update its lock file."""
    from npl.fill_commands import fill_command
    sys.exit(fill_command(program, frozen=frozen, model=model, refresh=list(refresh),
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
