"""Compile an NPL IR module to Python code objects and run it.

Takes an `ir.Module` (compiler/ir.py) and gives back a `Program`: the module
compiled, through a Python `ast` tree, to code objects that CPython runs at
full speed. NPL's semantics match Python's for numbers, strings and
containers, so most IR nodes become the plain Python construct; built-ins
come from the table in stdlib/builtins.py.

What the generated code guarantees:
  * every statement carries its NPL source line, every code object the NPL
    file name and NPL function name, so a Python traceback maps directly to
    an NPL stack trace (runtime/errors.py);
  * user names are mangled (locals `v_x`, functions `f3_name`, globals
    `g0_NAME`, structs `S1_Point`, struct fields `s_x`) and the code runs in
    a namespace that holds only the runtime helpers, with no Python
    built-ins a user name could reach: a variable may be called `print` or
    `__import__`;
  * with a step or time limit, function entries and loop iterations count
    steps (runtime/execution.py); without one there is no instrumentation.
"""
from __future__ import annotations

import ast
import math
from types import CodeType
from typing import Any, Callable, Optional

from npl.compiler import ir
from npl.lang.errors import InternalError
from npl.lang.gcpause import gc_paused
from npl.stdlib.builtins import PRIMS, as_iterable, call

from .errors import NplRuntimeError
from .ir_shapes import (constant, emptiness_test, explainable, inlinable_body, is_const,
                        sequence_kind)
from .execution import Budget, run_deep
from .oracles import NoAnswerer, OracleAnswerer, bind_oracles
from .image import (SANDBOX_BUILTINS, ProgramImage, exec_module, prepare_heap,  # noqa: F401
                    new_namespace, translate_error, uses_array_helpers)
from .values import (coerce, conforms, demangle, describe_type, slot_name, struct_code,
                     type_has_array)

_COMPARE_OPS = {"eq": ast.Eq, "ne": ast.NotEq, "lt": ast.Lt, "le": ast.LtE, "gt": ast.Gt,
                "ge": ast.GtE, "in": ast.In, "not_in": ast.NotIn, "is": ast.Is,
                "is_not": ast.IsNot}
_MATH_CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan}


class CodegenError(InternalError):
    """The IR is malformed (a bug in an earlier stage, not the user's)."""


# ------------------------------------------------------------------ names

def _encode(name: str) -> str:
    return "".join(c if c.isalnum() and c.isascii() else f"_{ord(c):x}_" for c in name)


def local_name(name: str) -> str:
    """The Python name of NPL local `name` (injective, never a helper name)."""
    if name.isidentifier() and name.isascii():
        return "v_" + name
    return "w_" + _encode(name)


def _numbered(prefix: str, items: list[str]) -> dict[str, str]:
    return {item: f"{prefix}{i}_{_encode(item)}" for i, item in enumerate(items)}


# ------------------------------------------------------------------ ast helpers

def _name(id_: str, store: bool = False) -> ast.Name:
    return ast.Name(id_, ast.Store() if store else ast.Load())


def _args(names: list[str]) -> ast.arguments:
    return ast.arguments(posonlyargs=[], args=[ast.arg(n) for n in names], kwonlyargs=[],
                         kw_defaults=[], defaults=[])


DATA_MIN = 16       # constant elements from which a display is emitted as one constant


def constant_data(elts) -> Optional[tuple]:
    """The Python values of `elts` if there are DATA_MIN or more and all are
    constants (numbers, strings, booleans, None, `-number`, tuples of
    those), else None: data in a program compiles as one constant."""
    if len(elts) < DATA_MIN:
        return None
    values = []
    for e in elts:
        ok, value = _data_value(e)
        if not ok:
            return None
        values.append(value)
    return tuple(values)


def _data_value(e: ir.Expr) -> tuple[bool, Any]:
    if isinstance(e, ir.Const):
        return True, e.value
    if (isinstance(e, ir.Prim) and e.op == "neg" and len(e.args) == 1 and not e.kwargs
            and isinstance(e.args[0], ir.Const) and type(e.args[0].value) in (int, float)):
        return True, -e.args[0].value
    if isinstance(e, ir.TupleLit):
        values = []
        for x in e.elts:
            ok, value = _data_value(x)
            if not ok:
                return False, None
            values.append(value)
        return True, tuple(values)
    return False, None


