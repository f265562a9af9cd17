"""Checkers of lesson 04 (the one-step gradient): the segment forward with its gradient window, and a
measurement of what autograd saves for the backward pass.

4.1 builds small random models of the package (`hrm_minimal.model.HRMInner`, varied cycles, layers and
width) and compares the student's segment with `HRMInner.forward` on the same weights and inputs: the
new carry, the logits, the Q values, the gradients of a loss on them, and the bytes autograd keeps.
4.2 runs small random computations and compares the student's count with `hrm_minimal.memory`.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Callable

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from hrm_minimal.config import HRMConfig
from hrm_minimal.memory import saved_tensor_bytes
from hrm_minimal.model import HRMInner, InnerCarry

from .core import Mismatch, run_check

__all__ = ["check_segment_forward", "check_saved_tensor_bytes"]


# --------------------------------------------------------------------------- 4.1 segment_forward


def _inner(rng: np.random.Generator, trial: int) -> HRMInner:
    """A small random HRMInner (cycles 1..3, layers 1..2, hidden 32 or 64) whose Q head carries gradient."""
    torch.manual_seed(int(rng.integers(2**31)))
    cycles = [(1, 1), (2, 1), (1, 2)]  # the first trials: the edge cases of the window
    if trial < len(cycles):
        H_cycles, L_cycles = cycles[trial]
    else:  # then 2..3 x 1..3 or 1..3 x 2..3: a window that leaves steps out
        H_cycles, L_cycles = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        if H_cycles == 1 and L_cycles == 1:
            L_cycles = int(rng.integers(2, 4))
    cfg = HRMConfig(vocab_size=8, seq_len=int(rng.integers(6, 12)), hidden_size=int(rng.choice([32, 64])),
                    num_heads=2, expansion=2.0, swiglu_multiple=16, H_layers=int(rng.integers(1, 3)),
                    L_layers=int(rng.integers(1, 3)), H_cycles=H_cycles, L_cycles=L_cycles, halt_max_steps=2)
    inner = HRMInner(cfg).eval()
    with torch.no_grad():  # the reference zeroes the Q head's weight; give it some so Q's gradient counts
        inner.q_head.weight.normal_(0.0, 0.1)
    return inner


def _heads(inner: HRMInner, z_H: torch.Tensor, z_L: torch.Tensor):
    """What HRMInner.forward returns from the final states: (detached carry, logits, (q_halt, q_continue))."""
    logits = inner.lm_head(z_H)[:, inner.puzzle_emb_len:]  # (B, S, V)
    q = inner.q_head(z_H[:, 0]).float()  # (B, 2)
    return InnerCarry(z_H.detach(), z_L.detach()), logits, (q[..., 0], q[..., 1])


def _variant(inner: HRMInner, carry: InnerCarry, batch: dict, grad_on: Callable[[str, int, int], bool],
             l_inject=lambda z_H, x: z_H + x, h_inject=lambda z_L, x: z_L, restart: bool = False,
             extra: bool = False):
    """A (mostly wrong) segment: `grad_on(module, h, l)` says which calls run with gradient.

    restart: the steps with gradient start again from the carry. extra: the whole schedule runs without
    gradient and one more L and H step follow with it."""
    cfg = inner.config
    cos_sin = inner.rotary()
    x = inner.input_embeddings(batch["inputs"], batch["puzzle_identifiers"])  # (B, P+S, D)
    z_H, z_L = carry.z_H, carry.z_L
    for h in range(cfg.H_cycles):
        for l in range(cfg.L_cycles):
            with nullcontext() if grad_on("L", h, l) else torch.no_grad():
                z_L = inner.L_level(z_L, l_inject(z_H, x), cos_sin)
        with nullcontext() if grad_on("H", h, cfg.L_cycles - 1) else torch.no_grad():
            z_H = inner.H_level(z_H, h_inject(z_L, x), cos_sin)
    if restart:
        z_H, z_L = carry.z_H, carry.z_L
    if restart or extra:
        z_L = inner.L_level(z_L, l_inject(z_H, x), cos_sin)
        z_H = inner.H_level(z_H, h_inject(z_L, x), cos_sin)
    return _heads(inner, z_H, z_L)


def _one_step(inner: HRMInner) -> Callable[[str, int, int], bool]:
    last_h, last_l = inner.config.H_cycles - 1, inner.config.L_cycles - 1
    return lambda module, h, l: h == last_h and l == last_l


def _forward_variants(inner: HRMInner) -> dict[str, dict]:
    """Hint -> keyword arguments of `_variant` for each plausible wrong forward."""
    one = _one_step(inner)
    never = lambda module, h, l: False  # noqa: E731
    return {
        "the forward differs from HRMInner's: H never sees x, z_H <- f_H(z_H + z_L); only L gets the input":
            dict(grad_on=one, h_inject=lambda z_L, x: z_L + x),
        "the forward differs from HRMInner's: L's injection is z_H + x, z_L <- f_L(z_L + z_H + x)":
            dict(grad_on=one, l_inject=lambda z_H, x: x),
        "the forward differs from HRMInner's: L must also get the input x, z_L <- f_L(z_L + z_H + x)":
            dict(grad_on=one, l_inject=lambda z_H, x: z_H),
        "the forward differs from HRMInner's: the steps with gradient must continue from the states the "
        "no-grad steps produced, not start again from the carry": dict(grad_on=never, restart=True),
        "the forward differs from HRMInner's: one L step and one H step too many; the steps with gradient "
        "are the LAST of the H_cycles x L_cycles schedule, not extra steps after it":
            dict(grad_on=never, extra=True),
    }


def _gradient_variants(inner: HRMInner) -> dict[str, Callable[[str, int, int], bool]]:
    """Hint -> gradient window of each plausible wrong window (the forward values are all right)."""
    cfg = inner.config
    last_h, last_l = cfg.H_cycles - 1, cfg.L_cycles - 1
    return {
        "that is full backpropagation through every step: all but the last L step and the last H step run "
        "under torch.no_grad()": lambda module, h, l: True,
        "the gradient flows through the whole last H cycle (all its L steps), as TRM does; HRM keeps only "
        "the LAST L step and the last H step": lambda module, h, l: h == last_h,
        "the gradient flows only through the last H step: the last L step runs with gradient too":
            lambda module, h, l: module == "H" and h == last_h,
        "the gradient flows through every H step and the last L step of each H cycle: only the very last L "
        "step and the very last H step keep it": lambda module, h, l: module == "H" or l == last_l,
        "the gradient flows through every H step: only the last H step (and the last L step) keep it":
            lambda module, h, l: module == "H" or (h == last_h and l == last_l),
        "the gradient flows through every L step: only the last L step (and the last H step) keep it":
            lambda module, h, l: module == "L" or h == last_h,
    }


def _outputs(got: Any):
    """The student's result checked for HRMInner.forward's structure: (carry, logits, (q_halt, q_continue))."""
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        raise Mismatch("segment_forward should return (new_carry, logits, (q_halt, q_continue)), as HRMInner does")
    carry, logits, q = got
    if not (hasattr(carry, "z_H") and hasattr(carry, "z_L")):
        raise Mismatch("the first result should be the new carry, an InnerCarry(z_H, z_L)")
    if not isinstance(q, (tuple, list)) or len(q) != 2 or not all(torch.is_tensor(t) for t in q):
        raise Mismatch("the third result should be the pair (q_halt, q_continue)")
    if not all(torch.is_tensor(t) for t in (carry.z_H, carry.z_L, logits)):
        raise Mismatch("the carry's states and the logits should be tensors")
    return carry, logits, q


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a.detach(), b.detach(), rtol=1e-4, atol=1e-5))


def _same_forward(got, want) -> bool:
    (gc, gl, gq), (wc, wl, wq) = got, want
    return (_close(gc.z_H, wc.z_H) and _close(gc.z_L, wc.z_L) and _close(gl, wl)
            and _close(gq[0], wq[0]) and _close(gq[1], wq[1]))


def _gradients(inner: HRMInner, outputs, weights) -> dict[str, torch.Tensor]:
    """Gradients of every parameter of a fixed random linear loss on (logits, q_halt, q_continue)."""
    _, logits, (q_halt, q_continue) = outputs
    w_logits, w_halt, w_continue = weights
    inner.zero_grad(set_to_none=True)
    loss = (logits * w_logits).sum() + (q_halt * w_halt).sum() + (q_continue * w_continue).sum()
    if loss.requires_grad:
        loss.backward()
    grads = {name: (p.grad.clone() if p.grad is not None else torch.zeros_like(p))
             for name, p in inner.named_parameters()}
    inner.zero_grad(set_to_none=True)
    return grads


def _same_gradients(a: dict, b: dict) -> bool:
    """Equal up to float rounding: per tensor, |a - b| within 1e-4 of |b| (other windows differ by tens of %)."""
    return all(float((a[k] - b[k]).norm()) <= 1e-4 * float(b[k].norm()) + 1e-7 for k in b)


def _modules_get_no_gradient(grads: dict) -> bool:
    return all(float(g.abs().sum()) == 0 for k, g in grads.items() if k.startswith(("L_level", "H_level")))


def _problem(inner: HRMInner, rng: np.random.Generator, mid_run: bool):
    """(carry, batch, loss weights) of a random batch for `inner`."""
    cfg = inner.config
    B = int(rng.integers(2, 5))
    batch = {"inputs": torch.from_numpy(rng.integers(1, cfg.vocab_size, size=(B, cfg.seq_len))),
             "puzzle_identifiers": torch.zeros(B, dtype=torch.long)}
    carry = inner.reset_carry(torch.ones(B, dtype=torch.bool), inner.empty_carry(B))
    if mid_run:  # a carry from the middle of a run
        carry = InnerCarry(carry.z_H + torch.randn_like(carry.z_H), carry.z_L + torch.randn_like(carry.z_L))
    weights = (torch.randn(B, cfg.seq_len, cfg.vocab_size), torch.randn(B), torch.randn(B))
    return carry, batch, weights


def _diagnose_window(student: Callable, rng: np.random.Generator) -> None:
    """Name the student's gradient window on a 2 x 2 model, where every plausible window differs."""
    torch.manual_seed(int(rng.integers(2**31)))
    inner = HRMInner(HRMConfig(vocab_size=8, seq_len=8, hidden_size=32, num_heads=2, expansion=2.0,
                               swiglu_multiple=16, H_layers=1, L_layers=1, H_cycles=2, L_cycles=2,
                               halt_max_steps=2)).eval()
    with torch.no_grad():
        inner.q_head.weight.normal_(0.0, 0.1)
    carry, batch, weights = _problem(inner, rng, mid_run=True)
    got = _gradients(inner, _outputs(student(inner, InnerCarry(carry.z_H, carry.z_L), dict(batch))), weights)
    for hint, window in _gradient_variants(inner).items():
        if _same_gradients(got, _gradients(inner, _variant(inner, carry, batch, window), weights)):
            raise Mismatch(hint)


