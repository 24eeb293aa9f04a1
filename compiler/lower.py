"""Lowering: a checked program (lang/symbols.CheckedProgram) in, an IR
module (compiler/ir.py) out.

Everything the checker resolved becomes explicit here: names become Local /
Global / Const, calls become Call / MakeStruct / Prim, `for i in range(...)`
becomes ForRange,
augmented assignment is desugared, f-strings become format/concat prims,
and holes become either calls of their fills or HoleExpr/HoleBody.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from npl.lang import ast
from npl.lang.symbols import CheckedProgram, FuncInfo
from npl.lang.types import (BOOL, ERROR, FLOAT, INT, NONE, STR, ArrayT, DictT, FuncT,
                            ListT, SetT, Type)

from . import ir

BINOPS = {"+": "add", "-": "sub", "*": "mul", "/": "truediv", "//": "floordiv",
          "%": "mod", "**": "pow", "|": "bitor", "&": "bitand", "^": "bitxor",
          "<<": "lshift", ">>": "rshift"}
CMPOPS = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge",
          "in": "in", "not in": "not_in", "is": "is", "is not": "is_not"}


@dataclass
class HoleBinding:
    """How a hole is lowered: its key, and for a filled expression hole the
    lifted function's IR name and the scope variables passed to it."""
    key: str
    lifted: Optional[str] = None
    args: tuple[tuple[str, Type], ...] = ()


