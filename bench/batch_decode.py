#!/usr/bin/env python3
"""What decoding several replies at once costs the local model, against
decoding one, in the same command (issue #12: could a hole's later
attempts be drawn side by side instead of one after another?).

A prompt of NPL's size (a fill request, about 200 tokens) is evaluated
once into sequence 0 of a llama.cpp context and copied to sequences
1..K-1 (the KV cache is shared, as it would be for K fresh samples of the
same request). Then STEPS decoding steps run with K tokens in each batch,
one per sequence, for K = 1, 2, 3, 4. The token fed is fixed: the cost of
a step does not depend on which token it is. Printed: seconds per step
for each K, and the ratio to K = 1; K replies cost less than K single
replies when that ratio stays under K.

    .venv/bin/python bench/batch_decode.py [--threads 2] [--steps 48] [--repeat 3]

Each K keeps its best of --repeat runs; on a shared machine the ratios are
steadier than the seconds.
"""
from __future__ import annotations

import argparse
import sys
import time


PROMPT = ("You are an expert Python programmer. Here you write NPL: Python with static types.\n"
          "Write the body of this NPL function.\n\n```npl\ndef count_vowels(s: str) -> int:\n"
          '    """Count the vowels a, e, i, o, u in s, in either case."""\n```\n\n'
          "It must satisfy:\n```npl\nexample count_vowels(\"Hello\") == 2\n"
          "example count_vowels(\"AEIOU xyz\") == 5\n```\n") * 2
MOST = 4


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=48)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    import llama_cpp
    from llama_cpp import _logger
    from npl.filling.providers.modelfile import ensure_local_model
    _logger.set_verbose(False)              # llama.cpp's log lines stay off the output
    llama_cpp.llama_backend_init()
    model = llama_cpp.llama_model_load_from_file(str(ensure_local_model()).encode(),
                                                 llama_cpp.llama_model_default_params())
    params = llama_cpp.llama_context_default_params()
    params.n_ctx, params.n_batch, params.n_seq_max = 4096, 512, MOST
    params.n_threads = params.n_threads_batch = args.threads
    ctx = llama_cpp.llama_init_from_model(model, params)
    vocab = llama_cpp.llama_model_get_vocab(model)
    text = PROMPT.encode()
    ids = (llama_cpp.llama_token * 1024)()
    n = llama_cpp.llama_tokenize(vocab, text, len(text), ids, 1024, True, True)
    batch = llama_cpp.llama_batch_init(512, 0, MOST)
    memory = llama_cpp.llama_get_memory(ctx)

    def decode(tokens: list[tuple[int, int, int]]) -> None:
        """One llama_decode of (token, position, sequence) triples, logits for each."""
        batch.n_tokens = len(tokens)
        for i, (token, pos, seq) in enumerate(tokens):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, pos, 1
            batch.seq_id[i][0], batch.logits[i] = seq, True
        if llama_cpp.llama_decode(ctx, batch) != 0:
            raise RuntimeError("llama_decode failed")

    decode([(ids[i], i, 0) for i in range(n)])
    for seq in range(1, MOST):
        llama_cpp.llama_memory_seq_cp(memory, 0, seq, -1, -1)
    token = ids[n - 1]
    per_step = {}
    for k in range(1, MOST + 1):
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            for step in range(args.steps):
                decode([(token, n + step, seq) for seq in range(k)])
            best = min(best, (time.perf_counter() - start) / args.steps)
            for seq in range(MOST):
                llama_cpp.llama_memory_seq_rm(memory, seq, n, -1)
        per_step[k] = best
    print(f"prompt {n} tokens, {args.steps} steps, {args.threads} threads, best of {args.repeat}")
    print("replies at once  s/step  ratio to one  ratio to that many one at a time")
    for k, seconds in per_step.items():
        print(f"{k:16d}  {seconds:6.4f}  {seconds / per_step[1]:12.2f}  "
              f"{seconds / (k * per_step[1]):10.2f}")
    llama_cpp.llama_batch_free(batch)
    llama_cpp.llama_free(ctx)
    llama_cpp.llama_model_free(model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