def check_segment_forward(fn: Callable) -> Callable:
    """Exercise 4.1: segment_forward(inner, carry, batch) -> HRMInner.forward's result, one-step gradient."""

    def reference(inner: HRMInner, carry: InnerCarry, batch: dict):
        return inner(carry, batch)  # the package's segment (one_step_grad=True)

    counter = {"trial": 0}

    def trial(student: Callable, rng: np.random.Generator) -> None:
        inner = _inner(rng, counter["trial"])
        counter["trial"] += 1
        carry, batch, weights = _problem(inner, rng, mid_run=bool(rng.random() < 0.5))
        z_H0, z_L0 = carry.z_H.clone(), carry.z_L.clone()

        kept: dict[str, Any] = {}
        want_bytes = saved_tensor_bytes(lambda: kept.__setitem__("want", reference(inner, carry, batch)))
        want = kept["want"]
        want_grads = _gradients(inner, want, weights)
        got_bytes = saved_tensor_bytes(
            lambda: kept.__setitem__("got", student(inner, InnerCarry(carry.z_H, carry.z_L), dict(batch))))
        got = _outputs(kept["got"])
        if not (torch.equal(carry.z_H, z_H0) and torch.equal(carry.z_L, z_L0)):
            raise Mismatch("your function changed the carry it was given in place; compute new states instead")
        if got[0].z_H.shape != want[0].z_H.shape or got[1].shape != want[1].shape:
            raise Mismatch(f"shapes differ: z_H {tuple(got[0].z_H.shape)} (expected {tuple(want[0].z_H.shape)}), "
                           f"logits {tuple(got[1].shape)} (expected {tuple(want[1].shape)})")
        if got[1].dtype != want[1].dtype or got[2][0].dtype != torch.float32:
            raise Mismatch("dtypes differ: the logits keep the model's dtype and the Q values are float32")
        if not _same_forward(got, want):
            with torch.no_grad():
                for hint, kwargs in _forward_variants(inner).items():
                    if _same_forward(got, _variant(inner, carry, batch, **kwargs)):
                        raise Mismatch(hint)
            raise Mismatch("the forward differs from HRMInner's with the same weights: run L_cycles L updates "
                           "z_L <- f_L(z_L + z_H + x), then one H update z_H <- f_H(z_H + z_L), H_cycles times")
        if got[0].z_H.requires_grad or got[0].z_L.requires_grad:
            raise Mismatch("the new carry must be detached: no graph may cross from one segment to the next")
        got_grads = _gradients(inner, got, weights)
        if not _same_gradients(got_grads, want_grads):
            if _modules_get_no_gradient(got_grads):
                raise Mismatch("no gradient reaches the L and H modules: the last L step and the last H step "
                               "must run with gradient (outside torch.no_grad(), and not detached)")
            _diagnose_window(student, rng)
            raise Mismatch("the values are right but the gradients differ from HRMInner's: only the last L step "
                           "and the last H step may run with gradient")
        if got_bytes > 1.1 * want_bytes:
            raise Mismatch("the gradients are right, but your segment records a graph for the steps before the "
                           "last: run them under torch.no_grad() (detaching afterwards gives the same gradient "
                           "but keeps their activations until then)")

    return run_check("4.1", fn, reference, trial, trials=12)


