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

The student's code and the checker share the child process, so the reading is strict: an exercise
cell may import only the libraries an exercise needs (`ALLOWED_IMPORTS`), and may not reach the
interpreter's machinery (dunder attributes, frames, `sys`/`os`, `exec`/`eval`, `getattr` with a
computed name, assignments to a library's attributes). The child speaks JSON to the parent (nothing
it sends is unpickled), runs in its own process group (killed with whatever it started), and every
exercise has `timeout` seconds, the notebook at most `timeout` times its exercises plus one.
"""
from __future__ import annotations

import ast
import json
import multiprocessing
import os
import re
import secrets
import select
import signal
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from hrm_minimal.checks.core import FAILED, NOT_DONE, PASSED, SEED_ENV
from hrm_minimal.checks.registry import Exercise, exercises, lesson_imports, lesson_of_exercise, lessons

MISSING = "missing"  # no cell defines the exercise's function
REFERENCE = "uses the reference"  # the cell calls the package's own implementation of the exercise
TAMPERING = "tampering"  # the cell reaches into the grader or the interpreter
TIMED_OUT = "timed out"
NOT_GRADED = "not graded"  # after an exercise that timed out or killed its process
STATUSES = (PASSED, FAILED, NOT_DONE, MISSING, REFERENCE, TAMPERING, TIMED_OUT, NOT_GRADED)

# What an exercise cell may import (top-level packages; hrm_minimal but for the grading modules).
ALLOWED_IMPORTS = {"numpy", "torch", "math", "itertools", "functools", "collections", "typing", "dataclasses",
                   "copy", "random", "__future__", "hrm_minimal"}
_GRADING_MODULES = ("hrm_minimal.checks", "hrm_minimal.grade", "hrm_minimal.grader")
# Attributes that reach the interpreter, the checkers or other modules (dunder attributes also count).
_FORBIDDEN_ATTRIBUTES = {"sys", "os", "_getframe", "f_globals", "f_back", "f_locals", "f_code",
                         "gi_frame", "cr_frame", "tb_frame", "checks", "grader", "_exit", "kill", "system", "popen"}
_ALLOWED_DUNDERS = {"__name__", "__doc__", "__init__"}
# Names of builtins that run or reach code by name.
_FORBIDDEN_NAMES = {"__builtins__", "exit", "quit", "globals", "locals", "vars", "__import__", "breakpoint", "exec",
                    "eval", "compile", "open", "input", "setattr", "delattr", "methodcaller", "attrgetter"}
MAX_HINT = 300  # characters of a hint kept in the gradebook


@dataclass
class Row:
    exercise: str
    status: str
    hint: str = ""

    def __post_init__(self) -> None:
        self.hint = clean_hint(self.hint)


def clean_hint(text: str) -> str:
    """One printable line of at most MAX_HINT characters (no terminal escapes, no newlines)."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", str(text))
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_HINT else text[: MAX_HINT - 3] + "..."


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
    """Which lesson a notebook is: `lesson` if given; else its file name or its folder's (nbgrader's
    assignment); else the lesson most of its exercise cells are marked with; else its metadata."""
    known = lessons()
    if lesson is not None:
        matches = [name for name in known if name == lesson or name.split("_")[0] == lesson]
        if len(matches) != 1:
            raise ValueError(f"unknown lesson {lesson!r}; lessons: {', '.join(known)}")
        return matches[0]
    for stem in (Path(path).stem, Path(path).parent.name):
        for name in known:
            if stem.startswith(name) or stem.startswith(name.split("_", 1)[1]):
                return name
    marked = [lesson_of_exercise(str(c.metadata["exercise"])) for c in nb.cells
              if c.cell_type == "code" and "exercise" in c.metadata]
    marked = [name for name in marked if name]
    if marked:
        return max(sorted(set(marked)), key=marked.count)
    claimed = nb.metadata.get("hrm_course", {}).get("lesson")
    if claimed in known:
        return claimed
    raise ValueError(f"{path}: cannot tell which lesson this is (no exercise cells, file name or metadata "
                     f"names one); pass --lesson, one of {', '.join(known)}")


