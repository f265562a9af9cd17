"""Checkers of lesson 01 (puzzles as sequences): encoding, augmentation, exact accuracy."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from hrm_minimal import metrics
from hrm_minimal.data import augment

from .core import Mismatch, _as_array, expect_same_array, run_check

__all__ = ["check_encode_sudoku", "check_decode_sudoku", "check_permute_digits", "check_exact_accuracy"]


def _random_sudoku_strings(rng: np.random.Generator) -> tuple[int, str]:
    """(n, puzzle string) of a random n x n grid (not a valid Sudoku: encoding does not care)."""
    n = int(rng.choice([4, 6, 9]))
    values = rng.integers(0, n + 1, size=n * n)
    return n, "".join("." if v == 0 else str(int(v)) for v in values)


def check_encode_sudoku(fn: Callable[[str], Any]) -> Callable[[str], np.ndarray]:
    """Exercise 1.1: encode_sudoku(text) -> tokens (n*n,): '.' -> 1, digit d -> d + 1."""
    from hrm_minimal.data import sudoku

    def reference(text: str) -> np.ndarray:
        return sudoku.encode_sudoku(sudoku.parse_grid(text))

    def trial(student: Callable, rng: np.random.Generator) -> None:
        n, text = _random_sudoku_strings(rng)
        want = reference(text)  # (n*n,)
        result = student(text)
        got = _as_array(result, "encode_sudoku(text)")
        if got.shape != want.shape:
            raise Mismatch(f"on a {n}x{n} puzzle the result has shape {got.shape}: expected one token per "
                           "cell, a flat sequence in row-major order")
        if not isinstance(result, np.ndarray):
            raise Mismatch(f"return a NumPy array (np.array(...)), as the exercise says, not a {type(result).__name__}")
        if not np.issubdtype(got.dtype, np.integer):
            raise Mismatch(f"tokens should be integers, got dtype {got.dtype}")
        column_major = want.reshape(n, n).T.reshape(-1)
        if np.array_equal(got, column_major) and not np.array_equal(got, want):
            raise Mismatch("the cells are in column-major order: the string is row-major, the first row's cells first")
        blanks = np.array([ch == "." for ch in text])
        if not np.array_equal(got[blanks], want[blanks]):
            raise Mismatch("blank cells ('.') get the wrong token: 0 is reserved for padding")
        if np.array_equal(got[~blanks], want[~blanks] - 1):
            raise Mismatch("digits are off by one: tokens 0 and 1 are taken by PAD and blank")
        expect_same_array(got, want, "the tokens of the digits")

    return run_check("1.1", fn, reference, trial)


def check_decode_sudoku(fn: Callable[[Any], str]) -> Callable[[Any], str]:
    """Exercise 1.2: decode_sudoku(tokens) -> the puzzle string, '.' for blanks."""
    from hrm_minimal.data import sudoku

    def reference(tokens) -> str:
        return sudoku.grid_to_string(sudoku.decode_sudoku(np.asarray(tokens)))

    def trial(student: Callable, rng: np.random.Generator) -> None:
        n, text = _random_sudoku_strings(rng)
        tokens = sudoku.encode_sudoku(sudoku.parse_grid(text))  # (n*n,)
        given = tokens.tolist() if rng.random() < 0.3 else tokens.copy()  # "a list or array"
        before = list(given) if isinstance(given, list) else given.copy()
        got = student(given)
        unchanged = given == before if isinstance(given, list) else np.array_equal(given, before)
        if not unchanged:
            raise Mismatch("your function changed the tokens it was given in place; leave them as they are")
        if not isinstance(got, str):
            raise Mismatch(f"decode_sudoku should return a str, got {type(got).__name__}")
        got = str.__str__(got)  # a plain str: a subclass's own comparisons do not count
        if len(got) != len(text):
            raise Mismatch(f"on a {n}x{n} puzzle the string has {len(got)} characters, expected one per cell")
        if [c == "." for c in got] != [c == "." for c in text]:
            raise Mismatch("blanks are not where they should be: token 1 is a blank, written '.'")
        if got != text:
            raise Mismatch("some digits are wrong: token t stands for digit t - 1")

    return run_check("1.2", fn, reference, trial)


def check_permute_digits(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable:
    """Exercise 1.3: permute_digits(tokens, perm) relabels digits d -> perm[d-1], same shape."""

    def trial(student: Callable, rng: np.random.Generator) -> None:
        n = int(rng.choice([4, 6, 9]))
        shapes = [(n * n,), (int(rng.integers(1, 6)), n * n), (2, int(rng.integers(1, 4)), n * n)]
        tokens = rng.integers(0, n + 2, size=shapes[int(rng.integers(3))]).astype(np.int64)  # "any shape"
        perm = rng.permutation(n) + 1  # (n,) digits 1..n
        if np.array_equal(perm, np.arange(1, n + 1)):
            perm = np.roll(perm, 1)
        before = tokens.copy()
        try:
            result = student(tokens, perm.copy())
        except Exception as error:
            if isinstance(error, NotImplementedError):
                raise
            raise Mismatch(f"on tokens of shape {tokens.shape} your function raised {type(error).__name__}: {error} "
                           "(tokens may have any shape)") from None
        got = _as_array(result, "permute_digits(tokens, perm)")
        if not np.array_equal(tokens, before):
            raise Mismatch("your function changed its input array in place; return a new array")
        want = augment.permute_digits(tokens, perm)
        if got.shape != want.shape:
            raise Mismatch(f"on tokens of shape {want.shape} the result has shape {got.shape}: keep the shape "
                           "of tokens, whatever it is")
        if not isinstance(result, np.ndarray):
            raise Mismatch(f"return a NumPy array, as the exercise says, not a {type(result).__name__}")
        if not np.issubdtype(got.dtype, np.integer):
            raise Mismatch(f"tokens must stay integers (an embedding looks them up by index), got dtype {got.dtype}")
        special = tokens <= 1
        if not np.array_equal(got[special], want[special]):
            raise Mismatch("PAD (0) and blank (1) tokens must stay as they are")
        inverse = augment.permute_digits(tokens, np.argsort(perm) + 1)
        if np.array_equal(got, inverse) and not np.array_equal(got, want):
            raise Mismatch("the mapping runs backwards: digit d must become perm[d - 1]")
        expect_same_array(got, want, "the permuted tokens")

    return run_check("1.3", fn, augment.permute_digits, trial)


def check_exact_accuracy(fn: Callable[[torch.Tensor, torch.Tensor], float]) -> Callable:
    """Exercise 1.4: exact_accuracy(pred, labels) -> float, the fraction of fully right rows."""
    from hrm_minimal.data import IGNORE_LABEL_ID

    def trial(student: Callable, rng: np.random.Generator) -> None:
        batch, seq = int(rng.integers(4, 40)), int(rng.choice([16, 36, 81]))
        labels = torch.from_numpy(rng.integers(2, 11, size=(batch, seq)))  # (B, S)
        pred = labels.clone()
        wrong_rows = rng.random(batch) < rng.random()
        for row in np.flatnonzero(wrong_rows):  # one to a few wrong cells in these rows
            cells = rng.choice(seq, size=int(rng.integers(1, 4)), replace=False)
            pred[row, cells] = (pred[row, cells] - 2 + int(rng.integers(1, 9))) % 9 + 2  # a different digit
        ignored = torch.from_numpy(rng.random((batch, seq)) < 0.1)
        ignored[:, 0] = False  # every row keeps at least one cell that counts
        labels = labels.masked_fill(ignored, IGNORE_LABEL_ID)
        want = metrics.exact_accuracy(pred, labels)
        got = student(pred.clone(), labels.clone())
        if isinstance(got, (list, tuple)) or (hasattr(got, "numel") and got.numel() != 1) or (
                isinstance(got, np.ndarray) and got.size != 1):
            raise Mismatch("exact_accuracy should return one number for the whole batch")
        if not isinstance(got, float):
            kind = "a 0-dim tensor" if torch.is_tensor(got) else type(got).__name__
            raise Mismatch(f"return a Python float (.item() on a tensor), as the exercise says, not {kind}")
        got = float.__float__(got)  # a plain float: a subclass's own arithmetic does not count
        if abs(got - want) <= 1e-6:
            return
        mask = labels != IGNORE_LABEL_ID
        cell_acc = metrics.cell_accuracy(pred, labels)
        unmasked = (pred == labels).all(dim=-1).float().mean().item()
        if abs(got - cell_acc) <= 1e-6:
            raise Mismatch("that is the cell accuracy; exact accuracy counts a row only if all its cells are right")
        if abs(got - unmasked) <= 1e-6:
            raise Mismatch(f"cells labelled IGNORE_LABEL_ID ({IGNORE_LABEL_ID}) must not count against a row")
        raise Mismatch("the value differs from the reference on a random batch")

    return run_check("1.4", fn, metrics.exact_accuracy, trial)
