"""Sudoku grids, the plain solver and its rating, the batch engine and the generator."""
from __future__ import annotations

import numpy as np
import pytest

from hrm_minimal.data import sudoku as S
from hrm_minimal.data import sudoku_engine as E

# Arto Inkala's "world's hardest Sudoku" (2012) and the first 17-clue puzzle of Gordon Royle's list.
INKALA = "8..........36......7..9.2...5...7.......457.....1...3...1....68..85...1..9....4.."
INKALA_SOLUTION = "812753649943682175675491283154237896369845721287169534521974368438526917796318452"
SEVENTEEN = "000000010400000000020000000000050407008000300001090000300400200050100000000806000"
SEVENTEEN_SOLUTION = "693784512487512936125963874932651487568247391741398625319475268856129743274836159"


@pytest.mark.parametrize("puzzle, solution", [(INKALA, INKALA_SOLUTION), (SEVENTEEN, SEVENTEEN_SOLUTION)])
def test_solver_on_published_hard_puzzles(puzzle, solution):
    result = S.solve(puzzle)
    assert result.count == 1
    assert S.grid_to_string(result.solution) == solution
    assert S.solves(puzzle, result.solution)
    assert result.guesses > 100  # hard for a plain depth-first search
    count, first = E.solve_batch(np.stack([S.parse_grid(puzzle)]), 9)
    assert count.tolist() == [1] and S.grid_to_string(first[0]) == solution


def test_count_stops_at_the_limit_and_spots_broken_givens():
    g = S.parse_grid(SEVENTEEN)
    g[0, 7] = 0  # 16 clues: many solutions
    assert S.count_solutions(g) == 2
    assert S.count_solutions(g, limit=5) == 5
    g[0, 0], g[0, 1] = 5, 5  # a repeated digit in row 1
    assert S.count_solutions(g) == 0
    assert not S.is_consistent(g)
    assert E.count_solutions_batch(g[None], 9).tolist() == [0]


def test_engine_counts_match_the_plain_solver():
    rng = np.random.default_rng(0)
    solutions = E.random_solutions(30, 6, rng)
    puzzles = np.where(rng.random(solutions.shape) < 0.75, 0, solutions)  # many with several solutions
    plain = [S.count_solutions(p) for p in puzzles]
    assert sorted(set(plain)) == [1, 2] or set(plain) == {2}
    assert E.count_solutions_batch(puzzles, 6).tolist() == plain


def test_parse_and_print_round_trip_and_encoding():
    g = S.parse_grid(INKALA)
    assert g.shape == (9, 9) and g[0, 0] == 8 and g[0, 1] == 0
    assert S.grid_to_string(g) == INKALA
    assert S.grid_to_string(S.parse_grid(INKALA.replace(".", "0"))) == INKALA
    tokens = S.encode_sudoku(g)
    assert tokens.shape == (81,) and tokens[0] == 9 and tokens[1] == 1 and tokens.dtype == np.int64
    assert (S.decode_sudoku(tokens) == g).all()


@pytest.mark.parametrize("bad, error", [
    ("123", "16, 36 or 81"),
    ("1234" * 3 + "123x", "bad character 'x'"),
    ("5" + "." * 15, "bad character '5'"),
])
def test_parse_rejects_bad_strings(bad, error):
    with pytest.raises(ValueError, match=error):
        S.parse_grid(bad)


def test_bad_sizes_and_boxes_are_rejected():
    with pytest.raises(ValueError, match="unsupported Sudoku size 5"):
        S.box_shape(5)
    with pytest.raises(ValueError, match="does not tile"):
        S.units(6, (2, 2))
    with pytest.raises(ValueError, match="0 \\(blank\\) to 4"):
        S.parse_grid(np.full((4, 4), 7))
    with pytest.raises(TypeError, match="integers"):
        S.parse_grid(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="count"):
        S.generate(-1, 4)
    with pytest.raises(ValueError, match="clues"):
        S.generate(2, 4, clues=(10, 5))
    with pytest.raises(ValueError, match="out of reach"):
        S.generate(2, 4, clues=2)  # a 4x4 Sudoku needs at least 4 clues


@pytest.mark.parametrize("size, clues", [(4, None), (6, None), (6, 14), (9, (30, 40))])
def test_generated_puzzles_are_unique_valid_and_hit_the_clue_target(size, clues):
    puzzles, solutions = S.generate(40, size, clues=clues, seed=1)
    assert puzzles.shape == solutions.shape == (40, size, size)
    n_clues = (puzzles.reshape(40, -1) > 0).sum(1)
    for p, s in zip(puzzles, solutions):
        assert S.is_solution(s) and S.solves(p, s)
        assert S.count_solutions(p) == 1
    if clues is None:  # minimal: removing any remaining clue gives a second solution
        for p in puzzles[:10]:
            for r, c in np.argwhere(p > 0):
                q = p.copy()
                q[r, c] = 0
                assert S.count_solutions(q) == 2
    else:
        low, high = (clues, clues) if isinstance(clues, int) else clues
        assert n_clues.min() >= low and n_clues.max() <= high


def test_generation_is_deterministic_from_a_seed():
    a = S.generate(20, 9, seed=123)
    b = S.generate(20, 9, seed=123)
    c = S.generate(20, 9, seed=124)
    assert (a[0] == b[0]).all() and (a[1] == b[1]).all()
    assert not (a[0] == c[0]).all()


def test_fast_removal_equals_plain_one_by_one_removal():
    rng = np.random.default_rng(5)
    solutions = E.random_solutions(8, 6, rng)
    orders = np.argsort(rng.random((8, 36)), axis=1)
    fast = E.remove_clues(solutions, orders, np.zeros(8, dtype=np.intp))
    for sol, order, got in zip(solutions, orders, fast):
        p = sol.copy()
        for cell in order:  # the textbook loop, one solver call per cell
            r, c = divmod(int(cell), 6)
            keep = p[r, c]
            p[r, c] = 0
            if S.count_solutions(p) != 1:
                p[r, c] = keep
        assert (p == got).all()


def test_ratings_grow_as_clues_are_removed():
    puzzles, _ = S.generate(15, 9, clues=40, seed=2)
    rng = np.random.default_rng(3)
    rich, poor = [], []
    for p in puzzles:
        rich.append(S.rate(p))
        q = p.copy()
        for cell in rng.permutation(81):  # strip to 26 clues, keeping the solution unique
            r, c = divmod(int(cell), 9)
            if q[r, c] and (q > 0).sum() > 26:
                keep, q[r, c] = q[r, c], 0
                if E.count_solutions_batch(q[None], 9)[0] != 1:
                    q[r, c] = keep
        poor.append(S.rate(q))
    assert np.mean(poor) > 5 * np.mean(rich) + 5
    assert sum(b >= a for a, b in zip(rich, poor)) >= 13


def test_rating_is_zero_when_naked_singles_solve_it():
    full = S.parse_grid(SEVENTEEN_SOLUTION)
    p = full.copy()
    p[0, :3] = 0  # three blanks in one row: each is forced by its column
    assert S.rate(p) == 0
    assert S.rate(INKALA) > S.rate(p)


def test_min_rating_filter():
    puzzles, _ = S.generate(5, 6, clues=None, seed=4, min_rating=3)
    assert len(puzzles) == 5
    assert all(S.rate(p) >= 3 for p in puzzles)
