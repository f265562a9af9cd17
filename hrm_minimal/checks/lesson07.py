"""Checker of lesson 07 (the whole model): answering puzzles with ACT halting.

7.1 builds small random HRMs of the package whose Q heads halt at different segments and compares the
student's answers and segment counts with `hrm_minimal.evaluate.solve`.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from hrm_minimal.config import HRMConfig
from hrm_minimal.evaluate import solve
from hrm_minimal.model import HRM

from .core import Mismatch, run_check

__all__ = ["check_solve"]


def _model(rng: np.random.Generator, kind: str) -> HRM:
    """kind: "reads" (a Q head that reads the state, so puzzles halt at different segments), "fresh" (the
    reference's start: both Q logits -5, a tie, so nothing halts) or "trm" (act_continue=False)."""
    torch.manual_seed(int(rng.integers(2**31)))
    cfg = HRMConfig(vocab_size=6, seq_len=int(rng.integers(4, 9)), hidden_size=16, num_heads=2, expansion=2.0,
                    swiglu_multiple=8, H_layers=1, L_layers=1, H_cycles=int(rng.integers(1, 3)),
                    L_cycles=int(rng.integers(1, 3)), halt_max_steps=int(rng.integers(2, 4)),
                    halt_exploration_prob=0.5, act_continue=kind != "trm")
    model = HRM(cfg)
    if kind != "fresh":
        with torch.no_grad():
            model.inner.q_head.weight.normal_(0, 1.5)
            model.inner.q_head.bias.normal_(0, 0.5)
    return model.train(bool(rng.random() < 0.5))  # the mode the student finds it in varies


def _variant(model: HRM, inputs: torch.Tensor, limit: int, *, rule="model", answer="at halt", first=True,
             forced_stop=True, pass_limit=True):
    """A (mostly wrong) inference loop: one switch per mistake."""
    model.eval()
    batch = {"inputs": inputs}
    carry = model.initial_carry(batch)
    B = inputs.shape[0]
    answers, segments = torch.zeros_like(inputs), torch.zeros(B, dtype=torch.long)
    last = None
    for m in range(1, limit + 1):
        if pass_limit == "minus one":
            carry, out = model(carry, batch, max_steps=max(limit - 1, 1))
        else:
            carry, out = model(carry, batch, max_steps=limit) if pass_limit else model(carry, batch)
        q_h, q_c = out["q_halt_logits"], out["q_continue_logits"]
        says = {"model": lambda: model.q_says_halt(q_h, q_c), "zero": lambda: q_h > 0,
                "never": lambda: torch.zeros_like(q_h, dtype=torch.bool), ">=": lambda: q_h >= q_c,
                "compare": lambda: q_h > q_c, "swapped": lambda: model.q_says_halt(q_c, q_h)}[rule]()
        stops = says | (m == limit) if forced_stop else says
        if first:
            stops = stops & (segments == 0)
        answers = torch.where(stops.unsqueeze(-1), out["logits"].argmax(-1), answers)
        segments = torch.where(stops, torch.full_like(segments, m), segments)
        last = out["logits"].argmax(-1)
    if answer == "last":
        answers = last
    return answers, segments


_MISTAKES = [
    ("the Q head decides: each puzzle stops at the first segment where model.q_says_halt is True, not "
     "always at max_segments", dict(rule="never")),
    ("the Q head says halt where model.q_says_halt(q_halt, q_continue) is True (HRM: Q_halt > Q_continue), "
     "not where Q_halt > 0", dict(rule="zero")),
    ("pass max_steps=max_segments to the model: otherwise slots reach the model's own halt_max_steps, "
     "halt and restart from scratch on the next call", dict(pass_limit=False)),
    ("pass max_steps=max_segments to the model (not max_segments - 1): otherwise slots reach their limit early, "
     "halt and restart from scratch on the next call", dict(pass_limit="minus one")),
    ("halt where model.q_says_halt(q_halt, q_continue) is True: HRM's rule is Q_halt > Q_continue strictly "
     "(a fresh Q head gives both -5, and then nothing halts)", dict(rule=">=")),
    ("use model.q_says_halt(q_halt, q_continue) rather than writing the rule: a model with act_continue=False "
     "(TRM's shortcut) halts where Q_halt > 0", dict(rule="compare")),
    ("model.q_says_halt takes (q_halt, q_continue) in that order", dict(rule="swapped")),
    ("a puzzle stops at the FIRST segment where the Q head says halt: later segments must not change its "
     "answer or its count", dict(first=False, forced_stop=False)),
    ("a puzzle stops at the FIRST segment where the Q head says halt: later segments must not change its "
     "answer or its count", dict(first=False)),
    ("a puzzle the Q head never stops halts at max_segments (its count is max_segments, its answer the last "
     "one)", dict(forced_stop=False)),
    ("each puzzle's answer is the one after the segment where it halts, not after the last segment run",
     dict(answer="last")),
]


def check_solve(fn: Callable) -> Callable:
    """Exercise 7.1: solve(model, inputs, max_segments) -> (answers (B, S), segments (B,))."""

    kinds = ["reads", "reads", "fresh", "trm"]
    seen = []  # (model, inputs, limit, answers, segments) of every trial so far: a mistake must fit them all

    def trial(student: Callable, rng: np.random.Generator) -> None:
        model = _model(rng, kinds[len(seen) % len(kinds)])
        mode = model.training
        limit = int(rng.integers(2, 7))
        inputs = torch.from_numpy(rng.integers(1, 6, size=(int(rng.integers(6, 12)), model.config.seq_len)))
        want_answers, want_segments = solve(model, inputs.clone(), limit)
        model.train(mode)
        given = inputs.clone()
        with torch.no_grad():
            got = student(model, given, limit)
        if not torch.equal(given, inputs):
            raise Mismatch("your function changed inputs in place: leave them as they are")
        if model.training != mode:
            raise Mismatch(f"put the model back in the mode it was in ({'training' if mode else 'evaluation'}): "
                           "remember model.training first, then model.train(that) at the end")
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise Mismatch("solve should return a tuple (answers (B, S), segments (B,))")
        for name, value in zip(("answers", "segments"), got):
            if not torch.is_tensor(value) or value.dtype.is_floating_point or value.dtype == torch.bool:
                found = value.dtype if torch.is_tensor(value) else type(value).__name__
                raise Mismatch(f"{name} should be a torch tensor of integers (token ids, segment counts), got {found}")
        answers, segments = (g.detach() for g in got)
        if tuple(answers.shape) != tuple(inputs.shape):
            raise Mismatch(f"answers should have shape {tuple(inputs.shape)} (tokens, the argmax of the logits), "
                           f"got {tuple(answers.shape)}")
        if tuple(segments.shape) != (inputs.shape[0],):
            raise Mismatch(f"segments should have shape ({inputs.shape[0]},), got {tuple(segments.shape)}")
        seen.append((model, inputs, limit, answers.long(), segments.long()))
        if torch.equal(answers.long(), want_answers) and torch.equal(segments.long(), want_segments):
            return
        if torch.equal(answers.long(), want_answers) and torch.equal(segments.long() + 1, want_segments):
            raise Mismatch("segments count from 1: a puzzle that halts after its first segment used 1")
        for hint, switches in _MISTAKES:
            if all(_reproduces(switches, *record) for record in seen):
                raise Mismatch(hint)
        if not torch.equal(segments.long(), want_segments):
            raise Mismatch("the segments used differ from evaluate.solve's: stop each puzzle at the first segment "
                           "where model.q_says_halt is True, or at max_segments")
        raise Mismatch("the segment counts are right but the answers are not: keep each puzzle's argmax answer "
                       "from the segment where it halts")

    return run_check("7.1", fn, solve, trial, trials=12)


def _reproduces(switches: dict, model: HRM, inputs: torch.Tensor, limit: int, answers, segments) -> bool:
    """Does the mistake described by `switches` give the student's answers and counts on this trial?"""
    mode = model.training
    wrong_answers, wrong_segments = _variant(model, inputs.clone(), limit, **switches)
    model.train(mode)
    return torch.equal(answers, wrong_answers) and torch.equal(segments, wrong_segments)
