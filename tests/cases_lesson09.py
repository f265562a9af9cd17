"""Lesson 09's checkers against right answers and the plausible wrong answers a student writes.

Read by tests/test_checks.py: CASES holds (checker, a right answer, [plausible wrong answers]),
HINTS holds (checker, wrong answer, a phrase its hint must contain).
"""
from __future__ import annotations

import numpy as np

from hrm_minimal import checks


# --------------------------------------------------------------------------- 9.1 settled_segment
def settled_right(boards):  # walk back from the end while the answer is the last one
    same = (boards == boards[-1]).all(-1)
    out = np.full(boards.shape[1], boards.shape[0], dtype=np.int64)
    for s in range(boards.shape[0] - 2, -1, -1):
        out = np.where(same[s] & (out == s + 2), s + 1, out)
    return out


def settled_right_changes(boards):  # one after the last segment that changed the answer
    changed = (boards[1:] != boards[:-1]).any(-1)  # (segments - 1, N)
    last = np.where(changed.any(0), changed.shape[0] - np.argmax(changed[::-1], 0), 0)
    return last + 1


def settled_loop_off_by_one(boards):  # the walk back tests "settled from s" instead of "from s + 1"
    same = (boards == boards[-1]).all(-1)
    out = np.full(boards.shape[1], boards.shape[0], dtype=np.int64)
    for s in range(boards.shape[0] - 1, -1, -1):
        out = np.where(same[s] & (out == s + 1), s + 1, out)
    return out


def settled_by_sum(boards):  # compares boards by their sums
    same = (boards - boards[-1]).sum(-1) == 0
    out = np.full(boards.shape[1], boards.shape[0], dtype=np.int64)
    for s in range(boards.shape[0] - 2, -1, -1):
        out = np.where(same[s] & (out == s + 2), s + 1, out)
    return out


def settled_forward_no_break(boards):  # a forward loop that keeps the LAST qualifying segment
    out = np.zeros(boards.shape[1], dtype=np.int64)
    for n in range(boards.shape[1]):
        for s in range(boards.shape[0]):
            if (boards[s:, n] == boards[-1, n]).all():
                out[n] = s + 1
    return out


def settled_zero_based(boards):
    return settled_right(boards) - 1


def settled_one_late(boards):
    return settled_right(boards) + 1


def settled_first_equal(boards):
    return (boards == boards[-1]).all(-1).argmax(0) + 1


def settled_first_pause(boards):
    still = np.concatenate([(boards[1:] == boards[:-1]).all(-1), np.ones((1, boards.shape[1]), bool)])
    return still.argmax(0) + 1


def settled_count_changes(boards):
    return (boards[1:] != boards[:-1]).any(-1).sum(0)


def settled_all_puzzles(boards):
    return np.full(boards.shape[1], settled_right(boards).max())


def settled_zero_if_changing(boards):
    out = settled_right(boards)
    return np.where(out == boards.shape[0], 0, out)


def settled_minus_one_if_changing(boards):
    out = settled_right(boards)
    return np.where(out == boards.shape[0], -1, out)


def settled_floats(boards):
    return settled_right(boards).astype(float)


def settled_in_place(boards):
    boards[0] = boards[-1]
    return settled_right(boards)


def settled_equal_to_first(boards):  # compares with the first answer instead of the last
    same = (boards == boards[0]).all(-1)
    return np.where(same.all(0), 1, boards.shape[0])


# --------------------------------------------------------------------------- 9.2 unpermute
def unpermute_right(answers, cells, tokens):
    back_cells, back_tokens = np.argsort(cells, axis=1), np.argsort(tokens, axis=1)
    return np.take_along_axis(back_tokens, np.take_along_axis(answers, back_cells, axis=1), axis=1)


def unpermute_right_scatter(answers, cells, tokens):  # a loop that scatters each cell back
    out = np.empty_like(answers)
    for r in range(len(answers)):
        inverse = np.empty_like(tokens[r])
        inverse[tokens[r]] = np.arange(len(tokens[r]))
        out[r, cells[r]] = inverse[answers[r]]
    return out


