"""Checkers: pass the right answer, reject a plausible wrong one, fall back on stubs, obey strict mode."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import cases_lesson02
import cases_lesson03
import cases_lesson04
import cases_lesson05
import cases_lesson06
import cases_lesson07
import cases_lesson08
import cases_lesson09
from hrm_minimal import checks

# --------------------------------------------------------------------------- the machinery


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise 9.9")


def _reference(x):
    return x * 2


def _trial(student, rng):
    x = int(rng.integers(0, 100))
    if student(x) != x * 2:
        raise checks.Mismatch("doubling is off")


def test_run_check_passes_and_returns_the_student_function(capsys):
    student = lambda x: x + x  # noqa: E731
    assert checks.run_check("9.9", student, _reference, _trial) is student
    assert capsys.readouterr().out == "Exercise 9.9: passed\n"


def test_run_check_falls_back_on_a_stub(capsys):
    assert checks.run_check("9.9", _stub, _reference, _trial) is _reference
    assert capsys.readouterr().out == "Exercise 9.9: not done yet - using the reference implementation\n"


def test_run_check_reports_a_wrong_answer_with_the_hint(capsys):
    assert checks.run_check("9.9", lambda x: x + 1, _reference, _trial) is _reference
    assert capsys.readouterr().out == "Exercise 9.9: failed - doubling is off\n"


def test_run_check_reports_a_crash(capsys):
    assert checks.run_check("9.9", lambda x: x / 0, _reference, _trial) is _reference
    assert capsys.readouterr().out.startswith("Exercise 9.9: failed - your function raised ZeroDivisionError")


def test_run_check_rejects_a_non_function():
    with pytest.raises(TypeError, match="expected a function"):
        checks.run_check("9.9", 42, _reference, _trial)


@pytest.mark.parametrize("student, status", [(_stub, "not done"), (lambda x: x + 1, "failed")])
def test_strict_mode_raises(monkeypatch, capsys, student, status):
    monkeypatch.setenv("HRM_STRICT", "1")
    with pytest.raises(AssertionError, match="Exercise 9.9"):
        checks.run_check("9.9", student, _reference, _trial)
    assert status in capsys.readouterr().out


def test_strict_mode_lets_a_pass_through(monkeypatch):
    monkeypatch.setenv("HRM_STRICT", "1")
    student = lambda x: 2 * x  # noqa: E731
    assert checks.run_check("9.9", student, _reference, _trial) is student


@pytest.mark.parametrize("value, strict", [("", False), ("0", False), ("false", False), ("1", True), ("yes", True)])
def test_strict_mode_values(monkeypatch, value, strict):
    monkeypatch.setenv("HRM_STRICT", value)
    assert checks.strict_mode() is strict


def test_results_file_gets_one_json_line_per_check(monkeypatch, tmp_path, capsys):
    results = tmp_path / "results.jsonl"
    monkeypatch.setenv("HRM_RESULTS_FILE", str(results))
    checks.run_check("9.1", lambda x: 2 * x, _reference, _trial)
    checks.run_check("9.2", _stub, _reference, _trial)
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(r["exercise"], r["status"]) for r in rows] == [("9.1", "passed"), ("9.2", "not done")]


def test_report_rejects_an_unknown_status():
    with pytest.raises(ValueError, match="unknown status"):
        checks.report("9.9", "maybe")


def test_checkers_leave_the_torch_random_stream_alone(capsys):
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    checks.check_count_parameters(_stub)
    assert torch.equal(torch.rand(3), expected)


# --------------------------------------------------------------------------- every exercise


def _count_right(model):
    return sum(p.numel() for p in model.parameters())


def _count_tensors(model):  # plausible wrong answer: counts tensors, not entries
    return len(list(model.parameters()))


def _count_state(model):  # plausible wrong answer: buffers counted as parameters
    return sum(v.numel() for v in model.state_dict().values())


def _count_per_module(model):  # plausible wrong answer: a tied tensor counted twice
    return sum(p.numel() for m in model.modules() for p in m.parameters(recurse=False))


def _encode_right(text):
    return np.array([1 if ch == "." else int(ch) + 1 for ch in text], dtype=np.int64)


def _encode_no_shift(text):  # plausible wrong answer: blank 0, digit d -> d (collides with PAD)
    return np.array([0 if ch == "." else int(ch) for ch in text], dtype=np.int64)


def _encode_grid(text):  # plausible wrong answer: (n, n) instead of a flat sequence
    n = int(round(len(text) ** 0.5))
    return _encode_right(text).reshape(n, n)


def _encode_column_major(text):  # reads the string down the columns
    n = int(round(len(text) ** 0.5))
    return _encode_right(text).reshape(n, n).T.reshape(-1)


def _encode_list(text):  # a list, though the exercise asks for a NumPy array
    return _encode_right(text).tolist()


def _decode_in_place(tokens):  # shifts the caller's array
    tokens = np.asarray(tokens)
    tokens -= 1
    return "".join("." if t == 0 else str(int(t)) for t in tokens)


def _decode_array_only(tokens):  # breaks on a list: lists have no .ravel()
    return "".join("." if t == 1 else str(int(t) - 1) for t in tokens.ravel())


def _decode_right(tokens):
    return "".join("." if int(t) == 1 else str(int(t) - 1) for t in np.asarray(tokens).ravel())


def _decode_zero_blank(tokens):  # plausible wrong answer: blanks written '0'
    return _decode_right(tokens).replace(".", "0")


def _decode_no_shift(tokens):  # plausible wrong answer: forgets the -1
    return "".join("." if int(t) == 1 else str(int(t)) for t in np.asarray(tokens).ravel())


def _permute_right(tokens, perm):
    return np.concatenate([[0, 1], np.asarray(perm) + 1])[tokens]


def _permute_inverse(tokens, perm):  # plausible wrong answer: the mapping read backwards
    return _permute_right(tokens, np.argsort(perm) + 1)


def _permute_in_place(tokens, perm):  # plausible wrong answer: overwrites the caller's array
    digits = tokens >= 2
    tokens[digits] = np.asarray(perm)[tokens[digits] - 2] + 1
    return tokens


def _permute_everything(tokens, perm):  # plausible wrong answer: blanks (token 1) relabelled too
    return np.concatenate([[0], np.asarray(perm)[:1] + 1, np.asarray(perm) + 1])[tokens]


def _permute_2d_only(tokens, perm):  # loops over rows and columns: (B, S) only
    out = np.empty_like(tokens)
    for i in range(tokens.shape[0]):
        for j in range(tokens.shape[1]):
            t = tokens[i, j]
            out[i, j] = t if t <= 1 else perm[t - 2] + 1
    return out


def _permute_float(tokens, perm):  # a float lookup table: float tokens
    table = np.concatenate([[0.0, 1.0], np.asarray(perm, dtype=float) + 1])
    return table[tokens]


def _permute_list(tokens, perm):
    return _permute_right(tokens, perm).tolist()


def _exact_tensor(pred, labels):  # a 0-dim tensor, not a Python float
    mask = labels != -100
    return ((pred == labels) | ~mask).all(dim=-1).float().mean()


def _exact_right(pred, labels):
    scored = labels != -100
    return ((pred == labels) | ~scored).all(dim=-1).float().mean().item()


def _exact_cells(pred, labels):  # plausible wrong answer: cell accuracy
    scored = labels != -100
    return (((pred == labels) & scored).sum() / scored.sum()).item()


def _exact_unmasked(pred, labels):  # plausible wrong answer: ignored cells spoil rows
    return (pred == labels).all(dim=-1).float().mean().item()


def _exact_per_row(pred, labels):  # plausible wrong answer: one value per row
    return ((pred == labels) | (labels == -100)).all(dim=-1).float()


# (checker, a right answer, plausible wrong answers)
CASES = [
    (checks.check_count_parameters, _count_right, [_count_tensors, _count_state, _count_per_module]),
    (checks.check_encode_sudoku, _encode_right, [_encode_no_shift, _encode_grid, _encode_column_major, _encode_list]),
    (checks.check_decode_sudoku, _decode_right, [_decode_zero_blank, _decode_no_shift, _decode_in_place,
                                                 _decode_array_only]),
    (checks.check_permute_digits, _permute_right, [_permute_inverse, _permute_in_place, _permute_everything,
                                                   _permute_2d_only, _permute_float, _permute_list]),
    (checks.check_exact_accuracy, _exact_right, [_exact_cells, _exact_unmasked, _exact_per_row, _exact_tensor]),
] + cases_lesson02.CASES + cases_lesson03.CASES + cases_lesson04.CASES + cases_lesson05.CASES + cases_lesson06.CASES + cases_lesson07.CASES + cases_lesson08.CASES + cases_lesson09.CASES  # lessons 02-07 list theirs beside


def _case_id(case):
    return case[0].__name__


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_checker_passes_a_right_answer(case, capsys):
    checker, right, _ = case
    assert checker(right) is right
    line = capsys.readouterr().out
    assert line.endswith(": passed\n") and line.count("\n") == 1


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_checker_rejects_plausible_wrong_answers(case, capsys):
    checker, right, wrongs = case
    for wrong in wrongs:
        returned = checker(wrong)
        line = capsys.readouterr().out
        assert returned is not wrong, f"{wrong.__name__} was accepted"
        assert ": failed - " in line and line.count("\n") == 1, line


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_checker_falls_back_on_a_stub_and_the_fallback_works(case, capsys):
    checker, right, _ = case
    fallback = checker(_stub)
    assert "not done yet" in capsys.readouterr().out
    assert checker(fallback) is fallback  # the reference passes its own checker
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_checker_is_strict_for_graders(case, monkeypatch, capsys):
    checker, right, wrongs = case
    monkeypatch.setenv("HRM_STRICT", "1")
    for student in [_stub] + wrongs:
        with pytest.raises(AssertionError):
            checker(student)
    assert checker(right) is right


def test_hints_do_not_reveal_expected_values(capsys):
    checks.check_count_parameters(_count_tensors)
    line = capsys.readouterr().out
    assert not any(ch.isdigit() for ch in line.split("failed - ")[1]), line


@pytest.mark.parametrize("checker, wrong, hint", [
    (checks.check_encode_sudoku, _encode_grid, "flat sequence"),
    (checks.check_encode_sudoku, _encode_column_major, "column-major"),
    (checks.check_encode_sudoku, _encode_list, "NumPy array"),
    (checks.check_decode_sudoku, _decode_in_place, "in place"),
    (checks.check_decode_sudoku, _decode_array_only, "AttributeError"),
    (checks.check_permute_digits, _permute_2d_only, "may have any shape"),
    (checks.check_permute_digits, _permute_float, "integers"),
    (checks.check_permute_digits, _permute_list, "NumPy array"),
    (checks.check_exact_accuracy, _exact_tensor, "Python float"),
    (checks.check_decode_sudoku, _decode_zero_blank, "'.'"),
    (checks.check_permute_digits, _permute_inverse, "backwards"),
    (checks.check_permute_digits, _permute_in_place, "in place"),
    (checks.check_exact_accuracy, _exact_cells, "cell accuracy"),
    (checks.check_exact_accuracy, _exact_unmasked, "IGNORE_LABEL_ID"),
] + cases_lesson02.HINTS + cases_lesson03.HINTS + cases_lesson04.HINTS + cases_lesson05.HINTS + cases_lesson06.HINTS + cases_lesson07.HINTS + cases_lesson08.HINTS + cases_lesson09.HINTS)
def test_hints_name_the_mistake(checker, wrong, hint, capsys):
    checker(wrong)
    assert hint in capsys.readouterr().out


def test_every_lesson_exercise_has_a_tested_checker():
    tested = {case[0].__name__ for case in CASES}
    public = {name for name in dir(checks) if name.startswith("check_")}
    assert public == tested
