"""`npl lsp` (npl/lsp.py): a real JSON-RPC session with the server process.

The client here writes the LSP framing itself (Content-Length headers over
the subprocess's stdin/stdout) and checks: diagnostics on didOpen and
didChange (range and code), hover on an expression (its type), on a hole
(description; fill and provenance from a lock entry written with
update_lock), go to definition (function, struct field, local's first
assignment), document symbols, the code action on a hole and the
`npl.refillHole` command against the scripted model server, and
shutdown/exit.
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import npl_command
from fakellm import FakeLLMServer, dynamic, prompt_text
from npl.compiler.driver import compile
from npl.filling.lockfile import LockEntry, Provenance, lock_path_for, update_lock

TIMEOUT = 60


class LspClient:
    """A minimal LSP client over a subprocess's pipes."""

    def __init__(self, cwd: Path, env: dict | None = None):
        self.proc = subprocess.Popen(npl_command() + ["lsp"], cwd=cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env={**os.environ, **(env or {})})
        self.messages: queue.Queue = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.decode("ascii").strip()
                if not line:
                    break
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
            body = out.read(int(headers["content-length"]))
            self.messages.put(json.loads(body))

    def send(self, message: dict) -> None:
        data = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: dict | None, timeout: float = TIMEOUT):
        self.next_id += 1
        ident = self.next_id
        self.send({"id": ident, "method": method, "params": params})
        msg = self.wait(lambda m: m.get("id") == ident and "method" not in m, timeout)
        assert "error" not in msg, msg
        return msg["result"]

    def wait(self, match, timeout: float = TIMEOUT) -> dict:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                msg = self.messages.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise AssertionError("server exited: " + self.proc.stderr.read().decode())
                continue
            if match(msg):
                return msg
        raise AssertionError("no matching message from the server")

    def diagnostics(self, uri: str, timeout: float = TIMEOUT) -> list:
        msg = self.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                        and m["params"]["uri"] == uri, timeout)
        return msg["params"]["diagnostics"]

    def close(self) -> int:
        try:
            self.request("shutdown", None)
            self.notify("exit", {})
            return self.proc.wait(timeout=TIMEOUT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


PROGRAM = '''\
struct Point:
    x: float
    y: float

def norm(p: Point) -> float:
    return sqrt(p.x * p.x + p.y * p.y)

def vowels(s: str) -> int:
    """Count the vowels a, e, i, o, u in s, in either case."""
    ...

example vowels("Hello") == 2

def scale(xs: list[float]) -> list[float]:
    total = sum(xs)
    return ?{each element of xs divided by total}

def main():
    count = vowels("abc")
    q = Point(3.0, 4.0)
    print(count + 1, norm(q))
'''

BROKEN = PROGRAM.replace("    print(count + 1, norm(q))", '    print(count + "x", norm(q))')
GOOD_VOWELS = '```npl\ndef vowels(s: str) -> int:\n    return sum(1 for c in s.lower() if c in "aeiou")\n```'
SCALE = "```npl\n[x / total for x in xs]\n```"
BY_HOLE = dynamic(lambda request: GOOD_VOWELS if "Write this Python function"
                  in prompt_text(request) else SCALE)


def pos(text: str, needle: str, offset: int = 0, nth: int = 0) -> dict:
    """The LSP position of the `nth` occurrence of `needle` (plus `offset`)."""
    k = -1
    for _ in range(nth + 1):
        k = text.index(needle, k + 1)
    k += offset
    line = text.count("\n", 0, k)
    return {"line": line, "character": k - (text.rfind("\n", 0, k) + 1)}


@pytest.fixture
def project(tmp_path):
    path = tmp_path / "prog.npl"
    path.write_text(PROGRAM)
    return path


def start(project: Path, env: dict | None = None, options: dict | None = None) -> LspClient:
    client = LspClient(project.parent, env)
    result = client.request("initialize", {"processId": None, "rootUri": project.parent.as_uri(),
                                           "capabilities": {}, "initializationOptions": options})
    caps = result["capabilities"]
    assert caps["hoverProvider"] and caps["definitionProvider"] and caps["documentSymbolProvider"]
    assert "npl.refillHole" in caps["executeCommandProvider"]["commands"]
    client.notify("initialized", {})
    return client


def open_doc(client: LspClient, path: Path, text: str) -> list:
    uri = path.as_uri()
    client.notify("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "npl", "version": 1, "text": text}})
    return client.diagnostics(uri)


def test_diagnostics_hover_definition_symbols(project):
    uri = project.as_uri()
    client = start(project)
    try:
        diags = open_doc(client, project, BROKEN)
        errors = [d for d in diags if d["severity"] == 1]
        assert len(errors) == 1 and errors[0]["code"] == "E012"
        assert errors[0]["range"] == {"start": pos(BROKEN, 'count + "x"'),
                                      "end": pos(BROKEN, 'count + "x"', len('count + "x"'))}
        # hover and definition still work in a file with a type error
        hover = client.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                      "position": pos(BROKEN, "q = Point")})
        assert "q: Point" in hover["contents"]["value"]

        client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                                 "contentChanges": [{"text": PROGRAM}]})
        diags = client.diagnostics(uri)
        assert not [d for d in diags if d["severity"] == 1]
        missing = sorted(d["message"] for d in diags if d["code"] == "E040")
        assert len(missing) == 2 and "vowels" in missing[1]

        def hover(needle: str, offset: int = 0, nth: int = 0) -> str:
            result = client.request("textDocument/hover", {
                "textDocument": {"uri": uri}, "position": pos(PROGRAM, needle, offset, nth)})
            return result["contents"]["value"] if result else ""

        assert "p.x * p.x + p.y * p.y: float" in hover("p.x * p.x + p.y", 10)  # on the `+`
        assert "total: float" in hover("total = sum")
        assert "def norm(p: Point) -> float" in hover("norm(q)")
        assert "count: int" in hover("count + 1")
        text = hover("?{each")
        assert "expression hole" in text and "each element of xs divided by total" in text
        assert "def scale_hole16(xs: list[float], total: float) -> list[float]" in text
        assert "no fill in the lock file" in text
        text = hover("def vowels")
        assert "function hole" in text and "Count the vowels a, e, i, o, u" in text

        def definition(needle: str, offset: int = 0, nth: int = 0):
            return client.request("textDocument/definition", {
                "textDocument": {"uri": uri}, "position": pos(PROGRAM, needle, offset, nth)})

        loc = definition("norm(q)")
        assert loc["uri"] == uri and loc["range"]["start"] == pos(PROGRAM, "norm(p: Point)")
        loc = definition("count + 1")
        assert loc["range"]["start"] == pos(PROGRAM, "count = vowels")
        loc = definition("p.y * p.y", 2)                # the field `y`
        assert loc["range"]["start"] == pos(PROGRAM, "y: float")
        loc = definition("Point)")                      # a struct in an annotation
        assert loc["range"]["start"] == pos(PROGRAM, "Point:")

        syms = client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
        names = [(s["name"], s["kind"]) for s in syms]
        assert names == [("Point", 23), ("norm", 12), ("vowels", 12),
                         ('example vowels("Hello") == 2', 24), ("scale", 12), ("main", 12)]
        assert [c["name"] for c in syms[0]["children"]] == ["x", "y"]
        assert syms[2]["detail"] == "hole"
    finally:
        assert client.close() == 0


