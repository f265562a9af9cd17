"""PyTorch access to a PuzzleSet: an endless resumable training iterator and an evaluation loader."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .augment import augment_batch
from .puzzle_set import PuzzleSet


def _augment(puzzles: PuzzleSet, x: np.ndarray, y: np.ndarray, rng: np.random.Generator):
    return augment_batch(puzzles.kind, x, y, puzzles.grid_size, puzzles.box, rng)


class TrainBatches:
    """Endless (inputs, labels) int64 batches (batch_size, seq_len): shuffled epochs without
    replacement (an incomplete last batch is dropped), augmented on the fly.

    The randomness is a pure function of (seed, epoch, position), so `state_dict()` and
    `load_state_dict()` resume the exact same sequence of batches.
    """

    def __init__(self, puzzles: PuzzleSet, batch_size: int, augment: bool = True, seed: int = 0):
        if not isinstance(puzzles, PuzzleSet):
            raise TypeError(f"puzzles must be a PuzzleSet, got {type(puzzles).__name__}")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if batch_size > len(puzzles):
            raise ValueError(f"batch_size {batch_size} exceeds the {len(puzzles)} puzzles of {puzzles.name!r}")
        self.puzzles, self.batch_size, self.augment = puzzles, int(batch_size), bool(augment)
        self.seed, self.epoch, self.position = int(seed), 0, 0
        self.batches_per_epoch = len(puzzles) // self.batch_size

    def __iter__(self) -> "TrainBatches":
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.position >= self.batches_per_epoch:
            self.epoch, self.position = self.epoch + 1, 0
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.puzzles))
        rows = order[self.position * self.batch_size:(self.position + 1) * self.batch_size]
        x, y = self.puzzles.inputs[rows], self.puzzles.labels[rows]
        if self.augment:
            x, y = _augment(self.puzzles, x, y, np.random.default_rng([self.seed, self.epoch, self.position, 1]))
        self.position += 1
        as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))  # noqa: E731
        return as_tensor(x), as_tensor(y)

    def state_dict(self) -> dict[str, int]:
        """Where the iterator stands, as plain ints (safe for weights_only checkpoints)."""
        return {"seed": int(self.seed), "epoch": int(self.epoch), "position": int(self.position)}

    def load_state_dict(self, state: dict) -> None:
        """Resume from `state_dict()` output."""
        missing = {"seed", "epoch", "position"} - set(state)
        if missing:
            raise ValueError(f"state is missing {sorted(missing)}")
        self.seed, self.epoch, self.position = int(state["seed"]), int(state["epoch"]), int(state["position"])


class PuzzleDataset(Dataset):
    """(inputs, labels) int64 tensors (seq_len,) per puzzle; optional fresh augmentation per access."""

    def __init__(self, puzzles: PuzzleSet, augment: bool = False, seed: int = 0):
        if not isinstance(puzzles, PuzzleSet):
            raise TypeError(f"puzzles must be a PuzzleSet, got {type(puzzles).__name__}")
        self.puzzles, self.augment, self.seed = puzzles, bool(augment), int(seed)
        self._draws = np.zeros(len(puzzles), dtype=np.int64)  # accesses per item, for fresh transforms

    def __len__(self) -> int:
        return len(self.puzzles)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= int(i) < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} puzzles")
        i = int(i) % len(self)
        x, y = self.puzzles.inputs[i:i + 1], self.puzzles.labels[i:i + 1]
        if self.augment:
            x, y = _augment(self.puzzles, x, y, np.random.default_rng([self.seed, i, int(self._draws[i])]))
            self._draws[i] += 1
        return torch.from_numpy(x[0].astype(np.int64)), torch.from_numpy(y[0].astype(np.int64))


def make_loader(
    puzzles: PuzzleSet, batch_size: int, shuffle: bool = False, augment: bool = False, seed: int = 0,
    drop_last: bool = False,
) -> DataLoader:
    """A single-process DataLoader of (inputs, labels) batches; shuffling seeded by `seed`."""
    generator = torch.Generator().manual_seed(int(seed))
    return DataLoader(PuzzleDataset(puzzles, augment, seed), batch_size=batch_size, shuffle=shuffle,
                      drop_last=drop_last, generator=generator)
