"""Applying a fill: NPL source for one hole in, checked declarations out.

A function hole's fill is a complete definition (the hole's signature and a
body), optionally preceded by private helper functions. An expression
hole's fill is an expression (or a complete definition of the lifted
function); it is lifted into a function of the visible variables it reads,
and the hole becomes a call of that function.

The fill is parsed under a virtual file name (`PROG.npl.lock#NAME`), checked
in place by the same checker as hand-written code, with the program's
declarations in scope plus its own helpers, and must keep the hole's
signature. Problems come back as diagnostics (E041 for a fill that is not a
valid drop-in); nothing is added to the program unless the fill checks.
"""
from __future__ import annotations

from typing import Optional

from npl.lang import ast
from npl.lang.checker import Checker
from npl.lang.diagnostics import CompileError, Diagnostic
from npl.lang.kernels import dedupe, kernel_problems
from npl.lang.parser import parse, parse_expr
from npl.lang.symbols import FuncInfo
from npl.lang.types import Type

from .holes import HoleSpec
from .lower import HoleBinding


def fill_path(spec: HoleSpec) -> str:
    return f"{spec.info.module}.lock#{spec.name}"


def apply_fill(checker: Checker, spec: HoleSpec, source: str) -> tuple[list[Diagnostic], Optional[HoleBinding]]:
    """Check `source` as the fill of `spec` inside `checker`'s program.
    Returns (diagnostics, binding); the binding is None when the fill is
    rejected, and then the program is left as it was."""
    path = fill_path(spec)
    checker.prog.sources[path] = source
    start = len(checker.bag.items)
    snapshot = snapshot_program(checker)
    try:
        if spec.kind == "function":
            binding = apply_function_fill(checker, spec, source, path)
        else:
            binding = apply_expression_fill(checker, spec, source, path)
    except CompileError as err:
        return list(err.diagnostics), None
    diags = checker.bag.items[start:]
    if diags:
        del checker.bag.items[start:]
        restore_program(checker, snapshot)
        return diags, None
    return [], binding


def snapshot_program(checker: Checker):
    p = checker.prog
    return (dict(p.funcs), {k: dict(v) for k, v in p.scopes.items()}, list(p.holes),
            {id(f): (f.decl, f.module, dict(f.locals)) for f in p.funcs.values()})


def restore_program(checker: Checker, snap) -> None:
    funcs, scopes, holes, decls = snap
    p = checker.prog
    p.funcs.clear()
    p.funcs.update(funcs)
    p.scopes.clear()
    p.scopes.update(scopes)
    p.holes[:] = holes
    for f in p.funcs.values():
        if id(f) in decls:
            f.decl, f.module, f.locals = decls[id(f)]


def reject(checker: Checker, message: str, span: ast.Span) -> None:
    checker.bag.error("E041", message, span)


def parse_definitions(checker: Checker, source: str, path: str) -> Optional[list[ast.FuncDef]]:
    module = parse(source, path)
    defs = []
    for decl in module.decls:
        if not isinstance(decl, ast.FuncDef):
            reject(checker, "a fill may only contain function definitions", decl.span)
            return None
        defs.append(decl)
    return defs


def apply_function_fill(checker: Checker, spec: HoleSpec, source: str, path: str) -> Optional[HoleBinding]:
    fn = spec.info.function
    defs = parse_definitions(checker, source, path)
    if defs is None:
        return None
    main = [d for d in defs if d.name == fn.name]
    if len(main) != 1:
        reject(checker, f"the fill must define '{fn.name}' exactly once",
               defs[0].span if defs else ast.Span(path, 1, 1, 1, 2))
        return None
    scope_key = path
    scope = dict(checker.prog.scopes[spec.info.module])
    checker.prog.scopes[scope_key] = scope
    new_params = [(p.name, checker.resolve_type(p.annotation, scope_key)) for p in main[0].params]
    new_ret = checker.resolve_type(main[0].returns, scope_key)
    if new_params != fn.params or new_ret != fn.ret:
        got = ", ".join(f"{n}: {t}" for n, t in new_params)
        reject(checker, f"the fill changes the signature: expected {spec.signature}, "
               f"found def {fn.name}({got}) -> {new_ret}", main[0].span)
        return None
    helpers = add_helpers(checker, [d for d in defs if d is not main[0]], fn, scope_key, scope)
    fn.decl = main[0]
    fn.module = scope_key
    for f in [fn, *helpers]:
        checker.check_function(f)
    check_kernel_fill(checker, [fn, *helpers])
    return HoleBinding(spec.key)


def add_helpers(checker: Checker, defs, owner: FuncInfo, scope_key: str, scope: dict) -> list[FuncInfo]:
    helpers = []
    prefix = owner.ir_name + "."
    for d in defs:
        if d.name in scope and not isinstance(scope[d.name], FuncInfo) or d.name in scope and \
                scope[d.name].module != scope_key:
            reject(checker, f"helper '{d.name}' clashes with a name in the program; rename it", d.span)
            continue
        info = FuncInfo(prefix + d.name, d.name, scope_key, [], ast_none(), d, kernel=owner.kernel)
        checker.resolve_signature(info)
        checker.prog.funcs[info.ir_name] = info
        scope[d.name] = info
        helpers.append(info)
    return helpers


def ast_none() -> Type:
    from npl.lang.types import NONE
    return NONE


def apply_expression_fill(checker: Checker, spec: HoleSpec, source: str, path: str) -> Optional[HoleBinding]:
    text = source.strip()
    name = spec.func_name
    scope_key = path
    checker.prog.scopes[scope_key] = dict(checker.prog.scopes[spec.info.module])
    enclosing = spec.enclosing
    prefix = enclosing.ir_name[: len(enclosing.ir_name) - len(enclosing.name)] if enclosing else ""
    ir_name = prefix + name
    while ir_name in checker.prog.funcs:
        ir_name += "_"
    if text.startswith("def "):
        defs = parse_definitions(checker, text, path)
        if defs is None:
            return None
        # the lifted name carries the hole's line, the key does not: a locked
        # definition stays valid when the hole moves, whatever it was called
        main = defs if len(defs) == 1 else [d for d in defs if d.name == name]
        if len(main) != 1 or len(defs) != 1:
            reject(checker, f"an expression fill is one expression (or one definition of '{name}')",
                   defs[0].span if defs else ast.Span(path, 1, 1, 1, 2))
            return None
        decl = main[0]
        params = [(p.name, checker.resolve_type(p.annotation, scope_key)) for p in decl.params]
        visible = dict(spec.params)
        for (pn, pt), p in zip(params, decl.params):
            if visible.get(pn) != pt:
                reject(checker, f"parameter '{pn}: {pt}' is not a visible variable of that type", p.span)
                return None
    else:
        expr = parse_expr(text, path)
        used = {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}
        params = [(n, t) for n, t in spec.params if n in used]
        decl = ast.FuncDef(name, (), None, (ast.Return(expr, span=expr.span),), span=expr.span)
    info = FuncInfo(ir_name, name, scope_key, params, spec.ret, decl,
                    kernel=bool(enclosing and enclosing.kernel))
    checker.prog.funcs[ir_name] = info
    checker.check_function(info)
    check_kernel_fill(checker, [info])
    return HoleBinding(spec.key, ir_name, tuple(params))


def check_kernel_fill(checker: Checker, funcs: list[FuncInfo]) -> None:
    for f in funcs:
        if f.kernel:
            for span, msg in dedupe(kernel_problems(checker.prog, f)):
                checker.bag.error("E030", f"this fill is inside a kernel: {msg}", span)
