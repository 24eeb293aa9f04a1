"""What a fill-quality run's attempt records say (issue #12's digest).

Takes the per-problem results (OUT.jsonl, both arms) and NPL's attempt
records kept beside them (OUT.attempts/TASK-NAME.jsonl, one JSON object per
attempt: filling/attempts.py), and gives, over the problems both arms
answered:

  outcomes    which problems both arms pass, only NPL, only Python, neither
  first       the model's first replies: accepted, right on the hidden tests,
              seconds (and the baseline's seconds on the same problems)
  later       holes that needed more than one attempt: how many, the
              seconds spent after the first, how many ended right, and the
              later accepted fills by kind (a repair, or a fresh sample)
  repeats     repair requests answered with an earlier rejected answer
  by_attempts what the run would have given with [fill] attempts = 1, 2, ...:
              the same records cut after attempt N (an attempt never
              depends on a later one), as problems passed, points above
              Python and NPL's time over Python's
  rejections  rejected model attempts by stage (compile, test, gaming,
              limit, reply), compile errors by code with their commonest
              messages, and replies cut off as a repetition

    python bench/fill_quality.py --summary OUT.jsonl     # prints it after the table
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from statistics import mean

FRESH = ("resampled", "sampled fresh")         # filling/model_source.py Asker.answer's details
ERROR = re.compile(r"error\[(E\d+)\]: ([^\n]*)")


def attempts_of(out: Path) -> dict[int, list[dict]]:
    """task id -> its model attempts (meaning questions and other sources
    left out), in order."""
    folder = out.with_name(out.stem + ".attempts")
    found: dict[int, list[dict]] = {}
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else ():
        task = int(path.name.split("-", 1)[0])
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        found[task] = [r for r in rows if r.get("number") and "prompt_tokens" in r
                       and not r.get("detail", "").startswith("meaning")]
    return found


def kind(attempt: dict) -> str:
    if attempt.get("detail", "").startswith(FRESH):
        return "fresh"
    return "first" if attempt["number"] == 1 else "repair"


def digest(results: list[dict], attempts: dict[int, list[dict]]) -> dict:
    """The digest (module docstring) as a dict of plain values."""
    by_task: dict[int, dict[str, dict]] = {}
    for r in results:
        by_task.setdefault(r["task_id"], {})[r["arm"]] = r
    both = {t: v for t, v in by_task.items() if {"npl", "python"} <= set(v)}
    outcome = {"both": [], "npl_only": [], "python_only": [], "neither": []}
    for t, v in sorted(both.items()):
        key = {(True, True): "both", (True, False): "npl_only", (False, True): "python_only",
               (False, False): "neither"}[(v["npl"]["passed"], v["python"]["passed"])]
        outcome[key].append(v["npl"]["name"])
    first = [(t, a[0]) for t, a in attempts.items() if t in both and a and a[0]["number"] == 1]
    accepted = [t for t, a in first if a["verdict"] == "accepted"]
    later = [t for t, a in first if a["verdict"] != "accepted"]
    late_accepts = Counter()
    for t in later:
        for a in attempts[t]:
            if a["verdict"] == "accepted":
                late_accepts[f"{kind(a)} at attempt {a['number']}"] += 1
    stages, codes, messages = Counter(), Counter(), Counter()
    cut_off = 0
    for t in both:
        for a in attempts.get(t, []):
            if a["verdict"] != "rejected":
                continue
            stages[a.get("stage", "")] += 1
            cut_off += "was cut off" in a.get("feedback", "")
            if a.get("stage") == "compile":
                for code, message in ERROR.findall(a.get("feedback", ""))[:1]:
                    codes[code] += 1
                    messages[f"{code} {re.sub(r'[0-9]+', 'N', message)[:70]}"] += 1
    return {
        "problems": len(both),
        "outcomes": {k: {"count": len(v), "names": v} for k, v in outcome.items()},
        "first": {"holes": len(first), "accepted": len(accepted),
                  "right": sum(both[t]["npl"]["passed"] for t in accepted),
                  "mean_seconds": _mean(a["seconds"] for _, a in first),
                  "python_mean_seconds": _mean(both[t]["python"]["seconds"] for t, _ in first)},
        "later": {"holes": len(later),
                  "seconds_after_first": round(sum(a["seconds"] for t in later
                                                   for a in attempts[t][1:]), 1),
                  "right": sum(both[t]["npl"]["passed"] for t in later),
                  "accepted_by": dict(sorted(late_accepts.items()))},
        "repeats": sum(a.get("detail", "").startswith("resampled")
                       for t in later for a in attempts[t]),
        "rejections": {"by_stage": dict(stages.most_common()), "compile_codes": dict(codes.most_common()),
                       "compile_messages": dict(messages.most_common(8)), "cut_off": cut_off},
        "total_seconds": {"npl": round(sum(v["npl"]["seconds"] for v in both.values()), 1),
                          "python": round(sum(v["python"]["seconds"] for v in both.values()), 1)},
        "by_attempts": by_attempts(both, attempts),
    }


def by_attempts(both: dict[int, dict[str, dict]], attempts: dict[int, list[dict]]) -> list[dict]:
    """The run cut after attempt N, for N = 1 .. the most any hole made."""
    most = max((a["number"] for t in both for a in attempts.get(t, [])), default=0)
    python_passed = sum(v["python"]["passed"] for v in both.values())
    python_seconds = sum(v["python"]["seconds"] for v in both.values())
    rows = []
    for n in range(1, most + 1):
        passed, seconds = 0, 0.0
        for t, v in both.items():
            npl, later = v["npl"], [a for a in attempts.get(t, []) if a["number"] > n]
            model = npl.get("source") == "model"
            passed += npl["passed"] and not (model and npl.get("attempts", 0) > n)
            seconds += npl["seconds"] - sum(a["seconds"] for a in later)
        rows.append({"attempts": n, "passed": passed,
                     "points": round(100 * (passed - python_passed) / len(both), 1),
                     "time_ratio": round(seconds / python_seconds, 2) if python_seconds else None})
    return rows


def _mean(values) -> float:
    values = list(values)
    return round(mean(values), 2) if values else 0.0


def print_digest(d: dict) -> None:
    o, f, l = d["outcomes"], d["first"], d["later"]
    print(f"\nDigest of NPL's attempt records ({d['problems']} problems):")
    for key, label in (("npl_only", "NPL only"), ("python_only", "Python only")):
        print(f"  {label}: {o[key]['count']} ({', '.join(o[key]['names'])})")
    print(f"  both pass {o['both']['count']}, neither {o['neither']['count']}")
    print(f"  first replies: {f['accepted']} of {f['holes']} accepted, {f['right']} right; "
          f"{f['mean_seconds']} s each (Python {f['python_mean_seconds']} s on the same problems)")
    print(f"  later attempts: {l['holes']} holes, {l['seconds_after_first']} s after the first "
          f"(of NPL's {d['total_seconds']['npl']} s; Python's total {d['total_seconds']['python']} s), "
          f"{l['right']} ended right; accepted by {l['accepted_by'] or 'none'}")
    print(f"  repair requests answered with an earlier answer: {d['repeats']}")
    print("  cut after attempt N: " + "; ".join(
        f"{r['attempts']}: {r['passed']} passed, {r['points']:+.1f} points, {r['time_ratio']}x"
        for r in d["by_attempts"]))
    r = d["rejections"]
    print(f"  rejected attempts by stage: {r['by_stage']}; cut off as a repetition: {r['cut_off']}")
    print(f"  compile errors (first of each attempt): {r['compile_codes']}")
    for message, n in r["compile_messages"].items():
        print(f"    {n:3d}  {message}")
