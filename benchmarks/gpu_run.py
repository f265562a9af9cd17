"""Lesson 07's GPU run (recipe `sudoku-9x9-gpu`): time per step, FLOPs per step, accuracy over a budget.

    python benchmarks/gpu_run.py [--budget SECONDS] [--steps N] [--set KEY=VALUE] [--out DIR] [--flops]

Trains the recipe (hrm_minimal/recipes.py) on the best device there is for `--budget` seconds of
training time (default: the recipe's 20 minutes) or `--steps` steps, evaluating 500 test puzzles
read with 16 segments every `eval_every` steps, and prints each evaluation. `--set` changes a
training setting (lr=3e-4) or a model field (halt_max_steps=8). `--flops` first counts the
floating-point operations of one training step (torch.utils.flop_counter: matrix products and
attention, the extra no-grad segment of the Q target included) and prints the time per step a
GPU would need at a few sustained rates, to size the recipe for a GPU you do not have.
The run folder is `--out` (default runs/gpu_run). Last line: the headline.
"""
from __future__ import annotations

import argparse
import time

import torch

from hrm_minimal.data import TrainBatches, load_task
from hrm_minimal.model import HRM
from hrm_minimal.presets import get_preset
from hrm_minimal.recipes import RECIPES, recipe_config
from hrm_minimal.train import TrainConfig, make_optimizers, parse_value, train, train_step
from hrm_minimal.utils import autocast_dtype, get_device

RECIPE = "sudoku-9x9-gpu"


def step_flops(cfg: TrainConfig) -> int:
    """FLOPs of one training step of `cfg` (counted on the CPU: the count does not depend on the device)."""
    from torch.utils.flop_counter import FlopCounterMode

    puzzles = load_task(cfg.task, "train")
    model = HRM(get_preset(cfg.preset, vocab_size=puzzles.vocab_size, seq_len=puzzles.seq_len, **cfg.overrides))
    opt, emb_opt = make_optimizers(model, cfg)
    inputs, labels = next(TrainBatches(puzzles, cfg.batch_size, augment=True, seed=0))
    batch = {"inputs": inputs, "labels": labels}
    carry = model.initial_carry(batch)
    carry, _ = train_step(model, carry, batch, opt, emb_opt)  # the first step loads every slot
    with FlopCounterMode(display=False) as counter:
        train_step(model, carry, batch, opt, emb_opt)
    return counter.get_total_flops()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=None, help="seconds of training (default: the recipe's)")
    p.add_argument("--steps", type=int, default=None, help="steps (default: the recipe's)")
    p.add_argument("--set", dest="changes", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", default="runs/gpu_run", help="run folder (replaced)")
    p.add_argument("--flops", action="store_true", help="count one step's FLOPs first")
    a = p.parse_args()
    changes, overrides = {}, {}
    for item in a.changes:
        key, _, value = item.partition("=")
        (changes if key in TrainConfig.__dataclass_fields__ else overrides)[key.strip()] = parse_value(value.strip())
    if a.budget is not None:
        changes["time_budget_s"] = a.budget
    if a.steps is not None:
        changes["max_steps"] = a.steps
    cfg = recipe_config(RECIPE, out_dir=a.out, overwrite=True, progress=False, overrides=overrides, **changes)
    device = get_device(cfg.device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else str(device)
    precision = "bf16" if autocast_dtype(device) is not None else "float32"
    print(f"{RECIPE} on {name} ({precision}); "
          f"settings: {RECIPES[RECIPE]} with {changes} {overrides}")
    if a.flops:
        flops = step_flops(cfg)
        print(f"one training step: {flops / 1e12:.3f} TFLOP; at a sustained 4 / 8 / 20 TFLOP/s: "
              + " / ".join(f"{flops / r / 1e12 * 1000:.0f} ms" for r in (4, 8, 20)) + " a step")
    start = time.perf_counter()
    result = train(cfg)
    wall = time.perf_counter() - start
    evaluated = [h for h in result["history"] if "test_exact_accuracy" in h]
    for h in evaluated:
        print(f"step {h['step']:>6}  training {h['time_s']:7.1f} s  exact {h['test_exact_accuracy']:.3f}  "
              f"cells {h['test_accuracy']:.3f}  read with {len(h['test_exact_by_segment'])}")
    last = result["history"][-1]
    per_step = last["time_s"] / max(result["step"], 1)
    print(f"{RECIPE}: {evaluated[-1]['test_exact_accuracy']:.1%} exact ({evaluated[-1]['test_count']} test puzzles, 16 segments) after "
          f"{result['step']} steps, {per_step * 1000:.1f} ms a step on {name} (wall {wall:.0f} s)")


if __name__ == "__main__":
    main()
