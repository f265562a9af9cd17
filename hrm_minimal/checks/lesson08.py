"""Checkers of lesson 08 (ablations and the TRM simplification): one TRM segment, the participation ratio.

8.1 builds small random TRM-style models of the package (`HRMConfig(architecture="trm")`) and compares
the student's segment with `HRMInner._trm_segment` on the same weights and states: the new (y, z) and
the gradients of a loss on them (to the network's weights and to the input embeddings), so the
gradient window is checked as well as the values. 8.2 compares the student's participation ratio
with `hrm_minimal.dimensionality.participation_ratio` on random states whose features have a mean far
from zero, different scales and correlations. A mistake is named only if it explains every trial so
far.
"""
from __future__ import annotations

import traceback
from contextlib import nullcontext
from typing import Callable

import numpy as np
import torch

from hrm_minimal.config import HRMConfig
from hrm_minimal.dimensionality import participation_ratio
from hrm_minimal.model import HRMInner

from .core import Mismatch, run_check

__all__ = ["check_trm_segment", "check_participation_ratio"]


# --------------------------------------------------------------------------- 8.1 one TRM segment


# (H_cycles, L_cycles) of the first trials, so that every mistake shows whatever the seed: 3 cycles
# of 2 latent steps, 2 of 3; then random counts (never equal, so swapping them shows).
_FIRST_CYCLES = [(3, 2), (2, 3)]


def _trm_inner(rng: np.random.Generator, trial: int) -> HRMInner:
    """A small random TRM-style HRMInner; H_cycles 2..3 and L_cycles 1..3, never equal."""
    torch.manual_seed(int(rng.integers(2**31)))
    h_cycles = int(rng.integers(2, 4))
    l_cycles = int(rng.choice([c for c in (1, 2, 3) if c != h_cycles]))
    if trial < len(_FIRST_CYCLES):
        h_cycles, l_cycles = _FIRST_CYCLES[trial]
    cfg = HRMConfig(vocab_size=8, seq_len=int(rng.integers(4, 9)), hidden_size=32, num_heads=2, expansion=2.0,
                    swiglu_multiple=16, H_layers=1, L_layers=int(rng.integers(1, 3)), H_cycles=h_cycles,
                    L_cycles=l_cycles, halt_max_steps=2, architecture="trm", act_continue=False)
    return HRMInner(cfg).eval()


def _trm_variant(inner: HRMInner, y, z, x, cos_sin, *, latent="y+x", answer="z", answer_first=False,
                 answer_inside=False, swap_cycles=False, grad="last cycle"):
    """A (mostly wrong) TRM segment: one switch per mistake. grad: "last cycle" (TRM), "all", "none",
    or "last calls" (HRM's one-step window: only the last latent step and the answer step)."""
    cfg, net = inner.config, inner.L_level
    T, n = (cfg.L_cycles, cfg.H_cycles) if swap_cycles else (cfg.H_cycles, cfg.L_cycles)
    inject = {"y+x": lambda y, x: y + x, "y": lambda y, x: y, "x": lambda y, x: x}[latent]

    def window(last_cycle: bool, last_call: bool):
        if grad == "all" or (grad == "last cycle" and last_cycle) or (grad == "last calls" and last_cycle and last_call):
            return nullcontext()
        return torch.no_grad()

    def answer_step(y, z, last_cycle):
        with window(last_cycle, True):
            return net(y, z + x if answer == "z+x" else z, cos_sin)

    for t in range(T):
        last = t == T - 1
        if answer_first:
            y = answer_step(y, z, last)
        for k in range(n):
            with window(last, k == n - 1):
                z = net(z, inject(y, x), cos_sin)
            if answer_inside:
                y = answer_step(y, z, last)
        if not answer_first and not answer_inside:
            y = answer_step(y, z, last)
    return y, z


