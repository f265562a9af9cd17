"""Grade one student notebook without running it: each exercise cell, in a fresh process, checked by
the grader's own call to its checker.

    grade = grade_notebook("lessons/01_puzzles_as_sequences.ipynb")
    grade.lesson, grade.rows     # [Row(exercise, status, hint), ...] in the lesson's order

Which exercises a lesson has comes from the lesson sources (`hrm_minimal.checks.registry`), not from
the notebook's metadata. For each one the grader takes the student's cell (the cell marked with the
exercise, or else the cell that defines its function), reads it first (a syntax error, a call of the
package's own implementation of the exercise, or code that reaches into the grader ends there), then
runs the exercise cells in order in a child process (forked from this one, so torch is imported once)
with the lesson's imports and nothing else of the notebook, calls each checker and hears its result
through `checks.core.LISTENERS`. Each exercise has `timeout` seconds; a child that runs over is killed.
Code outside the exercise cells never runs, so it cannot change a grade.
"""
from __future__ import annotations

import ast
import multiprocessing
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hrm_minimal.checks.core import FAILED, NOT_DONE, PASSED
from hrm_minimal.checks.registry import Exercise, exercises, lesson_imports, lesson_of_exercise, lessons

MISSING = "missing"  # no cell defines the exercise's function
REFERENCE = "uses the reference"  # the cell calls the package's own implementation of the exercise
TAMPERING = "tampering"  # the cell reaches into the grader or the interpreter
TIMED_OUT = "timed out"
NOT_GRADED = "not graded"  # after an exercise that timed out or killed its process
STATUSES = (PASSED, FAILED, NOT_DONE, MISSING, REFERENCE, TAMPERING, TIMED_OUT, NOT_GRADED)

# Modules an exercise has no business importing, and attributes that reach into the interpreter.
_FORBIDDEN_MODULES = ("hrm_minimal.checks", "hrm_minimal.grade", "hrm_minimal.grader", "builtins", "ctypes",
                      "gc", "inspect", "multiprocessing", "signal")
_FORBIDDEN_ATTRIBUTES = {"_exit", "f_globals", "f_back", "f_locals", "__globals__", "__builtins__", "__code__",
                         "__subclasses__"}
_FORBIDDEN_NAMES = {"__builtins__", "exit", "quit", "globals", "__import__", "breakpoint"}


@dataclass
class Row:
    exercise: str
    status: str
    hint: str = ""


@dataclass
class NotebookGrade:
    path: Path
    lesson: str
    rows: list[Row] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(row.status == PASSED for row in self.rows)


# --------------------------------------------------------------------------- reading the notebook


def read_notebook(path: Path):
    """The notebook at `path` (nbformat v4), with a clear error for anything else."""
    import nbformat

    path = Path(path)
    if not path.is_file() or path.suffix != ".ipynb":
        raise ValueError(f"not a notebook file: {path}")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as error:  # not JSON, not a notebook
        raise ValueError(f"{path} is not a readable notebook ({type(error).__name__}: {error})") from None


def find_lesson(nb, path: Path, lesson: str | None = None) -> str:
    """Which lesson a notebook is: `lesson` if given, else its exercise cells' marks, else its file
    name, else its metadata."""
    known = lessons()
    if lesson is not None:
        matches = [name for name in known if name == lesson or name.split("_")[0] == lesson]
        if len(matches) != 1:
            raise ValueError(f"unknown lesson {lesson!r}; lessons: {', '.join(known)}")
        return matches[0]
    marked = [str(c.metadata["exercise"]) for c in nb.cells if c.cell_type == "code" and "exercise" in c.metadata]
    for exercise_id in marked:
        found = lesson_of_exercise(exercise_id)
        if found:
            return found
    stem = Path(path).stem
    for name in known:
        if stem.startswith(name) or stem.startswith(name.split("_", 1)[1]):
            return name
    claimed = nb.metadata.get("hrm_course", {}).get("lesson")
    if claimed in known:
        return claimed
    raise ValueError(f"{path}: cannot tell which lesson this is (no exercise cells, file name or metadata "
                     f"names one); pass --lesson, one of {', '.join(known)}")


