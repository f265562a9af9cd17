"""Fixtures for the unit tests: headless matplotlib, no inherited grading switches."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _no_grading_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A shell with HRM_STRICT/HRM_RESULTS_FILE exported must not change what unit tests see."""
    monkeypatch.delenv("HRM_STRICT", raising=False)
    monkeypatch.delenv("HRM_RESULTS_FILE", raising=False)


@pytest.fixture
def repo_root() -> Path:
    """The repository root (where pyproject.toml lives)."""
    return REPO_ROOT
