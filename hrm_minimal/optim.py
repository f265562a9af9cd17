"""Optimisers of the HRM: AdamATan2 (epsilon-free Adam), SignSGD for the puzzle embedding, the LR schedule."""
from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import nn
from torch.optim import Optimizer

from .distributed import all_embedding_rows
from .layers import PuzzleEmbedding


class AdamATan2(Optimizer):
    """Adam with atan2 instead of m / (sqrt(v) + eps) (Everett et al. 2024), decoupled weight decay.

    Per step: p <- p * (1 - lr*wd); m, v moving averages; p <- p - lr * a * atan2(m_hat, b * sqrt(v_hat)).
    a = b = 1 as in the `adam-atan2` package the reference trains with.
    """

    def __init__(self, params: Iterable, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.95),
                 weight_decay: float = 0.1, a: float = 1.0, b: float = 1.0) -> None:
        if not (isinstance(lr, (int, float)) and lr >= 0):
            raise ValueError(f"AdamATan2: lr must be a number >= 0, got {lr!r}")
        if len(betas) != 2 or not all(0.0 <= beta < 1.0 for beta in betas):
            raise ValueError(f"AdamATan2: betas must be two numbers in [0, 1), got {betas!r}")
        if weight_decay < 0:
            raise ValueError(f"AdamATan2: weight_decay must be >= 0, got {weight_decay}")
        if not (a > 0 and b > 0):
            raise ValueError(f"AdamATan2: a and b must be positive, got a={a}, b={b}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), weight_decay=weight_decay, a=a, b=b))

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd, a, b = group["lr"], group["weight_decay"], group["a"], group["b"]
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("AdamATan2 does not support sparse gradients")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                t, m, v, g = state["step"], state["exp_avg"], state["exp_avg_sq"], p.grad
                p.mul_(1 - lr * wd)  # decoupled weight decay
                m.lerp_(g, 1 - beta1)  # m <- beta1 m + (1 - beta1) g
                v.lerp_(g * g, 1 - beta2)  # v <- beta2 v + (1 - beta2) g^2
                m_hat = m / (1 - beta1 ** t)
                v_hat_sqrt = v.sqrt() / math.sqrt(1 - beta2 ** t)
                p.add_(torch.atan2(m_hat, b * v_hat_sqrt), alpha=-lr * a)
        return loss


class SignSGD(Optimizer):
    """Sign descent with decoupled weight decay for the puzzle-embedding buffer (rows seen this step).

    Gradients of rows with the same identifier are summed, then w <- w * (1 - lr*wd) - lr * sign(g).
    """

    def __init__(self, module: nn.Module, lr: float = 1e-2, weight_decay: float = 0.1) -> None:
        emb = getattr(module, "puzzle_emb", module)  # accept an HRM, an HRMInner or the embedding itself
        if not isinstance(emb, PuzzleEmbedding):
            raise TypeError("SignSGD needs a PuzzleEmbedding (or a model that has one as .puzzle_emb); "
                            f"got {type(module).__name__} (is puzzle_emb_ndim 0?)")
        if not (isinstance(lr, (int, float)) and lr >= 0):
            raise ValueError(f"SignSGD: lr must be a number >= 0, got {lr!r}")
        if weight_decay < 0:
            raise ValueError(f"SignSGD: weight_decay must be >= 0, got {weight_decay}")
        self.embedding = emb
        super().__init__([emb.weights], dict(lr=lr, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        """Update the rows gathered in the last training forward, if they received a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        local, ids = self.embedding.local_weights, self.embedding.local_ids
        if local is None or local.grad is None:
            return loss
        group = self.param_groups[0]
        lr, wd = group["lr"], group["weight_decay"]
        weights = group["params"][0]  # (N, E) the table
        # Several training processes: every rank's rows, so that each makes the same update (distributed.py)
        local_grad, ids = all_embedding_rows(local.grad, ids)
        rows, inverse = torch.unique(ids, return_inverse=True)  # (U,), (B,)
        grad = torch.zeros(rows.shape[0], local.shape[-1], dtype=local_grad.dtype, device=local.device)
        grad.index_add_(0, inverse, local_grad)  # sum gradients of rows with the same id: (U, E)
        w = weights[rows]
        weights[rows] = w * (1 - lr * wd) - lr * torch.sign(grad).to(w.dtype)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop the gradient of the gathered rows."""
        local = self.embedding.local_weights
        if local is not None:
            local.grad = None


def lr_at(step: int, base_lr: float, warmup_steps: int, total_steps: int, min_ratio: float = 1.0) -> float:
    """Linear warmup from 0 over warmup_steps, then cosine from base_lr down to min_ratio*base_lr."""
    if step < 0 or warmup_steps < 0 or total_steps < 0:
        raise ValueError("lr_at: step, warmup_steps and total_steps must be >= 0, got "
                         f"{step}, {warmup_steps}, {total_steps}")
    if base_lr < 0:
        raise ValueError(f"lr_at: base_lr must be >= 0, got {base_lr}")
    if not 0.0 <= min_ratio <= 1.0:
        raise ValueError(f"lr_at: min_ratio must be in [0, 1], got {min_ratio}")
    if step < warmup_steps:
        return base_lr * step / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    # lr = base * (r + (1 - r) * (1 + cos(pi * progress)) / 2)
    return base_lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def set_lr(optimizer: Optimizer, lr: float) -> None:
    """Set the learning rate of every param group of `optimizer`."""
    for group in optimizer.param_groups:
        group["lr"] = lr
