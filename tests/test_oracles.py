"""Oracles (SPEC section 10): the language rules, the answer store, asking
a scripted OpenAI/Anthropic server (structured output, repair, errors),
--frozen, stale answers, concurrency and `npl test`'s accuracy report."""
from __future__ import annotations

import json
import time

import pytest

import npl
from fakellm import FakeLLMServer, dynamic, error, prompt_text, reply
from npl.filling.answers import AnswerStore, answers_path_for
from npl.filling.oracle_types import AnswerTypeError, answer_schema, from_json, gbnf, to_json
from npl.lang.types import FLOAT, INT, STR, DictT, ListT, OptionalT, TupleT
from test_fill_e2e import run_npl

PROGRAM = '''\
struct Invoice:
    vendor: str
    total: float
    due: str | None

@oracle
def sentiment(review: str) -> str:
    """Exactly one of "positive", "negative" or "neutral": the review's overall sentiment."""
    ...

example sentiment("Loved every minute of it.") == "positive"
example sentiment("It broke after a day.") == "negative"

@oracle
def read_invoice(text: str) -> Invoice:
    """The vendor, the total amount and the due date (YYYY-MM-DD, or None) stated in the text."""
    ...

@oracle
def keywords(text: str, n: int) -> list[str]:
    """The n most important words of the text, lower case."""
    ...

@oracle
def due_year(text: str) -> int | None:
    """The year a payment is due, or None when the text names none."""
    ...

def main():
    print([sentiment(r) for r in ["Great value.", "Never again."]])
    inv = read_invoice("ACME bills 12.50, due 2027-01-31")
    print(inv.vendor, inv.total, inv.due)
    print(keywords("the quick brown fox", 2), due_year("no date here"))
'''

ANSWERS = {
    "sentiment('Great value.')": '{"answer": "positive"}',
    "sentiment('Never again.')": '{"answer": "negative"}',
    "sentiment('Loved every minute of it.')": '{"answer": "positive"}',
    "sentiment('It broke after a day.')": '{"answer": "neutral"}',
    "read_invoice('ACME bills 12.50, due 2027-01-31')":
        '{"answer": {"vendor": "ACME", "total": 12.5, "due": "2027-01-31"}}',
    "keywords('the quick brown fox', 2)": '```json\n{"answer": ["quick", "fox"]}\n```',
    "due_year('no date here')": '{"answer": null}',
}


def the_call(request: dict) -> str:
    text = prompt_text(request)
    return text.split("Call:\n    ", 1)[1].split("\n", 1)[0]


def by_call(answers=ANSWERS):
    return dynamic(lambda request: answers[the_call(request)])


@pytest.fixture
def program(tmp_path, monkeypatch):
    path = tmp_path / "prog.npl"
    path.write_text(PROGRAM)
    monkeypatch.setenv("NPL_RUN_CACHE", "off")
    return path


def openai_env(server):
    return {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "k", "NPL_RUN_CACHE": "off"}


# ---------------------------------------------------------------- the language

@pytest.mark.parametrize("source, message", [
    ("@oracle\ndef f(x: int) -> int:\n    return x\n", "has a body"),
    ("@oracle\ndef f(xs: array[float]) -> int:\n    \"\"\"d\"\"\"\n    ...\n", "arrays cannot"),
    ("@oracle\ndef f(x: int) -> array[int]:\n    \"\"\"d\"\"\"\n    ...\n", "cannot return"),
    ("@oracle\ndef f(x: int):\n    \"\"\"d\"\"\"\n    ...\n", "must declare the type"),
    ("@oracle\n@kernel\ndef f(x: int) -> int:\n    \"\"\"d\"\"\"\n    ...\n", "both @kernel and @oracle"),
    ("struct P:\n    xs: array[int]\n\n@oracle\ndef f(x: int) -> P:\n    \"\"\"d\"\"\"\n    ...\n",
     "struct P holds one"),
])
def test_what_an_oracle_may_not_be(source, message):
    with pytest.raises(npl.CompileError) as info:
        npl.compile_source(source + "\ndef main():\n    pass\n", "o.npl")
    codes = [d.code for d in info.value.diagnostics]
    assert "E070" in codes, str(info.value)
    assert message in str(info.value)


