"""NPL values at run time.

NPL values are plain Python objects: int, float, bool, str, None, list,
dict, set, tuple; arrays are NumPy arrays; a struct is an instance of a class
generated here from its `StructDef` (with __slots__, field-wise ==, no
hashing, repr `Point(x=1.0, y=2.0)`).

This module takes NPL types and values and gives back:
  * `npl_str` / `npl_repr`: text as SPEC section 6 prints it (Python's
    print, with arrays shown as `array([0.0, 1.0])`);
  * `npl_equal`: `==` for values containing arrays (one bool, not a mask);
  * `make_struct_class`: the class for a struct;
  * `conforms`: whether a host-supplied value has an NPL type (extern
    results, test inputs);
  * `type_has_array`: whether a type's text form needs the slow formatter.
"""
from __future__ import annotations

import ast
from typing import Iterable

import numpy as np

from npl.lang.types import (BOOL, FLOAT, INT, NONE, STR, ArrayT, DictT, ErrorT, FuncT,
                            IterT, ListT, OptionalT, PrimT, SetT, StructT, TupleT, Type)

DTYPES = {"int": np.int64, "float": np.float64, "bool": np.bool_}


def dtype_for(elem: PrimT):
    """The NumPy dtype of an `array[elem]`."""
    return DTYPES[elem.name]


# ------------------------------------------------------------------ text form

def npl_repr(value: object) -> str:
    """The text of `value` inside a container (strings quoted)."""
    if isinstance(value, np.ndarray):
        return f"array({value.tolist()!r})"
    if isinstance(value, list):
        return "[" + ", ".join(map(npl_repr, value)) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(map(npl_repr, value))
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{npl_repr(k)}: {npl_repr(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(map(npl_repr, value)) + "}" if value else "set()"
    return repr(value)


def npl_str(value: object) -> str:
    """The text `print(value)` and `str(value)` give."""
    if isinstance(value, str):
        return value
    return npl_repr(value)


def npl_format(value: object, spec: str) -> str:
    """f-string `{value:spec}`: Python's format(), arrays as npl_str."""
    if isinstance(value, np.ndarray) or (spec == "" and isinstance(value, (list, tuple, dict, set))):
        return format(npl_str(value), spec)
    return format(value, spec)


def npl_equal(a: object, b: object) -> bool:
    """`==` for values that may contain arrays (equal shape and elements)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) \
            and a.shape == b.shape and bool((a == b).all())
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(npl_equal, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            npl_equal(v, b[k]) for k, v in a.items())
    return a == b


def type_has_array(t: Type) -> bool:
    """Does a value of type `t` contain an array somewhere (so that Python's
    own str/repr would print it wrongly)? Struct reprs handle their own
    fields, so a struct counts as array-free."""
    if isinstance(t, ArrayT):
        return True
    if isinstance(t, (ListT, SetT, IterT)):
        return type_has_array(t.elem)
    if isinstance(t, OptionalT):
        return type_has_array(t.inner)
    if isinstance(t, DictT):
        return type_has_array(t.key) or type_has_array(t.value)
    if isinstance(t, TupleT):
        return any(type_has_array(e) for e in t.elems)
    return False


# ------------------------------------------------------------------ structs

def _slot(field: str) -> str:
    return "s_" + field


def slot_name(field: str) -> str:
    """The Python attribute that holds struct field `field`."""
    return _slot(field)


def field_of_slot(attr: str) -> str:
    """The NPL field name of a generated attribute (for error messages)."""
    return attr[2:] if attr.startswith("s_") else attr


def make_struct_class(ir_name: str, fields: list[tuple[str, Type]]) -> type:
    """A class for struct `ir_name`: positional __init__ in field order,
    field-wise __eq__, unhashable, repr `Name(f=value, ...)`."""
    display = ir_name.rsplit(".", 1)[-1]
    names = [f for f, _ in fields]
    module = ast.Module(body=[_init_def(names), _eq_def(fields), _repr_def(display, fields)],
                        type_ignores=[])
    ast.fix_missing_locations(module)
    namespace: dict = {"__builtins__": {}, "_npl_repr": npl_repr, "_npl_equal": npl_equal,
                       "NotImplemented": NotImplemented}
    exec(compile(module, f"<struct {display}>", "exec"), namespace)
    members = {"__slots__": tuple(_slot(f) for f in names), "__hash__": None,
               "__init__": namespace["__init__"], "__eq__": namespace["__eq__"],
               "__repr__": namespace["__repr__"], "npl_fields": tuple(names),
               "npl_name": ir_name}
    return type(display, (), members)


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
        return isinstance(value, dict) and _all(value.keys(), t.key, struct_classes) \
            and _all(value.values(), t.value, struct_classes)
    if isinstance(t, TupleT):
        return isinstance(value, tuple) and len(value) == len(t.elems) and all(
            conforms(v, et, struct_classes) for v, et in zip(value, t.elems))
    if isinstance(t, ArrayT):
        return isinstance(value, np.ndarray) and value.ndim == t.rank \
            and value.dtype == np.dtype(dtype_for(t.elem))
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
    if isinstance(value, np.ndarray):
        return f"array of {value.dtype} with {value.ndim} dimension(s)"
    return getattr(type(value), "npl_name", type(value).__name__)

