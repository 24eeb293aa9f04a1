"""What a first request says: the layout of the hole, its context and examples
(captured from a scripted OpenAI-compatible server)."""
from __future__ import annotations

from fakellm import FakeLLMServer, dynamic, prompt_text
from test_fill_e2e import run_npl

PROGRAM = '''\
def tokenize(text: str) -> list[str]:
    """Split text on whitespace,
    then lowercase each piece."""
    ...

example tokenize("A b") == ["a", "b"]

def shout(text: str) -> str:
    """Upper-case text
    and add an exclamation mark."""
    ...

example shout("hi") == "HI!"

def main():
    print(tokenize("X y"), shout("z"))
'''

TOKENIZE = "```npl\ndef tokenize(text: str) -> list[str]:\n    return text.lower().split()\n```"
SHOUT = '```npl\ndef shout(text: str) -> str:\n    return text.upper() + "!"\n```'


def test_first_request_lays_out_hole_context_and_examples(tmp_path):
    (tmp_path / "prog.npl").write_text(PROGRAM)
    answer = dynamic(lambda q: TOKENIZE if "def tokenize(text: str) -> list[str]:\n" in prompt_text(q)
                     else SHOUT)
    with FakeLLMServer(default=answer) as server:
        r = run_npl(["fill", "prog.npl", "--model", "openai/m"], tmp_path,
                    {"OPENAI_BASE_URL": server.base_url})
        assert r.returncode == 0, r.stderr
        prompts = {("tokenize" if "def tokenize(text: str) -> list[str]:\n" in prompt_text(q.json)
                    else "shout"): q.json for q in server.requests}
    request = prompts["tokenize"]
    system, user = request["messages"]
    # the request is the one a user would write to ask for the function in Python
    assert system["role"] == "system" and "expert Python programmer" in system["content"]
    assert "NPL" not in system["content"] + user["content"]
    # the docstring keeps its shape, indented under the def
    assert ('def tokenize(text: str) -> list[str]:\n    """Split text on whitespace,\n'
            '    then lowercase each piece."""') in user["content"]
    # another hole's description is one comment line beside its signature
    assert ("def shout(text: str) -> str   # Upper-case text and add an exclamation mark.\n"
            in user["content"])
    assert 'It must satisfy:\n```python\nassert tokenize("A b") == ["a", "b"]\n```' in user["content"]
    # the reply format is the system prompt's, shared by every function hole's request (a
    # local model keeps it evaluated): the request's own text is the hole's alone
    assert system["content"].endswith("Reply with only the complete function in one ```python "
                                      "code block: the `def` line exactly as given, then its "
                                      "body. You may add imports and small helper functions "
                                      "before it.")
    assert user["content"].endswith('```python\nassert tokenize("A b") == ["a", "b"]\n```')
    assert prompts["shout"]["messages"][0] == system
    assert "shout(\"hi\")" not in user["content"]            # other functions' examples stay out
    assert (tmp_path / "prog.npl.lock").exists()
    # two holes' requests start alike (a local model keeps that part evaluated)
    other = prompts["shout"]["messages"][1]["content"]
    shared = next(i for i, (a, b) in enumerate(zip(user["content"], other)) if a != b)
    assert user["content"][:shared] == "Write this Python function.\n\n```python\ndef "
    # a reply ends before top-level usage examples, which are never part of a fill
    assert "\nprint(" in request["stop"]


def test_the_key_version_is_the_prompt_templates():
    """A hole's key hashes compiler/holes.py KEY_VERSION (the compiler
    cannot read the filling layer's template); the template's version line
    must say the same, so a new prompt refills every hole."""
    from npl.compiler.holes import KEY_VERSION
    from npl.filling.prompt import PROMPT_VERSION
    assert PROMPT_VERSION == KEY_VERSION


def test_a_fresh_request_tells_the_findings_within_the_feedback_budget():
    """Findings (how earlier answers failed) follow the first request; the
    first request alone when there are none; a huge one is cut, with a note."""
    from types import SimpleNamespace
    from npl.filling.model_source import MAX_FINDINGS, Asker
    from npl.filling.prompt import FEEDBACK_CHARS, with_findings
    first = [{"role": "system", "content": "S"}, {"role": "user", "content": "Write it."}]
    assert with_findings(first, []) == first
    huge = "It fails the example at p.npl:3:\n    example f() == 1\n    " + "x" * 50_000
    asked = with_findings(first, [huge])
    assert asked[0] == first[0] and asked[1]["content"].startswith("Write it.\n\nEarlier answers")
    assert len(asked[1]["content"]) < FEEDBACK_CHARS + 400 and "left out" in asked[1]["content"]
    assert first[1]["content"] == "Write it."                 # the first request is untouched
    asker = SimpleNamespace(findings=[])
    for finding in ("a", "b", "a", "c", ""):
        Asker.found(asker, finding)
    assert asker.findings == ["b", "c"][-MAX_FINDINGS:]       # distinct, the latest ones


def test_a_reply_starts_with_the_def_line_and_docstring_of_the_request():
    """The prefix a provider may write into the model's turn is the
    request's own `def` line and docstring; a description that would end
    the docstring early (or none) leaves the docstring out."""
    from types import SimpleNamespace
    from npl.filling.prompt import build_messages, reply_prefix

    def spec(description: str):
        return SimpleNamespace(kind="function", func_name="f", signature="def f(x: int) -> int",
                               description=description)
    two_lines = spec("Twice x,\nrounded down.")
    prefix = reply_prefix(two_lines)
    assert prefix == '```python\ndef f(x: int) -> int:\n    """Twice x,\n    rounded down."""\n'
    request = build_messages(two_lines, [], [])[-1]["content"]
    assert prefix.removeprefix("```python\n").rstrip("\n") in request
    for awkward in ('Say """hi"""', "", "Ends in a backslash \\"):
        assert reply_prefix(spec(awkward)) == "```python\ndef f(x: int) -> int:\n"