def test_an_oracle_is_not_a_code_hole(program):
    r = run_npl(["check", "prog.npl"], program.parent)
    assert r.returncode == 0, r.stderr
    assert "prog.npl:7:1: oracle sentiment: answered by a model at run time" in r.stdout
    assert "prog.npl: ok (4 oracles)" in r.stdout
    assert "hole" not in r.stdout


def test_a_kernel_cannot_call_an_oracle():
    source = ('@oracle\ndef f(x: int) -> int:\n    """d"""\n    ...\n\n'
              '@kernel\ndef k(x: int) -> int:\n    return f(x)\n\ndef main():\n    pass\n')
    with pytest.raises(npl.CompileError) as info:
        npl.compile_source(source, "k.npl")
    assert "E030" in [d.code for d in info.value.diagnostics]


def test_the_key_follows_the_docstring_and_examples_not_the_arguments(tmp_path):
    def keys(text):
        from npl.compiler.driver import compile
        return {s.name: s.key for s in compile(text, "p.npl").oracles}
    base = keys(PROGRAM)
    assert keys(PROGRAM.replace("print(keywords(", "print(keywords(")) == base
    assert keys(PROGRAM.replace("overall sentiment", "mood"))["sentiment"] != base["sentiment"]
    assert keys(PROGRAM.replace("It broke", "It cracked"))["sentiment"] != base["sentiment"]
    assert keys(PROGRAM.replace("overall sentiment", "mood"))["keywords"] == base["keywords"]


# ---------------------------------------------------------------- JSON forms

def test_json_values_convert_by_type():
    assert from_json([1, 2], ListT(INT), {}) == [1, 2]
    assert from_json(None, OptionalT(STR), {}) is None
    assert from_json(3, FLOAT, {}) == 3.0 and isinstance(from_json(3, FLOAT, {}), float)
    assert from_json([1, "a"], TupleT((INT, STR)), {}) == (1, "a")
    assert from_json([[1, "a"]], DictT(INT, STR), {}) == {1: "a"}
    for data, t in ((True, INT), ("1", INT), ([1, "x"], ListT(INT)), ({"a": 1}, DictT(STR, STR)),
                    ([1], TupleT((INT, INT))), (1.5, INT)):
        with pytest.raises(AnswerTypeError):
            from_json(data, t, {})
    assert to_json({1: "a"}) == [[1, "a"]] and to_json((1, {"k": [None]})) == [1, {"k": [None]}]


