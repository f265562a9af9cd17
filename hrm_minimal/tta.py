"""Test-time augmentation: read each puzzle under K symmetries, map the answers back, and vote.

A symmetry of the task turns a puzzle into another puzzle of the same kind whose solution is the
transformed solution: for Sudoku a digit relabelling and a permutation of the bands, the rows within
each band, the stacks and the columns within each stack, plus a transpose when the box is square
(4x4, 9x9; never 6x6, whose 2x3 boxes would become 3x2); for mazes the 8 symmetries of the square.
These are the training augmentations (`hrm_minimal.data.augment`, drawn with the same functions), so a
model trained with them has seen every such view. Reading a puzzle under K of them and voting over
the K answers, mapped back to the puzzle's own frame, is the test-time counterpart; the reference
does it for ARC (its evaluation ranks the answers of an ARC task's augmented copies by votes, then
by mean Q_halt). Draw 0 is always the identity, so K=1 is the plain model and K=3 contains it.

    answers, q_halt = tta_answers(model, puzzles, k=3)        # (K, N, S) in each puzzle's frame, (K, N)
    result = tta_evaluate(model, puzzles, k=3)                # plain, cell vote, answer vote
    result = vote_models([model_a, model_b], puzzles, k=1)    # the same votes over several models

The two votes (stated exactly at `cell_vote` and `answer_vote`): each cell's most frequent token,
or the most frequent whole answer. Each puzzle is read after all its segments, as `evaluate` does.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from hrm_minimal.data import IGNORE_LABEL_ID, PuzzleSet
from hrm_minimal.data.augment import sudoku_permutations
from hrm_minimal.data.maze import dihedral_permutations
from hrm_minimal.data.sudoku import box_shape
from hrm_minimal.evaluate import check_data_matches, default_segments
from hrm_minimal.model import HRM
from hrm_minimal.utils import autocast_context


# ---------------------------------------------------------------------------------------------
# Symmetries
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Symmetry:
    """Symmetries of R puzzles, one per row: `cells` (R, S) gather indices and `tokens` (R, V) token maps.

    `apply(x)[r, i] = tokens[r, x[r, cells[r, i]]]`: the puzzle's cell cells[r, i] moves to cell i and
    its token is relabelled (digits for Sudoku; the identity map for mazes, PAD and blank always stay).
    `invert(apply(x)) == x` exactly, for every x whose tokens lie in 0..V-1. With R == 1 the one
    symmetry is used for every row of a batch.
    """

    cells: np.ndarray  # (R, S) int64, each row a permutation of 0..S-1
    tokens: np.ndarray  # (R, V) int64, each row a permutation of 0..V-1

    def __post_init__(self):
        cells, tokens = np.asarray(self.cells, dtype=np.int64), np.asarray(self.tokens, dtype=np.int64)
        if cells.ndim != 2 or tokens.ndim != 2 or len(cells) != len(tokens):
            raise ValueError(f"cells (R, S) and tokens (R, V) need the same R, got {cells.shape} and {tokens.shape}")
        for name, perm in (("cells", cells), ("tokens", tokens)):
            if not (np.sort(perm, axis=1) == np.arange(perm.shape[1])).all():
                raise ValueError(f"every row of {name} must be a permutation of 0..{perm.shape[1] - 1}")
        object.__setattr__(self, "cells", cells)
        object.__setattr__(self, "tokens", tokens)

    def __len__(self) -> int:
        return len(self.cells)

    @classmethod
    def identity(cls, count: int, seq_len: int, vocab_size: int) -> "Symmetry":
        """`count` identities: every cell and token stays."""
        return cls(np.tile(np.arange(seq_len), (count, 1)), np.tile(np.arange(vocab_size), (count, 1)))

    @classmethod
    def random(cls, kind: str, grid_size: int, count: int, rng: np.random.Generator,
               box: tuple[int, int] | None = None, vocab_size: int | None = None) -> "Symmetry":
        """`count` independent random symmetries of an n x n task, drawn from `rng` with the training
        augmentations' own functions: Sudoku `sudoku_permutations` (box default `box_shape(n)`;
        transposes only square boxes), mazes one of the 8 `dihedral_permutations` each (no relabelling).
        vocab_size (default n + 2 for Sudoku, 6 for mazes): extra tokens map to themselves."""
        if kind == "sudoku":
            box = tuple(box) if box is not None else box_shape(grid_size)
            cells, maps = sudoku_permutations(count, grid_size, box, rng)  # maps (count, n + 2)
        elif kind == "maze":
            cells = dihedral_permutations(grid_size)[rng.integers(8, size=count)]
            maps = np.tile(np.arange(6), (count, 1))  # PAD and '# SGo': no relabelling
        else:
            raise ValueError(f"kind must be 'sudoku' or 'maze', got {kind!r}")
        vocab_size = maps.shape[1] if vocab_size is None else int(vocab_size)
        if vocab_size < maps.shape[1]:
            raise ValueError(f"vocab_size {vocab_size} is too small for a {grid_size}x{grid_size} {kind} "
                             f"(needs at least {maps.shape[1]})")
        extra = np.tile(np.arange(maps.shape[1], vocab_size), (count, 1))
        return cls(cells, np.concatenate([maps, extra], axis=1))

    @classmethod
    def draw(cls, puzzles: PuzzleSet, rng: np.random.Generator, count: int | None = None) -> "Symmetry":
        """Random symmetries for a PuzzleSet's task, one per puzzle (or `count`)."""
        return cls.random(puzzles.kind, puzzles.grid_size, len(puzzles) if count is None else count, rng,
                          box=puzzles.box, vocab_size=puzzles.vocab_size)

    def inverse(self) -> "Symmetry":
        """The symmetries that undo these: `self.inverse().apply(self.apply(x)) == x`."""
        return Symmetry(np.argsort(self.cells, axis=1), np.argsort(self.tokens, axis=1))

    def apply(self, x) -> np.ndarray:
        """Transform puzzles or answers x (B, S) (B == R, or any B when R == 1); returns int64 (B, S)."""
        x = np.asarray(x, dtype=np.int64)
        if x.ndim != 2 or x.shape[1] != self.cells.shape[1]:
            raise ValueError(f"expected tokens (B, {self.cells.shape[1]}), got shape {x.shape}")
        if len(self) not in (1, len(x)):
            raise ValueError(f"{len(self)} symmetries cannot transform {len(x)} rows")
        vocab = self.tokens.shape[1]
        if x.size and (x.min() < 0 or x.max() >= vocab):
            raise ValueError(f"tokens must lie in 0..{vocab - 1}, got {x.min()}..{x.max()}")
        cells = np.broadcast_to(self.cells, x.shape)
        tokens = np.broadcast_to(self.tokens, (len(x), vocab))
        return np.take_along_axis(tokens, np.take_along_axis(x, cells, axis=1), axis=1)

    def invert(self, answers) -> np.ndarray:
        """Map answers (B, S) given in the transformed frame back to the puzzles' own frame."""
        return self.inverse().apply(answers)


