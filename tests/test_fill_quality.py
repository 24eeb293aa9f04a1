"""bench/fill_quality.py, the fill-quality benchmark (MBPP problems as NPL
holes, NPL against a one-shot Python baseline): the conversion keeps what
NPL's types express and gives programs that type-check, and the judge
fails a wrong answer on the hidden tests, for both arms, with a scripted
model (no local model)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from fakellm import FakeLLMServer, dynamic

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture
def bench(monkeypatch):
    """The benchmark's modules (bench/mbpp on sys.path), removed afterwards."""
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.syspath_prepend(str(BENCH / "mbpp"))
    import arms
    import convert
    import digest
    import fill_quality
    import problem
    yield type("Bench", (), {"arms": arms, "convert": convert, "problem": problem, "fq": fill_quality,
                             "digest": digest})
    for name in ("arms", "convert", "digest", "fill_quality", "problem", "judge", "baseline",
                 "harness"):
        sys.modules.pop(name, None)


def record(task_id: int, prompt: str, asserts: list[str], name: str) -> dict:
    """A record as MultiPL-E's mbpp-py-reworded.json has them."""
    body = "".join(f"    assert {a}\n" for a in asserts)
    return {"name": f"mbpp_{task_id}_{name}", "prompt": prompt,
            "tests": f"def check(candidate):\n{body}\ndef test_check():\n    check({name})\n"}


RECORDS = [
    record(2, 'from typing import List, Tuple\n\ndef pairs(xs: List[int]) -> List[Tuple[int, str]]:\n'
              '    """\n\tPair each number with its text.\n\t"""\n',
           ["candidate([1]) == [(1, '1')]", "candidate([]) == []"], "pairs"),
    record(1, 'from typing import Dict, Optional\n\ndef first(d: Dict[str, int], k: str) -> Optional[int]:\n'
              '    """\n\tThe value at k, if any.\n\t"""\n',
           ["candidate({'a': 1}, 'a') == 1", "candidate({}, 'b') == None"], "first"),
    record(3, 'from typing import Any\n\ndef f(x: Any) -> int:\n    """\n\tAnything.\n\t"""\n',
           ["candidate(1) == 1", "candidate(2) == 2"], "f"),
    record(4, 'from typing import Tuple\n\ndef g(t: Tuple[int, ...]) -> int:\n    """\n\tA sum.\n\t"""\n',
           ["candidate((1, 2)) == 3", "candidate(()) == 0"], "g"),
    record(5, 'def h(n: int) -> float:\n    """\n\tA root.\n\t"""\n',
           ["candidate(4) == math.sqrt(4)", "candidate(1) == 1.0"], "h"),
    record(6, 'def k(n: int) -> int:\n    """\n\tTwice.\n\t"""\n', ["candidate(1) == 2"], "k"),
    record(7, 'def m(n: int) -> int:\n    """\n\tTwice.\n\t"""\n',
           ["candidate(1) == 2", "candidate(2) == 'four'"], "m"),
]


def test_conversion_keeps_what_npl_types_express(bench):
    skipped = []
    problems = bench.convert.convert_all(RECORDS, report=skipped.append)
    assert [p.name for p in problems] == ["first", "pairs"]          # task-id order
    first, pairs = problems
    assert first.params == [("d", "dict[str, int]"), ("k", "str")] and first.returns == "int | None"
    assert pairs.returns == "list[tuple[int, str]]" and pairs.description == "Pair each number with its text."
    assert pairs.tests == [([[1]], [(1, "1")]), ([[]], [])]
    assert bench.problem.program_text(pairs, pairs.shown) == (
        'def pairs(xs: list[int]) -> list[tuple[int, str]]:\n    """Pair each number with its text."""\n'
        "    ...\n\nexample pairs([1]) == [(1, '1')]\n")
    reasons = "\n".join(skipped)
    for expected in ("mbpp_3_f: type Any", "mbpp_4_g: type Tuple[int, ...]", "mbpp_5_h: a test whose "
                     "values are not literals", "mbpp_6_k: fewer than two tests",
                     "mbpp_7_m: does not type-check"):
        assert expected in reasons


def test_the_benchmark_problems_round_trip_and_type_check(bench):
    problems = bench.fq.load_problems(limit=bench.fq.DEFAULT_LIMIT)
    assert len(problems) == bench.fq.DEFAULT_LIMIT
    assert len({p.task_id for p in problems}) == len(problems)
    for p in problems:
        assert len(p.tests) >= 2 and p.hidden
        assert bench.problem.Problem.from_json(p.to_json()) == p
        assert bench.convert.type_checks(p) is None, p.name


