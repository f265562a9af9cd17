"""The path to the paper's runs (docs/reproduce.md): its recipes, a built data folder from training to
evaluation, the reference's reading and the ACT-halted one, several seeds summarised, Colab helpers."""
from __future__ import annotations

import re

import pytest

from hrm_minimal.data import build_paper_data, datasets_dir
from hrm_minimal.evaluate import main as evaluate_main
from hrm_minimal.recipes import RECIPES, recipe_config
from hrm_minimal.train import main as train_main


@pytest.mark.parametrize("name,batch,lr,steps,every", [
    ("paper-sudoku-extreme-1k", 768, 1e-4, 26_041, 2_604),
    ("paper-sudoku-extreme-1k-1gpu", 384, 7e-5, 52_083, 5_208),
    ("paper-maze-hard-1k", 768, 1e-4, 26_041, 2_604)])
def test_the_paper_recipes_are_the_references_runs(name, batch, lr, steps, every):
    cfg = recipe_config(name)
    assert (cfg.preset, cfg.optimizer, cfg.betas, cfg.weight_decay, cfg.puzzle_emb_weight_decay) == \
        ("paper", "adam_atan2", (0.9, 0.95), 1.0, 1.0)
    assert (cfg.batch_size, cfg.lr, cfg.puzzle_emb_lr, cfg.lr_warmup_steps, cfg.lr_min_ratio) == (batch, lr, lr, 2000, 1.0)
    assert (cfg.max_steps, cfg.eval_every, cfg.eval_limit, cfg.eval_max_steps) == (steps, every, None, None)
    assert cfg.loss_type == "stablemax" and cfg.overrides == {} and cfg.task is None


def test_dry_run_describes_a_paper_recipe_before_its_data_is_built(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no data/ here
    assert train_main(["--recipe", "paper-sudoku-extreme-1k-1gpu", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "data/sudoku-extreme-1k is not built yet (python -m hrm_minimal.data fetch sudoku-extreme" in out
    assert "optimiser: adam_atan2 at 7e-05, betas (0.9, 0.95), weight decay 1; 2,000 warm-up steps, then constant" in out
    assert "steps: 52,083 of a global batch of 384 (20,000 passes over 1,000 training puzzles)" in out
    assert "on the whole test split" in out and "parameters: 27,275,266" in out.splitlines()
    assert train_main(["--recipe", "paper-maze-hard-1k", "--dry-run"]) == 0
    assert '"seq_len": 900' in capsys.readouterr().out


def _built(tmp_path):
    """A Sudoku-Extreme-shaped folder made from the shipped 9x9 puzzles (same format, 81 cells)."""
    source = tmp_path / "raw"
    source.mkdir()
    for split in ("train", "test"):
        lines = (datasets_dir() / f"sudoku-9x9-{split}.csv").read_text().splitlines()
        (source / f"{split}.csv").write_text("\n".join(lines[:41]) + "\n")  # header + 40 puzzles
    return build_paper_data("sudoku-extreme", source, tmp_path / "sudoku-extreme-1k", subsample=24, seed=1)


def test_a_paper_recipe_trains_on_a_built_folder_and_is_read_on_its_test_split(tmp_path, capsys):
    folder = _built(tmp_path)
    run = tmp_path / "run"
    assert train_main(["--recipe", "paper-sudoku-extreme-1k", "--data", str(folder), "--preset", "cpu-tiny",
                       "--batch-size", "8", "--steps", "2", "--eval-limit", "8", "--no-progress",
                       "--device", "cpu", "--out", str(run)]) == 0
    assert "test exact accuracy" in capsys.readouterr().out  # evaluated on the folder's test split
    # The evaluation finds the run's data folder from its checkpoint, as the reference reports: all segments.
    assert evaluate_main([str(run), "--limit", "8", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "data: sudoku-extreme-24 (test), 8 puzzles, 4 segments each" in out  # cpu-tiny: 4 segments
    assert out.splitlines()[-1].startswith("exact accuracy: ")


def test_several_models_are_read_then_summarised_and_the_q_halt_reading_is_a_choice(capsys):
    names = ["sudoku-6x6", "sudoku-6x6-four-segments"]
    assert evaluate_main(names + ["--limit", "60", "--device", "cpu", "--reading", "q-halt"]) == 0
    out = capsys.readouterr().out
    halted = [float(x) for x in re.findall(r"^exact accuracy where the Q head halts: ([\d.]+)$", out, re.M)]
    there = [float(x) for x in re.findall(r"exact there ([\d.]+);", out)]
    assert len(halted) == 2 and halted == there  # the headline is the Q head's reading
    summary = out.strip().splitlines()[-1]
    mean = float(re.search(r"mean ([\d.]+)", summary).group(1))
    assert summary.startswith("2 models: exact accuracy mean") and mean == pytest.approx(sum(halted) / 2, abs=1e-4)
    assert f"min {min(halted):.4f}, max {max(halted):.4f}" in summary
    assert out.count("== sudoku-6x6") == 2  # each model's block is named


def test_the_drive_helper_says_it_needs_colab_and_resume_is_wanted_only_with_a_checkpoint(tmp_path):
    from hrm_minimal.colab import drive_folder, resume_wanted

    with pytest.raises(RuntimeError, match="Colab only"):
        drive_folder("runs/x")
    assert not resume_wanted(tmp_path)
    (tmp_path / "checkpoint.pt").write_bytes(b"x")
    assert resume_wanted(tmp_path)


def test_every_recipe_names_data_that_a_command_can_provide():
    from hrm_minimal.data import list_tasks
    from hrm_minimal.recipes import PAPER_DATA

    for name, settings in RECIPES.items():
        assert settings.get("task") in list_tasks() or settings.get("data") in PAPER_DATA, name
