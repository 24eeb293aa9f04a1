#!/usr/bin/env python3
"""`npl map` throughput: a CPU-bound NPL function (bench/map/word_stats.npl,
word statistics of a 40-80 word text) over 100,000 generated JSON Lines
records, run

  * as a plain Python loop in one process: `npl.load` the program, then per
    record read the line, `prog.call("word_stats", text)`, write the result
    line (the baseline: what a user would write without `npl map`);
  * by `npl map --workers 1`, `--workers 2` and `--ray` (a local Ray
    instance on this machine), each a separate process, timed whole
    (start-up, compiling, starting the workers or Ray, the job).

It checks that all four write the same bytes, and prints records per second,
the speedup of two workers over one (target: at least 1.7 on two cores),
and NPL's dispatch cost per record, measured in this process on the first
20,000 records: the generated function called directly (no dispatch), the
embedding API's `Program.call` per record, and an `npl map` worker's batch
(read the JSON line, convert the argument, call, result to JSON, format the
output line), each minus the direct call, in CPU time.

On a shared machine two controls say what the timings can show. Other work
skews them: the load average is printed before and after. And with the
kernel's autogroup scheduling (/proc/sys/kernel/sched_autogroup_enabled),
the processes of one session share one session's CPU share: a pool of
worker processes (npl map's, multiprocessing's, make -j's) is no faster
than one process while other sessions keep the CPUs busy. The first
control runs the same pure-Python loop as one process and as two, in this
session and in sessions of their own: the speedup any two-process pool can
reach here. The second runs npl map's job engine on Ray (whose workers run
in sessions of their own) with 1 and then 2 CPUs, in this process.

    python bench/map/run.py [--records N] [--no-ray] [--quick] [--no-record]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from harness import find_npl, machine_info, record  # noqa: E402

PROGRAM = HERE / "word_stats.npl"
FUNCTION = "word_stats"
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "shi", "po", "an", "el", "or", "us"]
ENDINGS = ["", "", "", ",", ".", ";", "!", "?"]


def generate(path: Path, n: int, seed: int = 7) -> None:
    """n records {"id": i, "text": ...} of 40 to 80 made-up words."""
    rng = random.Random(seed)
    vocabulary = [a + b for a in SYLLABLES for b in SYLLABLES] + \
        [a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES[:6]]
    with open(path, "w") as f:
        for i in range(n):
            words = [rng.choice(vocabulary) + rng.choice(ENDINGS) for _ in range(rng.randint(40, 80))]
            f.write(json.dumps({"id": i, "text": " ".join(words).capitalize()}) + "\n")


def plain_loop(input_path: Path, output_path: Path) -> float:
    """The baseline: one process, npl.load, a Python loop; its seconds
    (load included)."""
    started = time.perf_counter()
    import npl
    from npl.mapping.records import output_line
    from npl.runtime.convert import to_json
    prog = npl.load(str(PROGRAM))
    with open(input_path, "rb") as f, open(output_path, "w") as out:
        for index, line in enumerate(f):
            record = json.loads(line)
            result = prog.call(FUNCTION, record["text"])
            out.write(output_line(index, record["id"], result=to_json(result)))
    return time.perf_counter() - started


def dispatch_costs(input_path: Path, sample: int) -> dict:
    """CPU microseconds per record on `sample` records (process time: less
    skewed by other work than the clock): the generated function called
    directly on the runtime's thread, and what the embedding API's call and
    an npl map worker add to it."""
    import npl
    from npl.mapping.program import open_bundle
    from npl.mapping.worker import Batch, ReadSpec, Runner
    from npl.runtime.execution import run_deep
    with open(input_path, "rb") as f:
        lines = [line for _, line in zip(range(sample), f)]
    texts = [json.loads(line)["text"] for line in lines]
    prog = npl.load(str(PROGRAM))
    runtime = prog._runtime
    fn = runtime.namespace[runtime.function_slot(prog._function(FUNCTION).ir_name)]

    def direct():
        for text in texts:
            fn(text)
    direct()                                    # warm up (and let the JIT decide)
    t = time.process_time()
    run_deep(direct)
    direct_s = time.process_time() - t
    t = time.process_time()
    for text in texts:
        prog.call(FUNCTION, text)
    api_s = time.process_time() - t
    bundle, _ = open_bundle(str(PROGRAM), FUNCTION, frozen=True)
    runner = Runner(bundle, ReadSpec("jsonl"))
    records = [(i, i + 1, line) for i, line in enumerate(lines)]
    t = time.process_time()
    for k in range(0, len(records), 500):
        runner.run(Batch(k, records[k:k + 500]))
    map_s = time.process_time() - t
    us = 1e6 / len(texts)
    return {"records": len(texts), "direct_us": direct_s * us,
            "api_call_overhead_us": (api_s - direct_s) * us,
            "map_worker_overhead_us": (map_s - direct_s) * us}


BURN = "x = 0\nfor i in range({n}):\n    x += i * i\n"


def pool_control(n: int = 12_000_000) -> dict:
    """Seconds for a pure-Python loop as 1 process and split over 2, in this
    session and in new sessions: what the scheduler gives a process pool."""
    def run(processes: int, own_session: bool) -> float:
        started = time.perf_counter()
        code = BURN.format(n=n // processes)
        running = [subprocess.Popen([sys.executable, "-c", code], start_new_session=own_session)
                   for _ in range(processes)]
        for p in running:
            p.wait()
        return time.perf_counter() - started
    out = {}
    for own in (False, True):
        one, two = run(1, own), run(2, own)
        out["own_sessions" if own else "this_session"] = {"one_s": one, "two_s": two,
                                                         "speedup": one / two}
    return out


def ray_scaling(data: Path, tmp: Path) -> dict:
    """npl map's job engine on a local Ray instance of 1, then 2 CPUs, in
    this process: seconds of the job (Ray's start not included)."""
    import ray

    from npl.mapping.program import open_bundle
    from npl.mapping.records import open_input
    from npl.mapping.run import FileJob, map_file
    bundle, _ = open_bundle(str(PROGRAM), FUNCTION, frozen=True)
    out = {}
    for cpus in (1, 2):
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False,
                 logging_level="error")
        try:
            stats, _ = map_file(FileJob(bundle, open_input(str(data)), str(tmp / f"ray{cpus}.jsonl"),
                                        ray=True))
        finally:
            ray.shutdown()
        out[f"cpus_{cpus}_s"] = stats.seconds
    out["speedup"] = out["cpus_1_s"] / out["cpus_2_s"]
    return out


