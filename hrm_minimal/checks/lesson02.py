"""Checkers of lesson 02 (the building block): RMSNorm, SwiGLU, rotary embeddings, the post-norm block.

Each builds the package's own layer (`hrm_minimal.layers`) with random weights, hands the student's
function the same weights and inputs, and compares. Where the answer matches a known mistake, the
hint names that mistake.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from hrm_minimal import layers

from .core import Mismatch, run_check

__all__ = ["check_rms_norm", "check_swiglu", "check_apply_rotary", "check_post_norm_block"]


def _seed(rng: np.random.Generator) -> None:
    torch.manual_seed(int(rng.integers(2**31)))


def _output(got, want: torch.Tensor, what: str) -> torch.Tensor:
    """The student's result as a tensor of the expected shape and dtype (Mismatch otherwise)."""
    if not torch.is_tensor(got):
        raise Mismatch(f"{what} should return a torch.Tensor, got {type(got).__name__}")
    if got.shape != want.shape:
        raise Mismatch(f"{what} returned shape {tuple(got.shape)}, expected {tuple(want.shape)} (the input's shape)")
    if got.dtype != want.dtype:
        raise Mismatch(f"{what} returned dtype {got.dtype} for {want.dtype} input: compute in float32, then cast "
                       "the result back to the input's dtype")
    return got.detach()


def _close(got: torch.Tensor, want: torch.Tensor) -> bool:
    tol = 2e-2 if want.dtype == torch.bfloat16 else 1e-4
    return bool(torch.allclose(got.float(), want.float(), rtol=tol, atol=tol * 1e-2 + 1e-6))


def _name_the_mistake(got: torch.Tensor, mistakes: dict[str, torch.Tensor], fallback: str | None) -> None:
    """Raise Mismatch with the hint of the known mistake `got` reproduces (the closest, if several do), else
    `fallback` (if any)."""
    matches = [((got.float() - wrong.to(got.dtype).float()).abs().max().item(), i, hint)
               for i, (hint, wrong) in enumerate(mistakes.items())
               if wrong.shape == got.shape and _close(got, wrong.to(got.dtype))]
    if matches:
        raise Mismatch(min(matches)[2])  # the smallest difference; ties go to the earlier entry
    if fallback is not None:
        raise Mismatch(fallback)


def _call(student: Callable, *args, what: str, **kwargs):
    """Call the student's function; a shape error from a matrix product gets a hint about weight layout."""
    try:
        return student(*args, **kwargs)
    except NotImplementedError:  # a stub (a RuntimeError too): run_check falls back on the reference
        raise
    except RuntimeError as error:
        if "shape" in str(error) or "size" in str(error):
            raise Mismatch(f"{what} raised a shape error ({str(error).splitlines()[0]}): weights are stored "
                           "(out_features, in_features), as nn.Linear keeps them, so x @ W.T (F.linear(x, W)) "
                           "applies W") from None
        raise


# --------------------------------------------------------------------------- 2.1 RMSNorm


def check_rms_norm(fn: Callable) -> Callable:
    """Exercise 2.1: rms_norm(x, eps=1e-5) -> x / sqrt(mean(x^2 over the last dim) + eps), in float32, cast back."""

    def trial(student: Callable, rng: np.random.Generator) -> None:
        _seed(rng)
        lead = [int(n) for n in rng.integers(2, 6, size=int(rng.integers(1, 4)))]  # 1 to 3 leading axes
        shape = (*lead, int(rng.choice([8, 16, 24])))  # e.g. (S, D), (B, S, D), (B, S, H, D): channels last
        scale = float(10 ** rng.uniform(-3.5, 2))  # small states make eps matter
        dtype = torch.bfloat16 if rng.random() < 0.25 else torch.float32
        x = (torch.randn(shape) * scale + float(rng.normal()) * scale).to(dtype)  # a mean, so LayerNorm differs
        eps = 1e-5 if rng.random() < 0.5 else float(10 ** rng.uniform(-6, -2))
        kwargs = {} if eps == 1e-5 else {"eps": eps}
        want = layers.rms_norm(x, eps)
        got = _output(student(x.clone(), **kwargs), want, "rms_norm(x)")
        if _close(got, want):
            return
        x32 = x.float()
        ms = x32.pow(2).mean(-1, keepdim=True)
        centred = x32 - x32.mean(-1, keepdim=True)
        mistakes = {
            "that subtracts the mean, as LayerNorm does: RMSNorm only divides by the root-mean-square":
                centred * torch.rsqrt(centred.pow(2).mean(-1, keepdim=True) + eps),
            "var() and std() subtract the mean first: RMSNorm divides by sqrt(mean(x^2) + eps), x not centred":
                x32 * torch.rsqrt(x32.var(-1, unbiased=False, keepdim=True) + eps),
            "std() subtracts the mean first: RMSNorm divides by sqrt(mean(x^2) + eps), x not centred":
                x32 / (x32.std(-1, keepdim=True) + eps),
            "that divides by the vector's length: RMSNorm divides by the root of the MEAN of x^2 over the channels":
                x32 / torch.sqrt(x32.pow(2).sum(-1, keepdim=True) + eps),
            "eps belongs inside the square root: x / sqrt(mean(x^2) + eps)": x32 / (ms.sqrt() + eps),
            "eps is missing (or not the one passed in): x / sqrt(mean(x^2) + eps)": x32 * torch.rsqrt(ms),
            **{f"normalise over the last dimension (dim=-1, the channels of each position), not dimension {d} "
               f"of this {x.dim()}-dimensional input": x32 * torch.rsqrt(x32.pow(2).mean(d, keepdim=True) + eps)
               for d in range(x.dim() - 1)},
            "normalise each position over its own channels, not over the whole tensor":
                x32 * torch.rsqrt(x32.pow(2).mean() + eps),
            "use the eps passed in, not a fixed 1e-5": layers.rms_norm(x32, 1e-5),
        }
        _name_the_mistake(got, mistakes, None)
        ratio = got.float() / want.float()
        if torch.allclose(ratio, ratio.flatten()[0].expand_as(ratio), rtol=1e-2):
            raise Mismatch("the result is RMSNorm times a constant: this RMSNorm has no scale (no weight) at all")
        raise Mismatch("the values differ from RMSNorm's on a random batch")

    return run_check("2.1", fn, layers.rms_norm, trial)