def exercise_source(nb, exercise: Exercise) -> str | None:
    """The student's cell for `exercise`: the last cell marked with it, else the last cell that defines
    its function; None if there is none."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    marked = [c for c in code if str(c.metadata.get("exercise", "")) == exercise.id]
    if marked:
        return marked[-1].source
    defining = [c for c in code if f"def {exercise.function}(" in c.source]
    return defining[-1].source if defining else None


# --------------------------------------------------------------------------- reading the code


def _bound_names(tree: ast.AST) -> set[str]:
    """Names the cell binds itself: functions, arguments, assignments, loop and import targets."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    return bound


def _aliases(imports: list[str], names: set[str]) -> set[str]:
    """Names under which the lesson's imports bring one of `names` from hrm_minimal into the notebook."""
    found = set()
    for line in imports:
        node = ast.parse(line).body[0]
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hrm_minimal"):
            found.update(a.asname or a.name for a in node.names if a.name in names)
    return found


def scan(source: str, exercise: Exercise, imports: list[str] = ()) -> Row | None:
    """Read the cell before running it: a Row for a syntax error, tampering or the reference's use;
    None when it may run."""
    clean = "\n".join(("# " + line) if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))
    try:
        tree = ast.parse(clean)
    except SyntaxError as error:
        return Row(exercise.id, FAILED, f"syntax error in the exercise cell, line {error.lineno}: {error.msg}")
    names = {r for r in exercise.references if not r.startswith("call:")}
    callables = {r[5:] for r in exercise.references if r.startswith("call:")}
    bound = _bound_names(tree)
    hidden = _aliases(list(imports), names)  # e.g. lesson 01 imports decode_sudoku as token_grid
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.module == "hrm_minimal":
                modules += [f"hrm_minimal.{a.name}" for a in node.names]
            bad = [m for m in modules if any(m == f or m.startswith(f + ".") for f in _FORBIDDEN_MODULES)]
            if bad:
                return Row(exercise.id, TAMPERING, f"the exercise cell imports {bad[0]} (line {line}): not graded")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hrm_minimal"):
                used = [a.name for a in node.names if a.name in names]
                if used:
                    return Row(exercise.id, REFERENCE, f"the exercise imports the package's own {used[0]} "
                                                       f"(line {line}): write it yourself")
        elif isinstance(node, ast.Attribute):
            if node.attr in _FORBIDDEN_ATTRIBUTES or (
                    isinstance(node.value, ast.Name) and node.value.id == "sys" and node.attr in ("modules", "exit")):
                return Row(exercise.id, TAMPERING, f"the exercise cell uses .{node.attr} (line {line}): not graded")
            if node.attr in names:
                return Row(exercise.id, REFERENCE, f"the exercise calls the package's own .{node.attr} "
                                                   f"(line {line}): write it yourself")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id in _FORBIDDEN_NAMES:
                return Row(exercise.id, TAMPERING, f"the exercise cell uses {node.id} (line {line}): not graded")
            if (node.id in names or node.id in hidden) and node.id not in bound:
                return Row(exercise.id, REFERENCE, f"the exercise calls the package's own {node.id} "
                                                   f"(line {line}): write it yourself")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in callables:
            return Row(exercise.id, REFERENCE, f"the exercise calls {node.func.id}(...) itself (line {line}), "
                                               "the package's implementation of it: write the loop yourself")
    return None


# --------------------------------------------------------------------------- running the code


