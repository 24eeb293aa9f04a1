"""Checking of method calls (str, list, dict, Counter, set) and of the array
built-ins (zeros, ones, empty, full, arange, array, copy, dot).

Method signatures come from lang/builtin_sigs.py; this module interprets
their small notation against the receiver's type.
"""
from __future__ import annotations


from . import ast
from .builtin_sigs import (COUNTER_METHODS, DICT_METHODS, LIST_METHODS, SET_METHODS, STR_METHODS,
                           python_hint)
from .symbols import CallRef
from .types import (PendingT, ARRAY_ELEMS, BOOL, ERROR, FLOAT, INT, NONE, STR, ArrayT,
                    CounterT, DictT, ErrorT, IterT, ListT, OptionalT, SetT, TupleT, Type,
                    assignable, element_type, is_numeric, orderable_key)

PYTHON_METHOD_HINTS = {
    "format": "use an f-string: f\"{x}\"",
    "sum": "use sum(a)", "append": "lists have append; str is immutable: s = s + x",
    "add": "sets have add(); lists use append()",
    "sort": "use sorted(s) for a str or set, or xs.sort() on a list",
    "tolist": "arrays convert with list(...) only through loops in v0.1",
    "lstrip": "", "encode": "NPL strings have no bytes form",
    "has_key": "use `k in d`", "iteritems": "use d.items()",
}


def sig_type(text: str, env: dict[str, Type]) -> Type:
    """Interpret one type of the builtin_sigs notation."""
    text = text.strip()
    if text.endswith("?"):
        return OptionalT(sig_type(text[:-1], env))
    if text in env:
        return env[text]
    simple = {"int": INT, "float": FLOAT, "bool": BOOL, "str": STR, "None": NONE}
    if text in simple:
        return simple[text]
    head, _, rest = text.partition("[")
    args = [sig_type(a, env) for a in split_args(rest[:-1])] if rest else []
    if head == "list":
        return ListT(args[0])
    if head == "set":
        return SetT(args[0])
    if head == "dict":
        return DictT(args[0], args[1])
    if head == "Counter":
        return CounterT(args[0])
    if head == "iter":
        return IterT(args[0])
    if head == "tuple":
        return TupleT(tuple(args))
    raise ValueError(f"bad signature type {text!r}")


