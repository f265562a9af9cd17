"""Repository-wide pytest hooks: `fast`/`slow`/`notebooks` markers, the notebook kernels'
environment, and a table of each notebook's nbval run time beside its budget.

    pytest -m fast          # unit tests only (about 45 s on a 2-core CPU), while developing
    pytest                  # everything: unit tests, then lessons/ and solutions/ under nbval
    pytest -m notebooks     # the notebooks alone
"""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
NOTEBOOK_BUDGET_S = 150  # per lesson, 2-core CPU, as the student runs it
_seconds: dict[str, float] = defaultdict(float)
_cells: dict[str, int] = defaultdict(int)
_failed: dict[str, int] = defaultdict(int)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "notebooks: nbval runs of lessons/ and solutions/ (also slow)")
    # nbval's kernels inherit this environment: the package imports from the notebook folders even
    # without `pip install -e .`.
    paths = [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    # The sanitize file is named relative to the repository root; find it from any working directory.
    sanitize = getattr(config.option, "nbval_sanitize_with", None)
    if sanitize and not Path(sanitize).exists() and (ROOT / sanitize).exists():
        config.option.nbval_sanitize_with = str(ROOT / sanitize)


def _is_notebook(path: str | os.PathLike) -> bool:
    return str(path).endswith(".ipynb")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Notebook cells are `slow` and `notebooks`; every other test is `fast` unless marked `slow`."""
    for item in items:
        if _is_notebook(item.path):
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.notebooks)
        elif item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.fast)


def pytest_collectstart(collector: pytest.Collector) -> None:
    """Warnings and progress bars go to stderr; never compare it, even in checked cells."""
    if _is_notebook(getattr(collector, "path", "")) and hasattr(collector, "skip_compare"):
        collector.skip_compare = tuple(collector.skip_compare) + ("stderr",)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::")[0]
    if _is_notebook(path):
        _seconds[path] += report.duration  # setup (kernel start), call and teardown
        if report.when == "call":
            _cells[path] += 1
        if report.failed:
            _failed[path] += 1


def pytest_terminal_summary(terminalreporter) -> None:
    """A report, not an assertion: shared machines are noisy, but an outgrown lesson shows here."""
    if not _seconds:
        return
    terminalreporter.write_sep("=", f"notebook run times (budget {NOTEBOOK_BUDGET_S} s each)")
    width = max(len(p) for p in _seconds)
    terminalreporter.write_line(f"{'notebook':<{width}}  cells  failed  seconds  budget")
    for path in sorted(_seconds):
        over = "  OVER BUDGET" if _seconds[path] > NOTEBOOK_BUDGET_S else ""
        terminalreporter.write_line(
            f"{path:<{width}}  {_cells[path]:>5}  {_failed[path]:>6}  {_seconds[path]:>7.1f}  "
            f"{NOTEBOOK_BUDGET_S:>6}{over}")
