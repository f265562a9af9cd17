"""Packaging: pyproject, environment.yml and check_env name the same needs."""
from __future__ import annotations

import pytest

import ast
import re
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, from PyPI (the dev extra installs it there)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower()


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _conda_names() -> set[str]:
    names = set()
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        m = re.match(r"^  - ([A-Za-z0-9_.\-]+)", line)  # conda packages (not the pip: list)
        if m and m.group(1) not in ("pip", "python"):
            names.add(CONDA_NAMES.get(m.group(1).lower(), m.group(1).lower()))
    return names


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    project = _pyproject()
    wanted = {_name(r) for r in project["dependencies"]} | {_name(r) for r in project["optional-dependencies"]["dev"]}
    assert _conda_names() == wanted


def test_environment_yml_installs_the_checkout_with_its_dev_extra():
    text = (ROOT / "environment.yml").read_text()
    assert "conda-forge" in text and "-e .[dev]" in text


def test_torch_has_a_lower_bound_only():
    torch_req = [r for r in _pyproject()["dependencies"] if _name(r) == "torch"]
    assert torch_req == ["torch>=2.2"], "no upper pin and no CPU/CUDA build tag, so Colab keeps its torch"


def test_check_env_lists_every_runtime_dependency():
    from hrm_minimal.check_env import REQUIRED

    assert {dist for _, dist, _ in REQUIRED} == {_name(r) for r in _pyproject()["dependencies"]}


@pytest.mark.slow  # starts a Python process: not in `pytest -m fast`
def test_check_env_prints_ok_lines_and_the_device():
    out = subprocess.run([sys.executable, "-m", "hrm_minimal.check_env"], capture_output=True, text=True, check=True).stdout
    lines = out.strip().splitlines()
    assert all(line.startswith("[OK]") for line in lines), out
    assert any("device" in line and ("cpu" in line or "cuda" in line or "mps" in line) for line in lines)
    assert any("torch build" in line for line in lines)


def test_check_env_flags_a_too_old_package(monkeypatch):
    from hrm_minimal import check_env

    monkeypatch.setattr(check_env, "REQUIRED", [("numpy", "numpy", "999.0")])
    rows = dict((name, ok) for name, ok, _ in check_env.check_environment())
    assert rows["numpy"] is False


def test_every_source_file_is_python_3_10_as_the_package_claims():
    """The package claims Python 3.10 (requires-python), and this machine has only 3.11: as far as it can
    tell, every file parses as 3.10 syntax and imports no module added in 3.11 outside a fallback."""
    assert _pyproject()["requires-python"] == ">=3.10"
    new_in_311 = {"tomllib"}
    for folder in ("hrm_minimal", "tests", "tools", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 10))
            guarded = {id(node) for t in ast.walk(tree) if isinstance(t, ast.Try)
                       and any(isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                               for h in t.handlers) for node in ast.walk(t)}
            for node in ast.walk(tree):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                late = [n for n in names if n.split(".")[0] in new_in_311]
                assert not late or id(node) in guarded, f"{path.relative_to(ROOT)}:{node.lineno} imports {late} (3.11+)"
