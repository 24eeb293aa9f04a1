"""`npl repl [PROG.npl]`: an interactive NPL session.

Takes lines of input (from a terminal through prompt_toolkit, or from any
other stdin, read line by line without prompts so that it can be scripted)
and gives back what NPL would print: values of expressions (as NPL shows
them inside containers: strings quoted), program output, diagnostics with
carets, and run-time errors; the session goes on after an error.

The session is kept as NPL source, recompiled for every input:

    <definitions: def, struct, const, example, property, extern, import>
    def __repl_main() -> T:
        pass
        <every statement accepted so far>
        <the new input>          (an expression E becomes `return (E)`)

and `__repl_main` is run with its output captured. NPL programs can only
compute and print (docs/reference.md §6), so running the earlier statements again
rebuilds exactly the same variables; the output they printed the first time
is skipped, and only the new input's is shown. Session variables therefore
keep their static types across inputs, and an input that fails to compile or
stops with a run-time error leaves the session as it was. Redefining a
function re-runs the session with the new definition (refused if the
earlier statements no longer compile; `:reset` forgets them).

Input that ends with `:` or leaves a bracket, string or hole open continues
on the next line; a blank line ends a block (from a script, so does the next
line that starts in column 0). Commands: `:type EXPR`, `:holes`, `:fill`,
`:load PROG.npl`, `:source`, `:reset`, `:help`, `:quit`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import sys
from pathlib import Path
from typing import Optional, TextIO

from npl.filling.lockfile import LockFile, lock_path_for
from npl.lang import ast as A
from npl.lang.diagnostics import CompileError
from npl.lang.lexemes import Lexeme, scan_lexemes
from npl.lang.parser import parse
from npl.lang.symbols import FuncInfo
from npl.lang.types import (ArrayT, CounterT, DictT, IterT, ListT, OptionalT, PrimT, SetT, StructT,
                            TupleT, Type, NONE)


MAIN = "__repl_main"
DECL_WORDS = ("def", "struct", "const", "example", "property", "extern", "from", "@")
HELP = """\
Enter NPL definitions (def, struct, const, example, property, extern def,
from ... import), statements and expressions. Variables persist between
inputs. A line ending with ':' starts a block; a blank line ends it.
  :type EXPR      the static type of EXPR
  :holes          the session's holes and whether each is filled
  :fill           fill the missing holes (lock -> library -> synthesizer -> model)
  :load PROG.npl  add a program's definitions (and its locked fills)
  :source         the session as an NPL program (its statements become main)
  :reset          forget the session's statements and variables (keep definitions)
  :quit           leave (also Ctrl-D)"""


# ---------------------------------------------------------------- input shape

def _open_and_block(text: str) -> tuple[bool, bool]:
    """(something is left open: bracket, string, hole or `\\`; some line
    ends with `:` outside brackets, i.e. the input is a block)."""
    depth, block, line_code, code_start = 0, False, "", 0
    for lexeme in [*scan_lexemes(text), Lexeme("end", len(text), len(text))]:
        for char in text[code_start:lexeme.start]:
            if char == "\n":
                block |= depth == 0 and line_code.rstrip().endswith(":")
                line_code = ""
                continue
            depth = depth + 1 if char in "([{" else max(depth - 1, 0) if char in ")]}" else depth
            line_code += char
        if not lexeme.closed:
            return True, block
        if lexeme.kind in ("string", "hole"):
            line_code += lexeme.kind[0]           # "s" or "h": code, but no `:` or bracket
        code_start = lexeme.end
    block |= depth == 0 and line_code.rstrip().endswith(":")
    return depth > 0 or line_code.rstrip().endswith("\\"), block


def input_complete(text: str) -> bool:
    """Whether `text` is a whole input: nothing open, and a block (or a
    decorator) followed by a blank last line."""
    if not text.strip() or text.lstrip().startswith(":"):
        return True
    still_open, block = _open_and_block(text)
    if still_open:
        return False
    lines = text.split("\n")
    if block or lines[0].lstrip().startswith("@"):
        return len(lines) > 1 and not lines[-1].strip()
    return True


def next_indent(text: str) -> str:
    """The indentation for a new line after `text` (one level deeper after
    a line that ends a block header)."""
    last = text.split("\n")[-1]
    indent = last[:len(last) - len(last.lstrip())]
    return indent + "    " if last.rstrip().endswith(":") else indent


def _indented(text: str, pad: str = "    ") -> str:
    """`text` indented by `pad`, except lines that start inside a string or
    hole token (their text is part of the literal)."""
    from .fmt_layout import SourceText
    src = SourceText(text)
    inside = src.strings + src.holes
    out = []
    for n, line in enumerate(text.split("\n")):
        start = src.line_starts[n]
        literal = any(a < start < b for a, b in inside)
        out.append(line if literal or not line.strip() else pad + line)
    return "\n".join(out)


def type_text(t: Type, structs: dict) -> Optional[str]:
    """`t` as NPL source writes it, or None when no annotation can name it."""
    if isinstance(t, PrimT):
        return t.name
    if isinstance(t, (ListT, SetT)):
        inner = type_text(t.elem, structs)
        return inner and f"{'list' if isinstance(t, ListT) else 'set'}[{inner}]"
    if isinstance(t, CounterT):
        k = type_text(t.key, structs)
        return k and f"Counter[{k}]"
    if isinstance(t, DictT):
        k, v = type_text(t.key, structs), type_text(t.value, structs)
        return k and v and f"dict[{k}, {v}]"
    if isinstance(t, TupleT):
        parts = [type_text(e, structs) for e in t.elems]
        return None if None in parts else f"tuple[{', '.join(parts)}]"
    if isinstance(t, OptionalT):
        inner = type_text(t.inner, structs)
        return inner and f"{inner} | None"
    if isinstance(t, ArrayT):
        return str(t)
    if isinstance(t, StructT):
        info = structs.get(t.name)
        return info.name if info is not None else None
    return None


class _Tail(io.StringIO):
    """Collects a run's output; passes on, as it comes, what follows the
    first `skip` characters (the replayed statements' output)."""

    def __init__(self, skip: int, out: Optional[TextIO]):
        super().__init__()
        self.skip, self.out = skip, out

    def write(self, text: str) -> int:
        before = self.tell()
        n = super().write(text)
        if self.out is not None and before + len(text) > self.skip:
            self.out.write(text[max(self.skip - before, 0):])
            self.out.flush()
        return n


# ---------------------------------------------------------------- the session

@dataclasses.dataclass
class Definition:
    name: Optional[str]             # None for examples and imports
    text: str


def _definitions(defs: list[Definition]) -> str:
    return "\n\n".join(d.text.rstrip("\n") for d in defs)


def _with_function(defs: list[Definition], header: str, statements: list[str]) -> str:
    """The definitions, then a function: `header` and the statements as its body."""
    head = _definitions(defs)
    return (head + "\n\n" if head else "") + header + "".join(_indented(s) + "\n" for s in statements)


class Session:
    """Definitions and statements; `handle(text)` runs one input."""

    def __init__(self, base_dir: str, *, model: Optional[str] = None,
                 out: TextIO = sys.stdout, err: TextIO = sys.stderr, interactive: bool = False):
        self.base_dir = os.path.abspath(base_dir)
        self.path = os.path.join(self.base_dir, "<session>.npl")
        self.model = model
        self.out, self.err = out, err
        self.interactive = interactive
        self.defs: list[Definition] = []
        self.body: list[str] = []
        self.lock = LockFile(lock_path_for(self.path))   # the session's fills, in memory only
        self.printed = 0                         # output length of the accepted statements
        self.structs: dict = {}                  # IR name -> StructInfo, of the last probe
        self.pending = None                      # (text, statements) stopped by an unfilled hole

    # ------------------------------------------------------------ source

    def source(self, defs: list[Definition], body: list[str], tail: str = "",
               ret: str = "None") -> tuple[str, int]:
        """The session program, and the line where `tail` starts in it."""
        text = _with_function(defs, f"def {MAIN}() -> {ret}:\n    pass\n", body)
        if not tail:
            return text, 0
        return text + _indented(tail) + "\n", text.count("\n") + 1

    def program_text(self) -> str:
        """The session as a program `npl run` can run: the definitions, then
        the accepted statements as the body of `main` (of `session` when a
        definition is already called main)."""
        if not self.body:
            head = _definitions(self.defs)
            return head + "\n" if head else ""
        entry = "session" if any(d.name == "main" for d in self.defs) else "main"
        return _with_function(self.defs, f"def {entry}():\n", self.body)

    def compile(self, text: str):
        from npl.compiler.driver import compile
        return compile(text, self.path, fills=self.lock.stamped_fills(), strict_fills=False)

    # ------------------------------------------------------------ reporting

    def show_compile_error(self, err: CompileError, user: str, first: int, shift: int = 4,
                           last: Optional[int] = None) -> None:
        """Diagnostics; those in the new input (lines `first`..`last` of the
        session program, indented by `shift`) are shown against the input
        as typed, as `<input>:LINE:COL`."""
        for d in err.diagnostics:
            s = d.span
            if first and s.file == self.path and first <= s.line <= (last or s.line):
                span = A.Span("<input>", s.line - first + 1, max(s.col - shift, 1),
                              s.end_line - first + 1, max(s.end_col - shift, 1))
                d = dataclasses.replace(d, span=span)
                print(d.render(user), file=self.err)
            else:
                print(d.render(err.sources.get(s.file)), file=self.err)

    def show_runtime_error(self, exc, first: int, user: str) -> None:
        from npl.runtime.errors import Frame
        frames = []
        lines = user.split("\n")
        for f in exc.frames:
            if f.file == self.path and first and f.line >= first:
                n = f.line - first + 1
                f = Frame("<input>", "<input>", n, lines[n - 1].strip() if n <= len(lines) else "")
            elif f.file == self.path and f.function == MAIN:
                f = dataclasses.replace(f, function="<session>")
            frames.append(f)
        exc.frames = frames
        print(exc.render(), file=self.err)

    # ------------------------------------------------------------ running

    def run(self, comp, show: bool = False) -> tuple[bool, object, str]:
        """Run `__repl_main` of `comp`: (ok, value or NplRuntimeError,
        everything it printed). With `show`, what it prints beyond the
        output of the accepted statements is written out as it comes."""
        from npl.runtime.errors import NplRuntimeError
        from npl.runtime.loader import load_compilation
        sink = _Tail(self.printed, self.out if show else None)
        with contextlib.redirect_stdout(sink):
            try:
                program = load_compilation(comp)
                value = program.call(MAIN)
            except NplRuntimeError as exc:
                return False, exc, sink.getvalue()
        return True, value, sink.getvalue()

    # ------------------------------------------------------------ inputs

    def handle(self, text: str) -> bool:
        """Run one input; False when it failed (the session is unchanged)."""
        text = text.strip("\n")
        if not text.strip():
            return True
        stripped = text.strip()
        if stripped.startswith(":"):
            return self.command(stripped)
        if all(not line.strip() or line.strip().startswith("#") for line in text.split("\n")):
            return True
        kind, parsed = self.classify(text)
        if kind == "error":
            return False
        if kind == "defs":
            if len(parsed) == 1:                  # kept whole, comments included
                return self.define([dataclasses.replace(self.decl_text(text, parsed[0]), text=text)],
                                   text)
            return self.define([self.decl_text(text, d) for d in parsed])
        return self.statement(text, parsed)

    def classify(self, text: str):
        """("defs", decls) | ("stmts", statements) | ("error", None)."""
        try:
            module = parse(text, "<input>")
            if module.decls:
                return "defs", module.decls
        except CompileError as err:
            module_error = err
        else:
            module_error = None
        try:
            wrapped = parse(f"def {MAIN}():\n    pass\n" + _indented(text), self.path)
        except CompileError as err:
            word = re.match(r"\s*(@|\w+)", text)
            if module_error is not None and word and word.group(1) in DECL_WORDS:
                print(module_error.render(), file=self.err)
            else:
                self.show_compile_error(err, text, 3)
            return "error", None
        return "stmts", wrapped.decls[0].body[1:]

    @staticmethod
    def decl_text(text: str, d) -> Definition:
        lines = text.split("\n")
        start = d.span.line
        if isinstance(d, A.FuncDef) and d.decorators:
            while start > 1 and lines[start - 2].lstrip().startswith("@"):
                start -= 1
        name = getattr(d, "name", None) if not isinstance(d, (A.Example, A.ImportFrom)) else None
        return Definition(name, "\n".join(lines[start - 1:d.span.end_line]))

    def define(self, new: list[Definition], user: str = "") -> bool:
        """Add (or replace, by name) definitions; the session's statements
        are checked and run again with them."""
        names = {d.name for d in new if d.name}
        kept = [d for d in self.defs if d.name is None or d.name not in names]
        text, _ = self.source(kept + new, self.body)
        before, _ = self.source(kept, [])
        first = before.index(f"def {MAIN}(")
        first = before.count("\n", 0, first) + 1 if kept else 1
        try:
            comp = self.compile(text)
        except CompileError as err:
            self.show_compile_error(err, user, first if user else 0, 0,
                                    first + user.count("\n") if user else None)
            if self.body:
                print("note: definitions are checked together with the session's statements; "
                      "`:reset` forgets those", file=self.err)
            return False
        ok, value, output = self.run(comp)
        if not ok:
            print("error: the session's statements fail with these definitions "
                  "(`:reset` forgets them):", file=self.err)
            self.show_runtime_error(value, 0, "")
            return False
        self.defs, self.printed = kept + new, len(output)
        return True

    def statement(self, text: str, stmts) -> bool:
        for s in stmts:
            for node in A.walk(s):
                if isinstance(node, A.Return):
                    print("error: `return` belongs inside a function", file=self.err)
                    return False
        ret, tail = "None", text
        if len(stmts) == 1 and isinstance(stmts[0], A.ExprStmt):
            t = self.probe_type(text)
            if t is False:
                return False
            if t is not None and t != NONE:
                shown = type_text(t, self.structs)
                if shown is None and isinstance(t, IterT):
                    shown = type_text(ListT(t.elem), self.structs)
                    tail = f"return list(\n{text}\n)"
                else:
                    tail = f"return (\n{text}\n)"
                if shown is None:
                    print(f"error: a value of type {t} cannot be shown", file=self.err)
                    return False
                ret = shown
        source, first = self.source(self.defs, self.body, tail, ret)
        if tail.startswith("return"):
            first += 1
        try:
            comp = self.compile(source)
        except CompileError as err:
            self.show_compile_error(err, text, first)
            return False
        ok, value, output = self.run(comp, show=True)
        if not ok:
            self.show_runtime_error(value, first, text)
            if value.kind == "hole":
                self.pending = (text, stmts)
                print("note: `:fill` fills the session's holes (`:holes` lists them)"
                      + (", then runs this input again" if any(
                          h.info.span.line >= first for h in comp.unfilled) else ""),
                      file=self.err)
            return False
        self.pending = None
        if ret != "None":
            from npl.runtime.values import npl_repr
            print(npl_repr(value), file=self.out)
        self.body.append(text)
        self.printed = len(output)
        return True

    def probe_type(self, text: str):
        """The static type of expression `text` in the session (None for a
        procedure call), or False after showing why it does not check."""
        source, first = self.source(self.defs, self.body, text)
        try:
            comp = self.compile(source)
        except CompileError as err:
            self.show_compile_error(err, text, first)
            return False
        self.structs = comp.program.structs
        main = next(d for d in comp.program.modules[self.path].decls
                    if isinstance(d, A.FuncDef) and d.name == MAIN)
        return comp.program.types.get(main.body[-1].value)

    # ------------------------------------------------------------ commands

    def command(self, line: str) -> bool:
        name, _, arg = line[1:].partition(" ")
        arg = arg.strip()
        if name in ("q", "quit", "exit"):
            raise EOFError
        if name in ("h", "help"):
            print(HELP, file=self.out)
            return True
        if name in ("t", "type"):
            if not arg:
                print("usage: :type EXPR", file=self.err)
                return False
            fn = self.function_named(arg)
            if fn is not None:                   # a function: its signature
                from npl.compiler.holes import signature_text
                print(signature_text(fn), file=self.out)
                return True
            t = self.probe_type(arg)
            if t is False:
                return False
            print(str(t if t is not None else NONE), file=self.out)
            return True
        if name == "holes":
            return self.holes()
        if name == "fill":
            return self.fill()
        if name == "load":
            return self.load(arg)
        if name == "source":
            print(self.program_text(), end="", file=self.out)
            return True
        if name == "reset":
            self.body, self.printed = [], 0
            return True
        print(f"error: unknown command :{name} (:help lists them)", file=self.err)
        return False

    def function_named(self, name: str):
        """The session's function `name` (None if `name` is not one)."""
        if not name.isidentifier():
            return None
        text, _ = self.source(self.defs, [])
        try:
            comp = self.compile(text)
        except CompileError:
            return None
        fn = comp.program.scopes.get(self.path, {}).get(name)
        return fn if isinstance(fn, FuncInfo) and fn.name != MAIN else None

    def current(self):
        """The compiled session, with the input that stopped at an unfilled
        hole (if any) at its end, or None after showing why it fails."""
        tail = self.pending[0] if self.pending else ""
        text, _ = self.source(self.defs, self.body, tail)
        try:
            return self.compile(text)
        except CompileError as err:
            print(err.render(), file=self.err)
            return None

    def holes(self) -> bool:
        comp = self.current()
        if comp is None:
            return False
        if not comp.holes:
            print("no holes", file=self.out)
        for spec in comp.holes:
            entry = self.lock.entries.get(spec.key)
            filled = spec.key in comp.filled
            state = f"filled ({entry.provenance.source})" if filled and entry else "missing"
            print(f"{spec.name.replace(MAIN, '<session>')}: {spec.kind} hole, {state}", file=self.out)
            print(f"    {spec.description}", file=self.out)
            print(f"    {spec.signature}", file=self.out)
        return True

    def fill(self) -> bool:
        """Fill the session's missing holes, the input that stopped at one
        included, with the filler (imports and npl.toml settings from the
        session's folder); the fills are kept in the session's lock, in
        memory: no file is written."""
        from npl.filling.filler import FillFailedError
        from npl.filling.settings import Settings
        from npl.project import OpenProgram, fill_missing
        comp = self.current()
        if comp is None:
            return False
        if not comp.unfilled and not comp.rejected:
            print("every hole is filled", file=self.out)
            return True
        try:
            session = OpenProgram(self.path, comp.source, self.lock,
                                  Settings.load(Path(self.base_dir)), comp)
            filled, result = fill_missing(session, model=self.model, quiet=not self.interactive,
                                          save=False)
        except CompileError as err:
            print(err.render(), file=self.err)
            return False
        self.lock, comp = filled.lock, filled.comp
        if result.failures:
            print(str(FillFailedError(result)), file=self.err)
        done = len(comp.holes) - len(comp.unfilled)
        print(f"{done} of {len(comp.holes)} hole{'s' if len(comp.holes) != 1 else ''} filled",
              file=self.out)
        if self.pending and not comp.unfilled:
            text, stmts = self.pending
            self.pending = None
            return self.statement(text, stmts)
        return not comp.unfilled

    def load(self, arg: str) -> bool:
        if not arg:
            print("usage: :load PROG.npl", file=self.err)
            return False
        path = os.path.expanduser(arg)
        try:
            text = Path(path).read_text(encoding="utf-8")
            module = parse(text, path)
            lock = LockFile.load(lock_path_for(path))
        except (OSError, UnicodeDecodeError) as exc:
            print(f"error: cannot read {arg}: {exc}", file=self.err)
            return False
        except CompileError as err:
            print(err.render(), file=self.err)
            return False
        except Exception as exc:                 # a bad lock file
            print(f"error: {exc}", file=self.err)
            return False
        saved = self.lock
        self.lock = dataclasses.replace(saved, entries={**saved.entries, **lock.entries})
        new = [self.decl_text(text.replace("\r\n", "\n"), d) for d in module.decls]
        if not self.define(new):
            self.lock = saved
            return False
        print(f"loaded {len(new)} definition{'s' if len(new) != 1 else ''} from {arg}",
              file=self.out)
        return True


# ---------------------------------------------------------------- front ends

def _guarded(session: Session, text: str) -> bool:
    """`session.handle(text)`; a failure inside NPL itself is reported and
    the session goes on (NPL_DEBUG=1 shows the traceback)."""
    try:
        return session.handle(text)
    except (EOFError, KeyboardInterrupt):
        raise
    except Exception as exc:
        if os.environ.get("NPL_DEBUG") == "1":
            raise
        print(f"npl: internal error: {type(exc).__name__}: {exc} (this is a bug in NPL)",
              file=session.err)
        return False


def read_script(session: Session, stream: TextIO) -> int:
    """Inputs from a non-terminal stream; exit status 1 if any failed."""
    failed, lines = False, []

    def flush() -> None:
        nonlocal failed, lines
        if lines:
            failed |= not _guarded(session, "\n".join(lines))
            lines = []

    try:
        for raw in stream:
            line = raw.rstrip("\r\n")
            if lines and line.strip() and not line[0].isspace() and not re.match(r"(elif|else)\b", line):
                still_open, block = _open_and_block("\n".join(lines))
                if block and not still_open:
                    flush()                   # a new input in column 0 ends the block
            if not lines and not line.strip():
                continue
            lines.append(line)
            if input_complete("\n".join(lines)):
                flush()
        flush()
    except EOFError:                          # :quit
        pass
    return 1 if failed else 0


def interactive(session: Session) -> int:
    from platformdirs import user_data_dir
    from prompt_toolkit import PromptSession
    from prompt_toolkit.document import Document
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.lexers import PygmentsLexer

    from npl.editors.lexer import NplLexer

    folder = Path(user_data_dir("npl"))
    folder.mkdir(parents=True, exist_ok=True)
    keys = KeyBindings()

    @keys.add("enter")
    def _enter(event) -> None:
        buf = event.current_buffer
        if input_complete(buf.text):
            text = buf.text.rstrip()
            if text != buf.text:            # no trailing blank line in the history
                buf.document = Document(text, len(text))
            buf.validate_and_handle()
        else:
            buf.insert_text("\n" + next_indent(buf.text))

    prompt = PromptSession(history=FileHistory(str(folder / "repl_history")), key_bindings=keys,
                           multiline=True, lexer=PygmentsLexer(NplLexer),
                           prompt_continuation=lambda width, line, soft: "... ")
    print("NPL session; :help for commands, :quit to leave", file=session.out)
    while True:
        try:
            text = prompt.prompt(">>> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            return 0
        try:
            _guarded(session, text)
        except EOFError:
            return 0
        except KeyboardInterrupt:
            print("interrupted", file=session.err)


def run_repl(program: Optional[str] = None, *, model: Optional[str] = None,
             stdin: TextIO = sys.stdin) -> int:
    """The `npl repl` command: returns the exit status."""
    tty = stdin.isatty() and sys.stdout.isatty()
    base = os.path.dirname(os.path.abspath(program)) if program else os.getcwd()
    session = Session(base, model=model, interactive=tty)
    if program and not session.load(program):
        return 2
    return interactive(session) if tty else read_script(session, stdin)