def exercise_source(nb, exercise: Exercise) -> str | None:
    """The student's code for `exercise`, as a top-to-bottom run would have it when its checker cell
    runs: the cells marked with the exercise before that cell, then the last other cell before it that
    defines the function if it comes later (an answer written in a new cell); without a checker cell,
    the same over the whole notebook. Checker cells never count. None if no cell defines it."""
    checker_cell = re.compile(r"import check_|\bcheck_\w+\(")
    code = [c for c in nb.cells if c.cell_type == "code" and not checker_cell.search(c.source)]
    checker_at = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and f"{exercise.checker}(" in c.source),
                      len(nb.cells))
    before = [c for c in code if nb.cells.index(c) < checker_at] or code
    defines = re.compile(rf"^\s*def\s+{re.escape(exercise.function)}\s*\(", re.M)
    marked = [c for c in before if str(c.metadata.get("exercise", "")) == exercise.id]
    defining = [c for c in before if defines.search(c.source)]
    chosen = list(marked)
    if defining and (not marked or before.index(defining[-1]) > before.index(marked[-1])):
        chosen.append(defining[-1])
    if not chosen:
        return None
    return "\n\n".join(c.source for c in chosen)


# --------------------------------------------------------------------------- reading the code


def _defined_names(tree: ast.AST) -> set[str]:
    """Names the cell defines as functions or arguments (an assignment does not hide a reference)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def _bound_names(tree: ast.AST) -> set[str]:
    """Every name the cell binds: definitions, arguments, assignments, loop and import targets."""
    bound = _defined_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    return bound


def _module_aliases(tree: ast.AST, imports: list[str]) -> set[str]:
    """Names bound to imported modules (np, torch, F, ...), in the cell and in the lesson's imports."""
    nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    nodes += [ast.parse(line).body[0] for line in imports]
    aliases = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            aliases.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif node.module in ("torch", "torch.nn") or (node.module or "").startswith(("torch.nn", "numpy")):
            aliases.update(a.asname or a.name for a in node.names if a.name[:1].islower() or a.name in ("nn", "F"))
    return aliases


def _aliases(imports: list[str], names: set[str]) -> set[str]:
    """Names under which the lesson's imports bring one of `names` from hrm_minimal into the notebook."""
    found = set()
    for line in imports:
        node = ast.parse(line).body[0]
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hrm_minimal"):
            found.update(a.asname or a.name for a in node.names if a.name in names)
    return found


def runnable(source: str) -> str:
    """The code a cell runs: its source, or, where that is not Python, its source without IPython's
    magic lines (`%time`, `!pip`, a `%%time` first line), as a kernel would have dropped them."""
    try:
        ast.parse(source)
        return source
    except SyntaxError:
        return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))


