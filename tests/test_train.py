"""Training loop, checkpoints, resume, evaluation and the command lines."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch

from hrm_minimal import train as train_mod
from hrm_minimal.checkpoint import load_checkpoint
from hrm_minimal.data import load_task
from hrm_minimal.evaluate import evaluate, load_model, main as evaluate_main
from hrm_minimal.model import validate_inputs
from hrm_minimal.train import TrainConfig, main as train_main, train

TINY = dict(task="sudoku-4x4", preset="cpu-tiny", batch_size=16, max_steps=12, eval_every=1000,
            eval_limit=32, checkpoint_every=1000, lr_warmup_steps=3, progress=False, seed=3)


def _tiny(tmp_path, name="run", **kw) -> TrainConfig:
    return TrainConfig(**{**TINY, "out_dir": str(tmp_path / name), **kw})


def _same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_stop_and_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    whole = train(_tiny(tmp_path, "whole", eval_every=4))
    part = train(_tiny(tmp_path, "split", eval_every=4, stop_after_steps=5))
    assert part["step"] == 5
    assert not _same_weights(part["model"].state_dict(), whole["model"].state_dict())
    resumed = train(_tiny(tmp_path, "split", eval_every=4, resume=True))
    assert resumed["step"] == 12
    assert _same_weights(resumed["model"].state_dict(), whole["model"].state_dict())
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in whole["history"]]


def test_an_interrupted_step_is_not_saved_half_done(tmp_path, monkeypatch):
    whole = train(_tiny(tmp_path, "whole", max_steps=8))
    calls = {"n": 0}
    real_loss = train_mod.act_loss

    def interrupt_on_sixth_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(train_mod, "act_loss", interrupt_on_sixth_step)
    with pytest.raises(KeyboardInterrupt):
        train(_tiny(tmp_path, "cut", max_steps=8))
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["step"] == 5
    monkeypatch.setattr(train_mod, "act_loss", real_loss)
    resumed = train(_tiny(tmp_path, "cut", max_steps=8, resume=True))
    assert _same_weights(resumed["model"].state_dict(), whole["model"].state_dict())


def test_checkpoint_holds_everything_needed_and_loads_weights_only(tmp_path):
    train(_tiny(tmp_path, max_steps=3))
    path = tmp_path / "run" / "checkpoint.pt"
    ckpt = torch.load(path, weights_only=True)
    for key in ("model", "optimizer", "model_config", "train_config", "carry", "rng", "step", "batches", "data"):
        assert key in ckpt, key
    assert ckpt["step"] == 3 and ckpt["device"] == "cpu"  # the device "auto" resolved to
    assert set(ckpt["carry"]) >= {"steps", "halted"}
    model, _ = load_model(str(path))
    assert sum(p.numel() for p in model.parameters()) > 0


def test_a_run_refuses_to_overwrite_another_runs_checkpoint(tmp_path):
    train(_tiny(tmp_path, max_steps=2))
    with pytest.raises(FileExistsError, match="--resume.*--overwrite") as refused:
        train(_tiny(tmp_path, max_steps=2))
    assert "another run" not in str(refused.value) and "resume=True (--resume)" not in str(refused.value)
    again = train(_tiny(tmp_path, max_steps=2, overwrite=True, seed=4))
    assert again["step"] == 2


def test_resume_refuses_a_different_config(tmp_path):
    train(_tiny(tmp_path, max_steps=2))
    with pytest.raises(ValueError, match="lr"):
        train(_tiny(tmp_path, max_steps=4, resume=True, lr=1e-2))
    with pytest.raises(ValueError, match="H_cycles"):
        train(_tiny(tmp_path, max_steps=4, resume=True, overrides={"H_cycles": 3}))


def test_resume_accepts_a_checkpoint_made_before_a_model_field_existed(tmp_path):
    train(_tiny(tmp_path, max_steps=2))
    path = tmp_path / "run" / "checkpoint.pt"
    ckpt = load_checkpoint(path)
    del ckpt["model_config"]["act_continue"]  # as written before the field was added
    torch.save(ckpt, path)
    assert train(_tiny(tmp_path, max_steps=3, resume=True))["step"] == 3
    with pytest.raises(ValueError, match="act_continue: True != False"):
        train(_tiny(tmp_path, max_steps=4, resume=True, overrides={"act_continue": False}))


def test_resume_without_a_checkpoint_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(_tiny(tmp_path, resume=True))


def test_loss_is_finite_and_history_is_recorded(tmp_path):
    result = train(_tiny(tmp_path, max_steps=4, eval_every=2))
    assert len(result["history"]) == 4
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in result["history"])
    assert "test_exact_accuracy" in result["history"][1]
    for h in result["history"]:  # the loss's two parts: the answer's and half the Q head's
        assert h["loss"] == pytest.approx(h["lm_loss"] + 0.5 * h["q_loss"], rel=1e-5)
        assert h["q_loss"] > 0


def test_dry_run_prints_the_paper_parameter_count(capsys):
    assert train_main(["--task", "sudoku-9x9", "--preset", "paper", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "parameters: 27,275,266" in out.splitlines()
    assert "device: cpu" in out


def test_cli_rejects_an_unknown_preset_naming_the_choices(capsys):
    assert train_main(["--task", "sudoku-4x4", "--preset", "huge", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "huge" in err and "cpu-tiny" in err and "paper" in err


def test_cli_rejects_a_non_positive_cycle_count(capsys):
    assert train_main(["--task", "sudoku-4x4", "--preset", "cpu-tiny", "--set", "H_cycles=0", "--dry-run"]) == 2
    assert "H_cycles" in capsys.readouterr().err


def test_cli_rejects_an_unknown_task(capsys):
    assert train_main(["--task", "sudoku-5x5", "--dry-run"]) == 2
    assert "sudoku-6x6" in capsys.readouterr().err


def test_validate_inputs_names_the_problem():
    from hrm_minimal.presets import get_preset

    cfg = get_preset("cpu-tiny", vocab_size=6, seq_len=16)
    validate_inputs(torch.ones(2, 16, dtype=torch.long), cfg)
    with pytest.raises(ValueError, match="length 15.*seq_len 16"):
        validate_inputs(torch.ones(2, 15, dtype=torch.long), cfg)
    with pytest.raises(ValueError, match="token id 6.*vocabulary 0..5"):
        validate_inputs(torch.full((2, 16), 6, dtype=torch.long), cfg)
    with pytest.raises(TypeError, match="integer"):
        validate_inputs(torch.ones(2, 16), cfg)


def test_evaluate_reports_every_metric(tmp_path):
    result = train(_tiny(tmp_path, max_steps=3))
    test_set = load_task("sudoku-4x4", "test")
    r = evaluate(result["model"], test_set, batch_size=16, limit=20, progress=False)
    assert r["count"] == 20
    assert len(r["exact_by_segment"]) == result["model_config"].halt_max_steps
    assert 1 <= r["mean_segments"] <= result["model_config"].halt_max_steps
    for key in ("exact_accuracy", "accuracy", "q_halt_accuracy", "exact_at_q_halt", "blank_accuracy"):
        assert 0.0 <= r[key] <= 1.0
    assert r["exact_accuracy"] == r["exact_by_segment"][-1]
    longer = evaluate(result["model"], test_set, batch_size=16, limit=20, max_steps=6, progress=False)
    assert len(longer["exact_by_segment"]) == 6


def test_evaluate_leaves_the_random_state_alone(tmp_path):
    result = train(_tiny(tmp_path, max_steps=2))
    before = torch.get_rng_state()
    evaluate(result["model"], load_task("sudoku-4x4", "test"), batch_size=8, limit=8, progress=False)
    assert torch.equal(before, torch.get_rng_state())


def test_evaluate_cli_prints_the_headline_and_rejects_another_vocabulary(tmp_path, capsys):
    train(_tiny(tmp_path, max_steps=2))
    ckpt = str(tmp_path / "run" / "checkpoint.pt")
    assert evaluate_main([ckpt, "--limit", "16"]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1].startswith("exact accuracy: ")
    assert "exact accuracy by segment" in out and "Q-halt accuracy" in out
    assert evaluate_main([ckpt, "--task", "sudoku-9x9", "--limit", "4"]) == 2
    assert "vocab_size" in capsys.readouterr().err


def test_evaluate_rejects_a_file_that_is_not_a_checkpoint(tmp_path, capsys):
    bogus = tmp_path / "bogus.pt"
    torch.save({"weights": torch.zeros(2)}, bogus)
    assert evaluate_main([str(bogus)]) == 2
    assert "not an hrm_minimal checkpoint" in capsys.readouterr().err


def test_load_model_refuses_another_config(tmp_path):
    from hrm_minimal.presets import get_preset

    train(_tiny(tmp_path, max_steps=1))
    other = get_preset("cpu-tiny", vocab_size=6, seq_len=16, H_cycles=3)
    with pytest.raises(ValueError, match="another model config.*H_cycles"):
        load_model(str(tmp_path / "run" / "checkpoint.pt"), expect=other)


@pytest.mark.slow
def test_train_cli_end_to_end(tmp_path):
    out = tmp_path / "cli"
    cmd = [sys.executable, "-m", "hrm_minimal.train", "--task", "sudoku-4x4", "--preset", "cpu-tiny",
           "--steps", "6", "--eval-every", "3", "--eval-limit", "16", "--out", str(out), "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "test exact accuracy" in done.stdout
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 2 and "--resume" in again.stderr
    resumed = subprocess.run(cmd[:8] + ["8"] + cmd[9:] + ["--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "finished at step 8" in resumed.stdout


def test_a_time_budget_stops_training_and_the_last_step_is_evaluated(tmp_path):
    result = train(_tiny(tmp_path, max_steps=10**6, time_budget_s=1.0))
    assert 0 < result["step"] < 10**6
    assert result["history"][-1]["time_s"] >= 1.0
    assert "test_exact_accuracy" in result["history"][-1]
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"] == result["step"]


def test_eval_max_steps_runs_more_segments_and_may_change_on_resume(tmp_path):
    first = train(_tiny(tmp_path, max_steps=4, eval_every=4, eval_max_steps=6))
    record = first["history"][-1]
    assert len(record["test_exact_by_segment"]) == 6  # cpu-tiny trains with 4 segments, evaluates with 6
    assert record["test_exact_accuracy"] == record["test_exact_by_segment"][-1]
    direct = evaluate(first["model"], load_task("sudoku-4x4", "test"), limit=32, max_steps=6, progress=False)
    assert record["test_exact_by_segment"] == direct["exact_by_segment"]
    # How a run is evaluated does not change its weights, so a resumed run may evaluate otherwise.
    resumed = train(_tiny(tmp_path, max_steps=8, eval_every=4, resume=True))
    assert len(resumed["history"][-1]["test_exact_by_segment"]) == 4  # back to halt_max_steps
    with pytest.raises(ValueError, match="eval_max_steps"):
        _tiny(tmp_path, eval_max_steps=0)
    assert train_mod._parse_args(["--task", "sudoku-4x4", "--eval-max-steps", "16"])[0].eval_max_steps == 16


def test_no_autocast_flag_keeps_float32_and_is_recorded():
    cfg, _ = train_mod._parse_args(["--task", "sudoku-4x4", "--no-autocast"])
    assert cfg.autocast is False and cfg.to_dict()["autocast"] is False
    assert train_mod._parse_args(["--task", "sudoku-4x4"])[0].autocast is True


@pytest.mark.slow
def test_compile_trains_like_eager_and_keeps_the_checkpoint_format(tmp_path):
    eager = train(_tiny(tmp_path, "eager", max_steps=3))
    compiled = train(_tiny(tmp_path, "compiled", max_steps=3, compile=True))
    assert compiled["model"].state_dict().keys() == eager["model"].state_dict().keys()
    losses = [h["loss"] for h in compiled["history"]]
    assert losses == pytest.approx([h["loss"] for h in eager["history"]], rel=1e-4)
    # `compile` only changes how a step runs, so a run may be resumed with or without it.
    resumed = train(_tiny(tmp_path, "compiled", max_steps=4, resume=True))
    assert resumed["step"] == 4
    assert train_mod._parse_args(["--task", "sudoku-4x4", "--compile"])[0].compile is True


def test_levers_apply_each_named_change_on_top_of_the_recipe(repo_root):
    sys.path.insert(0, str(repo_root / "benchmarks"))
    try:
        from levers import VARIANTS, settings_for
        from time_to_accuracy import RECIPES
    finally:
        sys.path.pop(0)
    both = settings_for("sudoku-6x6", "halt-2+lr-4e-3")
    recipe = RECIPES["sudoku-6x6"][0]
    assert both["lr"] == 4e-3 and both["overrides"] == {**recipe.get("overrides", {}), "halt_max_steps": 2}
    assert "eval_every" not in both  # the lever script sets its own evaluation schedule
    assert "max_steps" not in settings_for("sudoku-9x9", "base")  # and its own length (--steps)
    for name in VARIANTS:  # every lever builds a valid configuration
        TrainConfig(**settings_for("sudoku-6x6", name))


def test_time_to_accuracy_set_changes_the_recipe_and_rejects_unknown_fields(repo_root):
    sys.path.insert(0, str(repo_root / "benchmarks"))
    try:
        from time_to_accuracy import RECIPES, with_changes
    finally:
        sys.path.pop(0)
    recipe = RECIPES["sudoku-6x6"][0]
    changed = with_changes(recipe, ["one_step_grad=false", "weight_decay=1.0"])
    assert changed["overrides"] == {**recipe["overrides"], "one_step_grad": False}
    assert changed["weight_decay"] == 1.0 and "weight_decay" not in recipe  # the recipe itself is untouched
    assert recipe["ema"] == 0.995 and with_changes(recipe, ["ema=none"])["ema"] is None  # raw weights
    with pytest.raises(ValueError, match="KEY=VALUE"):
        with_changes(recipe, ["one_step_grad"])
    script = repo_root / "benchmarks" / "time_to_accuracy.py"
    done = subprocess.run([sys.executable, str(script), "--task", "sudoku-6x6", "--set", "H_cycels=3"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "H_cycels" in done.stderr


def test_time_to_accuracy_runs_a_recipe_of_fixed_length_with_its_decay(repo_root, tmp_path):
    sys.path.insert(0, str(repo_root / "benchmarks"))
    try:
        from time_to_accuracy import run_seed
    finally:
        sys.path.pop(0)
    settings = dict(preset="cpu-tiny", overrides={}, eval_every=2, max_steps=4, lr_warmup_steps=0,
                    lr_min_ratio=0.1)
    records = run_seed("sudoku-4x4", 0, budget_s=600, out_dir=tmp_path, settings=settings)
    assert [r["step"] for r in records] == [2, 4]  # stopped by its length, not by the time budget
    assert records[-1]["lr"] < records[0]["lr"]  # the rate decays over those 4 steps


@pytest.mark.slow  # a benchmark script or a long model run: not in `pytest -m fast`
def test_time_to_accuracy_trains_mazes_with_one_segment_and_full_backprop(repo_root, tmp_path):
    sys.path.insert(0, str(repo_root / "benchmarks"))
    try:
        from time_to_accuracy import RECIPES, run_seed
    finally:
        sys.path.pop(0)
    recipe = RECIPES["maze-15x15"][0]
    assert recipe["overrides"] == {"halt_max_steps": 1, "one_step_grad": False}
    assert RECIPES["maze-11x11"][0] == recipe
    records = run_seed("maze-11x11", 0, budget_s=600, out_dir=tmp_path,
                       settings={**recipe, "max_steps": 4, "eval_every": 2})
    assert [r["step"] for r in records] == [2, 4]
    # one segment per maze: every training step's batch halts (so is scored), each test maze is read once
    assert all("train_exact" in r and len(r["test_exact_by_segment"]) == 1 for r in records)


@pytest.mark.slow  # a benchmark script or a long model run: not in `pytest -m fast`
def test_time_to_accuracy_reports_more_test_segments_beside_the_trained_number(repo_root, tmp_path):
    script = repo_root / "benchmarks" / "time_to_accuracy.py"
    out = tmp_path / "curves.csv"
    done = subprocess.run([sys.executable, str(script), "--task", "sudoku-4x4", "--seeds", "1", "--budget", "2",
                           "--eval-segments", "6", "--set", "eval_every=5", "--set", "halt_max_steps=3",
                           "--csv", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert "after 3 segments (as trained)" in done.stdout and "after 6 segments" in lines[-2]
    assert lines[-1].startswith("sudoku-4x4: 99% exact") and "6 test segments" in lines[-1]
    import csv
    rows = list(csv.DictReader(out.open()))
    assert rows and {r["segments"] for r in rows} == {"6"}
    for r in rows:  # every segment's accuracy is kept; the trained count's is the third
        by_segment = [float(x) for x in r["test_exact_by_segment"].split()]
        assert len(by_segment) == 6 and float(r["test_exact_accuracy"]) == pytest.approx(by_segment[-1], abs=1e-4)
        assert float(r["test_exact_trained_segments"]) == pytest.approx(by_segment[2], abs=1e-4)
        assert 0 <= float(r["test_raw_exact_accuracy"]) <= 1  # the recipe averages its weights (ema)
    bad = subprocess.run([sys.executable, str(script), "--task", "sudoku-4x4", "--eval-segments", "0"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "eval_max_steps" in bad.stderr


@pytest.mark.slow  # a benchmark script or a long model run: not in `pytest -m fast`
def test_segments_script_reads_the_test_split_after_every_segment(repo_root, tmp_path):
    script = repo_root / "benchmarks" / "segments.py"
    out = tmp_path / "segments.jsonl"
    done = subprocess.run([sys.executable, str(script), "--task", "sudoku-4x4", "--budget", "1", "--read", "5",
                           "--set", "halt_max_steps=3", "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    import json
    record = json.loads(out.read_text())
    assert record["trained_segments"] == 3 and record["read_segments"] == 5 and record["steps"] > 0
    assert len(record["exact_by_segment"]) == 5 and all(0 <= x <= 1 for x in record["exact_by_segment"])
    last = done.stdout.strip().splitlines()[-1]
    assert last == (f"sudoku-4x4: {record['exact_by_segment'][2]:.1%} exact after the 3 trained segments, "
                    f"{record['exact_by_segment'][4]:.1%} after 5")
    bad = subprocess.run([sys.executable, str(script), "--task", "sudoku-4x4", "--read", "0"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--read" in bad.stderr


@pytest.mark.slow  # a benchmark script or a long model run: not in `pytest -m fast`
def test_run_curves_writes_each_evaluation_with_the_loss_before_it(repo_root, tmp_path):
    run = train(_tiny(tmp_path, "curves", max_steps=8, eval_every=4))
    losses = [h["loss"] for h in run["history"]]
    out = tmp_path / "curves.csv"
    script = repo_root / "benchmarks" / "run_curves.py"
    done = subprocess.run([sys.executable, str(script), str(out), f"tiny={tmp_path / 'curves'}",
                           f"again={run['checkpoint']}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    import csv
    rows = list(csv.DictReader(out.open()))
    assert [(r["run"], int(r["step"])) for r in rows] == [("tiny", 4), ("tiny", 8), ("again", 4), ("again", 8)]
    # the loss column is the mean of the steps up to each evaluation (fewer than 50 here)
    assert float(rows[0]["train_loss_mean_50"]) == pytest.approx(sum(losses[:4]) / 4, abs=1e-4)
    assert float(rows[1]["train_loss_mean_50"]) == pytest.approx(sum(losses) / 8, abs=1e-4)
    assert rows[1]["test_exact_accuracy"] == str(run["history"][-1]["test_exact_accuracy"])
    by_segment = run["history"][-1]["test_exact_by_segment"]
    assert rows[1]["test_exact_by_segment"] == "/".join(str(x) for x in by_segment)
    assert len(by_segment) == run["model_config"].halt_max_steps  # one per segment run
    assert done.stdout.strip().splitlines()[-1].startswith("4 evaluations of 2 runs written to")
    for args, message in [([f"tiny={tmp_path / 'nowhere'}"], "no checkpoint"), (["tiny"], "LABEL=PATH"),
                          ([f"a={run['checkpoint']}", f"a={run['checkpoint']}"], "labels must differ")]:
        bad = subprocess.run([sys.executable, str(script), str(out), *args], capture_output=True, text=True)
        assert bad.returncode == 2 and message in bad.stderr


@pytest.mark.slow  # a benchmark script or a long model run: not in `pytest -m fast`
def test_baseline_script_trains_a_plain_transformer_and_writes_its_curve(repo_root, tmp_path):
    script = repo_root / "benchmarks" / "baseline.py"
    out = tmp_path / "baseline.csv"
    done = subprocess.run([sys.executable, str(script), "--task", "sudoku-4x4", "--layers", "1", "--steps", "60",
                           "--warmup", "10", "--eval-every", "30", "--eval-limit", "50", "--out", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    import csv
    sys.path.insert(0, str(repo_root / "benchmarks"))
    from run_curves import COLUMNS
    rows = list(csv.DictReader(out.open()))
    assert tuple(rows[0]) == COLUMNS  # the columns of run_curves.py, so the two read together
    assert [(r["run"], int(r["step"]), int(r["test_count"])) for r in rows] == [("baseline-1-layers", 30, 50),
                                                                              ("baseline-1-layers", 60, 50)]
    assert float(rows[1]["train_loss_mean_50"]) < float(rows[0]["train_loss_mean_50"])  # it learns
    assert done.stdout.strip().splitlines()[-1] == (
        f"sudoku-4x4 baseline (1 layer): {100 * float(rows[1]['test_exact_accuracy']):.1f}% exact, "
        f"{100 * float(rows[1]['test_accuracy']):.1f}% cells after 60 steps in "
        f"{float(rows[1]['train_time_s']):.0f} s")
    for args, message in [(["--layers", "0"], "--layers"), (["--hidden", "64", "--heads", "3"], "even head size"),
                          (["--eval-limit", "-1"], "--eval-limit")]:
        bad = subprocess.run([sys.executable, str(script), "--task", "sudoku-4x4", *args],
                             capture_output=True, text=True)
        assert bad.returncode == 2 and message in bad.stderr


def test_cpu_bf16_script_swaps_the_trainers_autocast_for_cpu_bf16_and_puts_it_back(repo_root):
    sys.path.insert(0, str(repo_root / "benchmarks"))
    try:
        from cpu_bf16 import cpu_bf16_training
    finally:
        sys.path.pop(0)
    original = train_mod.autocast_context
    with cpu_bf16_training():
        with train_mod.autocast_context(torch.device("cpu")):
            assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
            assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16  # matmuls run in bf16
    assert train_mod.autocast_context is original
    with train_mod.autocast_context(torch.device("cpu")):  # the trainer's own: float32 on a CPU
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


@pytest.mark.slow  # a benchmark script or a long model run: not in `pytest -m fast`
def test_cpu_bf16_script_times_both_arithmetics_and_prints_the_ratio(repo_root):
    script = repo_root / "benchmarks" / "cpu_bf16.py"
    done = subprocess.run([sys.executable, str(script), "--task", "sudoku-4x4", "--steps", "2", "--repeats", "1"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert any(line.startswith("repeat 1: float32 ") for line in lines)
    assert any(line.startswith("repeat 1: bf16 ") for line in lines)
    assert re.fullmatch(r"sudoku-4x4: bf16 autocast [0-9.]+ ms a step against float32 [0-9.]+ ms "
                        r"\(ratio [0-9.]+; mean of 1\)", lines[-1])
    bad = subprocess.run([sys.executable, str(script), "--steps", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--steps" in bad.stderr


def test_a_run_started_from_another_runs_weights_begins_with_them_and_may_change_its_segments(tmp_path):
    first = train(_tiny(tmp_path, "first", max_steps=3))
    # lr 0 moves no weight (weight decay is scaled by it too), so the new run ends where it started
    second = train(_tiny(tmp_path, "second", max_steps=2, lr=0.0, init_from=str(tmp_path / "first"),
                         overrides={"halt_max_steps": 2}))
    assert second["model"].config.halt_max_steps == 2 and first["model"].config.halt_max_steps != 2
    assert second["step"] == 2 and [h["step"] for h in second["history"]] == [1, 2]  # a new run
    assert _same_weights(second["model"].state_dict(), first["model"].state_dict())
    fresh = train(_tiny(tmp_path, "fresh", max_steps=2, lr=0.0, overrides={"halt_max_steps": 2}))
    assert not _same_weights(fresh["model"].state_dict(), first["model"].state_dict())


def test_starting_from_weights_of_another_shape_is_refused_with_their_names(tmp_path):
    train(_tiny(tmp_path, "first", max_steps=1))
    with pytest.raises(ValueError, match="cannot start from .*do not fit.*halt_max_steps"):
        train(_tiny(tmp_path, "wider", max_steps=1, init_from=str(tmp_path / "first"),
                    overrides={"hidden_size": 32, "num_heads": 2}))
    assert train_mod._parse_args(["--init-from", "runs/a"])[0].init_from == "runs/a"


def test_train_step_is_one_segment_its_act_loss_backward_and_one_optimiser_step():
    from hrm_minimal.config import HRMConfig
    from hrm_minimal.losses import act_loss
    from hrm_minimal.model import HRM

    def setup():
        torch.manual_seed(0)
        model = HRM(HRMConfig(vocab_size=6, seq_len=16, hidden_size=16, num_heads=2, H_layers=1, L_layers=1,
                              halt_max_steps=3)).train()
        return model, torch.optim.AdamW(model.parameters(), lr=1e-2)

    g = torch.Generator().manual_seed(0)
    batch = {"inputs": torch.randint(1, 6, (4, 16), generator=g), "labels": torch.randint(2, 6, (4, 16), generator=g)}
    model, opt = setup()
    torch.manual_seed(1)
    carry, metrics = train_mod.train_step(model, model.initial_carry(batch), batch, opt)
    by_hand, opt2 = setup()
    torch.manual_seed(1)
    carry2, out = by_hand(by_hand.initial_carry(batch), batch)
    loss, _ = act_loss(out, carry2.current_data["labels"], halted=carry2.halted, steps=carry2.steps)
    loss.backward()
    opt2.step()
    for (name, a), b in zip(model.named_parameters(), by_hand.parameters()):
        assert torch.equal(a, b), name
        assert a.grad is None, f"{name}: gradients are cleared after the step"
    assert metrics["loss"] == pytest.approx(loss.item())
    assert carry.inner_carry.z_H.grad_fn is None and torch.equal(carry.steps, carry2.steps)


def test_autocast_is_bf16_only_on_gpus_with_bf16_units(monkeypatch):
    from hrm_minimal import utils

    assert utils.autocast_dtype(torch.device("cpu")) is None
    for capability, expected in (((7, 5), None), ((8, 0), torch.bfloat16), ((9, 0), torch.bfloat16)):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None, c=capability: c)
        assert utils.autocast_dtype(torch.device("cuda")) is expected, capability  # (7, 5): Colab's T4


@pytest.mark.parametrize("argv, advice", [([], "the same command plus --resume"),
                                          (["--resume"], "the same command again")])
def test_an_interrupted_command_says_how_to_resume_it(monkeypatch, capsys, argv, advice):
    def stopped(config):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_mod, "train", stopped)
    assert train_main(["--task", "sudoku-4x4"] + argv) == 130
    assert f"resume with {advice}" in capsys.readouterr().err


def test_help_shows_the_defaults(capsys):
    for main in (train_main, evaluate_main):
        with pytest.raises(SystemExit):
            main(["--help"])
        assert "(default: " in capsys.readouterr().out


def test_the_progress_bar_shows_the_last_measured_exact_accuracy_never_nan(tmp_path, capsys):
    train(_tiny(tmp_path, "early", max_steps=2, progress=True))  # no puzzle halts before its 4th segment
    bar = capsys.readouterr().err
    assert "loss=" in bar and "nan" not in bar and "exact=" not in bar
    train(_tiny(tmp_path, "later", max_steps=6, progress=True))
    bar = capsys.readouterr().err.split("\r")[-1]  # the bar's last drawing
    assert "exact=" in bar and "nan" not in bar


def test_recipe_on_the_command_line_is_the_named_recipe_with_the_options_given_on_top():
    from hrm_minimal.recipes import recipe_config

    cfg, _ = train_mod._parse_args(["--recipe", "sudoku-4x4"])
    assert cfg == recipe_config("sudoku-4x4")  # nothing of the command line's own defaults leaks in
    cfg, _ = train_mod._parse_args(["--recipe", "sudoku-4x4", "--steps", "800", "--lr", "2e-3", "--set", "H_cycles=3"])
    assert cfg == recipe_config("sudoku-4x4", max_steps=800, lr=2e-3, overrides={"H_cycles": 3})
    assert cfg.overrides["pos_encodings"] == "learned" and cfg.ema == 0.99  # the recipe's own settings stay
    assert train_mod._parse_args(["--recipe", "sudoku-6x6", "--eval-limit", "0"])[0].eval_limit is None
    moved = train_mod._parse_args(["--recipe", "paper-sudoku-extreme-1k", "--data", "/big/disk/sx-1k"])[0]
    assert (moved.data, moved.task) == ("/big/disk/sx-1k", None)  # the recipe's data, built elsewhere


@pytest.mark.parametrize("argv, message", [(["--recipe", "sudoku-5x5"], "unknown recipe 'sudoku-5x5'"),
                                           (["--recipe", "sudoku-4x4", "--task", "sudoku-6x6"], "not allowed with")])
def test_a_bad_recipe_is_a_usage_error(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        train_mod._parse_args(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err