def unpermute_apply_again(answers, cells, tokens):
    return np.take_along_axis(tokens, np.take_along_axis(answers, cells, axis=1), axis=1)


def unpermute_cells_only(answers, cells, tokens):
    return np.take_along_axis(answers, np.argsort(cells, axis=1), axis=1)


def unpermute_tokens_only(answers, cells, tokens):
    return np.take_along_axis(np.argsort(tokens, axis=1), answers, axis=1)


def unpermute_gather_cells(answers, cells, tokens):
    return np.take_along_axis(np.argsort(tokens, axis=1), np.take_along_axis(answers, cells, axis=1), axis=1)


def unpermute_scatter_argsort(answers, cells, tokens):  # scatters to argsort(cells): the move again
    moved = np.empty_like(answers)
    np.put_along_axis(moved, np.argsort(cells, axis=1), answers, axis=1)
    return np.take_along_axis(np.argsort(tokens, axis=1), moved, axis=1)


def unpermute_tokens_forward(answers, cells, tokens):
    return np.take_along_axis(tokens, np.take_along_axis(answers, np.argsort(cells, axis=1), axis=1), axis=1)


def unpermute_first_row(answers, cells, tokens):
    back_cells, back_tokens = np.argsort(cells[0]), np.argsort(tokens[0])
    return back_tokens[answers[:, back_cells]]


def unpermute_floats(answers, cells, tokens):
    return unpermute_right(answers, cells, tokens).astype(float)


def unpermute_argsort_axis0(answers, cells, tokens):
    back_cells, back_tokens = np.argsort(cells, axis=0), np.argsort(tokens, axis=0)
    return np.take_along_axis(back_tokens, np.take_along_axis(answers, back_cells, axis=1) % tokens.shape[0], axis=1)


# --------------------------------------------------------------------------- 9.3 cell_vote
def vote_right(answers):
    votes = (answers[:, None] == answers[None]).sum(axis=1)
    return np.take_along_axis(answers, votes.argmax(axis=0)[None], axis=0)[0]


def vote_right_loop(answers):  # a Counter per cell, ties kept in the order of first appearance
    from collections import Counter

    K, N, S = answers.shape
    out = np.empty((N, S), dtype=answers.dtype)
    for n in range(N):
        for s in range(S):
            out[n, s] = Counter(answers[:, n, s].tolist()).most_common(1)[0][0]
    return out


def vote_first_draw(answers):
    return answers[0].copy()


def vote_smallest_tie(answers):
    K, N, S = answers.shape
    out = np.empty((N, S), dtype=answers.dtype)
    for n in range(N):
        for s in range(S):
            out[n, s] = np.bincount(answers[:, n, s]).argmax()
    return out


def vote_largest_tie(answers):
    K, N, S = answers.shape
    out = np.empty((N, S), dtype=answers.dtype)
    for n in range(N):
        for s in range(S):
            counts = np.bincount(answers[:, n, s])
            out[n, s] = len(counts) - 1 - counts[::-1].argmax()
    return out


def vote_latest_tie(answers):
    return vote_right(answers[::-1])


def vote_mean(answers):
    return np.rint(answers.mean(0)).astype(np.int64)


def vote_median(answers):
    return np.median(answers, axis=0).astype(np.int64)


def vote_whole_answers(answers):
    same = (answers[:, None] == answers[None]).all(-1).sum(1)
    return np.take_along_axis(answers, same.argmax(0)[None, :, None], axis=0)[0]


def vote_ten_tokens(answers):  # a one-hot over 10 tokens: 9x9 Sudoku has 11
    counts = np.zeros(answers.shape[1:] + (10,), dtype=np.int64)
    for t in range(10):
        counts[..., t] = (answers == t).sum(0)
    votes = np.take_along_axis(counts[None], np.minimum(answers, 9)[..., None], -1)[..., 0]
    return np.take_along_axis(answers, votes.argmax(0)[None], 0)[0] if answers.max() < 10 else \
        np.minimum(np.take_along_axis(answers, votes.argmax(0)[None], 0)[0], 9)


