"""Unit tests of hrm_minimal.model / config / baseline: shapes, init, the gradient window, the carry."""
from __future__ import annotations

import io
import math

import pytest
import torch
from torch import nn

from hrm_minimal.baseline import TransformerBaseline
from hrm_minimal.config import HRMConfig
from hrm_minimal.model import HRM, ACTCarry, HRMInner, InnerCarry, count_parameters


def tiny_config(**overrides) -> HRMConfig:
    base = dict(vocab_size=7, seq_len=6, hidden_size=16, num_heads=2, expansion=2.0, H_layers=1,
                L_layers=1, H_cycles=2, L_cycles=3, halt_max_steps=3)
    return HRMConfig(**{**base, **overrides})


def make_batch(cfg: HRMConfig, batch_size: int = 3, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"inputs": torch.randint(0, cfg.vocab_size, (batch_size, cfg.seq_len), generator=g),
            "labels": torch.randint(0, cfg.vocab_size, (batch_size, cfg.seq_len), generator=g),
            "puzzle_identifiers": torch.zeros(batch_size, dtype=torch.long)}


# ---------------------------------------------------------------------------------------- shapes/init
def test_forward_shapes_and_carry_types():
    torch.manual_seed(0)
    cfg = tiny_config()
    model = HRM(cfg).train()
    batch = make_batch(cfg, 4)
    carry = model.initial_carry(batch)
    assert carry.halted.all() and carry.steps.dtype == torch.int32
    carry, out = model(carry, batch)
    assert out["logits"].shape == (4, 6, 7)
    assert out["q_halt_logits"].shape == (4,) and out["q_continue_logits"].shape == (4,)
    assert out["target_q_continue"].shape == (4,)
    assert out["q_halt_logits"].dtype == torch.float32
    assert isinstance(carry, ACTCarry) and isinstance(carry.inner_carry, InnerCarry)
    assert carry.inner_carry.z_H.shape == (4, 1 + 6, 16)  # 1 puzzle-prefix token
    assert carry.inner_carry.z_L.shape == (4, 1 + 6, 16)
    assert carry.steps.tolist() == [1, 1, 1, 1] and carry.steps.dtype == torch.int32
    assert torch.equal(carry.current_data["inputs"], batch["inputs"])


def test_missing_puzzle_identifiers_default_to_zero_and_prefix_can_be_disabled():
    torch.manual_seed(0)
    cfg = tiny_config(puzzle_emb_ndim=0)
    model = HRM(cfg)
    batch = {"inputs": torch.randint(0, 7, (2, 6)), "labels": torch.randint(0, 7, (2, 6))}
    carry = model.initial_carry(batch)
    assert carry.current_data["puzzle_identifiers"].tolist() == [0, 0]
    carry, out = model(carry, batch)
    assert model.puzzle_emb is None
    assert carry.inner_carry.z_H.shape == (2, 6, 16) and out["logits"].shape == (2, 6, 7)


