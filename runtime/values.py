"""NPL values at run time.

NPL values are plain Python objects: int, float, bool, str, None, list,
dict, set, tuple; arrays are NumPy arrays; a struct is an instance of a class
generated here from its `StructDef` (with __slots__, field-wise ==, no
hashing, repr `Point(x=1.0, y=2.0)`).

This module takes NPL types and values and gives back:
  * `npl_str` / `npl_repr`: text as docs/reference.md §6 prints it (Python's
    print, with arrays shown as `array([0.0, 1.0])`);
  * `npl_equal`: `==` for values containing arrays (one bool, not a mask);
  * `make_struct_class`: the class for a struct;
  * `conforms`: whether a host-supplied value has an NPL type (extern
    results, test inputs);
  * `type_has_array`: whether a type's text form needs the slow formatter.

What running needs without the compiler (text, equality, building a struct
class from its compiled methods) lives in runtime/rtvalues.py and is
re-exported here; NumPy is imported only by the functions that need it.
"""
from __future__ import annotations

import ast
from collections import Counter
from types import CodeType
from typing import Iterable

from npl.lang.types import (BOOL, FLOAT, INT, NONE, STR, ArrayT, CounterT, DictT, ErrorT, FuncT,
                            ListT, OptionalT, PrimT, SetT, StructT, TupleT, Type,
                            inner_types)

# The run-time half (no compiler imports, NumPy only when already loaded).
from .rtvalues import (build_struct_class, demangle, field_of_slot, is_array,  # noqa: F401
                       npl_equal, npl_format, npl_repr, npl_str, slot_name)

DTYPE_NAMES = {"int": "int64", "float": "float64", "bool": "bool_"}


def dtype_for(elem: PrimT):
    """The NumPy dtype of an `array[elem]` (imports NumPy)."""
    import numpy as np
    return getattr(np, DTYPE_NAMES[elem.name])


def type_has_array(t: Type) -> bool:
    """Does a value of type `t` contain an array somewhere (so that Python's
    own str/repr would print it wrongly)? Struct reprs handle their own
    fields, so a struct counts as array-free."""
    return isinstance(t, ArrayT) or any(type_has_array(e) for e in inner_types(t))


# ------------------------------------------------------------------ structs

def _slot(field: str) -> str:
    return slot_name(field)


def make_struct_class(ir_name: str, fields: list[tuple[str, Type]]) -> type:
    """A class for struct `ir_name`: positional __init__ in field order,
    field-wise __eq__, unhashable, repr `Name(f=value, ...)`."""
    return build_struct_class(ir_name, [f for f, _ in fields], struct_code(ir_name, fields))


def struct_code(ir_name: str, fields: list[tuple[str, Type]]) -> CodeType:
    """The code object that defines struct `ir_name`'s __init__, __eq__ and
    __repr__ (run by rtvalues.build_struct_class)."""
    display = ir_name.rsplit(".", 1)[-1]
    names = [f for f, _ in fields]
    module = ast.Module(body=[_init_def(names), _eq_def(fields), _repr_def(display, fields)],
                        type_ignores=[])
    ast.fix_missing_locations(module)
    return compile(module, f"<struct {display}>", "exec")


def _args(names: list[str]) -> ast.arguments:
    return ast.arguments(posonlyargs=[], args=[ast.arg(n) for n in names], kwonlyargs=[],
                         kw_defaults=[], defaults=[])


def _self_attr(field: str, obj: str = "self") -> ast.Attribute:
    return ast.Attribute(ast.Name(obj, ast.Load()), _slot(field), ast.Load())


def _init_def(names: list[str]) -> ast.FunctionDef:
    body: list[ast.stmt] = [
        ast.Assign([ast.Attribute(ast.Name("self", ast.Load()), _slot(f), ast.Store())],
                   ast.Name(_slot(f), ast.Load()))
        for f in names] or [ast.Pass()]
    return ast.FunctionDef("__init__", _args(["self"] + [_slot(f) for f in names]), body, [])


