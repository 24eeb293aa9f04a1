"""The local model's worker process, with a fake engine in place of
llama.cpp (tests/fake_engine.py), so these run everywhere and fast.

A worker that segfaults, aborts, is killed (SIGKILL, as by the out-of-memory
killer) or hangs must become a clear ProviderError in the provider's
process, never take that process down; a crash with weight repacking on is
retried once with it off; private workers end with their process, shared
ones (keep_alive) serve several processes and idle out.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from fake_engine import use_fake_engine
from npl.filling.providers import worker_client
from npl.filling.providers.base import ProviderError
from npl.filling.providers.llama_engine import build_features, choose_repack, cpu_flags
from npl.filling.providers.local import LocalProvider
from npl.filling.providers.worker_client import read_death, repack_note

TESTS = Path(__file__).resolve().parent
CHAT = [{"role": "system", "content": "You write NPL."}, {"role": "user", "content": "f"}]


def chat(fault: str) -> list[dict]:
    return [CHAT[0], {"role": "user", "content": f"f FAULT:{fault}"}]


@dataclass
class Fake:
    model: Path
    log: Path
    runtime: Path

    def provider(self, **options) -> LocalProvider:
        return LocalProvider(f"local/{self.model}", **options)

    def events(self, kind: str = "") -> list[dict]:
        if not self.log.exists():
            return []
        lines = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [e for e in lines if not kind or e["event"] == kind]

    def wait_for(self, kind: str, count: int = 1, seconds: float = 20.0) -> list[dict]:
        end = time.monotonic() + seconds
        while len(self.events(kind)) < count:
            assert time.monotonic() < end, f"no {kind} event in {self.events()}"
            time.sleep(0.02)
        return self.events(kind)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:                                    # a zombie is not alive
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def wait_dead(pid: int, seconds: float = 15.0) -> bool:
    end = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def fake(tmp_path, monkeypatch):
    model, runtime = use_fake_engine(tmp_path, monkeypatch)
    yield Fake(model, tmp_path / "engine.jsonl", runtime)
    worker_client.close_workers()
    for info in runtime.glob("worker-*.json"):             # shared workers this test left
        pid = json.loads(info.read_text())["pid"]
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(runtime, ignore_errors=True)


# ------------------------------------------------------------ serving

def test_the_model_runs_in_a_warm_worker_process(fake):
    provider = fake.provider()
    first = provider.complete(CHAT, max_tokens=10)
    assert first.text.startswith("```npl") and first.model == f"local/{fake.model}"
    provider.complete(CHAT + [{"role": "assistant", "content": "x"},
                              {"role": "user", "content": "again"}])
    assert provider.last_reply["cached_tokens"] == 2          # the prefix the worker kept
    loads, requests = fake.events("load"), fake.events("request")
    assert len(loads) == 1 and len(requests) == 2
    assert {e["pid"] for e in requests} == {loads[0]["pid"]} and loads[0]["pid"] != os.getpid()
    other = fake.provider()                                   # same settings: same worker
    other.complete(CHAT)
    assert len(fake.events("load")) == 1


def test_an_engine_error_is_passed_on_and_the_worker_stays(fake):
    provider = fake.provider()
    with pytest.raises(ProviderError) as err:
        provider.complete(chat("error"))
    assert err.value.kind == "malformed" and "refuses" in err.value.message
    provider.complete(CHAT)
    assert len(fake.events("load")) == 1


def test_a_load_failure_is_reported_with_its_kind(fake, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_FAULT", "load-error")
    with pytest.raises(ProviderError) as err:
        fake.provider().complete(CHAT)
    assert err.value.kind == "model_file" and "cannot load" in err.value.message


def test_messages_are_checked_before_any_worker_starts(fake):
    with pytest.raises(ProviderError) as err:
        fake.provider().complete([{"role": "robot", "content": "x"}])
    assert err.value.kind == "malformed" and fake.events() == []


# ------------------------------------------------------------ crashes

def test_a_segfault_is_a_crash_error_retried_once_without_repacking(fake):
    provider = fake.provider()
    with pytest.raises(ProviderError) as err:
        provider.complete(chat("segv"))
    message = err.value.message
    assert err.value.kind == "crash"
    assert "crashed with SIGSEGV (a segmentation fault in string_at" in message
    assert "with weight repacking on, and did again with it off" in message
    assert "wrote nothing to your program" in message and "--no-cache-dir" in message
    assert [e["repack"] for e in fake.events("load")] == [True, False]
    kept = Path(message.rsplit("log is ", 1)[1])
    assert "Fatal Python error: Segmentation fault" in kept.read_text()
    assert repack_note(fake.model) is None                  # it was not the repacking
    with pytest.raises(ProviderError, match="not asked again"):
        provider.complete(CHAT)                             # this run stops asking
    assert len(fake.events("load")) == 2


def test_a_crash_only_with_repacking_is_survived_and_remembered(fake, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_FAULT", "segv-if-repack")
    provider = fake.provider()
    assert provider.complete(CHAT).text                     # answered by the second worker
    assert [e["repack"] for e in fake.events("load")] == [True, False]
    assert "SIGSEGV" in repack_note(fake.model)
    worker_client.close_workers()
    assert fake.provider().worker_config().repack == "off"  # later commands start safe
    fake.provider().complete(CHAT)
    assert [e["repack"] for e in fake.events("load")] == [True, False, False]
    monkeypatch.setenv("NPL_LOCAL_REPACK", "on")            # the user may insist
    assert fake.provider().worker_config().repack == "on"


def test_an_abort_is_a_crash_error(fake, monkeypatch):
    monkeypatch.setenv("NPL_LOCAL_REPACK", "off")
    with pytest.raises(ProviderError) as err:
        fake.provider().complete(chat("abort"))
    assert err.value.kind == "crash" and "SIGABRT (an abort" in err.value.message
    assert len(fake.events("load")) == 1                    # repacking was off: no retry


def test_a_crash_while_loading_is_a_crash_error(fake, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_FAULT", "load-segv")
    with pytest.raises(ProviderError) as err:
        fake.provider().complete(CHAT)
    assert err.value.kind == "crash" and "while loading the model" in err.value.message


@pytest.mark.parametrize("sig, words", [(signal.SIGKILL, "out-of-memory killer"),
                                        (signal.SIGSEGV, "segmentation fault")])
def test_a_worker_killed_mid_request_is_a_crash_error(fake, monkeypatch, sig, words):
    monkeypatch.setenv("NPL_LOCAL_REPACK", "off")           # one worker, no retry
    provider, errors = fake.provider(), []

    def ask():
        try:
            provider.complete(chat("wait"))
        except ProviderError as err:
            errors.append(err)
    asking = threading.Thread(target=ask)
    asking.start()
    pid = fake.wait_for("request")[0]["pid"]
    os.kill(pid, sig)
    asking.join(timeout=30)
    assert not asking.is_alive() and len(errors) == 1
    assert errors[0].kind == "crash" and words in errors[0].message
    assert signal.Signals(sig).name in errors[0].message


def test_a_hung_worker_is_killed_at_the_deadline(fake):
    provider = fake.provider(timeout=1.5)
    started = time.monotonic()
    with pytest.raises(ProviderError) as err:
        provider.complete(chat("hang"))
    assert 1.5 <= time.monotonic() - started < 15
    assert err.value.kind == "timeout"
    assert "more than 1.5 s to answer and was stopped" in err.value.message
    assert "`timeout` under [provider]" in err.value.message
    assert wait_dead(fake.events("request")[0]["pid"])


# ------------------------------------------------------------ lifetimes

CLIENT = textwrap.dedent("""
    import os, sys
    from npl.filling.providers.local import LocalProvider
    provider = LocalProvider("local/" + sys.argv[1], keep_alive=float(sys.argv[2]))
    provider.complete([{"role": "user", "content": "f"}])
    print(os.getpid(), flush=True)
    if sys.argv[3] == "die":
        os.kill(os.getpid(), 9)