_VALUE_MISTAKES = [
    ("the latent step reads the puzzle AND the answer: z <- net(z + y + x), i.e. net(z, y + x, cos_sin)",
     dict(latent="x")),
    ("the latent step must also read the puzzle x: z <- net(z + y + x), i.e. net(z, y + x, cos_sin)",
     dict(latent="y")),
    ("the answer step does not read x: y <- net(y + z), i.e. net(y, z, cos_sin); that is how the one "
     "network tells its two jobs apart", dict(answer="z+x")),
    ("each cycle runs its L_cycles latent steps first, then one answer step", dict(answer_first=True)),
    ("the answer is updated once per cycle, after all L_cycles latent steps, not after each one",
     dict(answer_inside=True)),
    ("H_cycles and L_cycles are swapped: H_cycles counts the cycles, L_cycles the latent steps per cycle",
     dict(swap_cycles=True)),
]
_GRADIENT_MISTAKES = [
    ("the first H_cycles - 1 cycles run without gradient (under torch.no_grad()); only the last cycle "
     "is backpropagated through", dict(grad="all")),
    ("TRM backpropagates through the WHOLE last cycle (all its latent steps and the answer step), not only "
     "through the last latent step and the answer step as HRM's one-step gradient does", dict(grad="last calls")),
    ("the last cycle must carry gradient: run only the first H_cycles - 1 cycles under torch.no_grad()",
     dict(grad="none")),
]


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a.detach(), b.detach(), rtol=1e-4, atol=1e-5))


def _gradients(inner: HRMInner, x: torch.Tensor, outputs, weights) -> dict[str, torch.Tensor]:
    """Gradients of a fixed random linear loss on (y, z) to the network's weights and to x."""
    y, z = outputs
    inner.zero_grad(set_to_none=True)
    x.grad = None
    loss = (y * weights[0]).sum() + (z * weights[1]).sum()
    if loss.requires_grad:
        loss.backward()
    grads = {name: (p.grad.clone() if p.grad is not None else torch.zeros_like(p))
             for name, p in inner.L_level.named_parameters()}
    grads["x"] = x.grad.clone() if x.grad is not None else torch.zeros_like(x)
    inner.zero_grad(set_to_none=True)
    x.grad = None
    return grads


def _same_gradients(a: dict, b: dict) -> bool:
    return all(float((a[k] - b[k]).norm()) <= 1e-4 * float(b[k].norm()) + 1e-7 for k in b)


def check_trm_segment(fn: Callable) -> Callable:
    """Exercise 8.1: trm_segment(inner, y, z, x, cos_sin) -> (y, z) after one segment of the TRM-style model."""

    seen: list[tuple] = []  # (inner, y, z, x, cos_sin, weights, got values, got gradients) of every trial

    def trial(student: Callable, rng: np.random.Generator) -> None:
        inner = _trm_inner(rng, len(seen))
        cos_sin = inner.rotary()
        B, S = int(rng.integers(1, 4)), inner.config.seq_len + inner.puzzle_emb_len
        with torch.no_grad():
            inputs = torch.from_numpy(rng.integers(1, 8, size=(B, inner.config.seq_len)))
            x0 = inner.input_embeddings(inputs, torch.zeros(B, dtype=torch.long))
            start = inner.reset_carry(torch.ones(B, dtype=torch.bool), inner.empty_carry(B))
            y, z = start.z_H + torch.randn_like(start.z_H), start.z_L + torch.randn_like(start.z_L)
        x = x0.clone().requires_grad_(True)
        D = inner.config.hidden_size
        weights = (torch.randn(B, S, D), torch.randn(B, S, D))
        want = inner._trm_segment(y, z, x, cos_sin)
        want_grads = _gradients(inner, x, want, weights)
        given = {"y": y.clone(), "z": z.clone()}
        try:
            got = student(inner, given["y"], given["z"], x, cos_sin)
        except TypeError as error:
            if any("H_level" in (frame.line or "") for frame in traceback.extract_tb(error.__traceback__)):
                raise Mismatch("the TRM-style model has ONE network, inner.L_level, for both steps (inner.H_level "
                               "is None)") from None
            raise
        for name, before in (("y", y), ("z", z), ("x", x0)):
            if not torch.equal({"y": given["y"], "z": given["z"], "x": x.detach()}[name], before):
                raise Mismatch(f"your function changed its argument {name} in place; build new tensors instead "
                               f"(`{name} = {name} + ...`, not `{name} += ...`)")
        if not x.requires_grad:
            raise Mismatch("your function turned off x's requires_grad: leave the arguments as they are (run the "
                           "first cycles under torch.no_grad() instead)")
        if not isinstance(got, (tuple, list)) or len(got) != 2 or not all(torch.is_tensor(t) for t in got):
            raise Mismatch("trm_segment should return a tuple of two tensors (y, z)")
        got = tuple(got)
        if _close(got[0], want[1].detach()) and _close(got[1], want[0].detach()):
            raise Mismatch("the two states come back swapped: return (y, z), the answer first")
        got_grads = _gradients(inner, x, got, weights)
        seen.append((inner, y, z, x, cos_sin, weights, tuple(t.detach() for t in got), got_grads))
        values_right = _close(got[0], want[0]) and _close(got[1], want[1])
        if values_right and _same_gradients(got_grads, want_grads):
            return
        for hint, switches in (_GRADIENT_MISTAKES if values_right else _VALUE_MISTAKES):
            if all(_trm_reproduces(switches, record, check_grads=values_right) for record in seen):
                raise Mismatch(hint)
        if values_right and float(want_grads["x"].norm()) > 0 and float(got_grads["x"].norm()) == 0:
            raise Mismatch("no gradient reaches x: in the last cycle the latent steps must read x itself, not "
                           "x.detach()")
        if values_right:
            raise Mismatch("the states are right but their gradients are not: the first H_cycles - 1 cycles run "
                           "under torch.no_grad(), the last cycle (its latent steps and its answer step) with gradient "
                           "through every call, with no .detach() inside it")
        raise Mismatch("the states differ from the package's TRM segment: per cycle, L_cycles latent steps "
                       "z <- net(z, y + x, cos_sin), then one answer step y <- net(y, z, cos_sin), H_cycles cycles")

    return run_check("8.1", fn, _trm_reference, trial, trials=8)


