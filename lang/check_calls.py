"""Checking of calls: user functions, struct constructors, the overloaded
built-ins of docs/reference.md §6, and methods of str, list, dict and set.

Each checked call is recorded as a `CallRef` (lang/symbols.py) that tells the
lowering pass what to emit: the user function's IR name, the struct, or the
IR primitive op, with arguments in parameter order.
"""
from __future__ import annotations

from typing import Optional

from . import ast
from .builtin_sigs import BUILTIN_FUNCTIONS, MATH_FLOAT_FUNCS, PYTHON_ONLY_HINTS
from .diagnostics import Fix
from .check_methods import MethodChecker
from .nested import nested_call
from .symbols import CallRef, FuncInfo, Ref, StructInfo
from .types import (PendingT, BOOL, ERROR, FLOAT, INT, NONE, STR, ArrayT, CounterT, DictT,
                    ErrorT, FuncT, IterT, ListT, OptionalT, SetT, StructT, TupleT, Type,
                    assignable, element_type, is_hashable, is_numeric, join,
                    needs_widening, orderable_key)

INFER = ERROR                       # FuncT return type meaning "infer it"
TYPE_CLASSES = ("int", "float", "bool", "str", "list", "dict", "set", "tuple")
CONVERTIBLE = ("int", "float", "bool", "str")


def is_range_call(e: ast.Expr) -> bool:
    """Is `e` a call of range()? (An iterator type, but not an iterator.)"""
    return isinstance(e, ast.Call) and getattr(e.func, "id", "") == "range"


def type_class(t: Type) -> Optional[str]:
    """The Python class a value of type `t` has (`list` for list[int])."""
    if t in (INT, FLOAT, BOOL, STR):
        return str(t)
    return {ListT: "list", DictT: "dict", CounterT: "dict", SetT: "set",
            TupleT: "tuple"}.get(type(t))


