"""How many dimensions a module's state uses: the participation ratio (lesson 08).

    z_H, z_L = collect_states(model, inputs, segments=16)   # (16, N, S*D): per segment, a row per puzzle
    participation_ratio(z_H[-1]), participation_ratio(z_L[-1])   # after the 16th segment

The HRM paper (section 4, "brain correspondence") measures the effective dimensionality of the two
modules' states over many puzzles with the participation ratio of their covariance,

    PR = (sum_i lambda_i)^2 / sum_i lambda_i^2,

lambda_i the eigenvalues of the covariance of the states (rows = puzzles, centred per feature). PR is
1 when the states vary along one direction only and D when they vary equally in D directions; it
does not change if the states are scaled. The paper reports that after training z_H has a much
higher PR than z_L, and that an untrained network of the same shape shows no such gap.
"""
from __future__ import annotations

import torch

from .model import HRM


def participation_ratio(states: torch.Tensor) -> float:
    """PR of the covariance of `states` (N, D): N samples (rows), D features (columns).

    Computed in float64 from the singular values s of the centred matrix: the covariance's
    eigenvalues are s^2 / (N - 1), and the factor cancels in the ratio."""
    if not torch.is_tensor(states) or states.ndim != 2:
        raise ValueError(f"states must be a 2-D tensor (samples, features), got "
                         f"{tuple(states.shape) if torch.is_tensor(states) else type(states).__name__}")
    if states.shape[0] < 2:
        raise ValueError(f"need at least 2 samples (rows) for a covariance, got {states.shape[0]}")
    x = states.detach().to(torch.float64)
    x = x - x.mean(dim=0, keepdim=True)  # centre each feature over the samples
    lam = torch.linalg.svdvals(x) ** 2  # the covariance's eigenvalues, times N - 1
    total = lam.sum()
    if total <= 0:
        raise ValueError("the states do not vary across samples (zero covariance): PR is undefined")
    return float(total ** 2 / (lam ** 2).sum())


@torch.no_grad()
def collect_states(model: HRM, inputs: torch.Tensor, segments: int, batch_size: int = 250
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """z_H and z_L after each of `segments` segments from a fresh carry, for the puzzles `inputs` (N, S):
    each (segments, N, S*D), [s] the states after segment s + 1, a row per puzzle holding its cells
    only (the puzzle-embedding prefix is dropped), in float32.

    The model runs in evaluation mode through `HRMInner.forward`, the same computation `evaluate`
    reads with `segments` segments."""
    if not isinstance(model, HRM):
        raise TypeError(f"collect_states expects an hrm_minimal.model.HRM, got {type(model).__name__}")
    if isinstance(segments, bool) or not isinstance(segments, int) or segments < 1:
        raise ValueError(f"segments must be a positive int, got {segments!r}")
    inputs = torch.as_tensor(inputs)
    if inputs.ndim != 2 or inputs.shape[0] < 1:
        raise ValueError(f"inputs must be (puzzles, seq_len), got shape {tuple(inputs.shape)}")
    inner, P = model.inner, model.inner.puzzle_emb_len
    was_training = model.training
    model.eval()
    device = inner.H_init.device
    highs, lows = [], []
    try:
        for start in range(0, inputs.shape[0], batch_size):
            batch = model._prepare_batch({"inputs": inputs[start:start + batch_size].to(device)})
            B = batch["inputs"].shape[0]
            carry = inner.reset_carry(torch.ones(B, dtype=torch.bool, device=device), inner.empty_carry(B, device))
            high, low = [], []
            for _ in range(segments):
                carry, _, _ = inner(carry, batch)
                high.append(carry.z_H[:, P:].flatten(1).float().cpu())  # (B, S*D)
                low.append(carry.z_L[:, P:].flatten(1).float().cpu())
            highs.append(torch.stack(high))  # (segments, B, S*D)
            lows.append(torch.stack(low))
    finally:
        model.train(was_training)
    return torch.cat(highs, dim=1), torch.cat(lows, dim=1)
