"""Lesson 05's checkers against a right answer and the plausible wrong answers a student writes.

Read by tests/test_checks.py: CASES holds (checker, a right answer, [plausible wrong answers]),
HINTS holds (checker, wrong answer, a phrase its hint must contain).
"""
from __future__ import annotations

import torch

from hrm_minimal import checks
from hrm_minimal.losses import act_loss
from hrm_minimal.model import InnerCarry


# --------------------------------------------------------------------------- 5.1 deep_supervision_step
def step_right(model, carry, batch, optimizer):
    carry, outputs = model(carry, batch)
    loss, _ = act_loss(outputs, carry.current_data["labels"], halted=carry.halted, steps=carry.steps)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return carry


def step_batch_labels(model, carry, batch, optimizer):  # labels of the new batch, not of the carry
    carry, outputs = model(carry, batch)
    loss, _ = act_loss(outputs, batch["labels"], halted=carry.halted, steps=carry.steps)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return carry


def step_no_zero_grad(model, carry, batch, optimizer):  # gradients pile up from step to step
    carry, outputs = model(carry, batch)
    loss, _ = act_loss(outputs, carry.current_data["labels"], halted=carry.halted, steps=carry.steps)
    loss.backward()
    optimizer.step()
    return carry


def step_old_carry(model, carry, batch, optimizer):  # hands back the carry it was given
    new, outputs = model(carry, batch)
    loss, _ = act_loss(outputs, new.current_data["labels"], halted=new.halted, steps=new.steps)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return carry


def step_fresh_carry(model, carry, batch, optimizer):  # restarts every puzzle each step
    carry, outputs = model(model.initial_carry(batch), batch)
    loss, _ = act_loss(outputs, carry.current_data["labels"], halted=carry.halted, steps=carry.steps)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return carry


def step_lm_only(model, carry, batch, optimizer):  # the Q head's losses left out
    carry, outputs = model(carry, batch)
    loss, _ = act_loss(outputs, carry.current_data["labels"], halted=carry.halted, steps=carry.steps,
                       q_loss_weight=0.0)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return carry


def step_no_optimizer_step(model, carry, batch, optimizer):  # backward, but no step
    carry, outputs = model(carry, batch)
    loss, _ = act_loss(outputs, carry.current_data["labels"], halted=carry.halted, steps=carry.steps)
    loss.backward()
    optimizer.zero_grad()
    return carry


def step_zero_grad_late(model, carry, batch, optimizer):  # clears the gradients before stepping
    carry, outputs = model(carry, batch)
    loss, _ = act_loss(outputs, carry.current_data["labels"], halted=carry.halted, steps=carry.steps)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return carry


def step_two_segments(model, carry, batch, optimizer):  # two segments per optimiser step
    carry, _ = model(carry, batch)
    carry, outputs = model(carry, batch)
    loss, _ = act_loss(outputs, carry.current_data["labels"], halted=carry.halted, steps=carry.steps)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return carry


# --------------------------------------------------------------------------- 5.2 refill
def _mask(halted, like):
    return halted.view(-1, *([1] * (like.ndim - 1)))


def refill_right(model, carry, batch):
    halted = carry.halted
    z_H = torch.where(_mask(halted, carry.inner_carry.z_H), model.inner.H_init, carry.inner_carry.z_H)
    z_L = torch.where(_mask(halted, carry.inner_carry.z_L), model.inner.L_init, carry.inner_carry.z_L)
    steps = torch.where(halted, torch.zeros_like(carry.steps), carry.steps)
    data = {k: torch.where(_mask(halted, v), batch[k], v) for k, v in carry.current_data.items()}
    return InnerCarry(z_H, z_L), steps, data


def refill_all(model, carry, batch):  # every slot restarts
    z = carry.inner_carry.z_H
    return (InnerCarry(model.inner.H_init.expand_as(z).clone(), model.inner.L_init.expand_as(z).clone()),
            torch.zeros_like(carry.steps), {k: batch[k].clone() for k in carry.current_data})


def refill_inverted(model, carry, batch):  # the slots that did NOT halt restart
    carry.halted = ~carry.halted
    try:
        return refill_right(model, carry, batch)
    finally:
        carry.halted = ~carry.halted


def refill_zeros(model, carry, batch):  # halted slots restart from zeros
    inner, steps, data = refill_right(model, carry, batch)
    m = _mask(carry.halted, inner.z_H)
    return InnerCarry(torch.where(m, 0.0, inner.z_H), torch.where(m, 0.0, inner.z_L)), steps, data


def refill_inits_swapped(model, carry, batch):  # z_H from L_init and z_L from H_init
    inner, steps, data = refill_right(model, carry, batch)
    m = _mask(carry.halted, inner.z_H)
    return (InnerCarry(torch.where(m, model.inner.L_init, inner.z_H), torch.where(m, model.inner.H_init, inner.z_L)),
            steps, data)


def refill_steps_kept(model, carry, batch):  # step counts never reset
    inner, _, data = refill_right(model, carry, batch)
    return inner, carry.steps.clone(), data


def refill_steps_all_zero(model, carry, batch):  # every count reset
    inner, _, data = refill_right(model, carry, batch)
    return inner, torch.zeros_like(carry.steps), data


def refill_all_rows(model, carry, batch):  # every slot takes the new row
    inner, steps, _ = refill_right(model, carry, batch)
    return inner, steps, {k: batch[k].clone() for k in carry.current_data}


def refill_in_place(model, carry, batch):  # writes into the carry's tensors
    m = carry.halted
    carry.inner_carry.z_H[m] = model.inner.H_init
    carry.inner_carry.z_L[m] = model.inner.L_init
    _, steps, data = refill_right(model, carry, batch)
    return carry.inner_carry, steps, data


CASES = [
    (checks.check_deep_supervision_step, step_right,
     [step_batch_labels, step_no_zero_grad, step_old_carry, step_fresh_carry, step_lm_only, step_no_optimizer_step,
      step_zero_grad_late, step_two_segments]),
    (checks.check_refill, refill_right,
     [refill_all, refill_inverted, refill_zeros, refill_inits_swapped, refill_steps_kept, refill_steps_all_zero,
      refill_all_rows, refill_in_place]),
]

HINTS = [
    (checks.check_deep_supervision_step, step_batch_labels, "carry.current_data['labels']"),
    (checks.check_deep_supervision_step, step_lm_only, "Q head"),
    (checks.check_deep_supervision_step, step_fresh_carry, "continue from the carry"),
    (checks.check_deep_supervision_step, step_no_optimizer_step, "optimiser step"),
    (checks.check_deep_supervision_step, step_no_zero_grad, "zero_grad"),
    (checks.check_refill, refill_all, "every slot's states were reset"),
    (checks.check_refill, refill_inverted, "inverted"),
    (checks.check_refill, refill_zeros, "not from zeros"),
    (checks.check_refill, refill_inits_swapped, "swapped"),
    (checks.check_refill, refill_steps_kept, "go back to 0"),
    (checks.check_refill, refill_all_rows, "dropped"),
    (checks.check_refill, refill_in_place, "in place"),
]