def test_first_replies_are_a_step_and_one_attempt_away(bench):
    """`--step 2 --attempts 1` (how bench/README.md measured first replies):
    every other problem, and an npl.toml that allows one attempt."""
    args = bench.fq.parse_args(["--step", "2", "--limit", "10", "--attempts", "1", "--threads", "3"])
    every = bench.fq.load_problems(limit=10)
    assert bench.fq.load_problems(limit=10, step=args.step) == every[::2]
    settings = bench.fq.npl_settings(args)
    assert "[fill]\nattempts = 1\n" in settings and "threads = 3" in settings
    assert bench.fq.npl_settings(bench.fq.parse_args([])) == ""


def scripted(reply: str):
    """A model that answers every request with `reply` in a code block."""
    return dynamic(lambda request: f"```\n{reply}\n```")


NOT_PRIME_WRONG = "def is_not_prime(n: int) -> bool:\n    return n % 2 == 1\n"      # right for 2 only
NOT_PRIME_RIGHT = ("def is_not_prime(n: int) -> bool:\n    if n < 2:\n        return True\n"
                   "    for d in range(2, n):\n        if n % d == 0:\n            return True\n"
                   "    return False\n")


@pytest.mark.parametrize("fill, passed", [(NOT_PRIME_WRONG, False), (NOT_PRIME_RIGHT, True)])
def test_both_arms_are_judged_on_the_hidden_tests(bench, monkeypatch, tmp_path, fill, passed):
    problem = bench.fq.load_problems(limit=1)[0]
    assert problem.name == "is_not_prime" and problem.shown == [([2], False)]
    from npl.filling.providers import make_provider
    with FakeLLMServer(default=scripted(fill)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        npl = bench.arms.npl_arm(problem, "openai/m", tmp_path / "npl", tmp_path / "library",
                                 settings="[fill]\nsynth_budget = 0\n")
        python = bench.arms.python_arm(problem, make_provider("openai/m"), tmp_path / "python")
    for result in (npl, python):
        assert (result.passed, result.hidden_passed) == (passed, passed), result
        assert result.tests == 4 and result.tests_passed == (4 if passed else 2)
        assert result.calls == 1 and result.prompt_tokens > 0
    assert npl.source == "model" and npl.attempts == 1
    assert python.solution.strip() == fill.strip()
    if not passed:
        assert npl.note == python.note == "got False, expected True"


def test_a_run_time_error_is_noted_without_the_temporary_folder(bench, monkeypatch, tmp_path):
    problem = bench.fq.load_problems(limit=1)[0]
    out_of_range = "def is_not_prime(n: int) -> bool:\n    xs = [False]\n    return xs[n - 2]\n"
    with FakeLLMServer(default=scripted(out_of_range)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        npl = bench.arms.npl_arm(problem, "openai/m", tmp_path / "npl", tmp_path / "library",
                                 settings="[fill]\nsynth_budget = 0\n")
    assert npl.source == "model" and not npl.passed
    assert "index out of range" in npl.note and "is_not_prime.npl" in npl.note
    assert str(tmp_path) not in npl.note


def test_the_summary_compares_arms_on_the_problems_both_answered(bench):
    def row(task_id, arm, passed, seconds, source=""):
        return {"task_id": task_id, "arm": arm, "passed": passed, "hidden_passed": passed,
                "seconds": seconds, "calls": 1, "prompt_tokens": 90, "completion_tokens": 10,
                "source": source}
    rows = [row(1, "npl", True, 4.0, "model"), row(1, "python", False, 1.0),
            row(2, "npl", False, 2.0, "synth"), row(2, "python", False, 3.0),
            row(3, "npl", True, 9.0, "model")]            # no baseline answer yet: left out
    summary = bench.fq.summarize(rows)
    assert summary["problems"] == 2
    assert summary["arms"]["npl"]["pass_rate"] == 50.0 and summary["arms"]["python"]["pass_rate"] == 0.0
    assert summary["arms"]["npl"]["mean_tokens"] == 100.0
    assert summary["npl_by_source"] == {"model": {"filled": 1, "passed": 1},
                                        "synth": {"filled": 1, "passed": 0}}
    assert summary["npl_minus_python_points"] == 50.0 and summary["time_ratio"] == 1.5


def test_the_judge_outlives_a_reply_that_hangs_or_exits(bench, tmp_path):
    import judge
    hangs, exits = tmp_path / "hangs.py", tmp_path / "exits.py"
    hangs.write_text("def f(n: int) -> int:\n    while True:\n        pass\n")
    exits.write_text("import os\ndef f(n: int) -> int:\n    os._exit(0)\n")
    verdict = judge.judge("python", hangs, "f", [([1], 1), ([2], 2)], timeout=0.5)
    assert verdict.passed == [False, False] and verdict.notes == ["timed out after 0.5 s"] * 2
    verdict = judge.judge("python", exits, "f", [([1], 1)], timeout=0.5)
    assert not verdict.all_passed and verdict.error.startswith("the test process failed")


def test_the_digest_reads_the_attempt_records(bench, tmp_path):
    """Outcomes by arm, first replies, later attempts by kind, repeats and
    rejections by stage and error code, from OUT.jsonl and OUT.attempts/."""
    def row(task_id, name, arm, passed, seconds, attempts=0):
        return {"task_id": task_id, "name": name, "arm": arm, "passed": passed, "seconds": seconds,
                "source": "model" if attempts else "none", "attempts": attempts}

    def attempt(number, verdict, seconds, stage="", feedback="", detail=""):
        return {"number": number, "verdict": verdict, "stage": stage, "feedback": feedback,
                "detail": detail, "seconds": seconds, "prompt_tokens": 600, "completion_tokens": 60}
    out = tmp_path / "run.jsonl"
    results = [row(1, "easy", "npl", True, 7.0, 1), row(1, "easy", "python", True, 6.0),
               row(2, "tuples", "npl", True, 30.0, 2), row(2, "tuples", "python", False, 5.0),
               row(3, "hard", "npl", False, 40.0), row(3, "hard", "python", False, 5.0)]
    out.write_text("".join(json.dumps(r) + "\n" for r in results))
    folder = tmp_path / "run.attempts"
    folder.mkdir()
    e015 = "It does not compile:\nf.npl:4:36: error[E015]: cannot iterate over tuple[int, int]\n"
    records = {
        "1-easy": [attempt(1, "accepted", 7.0),
                   {"number": 0, "detail": "meaning of library entry abc", "verdict": "rejected"}],
        "2-tuples": [attempt(1, "rejected", 8.0, "compile", e015),
                     attempt(2, "accepted", 20.0, detail="resampled: the first reply repeated an "
                                                         "earlier answer")],
        "3-hard": [attempt(1, "rejected", 9.0, "test", "It fails the example"),
                   attempt(2, "rejected", 15.0, "reply", "Your reply was cut off: it repeated x"),
                   attempt(3, "rejected", 16.0, "test", "It fails the example",
                           detail="sampled fresh (temperature 0.8): an earlier repair repeated")],
    }
    for name, rows in records.items():
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    d = bench.digest.digest(results, bench.digest.attempts_of(out))
    assert d["problems"] == 3
    assert {k: v["names"] for k, v in d["outcomes"].items()} == \
        {"both": ["easy"], "npl_only": ["tuples"], "python_only": [], "neither": ["hard"]}
    assert d["first"] == {"holes": 3, "accepted": 1, "right": 1, "mean_seconds": 8.0,
                          "python_mean_seconds": 5.33}
    assert d["later"] == {"holes": 2, "seconds_after_first": 51.0, "right": 1,
                          "accepted_by": {"fresh at attempt 2": 1}}
    assert d["repeats"] == 1
    assert d["rejections"]["by_stage"] == {"test": 2, "compile": 1, "reply": 1}
    assert d["rejections"]["compile_codes"] == {"E015": 1} and d["rejections"]["cut_off"] == 1
    assert d["rejections"]["compile_messages"] == {"E015 cannot iterate over tuple[int, int]": 1}
    assert d["total_seconds"] == {"npl": 77.0, "python": 16.0}
    # cut after attempt 1, "tuples" (filled by its second) is not filled, and
    # NPL's time loses every later attempt's seconds
    assert d["by_attempts"] == [
        {"attempts": 1, "passed": 1, "points": 0.0, "time_ratio": round((7 + 10 + 9) / 16, 2)},
        {"attempts": 2, "passed": 2, "points": 33.3, "time_ratio": round((7 + 30 + 24) / 16, 2)},
        {"attempts": 3, "passed": 2, "points": 33.3, "time_ratio": round(77 / 16, 2)}]
