"""Sudoku grids: parsing, token encoding, rule checks, a readable solver with a rating, a generator.

A grid is an ``(n, n)`` integer array with 0 for a blank and 1..n for digits. Supported sizes:
4x4 (2x2 boxes), 6x6 (2x3 boxes: 2 rows x 3 columns) and 9x9 (3x3 boxes).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BOXES: dict[int, tuple[int, int]] = {4: (2, 2), 6: (2, 3), 9: (3, 3)}
BLANK_CHARS = ".0"


def box_shape(n: int) -> tuple[int, int]:
    """The (box rows, box cols) of an n x n Sudoku; ValueError for an unsupported size."""
    if n not in BOXES:
        raise ValueError(f"unsupported Sudoku size {n}: expected one of {sorted(BOXES)}")
    return BOXES[n]


def _check_box(n: int, box: tuple[int, int] | None) -> tuple[int, int]:
    if box is None:
        return box_shape(n)
    box = (int(box[0]), int(box[1]))
    if box[0] * box[1] != n:
        raise ValueError(f"box {box} does not tile a {n}x{n} grid (box rows x box cols must be {n})")
    return box


# ---------------------------------------------------------------------------------------------
# Parsing, printing, encoding
# ---------------------------------------------------------------------------------------------
def parse_grid(text, n: int | None = None) -> np.ndarray:
    """A grid (n, n) int8 from a string ('.' or '0' blank; whitespace ignored), list or array."""
    if isinstance(text, str):
        chars = "".join(text.split())
        size = int(round(len(chars) ** 0.5))
        if size * size != len(chars) or size not in BOXES:
            raise ValueError(f"a Sudoku string needs 16, 36 or 81 characters, got {len(chars)}")
        values = []
        for ch in chars:
            if ch in BLANK_CHARS:
                values.append(0)
            elif ch.isdigit() and 1 <= int(ch) <= size:
                values.append(int(ch))
            else:
                raise ValueError(f"bad character {ch!r} in a {size}x{size} Sudoku string")
        grid = np.array(values, dtype=np.int8).reshape(size, size)
    else:
        grid = np.asarray(text)
        if grid.ndim == 1:
            size = int(round(grid.size ** 0.5))
            if size * size != grid.size:
                raise ValueError(f"a flat Sudoku grid needs a square number of cells, got {grid.size}")
            grid = grid.reshape(size, size)
        if grid.ndim != 2 or grid.shape[0] != grid.shape[1]:
            raise ValueError(f"a Sudoku grid must be square (n, n), got shape {grid.shape}")
        if not np.issubdtype(grid.dtype, np.integer):
            raise TypeError(f"a Sudoku grid must hold integers, got dtype {grid.dtype}")
        size = grid.shape[0]
        box_shape(size)
        if grid.min() < 0 or grid.max() > size:
            raise ValueError(f"Sudoku values must be 0 (blank) to {size}, got {grid.min()}..{grid.max()}")
        grid = grid.astype(np.int8)
    if n is not None and grid.shape[0] != n:
        raise ValueError(f"expected a {n}x{n} grid, got {grid.shape[0]}x{grid.shape[0]}")
    return grid


def grid_to_string(grid) -> str:
    """Row-major string of a grid, '.' for blanks (the Sudoku-Extreme CSV spelling)."""
    grid = parse_grid(grid)
    return "".join("." if v == 0 else str(int(v)) for v in grid.ravel())


def encode_sudoku(grid) -> np.ndarray:
    """Tokens (..., n*n) int64 of grids (..., n, n): blank -> 1, digit d -> d + 1 (0 is PAD)."""
    grid = np.asarray(grid)
    return grid.reshape(*grid.shape[:-2], -1).astype(np.int64) + 1


def decode_sudoku(tokens) -> np.ndarray:
    """Grids (..., n, n) int8 from tokens (..., n*n): token 1 (blank) and 0 (PAD) -> 0, t -> t - 1."""
    tokens = np.asarray(tokens)
    size = int(round(tokens.shape[-1] ** 0.5))
    if size * size != tokens.shape[-1]:
        raise ValueError(f"token length {tokens.shape[-1]} is not a square")
    grid = np.clip(tokens.astype(np.int64) - 1, 0, None).astype(np.int8)
    return grid.reshape(*tokens.shape[:-1], size, size)


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------
def units(n: int, box: tuple[int, int] | None = None) -> np.ndarray:
    """Cell indices (3n, n) of the n rows, n columns and n boxes of an n x n grid."""
    br, bc = _check_box(n, box)
    idx = np.arange(n * n).reshape(n, n)
    boxes = [idx[r:r + br, c:c + bc].ravel() for r in range(0, n, br) for c in range(0, n, bc)]
    return np.concatenate([idx, idx.T, np.stack(boxes)]).astype(np.intp)


def is_solution(grid, box: tuple[int, int] | None = None) -> bool:
    """True if the grid is full and every row, column and box holds each digit once."""
    grid = parse_grid(grid)
    n = grid.shape[0]
    flat = grid.ravel()[units(n, box)]  # (3n, n)
    return bool((np.sort(flat, axis=1) == np.arange(1, n + 1)).all())


def is_consistent(puzzle, box: tuple[int, int] | None = None) -> bool:
    """True if no row, column or box repeats a given digit (blanks ignored)."""
    grid = parse_grid(puzzle)
    n = grid.shape[0]
    for unit in grid.ravel()[units(n, box)]:
        given = unit[unit > 0]
        if len(set(given.tolist())) != len(given):
            return False
    return True


def solves(puzzle, solution, box: tuple[int, int] | None = None) -> bool:
    """True if `solution` is a valid full grid that keeps every given of `puzzle`."""
    p, s = parse_grid(puzzle), parse_grid(solution)
    return p.shape == s.shape and is_solution(s, box) and bool(((p == 0) | (p == s)).all())


# ---------------------------------------------------------------------------------------------
# A plain depth-first solver: most-constrained cell first, counts solutions and guesses
# ---------------------------------------------------------------------------------------------
@dataclass
class SolveResult:
    """Outcome of `solve`: solutions found (at most `limit`), and guesses made (the rating)."""

    count: int
    solutions: list[np.ndarray] = field(default_factory=list)
    guesses: int = 0

    @property
    def solution(self) -> np.ndarray | None:
        return self.solutions[0] if self.solutions else None


_POPCOUNT = [bin(i).count("1") for i in range(1 << 9)]


def solve(puzzle, box: tuple[int, int] | None = None, limit: int = 2) -> SolveResult:
    """Depth-first search, most-constrained cell first, stopping after `limit` solutions.

    `guesses` counts every value tried in a cell that had two or more candidates. With
    limit=2 a unique puzzle is searched to the end, so `guesses` does not depend on luck.
    """
    grid = parse_grid(puzzle)
    n = grid.shape[0]
    br, bc = _check_box(n, box)
    full = (1 << n) - 1
    cells = grid.ravel().tolist()
    where = [(i // n, i % n, (i // n) // br * (n // bc) + (i % n) // bc) for i in range(n * n)]
    rows, cols, boxes = [0] * n, [0] * n, [0] * n
    for i, v in enumerate(cells):
        if v:
            r, c, b = where[i]
            bit = 1 << (v - 1)
            if (rows[r] | cols[c] | boxes[b]) & bit:
                return SolveResult(count=0)  # the givens already break a rule
            rows[r] |= bit
            cols[c] |= bit
            boxes[b] |= bit
    empties = [i for i, v in enumerate(cells) if v == 0]
    result = SolveResult(count=0)

    def search() -> None:
        best, best_k, best_mask = -1, n + 1, 0
        for i in empties:  # the most-constrained empty cell
            if cells[i] == 0:
                r, c, b = where[i]
                mask = full & ~(rows[r] | cols[c] | boxes[b])
                k = _POPCOUNT[mask]
                if k < best_k:
                    best, best_k, best_mask = i, k, mask
                    if k == 0:
                        break
        if best < 0:  # no empty cell left: a solution
            result.count += 1
            result.solutions.append(np.array(cells, dtype=np.int8).reshape(n, n))
            return
        r, c, b = where[best]
        for d in range(n):
            bit = 1 << d
            if best_mask & bit:
                if best_k > 1:
                    result.guesses += 1
                cells[best] = d + 1
                rows[r] |= bit
                cols[c] |= bit
                boxes[b] |= bit
                search()
                cells[best] = 0
                rows[r] ^= bit
                cols[c] ^= bit
                boxes[b] ^= bit
                if result.count >= limit:
                    return

    search()
    return result


def count_solutions(puzzle, box: tuple[int, int] | None = None, limit: int = 2) -> int:
    """Number of solutions, counting stops at `limit` (2 tells unique from not)."""
    return solve(puzzle, box, limit).count


def rate(puzzle, box: tuple[int, int] | None = None) -> int:
    """Difficulty rating: guesses the plain most-constrained-cell search needs to prove uniqueness."""
    return solve(puzzle, box, limit=2).guesses


# ---------------------------------------------------------------------------------------------
# Generator (fast: many puzzles at once through the bitmask engine in sudoku_engine.py)
# ---------------------------------------------------------------------------------------------
def generate(
    count: int,
    size: int = 9,
    clues: int | tuple[int, int] | None | str = "default",
    seed: int | np.random.Generator = 0,
    min_rating: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`count` unique-solution puzzles and their solutions, both (count, size, size) int8.

    Each puzzle starts from a random complete grid and loses clues in a random order, a removal
    being skipped when it would allow a second solution. `clues` is the target clue count, a
    (low, high) range drawn per puzzle, or None for minimal puzzles (no clue can be removed);
    "default" means (30, 40) for 9x9 and minimal for 4x4 and 6x6 (the shipped settings).
    `min_rating` keeps only puzzles whose `rate` is at least that. Every puzzle is checked unique.
    """
    from .sudoku_engine import generate_batch  # local import keeps this module readable alone

    if not isinstance(count, (int, np.integer)) or count < 0:
        raise ValueError(f"count must be a non-negative integer, got {count!r}")
    box_shape(size)
    if isinstance(clues, str):
        if clues != "default":
            raise ValueError(f"clues must be an int, a (low, high) pair, None or 'default', got {clues!r}")
        clues = (30, 40) if size == 9 else None
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    puzzles, solutions = [], []
    have, idle = 0, 0
    while have < count:
        want = count - have
        batch = want + want // 32 + 4 if min_rating is None else max(64, 2 * want)
        p, s = generate_batch(batch, size, clues, rng)
        if min_rating is not None:
            keep = np.array([rate(x) >= min_rating for x in p], dtype=bool)
            p, s = p[keep], s[keep]
        puzzles.append(p[:want])
        solutions.append(s[:want])
        have += len(puzzles[-1])
        idle = idle + 1 if len(p) == 0 else 0
        if idle >= 10:
            raise ValueError(f"no {size}x{size} puzzle met clues={clues!r}, min_rating={min_rating!r} "
                             f"in 10 batches in a row; the target is out of reach")
    n = size
    empty = np.zeros((0, n, n), np.int8)
    return (np.concatenate(puzzles) if puzzles else empty, np.concatenate(solutions) if solutions else empty)
