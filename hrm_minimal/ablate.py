"""The ablation runner: `python -m hrm_minimal.ablate --grid cpu --task sudoku-4x4 --seeds 3 --budget 180`.

Trains every variant of a named grid (`hrm_minimal.variants`) on a task's recipe (`hrm_minimal.recipes`)
for each seed, each run for `--budget` seconds of training, and writes one CSV row per evaluation of
the test split (`ablation.csv`: grid, task, variant, seed, step, train_time_s, test_exact_accuracy,
test_accuracy, segments read). Each run has its folder under `--out`; a finished run leaves
`done.json` and is never redone, an interrupted one resumes from its checkpoint, so a stopped grid
is continued by the same command. `--plot` draws exact accuracy against training minutes, the mean
over seeds with its spread, one panel per task.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import warnings
from pathlib import Path

from hrm_minimal.recipes import RECIPES, recipe_config
from hrm_minimal.variants import VARIANTS, variant_changes

# grid -> the variants it compares
GRIDS: dict[str, list[str]] = {
    "cpu": ["hrm", "flat", "no-deep-supervision", "fixed-segments", "full-backprop", "trm"],
    "halting": ["hrm", "fixed-segments", "no-continue"],
    "smoke": ["hrm", "flat"],  # the runner's own quick check
}
COLUMNS = ["grid", "task", "variant", "seed", "step", "train_time_s", "test_exact_accuracy", "test_accuracy",
           "segments"]


def run_folder(out: Path, task: str, variant: str, seed: int) -> Path:
    return out / "runs" / f"{task}-{variant}-seed{seed}"


def run_one(out: Path, grid: str, task: str, variant: str, seed: int, budget: float) -> list[dict]:
    """Train (or finish) one run and return its evaluation rows; a finished run is read, not redone."""
    from hrm_minimal.train import train

    folder = run_folder(out, task, variant, seed)
    done = folder / "done.json"
    if done.exists():
        return json.loads(done.read_text())["rows"]
    overrides, changes = variant_changes(variant)
    config = recipe_config(task, overrides=overrides, **{
        **changes, "seed": seed, "time_budget_s": budget, "max_steps": 10**7, "eval_limit": None,
        "checkpoint_every": 200, "progress": False, "out_dir": str(folder),
        "resume": (folder / "checkpoint.pt").exists()})
    history = train(config)["history"]
    rows = [{"grid": grid, "task": task, "variant": variant, "seed": seed, "step": h["step"],
             "train_time_s": h["time_s"], "test_exact_accuracy": h["test_exact_accuracy"],
             "test_accuracy": h["test_accuracy"], "segments": len(h["test_exact_by_segment"])}
            for h in history if "test_exact_accuracy" in h]
    done.write_text(json.dumps({"budget_s": budget, "rows": rows}))
    return rows


def write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def plot(rows: list[dict], path: Path) -> None:
    """Exact accuracy against training minutes: per task a panel, per variant the mean over seeds and
    the band between the lowest and highest seed (each run's curve read at common times)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    tasks = sorted({r["task"] for r in rows})
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 3.8), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        mine = [r for r in rows if r["task"] == task]
        end = max(float(r["train_time_s"]) for r in mine)
        grid_t = np.linspace(0, end, 40)
        for variant in sorted({r["variant"] for r in mine}, key=list(VARIANTS).index):
            curves = []
            for seed in sorted({r["seed"] for r in mine if r["variant"] == variant}):
                run = sorted((float(r["train_time_s"]), float(r["test_exact_accuracy"])) for r in mine
                             if r["variant"] == variant and r["seed"] == seed)
                times, exact = zip(*run)
                curves.append(np.interp(grid_t, (0.0,) + times, (0.0,) + exact, right=np.nan))
            curves = np.array(curves)
            with warnings.catch_warnings():  # past a run's end its curve is NaN; where all are, so is the mean
                warnings.simplefilter("ignore", RuntimeWarning)
                mean, low, high = (np.nanmean(curves, 0), np.nanmin(curves, 0), np.nanmax(curves, 0))
            ax.plot(grid_t / 60, mean, label=f"{variant} ({len(curves)} seeds)")
            ax.fill_between(grid_t / 60, low, high, alpha=0.15)
        ax.set_title(task)
        ax.set_xlabel("training minutes")
        ax.set_ylabel("exact accuracy (test split)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hrm_minimal.ablate", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--grid", default="cpu", choices=sorted(GRIDS), help="which variants to compare")
    p.add_argument("--task", action="append", default=None, choices=sorted(RECIPES),
                   help="a task with a recipe (repeatable; default sudoku-4x4)")
    p.add_argument("--variants", default=None, help="comma-separated subset of the grid's variants")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..K-1 for every variant")
    p.add_argument("--budget", type=float, default=180.0, help="seconds of training per run")
    p.add_argument("--out", default="runs/ablate", help="folder for the runs, ablation.csv and the plot")
    p.add_argument("--plot", action="store_true", help="also draw ablation.png")
    a = p.parse_args(argv)
    variants = GRIDS[a.grid] if a.variants is None else [v.strip() for v in a.variants.split(",")]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variant(s) {unknown}; variants: {', '.join(VARIANTS)}")
    if a.seeds < 1 or a.budget <= 0:
        p.error("--seeds must be at least 1 and --budget positive")
    from tqdm.auto import tqdm

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(task, v, seed) for task in (a.task or ["sudoku-4x4"]) for v in variants for seed in range(a.seeds)]
    rows: list[dict] = []
    bar = tqdm(jobs, desc=f"grid {a.grid}", unit="run")
    for task, variant, seed in bar:
        bar.set_postfix_str(f"{task} {variant} seed {seed}")
        rows += run_one(out, a.grid, task, variant, seed, a.budget)
        write_csv(out / "ablation.csv", rows)  # after every run: an interruption loses at most one run
    print(f"{len(rows)} evaluations of {len(jobs)} runs in {out / 'ablation.csv'}")
    if a.plot:
        plot(rows, out / "ablation.png")
        print(f"plot: {out / 'ablation.png'}")
    last = {}
    for r in rows:
        last[(r["task"], r["variant"], r["seed"])] = r
    for task in sorted({k[0] for k in last}):
        means = {v: sum(float(r["test_exact_accuracy"]) for k, r in last.items() if k[:2] == (task, v)) /
                 max(1, sum(1 for k in last if k[:2] == (task, v))) for v in variants}
        print(f"{task}: final exact accuracy, mean over seeds: " + ", ".join(f"{v} {m:.1%}" for v, m in means.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
