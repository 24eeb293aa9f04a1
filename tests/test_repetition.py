"""The local engine's repetition stop (filling/providers/repetition.py and
llama_engine._RepetitionStop): a code reply that turns into a list of cases
is ended; data and ordinary code are never cut."""
from __future__ import annotations

import numpy as np

from npl.filling.providers.llama_engine import LlamaEngine, _RepetitionStop
from npl.filling.providers.repetition import (LEAST_REPEATS, MIN_REPEATS, MIN_RUN, repeated_block,
                                             repeated_run, repeats_needed, run_needed)

HEAD = "```npl\ndef is_woodall(x: int) -> bool:\n    if x < 1:\n        return False\n"


def cases(n: int, start: int = 3) -> str:
    return "".join(f"    if x == {start + 2 * i}:\n        return True\n" for i in range(n))


def test_a_list_of_cases_is_found_with_its_count():
    assert repeated_block(HEAD + cases(MIN_REPEATS)) == \
        f"`if x == 0: / return True` {MIN_REPEATS} times"
    assert repeated_block(HEAD + cases(12)) == "`if x == 0: / return True` 12 times"


def test_fewer_repeats_and_an_unfinished_line_are_not_enough():
    assert repeated_block(HEAD + cases(MIN_REPEATS - 1)) is None
    assert repeated_block(HEAD + cases(MIN_REPEATS - 1) + "    if x == 99:\n        return Tr") is None


def test_a_longer_block_is_cut_after_fewer_repeats():
    """A block of 5 to 8 lines is cut once its repeats fill MIN_REPEATED_LINES
    lines (at least LEAST_REPEATS times): a reply in the seventh fill
    benchmark run repeated this one to the token limit."""
    block = ("    for i in range(n // 2 - 1, -1, -1):\n        if s[i] != s[n - i - 1]:\n"
             "            break\n    else:\n        return n + 1\n")
    assert repeats_needed(5) == 7 and repeats_needed(8) == LEAST_REPEATS
    assert repeated_block(HEAD + block * 6) is None
    assert repeated_block(HEAD + block * 7).endswith("` 7 times")
    eight = ("    if x == 1:\n        y = a\n    elif x == 2:\n        y = b\n"
             "    while y > 0:\n        y -= 1\n    for k in r:\n        t += k\n")
    assert repeated_block(HEAD + eight * 3) is None and repeated_block(HEAD + eight * 4) is not None


def test_the_repetition_must_be_at_the_end():
    assert repeated_block(HEAD + cases(10) + "    return False\n") is None


def test_data_and_ordinary_code_are_never_cut():
    numbers = "[\n" + "".join(f"  {i},\n" for i in range(40))
    json_rows = "[\n" + "".join(f'  {{"name": "w{i}", "n": {i}}},\n' for i in range(40))
    flags = "[\n" + "".join("  true,\n" for _ in range(40))
    loop = ("def f(xs: list[int]) -> int:\n    total = 0\n" +
            "    total += 1\n" * 20 + "    for x in xs:\n        total += x\n    return total\n")
    for text in (numbers, json_rows, flags, loop):
        assert repeated_block(text) is None, text


MASK = "```npl\ndef bits(n: int, l: int, r: int) -> bool:\n    mask = "


def test_a_line_that_repeats_one_piece_is_found_complete_or_not():
    assert repeated_run(MASK + "(1 - 1) ^ " * MIN_RUN) == f"`(0 - 0) ^` {MIN_RUN} times in one line"
    assert repeated_run(MASK + "(1 - 1) ^ " * 30 + "(1 -") == "`0) ^ (0 -` 30 times in one line"
    assert repeated_run(MASK + "xs[1] + " * 20) == "`xs[0] +` 20 times in one line"


def test_short_runs_data_and_ordinary_lines_are_never_cut():
    for text in (MASK + "(1 - 1) ^ " * (MIN_RUN - 1) + "1",
                 MASK + "[" + "0, " * 60, MASK + '"' + "=" * 80 + '"',
                 MASK + "[" + "1.5, " * 40 + "]", MASK + "(n >> 1) & (n >> 2) | (n >> 3)",
                 MASK + "(1 - 1) ^ " * 30 + "1\n    return mask == 0"):
        assert repeated_run(text) is None, text


MERGE = "```python\ndef merge(d1: dict[str, str], d2: dict[str, str]) -> dict[str, str]:\n    return "
CHAIN = ("{k: v for k, v in d1.items() if k not in d2} | "
         "{k: v for k, v in d2.items() if k not in d1} | ")


