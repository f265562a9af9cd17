"""Checkers of lesson 09 (reasoning or guessing?): when an answer settles, mapping an answer back from a
symmetry, the per-cell vote.

9.1 compares the student's `settled_segment(boards)` with `hrm_minimal.trace.settled_segments` on
hand-built sequences of boards: answers kept from the first segment, settling late, coming back to
the final answer and leaving it again, and still changing at the last segment. 9.2 compares
`unpermute` with `hrm_minimal.tta.Symmetry.invert` on random Sudoku and maze symmetries, one per
puzzle. 9.3 compares `cell_vote` with `hrm_minimal.tta.cell_vote` on answers with ties in which the
earliest draw's token is neither the smallest nor the largest. A mistake is named only if it
explains every trial so far.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from hrm_minimal.trace import settled_segments
from hrm_minimal.tta import Symmetry, cell_vote

from .core import Mismatch, _as_array, run_check

__all__ = ["check_settled_segment", "check_unpermute", "check_cell_vote"]


def _first_match(results: list[tuple], wrong: Callable) -> bool:
    """Does `wrong(*inputs)` give the student's output on every trial so far?"""
    for inputs, got in results:
        try:
            want = np.asarray(wrong(*inputs))
        except Exception:  # a mistake that cannot even run on these inputs is not this one
            return False
        if want.shape != got.shape or not np.array_equal(want, got):
            return False
    return True


def _diagnose(results: list[tuple], mistakes: list[tuple[str, Callable]], fallback: str) -> None:
    for hint, wrong in mistakes:
        if _first_match(results, wrong):
            raise Mismatch(hint)
    raise Mismatch(fallback)


def _judge(student: Callable, inputs: dict[str, np.ndarray], want: np.ndarray, what: str, results: list,
           mistakes: list[tuple[str, Callable]], fallback: str) -> None:
    """Run the student on copies of `inputs`, refuse changes made in place, compare with `want`, and
    name the mistake that explains every trial so far (or say what is asked)."""
    given = {name: x.copy() for name, x in inputs.items()}
    got = student(*given.values())
    for name, x in inputs.items():
        if not np.array_equal(given[name], x):
            raise Mismatch(f"your function changed the {name} it was given; work on a copy")
    got = _integer_array(got, want, what)
    results.append((tuple(inputs.values()), got))
    if not np.array_equal(got, want):
        _diagnose(results, mistakes, fallback)


def _integer_array(got, want: np.ndarray, what: str) -> np.ndarray:
    got = _as_array(got, what)
    if got.shape != want.shape:
        raise Mismatch(f"{what} has shape {got.shape}, expected {want.shape}")
    if got.dtype.kind not in "iu":
        raise Mismatch(f"{what} should hold integers (got dtype {got.dtype}); "
                       + ("segment numbers" if "segment" in what else "tokens") + " are whole numbers")
    return got


# --------------------------------------------------------------------------- 9.1 when the answer settles


def _boards(rng: np.random.Generator) -> np.ndarray:
    """(segments, N, S) boards: for each puzzle one pattern of answers over the segments, every pattern
    in every trial (kept from segment 1; settled at a random segment; back at the final answer and
    away again; changed at the last segment; a single late change). Every other answer moves one cell
    up and another down by the same amount, so that a board's sum (or mean) does not tell answers apart."""
    segments, S = int(rng.integers(4, 8)), int(rng.integers(3, 7))
    patterns = ["kept", "settles", "returns", "last", "settles", "returns", "late"]
    rng.shuffle(patterns)
    boards = np.empty((segments, len(patterns), S), dtype=np.int64)

    def another(final: np.ndarray, step: int) -> np.ndarray:
        a, b = rng.choice(S, size=2, replace=False)
        board = final.copy()
        board[a] += step
        board[b] -= step
        return board

    for n, pattern in enumerate(patterns):
        final = rng.integers(3, 9, size=S)
        other = another(final, 1)
        seq = [final] * segments
        if pattern == "settles":
            k = int(rng.integers(1, segments - 1))  # settles at segment k + 1
            seq = [another(final, i + 1) for i in range(k)] + [final] * (segments - k)
        elif pattern == "returns":  # the final answer at segment 1, then another, then the final again
            k = int(rng.integers(2, segments - 1))
            seq = [final] + [other] * (k - 1) + [final] * (segments - k)
        elif pattern == "last":  # the last segment changes it
            seq = [final] * (segments - 1) + [other]
        elif pattern == "late":
            seq = [other] * (segments - 2) + [final] * 2
        boards[:, n] = np.stack(seq)
    return boards