def test_the_schema_and_grammar_follow_the_type():
    fields = {"Invoice": [("vendor", STR), ("total", FLOAT), ("due", OptionalT(STR))]}
    from npl.lang.types import StructT
    schema = answer_schema(StructT("Invoice"), fields)
    inner = schema["properties"]["answer"]
    assert inner["required"] == ["vendor", "total", "due"] and inner["additionalProperties"] is False
    assert inner["properties"]["due"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    grammar = gbnf(StructT("Invoice"), fields)
    assert grammar.startswith("root ::=") and '\\"vendor\\"' in grammar and "null" in grammar


def test_the_grammars_parse_in_llama_cpp():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is the npl[local] extra")
    from npl.filling.providers import llama_engine
    from npl.lang.types import StructT
    fields = {"Invoice": [("vendor", STR), ("total", FLOAT), ("due", OptionalT(STR))]}
    for t in (STR, INT, ListT(STR), OptionalT(INT), TupleT((INT, STR)), DictT(STR, ListT(INT)),
              DictT(INT, STR), StructT("Invoice"), ListT(StructT("Invoice"))):
        llama_engine.check_grammar(gbnf(t, fields))


# ---------------------------------------------------------------- asking

def test_a_run_asks_stores_and_a_second_run_asks_nothing(program):
    with FakeLLMServer(default=by_call()) as server:
        r = run_npl(["run", "--model", "openai/m", "prog.npl"], program.parent, openai_env(server))
        assert r.returncode == 0, r.stderr
        first = len(server.requests)
        r2 = run_npl(["run", "--model", "openai/m", "prog.npl"], program.parent, openai_env(server))
        assert r2.returncode == 0, r2.stderr
        assert len(server.requests) == first == 5
    assert r.stdout == "['positive', 'negative']\nACME 12.5 2027-01-31\n['quick', 'fox'] None\n"
    assert r2.stdout == r.stdout
    assert "5 oracle call(s): 0 answered from the store, 5 asked" in r.stderr
    assert "5 oracle call(s): 5 answered from the store, 0 asked" in r2.stderr
    body = server.requests[0].json
    assert body["response_format"]["type"] == "json_schema"
    assert "Worked examples" in prompt_text(body)


def test_frozen_answers_from_the_store_only(program):
    r = run_npl(["run", "--frozen", "prog.npl"], program.parent, {"NPL_RUN_CACHE": "off"})
    assert r.returncode == 1
    assert "oracle 'sentiment' has no stored answer for sentiment('Great value.')" in r.stderr
    assert "--frozen" in r.stderr and "in main (prog.npl:" in r.stderr
    with FakeLLMServer(default=by_call()) as server:
        assert run_npl(["run", "--model", "openai/m", "prog.npl"], program.parent,
                       openai_env(server)).returncode == 0
    r = run_npl(["run", "--frozen", "prog.npl"], program.parent, {"NPL_RUN_CACHE": "off"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("['positive', 'negative']")


def test_an_edited_docstring_asks_again_and_old_answers_are_stale(program):
    with FakeLLMServer(default=by_call()) as server:
        env = openai_env(server)
        assert run_npl(["run", "--model", "openai/m", "prog.npl"], program.parent, env).returncode == 0
        program.write_text(PROGRAM.replace("overall sentiment", "overall mood"))
        r = run_npl(["run", "--model", "openai/m", "prog.npl"], program.parent, env)
        assert r.returncode == 0, r.stderr
        assert len(server.requests) == 7          # the two sentiment calls again
    r = run_npl(["answers", "prog.npl"], program.parent)
    assert "2 stale answer(s)" in r.stdout
    r = run_npl(["answers", "--prune", "prog.npl"], program.parent)
    assert "pruned 2 stale answer(s)" in r.stdout
    assert len(AnswerStore(answers_path_for(str(program))).all()) == 5


def test_a_malformed_reply_is_asked_again_with_the_error(program, monkeypatch):
    script = [reply("I think it is positive"), reply('{"answer": "positive"}')]
    with FakeLLMServer(script) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "k")
        prog = npl.load(str(program), frozen=False, model="openai/m")
        assert prog.call("sentiment", "Fine.") == "positive"
        second = server.requests[1].json["messages"]
    assert "holds no JSON object" in second[-1]["content"]
    assert second[-2] == {"role": "assistant", "content": "I think it is positive"}


def test_a_reply_of_the_wrong_type_is_an_error_after_the_attempts(program, monkeypatch):
    with FakeLLMServer(default=reply('{"answer": {"vendor": "A", "total": "lots"}}')) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "k")
        prog = npl.load(str(program), frozen=False, model="openai/m")
        with pytest.raises(npl.NplRuntimeError) as info:
            prog.call("read_invoice", "text")
        assert len(server.requests) == 3           # [oracle] attempts, default 3
    message = info.value.render()
    assert "oracle 'read_invoice' gave no valid answer for read_invoice('text') in 3 attempt(s)" in message
    assert "exactly the fields vendor, total, due" in message and "last reply" in message
    assert not AnswerStore(answers_path_for(str(program))).all()


def test_a_provider_error_is_a_runtime_error_naming_the_oracle(program, monkeypatch):
    with FakeLLMServer(default=error(401, "bad key")) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "k")
        prog = npl.load(str(program), frozen=False, model="openai/m")
        with pytest.raises(npl.NplRuntimeError) as info:
            prog.call("sentiment", "x")
    assert info.value.kind == "oracle"
    assert "oracle 'sentiment' could not ask openai/m for sentiment('x')" in info.value.render()


def test_anthropic_answers_through_a_tool(program, monkeypatch):
    body = {"id": "m", "type": "message", "role": "assistant", "model": "c",
            "content": [{"type": "tool_use", "id": "t", "name": "answer",
                         "input": {"answer": ["a", "b"]}}],
            "usage": {"input_tokens": 5, "output_tokens": 3}}
    from fakellm import Step
    with FakeLLMServer(default=Step(body=body)) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
        prog = npl.load(str(program), frozen=False, model="anthropic/c")
        assert prog.call("keywords", "a b c", 2) == ["a", "b"]
        sent = server.requests[0].json
    assert sent["tool_choice"] == {"type": "tool", "name": "answer"}
    assert sent["tools"][0]["input_schema"]["properties"]["answer"]["type"] == "array"


