"""Building blocks of the HRM: init, RMSNorm, rotary embeddings, attention, SwiGLU, the post-norm block."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


# ---------------------------------------------------------------------------------------- init
def _truncated_std(lower: float, upper: float) -> float:
    """Standard deviation of a unit normal truncated to [lower, upper]."""
    phi = lambda x: math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)  # noqa: E731  (density)
    z = 0.5 * (math.erf(upper / math.sqrt(2)) - math.erf(lower / math.sqrt(2)))  # mass inside
    var = 1 - (upper * phi(upper) - lower * phi(lower)) / z - ((phi(lower) - phi(upper)) / z) ** 2
    return math.sqrt(var)


@torch.no_grad()
def trunc_normal_init_(tensor: torch.Tensor, std: float = 1.0, lower: float = -2.0,
                       upper: float = 2.0) -> torch.Tensor:
    """Fill `tensor` in place from a truncated normal whose std AFTER truncation equals `std`."""
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    if std == 0:
        return tensor.zero_()
    # Sample a unit normal cut at [lower, upper], then stretch by std / std_of_that_cut_normal, so the
    # result has exactly the requested std (bounds become lower*c, upper*c with c = std / 0.88 for +-2).
    nn.init.trunc_normal_(tensor, mean=0.0, std=1.0, a=lower, b=upper)
    return tensor.mul_(std / _truncated_std(lower, upper))


def lecun_linear(in_features: int, out_features: int, bias: bool = False) -> nn.Linear:
    """Bias-free (by default) Linear with truncated LeCun-normal weights, std 1/sqrt(fan_in)."""
    layer = nn.Linear(in_features, out_features, bias=bias)
    trunc_normal_init_(layer.weight, std=1.0 / math.sqrt(in_features))
    if bias:
        nn.init.zeros_(layer.bias)
    return layer


# ---------------------------------------------------------------------------------------- norm
def rms_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """RMSNorm without a learnable scale, computed in float32 and cast back: x / sqrt(mean(x^2) + eps)."""
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


class RMSNorm(nn.Module):
    """Parameter-free RMSNorm module (the reference has no norm weights anywhere)."""

    def __init__(self, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rms_norm(x, self.eps)


# ---------------------------------------------------------------------------------------- RoPE
class RotaryEmbedding(nn.Module):
    """cos/sin tables for rotary position embeddings (non-persistent buffers)."""

    def __init__(self, head_dim: int, max_len: int, theta: float = 10000.0) -> None:
        super().__init__()
        if head_dim % 2 != 0:
            raise ValueError(f"RotaryEmbedding: head_dim must be even, got {head_dim}")
        # omega_i = theta^(-2i/d), i = 0..d/2-1; angle(pos, i) = pos * omega_i
        inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        angles = torch.outer(torch.arange(max_len, dtype=torch.float32), inv_freq)  # (S, d/2)
        angles = torch.cat([angles, angles], dim=-1)  # (S, d): channel j and j + d/2 share a frequency
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cos, self.sin


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) on the two halves of the last dim."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x (B, S, H, d) by position in float32 and cast back: x*cos + rotate_half(x)*sin."""
    cos = cos[:, None, :]  # (S, 1, d), broadcast over heads
    sin = sin[:, None, :]
    x32 = x.float()
    return (x32 * cos + _rotate_half(x32) * sin).to(x.dtype)


