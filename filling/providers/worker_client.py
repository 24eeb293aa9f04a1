"""Starting, finding and talking to the local model's worker process.

Takes in: a `WorkerConfig` (model file, threads, context size, weight
repacking, keep-alive) and requests for its worker (see worker.py for the
protocol).
Gives back: each request's result, or a `ProviderError` that says what
became of the worker and what to do: kind "crash" when it died (a signal
such as SIGSEGV or SIGKILL, or an exit), "timeout" when it did not answer
within the deadline (it is then killed), or the kind the worker reported.

A worker is private (keep_alive 0: started by this process on first use,
with its socket in a fresh temporary folder, stopped at exit or when this
process dies) or shared (keep_alive > 0: one per user, model and settings,
found by later `npl` commands through its socket in the user's runtime
folder, and ending itself after keep_alive idle seconds). A file lock makes
two commands that find no shared worker start one, not two.

When a worker dies of a native crash (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
SIGABRT) with weight repacking on, the request is tried once more in a
worker with repacking off (the setting that avoids llama.cpp's AMX bug,
see llama_engine.py); if that one answers, a note in the cache folder makes
later commands start with repacking off for this model and llama.cpp
version.
"""
from __future__ import annotations

import atexit
import contextlib
import dataclasses
import hashlib
import importlib.metadata
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import filelock
import platformdirs

from .base import ProviderError
from .modelfile import models_dir
from .worker import ENGINE_ENV, LineReader, send

DEFAULT_TIMEOUT_S = 600.0
SOCKET_PATH_MAX = 100                   # AF_UNIX paths are limited to ~104-108 bytes
NATIVE_CRASHES = {signal.SIGSEGV: "a segmentation fault", signal.SIGBUS: "a bus error",
                  signal.SIGILL: "an illegal instruction",
                  signal.SIGFPE: "an arithmetic fault", signal.SIGABRT: "an abort"}
FAULT_NAMES = {"Segmentation fault": signal.SIGSEGV, "Bus error": signal.SIGBUS,
               "Illegal instruction": signal.SIGILL, "Floating-point exception": signal.SIGFPE,
               "Floating point exception": signal.SIGFPE, "Aborted": signal.SIGABRT}
NO_REPACK_NOTE = "local-worker.json"
UNTOUCHED = "The failure wrote nothing to your program, its lock file or the library."


@dataclass(frozen=True)
class WorkerConfig:
    model: Path
    threads: int = 2
    n_ctx: int = 8192
    repack: str = "auto"                # auto, on, off (llama_engine.choose_repack)
    repack_reason: str = ""             # why, when not the worker's own choice
    keep_alive: float = 0.0             # > 0: a shared worker that idles this long
    engine: str = ""                    # NPL_LOCAL_ENGINE, for tests

    @property
    def shared(self) -> bool:
        return self.keep_alive > 0

    def identity(self) -> str:
        """16 hex digits naming the worker these settings need: the same for
        every command that would load the same model the same way."""
        stat = self.model.stat()
        facts = [str(self.model.resolve()), stat.st_size, stat.st_mtime_ns, self.threads,
                 self.n_ctx, self.repack, self.engine, sys.executable, _llama_cpp_version()]
        return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:16]


def _llama_cpp_version() -> str:
    try:
        return importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        return ""


# ------------------------------------------------------------ folders

def _private_folder(path: Path) -> Path:
    """`path`, created if needed, after checking only this user can use it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    stat = path.stat()
    if stat.st_uid != os.getuid():
        raise ProviderError("local", "config", f"{path} belongs to another user; set "
                            f"NPL_RUNTIME_DIR to a folder of your own")
    if stat.st_mode & 0o077:
        path.chmod(0o700)
    return path


def runtime_dir() -> Path:
    """Where shared workers keep their sockets and logs: $NPL_RUNTIME_DIR,
    else the user's runtime folder (XDG_RUNTIME_DIR/npl); owner-only."""
    env = os.environ.get("NPL_RUNTIME_DIR")
    if env:
        return _private_folder(Path(env).expanduser())
    with warnings.catch_warnings():          # platformdirs warns where XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        return _private_folder(Path(platformdirs.user_runtime_dir("npl")))


