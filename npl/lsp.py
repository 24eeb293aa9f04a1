"""`npl lsp`: a language server for NPL (LSP over stdio, built on pygls).

Takes LSP requests from an editor and gives back:
  * diagnostics, on didOpen / didChange / didSave: parse, type and kernel
    errors from the checker (range from the span, `code` E0xx, notes in the
    message); a fill in the lock file that no longer checks (warning); and
    each hole without a fill (information, E040);
  * hover: the static type of the expression or name under the cursor
    (CheckedProgram.types), a function's signature and docstring, a struct's
    fields; on a hole, its kind, description and signature, and its fill and
    provenance from PROG.npl.lock when the lock has an entry for it;
  * go to definition: functions, structs, constants (also across imports),
    struct fields, and a local variable's first assignment (or parameter);
  * document symbols: functions, extern functions, structs (fields as
    children), constants, examples and properties;
  * a code action on a hole, "Refill this hole" ("Fill this hole" when it
    has none), that runs the workspace command `npl.refillHole` [uri, name]:
    the filler (lock -> library -> synthesizer -> model) with --refresh for
    that hole on the saved file; it answers {"hole", "source", "fill"} or
    {"error"}. The model is `initializationOptions.model`, NPL_MODEL, or
    npl.toml's.

The analysis runs the driver's front end (compiler/driver.py front_end:
parse, Checker, kernel checks) and keeps its checked program, so that hover
and definitions work in a file with type errors; a file that checks goes on
through the rest of the driver (compile_checked) with its locked fills,
which gives the holes and their keys.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Optional

from lsprotocol import types as T
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from npl.lang import ast as A
from npl.lang.diagnostics import CompileError, Diagnostic
from npl.lang.symbols import StructInfo

REFILL = "npl.refillHole"


# ---------------------------------------------------------------- positions

def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class Positions:
    """1-based line/column (code points) <-> LSP 0-based line/UTF-16 unit."""

    def __init__(self, text: str):
        self.lines = text.split("\n")

    def to_lsp(self, line: int, col: int) -> T.Position:
        if line < 1:
            return T.Position(0, 0)
        text = self.lines[line - 1] if line <= len(self.lines) else ""
        return T.Position(line - 1, _utf16(text[:max(col - 1, 0)]))

    def range(self, span: A.Span) -> T.Range:
        return T.Range(self.to_lsp(span.line, span.col), self.to_lsp(span.end_line, span.end_col))

    def from_lsp(self, pos: T.Position) -> tuple[int, int]:
        text = self.lines[pos.line] if pos.line < len(self.lines) else ""
        units = 0
        for k, ch in enumerate(text):
            if units >= pos.character:
                return pos.line + 1, k + 1
            units += _utf16(ch)
        return pos.line + 1, len(text) + 1


def _contains(span: A.Span, line: int, col: int) -> bool:
    return span.line > 0 and (span.line, span.col) <= (line, col) < (span.end_line, span.end_col)


# ---------------------------------------------------------------- analysis

@dataclass
class Analysis:
    uri: str
    path: str
    text: str
    pos: Positions
    module: Optional[A.Module] = None           # the parse tree, if the text parses
    program: object = None                      # CheckedProgram (maybe with errors)
    comp: object = None                         # Compilation, if the program checks
    lock: object = None                         # LockFile, if readable
    diagnostics: list[T.Diagnostic] = field(default_factory=list)

    def lsp_diagnostic(self, d: Diagnostic, severity=T.DiagnosticSeverity.Error) -> T.Diagnostic:
        message = "\n".join((d.message,) + tuple(f"note: {n}" for n in d.notes))
        if d.span.file != self.path:
            where = f"{d.span}: " if d.span.line > 0 else f"{d.span.file}: "
            return T.Diagnostic(T.Range(T.Position(0, 0), T.Position(0, 0)), where + message,
                                severity=severity, code=d.code, source="npl")
        return T.Diagnostic(self.pos.range(d.span), message, severity=severity, code=d.code,
                            source="npl")


def analyze(uri: str, text: str) -> Analysis:
    """Check the document `text` (named by `uri`) with the lock file beside it."""
    from npl.compiler.driver import compile_checked, front_end
    from npl.filling.lockfile import LockFile, LockFileError, lock_path_for
    path = to_fs_path(uri) or uri
    text = text.replace("\r\n", "\n")
    a = Analysis(uri, path, text, Positions(text))
    checked = front_end(text, path)
    if checked.checker is not None:
        a.program = checked.checker.prog
        a.module = a.program.modules[path]
    if checked.has_errors:
        a.diagnostics = [a.lsp_diagnostic(d) for d in checked.diagnostics]
        return a
    try:
        a.lock = LockFile.load(lock_path_for(path))
    except LockFileError as err:
        a.diagnostics.append(a.lsp_diagnostic(err.diagnostic, T.DiagnosticSeverity.Warning))
    fills = a.lock.stamped_fills() if a.lock else {}
    try:            # an imported file's holes: the fills locked beside it (npl/project.py)
        from npl.project import imported_entries, usable_fills
        fills.update(usable_fills(imported_entries(path, checked.checker.prog.modules)))
    except LockFileError as err:
        a.diagnostics.append(a.lsp_diagnostic(err.diagnostic, T.DiagnosticSeverity.Warning))
    try:
        a.comp = compile_checked(checked, fills=fills, strict_fills=False)
    except CompileError as err:
        a.diagnostics += [a.lsp_diagnostic(d) for d in err.diagnostics]
        return a
    except Exception as exc:                    # an NPL bug: say so, keep serving
        a.diagnostics.append(T.Diagnostic(T.Range(T.Position(0, 0), T.Position(0, 0)),
                                          f"internal error: {type(exc).__name__}: {exc}",
                                          source="npl"))
        return a
    a.program, a.module = a.comp.program, a.comp.program.modules[path]
    for problem in a.comp.rejected:
        a.diagnostics.append(a.lsp_diagnostic(Diagnostic(
            "E041", f"the locked fill of hole '{problem.spec.name}' no longer checks: "
            + "; ".join(d.message for d in problem.diagnostics), problem.spec.info.span),
            T.DiagnosticSeverity.Warning))
    for spec in a.comp.unfilled:
        if spec.depth == 0 and spec.info.module == path:
            a.diagnostics.append(a.lsp_diagnostic(Diagnostic(
                "E040", f"hole '{spec.name}' has no fill (npl fill {path})", spec.info.span),
                T.DiagnosticSeverity.Information))
    return a


# ---------------------------------------------------------------- queries

def node_at(a: Analysis, line: int, col: int) -> tuple[Optional[A.Node], list[A.Node]]:
    """The innermost node at line:col and the chain of nodes enclosing it."""
    if a.module is None:
        return None, []
    chain: list[A.Node] = []
    node = a.module
    while True:
        inner = next((c for c in A.children(node) if _contains(c.span, line, col)), None)
        if inner is None:
            return (chain[-1] if chain else None), chain
        chain.append(inner)
        node = inner


def hole_specs(a: Analysis) -> dict[int, object]:
    return {id(s.info.node): s for s in a.comp.holes} if a.comp is not None else {}


def hole_markdown(a: Analysis, spec) -> str:
    out = [f"**{spec.kind} hole** `{spec.name}`", "", spec.description, "",
           "```npl", spec.signature, "```"]
    entry = a.lock.entries.get(spec.key) if a.lock is not None else None
    if entry is None:
        out += ["", "_no fill in the lock file_ (`npl fill`)"]
        return "\n".join(out)
    p = entry.provenance
    detail = [f"source: {p.source}"]
    if p.model:
        detail.append(f"model {p.model}")
    if p.attempts:
        detail.append(f"{p.attempts} attempt{'s' if p.attempts != 1 else ''}, "
                      f"{p.prompt_tokens}+{p.completion_tokens} tokens")
    if p.library_entry:
        detail.append(f"library entry {p.library_entry}")
    state = "in use" if spec.key in a.comp.filled else (
        "not verified yet (`npl fill` verifies it)" if entry.needs_verification else "not in use")
    out += ["", f"**fill** ({', '.join(detail)}; {state})", "", "```npl", entry.fill.rstrip("\n"), "```"]
    return "\n".join(out)


def _signature(fn) -> str:
    declared = fn.params[:len(fn.decl.params)]      # a nested function's captures are not shown
    params = ", ".join(f"{n}: {t}" for n, t in declared)
    return f"{'extern ' if fn.extern else ''}def {fn.name}({params}) -> {fn.ret}"


def _symbol(a: Analysis, name: str):
    return a.program.scopes.get(a.path, {}).get(name) if a.program is not None else None


def _function_of(a: Analysis, decl):
    """The checked function of `decl`, a top-level or a nested `def`."""
    return next((f for f in a.program.funcs.values() if f.decl is decl), None)


def hover_text(a: Analysis, line: int, col: int) -> Optional[str]:
    node, chain = node_at(a, line, col)
    if node is None or a.program is None:
        return None
    specs = hole_specs(a)
    for n in reversed(chain):                   # a hole, or inside a function hole
        if id(n) in specs and (isinstance(n, A.Hole) or n is chain[0]):
            return hole_markdown(a, specs[id(n)])
    prog = a.program
    code = lambda text: f"```npl\n{text}\n```"
    if isinstance(node, A.Name):
        parent = chain[-2] if len(chain) > 1 else None
        if isinstance(parent, A.Call) and parent.func is node:
            ref = prog.calls.get(parent)
            if ref is not None and ref.kind == "func" and ref.target in prog.funcs:
                return _function_markdown(prog.funcs[ref.target], a)
            if ref is not None and ref.kind == "struct" and ref.target in prog.structs:
                return code(_struct_text(prog.structs[ref.target]))
        if node in prog.types:
            return code(f"{node.id}: {prog.types[node]}")
    if isinstance(node, A.Expr) and node in prog.types:
        shown = re.sub(r"\s+", " ", _slice(a, node.span))
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return code(f"{shown}: {prog.types[node]}")
    if isinstance(node, A.Param):
        owner = next((n for n in reversed(chain) if isinstance(n, (A.FuncDef, A.ExternDef))), None)
        fn = _function_of(a, owner) if owner is not None else None
        t = dict(fn.params).get(node.name) if fn is not None else None
        return code(f"{node.name}: {t}") if t is not None else None
    fn = _function_of(a, node) if isinstance(node, (A.FuncDef, A.ExternDef)) else None
    if fn is not None:
        return _function_markdown(fn, a)
    if isinstance(node, (A.StructDef, A.StructField, A.TypeExpr)):
        name = node.name if not isinstance(node, A.StructField) else chain[-2].name
        sym = _symbol(a, name)
        if isinstance(sym, StructInfo):
            return code(_struct_text(sym))
    if isinstance(node, A.ConstDef):
        sym = _symbol(a, node.name)
        return code(f"const {node.name}: {sym.type}") if sym is not None else None
    return None


def _function_markdown(fn, a: Optional[Analysis] = None) -> str:
    doc = getattr(fn.decl, "docstring", None)
    text = f"```npl\n{_signature(fn)}\n```" + (f"\n\n{doc}" if doc else "")
    if getattr(fn, "oracle", False) and a is not None:
        text += "\n\n" + _oracle_note(fn, a)
    return text


def _oracle_note(fn, a: Analysis) -> str:
    """An oracle's stored answers: how many, by which model."""
    from collections import Counter

    from npl.compiler.holes import collect_oracles
    from npl.filling.answers import AnswerStore, AnswerStoreError, answers_path_for
    key = next((s.key for s in collect_oracles(a.program) if s.info.function is fn), None)
    try:
        answers = [x for x in AnswerStore(answers_path_for(a.path)).all() if x.oracle_key == key]
    except AnswerStoreError as err:
        return f"@oracle: answered by a model at run time ({err})"
    models = Counter(x.model for x in answers)
    by = ", ".join(f"{n} by {m}" for m, n in sorted(models.items()))
    return (f"@oracle: answered by a model at run time; {len(answers)} stored answer(s)"
            + (f" ({by})" if by else ""))


