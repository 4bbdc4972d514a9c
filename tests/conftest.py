"""Shared fixtures: a fresh home per test, the spec's samples, a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crossinvest.config import Home

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "spec" / "samples"
if not SAMPLES.exists():  # CI lays shared/ beside the clone
    SAMPLES = Path(os.environ.get("CROSSINVEST_SAMPLES", "../shared/spec/samples")).resolve()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    """A fresh CROSSINVEST_HOME, also set in the environment for CLI calls."""
    h = Home(tmp_path / "home").ensure()
    monkeypatch.setenv("CROSSINVEST_HOME", str(h.root))
    return h


@pytest.fixture
def samples() -> Path:
    if not SAMPLES.exists():
        pytest.fail(f"spec samples not found at {SAMPLES}")
    return SAMPLES


def run_cli(
    *args: str, home: Home | None = None, check: bool = False, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run ``crossinvest`` as a separate process, as an operator's script would."""
    env = dict(os.environ)
    if home is not None:
        env["CROSSINVEST_HOME"] = str(home.root)
    proc = subprocess.run(
        [sys.executable, "-m", "crossinvest.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"crossinvest {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}"
        )
    return proc
