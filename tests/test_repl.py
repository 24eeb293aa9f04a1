"""`npl repl` (npl/repl.py), driven through its input stream.

Scripted sessions run `npl repl` with a pipe as stdin (no prompts); one
session runs in a pseudo-terminal, through prompt_toolkit, with its history
file in a private data folder. Checked: values as NPL shows them, variables
that persist (and keep their static types), output printed once, errors with
carets after which the session goes on, blocks, redefinitions, :type,
:holes, :load with a lock file, :fill against the scripted model server,
:reset, :quit and the exit status.
"""
from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import npl_command
from fakellm import FakeLLMServer, dynamic, reply
from npl.repl import _indented, input_complete, next_indent


def repl(script: str, cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(npl_command() + ["repl", *args], input=script, cwd=cwd,
                          capture_output=True, text=True, timeout=180,
                          env={**os.environ, **(env or {})})


def test_input_shape():
    assert input_complete("x = 1")
    assert input_complete(":type x")
    assert not input_complete("xs = [1,\n  2")
    assert input_complete("xs = [1,\n  2]")
    assert not input_complete("def f() -> int:")
    assert not input_complete("def f() -> int:\n    return 1")
    assert input_complete("def f() -> int:\n    return 1\n")
    assert not input_complete('s = """abc')
    assert not input_complete("y: int = ?{the answer {to")
    assert input_complete("d = {1: 2}  # a comment ending with:")
    assert input_complete("s = 'a:'")
    assert not input_complete("@kernel")
    assert next_indent("if x:") == "    " and next_indent("    y = 1") == "    "
    assert _indented('s = """a\nb"""\nt = 1') == '    s = """a\nb"""\n    t = 1'


def test_scripted_session(tmp_path):
    script = '''\
x = 40
x + 2
print("printed once")
xs = [3, 1, 2]
xs.append(0)
sorted(xs)
"text"
d = {"a": 1}
d
total = 0
for v in xs:
    total += v
total
def double(n: int) -> int:
    return n * 2
double(x)
struct P:
    a: int
    b: str
p = P(1, "q")
p.a += 5
p
:type double(1) / 2
:type double
:type xs
x = "a string"
y = 1 / 0
x
if x > 100:
    print("big")
else:
    print("small")
def double(n: int) -> int:
    return n * 3
double(x)
:reset
x
:quit
print("never run")
'''
    r = repl(script, tmp_path)
    assert r.returncode == 1                          # some inputs failed
    out = r.stdout.splitlines()
    assert out == ["42", "printed once", "[0, 1, 2, 3]", "'text'", "{'a': 1}", "6", "80",
                   "P(a=6, b='q')", "float",
                   "def double(n: int) -> int", "list[int]", "40", "small", "120"], r.stdout
    err = r.stderr
    # a type error, shown against the input with a caret; x keeps its type
    assert '<input>:1:5: error[E012]' in err and '    x = "a string"\n        ^^^^^^^^^^' in err
    assert "error: division by zero" in err and "in <input> (<input>:1)" in err
    # after :reset, x is gone
    assert "<input>:1:1: error[E010]: undefined name 'x'" in err
    assert "never run" not in r.stdout


def test_blocks_end_at_the_next_unindented_line(tmp_path):
    r = repl("def f(n: int) -> int:\n    return n + 1\nf(1)\nfor i in range(2):\n    print(i)\n"
             "f(10)\n", tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["2", "0", "1", "11"]


def test_load_holes_and_locked_fills(tmp_path):
    from npl.compiler.driver import compile
    from npl.filling.lockfile import LockEntry, Provenance, lock_path_for, update_lock
    prog = tmp_path / "lib.npl"
    prog.write_text('def triple(n: int) -> int:\n    """Three times n."""\n    ...\n\n'
                    'def vowels(s: str) -> int:\n    """Count the vowels in s."""\n    ...\n\n'
                    "def main():\n    print(triple(2))\n")
    spec = next(h for h in compile(prog.read_text(), str(prog)).holes if h.name == "triple")
    entry = LockEntry(spec.key, spec.name, spec.kind, spec.location, spec.description,
                      spec.signature, "def triple(n: int) -> int:\n    return 3 * n\n",
                      Provenance(source="synth"))
    update_lock(lock_path_for(prog), lambda entries: entries.__setitem__(entry.key, entry))
    r = repl("triple(5)\n:holes\nvowels(\"ab\")\ny: int = ?{the number seven}\n:holes\n",
             tmp_path, "lib.npl")
    lines = r.stdout.splitlines()
    assert lines[:2] == ["loaded 3 definitions from lib.npl", "15"], r.stdout
    assert "triple: function hole, filled (synth)" in lines
    assert "vowels: function hole, missing" in lines
    assert "error: unfilled hole" in r.stderr and "vowels" in r.stderr
    assert "`:fill` fills the session's holes" in r.stderr
    # the input stopped by its hole is listed with the session's holes
    assert any(re.fullmatch(r"<session>@\d+: expression hole, missing", x) for x in lines)
    assert any(re.fullmatch(r"    def __repl_main_hole\d+\(\) -> int", x) for x in lines)


def test_fill_uses_the_model(tmp_path):
    good = '```npl\ndef count_vowels(s: str) -> int:\n    return sum(1 for c in s.lower() if c in "aeiou")\n```'
    script = ('def count_vowels(s: str) -> int:\n'
              '    """Count the vowels a, e, i, o, u in s, in either case."""\n    ...\n\n'
              'example count_vowels("Hello") == 2\n'
              ':fill\ncount_vowels("Programming")\n:holes\n')
    with FakeLLMServer(default=reply(good)) as server:
        r = repl(script, tmp_path, "--model", "openai/any", env={"OPENAI_BASE_URL": server.base_url})
        assert len(server.requests) == 1
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "1 of 1 hole filled", "3", "count_vowels: function hole, filled (openai/any)",
        "    Count the vowels a, e, i, o, u in s, in either case.",
        "    def count_vowels(s: str) -> int"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []     # no temporary files left


def test_fill_fills_the_hole_that_stopped_an_input_and_runs_it_again(tmp_path):
    script = "x: int = ?{the answer to everything}\n:fill\nx + 1\n:holes\n"
    with FakeLLMServer(default=reply("```npl\n42\n```")) as server:
        r = repl(script, tmp_path, "--model", "openai/any", env={"OPENAI_BASE_URL": server.base_url})
        assert len(server.requests) == 1
    assert r.returncode == 1, r.stderr                  # a script with a failed input
    lines = r.stdout.splitlines()
    assert lines[:2] == ["1 of 1 hole filled", "43"], r.stdout
    assert any(re.fullmatch(r"<session>@\d+: expression hole, filled \(openai/any\)", x) for x in lines)
    assert "error: unfilled hole" in r.stderr          # the first try, before :fill


def test_source_is_a_program_npl_run_runs(tmp_path):
    r = repl("def sq(n: int) -> int:\n    return n * n\n\nys = [sq(i) for i in range(4)]\n"
             "print(ys)\nlen(ys)\n:source\n", tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[:2] == ["[0, 1, 4, 9]", "4"]
    program = "\n".join(out[2:]) + "\n"
    assert program == ("def sq(n: int) -> int:\n    return n * n\n\ndef main():\n"
                       "    ys = [sq(i) for i in range(4)]\n    print(ys)\n    len(ys)\n")
    (tmp_path / "saved.npl").write_text(program)
    run = subprocess.run(npl_command() + ["run", "saved.npl"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert (run.returncode, run.stdout) == (0, "[0, 1, 4, 9]\n"), run.stderr


ANSI = re.compile(rb"\x1b\[[0-9;?]*[a-zA-Z]|\x1b\][^\x07]*\x07|\r")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_terminal_session_with_prompt_toolkit(tmp_path):
    import pty
    data = tmp_path / "data"
    env = {**os.environ, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "XDG_DATA_HOME": str(data),
           "COLUMNS": "100", "LINES": "30"}
    master, slave = pty.openpty()
    proc = subprocess.Popen(npl_command() + ["repl"], stdin=slave, stdout=slave, stderr=slave,
                            cwd=tmp_path, env=env, close_fds=True)
    os.close(slave)
    seen = b""

    def until(pattern: bytes, timeout: float = 60) -> str:
        nonlocal seen
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
                if re.search(pattern, ANSI.sub(b"", seen), re.S):
                    return ANSI.sub(b"", seen).decode()
        raise AssertionError(f"no {pattern!r} in {ANSI.sub(b'', seen)[-400:]!r}")

    try:
        until(rb"NPL session.*>>>")
        os.write(master, b"x = 40\r")
        until(rb"(>>>.*){2}")
        os.write(master, b"def f(n: int) -> int:\r")      # the next line is indented for us
        until(rb"\.\.\.")
        os.write(master, b"return n + 2\r")
        until(rb"return n \+ 2.*\.\.\.")
        os.write(master, b"\r")                           # a blank line ends the block
        until(rb"(>>>.*){3}")
        os.write(master, b"f(x)\r")
        screen = until(rb"f\(x\).*42")
        assert "Traceback" not in screen
        os.write(master, b":quit\r")
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    history = (data / "npl" / "repl_history").read_text()
    assert "+x = 40" in history
    assert "+def f(n: int) -> int:\n+    return n + 2\n" in history and "+f(x)" in history


def test_fill_writes_no_file(tmp_path):
    """The filler works on the session's text: while it asks the model,
    and after, the session's folder holds nothing it wrote."""
    seen = []

    def answer(request: dict) -> str:
        seen.append(sorted(p.name for p in tmp_path.iterdir()))
        return "```npl\n42\n```"
    (tmp_path / "npl.toml").write_text("[fill]\nattempts = 2\n")
    with FakeLLMServer(default=dynamic(answer)) as server:
        r = repl("x: int = ?{the answer to everything}\n:fill\nx + 1\n", tmp_path,
                 "--model", "openai/any", env={"OPENAI_BASE_URL": server.base_url})
    assert r.stdout.splitlines()[:2] == ["1 of 1 hole filled", "43"], r.stderr
    assert seen == [["npl.toml"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["npl.toml"]
