"""The grader: each exercise cell alone, in a fresh process, checked by the grader; a class at once."""
from __future__ import annotations

import csv

import nbformat
import pytest

import grading_gallery
from hrm_minimal import grade, grader

RIGHT = "def count_parameters(model):\n    return sum(p.numel() for p in model.parameters())"
STUB = "def count_parameters(model):\n    # YOUR CODE HERE\n    raise NotImplementedError('Exercise 0.1')"
CHECK = "from hrm_minimal.checks import check_count_parameters\ncount_parameters = check_count_parameters(count_parameters)"


def _notebook(path, *sources, exercises=("0.1",)):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["hrm_course"] = {"lesson": "00_setup", "exercises": list(exercises)}
    nb.cells = [nbformat.v4.new_code_cell(s, id=f"c{i}") for i, s in enumerate(sources)]
    nbformat.write(nb, path)
    return path


# --------------------------------------------------------------------------- the gallery


@pytest.mark.parametrize("name,build,statuses,hints",
                         [pytest.param(*g, marks=[pytest.mark.slow] if g[0] == "infinite loop" else [])
                          for g in grading_gallery.GALLERY], ids=[g[0] for g in grading_gallery.GALLERY])
def test_each_gallery_notebook_gets_its_grade(tmp_path, name, build, statuses, hints):
    result = grader.grade_notebook(build(tmp_path), timeout=3 if name == "infinite loop" else 60, seed=0)
    assert {row.exercise: row.status for row in result.rows} == statuses
    for row in result.rows:
        if row.exercise in hints:
            assert hints[row.exercise] in row.hint, (row.exercise, row.hint)


def test_a_notebook_that_names_no_lesson_needs_one(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('hello')")]
    path = tmp_path / "homework.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="cannot tell which lesson.*--lesson"):
        grader.grade_notebook(path)
    assert grader.grade_notebook(path, lesson="00").rows[0].status == grader.MISSING


@pytest.mark.parametrize("content,message", [(None, "not a notebook file"), ("{not json", "not a readable notebook")])
def test_bad_files_are_named(tmp_path, content, message):
    path = tmp_path / "broken.ipynb"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=message):
        grader.grade_notebook(path)


def test_an_unknown_lesson_is_refused_with_the_list(tmp_path):
    path = _notebook(tmp_path / "a.ipynb", RIGHT)
    with pytest.raises(ValueError, match="unknown lesson '42'; lessons: 00_setup"):
        grader.grade_notebook(path, lesson="42")


# --------------------------------------------------------------------------- the command


def test_grading_a_class_writes_a_gradebook_and_a_summary(tmp_path, capsys):
    # nbgrader's layout: submitted/STUDENT/ASSIGNMENT/NOTEBOOK
    for student, build in (("alice", grading_gallery.solved("01_puzzles_as_sequences")),
                           ("bob", grading_gallery.one_wrong), ("carol", grading_gallery.one_wrong)):
        folder = tmp_path / "submitted" / student / "lesson01"
        folder.mkdir(parents=True)
        build(folder)
    out = tmp_path / "grades"
    assert grade.main([str(tmp_path / "submitted"), "--out", str(out), "--seed", "0"]) == 1
    rows = list(csv.DictReader((out / "gradebook.csv").open()))
    assert {r["student"] for r in rows} == {"alice", "bob", "carol"} and len(rows) == 12
    assert {(r["student"], r["exercise"], r["status"]) for r in rows if r["status"] != "passed"} == {
        ("bob", "1.2", "failed"), ("carol", "1.2", "failed")}
    summary = (out / "summary.md").read_text()
    assert "| 1.2 | 1/3 | failed 2 | some digits are wrong: token t stands for digit t - 1 (2) |" in summary
    assert "| 1.1 | 3/3 | - | - |" in summary
    assert "| 1.2 | 1/3 |" in capsys.readouterr().out


def test_one_notebook_prints_its_table_and_hints(tmp_path, capsys):
    path = grading_gallery.one_wrong(tmp_path)
    assert grade.main([str(path), "--seed", "0"]) == 1
    out = capsys.readouterr().out
    assert "1.2       failed" in out and "3/4 passed" in out and "1.2: some digits are wrong" in out
    assert not (tmp_path / "grades").exists()
    solved = grading_gallery.solved("00_setup")(tmp_path)
    assert grade.main([str(solved), "--json", str(tmp_path / "out.json")]) == 0
    assert '"status": "passed"' in (tmp_path / "out.json").read_text()


def test_a_notebook_that_cannot_be_graded_is_reported_and_the_others_graded(tmp_path, capsys):
    (tmp_path / "broken.ipynb").write_text("{not json")
    grading_gallery.solved("00_setup")(tmp_path)
    assert grade.main([str(tmp_path), "--out", str(tmp_path / "g")]) == 1
    out = capsys.readouterr().out
    assert "broken.ipynb: cannot grade" in out and "| 0.1 | 1/1 |" in out and "| - | 0/1 | cannot grade 1 |" in out


def test_a_folder_without_notebooks_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as stop:
        grade.main([str(tmp_path)])
    assert stop.value.code == 2


def test_grade_table_orders_expected_then_extra():
    results = {"1.2": {"status": "failed"}, "1.9": {"status": "passed"}}
    rows = grade.grade_table(results, ["1.1", "1.2"])
    assert rows == [("1.1", "missing"), ("1.2", "failed"), ("1.9", "passed")]
    table = grade.format_table("nb", rows)
    assert table.splitlines()[-1] == "  1/3 passed"


