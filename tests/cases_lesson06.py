"""Lesson 06's checkers against a right answer and the plausible wrong answers a student writes.

Read by tests/test_checks.py: CASES holds (checker, a right answer, [plausible wrong answers]),
HINTS holds (checker, wrong answer, a phrase its hint must contain).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from hrm_minimal import checks
from hrm_minimal.data import IGNORE_LABEL_ID
from hrm_minimal.losses import softmax_cross_entropy, stablemax_cross_entropy


# --------------------------------------------------------------------------- 6.1 halt_decision
def _halt(model, steps, q_halt, q_continue, limit, *, q_rule="compare", use_q=True, explore=True, eval_too=False,
          at_limit=">=", invert=False, low=2, high=1, randint_first=False):
    halted = steps >= limit if at_limit == ">=" else steps > limit
    if (model.training or eval_too) and limit > 1:
        says = q_halt > q_continue if q_rule == "compare" else q_halt > 0
        if use_q:
            halted = halted | says
        if explore:
            B = steps.shape[0]
            if randint_first:
                min_steps = torch.randint(low, limit + high, (B,))
                u = torch.rand(B)
            else:
                u = torch.rand(B)
                min_steps = torch.randint(low, limit + high, (B,))
            p = model.config.halt_exploration_prob
            explore_mask = u >= p if invert else u < p
            halted = halted & (steps >= min_steps * explore_mask)
    return halted


def halt_right(model, steps, q_halt, q_continue, limit):
    return _halt(model, steps, q_halt, q_continue, limit)


def halt_right_where(model, steps, q_halt, q_continue, limit):  # the same rule written with torch.where
    halted = steps >= limit
    if not model.training or limit == 1:
        return halted
    halted = halted | (q_halt > q_continue)
    explore = torch.rand(steps.shape[0]) < model.config.halt_exploration_prob
    min_steps = torch.randint(2, limit + 1, steps.shape)
    return torch.where(explore, halted & (steps >= min_steps), halted)


def halt_q_in_eval(model, steps, q_halt, q_continue, limit):  # halts by Q at evaluation too
    return _halt(model, steps, q_halt, q_continue, limit, eval_too=True)


def halt_past_limit(model, steps, q_halt, q_continue, limit):  # steps > limit: one segment too many
    return _halt(model, steps, q_halt, q_continue, limit, at_limit=">")


def halt_q_above_zero(model, steps, q_halt, q_continue, limit):  # TRM's rule, not HRM's
    return _halt(model, steps, q_halt, q_continue, limit, q_rule="zero")


def halt_limit_only(model, steps, q_halt, q_continue, limit):  # never listens to the Q head
    return _halt(model, steps, q_halt, q_continue, limit, use_q=False)


def halt_no_exploration(model, steps, q_halt, q_continue, limit):
    return _halt(model, steps, q_halt, q_continue, limit, explore=False)


def halt_inverted_exploration(model, steps, q_halt, q_continue, limit):  # explores with probability 1 - p
    return _halt(model, steps, q_halt, q_continue, limit, invert=True)


def halt_minimum_from_one(model, steps, q_halt, q_continue, limit):  # minimum from {1..limit}
    return _halt(model, steps, q_halt, q_continue, limit, low=1)


def halt_minimum_below_limit(model, steps, q_halt, q_continue, limit):  # randint's end taken as inclusive
    return _halt(model, steps, q_halt, q_continue, limit, high=0)


def halt_draws_swapped(model, steps, q_halt, q_continue, limit):  # randint drawn before rand
    return _halt(model, steps, q_halt, q_continue, limit, randint_first=True)


def halt_ties_halt(model, steps, q_halt, q_continue, limit):  # >=: a fresh Q head (-5, -5) halts at once
    halted = steps >= limit
    if model.training and limit > 1:
        halted = halted | (q_halt >= q_continue)
        explore = torch.rand(steps.shape[0]) < model.config.halt_exploration_prob
        halted = halted & (steps >= torch.randint(2, limit + 1, (steps.shape[0],)) * explore)
    return halted


def halt_config_limit(model, steps, q_halt, q_continue, limit):  # ignores the limit it is given
    return halt_right(model, steps, q_halt, q_continue, model.config.halt_max_steps)


def halt_no_limit_guard(model, steps, q_halt, q_continue, limit):  # draws even when limit is 1
    halted = (steps >= limit)
    if model.training:
        halted = halted | (q_halt > q_continue)
        explore = torch.rand(steps.shape[0]) < model.config.halt_exploration_prob
        halted = halted & (steps >= torch.randint(2, limit + 1, (steps.shape[0],)) * explore)
    return halted


def halt_in_place(model, steps, q_halt, q_continue, limit):  # subtracts into the caller's tensor
    q_halt -= q_continue
    halted = steps >= limit
    if model.training and limit > 1:
        halted = halted | (q_halt > 0)
        explore = torch.rand(steps.shape[0]) < model.config.halt_exploration_prob
        halted = halted & (steps >= torch.randint(2, limit + 1, (steps.shape[0],)) * explore)
    return halted


def halt_minimum_for_all(model, steps, q_halt, q_continue, limit):  # forgets "* explore"
    halted = steps >= limit
    if model.training and limit > 1:
        halted = halted | (q_halt > q_continue)
        torch.rand(steps.shape[0])
        halted = halted & (steps >= torch.randint(2, limit + 1, (steps.shape[0],)))
    return halted


def halt_explorers_ignore_q(model, steps, q_halt, q_continue, limit):  # exploring slots never halt by Q
    halted = steps >= limit
    if model.training and limit > 1:
        explore = torch.rand(steps.shape[0]) < model.config.halt_exploration_prob
        torch.randint(2, limit + 1, (steps.shape[0],))
        halted = halted | ((q_halt > q_continue) & ~explore)
    return halted


def halt_float(model, steps, q_halt, q_continue, limit):  # returns 0/1 floats, not bools
    return halt_right(model, steps, q_halt, q_continue, limit).float()


# --------------------------------------------------------------------------- 6.2 q_targets
def _solved(logits, labels):
    scored = labels != IGNORE_LABEL_ID
    return ((logits.argmax(-1) == labels) | ~scored).all(-1).float()


def targets_right(logits, labels, next_q_halt, next_q_continue, is_last):
    best = torch.where(is_last, next_q_halt, torch.maximum(next_q_halt, next_q_continue))
    return _solved(logits, labels), torch.sigmoid(best)


def targets_max_of_probabilities(logits, labels, next_q_halt, next_q_continue, is_last):  # the same values
    p_halt, p_continue = torch.sigmoid(next_q_halt), torch.sigmoid(next_q_continue)
    return _solved(logits, labels), torch.where(is_last, p_halt, torch.maximum(p_halt, p_continue))


def targets_cell_fraction(logits, labels, next_q_halt, next_q_continue, is_last):
    scored = labels != IGNORE_LABEL_ID
    cells = ((logits.argmax(-1) == labels) & scored).sum(-1) / scored.sum(-1)
    return cells.float(), targets_right(logits, labels, next_q_halt, next_q_continue, is_last)[1]


def targets_ignored_cells_count(logits, labels, next_q_halt, next_q_continue, is_last):
    return ((logits.argmax(-1) == labels).all(-1).float(),
            targets_right(logits, labels, next_q_halt, next_q_continue, is_last)[1])


def targets_no_sigmoid(logits, labels, next_q_halt, next_q_continue, is_last):
    best = torch.where(is_last, next_q_halt, torch.maximum(next_q_halt, next_q_continue))
    return _solved(logits, labels), best


def targets_ignore_last(logits, labels, next_q_halt, next_q_continue, is_last):
    return _solved(logits, labels), torch.sigmoid(torch.maximum(next_q_halt, next_q_continue))


def targets_next_continue_only(logits, labels, next_q_halt, next_q_continue, is_last):
    return _solved(logits, labels), torch.sigmoid(torch.where(is_last, next_q_halt, next_q_continue))


def targets_column(logits, labels, next_q_halt, next_q_continue, is_last):  # continue target as (B, 1)
    halt, cont = targets_right(logits, labels, next_q_halt, next_q_continue, is_last)
    return halt, cont.unsqueeze(-1)  # (B, 1): a shape the loss would silently broadcast


def targets_probability(logits, labels, next_q_halt, next_q_continue, is_last):  # "right" as p(label) > 0.5
    scored = labels != IGNORE_LABEL_ID
    p = torch.softmax(logits, -1).gather(-1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return ((p > 0.5) | ~scored).all(-1).float(), targets_right(logits, labels, next_q_halt, next_q_continue, is_last)[1]


def targets_in_place(logits, labels, next_q_halt, next_q_continue, is_last):  # overwrites the ignored labels
    scored = labels != IGNORE_LABEL_ID
    labels[~scored] = logits.argmax(-1)[~scored]
    return (logits.argmax(-1) == labels).all(-1).float(), \
        targets_right(logits, labels, next_q_halt, next_q_continue, is_last)[1]


def targets_bool(logits, labels, next_q_halt, next_q_continue, is_last):  # forgets .float()
    halt, cont = targets_right(logits, labels, next_q_halt, next_q_continue, is_last)
    return halt.bool(), cont


def targets_empty_row_wrong(logits, labels, next_q_halt, next_q_continue, is_last):  # 0/0 is not 1
    scored = labels != IGNORE_LABEL_ID
    fraction = ((logits.argmax(-1) == labels) & scored).sum(-1) / scored.sum(-1)
    return (fraction == 1).float(), targets_right(logits, labels, next_q_halt, next_q_continue, is_last)[1]


# --------------------------------------------------------------------------- 6.3 act_loss
def _lm(logits, labels, ce=stablemax_cross_entropy):
    scored = labels != IGNORE_LABEL_ID
    return (ce(logits, labels) / scored.sum(-1, keepdim=True).clamp_min(1)).sum(-1).mean()


def loss_right(outputs, labels):
    target = _solved(outputs["logits"], labels)
    q = F.binary_cross_entropy_with_logits(outputs["q_halt_logits"], target)
    if "target_q_continue" in outputs:
        q = q + F.binary_cross_entropy_with_logits(outputs["q_continue_logits"], outputs["target_q_continue"])
    return _lm(outputs["logits"], labels) + 0.5 * q


def loss_right_sigmoid_bce(outputs, labels):  # BCE on probabilities: the same loss, less stable
    target = _solved(outputs["logits"], labels)
    q = F.binary_cross_entropy(torch.sigmoid(outputs["q_halt_logits"]), target)
    if "target_q_continue" in outputs:
        q = q + F.binary_cross_entropy(torch.sigmoid(outputs["q_continue_logits"]), outputs["target_q_continue"])
    return _lm(outputs["logits"], labels) + 0.5 * q


def loss_softmax(outputs, labels):
    target = _solved(outputs["logits"], labels)
    q = F.binary_cross_entropy_with_logits(outputs["q_halt_logits"], target)
    if "target_q_continue" in outputs:
        q = q + F.binary_cross_entropy_with_logits(outputs["q_continue_logits"], outputs["target_q_continue"])
    return _lm(outputs["logits"], labels, softmax_cross_entropy) + 0.5 * q


def loss_token_mean(outputs, labels):  # one mean over all scored cells of the batch
    scored = labels != IGNORE_LABEL_ID
    lm = stablemax_cross_entropy(outputs["logits"], labels).sum() / scored.sum()
    return loss_right(outputs, labels) - _lm(outputs["logits"], labels) + lm


def loss_all_cells(outputs, labels):  # divides by every cell, ignored ones included
    lm = stablemax_cross_entropy(outputs["logits"], labels).mean(-1).mean()
    return loss_right(outputs, labels) - _lm(outputs["logits"], labels) + lm


def loss_full_weight(outputs, labels):  # lm + halt + continue
    return 2 * loss_right(outputs, labels) - _lm(outputs["logits"], labels)


def loss_lm_only(outputs, labels):
    return _lm(outputs["logits"], labels)


def loss_no_continue(outputs, labels):
    target = _solved(outputs["logits"], labels)
    return _lm(outputs["logits"], labels) + 0.5 * F.binary_cross_entropy_with_logits(outputs["q_halt_logits"], target)


def loss_always_continue(outputs, labels):  # assumes the target is always there
    q = F.binary_cross_entropy_with_logits(outputs["q_continue_logits"], outputs["target_q_continue"])
    return loss_no_continue(outputs, labels) + 0.5 * q


def loss_cell_halt_target(outputs, labels):
    scored = labels != IGNORE_LABEL_ID
    cells = ((outputs["logits"].argmax(-1) == labels) & scored).sum(-1) / scored.sum(-1).clamp_min(1)
    q = F.binary_cross_entropy_with_logits(outputs["q_halt_logits"], cells.float())
    if "target_q_continue" in outputs:
        q = q + F.binary_cross_entropy_with_logits(outputs["q_continue_logits"], outputs["target_q_continue"])
    return _lm(outputs["logits"], labels) + 0.5 * q


def loss_no_clamp(outputs, labels):  # a puzzle with no scored cell: 0 / 0
    scored = labels != IGNORE_LABEL_ID
    lm = (stablemax_cross_entropy(outputs["logits"], labels) / scored.sum(-1, keepdim=True)).sum(-1).mean()
    return loss_right(outputs, labels) - _lm(outputs["logits"], labels) + lm


def loss_continue_detached(outputs, labels):  # the continue value never learns
    return loss_right({**outputs, "q_continue_logits": outputs["q_continue_logits"].detach()}, labels)


def loss_labels_in_place(outputs, labels):  # fills the ignored labels with 0 in the caller's tensor
    scored = labels != IGNORE_LABEL_ID
    loss = loss_right(outputs, labels)
    labels[~scored] = 0
    return loss


def loss_unmasked_halt(outputs, labels):  # ignored cells spoil the halt target
    target = (outputs["logits"].argmax(-1) == labels).all(-1).float()
    q = F.binary_cross_entropy_with_logits(outputs["q_halt_logits"], target)
    if "target_q_continue" in outputs:
        q = q + F.binary_cross_entropy_with_logits(outputs["q_continue_logits"], outputs["target_q_continue"])
    return _lm(outputs["logits"], labels) + 0.5 * q


def loss_summed_bce(outputs, labels):
    target = _solved(outputs["logits"], labels)
    q = F.binary_cross_entropy_with_logits(outputs["q_halt_logits"], target, reduction="sum")
    if "target_q_continue" in outputs:
        q = q + F.binary_cross_entropy_with_logits(outputs["q_continue_logits"], outputs["target_q_continue"],
                                                   reduction="sum")
    return _lm(outputs["logits"], labels) + 0.5 * q


def loss_continue_full_weight(outputs, labels):  # lm + 0.5 halt + continue
    loss = loss_no_continue(outputs, labels)
    if "target_q_continue" in outputs:
        loss = loss + F.binary_cross_entropy_with_logits(outputs["q_continue_logits"], outputs["target_q_continue"])
    return loss


def loss_item(outputs, labels):  # a float, not a tensor to call backward on
    return loss_right(outputs, labels).item()


def loss_detached(outputs, labels):
    return loss_right({k: v.detach() for k, v in outputs.items()}, labels)


def loss_tuple(outputs, labels):  # returns (loss, metrics) like the package
    return loss_right(outputs, labels), {}


CASES = [
    (checks.check_halt_decision, halt_right,
     [halt_q_in_eval, halt_past_limit, halt_q_above_zero, halt_limit_only, halt_no_exploration,
      halt_inverted_exploration, halt_minimum_from_one, halt_minimum_below_limit, halt_draws_swapped, halt_float,
      halt_ties_halt, halt_config_limit, halt_no_limit_guard, halt_in_place, halt_minimum_for_all,
      halt_explorers_ignore_q]),
    (checks.check_halt_decision, halt_right_where, []),
    (checks.check_q_targets, targets_right,
     [targets_cell_fraction, targets_ignored_cells_count, targets_no_sigmoid, targets_ignore_last,
      targets_next_continue_only, targets_column, targets_probability, targets_in_place, targets_bool,
      targets_empty_row_wrong]),
    (checks.check_q_targets, targets_max_of_probabilities, []),
    (checks.check_act_loss, loss_right,
     [loss_softmax, loss_token_mean, loss_all_cells, loss_full_weight, loss_lm_only, loss_no_continue,
      loss_always_continue, loss_cell_halt_target, loss_item, loss_detached, loss_tuple, loss_no_clamp,
      loss_continue_detached, loss_labels_in_place, loss_unmasked_halt, loss_summed_bce, loss_continue_full_weight]),
    (checks.check_act_loss, loss_right_sigmoid_bce, []),
]

HINTS = [
    (checks.check_halt_decision, halt_q_in_eval, "at evaluation"),
    (checks.check_halt_decision, halt_past_limit, "steps >= limit"),
    (checks.check_halt_decision, halt_q_above_zero, "not Q_halt with 0"),
    (checks.check_halt_decision, halt_limit_only, "not only at the limit"),
    (checks.check_halt_decision, halt_no_exploration, "exploration is missing"),
    (checks.check_halt_decision, halt_inverted_exploration, "not 1 - p"),
    (checks.check_halt_decision, halt_minimum_from_one, "{2, ..., limit}"),
    (checks.check_halt_decision, halt_minimum_below_limit, "exclusive"),
    (checks.check_halt_decision, halt_draws_swapped, "torch.rand(B) first"),
    (checks.check_halt_decision, halt_float, "bool"),
    (checks.check_halt_decision, halt_ties_halt, "strictly"),
    (checks.check_halt_decision, halt_config_limit, "the limit you are given"),
    (checks.check_halt_decision, halt_no_limit_guard, "limit > 1"),
    (checks.check_halt_decision, halt_in_place, "in place"),
    (checks.check_halt_decision, halt_minimum_for_all, "only exploring slots"),
    (checks.check_halt_decision, halt_explorers_ignore_q, "may still halt by Q"),
    (checks.check_q_targets, targets_cell_fraction, "WHOLE answer"),
    (checks.check_q_targets, targets_ignored_cells_count, "IGNORE_LABEL_ID"),
    (checks.check_q_targets, targets_no_sigmoid, "sigmoid of the best"),
    (checks.check_q_targets, targets_ignore_last, "is_last"),
    (checks.check_q_targets, targets_next_continue_only, "BEST choice"),
    (checks.check_q_targets, targets_column, "shape"),
    (checks.check_q_targets, targets_probability, "argmax"),
    (checks.check_q_targets, targets_in_place, "in place"),
    (checks.check_q_targets, targets_bool, "float tensor"),
    (checks.check_q_targets, targets_empty_row_wrong, "no scored cell counts as right"),
    (checks.check_act_loss, loss_softmax, "stablemax"),
    (checks.check_act_loss, loss_token_mean, "ITS scored cells"),
    (checks.check_act_loss, loss_all_cells, "not by all cells"),
    (checks.check_act_loss, loss_full_weight, "one half"),
    (checks.check_act_loss, loss_lm_only, "learns from the loss too"),
    (checks.check_act_loss, loss_no_continue, "target_q_continue"),
    (checks.check_act_loss, loss_always_continue, "no continue loss"),
    (checks.check_act_loss, loss_cell_halt_target, "WHOLE answer"),
    (checks.check_act_loss, loss_item, "tensor"),
    (checks.check_act_loss, loss_detached, "no gradient"),
    (checks.check_act_loss, loss_tuple, "tensor"),
    (checks.check_act_loss, loss_no_clamp, "NaN"),
    (checks.check_act_loss, loss_continue_detached, "q_continue_logits"),
    (checks.check_act_loss, loss_labels_in_place, "in place"),
    (checks.check_act_loss, loss_unmasked_halt, "not scored"),
    (checks.check_act_loss, loss_summed_bce, "reduction"),
    (checks.check_act_loss, loss_continue_full_weight, "not lm + 0.5 halt + continue"),
]