def _struct_text(s) -> str:
    return f"struct {s.name}:\n" + "\n".join(f"    {f}: {t}" for f, t in s.fields)


def _slice(a: Analysis, span: A.Span) -> str:
    lines = a.pos.lines
    if span.line == span.end_line:
        return lines[span.line - 1][span.col - 1:span.end_col - 1]
    parts = [lines[span.line - 1][span.col - 1:]] + lines[span.line:span.end_line - 1] + \
        [lines[span.end_line - 1][:span.end_col - 1]]
    return "\n".join(parts)


# ---------------------------------------------------------------- definitions

def _name_span(source: str, decl, name: str) -> A.Span:
    """The span of `name` in the first line of `decl` (its whole first line
    when the name is not found there)."""
    line = source.split("\n")[decl.span.line - 1] if source else ""
    m = re.compile(rf"\b{re.escape(name)}\b").search(line, max(decl.span.col - 1, 0))
    if m is None:
        return A.Span(decl.span.file, decl.span.line, decl.span.col, decl.span.line, len(line) + 1)
    return A.Span(decl.span.file, decl.span.line, m.start() + 1, decl.span.line, m.end() + 1)


def _location(a: Analysis, decl, name: str) -> T.Location:
    file = decl.span.file
    source = a.program.sources.get(file) or ""
    span = _name_span(source, decl, name)
    return T.Location(from_fs_path(file) or file, Positions(source).range(span))


