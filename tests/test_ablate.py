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
