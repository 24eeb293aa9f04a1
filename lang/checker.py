"""Type checker: parsed modules in, a `CheckedProgram` and diagnostics out.

Stages, in order:
  1. declare  – collect structs, functions, externs and constants of the main
                file and of every sibling file it imports (`from m import x`);
  2. resolve  – turn written types into `lang.types` types;
  3. check    – each constant, function body, example and property, with
                bidirectional expression checking (lang/check_exprs.py and
                lang/check_calls.py) and flow-sensitive narrowing of optionals.
Every problem becomes a Diagnostic; checking goes on after an error so one
run reports several (an erroneous expression gets type ERROR, which is
compatible with everything and so does not cascade).
"""
from __future__ import annotations

import os
from typing import Callable, Optional

from . import ast
from .builtin_sigs import python_hint
from .check_exprs import ExprChecker, narrow_key
from .diagnostics import DiagnosticBag
from .nested import Enclosing, check_nested_def, settle
from .oracles import check_oracle
from .scopes import FuncContext
from .symbols import (CheckedProgram, ConstInfo, FuncInfo, HoleInfo, StructInfo,
                      TestInfo)
from .types import (ARRAY_ELEMS, BOOL, ERROR, FLOAT, INT, NONE, STR, ArrayT,
                    CounterT, DictT, ListT, OptionalT, SetT, StructT, TupleT, Type,
                    assignable, is_hashable)

Loader = Callable[[str], tuple[ast.Module, str]]   # path -> (module, source)


