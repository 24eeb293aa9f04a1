"""IR verifier: an `ir.Module` in, a list of well-formedness problems out.

The lowering pass should only ever produce well-formed IR; the verifier
checks that it did, so a bug in an earlier stage is caught at compile time
with a precise message instead of surfacing as a wrong result at run time.
An empty list means the module is fine. Each problem names the function
(or test, or constant) and the source location it was found at.

Checked: unique function/extern/struct/const names; every `Local` is a
declared local or parameter of its function, or a comprehension/lambda
variable in scope; `Call`s name an existing function or extern with the
right arity and assignable argument types; `MakeStruct`/`GetField`/
`SetField` name an existing struct and field; `Global`s name a constant;
`Prim` ops are in `ir.PRIM_OPS`; `Compare` has one more operand than ops;
`Return`, `Assign` and `Unpack` values fit their destination;
`Break`/`Continue` sit inside loops; conditions are `bool`.
"""
from __future__ import annotations

from typing import Iterator, Optional

from npl.lang.types import (BOOL, ERROR, INT, NONE, ErrorT, FuncT, StructT, TupleT, Type,
                            assignable, element_type, strip_optional)

from . import ir


def verify(m: ir.Module) -> list[str]:
    """Every well-formedness problem of `m` (empty when it is fine)."""
    return ModuleVerifier(m).run()


def _fits(src: Type, dst: Type) -> bool:
    """Assignable, allowing for erased optional narrowing (a narrowed
    `T | None` is used as `T`)."""
    return assignable(src, dst) or assignable(strip_optional(src), strip_optional(dst))


def _duplicates(names: list[str]) -> Iterator[str]:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            yield name
        seen.add(name)


