"""Optimisers and schedule: AdamATan2 and SignSGD against their formulas, lr_at."""
from __future__ import annotations

import math

import pytest
import torch

from hrm_minimal.config import HRMConfig
from hrm_minimal.layers import PuzzleEmbedding
from hrm_minimal.losses import act_loss
from hrm_minimal.model import HRM
from hrm_minimal.optim import AdamATan2, SignSGD, lr_at, set_lr


def test_adam_atan2_two_steps_match_the_formula():
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(5))
    lr, (b1, b2), wd, a, b = 0.1, (0.9, 0.95), 0.2, 1.3, 0.7
    opt = AdamATan2([p], lr=lr, betas=(b1, b2), weight_decay=wd, a=a, b=b)
    w, m, v = p.detach().clone(), torch.zeros(5), torch.zeros(5)
    for t in (1, 2):
        g = torch.randn(5)
        p.grad = g.clone()
        opt.step()
        w = w * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        w = w - lr * a * torch.atan2(m_hat, b * v_hat.sqrt())
        torch.testing.assert_close(p.detach(), w)


def test_adam_atan2_defaults_and_scale_invariance():
    opt = AdamATan2([torch.nn.Parameter(torch.zeros(1))], lr=0.0)  # lr 0 must be accepted (schedule sets it)
    group = opt.param_groups[0]
    assert group["betas"] == (0.9, 0.95) and group["a"] == 1.0 and group["b"] == 1.0
    # epsilon-free: scaling every gradient by 1e-8 gives the same first step
    steps = []
    for scale in (1.0, 1e-8):
        p = torch.nn.Parameter(torch.ones(3))
        o = AdamATan2([p], lr=0.1, weight_decay=0.0)
        p.grad = scale * torch.tensor([1.0, -2.0, 0.5])
        o.step()
        steps.append(p.detach().clone())
    torch.testing.assert_close(steps[0], steps[1])
    assert not torch.equal(steps[0], torch.ones(3))


def test_adam_atan2_with_lr_zero_leaves_parameters_and_rejects_bad_args():
    p = torch.nn.Parameter(torch.ones(3))
    opt = AdamATan2([p], lr=0.0, weight_decay=1.0)
    p.grad = torch.ones(3)
    opt.step()
    assert torch.equal(p.detach(), torch.ones(3))
    with pytest.raises(ValueError, match="lr"):
        AdamATan2([p], lr=-1.0)
    with pytest.raises(ValueError, match="betas"):
        AdamATan2([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="weight_decay"):
        AdamATan2([p], weight_decay=-0.1)


def test_sign_sgd_matches_formula_and_sums_duplicate_ids():
    emb = PuzzleEmbedding(4, 3).train()
    with torch.no_grad():
        emb.weights.copy_(torch.arange(12.0).view(4, 3))
    before = emb.weights.clone()
    ids = torch.tensor([1, 3, 1])
    out = emb(ids)
    # grads: row 1 gets (+2, -1, 0.5) + (-3, -1, -0.5) = (-1, -2, 0); row 3 gets (1, 0, -4)
    (out * torch.tensor([[2.0, -1.0, 0.5], [1.0, 0.0, -4.0], [-3.0, -1.0, -0.5]])).sum().backward()
    lr, wd = 0.1, 0.5
    opt = SignSGD(emb, lr=lr, weight_decay=wd)
    opt.step()
    expected = before.clone()
    expected[1] = before[1] * (1 - lr * wd) - lr * torch.tensor([-1.0, -1.0, 0.0])
    expected[3] = before[3] * (1 - lr * wd) - lr * torch.tensor([1.0, 0.0, -1.0])
    torch.testing.assert_close(emb.weights, expected)  # rows 0 and 2 (unseen) untouched
    opt.zero_grad()
    assert emb.local_weights.grad is None
    opt.step()  # no gradient: no change
    torch.testing.assert_close(emb.weights, expected)


def test_sign_sgd_trains_the_model_puzzle_embedding():
    torch.manual_seed(0)
    cfg = HRMConfig(vocab_size=5, seq_len=4, hidden_size=16, num_heads=2, expansion=1.0, H_layers=1,
                    L_layers=1, H_cycles=1, L_cycles=2, halt_max_steps=2, num_puzzle_identifiers=3)
    model = HRM(cfg).train()
    opt = SignSGD(model, lr=0.01, weight_decay=0.0)
    assert not any(t is model.puzzle_emb.weights for t in model.parameters())
    batch = {"inputs": torch.randint(0, 5, (4, 4)), "labels": torch.randint(0, 5, (4, 4)),
             "puzzle_identifiers": torch.tensor([0, 2, 2, 0])}
    carry, out = model(model.initial_carry(batch), batch)
    loss, _ = act_loss(out, carry.current_data["labels"], carry.halted, carry.steps)
    loss.backward()
    opt.step()
    w = model.puzzle_emb.weights
    assert w[0].abs().sum() > 0 and w[2].abs().sum() > 0 and w[1].abs().sum() == 0
    torch.testing.assert_close(w[0].abs(), torch.full((16,), 0.01))  # one sign step of lr from zero


def test_sign_sgd_needs_a_puzzle_embedding():
    cfg = HRMConfig(vocab_size=5, seq_len=4, hidden_size=16, num_heads=2, puzzle_emb_ndim=0)
    with pytest.raises(TypeError, match="PuzzleEmbedding"):
        SignSGD(HRM(cfg))
    with pytest.raises(ValueError, match="lr"):
        SignSGD(PuzzleEmbedding(1, 2), lr=-1.0)


def test_lr_schedule():
    # warmup: linear from 0
    assert lr_at(0, 1e-3, 10, 100) == 0.0
    assert lr_at(5, 1e-3, 10, 100) == pytest.approx(5e-4)
    # min_ratio 1.0 (the reference default): constant after warmup
    assert lr_at(10, 1e-3, 10, 100) == pytest.approx(1e-3)
    assert lr_at(99, 1e-3, 10, 100) == pytest.approx(1e-3)
    # cosine to min_ratio * base
    assert lr_at(10, 1.0, 10, 110, min_ratio=0.1) == pytest.approx(1.0)
    assert lr_at(60, 1.0, 10, 110, min_ratio=0.1) == pytest.approx(0.55)
    assert lr_at(110, 1.0, 10, 110, min_ratio=0.1) == pytest.approx(0.1)
    assert lr_at(500, 1.0, 10, 110, min_ratio=0.0) == pytest.approx(0.0)  # stays at the floor
    assert lr_at(35, 1.0, 10, 110, min_ratio=0.0) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert lr_at(3, 1.0, 0, 10) == 1.0  # no warmup
    with pytest.raises(ValueError, match="min_ratio"):
        lr_at(1, 1.0, 0, 10, min_ratio=2.0)
    with pytest.raises(ValueError, match="step"):
        lr_at(-1, 1.0, 0, 10)


def test_set_lr():
    opt = AdamATan2([torch.nn.Parameter(torch.ones(1))], lr=0.0)
    set_lr(opt, 0.25)
    assert opt.param_groups[0]["lr"] == 0.25