def test_no_bias_except_q_head_and_q_head_init():
    model = HRM(tiny_config())
    linears = {name: m for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    with_bias = sorted(name for name, m in linears.items() if m.bias is not None)
    assert with_bias == ["inner.q_head"]
    q = model.inner.q_head
    assert q.weight.shape == (2, 16) and q.weight.abs().sum() == 0
    assert q.bias.tolist() == [-5.0, -5.0]
    norms = [m for m in model.modules() if "Norm" in type(m).__name__]
    assert norms and all(len(list(m.parameters())) == 0 for m in norms)


def test_init_buffers_and_embedding_scale():
    torch.manual_seed(0)
    cfg = tiny_config(hidden_size=256, num_heads=4, expansion=1.0)
    inner = HRMInner(cfg)
    buffers = dict(inner.named_buffers())
    params = dict(inner.named_parameters())
    for name in ("H_init", "L_init"):
        assert name in buffers and name not in params and name in inner.state_dict()
        assert buffers[name].shape == (256,)
        assert abs(buffers[name].std().item() - 1) < 0.15  # fixed std-1 truncated normal
    assert not torch.allclose(inner.H_init, inner.L_init)
    # puzzle embedding: zero buffer, outside parameters()
    assert "puzzle_emb.weights" in buffers and not any("puzzle" in n for n in params)
    assert inner.puzzle_emb.weights.shape == (1, 256) and inner.puzzle_emb.weights.abs().sum() == 0
    # token embedding std 1/sqrt(D), scaled by sqrt(D) on use -> unit scale per element
    w = inner.embed_tokens.weight
    assert abs(w.std().item() * math.sqrt(256) - 1) < 0.1
    x = inner.input_embeddings(torch.tensor([[1, 2, 3, 4, 5, 6]]), torch.tensor([0]))
    assert x.shape == (1, 7, 256)
    torch.testing.assert_close(x[0, 1], math.sqrt(256) * w[1])
    assert x[0, 0].abs().sum() == 0  # the zero puzzle prefix


def test_puzzle_prefix_length_is_ceil_of_ndim_over_hidden():
    cfg = tiny_config(puzzle_emb_ndim=40)  # hidden 16 -> 3 prefix tokens, last one zero-padded
    model = HRM(cfg)
    batch = make_batch(cfg, 2)
    carry, out = model(model.initial_carry(batch), batch)
    assert cfg.puzzle_emb_len == 3 and carry.inner_carry.z_H.shape == (2, 9, 16)
    assert out["logits"].shape == (2, 6, 7)


def test_paper_parameter_counts():
    with torch.device("meta"):  # count only, no memory, no compute
        sudoku = HRM(HRMConfig(vocab_size=11, seq_len=81))
        maze = HRM(HRMConfig(vocab_size=6, seq_len=900))
    assert count_parameters(sudoku) == 27_275_266
    assert count_parameters(maze) == 27_270_146


def test_seeded_runs_are_identical():
    outs = []
    for _ in range(2):
        torch.manual_seed(3)
        cfg = tiny_config(halt_exploration_prob=0.5)
        model = HRM(cfg).train()
        batch = make_batch(cfg, 8)
        carry = model.initial_carry(batch)
        for _ in range(3):
            carry, out = model(carry, batch)
        outs.append((out["logits"], carry.halted, carry.steps))
    for a, b in zip(*outs):
        assert torch.equal(a, b)


# ---------------------------------------------------------------------------------------- gradient window
def _record_calls(model: HRM):
    """Hook L_level / H_level; record (name, grad enabled, hidden input, injection input) per call."""
    calls = []
    hooks = [mod.register_forward_pre_hook(
        lambda m, args, name=name: calls.append((name, torch.is_grad_enabled(), args[0], args[1])))
        for name, mod in (("L", model.inner.L_level), ("H", model.inner.H_level))]
    return calls, hooks


def test_one_step_gradient_window():
    torch.manual_seed(0)
    cfg = tiny_config(H_cycles=2, L_cycles=3)
    model = HRM(cfg).train()
    batch = make_batch(cfg)
    calls, hooks = _record_calls(model)
    model(model.initial_carry(batch), batch)
    for h in hooks:
        h.remove()
    seen = [(name, grad) for name, grad, _, _ in calls]
    segment = [("L", False)] * 3 + [("H", False)] + [("L", False)] * 2 + [("L", True), ("H", True)]
    q_target_pass = [("L", False)] * 3 + [("H", False)] + [("L", False)] * 3 + [("H", False)]
    assert seen == segment + q_target_pass  # exactly one L call and one H call with gradient


def test_full_backprop_option_runs_every_call_with_grad():
    torch.manual_seed(0)
    cfg = tiny_config(H_cycles=2, L_cycles=3, one_step_grad=False)
    model = HRM(cfg).eval()  # eval: no extra Q-target pass
    batch = make_batch(cfg)
    calls, hooks = _record_calls(model)
    carry, out = model(model.initial_carry(batch), batch)
    assert len(calls) == 6 + 2 and all(grad for _, grad, _, _ in calls)
    assert carry.inner_carry.z_H.grad_fn is None and not carry.inner_carry.z_L.requires_grad


def test_one_step_gradients_equal_those_of_the_final_l_and_h_step_alone():
    torch.manual_seed(0)
    cfg = tiny_config(H_cycles=2, L_cycles=2)
    model = HRM(cfg).eval()
    model.inner.q_head.weight.data.normal_()  # let the Q head carry gradient too
    inner = model.inner
    batch = model._prepare_batch(make_batch(cfg))
    start = inner.reset_carry(torch.ones(3, dtype=torch.bool), inner.empty_carry(3))
    weights = torch.randn(3, 6, 7)

    def objective(logits, q_halt, q_cont):
        return (weights * logits).sum() + q_halt.sum() - 2 * q_cont.sum()

    calls, hooks = _record_calls(model)
    _, logits, (qh, qc) = inner(start, batch)
    for h in hooks:
        h.remove()
    objective(logits, qh, qc).backward()
    grads = {n: p.grad.clone() for n, p in inner.named_parameters()}
    inner.zero_grad()

    (_, _, zL_in, _), (_, _, zH_in, _) = calls[-2], calls[-1]  # inputs of the final L and H calls
    assert not zL_in.requires_grad and not zH_in.requires_grad  # produced under no_grad
    cos_sin = inner.rotary()
    x = inner.input_embeddings(batch["inputs"], batch["puzzle_identifiers"])
    zL = inner.L_level(zL_in, zH_in + x, cos_sin)
    zH = inner.H_level(zH_in, zL, cos_sin)
    q = inner.q_head(zH[:, 0])
    ref_logits = inner.lm_head(zH)[:, 1:]
    torch.testing.assert_close(ref_logits, logits)
    objective(ref_logits, q[:, 0], q[:, 1]).backward()
    for n, p in inner.named_parameters():
        torch.testing.assert_close(p.grad, grads[n], msg=f"gradient of {n} differs")
    assert grads["L_level.layers.0.mlp.down_proj.weight"].abs().sum() > 0


def test_full_backprop_changes_only_the_gradients_not_the_values():
    torch.manual_seed(0)
    one = HRM(tiny_config()).eval()
    full = HRM(tiny_config(one_step_grad=False)).eval()
    full.load_state_dict(one.state_dict())
    batch = make_batch(one.config)
    results = []
    for model in (one, full):
        carry, out = model(model.initial_carry(batch), batch)
        out["logits"].square().mean().backward()
        results.append((out["logits"].detach(), {n: p.grad for n, p in model.named_parameters()}))
    (lo1, g1), (lo2, g2) = results
    torch.testing.assert_close(lo1, lo2)
    torch.testing.assert_close(g1["inner.lm_head.weight"], g2["inner.lm_head.weight"])
    assert not torch.allclose(g1["inner.L_level.layers.0.self_attn.qkv_proj.weight"],
                              g2["inner.L_level.layers.0.self_attn.qkv_proj.weight"])


def test_carry_has_no_autograd_history_between_segments():
    torch.manual_seed(0)
    cfg = tiny_config(halt_max_steps=4)
    model = HRM(cfg).train()
    batch = make_batch(cfg)
    carry = model.initial_carry(batch)
    for _ in range(3):
        carry, out = model(carry, batch)
        for t in (carry.inner_carry.z_H, carry.inner_carry.z_L):
            assert t.grad_fn is None and not t.requires_grad
        out["logits"].sum().backward()  # a second-segment backward never reaches the first graph


def test_works_under_bf16_autocast():
    torch.manual_seed(0)
    cfg = tiny_config()
    model = HRM(cfg).train()
    batch = make_batch(cfg)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        carry, out = model(model.initial_carry(batch), batch)
    assert out["q_halt_logits"].dtype == torch.float32 and out["q_continue_logits"].dtype == torch.float32
    assert torch.isfinite(out["logits"].float()).all()
    out["logits"].float().sum().backward()
    assert model.inner.lm_head.weight.grad is not None


# ---------------------------------------------------------------------------------------- carry state
def test_carry_state_round_trips_through_weights_only_load():
    torch.manual_seed(0)
    cfg = tiny_config()
    model = HRM(cfg).train()
    batch = make_batch(cfg)
    carry, _ = model(model.initial_carry(batch), batch)
    buf = io.BytesIO()
    torch.save(carry.to_state(), buf)
    buf.seek(0)
    back = ACTCarry.from_state(torch.load(buf, weights_only=True))
    assert torch.equal(back.inner_carry.z_H, carry.inner_carry.z_H)
    assert torch.equal(back.steps, carry.steps) and torch.equal(back.halted, carry.halted)
    assert back.current_data.keys() == carry.current_data.keys()
    with pytest.raises(ValueError, match="z_L"):
        ACTCarry.from_state({"z_H": carry.inner_carry.z_H})


# ---------------------------------------------------------------------------------------- positions
def test_learned_positions_add_a_trained_table_scaled_by_one_over_sqrt2():
    torch.manual_seed(0)
    cfg = tiny_config(pos_encodings="learned")
    inner = HRMInner(cfg)
    assert not hasattr(inner, "rotary")
    assert inner.embed_pos.weight.shape == (cfg.total_len, cfg.hidden_size)
    batch = make_batch(cfg)
    x = inner.input_embeddings(batch["inputs"], batch["puzzle_identifiers"])  # (B, P+S, D)
    tokens = inner.embed_tokens(batch["inputs"])
    prefix = torch.zeros(3, 1, cfg.hidden_size)  # the puzzle embedding starts at zero
    expected = math.sqrt(cfg.hidden_size) * (torch.cat([prefix, tokens], 1) + inner.embed_pos.weight) / math.sqrt(2)
    torch.testing.assert_close(x, expected)
    model = HRM(cfg)
    carry, out = model(model.initial_carry(batch), batch)
    out["logits"].sum().backward()
    assert model.inner.embed_pos.weight.grad.abs().sum() > 0


def test_rope_and_learned_positions_both_tell_cells_apart():
    # Swapping two input cells must change what the model says about them, with either encoding.
    for pos in ("rope", "learned"):
        torch.manual_seed(1)
        cfg = tiny_config(pos_encodings=pos)
        model = HRM(cfg).eval()
        batch = make_batch(cfg, batch_size=1)
        batch["inputs"][0, :2] = torch.tensor([2, 2])  # two equal tokens at positions 0 and 1
        _, out = model(model.initial_carry(batch), batch)
        assert not torch.allclose(out["logits"][0, 0], out["logits"][0, 1]), pos


# ---------------------------------------------------------------------------------------- flat model
def test_flat_model_is_l_alone_with_the_input_for_as_many_calls_and_the_last_one_with_grad():
    torch.manual_seed(0)
    cfg = tiny_config(H_cycles=2, L_cycles=3, architecture="flat")
    model = HRM(cfg).eval()
    inner = model.inner
    assert inner.H_level is None and cfg.flat_steps == 8
    assert count_parameters(model) == count_parameters(HRM(tiny_config(H_cycles=2, L_cycles=3))) - sum(
        p.numel() for p in HRM(tiny_config()).inner.H_level.parameters())
    batch = model._prepare_batch(make_batch(cfg))
    start = inner.reset_carry(torch.ones(3, dtype=torch.bool), inner.empty_carry(3))
    grads_on, hook = [], inner.L_level.register_forward_pre_hook(
        lambda m, args: grads_on.append(torch.is_grad_enabled()))
    carry, logits, (q_halt, _) = inner(start, batch)
    hook.remove()
    assert grads_on == [False] * 7 + [True]
    with torch.no_grad():  # by hand: z_L <- f_L(z_L + x), 8 times; the heads read z_L
        x = inner.input_embeddings(batch["inputs"], batch["puzzle_identifiers"])
        z = start.z_L
        for _ in range(8):
            z = inner.L_level(z, x, inner.rotary())
    torch.testing.assert_close(logits, inner.lm_head(z)[:, 1:])
    torch.testing.assert_close(q_halt, inner.q_head(z[:, 0])[:, 0])
    torch.testing.assert_close(carry.z_L, z)
    assert torch.equal(carry.z_H, start.z_H)  # the flat model has no second state
    logits.sum().backward()
    assert inner.L_level.layers[0].mlp.down_proj.weight.grad.abs().sum() > 0


def test_flat_model_runs_through_the_act_wrapper_and_hrm_stays_the_default():
    assert HRMConfig(vocab_size=7, seq_len=6).architecture == "hrm"
    torch.manual_seed(0)
    cfg = tiny_config(architecture="flat")
    model = HRM(cfg).train()
    batch = make_batch(cfg)
    carry, out = model(model.initial_carry(batch), batch)
    assert out["logits"].shape == (3, 6, 7) and "target_q_continue" in out


# ---------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("field,value", [
    ("H_cycles", 0), ("L_cycles", -1), ("H_layers", 0), ("L_layers", 0), ("hidden_size", 0),
    ("num_heads", 0), ("halt_max_steps", 0), ("vocab_size", 0), ("seq_len", 0),
    ("halt_exploration_prob", 1.5), ("halt_exploration_prob", -0.1), ("expansion", 0.0),
    ("num_puzzle_identifiers", 0), ("puzzle_emb_ndim", -1), ("rms_norm_eps", 0.0),
    ("swiglu_multiple", 0), ("pos_encodings", "sinusoidal"), ("architecture", "tiny"), ("halting", "sometimes")])
