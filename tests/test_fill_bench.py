"""bench/fill_model.py, the model-filling benchmark, run against a scripted
OpenAI-compatible server: it builds each task's program, fills it through
the whole loop, judges held-out examples, and its two variants differ
exactly in resampling a repeated reply."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from fakellm import FakeLLMServer, dynamic, prompt_text

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture
def fill_bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH / "synth"))
    spec = importlib.util.spec_from_file_location("fill_model", BENCH / "fill_model.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "fill_model", module)     # dataclasses look it up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("run", None)


BUGGY = "```npl\ndef f(s: str) -> str:\n    return s.lower()\n```"
GOOD = "```npl\ndef f(s: str) -> str:\n    return s.upper()\n```"


def test_programs_are_the_tasks_with_their_given_examples(fill_bench):
    task = {"signature": "def f(xs: list[int], d: dict[str, int]) -> set[int]",
            "description": "a set"}
    text = fill_bench.program_text(task, [(([1, 2], {"a": 1}), {3}), (([], {}), set())])
    assert text == ('def f(xs: list[int], d: dict[str, int]) -> set[int]:\n    """a set"""\n    ...\n\n'
                    "example f([1, 2], {'a': 1}) == {3}\n"
                    "example f([], {}) == set()\n")


def test_the_variants_differ_only_in_resampling(fill_bench, monkeypatch, tmp_path, capsys):
    """The scripted model repeats its buggy reply at temperature 0 and answers
    correctly when sampled: only the resampling loop gets there."""
    def respond(request):
        assert "Write this Python function" in prompt_text(request) or "rejected" in \
            prompt_text(request)
        return GOOD if request.get("temperature", 0) > 0 else BUGGY
    monkeypatch.setenv("NPL_LIBRARY", "off")          # main() sets it; this restores it after
    with FakeLLMServer(default=dynamic(respond)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        status = fill_bench.main(["--model", "openai/m", "--only", "upper", "--attempts", "2",
                                  "--no-record"])
    assert status == 0
    out = capsys.readouterr().out
    assert "resample     filled 1/1, held-out ok 1/1, 3 model calls" in out
    assert "no-resample  filled 0/1, held-out ok 0/1, 2 model calls" in out