""")


def run_client(fake: Fake, keep_alive: float, end: str = "exit") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CLIENT, str(fake.model), str(keep_alive), end],
                          capture_output=True, text=True, timeout=60)


def test_a_private_worker_ends_with_its_process_even_a_killed_one(fake):
    for end in ("exit", "die"):
        before = len(fake.events("load"))
        run_client(fake, 0, end)
        pid = fake.events("load")[before]["pid"]
        assert wait_dead(pid), f"the worker outlived its {end}ed process"


def test_a_shared_worker_serves_later_commands_then_idles_out(fake):
    assert run_client(fake, 3).returncode == 0
    assert run_client(fake, 3).returncode == 0
    loads, requests = fake.events("load"), fake.events("request")
    assert len(loads) == 1 and len(requests) == 2            # warm: not loaded again
    pid = loads[0]["pid"]
    assert alive(pid) and list(fake.runtime.glob("worker-*.sock"))
    assert wait_dead(pid, 20)                                 # keep_alive 3 s, then it goes
    assert not list(fake.runtime.glob("worker-*.sock"))


def test_a_dead_shared_worker_is_replaced(fake):
    provider = fake.provider(keep_alive=60)
    provider.complete(CHAT)
    first = fake.events("load")[0]["pid"]
    os.kill(first, signal.SIGKILL)                            # leaves its socket behind
    assert wait_dead(first)
    worker_client.close_workers()
    fake.provider(keep_alive=60).complete(CHAT)
    assert [e["pid"] for e in fake.events("load")][1] != first


def test_commands_starting_together_share_one_worker(fake):
    clients = [subprocess.Popen([sys.executable, "-c", CLIENT, str(fake.model), "30", "exit"],
                                stdout=subprocess.PIPE, text=True) for _ in range(3)]
    for client in clients:
        assert client.wait(timeout=60) == 0
    assert len(fake.events("load")) == 1 and len(fake.events("request")) == 3


def test_a_generation_nobody_waits_for_stops_and_the_worker_goes_on(fake):
    """A client killed mid-generation (or gone at its deadline) closes its
    connection; the shared worker stops generating within a second instead
    of running the request to its end, and serves the next command."""
    slow = CLIENT.replace('"content": "f"', '"content": "f FAULT:slow"')
    client = subprocess.Popen([sys.executable, "-c", slow, str(fake.model), "60", "exit"],
                              stdout=subprocess.PIPE, text=True)
    fake.wait_for("request")
    time.sleep(0.3)
    client.kill()
    client.wait(timeout=10)
    stopped = fake.wait_for("cancelled", seconds=10)[0]
    assert stopped["after"] < 5
    started = time.monotonic()
    assert run_client(fake, 60).returncode == 0
    assert time.monotonic() - started < 30
    assert len(fake.events("load")) == 1 and len(fake.events("request")) == 2


def test_a_generation_its_client_waits_for_runs_to_its_end(fake, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_SLOW_S", "2")
    started = time.monotonic()
    assert fake.provider(keep_alive=60).complete(chat("slow")).text
    assert time.monotonic() - started >= 2 and not fake.events("cancelled")


def test_a_private_generation_stops_when_its_process_dies(fake):
    slow = CLIENT.replace('"content": "f"', '"content": "f FAULT:slow"')
    client = subprocess.Popen([sys.executable, "-c", slow, str(fake.model), "0", "exit"],
                              stdout=subprocess.PIPE, text=True)
    fake.wait_for("request")
    client.kill()
    client.wait(timeout=10)
    assert fake.wait_for("cancelled", seconds=10)[0]["after"] < 5
    assert wait_dead(fake.events("load")[0]["pid"])


# ------------------------------------------------------------ pieces

def test_repacking_is_off_exactly_where_llama_cpp_has_amx_kernels():
    amx_build = "CPU : SSE3 = 1 | AVX512 = 1 | AMX_INT8 = 1 | REPACK = 1 | "
    plain = "CPU : SSE3 = 1 | AVX2 = 1 | REPACK = 1 | "
    assert build_features(plain)["AVX2"] == "1"
    off, why = choose_repack("auto", amx_build, frozenset({"amx_tile", "amx_int8"}))
    assert not off and "#20824" in why
    assert choose_repack("auto", plain, frozenset({"amx_tile", "avx2"}))[0]   # no AMX kernels
    assert choose_repack("auto", plain, frozenset())[0]
    assert not choose_repack("auto", "", frozenset({"amx_int8"}))[0]  # unreadable: the CPU says
    assert choose_repack("auto", "", frozenset({"avx2"}))[0]
    assert choose_repack("on", amx_build, frozenset({"amx_int8"}))[0]
    assert not choose_repack("off", plain, frozenset())[0]


def test_cpu_flags_come_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 amx_tile amx_int8\n")
    assert {"avx2", "amx_tile"} <= cpu_flags(info)
    assert cpu_flags(tmp_path / "absent") == frozenset()


def test_a_death_is_read_from_the_status_or_the_faulthandler_report(tmp_path):
    log = tmp_path / "worker.log"
    log.write_text('Fatal Python error: Segmentation fault\n\nCurrent thread 0x1 (most recent '
                   'call first):\n  File "/x/site-packages/llama_cpp/_internals.py", line 301 '
                   'in decode\n  File "/x/llama_cpp/llama.py", line 9 in eval\n')
    death = read_death(log, None)                 # not our child: the report tells
    assert death.signal == signal.SIGSEGV and death.native_crash
    assert death.frame == "decode (llama_cpp/_internals.py:301)"
    assert "SIGSEGV (a segmentation fault in decode" in death.what()
    assert read_death(log, -signal.SIGKILL).signal == signal.SIGKILL
    empty = tmp_path / "empty.log"
    empty.write_text("")
    assert "out-of-memory" in read_death(empty, None).what()
    assert read_death(empty, 3).what() == "exited with status 3"
