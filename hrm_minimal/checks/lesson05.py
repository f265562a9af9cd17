"""Checkers of lesson 05 (deep supervision): one training step over a streaming batch, the refill.

Both build small random HRMs of the package and compare with `hrm_minimal.train.train_step` and
`hrm_minimal.model.HRM.refill` on the same weights, batches and random draws.
"""
from __future__ import annotations

import copy
from typing import Callable

import numpy as np
import torch

from hrm_minimal.config import HRMConfig
from hrm_minimal.losses import act_loss
from hrm_minimal.model import HRM, ACTCarry, InnerCarry
from hrm_minimal.train import train_step

from .core import Mismatch, run_check

__all__ = ["check_deep_supervision_step", "check_refill"]


def _model(rng: np.random.Generator) -> HRM:
    torch.manual_seed(int(rng.integers(2**31)))
    cfg = HRMConfig(vocab_size=6, seq_len=int(rng.integers(4, 9)), hidden_size=16, num_heads=2, expansion=2.0,
                    swiglu_multiple=8, H_layers=1, L_layers=1, H_cycles=int(rng.integers(1, 3)),
                    L_cycles=int(rng.integers(1, 3)), halt_max_steps=int(rng.integers(2, 5)),
                    halt_exploration_prob=float(rng.choice([0.0, 0.5])))
    model = HRM(cfg).train()
    with torch.no_grad():  # a Q head that already says something, so that slots halt at different steps
        model.inner.q_head.weight.normal_(0, 0.3)
        model.inner.q_head.bias.zero_()
    return model


def _batches(model: HRM, rng: np.random.Generator, n: int) -> list[dict]:
    cfg, B = model.config, int(rng.integers(3, 7))
    return [{"inputs": torch.from_numpy(rng.integers(1, cfg.vocab_size, size=(B, cfg.seq_len))),
             "labels": torch.from_numpy(rng.integers(2, cfg.vocab_size, size=(B, cfg.seq_len))),
             "puzzle_identifiers": torch.zeros(B, dtype=torch.long)} for _ in range(n)]


def _same_weights(a: HRM, b: HRM) -> bool:
    return all(torch.allclose(p, q, rtol=1e-5, atol=1e-6) for p, q in zip(a.parameters(), b.parameters()))


# --------------------------------------------------------------------------- 5.1 one training step


def _reference_step(model: HRM, carry: ACTCarry, batch: dict, optimizer: torch.optim.Optimizer) -> ACTCarry:
    """One step of deep supervision (the package's train_step): returns the new carry."""
    return train_step(model, carry, batch, optimizer)[0]


def check_deep_supervision_step(fn: Callable) -> Callable:
    """Exercise 5.1: deep_supervision_step(model, carry, batch, optimizer) -> the new carry."""

    def trial(student: Callable, rng: np.random.Generator) -> None:
        model = _model(rng)
        ref = copy.deepcopy(model)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
        ref_opt = torch.optim.AdamW(ref.parameters(), lr=1e-2)
        batches = _batches(model, rng, 3)
        carry, ref_carry = model.initial_carry(batches[0]), ref.initial_carry(batches[0])
        for step, batch in enumerate(batches):
            seed = int(rng.integers(2**31))
            before = copy.deepcopy(ref), copy.deepcopy(ref_opt.state_dict()), ref_carry
            torch.manual_seed(seed)  # the same exploration draws on both sides
            ref_carry = _reference_step(ref, ref_carry, batch, ref_opt)
            torch.manual_seed(seed)
            got = student(model, carry, batch, opt)
            if not isinstance(got, ACTCarry):
                raise Mismatch(f"deep_supervision_step should return the new carry (an ACTCarry), got "
                               f"{type(got).__name__}")
            if _same_weights(model, ref) and torch.equal(got.steps, ref_carry.steps):
                carry = got
                continue
            if _same_weights(model, before[0]):
                raise Mismatch("the weights did not change: after backward, take an optimiser step")
            raise Mismatch(_diagnose(model, before, batch, carry, seed, step))

    return run_check("5.1", fn, _reference_step, trial, trials=6)


