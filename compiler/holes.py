"""Holes: a checked program in, one `HoleSpec` per hole out.

A HoleSpec is everything the fillers need to know about a hole: its kind,
name, location, description, signature (for an expression hole, the lifted
function's: the visible variables as parameters and the expected type as
the return type), the functions and structs it may use, and the examples and
properties that exercise it.

Each hole has a key (docs/reference.md §7): a hash of the fill protocol version
(KEY_VERSION), its
text, its signature, the names and types it can see, the signatures of the
functions and structs it refers to, and its examples. Nothing else goes in,
so whitespace, comments and unrelated functions elsewhere in the file do not
change it; editing the hole (or its examples) does. Only the examples of the
hole's own file (its `home_module`) count: a program that imports the file
and adds examples of its own does not change the key, so the importer uses
the fill locked for the file; its examples check that fill (the filler
verifies a fill against every example that exercises it) without keying it.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Optional

from npl.lang import ast
from npl.lang.symbols import CheckedProgram, FuncInfo, HoleInfo, StructInfo, TestInfo
from npl.lang.types import Type

# The fill protocol's version, hashed into every key: bump it (with the
# version line of filling/prompt_template.txt, which a test keeps equal) when a
# change to what models are asked should refill every hole.
KEY_VERSION = "5"


@dataclass
class HoleSpec:
    info: HoleInfo
    key: str
    name: str                          # "slugify" or "normalize@12"
    kind: str                          # "function" | "expression"
    location: str                      # "prog.npl:12:5"
    description: str
    params: list[tuple[str, Type]]     # function params, or visible variables
    ret: Type
    enclosing: Optional[FuncInfo]      # the function the hole is in (or is)
    tests: list[TestInfo] = field(default_factory=list)       # direct examples/properties
    caller_tests: list[TestInfo] = field(default_factory=list)  # via callers
    depth: int = 0                     # decomposition depth (0 = written by the user)

    @property
    def signature(self) -> str:
        params = ", ".join(f"{n}: {t}" for n, t in self.params)
        return f"def {self.func_name}({params}) -> {self.ret}"

    @property
    def func_name(self) -> str:
        """The function a fill defines: the hole function, or the lifted one."""
        if self.kind in ("function", "oracle"):
            return self.info.function.name
        return lifted_name(self)

    @property
    def line(self) -> int:
        return self.info.span.line


def lifted_name(spec: "HoleSpec") -> str:
    base = spec.enclosing.name if spec.enclosing else "hole"
    return f"{base}_hole{spec.info.span.line}"


def normalize_text(text: str) -> str:
    return " ".join(text.split())


STRING_OR_CODE = re.compile(r"""("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|([^"']+|["'])""")


def normalize_code(text: str) -> str:
    """Source text with all whitespace outside string literals removed, so
    that re-spacing an example (by hand or by `npl fmt`) keeps the key."""
    out = []
    for string, code in STRING_OR_CODE.findall(text):
        out.append(string if string else "".join(code.split()))
    return "".join(out)


def test_source(prog: CheckedProgram, t: TestInfo) -> str:
    """The example/property as written, whitespace-normalized."""
    src = prog.sources.get(t.module, "")
    span = t.decl.span
    lines = src.splitlines()[span.line - 1:span.end_line]
    if lines:
        lines[-1] = lines[-1][:span.end_col - 1]
        lines[0] = lines[0][span.col - 1:]
    return normalize_text("\n".join(lines))


def called_functions(node) -> set[str]:
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
            out.add(n.func.id)
    return out


def tests_calling(prog: CheckedProgram, names: set[str]) -> list[TestInfo]:
    return [t for t in prog.tests if called_functions(t.decl) & names]


def callers_of(prog: CheckedProgram, target: str) -> set[str]:
    """Names of functions that (transitively) call function `target`."""
    found: set[str] = set()
    frontier = {target}
    while frontier:
        new = set()
        for fn in prog.funcs.values():
            if fn.extern or fn.name in found or fn.name == target:
                continue
            if called_functions(fn.decl) & frontier:
                new.add(fn.name)
        found |= new
        frontier = new
    return found


def referenced_symbols(prog: CheckedProgram, spec: HoleSpec) -> list[str]:
    """Signatures of functions/structs named in the description or used in
    the hole's types: they become part of the key."""
    scope = prog.scopes.get(spec.info.module, {})
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", spec.description))
    types = [t for _, t in spec.params] + [spec.ret]
    for t in types:
        words |= set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", str(t)))
    out = []
    for name in sorted(words):
        sym = scope.get(name)
        if isinstance(sym, FuncInfo) and (spec.enclosing is None or sym is not spec.enclosing
                                          or spec.kind == "expression"):
            out.append(signature_text(sym))
        elif isinstance(sym, StructInfo):
            out.append(struct_text(sym))
    return out


