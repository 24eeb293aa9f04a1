"""The embedding API (npl.load / npl.compile_source): value conversion both
ways, NumPy and torch without copies, structs, argument checking, externs
with checked results, hole state, and reuse of compiled work."""
from __future__ import annotations

import numpy as np
import pytest

import npl
from npl.api import NplTypeError
from npl.runtime.errors import NplRuntimeError

SOURCE = '''
struct Point:
    x: float
    y: float

def norm(p: Point) -> float:
    return sqrt(p.x * p.x + p.y * p.y)

def midpoint(a: Point, b: Point) -> Point:
    return Point((a.x + b.x) / 2.0, (a.y + b.y) / 2.0)

def scale(xs: list[float], k: float) -> list[float]:
    return [x * k for x in xs]

def stats(d: dict[str, int]) -> tuple[int, str | None]:
    best: str | None = None
    for k, v in d.items():
        if best is None or v > d[best]:
            best = k
    return sum(d.values()), best

def double_in_place(a: array[float]) -> None:
    for i in range(len(a)):
        a[i] = a[i] * 2.0

def total(a: array[float, 2]) -> float:
    return sum(a)

def evens(n: int) -> array[int]:
    out = zeros(n, dtype=int)
    for i in range(n):
        out[i] = 2 * i
    return out

def uniq(xs: set[int]) -> list[int]:
    return sorted(xs)

extern def rate(currency: str) -> float

def convert(amount: float, currency: str) -> float:
    return amount * rate(currency)
'''


@pytest.fixture(scope="module")
def prog():
    return npl.compile_source(SOURCE, "embed.npl", externs={"rate": lambda c: {"EUR": 1.5}.get(c, 2)})


def test_scalars_lists_dicts_tuples_optionals(prog):
    assert prog.call("scale", [1, 2.5], 2) == [2.0, 5.0]
    assert prog.fn.scale([1.0], k=3.0) == [3.0]
    assert prog.call("stats", {"a": 1, "b": 5}) == (6, "b")
    assert prog.call("stats", {}) == (0, None)
    assert prog.call("uniq", {3, 1, 2}) == [1, 2, 3]


def test_structs_from_objects_and_back(prog):
    class P:                                   # any object with the fields
        def __init__(self, x, y):
            self.x, self.y = x, y
    assert prog.call("norm", P(3.0, 4.0)) == 5.0
    assert prog.call("norm", {"x": 6.0, "y": 8.0}) == 10.0
    m = prog.call("midpoint", P(0.0, 0.0), P(2.0, 4.0))
    assert (m.x, m.y) == (1.0, 2.0)
    assert repr(m) == "Point(x=1.0, y=2.0)"
    assert prog.call("norm", m) == pytest.approx(5 ** 0.5)     # a returned struct goes back in


def test_numpy_arrays_cross_without_copy(prog):
    a = np.arange(4, dtype=np.float64)
    assert prog.call("double_in_place", a) is None
    assert a.tolist() == [0.0, 2.0, 4.0, 6.0]                 # mutated in place: no copy
    assert prog.call("total", np.ones((2, 3))) == 6.0
    out = prog.call("evens", 4)
    assert isinstance(out, np.ndarray) and out.dtype == np.int64 and out.tolist() == [0, 2, 4, 6]


def test_torch_cpu_tensors_cross_without_copy(prog):
    torch = pytest.importorskip("torch", reason="torch is an optional extra (pip install 'npl[torch]')")
    t = torch.arange(3, dtype=torch.float64)
    prog.call("double_in_place", t)
    assert t.tolist() == [0.0, 2.0, 4.0]                      # the tensor's memory was used
    assert prog.call("total", torch.ones(2, 2, dtype=torch.float64)) == 4.0


def test_arguments_are_checked_against_the_signature(prog):
    with pytest.raises(NplTypeError, match="scale\\(\\) argument 'xs'.*list\\[float\\]"):
        prog.call("scale", "abc", 1.0)
    with pytest.raises(NplTypeError, match="bool"):
        prog.call("scale", [True], 1.0)                       # bool is not a number
    with pytest.raises(NplTypeError, match="array\\[float\\]"):
        prog.call("double_in_place", np.arange(3))            # int64 array for array[float]
    with pytest.raises(NplTypeError, match="missing"):
        prog.call("scale", [1.0])
    with pytest.raises(AttributeError, match="no function 'nope'"):
        prog.fn.nope


