"""Checking of assignments and `for` loops (the statements that declare
variables). Called by lang/checker.py with the Checker as `ck`."""
from __future__ import annotations

from typing import Optional

from . import ast
from .check_exprs import narrow_key
from .pending import KEYED_KINDS, KINDS
from .symbols import ConstInfo
from .types import (PendingT, ERROR, INT, NONE, STR, ArrayT, DictT, ErrorT, ListT, OptionalT,
                    TupleT, Type, assignable, element_type, not_iterable)


def declare(ck, name_node: ast.Name, t: Type) -> None:
    """Declare local `name` with type `t`, or check it against its existing
    declaration; update narrowing for optionals."""
    ctx = ck.ctx
    name = name_node.id
    sym = ck.prog.scopes.get(ck.module_path, {}).get(name)
    if name not in ctx.locals and isinstance(sym, ConstInfo):
        ck.bag.error("E017", f"cannot assign to constant '{name}'", name_node.span)
        return
    declared = ctx.locals.get(name)
    if declared is None:
        if t == NONE:
            ck.bag.error("E019", f"cannot infer the type of '{name}' from None; annotate it, "
                         f"e.g. {name}: int | None = None", name_node.span)
            t = ERROR
        ctx.locals[name] = t
        ck.prog.types[name_node] = t
        return
    ck.prog.types[name_node] = declared
    ctx.forget(name)                # and what was known about its fields
    if isinstance(declared, OptionalT):
        if t == NONE or isinstance(t, OptionalT):
            ctx.narrowed.pop(name, None)
        elif not isinstance(t, ErrorT):
            ctx.narrowed[name] = declared.inner
    else:
        ctx.narrowed.pop(name, None)


def check_assign(ck, s: ast.Assign) -> None:
    target = s.target
    if s.annotation is not None:
        if not isinstance(target, ast.Name):
            ck.bag.error("E018", "only a plain variable can be annotated", target.span)
            return
        t = ck.resolve_type(s.annotation, ck.module_path)
        existing = ck.ctx.locals.get(target.id)
        if existing is not None and existing != t and not isinstance(t, ErrorT):
            ck.bag.error("E012", f"'{target.id}' was already declared as {existing}", target.span)
            return
        if s.value is not None:
            ck.check(s.value, t)
        ck.ctx.locals.setdefault(target.id, t)
        ck.prog.types[target] = t
        if s.value is not None and isinstance(t, OptionalT):
            vt = ck.prog.types.get(s.value)
            if vt is not None and vt != NONE and not isinstance(vt, OptionalT):
                ck.ctx.narrowed[target.id] = t.inner
        return
    if isinstance(target, ast.Name):
        declared = ck.ctx.locals.get(target.id)
        if isinstance(declared, PendingT) and is_empty_literal(s.value):
            from .pending import note
            ck.prog.types[s.value] = ck.prog.types[target] = declared
            if isinstance(s.value, ast.Call):
                from .symbols import CallRef
                ck.prog.calls[s.value] = CallRef("builtin", s.value.func.id, ())
            note(ck, target, target.id)
            note(ck, s.value, target.id)
            return
        if isinstance(declared, PendingT):
            vt = assign_to_pending(ck, target, s.value, declared)
        elif declared is not None:
            vt = ck.check(s.value, declared, rebinding=target.id)
        else:
            if is_empty_literal(s.value):
                from .pending import start
                start(ck, target, s.value, describe_empty(s.value))
                return
            else:
                vt = ck.infer(s.value)
        declare(ck, target, vt)
    elif isinstance(target, ast.TupleExpr):
        vt = ck.infer(s.value)
        bind_unpack(ck, target, vt, s.value.span)
    elif isinstance(target, ast.Index):
        check_store_index(ck, target, s.value)
    elif isinstance(target, ast.Slice):
        check_store_slice(ck, target, s.value)
    elif isinstance(target, ast.Attribute):
        ft = ck.infer_attribute(target, store=True)
        field_stored(ck, target, ft, ck.check(s.value, ft))
    else:
        ck.bag.error("E018", "cannot assign to this expression", target.span)


def field_stored(ck, target: ast.Attribute, ft: Type, vt: Type) -> None:
    """Update narrowing after a value of type `vt` is stored in field `target`."""
    key = narrow_key(target)
    if key is not None:         # `p.next = node` narrows p.next until p or p.next changes
        ck.ctx.forget(key)
        if isinstance(ft, OptionalT) and vt != NONE and not isinstance(vt, (OptionalT, ErrorT)):
            ck.ctx.narrowed[key] = ft.inner


