"""Presets: names, the paper size, small CPU sizes, overrides and errors."""
from __future__ import annotations

import pytest
import torch

from hrm_minimal.config import HRMConfig
from hrm_minimal.model import HRM, count_parameters
from hrm_minimal.presets import PRESETS, get_preset


def test_every_preset_builds_a_valid_config():
    assert {"paper", "cpu-tiny", "cpu-small"} <= set(PRESETS)
    for name in PRESETS:
        cfg = get_preset(name, vocab_size=11, seq_len=81)
        assert isinstance(cfg, HRMConfig) and cfg.vocab_size == 11 and cfg.seq_len == 81
        assert cfg.puzzle_emb_ndim == cfg.hidden_size and cfg.one_step_grad


def test_paper_preset_is_the_reference_model():
    cfg = get_preset("paper", 11, 81)
    assert (cfg.hidden_size, cfg.num_heads, cfg.expansion, cfg.H_layers, cfg.L_layers) == (512, 8, 4.0, 4, 4)
    assert (cfg.H_cycles, cfg.L_cycles, cfg.halt_max_steps, cfg.halt_exploration_prob) == (2, 2, 16, 0.1)
    with torch.device("meta"):
        assert count_parameters(HRM(cfg)) == 27_275_266


def test_cpu_presets_are_small():
    tiny, small = get_preset("cpu-tiny", 6, 36), get_preset("cpu-small", 6, 36)
    assert tiny.hidden_size == 64 and tiny.H_layers == tiny.L_layers == 1
    assert (tiny.H_cycles, tiny.L_cycles, tiny.halt_max_steps) == (2, 2, 4)
    assert 64 <= small.hidden_size <= 128 and small.H_layers == small.L_layers == 2
    assert 4 <= small.halt_max_steps <= 8
    n_tiny, n_small = count_parameters(HRM(tiny)), count_parameters(HRM(small))
    assert n_tiny < 200_000 and n_tiny < n_small < 2_000_000


def test_overrides_and_name_spellings():
    cfg = get_preset("cpu_tiny", 6, 36, halt_max_steps=8, one_step_grad=False)
    assert cfg.halt_max_steps == 8 and not cfg.one_step_grad
    assert get_preset("CPU-Tiny", 6, 36) == get_preset("cpu-tiny", 6, 36)
    assert get_preset("cpu-tiny", 6, 36, hidden_size=128).puzzle_emb_ndim == 128


def test_unknown_names_and_fields():
    with pytest.raises(ValueError, match="cpu-tiny") as info:
        get_preset("huge", 11, 81)
    assert "paper" in str(info.value)  # the message lists the valid names
    with pytest.raises(ValueError, match="hidden"):
        get_preset("paper", 11, 81, hidden=3)
    with pytest.raises(ValueError, match="H_cycles"):
        get_preset("paper", 11, 81, H_cycles=0)


def test_recipes_build_train_configs_with_changes_on_top():
    from hrm_minimal.recipes import RECIPES, recipe_config
    from hrm_minimal.train import TrainConfig

    for name in RECIPES:
        assert isinstance(recipe_config(name), TrainConfig)
    cfg = recipe_config("sudoku-4x4", max_steps=600, overrides={"H_cycles": 3})
    assert cfg.task == "sudoku-4x4" and cfg.max_steps == 600 and cfg.ema == 0.99
    assert cfg.overrides == {"pos_encodings": "learned", "halt_max_steps": 2, "H_cycles": 3}
    assert RECIPES["sudoku-4x4"]["overrides"] == {"pos_encodings": "learned", "halt_max_steps": 2}  # untouched
    gpu = recipe_config("sudoku-9x9-gpu")
    assert (gpu.task, gpu.preset, gpu.eval_max_steps, gpu.time_budget_s) == ("sudoku-9x9", "gpu-small", 16, 1200.0)
    with pytest.raises(ValueError, match="unknown recipe 'sudoku-5x5'; recipes: maze-11x11"):
        recipe_config("sudoku-5x5")


def test_the_timing_benchmark_reads_the_packages_recipes(repo_root):
    import sys

    from hrm_minimal.recipes import RECIPES

    sys.path.insert(0, str(repo_root / "benchmarks"))
    try:
        from time_to_accuracy import RECIPES as TIMED
    finally:
        sys.path.remove(str(repo_root / "benchmarks"))
    for task, (settings, _, _) in TIMED.items():
        assert {**settings, "task": task} == RECIPES[task]