class Lowerer:
    def __init__(self, prog: CheckedProgram, holes: dict[int, HoleBinding]):
        self.prog = prog
        self.holes = holes
        self.fn_locals: dict[str, Type] = {}
        self.temp_count = 0

    # ------------------------------------------------------------ module
    def lower_module(self) -> ir.Module:
        p = self.prog
        structs = [ir.StructDef(s.ir_name, [ir.Param(n, t) for n, t in s.fields], span=s.decl.span)
                   for s in p.structs.values()]
        consts = [ir.ConstDef(c.ir_name, c.type, self.with_locals({}, lambda c=c: self.expr(c.decl.value)),
                              span=c.decl.span) for c in ordered_consts(p)]
        functions = [self.function(f) for f in p.funcs.values() if not f.extern]
        externs = [ir.Extern(f.ir_name, [ir.Param(n, t) for n, t in f.params], f.ret, span=f.decl.span)
                   for f in p.funcs.values() if f.extern]
        tests = [self.test(t) for t in p.tests]
        module = ir.Module(p.main_path, structs, consts, functions, externs, tests)
        main = p.scopes.get(p.main_path, {}).get("main")
        if isinstance(main, FuncInfo) and main.module == p.main_path:
            module.main = main.ir_name
            module.main_takes_args = len(main.params) == 1
        return module

    def with_locals(self, locals_: dict, build):
        saved = self.fn_locals
        self.fn_locals = locals_
        try:
            return build()
        finally:
            self.fn_locals = saved

    def function(self, f: FuncInfo) -> ir.Function:
        decl = f.decl
        locals_ = dict(f.locals)
        if f.oracle:
            binding = self.holes.get(id(decl))
            body = [ir.OracleBody(binding.key if binding else "", decl.hole_doc or "", span=decl.span)]
        elif decl.is_hole:
            binding = self.holes.get(id(decl))
            body = [ir.HoleBody(binding.key if binding else "", decl.hole_doc or "", span=decl.span)]
        else:
            body = self.with_locals(locals_, lambda: self.block(decl.body))
        return ir.Function(f.ir_name, [ir.Param(n, t) for n, t in f.params], f.ret, body, locals_,
                           span=decl.span, kernel=f.kernel, oracle=f.oracle, source_name=f.name)

    def test(self, t) -> ir.TestCase:
        d = t.decl
        locals_ = dict(t.locals)

        def build():
            where = self.cond(d.where) if isinstance(d, ast.Property) and d.where is not None else None
            return where, self.expr(d.expr)
        where, expr = self.with_locals(locals_, build)
        if isinstance(d, ast.Property):
            return ir.TestCase("property", d.name, [ir.Param(n, ty) for n, ty in t.params], where, expr,
                               locals_, span=d.span)
        return ir.TestCase("example", f"example@{d.span.line}", [], None, expr, locals_, span=d.span)

    # ------------------------------------------------------------ statements
    def block(self, stmts) -> list[ir.Stmt]:
        out: list[ir.Stmt] = []
        for s in stmts:
            out.extend(self.stmt(s))
        return out

    def stmt(self, s: ast.Stmt) -> list[ir.Stmt]:
        sp = s.span
        if isinstance(s, (ast.Pass, ast.FuncDef)):     # a nested def is lowered as its own function
            return []
        if isinstance(s, ast.ExprStmt):
            return [ir.ExprStmt(self.expr(s.value), span=sp)]
        if isinstance(s, ast.Return):
            return [ir.Return(self.expr(s.value) if s.value is not None else None, span=sp)]
        if isinstance(s, ast.Break):
            return [ir.Break(span=sp)]
        if isinstance(s, ast.Continue):
            return [ir.Continue(span=sp)]
        if isinstance(s, ast.Assert):
            return [ir.Assert(self.cond(s.test), self.expr(s.msg) if s.msg is not None else None, span=sp)]
        if isinstance(s, ast.If):
            return [ir.If(self.cond(s.test), self.block(s.body), self.block(s.orelse), span=sp)]
        if isinstance(s, ast.While):
            return [ir.While(self.cond(s.test), self.block(s.body), span=sp)]
        if isinstance(s, ast.For):
            return [self.for_loop(s)]
        if isinstance(s, ast.Assign):
            return self.assign(s)
        if isinstance(s, ast.AugAssign):
            return self.aug_assign(s)
        raise AssertionError(f"unknown statement {type(s).__name__}")

    def assign(self, s: ast.Assign) -> list[ir.Stmt]:
        t, sp = s.target, s.span
        if s.value is None:
            return []
        return self.store(t, self.expr(s.value), sp)

    def store(self, target: ast.Expr, value: ir.Expr, sp) -> list[ir.Stmt]:
        """`target = value`, for any assignment target. A tuple of names, nested
        or not, is an Unpack (see unpack_names). A tuple holding an item or a
        field first puts the whole value in a temporary, since Python
        evaluates the right side before any store, and then stores its parts
        left to right, each target's object and indices evaluated just
        before its own store (`i, xs[i] = 1, 5` sets xs[1])."""
        if isinstance(target, ast.Name):
            return [ir.Assign(target.id, value, span=sp)]
        if isinstance(target, ast.Index):
            return [ir.SetItem(self.expr(target.value), self.indices(target), value, span=sp)]
        if isinstance(target, ast.Slice):
            return self.store_slice(target, value, sp)
        if isinstance(target, ast.Attribute):
            return [ir.SetField(self.expr(target.value), target.attr, value, span=sp)]
        if all(isinstance(n, ast.Name) for n in leaves(target)):
            names, unpacks = self.unpack_names(target, self.temp_local)
            return [ir.Unpack(names, value, span=sp), *unpacks]
        tmp = ir.Local(value.type, self.temp_local(value.type), span=value.span)
        out: list[ir.Stmt] = [ir.Assign(tmp.name, value, span=value.span)]
        for k, elt in enumerate(target.elts):
            part = ir.Prim(value.type.elems[k], "getitem", (tmp, ir.Const(INT, k, span=elt.span)),
                           span=elt.span)
            out += self.store(elt, part, sp)
        return out

    def unpack_names(self, target: ast.TupleExpr, temp) -> tuple[tuple[str, ...], list[ir.Stmt]]:
        """A tuple target made of names, nested or not, as the flat tuple of
        names that one Unpack, ForEach or Generator binds, and the Unpacks to
        run right after it: each nested tuple is bound to a temporary (named
        by `temp(type)`) that a later Unpack takes apart. A name bound twice
        keeps its last value, as in Python; nothing runs between the stores,
        so making the earlier occurrences bind throwaway temporaries instead
        leaves the order of the stores immaterial."""
        nodes = list(leaves(target))
        last = {n.id: n for n in nodes}
        bound = {id(n): n.id if last[n.id] is n else temp(self.prog.types[n]) for n in nodes}
        unpacks: list[ir.Stmt] = []
        pending: list[tuple[ir.Local, ast.TupleExpr]] = []     # nested tuples, by temporary

        def names(t: ast.TupleExpr) -> tuple[str, ...]:
            out = []
            for elt in t.elts:
                if isinstance(elt, ast.Name):
                    out.append(bound[id(elt)])
                else:
                    tmp = ir.Local(self.prog.types[elt], temp(self.prog.types[elt]), span=elt.span)
                    pending.append((tmp, elt))
                    out.append(tmp.name)
            return tuple(out)
        flat = names(target)
        for tmp, elt in pending:            # grows while it runs: nested tuples in turn
            unpacks.append(ir.Unpack(names(elt), tmp, span=elt.span))
        return flat, unpacks

    def aug_assign(self, s: ast.AugAssign) -> list[ir.Stmt]:
        t, sp = s.target, s.span
        tt = self.prog.types[t]
        value = self.expr(s.value)
        if isinstance(t, ast.Name):
            if isinstance(tt, ListT) and s.op == "+":
                return [ir.ExprStmt(ir.Prim(NONE, "list.extend", (ir.Local(tt, t.id, span=t.span), value),
                                            span=sp), span=sp)]
            current = ir.Local(tt, t.id, span=t.span)
            return [ir.Assign(t.id, self.binop(s.op, current, value, tt, sp), span=sp)]
        pre: list[ir.Stmt] = []
        obj = self.stable(self.expr(t.value), pre)
        if isinstance(t, ast.Index):
            idx = tuple(self.stable(i, pre) for i in self.indices(t))
            current = ir.Prim(tt, "getitem", (obj, *idx), span=t.span)
            return pre + [ir.SetItem(obj, idx, self.binop(s.op, current, value, tt, sp), span=sp)]
        current = ir.GetField(tt, obj, t.attr, span=t.span)
        return pre + [ir.SetField(obj, t.attr, self.binop(s.op, current, value, tt, sp), span=sp)]

    def binop(self, op: str, left: ir.Expr, right: ir.Expr, result: Type, span) -> ir.Expr:
        return ir.Prim(result, BINOPS[op], (left, right), span=span)

    def stable(self, e: ir.Expr, pre: list) -> ir.Expr:
        """`e` itself if evaluating it twice is harmless, else a temporary."""
        if isinstance(e, (ir.Local, ir.Const, ir.Global)):
            return e
        name = self.temp_local(e.type)
        pre.append(ir.Assign(name, e, span=e.span))
        return ir.Local(e.type, name, span=e.span)

    def fresh_name(self, avoid=frozenset()) -> str:
        """A new `_tmpN`, unused by the function's locals and by `avoid`."""
        while True:
            self.temp_count += 1
            name = f"_tmp{self.temp_count}"
            if name not in self.fn_locals and name not in avoid:
                return name

    def temp_local(self, t: Type) -> str:
        """A new local of the current function, of type `t`."""
        name = self.fresh_name()
        self.fn_locals[name] = t
        return name

    def for_loop(self, s: ast.For) -> ir.Stmt:
        it, sp = s.iter, s.span
        ref = self.prog.calls.get(it) if isinstance(it, ast.Call) else None
        body = self.block(s.body)
        if ref is not None and ref.kind == "builtin" and ref.target in ("range", "prange") \
                and isinstance(s.target, ast.Name):
            args = [self.expr(a) for a in it.args]
            start, stop, step = range_parts(args, it.span)
            return ir.ForRange(s.target.id, start, stop, step, body,
                               parallel=ref.target == "prange", span=sp)
        if isinstance(s.target, ast.Name):
            return ir.ForEach((s.target.id,), False, self.expr(it), body, span=sp)
        # `for (a, b), c in it` binds (t, c), then starts each pass with `a, b = t`
        targets, unpacks = self.unpack_names(s.target, self.temp_local)
        return ir.ForEach(targets, True, self.expr(it), unpacks + body, span=sp)

    # ------------------------------------------------------------ expressions
    def cond(self, e: ast.Expr) -> ir.Expr:
        x = self.expr(e)
        if x.type != BOOL:
            return ir.Prim(BOOL, "truthy", (x,), span=x.span)
        return x

    def expr(self, e: ast.Expr) -> ir.Expr:
        t = self.prog.types.get(e, ERROR)
        sp = e.span
        method = getattr(self, "x_" + type(e).__name__)
        return method(e, t, sp)

    def x_IntLit(self, e, t, sp):
        return ir.Const(INT, e.value, span=sp)

    def x_FloatLit(self, e, t, sp):
        return ir.Const(FLOAT, e.value, span=sp)

    def x_StrLit(self, e, t, sp):
        return ir.Const(STR, e.value, span=sp)

    def x_BoolLit(self, e, t, sp):
        return ir.Const(BOOL, e.value, span=sp)

    def x_NoneLit(self, e, t, sp):
        return ir.Const(NONE, None, span=sp)

    def x_Name(self, e, t, sp):
        ref = self.prog.refs[e]
        if ref.kind == "local":
            return ir.Local(t, e.id, span=sp)
        if ref.kind == "const":
            return ir.Global(t, ref.name, span=sp)
        if ref.kind == "mathconst":
            return ir.Const(FLOAT, ref.value, span=sp)
        return self.function_value(ref, t, sp)

    def function_value(self, ref, t: FuncT, sp) -> ir.Expr:
        param = ir.Local(t.params[0], "_arg", span=sp)
        if ref.value == "func":
            body = ir.Call(t.ret, ref.name, (param,), span=sp)
        else:
            body = ir.Prim(t.ret, ref.name, (param,), span=sp)
        return ir.Lambda(t, ("_arg",), body, span=sp)

    def x_BinOp(self, e, t, sp):
        op = BINOPS[e.op]
        if e.op == "-" and isinstance(t, SetT):
            op = "bitsub"
        return ir.Prim(t, op, (self.expr(e.left), self.expr(e.right)), span=sp)

    def x_UnaryOp(self, e, t, sp):
        op = {"-": "neg", "+": "pos", "not": "not"}[e.op]
        return ir.Prim(t, op, (self.expr(e.operand),), span=sp)

    def x_BoolOp(self, e, t, sp):
        values = tuple(self.expr(v) for v in e.values)
        return (ir.And if e.op == "and" else ir.Or)(t, values, span=sp)

    def x_Compare(self, e, t, sp):
        operands = (self.expr(e.left), *(self.expr(c) for c in e.comparators))
        return ir.Compare(BOOL, tuple(CMPOPS[o] for o in e.ops), operands, span=sp)

    def x_IfExp(self, e, t, sp):
        return ir.IfExp(t, self.cond(e.test), self.expr(e.body), self.expr(e.orelse), span=sp)

    def x_Attribute(self, e, t, sp):
        obj = self.expr(e.value)
        if isinstance(obj.type, ArrayT):
            return ir.Prim(t, "array.shape", (obj,), span=sp)
        return ir.GetField(t, obj, e.attr, span=sp)

    def x_Index(self, e, t, sp):
        return ir.Prim(t, "getitem", (self.expr(e.value), *self.indices(e)), span=sp)

    def indices(self, e: ast.Index) -> tuple[ir.Expr, ...]:
        """The index operands of `e`; `d[i, j]` on a dict is `d[(i, j)]`."""
        parts = tuple(self.expr(i) for i in e.indices)
        key = self.prog.types.get(e.value)
        if len(parts) > 1 and isinstance(key, DictT):
            return (ir.TupleLit(key.key, parts, span=e.span),)
        return parts

    def x_Slice(self, e, t, sp):
        return ir.Prim(t, "slice", (self.expr(e.value), *self.slice_bounds(e, sp)), span=sp)

    def slice_bounds(self, e: ast.Slice, sp) -> tuple[ir.Expr, ir.Expr, ir.Expr]:
        """lower, upper and step of `e`, each absent one Const(None)."""
        return tuple(self.expr(p) if p is not None else ir.Const(NONE, None, span=sp)
                     for p in (e.lower, e.upper, e.step))

    def store_slice(self, target: ast.Slice, value: ir.Expr, sp) -> list[ir.Stmt]:
        """`xs[i:j:k] = value`: the value first (into a temporary unless it
        is a local or a constant), then the list and the bounds, as Python
        evaluates a slice assignment."""
        pre: list[ir.Stmt] = []
        value = self.stable(value, pre)
        obj = self.expr(target.value)
        store = ir.Prim(NONE, "setslice", (obj, *self.slice_bounds(target, sp), value), span=sp)
        return pre + [ir.ExprStmt(store, span=sp)]

    def x_ListExpr(self, e, t, sp):
        return ir.ListLit(t, tuple(self.expr(x) for x in e.elts), span=sp)

    def x_TupleExpr(self, e, t, sp):
        return ir.TupleLit(t, tuple(self.expr(x) for x in e.elts), span=sp)

    def x_SetExpr(self, e, t, sp):
        return ir.SetLit(t, tuple(self.expr(x) for x in e.elts), span=sp)

    def x_DictExpr(self, e, t, sp):
        return ir.DictLit(t, tuple(self.expr(k) for k in e.keys), tuple(self.expr(v) for v in e.values), span=sp)

    def generators(self, comp) -> tuple[ir.Generator, ...]:
        """The comprehension's `for` clauses. A nested target, `for (a, b), c
        in it`, becomes `for t, c in it for a, b in [t]`, the conditions going
        to the last clause; `t` is local to the comprehension, so it is named
        apart from every name the comprehension mentions."""
        out: list[ir.Generator] = []
        mentioned = None
        for g in comp.generators:
            iterable = self.expr(g.iter)
            conds = tuple(self.cond(c) for c in g.conds)
            if isinstance(g.target, ast.Name):
                out.append(ir.Generator((g.target.id,), False, iterable, conds))
                continue
            if mentioned is None:
                mentioned = {n.id for n in ast.walk(comp) if isinstance(n, ast.Name)}
            targets, unpacks = self.unpack_names(g.target, lambda t: self.fresh_name(mentioned))
            clauses = [(targets, iterable)] + [
                (u.names, ir.ListLit(ListT(u.value.type), (u.value,), span=u.span)) for u in unpacks]
            out += [ir.Generator(names, True, it, conds if k == len(clauses) - 1 else ())
                    for k, (names, it) in enumerate(clauses)]
        return tuple(out)

    def x_ListComp(self, e, t, sp):
        return ir.Comp(t, "list", self.expr(e.elt), self.generators(e), span=sp)

    def x_SetComp(self, e, t, sp):
        return ir.Comp(t, "set", self.expr(e.elt), self.generators(e), span=sp)

    def x_GeneratorExp(self, e, t, sp):
        return ir.Comp(t, "gen", self.expr(e.elt), self.generators(e), span=sp)

    def x_DictComp(self, e, t, sp):
        return ir.Comp(t, "dict", self.expr(e.value), self.generators(e),
                       key=self.expr(e.key), span=sp)

    def x_Lambda(self, e, t, sp):
        return ir.Lambda(t, tuple(e.params), self.expr(e.body), span=sp)

    def x_FString(self, e, t, sp):
        return ir.Prim(STR, "concat", tuple(self.format_parts(e.parts, sp)), span=sp)

    def format_parts(self, parts, sp) -> list[ir.Expr]:
        out: list[ir.Expr] = []
        for part in parts:
            if isinstance(part, str):
                out.append(ir.Const(STR, part, span=sp))
                continue
            value = self.expr(part.expr)
            if part.conversion == "r":
                value = ir.Prim(STR, "repr", (value,), span=part.span)
            elif part.conversion == "s":
                value = ir.Prim(STR, "str", (value,), span=part.span)
            spec_parts = self.format_parts(part.spec, sp)
            if not spec_parts:
                spec = ir.Const(STR, "", span=part.span)
            elif len(spec_parts) == 1:
                spec = spec_parts[0]
            else:
                spec = ir.Prim(STR, "concat", tuple(spec_parts), span=part.span)
            out.append(ir.Prim(STR, "format", (value, spec), span=part.span))
        return out

    def x_Hole(self, e, t, sp):
        binding = self.holes.get(id(e))
        if binding is None or binding.lifted is None:
            return ir.HoleExpr(t, binding.key if binding else "", e.text, span=sp)
        args = tuple(ir.Local(at, name, span=sp) for name, at in binding.args)
        return ir.Call(t, binding.lifted, args, span=sp)

    def x_Call(self, e, t, sp):
        ref = self.prog.calls[e]
        args = tuple(self.expr(a) for a in ref.args)
        if ref.kind == "func":
            return ir.Call(t, ref.target, args, span=sp)
        if ref.kind == "struct":
            return ir.MakeStruct(t, ref.target, args, span=sp)
        kwargs = tuple((k, self.kwarg(v)) for k, v in ref.kwargs)
        if ref.kind == "method":
            receiver = self.expr(e.func.value)
            return ir.Prim(t, ref.target, (receiver, *args), kwargs, span=sp)
        op = "range" if ref.target == "prange" else ref.target
        return ir.Prim(t, op, args, kwargs, span=sp)

    def kwarg(self, v: ast.Expr) -> ir.Expr:
        if isinstance(v, ast.Name) and v.id in ("float", "int", "bool") and self.prog.refs.get(v) is None:
            return ir.Const(STR, v.id, span=v.span)
        return self.expr(v)


