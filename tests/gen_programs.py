"""Hypothesis strategies for random, well-typed NPL programs.

`programs()` draws a program (ints, floats, bools, strs, lists, dicts, a
struct, ifs, bounded whiles, for-range loops, helper functions that call
earlier ones, prints) as NPL source, together with the same program as
Python source: NPL's semantics are Python's for everything generated here,
so CPython running the Python text is an oracle for the interpreter's
output. `kernel_programs()` draws programs whose helpers are numeric
`@kernel` functions (int and float only, ints kept small so the JIT's int64
never overflows), for comparing the interpreter with the JIT.

Every program terminates: loops have literal bounds (a while loop's counter
is incremented first thing in its body and never assigned elsewhere), and a
helper only calls helpers defined before it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

INT, FLOAT, BOOL, STR, LIST, DICT, PT = "int", "float", "bool", "str", "list[int]", "dict[str, int]", "Pt"
ALL_TYPES = (INT, FLOAT, BOOL, STR, LIST, DICT, PT)
KERNEL_TYPES = (INT, FLOAT)

STRINGS = ['"abc"', '""', "'x y'", '"a\\nb"', '"q\\"uote"', "'it\\'s'", '"back\\\\slash"', '"é✓"',
           '"{braces}"', '"tab\\tend"', '"__import__"']
FLOATS = ["0.5", "1.25", "-2.0", "3.0", "1e-3", "0.1", "100.0"]
KEYS = ['"a"', '"b"', '"c"']
METHOD = {INT: "int", FLOAT: "float", BOOL: "bool", STR: "str", LIST: "list", DICT: "dict", PT: "Pt"}
MOD = 10007                   # kernel ints stay below it (no int64 overflow)

STRUCT = "struct Pt:\n    x: int\n    y: int\n"
PY_PRELUDE = ("from math import sqrt\nfrom dataclasses import dataclass\n\n"
              "def kernel(f):\n    return f\n\n"
              "@dataclass\nclass Pt:\n    x: int\n    y: int\n")


@dataclass
class Var:
    name: str
    type: str
    mutable: bool = True


@dataclass
class Func:
    name: str
    params: list[tuple[str, str]]
    ret: str


@dataclass
class Gen:
    draw: object
    kernel: bool = False
    funcs: list[Func] = field(default_factory=list)
    counter: int = 0
    lines: list[str] = field(default_factory=list)

    # -------------------------------------------------------------- helpers
    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def choice(self, items):
        return self.draw(st.sampled_from(list(items)))

    def small(self, lo: int = 0, hi: int = 5) -> int:
        return self.draw(st.integers(lo, hi))

    def types(self):
        return KERNEL_TYPES if self.kernel else ALL_TYPES

    def bound(self, e: str) -> str:
        """Kernel ints are kept in [0, MOD) by a modulo after each step."""
        return f"({e}) % {MOD}" if self.kernel else e

    # -------------------------------------------------------------- expressions
    def expr(self, t: str, env: list[Var], depth: int = 0) -> str:
        """An expression of type `t` over the variables in `env`."""
        names = [v.name for v in env if v.type == t]
        if names and self.draw(st.booleans()):
            return self.choice(names)
        if depth >= 3 or self.draw(st.integers(0, 3)) == 0:
            return self.leaf(t, env)
        return getattr(self, "e_" + METHOD[t])(env, depth + 1)

    def leaf(self, t: str, env: list[Var]) -> str:
        names = [v.name for v in env if v.type == t]
        if names and self.draw(st.booleans()):
            return self.choice(names)
        if t == INT:
            return str(self.draw(st.integers(0 if self.kernel else -20, 20)))
        if t == FLOAT:
            return self.choice(FLOATS)
        if t == BOOL:
            return self.choice(["True", "False"])
        if t == STR:
            return self.choice(STRINGS)
        if t == LIST:
            return "[" + ", ".join(str(self.small(-9, 9)) for _ in range(self.small(1, 3))) + "]"
        if t == DICT:
            return "{" + ", ".join(f"{k}: {self.small(-9, 9)}" for k in KEYS[:self.small(1, 3)]) + "}"
        return f"Pt({self.small(-5, 5)}, {self.small(-5, 5)})"

    def call_of(self, t: str, env: list[Var], depth: int):
        fs = [f for f in self.funcs if f.ret == t]
        if not fs or depth >= 3:
            return None
        f = self.choice(fs)
        return f"{f.name}(" + ", ".join(self.expr(pt, env, depth + 1) for _, pt in f.params) + ")"

    def e_int(self, env, depth) -> str:
        e = lambda t=INT: self.expr(t, env, depth)     # noqa: E731
        options = ["add", "sub", "mul", "floordiv", "mod", "abs", "minmax", "ifexp", "call"]
        if not self.kernel:
            options += ["len_str", "len_list", "sum_list", "index", "get", "field", "int_of_float"]
        kind = self.choice(options)
        if kind == "call":
            return self.call_of(INT, env, depth) or self.leaf(INT, env)
        if kind in ("add", "sub", "mul"):
            op = {"add": "+", "sub": "-", "mul": "*"}[kind]
            return self.bound(f"{e()} {op} {e()}")
        if kind == "floordiv":
            return f"({e()} // (abs({e()}) + 1))"
        if kind == "mod":
            return f"({e()} % (abs({e()}) + 2))"
        if kind == "abs":
            return f"abs({e()})"
        if kind == "minmax":
            return f"{self.choice(['min', 'max'])}({e()}, {e()})"
        if kind == "ifexp":
            return f"({e()} if {e(BOOL)} else {e()})"
        if kind == "len_str":
            return f"len({e(STR)})"
        if kind == "len_list":
            return f"len({e(LIST)})"
        if kind == "sum_list":
            return f"sum({e(LIST)})"
        if kind == "index":
            xs = e(LIST)
            return f"({xs} + [7])[{e()} % (len({xs}) + 1)]"
        if kind == "get":
            return f"{e(DICT)}.get({self.choice(KEYS)}, {e()})"
        if kind == "field":
            return f"{e(PT)}.{self.choice(['x', 'y'])}"
        return f"int({e(FLOAT)} % 1000.0)"

    def e_float(self, env, depth) -> str:
        e = lambda t=FLOAT: self.expr(t, env, depth)   # noqa: E731
        kind = self.choice(["add", "sub", "mul", "div", "sqrt", "of_int", "widen", "abs", "ifexp",
                            "call", "minmax"])
        if kind == "call":
            return self.call_of(FLOAT, env, depth) or self.leaf(FLOAT, env)
        if kind in ("add", "sub", "mul"):
            op = {"add": "+", "sub": "-", "mul": "*"}[kind]
            return f"({e()} {op} {e()})"
        if kind == "div":
            return f"({e()} / (abs({e()}) + 1.0))"
        if kind == "sqrt":
            return f"sqrt(abs({e()}))"
        if kind == "of_int":
            return f"float({self.expr(INT, env, depth)})"
        if kind == "widen":
            return f"({e()} + {self.expr(INT, env, depth)})"
        if kind == "abs":
            return f"abs({e()})"
        if kind == "minmax":
            return f"{self.choice(['min', 'max'])}({e()}, {e()})"
        return f"({e()} if {self.expr(BOOL, env, depth)} else {e()})"

    def e_bool(self, env, depth) -> str:
        kind = self.choice(["cmp_int", "cmp_float", "and", "or", "not"]
                           + ([] if self.kernel else ["cmp_str", "in_str", "in_list", "in_dict", "eq_pt"]))
        e = lambda t: self.expr(t, env, depth)          # noqa: E731
        if kind == "cmp_int":
            return f"({e(INT)} {self.choice(['<', '<=', '==', '!=', '>', '>='])} {e(INT)})"
        if kind == "cmp_float":
            return f"({e(FLOAT)} {self.choice(['<', '>=', '!='])} {e(FLOAT)})"
        if kind in ("and", "or"):
            return f"({e(BOOL)} {kind} {e(BOOL)})"
        if kind == "not":
            return f"(not {e(BOOL)})"
        if kind == "cmp_str":
            return f"({e(STR)} {self.choice(['==', '<', '!='])} {e(STR)})"
        if kind == "in_str":
            return f"({e(STR)} in {e(STR)})"
        if kind == "in_list":
            return f"({e(INT)} in {e(LIST)})"
        if kind == "in_dict":
            return f"({self.choice(KEYS)} in {e(DICT)})"
        return f"({e(PT)} == {e(PT)})"

    def e_str(self, env, depth) -> str:
        e = lambda t=STR: self.expr(t, env, depth)      # noqa: E731
        kind = self.choice(["concat", "upper", "slice", "str_int", "str_float", "fstring", "repeat",
                            "join", "ifexp", "replace", "call"])
        if kind == "call":
            return self.call_of(STR, env, depth) or self.leaf(STR, env)
        if kind == "concat":
            return f"({e()} + {e()})"
        if kind == "upper":
            return f"{e()}.{self.choice(['upper', 'lower', 'strip', 'title'])}()"
        if kind == "slice":
            return f"{e()}[{self.expr(INT, env, depth)}:{self.expr(INT, env, depth)}]"
        if kind == "str_int":
            return f"str({self.expr(INT, env, depth)})"
        if kind == "str_float":
            return f"str({self.expr(FLOAT, env, depth)})"
        if kind == "fstring":          # fields without string literals (no nested quotes)
            strs = [v.name for v in env if v.type == STR]
            last = f"|{{{self.choice(strs)}}}" if strs else ""
            return f'f"<{{{self.leaf(INT, env)}}}|{{{self.leaf(FLOAT, env)}:.3f}}{last}>"'
        if kind == "repeat":
            return f"({e()} * (abs({self.expr(INT, env, depth)}) % 3))"
        if kind == "join":
            return f'"-".join([{e()}, {e()}])'
        if kind == "replace":
            return f'{e()}.replace("a", {e()})'
        return f"({e()} if {self.expr(BOOL, env, depth)} else {e()})"

    def e_list(self, env, depth) -> str:
        kind = self.choice(["literal", "comp", "concat", "sorted", "slice"])
        if kind == "literal":
            return "[" + ", ".join(self.expr(INT, env, depth) for _ in range(self.small(1, 3))) + "]"
        if kind == "comp":
            q = self.fresh("q")
            body = self.expr(INT, env + [Var(q, INT, False)], depth)
            return f"[{body} for {q} in range({self.small(0, 4)})]"
        if kind == "concat":
            return f"({self.expr(LIST, env, depth)} + {self.expr(LIST, env, depth)})"
        if kind == "sorted":
            return f"sorted({self.expr(LIST, env, depth)})"
        return f"{self.expr(LIST, env, depth)}[{self.small(0, 2)}:{self.small(1, 4)}]"

    def e_dict(self, env, depth) -> str:
        if self.draw(st.booleans()):
            q = self.fresh("k")
            return f"{{{q}: len({q}) for {q} in [{', '.join(KEYS[:self.small(1, 3)])}]}}"
        return "{" + ", ".join(f"{k}: {self.expr(INT, env, depth)}" for k in KEYS[:self.small(1, 3)]) + "}"

    def e_Pt(self, env, depth) -> str:
        return f"Pt({self.expr(INT, env, depth)}, {self.expr(INT, env, depth)})"

    # -------------------------------------------------------------- statements
    def block(self, env: list[Var], indent: str, depth: int, n: int, loop: bool = False) -> list[str]:
        env = list(env)                       # names made in here stay in here
        out: list[str] = []
        for _ in range(n):
            out += self.stmt(env, indent, depth, loop)
        return out or [indent + "pass"]

    def stmt(self, env: list[Var], indent: str, depth: int, loop: bool) -> list[str]:
        kinds = ["assign", "assign", "reassign", "augassign", "print"]
        if depth < 2:
            kinds += ["if", "for", "while"]
        if loop:
            kinds.append("break")
        if not self.kernel:
            kinds += ["append", "setitem", "setfield"]
        kind = self.choice(kinds)
        mutable = [v for v in env if v.mutable]
        if kind == "assign":
            t = self.choice(self.types())
            name = self.fresh("v")
            line = f"{indent}{name} = {self.expr(t, env)}"
            env.append(Var(name, t))
            return [line]
        if kind == "reassign" and mutable:
            v = self.choice(mutable)
            return [f"{indent}{v.name} = {self.expr(v.type, env)}"]
        if kind == "augassign":
            nums = [v for v in mutable if v.type in (INT, FLOAT, STR)]
            if nums:
                v = self.choice(nums)
                if v.type == INT and self.kernel:
                    return [f"{indent}{v.name} = ({v.name} + {self.expr(INT, env)}) % {MOD}"]
                op = self.choice(["+=", "-="]) if v.type != STR else "+="
                return [f"{indent}{v.name} {op} {self.expr(v.type, env)}"]
        if kind == "print" and not self.kernel:
            args = [self.expr(self.choice((INT, FLOAT, BOOL, STR, LIST, DICT)), env)
                    for _ in range(self.small(1, 3))]
            return [f"{indent}print({', '.join(args)})"]
        if kind == "if":
            out = [f"{indent}if {self.expr(BOOL, env)}:"]
            out += self.block(env, indent + "    ", depth + 1, self.small(1, 2), loop)
            if self.draw(st.booleans()):
                out += [f"{indent}else:"] + self.block(env, indent + "    ", depth + 1, self.small(1, 2), loop)
            return out
        if kind == "for":
            i = self.fresh("i")
            out = [f"{indent}for {i} in range({self.small(0, 2)}, {self.small(0, 6)}):"]
            return out + self.block(env + [Var(i, INT, False)], indent + "    ", depth + 1, self.small(1, 3), True)
        if kind == "while":
            w = self.fresh("w")
            out = [f"{indent}{w} = 0", f"{indent}while {w} < {self.small(0, 5)}:",
                   f"{indent}    {w} += 1"]
            return out + self.block(env + [Var(w, INT, False)], indent + "    ", depth + 1, self.small(1, 2), True)
        if kind == "break":
            return [f"{indent}if {self.expr(BOOL, env)}:", f"{indent}    break"]
        if kind == "append":
            lists = [v for v in env if v.type == LIST]
            if lists:
                return [f"{indent}{self.choice(lists).name}.append({self.expr(INT, env)})"]
        if kind == "setitem":
            dicts = [v for v in env if v.type == DICT]
            if dicts:
                return [f"{indent}{self.choice(dicts).name}[{self.choice(KEYS)}] = {self.expr(INT, env)}"]
        if kind == "setfield":
            pts = [v for v in env if v.type == PT]
            if pts:
                return [f"{indent}{self.choice(pts).name}.{self.choice(['x', 'y'])} = {self.expr(INT, env)}"]
        name = self.fresh("v")
        line = f"{indent}{name} = {self.expr(INT, env)}"
        env.append(Var(name, INT))
        return [line]

    # -------------------------------------------------------------- declarations
    def function(self) -> list[str]:
        name = self.fresh("f")
        params = [(self.fresh("p"), self.choice(self.types())) for _ in range(self.small(0, 2))]
        ret = self.choice(self.types())
        env = [Var(p, t) for p, t in params]
        body = self.block(env, "    ", 0, self.small(1, 3))
        sig = ", ".join(f"{p}: {t}" for p, t in params)
        head = ["@kernel"] if self.kernel else []
        out = head + [f"def {name}({sig}) -> {ret}:"] + body + [f"    return {self.expr(ret, env)}"]
        self.funcs.append(Func(name, params, ret))
        return out

    def main(self) -> list[str]:
        env: list[Var] = []
        out = ["def main():"]
        if not self.kernel:
            out += self.block(env, "    ", 0, self.small(2, 5))
        for f in self.funcs:
            args = ", ".join(self.expr(t, []) for _, t in f.params)
            out.append(f"    print({f.name}({args}))")
        out.append(f"    print({self.expr(self.choice([t for t in self.types() if t != PT]), [])})")
        return out


@dataclass(frozen=True)
class Generated:
    npl: str
    python: str
    kernel: bool

    def __str__(self) -> str:              # Hypothesis shows this on failure
        return self.npl


def render(gen: Gen, decls: list[list[str]]) -> Generated:
    body = "\n\n".join("\n".join(d) for d in decls) + "\n"
    npl = (STRUCT + "\n" if not gen.kernel else "") + body
    python = PY_PRELUDE + "\n" + body + "\nmain()\n"
    return Generated(npl, python, gen.kernel)


@st.composite
def programs(draw, kernel: bool = False) -> Generated:
    gen = Gen(draw, kernel=kernel)
    decls = [gen.function() for _ in range(draw(st.integers(0 if not kernel else 1, 3)))]
    decls.append(gen.main())
    return render(gen, decls)


def kernel_programs():
    return programs(kernel=True)
