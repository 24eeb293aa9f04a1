"""The `npl` command line (SPEC section 10).

Exit status: 0 success, 1 a run-time error or a failing test, 2 a compile
error (bad program, missing fill in --frozen mode, bad lock file, a program
file that cannot be read); docs/security.md lists them all.
Python tracebacks from NPL's own code are never shown unless NPL_DEBUG=1.
"""
from __future__ import annotations

import os
import sys
from typing import Optional

import click

from npl.lang.diagnostics import CompileError

DEBUG = os.environ.get("NPL_DEBUG") == "1"


def fail_compile(err: CompileError) -> None:
    click.echo(err.render(), err=True)
    n = len(err.diagnostics)
    click.echo(f"{n} error{'s' if n != 1 else ''}", err=True)
    sys.exit(2)


def guarded(fn):
    """Turn NPL's own errors into messages and exit codes."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except CompileError as err:
            fail_compile(err)
        except KeyboardInterrupt:
            click.echo("npl: interrupted", err=True)
            sys.exit(130)
        except SystemExit:
            raise
        except Exception as exc:
            report_error(exc)
    return wrapper


def report_error(exc: Exception) -> None:
    """Known NPL errors get their message; anything else is an NPL bug and
    never shows a raw traceback (unless NPL_DEBUG=1). The error classes are
    looked up lazily so that start-up imports stay small."""
    kind = type(exc).__name__
    if kind == "LockFileError":
        click.echo(str(exc), err=True)
        sys.exit(2)
    if kind in ("DeviceError", "SourceFileError", "UnknownHoleError"):   # bad device, file, --refresh
        click.echo(f"npl: error: {exc}", err=True)
        sys.exit(2)
    if kind in ("FillFailedError", "NoFillerError"):
        click.echo(str(exc), err=True)
        sys.exit(1)
    if kind == "ProviderError":
        click.echo(f"npl: error: {exc}", err=True)
        sys.exit(1)
    if DEBUG:
        raise exc
    click.echo(f"npl: internal error: {kind}: {exc}\n"
               "  (this is a bug in NPL; rerun with NPL_DEBUG=1 for details)", err=True)
    sys.exit(3)


def common_options(fn):
    fn = click.option("--frozen", is_flag=True, help="Never contact a model: a missing fill is an error.")(fn)
    fn = click.option("--model", default=None, metavar="PROVIDER/MODEL",
                      help="Model for filling holes (openai/..., anthropic/..., local/...).")(fn)
    fn = click.option("--device", type=click.Choice(["cpu", "cuda"], case_sensitive=False),
                      default="cpu", envvar="NPL_DEVICE",
                      help="Where @kernel functions run (also NPL_DEVICE).")(fn)
    fn = click.option("--no-jit", is_flag=True, help="Run kernels in the interpreter (also NPL_JIT=off).")(fn)
    return fn


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="npl")
def main():
    """NPL: write programs with holes in plain English; fill them once with a
    model, verify, lock, and run natively."""


def prepare(path: str, frozen: bool, model: Optional[str], quiet: bool = False):
    """Open the program and make sure every hole has a fill (filling if
    allowed). Returns the OpenProgram."""
    from npl.project import missing_fill_errors, open_program
    prog = open_program(path, strict_fills=frozen)
    report_tampered(prog)
    if prog.missing or prog.comp.rejected:
        if frozen:
            raise CompileError(missing_fill_errors(prog), prog.comp.sources)
        from npl.filling.filler import fill_program
        fill_program(prog, model=model, quiet=quiet)
        prog = open_program(path, strict_fills=True)
        if prog.missing:
            raise CompileError(missing_fill_errors(prog), prog.comp.sources)
    return prog


def report_tampered(prog) -> None:
    for t in prog.lock.tampered:
        click.echo(f"{prog.lock.path}:{t.line}: warning: lock entry for '{t.name}' was edited by hand "
                   f"({t.reason}); it is ignored (run `npl verify` to re-verify and restamp)", err=True)


def configure_jit(no_jit: bool, device: str) -> None:
    if no_jit:
        os.environ["NPL_JIT"] = "off"
    os.environ["NPL_DEVICE"] = device


RUN_OPTIONS = ("--frozen", "--model", "--device", "--no-jit")


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@common_options
@click.argument("program", type=click.Path(dir_okay=False))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@guarded
def run(program, args, frozen, model, device, no_jit):
    """Check PROGRAM, fill missing holes, and run its main().

    npl's options go before PROGRAM; everything after it is passed to main."""
    misplaced = [a for a in args if a.split("=")[0] in RUN_OPTIONS]
    if misplaced:
        click.echo(f"npl: note: {', '.join(misplaced)} after {program} is passed to the program's "
                   f"main(args); put npl's options before the program: npl run {misplaced[0]} ... "
                   f"{program}", err=True)
    configure_jit(no_jit, device)
    prog = prepare(program, frozen, model)
    from npl.runtime.loader import run_main
    oracles = []

    def setup(loaded):
        from npl.oracle_runs import install_oracles
        oracles.append(install_oracles(loaded, prog.comp, prog.settings, frozen=frozen, model=model))
    try:
        status = run_main(prog.comp, list(args), setup=setup if prog.comp.oracles else None)
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
    configure_jit(no_jit, device)
    prog = prepare(program, frozen, model)
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
@guarded
def fill(program, frozen, model, device, no_jit, refresh):
    """Fill PROGRAM's missing holes and update its lock file."""
    from npl.fill_commands import fill_command
    sys.exit(fill_command(program, frozen=frozen, model=model, refresh=list(refresh)))


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
