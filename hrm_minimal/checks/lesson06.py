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
            q_in_eval=False, limit_from="argument", minimum_for_all=False, explorers_skip_q=False) -> torch.Tensor:
    """The halting rule with one switch per mistake a student makes (all defaults: HRM.halt_decision)."""
    if limit_from == "config":
        limit = model.config.halt_max_steps
    halted = steps >= limit if at_limit == ">=" else steps > limit
    if (model.training or q_in_eval) and limit > 1:
        says = {"compare": q_halt > q_continue, ">=": q_halt >= q_continue, "zero": q_halt > 0}[q_rule]
        B, p = steps.shape[0], model.config.halt_exploration_prob
        if explore:
            if draw_order == "rand first":
                u = torch.rand(B)
                min_steps = torch.randint(low, limit + high_offset, (B,))
            else:
                min_steps = torch.randint(low, limit + high_offset, (B,))
                u = torch.rand(B)
            chosen = u >= p if invert_explore else u < p
        if use_q:
            halted = halted | (says & ~chosen if explore and explorers_skip_q else says)
        if explore and not explorers_skip_q:
            halted = halted & (steps >= (min_steps if minimum_for_all else min_steps * chosen))
    return halted


_HALT_MISTAKES = [  # (hint, the switches that reproduce the mistake)
    ("at evaluation (model.training is False) the Q head is ignored: every puzzle runs to the limit, "
     "as the reference reports", dict(q_in_eval=True)),
    ("use the limit you are given, not model.config.halt_max_steps: evaluation may read with more segments",
     dict(limit_from="config")),
    ("every slot must stop once it reaches the limit (steps >= limit), whatever the Q head says",
     dict(at_limit=">")),
    ("halt only where Q_halt > Q_continue strictly: a fresh Q head gives both -5, and then nothing may halt",
     dict(q_rule=">=")),
    ("the Q head says halt where Q_halt > Q_continue (compare the two values, not Q_halt with 0)",
     dict(q_rule="zero")),
    ("in training a slot also stops where the Q head says so (Q_halt > Q_continue), not only at the limit",
     dict(use_q=False)),
    ("exploration is missing: with probability halt_exploration_prob a slot must first reach a minimum "
     "number of segments before it may halt", dict(explore=False)),
    ("only exploring slots get a minimum: halted & (steps >= min_steps * explore)", dict(minimum_for_all=True)),
    ("an exploring slot may still halt by Q once it has reached its minimum: keep the Q head's say and "
     "forbid halting only before the minimum", dict(explorers_skip_q=True)),
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
    # (exploration, training, limit: "config", "more" (evaluation reading longer) or 1)
    settings = [(0.5, True, "config"), (0.0, True, "config"), (0.5, False, "more"), (1.0, True, "config"),
                (0.3, True, "config"), (0.5, True, 1), (0.3, True, "fewer"), (0.5, False, "config")]
    seen = []  # (model, args, seed, the student's answer) of every trial so far: a mistake must fit them all

    def trial(student: Callable, rng: np.random.Generator) -> None:
        explore, training, which = settings[len(seen) % len(settings)]
        model = _halt_model(rng, explore, training)
        hms = model.config.halt_max_steps
        limit = {"config": hms, "more": hms + int(rng.integers(2, 9)), "fewer": max(2, hms - 1), 1: 1}[which]
        B = 64
        steps = torch.from_numpy(rng.integers(1, limit + 1, size=B)).to(torch.int32)
        steps[:4] = limit  # slots at the limit in every trial
        q_halt = torch.from_numpy(rng.normal(0, 2, size=B)).float()
        q_continue = torch.from_numpy(rng.normal(0, 2, size=B)).float()
        q_halt[4:8] = torch.from_numpy(rng.uniform(0.1, 2, size=4)).float()  # above 0 but below Q_continue
        q_continue[4:8] = q_halt[4:8] + 1
        q_halt[8:12] = q_continue[8:12] = -5.0  # ties, as a fresh Q head gives
        seed = int(rng.integers(2**31))
        args = (steps.clone(), q_halt.clone(), q_continue.clone(), limit)
        torch.manual_seed(seed)
        want = _reference_halt(model, *args)
        torch.manual_seed(seed)
        try:
            got = student(model, *args)
        except RuntimeError as error:
            if limit == 1 and not isinstance(error, NotImplementedError):
                raise Mismatch("with limit 1 every slot halts after its one segment: use the Q head and "
                               f"exploration only when limit > 1 (your function raised {error})") from None
            raise
        if not (torch.equal(args[0], steps) and torch.equal(args[1], q_halt) and torch.equal(args[2], q_continue)):
            raise Mismatch("your function changed its inputs in place (steps, q_halt or q_continue): leave them "
                           "as they are, the caller still needs them")
        if not torch.is_tensor(got) or got.dtype != torch.bool:
            found = got.dtype if torch.is_tensor(got) else type(got).__name__
            raise Mismatch(f"halt_decision should return a (B,) bool tensor, got {found}")
        if tuple(got.shape) != (B,):
            raise Mismatch(f"halt_decision should return shape ({B},), got {tuple(got.shape)}")
        seen.append((model, args, seed, got))
        if torch.equal(got, want):
            return
        for hint, switches in _HALT_MISTAKES:
            if all(_reproduces(switches, *record) for record in seen):
                raise Mismatch(hint)
        raise Mismatch("the halting decision differs from HRM.halt_decision's on the same random draws")

    return run_check("6.1", fn, _reference_halt, trial, trials=24)


def _reproduces(switches: dict, model: HRM, args: tuple, seed: int, got: torch.Tensor) -> bool:
    """Does the mistake described by `switches` give the student's answer on this trial?"""
    torch.manual_seed(seed)
    try:
        return torch.equal(got, _decide(model, *args, **switches))
    except RuntimeError:  # a mistake that cannot run on these inputs (randint(2, 2))
        return False


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
    close = 3  # a right row by a narrow margin: argmax right, the label's probability well below one half
    labels[close] = torch.from_numpy(rng.integers(0, V, size=S))
    logits[close] = torch.from_numpy(rng.normal(0, 0.1, size=(S, V))).float()
    logits[close].scatter_(-1, labels[close].unsqueeze(-1), logits[close].max(-1, keepdim=True).values + 0.05)
    labels[4] = IGNORE_LABEL_ID  # a row with no scored cell: nothing in it is wrong
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
        given = tuple(a.clone() for a in args)
        got = student(*given)
        if not all(torch.equal(a, b) for a, b in zip(given, args)):
            raise Mismatch("your function changed its inputs in place (labels, logits or the next Q values): "
                           "leave them as they are")
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise Mismatch("q_targets should return a tuple (halt_target, continue_target)")
        for name, value in zip(("halt_target", "continue_target"), got):
            if not torch.is_tensor(value) or not value.dtype.is_floating_point:
                found = value.dtype if torch.is_tensor(value) else type(value).__name__
                raise Mismatch(f"{name} should be a float tensor (.float()): binary cross-entropy needs float "
                               f"targets, got {found}")
        halt, cont = (g.detach() for g in got)
        B = labels.shape[0]
        for name, value in (("halt_target", halt), ("continue_target", cont)):
            if tuple(value.shape) != (B,):
                raise Mismatch(f"{name} should have shape ({B},), one value per puzzle; got {tuple(value.shape)}")
        if not torch.allclose(halt.float(), want_halt, atol=1e-6):
            preds = logits.argmax(-1)
            scored = labels != IGNORE_LABEL_ID
            cells = ((preds == labels) & scored).sum(-1) / scored.sum(-1).clamp_min(1)
            some = scored.any(-1)  # rows with a scored cell (a fraction is 0/0 on the others)
            if torch.allclose(halt[some].float(), cells[some], atol=1e-5):
                raise Mismatch("the halt target is 1 where the WHOLE answer is right and 0 otherwise, not the "
                               "fraction of right cells")
            if torch.equal(halt.float(), (preds == labels).all(-1).float()):
                raise Mismatch(f"cells labelled IGNORE_LABEL_ID ({IGNORE_LABEL_ID}) are not scored: a row whose "
                               "scored cells are all right is right")
            probable = torch.softmax(logits, -1).gather(-1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1) > 0.5
            if torch.equal(halt.float(), (probable | ~scored).all(-1).float()):
                raise Mismatch("right means the argmax of the logits equals the label (the answer the model "
                               "writes), not a probability above one half")
            no_scored = ~scored.any(-1)
            if bool(no_scored.any()) and torch.equal(halt[~no_scored].float(), want_halt[~no_scored]):
                raise Mismatch("a row with no scored cell counts as right: nothing in it is wrong")
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
    ignored[-1] = True  # a puzzle with no scored cell at all (padding only)
    labels = labels.masked_fill(ignored, IGNORE_LABEL_ID)
    outputs = {"logits": logits, "q_halt_logits": torch.from_numpy(rng.normal(0, 2, size=B)).float(),
               "q_continue_logits": torch.from_numpy(rng.normal(0, 2, size=B)).float()}
    if with_target:
        outputs["target_q_continue"] = torch.from_numpy(rng.uniform(0, 1, size=B)).float()
    return outputs, labels


def _loss_variant(outputs, labels, *, ce=stablemax_cross_entropy, per_row=True, weight=0.5, continue_term=True,
                  halt_target="exact", reduction="mean", continue_weight=None):
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
    elif halt_target == "unmasked":
        target = (preds == labels).all(-1).float()
    else:
        target = (((preds == labels) & mask).sum(-1) / mask.sum(-1).clamp_min(1)).float()
    q = F.binary_cross_entropy_with_logits(outputs["q_halt_logits"], target, reduction=reduction)
    loss = lm.float() + weight * q
    if continue_term and "target_q_continue" in outputs:
        cont = F.binary_cross_entropy_with_logits(outputs["q_continue_logits"], outputs["target_q_continue"],
                                                  reduction=reduction)
        loss = loss + (weight if continue_weight is None else continue_weight) * cont
    return loss


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
    (f"in the halt target, cells labelled IGNORE_LABEL_ID ({IGNORE_LABEL_ID}) are not scored: a row whose "
     "scored cells are all right is right", dict(halt_target="unmasked")),
    ("average the binary cross-entropies over the batch (reduction='mean', the default), as the lm term is",
     dict(reduction="sum")),
    ("both Q terms are weighted by one half: lm + 0.5 (halt + continue), not lm + 0.5 halt + continue",
     dict(continue_weight=1.0)),
]