def _bindings(func) -> list[tuple[str, A.Node]]:
    """Where the locals of a function (or property) are bound, in source order."""
    out: list[tuple[str, A.Node]] = [(p.name, p) for p in getattr(func, "params", ())]
    for n in A.walk(func):
        targets = []
        if isinstance(n, A.Assign):
            targets = [n.target]
        elif isinstance(n, (A.For, A.Comprehension)):
            targets = [n.target]
        for t in targets:
            for name in ([t] if isinstance(t, A.Name) else
                         [e for e in getattr(t, "elts", ()) if isinstance(e, A.Name)]):
                out.append((name.id, name))
    return sorted(out, key=lambda b: (b[1].span.line, b[1].span.col))


def definition(a: Analysis, line: int, col: int) -> Optional[T.Location]:
    node, chain = node_at(a, line, col)
    if node is None or a.program is None:
        return None
    prog = a.program
    if isinstance(node, A.Name):
        ref = prog.refs.get(node)
        owner = next((n for n in chain if isinstance(n, (A.FuncDef, A.Property))), None)
        if owner is not None and (ref is None or ref.kind == "local"):
            for name, site in _bindings(owner):
                if name == node.id:
                    return T.Location(a.uri, a.pos.range(_name_span(a.text, site, name)
                                                          if isinstance(site, A.Param) else site.span))
        sym = _symbol(a, node.id)
        if sym is not None:
            return _location(a, sym.decl, sym.name)
    if isinstance(node, A.TypeExpr):
        sym = _symbol(a, node.name)
        if sym is not None:
            return _location(a, sym.decl, sym.name)
    if isinstance(node, A.Attribute):
        t = prog.types.get(node.value)
        struct = prog.structs.get(getattr(t, "name", None))
        if struct is not None:
            f = next((f for f in struct.decl.fields if f.name == node.attr), None)
            if f is not None:
                return _location(a, f, f.name)
    return None


