"""End to end: `npl fill` against a local server that speaks the OpenAI (and
Anthropic) protocol with scripted replies. This tests NPL's client, prompts,
reply parsing, verification, repair, ordering, parallelism and lock file —
not a model's quality.
"""
from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import npl_command
from fakellm import FakeLLMServer, dynamic, prompt_text, reply

PROGRAM = '''\
def count_vowels(s: str) -> int:
    """Count the vowels a, e, i, o, u in s, in either case."""
    ...

example count_vowels("Hello") == 2
example count_vowels("AEIOU xyz") == 5

def normalize(xs: list[float]) -> list[float]:
    total = sum(xs)
    return ?{each element of xs divided by total}

example normalize([1.0, 3.0]) == [0.25, 0.75]

def main():
    print(count_vowels("Programming in NPL"), normalize([2.0, 2.0]))
'''

BUGGY_VOWELS = '```npl\ndef count_vowels(s: str) -> int:\n    return sum(1 for c in s if c in "aeiou")\n```'
GOOD_VOWELS = '```npl\ndef count_vowels(s: str) -> int:\n    return sum(1 for c in s.lower() if c in "aeiou")\n```'
NORMALIZE = "```npl\n[x / total for x in xs]\n```"


def answer_by_hole(first_vowels: str = BUGGY_VOWELS):
    """Answer each request by which hole it is about; the first answer for
    count_vowels is `first_vowels`, later ones the correct code."""
    seen = {"vowels": 0}

    def respond(request):
        text = prompt_text(request)
        if "Write this Python function" in text:
            seen["vowels"] += 1
            return first_vowels if seen["vowels"] == 1 else GOOD_VOWELS
        return NORMALIZE
    return dynamic(respond)