def test_bad_config_values_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        tiny_config(**{field: value})


def test_config_head_checks_and_types():
    with pytest.raises(ValueError, match="divisible"):
        tiny_config(hidden_size=18, num_heads=4)
    with pytest.raises(ValueError, match="even"):
        tiny_config(hidden_size=18, num_heads=2)  # head_dim 9
    with pytest.raises(TypeError, match="H_cycles"):
        tiny_config(H_cycles=2.0)


def test_config_dict_round_trip_and_unknown_keys():
    cfg = tiny_config()
    d = cfg.to_dict()
    assert d["puzzle_emb_ndim"] == 16  # default resolved to hidden_size
    assert all(isinstance(v, (int, float, bool, str)) for v in d.values())
    assert HRMConfig.from_dict(d) == cfg
    with pytest.raises(ValueError, match="bogus"):
        HRMConfig.from_dict({**d, "bogus": 1})


def test_bad_batches_are_rejected():
    cfg = tiny_config()
    model = HRM(cfg)
    batch = make_batch(cfg)
    carry = model.initial_carry(batch)
    with pytest.raises(ValueError, match="shape"):
        model(carry, {**batch, "inputs": batch["inputs"][:, :5]})
    with pytest.raises(TypeError, match="integer"):
        model(carry, {**batch, "inputs": batch["inputs"].float()})
    with pytest.raises(ValueError, match="vocab_size"):
        model(carry, {**batch, "inputs": batch["inputs"] + 100})
    with pytest.raises(ValueError, match="slots"):
        model(carry, make_batch(cfg, 5))
    with pytest.raises(ValueError, match="max_steps"):
        model(carry, batch, max_steps=0)
    with pytest.raises(ValueError, match="puzzle_identifiers"):
        model(carry, {**batch, "puzzle_identifiers": torch.ones(3, dtype=torch.long)})


# ---------------------------------------------------------------------------------------- baseline
def test_transformer_baseline_shapes_and_blocks():
    torch.manual_seed(0)
    base = TransformerBaseline(vocab_size=7, seq_len=36, hidden_size=32, num_heads=2, num_layers=3)
    logits = base(torch.randint(0, 7, (4, 36)))
    assert logits.shape == (4, 36, 7)
    assert len(base.layers) == 3
    assert all(m.bias is None for m in base.modules() if isinstance(m, nn.Linear))
    logits.sum().backward()
    assert base.embed_tokens.weight.grad is not None
    with pytest.raises(ValueError, match="positions"):
        base(torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="num_layers"):
        TransformerBaseline(7, 36, 32, 2, 0)
