"""PuzzleSet: a named batch of encoded puzzles (inputs) and their answers (labels)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IGNORE_LABEL_ID = -100  # label value the loss skips; used only for padding
PAD_ID = 0


def _tokens(values) -> np.ndarray:
    """Token array as int64, except a memory-mapped integer array, which stays on disk: the loaders
    (TrainBatches, PuzzleDataset) read the rows of a batch and cast them to int64."""
    if isinstance(values, np.memmap) and values.dtype.kind in "ui":
        return values
    return np.asarray(values, dtype=np.int64)


@dataclass
class PuzzleSet:
    """Encoded puzzles. Sudoku: 0 PAD, 1 blank, digit d -> d + 1. Maze: '# SGo' -> 1..5, 0 PAD."""

    name: str
    kind: str  # "sudoku" or "maze"
    inputs: np.ndarray  # (N, seq_len) int64, or a read-only uint8 memory map (paper.load_built)
    labels: np.ndarray  # (N, seq_len) int64, or a read-only uint8 memory map (paper.load_built)
    vocab_size: int
    seq_len: int
    grid_size: int  # side n of the n x n grid
    box: tuple[int, int] | None  # (box rows, box cols) for Sudoku, None for mazes
    ratings: np.ndarray | None = None  # (N,) int64 from the CSV's rating column, if any

    def __post_init__(self):
        if self.kind not in ("sudoku", "maze"):
            raise ValueError(f"kind must be 'sudoku' or 'maze', got {self.kind!r}")
        self.inputs, self.labels = _tokens(self.inputs), _tokens(self.labels)
        if self.inputs.ndim != 2 or self.inputs.shape != self.labels.shape:
            raise ValueError(f"inputs and labels must both be (N, seq_len), "
                             f"got {self.inputs.shape} and {self.labels.shape}")
        if self.inputs.shape[1] != self.seq_len or self.seq_len != self.grid_size ** 2:
            raise ValueError(f"seq_len {self.seq_len} must equal grid_size**2 = {self.grid_size ** 2} "
                             f"and the array width {self.inputs.shape[1]}")
        if self.ratings is not None:
            self.ratings = np.asarray(self.ratings, dtype=np.int64)
            if self.ratings.shape != (len(self.inputs),):
                raise ValueError(f"ratings must be ({len(self.inputs)},), got {self.ratings.shape}")

    def __len__(self) -> int:
        return len(self.inputs)

    def subset(self, indices) -> "PuzzleSet":
        """A PuzzleSet of the rows `indices` (any numpy index: slice, list, mask)."""
        return PuzzleSet(
            self.name, self.kind, self.inputs[indices], self.labels[indices], self.vocab_size, self.seq_len,
            self.grid_size, self.box, None if self.ratings is None else self.ratings[indices],
        )
