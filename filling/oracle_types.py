"""NPL types as JSON, for oracles (SPEC section 10; docs/oracles.md).

An oracle's arguments go to the model as NPL literals and its answer comes
back as JSON. This module takes NPL types and values and gives back:
  * `to_json(value)`: an NPL value as plain JSON data (the store's key and
    record of arguments and answers);
  * `from_json(data, t, structs)`: JSON data as an NPL value of type `t`, or
    `AnswerTypeError` saying where and what was expected;
  * `json_schema(t, prog_structs)`: the JSON schema of `t` (hosted
    providers' structured output);
  * `gbnf(t, prog_structs)`: a GBNF grammar whose sentences are exactly the
    JSON texts of `t` (llama.cpp's constrained decoding): a struct is an
    object with exactly its fields in order, `T | None` allows `null`,
    `list[int]` an array of integers.
The JSON form: int, float, bool, str, None as themselves; lists, sets and
tuples as arrays; a dict as an object when its keys are strings, else as
an array of [key, value] pairs; a struct as an object of its fields.
"""
from __future__ import annotations

from typing import Any

from npl.lang.types import BOOL, FLOAT, INT, NONE, STR, DictT, ListT, OptionalT, SetT, StructT, TupleT, Type
from npl.runtime.convert import JSON, ConversionError, convert, to_json

__all__ = ["AnswerTypeError", "from_json", "to_json", "json_schema", "answer_schema", "gbnf"]


class AnswerTypeError(ValueError):
    """A JSON answer that is not a value of the oracle's type."""


# ---------------------------------------------------------------- values
# One converter for every road into NPL (runtime/convert.py); `to_json` is
# its way out.

def from_json(data: Any, t: Type, structs: dict[str, tuple[type, list]], where: str = "the answer") -> Any:
    """`data` as an NPL value of type `t`; `structs` maps a struct's IR name
    to (class, [(field, type)]). AnswerTypeError says where and what was
    expected."""
    try:
        return convert(data, t, structs, where, JSON)
    except ConversionError as err:
        raise AnswerTypeError(str(err)) from None


# ---------------------------------------------------------------- JSON schema

def json_schema(t: Type, fields_of: dict[str, list]) -> dict:
    """The JSON schema of type `t`; `fields_of` maps a struct's IR name to
    its [(field, type)]."""
    if isinstance(t, OptionalT):
        return {"anyOf": [json_schema(t.inner, fields_of), {"type": "null"}]}
    simple = {NONE: "null", BOOL: "boolean", INT: "integer", FLOAT: "number", STR: "string"}
    if t in simple:
        return {"type": simple[t]}
    if isinstance(t, (ListT, SetT)):
        return {"type": "array", "items": json_schema(t.elem, fields_of)}
    if isinstance(t, TupleT):
        return {"type": "array", "prefixItems": [json_schema(e, fields_of) for e in t.elems],
                "minItems": len(t.elems), "maxItems": len(t.elems)}
    if isinstance(t, DictT):
        if t.key == STR:
            return {"type": "object", "additionalProperties": json_schema(t.value, fields_of)}
        pair = {"type": "array", "prefixItems": [json_schema(t.key, fields_of),
                                                 json_schema(t.value, fields_of)],
                "minItems": 2, "maxItems": 2}
        return {"type": "array", "items": pair}
    if isinstance(t, StructT):
        fields = fields_of[t.name]
        return {"type": "object", "properties": {f: json_schema(ft, fields_of) for f, ft in fields},
                "required": [f for f, _ in fields], "additionalProperties": False}
    raise AnswerTypeError(f"type {t} cannot come from a model")


def answer_schema(t: Type, fields_of: dict[str, list]) -> dict:
    """The schema of the reply object `{"answer": VALUE}` (structured output
    needs an object at the top)."""
    return {"type": "object", "properties": {"answer": json_schema(t, fields_of)},
            "required": ["answer"], "additionalProperties": False}


# ---------------------------------------------------------------- GBNF

_GBNF_BASE = r'''ws ::= [ \t\n]{0,8}
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) ){0,400} "\""
integer ::= "-"? ( "0" | [1-9] [0-9]{0,17} )
number ::= integer ( "." [0-9]{1,17} )? ( [eE] [-+]? [0-9]{1,3} )?
boolean ::= "true" | "false"
null ::= "null"'''


def gbnf(t: Type, fields_of: dict[str, list]) -> str:
    """A GBNF grammar (root rule `root`) for the reply `{"answer": VALUE}`
    with VALUE of type `t`."""
    rules: dict[str, str] = {}
    value = _rule(t, fields_of, rules)
    lines = [f'root ::= "{{" ws "\\"answer\\"" ws ":" ws {value} ws "}}"']
    lines += [f"{name} ::= {body}" for name, body in rules.items()]
    return "\n".join(lines) + "\n" + _GBNF_BASE + "\n"


def _rule(t: Type, fields_of: dict[str, list], rules: dict[str, str]) -> str:
    """The name of a rule for values of `t`, adding it (and those it needs)."""
    simple = {NONE: "null", BOOL: "boolean", INT: "integer", FLOAT: "number", STR: "string"}
    if t in simple:
        return simple[t]
    name = "t" + "".join(c if c.isalnum() else "-" for c in str(t)).strip("-")
    name = name.replace("--", "-")
    if name in rules:
        return name
    rules[name] = ""                      # reserve (recursive structs)
    if isinstance(t, OptionalT):
        body = f"{_rule(t.inner, fields_of, rules)} | null"
    elif isinstance(t, (ListT, SetT)):
        item = _rule(t.elem, fields_of, rules)
        body = f'"[" ws ( {item} ( ws "," ws {item} ){{0,63}} )? ws "]"'
    elif isinstance(t, TupleT):
        items = ' ws "," ws '.join(_rule(e, fields_of, rules) for e in t.elems)
        body = f'"[" ws {items} ws "]"'
    elif isinstance(t, DictT) and t.key == STR:
        v = _rule(t.value, fields_of, rules)
        body = f'"{{" ws ( string ws ":" ws {v} ( ws "," ws string ws ":" ws {v} ){{0,63}} )? ws "}}"'
    elif isinstance(t, DictT):
        pair = f'"[" ws {_rule(t.key, fields_of, rules)} ws "," ws {_rule(t.value, fields_of, rules)} ws "]"'
        body = f'"[" ws ( {pair} ( ws "," ws {pair} ){{0,63}} )? ws "]"'
    elif isinstance(t, StructT):
        parts = [f'"\\"{f}\\"" ws ":" ws {_rule(ft, fields_of, rules)}' for f, ft in fields_of[t.name]]
        body = '"{" ws ' + ' ws "," ws '.join(parts) + ' ws "}"'
    else:
        raise AnswerTypeError(f"type {t} cannot come from a model")
    rules[name] = body
    return name
