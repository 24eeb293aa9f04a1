#!/usr/bin/env python3
"""How well an @oracle answers, and how fast: the local model (or --model) on
a labelled set of short product-review texts (bench/oracles/sentiment.jsonl:
50 texts, 17 positive, 17 negative, 16 neutral, written for this benchmark
by the NPL developers and labelled by them), with decoding constrained by
the return type's grammar (the default) against unconstrained decoding.

The oracle is

    @oracle
    def sentiment(review: str) -> str:
        \"\"\"Exactly one of "positive", "negative" or "neutral": ...\"\"\"
        ...

with three worked examples (one per label, not in the set). Each variant
runs in this process with a fresh answer store (the model is loaded once);
a reply that fails to parse or check is asked again as in a real run
(`[oracle] attempts`, 3), and a call that never gets a valid answer counts
as wrong. Prints per variant: accuracy, calls needing a retry, calls that
failed, seconds per call; `--limit N` uses the first N texts.

    python bench/oracles/run.py [--model local/qwen2.5-coder-1.5b] [--limit N]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

PROGRAM = '''\
@oracle
def sentiment(review: str) -> str:
    """Exactly one of "positive", "negative" or "neutral": the overall sentiment of the review."""
    ...

example sentiment("Loved every minute of it.") == "positive"
example sentiment("It broke after a day.") == "negative"
example sentiment("The box is 30 cm wide.") == "neutral"
'''


def run_variant(texts: list[dict], model: str, constrained: bool) -> dict:
    import npl
    from npl.runtime.errors import NplRuntimeError
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sentiment.npl"
        path.write_text(PROGRAM)
        prog = npl.load(str(path), frozen=False, model=model)
        prog.oracles.constrained = constrained
        if _shared_provider is not None:
            prog.oracles._provider = _shared_provider
        right = failed = 0
        started = time.monotonic()
        for item in texts:
            try:
                answer = prog.call("sentiment", item["text"])
            except NplRuntimeError:
                failed += 1
                continue
            right += answer == item["label"]
        seconds = time.monotonic() - started
        stats = prog.oracles.stats
        _remember(prog.oracles._provider)
    return {"variant": "constrained" if constrained else "unconstrained", "texts": len(texts),
            "right": right, "accuracy": right / len(texts), "failed": failed,
            "retries": stats.requests - stats.asked - failed, "requests": stats.requests,
            "seconds_per_call": seconds / len(texts),
            "completion_tokens": stats.completion_tokens}


_shared_provider = None


def _remember(provider) -> None:
    global _shared_provider
    _shared_provider = provider


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="local/qwen2.5-coder-1.5b")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args(argv)
    texts = [json.loads(line) for line in (HERE / "sentiment.jsonl").read_text().splitlines()
             if line.strip()][:args.limit]
    results = [run_variant(texts, args.model, constrained) for constrained in (True, False)]
    for r in results:
        print(f"{r['variant']:>13}: {r['right']}/{r['texts']} right ({100 * r['accuracy']:.0f}%), "
              f"{r['retries']} retried, {r['failed']} failed, {r['seconds_per_call']:.2f} s/call, "
              f"{r['completion_tokens']} completion tokens")
    if args.json:
        Path(args.json).write_text(json.dumps({"model": args.model, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
