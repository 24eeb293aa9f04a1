"""Bidirectional expression checking (mixed into the Checker).

`infer(e, expected)` computes and records the type of `e`; the expected type
flows into literals, lambdas and holes. `check(e, expected)` also requires
the result to fit `expected` and records int -> float widening points.
`check_condition(e)` returns the narrowings (name -> narrowed type) that hold
when `e` is true and when it is false.
"""
from __future__ import annotations

import difflib
from typing import Optional

from . import ast
from .builtin_sigs import BUILTIN_FUNCTIONS, MATH_CONSTANTS, python_hint
from .diagnostics import Fix
from .fixes import renamed_from_here, type_word
from .check_calls import CallChecker
from .scopes import FuncContext
from .symbols import ConstInfo, FuncInfo, Ref, StructInfo
from .types import (PendingT, BOOL, ERROR, FLOAT, INT, NONE, STR, ArrayT, CounterT, DictT, ErrorT,
                    FuncT, IterT, ListT, OptionalT, SetT, StructT, TupleT, Type,
                    assignable, element_type, is_hashable, is_numeric, join, needs_widening,
                    not_iterable, strip_optional)

TRUTHY_TYPES = (ListT, DictT, SetT, TupleT, OptionalT)


class ExprChecker(CallChecker):
    # ------------------------------------------------------------ entry points
    def infer(self, e: ast.Expr, expected: Optional[Type] = None) -> Type:
        method = getattr(self, "expr_" + type(e).__name__, None)
        if method is None:
            self.bag.error("E018", f"unsupported expression ({type(e).__name__})", e.span)
            t = ERROR
        else:
            t = method(e, expected)
        self.prog.types[e] = t
        return t

    def check(self, e: ast.Expr, expected: Type, rebinding: str = "") -> Type:
        """`e`'s type, checked against `expected` (an E012 if it does not
        fit); `rebinding` names the variable `e` is assigned to."""
        t = self.infer(e, expected)
        if isinstance(t, PendingT):
            from .pending import from_expected
            t = from_expected(self, e, t, expected)
        if not assignable(t, expected):
            self.mismatch(e, t, expected, rebinding)
        elif needs_widening(t, expected):
            self.prog.widen.add(e)
        return t

    def mismatch(self, e: ast.Expr, got: Type, want: Type, rebinding: str = "") -> None:
        notes = []
        if rebinding and not isinstance(got, OptionalT) and not (got == FLOAT and want == INT):
            notes.append(f"a variable keeps one type: '{rebinding}' is {want}; put the {got} "
                         f"in a variable of its own (e.g. {rebinding}_{type_word(got)} = ...)")
        if isinstance(got, OptionalT) and assignable(got.inner, want):
            notes.append("the value may be None: check it first (if x is not None: ...)")
        if got == FLOAT and want == INT and isinstance(e, ast.BinOp) and e.op == "/":
            notes.append("`/` always gives a float: write `//` for whole-number division")
        elif got == FLOAT and want == INT:
            notes.append("float never narrows to int implicitly: use int(x) or round(x)")
        if rebinding:               # `x = x / 2` with x an int: a new float variable, as in Python
            fix = renamed_from_here(self, rebinding, got)
        elif got == FLOAT and want == INT:
            fix = Fix.wrap(e.span, "int(", ")")
        else:
            fix = None
        self.bag.error("E012", f"expected {want}, found {got}", e.span, *notes, fix=fix)

    def check_condition(self, e: ast.Expr) -> tuple[dict, dict]:
        t = self.infer(e, BOOL)
        if isinstance(t, TupleT):
            self.bag.error("E012", f"a condition of type {t} is always {bool(t.elems)}", e.span,
                           'a tuple\'s truth is its length, fixed by its type; an assert with a '
                           'message is `assert cond, "message"`')
        elif t != BOOL and not self.truthy_ok(t):
            self.bag.error("E012", f"a condition must be bool, not {t}", e.span)
        return self.narrowings(e)

    def truthy_ok(self, t: Type) -> bool:
        return isinstance(t, (ErrorT, PendingT, *TRUTHY_TYPES)) or t in (INT, FLOAT, STR)

    def narrowings(self, e: ast.Expr) -> tuple[dict, dict]:
        """(facts when e is true, facts when e is false)."""
        if isinstance(e, ast.Compare) and len(e.ops) == 1 and e.ops[0] in ("is", "is not") \
                and isinstance(e.comparators[0], ast.NoneLit) and narrow_key(e.left) is not None:
            t = self.prog.types.get(e.left)
            if isinstance(t, OptionalT):
                fact = {narrow_key(e.left): t.inner}
                return ({}, fact) if e.ops[0] == "is" else (fact, {})
        if narrow_key(e) is not None:
            t = self.prog.types.get(e)
            if isinstance(t, OptionalT):
                return {narrow_key(e): t.inner}, {}
        if isinstance(e, ast.UnaryOp) and e.op == "not":
            yes, no = self.narrowings(e.operand)
            return no, yes
        if isinstance(e, ast.BoolOp):
            parts = [self.narrowings(v) for v in e.values]
            if e.op == "and":
                yes = {}
                for y, _ in parts:
                    yes.update(y)
                return yes, {}
            no = {}
            for _, n in parts:
                no.update(n)
            return {}, no
        return {}, {}

    # ------------------------------------------------------------ literals
    def expr_IntLit(self, e, expected):
        return INT

    def expr_FloatLit(self, e, expected):
        return FLOAT

    def expr_StrLit(self, e, expected):
        return STR

    def expr_BoolLit(self, e, expected):
        return BOOL

    def expr_NoneLit(self, e, expected):
        return NONE

    def expr_FString(self, e, expected):
        self.check_format_parts(e.parts)
        return STR

    def check_format_parts(self, parts) -> None:
        for part in parts:
            if isinstance(part, ast.FormatField):
                t = self.infer(part.expr)
                self.check_format_parts(part.spec)
                spec = part.spec
                if part.conversion is not None:
                    t = STR                     # !r and !s format the text
                if all(isinstance(p, str) for p in spec) and "".join(spec) == "":
                    continue
                if t not in (INT, FLOAT, STR, BOOL) and not isinstance(t, ErrorT):
                    # Python's object.__format__ rejects every non-empty spec
                    note = "the value may be None: check it first (if x is not None: ...)" \
                        if isinstance(t, OptionalT) else \
                        "a format spec applies to int, float, str and bool; format the text " \
                        "of other values with !r, as in {x!r:>10}"
                    self.bag.error("E012", f"a format spec does not apply to {t}", part.span, note)
                elif all(isinstance(p, str) for p in spec):
                    self.check_format_spec(part, t, "".join(spec))

    def check_format_spec(self, field: ast.FormatField, t: Type, spec: str) -> None:
        sample = {INT: 1, FLOAT: 1.5, STR: "s", BOOL: True}.get(t)
        if sample is None:
            return
        try:
            format(sample, spec)
        except (ValueError, TypeError) as exc:
            self.bag.error("E012", f"format spec '{spec}' does not apply to {t}: {exc}", field.span)

    def expr_Hole(self, e: ast.Hole, expected):
        if expected is None or isinstance(expected, (ErrorT, IterT, FuncT)):
            self.bag.error("E020", "this hole has no expected type: annotate the variable it is "
                           "assigned to (x: int = ?{...}) or use it where a type is known", e.span)
            return ERROR
        self.record_hole(e, expected)
        return expected

    # ------------------------------------------------------------ names
    def expr_Name(self, e: ast.Name, expected):
        ctx = self.ctx
        t = ctx.lookup(e.id) if ctx else None
        if t is not None:
            self.prog.refs[e] = Ref("local", e.id)
            if isinstance(t, PendingT):
                from .pending import note
                note(self, e, e.id)
            return t
        if ctx is not None and e.id in ctx.nested:
            self.bag.error("E012", f"'{e.id}' is a nested function; call it, or pass a lambda "
                           "that calls it", e.span)
            return ERROR
        sym = self.prog.scopes.get(self.module_path, {}).get(e.id)
        if isinstance(sym, ConstInfo):
            self.prog.refs[e] = Ref("const", sym.ir_name)
            return sym.type
        if isinstance(sym, (FuncInfo, StructInfo)) or e.id in BUILTIN_FUNCTIONS:
            if isinstance(expected, FuncT):
                return self.function_value(e, expected)
            self.bag.error("E012", f"'{e.id}' is a function; call it, or pass a lambda where "
                           "a function is expected", e.span)
            return ERROR
        if e.id in MATH_CONSTANTS:
            self.prog.refs[e] = Ref("mathconst", e.id, MATH_CONSTANTS[e.id])
            return FLOAT
        self.undefined(e)
        return ERROR

    def undefined(self, e: ast.Name) -> None:
        notes = []
        hint = python_hint(e.id)
        if hint:
            notes.append(hint)
        else:
            known = list(self.ctx.visible()) if self.ctx else []
            known += list(self.prog.scopes.get(self.module_path, {})) + sorted(BUILTIN_FUNCTIONS)
            close = difflib.get_close_matches(e.id, known, n=1)
            if close:
                notes.append(f"did you mean '{close[0]}'?")
        around = self.ctx.enclosing.note(e.id) if self.ctx and self.ctx.enclosing else None
        self.bag.error("E010", f"undefined name '{e.id}'", e.span, *([around] if around else notes))

    # ------------------------------------------------------------ operators
    def expr_BinOp(self, e: ast.BinOp, expected):
        # An operand is never None: `o: int | None = 2 * x` expects an int of x.
        want = strip_optional(expected) if e.op in "+-*" and expected is not None else None
        if isinstance(want, TupleT):        # a tuple's parts are shorter than the whole
            lt = self.infer(e.left)
            rest = want.elems[len(lt.elems):] if e.op == "+" and isinstance(lt, TupleT) else ()
            rt = self.infer(e.right, TupleT(rest) if rest else None)
            return self.binop_type(e.op, lt, rt, e)
        lt = self.infer(e.left, want)
        rt = self.infer(e.right, want)
        return self.binop_type(e.op, lt, rt, e)

    def binop_type(self, op: str, lt: Type, rt: Type, e) -> Type:
        if isinstance(lt, ErrorT) or isinstance(rt, ErrorT):
            return ERROR
        t = arith_result(op, lt, rt)
        if t is None:
            hint = []
            if BOOL in (lt, rt) and op in "+-*/":
                hint.append("bool is not a number in NPL: use int(b) or a conditional")
            if STR in (lt, rt) and is_numeric(lt if rt == STR else rt) and op == "+":
                hint.append("convert with str(x) first, or use an f-string")
            if isinstance(lt, OptionalT) or isinstance(rt, OptionalT):
                hint.append("the value may be None: check it first (if x is not None: ...)")
            self.bag.error("E012", f"unsupported operand types for {op}: {lt} and {rt}", e.span, *hint)
            return ERROR
        return t

    def expr_UnaryOp(self, e: ast.UnaryOp, expected):
        t = self.infer(e.operand, expected if e.op != "not" else None)
        if e.op == "not":
            if t != BOOL and not self.truthy_ok(t):
                self.bag.error("E012", f"'not' needs a bool, not {t}", e.span)
            return BOOL
        if is_numeric(t) or isinstance(t, ErrorT) or (isinstance(t, ArrayT) and t.elem != BOOL):
            return t
        self.bag.error("E012", f"unary {e.op} needs a number, not {t}", e.span)
        return ERROR

    def expr_BoolOp(self, e: ast.BoolOp, expected):
        types = []
        saved = self.ctx.snapshot() if self.ctx else None
        for v in e.values:
            t = self.infer(v, expected)
            types.append(t)
            if self.ctx:
                yes, no = self.narrowings(v)
                self.ctx.narrow(yes if e.op == "and" else no)
        if self.ctx:
            self.ctx.restore(saved)
        if all(t == BOOL or isinstance(t, ErrorT) for t in types):
            return BOOL
        result = types[0]
        for t in types[1:]:
            result = join(result, t) if result is not None else None
        if result is None or not self.truthy_ok(result) and result != BOOL:
            self.bag.error("E012", f"'{e.op}' needs operands of one type (bool, or the same type "
                           f"for a default value); found {', '.join(map(str, types))}", e.span)
            return ERROR
        return result

    def expr_Compare(self, e: ast.Compare, expected):
        operands = [e.left, *e.comparators]
        types = [self.infer(e.left)]
        for op, o in zip(e.ops, e.comparators):
            # `xs == []`: an empty literal takes its type from the other side
            want = types[-1] if op in ("==", "!=") and is_empty_display(o) else None
            types.append(self.infer(o, want))
        for i, op in enumerate(e.ops):
            self.check_compare(op, types[i], types[i + 1], operands[i + 1], e)
        return BOOL

    def check_compare(self, op: str, lt: Type, rt: Type, right, e) -> None:
        if isinstance(lt, ErrorT) or isinstance(rt, ErrorT):
            return
        if op in ("is", "is not"):
            if not isinstance(right, ast.NoneLit):
                self.bag.error("E012", f"'{op}' only compares with None; use == or != for values", e.span)
            return
        if op in ("in", "not in"):
            if isinstance(rt, PendingT) and rt.kind in ("list", "set") and isinstance(right, ast.Name):
                from .pending import resolve
                rt = resolve(self, right.id, (ListT if rt.kind == "list" else SetT)(lt))
            if isinstance(rt, PendingT):
                return                  # `k in d` on an empty dict: its key type comes later
            et = container_elem(rt)
            if et is None:
                self.bag.error("E015", f"'{op}' needs a container on the right, not {rt}", e.span)
            elif not (assignable(lt, et) or (rt == STR and lt == STR)):
                self.bag.error("E012", f"cannot look for {lt} in {rt}", e.span)
            return
        if op in ("==", "!="):
            if not (assignable(lt, rt) or assignable(rt, lt) or comparable_optional(lt, rt)):
                self.bag.error("E012", f"comparing {lt} with {rt} is always {op == '!='}", e.span)
            return
        if not orderable(lt, rt):
            self.bag.error("E012", f"cannot order {lt} and {rt} with {op}", e.span)

    def expr_IfExp(self, e: ast.IfExp, expected):
        yes, no = self.check_condition(e.test)
        saved = self.ctx.snapshot() if self.ctx else None
        if self.ctx:
            self.ctx.narrow(yes)
        bt = self.infer(e.body, expected)
        if self.ctx:
            self.ctx.restore(saved)
            self.ctx.narrow(no)
        ot = self.infer(e.orelse, expected)
        if self.ctx:
            self.ctx.restore(saved)
        t = join(bt, ot)
        if expected is not None and assignable(bt, expected) and assignable(ot, expected) \
                and (t is None or not assignable(t, expected)):
            for part, t in ((e.body, bt), (e.orelse, ot)):
                if needs_widening(t, expected):
                    self.prog.widen.add(part)
            return expected
        if t is None:
            self.bag.error("E012", f"the two branches have different types: {bt} and {ot}", e.span)
            return ERROR
        for part, pt in ((e.body, bt), (e.orelse, ot)):
            if needs_widening(pt, t):
                self.prog.widen.add(part)
        return t

    # ------------------------------------------------------------ access
    def expr_Attribute(self, e: ast.Attribute, expected):
        return self.infer_attribute(e)

    def infer_attribute(self, e: ast.Attribute, store: bool = False) -> Type:
        hint = python_hint(e.value.id) if isinstance(e.value, ast.Name) else None
        if hint and self.ctx and self.ctx.lookup(e.value.id) is None:
            self.bag.error("E010", f"undefined name '{e.value.id}'", e.value.span, hint)
            return ERROR
        ot = self.infer(e.value)
        if isinstance(ot, ErrorT):
            return ERROR
        if isinstance(ot, StructT):
            info = self.prog.structs[ot.name]
            ft = info.field_type(e.attr)
            if ft is None:
                self.bag.error("E014", f"struct {info.name} has no field '{e.attr}'", e.span,
                               "its fields: " + ", ".join(f for f, _ in info.fields))
                return ERROR
            if isinstance(ft, OptionalT) and not store and self.ctx is not None \
                    and narrow_key(e) is not None:
                ft = self.ctx.narrowed_path(narrow_key(e)) or ft     # `if p.next is not None:`
            return ft
        if isinstance(ot, ArrayT) and e.attr == "shape" and not store:
            return TupleT((INT,) * ot.rank)
        if isinstance(ot, OptionalT) and isinstance(ot.inner, StructT):
            self.bag.error("E012", f"'{e.attr}' of a value that may be None", e.span,
                           "check it first: if x is not None: ...")
            return ERROR
        self.bag.error("E014", f"{ot} has no attribute '{e.attr}'", e.span)
        return ERROR

    def check_indices(self, indices, want: list, node) -> None:
        if len(indices) != len(want):
            self.bag.error("E012", f"expected {len(want)} index(es), found {len(indices)}", node.span)
            return
        for i, t in zip(indices, want):
            self.check(i, t)

    def expr_Index(self, e: ast.Index, expected):
        ot = self.infer(e.value)
        idx = e.indices
        if isinstance(ot, ErrorT):
            for i in idx:
                self.infer(i)
            return ERROR
        if isinstance(ot, PendingT) and isinstance(e.value, ast.Name) and len(idx) == 1:
            from .pending import from_read
            ot = from_read(self, e.value, ot, idx[0], expected)
        if isinstance(ot, ListT):
            self.check_indices(idx, [INT], e)
            return ot.elem
        if ot == STR:
            self.check_indices(idx, [INT], e)
            return STR
        if isinstance(ot, DictT):
            self.check_indices(idx, dict_key_parts(ot.key, idx), e)
            return ot.value
        if isinstance(ot, TupleT):
            return self.tuple_index(e, ot)
        if isinstance(ot, ArrayT):
            self.check_indices(idx, [INT] * len(idx), e)
            if len(idx) > ot.rank:
                self.bag.error("E012", f"{ot} takes at most {ot.rank} indices", e.span)
                return ERROR
            return ot.elem if len(idx) == ot.rank else ArrayT(ot.elem, ot.rank - len(idx))
        if isinstance(ot, OptionalT):
            self.bag.error("E012", f"cannot index a value that may be None ({ot})", e.span,
                           "check it first: if x is not None: ...")
            return ERROR
        self.bag.error("E015", f"{ot} cannot be indexed", e.span)
        return ERROR

    def tuple_index(self, e: ast.Index, ot: TupleT) -> Type:
        if len(e.indices) != 1:
            self.bag.error("E012", "a tuple takes one index", e.span)
            return ERROR
        i = e.indices[0]
        value = ast.literal_int(i)
        self.check(i, INT)
        if value is None:
            if len(set(ot.elems)) == 1:
                return ot.elems[0]
            self.bag.error("E012", f"index {ot} with a constant (its elements differ in type)", i.span)
            return ERROR
        if not -len(ot.elems) <= value < len(ot.elems):
            self.bag.error("E012", f"tuple index {value} out of range for {ot}", i.span)
            return ERROR
        return ot.elems[value]

    def expr_Slice(self, e: ast.Slice, expected):
        ot = self.infer(e.value)
        for part in (e.lower, e.upper, e.step):
            if part is not None:
                self.check(part, INT)
        if isinstance(ot, (ListT,)) or ot == STR or isinstance(ot, ErrorT):
            return ot
        if isinstance(ot, ArrayT):
            return ot
        if isinstance(ot, TupleT):
            return self.tuple_slice(e, ot)
        self.bag.error("E015", f"{ot} cannot be sliced", e.span)
        return ERROR

    def tuple_slice(self, e: ast.Slice, ot: TupleT) -> Type:
        """`t[a:b:c]` with constant bounds: the tuple of the elements it takes."""
        bounds = [None if p is None else ast.literal_int(p) for p in (e.lower, e.upper, e.step)]
        if any(b is None and p is not None for b, p in zip(bounds, (e.lower, e.upper, e.step))):
            self.bag.error("E012", f"slice {ot} with constant bounds (t[1:], t[:-1]): the type "
                           "of the result depends on them", e.span)
            return ERROR
        if bounds[2] == 0:
            self.bag.error("E012", "slice step cannot be zero", e.step.span)
            return ERROR
        elems = ot.elems[bounds[0]:bounds[1]:bounds[2]]
        if not elems:
            self.bag.error("E012", f"this slice of {ot} is always empty", e.span)
            return ERROR
        return TupleT(tuple(elems))

    # ------------------------------------------------------------ displays
    def expr_ListExpr(self, e: ast.ListExpr, expected):
        want = expected.elem if isinstance(expected, ListT) else None
        elem = self.display_elems(e.elts, want, e, "list")
        return ListT(elem) if elem is not None else ERROR

    def expr_SetExpr(self, e: ast.SetExpr, expected):
        want = expected.elem if isinstance(expected, SetT) else None
        elem = self.display_elems(e.elts, want, e, "set")
        if elem is not None and not is_hashable(elem):
            self.bag.error("E012", f"{elem} cannot be a set element", e.span)
        return SetT(elem) if elem is not None else ERROR

    def display_elems(self, elts, want: Optional[Type], e, kind: str) -> Optional[Type]:
        if want is not None:
            for x in elts:
                self.check(x, want)
            return want
        if not elts:
            self.bag.error("E019", f"an empty {kind} needs a type from context, e.g. "
                           f"xs: {kind}[int] = {'[]' if kind == 'list' else 'set()'}", e.span)
            return None
        types = [self.infer(x) for x in elts]
        elem = types[0]
        if types.count(elem) == len(types):         # one type (data: 100,000s of elements)
            return elem
        for t in types[1:]:
            elem = join(elem, t) if elem is not None else None
        if elem is None:
            self.bag.error("E012", f"{kind} elements must have one type; found "
                           + ", ".join(sorted(set(map(str, types)))), e.span)
            return None
        for x, t in zip(elts, types):
            if needs_widening(t, elem):
                self.prog.widen.add(x)
        return elem

    def expr_TupleExpr(self, e: ast.TupleExpr, expected):
        if isinstance(expected, TupleT) and len(expected.elems) == len(e.elts):
            return TupleT(tuple(self.check_or_infer(x, t) for x, t in zip(e.elts, expected.elems)))
        return TupleT(tuple(self.infer(x) for x in e.elts))

    def check_or_infer(self, e: ast.Expr, want: Optional[Type]) -> Type:
        """Check `e` against `want` when given (and return `want`), else infer."""
        if want is None:
            return self.infer(e)
        got = self.check(e, want)
        return want if assignable(got, want) else got

    def expr_DictExpr(self, e: ast.DictExpr, expected):
        if isinstance(expected, DictT):
            for k, v in zip(e.keys, e.values):
                self.check(k, expected.key)
                self.check(v, expected.value)
            return expected
        if not e.keys:
            self.bag.error("E019", "an empty dict needs a type from context, e.g. "
                           "d: dict[str, int] = {}", e.span)
            return ERROR
        kt = self.display_elems(e.keys, None, e, "dict key")
        vt = self.display_elems(e.values, None, e, "dict value")
        if kt is None or vt is None:
            return ERROR
        if not is_hashable(kt):
            self.bag.error("E012", f"{kt} cannot be a dict key", e.span)
        return DictT(kt, vt)

    # ------------------------------------------------------------ comprehensions
    def bind_generators(self, generators) -> None:
        for g in generators:
            et = element_type(self.infer(g.iter))
            if et is None:
                self.bag.error("E015", not_iterable(self.prog.types[g.iter]), g.iter.span)
                et = ERROR
            scope: dict[str, Type] = {}
            self.ctx.inner_scopes.append(scope)
            self.bind_target(g.target, et, scope)
            for c in g.conds:
                yes, _ = self.check_condition(c)
                scope.update(yes)

    def bind_target(self, target, t: Type, scope: dict) -> None:
        if isinstance(target, ast.Name):
            scope[target.id] = t
            self.prog.types[target] = t
        elif isinstance(target, ast.TupleExpr) and isinstance(t, TupleT) and len(t.elems) == len(target.elts):
            for x, xt in zip(target.elts, t.elems):
                self.bind_target(x, xt, scope)
            self.prog.types[target] = t
        elif isinstance(target, ast.TupleExpr) and isinstance(t, ErrorT):
            for x in target.elts:
                self.bind_target(x, ERROR, scope)
        else:
            self.bag.error("E012", f"cannot unpack {t} into this target", target.span)
            for x in getattr(target, "elts", ()):
                self.bind_target(x, ERROR, scope)

    def comprehension(self, e, body) -> Type:
        if self.ctx is None:
            self.ctx = FuncContext(None, self.module_path)
        depth = len(self.ctx.inner_scopes)
        self.bind_generators(e.generators)
        try:
            return body()
        finally:
            del self.ctx.inner_scopes[depth:]

    def expr_ListComp(self, e: ast.ListComp, expected):
        want = expected.elem if isinstance(expected, ListT) else None
        t = self.comprehension(e, lambda: self.check_or_infer(e.elt, want))
        return ListT(t)

    def expr_SetComp(self, e: ast.SetComp, expected):
        want = expected.elem if isinstance(expected, SetT) else None
        t = self.comprehension(e, lambda: self.check_or_infer(e.elt, want))
        if not is_hashable(t):
            self.bag.error("E012", f"{t} cannot be a set element", e.span)
        return SetT(t)

    def expr_GeneratorExp(self, e: ast.GeneratorExp, expected):
        want = expected.elem if isinstance(expected, IterT) else None
        t = self.comprehension(e, lambda: self.check_or_infer(e.elt, want))
        return IterT(t)

    def expr_DictComp(self, e: ast.DictComp, expected):
        def body():
            if isinstance(expected, DictT):
                self.check(e.key, expected.key)
                self.check(e.value, expected.value)
                return expected
            return DictT(self.infer(e.key), self.infer(e.value))
        t = self.comprehension(e, body)
        if not is_hashable(t.key):
            self.bag.error("E012", f"{t.key} cannot be a dict key", e.span)
        return t

    def expr_Lambda(self, e: ast.Lambda, expected):
        if not isinstance(expected, FuncT):
            self.bag.error("E018", "a lambda may only stand where a function is expected "
                           "(key= of sorted/min/max, the first argument of map/filter)", e.span)
            return ERROR
        if len(e.params) != len(expected.params):
            self.bag.error("E013", f"this lambda must take {len(expected.params)} parameter(s)", e.span)
            return ERROR
        if self.ctx is None:
            self.ctx = FuncContext(None, self.module_path)
        self.ctx.inner_scopes.append(dict(zip(e.params, expected.params)))
        try:
            if isinstance(expected.ret, ErrorT):
                rt = self.infer(e.body)
            else:
                rt = self.check(e.body, expected.ret)
        finally:
            self.ctx.inner_scopes.pop()
        return FuncT(expected.params, rt)


