"""A plain (non-recurrent) Transformer made of the HRM's own blocks: the depth-only baseline."""
from __future__ import annotations

import math

import torch
from torch import nn

from .layers import RotaryEmbedding, TransformerBlock, lecun_linear, trunc_normal_init_


class TransformerBaseline(nn.Module):
    """Token embedding (scaled by sqrt(D)) -> num_layers post-norm blocks -> lm_head, one pass."""

    def __init__(self, vocab_size: int, seq_len: int, hidden_size: int, num_heads: int, num_layers: int,
                 expansion: float = 4.0, rope_theta: float = 10000.0, rms_norm_eps: float = 1e-5) -> None:
        super().__init__()
        for name, value in [("vocab_size", vocab_size), ("seq_len", seq_len), ("hidden_size", hidden_size),
                            ("num_heads", num_heads), ("num_layers", num_layers)]:
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"TransformerBaseline: {name} must be a positive int, got {value!r}")
        if hidden_size % num_heads != 0 or (hidden_size // num_heads) % 2 != 0:
            raise ValueError(f"TransformerBaseline: hidden_size {hidden_size} / num_heads {num_heads} "
                             "must give an even integer head_dim")
        self.vocab_size, self.seq_len = vocab_size, seq_len
        self.embed_scale = math.sqrt(hidden_size)
        self.embed_tokens = nn.Embedding(vocab_size, hidden_size)
        trunc_normal_init_(self.embed_tokens.weight, std=1.0 / math.sqrt(hidden_size))
        self.rotary = RotaryEmbedding(hidden_size // num_heads, seq_len, rope_theta)
        self.layers = nn.ModuleList(TransformerBlock(hidden_size, num_heads, expansion, rms_norm_eps)
                                    for _ in range(num_layers))
        self.lm_head = lecun_linear(hidden_size, vocab_size)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """inputs (B, S) int -> logits (B, S, V)."""
        if not torch.is_tensor(inputs) or inputs.dtype.is_floating_point or inputs.ndim != 2:
            raise TypeError("inputs must be an integer tensor of shape (B, S)")
        if inputs.shape[1] != self.seq_len:
            raise ValueError(f"inputs must have {self.seq_len} positions, got {inputs.shape[1]}")
        cos_sin = self.rotary()
        h = self.embed_scale * self.embed_tokens(inputs)  # (B, S, D)
        for layer in self.layers:
            h = layer(h, cos_sin)
        return self.lm_head(h)  # (B, S, V)
