"""Lesson 07's checker against a right answer and the plausible wrong answers a student writes.

Read by tests/test_checks.py: CASES holds (checker, a right answer, [plausible wrong answers]),
HINTS holds (checker, wrong answer, a phrase its hint must contain).
"""
from __future__ import annotations

import torch

from hrm_minimal import checks


def _loop(model, inputs, max_segments, *, evaluation=True, pass_limit=True, rule="model", first=True,
          forced=True, keep="at halt", count_from=1, early_exit=False, restore=True):
    was_training = model.training
    model.train(not evaluation)
    batch = {"inputs": inputs}
    carry = model.initial_carry(batch)
    answers = torch.zeros_like(inputs)
    segments = torch.zeros(inputs.shape[0], dtype=torch.long)
    done = torch.zeros(inputs.shape[0], dtype=torch.bool)
    for m in range(1, max_segments + 1):
        carry, out = model(carry, batch, max_steps=max_segments) if pass_limit else model(carry, batch)
        q_h, q_c = out["q_halt_logits"], out["q_continue_logits"]
        says = {"model": model.q_says_halt(q_h, q_c), "zero": q_h > 0, "never": torch.zeros_like(done),
                ">=": q_h >= q_c, "compare": q_h > q_c}[rule]
        stops = (says | (m == max_segments)) if forced else says
        if first:
            stops = stops & ~done
        answers = torch.where(stops.unsqueeze(-1), out["logits"].argmax(-1), answers)
        segments = torch.where(stops, torch.full_like(segments, m - 1 + count_from), segments)
        done |= stops
        if keep == "last":
            answers = out["logits"].argmax(-1)
        if early_exit and bool(done.all()):
            break
    if restore:
        model.train(was_training)
    return answers, segments


def solve_right(model, inputs, max_segments):
    return _loop(model, inputs, max_segments)


def solve_right_early_exit(model, inputs, max_segments):  # stops the loop once every puzzle has halted
    return _loop(model, inputs, max_segments, early_exit=True)


def solve_train_mode(model, inputs, max_segments):  # right too: the loop reads Q itself, so restarts come too late
    return _loop(model, inputs, max_segments, evaluation=False)


def solve_no_limit_passed(model, inputs, max_segments):
    return _loop(model, inputs, max_segments, pass_limit=False)


def solve_q_above_zero(model, inputs, max_segments):
    return _loop(model, inputs, max_segments, rule="zero")


def solve_ignores_q(model, inputs, max_segments):
    return _loop(model, inputs, max_segments, rule="never")


def solve_last_decision_wins(model, inputs, max_segments):
    return _loop(model, inputs, max_segments, first=False, forced=False)


def solve_no_forced_stop(model, inputs, max_segments):
    return _loop(model, inputs, max_segments, forced=False)


def solve_last_answer(model, inputs, max_segments):
    return _loop(model, inputs, max_segments, keep="last")


def solve_zero_based(model, inputs, max_segments):
    return _loop(model, inputs, max_segments, count_from=0)


def solve_ties_halt(model, inputs, max_segments):  # >=: a fresh Q head (-5, -5) stops everything at once
    return _loop(model, inputs, max_segments, rule=">=")


def solve_hard_coded_rule(model, inputs, max_segments):  # HRM's rule written out: wrong for act_continue=False
    return _loop(model, inputs, max_segments, rule="compare")


def solve_mode_not_restored(model, inputs, max_segments):
    return _loop(model, inputs, max_segments, restore=False)


def solve_numpy(model, inputs, max_segments):
    answers, segments = _loop(model, inputs, max_segments)
    return answers.numpy(), segments.numpy()


def solve_float_segments(model, inputs, max_segments):
    answers, segments = _loop(model, inputs, max_segments)
    return answers, segments.float()


def solve_logits(model, inputs, max_segments):  # returns logits, not tokens
    model.eval()
    batch = {"inputs": inputs}
    carry, out = model(model.initial_carry(batch), batch, max_steps=max_segments)
    return out["logits"], torch.ones(inputs.shape[0], dtype=torch.long)


CASES = [
    (checks.check_solve, solve_right,
     [solve_no_limit_passed, solve_q_above_zero, solve_ignores_q, solve_last_decision_wins,
      solve_no_forced_stop, solve_last_answer, solve_zero_based, solve_logits, solve_ties_halt,
      solve_hard_coded_rule, solve_mode_not_restored, solve_numpy, solve_float_segments]),
    (checks.check_solve, solve_right_early_exit, []),
    (checks.check_solve, solve_train_mode, []),
]

HINTS = [
    (checks.check_solve, solve_no_limit_passed, "max_steps=max_segments"),
    (checks.check_solve, solve_q_above_zero, "not where Q_halt > 0"),
    (checks.check_solve, solve_ignores_q, "not always at max_segments"),
    (checks.check_solve, solve_last_decision_wins, "FIRST segment"),
    (checks.check_solve, solve_no_forced_stop, "never stops"),
    (checks.check_solve, solve_last_answer, "not after the last segment"),
    (checks.check_solve, solve_zero_based, "count from 1"),
    (checks.check_solve, solve_logits, "integers"),
    (checks.check_solve, solve_ties_halt, "strictly"),
    (checks.check_solve, solve_hard_coded_rule, "act_continue=False"),
    (checks.check_solve, solve_mode_not_restored, "mode it was in"),
    (checks.check_solve, solve_numpy, "torch tensor"),
    (checks.check_solve, solve_float_segments, "integers"),
]
