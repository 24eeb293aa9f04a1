"""NPL abstract syntax tree.

The parser (lang/parser.py) turns source text into these nodes; nothing
downstream ever sees a Lark tree. Every node is a frozen dataclass with a
`span` (pycparser's "coordinate"). Nodes compare by identity (`eq=False`) so
that later stages can key side tables (types, resolutions) by node; use
`ast_equal` to compare two trees structurally, ignoring spans.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Optional, Union


@dataclass(frozen=True)
class Span:
    """A source range: 1-based line and column, end exclusive."""
    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


NO_SPAN = Span("<builtin>", 0, 0, 0, 0)


@dataclass(frozen=True, eq=False)
class Node:
    span: Span = field(kw_only=True, default=NO_SPAN, repr=False)


# ---------------------------------------------------------------- type syntax

@dataclass(frozen=True, eq=False)
class TypeExpr(Node):
    """A written type: `int`, `list[int]`, `dict[str, float]`, `int | None`,
    `array[float, 2]`, `tuple[int, str]`. `args` holds the bracketed
    arguments; an integer argument (array rank) is an `IntTypeArg`."""
    name: str
    args: tuple["TypeExpr | IntTypeArg", ...] = ()


@dataclass(frozen=True, eq=False)
class IntTypeArg(Node):
    value: int


@dataclass(frozen=True, eq=False)
class OptionalTypeExpr(Node):
    """`T | None` (also `None | T`)."""
    inner: TypeExpr


AnyTypeExpr = Union[TypeExpr, OptionalTypeExpr]


# ---------------------------------------------------------------- expressions

@dataclass(frozen=True, eq=False)
class Expr(Node):
    pass


@dataclass(frozen=True, eq=False)
class IntLit(Expr):
    value: int


@dataclass(frozen=True, eq=False)
class FloatLit(Expr):
    value: float


@dataclass(frozen=True, eq=False)
class StrLit(Expr):
    value: str


@dataclass(frozen=True, eq=False)
class BoolLit(Expr):
    value: bool


@dataclass(frozen=True, eq=False)
class NoneLit(Expr):
    pass


@dataclass(frozen=True, eq=False)
class FString(Expr):
    """f"..." : `parts` alternate literal text (str) and FormatField."""
    parts: tuple[Union[str, "FormatField"], ...]


@dataclass(frozen=True, eq=False)
class FormatField(Node):
    """`{expr!conv:spec}` inside an f-string; `spec` may itself contain
    nested fields, so it is a tuple like FString.parts."""
    expr: Expr
    conversion: Optional[str]          # "r", "s" or None
    spec: tuple[Union[str, "FormatField"], ...] = ()


@dataclass(frozen=True, eq=False)
class Name(Expr):
    id: str


@dataclass(frozen=True, eq=False)
class BinOp(Expr):
    """Arithmetic, bit and set operators: + - * / // % ** | & ^ << >>"""
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, eq=False)
class UnaryOp(Expr):
    """`-x`, `+x`, `not x`."""
    op: str                              # "-", "+", "not"
    operand: Expr


@dataclass(frozen=True, eq=False)
class BoolOp(Expr):
    """`a and b and c` / `a or b`."""
    op: str                              # "and" | "or"
    values: tuple[Expr, ...]


@dataclass(frozen=True, eq=False)
class Compare(Expr):
    """Chained comparison `a < b <= c`. ops include == != < <= > >= in
    "not in" "is" "is not"."""
    left: Expr
    ops: tuple[str, ...]
    comparators: tuple[Expr, ...]


@dataclass(frozen=True, eq=False)
class IfExp(Expr):
    body: Expr
    test: Expr
    orelse: Expr


@dataclass(frozen=True, eq=False)
class Keyword(Node):
    name: str
    value: Expr


@dataclass(frozen=True, eq=False)
class Call(Expr):
    func: Expr                           # Name or Attribute (method call)
    args: tuple[Expr, ...]
    keywords: tuple[Keyword, ...] = ()