def _eq_def(fields: list[tuple[str, Type]]) -> ast.FunctionDef:
    same_class = ast.Compare(ast.Attribute(ast.Name("other", ast.Load()), "__class__", ast.Load()),
                             [ast.IsNot()],
                             [ast.Attribute(ast.Name("self", ast.Load()), "__class__", ast.Load())])
    guard = ast.If(same_class, [ast.Return(ast.Name("NotImplemented", ast.Load()))], [])
    checks: list[ast.expr] = [
        ast.Call(ast.Name("_npl_equal", ast.Load()), [_self_attr(f), _self_attr(f, "other")], [])
        if type_has_array(t) else ast.Compare(_self_attr(f), [ast.Eq()], [_self_attr(f, "other")])
        for f, t in fields]
    result = ast.BoolOp(ast.And(), checks) if len(checks) > 1 else (
        checks[0] if checks else ast.Constant(True))
    return ast.FunctionDef("__eq__", _args(["self", "other"]), [guard, ast.Return(result)], [])


def _repr_def(display: str, fields: list[tuple[str, Type]]) -> ast.FunctionDef:
    parts: list[ast.expr] = [ast.Constant(display + "(")]
    for i, (name, ftype) in enumerate(fields):
        parts.append(ast.Constant(("" if i == 0 else ", ") + name + "="))
        if type_has_array(ftype):
            call = ast.Call(ast.Name("_npl_repr", ast.Load()), [_self_attr(name)], [])
            parts.append(ast.FormattedValue(call, -1, None))
        else:
            parts.append(ast.FormattedValue(_self_attr(name), ord("r"), None))
    parts.append(ast.Constant(")"))
    return ast.FunctionDef("__repr__", _args(["self"]), [ast.Return(ast.JoinedStr(parts))], [])


# ------------------------------------------------------------------ type checks

def conforms(value: object, t: Type, struct_classes: dict[str, type]) -> bool:
    """Does `value` have NPL type `t`? (bool is not a number here; an int
    is accepted where a float is expected.)"""
    if isinstance(t, ErrorT):
        return True
    if isinstance(t, PrimT):
        return _conforms_prim(value, t)
    if isinstance(t, OptionalT):
        return value is None or conforms(value, t.inner, struct_classes)
    if isinstance(t, ListT):
        return isinstance(value, list) and _all(value, t.elem, struct_classes)
    if isinstance(t, SetT):
        return isinstance(value, set) and _all(value, t.elem, struct_classes)
    if isinstance(t, DictT):
        kind = Counter if isinstance(t, CounterT) else dict
        return isinstance(value, kind) and _all(value.keys(), t.key, struct_classes) \
            and _all(value.values(), t.value, struct_classes)
    if isinstance(t, TupleT):
        return isinstance(value, tuple) and len(value) == len(t.elems) and all(
            conforms(v, et, struct_classes) for v, et in zip(value, t.elems))
    if isinstance(t, ArrayT):
        if not is_array(value):
            return False
        import numpy as np
        return value.ndim == t.rank and value.dtype == np.dtype(dtype_for(t.elem))
    if isinstance(t, StructT):
        cls = struct_classes.get(t.name)
        return cls is not None and type(value) is cls
    if isinstance(t, FuncT):
        return callable(value)
    return False


def _conforms_prim(value: object, t: PrimT) -> bool:
    if t == INT:
        return type(value) is int
    if t == FLOAT:                       # an int is a valid float value (widening)
        return type(value) is float or type(value) is int
    if t == BOOL:
        return type(value) is bool
    if t == STR:
        return type(value) is str
    if t == NONE:
        return value is None
    return False


def _all(values: Iterable, t: Type, struct_classes: dict[str, type]) -> bool:
    return all(conforms(v, t, struct_classes) for v in values)


def coerce(value: object, t: Type) -> object:
    """Apply NPL's implicit int -> float widening to a host value of type `t`
    (top level only); other values are returned unchanged."""
    if type(value) is int and (t == FLOAT or t == OptionalT(FLOAT)):
        return float(value)
    return value


def describe_type(value: object) -> str:
    """A short name for the Python type of a host value (for messages)."""
    if is_array(value):
        return f"array of {value.dtype} with {value.ndim} dimension(s)"
    return getattr(type(value), "npl_name", type(value).__name__)