# ---------------------------------------------------------------- type rules

def arith_result(op: str, lt: Type, rt: Type) -> Optional[Type]:
    """The result type of `lt op rt`, or None when NPL has no such operation."""
    if lt == BOOL or rt == BOOL:
        if op in "&|^" and lt == rt == BOOL:
            return BOOL
        return None
    if op in ("<<", ">>"):
        return INT if lt == rt == INT else None
    if is_numeric(lt) and is_numeric(rt):
        if op == "/":
            return FLOAT
        if op in "&|^":
            return INT if lt == rt == INT else None
        return INT if lt == rt == INT else FLOAT
    if isinstance(lt, ArrayT) or isinstance(rt, ArrayT):
        return array_arith(op, lt, rt)
    if op == "+" and lt == rt and (lt == STR or isinstance(lt, ListT)):
        return lt
    if op == "+" and isinstance(lt, TupleT) and isinstance(rt, TupleT):
        return TupleT(lt.elems + rt.elems)
    if op == "*" and ((lt == INT and (rt == STR or isinstance(rt, ListT)))
                      or (rt == INT and (lt == STR or isinstance(lt, ListT)))):
        return rt if lt == INT else lt
    if op == "%" and lt == STR:
        return None
    if isinstance(lt, SetT) and lt == rt and op in ("|", "&", "^", "-"):
        return lt
    if isinstance(lt, CounterT) and lt == rt and op in ("+", "-", "&", "|"):
        return lt                   # Python's Counter arithmetic: sum, difference, min, max
    if isinstance(lt, DictT) and lt == rt and op == "|":
        return lt                   # a new dict: lt's entries, then rt's (Python 3.9)
    return None