# --------------------------------------------------------------------------- 4.2 saved_tensor_bytes


class _Outputs(TorchDispatchMode):
    """Records every tensor an operation creates (what a 'count the forward's tensors' answer counts)."""

    def __init__(self) -> None:
        super().__init__()
        self.tensors: list[torch.Tensor] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in (out if isinstance(out, (tuple, list)) else [out]):
            if torch.is_tensor(t):
                self.tensors.append(t)
        return out


def _dtype(rng: np.random.Generator) -> torch.dtype:
    return [torch.float32, torch.float64, torch.bfloat16][int(rng.integers(3))]


def _closure(rng: np.random.Generator, trial: int) -> Callable[[], torch.Tensor]:
    """A random small computation (a closure returning a loss) mixing ops that save 0, 1 or 2 tensors,
    tensors saved twice and views; every fifth runs under torch.no_grad(), every fourth is a model."""
    g = torch.Generator().manual_seed(int(rng.integers(2**31)))
    dtype = _dtype(rng)
    n, m, k = (int(v) for v in rng.integers(3, 12, size=3))

    def leaf(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float32).to(dtype).requires_grad_(True)

    if trial % 4 == 3:  # a real segment: a small HRMInner, one-step or full backprop
        torch.manual_seed(int(rng.integers(2**31)))
        cfg = HRMConfig(vocab_size=6, seq_len=int(rng.integers(4, 10)), hidden_size=32, num_heads=2, expansion=2.0,
                        swiglu_multiple=16, H_layers=1, L_layers=1, H_cycles=2, L_cycles=2,
                        one_step_grad=bool(rng.random() < 0.5))
        inner = HRMInner(cfg)
        B = int(rng.integers(1, 4))
        batch = {"inputs": torch.randint(1, 6, (B, cfg.seq_len), generator=g),
                 "puzzle_identifiers": torch.zeros(B, dtype=torch.long)}
        carry = inner.reset_carry(torch.ones(B, dtype=torch.bool), inner.empty_carry(B))
        return lambda: inner(carry, batch)[1].square().mean()

    a, b, w = leaf(n, m), leaf(n, m), leaf(m, k)
    big = leaf(n + 2, m)
    split = int(rng.integers(1, n + 1))
    const = torch.randn(n, m, generator=g).to(dtype)  # no gradient: not saved by the ops that use it
    no_grad = trial % 5 == 4

    def fn():
        with torch.no_grad() if no_grad else nullcontext():
            same_twice = (a * a).sum()  # mul saves both factors: here the same tensor, twice
            top, bottom = big[:split], big[split:]  # two views of one storage
            views = top.sin().sum() + bottom.pow(3).sum()  # sin and pow save their (view) inputs
            product = torch.tanh((a + b) @ w).sum()  # add saves nothing; mm saves both; tanh its output
            plain = (b * const).sum() + (a + const).sum()  # saves const (no grad); the sum of a + const: none
            return same_twice + views + product + plain

    return fn