def scan(source: str, exercise: Exercise, imports: list[str] = ()) -> Row | None:
    """Read the cell before running it: a Row for a syntax error, tampering or the reference's use;
    None when it may run. `source` must be the code that will run (`runnable`)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        return Row(exercise.id, FAILED, f"syntax error in the exercise cell, line {error.lineno}: {error.msg}")
    refs = [r for r in exercise.references if not r.startswith("call:")]
    names = {r for r in refs if "." not in r}
    methods = {tuple(r.split(".", 1)) for r in refs if "." in r}  # "inner.forward": that method of that argument
    callables = {r[5:] for r in exercise.references if r.startswith("call:")}
    defined, bound = _defined_names(tree), _bound_names(tree)
    modules = _module_aliases(tree, list(imports))
    hidden = _aliases(list(imports), names)  # e.g. lesson 01 imports decode_sudoku as token_grid

    def tampering(what: str, line) -> Row:
        return Row(exercise.id, TAMPERING, f"the exercise cell {what} (line {line}), which an exercise never needs: "
                                           "not graded")

    def reference(what: str, line) -> Row:
        return Row(exercise.id, REFERENCE, f"the exercise calls {what} (line {line}), an implementation of the "
                                           "exercise itself: write it yourself")

    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.ImportFrom) and node.level:
                return tampering("makes a relative import", line)
            modules_named = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.module == "hrm_minimal":
                modules_named += [f"hrm_minimal.{a.name}" for a in node.names]
            for module in modules_named:
                if module.split(".")[0] not in ALLOWED_IMPORTS:
                    return Row(exercise.id, TAMPERING, f"the exercise cell imports {module} (line {line}); an "
                               f"exercise cell may import only {', '.join(sorted(ALLOWED_IMPORTS - {'__future__'}))}")
                if any(module == g or module.startswith(g + ".") for g in _GRADING_MODULES):
                    return tampering(f"imports {module}", line)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hrm_minimal"):
                used = [a.name for a in node.names if a.name in names]
                if used:
                    return reference(f"the package's own {used[0]}", line)
        elif isinstance(node, ast.Attribute):
            attr = node.attr
            if attr in _FORBIDDEN_ATTRIBUTES or (attr.startswith("__") and attr.endswith("__")
                                                 and attr not in _ALLOWED_DUNDERS):
                return tampering(f"uses .{attr}", line)
            if isinstance(node.ctx, (ast.Store, ast.Del)):
                root = node.value
                while isinstance(root, ast.Attribute):
                    root = root.value
                if isinstance(root, ast.Name) and root.id in modules and root.id not in defined:
                    return tampering(f"changes {root.id}'s attribute .{attr}", line)
            if attr in names:
                return reference(f".{attr}", line)
            if isinstance(node.value, ast.Name) and (node.value.id, attr) in methods:
                return reference(f"{node.value.id}.{attr}", line)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id in _FORBIDDEN_NAMES and node.id not in bound:
                return tampering(f"uses {node.id}", line)
            if node.id in hidden or (node.id in names and node.id not in defined):
                return reference(node.id, line)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in callables:
                return reference(f"{node.func.id}(...) itself", line)
            if node.func.id == "getattr" and "getattr" not in bound and not (
                    len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
                return tampering("calls getattr with a computed name", line)
            if node.func.id == "getattr" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
                name = str(node.args[1].value)
                if name in names or name in _FORBIDDEN_ATTRIBUTES or name.startswith("__"):
                    return tampering(f"calls getattr(..., {name!r})", line)
    return None


# --------------------------------------------------------------------------- running the code


def _send(conn, *message) -> None:
    conn.send_bytes(json.dumps(message).encode("utf-8"))


def _child(lesson: str, work: list[tuple[Exercise, str]], conn, seed: int) -> None:
    """In the child process: run the exercise cells in order with the lesson's imports, check each."""
    if hasattr(os, "setsid"):
        os.setsid()  # its own process group: the parent kills it with everything it starts
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the student's prints and the checkers' lines go nowhere; results go through conn
    os.dup2(devnull, 2)
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115  (Python-level streams too)
    import torch

    from hrm_minimal import checks
    from hrm_minimal.checks import core

    torch.set_num_threads(1)
    heard: list[tuple[str, str, str]] = []
    core.LISTENERS[:] = [lambda exercise, status, hint: heard.append((exercise, status, hint))]
    os.environ.pop(core.STRICT_ENV, None)  # a failing checker must return, not raise
    os.environ.pop(core.RESULTS_ENV, None)
    os.environ[SEED_ENV] = str(seed)  # trials the student's notebook never saw
    namespace: dict = {"__name__": "__exercise__"}
    for line in lesson_imports(lesson):
        try:
            exec(line, namespace)  # noqa: S102  (the lesson's own imports)
        except Exception:  # e.g. IPython.display where IPython is missing
            pass
    for exercise, source in work:
        _send(conn, "start", exercise.id)
        try:
            exec(compile(source, f"<exercise {exercise.id}>", "exec"), namespace)  # noqa: S102
        except BaseException as error:  # SystemExit and KeyboardInterrupt included
            hint = f"the exercise cell raised {type(error).__name__}: {error}"
            if isinstance(error, NameError):
                hint += (" (exercise cells are graded on their own, with the lesson's imports only: define or "
                         "import what the function needs in its cell)")
            _send(conn, "result", exercise.id, FAILED, hint)
            continue
        function = namespace.get(exercise.function)
        if not callable(function):
            _send(conn, "result", exercise.id, FAILED, f"the exercise cell does not define {exercise.function}()")
            continue
        heard.clear()
        try:
            namespace[exercise.function] = getattr(checks, exercise.checker)(function)
        except BaseException as error:
            _send(conn, "result", exercise.id, FAILED, f"checking raised {type(error).__name__}: {error}")
            continue
        mine = [h for h in heard if h[0] == exercise.id]
        status, hint = (mine[-1][1], mine[-1][2]) if mine else (FAILED, "the checker reported nothing")
        _send(conn, "result", exercise.id, status, clean_hint(hint))
    _send(conn, "done")


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