# ---------------------------------------------------------------------------------------- attention
class Attention(nn.Module):
    """Non-causal multi-head self-attention with one fused bias-free qkv projection and RoPE."""

    def __init__(self, hidden_size: int, num_heads: int) -> None:
        super().__init__()
        if hidden_size % num_heads != 0:
            raise ValueError(f"hidden_size {hidden_size} must be divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.qkv_proj = lecun_linear(hidden_size, 3 * hidden_size)
        self.o_proj = lecun_linear(hidden_size, hidden_size)

    def forward(self, x: torch.Tensor, cos_sin: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        B, S, D = x.shape
        qkv = self.qkv_proj(x).view(B, S, 3, self.num_heads, self.head_dim)  # (B, S, 3, H, d)
        q, k, v = qkv.unbind(dim=2)  # each (B, S, H, d)
        if cos_sin is not None:
            cos, sin = cos_sin
            q, k = apply_rotary(q, cos[:S], sin[:S]), apply_rotary(k, cos[:S], sin[:S])
        # softmax(q k^T / sqrt(d)) v over ALL positions (no causal mask): (B, H, S, d)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return self.o_proj(out.transpose(1, 2).reshape(B, S, D))


# ---------------------------------------------------------------------------------------- MLP
def swiglu_inner_size(hidden_size: int, expansion: float, multiple: int = 256) -> int:
    """Reference width rule: round(expansion * hidden * 2/3), rounded UP to a multiple of 256."""
    width = round(expansion * hidden_size * 2 / 3)
    return -(-width // multiple) * multiple


def swiglu(x: torch.Tensor, gate_up_weight: torch.Tensor, down_weight: torch.Tensor) -> torch.Tensor:
    """SwiGLU from its weights: down(silu(gate) * up), [gate, up] = the two halves of x @ gate_up_weight.T."""
    gate, up = F.linear(x, gate_up_weight).chunk(2, dim=-1)  # each (B, S, inner)
    return F.linear(F.silu(gate) * up, down_weight)  # (B, S, D)


class SwiGLU(nn.Module):
    """Gated MLP: down(silu(gate(x)) * up(x)), gate and up fused into one bias-free projection."""

    def __init__(self, hidden_size: int, expansion: float, multiple: int = 256) -> None:
        super().__init__()
        self.inner_size = swiglu_inner_size(hidden_size, expansion, multiple)
        self.gate_up_proj = lecun_linear(hidden_size, 2 * self.inner_size)
        self.down_proj = lecun_linear(self.inner_size, hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return swiglu(x, self.gate_up_proj.weight, self.down_proj.weight)


# ---------------------------------------------------------------------------------------- block
class TransformerBlock(nn.Module):
    """Post-norm block: h <- RMSNorm(h + Attn(h)); h <- RMSNorm(h + SwiGLU(h))."""

    def __init__(self, hidden_size: int, num_heads: int, expansion: float, rms_norm_eps: float = 1e-5,
                 swiglu_multiple: int = 256) -> None:
        super().__init__()
        self.self_attn = Attention(hidden_size, num_heads)
        self.mlp = SwiGLU(hidden_size, expansion, swiglu_multiple)
        self.norm = RMSNorm(rms_norm_eps)

    def forward(self, h: torch.Tensor, cos_sin: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        return post_norm_block(h, self.self_attn, self.mlp, cos_sin, self.norm.eps)


def post_norm_block(h: torch.Tensor, attn, mlp, cos_sin, eps: float = 1e-5) -> torch.Tensor:
    """The post-norm block from its parts: h <- RMSNorm(h + attn(h)); h <- RMSNorm(h + mlp(h))."""
    h = rms_norm(h + attn(h, cos_sin), eps)  # (B, S, D)
    return rms_norm(h + mlp(h), eps)


# ---------------------------------------------------------------------------------------- puzzle embedding
class PuzzleEmbedding(nn.Module):
    """One vector per puzzle identifier, stored in a zero-initialised BUFFER (not a parameter).

    In a training forward with grad enabled it returns a fresh leaf copy of the batch's rows
    (`local_weights`, requires_grad) and remembers the ids; `optim.SignSGD` reads its gradient.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int) -> None:
        super().__init__()
        if num_embeddings <= 0 or embedding_dim <= 0:
            raise ValueError(f"PuzzleEmbedding needs positive sizes, got {num_embeddings} x {embedding_dim}")
        self.register_buffer("weights", torch.zeros(num_embeddings, embedding_dim))  # (N, E), zero init
        self.local_weights: torch.Tensor | None = None  # (B, E) rows gathered in the last training forward
        self.local_ids: torch.Tensor | None = None  # (B,) their identifiers

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        rows = self.weights[ids]  # (B, E)
        if self.training and torch.is_grad_enabled():
            self.local_weights = rows.detach().clone().requires_grad_(True)
            self.local_ids = ids.detach().clone()
            return self.local_weights
        return rows
