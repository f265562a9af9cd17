"""Named training recipes: the settings of a measured run, by name, as a `TrainConfig`.

    from hrm_minimal.recipes import recipe_config
    cfg = recipe_config("sudoku-4x4", max_steps=600, out_dir="runs/mine")   # changes on top
    train(cfg)

The CPU recipes are the best each task reached in `benchmarks/levers.py` (README, "How fast does
it learn?"; `benchmarks/time_to_accuracy.py` times them). The GPU recipe is lesson 07's bigger run.
"""
from __future__ import annotations

from typing import Any

from .train import TrainConfig

NARROW_MLP = {"expansion": 2.0, "swiglu_multiple": 32}  # SwiGLU width 96 at hidden 64, not the rule's 256
TWO_SEGMENTS = {"halt_max_steps": 2}  # train with 2 segments, read with more (eval_max_steps)

# The 6x6 and 9x9 CPU recipes share their settings and differ only in how often they evaluate.
_CPU_SMALL_SUDOKU = dict(preset="cpu-small", overrides={**NARROW_MLP, **TWO_SEGMENTS}, compile=True,
                         eval_max_steps=16, ema=0.995)
# Mazes train with 1 segment per puzzle and full backpropagation through it: on a CPU every run with
# 2 or 4 training segments stayed at the trivial answer (README). A departure from the paper.
_MAZE = dict(preset="cpu-tiny", overrides={"halt_max_steps": 1, "one_step_grad": False}, loss_type="softmax",
             lr=1e-3, eval_every=250)

RECIPES: dict[str, dict[str, Any]] = {
    # Learned positions for the 1+1-layer model; 20 warm-up steps (a one-minute run has about 1,000);
    # 2 training segments read with 4; the weights averaged with decay 0.99; a constant rate.
    "sudoku-4x4": dict(task="sudoku-4x4", preset="cpu-tiny", overrides={"pos_encodings": "learned", **TWO_SEGMENTS},
                       lr_warmup_steps=20, eval_every=50, eval_max_steps=4, ema=0.99),
    "sudoku-6x6": dict(task="sudoku-6x6", **_CPU_SMALL_SUDOKU, eval_every=200),
    "sudoku-9x9": dict(task="sudoku-9x9", **_CPU_SMALL_SUDOKU, eval_every=1000),
    "maze-11x11": dict(task="maze-11x11", **_MAZE),
    "maze-15x15": dict(task="maze-15x15", **_MAZE),
    # Lesson 07's GPU run: the gpu-small model (hidden 256, 2+2 layers) on 9x9 Sudoku with the CPU
    # recipe's 2 training segments read with 16 and its weight average, batch 256. Sized for about
    # 20 minutes on a Colab T4 (the time budget stops it there); a faster GPU stops at max_steps.
    "sudoku-9x9-gpu": dict(task="sudoku-9x9", preset="gpu-small", overrides=dict(TWO_SEGMENTS), batch_size=256,
                           lr=1e-3, eval_max_steps=16, ema=0.995, eval_every=500, checkpoint_every=250,
                           max_steps=6000, time_budget_s=1200.0),
}


def recipe_config(name: str, **changes: Any) -> TrainConfig:
    """The TrainConfig of recipe `name`, with `changes` (TrainConfig fields) on top; `overrides`
    given here are merged into the recipe's model overrides."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; recipes: {', '.join(sorted(RECIPES))}")
    settings = {**RECIPES[name], "overrides": dict(RECIPES[name].get("overrides", {}))}
    settings["overrides"].update(changes.pop("overrides", {}) or {})
    return TrainConfig(**{**settings, **changes})
