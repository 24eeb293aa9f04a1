"""NPL's intermediate representation.

A small, typed, structured IR (tinygrad-style: few node kinds, one table of
primitive operations). The lowering pass (compiler/lower.py) builds it from
the checked AST; `compiler/irprint.py` prints it, `compiler/irverify.py`
verifies it, and the back ends (runtime/codegen.py for the Python code-object
runtime, runtime/jit.py for Numba) consume it.

What the IR has already resolved, so back ends never look at the AST:
  * every expression carries its static `type` (lang/types.py) and `span`;
  * names are resolved: `Local` (parameter or local variable), `Global`
    (a module `const`), `Call` of a user function by its unique IR name;
  * built-ins, operators and methods are `Prim(op, args, kwargs)` with the op
    named in PRIM_OPS below; keyword arguments are normalised (positional
    where the built-in takes them positionally, `kwargs` otherwise);
  * int -> float widening is static only: as in Python, an int stored in a
    float variable stays an int at run time (`x: float = 3; print(x)` prints
    3, as the conformance suite requires); typed back ends (Numba) convert;
  * optional narrowing is erased (a narrowed `T | None` is used as `T`);
  * augmented assignment is desugared; `elif` is nested `If`; `for i in
    range(...)` is `ForRange`; examples and properties are `TestCase`s.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

from npl.lang.ast import NO_SPAN, Span
from npl.lang.types import Type

# --------------------------------------------------------------- primitives
#
# Operators (args are the operands; result type is the node's type):
#   add sub mul truediv floordiv mod pow neg pos not
#   bitor bitand bitxor bitsub        (int | & ^; set | & ^ -; dict |)
#   int_to_float                      (implicit widening)
#   truthy                            (truth value of a non-bool in a condition)
# Indexing (first arg is the container; its type says which kind):
#   getitem(obj, *indices)            list/str/dict/tuple/array element
#   slice(obj, lower, upper, step)    absent bounds are Const(None)
#   setslice(obj, lower, upper, step, value)   `obj[lower:upper:step] = value`, a list's
#                                     (an ExprStmt: the value is evaluated first)
# Built-in functions, named as in NPL (docs/reference.md §6):
#   print(*values, sep=, end=)        kwargs only when given
#   len range enumerate zip list set dict tuple abs min max sum sorted
#   reversed map filter any all next str int float bool round divmod pow ord chr
#   hex bin isinstance?(no) sqrt exp log log2 log10 sin cos tan asin acos
#   atan atan2 floor ceil isnan isinf factorial comb perm gcd lcm isqrt
#   zeros ones empty full arange array copy dot
#   heappush heappop heapify heappushpop heapreplace nlargest nsmallest
#   combinations permutations         (Python's itertools; r a constant)
#   Counter                           (Python's collections.Counter)
#   min/max/sorted take kwargs key= (a Lambda) and sorted reverse=
#   zeros/ones/empty/full take kwargs dtype= as Const("int"|"float"|"bool")
# Methods, named "<kind>.<method>", receiver first:
#   str.*   (docs/reference.md §6 list, plus format-helpers below)
#   list.*  dict.*  set.*  array.shape (attribute, no call)
#   Counter.* (its own methods; the dict methods on a Counter are dict.*)
# String formatting (f-strings):
#   format(value, spec)               spec is a str-typed expr ("" for none)
#   repr(value)                       the !r conversion
#   concat(*parts)                    join str parts
PRIM_OPS = frozenset("""
add sub mul truediv floordiv mod pow neg pos not bitor bitand bitxor bitsub lshift rshift
int_to_float truthy getitem slice setslice
print len range enumerate zip list set dict tuple abs min max sum sorted reversed
map filter any all next str int float bool round divmod pow ord chr hex bin
sqrt exp log log2 log10 sin cos tan asin acos atan atan2 floor ceil isnan isinf
zeros ones empty full arange array copy dot
heappush heappop heapify heappushpop heapreplace nlargest nsmallest
combinations permutations
factorial comb perm gcd lcm isqrt
format repr concat
str.lower str.upper str.strip str.lstrip str.rstrip str.split str.splitlines str.join
str.replace str.startswith str.endswith str.find str.rfind str.index str.count
str.isdigit str.isalpha str.isalnum str.isspace str.isupper str.islower str.title
str.capitalize str.swapcase str.zfill str.center str.ljust str.rjust str.partition
list.append list.pop list.insert list.extend list.remove list.index list.count
list.copy list.clear list.sort list.reverse
dict.get dict.keys dict.values dict.items dict.pop dict.copy dict.setdefault
dict.update dict.clear
set.add set.remove set.discard set.pop set.copy set.clear set.union
set.intersection set.difference set.issubset set.issuperset
Counter Counter.most_common Counter.elements Counter.total Counter.copy Counter.update
Counter.subtract
array.shape
""".split())


# --------------------------------------------------------------- expressions

@dataclass(eq=False)
class Expr:
    type: Type
    span: Span = field(default=NO_SPAN, kw_only=True, repr=False)


@dataclass(eq=False)
class Const(Expr):
    value: Union[int, float, bool, str, None]


@dataclass(eq=False)
class Local(Expr):
    name: str


@dataclass(eq=False)
class Global(Expr):
    """A module-level `const`, by its unique IR name."""
    name: str


@dataclass(eq=False)
class Call(Expr):
    """Call of a user-defined or extern function by its unique IR name."""
    func: str
    args: tuple[Expr, ...]


@dataclass(eq=False)
class Prim(Expr):
    op: str
    args: tuple[Expr, ...]
    kwargs: tuple[tuple[str, Expr], ...] = ()


@dataclass(eq=False)
class Compare(Expr):
    """Chained comparison; ops are eq ne lt le gt ge in not_in is is_not."""
    ops: tuple[str, ...]
    operands: tuple[Expr, ...]           # len(ops) + 1


@dataclass(eq=False)
class And(Expr):
    values: tuple[Expr, ...]


@dataclass(eq=False)
class Or(Expr):
    values: tuple[Expr, ...]


@dataclass(eq=False)
class IfExp(Expr):
    test: Expr
    body: Expr
    orelse: Expr


@dataclass(eq=False)
class GetField(Expr):
    obj: Expr
    name: str


@dataclass(eq=False)
class MakeStruct(Expr):
    """Construct struct `name` (an IR struct name) with all fields, in
    declaration order."""
    name: str
    args: tuple[Expr, ...]


@dataclass(eq=False)
class ListLit(Expr):
    elts: tuple[Expr, ...]


@dataclass(eq=False)
class TupleLit(Expr):
    elts: tuple[Expr, ...]


@dataclass(eq=False)
class SetLit(Expr):
    elts: tuple[Expr, ...]


@dataclass(eq=False)
class DictLit(Expr):
    keys: tuple[Expr, ...]
    values: tuple[Expr, ...]


@dataclass(eq=False)
class Generator:
    """`for targets in iter if conds`; one name, or several for unpacking."""
    targets: tuple[str, ...]
    unpack: bool                         # True: `for a, b in ...`
    iter: Expr
    conds: tuple[Expr, ...] = ()


@dataclass(eq=False)
class Comp(Expr):
    """Comprehension; kind is "list", "set", "dict" or "gen". For "dict",
    `key` is the key expression and `elt` the value."""
    kind: str
    elt: Expr
    generators: tuple[Generator, ...]
    key: Optional[Expr] = None


@dataclass(eq=False)
class Lambda(Expr):
    params: tuple[str, ...]
    body: Expr


@dataclass(eq=False)
class HoleExpr(Expr):
    """An unfilled expression hole (running it is an error)."""
    key: str
    text: str


# --------------------------------------------------------------- statements

@dataclass(eq=False)
class Stmt:
    span: Span = field(default=NO_SPAN, kw_only=True, repr=False)


@dataclass(eq=False)
class Assign(Stmt):
    name: str
    value: Expr


@dataclass(eq=False)
class Unpack(Stmt):
    names: tuple[str, ...]
    value: Expr


@dataclass(eq=False)
class SetItem(Stmt):
    obj: Expr
    indices: tuple[Expr, ...]
    value: Expr


@dataclass(eq=False)
class SetField(Stmt):
    obj: Expr
    name: str
    value: Expr


@dataclass(eq=False)
class If(Stmt):
    test: Expr
    body: list[Stmt]
    orelse: list[Stmt]


@dataclass(eq=False)
class While(Stmt):
    test: Expr
    body: list[Stmt]


@dataclass(eq=False)
class ForRange(Stmt):
    """`for var in range(start, stop, step)`; `parallel` for prange."""
    var: str
    start: Expr
    stop: Expr
    step: Expr
    body: list[Stmt]
    parallel: bool = False


@dataclass(eq=False)
class ForEach(Stmt):
    targets: tuple[str, ...]
    unpack: bool
    iter: Expr
    body: list[Stmt]


@dataclass(eq=False)
class Break(Stmt):
    pass


@dataclass(eq=False)
class Continue(Stmt):
    pass


@dataclass(eq=False)
class Return(Stmt):
    value: Optional[Expr]


@dataclass(eq=False)
class ExprStmt(Stmt):
    value: Expr


@dataclass(eq=False)
class Assert(Stmt):
    test: Expr
    msg: Optional[Expr]


@dataclass(eq=False)
class HoleBody(Stmt):
    """The body of an unfilled function hole."""
    key: str
    text: str


@dataclass(eq=False)
class OracleBody(Stmt):
    """The body of an @oracle function: the runtime asks the program's
    oracle answerer for the value of this call (SPEC section 10). `key` is
    the oracle's key (compiler/holes.py), `text` its docstring."""
    key: str
    text: str


