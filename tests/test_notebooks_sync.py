"""The committed notebooks are what `python tools/build_notebooks.py` makes from the sources.

Compares cell ids, types, sources and tags (outputs aside), checks that no solution text leaks into
lessons/, and checks the notebook conventions (badge, Colab install cell, closing sections).
"""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest

from hrm_minimal import checks

ROOT = Path(__file__).resolve().parents[1]


def _load_build_tool():
    spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "tools" / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_notebooks", module)
    spec.loader.exec_module(module)
    return module


build = _load_build_tool()
SOURCES = build.find_sources()
IDS = [p.stem for p in SOURCES]


def _read(folder: str, stem: str) -> nbformat.NotebookNode:
    path = ROOT / folder / f"{stem}.ipynb"
    assert path.exists(), f"{path.relative_to(ROOT)} missing: run python tools/build_notebooks.py"
    return nbformat.read(path, as_version=4)


def test_there_are_lesson_sources():
    assert [p.stem[:2] for p in SOURCES][:2] == ["00", "01"]


def test_every_committed_notebook_has_a_source():
    stems = set(IDS)
    for folder in ("lessons", "solutions"):
        for path in (ROOT / folder).glob("*.ipynb"):
            assert path.stem in stems, f"{folder}/{path.name} has no source solutions/{path.stem}.py"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_committed_notebooks_match_the_build(source):
    student, solution = build.build_pair(source)
    for folder, built in (("lessons", student), ("solutions", solution)):
        committed = _read(folder, source.stem)
        assert build.structure(committed) == build.structure(built), (
            f"{folder}/{source.stem}.ipynb is stale: run python tools/build_notebooks.py {source.stem[:2]}")
        assert committed.metadata.get("kernelspec", {}).get("name") == "python3"
        assert committed.metadata.get("hrm_course") == built.metadata["hrm_course"]


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_no_solution_text_leaks_into_lessons(source):
    lesson = _read("lessons", source.stem)
    text = "\n".join(cell.source for cell in lesson.cells)
    for marker in build.MARKERS:
        assert marker not in text
    _, solution = build.build_pair(source)
    outside = "\n".join(
        line for cell in lesson.cells for line in cell.source.split("\n"))
    for cell in solution.cells:
        for region in build.solution_regions(cell.source):
            for line in region.split("\n"):
                code = line.strip()
                if len(code) >= 12 and not code.startswith("#"):
                    assert code not in outside, f"solution line leaked into lessons/{source.stem}.ipynb: {code!r}"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_lessons_are_cleared_and_solutions_executed(source):
    lesson, solution = _read("lessons", source.stem), _read("solutions", source.stem)
    for cell in lesson.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    code = [c for c in solution.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "solutions must be committed executed"
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_notebook_conventions(source):
    lesson = _read("lessons", source.stem)
    first, install = lesson.cells[0], lesson.cells[1]
    assert first.cell_type == "markdown" and first.source.startswith("# Lesson")
    assert build.colab_url("lessons", source.stem) in first.source
    assert install.cell_type == "code" and install.source == build.install_cell()
    assert build.pip_url() in install.source and "torch" not in install.source.split("sys.modules")[1]
    assert lesson.cells[2].cell_type == "code" and "check_env import report" in lesson.cells[2].source
    headings = [c.source.split("\n")[0] for c in lesson.cells if c.cell_type == "markdown"]
    assert any(h.startswith("## What you built") for h in headings)
    assert any(h.startswith("## Questions") for h in headings)
    for cell in lesson.cells:
        exercise = cell.metadata.get("exercise")
        if exercise:
            assert f'raise NotImplementedError("Exercise {exercise}")' in cell.source
            assert any(f"## Exercise {exercise}:" in c.source for c in lesson.cells if c.cell_type == "markdown")
        if cell.cell_type == "code" and re.search(r"\btqdm\b|plt\.|interact\(", cell.source):
            tags = cell.metadata.get("tags", [])
            assert "nbval-check-output" not in tags, f"cell {cell.id}: plots/progress bars are never compared"


# --------------------------------------------------------------------------- the transforms


def test_student_source_stubs_with_indentation_and_drops_hidden_tests():
    source = "\n".join([
        "def f(x):",
        '    """Doc."""',
        "    ### BEGIN SOLUTION",
        "    return x + 1",
        "    ### END SOLUTION",
        "",
        "### BEGIN HIDDEN TESTS",
        "assert f(1) == 2",
        "### END HIDDEN TESTS",
        "print('kept')",
    ])
    out = build.student_source(source, "3.2")
    assert out.split("\n") == [
        "def f(x):",
        '    """Doc."""',
        "    # YOUR CODE HERE",
        '    raise NotImplementedError("Exercise 3.2")',
        "",
        "print('kept')",
    ]
    assert build.solution_regions(source) == ["    return x + 1"]
    assert build.solution_source(source) == source


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n### END SOLUTION", "without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "nested"),
])
def test_unbalanced_markers_are_rejected(source, message):
    with pytest.raises(ValueError, match=message):
        build.student_source(source, "1.1")


