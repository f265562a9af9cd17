"""Ablation benchmark: how long HRM, the flat model and the TRM-style model take to reach an exact
accuracy on 6x6 Sudoku, from one run of each seed on this machine.

    python benchmarks/ablation.py [--task sudoku-6x6] [--variants hrm,flat,trm] [--seeds 3]
                                  [--budget 180] [--target 0.7] [--out runs/ablation-bench]

Every (variant, seed) is one run of `hrm_minimal.ablate.run_one`: the task's recipe with the
variant's changes, eager, `--budget` seconds of training (evaluations not counted), the whole test
split read every `eval_every` steps. Runs already finished in `--out` are read, not redone, so
`--out runs/ablate-6x6` reports on the grid that `python -m hrm_minimal.ablate --task sudoku-6x6`
made there. Printed: per variant and seed the seconds to the target (or "not reached"), then the
median of the seeds; the last line is the headline
`sudoku-6x6: HRM Xs, flat Ys, TRM Zs to N% exact`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from hrm_minimal.ablate import median_time, run_one, time_to
from hrm_minimal.recipes import RECIPES
from hrm_minimal.variants import VARIANTS

SHORT = {"hrm": "HRM", "flat": "flat", "trm": "TRM"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--task", default="sudoku-6x6", choices=sorted(RECIPES))
    p.add_argument("--variants", default="hrm,flat,trm", help="comma-separated variants (hrm_minimal.variants)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget", type=float, default=180.0, help="seconds of training per run")
    p.add_argument("--target", type=float, default=0.7, help="exact accuracy on the test split")
    p.add_argument("--out", default="runs/ablation-bench", help="folder for the runs (finished ones are reused)")
    a = p.parse_args(argv)
    variants = [v.strip() for v in a.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variant(s) {unknown}; variants: {', '.join(VARIANTS)}")
    if a.seeds < 1 or a.budget <= 0 or not 0 < a.target <= 1:
        p.error("--seeds must be at least 1, --budget positive and --target in (0, 1]")

    out = Path(a.out)
    rows = []
    for variant in variants:
        for seed in range(a.seeds):
            try:
                rows += run_one(out, "bench", a.task, variant, seed, a.budget)
            except ValueError as err:  # a finished run of another budget in this folder
                p.error(str(err))
    medians = {}
    for variant in variants:
        times = time_to(rows, a.task, variant, a.target)
        medians[variant] = median_time(times)
        per_seed = ", ".join("not reached" if t is None else f"{t:.0f} s" for t in times)
        print(f"{variant:20s} seeds: {per_seed}; median {_seconds(medians[variant])}")
    headline = ", ".join(f"{SHORT.get(v, v)} {_seconds(medians[v], short=True)}" for v in variants)
    print(f"{a.task}: {headline} to {a.target:.0%} exact")
    return 0


def _seconds(t: float | None, short: bool = False) -> str:
    if t is None:
        return "not reached"
    return f"{t:.0f}s" if short else f"{t:.0f} s"


if __name__ == "__main__":
    raise SystemExit(main())