@dataclass(frozen=True, eq=False)
class Attribute(Expr):
    value: Expr
    attr: str


@dataclass(frozen=True, eq=False)
class Index(Expr):
    """`a[i]`; `a[i, j]` has a Tuple index (several `indices`)."""
    value: Expr
    indices: tuple[Expr, ...]


@dataclass(frozen=True, eq=False)
class Slice(Expr):
    """`a[lo:hi:step]`; absent parts are None."""
    value: Expr
    lower: Optional[Expr]
    upper: Optional[Expr]
    step: Optional[Expr]


@dataclass(frozen=True, eq=False)
class ListExpr(Expr):
    elts: tuple[Expr, ...]


@dataclass(frozen=True, eq=False)
class TupleExpr(Expr):
    elts: tuple[Expr, ...]


@dataclass(frozen=True, eq=False)
class SetExpr(Expr):
    elts: tuple[Expr, ...]


@dataclass(frozen=True, eq=False)
class DictExpr(Expr):
    keys: tuple[Expr, ...]
    values: tuple[Expr, ...]


@dataclass(frozen=True, eq=False)
class Comprehension(Node):
    """`for target in iter if cond...` — target is a Name or a TupleExpr
    of Names."""
    target: Expr
    iter: Expr
    conds: tuple[Expr, ...] = ()


@dataclass(frozen=True, eq=False)
class ListComp(Expr):
    elt: Expr
    generators: tuple[Comprehension, ...]


@dataclass(frozen=True, eq=False)
class SetComp(Expr):
    elt: Expr
    generators: tuple[Comprehension, ...]


@dataclass(frozen=True, eq=False)
class DictComp(Expr):
    key: Expr
    value: Expr
    generators: tuple[Comprehension, ...]


@dataclass(frozen=True, eq=False)
class GeneratorExp(Expr):
    elt: Expr
    generators: tuple[Comprehension, ...]


@dataclass(frozen=True, eq=False)
class Lambda(Expr):
    params: tuple[str, ...]
    body: Expr


@dataclass(frozen=True, eq=False)
class Hole(Expr):
    """`?{text}`: an expression hole. `text` is the English inside the
    braces, stripped of surrounding whitespace."""
    text: str


# ---------------------------------------------------------------- statements

@dataclass(frozen=True, eq=False)
class Stmt(Node):
    pass


@dataclass(frozen=True, eq=False)
class Assign(Stmt):
    """`target = value`, or `target: annotation = value` (value may be None
    for a bare declaration `x: int`). Target is Name, Index, Attribute, or
    TupleExpr of Names (unpacking)."""
    target: Expr
    value: Optional[Expr]
    annotation: Optional[AnyTypeExpr] = None


@dataclass(frozen=True, eq=False)
class AugAssign(Stmt):
    target: Expr
    op: str                              # "+", "-", "*", "/", "//", "%", "**", "<<", ">>"
    value: Expr


@dataclass(frozen=True, eq=False)
class If(Stmt):
    """`elif` chains are nested Ifs in `orelse`."""
    test: Expr
    body: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...] = ()


@dataclass(frozen=True, eq=False)
class While(Stmt):
    test: Expr
    body: tuple[Stmt, ...]


@dataclass(frozen=True, eq=False)
class For(Stmt):
    target: Expr                         # Name or TupleExpr of Names
    iter: Expr
    body: tuple[Stmt, ...]


@dataclass(frozen=True, eq=False)
class Break(Stmt):
    pass


@dataclass(frozen=True, eq=False)
class Continue(Stmt):
    pass


@dataclass(frozen=True, eq=False)
class Pass(Stmt):
    pass


@dataclass(frozen=True, eq=False)
class Return(Stmt):
    value: Optional[Expr]


@dataclass(frozen=True, eq=False)
class Assert(Stmt):
    test: Expr
    msg: Optional[Expr] = None


