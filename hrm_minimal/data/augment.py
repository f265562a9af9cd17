"""The paper's augmentations, one independent random transform per row, vectorised with numpy.

Sudoku (validity-preserving maps, the same on puzzle and solution): a digit permutation, a
permutation of the bands and of the rows within each band, of the stacks and of the columns within
each stack, and a transpose with probability 1/2. The transpose is used only for square boxes
(4x4, 9x9): transposing a 6x6 grid with 2x3 boxes gives 3x2 boxes, which is no longer a valid 6x6
Sudoku of the same kind, so 6x6 is never transposed. Mazes: the 8 symmetries of the square.
"""
from __future__ import annotations

import numpy as np

from .maze import dihedral_permutations


def _shuffles(rng: np.random.Generator, batch: int, groups: int, size: int) -> np.ndarray:
    """(batch, groups * size) line orders: groups permuted, then lines within each group."""
    group_order = np.argsort(rng.random((batch, groups)), axis=1)  # (B, groups)
    inner = np.argsort(rng.random((batch, groups, size)), axis=2)  # (B, groups, size)
    return (group_order[:, :, None] * size + inner).reshape(batch, groups * size)


def sudoku_permutations(
    batch: int, n: int, box: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random Sudoku symmetries: (cell gather indices (B, n*n), token maps (B, n+2)).

    Apply as `tokens[cells]` then `maps[tokens]` per row; PAD (0) and blank (1) map to themselves.
    """
    br, bc = box
    if br * bc != n:
        raise ValueError(f"box {box} does not tile a {n}x{n} grid")
    rows = _shuffles(rng, batch, n // br, br)  # bands of br rows
    cols = _shuffles(rng, batch, n // bc, bc)  # stacks of bc columns
    cells = rows[:, :, None] * n + cols[:, None, :]  # (B, n, n): new (i, j) <- old (rows[i], cols[j])
    if br == bc:  # square boxes only, see the module docstring
        flip = rng.random(batch) < 0.5
        cells[flip] = cells[flip].transpose(0, 2, 1)
    perms = np.argsort(rng.random((batch, n)), axis=1) + 1  # (B, n): digit d -> perms[d-1]
    maps = digit_token_map(perms)  # (B, n+2) token maps
    return cells.reshape(batch, n * n), maps


def digit_token_map(perm) -> np.ndarray:
    """Token maps (..., n+2) of digit permutations (..., n) of 1..n: PAD 0 and blank 1 stay, d+1 -> perm[d-1]+1."""
    perm = np.asarray(perm)
    fixed = np.broadcast_to(np.array([0, 1], dtype=perm.dtype), perm.shape[:-1] + (2,))
    return np.concatenate([fixed, perm + 1], axis=-1)


def permute_digits(tokens, perm) -> np.ndarray:
    """Sudoku tokens (any shape) with digit d relabelled perm[d-1]; PAD and blank unchanged."""
    perm = np.asarray(perm)
    if sorted(perm.tolist()) != list(range(1, len(perm) + 1)):
        raise ValueError(f"perm must be a permutation of 1..{len(perm)}, got {perm.tolist()}")
    return digit_token_map(perm)[np.asarray(tokens)]


def _check(kind, inputs, labels, grid_size, box) -> None:
    if kind not in ("sudoku", "maze"):
        raise ValueError(f"kind must be 'sudoku' or 'maze', got {kind!r}")
    if inputs.ndim != 2 or inputs.shape != labels.shape:
        raise ValueError(f"inputs and labels must both be (B, S), got {inputs.shape} and {labels.shape}")
    if inputs.shape[1] != grid_size * grid_size:
        raise ValueError(f"sequence length {inputs.shape[1]} is not grid_size**2 = {grid_size * grid_size}")
    if kind == "sudoku":
        if box is None or box[0] * box[1] != grid_size:
            raise ValueError(f"a {grid_size}x{grid_size} Sudoku needs a box with rows*cols = {grid_size}, got {box}")
        top = grid_size + 1
        if inputs.min(initial=0) < 0 or max(inputs.max(initial=0), labels.max(initial=0)) > top:
            raise ValueError(f"Sudoku tokens must lie in 0..{top}")


def augment_batch(kind: str, inputs, labels, grid_size: int, box: tuple[int, int] | None, rng: np.random.Generator):
    """(inputs, labels) (B, S), each row under its own random symmetry (same map for both)."""
    inputs, labels = np.asarray(inputs), np.asarray(labels)
    _check(kind, inputs, labels, grid_size, box)
    batch = len(inputs)
    if kind == "maze":
        cells = dihedral_permutations(grid_size)[rng.integers(8, size=batch)]  # (B, S)
        return np.take_along_axis(inputs, cells, 1), np.take_along_axis(labels, cells, 1)
    cells, maps = sudoku_permutations(batch, grid_size, box, rng)
    x = np.take_along_axis(maps, np.take_along_axis(inputs, cells, 1), 1)
    y = np.take_along_axis(labels, cells, 1)
    y = np.where(y >= 0, np.take_along_axis(maps, np.clip(y, 0, None), 1), y)  # keep IGNORE_LABEL_ID
    return x.astype(inputs.dtype), y.astype(labels.dtype)
