"""End to end: the HRM with its ACT wrapper, AdamATan2 and SignSGD learns a toy task on CPU."""
from __future__ import annotations

import pytest
import torch

from hrm_minimal.baseline import TransformerBaseline
from hrm_minimal.config import HRMConfig
from hrm_minimal.losses import act_loss, softmax_cross_entropy
from hrm_minimal.model import HRM
from hrm_minimal.optim import AdamATan2, SignSGD, lr_at, set_lr

V, S = 8, 8


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run fastest on one thread, and stay fast when other processes share the CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def rotate_batch(batch_size: int, gen: torch.Generator) -> dict:
    """Toy task: output the input rotated left by one (needs attention across positions)."""
    x = torch.randint(1, V, (batch_size, S), generator=gen)
    return {"inputs": x, "labels": torch.roll(x, -1, dims=1)}


@pytest.mark.slow
def test_hrm_learns_rotation_with_deep_supervision():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    cfg = HRMConfig(vocab_size=V, seq_len=S, hidden_size=32, num_heads=2, expansion=2.0, H_layers=1,
                    L_layers=1, H_cycles=2, L_cycles=1, halt_max_steps=2)
    model = HRM(cfg).train()
    opt, sign_opt = AdamATan2(model.parameters(), lr=0.0, weight_decay=0.0), SignSGD(model, lr=0.0)
    carry = model.initial_carry(rotate_batch(64, gen))
    steps, losses = 120, []
    for step in range(steps):
        lr = lr_at(step, 3e-3, warmup_steps=20, total_steps=steps)
        set_lr(opt, lr)
        set_lr(sign_opt, 0.1 * lr)
        carry, out = model(carry, rotate_batch(64, gen))
        loss, metrics = act_loss(out, carry.current_data["labels"], carry.halted, carry.steps)
        loss.backward()
        opt.step()
        sign_opt.step()
        opt.zero_grad()
        sign_opt.zero_grad()
        losses.append(metrics["lm_loss"])
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < first / 3, f"lm loss fell only from {first:.3f} to {last:.3f}"
    assert metrics["accuracy_all"] > 0.8
    assert model.puzzle_emb.weights.abs().sum() > 0  # the prefix token was trained

    model.eval()
    test = rotate_batch(128, torch.Generator().manual_seed(1))
    carry = model.initial_carry(test)
    with torch.no_grad():
        while True:
            carry, out = model(carry, test)
            if carry.halted.all():
                break
    acc = (out["logits"].argmax(-1) == test["labels"]).float().mean().item()
    assert acc > 0.8 and carry.steps.tolist() == [2] * 128


def test_baseline_fits_a_fixed_batch():
    torch.manual_seed(0)
    base = TransformerBaseline(vocab_size=V, seq_len=S, hidden_size=32, num_heads=2, num_layers=1)
    batch = rotate_batch(16, torch.Generator().manual_seed(0))
    opt = AdamATan2(base.parameters(), lr=3e-3, weight_decay=0.0)
    first = None
    for _ in range(40):
        loss = softmax_cross_entropy(base(batch["inputs"]), batch["labels"]).mean()
        first = loss.item() if first is None else first
        loss.backward()
        opt.step()
        opt.zero_grad()
    assert loss.item() < first / 2