class Checker(ExprChecker):
    def __init__(self, main_path: str, loader: Loader):
        self.bag = DiagnosticBag()
        self.loader = loader
        self.prog = CheckedProgram(main_path=main_path, modules={}, sources={})
        self.ctx: Optional[FuncContext] = None
        self.module_path = main_path

    # ------------------------------------------------------------ declare
    def load_module(self, path: str, module: ast.Module, source: str, prefix: str) -> None:
        prog = self.prog
        prog.modules[path] = module
        prog.sources[path] = source
        scope = prog.scopes.setdefault(path, {})
        for decl in module.decls:
            if isinstance(decl, (ast.FuncDef, ast.ExternDef, ast.StructDef, ast.ConstDef)):
                if decl.name in scope:
                    self.bag.error("E011", f"'{decl.name}' is defined twice", decl.span,
                                   f"first definition at {scope[decl.name].decl.span}")
                    continue
                ir_name = prefix + decl.name
                if isinstance(decl, ast.StructDef):
                    sym = StructInfo(ir_name, decl.name, path, [], decl)
                    prog.structs[ir_name] = sym
                elif isinstance(decl, ast.ConstDef):
                    sym = ConstInfo(ir_name, decl.name, path, ERROR, decl)
                    prog.consts[ir_name] = sym
                else:
                    sym = FuncInfo(ir_name, decl.name, path, [], NONE, decl,
                                   extern=isinstance(decl, ast.ExternDef),
                                   kernel="kernel" in getattr(decl, "decorators", ()),
                                   oracle="oracle" in getattr(decl, "decorators", ()))
                    prog.funcs[ir_name] = sym
                scope[decl.name] = sym
        for decl in module.decls:
            if isinstance(decl, ast.ImportFrom):
                self.import_names(path, decl)

    def import_names(self, importer: str, decl: ast.ImportFrom) -> None:
        folder = os.path.dirname(importer)
        target = os.path.join(folder, decl.module.replace(".", os.sep) + ".npl")
        if target not in self.prog.modules:
            try:
                module, source = self.loader(target)
            except FileNotFoundError:
                hint = python_hint(decl.module)         # a Python module: what NPL has instead
                self.bag.error("E021", f"cannot import '{decl.module}': no file {target}", decl.span,
                               *([hint] if hint else []))
                return
            except OSError as exc:
                self.bag.error("E021", f"cannot read {target}: {exc.strerror}", decl.span)
                return
            self.load_module(target, module, source, decl.module + ".")
        theirs = self.prog.scopes[target]
        mine = self.prog.scopes[importer]
        for name in decl.names:
            if name not in theirs:
                self.bag.error("E021", f"'{decl.module}' has no definition named '{name}'", decl.span)
            elif name in mine and mine[name] is not theirs[name]:
                self.bag.error("E011", f"imported name '{name}' clashes with a definition here", decl.span)
            else:
                mine[name] = theirs[name]

    # ------------------------------------------------------------ resolve
    def resolve_type(self, te, module: str) -> Type:
        if te is None:
            return NONE
        if isinstance(te, ast.OptionalTypeExpr):
            inner = self.resolve_type(te.inner, module)
            return inner if isinstance(inner, OptionalT) or inner == NONE else OptionalT(inner)
        name, args = te.name, te.args
        simple = {"int": INT, "float": FLOAT, "bool": BOOL, "str": STR, "None": NONE}
        if name in simple:
            return self.no_args(te, simple[name])
        arity = {"list": 1, "set": 1, "dict": 2, "Counter": 1}
        if name in arity:
            if len(args) != arity[name] or any(isinstance(a, ast.IntTypeArg) for a in args):
                return self.type_error(te, f"{name} takes {arity[name]} type argument(s), e.g. "
                                       + ("dict[str, int]" if name == "dict" else f"{name}[int]"))
            ts = [self.resolve_type(a, module) for a in args]
            if name == "list":
                return ListT(ts[0])
            if not is_hashable(ts[0]):
                role = "set element" if name == "set" else "dict key"
                return self.type_error(te, f"{ts[0]} cannot be a {role}; "
                                       "use int, str, bool, float or a tuple of those")
            if name == "set":
                return SetT(ts[0])
            return DictT(ts[0], ts[1]) if name == "dict" else CounterT(ts[0])
        if name == "tuple":
            if not args:
                return self.type_error(te, "tuple needs element types, e.g. tuple[int, str]")
            return TupleT(tuple(self.resolve_type(a, module) for a in args))
        if name == "array":
            return self.resolve_array_type(te, module)
        sym = self.prog.scopes.get(module, {}).get(name)
        if isinstance(sym, StructInfo):
            return self.no_args(te, StructT(sym.ir_name))
        return self.type_error(te, f"unknown type '{name}'")

    def resolve_array_type(self, te: ast.TypeExpr, module: str) -> Type:
        args = te.args
        if not args or len(args) > 2 or isinstance(args[0], ast.IntTypeArg):
            return self.type_error(te, "array takes an element type and an optional rank, e.g. array[float, 2]")
        elem = self.resolve_type(args[0], module)
        if elem not in ARRAY_ELEMS:
            return self.type_error(te, f"array elements must be int, float or bool, not {elem}")
        rank = 1
        if len(args) == 2:
            if not isinstance(args[1], ast.IntTypeArg) or not 1 <= args[1].value <= 8:
                return self.type_error(te, "an array's rank is an integer from 1 to 8")
            rank = args[1].value
        return ArrayT(elem, rank)

    def no_args(self, te: ast.TypeExpr, t: Type) -> Type:
        if te.args:
            return self.type_error(te, f"{te.name} takes no type arguments")
        return t

    def type_error(self, te, message: str) -> Type:
        self.bag.error("E023", message, te.span)
        return ERROR

    def resolve_signatures(self) -> None:
        for s in self.prog.structs.values():
            seen = set()
            for f in s.decl.fields:
                if f.name in seen:
                    self.bag.error("E011", f"field '{f.name}' is defined twice", f.span)
                seen.add(f.name)
                s.fields.append((f.name, self.resolve_type(f.annotation, s.module)))
        for fn in self.prog.funcs.values():
            self.resolve_signature(fn)
        for c in self.prog.consts.values():
            if c.decl.annotation is not None:
                c.type = self.resolve_type(c.decl.annotation, c.module)

    def resolve_signature(self, fn: FuncInfo) -> None:
        fn.params = [(p.name, self.resolve_type(p.annotation, fn.module)) for p in fn.decl.params]
        fn.ret = self.resolve_type(fn.decl.returns, fn.module)
        names = [p for p, _ in fn.params]
        for p in fn.decl.params:
            if names.count(p.name) > 1:
                self.bag.error("E011", f"parameter '{p.name}' appears twice", p.span)
                break

    # ------------------------------------------------------------ check
    def check_all(self) -> None:
        self.resolve_signatures()
        for c in self.prog.consts.values():
            self.check_const(c)
        for fn in list(self.prog.funcs.values()):     # nested functions join as they are met
            if not fn.extern:
                self.check_function(fn)
        for path, module in self.prog.modules.items():
            for decl in module.decls:
                if isinstance(decl, (ast.Example, ast.Property)):
                    self.check_test(decl, path)
        self.check_entry_point()

    def check_entry_point(self) -> None:
        """The main module's `main`, if it has one, is `def main()` or
        `def main(args: list[str])` returning nothing (docs/reference.md §3)."""
        main = self.prog.scopes.get(self.prog.main_path, {}).get("main")
        if not isinstance(main, FuncInfo) or main.module != self.prog.main_path or main.extern:
            return
        decl: ast.FuncDef = main.decl
        takes_args = [t for _, t in main.params] == [ListT(STR)]
        if main.params and not takes_args:
            first, last = decl.params[0].span, decl.params[-1].span
            span = ast.Span(first.file, first.line, first.col, last.end_line, last.end_col)
            self.bag.error("E013", "main takes no parameters or `args: list[str]` (the command "
                           "line's arguments), not " + ", ".join(f"{n}: {t}" for n, t in main.params),
                           span)
        if main.ret != NONE:
            self.bag.error("E012", f"main returns nothing, not {main.ret}", decl.returns.span
                           if decl.returns is not None else decl.span)

    def check_const(self, c: ConstInfo) -> None:
        self.module_path = c.module
        self.ctx = FuncContext(None, c.module)
        if c.decl.annotation is None:
            c.type = self.infer(c.decl.value)
            if c.type == NONE:
                self.bag.error("E019", "cannot infer a constant's type from None; annotate it", c.decl.span)
        else:
            self.check(c.decl.value, c.type)
        self.ctx = None

    def check_function(self, fn: FuncInfo, enclosing: Optional[Enclosing] = None) -> None:
        """Check `fn`'s body. A nested function (lang/nested.py) is checked
        where it is defined, with what it sees of the function `enclosing` it."""
        decl: ast.FuncDef = fn.decl
        self.module_path = fn.module
        around = self.ctx
        self.ctx = FuncContext(fn, fn.module, kernel=fn.kernel, enclosing=enclosing)
        for name, t in fn.params:
            self.ctx.locals[name] = t
        if fn.oracle:
            check_oracle(self, fn)
        elif decl.is_hole:
            self.prog.holes.append(HoleInfo("function", decl, fn.module, fn.ret,
                                            dict(self.ctx.locals), fn))
        else:
            self.ctx.body = decl.body
            for stmt in decl.body:          # which statement of the body is checked (lang/fixes.py)
                self.ctx.top = stmt
                self.check_stmt(stmt)
            self.ctx.top = None
            from .pending import finish
            finish(self, keep=set(enclosing.pending if enclosing else ()))
            settle(self)
            if fn.ret != NONE and not always_returns(decl.body):
                self.bag.error("E016", f"'{fn.name}' must return {fn.ret} on every path; "
                               "the end of the function can be reached", decl.span)
        fn.locals = dict(self.ctx.locals)
        self.ctx = around

    def check_test(self, decl, path: str) -> None:
        self.module_path = path
        self.ctx = FuncContext(None, path)
        params: list[tuple[str, Type]] = []
        if isinstance(decl, ast.Property):
            for p in decl.params:
                t = self.resolve_type(p.annotation, path)
                params.append((p.name, t))
                self.ctx.locals[p.name] = t
            if decl.where is not None:
                self.check_condition(decl.where)
        self.check(decl.expr, BOOL)
        self.prog.tests.append(TestInfo(decl, path, params, dict(self.ctx.locals)))
        self.ctx = None

    # ------------------------------------------------------------ statements
    def check_block(self, stmts) -> None:
        for s in stmts:
            self.check_stmt(s)

    def check_stmt(self, s: ast.Stmt) -> None:
        method = getattr(self, "stmt_" + type(s).__name__)
        method(s)

    def stmt_Pass(self, s):
        pass

    def stmt_FuncDef(self, s: ast.FuncDef):
        check_nested_def(self, s)

    def stmt_ExprStmt(self, s: ast.ExprStmt):
        if isinstance(s.value, ast.Hole):
            self.check(s.value, NONE)
        else:
            self.infer(s.value)

    def stmt_Break(self, s):
        if self.ctx.loop_depth == 0:
            self.bag.error("E022", "'break' outside a loop", s.span)

    stmt_Continue = stmt_Break

    def stmt_Return(self, s: ast.Return):
        ret = self.ctx.info.ret if self.ctx.info else NONE
        if s.value is None:
            if ret != NONE:
                self.bag.error("E012", f"this function returns {ret}: 'return' needs a value", s.span)
        elif ret == NONE:
            t = self.infer(s.value)
            if t != NONE:
                self.bag.error("E012", "this function has no return type: add '-> "
                               f"{t}' to its signature to return a value", s.value.span)
        elif isinstance(s.value, ast.NoneLit) and not assignable(NONE, ret):
            name = self.ctx.info.name
            self.bag.error("E012", f"expected {ret}, found None", s.value.span,
                           f"'{name}' returns {ret}, never None: return a value of that type "
                           "here too; where this path cannot happen, end it with "
                           f"`assert False, \"...\"`; or let '{name}' return {ret} | None")
        else:
            self.check(s.value, ret)

    def stmt_Assert(self, s: ast.Assert):
        yes, _ = self.check_condition(s.test)
        if s.msg is not None:
            self.check(s.msg, STR)
        self.ctx.narrowed.update(yes)

    def stmt_Assign(self, s: ast.Assign):
        from .check_stmts import check_assign
        check_assign(self, s)

    def stmt_AugAssign(self, s: ast.AugAssign):
        from .check_stmts import check_aug_assign
        check_aug_assign(self, s)

    def stmt_If(self, s: ast.If):
        yes, no = self.check_condition(s.test)
        before = dict(self.ctx.narrowed)
        self.ctx.narrowed.update(yes)
        self.check_block(s.body)
        after_body = self.ctx.narrowed
        self.ctx.narrowed = dict(before)
        self.ctx.narrowed.update(no)
        self.check_block(s.orelse)
        after_else = self.ctx.narrowed
        body_ends, else_ends = terminates(s.body), terminates(s.orelse)
        if body_ends and not else_ends:
            self.ctx.narrowed = after_else
        elif else_ends and not body_ends:
            self.ctx.narrowed = after_body
        else:
            self.ctx.narrowed = {k: v for k, v in after_body.items() if after_else.get(k) == v}

    def stmt_While(self, s: ast.While):
        self.forget_assigned(s.body)
        yes, no = self.check_condition(s.test)
        before = dict(self.ctx.narrowed)
        self.ctx.narrowed.update(yes)
        self.ctx.loop_depth += 1
        self.check_block(s.body)
        self.ctx.loop_depth -= 1
        self.ctx.narrowed = before
        self.forget_assigned(s.body)
        if not contains_break(s.body):
            self.ctx.narrowed.update(no)

    def stmt_For(self, s: ast.For):
        from .check_stmts import check_for
        self.forget_assigned(s.body)
        check_for(self, s)
        self.forget_assigned(s.body)

    def forget_assigned(self, body) -> None:
        for key in assigned_names(body):
            self.ctx.forget(key)

    # ------------------------------------------------------------ holes
    def record_hole(self, node: ast.Hole, expected: Type) -> None:
        self.prog.holes.append(HoleInfo("expression", node, self.module_path, expected,
                                        self.ctx.visible() if self.ctx else {},
                                        self.ctx.info if self.ctx else None))


