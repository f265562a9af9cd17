"""Unit tests of hrm_minimal.layers: init, RMSNorm, RoPE, attention, SwiGLU, the post-norm block."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from hrm_minimal.layers import (Attention, PuzzleEmbedding, RMSNorm, RotaryEmbedding, SwiGLU,
                                TransformerBlock, apply_rotary, lecun_linear, rms_norm,
                                swiglu_inner_size, trunc_normal_init_)


@pytest.mark.parametrize("std", [1.0, 0.02])
def test_trunc_normal_has_requested_std_and_bounds(std):
    torch.manual_seed(0)
    t = trunc_normal_init_(torch.empty(200_000), std=std)
    assert abs(t.std().item() / std - 1) < 0.01  # the CORRECTED std (plain trunc_normal_ gives 0.88*std)
    assert abs(t.mean().item()) < 0.01 * std
    bound = 2 * std / 0.8796256610  # +-2 in units of the stretched normal
    assert t.abs().max().item() <= bound * (1 + 1e-6)
    assert t.abs().max().item() > 0.95 * bound  # the tails really reach the cut


def test_trunc_normal_zero_std_and_negative():
    assert trunc_normal_init_(torch.ones(10), std=0.0).abs().sum() == 0
    with pytest.raises(ValueError, match="std"):
        trunc_normal_init_(torch.ones(3), std=-1.0)


def test_lecun_linear_is_bias_free_with_fan_in_std():
    torch.manual_seed(0)
    layer = lecun_linear(400, 600)
    assert layer.bias is None
    assert abs(layer.weight.std().item() * math.sqrt(400) - 1) < 0.02


def test_rms_norm_has_no_parameters_and_unit_rms():
    norm = RMSNorm(1e-5)
    assert list(norm.parameters()) == []
    torch.manual_seed(0)
    x = 3 * torch.randn(4, 5, 16) + 1
    y = norm(x)
    torch.testing.assert_close(y, x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5))
    torch.testing.assert_close(y.pow(2).mean(-1), torch.ones(4, 5), atol=1e-4, rtol=0)


def test_rms_norm_computes_in_float32_and_casts_back():
    x = (torch.randn(2, 64) * 100).to(torch.bfloat16)
    y = rms_norm(x)
    assert y.dtype == torch.bfloat16
    ref = rms_norm(x.float()).to(torch.bfloat16)
    assert torch.equal(y, ref)


@pytest.mark.parametrize("hidden,expansion,expected", [(512, 4, 1536), (64, 4, 256), (128, 4, 512),
                                                        (256, 4, 768), (384, 2, 512)])
def test_swiglu_width_rule(hidden, expansion, expected):
    # round(expansion * hidden * 2/3) rounded UP to a multiple of 256
    assert swiglu_inner_size(hidden, expansion) == expected
    mlp = SwiGLU(hidden, expansion)
    assert mlp.gate_up_proj.weight.shape == (2 * expected, hidden)
    assert mlp.down_proj.weight.shape == (hidden, expected)


@pytest.mark.parametrize("hidden,expansion,multiple,expected", [(64, 4, 32, 192), (64, 2, 32, 96), (64, 2, 1, 85)])
def test_swiglu_width_with_another_multiple(hidden, expansion, multiple, expected):
    # The CPU recipes round to a smaller multiple: the 256 rule quadruples a hidden-64 MLP.
    assert swiglu_inner_size(hidden, expansion, multiple) == expected
    assert SwiGLU(hidden, expansion, multiple).down_proj.weight.shape == (hidden, expected)


def test_swiglu_formula():
    torch.manual_seed(0)
    mlp = SwiGLU(32, 4)
    x = torch.randn(3, 32)
    gate, up = (x @ mlp.gate_up_proj.weight.T).chunk(2, dim=-1)
    torch.testing.assert_close(mlp(x), (F.silu(gate) * up) @ mlp.down_proj.weight.T)


def test_rotary_preserves_norm_and_depends_on_relative_position():
    rope = RotaryEmbedding(head_dim=8, max_len=20, theta=10000.0)
    cos, sin = rope()
    assert cos.shape == (20, 8) and "cos" not in rope.state_dict()  # non-persistent table
    torch.manual_seed(0)
    q, k = torch.randn(8), torch.randn(8)
    rot = lambda v, pos: apply_rotary(v.expand(20, 1, 8).clone().view(1, 20, 1, 8), cos, sin)[0, pos, 0]  # noqa: E731
    torch.testing.assert_close(rot(q, 7).norm(), q.norm())
    # <R_m q, R_n k> depends only on m - n
    torch.testing.assert_close(rot(q, 5) @ rot(k, 2), rot(q, 13) @ rot(k, 10), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(rot(q, 5) @ rot(k, 2), rot(q, 5) @ rot(k, 4))
    torch.testing.assert_close(rot(q, 0), q)  # position 0 is the identity


def test_rotary_rejects_odd_head_dim():
    with pytest.raises(ValueError, match="head_dim"):
        RotaryEmbedding(7, 10)


def test_rotary_in_float32_for_bf16_inputs():
    cos, sin = RotaryEmbedding(8, 4)()
    x = torch.randn(1, 4, 2, 8).to(torch.bfloat16)
    y = apply_rotary(x, cos, sin)
    assert y.dtype == torch.bfloat16
    assert torch.equal(y, apply_rotary(x.float(), cos, sin).to(torch.bfloat16))


def test_attention_matches_manual_non_causal_softmax():
    torch.manual_seed(0)
    attn = Attention(hidden_size=16, num_heads=2)
    cos, sin = RotaryEmbedding(8, 5)()
    x = torch.randn(2, 5, 16)
    q, k, v = (x @ attn.qkv_proj.weight.T).view(2, 5, 3, 2, 8).unbind(2)
    q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
    scores = torch.einsum("bshd,bthd->bhst", q, k) / math.sqrt(8)  # no causal mask
    out = torch.einsum("bhst,bthd->bshd", scores.softmax(-1), v).reshape(2, 5, 16)
    torch.testing.assert_close(attn(x, (cos, sin)), out @ attn.o_proj.weight.T, rtol=1e-5, atol=1e-5)


def test_attention_sees_later_positions():
    torch.manual_seed(0)
    attn = Attention(16, 2)
    x = torch.randn(1, 5, 16)
    y = x.clone()
    y[0, -1] += 1.0  # change only the LAST token
    assert not torch.allclose(attn(x, None)[0, 0], attn(y, None)[0, 0])  # first position notices


def test_block_is_post_norm_bias_free_and_parameter_free_norm():
    torch.manual_seed(0)
    block = TransformerBlock(32, 4, 4.0)
    names = [n for n, _ in block.named_parameters()]
    assert sorted(names) == ["mlp.down_proj.weight", "mlp.gate_up_proj.weight",
                             "self_attn.o_proj.weight", "self_attn.qkv_proj.weight"]
    cos_sin = RotaryEmbedding(8, 6)()
    x = 5 * torch.randn(2, 6, 32)
    h = block(x, cos_sin)
    # post-norm: the output is the output of an RMSNorm, so every position has RMS 1
    torch.testing.assert_close(h.pow(2).mean(-1), torch.ones(2, 6), atol=1e-4, rtol=0)
    mid = rms_norm(x + block.self_attn(x, cos_sin))
    torch.testing.assert_close(h, rms_norm(mid + block.mlp(mid)))


def test_puzzle_embedding_is_a_zero_buffer_with_local_copy_in_training():
    emb = PuzzleEmbedding(3, 4)
    assert list(emb.parameters()) == [] and "weights" in emb.state_dict()
    assert emb.weights.abs().sum() == 0
    ids = torch.tensor([0, 2, 2])
    emb.train()
    out = emb(ids)
    assert out.requires_grad and out is emb.local_weights and torch.equal(emb.local_ids, ids)
    emb.eval()
    emb.local_weights = None
    out = emb(ids)
    assert not out.requires_grad and emb.local_weights is None
