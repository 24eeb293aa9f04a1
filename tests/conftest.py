"""Shared test set-up: every test runs with its own cache, module library and
Hypothesis settings, so nothing touches the user's folders and runs are
deterministic."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
# The shared conformance suite lives beside the checkout (../shared), never at
# a fixed place of one machine; tests that need it skip, saying so, without it.
SHARED = ROOT.parent / "shared"
CONFORMANCE = SHARED / "conformance"
NO_CONFORMANCE = f"no conformance suite beside the checkout (../shared/conformance: {CONFORMANCE})"
needs_conformance = pytest.mark.skipif(not CONFORMANCE.is_dir(), reason=NO_CONFORMANCE)
sys.path.insert(0, str(Path(__file__).resolve().parent))      # tests/fakellm.py etc.

settings.register_profile("ci", deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")


@pytest.fixture(autouse=True)
def isolated_state(tmp_path_factory, monkeypatch):
    """A per-session JIT cache and a per-test module library."""
    cache = tmp_path_factory.getbasetemp() / "npl-cache"
    cache.mkdir(exist_ok=True)
    monkeypatch.setenv("NPL_CACHE_DIR", str(cache))
    monkeypatch.setenv("NPL_LIBRARY", str(tmp_path_factory.mktemp("library")))
    monkeypatch.delenv("NPL_MODEL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)


def npl_command() -> list[str]:
    exe = shutil.which("npl", path=str(Path(sys.executable).parent)) or shutil.which("npl")
    return [exe] if exe else [sys.executable, "-m", "npl.cli"]


def conformance_programs() -> list[Path]:
    """The conformance suite's programs, or [] when ../shared is absent."""
    return sorted(CONFORMANCE.glob("*.npl")) if CONFORMANCE.is_dir() else []
