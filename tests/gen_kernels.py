"""Random well-typed numeric kernels, for differential testing of the Numba
back end against the interpreter (tests/test_jit_differential.py).

`kernel_programs()` is a Hypothesis strategy for one NPL program holding
several @kernel functions, all of the signature

    def gK(a: array[float], b: array[int], x: float, n: int) -> float

each built from random statements: new and updated locals, if/else, for
loops over small ranges (from 0, 1, -2 or an outer loop's variable + 1),
bounded while loops, array reads and writes at indices reduced into range
(`a[(i) % len(a)]`) or not (a loop variable, a constant from -2 to 3: an
index error is then the interpreter's), sweeps indexed only by their loop
variable, constants and outer loop variables (which the back end versions:
checked once before the loop), parallel `+=` reductions,
calls of the earlier functions, and int / float / bool expressions over
+ - * / // % **, comparisons, and/or/not, conditional expressions, the
scalar math built-ins, int()/float()/round()/floor()/abs()/min()/max(). A
divisor is mostly guarded (`d * d + 1.0`, `abs(j) + 1`) and sometimes not;
ints are kept far from int64 overflow (products reduced `% 9973`), because
there compiled kernels wrap by design (docs/reference.md §2) while the interpreter does
not. Errors are part of the contract: a division by zero or a math domain
error must be the same error compiled.

All functions of one example go into one program, so one example costs one
compilation of a few modules; keep max_examples small.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

SIGNATURE = "(a: array[float], b: array[int], x: float, n: int) -> float"


@dataclass
class Scope:
    floats: list[str]
    ints: list[str]
    bools: list[str]
    callable: list[str]                      # earlier functions
    loop_vars: list[str] = field(default_factory=list)
    counter: list[int] = field(default_factory=lambda: [0])
    in_loop: bool = False                    # no calls in loops: interpreting them would take long

    def fresh(self, prefix: str) -> str:
        self.counter[0] += 1
        return f"{prefix}{self.counter[0]}"

    def child(self, loop: bool = False) -> "Scope":
        """A nested block: it sees the enclosing names; names it makes stay in it."""
        return Scope(list(self.floats), list(self.ints), list(self.bools), self.callable,
                     list(self.loop_vars), self.counter, self.in_loop or loop)


class Gen:
    """Draws expressions and statements for one function."""

    def __init__(self, draw, unguarded: bool):
        self.draw = draw
        self.unguarded = unguarded           # allow divisions that may fail

    def pick(self, options):
        return self.draw(st.sampled_from(options))

    # -------------------------------------------------------- expressions
    def f(self, sc: Scope, d: int) -> str:
        """A float expression."""
        leaf = d <= 0 or self.draw(st.integers(0, 3)) == 0
        if leaf:
            kind = self.pick(["lit", "var", "x", "read"] if sc.floats else ["lit", "x", "read"])
            if kind == "lit":
                v = self.draw(st.floats(-50, 50, allow_nan=False, allow_infinity=False))
                return repr(round(v, 3))
            if kind == "var":
                return self.pick(sc.floats)
            if kind == "x":
                return "x"
            return f"a[{self.index(sc, 'a', d)}]"
        kind = self.pick(["+", "-", "*", "div", "float", "abs", "minmax", "sqrt", "ifexp", "math",
                          "round", "call", "pow", "sum", "unguarded"])
        if kind in ("+", "-", "*"):
            return f"({self.f(sc, d - 1)} {kind} {self.f(sc, d - 1)})"
        if kind == "div":
            return f"({self.f(sc, d - 1)} / ({self.f(sc, d - 1)} ** 2 + 1.0))"
        if kind == "float":
            return f"float({self.i(sc, d - 1)})"
        if kind == "abs":
            return f"abs({self.f(sc, d - 1)})"
        if kind == "minmax":
            return f"{self.pick(['min', 'max'])}({self.f(sc, d - 1)}, {self.f(sc, d - 1)})"
        if kind == "sqrt":
            return f"sqrt(abs({self.f(sc, d - 1)}))"
        if kind == "ifexp":
            return f"({self.f(sc, d - 1)} if {self.b(sc, d - 1)} else {self.f(sc, d - 1)})"
        if kind == "math":
            fn = self.pick(["sin", "cos", "atan", "exp"])
            arg = self.f(sc, d - 1)
            return f"{fn}(min({arg}, 50.0))" if fn == "exp" else f"{fn}({arg})"
        if kind == "round":
            return f"round({self.f(sc, d - 1)}, {self.draw(st.integers(0, 3))})"
        if kind == "call" and sc.callable and not sc.in_loop:
            g = self.pick(sc.callable)
            return f"{g}(a, b, {self.f(sc, d - 1)}, {self.i(sc, d - 1)} % 7)"
        if kind == "pow":
            return f"(abs({self.f(sc, d - 1)}) + 1.0) ** {self.pick(['0.5', '2', '-1.5', '3'])}"
        if kind == "sum":
            return "sum(a)"
        if kind == "unguarded" and self.unguarded:
            op = self.pick(["/", "//", "%"])
            return f"({self.f(sc, d - 1)} {op} {self.f(sc, d - 1)})"
        return self.pick(["x", "1.5"] + sc.floats)

    def i(self, sc: Scope, d: int) -> str:
        """An int expression whose value stays well inside int64."""
        leaf = d <= 0 or self.draw(st.integers(0, 3)) == 0
        names = sc.ints + sc.loop_vars
        if leaf:
            kind = self.pick(["lit", "var", "n", "len", "read"] if names else ["lit", "n", "len", "read"])
            if kind == "lit":
                return str(self.draw(st.integers(-60, 60)))
            if kind == "var":
                return self.pick(names)
            if kind == "n":
                return "n"
            if kind == "len":
                return "len(a)"
            return f"b[{self.index(sc, 'b', d)}]"
        kind = self.pick(["+", "-", "*", "//", "%", "int", "round", "floor", "abs", "minmax", "ifexp"])
        if kind in ("+", "-"):
            return f"({self.i(sc, d - 1)} {kind} {self.i(sc, d - 1)})"
        if kind == "*":
            return f"(({self.i(sc, d - 1)} * {self.i(sc, d - 1)}) % 9973)"
        if kind in ("//", "%"):
            sign = self.pick(["", "-"])
            den = f"{sign}(abs({self.i(sc, d - 1)}) + 1)"
            if self.unguarded and self.draw(st.integers(0, 4)) == 0:
                den = self.i(sc, d - 1)
            return f"({self.i(sc, d - 1)} {kind} {den})"
        if kind in ("int", "round", "floor"):
            return f"{kind}(max(min({self.f(sc, d - 1)}, 1000000.0), -1000000.0))"
        if kind == "abs":
            return f"abs({self.i(sc, d - 1)})"
        if kind == "minmax":
            return f"{self.pick(['min', 'max'])}({self.i(sc, d - 1)}, {self.i(sc, d - 1)})"
        return f"({self.i(sc, d - 1)} if {self.b(sc, d - 1)} else {self.i(sc, d - 1)})"

    def b(self, sc: Scope, d: int) -> str:
        leaf = d <= 0 or self.draw(st.integers(0, 2)) == 0
        if leaf:
            if sc.bools and self.draw(st.booleans()):
                return self.pick(sc.bools)
            op = self.pick(["<", "<=", ">", ">=", "==", "!="])
            if self.draw(st.booleans()):
                return f"({self.f(sc, 0)} {op} {self.f(sc, 0)})"
            return f"({self.i(sc, 0)} {op} {self.i(sc, 0)})"
        kind = self.pick(["and", "or", "not", "cmp"])
        if kind in ("and", "or"):
            return f"({self.b(sc, d - 1)} {kind} {self.b(sc, d - 1)})"
        if kind == "not":
            return f"(not {self.b(sc, d - 1)})"
        op = self.pick(["<", "<=", ">", ">="])
        return f"({self.f(sc, d - 1)} {op} {self.f(sc, d - 1)})"

    def index(self, sc: Scope, array: str, d: int) -> str:
        kind = self.pick(["loop", "reduced", "raw_loop", "constant"])
        if kind == "raw_loop" and sc.loop_vars:      # may be out of range: the same error
            return self.pick(sc.loop_vars)
        if kind == "constant":                       # from the end too
            return str(self.draw(st.integers(-2, 3)))
        if kind == "loop" and sc.loop_vars:
            return f"{self.pick(sc.loop_vars)} % len({array})"
        return f"({self.i(sc, max(d - 1, 0))}) % len({array})"

    # -------------------------------------------------------- statements
    def block(self, sc: Scope, depth: int, count: int, pad: str) -> list[str]:
        lines: list[str] = []
        for _ in range(count):
            lines.extend(self.stmt(sc, depth, pad))
        return lines or [pad + "pass"]

    def stmt(self, sc: Scope, depth: int, pad: str) -> list[str]:
        kinds = ["newf", "newi", "newb", "setf", "seti", "write", "writeb"]
        if depth > 0:
            kinds += ["if", "for", "while", "prange", "sweep"]
        kind = self.pick(kinds)
        if kind == "newf":
            v = sc.fresh("f")
            line = f"{pad}{v} = {self.f(sc, 2)}"
            sc.floats.append(v)
            return [line]
        if kind == "newi":
            v = sc.fresh("i")
            line = f"{pad}{v} = {self.i(sc, 2)}"
            sc.ints.append(v)
            return [line]
        if kind == "newb":
            v = sc.fresh("c")
            line = f"{pad}{v} = {self.b(sc, 2)}"
            sc.bools.append(v)
            return [line]
        if kind == "setf" and sc.floats:
            v = self.pick(sc.floats)
            op = self.pick(["=", "+=", "-=", "*="])
            return [f"{pad}{v} {op} {self.f(sc, 2)}"]
        if kind == "seti" and sc.ints:
            v = self.pick(sc.ints)
            return [f"{pad}{v} = ({v} + {self.i(sc, 2)}) % 9973"]
        if kind == "write":
            return [f"{pad}a[{self.index(sc, 'a', 2)}] = {self.f(sc, 2)}"]
        if kind == "writeb":
            return [f"{pad}b[{self.index(sc, 'b', 2)}] = {self.i(sc, 2)}"]
        if kind == "if":
            lines = [f"{pad}if {self.b(sc, 2)}:"] + self.block(sc.child(), depth - 1, 2, pad + "    ")
            if self.draw(st.booleans()):
                lines += [f"{pad}else:"] + self.block(sc.child(), depth - 1, 2, pad + "    ")
            return lines
        if kind == "for":
            inner = sc.child(loop=True)
            k = sc.fresh("k")
            inner.loop_vars.append(k)
            bound = self.pick(["len(a)", "4", f"abs({self.i(sc, 1)}) % 6"])
            starts = ["", "1, ", "-2, "] + [f"{v} + 1, " for v in sc.loop_vars]
            start = self.pick(starts)
            return [f"{pad}for {k} in range({start}{bound}):"] + self.block(inner, depth - 1, 2, pad + "    ")
        if kind == "while":
            w = sc.fresh("w")
            inner = sc.child(loop=True)
            body = self.block(inner, depth - 1, 2, pad + "    ")
            return [f"{pad}{w} = 0", f"{pad}while {w} < 5 and {self.b(sc, 1)}:"] + body + \
                [f"{pad}    {w} += 1"]
        if kind == "sweep":                     # indexed only by k, constants, outer loop variables
            acc, k = sc.fresh("s"), sc.fresh("k")
            start = self.pick(["", "1, ", "-2, "] + [f"{v} + 1, " for v in sc.loop_vars])
            bound = self.pick(["len(a)", "4", "len(b) - 1"])

            def at() -> str:
                return self.pick([k, k, str(self.draw(st.integers(-2, 3)))] + sc.loop_vars)
            lines = [f"{pad}{acc} = 0.0", f"{pad}for {k} in range({start}{bound}):",
                     f"{pad}    {acc} += a[{at()}] * {self.draw(st.sampled_from(['x', '0.5', '-1.25']))}"]
            if self.draw(st.booleans()):
                lines.append(f"{pad}    a[{at()}] = {acc} - float(b[{at()}])")
            if self.draw(st.booleans()):
                lines.append(f"{pad}    b[{at()}] = {k} * 3")
            sc.floats.append(acc)
            return lines
        if kind == "prange":
            acc, k = sc.fresh("s"), sc.fresh("p")
            inner = sc.child(loop=True)
            inner.loop_vars.append(k)
            term = self.f(inner, 2).replace(f"{k} % len(a)", k)
            lines = [f"{pad}{acc} = 0.0", f"{pad}for {k} in prange(len(a)):",
                     f"{pad}    {acc} += a[{k}] * {term}"]
            sc.floats.append(acc)
            return lines
        return [f"{pad}pass"]


@st.composite
def kernel_function(draw, name: str, earlier: list[str]) -> str:
    gen = Gen(draw, unguarded=draw(st.integers(0, 3)) == 0)
    sc = Scope(floats=[], ints=[], bools=[], callable=list(earlier))
    body = gen.block(sc, depth=2, count=draw(st.integers(2, 5)), pad="    ")
    result = gen.f(sc, 2)
    return "\n".join(["@kernel", f"def {name}{SIGNATURE}:"] + body + [f"    return {result}"])


@st.composite
def kernel_programs(draw, functions: int = 4) -> tuple[str, list[str]]:
    """(NPL source, names of its kernels)."""
    names: list[str] = []
    parts: list[str] = []
    for k in range(functions):
        name = f"g{k}"
        parts.append(draw(kernel_function(name, names)))
        names.append(name)
    parts.append("def main():\n    print(1)")
    return "\n\n".join(parts) + "\n", names


@st.composite
def kernel_inputs(draw) -> tuple:
    """(a, b, x, n): the arrays as lists (each call gets fresh arrays)."""
    size = draw(st.integers(1, 9))
    a = draw(st.lists(st.floats(-20, 20, allow_nan=False, allow_infinity=False), min_size=size,
                      max_size=size))
    b = draw(st.lists(st.integers(-40, 40), min_size=size, max_size=size))
    x = draw(st.floats(-10, 10, allow_nan=False, allow_infinity=False))
    n = draw(st.integers(-20, 20))
    return a, b, x, n