NESTED = """def scale(xs: list[int], k: int) -> list[int]:
    def times(x: int) -> int:
        \"\"\"x times k.\"\"\"
        return x * k
    return [times(x) for x in xs]


def main():
    print(scale([1], 2))
"""


def test_hover_on_a_nested_function_shows_its_own_signature(tmp_path):
    path = tmp_path / "nested.npl"
    path.write_text(NESTED)
    client = start(path)
    try:
        assert not [d for d in open_doc(client, path, NESTED) if d["severity"] == 1]

        def hover(needle: str) -> str:
            result = client.request("textDocument/hover", {
                "textDocument": {"uri": path.as_uri()}, "position": pos(NESTED, needle)})
            return result["contents"]["value"] if result else ""
        for needle in ("times(x) for", "def times"):    # a call, the definition
            text = hover(needle)
            assert "def times(x: int) -> int" in text and "x times k." in text
        assert "x: int" in hover("x: int) -> int:")     # its parameter
    finally:
        assert client.close() == 0


def test_hole_hover_shows_a_locked_fill_and_refill_runs_the_filler(project):
    spec = next(h for h in compile(PROGRAM, str(project)).holes if h.name == "vowels")
    entry = LockEntry(spec.key, spec.name, spec.kind, spec.location, spec.description,
                      spec.signature, "def vowels(s: str) -> int:\n    return 0\n",
                      Provenance(source="manual"))
    update_lock(lock_path_for(project), lambda entries: entries.__setitem__(entry.key, entry))
    uri = project.as_uri()
    with FakeLLMServer(default=BY_HOLE) as server:
        client = start(project, env={"OPENAI_BASE_URL": server.base_url},
                       options={"model": "openai/any"})
        try:
            open_doc(client, project, PROGRAM)
            text = client.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                         "position": pos(PROGRAM, "vowels(s")})
            text = text["contents"]["value"]
            assert "return 0" in text and "source: manual" in text and "not verified yet" in text

            actions = client.request("textDocument/codeAction", {
                "textDocument": {"uri": uri}, "range": {"start": pos(PROGRAM, "def vowels"),
                                                        "end": pos(PROGRAM, "def vowels")},
                "context": {"diagnostics": []}})
            assert len(actions) == 1 and actions[0]["command"]["command"] == "npl.refillHole"
            command = actions[0]["command"]
            assert command["arguments"] == [uri, "vowels"]
            result = client.request("workspace/executeCommand", {
                "command": command["command"], "arguments": command["arguments"]}, timeout=120)
            assert result.get("source") == "openai/any", result
            assert 's.lower()' in result["fill"]
            assert len(server.requests) >= 1
            # the lock file now holds the model's fill, and hover says so
            text = client.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                         "position": pos(PROGRAM, "vowels(s")})
            text = text["contents"]["value"]
            assert "s.lower()" in text and "source: openai/any" in text and "in use" in text
        finally:
            assert client.close() == 0


@pytest.mark.parametrize("text", [
    "def f(x: int) -> int\n    return x\n",                                  # syntax
    "def f(x: int) -> str:\n    return x + 1\n\ndef main():\n    print(y)\n",  # types, names
    "@kernel\ndef k(a: array[float]) -> None:\n    xs = [1.0]\n    a[0] = xs[0]\n",   # kernel rules
    "from missing_module import f\n",                                        # imports
])
def test_the_language_server_reports_what_compile_reports(tmp_path, text):
    """One front end: the diagnostics the editor shows are the compiler's."""
    from pygls.uris import from_fs_path

    from npl.lang.diagnostics import CompileError
    from npl.lsp import analyze
    path = tmp_path / "prog.npl"
    path.write_text(text)
    with pytest.raises(CompileError) as err:
        compile(text, str(path))
    a = analyze(from_fs_path(str(path)), text)
    shown = sorted((d.code, d.range.start.line + 1, d.range.start.character + 1,
                    d.message.split("\nnote: ")[0]) for d in a.diagnostics)
    assert shown == sorted((d.code, d.span.line, d.span.col, d.message)
                           for d in err.value.diagnostics)
    assert shown