def test_solution_region_needs_an_exercise_number():
    with pytest.raises(ValueError, match="exercise number"):
        build.student_source("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", None)


def test_build_pair_fills_badges_and_sets_stable_ids(tmp_path):
    source = tmp_path / "07_demo.py"
    source.write_text(
        '# %% [markdown]\n# # Lesson 07\n# {{COLAB_BADGE}}\n\n'
        '# %% exercise="7.1" tags=["keep"]\ndef f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n'
    )
    student, solution = build.build_pair(source)
    assert [c.id for c in student.cells] == ["07-000", "07-001"]
    assert build.colab_url("lessons", "07_demo") in student.cells[0].source
    assert build.colab_url("solutions", "07_demo") in solution.cells[0].source
    assert student.metadata["hrm_course"] == {"lesson": "07_demo", "exercises": ["7.1"]}
    assert student.cells[1].metadata == {"tags": ["keep"], "exercise": "7.1"}
    assert "return 1" not in student.cells[1].source and "return 1" in solution.cells[1].source
    assert nbformat.writes(student) == nbformat.writes(build.build_pair(source)[0])  # byte-stable


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_the_readme_lesson_table_has_a_row_for_each_lesson(source):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith(f"| {source.stem[:2]} | [")]
    assert len(rows) == 1, f"README.md needs one lesson-table row for {source.stem}"
    row = rows[0]
    for link in (f"(lessons/{source.stem}.ipynb)", f"(solutions/{source.stem}.ipynb)",
                 build.colab_url("lessons", source.stem)):
        assert link in row, f"the README row of {source.stem} lacks {link}"
    assert re.search(r"\| \d+ s \|$", row), f"the README row of {source.stem} should end with its run time"


def test_the_graders_exercise_registry_matches_the_lesson_sources():
    from hrm_minimal.checks import registry

    assert build.REGISTRY.read_text() == build.registry_text(build.find_sources([])), \
        "run python tools/build_notebooks.py (it rewrites hrm_minimal/checks/exercises.json)"
    for lesson in registry.lessons():
        for exercise in registry.exercises(lesson):
            assert exercise.references, f"exercise {exercise.id} needs its entry in registry.REFERENCES"
            assert callable(getattr(checks, exercise.checker))


def test_the_repository_address_lives_in_pyproject_and_a_fork_changes_it_there(tmp_path):
    assert (build.REPO, build.BRANCH) == build.repository()
    fork = tmp_path / "pyproject.toml"
    fork.write_text('[project.urls]\nSource = "https://github.com/my-school/hrm-2027.git"\n'
                    '[tool.hrm-course]\nnotebook-branch = "spring"\n')
    assert build.repository(fork) == ("my-school/hrm-2027", "spring")
    fork.write_text('[project.urls]\nSource = "https://gitlab.com/my-school/hrm"\n')
    with pytest.raises(ValueError, match=r"\[project.urls\] Source must be a GitHub address"):
        build.repository(fork)
    # The README's Colab links follow the address; a stale one is rewritten by the build.
    stale = "[x](https://colab.research.google.com/github/someone/else/blob/dev/lessons/00_setup.ipynb)"
    assert build.readme_text(stale) == f"[x]({build.colab_url('lessons', '00_setup')})"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert build.readme_text(readme) == readme, "run python tools/build_notebooks.py"


def test_the_colab_install_cell_stops_with_advice_when_the_package_cannot_be_installed(tmp_path):
    import subprocess

    unreachable = f"git+file://{tmp_path}/no-such-repository@main"  # fails at once, offline too
    script = tmp_path / "cell.py"
    script.write_text("import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n"
                      + build.install_cell(unreachable))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr  # SystemExit: the message alone
    message = done.stderr.strip()
    assert message.startswith(f"Could not install the course package from {unreachable} (pip: ")
    assert "(pip: fatal: " in message and "[project.urls]" in message and "reaches the internet" in message
    # Off Colab the cell does nothing at all.
    quiet = subprocess.run([sys.executable, "-c", build.install_cell(unreachable)], capture_output=True,
                           text=True, timeout=60)
    assert quiet.returncode == 0 and quiet.stdout == quiet.stderr == ""
