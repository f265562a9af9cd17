"""Checkers of lesson 03 (recurrence and the two-level hierarchy): the flat recurrence, one HRM segment.

Both build small random models of the package (`hrm_minimal.model.HRMInner`) and compare the
student's loop with the package's forward on the same weights and inputs, without gradient (the
gradient window is lesson 04's subject): 3.1 with the flat model's segment, 3.2 with the new carry
and the logits of `HRMInner.forward`. Both refuse a function that changes the tensors it is given.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from hrm_minimal.config import HRMConfig
from hrm_minimal.model import HRMInner, InnerCarry

from .core import Mismatch, run_check

__all__ = ["check_flat_recurrence", "check_hrm_segment"]


def _inner(rng: np.random.Generator, **overrides) -> HRMInner:
    """A small random HRMInner (cycles 1..3, layers 1..2, hidden 32 or 64), seeded from `rng`."""
    torch.manual_seed(int(rng.integers(2**31)))
    hidden = int(rng.choice([32, 64]))
    cfg = dict(vocab_size=8, seq_len=int(rng.integers(4, 10)), hidden_size=hidden, num_heads=2, expansion=2.0,
               swiglu_multiple=16, H_layers=int(rng.integers(1, 3)), L_layers=int(rng.integers(1, 3)),
               H_cycles=int(rng.integers(1, 4)), L_cycles=int(rng.integers(1, 4)), halt_max_steps=2)
    return HRMInner(HRMConfig(**{**cfg, **overrides})).eval()


def _batch(inner: HRMInner, rng: np.random.Generator) -> dict:
    """A batch of 1..3 random puzzles' tokens: {"inputs": (B, S), "puzzle_identifiers": (B,)}."""
    cfg = inner.config
    inputs = torch.from_numpy(rng.integers(1, cfg.vocab_size, size=(int(rng.integers(1, 4)), cfg.seq_len)))
    return {"inputs": inputs, "puzzle_identifiers": torch.zeros(inputs.shape[0], dtype=torch.long)}


def _x(inner: HRMInner, batch: dict) -> torch.Tensor:
    """The batch's input embeddings: (B, P+S, D)."""
    return inner.input_embeddings(batch["inputs"], batch["puzzle_identifiers"])


def _untouched(given: dict, kept: dict) -> None:
    """Mismatch if the student's function changed one of the tensors it was given."""
    for name, tensor in given.items():
        if not torch.equal(tensor, kept[name]):
            raise Mismatch(f"your function changed its argument {name} in place (e.g. `{name} += ...`); "
                           f"build new tensors instead (`{name} = {name} + ...`): the caller still needs it")


def _states(got, what: str, n: int) -> tuple:
    """The student's result as a tuple of n tensors (Mismatch otherwise)."""
    if n == 1:
        got = (got,)
    if not isinstance(got, (tuple, list)) or len(got) != n or not all(torch.is_tensor(t) for t in got):
        raise Mismatch(f"{what} should return {'a tensor' if n == 1 else f'a tuple of {n} tensors'}")
    return tuple(t.detach() for t in got)


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=1e-4, atol=1e-5))


# --------------------------------------------------------------------------- 3.1 the flat recurrence


def _flat_reference(f: Callable, z: torch.Tensor, x: torch.Tensor, steps: int) -> torch.Tensor:
    """z <- f(z + x), `steps` times (what HRMInner._flat_segment does with f = L's blocks)."""
    for _ in range(steps):
        z = f(z + x)
    return z