# ---------------------------------------------------------------------------------------------
# Votes
# ---------------------------------------------------------------------------------------------
def _check_answers(answers) -> np.ndarray:
    answers = np.asarray(answers)
    if answers.ndim != 3 or answers.shape[0] < 1:
        raise ValueError(f"answers must be (K, N, S) with K >= 1, got shape {answers.shape}")
    return answers


def cell_vote(answers) -> np.ndarray:
    """Per-cell vote over K answers (K, N, S) -> (N, S).

    Rule: each cell takes the token that the most of the K answers give it. A tie between tokens goes
    to the one given by the earliest draw among them (draw 0, the identity, when it is in the tie), so
    K=1 returns the answer itself and K=2 with a disagreement keeps draw 0's token. The voted grid is
    not always one the model gave, nor always a valid one.
    """
    answers = _check_answers(answers)
    agree = (answers[:, None] == answers[None]).sum(axis=1)  # (K, N, S): draws giving draw k's token
    first_best = np.argmax(agree, axis=0)  # (N, S): the earliest draw with the most votes
    return np.take_along_axis(answers, first_best[None], axis=0)[0]


def answer_vote(answers, q_halt_logits) -> np.ndarray:
    """Whole-answer vote over K answers (K, N, S) with their Q-halt logits (K, N) -> (N, S).

    Rule: each puzzle gets the complete answer that the most of its K answers equal in every cell.
    A tie between answers goes to the one whose copies have the higher mean sigmoid(Q_halt) (the
    model's own confidence that the answer is right; the reference's ARC evaluation ranks candidates by
    votes, then mean Q_halt), and a tie in that too to the earliest draw (draw 0, the identity, when it
    is in the tie). The result is always one of the model's answers; K=1 returns it unchanged.
    """
    answers = _check_answers(answers)
    q = np.asarray(q_halt_logits, dtype=np.float64)
    if q.shape != answers.shape[:2]:
        raise ValueError(f"q_halt_logits must be (K, N) = {answers.shape[:2]}, got {q.shape}")
    same = (answers[:, None] == answers[None]).all(axis=-1)  # (K, K, N): draw j gave draw k's answer
    votes = same.sum(axis=1)  # (K, N)
    confidence = (same * (1.0 / (1.0 + np.exp(-q)))[None]).sum(axis=1) / votes  # mean sigmoid of the copies
    draw = np.broadcast_to(np.arange(len(answers))[:, None], votes.shape)
    best = np.lexsort((draw, -confidence, -votes), axis=0)[0]  # (N,): votes, then confidence, then draw
    return np.take_along_axis(answers, best[None, :, None], axis=0)[0]