def _diagnose(model: HRM, before, batch: dict, carry: ACTCarry, seed: int, step: int) -> str:
    """Name the mistake that reproduces the student's weights, trying the usual ones from `before`."""
    ref, opt_state, ref_carry = before

    def attempt(use_carry, labels_from_batch=False, q_loss=True):
        m = copy.deepcopy(ref)
        o = torch.optim.AdamW(m.parameters(), lr=1e-2)
        o.load_state_dict(copy.deepcopy(opt_state))
        torch.manual_seed(seed)
        new, out = m(use_carry(m), batch)
        labels = batch["labels"] if labels_from_batch else new.current_data["labels"]
        loss, _ = act_loss(out, labels, halted=new.halted, steps=new.steps, q_loss_weight=0.5 if q_loss else 0.0)
        loss.backward()
        o.step()
        return m

    mistakes = {
        "the loss must use the labels of the puzzles in the carry (carry.current_data['labels']): slots "
        "that have not halted still work on their earlier puzzle": attempt(lambda m: ref_carry, labels_from_batch=True),
        "the loss is act_loss's lm + 0.5 (halt + continue): the Q head learns from it too":
            attempt(lambda m: ref_carry, q_loss=False),
    }
    if step > 0:
        mistakes["each step must continue from the carry the last step returned (deep supervision carries "
                 "the states over), not start afresh"] = attempt(lambda m: m.initial_carry(batch))
    for hint, wrong in mistakes.items():
        if _same_weights(model, wrong):
            return hint
    if step > 0:
        return ("the first step was right but a later one was not: clear the gradients after each optimiser "
                "step (optimizer.zero_grad()) and return the new carry for the next step")
    return "the weights after one step differ from the package's train_step"


# --------------------------------------------------------------------------- 5.2 the refill


def _reference_refill(model: HRM, carry: ACTCarry, batch: dict):
    """HRM.refill: (InnerCarry, steps, data)."""
    return model.refill(carry, batch)


def check_refill(fn: Callable) -> Callable:
    """Exercise 5.2: refill(model, carry, batch) -> (InnerCarry, steps, data) as HRM.refill."""

    def trial(student: Callable, rng: np.random.Generator) -> None:
        model = _model(rng)
        first, second = _batches(model, rng, 2)
        with torch.no_grad():
            carry, _ = model(model.initial_carry(first), first)  # every slot busy with `first`
            carry.steps = torch.from_numpy(rng.integers(1, 4, size=carry.steps.shape)).to(torch.int32)
            halted = torch.from_numpy(rng.random(carry.halted.shape) < 0.5)
            halted[0], halted[-1] = True, False  # both kinds of slot in every trial
            carry.halted = halted
            want_inner, want_steps, want_data = model.refill(carry, second)
            kept = copy.deepcopy(carry)
            got = student(model, carry, second)
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            raise Mismatch("refill should return a tuple (InnerCarry, steps, data)")
        inner, steps, data = got
        for name in ("z_H", "z_L"):
            if not torch.equal(getattr(carry.inner_carry, name), getattr(kept.inner_carry, name)):
                raise Mismatch("refill changed the carry's states in place: build new tensors (torch.where)")
        if not isinstance(inner, InnerCarry):
            raise Mismatch(f"the first item should be an InnerCarry(z_H, z_L), got {type(inner).__name__}")
        init_H, init_L = model.inner.H_init, model.inner.L_init
        zH, zL = inner.z_H.detach(), inner.z_L.detach()
        if zH.shape != want_inner.z_H.shape:
            raise Mismatch(f"z_H has shape {tuple(zH.shape)}, expected {tuple(want_inner.z_H.shape)}")
        if not (torch.equal(zH, want_inner.z_H) and torch.equal(zL, want_inner.z_L)):
            old_H = carry.inner_carry.z_H
            if torch.equal(zH, init_H.expand_as(zH)):
                raise Mismatch("every slot's states were reset: only the slots that halted restart")
            if torch.equal(zH, old_H):
                raise Mismatch("no slot's states were reset: the halted slots restart from H_init and L_init")
            if torch.equal(zH[~halted], init_H.expand_as(zH)[~halted]) and torch.equal(zH[halted], old_H[halted]):
                raise Mismatch("the mask is inverted: the slots that HALTED restart, the others carry on")
            if torch.equal(zH[halted], torch.zeros_like(zH[halted])):
                raise Mismatch("halted slots restart from the fixed vectors H_init and L_init, not from zeros")
            if torch.equal(zH[halted], init_L.expand_as(zH)[halted]):
                raise Mismatch("z_H restarts from H_init and z_L from L_init (they are swapped)")
            raise Mismatch("the states differ from HRM.refill's")
        if not torch.is_tensor(steps) or not torch.equal(steps.to(want_steps.dtype), want_steps):
            if torch.is_tensor(steps) and torch.equal(steps.to(want_steps.dtype), carry.steps):
                raise Mismatch("the step counts of halted slots go back to 0")
            if torch.is_tensor(steps) and not bool(steps.any()):
                raise Mismatch("only the halted slots' step counts go back to 0; the others keep counting")
            raise Mismatch("the step counts differ from HRM.refill's")
        if not isinstance(data, dict) or set(data) != set(want_data):
            raise Mismatch(f"data should be a dict with the carry's keys {sorted(want_data)}")
        for key, want in want_data.items():
            if not torch.equal(data[key], want):
                if torch.equal(data[key], second[key]):
                    raise Mismatch(f"data[{key!r}]: every slot took the new batch's row; a slot that has not "
                                   "halted keeps its puzzle (its new row is dropped)")
                raise Mismatch(f"data[{key!r}] differs: halted slots take the new batch's row, others keep theirs")

    return run_check("5.2", fn, _reference_refill, trial, trials=10)
