"""Grade students' notebooks: `python -m hrm_minimal.grade PATH [PATH ...]`, each a notebook or a folder.

By default the grader does not run the notebooks: it takes each exercise cell and runs it alone, in a
fresh process with a time limit, and calls the checkers itself (`hrm_minimal.grader`). Code outside
the exercise cells never runs, so it cannot change a grade; an exercise that calls the package's own
implementation of itself is reported as such. A folder is searched for notebooks (a flat folder, or
nbgrader's `submitted/STUDENT/ASSIGNMENT/` layout), graded with a progress bar, and a gradebook
(`gradebook.csv`: student, notebook, lesson, exercise, status, hint) and a per-exercise summary
(`summary.md`) are written to `--out` (default `grades/`).

`--execute` runs each notebook top to bottom on a fresh kernel instead (HRM_STRICT=1), as a student's
run would; its checkers report through HRM_RESULTS_FILE, which the notebook's own code could write,
and the exit status also counts cells that raised.

Exit status: 0 when every exercise of every notebook passed (and, with --execute, no cell raised);
1 otherwise; 2 for a command-line mistake.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

from hrm_minimal.checks import PASSED, RESULTS_ENV, STRICT_ENV
from hrm_minimal.checks.registry import exercises

MISSING = "missing"  # the notebook never ran the exercise's checker
CANNOT_GRADE = "cannot grade"  # the notebook could not be read or graded at all
PACKAGE_PARENT = Path(__file__).resolve().parents[1]


def _read_results(path: Path) -> dict[str, dict]:
    """Last result per exercise from the checkers' JSON-lines file."""
    results: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                results[row["exercise"]] = row
    return results


def run_notebook(path: Path, timeout: int = 120,
                 kernel: str = "python3") -> tuple[dict[str, dict], list[str], int, str]:
    """Execute one notebook strictly.

    Returns (results by exercise, expected exercises, cells that raised, why execution stopped early or '').
    """
    from nbclient import NotebookClient

    path = Path(path)
    from hrm_minimal.grader import find_lesson, read_notebook

    nb = read_notebook(path)
    expected = [e.id for e in exercises(find_lesson(nb, path))]  # the lesson's, not the metadata's claim
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        results_file = Path(tmp) / "results.jsonl"
        os.environ[STRICT_ENV] = "1"
        os.environ[RESULTS_ENV] = str(results_file)
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_PARENT), saved.get("PYTHONPATH", "")) if p)
        try:
            client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, allow_errors=True,
                                    resources={"metadata": {"path": str(path.parent.resolve())}})
            client.execute()
            stopped = ""
        except Exception as error:  # a cell over the time limit, a dead kernel: grade what ran
            stopped = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        finally:
            os.environ.clear()
            os.environ.update(saved)
        results = _read_results(results_file)
    errors = sum(
        1 for cell in nb.cells if cell.cell_type == "code"
        for out in cell.get("outputs", []) if out.get("output_type") == "error"
    )
    return results, expected, errors, stopped


def grade_table(results: dict[str, dict], expected: list[str]) -> list[tuple[str, str]]:
    """(exercise, status) rows: expected exercises in order, then any extra ones the notebook checked."""
    names = list(expected) + [name for name in results if name not in expected]
    return [(name, results[name]["status"] if name in results else MISSING) for name in names]


def format_table(title: str, rows: list[tuple[str, str]]) -> str:
    """A plain-text table of exercise results with a passed count."""
    width = max([len("exercise")] + [len(name) for name, _ in rows])
    lines = [title, f"  {'exercise':<{width}}  status", f"  {'-' * width}  ------"]
    lines += [f"  {name:<{width}}  {status}" for name, status in rows]
    passed = sum(status == PASSED for _, status in rows)
    lines.append(f"  {passed}/{len(rows)} passed")
    return "\n".join(lines)


def find_notebooks(paths: list[str]) -> list[tuple[str, Path]]:
    """(student, notebook) for every notebook named or found in a named folder (checkpoints skipped).
    The student is the folder after `submitted/` (nbgrader), else the first folder inside the named
    one, else the notebook's name."""
    found = []
    for name in paths:
        root = Path(name)
        if root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.suffix.lower() == ".ipynb" and p.is_file()):
                if ".ipynb_checkpoints" in path.parts:
                    continue
                relative = path.relative_to(root)
                found.append((_student(path, relative), path))
        else:
            found.append((_student(root, Path(root.name)), root))
    return found


def _student(path: Path, relative: Path) -> str:
    parts = path.parts
    if "submitted" in parts[:-1]:
        return parts[parts.index("submitted") + 1]
    return relative.parts[0] if len(relative.parts) > 1 else path.stem


