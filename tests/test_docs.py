"""The ```python blocks of docs/embedding.md run, in order, in one empty
folder, each in a fresh namespace; each must hold an `assert` (a block that
could not fail would document nothing)."""
from __future__ import annotations

import ast
import re

import pytest

from conftest import ROOT

DOC = ROOT / "docs" / "embedding.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.S | re.M)


def test_the_document_has_examples():
    assert len(BLOCKS) >= 6


def test_every_block_asserts_something():
    for n, block in enumerate(BLOCKS, 1):
        tree = ast.parse(block)
        assert any(isinstance(node, ast.Assert) for node in ast.walk(tree)), f"block {n}"


def test_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for n, block in enumerate(BLOCKS, 1):
        namespace: dict = {"__name__": f"embedding_md_block_{n}"}
        try:
            exec(compile(block, f"docs/embedding.md (python block {n})", "exec"), namespace)
        except Exception as exc:
            pytest.fail(f"python block {n} of docs/embedding.md failed: {type(exc).__name__}: {exc}")