def range_parts(args: list[ir.Expr], sp):
    zero, one = ir.Const(INT, 0, span=sp), ir.Const(INT, 1, span=sp)
    if len(args) == 1:
        return zero, args[0], one
    if len(args) == 2:
        return args[0], args[1], one
    return args[0], args[1], args[2]


def leaves(target: ast.Expr):
    """The targets inside a (nested) tuple target, in store order."""
    if isinstance(target, ast.TupleExpr):
        for elt in target.elts:
            yield from leaves(elt)
    else:
        yield target


def ordered_consts(prog: CheckedProgram):
    """Constants in an order where each comes after those it reads."""
    done: dict[str, bool] = {}
    out = []

    def visit(c, stack=()):
        if c.ir_name in done or c.ir_name in stack:
            return
        for node in ast.walk(c.decl.value):
            ref = prog.refs.get(node) if isinstance(node, ast.Name) else None
            if ref is not None and ref.kind == "const":
                visit(prog.consts[ref.name], stack + (c.ir_name,))
        done[c.ir_name] = True
        out.append(c)
    for c in prog.consts.values():
        visit(c)
    return out


def lower_program(prog: CheckedProgram, holes: Optional[dict[int, HoleBinding]] = None) -> ir.Module:
    return Lowerer(prog, holes or {}).lower_module()