def test_externs_are_bound_and_their_results_checked():
    ok = npl.compile_source(SOURCE, "embed.npl", externs={"rate": lambda c: 1.25})
    assert ok.call("convert", 4.0, "EUR") == 5.0
    bad = npl.compile_source(SOURCE, "embed.npl", externs={"rate": lambda c: "1.25"})
    with pytest.raises(NplRuntimeError) as info:
        bad.call("convert", 4.0, "EUR")
    assert "extern rate() result" in str(info.value) and "float" in str(info.value)
    with pytest.raises(npl.CompileError, match="extern function 'rate' is not supplied"):
        npl.compile_source(SOURCE, "embed.npl")


def test_runtime_errors_are_npl_errors():
    p = npl.compile_source("def at(xs: list[int], i: int) -> int:\n    return xs[i]\n", "at.npl")
    with pytest.raises(NplRuntimeError) as info:
        p.call("at", [1, 2], 5)
    assert "index out of range" in info.value.render() and "at.npl:2" in info.value.render()


def test_loading_twice_reuses_compiled_work(tmp_path, monkeypatch):
    path = tmp_path / "twice.npl"
    path.write_text("def f(x: int) -> int:\n    return x + 1\n")
    import npl.api as api
    calls = []
    real = api.compile

    def counting(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)
    monkeypatch.setattr(api, "compile", counting)
    a = npl.load(str(path))
    b = npl.load(str(path))
    assert a.call("f", 1) == b.call("f", 1) == 2
    assert calls.count(str(path)) == 1


def test_a_program_file_that_cannot_be_read_is_an_os_error(tmp_path):
    """Not SystemExit: an embedding tool keeps running."""
    with pytest.raises(npl.SourceFileError, match="no such file: .*nope.npl") as info:
        npl.load(str(tmp_path / "nope.npl"))
    assert isinstance(info.value, OSError)
    (tmp_path / "latin1.npl").write_bytes(b"def main():\n    print('\xe9')\n")
    with pytest.raises(npl.SourceFileError, match="latin1.npl is not UTF-8 text"):
        npl.load(str(tmp_path / "latin1.npl"))


def test_holes_state_of_a_loaded_program(tmp_path):
    path = tmp_path / "h.npl"
    path.write_text('def g(x: int) -> int:\n    """Twice x."""\n    ...\n\nexample g(2) == 4\n')
    with pytest.raises(npl.CompileError, match="hole 'g' has no fill"):
        npl.load(str(path))
    p = npl.compile_source(path.read_text(), str(path))
    [hole] = p.holes()
    assert (hole.name, hole.kind, hole.state, hole.provenance) == ("g", "function", "missing", None)


@pytest.mark.parametrize("frozen", [True, False])
def test_load_compiles_the_program_once(tmp_path, monkeypatch, frozen):
    """Opening the program with its lock, finding nothing to fill and
    building the Program share one compilation: the front end (which every
    compile goes through) runs once."""
    import npl.compiler.driver as driver
    from npl.filling.lockfile import LockEntry, Provenance, lock_path_for, update_lock
    path = tmp_path / f"once_{frozen}.npl"
    path.write_text('def g(x: int) -> int:\n    """Twice x."""\n    ...\n\n'
                    "def h(x: int) -> int:\n    return g(x) + 1\n")
    spec = driver.compile(path.read_text(), str(path)).holes[0]
    entry = LockEntry(spec.key, spec.name, spec.kind, spec.location, spec.description,
                      spec.signature, "def g(x: int) -> int:\n    return 2 * x\n",
                      Provenance(source="synth"))
    update_lock(lock_path_for(path), lambda entries: entries.__setitem__(entry.key, entry))
    runs = []
    real = driver.front_end

    def counting(source, name, *args, **kwargs):
        runs.append(name)
        return real(source, name, *args, **kwargs)
    monkeypatch.setattr(driver, "front_end", counting)
    p = npl.load(str(path), frozen=frozen)
    assert p.call("h", 2) == 5
    assert runs == [str(path)]
    npl.load(str(path), frozen=frozen)              # and not again while it stays the same
    assert runs == [str(path)]