def check_flat_recurrence(fn: Callable) -> Callable:
    """Exercise 3.1: flat_recurrence(f, z, x, steps) -> z after `steps` updates z <- f(z + x)."""

    def trial(student: Callable, rng: np.random.Generator) -> None:
        inner = _inner(rng, architecture="flat", H_cycles=int(rng.integers(1, 3)), L_cycles=int(rng.integers(1, 3)))
        cos_sin = inner.rotary()

        def f(h: torch.Tensor) -> torch.Tensor:  # L's blocks, no injection: f(h)
            return inner.L_level(h, torch.zeros_like(h), cos_sin)

        with torch.no_grad():
            x = _x(inner, _batch(inner, rng))  # (B, P+S, D)
            z0 = inner.reset_carry(torch.ones(x.shape[0], dtype=torch.bool), inner.empty_carry(x.shape[0])).z_L
            if rng.random() < 0.5:  # a state from the middle of a run
                z0 = z0 + torch.randn_like(z0)
            steps = inner.config.flat_steps
            want = inner._flat_segment(z0, x, cos_sin)  # the package's flat model, same weights
            given = {"z": z0.clone(), "x": x.clone()}
            result = student(f, given["z"], given["x"], steps)
            _untouched(given, {"z": z0, "x": x})
            (got,) = _states(result, "flat_recurrence", 1)
            if _same(got, want):
                return
            mistakes = {
                "x is added only at the first step: the input is injected at EVERY step, z <- f(z + x)":
                    _flat_reference(f, f(z0 + x), torch.zeros_like(x), steps - 1),
                "x is injected twice: f(z + x) adds it once, do not add it again to the result":
                    _flat_reference(lambda h: f(h) + x, z0, x, steps),
                "x is injected twice per step: add it once, z <- f(z + x)":
                    _flat_reference(lambda h: f(h + x), z0, x, steps),
                "the injection goes in BEFORE f: z <- f(z + x), not f(z) + x":
                    _flat_reference(lambda h: f(h - x) + x, z0, x, steps),
                "one step too few: run `steps` updates": _flat_reference(f, z0, x, steps - 1),
                "one step too many: run `steps` updates": _flat_reference(f, z0, x, steps + 1),
                "that is the starting state: return z after the last update": z0,
                "that is the state after the FIRST step: feed each new z back into the next step "
                "(z <- f(z + x) from the previous step's z) and return the last one":
                    f(z0 + x) if steps > 1 else z0,
                "each step reads x alone: the recurrence feeds z back in, z <- f(z + x)": f(x),
            }
            for hint, wrong in mistakes.items():
                if _same(got, wrong):
                    raise Mismatch(hint)
            raise Mismatch("the final state differs from the flat model's with the same weights")

    return run_check("3.1", fn, _flat_reference, trial, trials=10)


# --------------------------------------------------------------------------- 3.2 one HRM segment


def _segment_reference(inner: HRMInner, z_H: torch.Tensor, z_L: torch.Tensor, x: torch.Tensor, cos_sin):
    """One segment of the package's HRMInner on these states: (z_H, z_L) (what its forward runs)."""
    return inner.segment(z_H, z_L, x, cos_sin)