def run_npl(args, cwd, env_extra=None, timeout=120):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(npl_command() + args, cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture
def program(tmp_path):
    path = tmp_path / "prog.npl"
    path.write_text(PROGRAM)
    return path


def test_fill_repairs_locks_and_runs_frozen_offline(program):
    with FakeLLMServer(default=answer_by_hole()) as server:
        env = {"OPENAI_BASE_URL": server.base_url}
        r = run_npl(["fill", "prog.npl", "--model", "openai/any-name"], program.parent, env)
        assert r.returncode == 0, r.stderr
        requests = list(server.requests)
    # three requests: vowels (buggy), vowels repaired, normalize
    assert len(requests) == 3
    repair = [q for q in requests if "was rejected" in prompt_text(q.json)]
    assert len(repair) == 1
    feedback = prompt_text(repair[0].json)
    assert 'count_vowels("AEIOU xyz") == 5' in feedback        # the failing example
    assert "left side is 0" in feedback or "got 0" in feedback  # actual value
    assert "Trace of your code" in feedback and "s='AEIOU xyz'" in feedback
    lock = (program.parent / "prog.npl.lock").read_text()
    assert 's.lower()' in lock and "[x / total for x in xs]" in lock
    assert 'source = "openai/any-name"' in lock and "attempts = 2" in lock
    # the server is gone: --frozen runs from the lock alone
    r = run_npl(["run", "--frozen", "prog.npl"], program.parent)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "4 [0.5, 0.5]\n"


def test_second_fill_sends_nothing_and_edit_refills_one_hole(program):
    with FakeLLMServer(default=answer_by_hole(GOOD_VOWELS)) as server:
        env = {"OPENAI_BASE_URL": server.base_url}
        assert run_npl(["fill", "prog.npl", "--model", "openai/m"], program.parent, env).returncode == 0
        first = len(server.requests)
        assert first == 2
        r = run_npl(["fill", "prog.npl", "--model", "openai/m"], program.parent, env)
        assert r.returncode == 0 and len(server.requests) == first       # no request
        lock_before = (program.parent / "prog.npl.lock").read_text()
        program.write_text(PROGRAM.replace("each element of xs divided by total",
                                           "xs scaled so that they sum to one"))
        r = run_npl(["fill", "prog.npl", "--model", "openai/m"], program.parent, env)
        assert r.returncode == 0, r.stderr
        new = server.requests[first:]
        assert len(new) == 1 and "scaled so that they sum to one" in prompt_text(new[0].json)
    lock_after = (program.parent / "prog.npl.lock").read_text()
    assert "sum to one" in lock_after and "divided by total" not in lock_after   # pruned
    vowels_entry = lock_before[lock_before.index("[holes."):].split("[holes.")[1].split("\n")[0]
    assert vowels_entry in lock_after or "count_vowels" in lock_after


OTHER_VOWELS = ('```npl\ndef count_vowels(s: str) -> int:\n'
                '    return len([c for c in s.lower() if c in "aeiou"])\n```')


def test_refresh_refills_the_named_hole_only(program):
    """`npl fill --refresh NAME` (a function name, a hole name or FILE:LINE)
    asks again for that hole even though its fill is locked, and leaves the
    other entries as they are; a name that is no hole exits 2 listing them."""
    with FakeLLMServer(default=answer_by_hole(GOOD_VOWELS)) as server:
        env = {"OPENAI_BASE_URL": server.base_url}
        assert run_npl(["fill", "prog.npl", "--model", "openai/m"], program.parent, env).returncode == 0
        first = len(server.requests)
        lock = program.parent / "prog.npl.lock"
        before = lock.read_text()
        normalize_entry = before[before.index("[x / total for x in xs]") - 200:
                                 before.index("[x / total for x in xs]")]
    def other_fills(request):
        if "Write this Python function" in prompt_text(request):
            return OTHER_VOWELS
        return "```npl\n[x / sum(xs) for x in xs]\n```"
    with FakeLLMServer(default=dynamic(other_fills)) as server:
        env = {"OPENAI_BASE_URL": server.base_url}
        r = run_npl(["fill", "--refresh", "count_vowels", "prog.npl", "--model", "openai/m"],
                    program.parent, env)
        assert r.returncode == 0, r.stderr
        assert len(server.requests) == 1      # not served by the library, which holds the old fill
        assert "Write this Python function" in prompt_text(server.requests[0].json)
        after = lock.read_text()
        assert "len([c for c in s.lower()" in after and "sum(1 for c in s.lower()" not in after
        assert normalize_entry in after                        # the other hole's entry is untouched
        # by location: the expression hole on line 10
        r = run_npl(["fill", "--refresh", "prog.npl:10", "prog.npl", "--model", "openai/m"],
                    program.parent, env)
        assert r.returncode == 0, r.stderr
        assert len(server.requests) == 2
        latest = lock.read_text()
        assert "[x / sum(xs) for x in xs]" in latest and "[x / total for x in xs]" not in latest
        assert "len([c for c in s.lower()" in latest
    # a refresh that fails loses nothing: the locked fill stays
    with FakeLLMServer(default="I cannot help with that.") as server:
        r = run_npl(["fill", "--refresh", "count_vowels", "prog.npl", "--model", "openai/m"],
                    program.parent, {"OPENAI_BASE_URL": server.base_url})
        assert r.returncode == 1 and "could not fill hole 'count_vowels'" in r.stderr
    assert lock.read_text() == latest
    assert first == 2
    r = run_npl(["fill", "--refresh", "nosuch", "prog.npl", "--frozen"], program.parent)
    assert r.returncode == 2
    assert r.stderr.startswith("npl: error: no hole named 'nosuch' in prog.npl; its holes: "
                               "count_vowels (prog.npl:1:1), normalize@10 (prog.npl:10:12)"), r.stderr
    r = run_npl(["fill", "--refresh", "count_vowels", "prog.npl", "--frozen"], program.parent)
    assert r.returncode == 2 and "which --frozen forbids" in r.stderr


def test_frozen_fill_and_run_name_each_missing_hole(program):
    r = run_npl(["run", "--frozen", "prog.npl"], program.parent)
    assert r.returncode == 2
    assert "prog.npl:1:1" in r.stderr and "count_vowels" in r.stderr
    assert "prog.npl:10:12" in r.stderr
    r = run_npl(["fill", "--frozen", "prog.npl"], program.parent)
    assert r.returncode == 2 and "count_vowels" in r.stderr


def test_unparsable_and_hostile_replies_exhaust_attempts_with_clear_error(program):
    junk = ["I'm sorry, I can't help with that.", "```npl\nimport os\nos.system('touch pwned')\n```",
            "```npl\ndef count_vowels(s: str) -> int:\n    return __import__('os').getpid()\n```",
            "```npl\ndef count_vowels(s: str) -> int:\n    return len(s) +\n```"]
    with FakeLLMServer(junk + [NORMALIZE] * 2, default=NORMALIZE) as server:
        env = {"OPENAI_BASE_URL": server.base_url, "NPL_CONCURRENCY": "1"}
        (program.parent / "npl.toml").write_text("[fill]\nconcurrency = 1\nattempts = 4\n")
        r = run_npl(["fill", "prog.npl", "--model", "openai/m"], program.parent, env)
    assert r.returncode == 1
    assert "could not fill hole 'count_vowels'" in r.stderr
    assert "after 4 attempts" in r.stderr
    assert not (program.parent / "pwned").exists()


def test_anthropic_provider_end_to_end(program):
    with FakeLLMServer(default=answer_by_hole(GOOD_VOWELS)) as server:
        env = {"ANTHROPIC_BASE_URL": server.anthropic_base_url, "ANTHROPIC_API_KEY": "test-key"}
        r = run_npl(["fill", "prog.npl", "--model", "anthropic/claude-test"], program.parent, env)
        assert r.returncode == 0, r.stderr
        assert all(q.path.endswith("/v1/messages") for q in server.requests)
    assert 'source = "anthropic/claude-test"' in (program.parent / "prog.npl.lock").read_text()


def test_independent_holes_fill_concurrently(tmp_path):
    n = 4
    parts = []
    for i in range(n):
        parts.append(f'def f{i}(x: int) -> int:\n    """Return x plus {i}."""\n    ...\n\n'
                     f'example f{i}(1) == {1 + i}\n')
    (tmp_path / "many.npl").write_text("\n".join(parts))
    arrivals: list[float] = []

    def respond(request):
        arrivals.append(time.monotonic())
        text = prompt_text(request)
        i = int(re.search(r"def f(\d+)\(", text.split("Write this Python function")[1]).group(1))
        return reply(f"```npl\ndef f{i}(x: int) -> int:\n    return x + {i}\n```", delay=delay)
    delay = 3.0
    with FakeLLMServer(default=dynamic(respond)) as server:
        env = {"OPENAI_BASE_URL": server.base_url}
        r = run_npl(["fill", "many.npl", "--model", "openai/m"], tmp_path, env)
        assert r.returncode == 0, r.stderr
        assert len(server.requests) == n
    # all four requests were in flight together: each arrived before the
    # first (slow) reply could have come back, so the fills overlapped
    assert max(arrivals) - min(arrivals) < delay, arrivals


def test_decomposition_fills_sub_holes(tmp_path):
    (tmp_path / "dec.npl").write_text('''\
def word_lengths(text: str) -> list[int]:
    """The length of each word of text."""
    ...

example word_lengths("ab c") == [2, 1]
''')
    parent = ('```npl\ndef words(text: str) -> list[str]:\n    """Split text into words."""\n    ...\n\n'
              'def word_lengths(text: str) -> list[int]:\n    return [len(w) for w in words(text)]\n```')
    child = "```npl\ndef words(text: str) -> list[str]:\n    return text.split()\n```"

    def respond(request):
        return child if "Split text into words" in prompt_text(request).split("Write this Python function")[-1] else parent
    with FakeLLMServer(default=dynamic(respond)) as server:
        r = run_npl(["fill", "dec.npl", "--model", "openai/m"], tmp_path, {"OPENAI_BASE_URL": server.base_url})
        assert r.returncode == 0, r.stderr
    lock = (tmp_path / "dec.npl.lock").read_text()
    assert "text.split()" in lock and "words(text)" in lock
    r = run_npl(["test", "dec.npl", "--frozen"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_npl(["fill", "--refresh", "words", "dec.npl", "--model", "openai/m"], tmp_path,
                {"OPENAI_BASE_URL": "http://127.0.0.1:9"})
    assert r.returncode == 2 and "'words' is a sub-hole" in r.stderr, r.stderr


def fill_vowels(program, answer) -> list[dict]:
    """`npl fill` of PROGRAM with `answer(request)` replying to the requests
    for count_vowels (the other hole gets NORMALIZE); those requests."""
    def respond(request):
        if "Write this Python function" not in prompt_text(request):
            return NORMALIZE
        return answer(request)
    with FakeLLMServer(default=dynamic(respond)) as server:
        r = run_npl(["fill", "prog.npl", "--model", "openai/m"], program.parent,
                    {"OPENAI_BASE_URL": server.base_url})
        assert r.returncode == 0, r.stderr
        return [q.json for q in server.requests
                if "Write this Python function" in prompt_text(q.json)]


def test_repeated_reply_is_resampled_from_the_first_request(program):
    """Greedy decoding that answers feedback with the rejected reply again gets
    one fresh sampled answer to the first request, with a seed per attempt."""
    vowels = fill_vowels(program, lambda request: GOOD_VOWELS
                         if request.get("temperature", 0) > 0 else BUGGY_VOWELS)
    # attempt 1 buggy; attempt 2 repeats it greedily, then one sampled fresh request
    assert [q.get("temperature") for q in vowels] == [0.0, 0.0, 0.8]
    assert len(vowels[1]["messages"]) == 4 and len(vowels[2]["messages"]) == 2
    assert vowels[2]["seed"] == 2 and "seed" not in vowels[0]
    lock = (program.parent / "prog.npl.lock").read_text()
    assert "s.lower()" in lock and "attempts = 2" in lock


def test_after_a_repeat_a_hole_asks_for_fresh_samples_and_repairs_carry_one_turn(program):
    """Once greedy decoding repeated itself on a hole, its later attempts ask
    for a sampled fresh answer (no repair request, which would repeat
    again); a repair request is the first request and one turn: the last
    rejected answer and why."""
    other = BUGGY_VOWELS.replace('"aeiou"', '"aeio"')          # wrong in another way
    buggy_twice = iter([BUGGY_VOWELS, BUGGY_VOWELS])
    fresh = iter([other, GOOD_VOWELS])

    vowels = fill_vowels(program, lambda request: next(buggy_twice)
                         if request.get("temperature", 0) == 0 else next(fresh))
    # 1 greedy: buggy; 2 greedy repeats it, then sampled fresh: other; 3 sampled fresh: good
    assert [q.get("temperature") for q in vowels] == [0.0, 0.0, 0.8, 0.8]
    assert [len(q["messages"]) for q in vowels] == [2, 4, 2, 2]
    assert vowels[1]["messages"][:2] == vowels[0]["messages"]     # the first request, one turn
    assert vowels[3]["seed"] == 3 and vowels[3]["messages"][0] == vowels[0]["messages"][0]
    # each fresh request is the first one and how earlier answers failed
    for fresh_request in vowels[2:]:
        assert_first_request_with_findings(fresh_request, vowels[0])
    lock = (program.parent / "prog.npl.lock").read_text()
    assert "s.lower()" in lock and "attempts = 3" in lock


def test_a_fresh_sample_that_repeats_an_answer_is_drawn_again_with_another_seed(program):
    """A sampled answer that is an earlier, rejected one again would only be
    rejected again: it is drawn again, with another seed, within the same
    attempt (at most FRESH_REDRAWS times)."""
    other = BUGGY_VOWELS.replace('"aeiou"', '"aeio"')
    greedy = iter([BUGGY_VOWELS, BUGGY_VOWELS])
    fresh = iter([BUGGY_VOWELS, other, other, other, GOOD_VOWELS])
    vowels = fill_vowels(program, lambda request: next(greedy)
                         if request.get("temperature", 0) == 0 else next(fresh))
    # 1 greedy: buggy; 2 greedy repeats it, sampled: buggy again, drawn again: other;
    # 3 sampled: other again, drawn again: other again, drawn again: good
    assert [q.get("temperature") for q in vowels] == [0.0, 0.0, 0.8, 0.8, 0.8, 0.8, 0.8]
    assert [q["seed"] for q in vowels[2:]] == [2, 1002, 3, 1003, 2003]
    lock = (program.parent / "prog.npl.lock").read_text()
    assert "s.lower()" in lock and "attempts = 3" in lock


def test_redraws_stop_after_their_limit(program):
    """Every sample the same rejected answer: each attempt draws
    1 + FRESH_REDRAWS times, then the repeat is judged (and rejected)."""
    from npl.filling.model_source import FRESH_REDRAWS
    (program.parent / "npl.toml").write_text("[fill]\nattempts = 2\n")

    def respond(request):
        if "Write this Python function" not in prompt_text(request):
            return NORMALIZE
        return BUGGY_VOWELS
    with FakeLLMServer(default=dynamic(respond)) as server:
        r = run_npl(["fill", "prog.npl", "--model", "openai/m"], program.parent,
                    {"OPENAI_BASE_URL": server.base_url})
        vowels = [q.json for q in server.requests if "Write this Python function" in prompt_text(q.json)]
    assert r.returncode == 1 and "after 2 attempts" in r.stderr
    assert len(vowels) == 1 + 1 + (1 + FRESH_REDRAWS)       # first, greedy repeat, the draws


def assert_first_request_with_findings(request: dict, first: dict) -> None:
    """`request` is `first` with the failed example (not the code, not a
    trace) added to its user message."""
    (system, user), (first_system, first_user) = request["messages"], first["messages"]
    assert system == first_system and user["content"].startswith(first_user["content"])
    added = user["content"][len(first_user["content"]):]
    assert "Earlier answers to this were wrong" in added
    assert 'count_vowels("AEIOU xyz") == 5' in added and "left side is 0" in added
    assert "Trace" not in added and 'c in s if c in "aeiou"' not in added


def test_repair_diagnostics_resamples_after_a_failed_example(program):
    """With [fill] repair = "diagnostics" (a local model's default), code that
    failed an example gets a fresh sampled answer to the first request
    next, not a repair request."""
    (program.parent / "npl.toml").write_text('[fill]\nrepair = "diagnostics"\n')
    vowels = fill_vowels(program, lambda request: GOOD_VOWELS
                         if request.get("temperature", 0) > 0 else BUGGY_VOWELS)
    assert [q.get("temperature") for q in vowels] == [0.0, 0.8]
    assert vowels[1]["seed"] == 2
    assert_first_request_with_findings(vowels[1], vowels[0])
    assert "attempts = 2" in (program.parent / "prog.npl.lock").read_text()


def test_repair_diagnostics_still_repairs_a_compile_error(program):
    (program.parent / "npl.toml").write_text('[fill]\nrepair = "diagnostics"\n')
    broken = BUGGY_VOWELS.replace("sum(1 for", "sum(1 for c in s if c in vowels) + sum(1 for")
    replies = iter([broken, GOOD_VOWELS])
    vowels = fill_vowels(program, lambda request: next(replies))
    assert [q.get("temperature") for q in vowels] == [0.0, 0.0]
    assert len(vowels[1]["messages"]) == 4 and "vowels" in prompt_text(vowels[1])


def test_the_model_is_told_file_names_not_the_programs_folder(program):
    """Filled by its absolute path: the repair message after a compile error
    and the findings of a fresh sample name `prog.npl`, never the folder
    the user keeps it in (a hosted provider need not learn it)."""
    (program.parent / "npl.toml").write_text('[fill]\nrepair = "diagnostics"\n')
    broken = BUGGY_VOWELS.replace("sum(1 for", "sum(1 for c in s if c in vowels) + sum(1 for")
    replies = iter([broken, BUGGY_VOWELS, GOOD_VOWELS])

    def respond(request):
        return next(replies) if "Write this Python function" in prompt_text(request) else NORMALIZE
    with FakeLLMServer(default=dynamic(respond)) as server:
        r = run_npl(["fill", str(program), "--model", "openai/m"], "/",
                    {"OPENAI_BASE_URL": server.base_url})
        vowels = [q.json for q in server.requests
                  if "Write this Python function" in prompt_text(q.json)]
    assert r.returncode == 0, r.stderr
    assert [q.get("temperature") for q in vowels] == [0.0, 0.0, 0.8]
    repair, findings = vowels[1]["messages"][-1]["content"], vowels[2]["messages"][-1]["content"]
    assert "prog.npl.lock#count_vowels:2:" in repair and "error[E010]" in repair
    assert re.search(r"It fails the example at prog\.npl:\d+:", findings), findings
    for request in vowels:
        assert str(program.parent) not in prompt_text(request)


def test_repair_diagnostics_resamples_after_a_reply_cut_at_the_token_limit(program):
    """A reply that ran to the token limit is not repaired (a small model
    writes it again): the next request is a fresh sample that says so."""
    from fakellm import reply
    from npl.filling.model_source import REPLY_TOKENS
    (program.parent / "npl.toml").write_text('[fill]\nrepair = "diagnostics"\n')
    cut = "```npl\ndef count_vowels(s: str) -> int:\n    for c in s:\n        if c =="
    vowels = fill_vowels(program, lambda request: GOOD_VOWELS if request.get("temperature", 0) > 0
                         else reply(cut, completion_tokens=REPLY_TOKENS))
    assert [q.get("temperature") for q in vowels] == [0.0, 0.8]
    added = vowels[1]["messages"][1]["content"][len(vowels[0]["messages"][1]["content"]):]
    assert f"An answer ran to the limit of {REPLY_TOKENS} tokens without ending" in added


def test_repair_auto_means_diagnostics_for_a_local_model_only():
    from types import SimpleNamespace
    from npl.filling.model_source import repair_mode
    local, hosted = SimpleNamespace(name="local/qwen"), SimpleNamespace(name="openai/gpt")
    assert (repair_mode("auto", local), repair_mode("auto", hosted)) == ("diagnostics", "all")
    assert (repair_mode("all", local), repair_mode("diagnostics", hosted)) == ("all", "diagnostics")


def test_lock_locations_are_relative_and_follow_their_holes(program):
    with FakeLLMServer(default=answer_by_hole(GOOD_VOWELS)) as server:
        env = {"OPENAI_BASE_URL": server.base_url}
        r = run_npl(["fill", str(program), "--model", "openai/m"], "/", env)   # absolute path
        assert r.returncode == 0, r.stderr
        lock_path = program.parent / "prog.npl.lock"
        assert set(re.findall(r'location = "(.*)"', lock_path.read_text())) == {"prog.npl:1:1",
                                                                              "prog.npl:10:12"}
        program.write_text("# moved down by a comment\n\n" + PROGRAM)
        r = run_npl(["fill", "prog.npl", "--model", "openai/m"], program.parent, env)
        assert r.returncode == 0, r.stderr
        assert len(server.requests) == 2                      # nothing refilled
    assert set(re.findall(r'location = "(.*)"', lock_path.read_text())) == {"prog.npl:3:1", "prog.npl:12:12"}
    r = run_npl(["verify", "prog.npl"], program.parent)       # the moved entries' stamps are intact
    assert r.returncode == 0, r.stderr + r.stdout


def test_the_same_answer_in_other_words_counts_as_a_repeat(program):
    """A reply that gives the rejected fill again (here: with a docstring and
    other spacing) is resampled like a verbatim repeat."""
    docstring = BUGGY_VOWELS.replace(":\n    return", ':\n    """Count vowels."""\n    return  ')
    replies = iter([BUGGY_VOWELS, docstring])

    vowels = fill_vowels(program, lambda request: GOOD_VOWELS
                         if request.get("temperature", 0) > 0 else next(replies))
    assert [q.get("temperature") for q in vowels] == [0.0, 0.0, 0.8]
    assert "attempts = 2" in (program.parent / "prog.npl.lock").read_text()


def test_a_float_where_an_int_is_expected_is_fixed_by_the_compiler_not_the_model(tmp_path):
    """A reply that returns `/`'s float from an int function compiles once
    `int(...)` is put around it (the diagnostic's fix): the fix is made,
    checked against the examples, recorded, and no repair is asked for."""
    (tmp_path / "prog.npl").write_text(
        'def volume(l: int, b: int, h: int) -> int:\n'
        '    """The volume of a triangular prism."""\n    ...\n\n'
        'example volume(10, 8, 6) == 240\n')
    answer = "```npl\ndef volume(l: int, b: int, h: int) -> int:\n    return (l * b * h) / 2\n```"
    with FakeLLMServer(default=reply(answer)) as server:
        r = run_npl(["fill", "prog.npl", "--model", "openai/m", "--log", "log.jsonl"], tmp_path,
                    {"OPENAI_BASE_URL": server.base_url})
        assert r.returncode == 0, r.stderr
        assert len(server.requests) == 1
    lock = (tmp_path / "prog.npl.lock").read_text()
    assert "return int((l * b * h) / 2)" in lock and "attempts = 1" in lock
    import json
    [record] = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert record["verdict"] == "accepted" and "int((l * b * h) / 2)" in record["fill"]
    assert "compiler fixes: (l * b * h) / 2 -> int((l * b * h) / 2)" in record["detail"]


def test_a_fixed_fill_that_fails_its_example_is_still_rejected(tmp_path):
    """The fix makes code compile; the examples still decide."""
    (tmp_path / "prog.npl").write_text(
        'def half(n: int) -> int:\n    """Half of n, rounded up."""\n    ...\n\n'
        'example half(5) == 3\n')
    (tmp_path / "npl.toml").write_text("[fill]\nattempts = 1\n")
    answer = "```npl\ndef half(n: int) -> int:\n    return n / 2\n```"
    with FakeLLMServer(default=reply(answer)) as server:
        r = run_npl(["fill", "prog.npl", "--model", "openai/m"], tmp_path,
                    {"OPENAI_BASE_URL": server.base_url})
    assert r.returncode != 0 and "example half(5) == 3" in r.stderr
    assert "return int(n / 2)" in r.stderr and not (tmp_path / "prog.npl.lock").exists()


def test_an_expression_fill_gets_the_compilers_fix_too(tmp_path):
    (tmp_path / "prog.npl").write_text("def f(xs: list[int]) -> int:\n"
                                       "    return ?{half the sum of xs}\n\n"
                                       "example f([2, 4]) == 3\n")
    with FakeLLMServer(default=reply("```python\nsum(xs) / 2\n```")) as server:
        r = run_npl(["fill", "prog.npl", "--model", "openai/m"], tmp_path,
                    {"OPENAI_BASE_URL": server.base_url})
    assert r.returncode == 0, r.stderr
    assert 'fill = "int(sum(xs) / 2)"' in (tmp_path / "prog.npl.lock").read_text()
