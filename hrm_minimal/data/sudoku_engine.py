"""Fast Sudoku engine: many puzzles at once as candidate bitmasks, with numpy.

Each cell holds a bitmask of its candidate digits (bit d-1 for digit d). `propagate` applies
naked singles (a placed digit leaves its row, column and box) and hidden singles (a digit with one
place left in a unit goes there) until nothing changes. `search` adds depth-first guessing, all
puzzles moving in lock step, each with its own stack. The generator is built on these two.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .sudoku import box_shape, units

OPEN, SOLVED, CONTRADICTION = 0, 1, -1


class Geometry:
    """Index tables of one grid size: units (3n, n), the 3 units of each cell (N, 3), popcounts."""

    def __init__(self, n: int):
        self.n = n
        self.box = box_shape(n)
        self.N = n * n
        self.full = np.uint16((1 << n) - 1)
        self.units = units(n, self.box)  # (3n, n)
        cell_units = np.zeros((self.N, 3), dtype=np.intp)
        for u, cells in enumerate(self.units):
            cell_units[cells, u // n] = u
        self.cell_units = cell_units  # (N, 3): row unit, column unit, box unit
        self.popcount = np.array([bin(i).count("1") for i in range(1 << n)], dtype=np.uint8)


@lru_cache(maxsize=None)
def geometry(n: int) -> Geometry:
    return Geometry(n)


_ONE = np.uint16(1)


def _round(cand: np.ndarray, geo: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """One propagation round on cell-major candidates (N, B); returns (new (N, B), dead (B,)).

    Cell-major layout makes each unit gather copy whole rows, which is what keeps numpy fast.
    """
    cu = geo.cell_units
    single = (cand & (cand - _ONE)) == 0  # one candidate left (or none: caught below)
    placed = np.where(single, cand, 0).astype(np.uint16)[geo.units]  # (3n, n, B)
    unit_placed = np.bitwise_or.reduce(placed, axis=1)  # (3n, B)
    duplicate = placed.sum(axis=1, dtype=np.uint16) != unit_placed  # a digit placed twice
    seen = unit_placed[cu]  # (N, 3, B)
    new = np.where(single, cand, cand & ~(seen[:, 0] | seen[:, 1] | seen[:, 2]))  # naked singles
    cells = new[geo.units]  # (3n, n, B)
    once = np.zeros((cells.shape[0], cells.shape[2]), dtype=np.uint16)
    twice = np.zeros_like(once)
    for j in range(geo.n):
        twice |= once & cells[:, j]
        once |= cells[:, j]
    missing = once != geo.full  # some digit has no place left in a unit
    lone = (once & ~twice)[cu]  # (N, 3, B) digits with exactly one place in a unit of the cell
    hidden = new & (lone[:, 0] | lone[:, 1] | lone[:, 2])  # hidden singles
    take = (hidden != 0) & ((new & (new - _ONE)) != 0)
    forced = np.where((hidden & (hidden - _ONE)) == 0, hidden, 0).astype(np.uint16)  # 2 forced: dead
    new = np.where(take, forced, new)
    dead = (cand == 0).any(axis=0) | duplicate.any(axis=0) | missing.any(axis=0)
    return new, dead


def propagate(cand: np.ndarray, geo: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Singles to a fixed point on (B, N) candidates.

    Returns (candidates (B, N), status (B,) of OPEN, SOLVED or CONTRADICTION).
    """
    state = np.ascontiguousarray(cand.T, dtype=np.uint16)  # (N, B)
    status = np.zeros(state.shape[1], dtype=np.int8)
    active = np.arange(state.shape[1])
    while active.size:
        old = state[:, active]
        new, dead = _round(old, geo)
        state[:, active] = new
        status[active[dead]] = CONTRADICTION
        active = active[(new != old).any(axis=0) & ~dead]
    solved = ((state & (state - _ONE)) == 0).all(axis=0) & (status == OPEN)
    status[solved] = SOLVED
    return state.T.copy(), status


