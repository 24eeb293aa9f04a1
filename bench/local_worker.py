#!/usr/bin/env python3
"""What the local model's worker process costs, against raw llama_cpp calls
made in this same command (same model file, threads, context size and
weight repacking).

Raw, in this process (every call on a fresh context, nothing cached: what
an attempt cost when each `npl` command loaded the model itself):

    raw load        llama_cpp.Llama(...)
    raw A, B, C     a first request for hole A, B and C (NPL's real prompts:
                    the ~300-word system prompt plus the hole)
    raw repair      A's conversation with its reply and a repair message

Through LocalProvider and a shared worker (keep_alive), as `npl` fills:

    worker start    first request (A): start the worker, load, answer
    next hole       B to the warm worker (the system prompt is reused)
    repair turn     the repair conversation (all but the new turn reused)
    next command    C from another process (a later `npl` command)

and the ratios: next hole / raw B, repair turn / raw repair, next command /
raw C (target <= 1: an attempt costs no more than a raw call of the same
length), worker start / (raw load + raw A) (the price of the process
boundary), and (raw load + raw C) / next command (what a warm worker saves
a command). Every reply is greedy with the same max_tokens, so each pair
generates the same tokens (printed). With --repack it measures instead
prompt-evaluation and generation tokens/s with weight repacking on and off
(docs/local-model.md).

    .venv/bin/python bench/local_worker.py [--model local/qwen2.5-coder-1.5b]
        [--max-tokens 24] [--threads 2] [--repeat 1] [--repack]

Each worker measurement runs right next to its raw counterpart, so both
meet the same load from the rest of the machine; with --repeat N each
keeps its best of N. On a shared machine the ratios are steadier than the
seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from npl.compiler.driver import compile
from npl.filling.prompt import build_messages, repair_message
from npl.filling.providers.llama_engine import _import_llama_cpp, _model_params, choose_repack, cpu_flags
from npl.filling.providers.local import LocalProvider
from npl.filling.providers.worker_client import worker_for

PROGRAM = '''\
def count_vowels(s: str) -> int:
    """Count the vowels a, e, i, o, u in s, in either case."""
    ...

def reverse_words(s: str) -> str:
    """The words of s (separated by single spaces) in reverse order, joined by single spaces."""
    ...

def sum_of_squares(n: int) -> int:
    """The sum of k*k for k from 1 to n (0 when n < 1)."""
    ...

def main():
    print(count_vowels("Local"), reverse_words("a b"), sum_of_squares(3))
'''

NEXT_COMMAND = textwrap.dedent("""
    import json, sys, time
    from npl.filling.providers.local import LocalProvider
    provider = LocalProvider(sys.argv[1], threads=int(sys.argv[2]), keep_alive=3600)
    started = time.perf_counter()
    completion = provider.complete(json.loads(sys.argv[3]), max_tokens=int(sys.argv[4]))
    print(json.dumps([time.perf_counter() - started, completion.completion_tokens,
                      provider.last_reply.get("cached_tokens", 0)]))
""")


def chats() -> dict[str, list[dict]]:
    """NPL's own first requests for three holes."""
    holes = compile(PROGRAM, "bench.npl", fills={}, strict_fills=False).unfilled
    a, b, c = (build_messages(h, [], []) for h in holes)
    return {"A": a, "B": b, "C": c, "hole A": holes[0]}


def repair_chat(talks: dict, reply: str) -> list[dict]:
    """A's conversation with its reply and a repair message, as the repair
    loop sends it (filling/model_source.py)."""
    problem = 'It fails the example count_vowels("Hello") == 2: it returns 5.'
    return talks["A"] + [{"role": "assistant", "content": reply},
                         repair_message(talks["hole A"], reply, problem)]


class Raw:
    """llama_cpp used directly, as the worker's engine would load it."""

    def __init__(self, path: Path, threads: int, n_ctx: int, repack: bool):
        self.lib = _import_llama_cpp()
        started = time.perf_counter()
        with _model_params(self.lib, repack):
            self.llama = self.lib.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads,
                                        n_threads_batch=threads, seed=0, verbose=False)
        self.load_s = time.perf_counter() - started

    def call(self, messages: list[dict], max_tokens: int) -> tuple[float, int, str]:
        self.llama.reset()                  # a fresh context: nothing reused
        started = time.perf_counter()
        reply = self.llama.create_chat_completion(messages=messages, max_tokens=max_tokens,
                                                  temperature=0.0, top_k=1, repeat_penalty=1.0,
                                                  seed=0)
        return (time.perf_counter() - started, reply["usage"]["completion_tokens"],
                reply["choices"][0]["message"]["content"] or "")

    def speeds(self, messages: list[dict], max_tokens: int) -> tuple[float, float]:
        """(prompt tokens/s, generated tokens/s) of one fresh call, from
        llama.cpp's own counters."""
        self.lib.llama_perf_context_reset(self.llama.ctx)
        self.call(messages, max_tokens)
        perf = self.lib.llama_perf_context(self.llama.ctx)
        return (perf.n_p_eval / max(perf.t_p_eval_ms, 1e-9) * 1e3,
                perf.n_eval / max(perf.t_eval_ms, 1e-9) * 1e3)

    def close(self) -> None:
        self.llama.close()


class Measured(dict):
    """name -> (seconds, completion tokens), printed as they come."""

    def add(self, name: str, seconds: float, tokens: int, note: str = "") -> None:
        self[name] = (seconds, tokens)
        print(f"  {name:13s} {seconds:7.2f} s  {tokens:3d} tokens  {note}", flush=True)


