"""Grade students' notebooks: `python -m hrm_minimal.grade NOTEBOOK [NOTEBOOK ...]`.

Each notebook runs top to bottom on a fresh kernel (its own folder as working directory) with
HRM_STRICT=1, so every checker that sees an unfinished or wrong exercise raises; execution goes on
after a failing cell. The checkers write their results to a file named by HRM_RESULTS_FILE, and this
command prints one table per notebook plus a summary. Exit status 1 if any exercise did not pass.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from hrm_minimal.checks import PASSED, RESULTS_ENV, STRICT_ENV

MISSING = "missing"  # the notebook never ran the exercise's checker
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
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    if not path.is_file() or path.suffix != ".ipynb":
        raise ValueError(f"not a notebook file: {path}")
    nb = nbformat.read(path, as_version=4)
    expected = [str(e) for e in nb.metadata.get("hrm_course", {}).get("exercises", [])]
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Grade course notebooks (strict checkers).")
    parser.add_argument("notebooks", nargs="+", help="student notebooks (.ipynb)")
    parser.add_argument("--timeout", type=int, default=120, help="seconds allowed per cell (default 120)")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel to run them with (default python3)")
    parser.add_argument("--json", metavar="FILE", help="also write all results to this JSON file")
    args = parser.parse_args(argv)
    all_ok, everything = True, {}
    for name in args.notebooks:
        try:
            results, expected, errors, stopped = run_notebook(Path(name), timeout=args.timeout, kernel=args.kernel)
        except ValueError as error:
            print(f"{name}: cannot grade ({error})\n")
            all_ok = False
            everything[name] = {"error": str(error)}
            continue
        rows = grade_table(results, expected)
        note = f"; stopped early, {stopped}" if stopped else ""
        print(format_table(f"{name}  ({errors} cell(s) raised{note})", rows))
        print()
        all_ok &= all(status == PASSED for _, status in rows)
        everything[name] = {"exercises": dict(rows), "cells_raised": errors, "stopped": stopped}
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=2) + "\n", encoding="utf-8")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
