"""The ablation variants: TRM-style segments, fixed segments, the named variants, TRM's parameter count."""
from __future__ import annotations

import pytest
import torch

from hrm_minimal.config import HRMConfig
from hrm_minimal.model import HRM, count_parameters
from hrm_minimal.presets import get_preset
from hrm_minimal.train import train_step
from hrm_minimal.variants import VARIANTS, variant_changes


def _config(**overrides) -> HRMConfig:
    base = dict(vocab_size=6, seq_len=8, hidden_size=16, num_heads=2, expansion=2.0, swiglu_multiple=8,
                H_layers=1, L_layers=1, H_cycles=2, L_cycles=2, halt_max_steps=3)
    return HRMConfig(**{**base, **overrides})


def _batch(B=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"inputs": torch.randint(1, 6, (B, 8), generator=g), "labels": torch.randint(2, 6, (B, 8), generator=g)}


def test_the_trm_preset_has_the_parameter_count_trm_reports_on_sudoku():
    assert count_parameters(HRM(get_preset("trm-paper", vocab_size=11, seq_len=81))) == 6_828_034


def test_a_trm_segment_is_one_network_with_gradient_through_its_whole_last_cycle():
    torch.manual_seed(0)
    model = HRM(_config(architecture="trm", H_cycles=3, L_cycles=2, act_continue=False))
    inner = model.inner
    assert inner.H_level is None
    calls = []  # (is the call under gradient, which state it updated)
    inner.L_level.register_forward_hook(lambda m, args, out: calls.append((torch.is_grad_enabled(), args[0].shape)))
    batch = _batch()
    carry, out = model(model.initial_carry(batch), batch)
    assert len(calls) == 3 * (2 + 1)  # H_cycles x (L_cycles latent steps + 1 answer step)
    assert [grad for grad, _ in calls] == [False] * 6 + [True] * 3  # the whole last cycle, and only it
    out["logits"].sum().backward()
    assert all(p.grad is not None for p in inner.L_level.parameters())


def test_a_trm_segment_computes_trms_recursion():
    torch.manual_seed(1)
    model = HRM(_config(architecture="trm", act_continue=False)).eval()
    inner, batch = model.inner, _batch()
    carry = model.initial_carry(batch)
    _, out = model(carry, batch)
    with torch.no_grad():  # by hand: y = z_H, z = z_L, one network
        x = inner.input_embeddings(batch["inputs"], torch.zeros(4, dtype=torch.long))
        start = inner.reset_carry(torch.ones(4, dtype=torch.bool), inner.empty_carry(4))
        y, z, cs = start.z_H, start.z_L, inner.rotary()
        for _ in range(2):
            for _ in range(2):
                z = inner.L_level(z, y + x, cs)
            y = inner.L_level(y, z, cs)
        assert torch.allclose(out["logits"], inner.lm_head(y)[:, inner.puzzle_emb_len:], atol=1e-6)


def test_fixed_halting_runs_every_puzzle_to_the_limit_and_leaves_the_q_head_untrained():
    torch.manual_seed(0)
    model = HRM(_config(halting="fixed", halt_exploration_prob=0.0)).train()
    with torch.no_grad():
        model.inner.q_head.bias.copy_(torch.tensor([5.0, -5.0]))  # the Q head says "halt" everywhere
    batch = _batch()
    carry = model.initial_carry(batch)
    for step in range(1, 4):
        carry, out = model(carry, batch)
        assert carry.halted.tolist() == [step == 3] * 4 and "target_q_continue" not in out
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = model.inner.q_head.bias.clone()
    train_step(model, model.initial_carry(batch), batch, opt)
    assert torch.equal(model.inner.q_head.bias, before), "no loss reaches the Q head"
    learned = HRM(_config(halt_exploration_prob=0.0)).train()
    with torch.no_grad():
        learned.inner.q_head.bias.copy_(torch.tensor([5.0, -5.0]))
    assert learned(learned.initial_carry(batch), batch)[0].halted.all()  # HRM's default halts by Q


def test_every_named_variant_builds_and_trains_a_step():
    for name in VARIANTS:
        overrides, changes = variant_changes(name)
        torch.manual_seed(0)
        model = HRM(_config(**overrides)).train()
        batch = _batch()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        _, metrics = train_step(model, model.initial_carry(batch), batch, opt)
        assert torch.isfinite(torch.tensor(metrics["loss"])), name
    assert variant_changes("hrm") == ({}, {}) and variant_changes("trm")[1] == {"ema": 0.999}
    with pytest.raises(ValueError, match="unknown variant 'deep'; variants: hrm, flat"):
        variant_changes("deep")


@pytest.mark.parametrize("field,value,message", [("architecture", "tiny", "'hrm', 'flat' or 'trm'"),
                                                 ("halting", "sometimes", "'learned' or 'fixed'")])
def test_bad_variant_settings_are_named(field, value, message):
    with pytest.raises(ValueError, match=message):
        _config(**{field: value})


def test_the_trm_model_is_traced_latent_steps_then_one_answer_step_per_cycle():
    from hrm_minimal.trace import trace_segments

    config = _config(architecture="trm", act_continue=False)
    trace = trace_segments(HRM(config), _batch(), 2)
    assert trace.kinds == (["L"] * config.L_cycles + ["H"]) * config.H_cycles * 2