def run_map(npl: list[str], input_path: Path, output: Path, *options: str) -> dict:
    """One `npl map` command: its wall seconds, the job's seconds (its
    summary line), and the CPU seconds of the command and its worker
    processes (Ray's workers are not its children: not counted)."""
    command = [*npl, "map", str(PROGRAM), FUNCTION, "--input", str(input_path),
               "--output", str(output), *options]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    job = re.search(r"\((\d+\.\d) s", done.stderr)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"options": " ".join(options), "wall_s": wall, "job_s": float(job.group(1)) if job else None,
            "cpu_s": cpu,
            # the summary line, without the temporary folder's path (it names this machine)
            "summary": done.stderr.strip().splitlines()[-1].replace(f"{output.parent}/", "")}


def best(runs: list[dict]) -> dict:
    return min(runs, key=lambda run: run["wall_s"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--no-ray", action="store_true", help="skip the --ray run")
    parser.add_argument("--quick", action="store_true", help="2,000 records, nothing recorded")
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs of --workers 1 and 2, interleaved; the best kept (default 2)")
    args = parser.parse_args()
    n = 2000 if args.quick else args.records
    npl = find_npl()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        data = tmp / "texts.jsonl"
        generate(data, n)
        print(f"{n:,} records, {data.stat().st_size / 1e6:.1f} MB; load average {load_before[0]:.2f}")
        costs = dispatch_costs(data, min(n, 20_000))
        baseline = plain_loop(data, tmp / "plain.jsonl")
        (tmp / "one.jsonl").write_text(data.open().readline())
        fixed = [run_map(npl, tmp / "one.jsonl", tmp / "one.out.jsonl", "--workers", workers)
                 for workers in ("1", "2")]
        repeats: dict[str, list[dict]] = {"1": [], "2": []}
        for _ in range(args.repeat):              # interleaved: the load drifts
            for workers in ("1", "2"):
                repeats[workers].append(run_map(npl, data, tmp / f"w{workers}.jsonl",
                                                "--workers", workers))
        runs = [best(repeats["1"]), best(repeats["2"])]
        outputs = ["w1.jsonl", "w2.jsonl"]
        if not args.no_ray:
            runs.append(run_map(npl, data, tmp / "ray.jsonl", "--ray"))
            outputs.append("ray.jsonl")
        control = pool_control()
        scaling = None if args.no_ray else ray_scaling(data, tmp)
        if scaling is not None:
            outputs += ["ray1.jsonl", "ray2.jsonl"]
        expected = (tmp / "plain.jsonl").read_bytes()
        for name in outputs:
            if (tmp / name).read_bytes() != expected:
                raise SystemExit(f"{name} differs from the plain loop's output")
    load_after = os.getloadavg()
    print(f"\n{'run':<28}{'seconds':>9}{'records/s':>11}")
    print(f"{'plain loop (npl.load)':<28}{baseline:>9.1f}{n / baseline:>11,.0f}")
    for run in runs:
        print(f"{'npl map ' + run['options']:<28}{run['wall_s']:>9.1f}{n / run['wall_s']:>11,.0f}"
              f"   (job {run['job_s']} s)")
    speedup = runs[0]["wall_s"] / runs[1]["wall_s"]
    job_speedup = runs[0]["job_s"] / runs[1]["job_s"] if runs[1]["job_s"] else None
    print(f"\nspeedup of 2 workers over 1: {speedup:.2f} (whole command), "
          f"{job_speedup:.2f} (the job alone); best of {args.repeat}")
    per_record = [(run["cpu_s"] - f["cpu_s"]) / n * 1e6 for run, f in zip(runs, fixed)]
    work_2 = runs[1]["cpu_s"] - fixed[1]["cpu_s"]
    estimate = (runs[0]["cpu_s"] / (fixed[1]["cpu_s"] + work_2 / 2),
                runs[0]["cpu_s"] / (fixed[1]["cpu_s"] / 2 + work_2 / 2))
    print(f"CPU: {fixed[0]['cpu_s']:.2f} s and {fixed[1]['cpu_s']:.2f} s for the command over one "
          f"record with 1 and 2 workers (start-up, compiling, loading); beyond that, per record "
          f"{per_record[0]:.1f} us with 1 worker, {per_record[1]:.1f} us with 2. On two idle cores "
          f"that is a speedup of {estimate[0]:.2f} with the start-up serial, {estimate[1]:.2f} with "
          f"it spread over both cores")
    print(f"per record: the function {costs['direct_us']:.1f} us; dispatch adds "
          f"{costs['api_call_overhead_us']:.1f} us through npl.load's Program.call, "
          f"{costs['map_worker_overhead_us']:.1f} us in an npl map worker")
    for where, c in control.items():
        print(f"control, a pure-Python loop, {where.replace('_', ' ')}: 1 process "
              f"{c['one_s']:.2f} s, 2 processes {c['two_s']:.2f} s, speedup {c['speedup']:.2f}")
    if scaling is not None:
        print(f"npl map's engine on Ray (own sessions): 1 CPU {scaling['cpus_1_s']:.1f} s, "
              f"2 CPUs {scaling['cpus_2_s']:.1f} s, speedup {scaling['speedup']:.2f}")
    autogroup = Path("/proc/sys/kernel/sched_autogroup_enabled")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
          f"({os.cpu_count()} CPUs; autogroup "
          f"{autogroup.read_text().strip() if autogroup.exists() else 'n/a'})")
    if not (args.quick or args.no_record):
        path = record("map", {"records": n, "ray": not args.no_ray},
                      [{"plain_loop_s": baseline, "runs": runs, "repeats": repeats,
                        "one_record_run": fixed, "idle_speedup_estimate": estimate,
                        "speedup_2_over_1": speedup,
                        "job_speedup_2_over_1": job_speedup, "dispatch": costs,
                        "pool_control": control, "ray_scaling": scaling,
                        "load_average": [load_before[0], load_after[0]]}])
        print(f"recorded in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