# --------------------------------------------------------------------------- 2.2 SwiGLU


def check_swiglu(fn: Callable) -> Callable:
    """Exercise 2.2: swiglu(x, gate_up_weight, down_weight) -> the forward of layers.SwiGLU with those weights."""

    trials = iter(range(10**6))

    def trial(student: Callable, rng: np.random.Generator) -> None:
        _seed(rng)
        hidden = int(rng.choice([8, 16, 32]))
        expansion, multiple = float(rng.choice([1.0, 2.0, 4.0])), int(rng.choice([8, 16]))
        if next(trials) % 4 == 0:  # inner width == hidden: a down weight used untransposed runs without error
            expansion, multiple = 1.0, hidden
        mlp = layers.SwiGLU(hidden, expansion, multiple=multiple)
        x = torch.randn(int(rng.integers(1, 4)), int(rng.integers(2, 6)), hidden)  # (B, S, D)
        W, V = mlp.gate_up_proj.weight.detach(), mlp.down_proj.weight.detach()  # (2I, D), (D, I)
        with torch.no_grad():
            want = mlp(x)
        got = _output(_call(student, x.clone(), W.clone(), V.clone(), what="swiglu"), want, "swiglu(x, ...)")
        if _close(got, want):
            return
        gate, up = F.linear(x, W).chunk(2, dim=-1)
        g2, u2 = F.linear(x, W)[..., 0::2], F.linear(x, W)[..., 1::2]
        down = lambda h: F.linear(h, V)  # noqa: E731
        mistakes = {
            "gate and up are swapped: the FIRST half of the fused projection is the gate, passed through SiLU":
                down(F.silu(up) * gate),
            "that activation is ReLU: SwiGLU gates with SiLU, silu(g) = g * sigmoid(g)": down(F.relu(gate) * up),
            "that activation is GELU: SwiGLU gates with SiLU, silu(g) = g * sigmoid(g)": down(F.gelu(gate) * up),
            "that gate is sigmoid(g) (plain GLU): SwiGLU multiplies by silu(g) = g * sigmoid(g)":
                down(torch.sigmoid(gate) * up),
            "the up half is never used: SwiGLU multiplies silu(gate) by up, element by element": down(F.silu(gate)),
            "the fused projection is split into halves (.chunk(2, dim=-1)), not into even and odd channels":
                down(F.silu(g2) * u2),
        }
        if V.shape[0] == V.shape[1]:  # square down weight: h @ V runs, and is wrong
            mistakes["the down weight is used untransposed: weights are stored (out_features, in_features), so "
                     "h @ W.T (F.linear(h, W)) applies W"] = (F.silu(gate) * up) @ V
        _name_the_mistake(got, mistakes, "the values differ from SwiGLU's with the same weights")

    return run_check("2.2", fn, layers.swiglu, trial)


# --------------------------------------------------------------------------- 2.3 rotary embeddings


def _rotate_half_interleaved(x: torch.Tensor) -> torch.Tensor:
    return torch.stack([-x[..., 1::2], x[..., 0::2]], dim=-1).flatten(-2)