def _socket_path(folder: Path, name: str) -> Path:
    path = folder / name
    if len(os.fsencode(path)) <= SOCKET_PATH_MAX:
        return path
    short = _private_folder(Path(tempfile.gettempdir()) / f"npl-{os.getuid()}")
    return short / name


# ------------------------------------------------------------ a worker's death

@dataclass(frozen=True)
class Death:
    """How a worker ended, as far as can be told."""
    signal: Optional[int]               # the signal that ended it, if known
    status: Optional[int]               # its exit status, if it exited
    frame: str                          # innermost Python frame faulthandler wrote
    log: Path

    @property
    def native_crash(self) -> bool:
        return self.signal in NATIVE_CRASHES

    def what(self) -> str:
        if self.signal is not None:
            name = signal.Signals(self.signal).name
            if self.signal == signal.SIGKILL:
                return (f"was killed ({name}), most likely by the kernel's out-of-memory "
                        f"killer")
            where = f" in {self.frame}" if self.frame else ""
            return f"crashed with {name} ({NATIVE_CRASHES.get(self.signal, 'a signal')}{where})"
        if self.status is not None:
            return f"exited with status {self.status}"
        return "ended without a word (killed by a signal, perhaps by the out-of-memory killer)"

    def advice(self) -> str:
        """What the user can do about it."""
        if self.signal == signal.SIGKILL or (self.signal is None and self.status is None):
            return ("free memory (the model needs about 2 GB) or fill with a hosted model "
                    "(--model openai/NAME or anthropic/NAME)")
        if self.native_crash:
            return ("that is a bug in llama.cpp: rebuild llama-cpp-python without native "
                    "CPU flags (CMAKE_ARGS=\"-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON "
                    "-DGGML_F16C=ON\" pip install --force-reinstall --no-cache-dir "
                    "llama-cpp-python), or fill with a hosted model (--model openai/NAME), "
                    f"or set NPL_LOCAL_MODEL=off; the worker's log is {self.log}")
        return f"see the worker's log, {self.log}"


def read_death(log: Path, status: Optional[int]) -> Death:
    """Interpret a worker's exit status (negative: the signal, as
    subprocess reports it; None: unknown) and the faulthandler report at
    the end of its log."""
    try:
        text = log.read_bytes()[-20000:].decode("utf-8", "replace")
    except OSError:
        text = ""
    sig = -status if status is not None and status < 0 else None
    if sig is None and status is None:
        for words, number in FAULT_NAMES.items():
            if f"Fatal Python error: {words}" in text:
                sig = number
    frame = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith('File "'):
            frame = _frame_text(stripped)
            break
    return Death(sig, status if status is not None and status >= 0 else None, frame, log)


def _frame_text(line: str) -> str:
    """'File "/x/llama_cpp/_internals.py", line 301 in decode' -> 'decode
    (llama_cpp/_internals.py:301)'."""
    try:
        path = line.split('"')[1]
        rest = line.split('"', 2)[2]
        number = rest.split("line", 1)[1].split()[0]
        function = rest.rsplit(" in ", 1)[1]
    except IndexError:
        return line
    short = "/".join(Path(path).parts[-2:])
    return f"{function} ({short}:{number})"


# ------------------------------------------------------------ one worker

@dataclass
class _Running:
    socket: Path
    log: Path
    pid: int
    hello: dict
    process: Optional[subprocess.Popen] = None      # when this process started it


class _GoneBeforeStart(Exception):
    """The worker was not there to take the request (it had idled out or
    been stopped): starting a new one and asking again is safe."""


