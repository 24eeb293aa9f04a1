"""What the checker knows about a program, handed to the lowering pass.

`CheckedProgram` is the checker's output: symbol tables for functions,
structs and constants (across the main file and its imports), and side
tables keyed by AST node identity: the type of every expression, what every
name and call resolves to, which expressions widen int to float, and every
hole with the scope it can see.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

from . import ast
from .types import Type


@dataclass
class FuncInfo:
    ir_name: str
    name: str
    module: str                           # path of the file that defines it
    params: list[tuple[str, Type]]
    ret: Type
    decl: Union[ast.FuncDef, ast.ExternDef]
    extern: bool = False
    kernel: bool = False
    oracle: bool = False                  # answered by a model at run time (SPEC section 10)
    locals: dict[str, Type] = field(default_factory=dict)


@dataclass
class StructInfo:
    ir_name: str
    name: str
    module: str
    fields: list[tuple[str, Type]]
    decl: ast.StructDef

    def field_type(self, name: str) -> Optional[Type]:
        for f, t in self.fields:
            if f == name:
                return t
        return None


@dataclass
class ConstInfo:
    ir_name: str
    name: str
    module: str
    type: Type
    decl: ast.ConstDef


Symbol = Union[FuncInfo, StructInfo, ConstInfo]


@dataclass(frozen=True)
class Ref:
    """What a Name expression refers to. kind: local | const | mathconst."""
    kind: str
    name: str
    value: object = None


@dataclass(frozen=True)
class CallRef:
    """What a Call resolves to.
    kind: func (user/extern function, target = IR name), struct (target = IR
    struct name), builtin (target = PRIM op), method (target = "<kind>.<m>",
    receiver is call.func.value).
    `args` are the arguments in parameter order (keywords placed); `kwargs`
    are keyword arguments a built-in keeps as keywords."""
    kind: str
    target: str
    args: tuple = ()
    kwargs: tuple = ()


@dataclass
class HoleInfo:
    kind: str                             # "expression" | "function" | "oracle"
    node: Union[ast.Hole, ast.FuncDef]
    module: str
    expected: Type
    scope: dict[str, Type]                # visible locals, in definition order
    function: Optional[FuncInfo]          # enclosing function (or the hole itself)

    @property
    def span(self) -> ast.Span:
        return self.node.span

    @property
    def text(self) -> str:
        return self.node.text if isinstance(self.node, ast.Hole) else (self.node.hole_doc or "")


@dataclass
class TestInfo:
    decl: Union[ast.Example, ast.Property]
    module: str
    params: list[tuple[str, Type]]
    locals: dict[str, Type]


@dataclass
class CheckedProgram:
    main_path: str
    modules: dict[str, ast.Module]
    sources: dict[str, str]
    funcs: dict[str, FuncInfo] = field(default_factory=dict)
    structs: dict[str, StructInfo] = field(default_factory=dict)
    consts: dict[str, ConstInfo] = field(default_factory=dict)
    scopes: dict[str, dict[str, Symbol]] = field(default_factory=dict)
    types: dict[ast.Expr, Type] = field(default_factory=dict)
    refs: dict[ast.Name, Ref] = field(default_factory=dict)
    calls: dict[ast.Call, CallRef] = field(default_factory=dict)
    widen: set = field(default_factory=set)
    holes: list[HoleInfo] = field(default_factory=list)
    oracles: list[FuncInfo] = field(default_factory=list)       # @oracle functions
    tests: list[TestInfo] = field(default_factory=list)

    def struct_by_type(self, t) -> Optional[StructInfo]:
        return self.structs.get(getattr(t, "name", None))

    @property
    def main_module(self) -> ast.Module:
        return self.modules[self.main_path]
