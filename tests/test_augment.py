"""Augmentations: every augmented pair is still a valid puzzle with its solution."""
from __future__ import annotations

import numpy as np
import pytest

from hrm_minimal.data import IGNORE_LABEL_ID, augment_batch, equivalence as eq, maze as M, sudoku as S
from hrm_minimal.data.augment import sudoku_permutations


@pytest.mark.parametrize("size, clues", [(4, None), (6, None), (9, (30, 40))])
def test_augmented_sudoku_pairs_stay_valid_and_unique(size, clues):
    puzzles, solutions = S.generate(40, size, clues=clues, seed=size)
    x, y = S.encode_sudoku(puzzles), S.encode_sudoku(solutions)
    xa, ya = augment_batch("sudoku", x, y, size, S.BOXES[size], np.random.default_rng(0))
    assert xa.shape == x.shape and xa.dtype == x.dtype
    pa, sa = S.decode_sudoku(xa), S.decode_sudoku(ya)
    for p0, p, s in zip(puzzles, pa, sa):
        assert S.solves(p, s, S.BOXES[size])
        assert S.count_solutions(p) == 1
        assert (p > 0).sum() == (p0 > 0).sum()
        assert eq.sudoku_invariant(p) == eq.sudoku_invariant(p0)  # the same puzzle up to symmetry
    assert not (xa == x).all(axis=1).any()  # every row moved


def test_each_row_gets_its_own_transform():
    puzzles, solutions = S.generate(1, 9, seed=0)
    x = np.repeat(S.encode_sudoku(puzzles), 64, axis=0)
    xa, _ = augment_batch("sudoku", x, x.copy(), 9, (3, 3), np.random.default_rng(1))
    assert len({row.tobytes() for row in xa}) == 64


def test_4x4_cell_maps_cover_the_whole_group_and_6x6_never_transposes():
    cells4, maps4 = sudoku_permutations(3000, 4, (2, 2), np.random.default_rng(0))
    assert {c.tobytes() for c in cells4} == {c.tobytes() for c in eq.sudoku_symmetries(4)}  # 128 maps
    assert (maps4[:, :2] == [0, 1]).all() and (np.sort(maps4[:, 2:], 1) == np.arange(2, 6)).all()
    cells6, _ = sudoku_permutations(3000, 6, (2, 3), np.random.default_rng(0))
    group6 = {c.tobytes() for c in eq.sudoku_symmetries(6)}
    assert all(c.tobytes() in group6 for c in cells6)
    rows_of_row = cells6.reshape(-1, 6, 6) // 6  # source rows of each output row
    assert (rows_of_row == rows_of_row[:, :, :1]).all()  # rows stay rows: no transpose
    cells9, _ = sudoku_permutations(400, 9, (3, 3), np.random.default_rng(0))
    transposed = (cells9.reshape(-1, 9, 9) // 9 == (cells9.reshape(-1, 9, 9) // 9)[:, :1, :]).all(axis=(1, 2))
    assert 120 < transposed.sum() < 280  # about half the 9x9 maps transpose


def test_padding_and_ignored_labels_are_kept():
    puzzles, solutions = S.generate(4, 4, seed=0)
    x, y = S.encode_sudoku(puzzles), S.encode_sudoku(solutions)
    x[:, -1] = 0  # PAD
    y[:, 0] = IGNORE_LABEL_ID
    xa, ya = augment_batch("sudoku", x, y, 4, (2, 2), np.random.default_rng(0))
    assert (ya == IGNORE_LABEL_ID).sum() == 4
    assert (xa == 0).sum() == 4 and set(np.unique(xa)) <= {0, 1, 2, 3, 4, 5}


def test_maze_symmetries_keep_the_shortest_path():
    inputs, labels = M.generate_mazes(40, 11, seed=0)
    x, y = M.encode_maze(inputs), M.encode_maze(labels)
    xa, ya = augment_batch("maze", x, y, 11, None, np.random.default_rng(0))
    seen = set()
    for a, b, x0 in zip(M.decode_maze(xa), M.decode_maze(ya), inputs):
        assert (M.solve_maze(a) == b).all()
        assert eq.maze_canonical(a) == eq.maze_canonical(x0)
        seen.add(next(k for k in range(8) if (M.dihedral(x0, k) == a).all()))
    assert len(seen) >= 6


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="chess"), "kind must be"),
    (dict(grid_size=5), "grid_size"),
    (dict(box=(2, 3)), "box"),
    (dict(labels=np.zeros((3, 16), int)), "must both be"),
    (dict(inputs=np.full((2, 16), 9)), "tokens must lie in 0..5"),
])
def test_bad_arguments_are_rejected(kwargs, message):
    args = dict(kind="sudoku", inputs=np.ones((2, 16), int), labels=np.ones((2, 16), int), grid_size=4, box=(2, 2),
                rng=np.random.default_rng(0))
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        augment_batch(args["kind"], args["inputs"], args["labels"], args["grid_size"], args["box"], args["rng"])
