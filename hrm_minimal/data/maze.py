"""Mazes: n x n character grids with walls, a start and a goal, and the shortest path by BFS.

Characters (the public Maze-Hard CSV spelling): '#' wall, ' ' open, 'S' start, 'G' goal, 'o' path.
A maze is an (n, n) numpy array of single characters; the label grid is the input grid with the
shortest path's cells (start and goal excluded) marked 'o'.
"""
from __future__ import annotations

from collections import deque

import numpy as np

CHARS = "# SGo"  # token ids 1..5; 0 is PAD
WALL, OPEN, START, GOAL, PATH = CHARS
_CODE = {ch: i + 1 for i, ch in enumerate(CHARS)}
_STEPS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def parse_maze(text) -> np.ndarray:
    """An (n, n) character array from a string of n*n characters, a list of rows or an array."""
    if isinstance(text, str):
        size = int(round(len(text) ** 0.5))
        if size * size != len(text):
            raise ValueError(f"a maze string needs a square number of characters, got {len(text)}")
        grid = np.array(list(text), dtype="<U1").reshape(size, size)
    else:
        grid = np.asarray([list(row) for row in text] if isinstance(text, (list, tuple)) else text)
        if grid.ndim != 2 or grid.shape[0] != grid.shape[1]:
            raise ValueError(f"a maze must be square (n, n), got shape {grid.shape}")
        grid = grid.astype("<U1")
    bad = set(np.unique(grid).tolist()) - set(CHARS)
    if bad:
        raise ValueError(f"bad maze characters {sorted(bad)}; allowed are {CHARS!r}")
    return grid


def maze_to_string(grid) -> str:
    """Row-major string of a maze (the CSV spelling)."""
    return "".join(parse_maze(grid).ravel().tolist())


def encode_maze(grids) -> np.ndarray:
    """Tokens (..., n*n) int64 of character grids (..., n, n): '# SGo' -> 1..5."""
    grids = np.asarray(grids)
    if grids.dtype.kind != "U" or grids.dtype.itemsize != 4:
        raise TypeError(f"maze grids must be single characters (dtype <U1), got {grids.dtype}")
    table = np.full(128, -1, dtype=np.int64)
    for ch, code in _CODE.items():
        table[ord(ch)] = code
    codes = grids.view(np.uint32)
    tokens = table[np.minimum(codes, 127)]
    if ((tokens < 0) | (codes > 127)).any():
        raise ValueError(f"bad maze characters; allowed are {CHARS!r}")
    return tokens.reshape(*grids.shape[:-2], -1)


def decode_maze(tokens) -> np.ndarray:
    """Character grids (..., n, n) from tokens (..., n*n); PAD (0) shows as '?'."""
    tokens = np.asarray(tokens)
    size = int(round(tokens.shape[-1] ** 0.5))
    if size * size != tokens.shape[-1]:
        raise ValueError(f"token length {tokens.shape[-1]} is not a square")
    if tokens.min() < 0 or tokens.max() > len(CHARS):
        raise ValueError(f"maze tokens must be 0..{len(CHARS)}, got {tokens.min()}..{tokens.max()}")
    table = np.array(["?"] + list(CHARS), dtype="<U1")
    return table[tokens].reshape(*tokens.shape[:-1], size, size)