def _at(node: ast.AST, line: int) -> ast.AST:
    """Place `node` on NPL line `line` (0: its parent's line). Columns are
    0 except at index sites (see ModuleCompiler.index_sites)."""
    if line > 0:
        node.lineno = node.end_lineno = line
    node.col_offset = node.end_col_offset = 0
    return node


def _body(stmts: list[ast.stmt]) -> list[ast.stmt]:
    return stmts or [ast.Pass()]


# ------------------------------------------------------------------ compiler

class ModuleCompiler:
    """Builds the Python `ast.Module` for one IR module."""

    def __init__(self, module: ir.Module, instrument: bool):
        self.module = module
        self.instrument = instrument
        self.functions = _numbered("f", [f.name for f in module.functions])
        self.externs = _numbered("x", [e.name for e in module.externs])
        self.structs = _numbered("S", [s.name for s in module.structs])
        self.globals = _numbered("g", [c.name for c in module.consts])
        self.tests = [f"t{i}_" for i in range(len(module.tests))]
        self.consts = [f"c{i}_" for i in range(len(module.consts))]
        # generated function name -> (NPL display name, file)
        self.code_names: dict[str, tuple[str, str]] = {}
        self._line = 0
        # getitem sites on sequences, by the column their Subscript carries
        # (site k at column k), for index-error messages
        self.index_sites: list[tuple[ir.Expr, ir.Expr]] = []
        # inlining (see _inline): IR name -> function, the return expression
        # of each function that can be inlined, the substitution in force
        self._by_name = {f.name: f for f in module.functions}
        self._inline_bodies: dict[str, Optional[ir.Expr]] = {}
        self._subst: Optional[dict[str, ir.Expr]] = None

    # -- top level
    def build(self) -> ast.Module:
        body: list[ast.stmt] = [self.function(f) for f in self.module.functions]
        body += [self.test(t, name) for t, name in zip(self.module.tests, self.tests)]
        body += [self.test_operands(t, name) for t, name in zip(self.module.tests, self.tests)
                 if explainable(t)]
        for const, fname in zip(self.module.consts, self.consts):
            body.append(self.const_init(const, fname))
            assign = ast.Assign([_name(self.globals[const.name], True)],
                                ast.Call(_name(fname), [], []))
            body.append(_at(assign, const.span.line))
        tree = ast.Module(body=body, type_ignores=[])
        return ast.fix_missing_locations(tree)

    def function(self, fn: ir.Function) -> ast.FunctionDef:
        py_name = self.functions[fn.name]
        self._oracle_fn = fn
        self.code_names[py_name] = (fn.source_name or fn.name, fn.span.file)
        self._line = fn.span.line
        body = self.prologue() + self.block(fn.body)
        return self._def(py_name, [p.name for p in fn.params], body, fn.span.line)

    def test(self, test: ir.TestCase, py_name: str) -> ast.FunctionDef:
        self.code_names[py_name] = (test.name, test.span.file)
        self._line = test.span.line
        body = self.prologue()
        if test.where is not None:
            reject = ast.If(ast.UnaryOp(ast.Not(), self.condition(test.where)),
                            [ast.Return(ast.Constant(None))], [])
            body.append(_at(reject, test.where.span.line or test.span.line))
        body.append(_at(ast.Return(self.expr(test.expr)), test.expr.span.line or test.span.line))
        return self._def(py_name, [p.name for p in test.params], body, test.span.line)

    def test_operands(self, test: ir.TestCase, test_name: str) -> ast.FunctionDef:
        """`u<n>_`: the operand values of a test's comparison, for failure
        messages (`left is 6, right is 7`)."""
        py_name = "u" + test_name[1:]
        self.code_names[py_name] = (test.name, test.span.file)
        self._line = test.span.line
        assert isinstance(test.expr, ir.Compare)
        operands = ast.Tuple(self.exprs(test.expr.operands), ast.Load())
        ret = _at(ast.Return(operands), test.expr.span.line or test.span.line)
        return self._def(py_name, [p.name for p in test.params], self.prologue() + [ret],
                         test.span.line)

    def const_init(self, const: ir.ConstDef, py_name: str) -> ast.FunctionDef:
        self.code_names[py_name] = (f"const {const.name}", const.span.file)
        self._line = const.span.line
        ret = _at(ast.Return(self.expr(const.value)), const.span.line)
        return self._def(py_name, [], [ret], const.span.line)

    def _def(self, py_name: str, params: list[str], body: list[ast.stmt],
             line: int) -> ast.FunctionDef:
        node = ast.FunctionDef(py_name, _args([local_name(p) for p in params]), _body(body), [])
        return _at(node, line)

    def prologue(self) -> list[ast.stmt]:
        if not self.instrument:
            return []
        return [ast.Global(["_steps"]), *self.step()]

    def step(self) -> list[ast.stmt]:
        """`_steps -= 1; if _steps < 0: _refill()`: only when instrumented."""
        if not self.instrument:
            return []
        dec = ast.AugAssign(_name("_steps", True), ast.Sub(), ast.Constant(1))
        low = ast.Compare(_name("_steps"), [ast.Lt()], [ast.Constant(0)])
        refill = ast.Expr(ast.Call(_name("_refill"), [], []))
        return [_at(dec, self._line), _at(ast.If(low, [refill], []), self._line)]

    # -- statements
    def block(self, stmts: list[ir.Stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for s in stmts:
            line = self._line = s.span.line or self._line
            nodes = self.stmt(s)
            self._line = line
            out.extend(_at(node, line) for node in nodes)
        return out

    def stmt(self, s: ir.Stmt) -> list[ast.stmt]:
        method = getattr(self, "stmt_" + type(s).__name__, None)
        if method is None:
            raise CodegenError(f"unknown IR statement {type(s).__name__}")
        result = method(s)
        return result if isinstance(result, list) else [result]

    def stmt_Assign(self, s: ir.Assign) -> ast.stmt:
        return ast.Assign([_name(local_name(s.name), True)], self.expr(s.value))

    def stmt_Unpack(self, s: ir.Unpack) -> ast.stmt:
        target = ast.Tuple([_name(local_name(n), True) for n in s.names], ast.Store())
        return ast.Assign([target], self.expr(s.value))

    def stmt_SetItem(self, s: ir.SetItem) -> ast.stmt:
        indices = [self.expr(i) for i in s.indices]
        index = indices[0] if len(indices) == 1 else ast.Tuple(indices, ast.Load())
        target = ast.Subscript(self.expr(s.obj), index, ast.Store())
        return ast.Assign([target], self.expr(s.value))

    def stmt_SetField(self, s: ir.SetField) -> ast.stmt:
        target = ast.Attribute(self.expr(s.obj), slot_name(s.name), ast.Store())
        return ast.Assign([target], self.expr(s.value))

    def stmt_If(self, s: ir.If) -> ast.stmt:
        test = self.condition(s.test)
        body = self.block(s.body)
        return ast.If(test, _body(body), self.block(s.orelse))

    def stmt_While(self, s: ir.While) -> ast.stmt:
        return ast.While(self.condition(s.test), self.loop_body(s.body), [])

    def stmt_ForRange(self, s: ir.ForRange) -> ast.stmt:
        bounds = [self.expr(s.start), self.expr(s.stop), self.expr(s.step)]
        if is_const(s.step, 1):
            bounds.pop()
            if is_const(s.start, 0):
                bounds.pop(0)
        target = _name(local_name(s.var), True)
        return ast.For(target, call("_range", bounds), self.loop_body(s.body), [])

    def stmt_ForEach(self, s: ir.ForEach) -> ast.stmt:
        target = self.target(s.targets, s.unpack)
        iterable = as_iterable(self.expr(s.iter), s.iter.type)
        return ast.For(target, iterable, self.loop_body(s.body), [])

    def loop_body(self, stmts: list[ir.Stmt]) -> list[ast.stmt]:
        return _body(self.step() + self.block(stmts))

    def stmt_Break(self, s: ir.Break) -> ast.stmt:
        return ast.Break()

    def stmt_Continue(self, s: ir.Continue) -> ast.stmt:
        return ast.Continue()

    def stmt_Return(self, s: ir.Return) -> ast.stmt:
        return ast.Return(None if s.value is None else self.expr(s.value))

    def stmt_ExprStmt(self, s: ir.ExprStmt) -> ast.stmt:
        return ast.Expr(self.expr(s.value))

    def stmt_Assert(self, s: ir.Assert) -> ast.stmt:
        message = ast.Constant(None) if s.msg is None else self.expr(s.msg)
        fail = ast.Expr(call("_assert_failed", [message]))
        return ast.If(ast.UnaryOp(ast.Not(), self.condition(s.test)), [fail], [])

    def stmt_HoleBody(self, s: ir.HoleBody) -> ast.stmt:
        return ast.Expr(_hole_call(s.span, s.text))

    def stmt_OracleBody(self, s: ir.OracleBody) -> ast.stmt:
        """`return _oracle(name, (params...))`: the program's answerer
        gives the value (runtime/oracles.py)."""
        fn = self._oracle_fn
        args = ast.Tuple([_name(local_name(p.name)) for p in fn.params], ast.Load())
        return ast.Return(ast.Call(_name("_oracle"), [ast.Constant(fn.name), args], []))

    def target(self, names: tuple[str, ...], unpack: bool) -> ast.expr:
        if unpack:
            return ast.Tuple([_name(local_name(n), True) for n in names], ast.Store())
        return _name(local_name(names[0]), True)

    # -- expressions
    def condition(self, e: ir.Expr) -> ast.expr:
        """A test position: Python's truth test already does `truthy`."""
        if isinstance(e, ir.Prim) and e.op == "truthy":
            return _at(self.expr(e.args[0]), e.span.line)
        if isinstance(e, (ir.And, ir.Or)):
            op = ast.And() if isinstance(e, ir.And) else ast.Or()
            return _at(ast.BoolOp(op, [self.condition(x) for x in e.values]), e.span.line)
        emptiness = emptiness_test(e)
        if emptiness is not None:
            container, empty = emptiness
            node = self.expr(container)
            return _at(ast.UnaryOp(ast.Not(), node), e.span.line) if empty else node
        return self.expr(e)

    def expr(self, e: ir.Expr) -> ast.expr:
        method = getattr(self, "expr_" + type(e).__name__, None)
        if method is None:
            raise CodegenError(f"unknown IR expression {type(e).__name__}")
        node = _at(method(e), e.span.line)
        if isinstance(e, ir.Prim) and e.op == "getitem" and isinstance(node, ast.Subscript) \
                and sequence_kind(e.args[0].type):
            self.index_sites.append((e.args[0], e.args[1]))
            node.col_offset = node.end_col_offset = len(self.index_sites)
        return node

    def exprs(self, es: tuple[ir.Expr, ...]) -> list[ast.expr]:
        return [self.expr(e) for e in es]

    def expr_Const(self, e: ir.Const) -> ast.expr:
        return ast.Constant(e.value)

    def expr_Local(self, e: ir.Local) -> ast.expr:
        if self._subst is not None:           # a parameter of an inlined function
            subst, self._subst = self._subst, None
            try:                              # the argument: the caller's variable or constant
                return self.expr(subst[e.name])
            finally:
                self._subst = subst
        return _name(local_name(e.name))

    def expr_Global(self, e: ir.Global) -> ast.expr:
        if e.name in self.globals:
            return _name(self.globals[e.name])
        if e.name in _MATH_CONSTANTS:
            return ast.Constant(_MATH_CONSTANTS[e.name])
        raise CodegenError(f"unknown global {e.name!r}")

    def expr_Call(self, e: ir.Call) -> ast.expr:
        target = self.functions.get(e.func) or self.externs.get(e.func)
        if target is None:
            raise CodegenError(f"call of unknown function {e.func!r}")
        inlined = self._inline(e)
        if inlined is not None:
            return inlined
        return ast.Call(_name(target), self.exprs(e.args), [])

    def _inline(self, e: ir.Call) -> Optional[ast.expr]:
        """The body of the called function in place of the call, when that
        cannot be told apart from calling it: the function is one `return`
        of an expression that cannot fail (int/float + - *, // and % by a
        non-zero constant, comparisons, and/or/if-else, its parameters), the
        arguments are variables or constants (reading them again is free),
        and the code counts no steps (each call is a step there). Not
        kernels (their ints are 64-bit when compiled) and not main. No frame
        is lost from an error trace, as nothing in the body can raise."""
        if self.instrument or self._subst is not None:
            return None
        fn = self._by_name.get(e.func)
        if fn is None or fn.kernel or fn.name == self.module.main \
                or len(e.args) != len(fn.params) \
                or not all(isinstance(a, ir.Local) or constant(a) is not None for a in e.args):
            return None
        if fn.name not in self._inline_bodies:
            self._inline_bodies[fn.name] = inlinable_body(fn)
        body = self._inline_bodies[fn.name]
        if body is None:
            return None
        self._subst = {p.name: a for p, a in zip(fn.params, e.args)}
        try:
            node = self.expr(body)
        finally:
            self._subst = None
        line = e.span.line or self._line
        for sub in ast.walk(node):                # the caller's line, not the callee's
            if isinstance(sub, (ast.expr, ast.stmt)):
                _at(sub, line)
        return node

    def expr_Prim(self, e: ir.Prim) -> ast.expr:
        builder = PRIMS.get(e.op)
        if builder is None:
            raise CodegenError(f"unknown primitive {e.op!r}")
        oracle = self._oracle_lambda(e.args[0]) if e.op in ("map", "filter") and len(e.args) == 2 \
            else None
        if oracle is not None:                # asked together: see runtime/oracles.py
            items = as_iterable(self.expr(e.args[1]), e.args[1].type)
            return ast.Call(_name(f"_oracle_{e.op}"), [ast.Constant(oracle.name), items], [])
        keywords = [ast.keyword(k, self.expr(v)) for k, v in e.kwargs]
        return builder(e, self.exprs(e.args), keywords)

    def expr_Compare(self, e: ir.Compare) -> ast.expr:
        operands = self.exprs(e.operands)
        if len(e.ops) == 1 and e.ops[0] in ("eq", "ne") \
                and any(type_has_array(o.type) for o in e.operands):
            equal = call("_npl_equal", operands)
            return equal if e.ops[0] == "eq" else ast.UnaryOp(ast.Not(), equal)
        ops = [_COMPARE_OPS[op]() for op in e.ops]
        return ast.Compare(operands[0], ops, operands[1:])

    def expr_And(self, e: ir.And) -> ast.expr:
        return ast.BoolOp(ast.And(), self.exprs(e.values))

    def expr_Or(self, e: ir.Or) -> ast.expr:
        return ast.BoolOp(ast.Or(), self.exprs(e.values))

    def expr_IfExp(self, e: ir.IfExp) -> ast.expr:
        return ast.IfExp(self.condition(e.test), self.expr(e.body), self.expr(e.orelse))

    def expr_GetField(self, e: ir.GetField) -> ast.expr:
        return ast.Attribute(self.expr(e.obj), slot_name(e.name), ast.Load())

    def expr_MakeStruct(self, e: ir.MakeStruct) -> ast.expr:
        if e.name not in self.structs:
            raise CodegenError(f"unknown struct {e.name!r}")
        return ast.Call(_name(self.structs[e.name]), self.exprs(e.args), [])

    def expr_ListLit(self, e: ir.ListLit) -> ast.expr:
        data = constant_data(e.elts)
        if data is not None:                  # [*(1, 2, ...)]: one constant, not 1000s of nodes
            return ast.List([ast.Starred(ast.Constant(data), ast.Load())], ast.Load())
        return ast.List(self.exprs(e.elts), ast.Load())

    def expr_TupleLit(self, e: ir.TupleLit) -> ast.expr:
        data = constant_data(e.elts)
        if data is not None:
            return ast.Constant(data)
        return ast.Tuple(self.exprs(e.elts), ast.Load())

    def expr_SetLit(self, e: ir.SetLit) -> ast.expr:
        data = constant_data(e.elts)
        if data is not None:
            return ast.Set([ast.Starred(ast.Constant(data), ast.Load())])
        return ast.Set(self.exprs(e.elts)) if e.elts else call("_set", [])

    def expr_DictLit(self, e: ir.DictLit) -> ast.expr:
        keys, values = constant_data(e.keys), constant_data(e.values)
        if keys is not None and values is not None:     # {k: v for k, v in ((k1, v1), ...)}
            pairs = ast.Constant(tuple(zip(keys, values)))
            target = ast.Tuple([_name("k", True), _name("v", True)], ast.Store())
            return ast.DictComp(_name("k"), _name("v"), [ast.comprehension(target, pairs, [], 0)])
        return ast.Dict(self.exprs(e.keys), self.exprs(e.values))

    def expr_Comp(self, e: ir.Comp) -> ast.expr:
        gens = [self.generator(g) for g in e.generators]
        oracle = self._oracle_call(e.elt) if e.kind == "list" else None
        if oracle is not None:                # asked together: see runtime/oracles.py
            calls = ast.ListComp(ast.Tuple(self.exprs(e.elt.args), ast.Load()), gens)
            return ast.Call(_name("_oracle_all"), [ast.Constant(oracle.name), calls], [])
        if e.kind == "list":
            return ast.ListComp(self.expr(e.elt), gens)
        if e.kind == "set":
            return ast.SetComp(self.expr(e.elt), gens)
        if e.kind == "gen":
            return ast.GeneratorExp(self.expr(e.elt), gens)
        if e.kind == "dict":
            if e.key is None:
                raise CodegenError("dict comprehension without a key")
            return ast.DictComp(self.expr(e.key), self.expr(e.elt), gens)
        raise CodegenError(f"unknown comprehension kind {e.kind!r}")

    def _oracle_call(self, e: ir.Expr) -> Optional[ir.Function]:
        """The oracle `e` calls directly, if it is such a call."""
        if isinstance(e, ir.Call):
            fn = self._by_name.get(e.func)
            if fn is not None and fn.oracle:
                return fn
        return None

    def _oracle_lambda(self, e: ir.Expr) -> Optional[ir.Function]:
        """The oracle of `lambda x: oracle(x)` (what `map(oracle, xs)` and
        `filter(oracle, xs)` lower to), if `e` is that."""
        if isinstance(e, ir.Lambda) and len(e.params) == 1:
            fn = self._oracle_call(e.body)
            if fn is not None and len(e.body.args) == 1 and isinstance(e.body.args[0], ir.Local) \
                    and e.body.args[0].name == e.params[0]:
                return fn
        return None

    def generator(self, g: ir.Generator) -> ast.comprehension:
        ifs = [self.condition(c) for c in g.conds]
        if self.instrument:
            ifs.insert(0, ast.Call(_name("_tick"), [], []))
        iterable = as_iterable(self.expr(g.iter), g.iter.type)
        return ast.comprehension(self.target(g.targets, g.unpack), iterable, ifs, 0)

    def expr_Lambda(self, e: ir.Lambda) -> ast.expr:
        return ast.Lambda(_args([local_name(p) for p in e.params]), self.expr(e.body))

    def expr_HoleExpr(self, e: ir.HoleExpr) -> ast.expr:
        return _hole_call(e.span, e.text)

    # -- for the image
    def plain_index_sites(self) -> list[tuple]:
        """`index_sites` as data (runtime/image.py ProgramImage.index_sites)."""
        return [(sequence_kind(c.type), self._ref(c), self._ref(i)) for c, i in self.index_sites]

    def _ref(self, e: ir.Expr) -> Optional[tuple]:
        """How to re-read a side-effect-free operand from a failing frame."""
        if isinstance(e, ir.Const):
            return ("const", e.value)
        if isinstance(e, ir.Local):
            return ("local", local_name(e.name))
        if isinstance(e, ir.Global) and e.name in self.globals:
            return ("global", self.globals[e.name])
        if isinstance(e, ir.Prim) and e.op == "neg" and isinstance(e.args[0], ir.Const):
            try:
                return ("const", -e.args[0].value)
            except TypeError:
                return None
        return None


def _hole_call(span, text: str) -> ast.expr:
    return call("_hole_reached", [ast.Constant(str(span)), ast.Constant(text)])


# ------------------------------------------------------------------ code objects

def compile_module(module: ir.Module, instrument: bool = False) -> tuple[CodeType, ModuleCompiler]:
    """The module's code object (to exec once) and the compiler that made it."""
    compiler = ModuleCompiler(module, instrument)
    with gc_paused():                       # big data: see npl.lang.gcpause
        tree = compiler.build()
        code = compile(tree, module.path, "exec", dont_inherit=True)
    return _rename_code(code, compiler.code_names, module.path), compiler


def _rename_code(code: CodeType, names: dict[str, tuple[str, str]], default_file: str) -> CodeType:
    """Give each generated function's code object its NPL name and file."""
    consts = []
    for const in code.co_consts:
        if isinstance(const, CodeType) and const.co_name in names:
            display, file = names[const.co_name]
            const = _with_file(const, file or default_file).replace(
                co_name=display, co_qualname=display)
        consts.append(const)
    return code.replace(co_consts=tuple(consts))


def _with_file(code: CodeType, file: str) -> CodeType:
    consts = tuple(_with_file(c, file) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=file, co_consts=consts)


# ------------------------------------------------------------------ programs

class Program:
    """A loaded NPL module, ready to call. Not safe to call from several
    threads at once (the step budget is per program)."""

    def __init__(self, module: ir.Module, image: ProgramImage, namespace: dict,
                 compiler: ModuleCompiler, struct_classes: dict[str, type], budget: Budget):
        self.module = module
        self.image = image                 # what the compile cache of `npl run` stores
        self.sources = image.sources
        self.namespace = namespace
        self._compiler = compiler
        self._struct_classes = struct_classes
        self._budget = budget
        self.limited = budget.active       # compiled with step/time instrumentation
        self._tests = {id(t): name for t, name in zip(module.tests, compiler.tests)}
        self.files = set(image.files)
        self.oracles: OracleAnswerer = NoAnswerer()   # who answers @oracle calls

    # -- public API
    def call(self, ir_name: str, *args: Any) -> Any:
        """Call NPL function `ir_name`; NPL run-time errors raise NplRuntimeError."""
        fn = self.module.function(ir_name) if ir_name in self._compiler.functions else None
        if fn is None:
            raise KeyError(f"no NPL function named {ir_name!r}")
        if len(args) != len(fn.params):
            raise TypeError(f"{ir_name} takes {len(fn.params)} argument(s), got {len(args)}")
        values = [coerce(a, p.type) for a, p in zip(args, fn.params)]
        return self._run(self.namespace[self._compiler.functions[ir_name]], values)

    def caller(self, ir_name: str) -> Callable[..., Any]:
        """`call` for a host that calls one function many times (npl map's
        workers): the function is looked up once, and its arguments must
        already be NPL values of the parameter types (runtime/convert.py);
        each call still finds the function's current code (the JIT may
        replace it)."""
        fn = self.module.function(ir_name) if ir_name in self._compiler.functions else None
        if fn is None:
            raise KeyError(f"no NPL function named {ir_name!r}")
        slot, namespace, run = self._compiler.functions[ir_name], self.namespace, self._run

        def call(*args: Any) -> Any:
            return run(namespace[slot], list(args))
        return call

    def run_main(self, argv: list[str]) -> None:
        """Run `main()` or `main(args)`: the program's whole run, so the
        garbage collector is tuned for it first (runtime/image.py
        prepare_heap)."""
        if self.module.main is None:
            raise KeyError("the program has no main function")
        args = (list(argv),) if self.module.main_takes_args else ()
        prepare_heap()
        self.call(self.module.main, *args)

    def run_test(self, test: ir.TestCase, args: tuple = ()) -> Optional[bool]:
        """Run an example or one property case: True/False, or None when the
        `where` filter rejects the inputs."""
        py_name = self._tests.get(id(test))
        if py_name is None:
            raise KeyError(f"test {test.name!r} is not part of this program")
        values = [coerce(a, p.type) for a, p in zip(args, test.params)]
        return self._run(self.namespace[py_name], values)

    def test_operands(self, test: ir.TestCase, args: tuple = ()) -> Optional[tuple]:
        """The values of the two sides of a test's comparison (evaluated
        again), or None when the test is not a single comparison or
        evaluating the sides fails."""
        py_name = self._tests.get(id(test))
        if py_name is None or not explainable(test):
            return None
        values = [coerce(a, p.type) for a, p in zip(args, test.params)]
        try:
            return self._run(self.namespace["u" + py_name[1:]], values)
        except NplRuntimeError:
            return None

    def function_slot(self, ir_name: str) -> str:
        """The namespace name under which function `ir_name` is bound (the
        JIT rebinds it to machine code; generated callers look it up there)."""
        return self._compiler.functions[ir_name]

    def struct_class(self, name: str) -> type:
        """The Python class of struct `name` (IR name)."""
        return self._struct_classes[name]

    @property
    def steps_used(self) -> int:
        """Steps taken by the last top-level call (0 without a budget)."""
        return self._budget.steps_used

    # -- internals
    def _run(self, fn: Callable[..., Any], args: list[Any]) -> Any:
        return run_deep(self._guarded, fn, args)

    def _guarded(self, fn: Callable[..., Any], args: list[Any]) -> Any:
        if self._budget.active:
            self._budget.reset()
        try:
            return fn(*args)
        except (Exception, RecursionError) as exc:
            raise self.translate(exc) from None

    def translate(self, exc: BaseException) -> NplRuntimeError:
        return translate_error(exc, self.image, self.namespace)


def _module_files(module: ir.Module) -> set[str]:
    files = {module.path}
    spans = [f.span for f in module.functions] + [t.span for t in module.tests] \
        + [c.span for c in module.consts]
    files.update(s.file for s in spans if s.line > 0)
    return files


def build_image(module: ir.Module, code: CodeType, compiler: ModuleCompiler,
                sources: Optional[dict[str, str]] = None) -> ProgramImage:
    """The plain-data form of a compiled module (runtime/image.py)."""
    structs = [(compiler.structs[s.name], s.name, tuple(f.name for f in s.fields),
                struct_code(s.name, [(f.name, f.type) for f in s.fields]))
               for s in module.structs]
    return ProgramImage(code, structs, dict(compiler.functions), module.main,
                        bool(module.main_takes_args), frozenset(_module_files(module)),
                        dict(sources or {}), compiler.plain_index_sites(),
                        uses_array_helpers(code))


def load(module: ir.Module, *, sources: Optional[dict[str, str]] = None,
         step_limit: Optional[int] = None, time_limit: Optional[float] = None,
         externs: Optional[dict[str, Callable]] = None) -> Program:
    """Compile `module` and initialise its constants.

    sources: file name -> text, so error traces can quote source lines.
    step_limit: most steps (function entries + loop and comprehension
      iterations) one top-level call may take; time_limit: most seconds one
      top-level call may run (checked every 1024 steps, so a single long
      built-in operation is not interrupted). Without either, the code has
      no instrumentation at all.
    externs: an extern's IR name -> the host function implementing it.
    Raises NplRuntimeError if initialising a constant fails."""
    instrument = step_limit is not None or time_limit is not None
    code, compiler = compile_module(module, instrument)
    image = build_image(module, code, compiler, sources)
    namespace, structs = new_namespace(image)
    for ext in module.externs:
        impl = (externs or {}).get(ext.name)
        namespace[compiler.externs[ext.name]] = extern_wrapper(ext, impl, structs)
    budget = Budget(namespace, step_limit, time_limit)
    if instrument:
        namespace["_refill"] = budget.refill
        namespace["_tick"] = budget.tick
        namespace["_steps"] = 0
    program = Program(module, image, namespace, compiler, structs, budget)
    bind_oracles(namespace, module, lambda: program.oracles)
    run_deep(program._guarded, exec_module, [code, namespace])
    return program


def adopt(module: ir.Module, image: ProgramImage, namespace: dict,
          struct_classes: dict[str, type]) -> Program:
    """A `Program` over a namespace already loaded from `image` (the compile
    cache's, runtime/cached_jit.py), for `module` compiled again: what the JIT needs
    to attach to a running cached program. Raises CodegenError when the
    module's name tables are not the image's."""
    compiler = ModuleCompiler(module, False)
    if compiler.functions != image.functions or module.main != image.main:
        raise CodegenError("the compiled module does not match the loaded image")
    return Program(module, image, namespace, compiler, struct_classes,
                   Budget(namespace, None, None))


def extern_wrapper(ext: ir.Extern, impl: Optional[Callable], structs: dict[str, type]) -> Callable:
    """The function generated code calls for an extern: checks that the host
    supplied it and that its result has the declared type."""
    name = ext.name
    if impl is None:
        def missing(*args: Any) -> Any:
            raise NplRuntimeError("extern", f"extern function '{name}' was not supplied by the host")
        return missing

    def checked(*args: Any) -> Any:
        try:
            result = impl(*args)
        except NplRuntimeError:
            raise
        except Exception as exc:
            raise NplRuntimeError(
                "extern", f"extern function '{name}' failed: {type(exc).__name__}: {exc}") from None
        result = coerce(result, ext.ret)
        if not conforms(result, ext.ret, structs):
            raise NplRuntimeError("extern", f"extern function '{name}' returned "
                                  f"{describe_type(result)}, but it is declared to return {ext.ret}")
        return result
    return checked


__all__ = ["load", "Program", "compile_module", "CodegenError", "local_name", "demangle",
           "NplRuntimeError"]