def _packed(fn: Callable) -> list[torch.Tensor]:
    """Every tensor autograd packed while fn ran, in order (duplicates kept)."""
    packed: list[torch.Tensor] = []

    def pack(t):
        packed.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return packed


def _wrong_counts(fn: Callable) -> dict[str, int]:
    """Hint -> what each plausible wrong measurement of fn gives."""
    packed = _packed(fn)
    storages = {(str(t.device), t.untyped_storage().data_ptr()): t for t in packed}
    with _Outputs() as mode:
        fn()
    created = mode.tensors
    created_storages = {(str(t.device), t.untyped_storage().data_ptr()): t for t in created}
    return {
        "a storage saved twice is counted twice: count each distinct storage once (key: device and "
        "untyped_storage().data_ptr())": sum(t.untyped_storage().nbytes() for t in packed),
        "two views of one storage are counted twice: key each storage by untyped_storage().data_ptr(), not by "
        "the tensor's own data_ptr()": sum(t.untyped_storage().nbytes() for t in
                                           {(str(t.device), t.data_ptr()): t for t in packed}.values()),
        "that counts elements, not bytes: multiply by the element size (or use untyped_storage().nbytes())":
            sum(t.numel() for t in storages.values()),
        "that counts elements, not bytes (each tensor as often as it is saved): use untyped_storage().nbytes() "
        "of each distinct storage": sum(t.numel() for t in packed),
        "that counts elements of the storages, not bytes: use untyped_storage().nbytes()":
            sum(t.untyped_storage().nbytes() // t.element_size() for t in storages.values()),
        "that counts the saved tensors' own sizes; a view keeps its whole storage alive, so count "
        "untyped_storage().nbytes() once per storage": sum(t.numel() * t.element_size() for t in packed),
        "that counts each saved tensor's own size (views count only their part); count the whole storage, "
        "untyped_storage().nbytes(), once per storage":
            sum(t.numel() * t.element_size() for t in {id(t): t for t in packed}.values()),
        "each storage is counted once, but at the size of the tensor saved from it; a view keeps its whole "
        "storage alive, so count untyped_storage().nbytes()": sum(t.numel() * t.element_size()
                                                                  for t in storages.values()),
        "each storage is counted once, but at the size of the first tensor saved from it; a view keeps its "
        "whole storage alive, so count untyped_storage().nbytes()": sum(
            t.numel() * t.element_size() for t in {(str(t.device), t.untyped_storage().data_ptr()): t
                                                   for t in reversed(packed)}.values()),
        "that counts the tensors the forward creates, not those autograd saves for backward: count what "
        "passes through the pack hook of saved_tensors_hooks": sum(t.untyped_storage().nbytes() for t in
                                                                   created_storages.values()),
        "that counts every tensor the forward creates, not those autograd saves for backward: count what "
        "passes through the pack hook of saved_tensors_hooks": sum(t.numel() * t.element_size() for t in created),
    }


def check_saved_tensor_bytes(fn: Callable) -> Callable:
    """Exercise 4.2: saved_tensor_bytes(fn) -> bytes (int) of the distinct storages autograd saves while fn() runs."""
    counter = {"trial": 0}

    def trial(student: Callable, rng: np.random.Generator) -> None:
        closure = _closure(rng, counter["trial"])
        counter["trial"] += 1
        want = saved_tensor_bytes(closure)
        got = student(closure)
        if isinstance(got, bool) or not isinstance(got, (int, np.integer)):
            if isinstance(got, float) and got == int(got) and int(got) == want:
                raise Mismatch("return the bytes as a Python int, not a float")
            raise Mismatch(f"saved_tensor_bytes should return a number of bytes as an int, got {type(got).__name__}")
        got = int(got)
        if got == want:
            return
        if want == 0:
            raise Mismatch("under torch.no_grad() autograd saves nothing, so the answer is 0: count only what "
                           "passes through the pack hook")
        if got == 0:
            raise Mismatch("nothing was counted: run fn() with gradients on (not under torch.no_grad()) and count "
                           "in the pack hook, which autograd calls in the forward (unpack runs only in backward)")
        for hint, value in _wrong_counts(closure).items():
            if got == value:
                raise Mismatch(hint)
        raise Mismatch("the count differs from the bytes of the distinct storages autograd saved")

    return run_check("4.2", fn, saved_tensor_bytes, trial, trials=15)