def search(
    cand: np.ndarray, geo: Geometry, max_solutions: int = 2, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Depth-first search of (B, N) candidates, stopping each at `max_solutions`.

    Branches on the cell with fewest candidates (first such cell), trying its lowest digit, or a
    random one when `rng` is given. Returns (solution count (B,), first solution (B, N) bitmasks).
    """
    B, N = cand.shape
    cur = cand.astype(np.uint16, copy=True)
    stack = np.zeros((B, 8, N), dtype=np.uint16)  # pending alternatives, grown on demand
    depth = np.zeros(B, dtype=np.intp)
    count = np.zeros(B, dtype=np.intp)
    first = np.zeros((B, N), dtype=np.uint16)
    active = np.arange(B)
    while active.size:
        state, status = propagate(cur[active], geo)
        solved = status == SOLVED
        rows = active[solved]
        fresh = count[rows] == 0
        first[rows[fresh]] = state[solved][fresh]
        count[rows] += 1
        finished = np.zeros(len(active), dtype=bool)
        finished[solved] = count[rows] >= max_solutions
        # Backtrack dead ends and solutions still counting: pop the newest alternative.
        back = ((status == CONTRADICTION) | solved) & ~finished
        rows = active[back]
        empty = depth[rows] == 0
        finished[np.flatnonzero(back)[empty]] = True
        rows = rows[~empty]
        depth[rows] -= 1
        cur[rows] = stack[rows, depth[rows]]
        # Branch the open ones: try one digit now, push "any other digit" for later.
        opened = status == OPEN
        rows, state = active[opened], state[opened]
        if rows.size:
            k = geo.popcount[state].astype(np.int16)
            k[k <= 1] = 99
            cell = np.argmin(k, axis=1)  # the most-constrained open cell
            ar = np.arange(len(rows))
            mask = state[ar, cell]
            if rng is None:
                bit = mask & (~mask + np.uint16(1))  # lowest candidate digit
            else:
                bits = (mask[:, None] >> np.arange(geo.n, dtype=np.uint16)) & 1  # (b, n)
                pick = np.argmax(np.where(bits == 1, rng.random(bits.shape), -1.0), axis=1)
                bit = (np.uint16(1) << pick.astype(np.uint16)).astype(np.uint16)
            if depth[rows].max() >= stack.shape[1]:
                stack = np.concatenate([stack, np.zeros_like(stack)], axis=1)
            alternative = state.copy()
            alternative[ar, cell] = mask & ~bit
            stack[rows, depth[rows]] = alternative
            depth[rows] += 1
            state[ar, cell] = bit
            cur[rows] = state
        active = active[~finished]
    return count, first


# ---------------------------------------------------------------------------------------------
# Conversions between digit grids and bitmasks
# ---------------------------------------------------------------------------------------------
def to_candidates(grids: np.ndarray, geo: Geometry) -> np.ndarray:
    """(B, N) digits (0 blank) -> (B, N) bitmasks (a blank allows every digit)."""
    grids = np.asarray(grids, dtype=np.int64).reshape(-1, geo.N)
    bits = (np.left_shift(1, np.maximum(grids - 1, 0))).astype(np.uint16)
    return np.where(grids > 0, bits, geo.full).astype(np.uint16)


def to_digits(cand: np.ndarray, geo: Geometry) -> np.ndarray:
    """(B, N) bitmasks with one bit each -> (B, N) int8 digits."""
    log2 = np.zeros(1 << geo.n, dtype=np.int8)
    for d in range(geo.n):
        log2[1 << d] = d + 1
    return log2[cand]


def count_solutions_batch(puzzles: np.ndarray, n: int, limit: int = 2) -> np.ndarray:
    """Solution counts (B,), stopping at `limit`, of (B, n, n) or (B, n*n) digit grids."""
    geo = geometry(n)
    return search(to_candidates(puzzles, geo), geo, max_solutions=limit)[0]


def solve_batch(puzzles: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(solution counts capped at 2 (B,), first solutions (B, n, n) int8; zeros where none)."""
    geo = geometry(n)
    count, first = search(to_candidates(puzzles, geo), geo, max_solutions=2)
    digits = np.where(count[:, None] > 0, to_digits(first, geo), 0)
    return count, digits.reshape(-1, n, n).astype(np.int8)


# ---------------------------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------------------------
# Clue count down to which a first bulk removal is tried in one check: removing a clue never
# restores uniqueness, so when the bulk removal keeps the puzzle unique it is exactly what
# one-by-one removal along the same order would have done.
_BULK_FLOOR = {4: 8, 6: 18, 9: 45}


def random_solutions(count: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """(count, n, n) int8 random complete grids: random digits in the boxes on the diagonal
    (they share no row or column), then a depth-first fill with random digit choices."""
    geo = geometry(n)
    br, bc = geo.box
    grids = np.zeros((count, n, n), dtype=np.int64)
    for i in range(min(n // br, n // bc)):
        digits = np.argsort(rng.random((count, n)), axis=1) + 1
        grids[:, i * br:(i + 1) * br, i * bc:(i + 1) * bc] = digits.reshape(count, br, bc)
    found, first = search(to_candidates(grids, geo), geo, max_solutions=1, rng=rng)
    redo = np.flatnonzero(found == 0)  # a seeding with no completion: fill those from scratch
    if redo.size:
        empty = np.full((redo.size, geo.N), geo.full, dtype=np.uint16)
        first[redo] = search(empty, geo, max_solutions=1, rng=rng)[1]
    return to_digits(first, geo).reshape(count, n, n)


def _targets(count: int, n: int, clues, rng: np.random.Generator) -> np.ndarray:
    if clues is None:
        return np.zeros(count, dtype=np.intp)
    if isinstance(clues, (int, np.integer)):
        low = high = int(clues)
    else:
        low, high = (int(c) for c in clues)
    if not 0 <= low <= high <= n * n:
        raise ValueError(f"clues must lie in 0..{n * n} with low <= high, got {clues!r}")
    return rng.integers(low, high + 1, size=count)


def remove_clues(solutions: np.ndarray, orders: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Puzzles (B, n, n) from solutions: blank cells along each order, skipping removals that
    would allow a second solution, until the clue count reaches the target or the order ends."""
    B, n, _ = solutions.shape
    geo = geometry(n)
    sol = solutions.reshape(B, geo.N).astype(np.int64)
    solbits = to_candidates(sol, geo)
    keep = np.ones((B, geo.N), dtype=bool)  # True: the cell is a clue
    ar = np.arange(B)
    # 1) bulk removal down to max(target, floor); accepted when the result is still unique.
    bulk = geo.N - np.maximum(targets, _BULK_FLOOR[n])
    trial = keep.copy()
    trial[ar.repeat(bulk), np.concatenate([o[:b] for o, b in zip(orders, bulk)])] = False
    ok = search(np.where(trial, solbits, geo.full), geo, max_solutions=2)[0] == 1
    keep[ok] = trial[ok]
    start = np.where(ok, bulk, 0)
    # 2) one by one: blanking cell c keeps uniqueness iff no solution puts another digit in c.
    for pos in range(geo.N):
        rows = np.flatnonzero((start <= pos) & (keep.sum(axis=1) > targets))
        if rows.size == 0:
            continue
        cell = orders[rows, pos]
        cand = np.where(keep[rows], solbits[rows], geo.full)
        cand[np.arange(rows.size), cell] = geo.full & ~solbits[rows, cell]
        unique = search(cand, geo, max_solutions=1)[0] == 0
        keep[rows[unique], cell[unique]] = False
    return np.where(keep, sol, 0).reshape(B, n, n).astype(np.int8)


def generate_batch(count: int, n: int, clues, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Up to `count` (puzzles, solutions) reaching their clue target; every one checked unique."""
    geo = geometry(n)
    solutions = random_solutions(count, n, rng)
    targets = _targets(count, n, clues, rng)
    orders = np.argsort(rng.random((count, geo.N)), axis=1)
    puzzles = remove_clues(solutions, orders, targets)
    reached = (puzzles.reshape(count, -1) > 0).sum(axis=1) == targets if clues is not None else np.ones(count, bool)
    puzzles, solutions = puzzles[reached], solutions[reached]
    if len(puzzles) and not (count_solutions_batch(puzzles, n) == 1).all():
        raise RuntimeError("generator produced a puzzle without a unique solution (a bug)")
    return puzzles, solutions