class CallChecker(MethodChecker):
    def expr_Call(self, e: ast.Call, expected):
        f = e.func
        if isinstance(f, ast.Attribute):
            return self.method_call(e, f, expected)
        if not isinstance(f, ast.Name):
            self.bag.error("E015", "only named functions and methods can be called", f.span)
            self.infer_args_loosely(e)
            return ERROR
        if self.ctx is not None and f.id in self.ctx.nested:
            return nested_call(self, e, self.ctx.nested[f.id])
        if self.ctx is not None and self.ctx.lookup(f.id) is not None:
            self.bag.error("E015", f"'{f.id}' is a variable, not a function", f.span)
            self.infer_args_loosely(e)
            return ERROR
        sym = self.prog.scopes.get(self.module_path, {}).get(f.id)
        if isinstance(sym, FuncInfo):
            return self.user_call(e, sym)
        if isinstance(sym, StructInfo):
            return self.struct_call(e, sym)
        if f.id in BUILTIN_FUNCTIONS:
            return self.builtin_call(e, f.id, expected)
        if f.id == "isinstance" and len(e.args) == 2 and not e.keywords:
            return self.isinstance_call(e)
        self.undefined(f)
        self.infer_args_loosely(e)
        return ERROR

    def isinstance_call(self, e: ast.Call) -> Type:
        """`isinstance(x, T)`, which NPL does not have: one E010 that says
        what the test comes to, since x's type is known here."""
        value, kind = e.args
        t = self.infer(value)
        bare = value.id if isinstance(value, ast.Name) else "the value"
        name = f"`{bare}`" if isinstance(value, ast.Name) else bare
        tested = kind.id if isinstance(kind, ast.Name) else None
        if isinstance(t, ErrorT):
            note = PYTHON_ONLY_HINTS["isinstance"]
        elif isinstance(t, OptionalT):
            note = f"{name} is {t}: test `{bare} is not None` instead"
        elif tested is not None and tested == type_class(t):
            note = f"{name} is always {t} here, so this test is always True: drop it"
        elif tested in TYPE_CLASSES:
            note = f"{name} is {t} here, never {tested}: this test is always False"
            if tested in CONVERTIBLE:
                note += f"; to convert, write {tested}(...)"
        else:
            note = f"{name} is {t} here: NPL knows every type before the program runs"
        self.bag.error("E010", "undefined name 'isinstance'", e.func.span, note)
        return BOOL

    def infer_args_loosely(self, e: ast.Call) -> None:
        for a in e.args:
            self.infer(a)
        for k in e.keywords:
            self.infer(k.value)

    # ------------------------------------------------------------ user code
    def place_args(self, e: ast.Call, names: list[str], what: str, *notes: str) -> Optional[list]:
        """Match positional and keyword arguments to parameter `names`
        (`notes` go with an E013 about their number)."""
        if len(e.args) > len(names):
            self.bag.error("E013", f"{what} takes {len(names)} argument(s), {len(e.args)} given",
                           e.span, *notes)
            self.infer_args_loosely(e)
            return None
        placed: list = list(e.args) + [None] * (len(names) - len(e.args))
        for k in e.keywords:
            if k.name not in names:
                self.bag.error("E013", f"{what} has no parameter '{k.name}'", k.span)
                self.infer_args_loosely(e)
                return None
            i = names.index(k.name)
            if placed[i] is not None:
                self.bag.error("E013", f"'{k.name}' is given twice", k.span)
                return None
            placed[i] = k.value
        missing = [n for n, a in zip(names, placed) if a is None]
        if missing:
            self.bag.error("E013", f"{what} is missing argument(s): {', '.join(missing)}",
                           e.span, *notes)
            self.infer_args_loosely(e)
            return None
        return placed

    def user_call(self, e: ast.Call, fn: FuncInfo) -> Type:
        hides = ([f"'{fn.name}' is this program's function {fn.name}("
                  f"{', '.join(n for n, _ in fn.params)}), which hides the built-in "
                  f"{fn.name}(): compute it without calling {fn.name}()"]
                 if fn.name in BUILTIN_FUNCTIONS else [])
        placed = self.place_args(e, [n for n, _ in fn.params], f"'{fn.name}'", *hides)
        if placed is None:
            return fn.ret
        for a, (_, t) in zip(placed, fn.params):
            self.check(a, t)
        self.prog.calls[e] = CallRef("func", fn.ir_name, tuple(placed))
        return fn.ret

    def struct_call(self, e: ast.Call, s: StructInfo) -> Type:
        placed = self.place_args(e, [n for n, _ in s.fields], f"struct {s.name}")
        if placed is not None:
            for a, (_, t) in zip(placed, s.fields):
                self.check(a, t)
            self.prog.calls[e] = CallRef("struct", s.ir_name, tuple(placed))
        return StructT(s.ir_name)

    def function_value(self, e: ast.Name, expected: FuncT) -> Type:
        """A function name passed where a function is expected (key=len)."""
        sym = self.prog.scopes.get(self.module_path, {}).get(e.id)
        if len(expected.params) != 1:
            self.bag.error("E018", "pass a lambda here", e.span)
            return ERROR
        p = expected.params[0]
        if isinstance(sym, FuncInfo):
            if len(sym.params) != 1 or not assignable(p, sym.params[0][1]):
                self.bag.error("E012", f"'{e.id}' does not take a single {p}", e.span)
                return ERROR
            self.prog.refs[e] = Ref("funcvalue", sym.ir_name, "func")
            return FuncT((p,), sym.ret)
        elem = element_type(p)
        table = {"str": STR, "int": INT, "float": FLOAT, "bool": BOOL, "len": INT, "ord": INT,
                 "chr": STR, "abs": p, "round": INT, "sum": elem, "min": elem, "max": elem,
                 "sorted": ListT(elem) if elem else None, "list": ListT(elem) if elem else None}
        rt = table.get(e.id)
        if rt is None:
            self.bag.error("E018", f"'{e.id}' cannot be passed as a function here; use a lambda", e.span)
            return ERROR
        self.prog.refs[e] = Ref("funcvalue", e.id, "builtin")
        return FuncT((p,), rt)

    # ------------------------------------------------------------ builtins
    def builtin_call(self, e: ast.Call, name: str, expected) -> Type:
        handler = getattr(self, "b_" + name, None)
        allowed_kw = BUILTIN_KEYWORDS.get(name, ())
        for k in e.keywords:
            if k.name not in allowed_kw:
                self.bag.error("E013", f"{name}() takes no keyword '{k.name}'", k.span)
                self.infer_args_loosely(e)
                return ERROR
        if name in MATH_FLOAT_FUNCS:
            return self.math_call(e, name)
        t = handler(e, expected)
        if (e not in self.prog.calls) and not isinstance(t, ErrorT):
            kwargs = tuple((k.name, k.value) for k in e.keywords)
            self.prog.calls[e] = CallRef("builtin", name, tuple(e.args), kwargs)
        return t

    def arity(self, e: ast.Call, name: str, lo: int, hi: int) -> bool:
        n = len(e.args)
        if not lo <= n <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            self.bag.error("E013", f"{name}() takes {want} argument(s), {n} given", e.span)
            self.infer_args_loosely(e)
            return False
        return True

    def iterable_arg(self, a: ast.Expr, what: str, expected: Optional[Type] = None) -> Type:
        t = self.infer(a, expected)
        et = element_type(t)
        if et is None:
            self.bag.error("E015", f"{what} needs something iterable, not {t}", a.span)
            return ERROR
        return et

    def b_print(self, e, expected):
        for a in e.args:
            self.infer(a)
        for k in e.keywords:
            self.check(k.value, STR)
        return NONE

    def b_len(self, e, expected):
        if not self.arity(e, "len", 1, 1):
            return INT
        t = self.infer(e.args[0])
        if not (t == STR or isinstance(t, (ListT, DictT, SetT, TupleT, ArrayT, ErrorT, PendingT))):
            self.bag.error("E015", f"len() of {t}", e.args[0].span)
        return INT

    def b_range(self, e, expected):
        if self.arity(e, "range", 1, 3):
            for a in e.args:
                self.check(a, INT)
        return IterT(INT)

    b_prange = b_range

    def b_enumerate(self, e, expected):
        if not self.arity(e, "enumerate", 1, 2):
            return ERROR
        et = self.iterable_arg(e.args[0], "enumerate()")
        if len(e.args) == 2:
            self.check(e.args[1], INT)
        return IterT(TupleT((INT, et)))

    def b_zip(self, e, expected):
        if not self.arity(e, "zip", 1, 8):
            return ERROR
        return IterT(TupleT(tuple(self.iterable_arg(a, "zip()") for a in e.args)))

    def b_list(self, e, expected):
        if not self.arity(e, "list", 0, 1):
            return ERROR
        if not e.args:
            if isinstance(expected, ListT):
                return expected
            self.bag.error("E019", "list() needs a type from context: xs: list[int] = []", e.span)
            return ERROR
        return ListT(self.iterable_arg(e.args[0], "list()"))

    def b_tuple(self, e, expected):
        """tuple(xs): the length is part of a tuple's type, so the type comes
        from context, a tuple of one element type (checked at run time)."""
        if not self.arity(e, "tuple", 1, 1):
            return ERROR
        uniform = element_type(expected) if isinstance(expected, TupleT) else None
        if uniform is None:
            self.infer(e.args[0])
            self.bag.error("E019", "tuple() needs its type from context, a tuple of one element "
                           "type: write it where one is expected (a return, t: tuple[int, int] = "
                           "tuple(xs)), or build the tuple as (a, b, c)", e.span)
            return ERROR
        et = self.iterable_arg(e.args[0], "tuple()")
        if not assignable(et, uniform):
            arg = e.args[0]
            fix = (Fix.wrap(arg.elt.span, "int(", ")") if et == FLOAT and uniform == INT
                   and isinstance(arg, (ast.GeneratorExp, ast.ListComp)) else None)
            self.bag.error("E012", f"tuple() of {et} elements where {expected} is expected",
                           arg.span, fix=fix)
        return expected

    def b_set(self, e, expected):
        if not self.arity(e, "set", 0, 1):
            return ERROR
        if not e.args:
            if isinstance(expected, SetT):
                return expected
            self.bag.error("E019", "set() needs a type from context: s: set[int] = set()", e.span)
            return ERROR
        et = self.iterable_arg(e.args[0], "set()")
        if not is_hashable(et):
            self.bag.error("E012", f"{et} cannot be a set element", e.span)
        return SetT(et)

    def b_dict(self, e, expected):
        if not self.arity(e, "dict", 0, 1):
            return ERROR
        if not e.args:
            if isinstance(expected, DictT):
                return expected
            self.bag.error("E019", "dict() needs a type from context: d: dict[str, int] = {}", e.span)
            return ERROR
        t = self.infer(e.args[0])
        if isinstance(t, DictT):
            return DictT(t.key, t.value)        # a plain dict, from a Counter too
        et = element_type(t)
        if isinstance(et, TupleT) and len(et.elems) == 2 and is_hashable(et.elems[0]):
            return DictT(et.elems[0], et.elems[1])
        self.bag.error("E012", f"dict() needs a dict or pairs, not {t}", e.span)
        return ERROR

    def b_Counter(self, e, expected):
        """Counter() (typed by context or, later, by its first use:
        lang/pending.py), Counter(iterable of K), Counter(Counter or dict[K, int])."""
        if not self.arity(e, "Counter", 0, 1):
            return ERROR
        if not e.args:
            if isinstance(expected, CounterT):
                return expected
            self.bag.error("E019", "Counter() needs a type from context: "
                           "c: Counter[str] = Counter()", e.span)
            return ERROR
        t = self.infer(e.args[0])
        if isinstance(t, ErrorT):
            return ERROR
        if isinstance(t, DictT):
            if not assignable(t, DictT(t.key, INT)):
                self.bag.error("E012", f"Counter() of a dict needs int counts, not {t}",
                               e.args[0].span)
                return ERROR
            return CounterT(t.key)
        et = self.iterable_arg(e.args[0], "Counter()")
        if isinstance(et, ErrorT):
            return ERROR
        if not is_hashable(et):
            self.bag.error("E012", f"{et} cannot be a Counter key", e.args[0].span)
            return ERROR
        return CounterT(et)

    def b_abs(self, e, expected):
        if not self.arity(e, "abs", 1, 1):
            return ERROR
        t = self.infer(e.args[0], expected)
        if not (is_numeric(t) or isinstance(t, (ErrorT, ArrayT))):
            self.bag.error("E012", f"abs() needs a number, not {t}", e.args[0].span)
            return ERROR
        return t

    def b_min(self, e, expected, name="min"):
        if not self.arity(e, name, 1, 16):
            return ERROR
        if len(e.args) == 1:
            t = self.infer(e.args[0])
            if isinstance(t, ArrayT):
                return t.elem if t.rank >= 1 else ERROR
            et = element_type(t)
            if et is None:
                self.bag.error("E015", f"{name}() of {t}", e.args[0].span)
                return ERROR
        else:
            types = [self.infer(a) for a in e.args]
            et = types[0]
            for t in types[1:]:
                et = join(et, t) if et is not None else None
            if et is None:
                self.bag.error("E012", f"{name}() arguments must have one type", e.span)
                return ERROR
            for a, t in zip(e.args, types):
                if needs_widening(t, et):
                    self.prog.widen.add(a)
        if not any(k.name == "key" for k in e.keywords) and not orderable_key(et):
            self.bag.error("E012", f"{name}() of {et} needs key=", e.span)
        self.key_function(e, et, name)
        return et

    def b_max(self, e, expected):
        return self.b_min(e, expected, "max")

    def key_function(self, e: ast.Call, et: Type, name: str) -> None:
        for k in e.keywords:
            if k.name == "key":
                ft = self.infer(k.value, FuncT((et,), INFER))
                if isinstance(ft, FuncT) and not orderable_key(ft.ret):
                    self.bag.error("E012", f"the key of {name}() must give values that can be "
                                   f"ordered, not {ft.ret}", k.value.span)
            elif k.name == "reverse":
                self.check(k.value, BOOL)

    def b_sum(self, e, expected):
        if not self.arity(e, "sum", 1, 2):
            return ERROR
        t = self.infer(e.args[0])
        et = t.elem if isinstance(t, ArrayT) else element_type(t)
        if et is None or not (is_numeric(et) or isinstance(et, ErrorT)):
            xs = e.args[0].id if isinstance(e.args[0], ast.Name) else "xs"
            notes = ["bool is not a number in NPL: to count the True values, write "
                     f"`sum(1 for b in {xs} if b)` or `{xs}.count(True)`"] if et == BOOL else []
            self.bag.error("E012", f"sum() needs numbers, not {t}", e.args[0].span, *notes)
            return ERROR
        if len(e.args) == 2:
            st = self.infer(e.args[1])
            return join(et, st) or ERROR
        return et

    def b_sorted(self, e, expected):
        if not self.arity(e, "sorted", 1, 1):
            return ERROR
        et = self.iterable_arg(e.args[0], "sorted()")
        has_key = any(k.name == "key" for k in e.keywords)
        if not has_key and not orderable_key(et):
            self.bag.error("E012", f"sorted() of {et} needs key=", e.span)
        self.key_function(e, et, "sorted")
        return ListT(et)

    def b_reversed(self, e, expected):
        if not self.arity(e, "reversed", 1, 1):
            return ERROR
        t = self.infer(e.args[0])
        if isinstance(t, ListT) or t == STR or isinstance(t, ErrorT):
            return IterT(element_type(t))
        if isinstance(t, IterT) and is_range_call(e.args[0]):
            return t
        self.bag.error("E015", f"reversed() needs a list, str or range, not {t}", e.args[0].span)
        return ERROR

    def b_map(self, e, expected):
        if not self.arity(e, "map", 2, 2):
            return ERROR
        et = self.iterable_arg(e.args[1], "map()")
        ft = self.infer(e.args[0], FuncT((et,), INFER))
        return IterT(ft.ret) if isinstance(ft, FuncT) else ERROR

    def b_filter(self, e, expected):
        if not self.arity(e, "filter", 2, 2):
            return ERROR
        et = self.iterable_arg(e.args[1], "filter()")
        ft = self.infer(e.args[0], FuncT((et,), INFER))
        if isinstance(ft, FuncT) and ft.ret != BOOL and not self.truthy_ok(ft.ret):
            self.bag.error("E012", "filter()'s function must return bool", e.args[0].span)
        return IterT(et)

    def b_any(self, e, expected):
        if self.arity(e, "any/all", 1, 1):
            et = self.iterable_arg(e.args[0], "any()/all()")
            if et != BOOL and not self.truthy_ok(et):
                self.bag.error("E012", f"any()/all() need bools, not {et}", e.args[0].span)
        return BOOL

    b_all = b_any

    def b_next(self, e, expected):
        """next(iterator) and next(iterator, default): the first element of a
        generator expression, map, filter, zip, enumerate or reversed; with a
        default None the result is optional."""
        if not self.arity(e, "next", 1, 2):
            return ERROR
        first = e.args[0]
        t = self.infer(first)
        if isinstance(t, ErrorT):
            return ERROR
        is_range = is_range_call(first)
        if not isinstance(t, IterT) or is_range:
            self.bag.error("E015", f"next() takes an iterator, not {'a range' if is_range else t}",
                           first.span,
                           "write next((x for x in xs if ...), default) for the first element "
                           "that passes a test, or xs[0] for the first element")
            return ERROR
        if len(e.args) == 1:
            return t.elem
        default = e.args[1]
        if isinstance(default, ast.NoneLit):
            self.prog.types[default] = NONE
            return OptionalT(t.elem)
        self.check(default, t.elem)
        return t.elem

    def b_combinations(self, e, expected, name="combinations"):
        """combinations(xs, r) / permutations(xs, r): an iterator of tuples of
        r elements, r a constant (the tuples' type has r places)."""
        if not self.arity(e, name, 2, 2):
            return ERROR
        et = self.iterable_arg(e.args[0], f"{name}()")
        self.check(e.args[1], INT)
        r = ast.literal_int(e.args[1])
        if r is None or not 1 <= r <= 16:
            self.bag.error("E012", f"{name}()'s r is a constant from 1 to 16: the tuples' type "
                           "has r places", e.args[1].span)
            return ERROR
        return ERROR if isinstance(et, ErrorT) else IterT(TupleT((et,) * r))

    def b_permutations(self, e, expected):
        return self.b_combinations(e, expected, "permutations")

    def b_str(self, e, expected):
        if self.arity(e, "str", 0, 1) and e.args:
            self.infer(e.args[0])
        return STR

    def b_int(self, e, expected):
        if len(e.args) > 1:                     # int(text, base), as Python's
            if self.arity(e, "int", 1, 2):
                self.check(e.args[0], STR)
                self.check(e.args[1], INT)
            return INT
        return self.conversion(e, "int", INT, (INT, FLOAT, STR, BOOL))

    def b_float(self, e, expected):
        return self.conversion(e, "float", FLOAT, (INT, FLOAT, STR))

    def b_bool(self, e, expected):
        if self.arity(e, "bool", 1, 1):
            t = self.infer(e.args[0])
            if t != BOOL and not self.truthy_ok(t):
                self.bag.error("E012", f"bool() of {t}", e.args[0].span)
        return BOOL

    def conversion(self, e, name, result, accepted) -> Type:
        if not self.arity(e, name, 1, 1):
            return result
        t = self.infer(e.args[0])
        if t not in accepted and not isinstance(t, ErrorT):
            self.bag.error("E012", f"{name}() of {t}", e.args[0].span)
        return result

    def b_round(self, e, expected):
        if not self.arity(e, "round", 1, 2):
            return ERROR
        t = self.infer(e.args[0])
        if not is_numeric(t) and not isinstance(t, ErrorT):
            self.bag.error("E012", f"round() needs a number, not {t}", e.args[0].span)
        if len(e.args) == 2:
            self.check(e.args[1], INT)
            return t
        return INT

    def b_divmod(self, e, expected):
        if not self.arity(e, "divmod", 2, 2):
            return ERROR
        a, b = (self.infer(x) for x in e.args)
        if not (is_numeric(a) and is_numeric(b)):
            self.bag.error("E012", f"divmod() needs numbers, not {a} and {b}", e.span)
            return ERROR
        t = INT if a == b == INT else FLOAT
        return TupleT((t, t))

    def b_pow(self, e, expected):
        if not self.arity(e, "pow", 2, 2):
            return ERROR
        return self.binop_type("**", self.infer(e.args[0]), self.infer(e.args[1]), e)

    def b_ord(self, e, expected):
        return self.simple(e, "ord", (STR,), INT)

    def b_chr(self, e, expected):
        return self.simple(e, "chr", (INT,), STR)

    def b_hex(self, e, expected):
        return self.simple(e, "hex", (INT,), STR)

    def b_bin(self, e, expected):
        return self.simple(e, "bin", (INT,), STR)

    def b_factorial(self, e, expected):
        return self.simple(e, e.func.id, (INT,), INT)

    b_isqrt = b_factorial

    def b_comb(self, e, expected):
        return self.simple(e, "comb", (INT, INT), INT)

    def b_perm(self, e, expected):
        return self.int_args(e, "perm", 1, 2)

    def b_gcd(self, e, expected):
        return self.int_args(e, e.func.id, 1, 16)

    b_lcm = b_gcd

    def b_atan2(self, e, expected):
        return self.simple(e, "atan2", (FLOAT, FLOAT), FLOAT)

    def b_floor(self, e, expected):
        return self.simple(e, e.func.id, (FLOAT,), INT)

    b_ceil = b_floor

    def b_isnan(self, e, expected):
        return self.simple(e, e.func.id, (FLOAT,), BOOL)

    b_isinf = b_isnan

    def simple(self, e, name: str, params: tuple, result: Type) -> Type:
        if self.arity(e, name, len(params), len(params)):
            for a, t in zip(e.args, params):
                self.check(a, t)
        return result

    def int_args(self, e, name: str, lo: int, hi: int) -> Type:
        """`name(int, ...) -> int`, with `lo` to `hi` arguments."""
        if self.arity(e, name, lo, hi):
            for a in e.args:
                self.check(a, INT)
        return INT

    # ------------------------------------------------------------ heaps
    def heap_elem(self, e: ast.Call, name: str, pushed: Optional[ast.Expr] = None) -> Type:
        """The element type of the heap `e.args[0]`: a list whose elements
        can be ordered (an empty list created just before learns its type
        from `pushed`), else ERROR, reported."""
        heap = e.args[0]
        t = self.infer(heap)
        if isinstance(t, PendingT) and t.kind == "list" and pushed is not None \
                and isinstance(heap, ast.Name):
            from .pending import resolve
            et = self.infer(pushed)
            t = resolve(self, heap.id, ListT(et)) if not isinstance(et, ErrorT) else ERROR
        elif isinstance(t, PendingT):
            from .pending import unknown
            unknown(self, heap, t)
            return ERROR
        if isinstance(t, ErrorT):
            return ERROR
        if not isinstance(t, ListT):
            self.bag.error("E012", f"{name}() needs a list as its heap, not {t}", heap.span)
            return ERROR
        if not orderable_key(t.elem):
            self.bag.error("E012", f"{name}() needs elements that can be ordered, not {t.elem}",
                           heap.span)
            return ERROR
        return t.elem

    def b_heappush(self, e, expected, name="heappush"):
        if not self.arity(e, name, 2, 2):
            return ERROR
        et = self.heap_elem(e, name, e.args[1])
        if isinstance(et, ErrorT):
            self.infer(e.args[1])
            return ERROR
        self.check(e.args[1], et)
        return NONE if name == "heappush" else et

    def b_heappushpop(self, e, expected):
        return self.b_heappush(e, expected, "heappushpop")

    def b_heapreplace(self, e, expected):
        return self.b_heappush(e, expected, "heapreplace")

    def b_heappop(self, e, expected, name="heappop"):
        if not self.arity(e, name, 1, 1):
            return ERROR
        et = self.heap_elem(e, name)
        return et if name == "heappop" or isinstance(et, ErrorT) else NONE

    def b_heapify(self, e, expected):
        return self.b_heappop(e, expected, "heapify")

    def b_nlargest(self, e, expected, name="nlargest"):
        if not self.arity(e, name, 2, 2):
            return ERROR
        self.check(e.args[0], INT)
        et = self.iterable_arg(e.args[1], f"{name}()")
        if isinstance(et, ErrorT):
            return ERROR
        if not any(k.name == "key" for k in e.keywords) and not orderable_key(et):
            self.bag.error("E012", f"{name}() of {et} needs key=", e.span)
        self.key_function(e, et, name)
        return ListT(et)

    def b_nsmallest(self, e, expected):
        return self.b_nlargest(e, expected, "nsmallest")

    def math_call(self, e, name: str) -> Type:
        if not self.arity(e, name, 1, 2 if name == "log" else 1):
            return FLOAT
        t = self.infer(e.args[0])
        if isinstance(t, ArrayT) and name == "sqrt":
            result = ArrayT(FLOAT, t.rank)
        elif is_numeric(t) or isinstance(t, ErrorT):
            if t == INT:
                self.prog.widen.add(e.args[0])
            result = FLOAT
        else:
            self.bag.error("E012", f"{name}() needs a number, not {t}", e.args[0].span)
            result = FLOAT
        if len(e.args) == 2:
            self.check(e.args[1], FLOAT)
        self.prog.calls[e] = CallRef("builtin", name, tuple(e.args))
        return result


BUILTIN_KEYWORDS = {
    "print": ("sep", "end"), "sorted": ("key", "reverse"), "min": ("key",), "max": ("key",),
    "zeros": ("dtype",), "ones": ("dtype",), "empty": ("dtype",), "full": ("dtype",),
    "enumerate": ("start",), "nlargest": ("key",), "nsmallest": ("key",),
}
