"""Build the course notebooks from their jupytext sources: `python tools/build_notebooks.py`.

Each lesson has one source of truth, `solutions/NN_name.py` (jupytext percent format). From it this
script writes two notebooks:

* `lessons/NN_name.ipynb`   the student copy: every `### BEGIN SOLUTION` ... `### END SOLUTION`
  region becomes `# YOUR CODE HERE` + `raise NotImplementedError("Exercise N.k")`, hidden-test
  regions are dropped, outputs are cleared;
* `solutions/NN_name.ipynb` the complete notebook, executed on CPU (working directory `solutions/`)
  so that it reads well on GitHub and nbval has outputs to compare.

Usage:
    python tools/build_notebooks.py                 # all lessons, solutions executed
    python tools/build_notebooks.py 00 01_puzzles   # some lessons (number or file stem)
    python tools/build_notebooks.py --no-execute    # structure only; unchanged cells keep outputs
    python tools/build_notebooks.py --check         # exit 1 if the committed notebooks are stale

Source conventions: a cell holding a solution region carries its exercise number on its `# %%` line
(`# %% exercise="1.1"`); nbval tags go there too (`# %% tags=["nbval-check-output"]`). The
placeholder `{{COLAB_BADGE}}` becomes the Colab badge, and a cell that is only `# {{INSTALL_CELL}}`
becomes the Colab install cell (`install_cell`). Both use the repository address in pyproject.toml,
`[project.urls] Source`, and the branch in `[tool.hrm-course] notebook-branch`, the one place they
live; the build also keeps README.md's Colab links on that address. This file is build tooling:
nothing in `hrm_minimal` imports it.
"""
from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import re
import sys
import time
from datetime import datetime
from pathlib import Path

import jupytext
import nbformat

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def repository(pyproject: Path = ROOT / "pyproject.toml") -> tuple[str, str]:
    """("owner/name", branch) of the course's repository, from pyproject.toml: `[project.urls] Source`
    (a GitHub address) and `[tool.hrm-course] notebook-branch`."""
    meta = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    source = meta.get("project", {}).get("urls", {}).get("Source", "")
    found = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?/?", source)
    if not found:
        raise ValueError(f"{pyproject}: [project.urls] Source must be a GitHub address "
                         f"(https://github.com/OWNER/NAME), got {source!r}")
    branch = meta.get("tool", {}).get("hrm-course", {}).get("notebook-branch", "main")
    return found.group(1), branch


REPO, BRANCH = repository()
SOURCE_DIR = ROOT / "solutions"
LESSON_DIR = ROOT / "lessons"
SOURCE_PATTERN = re.compile(r"^\d\d_[a-z0-9_]+\.py$")

CELL_TIMEOUT_S = 120  # the same per-cell limit nbval uses
BUDGET_S = 150  # per-lesson CPU budget (2.5 minutes as the student runs it)
KEPT_CELL_METADATA = ("tags", "exercise")
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
STUB = ("# YOUR CODE HERE", 'raise NotImplementedError("Exercise {exercise}")')


def colab_url(folder: str, stem: str) -> str:
    """Colab address of a committed notebook, e.g. colab_url("lessons", "00_setup")."""
    return f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/{folder}/{stem}.ipynb"


def pip_url() -> str:
    """What the Colab install cell installs: the package straight from the repository."""
    return f"git+https://github.com/{REPO}@{BRANCH}"


INSTALL_PLACEHOLDER = "# {{INSTALL_CELL}}"


def install_cell(source: str | None = None) -> str:
    """The Colab install cell: pip-install the package from `source` (default pip_url()); when pip
    fails, stop with a message that says what to do instead of pip's traceback."""
    source = source or pip_url()
    return f"""\
# Colab only: install the course package from its repository. Colab's own torch is kept (the
# package asks for torch>=2.2 without a pin). Anywhere else this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    SOURCE = "{source}"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", SOURCE], capture_output=True, text=True)
    if pip.returncode != 0:
        lines = [line.strip() for line in (pip.stderr + pip.stdout).splitlines() if line.strip()] or ["no message"]
        said = next((line for line in lines if line.startswith(("fatal:", "ERROR:"))), lines[-1])
        raise SystemExit(
            f"Could not install the course package from {{SOURCE}} (pip: {{said}}). Check that this "
            "runtime reaches the internet and that the address is your course's, then run this cell "
            "again. A fork or a course host sets its address in pyproject.toml ([project.urls] "
            "Source) and rebuilds the notebooks with tools/build_notebooks.py.")
    import importlib

    importlib.invalidate_caches()  # so that the new package imports in this running kernel"""