def ask_worker(provider: LocalProvider, chat: list[dict], max_tokens: int) -> tuple[float, int, str]:
    started = time.perf_counter()
    completion = provider.complete(chat, max_tokens=max_tokens)
    return time.perf_counter() - started, completion.completion_tokens, completion.text


def reused(provider: LocalProvider) -> str:
    return f"{provider.last_reply.get('cached_tokens', 0)} prompt tokens reused"


def measure_round(spec: str, config, repack: bool, talks: dict, max_tokens: int) -> Measured:
    """Each worker measurement next to its raw counterpart, so that both
    meet the same load from the rest of the machine."""
    out = Measured()
    provider = LocalProvider(spec, threads=config.threads, keep_alive=3600)
    worker_for(provider.worker_config(), spec).stop()   # a cold start, not a leftover worker
    raw = Raw(config.model, config.threads, config.n_ctx, repack)
    out.add("raw load", raw.load_s, 0)
    seconds, tokens, reply = raw.call(talks["A"], max_tokens)
    out.add("raw A", seconds, tokens)
    seconds, tokens, worker_reply = ask_worker(provider, talks["A"], max_tokens)
    out.add("worker start", seconds, tokens, reused(provider))
    if worker_reply != reply:
        print("  note: the worker's reply to A differs from the raw one", flush=True)
    repair = repair_chat(talks, reply)
    out.add("repair turn", *ask_worker(provider, repair, max_tokens)[:2], reused(provider))
    out.add("raw repair", *raw.call(repair, max_tokens)[:2])
    out.add("next hole", *ask_worker(provider, talks["B"], max_tokens)[:2], reused(provider))
    out.add("raw B", *raw.call(talks["B"], max_tokens)[:2])
    command = subprocess.run([sys.executable, "-c", NEXT_COMMAND, spec, str(config.threads),
                              json.dumps(talks["C"]), str(max_tokens)],
                             capture_output=True, text=True, check=True)
    seconds, tokens, cached = json.loads(command.stdout)
    out.add("next command", seconds, tokens, f"{cached} prompt tokens reused")
    out.add("raw C", *raw.call(talks["C"], max_tokens)[:2])
    raw.close()
    worker_for(provider.worker_config(), spec).stop()
    return out


def best(runs: list[dict]) -> dict[str, tuple[float, int]]:
    return {key: min((run[key] for run in runs), key=lambda r: r[0]) for key in runs[0]}


def report(results: dict[str, tuple[float, int]]) -> None:
    s = {key: value[0] for key, value in results.items()}
    rows = [("next hole / raw B", s["next hole"] / s["raw B"], "<= 1"),
            ("repair turn / raw repair", s["repair turn"] / s["raw repair"], "<= 1"),
            ("next command / raw C", s["next command"] / s["raw C"], "<= 1"),
            ("worker start / (raw load + raw A)",
             s["worker start"] / (s["raw load"] + s["raw A"]), "~ 1"),
            ("(raw load + raw C) / next command",
             (s["raw load"] + s["raw C"]) / s["next command"], "saved per command")]
    print("\nratios (best of the repeats):")
    for name, value, target in rows:
        print(f"  {name:36s} {value:6.2f}   ({target})")
    for a, b in (("next hole", "raw B"), ("repair turn", "raw repair"), ("next command", "raw C")):
        if results[a][1] != results[b][1]:
            print(f"  note: {a} made {results[a][1]} tokens, {b} {results[b][1]}")


def compare_repack(config, talks: dict, max_tokens: int, repeat: int) -> None:
    """Prompt-evaluation and generation speed with weight repacking on and
    off (raw llama_cpp in this process), best of `repeat` alternating runs."""
    rates: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
    for i in range(repeat):
        for repack in ((True, False) if i % 2 == 0 else (False, True)):
            raw = Raw(config.model, config.threads, config.n_ctx, repack)
            rates[repack].append((raw.load_s, *raw.speeds(talks["A"], max_tokens)))
            raw.close()
    print(f"weight repacking, best of {repeat} (raw llama_cpp, this process):")
    for repack, runs in rates.items():
        load = min(r[0] for r in runs)
        prompt, generation = max(r[1] for r in runs), max(r[2] for r in runs)
        print(f"  repack {'on ' if repack else 'off'}  load {load:5.2f} s  prompt "
              f"{prompt:6.1f} tokens/s  generation {generation:5.1f} tokens/s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="local/qwen2.5-coder-1.5b")
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--repack", action="store_true",
                        help="instead: compare tokens/s with weight repacking on and off")
    args = parser.parse_args()
    os.environ.setdefault("NPL_RUNTIME_DIR", tempfile.mkdtemp(prefix="npl-bench-"))
    talks = chats()
    provider = LocalProvider(args.model, threads=args.threads)
    config = provider.worker_config()
    lib = _import_llama_cpp()
    repack, why = choose_repack(config.repack, lib.llama_print_system_info().decode(), cpu_flags())
    print(f"model {config.model}\nllama-cpp-python {lib.__version__}, {args.threads} threads, "
          f"repacking {why}, max_tokens {args.max_tokens}", flush=True)
    if args.repack:
        compare_repack(config, talks, args.max_tokens, args.repeat)
        return 0
    runs = []
    for i in range(args.repeat):
        print(f"\nround {i + 1}", flush=True)
        runs.append(measure_round(args.model, config, repack, talks, args.max_tokens))
    report(best(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
