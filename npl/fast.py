"""The `npl` command's entry point: a compile-cache lookup in front of the
command line.

`npl run [OPTIONS] PROG.npl [ARGS...]` of a program that ran before starts
from the compile cache (npl/runcache.py): no click, no parser, no checker,
no lowering, no code generation, no NumPy unless the program uses arrays. It
is the same `npl run` (npl/run_command.py: one reading of the options, one
routine that loads and runs the program and reports how it ended); only
where the program comes from differs. Everything else (other commands,
help, a first run, a changed program, the GPU) goes to the full command
line, npl/cli.py, whose `npl run` compiles the program and stores it in the
cache.
"""
from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def main(argv: Optional[list[str]] = None) -> None:
    """The `npl` console script: `npl run` from the cache when it can,
    otherwise npl/cli.py."""
    from npl.run_command import parse_run, run_cached
    args = sys.argv[1:] if argv is None else list(argv)
    request = parse_run(args)
    if request is not None:
        status = run_cached(request)
        if status is not None:
            sys.exit(status)
    from npl.cli import main as cli_main
    if argv is None:
        cli_main()
    else:
        cli_main(args=args, prog_name="npl")


if __name__ == "__main__":
    main()