def _first_equal_to_final(boards):
    same = (boards == boards[-1]).all(-1)
    return same.argmax(0) + 1


def _first_pause(boards):
    """The first segment whose answer the next one keeps (or the last segment)."""
    still = np.concatenate([(boards[1:] == boards[:-1]).all(-1), np.ones((1, boards.shape[1]), bool)])
    return still.argmax(0) + 1


def _changes(boards):
    return (boards[1:] != boards[:-1]).any(-1).sum(0)


def _by_sum(boards):
    return settled_segments(boards.sum(-1, keepdims=True))


def _strict_majority(answers):
    votes = (answers[:, None] == answers[None]).sum(1)
    return np.where(votes.max(0) > len(answers) / 2, cell_vote(answers), answers[0])


_SETTLED_MISTAKES = [
    ("compare the answers cell by cell ((a == b).all(axis=-1)): two different boards can have the same sum "
     "or mean", _by_sum),
    ("segments are numbered from 1: a puzzle whose answer never changes settles at segment 1",
     lambda b: settled_segments(b) - 1),
    ("count from the segment whose answer is kept to the end: that is one earlier than where your count ends",
     lambda b: settled_segments(b) + 1),
    ("an answer equal to the last one is not settled if a later segment changes it again: the answers at s, "
     "s+1, ..., last must ALL be the same (look from the end backwards)", _first_equal_to_final),
    ("the first segment the next one keeps is only a pause: the answer must stay the same at every segment "
     "from s to the last", _first_pause),
    ("that counts the changes; the question is WHERE the last change happened: the segment after it", _changes),
    ("every puzzle came out at the last segment, but each puzzle settles at its own segment, the EARLIEST s "
     "from which its answer stays the last one: compare boards along the cells only (.all(axis=-1)), not over "
     "all puzzles at once; a loop forward must keep the first such s, not the last; walking back from the end, "
     "a puzzle settles at s when its answer at s is the last one AND it had settled at s + 1",
     lambda b: np.full(b.shape[1], b.shape[0])),
    ("a puzzle changed by the last segment settles there: return the number of segments, not 0",
     lambda b: np.where(settled_segments(b) == b.shape[0], 0, settled_segments(b))),
    ("a puzzle changed by the last segment settles there: return the number of segments, not -1",
     lambda b: np.where(settled_segments(b) == b.shape[0], -1, settled_segments(b))),
    ("a puzzle changed by the last segment settles there: return the number of segments, not one more",
     lambda b: np.where(settled_segments(b) == b.shape[0], b.shape[0] + 1, settled_segments(b))),
]


def check_settled_segment(fn: Callable) -> Callable:
    """Exercise 9.1: settled_segment(boards (segments, N, S)) -> (N,) the 1-based segment from which the
    answer never changes again."""
    results: list[tuple] = []

    def trial(student: Callable, rng: np.random.Generator) -> None:
        boards = _boards(rng)
        _judge(student, {"boards": boards}, settled_segments(boards), "settled_segment's result", results,
               _SETTLED_MISTAKES, "for each puzzle, find the earliest segment s such that the answers at s, s+1, "
               "..., last are all the same as the last one (1-based; the number of segments if the last segment "
               "still changed it)")

    return run_check("9.1", fn, settled_segments, trial, trials=10)


# --------------------------------------------------------------------------- 9.2 map an answer back


def _symmetries(rng: np.random.Generator, trial: int) -> tuple[Symmetry, np.ndarray, int]:
    """Random symmetries, one per puzzle, and random boards in their frame. The first trials are Sudoku
    of each size (their tokens are relabelled); later ones may be mazes (tokens kept)."""
    # 9x9 first: its digit relabellings are almost never their own inverse, so undoing and redoing them
    # differ in the first trial whatever the seed
    kinds = [("sudoku", 9), ("sudoku", 6), ("sudoku", 4)] + [("maze", 5)]
    kind, n = kinds[trial] if trial < 3 else kinds[int(rng.integers(len(kinds)))]
    count = int(rng.integers(3, 7))
    sym = Symmetry.random(kind, n, count, rng)
    vocab = sym.tokens.shape[1]
    answers = rng.integers(1, vocab, size=(count, n * n))
    return sym, answers, vocab


