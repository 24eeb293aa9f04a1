"""The run-time half of runtime/values.py: what running a compiled program
needs, without the compiler's imports.

This module imports nothing from the front end (no `ast`, no NPL types) and
never imports NumPy: a value can only be an array if NumPy is already
loaded, so the text and equality functions look the module up in
`sys.modules` (a program that never touches arrays never pays for NumPy).
runtime/values.py re-exports everything here; the fast start-up path
(npl/fast.py) imports this module directly.

  * `npl_str` / `npl_repr` / `npl_format` / `npl_equal`: docs/reference.md §6;
  * `slot_name` / `field_of_slot`: struct field <-> Python attribute;
  * `build_struct_class`: a struct's class from the code object that
    runtime/values.py `struct_code` compiles for it (the code object is what
    the compile cache stores).
"""
from __future__ import annotations

import sys
from collections import Counter
from types import CodeType


def _ndarray():
    """numpy.ndarray when NumPy is loaded, else None (then no value is an array)."""
    np = sys.modules.get("numpy")
    return getattr(np, "ndarray", None) if np is not None else None


def is_array(value: object) -> bool:
    nd = _ndarray()
    return nd is not None and isinstance(value, nd)


# ------------------------------------------------------------------ text form

def npl_repr(value: object) -> str:
    """The text of `value` inside a container (strings quoted)."""
    if is_array(value):
        return f"array({value.tolist()!r})"
    if isinstance(value, list):
        return "[" + ", ".join(map(npl_repr, value)) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(map(npl_repr, value))
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, Counter):                 # as Python: most common first
        return f"Counter({npl_repr(dict(value.most_common()))})" if value else "Counter()"
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
    if is_array(value) or (spec == "" and isinstance(value, (list, tuple, dict, set))):
        return format(npl_str(value), spec)
    return format(value, spec)


def npl_equal(a: object, b: object) -> bool:
    """`==` for values that may contain arrays (equal shape and elements)."""
    nd = _ndarray()
    if nd is not None and (isinstance(a, nd) or isinstance(b, nd)):
        return isinstance(a, nd) and isinstance(b, nd) \
            and a.shape == b.shape and bool((a == b).all())
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(npl_equal, a, b))
    if isinstance(a, Counter) and isinstance(b, Counter):
        return a == b                              # as Python: a missing key counts 0
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            npl_equal(v, b[k]) for k, v in a.items())
    return a == b


# ------------------------------------------------------------------ structs

def slot_name(field: str) -> str:
    """The Python attribute that holds struct field `field`."""
    return "s_" + field


def field_of_slot(attr: str) -> str:
    """The NPL field name of a generated attribute (for error messages)."""
    return attr[2:] if attr.startswith("s_") else attr


def demangle(name: str) -> str:
    """NPL name of a generated Python name (for messages)."""
    if name.startswith("v_"):
        return name[2:]
    if name.startswith("s_"):
        return field_of_slot(name)
    return name


# The module struct classes claim to come from (their repr, pickling errors).
STRUCT_MODULE = "npl.runtime.values"


def build_struct_class(ir_name: str, names: tuple[str, ...] | list[str], code: CodeType) -> type:
    """The class of struct `ir_name` with fields `names`, whose __init__,
    __eq__ and __repr__ are defined by running `code` (values.struct_code)."""
    display = ir_name.rsplit(".", 1)[-1]
    namespace: dict = {"__builtins__": {}, "_npl_repr": npl_repr, "_npl_equal": npl_equal,
                       "NotImplemented": NotImplemented}
    exec(code, namespace)
    members = {"__slots__": tuple(slot_name(f) for f in names), "__hash__": None,
               "__init__": namespace["__init__"], "__eq__": namespace["__eq__"],
               "__repr__": namespace["__repr__"], "npl_fields": tuple(names),
               "npl_name": ir_name, "__module__": STRUCT_MODULE}
    for f in names:                       # host code reads fields by their NPL names
        if not f.startswith("__") and f not in members:
            members[f] = _field_property(slot_name(f))
    return type(display, (), members)


def _field_property(slot: str) -> property:
    def get(self):
        return getattr(self, slot)

    def set_(self, value):
        setattr(self, slot, value)
    return property(get, set_)
