"""Segments: train a task's recipe for a time budget, then read the test split after each segment.

    python benchmarks/segments.py --task sudoku-6x6 [--budget 180] [--seed 0] [--read 32]
                                  [--set halt_max_steps=4] [--out segments.jsonl]

How many segments to train with (`halt_max_steps`) and how many to read with (the paper's
inference-time scaling) are two different choices; this script shows both at once. It trains the
recipe of `time_to_accuracy.py` (with any `--set` changes) for `--budget` seconds of training time,
with no evaluation on the way, then runs every test puzzle for `--read` segments and prints the
exact accuracy after 1, 2, 4, 8, ... of them. One JSON line per run goes to `--out`. The last line
is the headline: the exact accuracy after the trained number of segments and after `--read`.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from time_to_accuracy import RECIPES, with_changes  # noqa: E402

from hrm_minimal.data import load_task  # noqa: E402
from hrm_minimal.evaluate import evaluate  # noqa: E402
from hrm_minimal.train import TrainConfig, train  # noqa: E402


def run(task: str, budget_s: float, seed: int, changes: list[str], read: int) -> dict:
    """Train the recipe with `changes` for `budget_s` s, then read the test split for `read` segments."""
    settings = with_changes(RECIPES[task][0], changes)
    settings = {"max_steps": 10**7, **settings, "eval_every": 10**7}  # no evaluation while training
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(task=task, seed=seed, time_budget_s=budget_s, eval_limit=1, checkpoint_every=10**7,
                          out_dir=str(Path(tmp) / "run"), progress=False, **settings)
        result = train(cfg)
    model = result["model"]
    scores = evaluate(model, load_task(task, "test"), max_steps=read, progress=False)
    return {"task": task, "seed": seed, "changes": changes, "steps": result["step"],
            "train_time_s": result["history"][-1]["time_s"], "trained_segments": model.config.halt_max_steps,
            "read_segments": read, "exact_by_segment": scores["exact_by_segment"], "cells": scores["accuracy"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", required=True, choices=sorted(RECIPES))
    p.add_argument("--budget", type=float, default=180.0, help="training seconds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--read", type=int, default=32, help="segments per test puzzle to read after")
    p.add_argument("--set", dest="changes", action="append", default=[], metavar="KEY=VALUE",
                   help="change the recipe, as in time_to_accuracy.py (repeatable)")
    p.add_argument("--out", default="segments.jsonl")
    a = p.parse_args()
    if a.read < 1:
        p.error(f"--read must be a positive number of segments, got {a.read}")
    try:
        with_changes(RECIPES[a.task][0], a.changes)
    except ValueError as exc:
        p.error(str(exc))
    record = run(a.task, a.budget, a.seed, a.changes, a.read)
    with open(a.out, "a") as f:
        f.write(json.dumps(record) + "\n")
    exact = record["exact_by_segment"]
    shown = sorted({k for k in (1, 2, 4, 8, 16, 32, 64) if k <= a.read} | {a.read})
    print(f"{a.task} seed {a.seed} {' '.join(a.changes) or '(the recipe)'}: {record['steps']} steps in "
          f"{record['train_time_s']:.0f} s, trained with {record['trained_segments']} segments")
    print("exact after " + ", ".join(f"{k}: {exact[k - 1]:.1%}" for k in shown))
    trained = min(record["trained_segments"], a.read)
    print(f"{a.task}: {exact[trained - 1]:.1%} exact after the {trained} trained segments, "
          f"{exact[-1]:.1%} after {a.read}")


if __name__ == "__main__":
    main()