# ---------------------------------------------------------------- symbols

def symbols(a: Analysis) -> list[T.DocumentSymbol]:
    if a.module is None:
        return []
    out = []
    kinds = {A.FuncDef: T.SymbolKind.Function, A.ExternDef: T.SymbolKind.Function,
             A.StructDef: T.SymbolKind.Struct, A.ConstDef: T.SymbolKind.Constant,
             A.Property: T.SymbolKind.Property, A.Example: T.SymbolKind.Event}
    for d in a.module.decls:
        if type(d) not in kinds:
            continue
        if isinstance(d, A.Example):
            name, selection = "example " + re.sub(r"\s+", " ", _slice(a, d.expr.span)), d.expr.span
        else:
            name = d.name
            selection = _name_span(a.text, d, d.name)
        detail = None
        if isinstance(d, A.FuncDef):
            detail = "hole" if d.is_hole else ("kernel" if "kernel" in d.decorators else None)
        elif isinstance(d, A.ExternDef):
            detail = "extern"
        children = [T.DocumentSymbol(f.name, T.SymbolKind.Field, a.pos.range(f.span),
                                     a.pos.range(_name_span(a.text, f, f.name)))
                    for f in getattr(d, "fields", ())] if isinstance(d, A.StructDef) else None
        out.append(T.DocumentSymbol(name, kinds[type(d)], a.pos.range(d.span),
                                    a.pos.range(selection), detail=detail, children=children))
    return out


def code_actions(a: Analysis, rng: T.Range) -> list[T.CodeAction]:
    if a.comp is None:
        return []
    start = a.pos.from_lsp(rng.start)
    end = a.pos.from_lsp(rng.end)
    out = []
    for spec in a.comp.holes:
        s = spec.info.span
        if spec.depth or spec.info.module != a.path:
            continue
        if (s.line, s.col) <= end and start <= (s.end_line, s.end_col):
            title = "Refill this hole" if spec.key in a.comp.filled else "Fill this hole"
            out.append(T.CodeAction(f"{title} ({spec.name})", kind=T.CodeActionKind.QuickFix,
                                    command=T.Command(title, REFILL, arguments=[a.uri, spec.name])))
    return out