def array_arith(op: str, lt: Type, rt: Type) -> Optional[Type]:
    if op not in ("+", "-", "*", "/"):
        return None
    arrays = [t for t in (lt, rt) if isinstance(t, ArrayT)]
    scalars = [t for t in (lt, rt) if not isinstance(t, ArrayT)]
    if any(not is_numeric(s) for s in scalars):
        return None
    if len(arrays) == 2 and arrays[0].rank != arrays[1].rank:
        return None
    if any(a.elem == BOOL for a in arrays):
        return None
    elems = [a.elem for a in arrays] + scalars
    elem = FLOAT if op == "/" or FLOAT in elems else INT
    return ArrayT(elem, arrays[0].rank)


def container_elem(t: Type) -> Optional[Type]:
    if t == STR:
        return STR
    if isinstance(t, (ListT, SetT, IterT)):
        return t.elem
    if isinstance(t, DictT):
        return t.key
    if isinstance(t, TupleT) and len(set(t.elems)) == 1:
        return t.elems[0]
    if isinstance(t, ArrayT) and t.rank == 1:
        return t.elem
    return None


def orderable(a: Type, b: Type) -> bool:
    if is_numeric(a) and is_numeric(b):
        return True
    if a == b and (a in (STR, BOOL)):
        return True
    if isinstance(a, ListT) and a == b:
        return orderable(a.elem, a.elem)
    if isinstance(a, TupleT) and isinstance(b, TupleT) and len(a.elems) == len(b.elems):
        return all(orderable(x, y) for x, y in zip(a.elems, b.elems))
    return False


def comparable_optional(a: Type, b: Type) -> bool:
    return (isinstance(a, OptionalT) and assignable(b, a)) or (isinstance(b, OptionalT) and assignable(a, b))


def narrow_key(e) -> Optional[str]:
    """What narrowing can name: a variable `x`, or a path of fields `x.f.g`."""
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.Attribute):
        base = narrow_key(e.value)
        return None if base is None else f"{base}.{e.attr}"
    return None


def is_empty_display(e) -> bool:
    """`[]`, `{}`, `set()`, `list()` or `dict()`: a value whose type must come from context."""
    if isinstance(e, (ast.ListExpr, ast.SetExpr)):
        return not e.elts
    if isinstance(e, ast.DictExpr):
        return not e.keys
    return isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and not e.args \
        and not e.keywords and e.func.id in ("list", "set", "dict")


def dict_key_parts(key: Type, indices) -> list:
    """The types `d[i, j]` checks its indices against: Python reads several
    indices of a dict as one tuple key, d[i, j] == d[(i, j)]."""
    if len(indices) > 1 and isinstance(key, TupleT) and len(key.elems) == len(indices):
        return list(key.elems)
    return [key]