def _trm_reference(inner: HRMInner, y: torch.Tensor, z: torch.Tensor, x: torch.Tensor, cos_sin):
    """One segment of the package's TRM-style model on these states: (y, z)."""
    return inner._trm_segment(y, z, x, cos_sin)


def _trm_reproduces(switches: dict, record: tuple, check_grads: bool) -> bool:
    """Does the mistake `switches` give the student's values (and gradients) on this trial?"""
    inner, y, z, x, cos_sin, weights, got, got_grads = record
    wrong = _trm_variant(inner, y, z, x, cos_sin, **switches)
    if not (_close(got[0], wrong[0]) and _close(got[1], wrong[1])):
        return False
    return not check_grads or _same_gradients(got_grads, _gradients(inner, x, wrong, weights))


# --------------------------------------------------------------------------- 8.2 the participation ratio


def _pr_from(lam: np.ndarray) -> float:
    return float(lam.sum() ** 2 / (lam ** 2).sum())


def _eig(x: np.ndarray) -> np.ndarray:
    return np.linalg.svd(x, compute_uv=False) ** 2


_PR_MISTAKES = [
    ("centre each feature (column) over the samples, not each sample (row) over its features: np.cov(X) and "
     "torch.cov(X) treat rows as variables, so give them X.T (or pass rowvar=False to np.cov)",
     lambda x: _pr_from(_eig(x - x.mean(axis=1, keepdims=True)))),
    ("centre the states first (subtract each feature's mean over the samples): the covariance is about "
     "variation, and an offset shared by all samples is not variation", lambda x: _pr_from(_eig(x))),
    ("the covariance's eigenvalues are the SQUARED singular values of the centred matrix (divided by N - 1)",
     lambda x: _pr_from(np.sqrt(_eig(x - x.mean(axis=0))))),
    ("PR is (sum of eigenvalues)^2 / (sum of squared eigenvalues), not its inverse",
     lambda x: 1.0 / _pr_from(_eig(x - x.mean(axis=0)))),
] + [
    ("square the numerator: PR = (sum of eigenvalues)^2 / (sum of squared eigenvalues), so that scaling "
     "the states does not change it", lambda x, d=d: _unsquared(x, d)) for d in ("N - 1", "N", 1)
] + [
    ("use the covariance's eigenvalues, not its diagonal (each feature's own variance): correlated features "
     "vary along shared directions", lambda x: _pr_from(np.var(x, axis=0))),
    ("use the covariance's eigenvalues, not each feature's standard deviation: correlated features vary along "
     "shared directions", lambda x: _pr_from(np.std(x, axis=0))),
    ("keep every eigenvalue: eigvalsh returns them in ascending order, so the first min(N, D) are the smallest "
     "(the zero ones add nothing to either sum)",
     lambda x: _pr_from(np.linalg.eigvalsh(np.cov(x, rowvar=False))[:min(x.shape)])),
    ("do not divide by the number of features: PR counts dimensions (1 to D), it is not a fraction",
     lambda x: _pr_from(_eig(x - x.mean(axis=0))) / x.shape[1]),
]


