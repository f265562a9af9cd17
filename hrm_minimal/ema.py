"""A running average of the weights (EMA), read in place of the raw weights when a run is evaluated.

Not part of HRM: the reference evaluates its raw weights. Its successor TRM (Jolicoeur-Martineau
2025) evaluates an exponential moving average of them (decay 0.999) and reports the raw weights
about 7 points worse on Sudoku. Training is unchanged: the optimiser steps the raw weights, and the
average only follows them,

    avg <- d * avg + (1 - d) * w,   d = min(decay, (1 + t) / (10 + t)) at step t,

the short-run warm-up of d (as in TensorFlow's ExponentialMovingAverage) keeps the random
initial weights from lingering in a run of a few thousand steps.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn


def check_decay(decay) -> float:
    """The decay as a float; ValueError unless it is a number strictly between 0 and 1."""
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 < decay < 1.0:
        raise ValueError(f"EMA decay (ema) must be a number in (0, 1), e.g. 0.99, got {decay!r}")
    return float(decay)


class WeightAverage:
    """EMA of a model's floating-point state (parameters and the puzzle-embedding buffer)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = check_decay(decay)
        self.average = {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Move the average towards the model's weights after optimiser step `step` (1, 2, ...)."""
        d = min(self.decay, (1 + step) / (10 + step))
        state = model.state_dict()
        for k, avg in self.average.items():
            avg.lerp_(state[k], 1.0 - d)  # avg <- d * avg + (1 - d) * w

    @contextmanager
    def applied(self, model: nn.Module):
        """Inside the block the model holds the averaged weights; its own come back afterwards."""
        raw = {k: v.detach().clone() for k, v in model.state_dict().items() if k in self.average}
        model.load_state_dict(self.average, strict=False)
        try:
            yield model
        finally:
            model.load_state_dict(raw, strict=False)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "average": self.average}

    def load_state_dict(self, state: dict) -> None:
        if state.get("decay") != self.decay or set(state.get("average", {})) != set(self.average):
            raise ValueError(f"EMA state does not match this run (decay {state.get('decay')!r} vs {self.decay!r}, "
                             "or other weights)")
        for k, v in state["average"].items():
            self.average[k].copy_(v)
