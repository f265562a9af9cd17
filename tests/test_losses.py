"""Losses: stablemax / softmax cross-entropy, normalisation, Q terms, metrics over halted sequences."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from hrm_minimal.losses import (IGNORE_LABEL_ID, _wide_float, act_loss, log_stablemax,
                                softmax_cross_entropy, stablemax_cross_entropy)


def s(x: float) -> float:
    return x + 1 if x >= 0 else 1 / (1 - x)


def test_stablemax_matches_its_formula():
    logits = torch.tensor([[[2.0, -1.0, 0.0, -3.5]], [[-0.5, 0.25, 4.0, -2.0]]])  # (2, 1, 4)
    labels = torch.tensor([[0], [3]])
    got = stablemax_cross_entropy(logits, labels)
    assert got.shape == (2, 1) and got.dtype == torch.float64
    for b in range(2):
        row = logits[b, 0].tolist()
        p = s(row[labels[b, 0]]) / sum(s(v) for v in row)
        assert got[b, 0].item() == pytest.approx(-math.log(p), rel=1e-12)
    probs = log_stablemax(logits.double()).exp()
    torch.testing.assert_close(probs.sum(-1), torch.ones(2, 1, dtype=torch.float64))


def test_softmax_matches_torch_and_ignore_gives_zero():
    torch.manual_seed(0)
    logits = torch.randn(3, 5, 7)
    labels = torch.randint(0, 7, (3, 5))
    labels[1, 2] = IGNORE_LABEL_ID
    got = softmax_cross_entropy(logits, labels)
    ref = F.cross_entropy(logits.transpose(1, 2), labels, reduction="none", ignore_index=IGNORE_LABEL_ID)
    torch.testing.assert_close(got, ref)
    assert got[1, 2] == 0 and stablemax_cross_entropy(logits, labels)[1, 2] == 0


def test_stablemax_gradients_are_finite_for_extreme_logits():
    logits = torch.tensor([[[-1e4, 1e4, 0.0]]], requires_grad=True)
    stablemax_cross_entropy(logits, torch.tensor([[0]])).sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_mps_falls_back_to_float32():
    assert _wide_float(torch.device("mps")) == torch.float32
    assert _wide_float(torch.device("cpu")) == torch.float64


def make_outputs(logits, q_halt=None, q_cont=None, target=None):
    B = logits.shape[0]
    out = {"logits": logits, "q_halt_logits": torch.zeros(B) if q_halt is None else q_halt,
           "q_continue_logits": torch.zeros(B) if q_cont is None else q_cont}
    if target is not None:
        out["target_q_continue"] = target
    return out


@pytest.mark.parametrize("loss_type", ["softmax", "stablemax"])
def test_lm_loss_is_per_sequence_mean_then_batch_mean(loss_type):
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 3)
    labels = torch.tensor([[0, 1, 2, 1], [2, IGNORE_LABEL_ID, IGNORE_LABEL_ID, IGNORE_LABEL_ID]])
    ce = (softmax_cross_entropy if loss_type == "softmax" else stablemax_cross_entropy)(logits, labels)
    expected = 0.5 * (ce[0].sum() / 4 + ce[1, 0])  # the 1-token sequence weighs as much as the 4-token one
    _, m = act_loss(make_outputs(logits), labels, loss_type=loss_type)
    assert m["lm_loss"] == pytest.approx(expected.item(), rel=1e-6)
    assert m["lm_loss"] != pytest.approx((ce.sum() / 5).item(), rel=1e-3)  # not a flat token mean


def test_total_loss_composition_and_q_targets():
    logits = torch.tensor([[[5.0, 0.0], [0.0, 5.0]],    # predicts [0, 1]: correct
                           [[5.0, 0.0], [5.0, 0.0]]])   # predicts [0, 0]: wrong
    labels = torch.tensor([[0, 1], [0, 1]])
    q_halt, q_cont = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 0.3])
    target = torch.tensor([0.9, 0.2])
    loss, m = act_loss(make_outputs(logits, q_halt, q_cont, target), labels, loss_type="softmax")
    halt_ref = F.binary_cross_entropy_with_logits(q_halt, torch.tensor([1.0, 0.0]))  # halt target = correct?
    cont_ref = F.binary_cross_entropy_with_logits(q_cont, target)
    assert m["q_halt_loss"] == pytest.approx(halt_ref.item(), rel=1e-6)
    assert m["q_continue_loss"] == pytest.approx(cont_ref.item(), rel=1e-6)
    assert loss.item() == pytest.approx(m["lm_loss"] + 0.5 * (halt_ref + cont_ref).item(), rel=1e-6)
    assert loss.dtype == torch.float32
    # without a target (eval) the continue term is zero
    loss2, m2 = act_loss(make_outputs(logits, q_halt, q_cont), labels, loss_type="softmax")
    assert m2["q_continue_loss"] == 0.0
    assert loss2.item() == pytest.approx(m["lm_loss"] + 0.5 * halt_ref.item(), rel=1e-6)


def test_loss_backpropagates_to_logits_and_q():
    logits = torch.randn(2, 3, 4, requires_grad=True)
    qh, qc = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    loss, _ = act_loss(make_outputs(logits, qh, qc, torch.tensor([0.3, 0.7])), torch.randint(0, 4, (2, 3)))
    loss.backward()
    assert logits.grad.abs().sum() > 0 and qh.grad.abs().sum() > 0 and qc.grad.abs().sum() > 0


def test_metrics_are_over_halted_sequences():
    logits = torch.tensor([[[5.0, 0.0], [0.0, 5.0]],    # fully correct
                           [[5.0, 0.0], [5.0, 0.0]],    # half correct
                           [[0.0, 5.0], [5.0, 0.0]]])   # all wrong
    labels = torch.tensor([[0, 1], [0, 1], [0, 1]])
    q_halt = torch.tensor([2.0, 2.0, -1.0])  # predicts correct, correct, wrong
    halted = torch.tensor([True, True, False])
    steps = torch.tensor([3, 5, 1], dtype=torch.int32)
    _, m = act_loss(make_outputs(logits, q_halt), labels, halted=halted, steps=steps, loss_type="softmax")
    assert m["count"] == 2
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["exact_accuracy"] == pytest.approx(0.5)
    assert m["q_halt_accuracy"] == pytest.approx(0.5)
    assert m["steps"] == pytest.approx(4.0)
    assert m["count_all"] == 3
    assert m["accuracy_all"] == pytest.approx(0.5)
    assert m["exact_accuracy_all"] == pytest.approx(1 / 3)
    assert all(isinstance(v, float) for v in m.values())
    _, none = act_loss(make_outputs(logits, q_halt), labels, halted=torch.zeros(3, dtype=torch.bool))
    assert none["count"] == 0 and none["accuracy"] == 0.0


def test_bad_arguments():
    logits, labels = torch.randn(2, 3, 4), torch.randint(0, 4, (2, 3))
    with pytest.raises(ValueError, match="loss_type"):
        act_loss(make_outputs(logits), labels, loss_type="hinge")
    with pytest.raises(ValueError, match="disagree"):
        act_loss(make_outputs(logits), labels[:, :2])
    with pytest.raises(ValueError, match="q_halt_logits"):
        act_loss({"logits": logits}, labels)
    with pytest.raises(TypeError, match="integer"):
        stablemax_cross_entropy(logits, labels.float())
    _, m = act_loss(make_outputs(logits), labels, loss_type="stablemax_cross_entropy")  # reference name
    assert m["lm_loss"] > 0