def colab_badge(folder: str, stem: str) -> str:
    """Markdown for the "Open in Colab" badge of one notebook."""
    badge = "https://colab.research.google.com/assets/colab-badge.svg"
    return f"[![Open In Colab]({badge})]({colab_url(folder, stem)})"


# --------------------------------------------------------------------------- source transforms


def _regions(lines: list[str], begin: str, end: str, where: str) -> list[tuple[int, int]]:
    """(begin index, end index) of each marked region; ValueError on unbalanced markers."""
    regions, start = [], None
    for i, line in enumerate(lines):
        text = line.strip()
        if text == begin:
            if start is not None:
                raise ValueError(f"{where}: nested '{begin}' (line {i + 1})")
            start = i
        elif text == end:
            if start is None:
                raise ValueError(f"{where}: '{end}' without '{begin}' (line {i + 1})")
            regions.append((start, i))
            start = None
    if start is not None:
        raise ValueError(f"{where}: '{begin}' on line {start + 1} is never closed")
    return regions


def solution_regions(source: str, where: str = "cell") -> list[str]:
    """The text inside each solution region of a cell source (markers excluded)."""
    lines = source.split("\n")
    return ["\n".join(lines[a + 1 : b]) for a, b in _regions(lines, BEGIN_SOLUTION, END_SOLUTION, where)]


def student_source(source: str, exercise: str | None, where: str = "cell") -> str:
    """Replace solution regions by the stub and drop hidden tests (the student's copy of a cell)."""
    lines = source.split("\n")
    hidden = _regions(lines, BEGIN_HIDDEN, END_HIDDEN, where)
    solutions = _regions(lines, BEGIN_SOLUTION, END_SOLUTION, where)
    if solutions and not exercise:
        raise ValueError(f'{where}: a solution region needs the exercise number on its "# %%" line, '
                         'e.g. # %% exercise="1.1"')
    out, skip_until = [], -1
    starts = {a: b for a, b in solutions}
    hidden_starts = {a: b for a, b in hidden}
    for i, line in enumerate(lines):
        if i <= skip_until:
            continue
        if i in hidden_starts:
            skip_until = hidden_starts[i]
        elif i in starts:
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + stub.format(exercise=exercise) for stub in STUB)
            skip_until = starts[i]
        else:
            out.append(line)
    return "\n".join(out)


def solution_source(source: str, where: str = "cell") -> str:
    """The solved copy of a cell: solution markers kept (nbgrader style), hidden tests kept."""
    lines = source.split("\n")
    _regions(lines, BEGIN_HIDDEN, END_HIDDEN, where)
    _regions(lines, BEGIN_SOLUTION, END_SOLUTION, where)
    return source


def _fill(text: str, folder: str, stem: str) -> str:
    if text.strip() == INSTALL_PLACEHOLDER:
        return install_cell()
    return text.replace("{{COLAB_BADGE}}", colab_badge(folder, stem))


# --------------------------------------------------------------------------- building


def find_sources(names: list[str] | None = None) -> list[Path]:
    """Lesson sources in solutions/, all of them or those named by number or stem."""
    sources = sorted(p for p in SOURCE_DIR.glob("*.py") if SOURCE_PATTERN.match(p.name))
    if not names:
        return sources
    chosen = []
    for name in names:
        stem = Path(name).stem
        hits = [p for p in sources if p.stem == stem or p.stem.split("_")[0] == stem or p.stem.startswith(stem)]
        if len(hits) != 1:
            known = ", ".join(p.stem for p in sources)
            raise ValueError(f"lesson {name!r} matches {len(hits)} sources (known: {known})")
        chosen.append(hits[0])
    return chosen


