"""Checker of lesson 00 (setup): counting parameters."""
from __future__ import annotations

import itertools
from typing import Callable

import numpy as np
import torch
from torch import nn

from .core import Mismatch, _expect_int, run_check

__all__ = ["check_count_parameters"]


class _WithBuffer(nn.Module):
    """A layer plus a registered buffer (state that is not a parameter)."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.register_buffer("running_mean", torch.zeros(n_out))


class _Tied(nn.Module):
    """An embedding whose weight the output layer reuses (one tensor, two modules)."""

    def __init__(self, vocab: int, dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight


def check_count_parameters(fn: Callable[[nn.Module], int]) -> Callable[[nn.Module], int]:
    """Exercise 0.1: count_parameters(model) -> int, the number of parameter entries."""
    from hrm_minimal.model import count_parameters as reference

    kinds = itertools.cycle(["mlp", "buffer", "tied"])

    def trial(student: Callable, rng: np.random.Generator) -> None:
        kind = next(kinds)
        a, b, c = (int(x) for x in rng.integers(2, 40, size=3))
        if kind == "mlp":
            model = nn.Sequential(nn.Linear(a, b), nn.ReLU(), nn.Linear(b, c, bias=bool(rng.integers(2))))
            hint = "on a small MLP the count is off: count every entry of every parameter tensor (Tensor.numel)"
        elif kind == "buffer":
            model = nn.Sequential(_WithBuffer(a, b), nn.Linear(b, c))
            hint = "on a model with a buffer the count is off: buffers (register_buffer) are not parameters"
        else:
            model = _Tied(a, b)
            hint = "on a model with tied weights the count is off: a tensor shared by two layers counts once"
        _expect_int(student(model), reference(model), "count_parameters(model)", hint)

    return run_check("0.1", fn, reference, trial, trials=9)