def check_act_loss(fn: Callable) -> Callable:
    """Exercise 6.3: act_loss(outputs, labels) -> scalar tensor, lm + 0.5 (halt + continue)."""

    def trial(student: Callable, rng: np.random.Generator) -> None:
        with_target = bool(rng.random() < 0.7)
        outputs, labels = _loss_inputs(rng, with_target)
        leaves = {k: v.clone().requires_grad_(k != "target_q_continue") for k, v in outputs.items()}
        want = _reference_loss(leaves, labels)
        graded = ["logits", "q_halt_logits"] + (["q_continue_logits"] if with_target else [])
        want_grads = torch.autograd.grad(want, [leaves[n] for n in graded])
        mine = {k: v.clone().requires_grad_(k != "target_q_continue") for k, v in outputs.items()}
        given_labels = labels.clone()
        try:
            got = student(mine, given_labels)
        except KeyError as error:
            if "target_q_continue" in str(error):
                raise Mismatch("outputs hold 'target_q_continue' only in training with more than one segment; "
                               "without it there is no continue loss") from None
            raise
        if not torch.equal(given_labels, labels) or not all(torch.equal(mine[k].detach(), outputs[k]) for k in outputs):
            raise Mismatch("your function changed its inputs in place (labels or the outputs): leave them as they are")
        if not torch.is_tensor(got):
            raise Mismatch(f"act_loss should return the loss as a tensor (to call backward on), got "
                           f"{type(got).__name__}")
        if got.numel() != 1:
            raise Mismatch(f"act_loss should return one number for the batch, got shape {tuple(got.shape)}")
        if not got.requires_grad:
            raise Mismatch("the loss has no gradient: build it from the outputs with torch operations "
                           "(no .item(), no .detach())")
        if bool(torch.isnan(got.detach()).any()):
            raise Mismatch("the loss is NaN: a puzzle with no scored cell (padding only) divides 0 by 0; divide "
                           "each puzzle's sum by max(its number of scored cells, 1)")
        if not torch.allclose(got.detach().reshape(()).double(), want.detach().double(), rtol=1e-4, atol=1e-5):
            for hint, switches in _LOSS_MISTAKES:
                if torch.allclose(got.detach().reshape(()).double(), _loss_variant(outputs, labels, **switches).double(),
                                  rtol=1e-4, atol=1e-5):
                    raise Mismatch(hint)
            raise Mismatch("the loss differs from act_loss's lm + 0.5 (halt + continue)")
        names = ["logits", "q_halt_logits"] + (["q_continue_logits"] if "target_q_continue" in outputs else [])
        grads = torch.autograd.grad(got.reshape(()), [mine[n] for n in names], allow_unused=True)
        for name, g, w in zip(names, grads, want_grads):
            if g is None or not torch.allclose(g, w, rtol=1e-3, atol=1e-6):
                raise Mismatch(f"the loss's value is right but its gradient with respect to {name} is not: "
                               "compute it from the outputs, not from detached copies")

    return run_check("6.3", fn, _reference_loss, trial, trials=12)
