"""The layering (README "Layout"), as import-linter contracts in
pyproject.toml: lang, then compiler, then runtime and stdlib, then filling,
then npl/'s commands; and within each folder, no import cycle. A wrong-way
or cyclic import, at module level or inside a function, fails this test.

import-linter finds a package's modules by walking its folder, and NPL's
subpackages live beside npl/ (pyproject.toml `package-dir`), so the test
lays the installed shape out in a temporary folder and lints that.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("importlinter", reason="import-linter is a dev dependency: pip install -e '.[dev]'")


def installed_layout(target: Path) -> Path:
    """Copy each package's .py files to where `pip install` puts them."""
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    for package in setup["packages"]:
        dest = target / Path(*package.split("."))
        dest.mkdir(parents=True, exist_ok=True)
        for f in folder_of(package, setup["package-dir"]).glob("*.py"):
            shutil.copy(f, dest / f.name)
    return target


def folder_of(package: str, dirs: dict[str, str]) -> Path:
    """Where `package` lives in the checkout (the longest package-dir prefix)."""
    parts = package.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in dirs:
            return ROOT / dirs[prefix] / Path(*parts[i:])
    return ROOT / Path(*parts)


def lint(tree: Path) -> subprocess.CompletedProcess:
    """Run import-linter with pyproject.toml's contracts over `tree`."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    return subprocess.run([sys.executable, "-c",
                           "from importlinter.cli import lint_imports_command; lint_imports_command()",
                           "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=300)


def test_imports_follow_the_layers(tmp_path):
    run = lint(installed_layout(tmp_path / "site"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout, run.stdout


@pytest.mark.parametrize("importer, imported", [
    ("lang/types.py", "from .checker import Checker"),         # two modules, both ways
    ("filling/checks.py", "from .candidate import verify"),    # a cycle through three
    ("filling/synth/values.py", "from .search import synthesize"),
])
def test_a_cycle_within_a_folder_is_caught(tmp_path, importer, imported):
    """A module that imports, even inside a function, one that (through
    others) imports it back breaks the contract on the folder's cycles."""
    tree = installed_layout(tmp_path / "site")
    planted = tree / "npl" / importer
    planted.write_text(planted.read_text(encoding="utf-8")
                       + f"\n\ndef _planted():\n    {imported}\n", encoding="utf-8")
    run = lint(tree)
    assert run.returncode != 0, run.stdout
    assert "No import cycles among a folder's modules BROKEN" in run.stdout, run.stdout
    folder = "npl." + importer.rsplit("/", 1)[0].replace("/", ".")
    assert f"No cycles are allowed in {folder}." in run.stdout, run.stdout


def test_the_layout_copy_is_the_installed_one(tmp_path):
    """The copy holds every package the linter must see (a package missing
    from it would be a layer nobody checks)."""
    tree = installed_layout(tmp_path / "site")
    for package in ("npl", "npl/lang", "npl/compiler", "npl/runtime", "npl/stdlib",
                    "npl/filling", "npl/filling/providers", "npl/filling/synth"):
        assert (tree / package / "__init__.py").exists(), package
