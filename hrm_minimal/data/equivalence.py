"""When are two puzzles "the same" up to the augmentations? Canonical forms and invariants.

Used to keep test puzzles apart from training puzzles. Exact canonical forms enumerate the
symmetry group: 4x4 (128 cell maps x digit relabelling), 6x6 (3,456 cell maps, no transpose) and
mazes (8). For 9x9 (3.4 million cell maps) we give an invariant: equivalent puzzles always share it,
so a test puzzle whose invariant no training puzzle has is certainly not equivalent to any.
"""
from __future__ import annotations

from functools import lru_cache
from itertools import permutations, product

import numpy as np

from .maze import dihedral_permutations
from .sudoku import box_shape


def relabel(grids: np.ndarray) -> np.ndarray:
    """(M, N) digit rows renamed in order of first appearance (1, 2, ...); 0 stays blank."""
    grids = np.asarray(grids, dtype=np.int64)
    M, N = grids.shape
    top = int(grids.max(initial=0))
    names = np.zeros((M, top + 1), dtype=np.int64)  # old digit -> new name (0: not seen yet)
    nxt = np.ones(M, dtype=np.int64)
    ar = np.arange(M)
    for j in range(N):
        v = grids[:, j]
        new = (v > 0) & (names[ar, v] == 0)
        names[ar[new], v[new]] = nxt[new]
        nxt += new
    return names[ar[:, None], grids]


def _line_orders(groups: int, size: int) -> list[list[int]]:
    """Every order of `groups` blocks of `size` lines, permuting blocks and lines within them."""
    orders = []
    for block in permutations(range(groups)):
        for inner in product(list(permutations(range(size))), repeat=groups):
            orders.append([b * size + i for k, b in enumerate(block) for i in inner[k]])
    return orders


@lru_cache(maxsize=None)
def sudoku_symmetries(n: int) -> np.ndarray:
    """(G, n*n) gather indices of every validity-preserving cell map of an n x n Sudoku (n <= 6)."""
    br, bc = box_shape(n)
    if n > 6:
        raise ValueError(f"the {n}x{n} cell-map group is too large to enumerate; use sudoku_invariant")
    rows = np.array(_line_orders(n // br, br))
    cols = np.array(_line_orders(n // bc, bc))
    cells = rows[:, None, :, None] * n + cols[None, :, None, :]  # (R, C, n, n)
    cells = cells.reshape(-1, n, n)
    if br == bc:
        cells = np.concatenate([cells, cells.transpose(0, 2, 1)])
    return cells.reshape(len(cells), n * n)


def sudoku_canonical(puzzle) -> bytes:
    """Exact canonical form (4x4, 6x6): the smallest relabelled image under every cell map."""
    grid = np.asarray(puzzle, dtype=np.int64)
    n = grid.shape[-1]
    images = relabel(grid.reshape(-1)[sudoku_symmetries(n)])  # (G, N)
    best = np.lexsort(images.T[::-1])[0]
    return images[best].astype(np.uint8).tobytes()


def digit_canonical(puzzle) -> bytes:
    """Canonical form under digit relabelling only (any size)."""
    return relabel(np.asarray(puzzle, dtype=np.int64).reshape(1, -1))[0].astype(np.uint8).tobytes()


def sudoku_invariant(puzzle) -> tuple:
    """A value shared by all puzzles equivalent under digit, band/row, stack/column maps and (square
    boxes) transpose. Different invariants prove puzzles inequivalent; equal ones prove nothing."""
    g = np.asarray(puzzle, dtype=np.int64)
    n = g.shape[-1]
    br, bc = box_shape(n)
    given = g > 0
    r, c = np.nonzero(given)
    d = g[r, c]
    band, stack = r // br, c // bc
    row_n, col_n = given.sum(1)[r], given.sum(0)[c]
    band_n = given.reshape(n // br, -1).sum(1)[band]
    stack_n = given.T.reshape(n // bc, -1).sum(1)[stack]
    box_n = given.reshape(n // br, br, n // bc, bc).sum((1, 3))[band, stack]
    digit_n = np.bincount(d, minlength=n + 1)[d]
    same_band = np.array([(d[band == b] == x).sum() for b, x in zip(band, d)], dtype=np.int64)
    same_stack = np.array([(d[stack == s] == x).sum() for s, x in zip(stack, d)], dtype=np.int64)
    rows = np.stack([row_n, band_n, same_band, col_n, stack_n, same_stack, box_n, digit_n], 1)
    key = tuple(sorted(map(tuple, rows.tolist())))
    if br == bc:  # transpose swaps the row-side and column-side features
        swapped = tuple(sorted(map(tuple, rows[:, [3, 4, 5, 0, 1, 2, 6, 7]].tolist())))
        key = min(key, swapped)
    return key


def maze_canonical(grid) -> str:
    """Exact canonical form of a maze under the 8 symmetries of the square (smallest string)."""
    grid = np.asarray(grid)
    flat = grid.reshape(-1)
    return min("".join(flat[p].tolist()) for p in dihedral_permutations(grid.shape[-1]))