def _apply_again(answers, cells, tokens):
    return Symmetry(cells, tokens).apply(answers)


def _cells_back_only(answers, cells, tokens):
    return Symmetry(np.argsort(cells, axis=1), np.tile(np.arange(tokens.shape[1]), (len(tokens), 1))).apply(answers)


def _tokens_back_only(answers, cells, tokens):
    return Symmetry(np.tile(np.arange(cells.shape[1]), (len(cells), 1)), np.argsort(tokens, axis=1)).apply(answers)


def _cells_forward_tokens_back(answers, cells, tokens):
    return Symmetry(cells, np.argsort(tokens, axis=1)).apply(answers)


def _cells_back_tokens_forward(answers, cells, tokens):
    return Symmetry(np.argsort(cells, axis=1), tokens).apply(answers)


def _first_row_for_all(answers, cells, tokens):
    return Symmetry(cells[:1], tokens[:1]).invert(answers)


_UNPERMUTE_MISTAKES = [
    ("you applied the symmetry a second time; undo it instead: the inverse of a permutation p is "
     "np.argsort(p) (for cells and for tokens)", _apply_again),
    ("the cells are back in place but the tokens are not: the digits were relabelled too, so map them back "
     "with the inverse of tokens (np.argsort(tokens, axis=1))", _cells_back_only),
    ("the tokens are mapped back but the cells are not: move each cell back too (gather with "
     "np.argsort(cells, axis=1), or scatter: out[r, cells[r, i]] = ...)", _tokens_back_only),
    ("the tokens are mapped back, but the cells went the wrong way: gather with np.argsort(cells, axis=1), or "
     "scatter to cells (out[r, cells[r, i]] = answer[r, i]); gathering with cells, or scattering to "
     "argsort(cells), repeats the symmetry's move", _cells_forward_tokens_back),
    ("the cells are back in place, but the tokens went through the symmetry's map again: map them with its "
     "inverse, np.argsort(tokens, axis=1)", _cells_back_tokens_forward),
    ("each puzzle has its own symmetry: use row r of cells and tokens for answer r", _first_row_for_all),
]


def _invert_reference(answers, cells, tokens):
    """The package's inversion: `Symmetry(cells, tokens).invert(answers)`."""
    return Symmetry(cells, tokens).invert(answers)


def check_unpermute(fn: Callable) -> Callable:
    """Exercise 9.2: unpermute(answers (N, S), cells (N, S), tokens (N, V)) -> (N, S) the answers in each
    puzzle's own frame."""
    results: list[tuple] = []

    def trial(student: Callable, rng: np.random.Generator) -> None:
        sym, answers, _ = _symmetries(rng, len(results))
        _judge(student, {"answers": answers, "cells": sym.cells, "tokens": sym.tokens}, sym.invert(answers),
               "unpermute's result", results, _UNPERMUTE_MISTAKES,
               "the symmetry put cell cells[r, i] at i and relabelled its token with tokens[r]; undo both for each "
               "puzzle r (the inverse of a permutation p is np.argsort(p))")

    return run_check("9.2", fn, _invert_reference, trial, trials=10)


# --------------------------------------------------------------------------- 9.3 the per-cell vote


