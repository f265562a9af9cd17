"""Grading a class: `python -m hrm_minimal.grade` over N copies of lesson 01, notebooks per minute.

    python benchmarks/grade_class.py [--copies 100] [--out runs/grade_class]

Writes N student folders in nbgrader's layout (`submitted/studentK/lesson01/`) under --out, every
fourth one with a wrong Exercise 1.2 and the rest solved, then times the grading command as an
instructor runs it (a new process, imports included) and checks its gradebook. Last line: the headline.
"""
from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import grading_gallery  # noqa: E402  (the test gallery's notebooks)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--copies", type=int, default=100)
    p.add_argument("--out", default="runs/grade_class", help="folder for the class and its grades (replaced)")
    a = p.parse_args()
    out = Path(a.out)
    shutil.rmtree(out, ignore_errors=True)
    for k in range(a.copies):
        folder = out / "submitted" / f"student{k:03d}" / "lesson01"
        folder.mkdir(parents=True)
        (grading_gallery.one_wrong if k % 4 == 0 else grading_gallery.solved("01_puzzles_as_sequences"))(folder)
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "hrm_minimal.grade", str(out / "submitted"), "--out", str(out / "grades")],
                         capture_output=True, text=True)
    seconds = time.perf_counter() - start
    rows = list(csv.DictReader((out / "grades" / "gradebook.csv").open()))
    failed = {r["student"] for r in rows if r["status"] != "passed"}
    expected = {f"student{k:03d}" for k in range(0, a.copies, 4)}
    print(run.stdout.strip().splitlines()[-1])
    print(f"gradebook: {len(rows)} rows; students with a failed exercise: {len(failed)} (expected {len(expected)}, "
          f"{'right' if failed == expected else 'WRONG'})")
    print(f"{a.copies} notebooks of lesson 01 graded in {seconds:.1f} s: {a.copies / seconds * 60:.0f} notebooks per minute")


if __name__ == "__main__":
    main()
