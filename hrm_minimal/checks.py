"""Exercise checkers: each compares a student's function with the package's own on fresh random inputs.

A checker prints exactly one line and returns the function later cells should use:

    Exercise 1.1: passed                                   -> returns the student's function
    Exercise 1.1: failed - <hint>                          -> returns the reference
    Exercise 1.1: not done yet - using the reference implementation

So a lesson runs top to bottom before any exercise is done. Graders set HRM_STRICT=1: then an
unfinished or wrong exercise raises AssertionError. If HRM_RESULTS_FILE names a file, every result is
appended to it as one JSON line (the grading command `python -m hrm_minimal.grade` reads it).
Checkers never print expected values.
"""
from __future__ import annotations

import itertools
import json
import os
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from hrm_minimal import metrics
from hrm_minimal.data import augment

STRICT_ENV = "HRM_STRICT"
RESULTS_ENV = "HRM_RESULTS_FILE"
PASSED, FAILED, NOT_DONE = "passed", "failed", "not done"


class Mismatch(Exception):
    """Raised inside a trial when the student's answer is wrong; its message is the hint."""


def strict_mode() -> bool:
    """True when HRM_STRICT is set to anything but '', '0', 'false' or 'no'."""
    return os.environ.get(STRICT_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _record(exercise: str, status: str, hint: str) -> None:
    path = os.environ.get(RESULTS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"exercise": exercise, "status": status, "hint": hint}) + "\n")


def report(exercise: str, status: str, hint: str = "") -> str:
    """Print and record one result line; in strict mode anything but a pass raises AssertionError."""
    if status == PASSED:
        line = f"Exercise {exercise}: passed"
    elif status == FAILED:
        line = f"Exercise {exercise}: failed - {hint}"
    elif status == NOT_DONE:
        line = f"Exercise {exercise}: not done yet - using the reference implementation"
    else:
        raise ValueError(f"unknown status {status!r}; expected {PASSED!r}, {FAILED!r} or {NOT_DONE!r}")
    print(line)
    _record(exercise, status, hint)
    if status != PASSED and strict_mode():
        raise AssertionError(line if status == FAILED else f"Exercise {exercise}: not done yet")
    return line


def run_check(exercise: str, student: Callable, reference: Callable,
              trial: Callable[[Callable, np.random.Generator], None], trials: int = 20) -> Callable:
    """Run `trial(student, rng)` several times; report and return the function to use from now on."""
    if not callable(student):
        raise TypeError(f"Exercise {exercise}: expected a function, got {type(student).__name__}")
    rng = np.random.default_rng(sum(ord(ch) for ch in exercise) + 1234)  # fixed: same line every run
    try:
        with torch.random.fork_rng(devices=[]):  # leave the notebook's torch random stream untouched
            for _ in range(trials):
                trial(student, rng)
    except NotImplementedError:
        report(exercise, NOT_DONE)
        return reference
    except Mismatch as wrong:
        report(exercise, FAILED, str(wrong))
        return reference
    except Exception as error:  # the student's code crashed: say how, not what the answer is
        report(exercise, FAILED, f"your function raised {type(error).__name__}: {error}")
        return reference
    report(exercise, PASSED)
    return student


def _as_array(value: Any, what: str) -> np.ndarray:
    """Student output as a numpy array (accepts lists, numpy and torch)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except Exception as error:  # ragged lists and the like
        raise Mismatch(f"{what} could not be read as an array ({error})") from None


def expect_same_array(got: Any, want: np.ndarray, what: str) -> None:
    """Mismatch (with a shape/dtype/content hint, no values) unless `got` equals `want`."""
    got = _as_array(got, what)
    if got.shape != want.shape:
        raise Mismatch(f"{what} has shape {got.shape}, expected {want.shape}")
    if not np.array_equal(got, want):
        wrong = int(np.sum(got != want))
        raise Mismatch(f"{what}: {wrong} of {want.size} entries differ from the reference")


def _expect_int(got: Any, want: int, what: str, hint: str) -> None:
    """Mismatch with `hint` unless `got` is an integer equal to `want`."""
    if isinstance(got, bool) or not isinstance(got, (int, np.integer)):
        raise Mismatch(f"{what} should be a Python int, got {type(got).__name__}")
    if int(got) != want:
        raise Mismatch(hint)


# --------------------------------------------------------------------------- lesson 00


class _WithBuffer(nn.Module):
    """A layer plus a registered buffer (state that is not a parameter)."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.register_buffer("running_mean", torch.zeros(n_out))


class _Tied(nn.Module):
    """An embedding whose weight the output layer reuses (one tensor, two modules)."""

    def __init__(self, vocab: int, dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight


def check_count_parameters(fn: Callable[[nn.Module], int]) -> Callable[[nn.Module], int]:
    """Exercise 0.1: count_parameters(model) -> int, the number of parameter entries."""
    from hrm_minimal.model import count_parameters as reference

    kinds = itertools.cycle(["mlp", "buffer", "tied"])

    def trial(student: Callable, rng: np.random.Generator) -> None:
        kind = next(kinds)
        a, b, c = (int(x) for x in rng.integers(2, 40, size=3))
        if kind == "mlp":
            model = nn.Sequential(nn.Linear(a, b), nn.ReLU(), nn.Linear(b, c, bias=bool(rng.integers(2))))
            hint = "on a small MLP the count is off: count every entry of every parameter tensor (Tensor.numel)"
        elif kind == "buffer":
            model = nn.Sequential(_WithBuffer(a, b), nn.Linear(b, c))
            hint = "on a model with a buffer the count is off: buffers (register_buffer) are not parameters"
        else:
            model = _Tied(a, b)
            hint = "on a model with tied weights the count is off: a tensor shared by two layers counts once"
        _expect_int(student(model), reference(model), "count_parameters(model)", hint)

    return run_check("0.1", fn, reference, trial, trials=9)


# --------------------------------------------------------------------------- lesson 01


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
        got = _as_array(student(text), "encode_sudoku(text)")
        if got.shape != want.shape:
            raise Mismatch(f"on a {n}x{n} puzzle the result has shape {got.shape}: expected one token per "
                           "cell, a flat sequence in row-major order")
        if not np.issubdtype(got.dtype, np.integer):
            raise Mismatch(f"tokens should be integers, got dtype {got.dtype}")
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
        got = student(tokens.copy())
        if not isinstance(got, str):
            raise Mismatch(f"decode_sudoku should return a str, got {type(got).__name__}")
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
        tokens = rng.integers(0, n + 2, size=(int(rng.integers(1, 6)), n * n)).astype(np.int64)  # (B, S)
        perm = rng.permutation(n) + 1  # (n,) digits 1..n
        if np.array_equal(perm, np.arange(1, n + 1)):
            perm = np.roll(perm, 1)
        before = tokens.copy()
        got = _as_array(student(tokens, perm.copy()), "permute_digits(tokens, perm)")
        if not np.array_equal(tokens, before):
            raise Mismatch("your function changed its input array in place; return a new array")
        want = augment.permute_digits(tokens, perm)
        if got.shape != want.shape:
            raise Mismatch(f"the result has shape {got.shape}, expected the shape of tokens {want.shape}")
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
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise Mismatch(f"exact_accuracy should return a number, got {type(got).__name__}") from None
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