def refill(uri: str, name: str, model: Optional[str]) -> dict:
    """Run the filler for one hole of the saved file (as `npl fill --refresh`)."""
    from npl.filling.filler import FillFailedError
    from npl.project import fill_missing, open_program
    path = to_fs_path(uri) or uri
    try:
        with contextlib.redirect_stdout(sys.stderr):         # stdout carries the protocol
            _, report = fill_missing(open_program(path, strict_fills=False), model=model,
                                     quiet=True, refresh=[name])
    except CompileError as err:
        return {"error": err.render()}
    except (Exception, SystemExit) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    done = [o for o in report.outcomes if o.spec.name == name or o.spec.func_name == name]
    if report.failures and not done:        # some hole failed: maybe not this one
        return {"error": str(FillFailedError(report))}
    if not done:
        return {"error": f"hole '{name}' was not filled"}
    return {"hole": name, "source": done[0].provenance.source, "fill": done[0].fill}


# ---------------------------------------------------------------- the server

def build_server() -> LanguageServer:
    from importlib.metadata import PackageNotFoundError, version
    try:
        ver = version("npl")
    except PackageNotFoundError:
        ver = "0"
    server = LanguageServer("npl-lsp", ver, text_document_sync_kind=T.TextDocumentSyncKind.Full)
    analyses: dict[str, Analysis] = {}
    options: dict = {}

    def refresh(uri: str) -> Analysis:
        doc = server.workspace.get_text_document(uri)
        a = analyze(uri, doc.source)
        analyses[uri] = a
        server.text_document_publish_diagnostics(
            T.PublishDiagnosticsParams(uri=uri, diagnostics=a.diagnostics, version=doc.version))
        return a

    def current(uri: str) -> Analysis:
        return analyses.get(uri) or refresh(uri)

    @server.feature(T.INITIALIZE)
    def initialize(ls, params: T.InitializeParams):
        if isinstance(params.initialization_options, dict):
            options.update(params.initialization_options)

    @server.feature(T.SHUTDOWN)
    def shutdown(ls, params):
        options["shutdown"] = True

    @server.feature(T.EXIT)
    def exit_now(ls, params):
        # Leave at once: pygls would first wait for its stdin reader thread,
        # which waits for the client to close the pipe.
        sys.stderr.flush()
        os._exit(0 if options.get("shutdown") else 1)

    @server.feature(T.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls, params: T.DidOpenTextDocumentParams):
        refresh(params.text_document.uri)

    @server.feature(T.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls, params: T.DidChangeTextDocumentParams):
        refresh(params.text_document.uri)

    @server.feature(T.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls, params: T.DidSaveTextDocumentParams):
        refresh(params.text_document.uri)

    @server.feature(T.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls, params: T.DidCloseTextDocumentParams):
        analyses.pop(params.text_document.uri, None)
        server.text_document_publish_diagnostics(
            T.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))

    @server.feature(T.TEXT_DOCUMENT_HOVER)
    def hover(ls, params: T.HoverParams):
        a = current(params.text_document.uri)
        text = hover_text(a, *a.pos.from_lsp(params.position))
        if text is None:
            return None
        return T.Hover(T.MarkupContent(T.MarkupKind.Markdown, text))

    @server.feature(T.TEXT_DOCUMENT_DEFINITION)
    def goto_definition(ls, params: T.DefinitionParams):
        a = current(params.text_document.uri)
        return definition(a, *a.pos.from_lsp(params.position))

    @server.feature(T.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def document_symbol(ls, params: T.DocumentSymbolParams):
        return symbols(current(params.text_document.uri))

    @server.feature(T.TEXT_DOCUMENT_CODE_ACTION,
                    T.CodeActionOptions(code_action_kinds=[T.CodeActionKind.QuickFix]))
    def code_action(ls, params: T.CodeActionParams):
        return code_actions(current(params.text_document.uri), params.range)

    @server.command(REFILL)
    @server.thread()
    def refill_hole(ls, *args):
        if len(args) != 2 or not all(isinstance(x, str) for x in args):
            return {"error": f"{REFILL} takes [uri, hole name]"}
        uri, name = args
        result = refill(uri, name, options.get("model"))
        if "error" in result:
            ls.window_show_message(T.ShowMessageParams(T.MessageType.Error, result["error"]))
        else:
            ls.window_show_message(T.ShowMessageParams(
                T.MessageType.Info, f"hole {name} filled ({result['source']})"))
        if uri in analyses:
            refresh(uri)
        return result

    return server


def serve() -> None:
    """Run the server on stdin/stdout until the client sends exit."""
    protocol_out = sys.stdout.buffer
    sys.stdout = sys.stderr                # a stray print must not corrupt the protocol
    build_server().start_io(sys.stdin.buffer, protocol_out)