def check_hrm_segment(fn: Callable) -> Callable:
    """Exercise 3.2: hrm_segment(inner, z_H, z_L, x, cos_sin) -> (z_H, z_L) after one segment of HRMInner."""

    def trial(student: Callable, rng: np.random.Generator) -> None:
        inner = _inner(rng)
        cfg = inner.config
        if rng.random() < 0.5:  # unequal cycle counts, so swapping them shows
            cfg.H_cycles, cfg.L_cycles = int(rng.integers(1, 3)), int(rng.integers(2, 4))
            if cfg.H_cycles == cfg.L_cycles:
                cfg.L_cycles += 1
        cos_sin = inner.rotary()
        P = inner.puzzle_emb_len
        with torch.no_grad():
            batch = _batch(inner, rng)
            x = _x(inner, batch)  # (B, P+S, D)
            B = x.shape[0]
            start = inner.reset_carry(torch.ones(B, dtype=torch.bool), inner.empty_carry(B))
            z_H, z_L = start.z_H, start.z_L
            if rng.random() < 0.5:  # a state from the middle of a run
                z_H, z_L = z_H + torch.randn_like(z_H), z_L + torch.randn_like(z_L)
            # The package's forward on the same weights: its new carry and the logits it writes.
            carry, want_logits, _ = inner(InnerCarry(z_H, z_L), batch)
            want_H, want_L = carry.z_H, carry.z_L
            given = {"z_H": z_H.clone(), "z_L": z_L.clone(), "x": x.clone()}
            result = student(inner, given["z_H"], given["z_L"], given["x"], cos_sin)
            _untouched(given, {"z_H": z_H, "z_L": z_L, "x": x})
            got_H, got_L = _states(result, "hrm_segment", 2)
            if _same(got_H, want_L) and _same(got_L, want_H):
                raise Mismatch("the two states come back swapped: return (z_H, z_L)")
            if _same(got_H, want_H) and _same(got_L, want_L):
                if not _same(inner.lm_head(got_H)[:, P:], want_logits):  # (B, S, V): what the model writes
                    raise Mismatch("the logits read from your z_H differ from the model's")
                return
            L, H = inner.L_level, inner.H_level

            def run(order: str, l_inject, h_inject, h_cycles=cfg.H_cycles, l_cycles=cfg.L_cycles):
                zh, zl = z_H, z_L
                for _ in range(h_cycles):
                    if order == "HL":
                        zh = H(zh, h_inject(zh, zl), cos_sin)
                    for _ in range(l_cycles):
                        zl = L(zl, l_inject(zh, zl), cos_sin)
                    if order == "LH":
                        zh = H(zh, h_inject(zh, zl), cos_sin)
                return zh, zl

            right_l = lambda zh, zl: zh + x  # noqa: E731
            right_h = lambda zh, zl: zl  # noqa: E731
            mistakes = {
                "H never sees x: z_H <- f_H(z_H + z_L); only L gets the input": run("LH", right_l, lambda zh, zl: zl + x),
                "L's injection is z_H + x: z_L <- f_L(z_L + z_H + x)": run("LH", lambda zh, zl: x, right_h),
                "L must also get the input x: z_L <- f_L(z_L + z_H + x)": run("LH", lambda zh, zl: zh, right_h),
                "H updates after its L_cycles L updates, not before": run("HL", right_l, right_h),
                "L runs L_cycles times for EACH H update (the L loop sits inside the H loop)":
                    run("LH", right_l, right_h, l_cycles=1),
                "H_cycles and L_cycles are swapped: H_cycles counts H updates, L_cycles the L updates per H update":
                    run("LH", right_l, right_h, h_cycles=cfg.L_cycles, l_cycles=cfg.H_cycles),
            }
            zh, zl = z_H, z_L
            for _ in range(cfg.H_cycles * cfg.L_cycles):
                zl = L(zl, zh + x, cos_sin)
            for _ in range(cfg.H_cycles):
                zh = H(zh, zl, cos_sin)
            mistakes["H updates between the L runs: L_cycles L updates, then one H update, H_cycles times over"] = (
                zh, zl)
            zh, zl = z_H, z_L
            for _ in range(cfg.H_cycles):
                before = zl
                for _ in range(cfg.L_cycles):
                    zl = L(zl, zh + x, cos_sin)
                zh = H(zh, before, cos_sin)
            mistakes["H must read the z_L its L updates just produced, not the z_L from before them"] = (zh, zl)
            zh, zl = z_H, z_L
            for _ in range(cfg.L_cycles):
                for _ in range(cfg.H_cycles):
                    zh = H(zh, zl, cos_sin)
                zl = L(zl, zh + x, cos_sin)
            mistakes["the loops are nested the wrong way round: the L loop (L_cycles) goes inside the H loop "
                     "(H_cycles), and each H update comes after its L updates"] = (zh, zl)
            mistakes["H updates once per L_cycles L updates, not after every L update"] = run(
                "LH", right_l, right_h, h_cycles=cfg.H_cycles * cfg.L_cycles, l_cycles=1)
            mistakes["L reads the z_H of the latest H update, not the one the segment started from"] = run(
                "LH", lambda zh, zl: z_H + x, right_h)
            zh, zl = z_H, z_L
            for _ in range(cfg.H_cycles):
                for _ in range(cfg.L_cycles):
                    zl = L(zl + zh + x, zh + x, cos_sin)
                zh = H(zh + zl, zl, cos_sin)
            mistakes["the injection is added twice: the module adds it itself, so pass the state and the "
                     "injection apart, module(state, injection, cos_sin)"] = (zh, zl)
            for hint, (wrong_H, wrong_L) in mistakes.items():
                if _same(got_H, wrong_H) and _same(got_L, wrong_L):
                    raise Mismatch(hint)
            if _same(got_L, want_L):
                raise Mismatch("z_L is right but z_H differs: z_H <- f_H(z_H + z_L), after the L updates")
            raise Mismatch("the states differ from HRMInner's segment with the same weights")

    return run_check("3.2", fn, _segment_reference, trial, trials=12)
