"""The documents' examples run. The ```python blocks of docs/embedding.md
run, in order, in one empty folder, each in a fresh namespace; each must
hold an `assert` (a block that could not fail would document nothing). The
programs of docs/reference.md run through the `npl` command and print what
the page shows, and its tables keep up with the code."""
from __future__ import annotations

import ast
import re
import subprocess
from dataclasses import dataclass, field

import pytest

from conftest import ROOT, npl_command

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


# ------------------------------------------------------------ docs/reference.md
# Its ```npl blocks are complete programs; the ```output blocks right after
# one are what a command prints for it (info string: `output [command=run|
# check|test] [exit=N]`); a program without one must pass `npl check`. The
# tables that list codes, built-ins, commands and settings must name every
# one the code has, and every `docs/reference.md §N` cited in the repository
# must be a section of it.

REFERENCE = ROOT / "docs" / "reference.md"
REFERENCE_TEXT = REFERENCE.read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```[ \t]*\n", re.S | re.M)


@dataclass
class Sample:
    line: int
    program: str
    outputs: list[tuple[dict[str, str], str]] = field(default_factory=list)


def reference_samples() -> list[Sample]:
    samples: list[Sample] = []
    last_end = -1
    for m in FENCE.finditer(REFERENCE_TEXT):
        lang, info, body = m.group(1), m.group(2).split(), m.group(3)
        line = REFERENCE_TEXT.count("\n", 0, m.start()) + 1
        if lang == "npl":
            samples.append(Sample(line, body))
        elif lang == "output":
            follows = samples and REFERENCE_TEXT[last_end:m.start()].strip() == ""
            assert follows, f"docs/reference.md:{line}: an output block must follow an npl block"
            samples[-1].outputs.append((dict(word.split("=", 1) for word in info), body))
        last_end = m.end()
    return samples


SAMPLES = reference_samples()
COMMANDS = {"run": ["run", "--frozen"], "check": ["check"], "test": ["test", "--frozen"]}


def test_the_reference_has_samples():
    assert len(SAMPLES) >= 10 and sum(len(s.outputs) for s in SAMPLES) >= 10


@pytest.mark.parametrize("sample", SAMPLES, ids=[f"line{s.line}" for s in SAMPLES])
def test_reference_sample(sample: Sample, tmp_path):
    (tmp_path / "prog.npl").write_text(sample.program, encoding="utf-8")
    for info, expected in sample.outputs or [({"command": "check"}, None)]:
        argv = npl_command() + COMMANDS[info.get("command", "run")] + ["prog.npl"]
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        where = f"docs/reference.md:{sample.line}: {' '.join(argv[-2:])}"
        assert done.returncode == int(info.get("exit", 0)), f"{where}\n{done.stdout}{done.stderr}"
        if expected is not None:
            assert done.stdout + done.stderr == expected, where


def section(number: int) -> str:
    """The text of section `number` of the reference."""
    m = re.search(rf"^## {number}\. .*?(?=^## |\Z)", REFERENCE_TEXT, re.S | re.M)
    assert m, f"docs/reference.md has no section {number}"
    return m.group(0)


def test_every_diagnostic_code_is_in_the_table():
    from npl.lang.diagnostics import CODES
    missing = [code for code in CODES if f"| `{code}` |" not in section(9)]
    assert not missing, f"docs/reference.md §9 lacks {missing}"


def test_every_builtin_function_and_method_is_listed():
    from npl.lang.builtin_sigs import (BUILTIN_FUNCTIONS, DICT_METHODS, LIST_METHODS,
                                       MATH_CONSTANTS, SET_METHODS, STR_METHODS)
    text = section(6)
    names = sorted(BUILTIN_FUNCTIONS | set(MATH_CONSTANTS))
    missing = [n for n in names if not re.search(rf"(?<![\w.]){n}\b", text)]
    for kind, table in (("str", STR_METHODS), ("list", LIST_METHODS), ("dict", DICT_METHODS),
                        ("set", SET_METHODS)):
        block = re.search(rf"\*\*{kind} methods\*\*.*?(?=\*\*\w+ methods\*\*|\*\*Arrays)", text, re.S)
        assert block, f"§6 has no {kind} methods table"
        missing += [f"{kind}.{m}" for m in table if f"`{m}(" not in block.group(0)]
    assert not missing, f"docs/reference.md §6 lacks {missing}"


def test_every_command_is_listed():
    from npl.cli import main
    missing = [name for name in main.commands if f"`npl {name}" not in section(12)]
    assert not missing, f"docs/reference.md §12 lacks {missing}"


def test_every_setting_is_listed():
    from npl.filling.providers import SETTINGS
    from npl.filling.settings import KNOWN_SETTINGS
    text = section(13)
    keys = [k for table in KNOWN_SETTINGS.values() for k in table] + list(SETTINGS)
    missing = [k for k in keys if not re.search(rf"^\[?{k}\]?(\s|$)", text, re.M)]
    assert not missing, f"docs/reference.md §13 lacks {missing}"


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


ANCHORS = {anchor(h) for h in re.findall(r"^#+ (.*)$", REFERENCE_TEXT, re.M)}


def test_links_to_the_reference_resolve():
    broken = []
    for doc in sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]:
        text = doc.read_text(encoding="utf-8")
        own = "" if doc == REFERENCE else "reference.md"
        for target in re.findall(rf"\]\({re.escape(own)}#([\w-]+)\)", text):
            if target not in ANCHORS:
                broken.append(f"{doc.name}: #{target}")
    assert not broken, f"links to missing sections of docs/reference.md: {broken}"


def test_citations_of_the_reference_name_its_sections():
    numbers = {int(n) for n in re.findall(r"^## (\d+)\. ", REFERENCE_TEXT, re.M)}
    assert numbers == set(range(1, max(numbers) + 1))
    cited = []
    for path in sorted(ROOT.rglob("*")):
        if path.suffix not in (".py", ".md", ".npl", ".lark", ".txt") or ".venv" in path.parts:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for group in re.findall(r"reference(?:\.md)?,? (§[\d §,and-]+)", text, re.I):
            cited += [(path.relative_to(ROOT), int(n)) for n in re.findall(r"§(\d+)", group)]
    assert len(cited) >= 20
    wrong = [f"{p}: §{n}" for p, n in cited if n not in numbers]
    assert not wrong, f"citations of sections docs/reference.md does not have: {wrong}"
