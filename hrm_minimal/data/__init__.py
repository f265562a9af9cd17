"""Puzzles and datasets: Sudoku and mazes, generated, loaded, augmented (drawing is in hrm_minimal.viz).

Encodings follow the reference: Sudoku 0 = PAD, 1 = blank, digit d -> d + 1; mazes '# SGo' -> 1..5.
"""
from __future__ import annotations

from .augment import augment_batch, permute_digits, sudoku_permutations
from .csv_io import (
    CSVFormatError,
    load_csv,
    maze_csv_text,
    read_maze_csv,
    read_sudoku_csv,
    sudoku_csv_text,
    write_csv,
    write_maze_csv,
    write_sudoku_csv,
)
from .maze import (
    decode_maze,
    dihedral,
    encode_maze,
    generate_maze,
    generate_mazes,
    parse_maze,
    path_length,
    shortest_path,
    solve_maze,
)
from .paper import PAPER_DATASETS, fetch, load_built, load_puzzles
from .paper import build as build_paper_data  # not `build`: hrm_minimal.data.build is the shipped-data module
from .puzzle_set import IGNORE_LABEL_ID, PAD_ID, PuzzleSet
from .sudoku import (
    BOXES,
    box_shape,
    count_solutions,
    decode_sudoku,
    encode_sudoku,
    generate,
    generate as generate_sudoku,
    grid_to_string,
    is_solution,
    parse_grid,
    rate,
    solve,
    solves,
)
from .tasks import TASKS, datasets_dir, list_tasks, load_task, shipped_checkpoint, task_path

_TORCH_NAMES = ("PuzzleDataset", "TrainBatches", "make_loader")


def __getattr__(name: str):
    """Import the torch-based loaders on first use, so `import hrm_minimal.data` stays light."""
    if name in _TORCH_NAMES:
        from . import torch_data

        return getattr(torch_data, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BOXES", "CSVFormatError", "IGNORE_LABEL_ID", "PAD_ID", "PAPER_DATASETS", "PuzzleDataset", "PuzzleSet", "TASKS",
    "TrainBatches", "augment_batch", "box_shape", "build_paper_data", "count_solutions", "datasets_dir",
    "decode_maze", "decode_sudoku", "dihedral",
    "encode_maze", "encode_sudoku", "fetch", "generate", "generate_maze", "generate_sudoku", "generate_mazes",
    "grid_to_string", "is_solution",
    "list_tasks", "load_built", "load_csv", "load_puzzles", "shipped_checkpoint", "permute_digits", "load_task", "make_loader", "maze_csv_text", "parse_grid", "parse_maze",
    "path_length", "rate", "read_maze_csv", "read_sudoku_csv", "shortest_path", "solve", "solve_maze", "solves",
    "sudoku_csv_text", "sudoku_permutations", "task_path", "write_csv", "write_maze_csv", "write_sudoku_csv",
]