# --------------------------------------------------------------- top level

@dataclass(eq=False)
class Param:
    name: str
    type: Type


@dataclass(eq=False)
class Function:
    name: str                            # unique IR name ("f", "shapes.area")
    params: list[Param]
    ret: Type
    body: list[Stmt]
    locals: dict[str, Type]              # every local (params included)
    span: Span = NO_SPAN
    kernel: bool = False                 # marked @kernel
    oracle: bool = False                 # marked @oracle: its body is one OracleBody
    source_name: str = ""                # name as written in NPL


@dataclass(eq=False)
class Extern:
    name: str
    params: list[Param]
    ret: Type
    span: Span = NO_SPAN


@dataclass(eq=False)
class StructDef:
    name: str
    fields: list[Param]
    span: Span = NO_SPAN


@dataclass(eq=False)
class ConstDef:
    name: str
    type: Type
    value: Expr
    span: Span = NO_SPAN


@dataclass(eq=False)
class TestCase:
    """An `example` (params empty, `expr` must be True) or a `property`
    (params drawn by Hypothesis; cases where `where` is False are skipped)."""
    kind: str                            # "example" | "property"
    name: str                            # "example@12" or the property name
    params: list[Param]
    where: Optional[Expr]
    expr: Expr
    locals: dict[str, Type]
    span: Span = NO_SPAN


@dataclass(eq=False)
class Module:
    path: str
    structs: list[StructDef]
    consts: list[ConstDef]               # in dependency order
    functions: list[Function]
    externs: list[Extern]
    tests: list[TestCase]
    main: Optional[str] = None           # IR name of main, if any
    main_takes_args: bool = False

    def function(self, name: str) -> Function:
        for f in self.functions:
            if f.name == name:
                return f
        raise KeyError(name)