def check_apply_rotary(fn: Callable) -> Callable:
    """Exercise 2.3: apply_rotary(x, cos, sin) for x (B, S, H, d), cos/sin (S, d): as layers.apply_rotary."""

    def trial(student: Callable, rng: np.random.Generator) -> None:
        _seed(rng)
        d = int(rng.choice([4, 8, 16]))
        S = int(rng.integers(3, 9))
        H = S if rng.random() < 0.3 else int(rng.integers(1, 4))  # H == S: a broadcast over heads shows
        cos, sin = layers.RotaryEmbedding(d, S + int(rng.integers(0, 4)), theta=float(rng.choice([100.0, 1e4])))()
        cos, sin = cos[:S], sin[:S]  # (S, d)
        dtype = torch.bfloat16 if rng.random() < 0.25 else torch.float32
        x = torch.randn(int(rng.integers(1, 3)), S, H, d).to(dtype)  # (B, S, H, d)
        want = layers.apply_rotary(x, cos, sin)
        try:
            got = student(x.clone(), cos.clone(), sin.clone())
        except NotImplementedError:
            raise
        except RuntimeError as error:
            if "size" not in str(error) and "shape" not in str(error):
                raise
            raise Mismatch(f"apply_rotary raised a shape error ({str(error).splitlines()[0]}): cos and sin are "
                           "(S, d), one row per position; give them a heads axis, cos[:, None, :], so they "
                           "broadcast over heads") from None
        got = _output(got, want, "apply_rotary(x, cos, sin)")
        if _close(got, want):
            return
        x32 = x.float()
        c, s = cos[:, None, :], sin[:, None, :]  # (S, 1, d)
        half = layers._rotate_half(x32)
        mistakes = {
            "the rotation turns the wrong way: rotate_half(x) is (-x2, x1), minus on the SECOND half":
                x32 * c - half * s,
            "that pairs neighbouring channels (0,1), (2,3): this model pairs channel j with j + d/2 (the two halves)":
                x32 * c + _rotate_half_interleaved(x32) * s,
            "cos and sin are swapped: x * cos + rotate_half(x) * sin": x32 * s + half * c,
        }
        if H == S:  # only then does (S, d) broadcast against (H, d), silently
            mistakes["cos and sin are (S, d), one row per POSITION: they must broadcast over heads "
                     "(cos[:, None, :]), not over positions"] = x32 * cos + half * sin
        _name_the_mistake(got, mistakes, "the values differ from the rotary embedding's")

    return run_check("2.3", fn, layers.apply_rotary, trial)


# --------------------------------------------------------------------------- 2.4 the post-norm block


def check_post_norm_block(fn: Callable) -> Callable:
    """Exercise 2.4: post_norm_block(h, attn, mlp, cos_sin, eps=1e-5) -> layers.TransformerBlock's forward."""

    def trial(student: Callable, rng: np.random.Generator) -> None:
        _seed(rng)
        heads = int(rng.choice([1, 2]))
        D = heads * int(rng.choice([8, 16]))
        S = int(rng.integers(3, 8))
        block = layers.TransformerBlock(D, heads, float(rng.choice([2.0, 4.0])), swiglu_multiple=8)
        cos_sin = layers.RotaryEmbedding(D // heads, S)() if rng.random() < 0.7 else None
        h = torch.randn(int(rng.integers(1, 3)), S, D) * float(rng.choice([0.1, 1.0, 5.0]))  # (B, S, D)
        with torch.no_grad():
            want = block(h, cos_sin)
            got = _output(student(h.clone(), block.self_attn, block.mlp, cos_sin), want, "post_norm_block(h, ...)")
            if _close(got, want):
                return
            attn, mlp, norm = block.self_attn, block.mlp, layers.rms_norm
            pre = h + attn(norm(h), cos_sin)
            a = h + attn(h, cos_sin)
            mistakes = {
                "that is the pre-norm block (h + f(norm(h))): HRM normalises AFTER each residual sum, "
                "h = norm(h + f(h))": pre + mlp(norm(pre)),
                "that is pre-norm with a final norm: HRM normalises after EACH residual sum, h = norm(h + f(h))":
                    norm(pre + mlp(norm(pre))),
                "the block needs two norms, one after each residual sum (attention, then the MLP)": norm(a + mlp(a)),
                "the residuals are missing: each sublayer ADDS to h before the norm, h = norm(h + f(h))":
                    norm(mlp(norm(attn(h, cos_sin)))),
                "the MLP's residual is missing: h = norm(h + mlp(h)) after the attention step":
                    norm(mlp(norm(a))),
                "the attention's residual is missing: h = norm(h + attn(h, cos_sin)) first":
                    (lambda b: norm(b + mlp(b)))(norm(attn(h, cos_sin))),
                "attention comes first, then the MLP":
                    (lambda b: norm(b + attn(b, cos_sin)))(norm(h + mlp(h))),
                "the MLP reads the state AFTER the attention step (the two run in sequence, not in parallel)":
                    norm(a + mlp(h)),
                "the norm goes on the SUM h + f(h), not on the sublayer's output alone":
                    (lambda b: b + norm(mlp(b)))(h + norm(attn(h, cos_sin))),
            }
            _name_the_mistake(got, mistakes, "the values differ from the block's forward with the same parts")

    return run_check("2.4", fn, layers.post_norm_block, trial, trials=12)