def test_a_long_piece_is_cut_after_fewer_repeats_once_the_run_is_long():
    """A 98-character piece repeated: cut once the run fills MIN_RUN_CHARS
    (7 repeats), not after MIN_RUN (16); never before LEAST_REPEATS."""
    assert run_needed(len(CHAIN)) == 7 and run_needed(10) == MIN_RUN and run_needed(300) == LEAST_REPEATS
    assert repeated_run(MERGE + CHAIN * 6) is None
    found = repeated_run(MERGE + CHAIN * 7)
    assert found is not None and found.endswith("7 times in one line")
    long_line = MERGE + " | ".join(f"{{k: v for k, v in d{i}.items() if k != 'x{i}'}}" for i in range(40))
    assert repeated_run(long_line) is None          # long, but no piece repeats


class FakeLlama:
    """Tokens are characters; token 0 is end-of-text."""
    def token_eos(self) -> int:
        return 0

    def detokenize(self, tokens) -> bytes:
        return bytes(tokens)


def run(stop: _RepetitionStop, prompt: bytes, reply: bytes) -> int:
    """Feed `reply` a token at a time; the number of tokens before EOS was forced."""
    ids = list(prompt)
    for n, token in enumerate(reply):
        scores = stop(np.array(ids), np.zeros(256))
        if scores[0] == 0.0 and np.isinf(scores[1:]).all():
            return n
        ids.append(token)
    return len(reply)


def test_the_processor_ends_a_runaway_reply_soon_after_it_repeats():
    stop = _RepetitionStop(FakeLlama())
    reply = (HEAD + cases(40)).encode()
    at = run(stop, b"prompt: write is_woodall\n", reply)
    enough = len((HEAD + cases(MIN_REPEATS)).encode())
    assert enough <= at <= enough + _RepetitionStop.CHECK_EVERY
    assert stop.found == f"`if x == 0: / return True` {MIN_REPEATS} times"


def test_the_processor_ends_a_line_that_runs_away():
    stop = _RepetitionStop(FakeLlama())
    at = run(stop, b"prompt", (MASK + "(1 - 1) ^ " * 80).encode())
    enough = len((MASK + "(1 - 1) ^ " * MIN_RUN).encode())
    assert enough <= at <= enough + _RepetitionStop.CHECK_EVERY
    assert stop.found is not None and stop.found.endswith("times in one line")


def test_the_processor_leaves_a_good_reply_alone():
    stop = _RepetitionStop(FakeLlama())
    reply = (HEAD + cases(3) + "    return x % 2 == 1\n```").encode()
    assert run(stop, b"prompt", reply) == len(reply) and stop.found is None


class GeneratingLlama(FakeLlama):
    """create_chat_completion "generates" REPLY a character at a time,
    through the logits processors, as llama.cpp does, until one forces
    end-of-text."""
    REPLY = (HEAD + cases(40)).encode()
    metadata: dict = {}     # no chat template: the engine asks for a chat completion


    def create_chat_completion(self, messages, max_tokens, logits_processor, **sampling):
        ids = list(b"prompt")
        for token in self.REPLY[:max_tokens]:
            scores = np.zeros(256)
            for processor in logits_processor:
                scores = processor(np.array(ids), scores)
            if int(np.argmax(scores)) == 0 and np.isinf(scores[1:]).all():
                break
            ids.append(token)
        made = len(ids) - len(b"prompt")
        return {"choices": [{"message": {"content": bytes(ids[len(b"prompt"):]).decode()}}],
                "usage": {"prompt_tokens": 6, "completion_tokens": made}}


def engine_reply(stop_repeats: bool) -> dict:
    engine = LlamaEngine.__new__(LlamaEngine)
    engine.llama, engine.n_ctx = GeneratingLlama(), 8192
    request = {"messages": [{"role": "user", "content": "write is_woodall"}], "max_tokens": 2000,
               "temperature": 0.0, "seed": 0, "stop_repeats": stop_repeats}
    return engine.complete(request)


def test_the_engine_says_why_it_ended_a_reply_and_the_request_can_turn_that_off():
    cut = engine_reply(True)
    assert cut["stopped"] == f"it repeated `if x == 0: / return True` {MIN_REPEATS} times"
    assert cut["text"].count("return True") < 12
    whole = engine_reply(False)                 # the fill-quality baseline's plain model
    assert whole["stopped"] == "" and whole["text"] == GeneratingLlama.REPLY.decode()