# ---------------------------------------------------------------------------------------------
# Reading the puzzles
# ---------------------------------------------------------------------------------------------
def _read(model: HRM, inputs: np.ndarray, steps: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Answers (N, S) after `steps` segments (argmax of the last segment's logits) and that segment's
    Q-halt logits (N,), batch by batch as `evaluate` reads them."""
    device = next(model.parameters()).device
    answers, q_halt = [], []
    for start in range(0, len(inputs), batch_size):
        x = torch.as_tensor(inputs[start:start + batch_size], dtype=torch.long, device=device)
        batch = {"inputs": x, "puzzle_identifiers": torch.zeros(len(x), dtype=torch.long, device=device)}
        carry = model.initial_carry(batch)
        for _ in range(steps):
            with autocast_context(device):
                carry, out = model(carry, batch, max_steps=steps)
        answers.append(out["logits"].argmax(-1).cpu().numpy())
        q_halt.append(out["q_halt_logits"].float().cpu().numpy())
    return np.concatenate(answers), np.concatenate(q_halt)


def _inputs_of(inputs, kind: str | None, box) -> tuple[np.ndarray, str, int, tuple | None]:
    if isinstance(inputs, PuzzleSet):
        return np.asarray(inputs.inputs, dtype=np.int64), inputs.kind, inputs.grid_size, inputs.box
    x = np.asarray(inputs, dtype=np.int64)
    if kind is None:
        raise ValueError("pass kind='sudoku' or 'maze' with a plain array of inputs (or pass a PuzzleSet)")
    if x.ndim != 2:
        raise ValueError(f"inputs must be (N, S), got shape {x.shape}")
    n = int(round(x.shape[1] ** 0.5))
    if n * n != x.shape[1]:
        raise ValueError(f"sequence length {x.shape[1]} is not a square grid")
    return x, kind, n, box


def tta_answers(model: HRM, inputs, k: int, seed: int = 0, segments: int | None = None, batch_size: int = 256,
                *, kind: str | None = None, box: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read every puzzle under k symmetries and map the answers back to its own frame.

    inputs: a PuzzleSet, or an (N, S) array of tokens with `kind` ("sudoku"/"maze"; box default by size).
    Draw 0 is the identity; draws 1..k-1 give each puzzle its own random symmetry from
    `np.random.default_rng(seed)`, drawn in order, so the draws of a smaller k are the first draws of a
    larger one. Each copy is read after `segments` segments (default: the model's reading segments,
    as `evaluate`). Returns (answers (k, N, S) int64, q_halt_logits (k, N) float32 of the last segment).
    The caller's torch random state and the model's train/eval mode are left as they were.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive number of symmetries, got {k!r}")
    x, kind, n, box = _inputs_of(inputs, kind, box)
    if isinstance(inputs, PuzzleSet):
        check_data_matches(model.config, inputs)
    steps = default_segments(model) if segments is None else segments
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"segments must be a positive int or None, got {segments!r}")
    vocab = model.config.vocab_size
    rng = np.random.default_rng(seed)
    symmetries = [Symmetry.identity(1, x.shape[1], vocab)]
    symmetries += [Symmetry.random(kind, n, len(x), rng, box=box, vocab_size=vocab) for _ in range(int(k) - 1)]
    answers, q_halt = [], []
    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            for symmetry in symmetries:
                seen, q = _read(model, symmetry.apply(x), int(steps), batch_size)
                answers.append(symmetry.invert(seen))
                q_halt.append(q)
    finally:
        model.train(was_training)
    return np.stack(answers), np.stack(q_halt)


def score_votes(answers, q_halt_logits, labels) -> dict:
    """Exact and cell accuracy of the plain answers (draw 0), the per-cell vote and the whole-answer
    vote; `any_exact` (some draw right: the best any vote could do), `unanimous` (every draw gives the
    same answer) and count. Cells labelled IGNORE_LABEL_ID count for nothing."""
    answers = _check_answers(answers)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != answers.shape[1:]:
        raise ValueError(f"labels must be (N, S) = {answers.shape[1:]}, got {labels.shape}")
    scored = labels != IGNORE_LABEL_ID
    cells = max(int(scored.sum()), 1)

    def right(a):  # (..., N, S) -> cells right, puzzles right
        hit = (a == labels) & scored
        return hit, (hit | ~scored).all(axis=-1)

    result = {}
    for name, answer in (("plain", answers[0]), ("cell_vote", cell_vote(answers)),
                         ("answer_vote", answer_vote(answers, q_halt_logits))):
        hit, exact = right(answer)
        result[f"{name}_exact"] = float(exact.mean())
        result[f"{name}_accuracy"] = int(hit.sum()) / cells
    result["any_exact"] = float(right(answers)[1].any(axis=0).mean())
    result["unanimous"] = float((answers == answers[:1]).all(axis=(0, 2)).mean())
    result["count"] = labels.shape[0]
    return result


def tta_evaluate(model: HRM, puzzles: PuzzleSet, k: int, limit: int | None = None, seed: int = 0,
                 segments: int | None = None, batch_size: int = 256) -> dict:
    """`tta_answers` on the first `limit` puzzles, scored with `score_votes`.

    Returns plain_exact / plain_accuracy (draw 0: the plain model, `evaluate`'s exact_accuracy and
    accuracy after all segments), cell_vote_exact / cell_vote_accuracy, answer_vote_exact /
    answer_vote_accuracy, any_exact, unanimous, count, k, seed, segments, and seconds (reading and
    voting, wall clock).
    """
    n = len(puzzles) if limit is None else min(int(limit), len(puzzles))
    if n < 1:
        raise ValueError(f"data set {puzzles.name!r} has no puzzles to evaluate")
    part = puzzles.subset(slice(0, n))
    start = time.perf_counter()
    answers, q_halt = tta_answers(model, part, k, seed=seed, segments=segments, batch_size=batch_size)
    result = score_votes(answers, q_halt, part.labels)
    result.update(k=int(k), seed=seed, segments=int(segments or default_segments(model)),
                  seconds=time.perf_counter() - start)
    return result


def vote_models(models, puzzles: PuzzleSet, k: int = 1, limit: int | None = None, seed: int = 0,
                segments: int | None = None, batch_size: int = 256) -> dict:
    """The same votes over several models (several seeds of a recipe, or the raw and averaged weights of
    one run), each reading every puzzle under the same k symmetries (seed `seed`), each after its own
    reading segments unless `segments` is given.

    The M * k answers are voted on in the order model 0's draws 0..k-1, model 1's, ...: so ties go to
    the first model, and its draw 0 is the "plain" figure. Returns `tta_evaluate`'s keys (k per model)
    plus models (M) and model_exact (each model's own plain exact accuracy).
    """
    models = list(models)
    if not models:
        raise ValueError("vote_models needs at least one model")
    n = len(puzzles) if limit is None else min(int(limit), len(puzzles))
    if n < 1:
        raise ValueError(f"data set {puzzles.name!r} has no puzzles to evaluate")
    part = puzzles.subset(slice(0, n))
    start = time.perf_counter()
    answers, q_halt = zip(*(tta_answers(m, part, k, seed=seed, segments=segments, batch_size=batch_size)
                            for m in models))
    labels = np.asarray(part.labels, dtype=np.int64)
    scored = labels != IGNORE_LABEL_ID
    model_exact = [float(((a[0] == labels) | ~scored).all(axis=-1).mean()) for a in answers]
    result = score_votes(np.concatenate(answers), np.concatenate(q_halt), labels)
    result.update(k=int(k), seed=seed, models=len(models), model_exact=model_exact,
                  seconds=time.perf_counter() - start)
    return result