def _new_notebook(stem: str, exercises: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = nbformat.from_dict(
        {
            "kernelspec": dict(KERNELSPEC),
            "language_info": {"name": "python"},
            "hrm_course": {"lesson": stem, "exercises": exercises},
        }
    )
    return nb


def build_pair(source_path: Path) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    """(student notebook, solution notebook) for one source, both unexecuted."""
    source_path = Path(source_path)
    stem = source_path.stem
    text = jupytext.read(source_path, fmt="py:percent")
    exercises = []
    for cell in text.cells:
        exercise = cell.metadata.get("exercise")
        if exercise is not None and str(exercise) not in exercises:
            exercises.append(str(exercise))
    student, solution = _new_notebook(stem, exercises), _new_notebook(stem, exercises)
    for index, cell in enumerate(text.cells):
        where = f"{source_path.name} cell {index}"
        metadata = {k: copy.deepcopy(cell.metadata[k]) for k in KEPT_CELL_METADATA if k in cell.metadata}
        if "exercise" in metadata:
            metadata["exercise"] = str(metadata["exercise"])
        cell_id = f"{stem[:2]}-{index:03d}"
        if cell.cell_type == "code":
            exercise = metadata.get("exercise")
            pairs = (
                (student, _fill(student_source(cell.source, exercise, where), "lessons", stem)),
                (solution, _fill(solution_source(cell.source, where), "solutions", stem)),
            )
            for nb, src in pairs:
                nb.cells.append(nbformat.v4.new_code_cell(src, metadata=copy.deepcopy(metadata), id=cell_id))
        elif cell.cell_type == "markdown":
            if any(marker in cell.source for marker in MARKERS):
                raise ValueError(f"{where}: solution markers are only allowed in code cells")
            student.cells.append(nbformat.v4.new_markdown_cell(
                _fill(cell.source, "lessons", stem), metadata=copy.deepcopy(metadata), id=cell_id))
            solution.cells.append(nbformat.v4.new_markdown_cell(
                _fill(cell.source, "solutions", stem), metadata=copy.deepcopy(metadata), id=cell_id))
        else:
            raise ValueError(f"{where}: unsupported cell type {cell.cell_type!r}")
    return student, solution


def structure(nb: nbformat.NotebookNode) -> list[tuple]:
    """What the sync test compares: per cell its id, type, source, tags and exercise (no outputs)."""
    return [
        (c.get("id"), c.cell_type, c.source, tuple(c.metadata.get("tags", ())), c.metadata.get("exercise"))
        for c in nb.cells
    ]


def _kernel_env() -> dict[str, str]:
    """Environment for executing a solution: package importable, strict checkers."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["HRM_STRICT"] = "1"  # a solution whose checker fails must break the build
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return env


def _cell_seconds(cell: nbformat.NotebookNode) -> float:
    timing = cell.metadata.pop("execution", {})
    try:
        start = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return 0.0
    return (end - start).total_seconds()


def _drop_widget_views(nb: nbformat.NotebookNode) -> None:
    """Remove widget views (random model ids, no stored state): readers see the text fallback."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)


def execute(nb: nbformat.NotebookNode, cwd: Path = SOURCE_DIR) -> tuple[float, float]:
    """Run a notebook in place on a fresh python3 kernel; returns (total seconds, slowest cell)."""
    from nbclient import NotebookClient

    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(_kernel_env())
    try:
        client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", record_timing=True,
                                store_widget_state=True, resources={"metadata": {"path": str(cwd)}})  # False trips nbclient on interact()
        start = time.perf_counter()
        client.execute()
        total = time.perf_counter() - start
    finally:
        os.environ.clear()
        os.environ.update(saved)
    slowest = max((_cell_seconds(c) for c in nb.cells if c.cell_type == "code"), default=0.0)
    _drop_widget_views(nb)
    meta = nb.metadata.get("hrm_course", {})
    nb.metadata = _new_notebook(meta.get("lesson", ""), meta.get("exercises", [])).metadata
    return total, slowest


def carry_outputs(new: nbformat.NotebookNode, old_path: Path) -> None:
    """Copy outputs from the committed notebook into `new` for cells whose source is unchanged."""
    if not old_path.exists():
        return
    old = {c.get("id"): c for c in nbformat.read(old_path, as_version=4).cells}
    for cell in new.cells:
        prev = old.get(cell.get("id"))
        if cell.cell_type == "code" and prev is not None and prev.source == cell.source:
            cell.outputs = prev.get("outputs", [])
            cell.execution_count = prev.get("execution_count")


def write_notebook(nb: nbformat.NotebookNode, path: Path) -> None:
    """Validate and write a notebook with a trailing newline (byte-stable for equal content)."""
    nbformat.validate(nb)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


