#!/usr/bin/env python3
"""What the attempt logs of `npl fill --log FILE.jsonl` say about the Python
models write: which NPL rejects, and why.

Reads one or more attempt logs (filling/attempts.py: one JSON object per
attempt) and prints

  * attempts by source (a model's are grouped as "model NAME") and verdict,
    with the stage that rejected them (compile, gaming, test, limit, reply,
    provider, ...) and the holes each source filled;
  * the compile-stage rejections by diagnostic code, and the most frequent
    diagnostic messages (names in single quotes kept: `undefined name
    'math'` and `undefined name 'isinstance'` say different things; a name
    in backticks, which the model chose, folded), each with the source
    line it points at from one attempt;
  * the other rejections (unusable replies, failed examples, run-time
    errors, gaming) by their first line, numbers and quoted values folded.

    .venv/bin/python bench/fill_coverage.py LOG.jsonl [LOG.jsonl ...]
        [--top 15] [--json OUT.json]

To make a log: copy some programs somewhere, remove their locks, and fill
them with the model (the local one takes ~5-30 s a hole on 2 cores):

    d=$(mktemp -d) && cp examples/report.npl examples/text_stats.npl "$d"
    NPL_LIBRARY="$d/lib" npl fill "$d/report.npl" --log "$d/fill.jsonl"
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

DIAGNOSTIC = re.compile(r"error\[(E\d+)\]: (.*)")
CARET_SOURCE = re.compile(r"^ {4}(.*\S.*)$")
IDENTIFIER_IN_BACKTICKS = re.compile(r"`[A-Za-z_]\w*`")    # a name the model chose


def read_logs(paths: list[Path]) -> list[dict]:
    """Every attempt record of the logs (lines that are not one are skipped)."""
    records = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and "verdict" in rec and "source" in rec:
                records.append(rec)
    return records


def source_group(source: str) -> str:
    return f"model {source}" if "/" in source else source


def diagnostics(feedback: str) -> list[tuple[str, str, str]]:
    """(code, message, the source line it points at) of each error in a
    compile-stage feedback text (lang/diagnostics.py's rendering)."""
    lines = feedback.splitlines()
    out = []
    for i, line in enumerate(lines):
        m = DIAGNOSTIC.search(line)
        if m:
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            src = CARET_SOURCE.match(nxt)
            out.append((m.group(1), m.group(2).strip(), src.group(1).strip() if src else ""))
    return out


def folded(text: str) -> str:
    """A rejection's first line with its particulars folded, for grouping:
    numbers -> N, quoted strings and values after `is`/`got` -> ..."""
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    first = re.sub(r"\bat \S+:\d+(:\d+)?", "at FILE:LINE", first)
    first = re.sub(r"\(left side is .*\)$", "(left side is ..., right side is ...)", first)
    first = re.sub(r"\d[\d,_.]*", "N", first)
    return first[:140]


def summarize(records: list[dict], top: int) -> dict:
    """The counts the report prints (also what --json writes)."""
    by_source: dict[str, Counter] = defaultdict(Counter)
    filled: dict[str, set] = defaultdict(set)
    codes: Counter = Counter()
    messages: Counter = Counter()
    sample_line: dict[str, str] = {}
    others: Counter = Counter()
    for rec in records:
        group = source_group(rec["source"])
        verdict = rec["verdict"] + (f" at {rec['stage']}" if rec["verdict"] != "accepted" else "")
        by_source[group][verdict] += 1
        if rec["verdict"] == "accepted":
            filled[group].add(rec.get("key", ""))
        if rec["verdict"] != "rejected":
            continue
        if rec["stage"] == "compile":
            found = diagnostics(rec.get("feedback", ""))
            if not found:
                others[f"compile: {folded(rec.get('feedback', ''))}"] += 1
            for code, message, line in found:
                codes[code] += 1
                key = f"{code} {re.sub(IDENTIFIER_IN_BACKTICKS, '`NAME`', message)}"
                messages[key] += 1
                if line and key not in sample_line:
                    sample_line[key] = line
        else:
            others[f"{rec['stage']}: {folded(rec.get('feedback', ''))}"] += 1
    return {
        "attempts": len(records),
        "holes": len({rec.get("key") for rec in records}),
        "by_source": {g: dict(c.most_common()) for g, c in sorted(by_source.items())},
        "filled_by_source": {g: len(keys) for g, keys in sorted(filled.items())},
        "compile_codes": dict(codes.most_common()),
        "compile_messages": [{"count": n, "diagnostic": key, "line": sample_line.get(key, "")}
                             for key, n in messages.most_common(top)],
        "other_rejections": [{"count": n, "reason": key} for key, n in others.most_common(top)],
    }


def report(summary: dict) -> str:
    out = [f"{summary['attempts']} attempts on {summary['holes']} holes", "",
           "attempts by source and verdict:"]
    for group, verdicts in summary["by_source"].items():
        total = sum(verdicts.values())
        parts = ", ".join(f"{v} {k}" for k, v in verdicts.items())
        out.append(f"  {group:<34} {total:>4}  ({parts}); holes filled: "
                   f"{summary['filled_by_source'].get(group, 0)}")
    out += ["", "compile-stage rejections by diagnostic code:"]
    out += [f"  {code}  {n}" for code, n in summary["compile_codes"].items()] or ["  none"]
    out += ["", "most frequent compile diagnostics:"]
    for item in summary["compile_messages"]:
        out.append(f"  {item['count']:>4}  {item['diagnostic']}")
        if item["line"]:
            out.append(f"        e.g. {item['line'][:100]}")
    if not summary["compile_messages"]:
        out.append("  none")
    out += ["", "other rejections:"]
    out += [f"  {item['count']:>4}  {item['reason']}" for item in summary["other_rejections"]] \
        or ["  none"]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logs", nargs="+", type=Path, help="attempt logs (npl fill --log)")
    parser.add_argument("--top", type=int, default=15, help="rows of each list (default 15)")
    parser.add_argument("--json", type=Path, help="also write the counts to this file")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.logs if not p.is_file()]
    if missing:
        parser.error(f"no such log: {', '.join(missing)}")
    summary = summarize(read_logs(args.logs), args.top)
    print(report(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