class WorkerHandle:
    """This process's way to one worker: starts or finds it, sends it
    requests (one at a time), and turns its death into a ProviderError."""

    def __init__(self, config: WorkerConfig, name: str):
        self.config = config
        self.name = name
        self.lock = threading.Lock()
        self.running: Optional[_Running] = None
        self.private_dir: Optional[Path] = None

    # -------------------------------------------------------- requests
    def request(self, payload: dict, timeout: float) -> dict:
        """Send `payload`, return the worker's result; see the module docstring."""
        with self.lock:
            try:
                return self._request(payload, timeout)
            except _Crashed as crash:
                first = crash
            if not self._may_retry_without_repack(first):
                raise self._crash_error(first, retried=False)
            self._forget_repack(first)
            try:
                result = self._request(payload, timeout)
            except _Crashed as again:
                raise self._crash_error(again, retried=True) from None
            record_no_repack(self.config.model, first.death)
            return result

    def _request(self, payload: dict, timeout: float) -> dict:
        for _ in range(3):
            running = self._ensure_running(timeout)
            try:
                return self._exchange(running, payload, timeout)
            except _GoneBeforeStart:
                self.running = None
        raise ProviderError(self.name, "crash", "the local model's worker kept going away "
                            "before it could take the request; try again")

    def _exchange(self, running: _Running, payload: dict, timeout: float) -> dict:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            try:
                sock.connect(str(running.socket))
                send(sock, payload)
            except OSError:
                raise _GoneBeforeStart() from None
            reader = LineReader(sock)
            try:        # queued behind another command: its request has the same deadline
                started = reader.read(time.monotonic() + timeout + 5.0)
            except TimeoutError:
                self._kill(running)
                raise self._timeout_error(timeout, "to take the request") from None
            except (OSError, ValueError):
                started = None
            if started is None:
                raise _GoneBeforeStart()
            try:
                answer = reader.read(time.monotonic() + timeout)
            except TimeoutError:
                self._kill(running)
                raise self._timeout_error(timeout, "to answer") from None
            except (OSError, ValueError):
                answer = None
        if answer is None:
            raise _Crashed(self._death(running), running.hello.get("repack", True), "answering")
        if not answer.get("ok"):
            raise ProviderError(self.name, str(answer.get("kind", "server")),
                                str(answer.get("message", "the worker failed")))
        return answer["result"]

    # -------------------------------------------------------- starting
    def _ensure_running(self, timeout: float) -> _Running:
        if self.running is not None:
            return self.running
        if not self.config.shared:
            self.running = self._start_private(timeout)
            return self.running
        folder = runtime_dir()
        name = f"worker-{self.config.identity()}"
        sock, log, info = (_socket_path(folder, name + ".sock"), folder / (name + ".log"),
                           folder / (name + ".json"))
        with filelock.FileLock(str(folder / (name + ".lock")), timeout=timeout):
            self.running = _find_shared(sock, log, info)
            if self.running is None:
                sock.unlink(missing_ok=True)                # a stale socket
                self.running = self._start(sock, log, ["--idle", str(self.config.keep_alive)],
                                           timeout)
                _write_json(info, {"pid": self.running.pid, "hello": self.running.hello})
        return self.running

    def _start_private(self, timeout: float) -> _Running:
        if self.private_dir is None:
            self.private_dir = Path(tempfile.mkdtemp(prefix="npl-model-"))
        sock = self.private_dir / "worker.sock"
        sock.unlink(missing_ok=True)
        return self._start(sock, self.private_dir / "worker.log",
                           ["--parent", str(os.getpid()), "--private-dir", str(self.private_dir)],
                           timeout)

    def _start(self, sock: Path, log: Path, extra: list[str], timeout: float) -> _Running:
        config = self.config
        command = [sys.executable, "-m", "npl.filling.providers.worker", "--socket", str(sock),
                   "--model", str(config.model), "--threads", str(config.threads),
                   "--n-ctx", str(config.n_ctx), "--repack", config.repack, *extra]
        if config.repack_reason:
            command += ["--repack-reason", config.repack_reason]
        with open(log, "wb") as log_file:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=log_file, cwd=log.parent, start_new_session=True,
                                       env=self._environment())
        threading.Thread(target=process.wait, daemon=True).start()     # reaps it when it ends
        running = _Running(sock, log, process.pid, {}, process)
        ready = self._ready_line(running, timeout)
        if not ready.get("ready"):
            process.wait()
            raise ProviderError(self.name, str(ready.get("kind", "server")),
                                str(ready.get("message", "the worker could not start")))
        running.hello = ready.get("hello", {})
        return running

    def _environment(self) -> dict:
        env = dict(os.environ)
        if self.config.engine:
            env[ENGINE_ENV] = self.config.engine
        else:
            env.pop(ENGINE_ENV, None)
        return env

    def _ready_line(self, running: _Running, timeout: float) -> dict:
        """The worker's first line on stdout, once its model is loaded."""
        process = running.process
        assert process is not None and process.stdout is not None
        with process.stdout:
            ready, _, _ = select.select([process.stdout], [], [], timeout)
            line = process.stdout.readline() if ready else None
        if line is None:
            self._kill(running)
            raise self._timeout_error(timeout, "to load the model")
        try:
            message = json.loads(line) if line.strip() else None
        except ValueError:
            message = None
        if not isinstance(message, dict):
            raise _Crashed(self._death(running), self.config.repack != "off", "loading the model")
        return message

    # -------------------------------------------------------- endings
    def _death(self, running: _Running) -> Death:
        status = None
        if running.process is not None:
            try:
                status = running.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._kill(running)
        else:
            _wait_gone(running.pid, 10.0)
        self.running = None
        return read_death(_kept_log(running.log), status)

    def _kill(self, running: _Running) -> None:
        """Stop a worker that overran its deadline (SIGKILL: it may be stuck in native code)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if running.pid > 0:
                os.kill(running.pid, signal.SIGKILL)
        if running.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                running.process.wait(timeout=10)
        else:
            _wait_gone(running.pid, 10.0)
        if self.config.shared:
            running.socket.unlink(missing_ok=True)
        self.running = None

    def stop(self) -> None:
        """Stop the worker now, shared or private (a shared one is asked to
        end after its current request)."""
        with self.lock:
            if self.running is not None and self.config.shared:
                with contextlib.suppress(_GoneBeforeStart, _Crashed, ProviderError):
                    self._exchange(self.running, {"op": "stop"}, 30.0)
                self.running = None
            self.close()

    def close(self) -> None:
        """Stop a private worker and remove its folder (at exit)."""
        running, self.running = self.running, None
        if running is not None and not self.config.shared and running.process is not None:
            running.process.terminate()
            try:
                running.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                running.process.kill()
        if self.private_dir is not None:
            shutil.rmtree(self.private_dir, ignore_errors=True)
            self.private_dir = None

    # -------------------------------------------------------- crash handling
    def _may_retry_without_repack(self, crash: "_Crashed") -> bool:
        return crash.death.native_crash and crash.repack and self.config.repack != "on"

    def _forget_repack(self, crash: "_Crashed") -> None:
        reason = (f"off: the worker crashed with {signal.Signals(crash.death.signal).name} "
                  f"with repacking on")
        self.config = dataclasses.replace(self.config, repack="off", repack_reason=reason)

    def _crash_error(self, crash: "_Crashed", retried: bool) -> ProviderError:
        note = ""
        if retried:
            note = " It had crashed with weight repacking on, and did again with it off."
        elif crash.death.native_crash and crash.repack and self.config.repack == "on":
            note = (" Weight repacking was on (NPL_LOCAL_REPACK=on): unset it, and NPL turns "
                    "it off where llama.cpp's AMX kernels would run.")
        return ProviderError(self.name, "crash", f"the local model's worker process "
                             f"{crash.death.what()} while {crash.phase}.{note} {UNTOUCHED} "
                             f"What to do: {crash.death.advice()}")

    def _timeout_error(self, timeout: float, what: str) -> ProviderError:
        return ProviderError(self.name, "timeout", f"the local model took more than "
                             f"{timeout:g} s {what} and was stopped. {UNTOUCHED} If the "
                             f"machine is just slow, raise `timeout` under [provider] in "
                             f"npl.toml")


class _Crashed(Exception):
    def __init__(self, death: Death, repack: bool, phase: str):
        super().__init__(death.what())
        self.death = death
        self.repack = bool(repack)
        self.phase = phase


def _kept_log(log: Path) -> Path:
    """A copy of a dead worker's log where it outlives this process (a
    private worker's folder goes at exit): CACHE/local-worker-crash.log."""
    kept = models_dir().parent / "local-worker-crash.log"
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, kept)
    except OSError:
        return log
    return kept


