"""`npl map` and `npl.map` (SPEC section 11; docs/map.md): JSON Lines and
CSV in, one line per record out in input order; records that do not convert
or whose call fails (a run-time error, a step limit) are error lines and the
job goes on; `--resume` after `kill -9`; a worker that segfaults; an
unfilled hole refused; oracles through the shared answer store; the same
output from one worker, two, and Ray (a local instance, started once)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import npl
from conftest import npl_command
from fakellm import FakeLLMServer, dynamic, prompt_text
from npl.mapping.records import output_line, scan_output

PROGRAM = '''\
struct Summary:
    name: str
    ratio: float
    tags: list[str]

def spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i % 7
    return total

def summarize(name: str, count: int, total: float, tags: list[str] | None) -> Summary:
    t: list[str] = []
    if tags is not None:
        t = tags
    ratio = total / count
    return Summary(name.upper(), ratio + float(spin(count) * 0), sorted(t))

def square(n: int) -> int:
    return spin(n % 5 * 20000) * 0 + n * n
'''

RECORDS = [
    '{"id": "a", "name": "ann", "count": 2, "total": 5.0, "tags": ["x", "b"]}',
    '["bob", 4, 2, null]',
    '{"name": "cy", "count": "x", "total": 1.0, "tags": null}',
    '',
    '{"name": "dee", "count": 0, "total": 1.0, "tags": []}',
    '{"id": 7, "name": "eve", "count": 10000000, "total": 1.0, "tags": null}',
    'not json',
    '{"name": "fay", "total": 1.0, "tags": null}',
    '{"id": 8, "name": "gus", "count": 3, "total": 1.5, "tags": ["q"]}',
]


def expected_lines(program: str) -> list[dict]:
    return [
        {"index": 0, "id": "a", "result": {"name": "ANN", "ratio": 2.5, "tags": ["b", "x"]}},
        {"index": 1, "result": {"name": "BOB", "ratio": 0.5, "tags": []}},
        {"index": 2, "error": "line 3, argument 'count': expected int, found \"x\""},
        {"index": 3, "error": f"division by zero (at {program}:16, in summarize)"},
        {"index": 4, "id": 7, "error": "step limit exceeded (200000 steps) (at prog.npl:8, in spin)"},
        {"index": 5, "error": "line 7: not a JSON value (Expecting value)"},
        {"index": 6, "error": "line 8: no value for parameter 'count'"},
        {"index": 7, "id": 8, "result": {"name": "GUS", "ratio": 0.5, "tags": ["q"]}},
    ]


@pytest.fixture
def job(tmp_path):
    (tmp_path / "prog.npl").write_text(PROGRAM)
    (tmp_path / "in.jsonl").write_text("\n".join(RECORDS) + "\n")
    return tmp_path


def run_map(cwd: Path, *args: str, env: dict | None = None, timeout: int = 120):
    return subprocess.run(npl_command() + ["map", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---------------------------------------------------------------- one worker, two, Ray

@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray instance with 2 CPUs for the module (its GCS address)."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'npl[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="error")
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def test_records_errors_and_ids_in_input_order_with_one_or_two_workers(job):
    outputs = []
    for workers in ("1", "2"):
        out = job / f"out{workers}.jsonl"
        done = run_map(job, "prog.npl", "summarize", "--input", "in.jsonl", "--output", out.name,
                       "--workers", workers, "--steps", "200000", "--batch-size", "2")
        assert done.returncode == 1, done.stderr
        assert "npl map: 8 record(s), 3 ok, 5 failed" in done.stderr
        assert read_lines(out) == expected_lines("prog.npl")
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_ray_writes_what_local_workers_write(job, ray_cluster, monkeypatch):
    from npl.mapping.command import map_command
    local = run_map(job, "prog.npl", "summarize", "--input", "in.jsonl", "--output", "local.jsonl",
                    "--steps", "200000")
    assert local.returncode == 1, local.stderr
    monkeypatch.chdir(job)
    status = map_command("prog.npl", "summarize", input="in.jsonl", output="ray.jsonl", ray="",
                         steps=200000)
    assert status == 1
    assert (job / "ray.jsonl").read_bytes() == (job / "local.jsonl").read_bytes()
    # the CLI, connecting to the running cluster by its address
    done = run_map(job, "prog.npl", "summarize", "--input", "in.jsonl", "--output", "ray2.jsonl",
                   "--steps", "200000", "--ray", ray_cluster)
    assert done.returncode == 1, done.stderr
    assert (job / "ray2.jsonl").read_bytes() == (job / "local.jsonl").read_bytes()
    assert npl.map("prog.npl", "square", range(6), ray=True) == [n * n for n in range(6)]


def test_without_ray_the_error_says_how_to_install_it(job, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)          # `import ray` fails
    from npl.mapping.command import map_command
    from npl.mapping.program import MapRequestError
    monkeypatch.chdir(job)
    with pytest.raises(MapRequestError, match=r'pip install "npl\[ray\]"'):
        map_command("prog.npl", "summarize", input="in.jsonl", output="out.jsonl", ray="")
    assert not (job / "out.jsonl").exists()


# ---------------------------------------------------------------- CSV

def test_csv_records_convert_by_parameter_type(job):
    (job / "in.csv").write_text(
        'id,name,count,total,tags\n'
        'r1,ann,2,5,"[""x"", ""b""]"\n'
        'r2,"bo\nb",4,2.0,\n'
        'r3,cy,many,1.0,\n'
        'r4,dee,1\n')
    done = run_map(job, "prog.npl", "summarize", "--input", "in.csv", "--output", "out.jsonl",
                   "--workers", "1")
    assert done.returncode == 1, done.stderr
    assert read_lines(job / "out.jsonl") == [
        {"index": 0, "id": "r1", "result": {"name": "ANN", "ratio": 2.5, "tags": ["b", "x"]}},
        {"index": 1, "id": "r2", "result": {"name": "BO\nB", "ratio": 0.5, "tags": []}},
        {"index": 2, "id": "r3", "error": "line 5, argument 'count': expected int, found \"many\""},
        {"index": 3, "id": "r4", "error": "line 6: the row has 3 cell(s), the header 5"},
    ]


# ---------------------------------------------------------------- refusals

def test_an_unfilled_hole_is_refused_before_any_record_is_read(job):
    (job / "holes.npl").write_text(PROGRAM + '\ndef shout(s: str) -> str:\n'
                                   '    """s in upper case with an exclamation mark."""\n    ...\n')
    done = run_map(job, "holes.npl", "square", "--input", "missing.jsonl", "--output", "out.jsonl")
    assert done.returncode == 2
    assert "E040" in done.stderr and "hole 'shout' has no fill" in done.stderr
    assert not (job / "out.jsonl").exists()


@pytest.mark.parametrize("args, message", [
    (["square", "--input", "nope.jsonl"], "no such input file: nope.jsonl"),
    (["cube", "--input", "in.jsonl"], "prog.npl has no function 'cube' (functions: spin, square, summarize)"),
    (["square", "--input", "in.txt"], "cannot tell the format of in.txt"),
    (["square", "--input", "in.jsonl", "--workers", "0"], "--workers must be at least 1"),
])
def test_bad_requests_exit_2_with_a_message(job, args, message):
    (job / "in.txt").write_text("1\n")
    done = run_map(job, "prog.npl", *args, "--output", "out.jsonl")
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------- faults

@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers in /proc")
def test_resume_after_kill_9_loses_nothing_and_repeats_nothing(job):
    n = 150
    (job / "nums.jsonl").write_text("".join(f"[{i}]\n" for i in range(n)))
    args = ["map", "prog.npl", "square", "--input", "nums.jsonl", "--output", "out.jsonl",
            "--workers", "2", "--batch-size", "3"]
    proc = subprocess.Popen(npl_command() + args, cwd=job, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    out = job / "out.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 20):
        time.sleep(0.05)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written = out.read_bytes().count(b"\n")
    assert 20 <= written < n, "the job was not killed midway"
    assert len(workers) == 2
    deadline = time.monotonic() + 10                # orphaned workers notice and exit
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    with open(out, "ab") as f:                 # as if killed halfway through writing a line
        f.write(b'{"index": ' + str(written).encode() + b', "res')
    assert scan_output(str(out)).torn
    done = run_map(job, *args[1:], "--resume")
    assert done.returncode == 0, done.stderr
    assert f"already in out.jsonl" in done.stderr
    lines = read_lines(out)
    assert [line["index"] for line in lines] == list(range(n))
    assert all(line["result"] == line["index"] ** 2 for line in lines)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


POKE = '''\
@kernel
def poke(n: int) -> float:
    a = zeros(4)
    a[n] = 1.0
    return a[0] + float(n)
'''


def test_a_worker_that_segfaults_fails_only_its_record(tmp_path):
    """With index checks off (NPL_JIT_BOUNDSCHECK=0), a far out-of-bounds
    write in a compiled kernel is a real segmentation fault."""
    (tmp_path / "poke.npl").write_text(POKE)
    values = [0, 1, 2, 10**11, 3, 1, 2, 0]
    (tmp_path / "in.jsonl").write_text("".join(f'{{"n": {v}}}\n' for v in values))
    done = run_map(tmp_path, "poke.npl", "poke", "--input", "in.jsonl", "--output", "out.jsonl",
                   "--workers", "2", "--batch-size", "4", env={"NPL_JIT_BOUNDSCHECK": "0"})
    assert done.returncode == 1, done.stderr
    lines = read_lines(tmp_path / "out.jsonl")
    assert [line["index"] for line in lines] == list(range(len(values)))
    assert [line.get("result") for line in lines] == [1.0, 1.0, 2.0, None, 3.0, 1.0, 2.0, 1.0]
    assert "died (killed by SIGSEGV" in lines[3]["error"] and "again" in lines[3]["error"]
    assert "1 failed" in done.stderr


# ---------------------------------------------------------------- oracles

ORACLE = '''\
@oracle
def sentiment(review: str) -> str:
    """Exactly one of "positive", "negative" or "neutral"."""
    ...
'''


def test_oracle_answers_are_shared_through_the_store_and_frozen_asks_no_model(tmp_path):
    (tmp_path / "o.npl").write_text(ORACLE)
    reviews = [f"review {i}" for i in range(12)]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"review": r}) + "\n" for r in reviews))
    answer = dynamic(lambda request: '{"answer": "neutral"}' if "('review 7')" in prompt_text(request)
                     else '{"answer": "positive"}')
    with FakeLLMServer([], default=answer) as server:
        env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "k"}
        done = run_map(tmp_path, "o.npl", "sentiment", "--input", "in.jsonl", "--output",
                       "out.jsonl", "--workers", "2", "--batch-size", "1", "--model", "openai/m",
                       env=env)
        assert done.returncode == 0, done.stderr
        asked = len(server.requests)
        assert asked >= len(reviews)
        from npl.filling.answers import AnswerStore
        assert len(AnswerStore(str(tmp_path / "o.npl.answers")).all()) == len(reviews)
        (tmp_path / "more.jsonl").write_text((tmp_path / "in.jsonl").read_text()
                                             + '{"review": "unseen"}\n')
        again = run_map(tmp_path, "o.npl", "sentiment", "--input", "more.jsonl", "--output",
                        "out2.jsonl", "--workers", "2", "--frozen", "--model", "openai/m", env=env)
        assert len(server.requests) == asked          # every answer from the store, none asked
    lines = read_lines(tmp_path / "out2.jsonl")
    assert [line.get("result") for line in lines[:12]] == \
        ["neutral" if i == 7 else "positive" for i in range(12)]
    assert "no stored answer" in lines[12]["error"] and "--frozen" in lines[12]["error"]
    assert again.returncode == 1


# ---------------------------------------------------------------- npl.map

def test_npl_map_returns_the_results_in_order(job):
    prog = npl.load(str(job / "prog.npl"))
    squares = npl.map(prog, "square", range(10), workers=2)
    assert squares == [n * n for n in range(10)]
    rows = [("ann", 2, 5, ["x"]), {"name": "bo", "count": 0, "total": 1.0, "tags": None}]
    results = npl.map(str(job / "prog.npl"), "summarize", rows, workers=1, errors="return")
    assert results[0].name == "ANN" and results[0].ratio == 2.5 and results[0].tags == ["x"]
    assert isinstance(results[1], npl.MapRecordError) and "division by zero" in str(results[1])
    with pytest.raises(npl.MapError, match="1 of 2 record"):
        npl.map(prog, "summarize", rows, workers=1)


# ---------------------------------------------------------------- output files

def test_scanning_an_output_for_resume(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text(output_line(0, "a", result=1) + output_line(1, None, error="bad") + '{"ind')
    resume = scan_output(str(out))
    assert resume.done == {0, 1} and resume.failed == 1 and resume.torn
    assert resume.keep_bytes == len(out.read_bytes()) - len('{"ind')
    out.write_text(output_line(0, None, result=1) + "hello\n")
    from npl.mapping.program import MapRequestError
    with pytest.raises(MapRequestError, match="out.jsonl:2: not a line `npl map` writes"):
        scan_output(str(out))
