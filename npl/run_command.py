"""`npl run`, defined once: its options, how its command line reads, and
how a program runs and ends.

    RUN_OPTIONS       the options of `npl run` (and of `npl test` and
                      `npl fill`): npl/cli.py builds click's from them,
                      `parse_run` reads them without click
    parse_run(argv)   `run [OPTIONS] PROGRAM [ARGS...]` as a RunRequest, or
                      None when click must answer (help, an error, ...)
    run_compiled      the compiling path: after npl/cli.py has compiled and
                      filled the program, stores it in the compile cache
    run_cached        the fast path (npl/fast.py): the same run, from the
                      compile cache (npl/runcache.py) when it holds the program
    execute           what both do: load the program (define its functions,
                      initialise its constants, attach the JIT), run main,
                      and turn what escapes into its message and exit status
                      (npl/report.py)

Exit status: 0, 1 after a run-time error (its NPL stack trace on stderr),
2 a compile error, 130 when interrupted, 3 an internal error.

Imports neither click nor the compiler: the fast path starts here.
"""
from __future__ import annotations

import os
import sys

from npl.report import report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional


class Option:
    """One command-line option: `--name` with a value, or a flag."""

    __slots__ = ("name", "help", "flag", "metavar", "choices", "default", "envvar")

    def __init__(self, name: str, help: str, *, flag: bool = False, metavar: Optional[str] = None,
                 choices: tuple[str, ...] = (), default: Optional[str] = None,
                 envvar: Optional[str] = None):
        self.name = name
        self.help = help
        self.flag = flag
        self.metavar = metavar
        self.choices = choices
        self.default = default
        self.envvar = envvar

    @property
    def dest(self) -> str:
        """The keyword the command's function takes it as."""
        return self.name.lstrip("-").replace("-", "_")

    def initial(self) -> Any:
        """The value when the option is not given (its environment
        variable, if set, else its default; False for a flag)."""
        if self.flag:
            return False
        return (os.environ.get(self.envvar) if self.envvar else None) or self.default

    def accepts(self, value: str) -> Optional[str]:
        """`value` as the option takes it (a choice, case-insensitively), or
        None when it is not one."""
        if not self.choices:
            return value
        folded = value.casefold()
        return next((c for c in self.choices if c.casefold() == folded), None)


RUN_OPTIONS = (
    Option("--frozen", "Never contact a model: a missing fill is an error.", flag=True),
    Option("--model", "Model for filling holes (openai/..., anthropic/..., local/...).",
           metavar="PROVIDER/MODEL"),
    Option("--device", "Where @kernel functions run (also NPL_DEVICE).",
           choices=("cpu", "cuda"), default="cpu", envvar="NPL_DEVICE"),
    Option("--no-jit", "Run kernels in the interpreter (also NPL_JIT=off).", flag=True),
)
_BY_NAME = {o.name: o for o in RUN_OPTIONS}


class RunRequest:
    """`npl run` as its command line asks: the program, its arguments and
    the options (by `Option.dest`)."""

    __slots__ = ("path", "args", "options")

    def __init__(self, path: str, args: list[str], options: dict[str, Any]):
        self.path = path
        self.args = args
        self.options = options

    @property
    def no_jit(self) -> bool:
        return bool(self.options["no_jit"])

    @property
    def device(self) -> str:
        return str(self.options["device"])


def parse_run(argv: list[str]) -> Optional[RunRequest]:
    """`run [OPTIONS] PROGRAM [ARGS...]` as npl/cli.py's click command reads
    it (options before PROGRAM; everything after it is the program's), or
    None for anything only click answers: help, an unknown or malformed
    option, `--`, a missing PROGRAM, a value that is not a choice."""
    if not argv or argv[0] != "run":
        return None
    options = {o.dest: o.initial() for o in RUN_OPTIONS}
    rest = argv[1:]
    while rest and rest[0].startswith("-"):
        taken = _take_option(rest, options)
        if not taken:
            return None
        rest = rest[taken:]
    if not rest or not _choices_hold(options):
        return None
    return RunRequest(rest[0], rest[1:], options)


