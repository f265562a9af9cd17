"""Named training recipes: the settings of a measured run, by name, as a `TrainConfig`.

    from hrm_minimal.recipes import recipe_config
    cfg = recipe_config("sudoku-4x4", max_steps=600, out_dir="runs/mine")   # changes on top
    train(cfg)

The CPU recipes are the best each task reached in `benchmarks/levers.py` (README, "How fast does
it learn?"; `benchmarks/time_to_accuracy.py` times them). The GPU recipe is lesson 07's bigger run.
The `paper-*` recipes are the reference's own runs (`sapientinc/HRM` README and config/cfg_pretrain.yaml)
on the real data sets, built with `python -m hrm_minimal.data prepare` (docs/reproduce.md).
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

# The reference's runs on its 1k data sets (config/cfg_pretrain.yaml with the README's overrides): the
# 27M model, AdamATan2 (betas 0.9/0.95), weight decay 1.0 on the weights and the puzzle embedding,
# the embedding's sign-SGD at the same rate, 2,000 warm-up steps then a constant rate, stablemax
# loss, 16 segments with exploration 0.1, evaluated after all 16 on the whole test split.
# `max_steps` is the reference's epochs * puzzles / global batch: 20,000 * 1,000 / 768 = 26,041
# (52,083 at batch 384); it evaluates every 2,000 epochs (every 2,604 and 5,208 steps).
_PAPER = dict(task=None, preset="paper", optimizer="adam_atan2", betas=(0.9, 0.95), weight_decay=1.0,
              puzzle_emb_weight_decay=1.0, lr_warmup_steps=2000, lr_min_ratio=1.0, loss_type="stablemax",
              eval_limit=None, checkpoint_every=500)
PAPER_EPOCHS, PAPER_EVAL_EPOCHS, PAPER_PUZZLES = 20_000, 2_000, 1_000
# What each recipe's data folder holds once built (`--dry-run` describes a recipe before it is):
# the data set to fetch and prepare, vocabulary, sequence length.
PAPER_DATA = {"data/sudoku-extreme-1k": ("sudoku-extreme", 11, 81),
              "data/maze-30x30-hard-1k": ("maze-30x30-hard-1k", 6, 900)}


def _paper(data: str, batch_size: int, lr: float) -> dict[str, Any]:
    steps = PAPER_EPOCHS * PAPER_PUZZLES // batch_size
    return dict(_PAPER, data=data, batch_size=batch_size, lr=lr, puzzle_emb_lr=lr, max_steps=steps,
                eval_every=PAPER_EVAL_EPOCHS * PAPER_PUZZLES // batch_size)


RECIPES.update({
    # Sudoku-Extreme 1k on 8 GPUs (global batch 768, rate 1e-4); about 10 minutes in the reference's README.
    "paper-sudoku-extreme-1k": _paper("data/sudoku-extreme-1k", 768, 1e-4),
    # The reference README's one-GPU variant (batch 384, rate 7e-5); about 10 hours on an RTX 4070 laptop.
    "paper-sudoku-extreme-1k-1gpu": _paper("data/sudoku-extreme-1k", 384, 7e-5),
    # Maze-Hard 30x30 1k (global batch 768, rate 1e-4); about an hour on 8 GPUs.
    "paper-maze-hard-1k": _paper("data/maze-30x30-hard-1k", 768, 1e-4),
    # One GPU by analogy with the Sudoku variant (the reference's README gives it for Sudoku only).
    "paper-maze-hard-1k-1gpu": _paper("data/maze-30x30-hard-1k", 384, 7e-5),
})


def recipe_config(name: str, **changes: Any) -> TrainConfig:
    """The TrainConfig of recipe `name`, with `changes` (TrainConfig fields) on top; `overrides`
    given here are merged into the recipe's model overrides."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; recipes: {', '.join(sorted(RECIPES))}")
    settings = {**RECIPES[name], "overrides": dict(RECIPES[name].get("overrides", {}))}
    settings["overrides"].update(changes.pop("overrides", {}) or {})
    return TrainConfig(**{**settings, **changes})