def signature_text(fn: FuncInfo) -> str:
    params = ", ".join(f"{n}: {t}" for n, t in fn.params)
    return f"def {fn.name}({params}) -> {fn.ret}"


def struct_text(s: StructInfo) -> str:
    return f"struct {s.name}: " + ", ".join(f"{n}: {t}" for n, t in s.fields)


def home_module(module: str) -> str:
    """The file a hole belongs to: `module` itself, or for a hole inside a
    fill (whose module is the fill's virtual file `M.lock#NAME`,
    compiler/fills.py) the file M of the hole it fills."""
    return module.partition(".lock#")[0]


def keyed_tests(spec: HoleSpec) -> list[TestInfo]:
    """The tests that go into `spec`'s key: those of its home module."""
    home = home_module(spec.info.module)
    return [t for t in spec.tests if home_module(t.module) == home]


def compute_key(prog: CheckedProgram, spec: HoleSpec) -> str:
    material = {
        "prompt": KEY_VERSION,
        "kind": spec.kind,
        "text": normalize_text(spec.description),
        "signature": [[n, str(t)] for n, t in spec.params] + [["->", str(spec.ret)]],
        "refs": referenced_symbols(prog, spec),
        "tests": [normalize_code(test_source(prog, t)) for t in keyed_tests(spec)],
    }
    if spec.kind == "expression":
        material["in"] = spec.enclosing.name if spec.enclosing else ""
    blob = json.dumps(material, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def collect_holes(prog: CheckedProgram) -> list[HoleSpec]:
    """One HoleSpec per hole, in source order."""
    specs = []
    for info in sorted(prog.holes, key=lambda h: (h.module != prog.main_path, h.module,
                                                  h.span.line, h.span.col)):
        specs.append(make_spec(prog, info))
    return specs


def collect_oracles(prog: CheckedProgram) -> list[HoleSpec]:
    """One HoleSpec of kind "oracle" per @oracle function, in source order.
    Its key hashes what decides an answer: the docstring, the signature, the
    structs its types name and its examples (never the calls' arguments:
    those key each stored answer)."""
    specs = []
    for fn in sorted(prog.oracles, key=lambda f: (f.module != prog.main_path, f.module,
                                                  f.decl.span.line)):
        info = HoleInfo("oracle", fn.decl, fn.module, fn.ret, dict(fn.params), fn)
        spec = HoleSpec(info, "", fn.name, "oracle", str(fn.decl.span), info.text.strip(),
                        list(fn.params), fn.ret, fn)
        spec.tests = tests_calling(prog, {fn.name})
        spec.key = compute_key(prog, spec)
        specs.append(spec)
    return specs


def make_spec(prog: CheckedProgram, info: HoleInfo) -> HoleSpec:
    fn = info.function
    if info.kind == "function":
        params, name = list(fn.params), fn.name
        direct = {fn.name}
    else:
        params = list(info.scope.items())
        name = f"{fn.name if fn else 'module'}@{info.span.line}"
        direct = {fn.name} if fn else set()
    spec = HoleSpec(info, "", name, info.kind, str(info.span), info.text.strip(),
                    params, info.expected, fn)
    spec.tests = tests_calling(prog, direct)
    callers = callers_of(prog, fn.name) if fn else set()
    spec.caller_tests = [t for t in tests_calling(prog, callers) if t not in spec.tests]
    spec.key = compute_key(prog, spec)
    return spec