def bind_unpack(ck, target: ast.TupleExpr, vt: Type, span) -> None:
    """Bind each element of a tuple target to its part of `vt`, left to right
    as Python stores them: a name is declared (or checked against its
    declaration), an item or a field is checked as in a single assignment,
    and a nested tuple is unpacked in turn."""
    elts = target.elts
    ck.prog.types[target] = vt
    if isinstance(vt, ErrorT):
        elems = [ERROR] * len(elts)
    elif isinstance(vt, TupleT):
        if len(vt.elems) != len(elts):
            what = "names" if all(isinstance(n, ast.Name) for n in elts) else "targets"
            ck.bag.error("E012", f"cannot unpack {vt} into {len(elts)} {what}", span)
            elems = [ERROR] * len(elts)
        else:
            elems = list(vt.elems)
    else:
        ck.bag.error("E012", f"only a tuple can be unpacked, not {vt}", span)
        elems = [ERROR] * len(elts)
    for n, t in zip(elts, elems):
        if isinstance(n, ast.Name):
            declared = ck.ctx.locals.get(n.id)
            if declared is not None and not assignable(t, declared):
                ck.bag.error("E012", f"'{n.id}' is {declared}, cannot assign {t}", n.span)
            declare(ck, n, t)
        elif isinstance(n, ast.TupleExpr):
            bind_unpack(ck, n, t, n.span)
        elif isinstance(n, ast.Index):
            slot = store_index_type(ck, n)
            if slot is not None and not assignable(t, slot):
                ck.bag.error("E012", f"this item is {slot}, cannot assign {t}", n.span)
            ck.prog.types[n] = t
        elif isinstance(n, ast.Attribute):
            slot = ck.infer_attribute(n, store=True)
            if not assignable(t, slot):
                ck.bag.error("E012", f"field '{n.attr}' is {slot}, cannot assign {t}", n.span)
            field_stored(ck, n, slot, t)
        else:
            ck.bag.error("E018", "cannot assign to this expression", n.span)


def check_store_index(ck, target: ast.Index, value: ast.Expr) -> None:
    slot = store_index_type(ck, target, value)
    if slot is not None:
        ck.check(value, slot)
    ck.prog.types[target] = ck.prog.types.get(value, ERROR)


def check_store_slice(ck, target: ast.Slice, value: ast.Expr) -> None:
    """`xs[i:j:k] = ys`: as in Python, a list's slice is replaced by the
    elements of any iterable of its element type (an extended slice, one
    with a step, takes exactly as many as it has places: a run-time check)."""
    ot = ck.infer(target.value)
    for bound in (target.lower, target.upper, target.step):
        if bound is not None:
            ck.check(bound, INT)
    ck.prog.types[target] = ot
    if isinstance(ot, ListT):
        et = ck.iterable_arg(value, "a slice assignment", ot)
        if not isinstance(et, ErrorT) and not assignable(et, ot.elem):
            ck.bag.error("E012", f"a slice of {ot} takes an iterable of {ot.elem}, not of {et}",
                         value.span)
        return
    ck.infer(value)
    if ot == STR:
        ck.bag.error("E012", "str is immutable: build a new string instead "
                     "(s[:i] + t + s[j:])", target.span)
    elif isinstance(ot, TupleT):
        ck.bag.error("E012", "tuples are immutable", target.span)
    elif isinstance(ot, ArrayT):
        ck.bag.error("E018", "assigning to a slice of an array is not supported: "
                     "assign its elements in a loop", target.span)
    elif not isinstance(ot, ErrorT):
        ck.bag.error("E015", f"{ot} does not support slice assignment", target.span)


def store_index_type(ck, target: ast.Index, value: Optional[ast.Expr] = None) -> Optional[Type]:
    """The type a value stored at `target` (`xs[i]`, `d[k]`, `a[i, j]`)
    must fit, after checking its container and indices; None where the
    store is an error (reported here) or the container's type is unknown."""
    ot = ck.infer(target.value)
    idx = target.indices
    if isinstance(ot, PendingT) and ot.kind in KEYED_KINDS and isinstance(target.value, ast.Name) \
            and len(idx) == 1 and value is not None:
        from .pending import from_store
        ot = from_store(ck, target.value.id, ot, idx[0], value)
    if isinstance(ot, ListT):
        ck.check_indices(idx, [INT], target)
        return ot.elem
    if isinstance(ot, DictT):
        from .check_exprs import dict_key_parts
        ck.check_indices(idx, dict_key_parts(ot.key, idx), target)
        return ot.value
    if isinstance(ot, ArrayT):
        ck.check_indices(idx, [INT] * len(idx), target)
        if len(idx) > ot.rank:
            ck.bag.error("E012", f"too many indices for {ot}", target.span)
            return None
        return ot.elem if len(idx) == ot.rank else ArrayT(ot.elem, ot.rank - len(idx))
    if ot == STR:
        ck.bag.error("E012", "str is immutable: build a new string instead "
                     "(s[:i] + c + s[i + 1:])", target.span)
    elif isinstance(ot, TupleT):
        ck.bag.error("E012", "tuples are immutable", target.span)
    elif not isinstance(ot, ErrorT):
        ck.bag.error("E015", f"{ot} does not support item assignment", target.span)
    return None


