"""Lesson 02's checkers against a right answer and the plausible wrong answers a student writes.

Read by tests/test_checks.py: CASES holds (checker, a right answer, [plausible wrong answers]),
HINTS holds (checker, wrong answer, a phrase its hint must contain).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from hrm_minimal import checks


# --------------------------------------------------------------------------- 2.1 rms_norm
def rms_right(x, eps=1e-5):
    x32 = x.float()
    return (x32 / torch.sqrt(x32.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


def rms_layer_norm(x, eps=1e-5):  # subtracts the mean, as LayerNorm does
    x32 = x.float() - x.float().mean(-1, keepdim=True)
    return (x32 / torch.sqrt(x32.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


def rms_var(x, eps=1e-5):  # divides by the standard deviation (var subtracts the mean)
    x32 = x.float()
    return (x32 / torch.sqrt(x32.var(-1, keepdim=True, unbiased=False) + eps)).to(x.dtype)


def rms_l2(x, eps=1e-5):  # divides by the length, not the root-mean-square
    return (x.float() / torch.sqrt(x.float().pow(2).sum(-1, keepdim=True) + eps)).to(x.dtype)


def rms_eps_outside(x, eps=1e-5):  # eps added after the square root
    return (x.float() / (x.float().pow(2).mean(-1, keepdim=True).sqrt() + eps)).to(x.dtype)


def rms_no_eps(x, eps=1e-5):  # eps forgotten
    return (x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True))).to(x.dtype)


def rms_fixed_eps(x, eps=1e-5):  # ignores the eps it is given
    return rms_right(x)


def rms_wrong_dim(x, eps=1e-5):  # normalises over positions
    return (x.float() / torch.sqrt(x.float().pow(2).mean(-2, keepdim=True) + eps)).to(x.dtype)


def rms_whole_tensor(x, eps=1e-5):  # one mean over everything
    return (x.float() / torch.sqrt(x.float().pow(2).mean() + eps)).to(x.dtype)


def rms_float_out(x, eps=1e-5):  # forgets to cast back
    return x.float() / torch.sqrt(x.float().pow(2).mean(-1, keepdim=True) + eps)


def rms_dim2(x, eps=1e-5):  # dim=2 hard-coded: right for (B, S, D) only
    x32 = x.float()
    return (x32 / torch.sqrt(x32.pow(2).mean(2, keepdim=True) + eps)).to(x.dtype)


def rms_scaled(x, eps=1e-5):  # an extra scale, as if a learned gain had been left in (here 2)
    return (2 * rms_right(x.float(), eps)).to(x.dtype)


def rms_normalize(x, eps=1e-5):  # unit length times sqrt(D): RMSNorm without its eps
    return (F.normalize(x.float(), dim=-1) * x.shape[-1] ** 0.5).to(x.dtype)


# --------------------------------------------------------------------------- 2.2 swiglu
def swiglu_right(x, gate_up_weight, down_weight):
    gate, up = (x @ gate_up_weight.T).chunk(2, dim=-1)
    return (F.silu(gate) * up) @ down_weight.T


def swiglu_swapped(x, gate_up_weight, down_weight):  # SiLU on the second half
    up, gate = (x @ gate_up_weight.T).chunk(2, dim=-1)
    return (F.silu(gate) * up) @ down_weight.T


def swiglu_relu(x, gate_up_weight, down_weight):  # ReLU instead of SiLU
    gate, up = (x @ gate_up_weight.T).chunk(2, dim=-1)
    return (F.relu(gate) * up) @ down_weight.T


def swiglu_gelu(x, gate_up_weight, down_weight):  # GELU instead of SiLU
    gate, up = (x @ gate_up_weight.T).chunk(2, dim=-1)
    return (F.gelu(gate) * up) @ down_weight.T


def swiglu_sigmoid(x, gate_up_weight, down_weight):  # plain GLU
    gate, up = (x @ gate_up_weight.T).chunk(2, dim=-1)
    return (torch.sigmoid(gate) * up) @ down_weight.T


def swiglu_no_gate(x, gate_up_weight, down_weight):  # the up half never used
    gate, _ = (x @ gate_up_weight.T).chunk(2, dim=-1)
    return F.silu(gate) @ down_weight.T


def swiglu_interleaved(x, gate_up_weight, down_weight):  # even/odd channels instead of halves
    both = x @ gate_up_weight.T
    return (F.silu(both[..., 0::2]) * both[..., 1::2]) @ down_weight.T


def swiglu_untransposed(x, gate_up_weight, down_weight):  # weights used as (in, out)
    gate, up = (x @ gate_up_weight).chunk(2, dim=-1)
    return (F.silu(gate) * up) @ down_weight


def swiglu_down_untransposed(x, gate_up_weight, down_weight):  # only the down weight used as (in, out)
    gate, up = (x @ gate_up_weight.T).chunk(2, dim=-1)
    return (F.silu(gate) * up) @ down_weight


# --------------------------------------------------------------------------- 2.3 apply_rotary
def _halves(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def rotary_right(x, cos, sin):
    x32 = x.float()
    return (x32 * cos[:, None] + _halves(x32) * sin[:, None]).to(x.dtype)


def rotary_sign(x, cos, sin):  # rotates the other way
    x32 = x.float()
    return (x32 * cos[:, None] - _halves(x32) * sin[:, None]).to(x.dtype)


def rotary_interleaved(x, cos, sin):  # GPT-J pairs (0,1), (2,3)
    x32 = x.float()
    turned = torch.stack([-x32[..., 1::2], x32[..., 0::2]], dim=-1).flatten(-2)
    return (x32 * cos[:, None] + turned * sin[:, None]).to(x.dtype)


def rotary_swapped(x, cos, sin):  # sin and cos swapped
    x32 = x.float()
    return (x32 * sin[:, None] + _halves(x32) * cos[:, None]).to(x.dtype)


def rotary_no_heads_axis(x, cos, sin):  # cos (S, d) broadcast against (H, d)
    x32 = x.float()
    return (x32 * cos + _halves(x32) * sin).to(x.dtype)


def rotary_no_cast(x, cos, sin):  # returns float32 for bfloat16 input
    return x.float() * cos[:, None] + _halves(x.float()) * sin[:, None]


# --------------------------------------------------------------------------- 2.4 post_norm_block
def _norm(h, eps):
    return h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)


def block_right(h, attn, mlp, cos_sin, eps=1e-5):
    h = _norm(h + attn(h, cos_sin), eps)
    return _norm(h + mlp(h), eps)


def block_pre_norm(h, attn, mlp, cos_sin, eps=1e-5):  # GPT-style pre-norm
    h = h + attn(_norm(h, eps), cos_sin)
    return h + mlp(_norm(h, eps))


def block_pre_norm_final(h, attn, mlp, cos_sin, eps=1e-5):  # pre-norm with a final norm
    return _norm(block_pre_norm(h, attn, mlp, cos_sin, eps), eps)


def block_one_norm(h, attn, mlp, cos_sin, eps=1e-5):  # one norm at the end only
    h = h + attn(h, cos_sin)
    return _norm(h + mlp(h), eps)


def block_no_residual(h, attn, mlp, cos_sin, eps=1e-5):  # sublayers replace h
    h = _norm(attn(h, cos_sin), eps)
    return _norm(mlp(h), eps)


def block_mlp_first(h, attn, mlp, cos_sin, eps=1e-5):  # MLP before attention
    h = _norm(h + mlp(h), eps)
    return _norm(h + attn(h, cos_sin), eps)


def block_norm_sublayer(h, attn, mlp, cos_sin, eps=1e-5):  # norm on the sublayer output only
    h = h + _norm(attn(h, cos_sin), eps)
    return h + _norm(mlp(h), eps)


def block_parallel(h, attn, mlp, cos_sin, eps=1e-5):  # attention and MLP both read the input
    return _norm(h + attn(h, cos_sin) + mlp(h), eps)


CASES = [
    (checks.check_rms_norm, rms_right,
     [rms_layer_norm, rms_var, rms_l2, rms_eps_outside, rms_no_eps, rms_fixed_eps, rms_wrong_dim, rms_whole_tensor,
      rms_float_out, rms_dim2, rms_scaled, rms_normalize]),
    (checks.check_swiglu, swiglu_right,
     [swiglu_swapped, swiglu_relu, swiglu_gelu, swiglu_sigmoid, swiglu_no_gate, swiglu_interleaved,
      swiglu_untransposed, swiglu_down_untransposed]),
    (checks.check_apply_rotary, rotary_right,
     [rotary_sign, rotary_interleaved, rotary_swapped, rotary_no_heads_axis, rotary_no_cast]),
    (checks.check_post_norm_block, block_right,
     [block_pre_norm, block_pre_norm_final, block_one_norm, block_no_residual, block_mlp_first,
      block_norm_sublayer, block_parallel]),
]

HINTS = [
    (checks.check_rms_norm, rms_layer_norm, "LayerNorm"),
    (checks.check_rms_norm, rms_l2, "MEAN of x^2"),
    (checks.check_rms_norm, rms_var, "subtract the mean"),
    (checks.check_rms_norm, rms_no_eps, "eps is missing"),
    (checks.check_rms_norm, rms_eps_outside, "inside the square root"),
    (checks.check_rms_norm, rms_wrong_dim, "last dimension"),
    (checks.check_rms_norm, rms_float_out, "cast"),
    (checks.check_rms_norm, rms_dim2, "last dimension"),
    (checks.check_rms_norm, rms_scaled, "no scale"),
    (checks.check_rms_norm, rms_normalize, "eps is missing"),
    (checks.check_swiglu, swiglu_swapped, "swapped"),
    (checks.check_swiglu, swiglu_relu, "ReLU"),
    (checks.check_swiglu, swiglu_no_gate, "up half"),
    (checks.check_swiglu, swiglu_interleaved, "halves"),
    (checks.check_swiglu, swiglu_untransposed, "out_features, in_features"),
    (checks.check_swiglu, swiglu_down_untransposed, "down weight is used untransposed"),
    (checks.check_apply_rotary, rotary_sign, "wrong way"),
    (checks.check_apply_rotary, rotary_interleaved, "neighbouring channels"),
    (checks.check_apply_rotary, rotary_swapped, "swapped"),
    (checks.check_apply_rotary, rotary_no_heads_axis, "broadcast over heads"),
    (checks.check_post_norm_block, block_pre_norm, "pre-norm"),
    (checks.check_post_norm_block, block_one_norm, "two norms"),
    (checks.check_post_norm_block, block_no_residual, "residual"),
    (checks.check_post_norm_block, block_mlp_first, "attention comes first"),
    (checks.check_post_norm_block, block_norm_sublayer, "SUM"),
]
