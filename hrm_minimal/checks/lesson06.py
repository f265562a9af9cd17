"""Checkers of lesson 06 (adaptive computation time): the halting decision, the two Q targets, the ACT loss.

6.1 builds small random HRMs of the package and compares the student's decision with
`HRM.halt_decision` under the same random draws; 6.2 compares with `metrics.sequence_correct` and
`model.q_continue_target`; 6.3 with `losses.act_loss` (value and gradients).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from hrm_minimal.config import HRMConfig
from hrm_minimal.data.puzzle_set import IGNORE_LABEL_ID
from hrm_minimal.losses import act_loss, softmax_cross_entropy, stablemax_cross_entropy
from hrm_minimal.metrics import sequence_correct
from hrm_minimal.model import HRM, q_continue_target

from .core import Mismatch, run_check

__all__ = ["check_halt_decision", "check_q_targets", "check_act_loss"]


# --------------------------------------------------------------------------- 6.1 the halting decision


def _halt_model(rng: np.random.Generator, explore: float, training: bool) -> HRM:
    cfg = HRMConfig(vocab_size=6, seq_len=4, hidden_size=16, num_heads=2, expansion=2.0, swiglu_multiple=8,
                    H_layers=1, L_layers=1, H_cycles=1, L_cycles=1, halt_max_steps=int(rng.integers(2, 9)),
                    halt_exploration_prob=explore)
    return HRM(cfg).train(training)


def _decide(model: HRM, steps, q_halt, q_continue, limit, *, use_q=True, explore=True, q_rule="compare",
            at_limit=">=", invert_explore=False, low=2, high_offset=1, draw_order="rand first",
            q_in_eval=False) -> torch.Tensor:
    """The halting rule with one switch per mistake a student makes (all defaults: HRM.halt_decision)."""
    halted = steps >= limit if at_limit == ">=" else steps > limit
    if (model.training or q_in_eval) and limit > 1:
        if use_q:
            halted = halted | (q_halt > q_continue if q_rule == "compare" else q_halt > 0)
        if explore:
            B, p = steps.shape[0], model.config.halt_exploration_prob
            if draw_order == "rand first":
                u = torch.rand(B)
                min_steps = torch.randint(low, limit + high_offset, (B,))
            else:
                min_steps = torch.randint(low, limit + high_offset, (B,))
                u = torch.rand(B)
            chosen = u >= p if invert_explore else u < p
            halted = halted & (steps >= min_steps * chosen)
    return halted


_HALT_MISTAKES = [  # (hint, the switches that reproduce the mistake)
    ("at evaluation (model.training is False) the Q head is ignored: every puzzle runs to the limit, "
     "as the reference reports", dict(q_in_eval=True)),
    ("every slot must stop once it reaches the limit (steps >= limit), whatever the Q head says",
     dict(at_limit=">")),
    ("the Q head says halt where Q_halt > Q_continue (compare the two values, not Q_halt with 0)",
     dict(q_rule="zero")),
    ("in training a slot also stops where the Q head says so (Q_halt > Q_continue), not only at the limit",
     dict(use_q=False)),
    ("exploration is missing: with probability halt_exploration_prob a slot must first reach a minimum "
     "number of segments before it may halt", dict(explore=False)),
    ("a slot explores with probability halt_exploration_prob (torch.rand(B) < p), not 1 - p",
     dict(invert_explore=True)),
    ("the minimum is drawn uniformly from {2, ..., limit}: torch.randint(2, limit + 1, (B,))",
     dict(low=1)),
    ("the minimum is drawn uniformly from {2, ..., limit}: torch.randint's upper end is exclusive, so "
     "limit + 1", dict(high_offset=0)),
    ("draw in the reference's order, torch.rand(B) first and then torch.randint(2, limit + 1, (B,)), so the "
     "same seed gives the same draws", dict(draw_order="randint first")),
]


def _reference_halt(model: HRM, steps, q_halt, q_continue, limit):
    return model.halt_decision(steps, q_halt, q_continue, limit)


def check_halt_decision(fn: Callable) -> Callable:
    """Exercise 6.1: halt_decision(model, steps, q_halt, q_continue, limit) -> (B,) bool."""
    settings = [(0.5, True), (0.0, True), (0.5, False), (1.0, True), (0.3, True)]  # (exploration, training)

    def trial(student: Callable, rng: np.random.Generator) -> None:
        explore, training = settings[int(rng.integers(len(settings)))]
        model = _halt_model(rng, explore, training)
        limit = model.config.halt_max_steps
        B = 64
        steps = torch.from_numpy(rng.integers(1, limit + 1, size=B)).to(torch.int32)
        steps[:4] = limit  # slots at the limit in every trial
        q_halt = torch.from_numpy(rng.normal(0, 2, size=B)).float()
        q_continue = torch.from_numpy(rng.normal(0, 2, size=B)).float()
        q_halt[4:8] = torch.from_numpy(rng.uniform(0.1, 2, size=4)).float()  # above 0 but below Q_continue
        q_continue[4:8] = q_halt[4:8] + 1
        seed = int(rng.integers(2**31))
        args = (steps.clone(), q_halt.clone(), q_continue.clone(), limit)
        torch.manual_seed(seed)
        want = _reference_halt(model, *args)
        torch.manual_seed(seed)
        got = student(model, *args)
        if not torch.is_tensor(got) or got.dtype != torch.bool:
            found = got.dtype if torch.is_tensor(got) else type(got).__name__
            raise Mismatch(f"halt_decision should return a (B,) bool tensor, got {found}")
        if tuple(got.shape) != (B,):
            raise Mismatch(f"halt_decision should return shape ({B},), got {tuple(got.shape)}")
        if torch.equal(got, want):
            return
        for hint, switches in _HALT_MISTAKES:
            torch.manual_seed(seed)
            try:
                wrong = _decide(model, *args, **switches)
            except RuntimeError:  # a mistake that cannot run on these inputs (randint(2, 2))
                continue
            if torch.equal(got, wrong):
                raise Mismatch(hint)
        raise Mismatch("the halting decision differs from HRM.halt_decision's on the same random draws")

    return run_check("6.1", fn, _reference_halt, trial, trials=30)


# --------------------------------------------------------------------------- 6.2 the two Q targets


def _reference_targets(logits, labels, next_q_halt, next_q_continue, is_last):
    halt = sequence_correct(logits.argmax(-1), labels).float()
    return halt, q_continue_target(next_q_halt, next_q_continue, is_last)


def _target_inputs(rng: np.random.Generator):
    """Logits whose argmax gets some rows right, labels with some ignored cells, next Q logits."""
    B, S, V = int(rng.integers(6, 12)), int(rng.integers(4, 10)), int(rng.integers(4, 9))
    labels = torch.from_numpy(rng.integers(0, V, size=(B, S)))
    logits = torch.from_numpy(rng.normal(0, 1, size=(B, S, V))).float()
    right_rows = rng.random(B) < 0.5
    right_rows[0], right_rows[1] = True, False
    logits[right_rows] += 10 * F.one_hot(labels[right_rows], V).float()  # these rows predict every cell
    ignored = torch.from_numpy(rng.random((B, S)) < 0.25)
    ignored[0, 0] = True  # a right row with an ignored cell, whose prediction is wrong
    logits[0, 0] -= 20 * F.one_hot(labels[0, 0], V).float()
    labels = labels.masked_fill(ignored, IGNORE_LABEL_ID)
    almost = 2  # a row right but for one scored cell
    labels[almost] = logits[almost].argmax(-1)
    labels[almost, -1] = (labels[almost, -1] + 1) % V
    next_halt = torch.from_numpy(rng.normal(0, 2, size=B)).float()
    next_continue = torch.from_numpy(rng.normal(0, 2, size=B)).float()
    is_last = torch.from_numpy(rng.random(B) < 0.4)
    is_last[0], is_last[1] = True, False
    next_halt[0], next_continue[0] = -1.0, 1.0  # at the last step the continue value must not count
    return logits, labels, next_halt, next_continue, is_last


def check_q_targets(fn: Callable) -> Callable:
    """Exercise 6.2: q_targets(logits, labels, next_q_halt, next_q_continue, is_last) -> (halt, continue)."""

    def trial(student: Callable, rng: np.random.Generator) -> None:
        args = _target_inputs(rng)
        logits, labels, next_halt, next_continue, is_last = args
        want_halt, want_continue = _reference_targets(*args)
        got = student(*(a.clone() for a in args))
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise Mismatch("q_targets should return a tuple (halt_target, continue_target)")
        halt, cont = (torch.as_tensor(g).detach() for g in got)
        B = labels.shape[0]
        for name, value in (("halt_target", halt), ("continue_target", cont)):
            if tuple(value.shape) != (B,):
                raise Mismatch(f"{name} should have shape ({B},), one value per puzzle; got {tuple(value.shape)}")
        if not torch.allclose(halt.float(), want_halt, atol=1e-6):
            preds = logits.argmax(-1)
            scored = labels != IGNORE_LABEL_ID
            cells = ((preds == labels) & scored).sum(-1) / scored.sum(-1).clamp_min(1)
            if torch.allclose(halt.float(), cells, atol=1e-5):
                raise Mismatch("the halt target is 1 where the WHOLE answer is right and 0 otherwise, not the "
                               "fraction of right cells")
            if torch.equal(halt.float(), (preds == labels).all(-1).float()):
                raise Mismatch(f"cells labelled IGNORE_LABEL_ID ({IGNORE_LABEL_ID}) are not scored: a row whose "
                               "scored cells are all right is right")
            raise Mismatch("the halt target differs: 1.0 where every scored cell's argmax is its label, else 0.0")
        if not torch.allclose(cont.float(), want_continue, atol=1e-6):
            best = torch.maximum(next_halt, next_continue)
            if torch.allclose(cont.float(), torch.where(is_last, next_halt, best), atol=1e-6):
                raise Mismatch("the continue target is a probability: take the sigmoid of the best next logit")
            if torch.allclose(cont.float(), torch.sigmoid(best), atol=1e-6):
                raise Mismatch("where no segment is left (is_last) the only choice is to halt: the target is "
                               "sigmoid(next Q_halt) there")
            if torch.allclose(cont.float(), torch.sigmoid(torch.where(is_last, next_halt, next_continue)), atol=1e-6):
                raise Mismatch("the continue target is the value of the BEST choice at the next segment: "
                               "sigmoid(max(next Q_halt, next Q_continue))")
            raise Mismatch("the continue target differs from the bootstrapped target "
                           "sigmoid(max(next Q_halt, next Q_continue)), sigmoid(next Q_halt) at the last step")

    return run_check("6.2", fn, _reference_targets, trial, trials=12)


# --------------------------------------------------------------------------- 6.3 the ACT loss


def _reference_loss(outputs: dict, labels: torch.Tensor) -> torch.Tensor:
    return act_loss(outputs, labels)[0]


def _loss_inputs(rng: np.random.Generator, with_target: bool):
    B, S, V = int(rng.integers(4, 9)), int(rng.integers(4, 10)), int(rng.integers(4, 9))
    labels = torch.from_numpy(rng.integers(0, V, size=(B, S)))
    logits = torch.from_numpy(rng.normal(0, 2, size=(B, S, V))).float()
    right = rng.random(B) < 0.5
    right[0], right[1] = True, False
    logits[right] += 10 * F.one_hot(labels[right], V).float()
    ignored = torch.zeros(B, S, dtype=torch.bool)
    for b in range(B):  # rows with different numbers of scored cells: the per-row mean matters
        ignored[b, : int(rng.integers(0, S - 1))] = True
    labels = labels.masked_fill(ignored, IGNORE_LABEL_ID)
    outputs = {"logits": logits, "q_halt_logits": torch.from_numpy(rng.normal(0, 2, size=B)).float(),
               "q_continue_logits": torch.from_numpy(rng.normal(0, 2, size=B)).float()}
    if with_target:
        outputs["target_q_continue"] = torch.from_numpy(rng.uniform(0, 1, size=B)).float()
    return outputs, labels


def _loss_variant(outputs, labels, *, ce=stablemax_cross_entropy, per_row=True, weight=0.5, continue_term=True,
                  halt_target="exact"):
    """act_loss with one switch per mistake."""
    logits = outputs["logits"]
    mask = labels != IGNORE_LABEL_ID
    token = ce(logits, labels)
    if per_row == "all cells":
        lm = token.sum() / labels.numel()
    elif per_row:
        lm = (token / mask.sum(-1, keepdim=True).clamp_min(1)).sum(-1).mean()
    else:
        lm = token.sum() / mask.sum().clamp_min(1)
    preds = logits.argmax(-1)
    if halt_target == "exact":
        target = sequence_correct(preds, labels).float()
    else:
        target = (((preds == labels) & mask).sum(-1) / mask.sum(-1).clamp_min(1)).float()
    q = F.binary_cross_entropy_with_logits(outputs["q_halt_logits"], target)
    if continue_term and "target_q_continue" in outputs:
        q = q + F.binary_cross_entropy_with_logits(outputs["q_continue_logits"], outputs["target_q_continue"])
    return lm.float() + weight * q


_LOSS_MISTAKES = [
    ("the language-model loss of the reference is the stablemax cross-entropy (stablemax_cross_entropy), "
     "not softmax", dict(ce=softmax_cross_entropy)),
    ("average each puzzle's token losses over ITS scored cells, then average over puzzles (a puzzle with "
     "few scored cells weighs as much as one with many)", dict(per_row=False)),
    (f"cells labelled IGNORE_LABEL_ID ({IGNORE_LABEL_ID}) are not scored: divide each puzzle's loss by its "
     "number of scored cells, not by all cells", dict(per_row="all cells")),
    ("the Q terms are weighted by one half: lm + 0.5 (halt + continue)", dict(weight=1.0)),
    ("the Q head learns from the loss too: lm + 0.5 (halt + continue)", dict(weight=0.0)),
    ("when outputs hold 'target_q_continue' (training, more than one segment) add its binary "
     "cross-entropy with q_continue_logits", dict(continue_term=False)),
    ("the halt target is 1 where the WHOLE answer is right, not the fraction of right cells",
     dict(halt_target="cells")),
]


def check_act_loss(fn: Callable) -> Callable:
    """Exercise 6.3: act_loss(outputs, labels) -> scalar tensor, lm + 0.5 (halt + continue)."""

    def trial(student: Callable, rng: np.random.Generator) -> None:
        with_target = bool(rng.random() < 0.7)
        outputs, labels = _loss_inputs(rng, with_target)
        leaves = {k: v.clone().requires_grad_(k != "target_q_continue") for k, v in outputs.items()}
        want = _reference_loss(leaves, labels)
        want_grads = torch.autograd.grad(want, [leaves["logits"], leaves["q_halt_logits"]])
        mine = {k: v.clone().requires_grad_(k != "target_q_continue") for k, v in outputs.items()}
        try:
            got = student(mine, labels.clone())
        except KeyError as error:
            if "target_q_continue" in str(error):
                raise Mismatch("outputs hold 'target_q_continue' only in training with more than one segment; "
                               "without it there is no continue loss") from None
            raise
        if not torch.is_tensor(got):
            raise Mismatch(f"act_loss should return the loss as a tensor (to call backward on), got "
                           f"{type(got).__name__}")
        if got.numel() != 1:
            raise Mismatch(f"act_loss should return one number for the batch, got shape {tuple(got.shape)}")
        if not got.requires_grad:
            raise Mismatch("the loss has no gradient: build it from the outputs with torch operations "
                           "(no .item(), no .detach())")
        if not torch.allclose(got.detach().reshape(()).double(), want.detach().double(), rtol=1e-4, atol=1e-5):
            for hint, switches in _LOSS_MISTAKES:
                if torch.allclose(got.detach().reshape(()).double(), _loss_variant(outputs, labels, **switches).double(),
                                  rtol=1e-4, atol=1e-5):
                    raise Mismatch(hint)
            raise Mismatch("the loss differs from act_loss's lm + 0.5 (halt + continue)")
        grads = torch.autograd.grad(got.reshape(()), [mine["logits"], mine["q_halt_logits"]], allow_unused=True)
        for name, g, w in zip(("logits", "q_halt_logits"), grads, want_grads):
            if g is None or not torch.allclose(g, w, rtol=1e-3, atol=1e-6):
                raise Mismatch(f"the loss's value is right but its gradient with respect to {name} is not: "
                               "compute it from the outputs, not from detached copies")

    return run_check("6.3", fn, _reference_loss, trial, trials=12)