# --------------------------------------------------------------------------- --execute: the full run


@pytest.mark.slow  # two kernels that import torch: about 10 s on 2 cores
def test_execute_runs_notebooks_and_counts_the_cells_that_raised(tmp_path, capsys):
    done = _notebook(tmp_path / "alice.ipynb", "1 / 0", RIGHT, CHECK)
    stub = _notebook(tmp_path / "bob.ipynb", STUB, CHECK, "print('still running')")
    assert grade.main([str(done), str(stub), "--execute", "--out", str(tmp_path / "grades")]) == 1
    out = capsys.readouterr().out
    alice, bob = out.split("bob.ipynb")[0], out.split("bob.ipynb")[1]
    assert "(1 cell(s) raised)" in alice and "0.1       passed" in alice and "1/1 passed" in alice
    assert "0.1       not done" in bob and "0/1 passed" in bob  # strict mode: the stub is an error


@pytest.mark.slow
def test_execute_exit_status_counts_cells_that_raised_even_when_all_pass(tmp_path, capsys):
    clean = _notebook(tmp_path / "carol.ipynb", RIGHT, CHECK)
    assert grade.main([str(clean), "--execute"]) == 0
    raised = _notebook(tmp_path / "dan.ipynb", RIGHT, CHECK, "1 / 0")
    assert grade.main([str(raised), "--execute"]) == 1
    assert "1/1 passed" in capsys.readouterr().out


@pytest.mark.slow
def test_execute_survives_a_cell_over_the_time_limit(tmp_path, capsys):
    path = _notebook(tmp_path / "dave.ipynb", RIGHT, "import time\ntime.sleep(30)", CHECK)
    assert grade.main([str(path), "--execute", "--timeout", "2"]) == 1
    out = capsys.readouterr().out
    assert "stopped early, CellTimeoutError" in out and "0.1       missing" in out


@pytest.mark.slow  # a benchmark script or a long model run: not in `pytest -m fast`
def test_the_class_benchmark_grades_its_class_right(repo_root, tmp_path):
    import subprocess
    import sys

    run = subprocess.run([sys.executable, str(repo_root / "benchmarks" / "grade_class.py"), "--copies", "5",
                          "--out", str(tmp_path / "class")], capture_output=True, text=True, check=True)
    assert "students with a failed exercise: 2 (expected 2, right)" in run.stdout
    assert run.stdout.strip().splitlines()[-1].endswith("notebooks per minute")


# --------------------------------------------------------------------------- the channel from the child


def _fake_child(behaviour):
    """A stand-in for grader._child that misbehaves on the grader's channel (run in the forked child)."""
    def child(lesson, work, conn, seed):
        import os
        import pickle
        import struct
        import subprocess
        import sys
        import time

        os.setsid()
        first = work[0][0].id
        if behaviour == "forged":  # a result before its exercise started
            grader._send(conn, "result", first, "passed", "")
        elif behaviour == "pickle":  # a pickled object where JSON belongs
            payload = pickle.dumps(("result", first, "passed", ""))
            os.write(conn.fileno(), struct.pack("!i", len(payload)) + payload)
        elif behaviour == "half":  # half a message, then silence
            grader._send(conn, "start", first)
            os.write(conn.fileno(), struct.pack("!i", 100) + b'["res')
            time.sleep(30)
        elif behaviour == "restarts":  # "start" again and again, to reset the time limit
            for _ in range(30):
                grader._send(conn, "start", first)
                time.sleep(1)
        elif behaviour == "exits":
            grader._send(conn, "start", first)
            os._exit(3)
        elif behaviour == "leaves a process":
            grader._send(conn, "start", first)
            subprocess.Popen([sys.executable, "-c", f"import time; time.sleep(2); open({str(LEFT)!r}, 'w')"])
            time.sleep(30)
    return child


LEFT = None


SLOW = pytest.mark.slow  # waits for the grader's timeout: not in `pytest -m fast`


@pytest.mark.parametrize("behaviour,status", [("forged", "tampering"), ("pickle", "tampering"),
                                              pytest.param("half", "timed out", marks=SLOW),
                                              ("restarts", "tampering"), ("exits", "failed"),
                                              pytest.param("leaves a process", "timed out", marks=SLOW)])
def test_the_grader_trusts_nothing_but_well_formed_messages_in_order(tmp_path, monkeypatch, behaviour, status):
    global LEFT
    LEFT = tmp_path / "left-behind"
    monkeypatch.setattr(grader, "_child", _fake_child(behaviour))
    path = grading_gallery.solved("00_setup")(tmp_path)
    start = __import__("time").monotonic()
    result = grader.grade_notebook(path, timeout=2)
    assert [row.status for row in result.rows] == [status]
    assert __import__("time").monotonic() - start < 10, "a child cannot hold the grader past its limits"
    if behaviour == "leaves a process":
        __import__("time").sleep(3)
        assert not LEFT.exists(), "what the child started dies with it"


def test_hints_are_one_short_printable_line():
    row = grader.Row("1.1", "failed", "\x1b[2K\x1b[1Aall passed\n" + "x" * 5000)
    assert row.hint.startswith("all passed xxx") and len(row.hint) == grader.MAX_HINT and "\x1b" not in row.hint
