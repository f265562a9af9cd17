"""The ablation runner: `python -m hrm_minimal.ablate --grid cpu --task sudoku-4x4 --seeds 3 --budget 180`.

Trains every variant of a named grid (`hrm_minimal.variants`) on a task's recipe (`hrm_minimal.recipes`)
for each seed, each run for `--budget` seconds of training, and writes one CSV row per evaluation of
the test split (`ablation.csv`: grid, task, variant, seed, step, train_time_s, test_exact_accuracy,
test_accuracy, segments read). Each run has its folder under `--out`; a finished run leaves
`done.json` and is never redone, an interrupted one resumes from its checkpoint, so a stopped grid
is continued by the same command. Every run is eager (no `torch.compile`, whatever the recipe says):
the compiler's one-off warm-up counts as training time and differs by variant (about 10 s for HRM and
30 s for the TRM-style model on 6x6 Sudoku on a 2-core CPU), which would tilt a timed comparison. `--plot` draws exact accuracy against training minutes, the mean
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
        finished = json.loads(done.read_text())
        if finished.get("budget_s") != budget:
            raise ValueError(f"{folder} was run with a budget of {finished.get('budget_s')} s, not {budget} s: "
                             "give the same --budget, or another --out for a new grid")
        return finished["rows"]
    overrides, changes = variant_changes(variant)
    config = recipe_config(task, overrides=overrides, **{
        **changes, "seed": seed, "time_budget_s": budget, "max_steps": 10**7, "eval_limit": None,
        "checkpoint_every": 200, "progress": False, "out_dir": str(folder), "compile": False,
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


def read_grid(path: str | Path) -> list[dict]:
    """The rows of an `ablation.csv` (a shipped one: benchmarks/results/ablation/), numbers as numbers."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no ablation results at {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: not an ablation.csv (no column(s) {missing})")
        rows = []
        for line, row in enumerate(reader, start=2):
            try:
                rows.append({**row, "seed": int(row["seed"]), "step": int(row["step"]), "segments": int(row["segments"]),
                             **{k: float(row[k]) for k in ("train_time_s", "test_exact_accuracy", "test_accuracy")}})
            except (TypeError, ValueError) as err:
                raise ValueError(f"{path}, line {line}: {err}") from None
    return rows


def shipped_grid(task: str) -> list[dict]:
    """The shipped grid of `task` ("sudoku-4x4", "sudoku-6x6"): datasets/ablation/TASK-cpu.csv, read
    by `read_grid`. The shipped data folder travels with the package, so this works from a wheel."""
    from hrm_minimal.data.tasks import datasets_dir

    folder = datasets_dir() / "ablation"
    path = folder / f"{task}-cpu.csv"
    if not path.is_file():
        have = sorted(p.name[:-len("-cpu.csv")] for p in folder.glob("*-cpu.csv")) if folder.is_dir() else []
        raise ValueError(f"no shipped ablation grid for {task!r}; shipped: {', '.join(have) or 'none'}")
    return read_grid(path)


def runs_of(rows: list[dict], task: str, variant: str) -> dict[int, list[tuple[float, float]]]:
    """seed -> [(training seconds, exact accuracy), ...] in time order, for one task and variant."""
    out: dict[int, list[tuple[float, float]]] = {}
    for r in rows:
        if r["task"] == task and r["variant"] == variant:
            out.setdefault(int(r["seed"]), []).append((float(r["train_time_s"]), float(r["test_exact_accuracy"])))
    return {seed: sorted(run) for seed, run in sorted(out.items())}


def time_to(rows: list[dict], task: str, variant: str, target: float) -> list[float | None]:
    """Per seed, the training seconds at the first evaluation with exact accuracy >= `target` (None
    if the run never got there within its budget)."""
    return [next((t for t, exact in run if exact >= target), None) for run in runs_of(rows, task, variant).values()]


def median_time(times: list[float | None]) -> float | None:
    """The median over seeds, a run that never got there counting as slower than any that did; None
    if the median run never got there."""
    ranked = sorted(times, key=lambda t: (t is None, t or 0.0))
    if not ranked:
        return None
    mid = len(ranked) // 2
    if len(ranked) % 2:
        return ranked[mid]
    a, b = ranked[mid - 1], ranked[mid]
    return None if a is None or b is None else (a + b) / 2


def draw_grid(rows: list[dict], tasks: list[str] | None = None, target: float | None = None):
    """Exact accuracy against training minutes: per task a panel, per variant the mean over seeds and
    the band between the lowest and highest seed (each run's curve read at common times); a dotted
    line at `target` if given. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt
    import numpy as np

    tasks = tasks or sorted({r["task"] for r in rows})
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 3.8), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        mine = [r for r in rows if r["task"] == task]
        end = max(float(r["train_time_s"]) for r in mine)
        grid_t = np.linspace(0, end, 40)
        for variant in sorted({r["variant"] for r in mine}, key=list(VARIANTS).index):
            curves = []
            for run in runs_of(mine, task, variant).values():
                times, exact = zip(*run)
                curves.append(np.interp(grid_t, (0.0,) + times, (0.0,) + exact, right=np.nan))
            curves = np.array(curves)
            with warnings.catch_warnings():  # past a run's end its curve is NaN; where all are, so is the mean
                warnings.simplefilter("ignore", RuntimeWarning)
                mean, low, high = (np.nanmean(curves, 0), np.nanmin(curves, 0), np.nanmax(curves, 0))
            ax.plot(grid_t / 60, mean, label=f"{variant} ({len(curves)} seeds)")
            ax.fill_between(grid_t / 60, low, high, alpha=0.15)
        if target is not None:
            ax.axhline(target, color="grey", linestyle=":", linewidth=1)
        ax.set_title(task)
        ax.set_xlabel("training minutes")
        ax.set_ylabel("exact accuracy (test split)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def draw_time_to(rows: list[dict], task: str, target: float, ax=None):
    """Per variant, the training seconds each seed took to reach `target` exact accuracy (dots) and
    their median (bar); a seed that never got there is drawn at its run's end, hollow, and a median
    that never got there as a hatched bar. Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        ax = plt.subplots(figsize=(7, 3.2))[1]
    variants = sorted({r["variant"] for r in rows if r["task"] == task}, key=list(VARIANTS).index)
    end = max(float(r["train_time_s"]) for r in rows if r["task"] == task)
    for i, variant in enumerate(variants):
        times = time_to(rows, task, variant, target)
        middle = median_time(times)
        ax.bar(i, end if middle is None else middle, color="none" if middle is None else f"C{i}", alpha=0.35,
               edgecolor=f"C{i}", hatch="//" if middle is None else None)
        ends = [run[-1][0] for run in runs_of(rows, task, variant).values()]
        for t, last in zip(times, ends):
            ax.plot(i, last if t is None else t, "o", color=f"C{i}", fillstyle="none" if t is None else "full")
    ax.set_xticks(range(len(variants)), variants, rotation=20, fontsize=8)
    ax.set_ylabel(f"seconds to {target:.0%} exact")
    ax.set_title(f"{task}: median of seeds (bar), each seed (dot); hatched / hollow: not reached")
    ax.set_ylim(0, end * 1.05)
    return ax


def plot(rows: list[dict], path: Path) -> None:
    """`draw_grid` saved to `path` (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = draw_grid(rows)
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
        try:
            rows += run_one(out, a.grid, task, variant, seed, a.budget)
        except ValueError as err:  # a finished run of another budget in this folder
            p.error(str(err))
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