def grade_notebook(path, lesson: str | None = None, timeout: float = 60.0, nb=None,
                   seed: int | None = None) -> NotebookGrade:
    """Grade the exercises of one notebook (see the module docstring); `nb` if already read. The
    checkers' trials are drawn with `seed` (default: a new random one, so that no notebook can know
    them in advance; give one to grade reproducibly)."""
    path = Path(path)
    nb = read_notebook(path) if nb is None else nb
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
        source = runnable(source)  # what is read is exactly what runs
        found = scan(source, exercise, imports)
        if found is not None:
            rows[exercise.id] = found
        else:
            work.append((exercise, source))
    if work:
        rows.update(_run(lesson, work, timeout, secrets.randbelow(2**31) if seed is None else seed))
    grade.rows = [rows[e.id] for e in exercises(lesson)]
    return grade


def _run(lesson: str, work: list[tuple[Exercise, str]], timeout: float, seed: int) -> dict[str, Row]:
    """Run `work` in one child process, `timeout` seconds per exercise; rows by exercise."""
    warm_up(lesson)
    context = _context()
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(lesson, work, send, seed), daemon=True)
    child.start()
    send.close()
    expected = [exercise.id for exercise, _ in work]
    rows: dict[str, Row] = {}
    reader = _Frames(receive.fileno())
    current, started = None, time.monotonic()
    deadline_all = started + timeout * (len(work) + 1)
    deadline = started + timeout
    try:
        while True:
            message = reader.next(min(deadline, deadline_all))
            if message is _Frames.TIMEOUT:
                if current is not None:
                    rows[current] = Row(current, TIMED_OUT, f"exercise {current} did not finish within {timeout:.0f} s")
                break
            blame = current or next((e for e in expected if e not in rows), None)  # who was running
            if message is _Frames.CLOSED:
                if blame is not None:
                    rows[blame] = Row(blame, FAILED, "the exercise ended the grading process (a crash or an exit)")
                break
            if message is _Frames.BAD:
                if blame is not None:
                    rows[blame] = Row(blame, TAMPERING, "the exercise wrote to the grader's channel: not graded")
                break
            kind = message[0] if isinstance(message, list) and message else None
            if kind == "start" and len(message) == 2 and message[1] in expected and message[1] not in rows \
                    and message[1] != current:
                current, deadline = message[1], time.monotonic() + timeout
            elif kind == "result" and len(message) == 4 and message[1] == current and message[2] in STATUSES \
                    and all(isinstance(part, str) for part in message):
                rows[current] = Row(current, message[2], message[3])
                current = None
            elif kind == "done" and current is None:
                break
            else:  # anything else is not from the grader's code
                if blame is not None:
                    rows[blame] = Row(blame, TAMPERING, "the exercise wrote to the grader's channel: not graded")
                break
    finally:
        _kill(child)
        receive.close()
    for exercise, _ in work:
        rows.setdefault(exercise.id, Row(exercise.id, NOT_GRADED, "an earlier exercise stopped the grading"))
    return rows


def _kill(child) -> None:
    """Kill the child and every process it started (its process group)."""
    if child.pid is not None and hasattr(os, "killpg"):
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if child.is_alive():
        child.kill()
    child.join(5)


class _Frames:
    """Messages from the child: multiprocessing's frames (a 4-byte length, then bytes) holding JSON,
    read without blocking past a deadline and never unpickled."""

    TIMEOUT, CLOSED, BAD = object(), object(), object()
    LIMIT = 1 << 20  # no honest message is near this

    def __init__(self, fd: int) -> None:
        self.fd, self.buffer = fd, b""

    def next(self, deadline: float):
        while True:
            if len(self.buffer) >= 4:
                (size,) = struct.unpack("!i", self.buffer[:4])
                if size < 0 or size > self.LIMIT:
                    return self.BAD
                if len(self.buffer) >= 4 + size:
                    payload, self.buffer = self.buffer[4: 4 + size], self.buffer[4 + size:]
                    try:
                        return json.loads(payload.decode("utf-8"))
                    except (UnicodeDecodeError, ValueError):
                        return self.BAD
            left = deadline - time.monotonic()
            if left <= 0:
                return self.TIMEOUT
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                return self.TIMEOUT
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return self.CLOSED
            self.buffer += chunk
            if len(self.buffer) > self.LIMIT + 4:
                return self.BAD
