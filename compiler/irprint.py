"""IR printer: an `ir.Module` in, its stable text form out.

Used by `npl ir` and by golden tests, so the output is deterministic (it
depends only on the module) and every expression shows its static type.
Statements are printed Python-like and indented; expressions as typed
s-expressions, an operation first with its result type after a colon:

    def get(xs: list[int], i: int) -> int:              # prog.npl:1
        return (getitem:int xs:list[int] i:int)          # prog.npl:2

Leaves are `name:type` (locals), `@NAME:type` (constants) and literals
`1:int`, `'a':str`, `None:None`. A statement's source line is a trailing
comment, aligned to `COMMENT_COLUMN` where the statement is short enough.
"""
from __future__ import annotations

from typing import Optional

from npl.lang.ast import Span

from . import ir

INDENT = "    "
COMMENT_COLUMN = 56


def print_module(m: ir.Module) -> str:
    """The whole module: structs, constants, externs, functions, tests."""
    return ModulePrinter().module(m)


def print_expr(e: ir.Expr) -> str:
    """One expression as a typed s-expression."""
    return ModulePrinter().expr(e)


class ModulePrinter:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def emit(self, depth: int, text: str, span: Optional[Span] = None) -> None:
        line = INDENT * depth + text
        if span is not None and span.line > 0:
            line = f"{line.ljust(COMMENT_COLUMN - 1)} # {span.file}:{span.line}"
        self.lines.append(line)

    # ------------------------------------------------------------ top level
    def module(self, m: ir.Module) -> str:
        main = f", main {m.main}{'(args)' if m.main_takes_args else '()'}" if m.main else ""
        self.emit(0, f"# IR of {m.path}{main}")
        sections = [(self.struct, m.structs), (self.const, m.consts),
                    (self.extern, m.externs), (self.function, m.functions),
                    (self.test, m.tests)]
        for printer, items in sections:
            for item in items:
                self.lines.append("")
                printer(item)
        return "\n".join(self.lines) + "\n"

    def struct(self, s: ir.StructDef) -> None:
        self.emit(0, f"struct {s.name}:", s.span)
        for f in s.fields:
            self.emit(1, f"{f.name}: {f.type}")
        if not s.fields:
            self.emit(1, "pass")

    def const(self, c: ir.ConstDef) -> None:
        self.emit(0, f"const {c.name}: {c.type} = {self.expr(c.value)}", c.span)

    def extern(self, e: ir.Extern) -> None:
        self.emit(0, f"extern def {e.name}({_params(e.params)}) -> {e.ret}", e.span)

    def function(self, f: ir.Function) -> None:
        marks = " @kernel" if f.kernel else ""
        if f.source_name and f.source_name != f.name:
            marks += f"  (written {f.source_name})"
        self.emit(0, f"def {f.name}({_params(f.params)}) -> {f.ret}:{marks}", f.span)
        self.locals(f.locals, f.params)
        self.block(f.body, 1)

    def test(self, t: ir.TestCase) -> None:
        params = f"({_params(t.params)})" if t.kind == "property" else ""
        self.emit(0, f"{t.kind} {t.name}{params}:", t.span)
        self.locals(t.locals, t.params)
        if t.where is not None:
            self.emit(1, f"where {self.expr(t.where)}", t.where.span)
        self.emit(1, f"check {self.expr(t.expr)}", t.expr.span)

    def locals(self, locals_: dict, params: list[ir.Param]) -> None:
        names = {p.name for p in params}
        others = [f"{n}: {t}" for n, t in locals_.items() if n not in names]
        if others:
            self.emit(1, "locals " + ", ".join(others))

    # ------------------------------------------------------------ statements
    def block(self, stmts: list[ir.Stmt], depth: int) -> None:
        if not stmts:
            self.emit(depth, "pass")
        for s in stmts:
            self.stmt(s, depth)

    def stmt(self, s: ir.Stmt, depth: int) -> None:
        x = self.expr
        if isinstance(s, ir.Assign):
            self.emit(depth, f"{s.name} = {x(s.value)}", s.span)
        elif isinstance(s, ir.Unpack):
            self.emit(depth, f"{', '.join(s.names)} = {x(s.value)}", s.span)
        elif isinstance(s, ir.SetItem):
            index = ", ".join(x(i) for i in s.indices)
            self.emit(depth, f"{self.target(s.obj)}[{index}] = {x(s.value)}", s.span)
        elif isinstance(s, ir.SetField):
            self.emit(depth, f"{self.target(s.obj)}.{s.name} = {x(s.value)}", s.span)
        elif isinstance(s, (ir.If, ir.While, ir.ForRange, ir.ForEach)):
            self.compound(s, depth)
        elif isinstance(s, (ir.Break, ir.Continue)):
            self.emit(depth, type(s).__name__.lower(), s.span)
        elif isinstance(s, ir.Return):
            self.emit(depth, "return" + ("" if s.value is None else f" {x(s.value)}"), s.span)
        elif isinstance(s, ir.ExprStmt):
            self.emit(depth, x(s.value), s.span)
        elif isinstance(s, ir.Assert):
            msg = "" if s.msg is None else f", {x(s.msg)}"
            self.emit(depth, f"assert {x(s.test)}{msg}", s.span)
        elif isinstance(s, ir.HoleBody):
            self.emit(depth, f"hole {s.key or '?'} {s.text!r}", s.span)
        elif isinstance(s, ir.OracleBody):
            self.emit(depth, f"oracle {s.key} {s.text!r}", s.span)
        else:
            self.emit(depth, f"<unknown statement {type(s).__name__}>", s.span)

    def target(self, obj: ir.Expr) -> str:
        """The object of a store, parenthesised so its type cannot run into
        the `[index]` or `.field` after it."""
        text = self.expr(obj)
        return text if text.startswith("(") else f"({text})"

    def compound(self, s: ir.Stmt, depth: int) -> None:
        x = self.expr
        if isinstance(s, ir.If):
            self.emit(depth, f"if {x(s.test)}:", s.span)
            self.block(s.body, depth + 1)
            if s.orelse:
                self.emit(depth, "else:")
                self.block(s.orelse, depth + 1)
        elif isinstance(s, ir.While):
            self.emit(depth, f"while {x(s.test)}:", s.span)
            self.block(s.body, depth + 1)
        elif isinstance(s, ir.ForRange):
            loop = "prange" if s.parallel else "range"
            self.emit(depth, f"for {s.var} in {loop}({x(s.start)}, {x(s.stop)}, {x(s.step)}):",
                      s.span)
            self.block(s.body, depth + 1)
        elif isinstance(s, ir.ForEach):
            self.emit(depth, f"for {_targets(s.targets, s.unpack)} in {x(s.iter)}:", s.span)
            self.block(s.body, depth + 1)

    # ------------------------------------------------------------ expressions
    def expr(self, e: ir.Expr) -> str:
        t = e.type
        if isinstance(e, ir.Const):
            return f"{e.value!r}:{t}"
        if isinstance(e, ir.Local):
            return f"{e.name}:{t}"
        if isinstance(e, ir.Global):
            return f"@{e.name}:{t}"
        head, parts = self.parts(e)
        return f"({head}:{t}{''.join(' ' + p for p in parts)})"

    def parts(self, e: ir.Expr) -> tuple[str, list[str]]:
        """The operation name and the operand texts of a compound expression."""
        x = self.expr
        if isinstance(e, ir.Prim):
            return e.op, [x(a) for a in e.args] + [f"{k}={x(v)}" for k, v in e.kwargs]
        if isinstance(e, ir.Call):
            return "call", [e.func] + [x(a) for a in e.args]
        if isinstance(e, ir.Compare):
            parts = [x(e.operands[0])]
            for op, operand in zip(e.ops, e.operands[1:]):
                parts += [op, x(operand)]
            return "compare", parts
        if isinstance(e, (ir.And, ir.Or)):
            return type(e).__name__.lower(), [x(v) for v in e.values]
        if isinstance(e, ir.IfExp):
            return "ifexp", [x(e.test), x(e.body), x(e.orelse)]
        if isinstance(e, ir.GetField):
            return "field", [x(e.obj), e.name]
        if isinstance(e, ir.MakeStruct):
            return f"new {e.name}", [x(a) for a in e.args]
        if isinstance(e, (ir.ListLit, ir.TupleLit, ir.SetLit)):
            return type(e).__name__[:-3].lower() + "-lit", [x(a) for a in e.elts]
        if isinstance(e, ir.DictLit):
            return "dict-lit", [f"{x(k)}: {x(v)}" for k, v in zip(e.keys, e.values)]
        if isinstance(e, ir.Comp):
            return self.comp(e)
        if isinstance(e, ir.Lambda):
            return "lambda", [f"({' '.join(e.params)})", x(e.body)]
        if isinstance(e, ir.HoleExpr):
            return "hole", [e.key or "?", repr(e.text)]
        return f"<unknown {type(e).__name__}>", []

    def comp(self, e: ir.Comp) -> tuple[str, list[str]]:
        parts = [f"{self.expr(e.key)}: {self.expr(e.elt)}" if e.key is not None
                 else self.expr(e.elt)]
        for g in e.generators:
            text = f"for {_targets(g.targets, g.unpack)} in {self.expr(g.iter)}"
            text += "".join(f" if {self.expr(c)}" for c in g.conds)
            parts.append(f"[{text}]")
        return f"{e.kind}-comp", parts


def _params(params: list[ir.Param]) -> str:
    return ", ".join(f"{p.name}: {p.type}" for p in params)


def _targets(names: tuple[str, ...], unpack: bool) -> str:
    return f"({', '.join(names)})" if unpack else names[0]