@dataclass(frozen=True, eq=False)
class ExprStmt(Stmt):
    value: Expr


# ---------------------------------------------------------------- declarations

@dataclass(frozen=True, eq=False)
class Param(Node):
    name: str
    annotation: AnyTypeExpr


@dataclass(frozen=True, eq=False)
class FuncDef(Node):
    """A function. A *function hole* has `hole_doc` set (the docstring) and
    an empty body. `decorators` holds names such as "kernel"."""
    name: str
    params: tuple[Param, ...]
    returns: Optional[AnyTypeExpr]
    body: tuple[Stmt, ...]
    decorators: tuple[str, ...] = ()
    docstring: Optional[str] = None
    hole_doc: Optional[str] = None

    @property
    def is_hole(self) -> bool:
        return self.hole_doc is not None


@dataclass(frozen=True, eq=False)
class ExternDef(Node):
    name: str
    params: tuple[Param, ...]
    returns: Optional[AnyTypeExpr]


@dataclass(frozen=True, eq=False)
class StructField(Node):
    name: str
    annotation: AnyTypeExpr


@dataclass(frozen=True, eq=False)
class StructDef(Node):
    name: str
    fields: tuple[StructField, ...]


@dataclass(frozen=True, eq=False)
class ConstDef(Node):
    name: str
    annotation: Optional[AnyTypeExpr]
    value: Expr


@dataclass(frozen=True, eq=False)
class Example(Node):
    expr: Expr


@dataclass(frozen=True, eq=False)
class Property(Node):
    name: str
    params: tuple[Param, ...]
    where: Optional[Expr]
    expr: Expr


@dataclass(frozen=True, eq=False)
class ImportFrom(Node):
    module: str
    names: tuple[str, ...]


Decl = Union[FuncDef, ExternDef, StructDef, ConstDef, Example, Property, ImportFrom]


@dataclass(frozen=True, eq=False)
class Module(Node):
    path: str
    decls: tuple[Decl, ...]


# ---------------------------------------------------------------- utilities

def children(node: Node):
    """Yield the direct child nodes of `node`, in field order."""
    for name in _child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, Node):
            yield value
        elif isinstance(value, tuple):
            yield from _nodes_in(value)


_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(cls: type) -> tuple[str, ...]:
    """The fields of node class `cls` other than its span (cached: data
    with 100,000s of nodes is walked several times)."""
    names = _CHILD_FIELDS.get(cls)
    if names is None:
        names = _CHILD_FIELDS[cls] = tuple(f.name for f in fields(cls) if f.name != "span")
    return names


def _nodes_in(value):
    if isinstance(value, Node):
        yield value
    elif isinstance(value, tuple):
        for v in value:
            yield from _nodes_in(v)


_LEAVES = frozenset({IntLit, FloatLit, StrLit, BoolLit, NoneLit, Name})    # no child nodes


def walk(node: Node):
    """Yield `node` and all its descendants, pre-order (without recursion)."""
    stack = [node]
    while stack:
        node = stack.pop()
        yield node
        if type(node) in _LEAVES:
            continue
        kids = list(children(node))
        kids.reverse()
        stack.extend(kids)


def ast_equal(a, b) -> bool:
    """Structural equality of two trees, ignoring spans."""
    if isinstance(a, Node) or isinstance(b, Node):
        if type(a) is not type(b):
            return False
        return all(ast_equal(getattr(a, f.name), getattr(b, f.name))
                   for f in fields(a) if f.name != "span")
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(ast_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return type(a) is type(b) and a == b


def literal_int(e) -> Optional[int]:
    """The value of an int literal, negated or not (`3`, `-1`); else None."""
    if isinstance(e, IntLit):
        return e.value
    if isinstance(e, UnaryOp) and e.op == "-" and isinstance(e.operand, IntLit):
        return -e.operand.value
    return None
