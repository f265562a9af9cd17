"""The shipped tasks by name: where their files live and how to load them."""
from __future__ import annotations

import os
from pathlib import Path

from .csv_io import load_csv
from .puzzle_set import PuzzleSet

TASKS: dict[str, dict] = {
    "sudoku-4x4": {"kind": "sudoku", "grid_size": 4, "description": "4x4 Sudoku (2x2 boxes), minimal puzzles"},
    "sudoku-6x6": {"kind": "sudoku", "grid_size": 6, "description": "6x6 Sudoku (2x3 boxes), minimal puzzles"},
    "sudoku-9x9": {"kind": "sudoku", "grid_size": 9, "description": "9x9 Sudoku (3x3 boxes), 30-40 clues"},
    "maze-11x11": {"kind": "maze", "grid_size": 11, "description": "11x11 mazes, shortest path >= 20 steps"},
    "maze-15x15": {"kind": "maze", "grid_size": 15, "description": "15x15 mazes, shortest path >= 37 steps"},
}
for _name, _task in TASKS.items():
    _task["train"] = f"{_name}-train.csv"
    _task["test"] = f"{_name}-test.csv"

SPLITS = ("train", "test")


def list_tasks() -> list[str]:
    """Names of the shipped tasks."""
    return list(TASKS)


def datasets_dir() -> Path:
    """Folder of the shipped files: $HRM_DATASETS, else <repo>/datasets, else the installed copy."""
    env = os.environ.get("HRM_DATASETS")
    if env:
        return Path(env)
    package = Path(__file__).resolve().parent.parent  # .../hrm_minimal
    checkout = package.parent / "datasets"
    if checkout.is_dir():
        return checkout
    return package / "_datasets"


def task_path(name: str, split: str = "train") -> Path:
    """Path of a shipped task's CSV file; ValueError for an unknown name or split."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid names are {', '.join(TASKS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits are {', '.join(SPLITS)}")
    return datasets_dir() / TASKS[name][split]


def load_task(name: str, split: str = "train") -> PuzzleSet:
    """A shipped task's split as a PuzzleSet named after the task."""
    path = task_path(name, split)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; rebuild it with `python -m hrm_minimal.data build`")
    return load_csv(path, kind=TASKS[name]["kind"], name=name)


def shipped_checkpoint(name: str) -> Path:
    """Path of the trained model shipped for task `name` (datasets/checkpoints/NAME.pt)."""
    folder = datasets_dir() / "checkpoints"
    path = folder / f"{name}.pt"
    if not path.is_file():
        have = sorted(p.stem for p in folder.glob("*.pt")) if folder.is_dir() else []
        raise ValueError(f"no trained model is shipped for {name!r}; shipped: {', '.join(have) or 'none'}")
    return path
