"""The two arms of the fill-quality benchmark, one problem at a time.

    npl_arm(problem, model, folder, library)   the hole program filled by
        NPL's whole loop (lock -> library -> synthesizer -> model with
        repair; npl/project.py fill_missing, as `npl fill` does) with the
        settings a user gets by default (or those of `settings`, an npl.toml),
        in a fresh folder, with the module library at `library`; then every
        test run on the filled program
    python_arm(problem, provider, folder)      the model asked once for the
        function in Python (baseline.py); then every test run on its code

Each gives an `ArmResult`: passed (every test, the shown one included),
hidden_passed, the model's calls and tokens, wall seconds to the answer
(the judge's time is kept apart), and for NPL the source of the fill.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from baseline import baseline_messages, python_code
from judge import Verdict, judge
from problem import Problem, program_text

MAX_TOKENS = 768            # what filling/model_source.py asks the model for per call
TEST_TIMEOUT = 5.0          # seconds per test call


@dataclass
class ArmResult:
    task_id: int
    name: str
    arm: str                        # "npl" | "python"
    passed: bool = False            # every test (shown and hidden)
    hidden_passed: bool = False
    tests_passed: int = 0
    tests: int = 0
    seconds: float = 0.0            # to the answer: filling, or the one model call
    model_seconds: float = 0.0      # of which the model's requests took
    judge_seconds: float = 0.0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    source: str = ""                # npl: model / synth / library / manual / none
    attempts: int = 0
    solution: str = ""              # the fill, or the Python code
    note: str = ""                  # why it failed (first failing test, or the error)

    def judged(self, problem: Problem, verdict: Verdict, seconds: float) -> "ArmResult":
        self.tests, self.judge_seconds = len(problem.tests), round(seconds, 2)
        self.tests_passed = sum(verdict.passed)
        self.passed = verdict.all_passed
        hidden = verdict.passed[len(problem.shown):]
        self.hidden_passed = bool(hidden) and all(hidden) and not verdict.error
        failing = [n for ok, n in zip(verdict.passed, verdict.notes) if not ok]
        self.note = verdict.error or (failing[0] if failing else "")
        return self


def source_kind(source: str) -> str:
    """A provenance source ("synth", "library", "local/qwen...") as its kind."""
    return "model" if "/" in source else source


def run_judge(problem: Problem, kind: str, solution: Path, result: ArmResult) -> ArmResult:
    start = time.perf_counter()
    verdict = judge(kind, solution, problem.name, problem.tests, TEST_TIMEOUT)
    return result.judged(problem, verdict, time.perf_counter() - start)


def npl_arm(problem: Problem, model: str, folder: Path, library: Path, settings: str = "") -> ArmResult:
    """`settings`: the text of an npl.toml for the program (none: the defaults)."""
    from npl.project import fill_missing, open_program
    result = ArmResult(problem.task_id, problem.name, "npl", source="none")
    folder.mkdir(parents=True)
    if settings:
        (folder / "npl.toml").write_text(settings)
    path = folder / f"{problem.name}.npl"
    path.write_text(program_text(problem, problem.shown))
    saved = os.environ.get("NPL_LIBRARY")
    os.environ["NPL_LIBRARY"] = str(library)
    start = time.perf_counter()
    try:
        _, report = fill_missing(open_program(str(path), strict_fills=False), model=model, quiet=True)
    except Exception as exc:                    # a provider or configuration failure
        result.seconds, result.note = round(time.perf_counter() - start, 2), f"{type(exc).__name__}: {exc}"
        return result
    finally:
        restore_env("NPL_LIBRARY", saved)
    result.seconds = round(time.perf_counter() - start, 2)
    usage = report.usage
    result.calls, result.prompt_tokens, result.completion_tokens = \
        usage.calls, usage.prompt_tokens, usage.completion_tokens
    result.model_seconds = round(usage.seconds, 2)
    if report.failures or not report.outcomes:
        reason = report.failures[0].reason if report.failures else "no fill"
        result.note = "not filled: " + " ".join(unplaced(reason, folder).split())[:300]
        return result
    outcome = report.outcomes[0]
    result.source, result.attempts = source_kind(outcome.provenance.source), outcome.provenance.attempts
    result.solution = outcome.fill
    result = run_judge(problem, "npl", path, result)
    result.note = unplaced(result.note, folder)         # a run-time error names the program
    return result


def unplaced(text: str, folder: Path) -> str:
    """`text` without the temporary `folder`'s path: no machine's paths in results."""
    return text.replace(str(folder) + os.sep, "")


def python_arm(problem: Problem, provider, folder: Path) -> ArmResult:
    result = ArmResult(problem.task_id, problem.name, "python")
    folder.mkdir(parents=True)
    start = time.perf_counter()
    try:
        completion = provider.complete(baseline_messages(problem), max_tokens=MAX_TOKENS,
                                       temperature=0.0)
    except Exception as exc:                    # ProviderError: crash, timeout, ...
        result.seconds, result.note = round(time.perf_counter() - start, 2), f"{type(exc).__name__}: {exc}"
        return result
    result.seconds = round(time.perf_counter() - start, 2)
    result.calls, result.prompt_tokens, result.completion_tokens = \
        1, completion.prompt_tokens, completion.completion_tokens
    result.model_seconds = round(completion.seconds, 2)
    result.solution = python_code(completion.text, problem.name)
    code = folder / "solution.py"
    code.write_text(result.solution)
    return run_judge(problem, "python", code, result)


def restore_env(name: str, value: Optional[str]) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