AUG_OPS = {"+", "-", "*", "/", "//", "%"}


def check_aug_assign(ck, s: ast.AugAssign) -> None:
    target = s.target
    if isinstance(target, ast.Name):
        tt = ck.ctx.lookup(target.id)
        if tt is None:
            if ck.prog.scopes.get(ck.module_path, {}).get(target.id) is not None:
                ck.bag.error("E017", f"cannot assign to '{target.id}'", target.span)
            else:
                around = ck.ctx.enclosing.note(target.id) if ck.ctx.enclosing else None
                ck.bag.error("E010", f"'{target.id}' is not defined yet: assign it before '{s.op}='",
                             target.span, *([around] if around else []))
            return
        ck.prog.types[target] = tt
    elif isinstance(target, (ast.Index, ast.Attribute)):
        pending_dict_store(ck, target, s.value)
        tt = ck.infer(target)
    else:
        ck.bag.error("E018", "cannot assign to this expression", target.span)
        return
    rt = ck.binop_type(s.op, tt, ck.infer(s.value), s)
    if not assignable(rt, tt):
        ck.bag.error("E012", f"'{s.op}=' would change the type from {tt} to {rt}", s.span)


def assign_to_pending(ck, target: ast.Name, value: ast.Expr, pending: PendingT) -> Type:
    """`best = []` ... `best = xs`: a list (set, dict) assigned to a pending
    local of its kind decides the local's type."""
    from .pending import fits, resolve
    vt = ck.infer(value)
    want = resolve(ck, target.id, vt) if fits(pending.kind, vt) else pending
    if not assignable(vt, want) and not isinstance(vt, ErrorT):
        ck.mismatch(value, vt, want, target.id)
    return vt


def pending_dict_store(ck, target, value: ast.Expr) -> None:
    """`d[k] += v` on a pending empty dict `d` determines dict[K, V] (on a
    pending Counter, Counter[K])."""
    if isinstance(target, ast.Index) and isinstance(target.value, ast.Name) and len(target.indices) == 1:
        t = ck.ctx.lookup(target.value.id)
        if isinstance(t, PendingT) and t.kind in KEYED_KINDS:
            from .pending import from_store
            from_store(ck, target.value.id, t, target.indices[0], value)


def check_for(ck, s: ast.For) -> None:
    it = s.iter
    parallel = isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "prange" \
        and ck.ctx.lookup("prange") is None
    if parallel and not ck.ctx.kernel:
        ck.bag.error("E018", "prange is only allowed in @kernel functions; use range", it.span)
    et = element_type(ck.infer(it))
    if et is None:
        ck.bag.error("E015", not_iterable(ck.prog.types[it]), it.span)
        et = ERROR
    if isinstance(s.target, ast.Name):
        declared = ck.ctx.locals.get(s.target.id)
        if declared is not None and not assignable(et, declared):
            ck.bag.error("E012", f"loop variable '{s.target.id}' is {declared} elsewhere, "
                         f"here {et}", s.target.span)
        declare(ck, s.target, et)
    elif isinstance(s.target, ast.TupleExpr):
        bind_unpack(ck, s.target, et, s.target.span)
    else:
        ck.bag.error("E018", "a for loop binds plain names", s.target.span)
    ck.ctx.loop_depth += 1
    ck.check_block(s.body)
    ck.ctx.loop_depth -= 1


def is_empty_literal(e) -> bool:
    return (isinstance(e, (ast.ListExpr, ast.SetExpr)) and not e.elts) or \
        (isinstance(e, ast.DictExpr) and not e.keys) or \
        (isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id in KINDS
         and not e.args and not e.keywords)


def describe_empty(e) -> str:
    """The pending kind of an empty literal: "list", "set", "dict" or "Counter"."""
    if isinstance(e, ast.Call):
        return e.func.id
    if isinstance(e, ast.DictExpr):
        return "dict"
    return "set" if isinstance(e, ast.SetExpr) else "list"
