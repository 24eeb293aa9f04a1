"""Correctness checks for the benchmark programs, at small sizes.

Run with: .venv/bin/pytest bench/test_bench_programs.py

The Python baselines are checked against published reference outputs
(fannkuch-redux, n-body, spectral-norm), against invariants (binary-trees
node counts) or against an independent computation (word count with
collections.Counter, Mandelbrot with NumPy arrays, matmul with `@`); each
Numba baseline must print what its CPython twin prints; and, once the `npl`
command can run a program, each NPL program must print it too.
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent
PLAIN = BENCH / "plain"
KERNELS = BENCH / "kernels"
sys.path.insert(0, str(BENCH))

from harness import RunFailed, find_npl, run_once  # noqa: E402
from run_kernels import BENCHMARKS as KERNEL_BENCHMARKS  # noqa: E402
from run_plain import BENCHMARKS as PLAIN_BENCHMARKS  # noqa: E402


def run_python(script: Path, *args: str, env: dict | None = None) -> str:
    return run_once([sys.executable, str(script), *args], env, timeout=300)[1]


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- plain

def test_fannkuch_matches_reference():
    assert run_python(PLAIN / "fannkuch.py", "7") == "228\nPfannkuchen(7) = 16\n"


def test_binary_trees_counts_every_node():
    lines = run_python(PLAIN / "binary_trees.py", "8").splitlines()
    assert lines[0] == f"stretch tree of depth 9\t check: {2 ** 10 - 1}"
    for line in lines[1:-1]:
        iterations, depth, check = map(int, re.findall(r"\d+", line))
        assert check == iterations * (2 ** (depth + 1) - 1)
    assert lines[-1] == f"long lived tree of depth 8\t check: {2 ** 9 - 1}"
    assert len(lines) == 5


def test_word_count_agrees_with_counter():
    module = load(PLAIN / "word_count.py")
    text = module.generate_text(3000, 42)
    expected = Counter(w.lower().rstrip(".,!?;") for w in text.split())
    assert module.count_words(text) == dict(expected)
    output = run_python(PLAIN / "word_count.py", "3000").splitlines()
    assert output[0] == (f"lines: 3000, chars: {len(text)}, words: {sum(expected.values())}, "
                         f"distinct: {len(expected)}")
    top = expected.most_common(1)[0]
    assert output[1].split() == [str(top[1]), top[0]]


# ---------------------------------------------------------------- kernels

def test_nbody_matches_reference():
    assert run_python(KERNELS / "nbody.py", "1000") == "-0.169075164\n-0.169087605\n"


def test_spectral_norm_matches_reference():
    assert run_python(KERNELS / "spectral_norm.py", "100") == "1.274219991\n"


def test_mandelbrot_agrees_with_numpy():
    size, max_iter = 60, 50
    ci = (2.0 * np.arange(size) / size - 1.0)[:, None] * np.ones((1, size))
    cr = (2.0 * np.arange(size) / size - 1.5)[None, :] * np.ones((size, 1))
    zr, zi, counts = np.zeros_like(cr), np.zeros_like(cr), np.zeros(cr.shape, dtype=int)
    for _ in range(max_iter):
        active = zr * zr + zi * zi <= 4.0
        zr, zi = (np.where(active, zr * zr - zi * zi + cr, zr),
                  np.where(active, 2.0 * zr * zi + ci, zi))
        counts += active
    expected = (f"{size}x{size}: {int((counts == max_iter).sum())} points inside, "
                f"{int(counts.sum())} iterations\n")
    assert run_python(KERNELS / "mandelbrot.py", str(size)) == expected


def test_matmul_agrees_with_numpy():
    n = 30
    module = load(KERNELS / "matmul.py")
    a, b = (np.array(module.make_matrix(n, seed)) for seed in (1, 4))
    c = a @ b
    weights = (np.arange(n)[:, None] * 31 + np.arange(n)[None, :] * 17) % 101 + 1
    expected = (f"{n}x{n}: checksum {int((c * weights).sum())}, c[0, 0] = {int(c[0, 0])}, "
                f"c[{n - 1}, {n - 1}] = {int(c[n - 1, n - 1])}\n")
    assert run_python(KERNELS / "matmul.py", str(n)) == expected


@pytest.mark.parametrize("bench", KERNEL_BENCHMARKS, ids=lambda b: b.name)
def test_numba_baseline_prints_what_cpython_prints(bench, tmp_path):
    size = str(bench.quick_size)
    numba_out = run_python(KERNELS / f"{bench.stem}_numba.py", size,
                           env={"NUMBA_CACHE_DIR": str(tmp_path)})
    assert numba_out == run_python(KERNELS / f"{bench.stem}.py", size)
    assert numba_out.strip()


# ---------------------------------------------------------------- NPL

@pytest.fixture(scope="module")
def npl() -> list[str]:
    """The `npl` command, if it can already run a program."""
    try:
        command = find_npl()
        run_once([*command, "run", "--frozen", str(BENCH / "hello.npl")], timeout=120)
    except RunFailed as exc:
        pytest.skip(f"`npl run` does not work yet: {str(exc).splitlines()[-1]}")
    return command


NPL_CASES = [(PLAIN / b.stem, b.quick_size) for b in PLAIN_BENCHMARKS] + \
            [(KERNELS / b.stem, b.quick_size) for b in KERNEL_BENCHMARKS]


@pytest.mark.parametrize("stem, size", NPL_CASES, ids=[stem.name for stem, _ in NPL_CASES])
def test_npl_program_prints_what_python_prints(npl, stem, size, tmp_path):
    env = {"NPL_CACHE_DIR": str(tmp_path), "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    got = run_once([*npl, "run", "--frozen", str(stem.with_suffix(".npl")), str(size)],
                   env, timeout=300)[1]
    assert got == run_python(stem.with_suffix(".py"), str(size))


def test_hello_prints_hello(npl):
    assert run_once([*npl, "run", "--frozen", str(BENCH / "hello.npl")])[1] == "hello\n"


def test_runners_accept_size_overrides():
    for runner in ("run_plain.py", "run_kernels.py"):
        done = subprocess.run([sys.executable, str(BENCH / runner), "--size", "nope=3"],
                              capture_output=True, text=True, env={**os.environ, "NPL": "true"})
        assert done.returncode != 0 and "--size wants NAME=N" in done.stderr


def test_recorded_results_name_no_absolute_path(tmp_path):
    """bench/results/ is committed: a path of the machine that ran a
    benchmark becomes relative to the checkout, or just its name."""
    import json

    from harness import ROOT, record
    results = [{"command": [str(ROOT / ".venv" / "bin" / "npl"), "run", str(ROOT / "bench" / "hello.npl")],
                "stdout": "hello\n", "best": 0.03}]
    path = record("unit", {"python": "/opt/python3.11/bin/python3", "repeat": 3}, results, tmp_path)
    data = json.loads(path.read_text())
    assert data["settings"] == {"python": "python3", "repeat": 3}
    assert data["results"] == [{"command": [".venv/bin/npl", "run", "bench/hello.npl"],
                                "stdout": "hello\n", "best": 0.03}]
