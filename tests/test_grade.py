"""The grading command runs notebooks strictly, keeps going after errors and tabulates exercises."""
from __future__ import annotations

import nbformat
import pytest

from hrm_minimal import grade

RIGHT = "def count_parameters(model):\n    return sum(p.numel() for p in model.parameters())"
STUB = "def count_parameters(model):\n    # YOUR CODE HERE\n    raise NotImplementedError('Exercise 0.1')"
CHECK = "from hrm_minimal.checks import check_count_parameters\ncount_parameters = check_count_parameters(count_parameters)"


def _notebook(path, *sources, exercises=("0.1",)):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["hrm_course"] = {"lesson": path.stem, "exercises": list(exercises)}
    nb.cells = [nbformat.v4.new_code_cell(s, id=f"c{i}") for i, s in enumerate(sources)]
    nbformat.write(nb, path)
    return path


@pytest.mark.slow  # two kernels that import torch: about 10 s on 2 cores
def test_grade_tables_several_notebooks_and_continues_after_errors(tmp_path, capsys):
    done = _notebook(tmp_path / "alice.ipynb", "1 / 0", RIGHT, CHECK, exercises=("0.1", "0.2"))
    stub = _notebook(tmp_path / "bob.ipynb", STUB, CHECK, "print('still running')")
    assert grade.main([str(done), str(stub)]) == 1
    out = capsys.readouterr().out
    alice, bob = out.split("bob.ipynb")
    assert "(1 cell(s) raised)" in alice  # 1 / 0 failed, and the cells after it still ran
    assert "0.1       passed" in alice and "0.2       missing" in alice and "1/2 passed" in alice
    assert "0.1       not done" in bob and "0/1 passed" in bob  # strict mode: the stub is an error


@pytest.mark.slow
def test_grade_exit_status_zero_when_all_pass(tmp_path, capsys):
    path = _notebook(tmp_path / "carol.ipynb", RIGHT, CHECK)
    assert grade.main([str(path), "--json", str(tmp_path / "out.json")]) == 0
    assert "1/1 passed" in capsys.readouterr().out
    assert '"0.1": "passed"' in (tmp_path / "out.json").read_text()


def test_grade_table_orders_expected_then_extra():
    results = {"1.2": {"status": "failed"}, "1.9": {"status": "passed"}}
    rows = grade.grade_table(results, ["1.1", "1.2"])
    assert rows == [("1.1", "missing"), ("1.2", "failed"), ("1.9", "passed")]
    table = grade.format_table("nb", rows)
    assert table.splitlines()[-1] == "  1/3 passed"


def test_grade_rejects_a_path_that_is_not_a_notebook(tmp_path):
    with pytest.raises(ValueError, match="not a notebook"):
        grade.run_notebook(tmp_path / "missing.ipynb")


@pytest.mark.slow
def test_grade_survives_a_cell_over_the_time_limit(tmp_path, capsys):
    path = _notebook(tmp_path / "dave.ipynb", RIGHT, "import time\ntime.sleep(30)", CHECK)
    assert grade.main([str(path), "--timeout", "2"]) == 1
    out = capsys.readouterr().out
    assert "stopped early, CellTimeoutError" in out and "0.1       missing" in out