def vote_strict_majority(answers):  # a strict majority, else draw 0
    votes = (answers[:, None] == answers[None]).sum(1)
    top = np.take_along_axis(answers, votes.argmax(0)[None], 0)[0]
    return np.where(votes.max(0) > len(answers) / 2, top, answers[0])


def vote_floats(answers):
    return vote_right(answers).astype(float)


def vote_in_place(answers):
    answers.sort(axis=0)
    return vote_right(answers)


CASES = [
    (checks.check_settled_segment, settled_right,
     [settled_zero_based, settled_one_late, settled_first_equal, settled_first_pause, settled_count_changes,
      settled_all_puzzles, settled_zero_if_changing, settled_minus_one_if_changing, settled_floats,
      settled_in_place, settled_equal_to_first, settled_loop_off_by_one, settled_by_sum,
      settled_forward_no_break]),
    (checks.check_settled_segment, settled_right_changes, []),
    (checks.check_unpermute, unpermute_right,
     [unpermute_apply_again, unpermute_cells_only, unpermute_tokens_only, unpermute_gather_cells,
      unpermute_tokens_forward, unpermute_first_row, unpermute_floats, unpermute_argsort_axis0]),
    (checks.check_unpermute, unpermute_right_scatter, []),
    (checks.check_cell_vote, vote_right,
     [vote_first_draw, vote_smallest_tie, vote_largest_tie, vote_latest_tie, vote_mean, vote_median,
      vote_whole_answers, vote_floats, vote_in_place, vote_ten_tokens, vote_strict_majority]),
    (checks.check_cell_vote, vote_right_loop, []),
]

HINTS = [
    (checks.check_settled_segment, settled_zero_based, "numbered from 1"),
    (checks.check_settled_segment, settled_one_late, "one earlier"),
    (checks.check_settled_segment, settled_first_equal, "ALL be the same"),
    (checks.check_settled_segment, settled_first_pause, "only a pause"),
    (checks.check_settled_segment, settled_count_changes, "counts the changes"),
    (checks.check_settled_segment, settled_all_puzzles, "its own segment"),
    (checks.check_settled_segment, settled_zero_if_changing, "not 0"),
    (checks.check_settled_segment, settled_minus_one_if_changing, "not -1"),
    (checks.check_settled_segment, settled_floats, "integers"),
    (checks.check_settled_segment, settled_loop_off_by_one, "came out at the last segment"),
    (checks.check_settled_segment, settled_forward_no_break, "keep the first such s"),
    (checks.check_settled_segment, settled_by_sum, "cell by cell"),
    (checks.check_cell_vote, vote_strict_majority, "MOST votes"),
    (checks.check_settled_segment, settled_in_place, "changed the boards"),
    (checks.check_unpermute, unpermute_apply_again, "a second time"),
    (checks.check_unpermute, unpermute_cells_only, "tokens are not"),
    (checks.check_unpermute, unpermute_tokens_only, "cells are not"),
    (checks.check_unpermute, unpermute_gather_cells, "cells went the wrong way"),
    (checks.check_unpermute, unpermute_scatter_argsort, "cells went the wrong way"),
    (checks.check_unpermute, unpermute_tokens_forward, "its inverse"),
    (checks.check_unpermute, unpermute_first_row, "its own symmetry"),
    (checks.check_unpermute, unpermute_floats, "integers"),
    (checks.check_cell_vote, vote_first_draw, "draw 0's answer alone"),
    (checks.check_cell_vote, vote_smallest_tie, "not to the smallest"),
    (checks.check_cell_vote, vote_largest_tie, "not to the largest"),
    (checks.check_cell_vote, vote_latest_tie, "not the latest"),
    (checks.check_cell_vote, vote_mean, "does not average"),
    (checks.check_cell_vote, vote_median, "median"),
    (checks.check_cell_vote, vote_whole_answers, "cell by cell"),
    (checks.check_cell_vote, vote_floats, "integers"),
    (checks.check_cell_vote, vote_in_place, "changed the answers"),
]