def _unsquared(x: np.ndarray, divide_by) -> float:
    """sum / sum of squares of the covariance's eigenvalues, with the covariance divided by N - 1, N or 1."""
    n = x.shape[0]
    lam = _eig(x - x.mean(axis=0)) / {"N - 1": n - 1, "N": n, 1: 1}[divide_by]
    return float(lam.sum() / (lam ** 2).sum())


def _states(rng: np.random.Generator, trial: int) -> torch.Tensor:
    """Random states (N, D): a few strong directions, correlated features, a mean far from zero. Every
    other trial has fewer samples than features (N < D), as lesson 08's states do."""
    if trial % 2:
        D = int(rng.integers(8, 40))
        N = int(rng.integers(3, D))
    else:
        N, D = int(rng.integers(6, 60)), int(rng.integers(3, 24))
    k = int(rng.integers(1, D + 1))
    scales = np.exp(rng.normal(0.0, 1.0, size=k))
    basis = np.linalg.qr(rng.normal(size=(D, D)))[0][:, :k]  # k orthonormal directions in R^D
    x = (rng.normal(size=(N, k)) * scales) @ basis.T + rng.normal(0.0, 0.05, size=(N, D))
    x = x + rng.normal(0.0, 3.0, size=D)  # every feature's mean far from zero
    return torch.from_numpy(x).to(torch.float32)


def check_participation_ratio(fn: Callable) -> Callable:
    """Exercise 8.2: participation_ratio(states (N, D)) -> float."""

    seen: list[tuple[np.ndarray, float]] = []  # (states, student's value) of every trial

    def trial(student: Callable, rng: np.random.Generator) -> None:
        states = _states(rng, len(seen))
        want = participation_ratio(states)
        given = states.clone()
        got = student(given)
        if not torch.equal(given, states):
            raise Mismatch("your function changed the states in place (e.g. `states -= mean`); build a new tensor")
        if torch.is_tensor(got):
            if got.numel() != 1:
                raise Mismatch(f"participation_ratio should return one number, got a tensor of shape {tuple(got.shape)}")
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, (int, float, np.floating, np.integer)):
            raise Mismatch(f"participation_ratio should return a float, got {type(got).__name__}")
        got = float(got)
        if not np.isfinite(got):
            raise Mismatch("participation_ratio returned nan or inf: divide by the sum of SQUARED eigenvalues, "
                           "which is positive whenever the states vary")
        seen.append((states.double().numpy(), got))
        if abs(got - want) <= 1e-3 * abs(want):
            return
        if got == round(got) and abs(got - want) < 1:
            raise Mismatch("return the ratio itself as a float, not rounded to a whole number")
        for hint, wrong in _PR_MISTAKES:
            if all(abs(g - wrong(x)) <= 1e-3 * max(abs(wrong(x)), 1e-12) for x, g in seen):
                raise Mismatch(hint)
        if not 1.0 - 1e-3 <= got <= min(states.shape) + 1e-3:
            raise Mismatch(f"yours lies outside 1..{min(states.shape)} for states of shape {tuple(states.shape)}: a "
                           "participation ratio counts directions, from 1 up to the number of features (or samples)")
        raise Mismatch("the value differs from the package's: centre each feature over the samples, take the "
                       "covariance's eigenvalues, then (sum)^2 / (sum of squares)")

    return run_check("8.2", fn, participation_ratio, trial, trials=12)