def summary_lines(records: list[dict]) -> list[str]:
    """Per exercise: how many passed, how each of the others ended, the commonest hints."""
    lines = ["| exercise | passed | not passed | commonest hints |", "|---|---|---|---|"]
    by_exercise: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        by_exercise.setdefault((r["lesson"], r["exercise"]), []).append(r)
    for (_, exercise), rows in sorted(by_exercise.items()):
        passed = sum(r["status"] == PASSED for r in rows)
        others = Counter(r["status"] for r in rows if r["status"] != PASSED)
        hints = Counter(r["hint"] for r in rows if r["hint"])
        common = "; ".join(f"{hint} ({n})" for hint, n in hints.most_common(3))
        ended = ", ".join(f"{status} {n}" for status, n in others.most_common())
        lines.append(f"| {exercise} | {passed}/{len(rows)} | {ended or '-'} | {common or '-'} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hrm_minimal.grade",
                                     description="Grade course notebooks: each exercise cell alone, checked by the grader.")
    parser.add_argument("paths", nargs="+", help="student notebooks (.ipynb) or folders of them")
    parser.add_argument("--lesson", default=None, help="the lesson (number or name) when a notebook does not say")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds per exercise (default 60); with --execute, per cell (default 120)")
    parser.add_argument("--out", default=None, help="folder for gradebook.csv and summary.md (default grades/ "
                                                     "when a folder or several notebooks are graded)")
    parser.add_argument("--json", metavar="FILE", help="also write all results to this JSON file")
    parser.add_argument("--seed", type=int, default=None,
                        help="draw the checkers' trials with this seed (default: new random trials each run)")
    parser.add_argument("--execute", action="store_true", help="run each notebook top to bottom instead")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel for --execute (default python3)")
    args = parser.parse_args(argv)
    if args.timeout is not None and args.timeout <= 0:
        parser.error("--timeout must be positive")
    notebooks = find_notebooks(args.paths)
    if not notebooks:
        parser.error(f"no notebooks in {', '.join(args.paths)}")
    from tqdm.auto import tqdm

    from hrm_minimal.grader import grade_notebook

    many = len(notebooks) > 1 or any(Path(p).is_dir() for p in args.paths)
    show_tables = len(notebooks) <= 10
    # Every notebook is read before any student's code runs, so none can change another's submission.
    from hrm_minimal.grader import read_notebook

    read = []
    for student, path in notebooks:
        try:
            read.append((student, path, read_notebook(path), None))
        except ValueError as error:
            read.append((student, path, None, error))
    all_ok, everything, records = True, {}, []
    for student, path, nb, error in tqdm(read, desc="grading", unit="notebook", disable=not many, leave=False):
        try:
            if error is not None:
                raise error
            if args.execute:
                from hrm_minimal.grader import find_lesson

                lesson = find_lesson(nb, path, args.lesson)
                results, expected, errors, stopped = run_notebook(path, timeout=int(args.timeout or 120),
                                                                  kernel=args.kernel)
                rows = [(name, status, results.get(name, {}).get("hint", "")) for name, status in
                        grade_table(results, expected)]
                note = f"  ({errors} cell(s) raised{'; stopped early, ' + stopped if stopped else ''})"
                all_ok &= errors == 0 and not stopped
            else:
                grade = grade_notebook(path, lesson=args.lesson, timeout=args.timeout or 60.0, nb=nb, seed=args.seed)
                lesson, rows, note = grade.lesson, [(r.exercise, r.status, r.hint) for r in grade.rows], ""
        except Exception as error:  # one notebook never stops the class
            from hrm_minimal.grader import clean_hint

            why = clean_hint(f"{type(error).__name__}: {error}" if not isinstance(error, ValueError) else str(error))
            print(f"{path}: cannot grade ({why})")
            all_ok = False
            everything[str(path)] = {"student": student, "error": why}
            records.append({"student": student, "notebook": str(path), "lesson": "?", "exercise": "-",
                            "status": CANNOT_GRADE, "hint": why})
            continue
        if show_tables:
            print(format_table(f"{path}{note}", [(name, status) for name, status, _ in rows]))
            for name, status, hint in rows:
                if hint and status != PASSED:
                    print(f"  {name}: {hint}")
            print()
        all_ok &= all(status == PASSED for _, status, _ in rows)
        everything[str(path)] = {"student": student, "lesson": lesson,
                                 "exercises": {name: {"status": status, "hint": hint} for name, status, hint in rows}}
        records += [{"student": student, "notebook": str(path), "lesson": lesson, "exercise": name,
                     "status": status, "hint": hint} for name, status, hint in rows]
    summary = summary_lines(records)
    if many:
        print("\n".join(summary))
    out = Path(args.out) if args.out else (Path("grades") if many else None)
    if out is not None and records:
        out.mkdir(parents=True, exist_ok=True)
        with (out / "gradebook.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
        (out / "summary.md").write_text("\n".join(summary) + "\n", encoding="utf-8")
        print(f"gradebook: {out / 'gradebook.csv'}; summary: {out / 'summary.md'}")
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=2) + "\n", encoding="utf-8")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
