"""Tests for editor support: the Pygments lexer and the VS Code extension.

The Pygments part lexes every conformance program and a sample that uses
each construct, and runs `pygmentize -l npl` as a command. The TextMate part
checks the extension manifest and tokenizes programs with the real grammar
through vscode-textmate (tests/textmate/tokenize.js, run with node; its
node_modules are installed with `npm ci` when missing).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, String

from npl.editors.lexer import HOLE, NplLexer

from conftest import CONFORMANCE

ROOT = Path(__file__).resolve().parent.parent
VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = VSCODE / "syntaxes" / "npl.tmLanguage.json"
TEXTMATE = Path(__file__).resolve().parent / "textmate"

CONFORMANCE_PROGRAMS = sorted(CONFORMANCE.glob("*.npl"))
PROGRAMS = CONFORMANCE_PROGRAMS + sorted((ROOT / "bench").rglob("*.npl"))

SAMPLE = '''\
from shapes import Circle

const LIMIT: int = 1_000

struct Node:
    left: Node | None

@kernel
def scale(xs: array[float], k: float) -> array[float]:
    out = empty(len(xs))
    for i in prange(len(xs)):
        out[i] = xs[i] * k + 0x1f + 1e-3 + .5
    return out

def count_vowels(s: str) -> int:
    """Count the vowels in s,
    in either case."""
    ...

def normalize(xs: list[float]) -> list[float]:
    """Divide by the total."""
    total = sum(xs)  # never zero here
    return ?{each element of xs divided by {total},
        in {the {same} order}}

example count_vowels("Hello") == 2

property bounded(x: int):
    where x > 0
    x is not None and int("3") == 3

def main():
    x = 3.14159
    print(f"x = {x:.3f}, {{raw}}", xs.copy(), pi)
'''


def lex(source: str) -> list[tuple]:
    return [(ttype, value) for ttype, value in NplLexer().get_tokens(source)
            if value.strip()]


def hole_texts(source: str) -> list[str]:
    """The text of each run of adjacent HOLE tokens in `source`."""
    runs, current = [], []
    for ttype, value in NplLexer().get_tokens(source):
        if ttype is HOLE:
            current.append(value)
        elif current:
            runs.append("".join(current))
            current = []
    return runs


# ---------------------------------------------------------------- Pygments

@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.name)
def test_program_lexes_without_errors(program: Path):
    source = program.read_text()
    tokens = list(NplLexer().get_tokens(source))
    errors = [(t, v) for t, v in tokens if t in Error]
    assert errors == []
    assert "".join(v for _, v in tokens) == source


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason=f"no conformance suite at {CONFORMANCE}")
def test_conformance_programs_exist():
    assert len(CONFORMANCE_PROGRAMS) >= 10


@pytest.mark.parametrize("ttype, value", [
    (Keyword.Namespace, "from"), (Name.Namespace, "shapes"),
    (Keyword.Declaration, "const"), (Name.Constant, "LIMIT"),
    (Keyword.Declaration, "struct"), (Name.Class, "Node"),
    (Name.Decorator, "kernel"), (Keyword.Declaration, "def"),
    (Name.Function, "scale"), (Keyword.Type, "array"), (Keyword.Type, "float"),
    (Keyword, "for"), (Operator.Word, "in"), (Name.Builtin, "prange"),
    (Name.Builtin, "empty"), (Keyword, "return"), (Operator, "->"),
    (Number.Integer, "1_000"), (Number.Hex, "0x1f"), (Number.Float, "1e-3"),
    (Number.Float, ".5"), (Number.Float, "3.14159"),
    (Keyword.Declaration, "example"), (Keyword.Declaration, "property"),
    (Name.Function, "bounded"), (Keyword, "where"), (Operator.Word, "is"),
    (Keyword.Constant, "None"), (Name.Builtin, "int"), (Name.Builtin.Pseudo, "pi"),
    (Comment.Single, "# never zero here"), (String.Doc, '"""Divide by the total."""'),
    (String.Affix, "f"), (String.Interpol, "{"), (String.Escape, "{{"),
])
def test_sample_token(ttype, value):
    assert (ttype, value) in lex(SAMPLE)


def test_builtin_names_after_a_dot_are_attributes():
    tokens = lex(SAMPLE)
    assert (Name.Attribute, "copy") in tokens
    assert (Name.Builtin, "copy") not in tokens


def test_type_name_in_annotation_is_a_type_and_call_is_a_builtin():
    tokens = lex("def f(x: int) -> int:\n    return int(x)\n")
    assert tokens.count((Keyword.Type, "int")) == 2
    assert tokens.count((Name.Builtin, "int")) == 1


def test_expression_hole_is_one_multiline_run_with_nested_braces():
    holes = hole_texts(SAMPLE)
    expected = ("?{each element of xs divided by {total},\n"
                "        in {the {same} order}}")
    assert expected in holes
    tokens = lex(SAMPLE)
    after = tokens[[v for _, v in tokens].index("example") - 1]
    assert after == (HOLE, "}"), "the hole must end at its own closing brace"


def test_function_hole_docstring_is_a_hole_and_plain_docstring_is_not():
    holes = hole_texts(SAMPLE)
    assert '"""Count the vowels in s,\n    in either case."""' in holes
    assert not any("Divide by the total" in h for h in holes)


def test_plain_docstring_before_a_function_hole_stays_a_docstring():
    source = ('def a(x: int) -> int:\n    """Plain."""\n    return x\n\n'
              'def b(s: str) -> int:\n    """Hole with \\"""escaped\\""" quotes."""\n    ...\n')
    strings = [(t, v) for t, v in lex(source) if t in String]
    assert strings == [(String.Doc, '"""Plain."""'),
                       (HOLE, '"""Hole with \\"""escaped\\""" quotes."""')]


def test_fstring_field_is_lexed_as_code_with_format_spec():
    tokens = lex('print(f"v={v:.2f} n={n * 2}")\n')
    assert (Name, "v") in tokens and (Name, "n") in tokens
    assert (Operator, "*") in tokens and (Number.Integer, "2") in tokens
    assert (String.Interpol, ":") in tokens
    assert (String.Double, ".2f") in tokens
    assert tokens.count((String.Interpol, "}")) == 2


def test_lexer_is_found_by_name_and_filename():
    assert isinstance(get_lexer_by_name("npl"), NplLexer)
    assert isinstance(get_lexer_for_filename("prog.npl"), NplLexer)


def pygmentize() -> str:
    script = Path(sys.executable).parent / "pygmentize"
    found = str(script) if script.exists() else shutil.which("pygmentize")
    assert found, "pygmentize is installed with pygments"
    return found


def test_pygmentize_command_highlights_npl(tmp_path: Path):
    source = tmp_path / "prog.npl"
    source.write_text(SAMPLE)
    result = subprocess.run([pygmentize(), "-l", "npl", "-f", "html", str(source)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert '<span class="kd">def</span>' in result.stdout
    assert 'class="s s-Hole"' in result.stdout
    assert 'class="err"' not in result.stdout


def test_pygmentize_guesses_npl_from_file_name():
    result = subprocess.run([pygmentize(), "-N", "prog.npl"],
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "npl"


# ---------------------------------------------------------------- VS Code

def test_extension_manifest_matches_grammar():
    manifest = json.loads((VSCODE / "package.json").read_text())
    grammar = json.loads(GRAMMAR.read_text())
    language = manifest["contributes"]["languages"][0]
    contributed = manifest["contributes"]["grammars"][0]
    assert language["id"] == "npl" and ".npl" in language["extensions"]
    assert contributed["language"] == "npl"
    assert contributed["scopeName"] == grammar["scopeName"] == "source.npl"
    assert (VSCODE / contributed["path"]).resolve() == GRAMMAR
    assert (VSCODE / language["configuration"]).exists()


def test_language_configuration_is_valid():
    config = json.loads((VSCODE / "language-configuration.json").read_text())
    assert config["comments"]["lineComment"] == "#"
    assert ["(", ")"] in config["brackets"] and ["{", "}"] in config["brackets"]
    assert config["folding"]["offSide"] is True
    assert "def" in config["indentationRules"]["increaseIndentPattern"]


def test_grammar_repository_references_resolve():
    grammar = json.loads(GRAMMAR.read_text())
    referenced = {ref[1:] for ref in _includes(grammar) if ref.startswith("#")}
    assert referenced <= set(grammar["repository"])
    assert "hole" in grammar["repository"]


def _includes(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["include"]] if "include" in node else []
        return found + [r for value in node.values() for r in _includes(value)]
    if isinstance(node, list):
        return [r for item in node for r in _includes(item)]
    return []


@pytest.fixture(scope="session")
def textmate_tokenizer():
    """A function [FILE, ...] -> {FILE: tokens}, running tests/textmate/tokenize.js."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run the TextMate grammar (vscode-textmate)")
    if not (TEXTMATE / "node_modules" / "vscode-textmate").is_dir():
        installed = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=TEXTMATE,
                                   capture_output=True, text=True, timeout=600)
        assert installed.returncode == 0, f"npm ci failed:\n{installed.stderr}"

    def tokenize(paths: list[Path]) -> dict[Path, list[dict]]:
        result = subprocess.run([node, str(TEXTMATE / "tokenize.js"), *map(str, paths)],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        by_name = json.loads(result.stdout)
        return {path: by_name[str(path)] for path in paths}
    return tokenize


@pytest.fixture(scope="session")
def program_scopes(textmate_tokenizer) -> dict[Path, list[dict]]:
    return textmate_tokenizer(PROGRAMS)


def scopes_of(tokens: list[dict], text: str) -> list[list[str]]:
    return [t["scopes"] for t in tokens if t["text"].strip() == text]


def has_scope(tokens: list[dict], text: str, scope: str) -> bool:
    return any(any(s.startswith(scope) for s in scopes) for scopes in scopes_of(tokens, text))


@pytest.fixture(scope="session")
def sample_scopes(textmate_tokenizer, tmp_path_factory) -> list[dict]:
    path = tmp_path_factory.mktemp("textmate") / "sample.npl"
    path.write_text(SAMPLE)
    return textmate_tokenizer([path])[path]


@pytest.mark.parametrize("text, scope", [
    ("def", "keyword.declaration.function"), ("scale", "entity.name.function"),
    ("struct", "keyword.declaration.struct"), ("Node", "entity.name.type.struct"),
    ("const", "keyword.declaration.const"), ("from", "keyword.control.import"),
    ("kernel", "entity.name.function.decorator"), ("for", "keyword.control.flow"),
    ("return", "keyword.control.flow"), ("in", "keyword.operator.word"),
    ("example", "keyword.declaration.example"), ("property", "keyword.declaration.property"),
    ("where", "keyword.other.where"), ("None", "constant.language"),
    ("prange", "support.function.builtin"), ("array", "support.type"),
    ("1_000", "constant.numeric.integer"), ("0x1f", "constant.numeric.hex"),
    ("1e-3", "constant.numeric.float"), (".5", "constant.numeric.float"),
    ("Hello", "string.quoted.double"), ("never zero here", "comment.line.number-sign"),
    ("Divide by the total.", "string.quoted.docstring"),
    ("...", "keyword.other.hole.ellipsis"),
    (".3f", "constant.other.format-spec"), ("{{", "constant.character.escape"),
    ("pi", "support.constant.math"), ("copy", "variable.other.property"),
])
def test_textmate_scope(sample_scopes, text, scope):
    assert has_scope(sample_scopes, text, scope), scopes_of(sample_scopes, text)


def test_textmate_hole_spans_lines_and_nested_braces(sample_scopes):
    in_hole = [t for t in sample_scopes if "meta.hole.expression.npl" in t["scopes"]]
    text = "".join(t["text"] for t in in_hole)
    assert text.startswith("?{each element") and text.endswith("order}}")
    assert {t["line"] for t in in_hole} == {23, 24}
    assert in_hole[0]["scopes"][-1] == "punctuation.definition.hole.begin.npl"
    assert in_hole[-1]["scopes"][-1] == "punctuation.definition.hole.end.npl"
    assert sum(1 for t in in_hole if "string.unquoted.hole.npl" in t["scopes"]) >= 3
    after = [t for t in sample_scopes if t["line"] == 26]
    assert after[0]["text"] == "example" and not any("hole" in s for s in after[0]["scopes"])


def test_textmate_fstring_field_is_code(sample_scopes):
    field = [t for t in sample_scopes if "meta.interpolation.npl" in t["scopes"]]
    assert [t["text"] for t in field][:2] == ["{", "x"]
    assert not any("string.interpolated.npl" in t["scopes"] for t in field)
    assert has_scope(sample_scopes, "x =", "string.interpolated")


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.name)
def test_textmate_program_has_no_illegal_tokens(program_scopes, program):
    tokens = program_scopes[program]
    assert "".join(t["text"] for t in tokens).replace(" ", "") == \
        program.read_text().replace("\n", "").replace(" ", "")
    illegal = [t for t in tokens if any(s.startswith("invalid") for s in t["scopes"])]
    assert illegal == []
    assert has_scope(tokens, "def", "keyword.declaration.function")
