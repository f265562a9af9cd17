"""Levers: change one training setting at a time and see how much each run learns per step.

    python benchmarks/levers.py --task sudoku-6x6 --steps 3000 [--only base,softmax] [--jobs 4]
                                [--device cuda] [--out levers.jsonl]
    python benchmarks/levers.py --task sudoku-6x6 --step-cost       # ms per step on this machine

Every variant is the task's recipe (`time_to_accuracy.RECIPES`) with ONE change. A run trains for
`--steps` steps and evaluates the test split every `--eval-every` steps; each evaluation is one
JSON line in `--out`. Learning per step does not depend on the machine, so the runs can be made
on a fast one (on CUDA `--fp32` keeps the CPU's float32 arithmetic), while `--step-cost` times the
steps on the machine the recipe is for; steps x cost gives the CPU time to each accuracy.
The last line is the best variant's exact accuracy at the last step.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from time_to_accuracy import RECIPES  # noqa: E402

# name -> one change to the recipe: TrainConfig fields, and model fields under "overrides".
VARIANTS: dict[str, dict] = {
    "base": {},
    "rope": {"overrides": {"pos_encodings": "rope"}},
    "learned-pos": {"overrides": {"pos_encodings": "learned"}},
    "softmax": {"loss_type": "softmax"},
    "lr-1e-3": {"lr": 1e-3},
    "lr-4e-3": {"lr": 4e-3},
    "batch-16": {"batch_size": 16},
    "batch-32": {"batch_size": 32},
    "batch-128": {"batch_size": 128},
    "halt-1": {"overrides": {"halt_max_steps": 1}},
    "halt-2": {"overrides": {"halt_max_steps": 2}},
    "halt-3": {"overrides": {"halt_max_steps": 3}},
    "halt-4": {"overrides": {"halt_max_steps": 4}},
    "halt-8": {"overrides": {"halt_max_steps": 8}},
    "narrow-mlp": {"overrides": {"expansion": 2.0, "swiglu_multiple": 32}},
    "reference-mlp": {"overrides": {"expansion": 4.0, "swiglu_multiple": 256}},
    "L_cycles-1": {"overrides": {"L_cycles": 1}},
    "L_cycles-3": {"overrides": {"L_cycles": 3}},
    "H_cycles-1": {"overrides": {"H_cycles": 1}},
    "layers-1x1": {"overrides": {"H_layers": 1, "L_layers": 1}},
    "layers-2x2": {"overrides": {"H_layers": 2, "L_layers": 2}},
    "hidden-128": {"overrides": {"hidden_size": 128, "num_heads": 4}},
    "heads-4": {"overrides": {"num_heads": 4}},
    "wd-0.01": {"weight_decay": 0.01},
    "wd-1.0": {"weight_decay": 1.0},
    "adam_atan2": {"optimizer": "adam_atan2"},
    "no-augment": {"augment": False},
    "warmup-20": {"lr_warmup_steps": 20},
    "decay-0.1": {"lr_min_ratio": 0.1},
    "no-ema": {"ema": None},
    "ema-0.99": {"ema": 0.99},
    "ema-0.995": {"ema": 0.995},
    "full-backprop": {"overrides": {"one_step_grad": False}},
    "no-act-continue": {"overrides": {"act_continue": False}},
    "no-puzzle-token": {"overrides": {"puzzle_emb_ndim": 0}},
    "compile": {"compile": True},
    "eager": {"compile": False},
    # how the test split is read, not how the model learns: segments per test puzzle
    "eval-4": {"eval_max_steps": 4},
    "eval-16": {"eval_max_steps": 16},
}


def settings_for(task: str, variant: str) -> dict:
    """The recipe's TrainConfig settings with the variant's change(s) applied ("a+b" applies a and b)."""
    base = dict(RECIPES[task][0])
    change: dict = {}
    for name in variant.split("+"):
        one = VARIANTS[name]
        change = {**change, **one, "overrides": {**change.get("overrides", {}), **one.get("overrides", {})}}
    base.pop("eval_every", None)  # the lever script sets its own evaluation schedule
    base.pop("max_steps", None)  # and its own length (--steps), over which any decay then runs
    overrides = {**base.pop("overrides", {}), **change.get("overrides", {})}
    return {**base, **{k: v for k, v in change.items() if k != "overrides"}, "overrides": overrides}


def run_one(task: str, variant: str, steps: int, eval_every: int, eval_limit: int, seed: int,
            device: str, fp32: bool, out: str) -> None:
    """Train one variant and append one JSON line per evaluation to `out`."""
    import torch

    from hrm_minimal.train import TrainConfig, train

    torch.set_num_threads(int(os.environ.get("LEVERS_THREADS", "1")))
    written = 0
    with tempfile.TemporaryDirectory() as tmp:
        # Train in chunks of `eval_every` steps, resuming exactly, so each evaluation is written as
        # soon as it is made (a run stopped by a time limit keeps what it measured).
        for stop in range(eval_every, steps + eval_every, eval_every):
            cfg = TrainConfig(task=task, seed=seed, max_steps=steps, stop_after_steps=min(stop, steps),
                              eval_every=eval_every, eval_limit=eval_limit, checkpoint_every=10**9,
                              out_dir=tmp + "/run", progress=False, device=device, autocast=not fp32,
                              resume=stop > eval_every,
                              **settings_for(task, variant))
            history = train(cfg)["history"]
            with open(out, "a") as f:
                for h in history[written:]:
                    if "test_exact_accuracy" in h:
                        f.write(json.dumps({"task": task, "variant": variant, "seed": seed, "step": h["step"],
                                            "exact": h["test_exact_accuracy"], "cell": h["test_accuracy"],
                                            "exact_by_segment": h["test_exact_by_segment"],
                                            "train_time_s": h["time_s"], "device": device}) + "\n")
            written = len(history)


def step_cost(task: str, variant: str, n: int = 10) -> float:
    """Seconds per training step of `variant` on this machine: the trainer's own clock over n steps,
    after 3 warm-up steps."""
    from hrm_minimal.train import TrainConfig, train

    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(task=task, max_steps=n + 3, eval_every=10**9, eval_limit=1, checkpoint_every=10**9,
                          out_dir=tmp + "/run", progress=False, device="cpu", **settings_for(task, variant))
        history = train(cfg)["history"]
    return (history[-1]["time_s"] - history[2]["time_s"]) / n


def summary(path: str, task: str, steps: list[int]) -> str:
    """A markdown table of exact (cell) accuracy at the given steps, one row per variant and seed."""
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    runs: dict[tuple[str, int], dict[int, dict]] = {}
    for r in rows:
        if r["task"] == task:
            runs.setdefault((r["variant"], r["seed"]), {})[r["step"]] = r
    head = "| change | seed | " + " | ".join(f"step {s}" for s in steps) + " |"
    lines = [head, "|---|---|" + "---|" * len(steps)]
    for (variant, seed), by_step in sorted(runs.items()):
        cells = [f"{by_step[s]['exact']:.0%} ({by_step[s]['cell']:.0%})" if s in by_step else "-" for s in steps]
        lines.append(f"| {variant} | {seed} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", required=True, choices=sorted(RECIPES))
    p.add_argument("--only", default=None, help="comma-separated variants, a+b for two changes (default: all)")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--eval-limit", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1, help="variants trained at once (separate processes)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--fp32", action="store_true", help="no bf16 autocast on CUDA")
    p.add_argument("--out", default="levers.jsonl")
    p.add_argument("--step-cost", action="store_true", help="only time the steps of each variant here")
    p.add_argument("--summary", default=None, metavar="JSONL",
                   help="print a markdown table of a finished sweep (exact (cell) accuracy at --at steps)")
    p.add_argument("--at", default="500,1000,1500,2000", help="steps shown by --summary")
    p.add_argument("--_one", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    names = a.only.split(",") if a.only else list(VARIANTS)
    unknown = [n for n in names if any(part not in VARIANTS for part in n.split("+"))]
    if unknown:
        p.error(f"unknown variant(s) {unknown}; known: {sorted(VARIANTS)}")
    if a.summary:
        print(summary(a.summary, a.task, [int(x) for x in a.at.split(",")]))
        return
    if a._one:
        run_one(a.task, a._one, a.steps, a.eval_every, a.eval_limit, a.seed, a.device, a.fp32, a.out)
        return
    if a.step_cost:
        costs = {n: step_cost(a.task, n) for n in names}
        for n, c in costs.items():
            print(f"{a.task} {n:>16}: {1000 * c:7.1f} ms/step")
        fastest = min(costs, key=costs.get)
        print(f"{a.task}: fastest step {fastest} at {1000 * costs[fastest]:.1f} ms")
        return
    running: list[subprocess.Popen] = []
    for n in names:
        while len(running) >= a.jobs:
            running = [r for r in running if r.poll() is None]
            time.sleep(0.5)
        cmd = [sys.executable, __file__, "--task", a.task, "--_one", n, "--steps", str(a.steps),
               "--eval-every", str(a.eval_every), "--eval-limit", str(a.eval_limit), "--seed", str(a.seed),
               "--device", a.device, "--out", a.out] + (["--fp32"] if a.fp32 else [])
        running.append(subprocess.Popen(cmd))
    for r in running:
        r.wait()
    rows = [json.loads(line) for line in Path(a.out).read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r["task"] == a.task and r["variant"] in names]
    last = {}
    for r in rows:
        print(f"{r['variant']:>16} step {r['step']:6d}: exact {r['exact']:.3f} cell {r['cell']:.3f}")
        if r["step"] >= last.get(r["variant"], {}).get("step", -1):
            last[r["variant"]] = r
    if last:
        best = max(last.values(), key=lambda r: r["exact"])
        print(f"{a.task}: best variant {best['variant']}, {best['exact']:.1%} exact at step {best['step']}")


if __name__ == "__main__":
    main()