def bfs(grid, source: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Breadth-first search over non-wall cells from `source`: (distance (n, n), -1 where
    unreachable; number of shortest paths (n, n), capped at 2)."""
    grid = np.asarray(grid)
    n = grid.shape[0]
    free = (grid != WALL).ravel().tolist()
    dist, ways = [-1] * (n * n), [0] * (n * n)
    first = source[0] * n + source[1]
    dist[first], ways[first] = 0, 1
    queue = deque([first])
    while queue:
        i = queue.popleft()
        r, c = divmod(i, n)
        for j in (i - n if r else -1, i + n if r < n - 1 else -1, i - 1 if c else -1, i + 1 if c < n - 1 else -1):
            if j >= 0 and free[j]:
                if dist[j] < 0:
                    dist[j] = dist[i] + 1
                    queue.append(j)
                if dist[j] == dist[i] + 1:
                    ways[j] = min(2, ways[j] + ways[i])
    return np.array(dist).reshape(n, n), np.array(ways).reshape(n, n)


def _find(grid: np.ndarray, ch: str) -> tuple[int, int]:
    where = np.argwhere(grid == ch)
    if len(where) != 1:
        raise ValueError(f"a maze needs exactly one {ch!r}, found {len(where)}")
    return int(where[0, 0]), int(where[0, 1])


def shortest_path(grid) -> list[tuple[int, int]]:
    """Cells of a shortest S->G path, S and G included; ValueError when G is unreachable."""
    grid = parse_maze(grid)
    start, goal = _find(grid, START), _find(grid, GOAL)
    dist, _ = bfs(grid, goal)
    if dist[start] < 0:
        raise ValueError("the goal cannot be reached from the start")
    path, (r, c) = [start], start
    while (r, c) != goal:  # walk downhill in distance-to-goal (first step in a fixed order)
        r, c = next((r + dr, c + dc) for dr, dc in _STEPS
                    if 0 <= r + dr < len(grid) and 0 <= c + dc < len(grid) and dist[r + dr, c + dc] == dist[r, c] - 1)
        path.append((r, c))
    return path


def solve_maze(grid) -> np.ndarray:
    """The label grid: the input with a shortest path's cells (S and G excluded) marked 'o'."""
    grid = parse_maze(grid)
    if (grid == PATH).any():
        raise ValueError("the input maze already contains path marks 'o'")
    label = grid.copy()
    for r, c in shortest_path(grid)[1:-1]:
        label[r, c] = PATH
    return label


def path_length(label) -> int:
    """Steps of the marked path in a label grid: number of 'o' cells + 1."""
    return int((np.asarray(label) == PATH).sum()) + 1


# ---------------------------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------------------------
def hard_threshold(n: int) -> int:
    """Default "hard" minimum path length (steps) of an n x n maze: n * n / 6, rounded down."""
    return (n * n) // 6


def _carve(n: int, rng: np.random.Generator, loops: float) -> np.ndarray:
    """Walls with rooms at odd coordinates joined by a random depth-first spanning tree, then a
    fraction `loops` of the remaining inner walls between two rooms opened (so paths can differ)."""
    grid = np.full((n, n), WALL, dtype="<U1")
    m = (n - 1) // 2  # rooms per side
    seen = np.zeros((m, m), dtype=bool)
    start = (int(rng.integers(m)), int(rng.integers(m)))
    seen[start] = True
    grid[2 * start[0] + 1, 2 * start[1] + 1] = OPEN
    stack = [start]
    while stack:
        r, c = stack[-1]
        nxt = [(r + dr, c + dc) for dr, dc in _STEPS
               if 0 <= r + dr < m and 0 <= c + dc < m and not seen[r + dr, c + dc]]
        if not nxt:
            stack.pop()
            continue
        rr, cc = nxt[int(rng.integers(len(nxt)))]
        seen[rr, cc] = True
        grid[2 * rr + 1, 2 * cc + 1] = OPEN
        grid[r + rr + 1, c + cc + 1] = OPEN  # the wall between the two rooms
        stack.append((rr, cc))
    inner = [(r, c) for r in range(1, n - 1) for c in range(1, n - 1) if (r + c) % 2 == 1 and grid[r, c] == WALL]
    for k in np.flatnonzero(rng.random(len(inner)) < loops):
        grid[inner[k]] = OPEN
    return grid


def generate_maze(
    n: int = 15, rng: np.random.Generator | None = None, min_path: int | None = None, loops: float = 0.05,
    max_tries: int = 1000,
) -> tuple[np.ndarray, np.ndarray]:
    """One (input, label) pair: a random n x n maze (odd n, 7..31) whose shortest S->G path has
    at least `min_path` steps (default `hard_threshold(n)`) and is the only shortest path."""
    if not isinstance(n, (int, np.integer)) or n % 2 == 0 or not 7 <= n <= 31:
        raise ValueError(f"maze size must be an odd integer from 7 to 31, got {n!r}")
    if not 0.0 <= loops <= 1.0:
        raise ValueError(f"loops must be a fraction in [0, 1], got {loops}")
    rng = rng if rng is not None else np.random.default_rng()
    min_path = hard_threshold(n) if min_path is None else int(min_path)
    for _ in range(max_tries):
        grid = _carve(n, rng, loops)
        cells = np.argwhere(grid == OPEN)
        for _ in range(4):  # a few starts per maze before carving a new one
            start = tuple(int(v) for v in cells[rng.integers(len(cells))])
            dist, ways = bfs(grid, start)
            ok = np.argwhere((dist >= min_path) & (ways == 1))
            if len(ok):
                goal = tuple(int(v) for v in ok[rng.integers(len(ok))])
                grid[start], grid[goal] = START, GOAL
                return grid, solve_maze(grid)
    raise ValueError(f"no {n}x{n} maze with a unique shortest path of >= {min_path} steps in {max_tries} tries")


def generate_mazes(
    count: int, n: int = 15, seed: int | np.random.Generator = 0, min_path: int | None = None, loops: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """`count` mazes: (inputs, labels), both (count, n, n) character arrays."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    pairs = [generate_maze(n, rng, min_path, loops) for _ in range(count)]
    if not pairs:
        return np.zeros((0, n, n), "<U1"), np.zeros((0, n, n), "<U1")
    inputs, labels = zip(*pairs)
    return np.stack(inputs), np.stack(labels)


# ---------------------------------------------------------------------------------------------
# The 8 symmetries of the square
# ---------------------------------------------------------------------------------------------
def dihedral(grid: np.ndarray, k: int) -> np.ndarray:
    """Symmetry k (0..7) of the square applied to the last two axes: k % 4 quarter turns, then a
    transpose when k >= 4. k = 0 is the identity."""
    if not 0 <= int(k) <= 7:
        raise ValueError(f"dihedral index must be 0..7, got {k}")
    out = np.rot90(np.asarray(grid), int(k) % 4, axes=(-2, -1))
    return np.swapaxes(out, -1, -2) if k >= 4 else out


def dihedral_permutations(n: int) -> np.ndarray:
    """(8, n*n) gather indices: flat(dihedral(grid, k)) == flat(grid)[perm[k]]."""
    idx = np.arange(n * n).reshape(n, n)
    return np.stack([dihedral(idx, k).ravel() for k in range(8)])