# ---------------------------------------------------------------- flow facts

def terminates(stmts) -> bool:
    """Does control never fall off the end of `stmts`?"""
    return _never_falls_through(stmts, (ast.Return, ast.Break, ast.Continue))


def always_returns(stmts) -> bool:
    """Does every path through `stmts` end in a return (or loop forever)?"""
    return _never_falls_through(stmts, (ast.Return,))


def _never_falls_through(stmts, exits: tuple) -> bool:
    """Does every path through `stmts` reach one of the `exits` statements,
    an endless loop, or `assert False`?"""
    for s in stmts:
        if isinstance(s, exits):
            return True
        if isinstance(s, ast.If) and s.orelse and _never_falls_through(s.body, exits) \
                and _never_falls_through(s.orelse, exits):
            return True
        if isinstance(s, ast.While) and is_true(s.test) and not contains_break(s.body):
            return True
        if isinstance(s, ast.Assert) and isinstance(s.test, ast.BoolLit) and not s.test.value:
            return True
    return False


def is_true(e) -> bool:
    return isinstance(e, ast.BoolLit) and e.value


def contains_break(stmts) -> bool:
    """A `break` that leaves this loop (not one inside a nested loop)."""
    for s in stmts:
        if isinstance(s, ast.Break):
            return True
        if isinstance(s, ast.If) and (contains_break(s.body) or contains_break(s.orelse)):
            return True
    return False


def assigned_names(stmts) -> set[str]:
    """The variables and field paths (`x.f`) that `stmts` assign."""
    out: set[str] = set()

    def add(target) -> None:
        if isinstance(target, ast.TupleExpr):
            for e in target.elts:
                add(e)
        else:
            key = narrow_key(target)
            if key is not None:
                out.add(key)
    for node in (n for s in stmts for n in ast.walk(s)):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.For)):
            add(node.target)
    return out

