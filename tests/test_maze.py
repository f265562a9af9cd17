"""Mazes: generation, BFS shortest paths, the 'hard' filter and the 8 symmetries."""
from __future__ import annotations

from itertools import product

import numpy as np
import pytest

from hrm_minimal.data import maze as M

TINY = [
    "#######",
    "#S    #",
    "# #####",
    "#   # #",
    "### # #",
    "#    G#",
    "#######",
]


def _brute_force_distance(grid: np.ndarray, a, b) -> int:
    """Shortest distance by relaxing every cell until nothing changes (no queue, no BFS)."""
    n = grid.shape[0]
    dist = {a: 0}
    changed = True
    while changed:
        changed = False
        for r, c in product(range(n), range(n)):
            if grid[r, c] == "#":
                continue
            best = min((dist[(r + dr, c + dc)] + 1 for dr, dc in M._STEPS if (r + dr, c + dc) in dist), default=None)
            if best is not None and best < dist.get((r, c), 10**9):
                dist[(r, c)] = best
                changed = True
    return dist.get(b, -1)


def test_tiny_maze_path_is_the_shortest():
    grid = M.parse_maze(TINY)
    path = M.shortest_path(grid)
    assert path[0] == (1, 1) and path[-1] == (5, 5)
    assert len(path) - 1 == _brute_force_distance(grid, (1, 1), (5, 5)) == 8
    label = M.solve_maze(grid)
    assert M.path_length(label) == 8
    assert ((label == "o") == np.isin(np.arange(49).reshape(7, 7), [r * 7 + c for r, c in path[1:-1]])).all()


@pytest.mark.parametrize("n", [7, 11, 15])
def test_generated_mazes_have_a_unique_shortest_path_of_hard_length(n):
    inputs, labels = M.generate_mazes(15, n, seed=n)
    assert inputs.shape == labels.shape == (15, n, n)
    for x, y in zip(inputs, labels):
        assert (x == "S").sum() == 1 and (x == "G").sum() == 1 and not (x == "o").any()
        assert (x[0] == "#").all() and (x[:, -1] == "#").all()  # closed border
        assert ((x == y) | ((x == " ") & (y == "o"))).all()  # the label only adds path marks
        s, g = tuple(np.argwhere(x == "S")[0]), tuple(np.argwhere(x == "G")[0])
        d = _brute_force_distance(x, s, g)
        assert M.path_length(y) == d >= M.hard_threshold(n)
        path = {tuple(p) for p in np.argwhere(y == "o")} | {s, g}
        for r, c in path - {s, g}:  # every path cell continues the path on exactly two sides
            assert sum((r + dr, c + dc) in path for dr, dc in M._STEPS) == 2
        assert M.bfs(x, s)[1][g] == 1  # the only shortest path


def test_custom_min_path_and_determinism():
    a = M.generate_mazes(5, 9, seed=3, min_path=12)
    b = M.generate_mazes(5, 9, seed=3, min_path=12)
    assert (a[0] == b[0]).all() and (a[1] == b[1]).all()
    assert min(M.path_length(y) for y in a[1]) >= 12


@pytest.mark.parametrize("n", [6, 5, 33])
def test_bad_sizes_are_rejected(n):
    with pytest.raises(ValueError, match="odd integer from 7 to 31"):
        M.generate_maze(n)


def test_unreachable_goal_and_bad_characters_are_errors():
    blocked = list(TINY)
    blocked[4] = "#######"  # walls the goal's row off
    with pytest.raises(ValueError, match="cannot be reached"):
        M.solve_maze(blocked)
    with pytest.raises(ValueError, match="bad maze characters"):
        M.parse_maze(["#x", "SG"])
    with pytest.raises(ValueError, match="exactly one 'S'"):
        M.solve_maze([row.replace("S", " ") for row in TINY])


def test_dihedral_maps_are_the_eight_symmetries():
    grid = np.arange(25).reshape(5, 5)
    images = {M.dihedral(grid, k).tobytes() for k in range(8)}
    assert len(images) == 8
    perms = M.dihedral_permutations(5)
    for k in range(8):
        assert (grid.ravel()[perms[k]] == M.dihedral(grid, k).ravel()).all()
    x = M.parse_maze(TINY)
    assert M.bfs(x, (1, 1))[1][5, 5] == 1  # a unique shortest path, so the label is well defined
    for k in range(8):  # the path of the transformed maze is the transformed path
        assert (M.solve_maze(M.dihedral(x, k)) == M.dihedral(M.solve_maze(x), k)).all()
    with pytest.raises(ValueError, match="0..7"):
        M.dihedral(grid, 8)


def test_token_round_trip():
    x = M.parse_maze(TINY)
    tokens = M.encode_maze(M.solve_maze(x))
    assert tokens.shape == (49,) and set(np.unique(tokens)) == {1, 2, 3, 4, 5}
    assert (M.decode_maze(tokens) == M.solve_maze(x)).all()
    with pytest.raises(ValueError, match="maze tokens must be"):
        M.decode_maze(np.full(49, 9))