def _votes(rng: np.random.Generator, trial: int) -> np.ndarray:
    """(K, N, S) answers with clear majorities and ties. With K = 5 (the first trial) draw 0 loses to a
    majority in one cell, a tie goes to draw 1 in another, and two draws share a whole answer that the
    per-cell vote does not give; with K = 3 (the second) the three tied tokens' earliest is neither the
    smallest nor the largest; later trials draw K from 3 to 5."""
    K = (5, 3)[trial] if trial < 2 else int(rng.integers(3, 6))
    N, S = int(rng.integers(3, 7)), int(rng.integers(4, 9))
    answers = rng.integers(0, 11, size=(K, N, S))  # 9x9 Sudoku's tokens: 0 to 10
    answers[:, :, -1] = np.array([10, 0, 10, 1, 1][:K])[:, None]  # 10 wins (K = 3 or 4), or a 10/1 tie (K = 5)
    for n in range(N):  # one hand-made tie per puzzle: draws 0 and 1 give 5, then 2 and 9 alternate
        s = int(rng.integers(S))
        answers[:, n, s] = [5, 2, 9, 5, 2][:K] if K != 4 else [2, 5, 9, 9]  # K=4: 9 wins over 2 and 5
    answers[:, 0, 0] = ([5, 9, 2, 9, 2][:K] if K != 4 else [5, 9, 2, 9])  # a tie of 9 and 2: 9 draws first
    answers[:, 1, 0] = ([9, 2, 5, 5, 2][:K] if K != 4 else [9, 2, 5, 5])  # draw 0 in a minority (K > 3)
    if K == 5:  # 2 and 9 tie; 2 comes first, 9 last: the latest draw's rule is not the smallest token's
        answers[:, 0, 1] = [2, 9, 2, 9, 5]
        answers[:, 1, 1] = [9, 5, 5, 5, 2]  # a strict majority against draw 0
    if K >= 4:  # puzzle 2: the last two draws give the same whole answer, the others agree on its first cell
        same = rng.integers(2, 8, size=S)
        same[0] = 2
        answers[K - 2, 2] = answers[K - 1, 2] = same
        for k in range(K - 2):
            answers[k, 2] = (same - 2 + k + 1) % 6 + 2  # differs from `same` in every cell, and from each other
            answers[k, 2, 0] = 7
    return answers


def _tie_smallest(answers):
    tokens = np.arange(int(answers.max()) + 1)
    counts = (answers[..., None] == tokens).sum(0)  # (N, S, T)
    return counts.argmax(-1)


def _tie_largest(answers):
    tokens = np.arange(int(answers.max()) + 1)
    counts = (answers[..., None] == tokens).sum(0)
    return counts.shape[-1] - 1 - counts[..., ::-1].argmax(-1)


def _tie_latest(answers):
    return cell_vote(answers[::-1])


def _rounded_mean(answers):
    return np.rint(answers.mean(0)).astype(np.int64)


def _median(answers):
    return np.median(answers, axis=0).astype(np.int64)


def _whole_answer(answers):
    same = (answers[:, None] == answers[None]).all(-1).sum(1)  # (K, N)
    return np.take_along_axis(answers, same.argmax(0)[None, :, None], axis=0)[0]


_VOTE_MISTAKES = [
    ("that is draw 0's answer alone: count, for every cell, how many of the K answers give each token",
     lambda a: a[0]),
    ("a cell takes the token with the MOST votes, even without a majority of more than half; only a tie "
     "between the most voted tokens goes to the earliest draw", _strict_majority),
    ("a tie goes to the token of the EARLIEST draw among the tied ones (draw 0 is the plain model), not to "
     "the smallest token (np.bincount(...).argmax() and scipy's mode pick the smallest)", _tie_smallest),
    ("a tie goes to the token of the earliest draw among the tied ones, not to the largest token", _tie_largest),
    ("a tie goes to the token of the EARLIEST draw among the tied ones, not the latest", _tie_latest),
    ("a vote counts tokens, it does not average them: the mean of 2 and 9 is a digit no draw gave",
     _rounded_mean),
    ("a vote counts tokens; the median is another rule (and not always a token the majority gave)", _median),
    ("vote cell by cell: each cell takes its own most frequent token, even if no single answer has them all",
     _whole_answer),
]


def check_cell_vote(fn: Callable) -> Callable:
    """Exercise 9.3: cell_vote(answers (K, N, S)) -> (N, S) each cell's most frequent token, ties to the
    earliest draw."""
    results: list[tuple] = []

    def trial(student: Callable, rng: np.random.Generator) -> None:
        answers = _votes(rng, len(results))
        _judge(student, {"answers": answers}, cell_vote(answers), "cell_vote's result", results, _VOTE_MISTAKES,
               "each cell takes the token that most of the K answers give it; a tie goes to the token of the "
               "earliest draw among the tied ones")

    return run_check("9.3", fn, cell_vote, trial, trials=10)