def split_args(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += (ch == "[") - (ch == "]")
        cur += ch
    return out + [cur] if cur.strip() else out


class MethodChecker:
    def method_call(self, e: ast.Call, f: ast.Attribute, expected) -> Type:
        if isinstance(f.value, ast.Name) and self.ctx is not None and self.ctx.lookup(f.value.id) is None \
                and f.value.id not in self.prog.scopes.get(self.module_path, {}):
            hint = python_hint(f.value.id)
            self.bag.error("E010", f"undefined name '{f.value.id}'", f.value.span,
                           *([hint] if hint else []))
            self.infer_args_loosely(e)
            return ERROR
        rt = self.infer(f.value)
        if isinstance(rt, PendingT):
            from .pending import from_method
            rt = from_method(self, f.value, rt, f.attr, e.args)
        if isinstance(rt, ErrorT):
            self.infer_args_loosely(e)
            return ERROR
        if rt == STR:
            kind, table, env = "str", STR_METHODS, {"T": STR}
        elif isinstance(rt, ListT):
            kind, table, env = "list", LIST_METHODS, {"T": rt.elem}
        elif isinstance(rt, CounterT) and f.attr in COUNTER_METHODS:
            kind, table, env = "Counter", COUNTER_METHODS, {"K": rt.key}
        elif isinstance(rt, CounterT) and f.attr in ("update", "subtract"):
            kind, table, env = "Counter", {}, {"K": rt.key}
        elif isinstance(rt, DictT):
            kind, table, env = "dict", DICT_METHODS, {"K": rt.key, "V": rt.value}
        elif isinstance(rt, SetT):
            kind, table, env = "set", SET_METHODS, {"T": rt.elem}
        else:
            return self.no_method(e, f, rt)
        special = getattr(self, f"m_{kind}_{f.attr}", None)
        if special is not None:
            t = special(e, rt)
            if not isinstance(t, ErrorT):
                self.prog.calls[e] = CallRef("method", f"{kind}.{f.attr}", tuple(e.args),
                                             tuple((k.name, k.value) for k in e.keywords))
            return t
        if f.attr not in table:
            return self.no_method(e, f, rt)
        params, result = table[f.attr]
        if e.keywords:
            self.bag.error("E013", f"{kind}.{f.attr}() takes no keyword arguments", e.keywords[0].span)
            self.infer_args_loosely(e)
            return ERROR
        required = [p for p in params if not p.startswith("?")]
        if not len(required) <= len(e.args) <= len(params):
            self.bag.error("E013", f"{kind}.{f.attr}() takes {len(required)}"
                           + (f" to {len(params)}" if len(params) != len(required) else "")
                           + f" argument(s), {len(e.args)} given", e.span)
            self.infer_args_loosely(e)
            return ERROR
        for a, p in zip(e.args, params):
            self.check_sig_arg(a, p.lstrip("?"), env)
        self.prog.calls[e] = CallRef("method", f"{kind}.{f.attr}", tuple(e.args))
        return sig_type(result, env)

    def check_sig_arg(self, a: ast.Expr, p: str, env: dict) -> None:
        if p.startswith("IT"):
            want = env["T"] if p == "IT" else sig_type(p[2:], env)
            et = self.iterable_arg(a, "this method", ListT(want))
            if not isinstance(et, ErrorT) and not assignable(et, want):
                self.bag.error("E012", f"expected an iterable of {want}, found one of {et}", a.span)
            return
        self.check(a, sig_type(p, env))

    def no_method(self, e: ast.Call, f: ast.Attribute, rt: Type) -> Type:
        notes = []
        hint = PYTHON_METHOD_HINTS.get(f.attr)
        if hint:
            notes.append(hint)
        if isinstance(rt, OptionalT):
            notes.append("the value may be None: check it first (if x is not None: ...)")
        self.bag.error("E014", f"{rt} has no method '{f.attr}'", f.span, *notes)
        self.infer_args_loosely(e)
        return ERROR

    # ------------------------------------------------------------ special methods
    def m_dict_get(self, e: ast.Call, rt: DictT) -> Type:
        if not self.arity(e, "dict.get", 1, 2):
            return ERROR
        self.check(e.args[0], rt.key)
        if len(e.args) == 2:
            self.check(e.args[1], rt.value)
            return rt.value
        return OptionalT(rt.value)

    def m_dict_pop(self, e: ast.Call, rt: DictT) -> Type:
        if not self.arity(e, "dict.pop", 1, 2):
            return ERROR
        self.check(e.args[0], rt.key)
        if len(e.args) == 2:
            self.check(e.args[1], rt.value)
        return rt.value

    def m_Counter_update(self, e: ast.Call, rt: CounterT) -> Type:
        return self.counter_counts(e, rt, "update")

    def m_Counter_subtract(self, e: ast.Call, rt: CounterT) -> Type:
        return self.counter_counts(e, rt, "subtract")

    def counter_counts(self, e: ast.Call, rt: CounterT, name: str) -> Type:
        """c.update(x) / c.subtract(x): x a Counter or dict of counts, or an
        iterable of keys (each counts 1), as in Python."""
        if not self.arity(e, f"Counter.{name}", 1, 1):
            return ERROR
        t = self.infer(e.args[0])
        if isinstance(t, DictT):
            fits = assignable(t, DictT(rt.key, INT))
        else:
            et = element_type(t)
            fits = isinstance(t, ErrorT) or (et is not None and assignable(et, rt.key))
        if not fits:
            self.bag.error("E012", f"{name}() of a {rt} takes a Counter or dict[{rt.key}, int] "
                           f"of counts, or an iterable of {rt.key}, not {t}", e.args[0].span)
            return ERROR
        return NONE

    def m_list_sort(self, e: ast.Call, rt: ListT) -> Type:
        if not self.arity(e, "list.sort", 0, 0):
            return ERROR
        for k in e.keywords:
            if k.name not in ("key", "reverse"):
                self.bag.error("E013", f"sort() takes no keyword '{k.name}'", k.span)
                return ERROR
        if not any(k.name == "key" for k in e.keywords) and not orderable_key(rt.elem):
            self.bag.error("E012", f"sort() of {rt} needs key=", e.span)
        self.key_function(e, rt.elem, "sort")
        return NONE

    def m_str_split(self, e: ast.Call, rt) -> Type:
        if not self.arity(e, "str.split", 0, 2):
            return ERROR
        if e.args:
            if isinstance(e.args[0], ast.NoneLit):
                self.infer(e.args[0])
            else:
                self.check(e.args[0], STR)
        if len(e.args) == 2:
            self.check(e.args[1], INT)
        for k in e.keywords:
            self.bag.error("E013", "split() takes positional arguments: s.split(sep, maxsplit)", k.span)
            return ERROR
        return ListT(STR)

    # ------------------------------------------------------------ arrays
    def shape_rank(self, a: ast.Expr) -> int:
        t = self.infer(a)
        if t == INT:
            return 1
        if isinstance(t, TupleT) and t.elems and all(x == INT for x in t.elems):
            return len(t.elems)
        if not isinstance(t, ErrorT):
            self.bag.error("E012", f"an array shape is an int or a tuple of ints, not {t}", a.span)
        return 1

    def dtype_of(self, e: ast.Call, default: Type) -> Type:
        for k in e.keywords:
            if k.name == "dtype":
                names = {"float": FLOAT, "int": INT, "bool": BOOL}
                if isinstance(k.value, ast.Name) and k.value.id in names:
                    self.prog.types[k.value] = names[k.value.id]
                    return names[k.value.id]
                self.bag.error("E012", "dtype is float, int or bool", k.value.span)
                return ERROR
        return default

    def b_zeros(self, e, expected):
        if not self.arity(e, e.func.id, 1, 1):
            return ERROR
        rank = self.shape_rank(e.args[0])
        default = expected.elem if isinstance(expected, ArrayT) else FLOAT
        elem = self.dtype_of(e, default)
        return ArrayT(elem, rank) if not isinstance(elem, ErrorT) else ERROR

    b_ones = b_zeros
    b_empty = b_zeros

    def b_full(self, e, expected):
        if not self.arity(e, "full", 2, 2):
            return ERROR
        rank = self.shape_rank(e.args[0])
        vt = self.infer(e.args[1])
        elem = self.dtype_of(e, vt)
        if elem not in ARRAY_ELEMS:
            self.bag.error("E012", f"array elements are int, float or bool, not {elem}", e.args[1].span)
            return ERROR
        if not assignable(vt, elem):
            self.bag.error("E012", f"fill value {vt} does not fit dtype {elem}", e.args[1].span)
        return ArrayT(elem, rank)

    def b_arange(self, e, expected):
        if not self.arity(e, "arange", 1, 3):
            return ERROR
        types = [self.infer(a) for a in e.args]
        if not all(is_numeric(t) or isinstance(t, ErrorT) for t in types):
            self.bag.error("E012", "arange() takes numbers", e.span)
            return ERROR
        return ArrayT(FLOAT if FLOAT in types else INT, 1)

    def b_array(self, e, expected):
        if not self.arity(e, "array", 1, 1):
            return ERROR
        want = None
        if isinstance(expected, ArrayT):
            want = expected.elem
            for _ in range(expected.rank - 1):
                want = ListT(want)
            want = ListT(want)
        t = self.infer(e.args[0], want)
        rank, elem = 0, t
        while isinstance(elem, ListT):
            rank, elem = rank + 1, elem.elem
        if rank == 0 or elem not in ARRAY_ELEMS:
            if not isinstance(t, ErrorT):
                self.bag.error("E012", f"array() takes a (nested) list of int, float or bool, not {t}",
                               e.args[0].span)
            return ERROR
        return ArrayT(elem, rank)

    def b_copy(self, e, expected):
        if not self.arity(e, "copy", 1, 1):
            return ERROR
        t = self.infer(e.args[0])
        if not isinstance(t, (ArrayT, ErrorT)):
            self.bag.error("E012", "copy() takes an array; for a list use xs.copy()", e.args[0].span)
            return ERROR
        return t

    def b_dot(self, e, expected):
        if not self.arity(e, "dot", 2, 2):
            return ERROR
        a, b = (self.infer(x) for x in e.args)
        if isinstance(a, ErrorT) or isinstance(b, ErrorT):
            return ERROR
        if not (isinstance(a, ArrayT) and isinstance(b, ArrayT)) or a.rank > 2 or b.rank > 2:
            self.bag.error("E012", f"dot() takes arrays of rank 1 or 2, not {a} and {b}", e.span)
            return ERROR
        elem = FLOAT if FLOAT in (a.elem, b.elem) else INT
        rank = a.rank + b.rank - 2
        return elem if rank == 0 else ArrayT(elem, rank)