class ModuleVerifier:
    def __init__(self, m: ir.Module):
        self.m = m
        self.problems: list[str] = []
        self.callables: dict[str, tuple[list[ir.Param], Type]] = {}
        for f in m.functions:
            self.callables[f.name] = (f.params, f.ret)
        for e in m.externs:
            self.callables[e.name] = (e.params, e.ret)
        self.structs = {s.name: {f.name: f.type for f in s.fields} for s in m.structs}
        self.consts = {c.name: c.type for c in m.consts}
        # per body being checked
        self.where = ""
        self.locals: dict[str, Type] = {}
        self.scopes: list[dict[str, Type]] = []
        self.ret: Type = NONE
        self.loops = 0

    def run(self) -> list[str]:
        self.check_names()
        for s in self.m.structs:
            for dup in _duplicates([f.name for f in s.fields]):
                self.report(f"struct {s.name} has two fields named {dup!r}", s.span)
        for c in self.m.consts:
            self.enter(f"const {c.name}", {}, c.type)
            self.expect(c.value, c.type, "constant value", c.span)
        for f in self.m.functions:
            self.function(f)
        for t in self.m.tests:
            self.test(t)
        if self.m.main is not None and self.m.main not in {f.name for f in self.m.functions}:
            self.problems.append(f"main names {self.m.main!r}, which is not a function")
        return self.problems

    def check_names(self) -> None:
        callables = [f.name for f in self.m.functions] + [e.name for e in self.m.externs]
        for dup in _duplicates(callables):
            self.problems.append(f"two functions or externs are named {dup!r}")
        for dup in _duplicates([s.name for s in self.m.structs]):
            self.problems.append(f"two structs are named {dup!r}")
        for dup in _duplicates([c.name for c in self.m.consts]):
            self.problems.append(f"two constants are named {dup!r}")

    # ------------------------------------------------------------ bodies
    def enter(self, where: str, locals_: dict[str, Type], ret: Type) -> None:
        self.where, self.locals, self.ret = where, locals_, ret
        self.scopes, self.loops = [], 0

    def function(self, f: ir.Function) -> None:
        self.enter(f"function {f.name}", f.locals, f.ret)
        for p in f.params:
            declared = f.locals.get(p.name)
            if declared is None:
                self.report(f"parameter {p.name!r} is missing from the locals table", f.span)
            elif declared != p.type:
                self.report(f"parameter {p.name!r} is {p.type} but its local is {declared}",
                            f.span)
        self.block(f.body)

    def test(self, t: ir.TestCase) -> None:
        self.enter(f"test {t.name}", t.locals, BOOL)
        for p in t.params:
            if p.name not in t.locals:
                self.report(f"parameter {p.name!r} is missing from the locals table", t.span)
        if t.where is not None:
            self.condition(t.where, "`where` filter", t.span)
        self.condition(t.expr, "test expression", t.span)

    def report(self, message: str, span) -> None:
        at = f" ({span})" if span is not None and span.line > 0 else ""
        self.problems.append(f"{self.where}{at}: {message}")

    # ------------------------------------------------------------ statements
    def block(self, stmts: list[ir.Stmt]) -> None:
        for s in stmts:
            getattr(self, "s_" + type(s).__name__, self.s_unknown)(s)

    def s_unknown(self, s: ir.Stmt) -> None:
        self.report(f"unknown statement {type(s).__name__}", s.span)

    def s_Assign(self, s: ir.Assign) -> None:
        declared = self.local_type(s.name, s.span)
        self.expect(s.value, declared, f"assignment to {s.name!r}", s.span)

    def s_Unpack(self, s: ir.Unpack) -> None:
        self.expr(s.value)
        vt = s.value.type
        if isinstance(vt, TupleT) and len(vt.elems) != len(s.names):
            self.report(f"unpacking {vt} into {len(s.names)} names", s.span)
        for i, name in enumerate(s.names):
            declared = self.local_type(name, s.span)
            if isinstance(vt, TupleT) and i < len(vt.elems) and declared is not None \
                    and not _fits(vt.elems[i], declared):
                self.report(f"unpacked {vt.elems[i]} does not fit {name!r}: {declared}", s.span)

    def s_SetItem(self, s: ir.SetItem) -> None:
        for e in (s.obj, *s.indices, s.value):
            self.expr(e)

    def s_SetField(self, s: ir.SetField) -> None:
        self.expr(s.obj)
        ftype = self.field_type(s.obj, s.name, s.span)
        self.expect(s.value, ftype, f"field {s.name!r}", s.span)

    def s_If(self, s: ir.If) -> None:
        self.condition(s.test, "if condition", s.span)
        self.block(s.body)
        self.block(s.orelse)

    def s_While(self, s: ir.While) -> None:
        self.condition(s.test, "while condition", s.span)
        self.loop(s.body)

    def s_ForRange(self, s: ir.ForRange) -> None:
        self.local_type(s.var, s.span)
        for e in (s.start, s.stop, s.step):
            self.expect(e, INT, "range bound", s.span)
        self.loop(s.body)

    def s_ForEach(self, s: ir.ForEach) -> None:
        self.expr(s.iter)
        for name in s.targets:
            self.local_type(name, s.span)
        if element_type(s.iter.type) is None:
            self.report(f"for loop over {s.iter.type}, which is not iterable", s.span)
        self.loop(s.body)

    def loop(self, body: list[ir.Stmt]) -> None:
        self.loops += 1
        self.block(body)
        self.loops -= 1

    def s_Break(self, s: ir.Break) -> None:
        if not self.loops:
            self.report("break outside a loop", s.span)

    def s_Continue(self, s: ir.Continue) -> None:
        if not self.loops:
            self.report("continue outside a loop", s.span)

    def s_Return(self, s: ir.Return) -> None:
        if s.value is None:
            if not _fits(NONE, self.ret):
                self.report(f"return without a value in a function returning {self.ret}", s.span)
            return
        self.expect(s.value, self.ret, "returned value", s.span)

    def s_ExprStmt(self, s: ir.ExprStmt) -> None:
        self.expr(s.value)

    def s_Assert(self, s: ir.Assert) -> None:
        self.condition(s.test, "assert condition", s.span)
        if s.msg is not None:
            self.expr(s.msg)

    def s_HoleBody(self, s: ir.HoleBody) -> None:
        pass

    def s_OracleBody(self, s: ir.OracleBody) -> None:
        if not s.key:
            self.report("oracle body without a key", s.span)

    # ------------------------------------------------------------ expressions
    def condition(self, e: ir.Expr, what: str, span) -> None:
        self.expr(e)
        if e.type != BOOL and not isinstance(e.type, ErrorT):
            self.report(f"{what} has type {e.type}, not bool (wrap it in Prim('truthy'))",
                        e.span if e.span.line else span)

    def expect(self, e: ir.Expr, t: Optional[Type], what: str, span) -> None:
        self.expr(e)
        if t is not None and not _fits(e.type, t):
            self.report(f"{what} has type {e.type}, expected {t}", e.span if e.span.line else span)

    def local_type(self, name: str, span) -> Optional[Type]:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if name in self.locals:
            return self.locals[name]
        self.report(f"local {name!r} is not declared", span)
        return None

    def field_type(self, obj: ir.Expr, name: str, span) -> Optional[Type]:
        t = strip_optional(obj.type)
        if isinstance(t, ErrorT):
            return None
        if not isinstance(t, StructT) or t.name not in self.structs:
            self.report(f"field {name!r} of {obj.type}, which is not a struct", span)
            return None
        fields = self.structs[t.name]
        if name not in fields:
            self.report(f"struct {t.name} has no field {name!r}", span)
            return None
        return fields[name]

    def expr(self, e: ir.Expr) -> None:
        check = getattr(self, "e_" + type(e).__name__, None)
        if check is None:
            self.report(f"unknown expression {type(e).__name__}", e.span)
            return
        check(e)

    def exprs(self, es) -> None:
        for e in es:
            self.expr(e)

    def e_Const(self, e: ir.Const) -> None:
        pass

    def e_HoleExpr(self, e: ir.HoleExpr) -> None:
        pass

    def e_Local(self, e: ir.Local) -> None:
        declared = self.local_type(e.name, e.span)
        if declared is not None and not (_fits(e.type, declared) or _fits(declared, e.type)):
            self.report(f"local {e.name!r} is used as {e.type} but declared {declared}", e.span)

    def e_Global(self, e: ir.Global) -> None:
        if e.name not in self.consts:
            self.report(f"global {e.name!r} is not a constant", e.span)

    def e_Call(self, e: ir.Call) -> None:
        self.exprs(e.args)
        target = self.callables.get(e.func)
        if target is None:
            self.report(f"call of unknown function {e.func!r}", e.span)
            return
        params, ret = target
        if len(params) != len(e.args):
            self.report(f"{e.func} takes {len(params)} argument(s), called with {len(e.args)}",
                        e.span)
            return
        for p, a in zip(params, e.args):
            if not _fits(a.type, p.type):
                self.report(f"argument {p.name!r} of {e.func} is {a.type}, expected {p.type}",
                            a.span if a.span.line else e.span)

    def e_Prim(self, e: ir.Prim) -> None:
        if e.op not in ir.PRIM_OPS:
            self.report(f"unknown primitive {e.op!r}", e.span)
        self.exprs(e.args)
        self.exprs(v for _, v in e.kwargs)

    def e_Compare(self, e: ir.Compare) -> None:
        if len(e.operands) != len(e.ops) + 1:
            self.report(f"comparison with {len(e.ops)} operator(s) has {len(e.operands)} "
                        "operand(s)", e.span)
        bad = [op for op in e.ops if op not in _COMPARE_OPS]
        if bad:
            self.report(f"unknown comparison operator(s) {bad}", e.span)
        self.exprs(e.operands)

    def e_And(self, e: ir.And) -> None:
        self.exprs(e.values)

    e_Or = e_And

    def e_IfExp(self, e: ir.IfExp) -> None:
        self.condition(e.test, "conditional expression test", e.span)
        self.exprs((e.body, e.orelse))

    def e_GetField(self, e: ir.GetField) -> None:
        self.expr(e.obj)
        self.field_type(e.obj, e.name, e.span)

    def e_MakeStruct(self, e: ir.MakeStruct) -> None:
        self.exprs(e.args)
        fields = self.structs.get(e.name)
        if fields is None:
            self.report(f"construction of unknown struct {e.name!r}", e.span)
            return
        if len(fields) != len(e.args):
            self.report(f"struct {e.name} has {len(fields)} field(s), built with {len(e.args)}",
                        e.span)
            return
        for (fname, ftype), a in zip(fields.items(), e.args):
            if not _fits(a.type, ftype):
                self.report(f"field {fname!r} of {e.name} is {ftype}, given {a.type}", e.span)

    def e_ListLit(self, e) -> None:
        self.exprs(e.elts)

    e_TupleLit = e_SetLit = e_ListLit

    def e_DictLit(self, e: ir.DictLit) -> None:
        if len(e.keys) != len(e.values):
            self.report("dict literal with different numbers of keys and values", e.span)
        self.exprs(e.keys)
        self.exprs(e.values)

    def e_Comp(self, e: ir.Comp) -> None:
        if e.kind not in ("list", "set", "dict", "gen"):
            self.report(f"unknown comprehension kind {e.kind!r}", e.span)
        if (e.kind == "dict") != (e.key is not None):
            self.report("a dict comprehension needs a key and only it has one", e.span)
        depth = len(self.scopes)
        for g in e.generators:
            self.expr(g.iter)
            self.scopes.append(self.generator_scope(g, e.span))
            for cond in g.conds:
                self.condition(cond, "comprehension condition", e.span)
        if e.key is not None:
            self.expr(e.key)
        self.expr(e.elt)
        del self.scopes[depth:]

    def generator_scope(self, g: ir.Generator, span) -> dict[str, Type]:
        elem = element_type(g.iter.type)
        if elem is None:
            self.report(f"comprehension over {g.iter.type}, which is not iterable", span)
            return {name: self.locals.get(name, ERROR) for name in g.targets}
        if not g.unpack:
            return {g.targets[0]: elem}
        if isinstance(elem, TupleT) and len(elem.elems) == len(g.targets):
            return dict(zip(g.targets, elem.elems))
        # nested or non-tuple unpacking: fall back to the declared locals
        return {name: self.locals.get(name, ERROR) for name in g.targets}

    def e_Lambda(self, e: ir.Lambda) -> None:
        t = e.type
        if not isinstance(t, FuncT) or len(t.params) != len(e.params):
            self.report(f"lambda with {len(e.params)} parameter(s) has type {t}", e.span)
            params: dict[str, Type] = {p: ERROR for p in e.params}
        else:
            params = dict(zip(e.params, t.params))
        self.scopes.append(params)
        self.expr(e.body)
        self.scopes.pop()
        if isinstance(t, FuncT) and not _fits(e.body.type, t.ret):
            self.report(f"lambda body is {e.body.type}, expected {t.ret}", e.span)


_COMPARE_OPS = frozenset("eq ne lt le gt ge in not_in is is_not".split())