def stale_notebooks(sources: list[Path]) -> list[str]:
    """Committed notebooks whose cells differ from what the sources build (outputs aside)."""
    stale = []
    for source in sources:
        student, solution = build_pair(source)
        for folder, nb in (("lessons", student), ("solutions", solution)):
            path = ROOT / folder / f"{source.stem}.ipynb"
            if not path.exists() or structure(nbformat.read(path, as_version=4)) != structure(nb):
                stale.append(str(path.relative_to(ROOT)))
    return stale


REGISTRY = ROOT / "hrm_minimal" / "checks" / "exercises.json"
README = ROOT / "README.md"
COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/[\w./-]+?/(lessons|solutions)/")


def readme_text(text: str) -> str:
    """README.md with every Colab link pointing at REPO and BRANCH."""
    return COLAB_LINK.sub(lambda m: f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/{m.group(1)}/",
                          text)


def exercise_registry(sources: list[Path]) -> dict:
    """What the grader needs from each lesson source (the grader runs without the sources): its
    exercises in order (id, the function the student writes, its checker) and the imports its other
    code cells make, which an exercise cell may use (checker imports left out)."""
    lessons = {}
    for source in sources:
        text = jupytext.read(source, fmt="py:percent")
        imports, exercises = [], []
        for index, cell in enumerate(text.cells):
            if cell.cell_type != "code":
                continue
            exercise = cell.metadata.get("exercise")
            code = [("# " + line) if line.lstrip().startswith(("%", "!")) else line  # IPython magics
                    for line in solution_source(cell.source).split("\n")]
            tree = ast.parse("\n".join(code))
            if exercise is not None:
                names = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
                checker = next((m.group(1) for later in text.cells[index + 1:] if later.cell_type == "code"
                                for m in [re.search(r"import (check_\w+)", later.source)] if m), None)
                if len(names) != 1 or checker is None:
                    raise ValueError(f"{source.name}: exercise {exercise} needs one function and a checker cell after it")
                exercises.append({"id": str(exercise), "function": names[0], "checker": checker})
                continue
            for node in tree.body:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    line = ast.unparse(node)
                    if "hrm_minimal.checks" not in line and line not in imports:
                        imports.append(line)
        lessons[source.stem] = {"imports": imports, "exercises": exercises}
    return {"lessons": lessons}


def registry_text(sources: list[Path]) -> str:
    return json.dumps(exercise_registry(sources), indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lessons", nargs="*", help="lesson numbers or stems (default: all)")
    parser.add_argument("--no-execute", action="store_true",
                        help="do not run the solutions; keep the outputs of unchanged cells")
    parser.add_argument("--check", action="store_true", help="only report stale notebooks (exit 1)")
    args = parser.parse_args(argv)
    try:
        sources = find_sources(args.lessons)
    except ValueError as error:
        parser.error(str(error))
    if not sources:
        print(f"no lesson sources found in {SOURCE_DIR}")
        return 1
    everything = find_sources([])
    if args.check:
        stale = stale_notebooks(sources)
        if not REGISTRY.exists() or REGISTRY.read_text() != registry_text(everything):
            stale.append(str(REGISTRY.relative_to(ROOT)))
        if README.read_text(encoding="utf-8") != readme_text(README.read_text(encoding="utf-8")):
            stale.append("README.md (its Colab links)")
        for path in stale:
            print(f"stale: {path}  (run python tools/build_notebooks.py)")
        return 1 if stale else 0
    LESSON_DIR.mkdir(exist_ok=True)
    REGISTRY.write_text(registry_text(everything))
    README.write_text(readme_text(README.read_text(encoding="utf-8")), encoding="utf-8")
    for source in sources:
        student, solution = build_pair(source)
        write_notebook(student, LESSON_DIR / f"{source.stem}.ipynb")
        target = SOURCE_DIR / f"{source.stem}.ipynb"
        if args.no_execute:
            carry_outputs(solution, target)
            write_notebook(solution, target)
            print(f"{source.stem}: written (not executed)")
            continue
        total, slowest = execute(solution)
        write_notebook(solution, target)
        flag = "ok" if total <= BUDGET_S else "OVER BUDGET"
        print(f"{source.stem}: executed in {total:.1f} s (budget {BUDGET_S} s, {flag}); "
              f"slowest cell {slowest:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