def _find_shared(sock: Path, log: Path, info: Path) -> Optional[_Running]:
    """The shared worker listening on `sock` (as its starter described it
    in `info`), or None if none is. A connection that is accepted, even
    into the queue of a busy worker, means it is there."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(5.0)
            probe.connect(str(sock))
        described = json.loads(info.read_text())
        return _Running(sock, log, int(described["pid"]), dict(described["hello"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_json(path: Path, data: dict) -> None:
    from npl.lang.fileio import write_atomic
    write_atomic(path, json.dumps(data))


def _wait_gone(pid: int, seconds: float) -> None:
    end = time.monotonic() + seconds
    while pid > 0 and time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)


# ------------------------------------------------------------ repacking notes

def _note_path() -> Path:
    return models_dir() / NO_REPACK_NOTE


def repack_note(model: Path) -> Optional[str]:
    """Why repacking is off for `model` with this llama.cpp, if a crash
    said so earlier (see `record_no_repack`); else None."""
    try:
        notes = json.loads(_note_path().read_text())
        note = notes[str(model.resolve())]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(note, dict) or note.get("llama_cpp") != _llama_cpp_version():
        return None
    return str(note.get("reason", "off after a crash"))


def record_no_repack(model: Path, death: Death) -> None:
    """Remember that `model` crashed with repacking on and ran with it off."""
    path = _note_path()
    name = signal.Signals(death.signal).name if death.signal else "a crash"
    reason = (f"off: with repacking on, the worker crashed with {name} "
              f"(llama-cpp-python {_llama_cpp_version()}); remove {path} to try again")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(str(path) + ".lock", timeout=10):
            try:
                notes = json.loads(path.read_text())
            except (OSError, ValueError):
                notes = {}
            notes[str(model.resolve())] = {"llama_cpp": _llama_cpp_version(), "reason": reason}
            _write_json(path, notes)
    except (OSError, filelock.Timeout):
        pass                            # only an optimisation for later runs


# ------------------------------------------------------------ the process's workers

_HANDLES: dict[tuple[str, bool], WorkerHandle] = {}
_HANDLES_LOCK = threading.Lock()


def worker_for(config: WorkerConfig, name: str) -> WorkerHandle:
    """The handle of the worker `config` needs, shared by every provider of
    this process that needs the same one."""
    key = (config.identity(), config.shared)
    with _HANDLES_LOCK:
        if not _HANDLES:
            atexit.register(close_workers)
        handle = _HANDLES.get(key)
        if handle is None:
            handle = _HANDLES[key] = WorkerHandle(config, name)
        return handle


def close_workers() -> None:
    """Stop this process's private workers (shared ones idle out by themselves)."""
    with _HANDLES_LOCK:
        for handle in _HANDLES.values():
            handle.close()
        _HANDLES.clear()
