"""The checkers' machinery: run a student's function against the reference, report one line, grade.

See `hrm_minimal.checks` for what a checker prints and returns.
"""
from __future__ import annotations

import json
import os
from typing import Any, Callable

import numpy as np
import torch

STRICT_ENV = "HRM_STRICT"
RESULTS_ENV = "HRM_RESULTS_FILE"
SEED_ENV = "HRM_CHECK_SEED"  # set by the grader: other random trials than the ones a notebook sees
PASSED, FAILED, NOT_DONE = "passed", "failed", "not done"


# Called as listener(exercise, status, hint) by every report(): how the grader hears results without
# reading anything the student's code could write.
LISTENERS: list[Callable[[str, str, str], None]] = []


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
    for listener in LISTENERS:
        listener(exercise, status, hint)
    if status != PASSED and strict_mode():
        raise AssertionError(line if status == FAILED else f"Exercise {exercise}: not done yet")
    return line


def run_check(exercise: str, student: Callable, reference: Callable,
              trial: Callable[[Callable, np.random.Generator], None], trials: int = 20) -> Callable:
    """Run `trial(student, rng)` several times; report and return the function to use from now on."""
    if not callable(student):
        raise TypeError(f"Exercise {exercise}: expected a function, got {type(student).__name__}")
    seed = sum(ord(ch) for ch in exercise) + 1234  # fixed: the same line every run of a notebook
    rng = np.random.default_rng([seed, int(os.environ.get(SEED_ENV, "0") or 0)])
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