def test_a_comprehension_asks_its_calls_concurrently_in_order(tmp_path, monkeypatch):
    source = ('@oracle\ndef double(x: int) -> int:\n    """Twice x."""\n    ...\n\n'
              'def main():\n    print([double(i) for i in range(16)])\n')
    path = tmp_path / "c.npl"
    path.write_text(source)

    def answer(request):
        x = int(the_call(request)[len("double("):-1])
        return reply(json.dumps({"answer": 2 * x}), delay=1.0)
    with FakeLLMServer(default=dynamic(answer)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "k")
        prog = npl.load(str(path), frozen=False, model="openai/m")
        started = time.monotonic()
        prog.call("main")
        seconds = time.monotonic() - started
        assert len(server.requests) == 16
    assert seconds < 4.0, seconds
    assert prog.oracles.stats.asked == 16


def test_npl_test_reports_the_oracles_accuracy(program):
    with FakeLLMServer(default=by_call()) as server:
        env = openai_env(server)
        r = run_npl(["test", "--model", "openai/m", "prog.npl"], program.parent, env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "oracle sentiment: 1 of 2 example(s) answered right (50%)" in r.stdout
        assert "MISS" in r.stdout
        # the example being asked is not shown to the model as a worked case
        asked = [prompt_text(q.json) for q in server.requests]
        assert all(t.count("It broke after a day.") == 1 for t in asked if "It broke" in t)
        strict = run_npl(["test", "--strict", "--model", "openai/m", "prog.npl"], program.parent, env)
        assert strict.returncode == 1


def test_a_damaged_store_is_reported_and_left_alone(program):
    store = program.parent / "prog.npl.answers"
    store.write_bytes(b"this is not a database" * 100)
    r = run_npl(["run", "--frozen", "prog.npl"], program.parent, {"NPL_RUN_CACHE": "off"})
    assert r.returncode != 0 and "internal error" not in r.stderr
    assert "answer store" in r.stderr and "move it aside" in r.stderr
    assert store.read_bytes() == b"this is not a database" * 100


def test_map_and_filter_over_an_oracle_ask_together(tmp_path, monkeypatch):
    source = ('@oracle\ndef double(x: int) -> int:\n    """Twice x."""\n    ...\n\n'
              '@oracle\ndef big(x: int) -> bool:\n    """Whether x is above 4."""\n    ...\n\n'
              'def main():\n    print(list(map(double, range(8))), list(filter(big, range(8))))\n')
    path = tmp_path / "m.npl"
    path.write_text(source)

    def answer(request):
        call = the_call(request)
        x = int(call[call.index("(") + 1:-1])
        value = 2 * x if call.startswith("double") else x > 4
        return reply(json.dumps({"answer": value}), delay=1.0)
    with FakeLLMServer(default=dynamic(answer)) as server:
        env = openai_env(server)
        started = time.monotonic()
        r = run_npl(["run", "--model", "openai/m", "m.npl"], tmp_path, env)
        seconds = time.monotonic() - started
    assert r.returncode == 0, r.stderr
    assert r.stdout == "[0, 2, 4, 6, 8, 10, 12, 14] [5, 6, 7]\n"
    assert seconds < 8.0, seconds                  # 16 calls of 1 s, 8 at a time


def test_the_language_server_hover_shows_the_stored_answers(program):
    from npl.filling.oracles import Oracles  # noqa: F401  (the store's writer)
    from npl.lsp import analyze, hover_text
    from npl.compiler.driver import compile
    comp = compile(PROGRAM, str(program))
    spec = next(s for s in comp.oracles if s.name == "sentiment")
    store = AnswerStore(answers_path_for(str(program)))
    store.put(spec.key, "sentiment", '["a"]', "openai/m", "positive", {})
    store.put(spec.key, "sentiment", '["b"]', "local/q", "negative", {})
    store.close()
    a = analyze(program.as_uri(), PROGRAM)
    line = PROGRAM.splitlines().index("    print([sentiment(r) for r in [\"Great value.\", \"Never again.\"]])")
    text = hover_text(a, line + 1, 13)
    assert "@oracle: answered by a model at run time; 2 stored answer(s) (1 by local/q, 1 by openai/m)" \
        in text, text