def _take_option(args: list[str], options: dict[str, Any]) -> int:
    """Read the option `args` starts with into `options`; how many
    arguments it took, 0 when click would not take it."""
    name, eq, value = args[0].partition("=")
    option = _BY_NAME.get(name)
    if option is None:
        return 0
    if option.flag:
        options[option.dest] = True
        return 0 if eq else 1
    if not eq:
        if len(args) < 2:
            return 0
        value = args[1]
    options[option.dest] = option.accepts(value)
    if options[option.dest] is None:
        return 0
    return 1 if eq else 2


def _choices_hold(options: dict[str, Any]) -> bool:
    """Whether each option with choices has one (a value from the
    environment is checked only now, as click checks it)."""
    for option in RUN_OPTIONS:
        value = options[option.dest]
        if option.choices and value is not None:
            options[option.dest] = value = option.accepts(value)
            if value is None:
                return False
    return True


def misplaced_note(program: str, args: list[str]) -> Optional[str]:
    """The note for npl's own options written after the program (they are
    the program's arguments)."""
    misplaced = [a for a in args if a.split("=")[0] in _BY_NAME]
    if not misplaced:
        return None
    return (f"npl: note: {', '.join(misplaced)} after {program} is passed to the program's "
            f"main(args); put npl's options before the program: npl run {misplaced[0]} ... "
            f"{program}")


def note_misplaced(program: str, args: list[str]) -> None:
    note = misplaced_note(program, args)
    if note is not None:
        print(note, file=sys.stderr)


def apply_jit_options(no_jit: bool, device: str) -> None:
    """--no-jit and --device, for the runtime (runtime/tiering.py jit_mode
    reads NPL_JIT, runtime/jit.py NPL_DEVICE)."""
    if no_jit:
        os.environ["NPL_JIT"] = "off"
    os.environ["NPL_DEVICE"] = device


def execute(load: Callable[[], Any], argv: list[str]) -> int:
    """Run a program and give the exit status: `load()` gives it loaded
    (functions defined, constants initialised, JIT attached: runtime/loader.py
    `load_main` or `load_image`), then its main runs with `argv`. Whatever
    escapes (a run-time error, a compile error, Ctrl-C, an NPL bug) becomes
    its message and status (npl/report.py)."""
    try:
        try:
            program = load()
            program.run_main(argv)
        finally:
            sys.stdout.flush()
    except BaseException as exc:
        return report(exc)
    return 0


def run_compiled(path: str, comp, argv: list[str],
                 setup: Optional[Callable[[Any], None]] = None) -> int:
    """Run `comp` (PROGRAM compiled with every fill) and store it in the
    compile cache once it is loaded, before its main runs; `setup(program)`
    runs after loading (the CLI installs the oracle answerer there)."""
    def load():
        from npl.runtime.loader import load_main
        program = load_main(comp)
        if setup is not None:
            setup(program)
        from npl import runcache
        if runcache.enabled():
            runcache.store(path, comp, program)
        return program
    return execute(load, argv)


def run_cached(request: RunRequest) -> Optional[int]:
    """Run `request` from the compile cache and give its exit status, or
    None when the cache cannot run it (no valid entry, another device, a JIT
    whose targets are unknown): then nothing has been printed or run."""
    from npl import runcache
    if request.device != "cpu" or not runcache.enabled():
        return None
    apply_jit_options(request.no_jit, request.device)
    entry = runcache.lookup(request.path)
    if entry is None or not entry.runs_cached():
        return None
    try:
        from npl.runtime.image import Runner
        runner = Runner(entry.image)
    except Exception:
        return None
    note_misplaced(request.path, request.args)
    path = request.path

    def recompile():
        from npl.project import open_program
        return open_program(path, strict_fills=True).comp

    def load():
        from npl.runtime.loader import load_image
        return load_image(runner, entry.targets, entry.keys, recompile)
    return execute(load, request.args)
