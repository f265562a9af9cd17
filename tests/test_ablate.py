"""The ablation runner: rows per evaluation, finished runs never redone, interrupted grids resumed, a plot."""
from __future__ import annotations

import csv

import pytest

from hrm_minimal import ablate, train as train_module


def _rows(path):
    return list(csv.DictReader(path.open()))


@pytest.mark.slow  # four runs of 2 s of training each
def test_a_grid_writes_its_rows_resumes_and_never_redoes_a_finished_run(tmp_path, monkeypatch, capsys):
    out = tmp_path / "grid"
    args = ["--grid", "smoke", "--task", "sudoku-4x4", "--seeds", "2", "--budget", "2", "--out", str(out)]
    real_train, calls = train_module.train, []

    def interrupted(config):  # the third run is interrupted halfway, as Ctrl-C would
        calls.append(config.out_dir)
        if len(calls) == 3:
            real_train(config.__class__(**{**config.__dict__, "stop_after_steps": 5}))
            raise KeyboardInterrupt
        return real_train(config)

    monkeypatch.setattr(train_module, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ablate.main(args)
    assert len(_rows(out / "ablation.csv")) > 0 and not (ablate.run_folder(out, "sudoku-4x4", "flat", 0) / "done.json").exists()
    calls.clear()
    monkeypatch.setattr(train_module, "train", lambda config: calls.append(config) or real_train(config))
    assert ablate.main(args + ["--plot"]) == 0
    assert [c.resume for c in calls] == [True, False], "the two finished runs are not redone; the stopped one resumes"
    rows = _rows(out / "ablation.csv")
    assert {(r["variant"], r["seed"]) for r in rows} == {("hrm", "0"), ("hrm", "1"), ("flat", "0"), ("flat", "1")}
    assert all(0.0 <= float(r["test_exact_accuracy"]) <= 1.0 and r["segments"] == "4" for r in rows)
    assert (out / "ablation.png").stat().st_size > 0
    assert "sudoku-4x4: final exact accuracy, mean over seeds: hrm" in capsys.readouterr().out


def test_unknown_variants_and_bad_numbers_are_usage_errors(tmp_path):
    for bad in (["--variants", "hrm,deep"], ["--seeds", "0"]):
        with pytest.raises(SystemExit) as stop:
            ablate.main(bad + ["--out", str(tmp_path)])
        assert stop.value.code == 2


def _grid_rows():
    """Two variants x two seeds: hrm reaches 0.8 at 10 s (seed 0) and 30 s (seed 1); flat never does."""
    rows = []
    for variant, seed, curve in (("hrm", 0, [(5, 0.2), (10, 0.8), (15, 0.9)]), ("hrm", 1, [(20, 0.5), (30, 0.85)]),
                                 ("flat", 0, [(10, 0.3)]), ("flat", 1, [(10, 0.79)])):
        for step, (t, exact) in enumerate(curve, start=1):
            rows.append({"grid": "cpu", "task": "sudoku-4x4", "variant": variant, "seed": seed, "step": 50 * step,
                         "train_time_s": float(t), "test_exact_accuracy": exact, "test_accuracy": 0.9, "segments": 4})
    return rows


def test_time_to_and_its_median_over_seeds():
    rows = _grid_rows()
    assert ablate.time_to(rows, "sudoku-4x4", "hrm", 0.8) == [10.0, 30.0]
    assert ablate.time_to(rows, "sudoku-4x4", "flat", 0.8) == [None, None]
    assert ablate.median_time([10.0, 30.0]) == 20.0 and ablate.median_time([None, None]) is None
    assert ablate.median_time([5.0, None, 7.0]) == 7.0  # a run that never got there is the slowest
    assert ablate.median_time([5.0, None, None]) is None and ablate.median_time([]) is None
    assert ablate.median_time([None, 4.0]) is None  # the mean of a time and "never" is never


def test_read_grid_round_trips_and_names_the_line_of_a_bad_row(tmp_path):
    path = tmp_path / "ablation.csv"
    ablate.write_csv(path, _grid_rows())
    back = ablate.read_grid(path)
    assert back == _grid_rows()
    path.write_text(path.read_text().replace("0.85", "lots"))
    with pytest.raises(ValueError, match=r"ablation.csv, line 6"):
        ablate.read_grid(path)
    (tmp_path / "other.csv").write_text("task,seed\nsudoku-4x4,0\n")
    with pytest.raises(ValueError, match="not an ablation.csv"):
        ablate.read_grid(tmp_path / "other.csv")
    with pytest.raises(FileNotFoundError, match="no ablation results"):
        ablate.read_grid(tmp_path / "missing.csv")


def test_the_shipped_grids_hold_every_variant_of_the_cpu_grid_over_three_seeds():
    for task in ("sudoku-4x4", "sudoku-6x6"):
        rows = ablate.shipped_grid(task)
        assert {(r["variant"], r["seed"]) for r in rows} == {(v, s) for v in ablate.GRIDS["cpu"] for s in range(3)}
        assert all(r["task"] == task for r in rows)
    with pytest.raises(ValueError, match="shipped: sudoku-4x4, sudoku-6x6"):
        ablate.shipped_grid("maze-15x15")


def test_draw_grid_draws_a_panel_per_task_and_the_target():
    fig = ablate.draw_grid(_grid_rows(), target=0.8)
    ax = fig.axes[0]
    assert ax.get_title() == "sudoku-4x4" and len(ax.get_legend().get_texts()) == 2
    assert any(list(line.get_ydata()) == [0.8, 0.8] for line in ax.get_lines())


def test_a_finished_run_of_another_budget_is_refused_not_reused(tmp_path):
    folder = ablate.run_folder(tmp_path, "sudoku-4x4", "hrm", 0)
    folder.mkdir(parents=True)
    (folder / "done.json").write_text('{"budget_s": 60.0, "rows": []}')
    assert ablate.run_one(tmp_path, "cpu", "sudoku-4x4", "hrm", 0, 60.0) == []
    with pytest.raises(ValueError, match="budget of 60.0 s, not 120.0 s"):
        ablate.run_one(tmp_path, "cpu", "sudoku-4x4", "hrm", 0, 120.0)
    with pytest.raises(SystemExit) as stop:
        ablate.main(["--task", "sudoku-4x4", "--variants", "hrm", "--seeds", "1", "--budget", "120",
                     "--out", str(tmp_path)])
    assert stop.value.code == 2


def test_the_benchmark_reports_the_median_time_of_each_variant_from_finished_runs(tmp_path, repo_root, capsys):
    import json
    import sys

    sys.path.insert(0, str(repo_root / "benchmarks"))
    try:
        import ablation as bench
    finally:
        sys.path.pop(0)
    reached = {"hrm": [90.0, 120.0, 100.0], "flat": [50.0, None, 60.0], "trm": [None, None, 170.0]}
    for variant, times in reached.items():
        for seed, t in enumerate(times):
            folder = ablate.run_folder(tmp_path, "sudoku-6x6", variant, seed)
            folder.mkdir(parents=True)
            rows = [{"task": "sudoku-6x6", "variant": variant, "seed": seed, "train_time_s": 30.0,
                     "test_exact_accuracy": 0.1}]
            if t is not None:
                rows.append({"task": "sudoku-6x6", "variant": variant, "seed": seed, "train_time_s": t,
                             "test_exact_accuracy": 0.75})
            (folder / "done.json").write_text(json.dumps({"budget_s": 180.0, "rows": rows}))
    assert bench.main(["--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "sudoku-6x6: HRM 100s, flat 60s, TRM not reached to 70% exact"
    assert "not reached, 60 s; median 60 s" in lines[1]


def test_draw_time_to_marks_the_runs_that_never_got_there():
    ax = ablate.draw_time_to(_grid_rows(), "sudoku-4x4", 0.8)
    bars = ax.patches
    assert [round(b.get_height(), 3) for b in bars] == [20.0, 30.0]  # hrm: median 20 s; flat: never, up to the end
    assert bars[0].get_hatch() is None and bars[1].get_hatch() == "//"
    hollow = [line for line in ax.get_lines() if line.get_fillstyle() == "none"]
    assert len(hollow) == 2 and [t.get_text() for t in ax.get_xticklabels()] == ["hrm", "flat"]