def _child(lesson: str, work: list[tuple[Exercise, str]], conn) -> None:
    """In the child process: run the exercise cells in order with the lesson's imports, check each."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the student's prints and the checkers' lines go nowhere; results go through conn
    os.dup2(devnull, 2)
    import torch

    from hrm_minimal import checks
    from hrm_minimal.checks import core

    torch.set_num_threads(1)
    heard: list[tuple[str, str, str]] = []
    core.LISTENERS[:] = [lambda exercise, status, hint: heard.append((exercise, status, hint))]
    os.environ.pop(core.STRICT_ENV, None)  # a failing checker must return, not raise
    os.environ.pop(core.RESULTS_ENV, None)
    namespace: dict = {"__name__": "__exercise__"}
    for line in lesson_imports(lesson):
        try:
            exec(line, namespace)  # noqa: S102  (the lesson's own imports)
        except Exception:  # e.g. IPython.display where IPython is missing
            pass
    for exercise, source in work:
        conn.send(("start", exercise.id))
        try:
            exec(compile(source, f"<exercise {exercise.id}>", "exec"), namespace)  # noqa: S102
        except BaseException as error:  # SystemExit and KeyboardInterrupt included
            conn.send(("result", exercise.id, FAILED, f"the exercise cell raised {type(error).__name__}: {error}"))
            continue
        function = namespace.get(exercise.function)
        if not callable(function):
            conn.send(("result", exercise.id, FAILED, f"the exercise cell does not define {exercise.function}()"))
            continue
        heard.clear()
        try:
            namespace[exercise.function] = getattr(checks, exercise.checker)(function)
        except BaseException as error:
            conn.send(("result", exercise.id, FAILED, f"checking raised {type(error).__name__}: {error}"))
            continue
        mine = [h for h in heard if h[0] == exercise.id]
        status, hint = (mine[-1][1], mine[-1][2]) if mine else (FAILED, "the checker reported nothing")
        conn.send(("result", exercise.id, status, hint))
    conn.send(("done",))


def _context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods and sys.platform != "darwin" else "spawn")


def warm_up(lesson: str) -> None:
    """Import what the lesson's exercises need once here, so that each forked child starts warm."""
    import torch  # noqa: F401

    from hrm_minimal import checks  # noqa: F401

    namespace: dict = {}
    for line in lesson_imports(lesson):
        try:
            exec(line, namespace)  # noqa: S102
        except Exception:
            pass


def grade_notebook(path, lesson: str | None = None, timeout: float = 60.0) -> NotebookGrade:
    """Grade the exercises of one notebook (see the module docstring)."""
    path = Path(path)
    nb = read_notebook(path)
    lesson = find_lesson(nb, path, lesson)
    imports = lesson_imports(lesson)
    grade = NotebookGrade(path, lesson)
    rows: dict[str, Row] = {}
    work = []
    for exercise in exercises(lesson):
        source = exercise_source(nb, exercise)
        if source is None:
            rows[exercise.id] = Row(exercise.id, MISSING, f"no cell defines {exercise.function}()")
            continue
        found = scan(source, exercise, imports)
        if found is not None:
            rows[exercise.id] = found
        else:
            work.append((exercise, source))
    if work:
        rows.update(_run(lesson, work, timeout))
    grade.rows = [rows[e.id] for e in exercises(lesson)]
    return grade


def _run(lesson: str, work: list[tuple[Exercise, str]], timeout: float) -> dict[str, Row]:
    """Run `work` in one child process, `timeout` seconds per exercise; rows by exercise."""
    warm_up(lesson)
    context = _context()
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(lesson, work, send), daemon=True)
    child.start()
    send.close()
    rows: dict[str, Row] = {}
    current = None
    try:
        while True:
            if not receive.poll(timeout):
                if current is not None:
                    rows[current] = Row(current, TIMED_OUT, f"exercise {current} did not finish within {timeout:.0f} s")
                break
            try:
                message = receive.recv()
            except EOFError:  # the child died (os._exit, a crash, memory)
                if current is not None:
                    rows[current] = Row(current, FAILED, "the exercise ended the grading process (a crash or an exit)")
                break
            if message[0] == "start":
                current = message[1]
            elif message[0] == "result":
                rows[message[1]] = Row(message[1], message[2], message[3])
                current = None
            else:
                break
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()
    for exercise, _ in work:
        rows.setdefault(exercise.id, Row(exercise.id, NOT_GRADED, "an earlier exercise stopped the grading"))
    return rows
