"""Lesson 04's checkers against a right answer and the plausible wrong answers a student writes.

Read by tests/test_checks.py: CASES holds (checker, a right answer, [plausible wrong answers]),
HINTS holds (checker, wrong answer, a phrase its hint must contain).
"""
from __future__ import annotations

from contextlib import nullcontext

import torch

from hrm_minimal import checks
from hrm_minimal.model import InnerCarry


# --------------------------------------------------------------------------- 4.1 segment_forward
def _begin(inner, carry, batch):
    cos_sin = inner.rotary()
    x = inner.input_embeddings(batch["inputs"], batch["puzzle_identifiers"])  # (B, P+S, D)
    return cos_sin, x, carry.z_H, carry.z_L


def _end(inner, z_H, z_L):
    logits = inner.lm_head(z_H)[:, inner.puzzle_emb_len:]
    q = inner.q_head(z_H[:, 0]).float()
    return InnerCarry(z_H.detach(), z_L.detach()), logits, (q[..., 0], q[..., 1])


def _windowed(inner, carry, batch, grad_on, l_inject=lambda z_H, x: z_H + x, h_inject=lambda z_L, x: z_L):
    cfg = inner.config
    cos_sin, x, z_H, z_L = _begin(inner, carry, batch)
    for h in range(cfg.H_cycles):
        for l in range(cfg.L_cycles):
            with nullcontext() if grad_on("L", h, l, cfg) else torch.no_grad():
                z_L = inner.L_level(z_L, l_inject(z_H, x), cos_sin)
        with nullcontext() if grad_on("H", h, None, cfg) else torch.no_grad():
            z_H = inner.H_level(z_H, h_inject(z_L, x), cos_sin)
    return _end(inner, z_H, z_L)


def _last_step(module, h, l, cfg):
    return h == cfg.H_cycles - 1 and (module == "H" or l == cfg.L_cycles - 1)


def segment_right(inner, carry, batch):
    cfg = inner.config
    cos_sin, x, z_H, z_L = _begin(inner, carry, batch)
    with torch.no_grad():
        for h in range(cfg.H_cycles):
            for l in range(cfg.L_cycles):
                if h < cfg.H_cycles - 1 or l < cfg.L_cycles - 1:
                    z_L = inner.L_level(z_L, z_H + x, cos_sin)
            if h < cfg.H_cycles - 1:
                z_H = inner.H_level(z_H, z_L, cos_sin)
    z_L = inner.L_level(z_L, z_H + x, cos_sin)
    z_H = inner.H_level(z_H, z_L, cos_sin)
    return _end(inner, z_H, z_L)


def segment_right_windowed(inner, carry, batch):  # right too: the window as a context per step
    return _windowed(inner, carry, batch, _last_step)


def segment_right_summed(inner, carry, batch):  # right too: one flat loop, injections summed by hand
    cfg = inner.config
    cos_sin, x, z_H, z_L = _begin(inner, carry, batch)
    steps = [(h, l) for h in range(cfg.H_cycles) for l in range(cfg.L_cycles)]
    for i, (h, l) in enumerate(steps):
        final = i == len(steps) - 1
        with torch.set_grad_enabled(final):
            z_L = inner.L_level(z_L + z_H + x, torch.zeros_like(x), cos_sin)
            if l == cfg.L_cycles - 1:
                z_H = inner.H_level(z_H + z_L, torch.zeros_like(z_L), cos_sin)
    return _end(inner, z_H, z_L)


def segment_full_backprop(inner, carry, batch):  # no window: every step keeps its graph
    return _windowed(inner, carry, batch, lambda module, h, l, cfg: True)


def segment_last_cycle(inner, carry, batch):  # the whole last H cycle with gradient (TRM's window)
    return _windowed(inner, carry, batch, lambda module, h, l, cfg: h == cfg.H_cycles - 1)


def segment_last_h_only(inner, carry, batch):  # the last L step under no_grad too
    return _windowed(inner, carry, batch, lambda module, h, l, cfg: module == "H" and h == cfg.H_cycles - 1)


def segment_last_l_each_cycle(inner, carry, batch):  # no_grad on all L steps but each cycle's last
    return _windowed(inner, carry, batch, lambda module, h, l, cfg: module == "H" or l == cfg.L_cycles - 1)


def segment_every_h(inner, carry, batch):  # no_grad only around the L steps but the last: H keeps its graph
    return _windowed(inner, carry, batch, lambda module, h, l, cfg: module == "H" or _last_step(module, h, l, cfg))


def segment_every_l(inner, carry, batch):  # no_grad only around the H steps but the last
    return _windowed(inner, carry, batch, lambda module, h, l, cfg: module == "L" or h == cfg.H_cycles - 1)


def segment_all_no_grad(inner, carry, batch):  # the whole loop under no_grad
    return _windowed(inner, carry, batch, lambda module, h, l, cfg: False)


def segment_x_into_h(inner, carry, batch):  # H fed the input too
    return _windowed(inner, carry, batch, _last_step, h_inject=lambda z_L, x: z_L + x)


def segment_no_z_H_in_l(inner, carry, batch):  # L sees x but not z_H
    return _windowed(inner, carry, batch, _last_step, l_inject=lambda z_H, x: x)


def segment_restart(inner, carry, batch):  # the steps with gradient start again from the carry
    cfg = inner.config
    cos_sin, x, z_H, z_L = _begin(inner, carry, batch)
    with torch.no_grad():
        zh, zl = z_H, z_L
        for h in range(cfg.H_cycles):
            for l in range(cfg.L_cycles):
                if h < cfg.H_cycles - 1 or l < cfg.L_cycles - 1:
                    zl = inner.L_level(zl, zh + x, cos_sin)
            if h < cfg.H_cycles - 1:
                zh = inner.H_level(zh, zl, cos_sin)
    z_L = inner.L_level(z_L, z_H + x, cos_sin)
    z_H = inner.H_level(z_H, z_L, cos_sin)
    return _end(inner, z_H, z_L)


def segment_extra_step(inner, carry, batch):  # the whole schedule without gradient, then one more L and H
    cfg = inner.config
    cos_sin, x, z_H, z_L = _begin(inner, carry, batch)
    with torch.no_grad():
        for _ in range(cfg.H_cycles):
            for _ in range(cfg.L_cycles):
                z_L = inner.L_level(z_L, z_H + x, cos_sin)
            z_H = inner.H_level(z_H, z_L, cos_sin)
    z_L = inner.L_level(z_L, z_H + x, cos_sin)
    z_H = inner.H_level(z_H, z_L, cos_sin)
    return _end(inner, z_H, z_L)


def segment_detach_instead(inner, carry, batch):  # every step with grad, detached before the last: same
    cfg = inner.config                            # gradient, but the earlier steps' graph is built and kept
    cos_sin, x, z_H, z_L = _begin(inner, carry, batch)
    for h in range(cfg.H_cycles):
        for l in range(cfg.L_cycles):
            if h == cfg.H_cycles - 1 and l == cfg.L_cycles - 1:
                z_H, z_L = z_H.detach(), z_L.detach()
            z_L = inner.L_level(z_L, z_H + x, cos_sin)
        z_H = inner.H_level(z_H, z_L, cos_sin)
    return _end(inner, z_H, z_L)


def segment_carry_not_detached(inner, carry, batch):  # the new carry keeps the graph
    new_carry, logits, q = segment_right(inner, carry, batch)
    cfg = inner.config
    cos_sin, x, z_H, z_L = _begin(inner, carry, batch)
    with torch.no_grad():
        for h in range(cfg.H_cycles):
            for l in range(cfg.L_cycles):
                if h < cfg.H_cycles - 1 or l < cfg.L_cycles - 1:
                    z_L = inner.L_level(z_L, z_H + x, cos_sin)
            if h < cfg.H_cycles - 1:
                z_H = inner.H_level(z_H, z_L, cos_sin)
    z_L = inner.L_level(z_L, z_H + x, cos_sin)
    z_H = inner.H_level(z_H, z_L, cos_sin)
    logits = inner.lm_head(z_H)[:, inner.puzzle_emb_len:]
    q = inner.q_head(z_H[:, 0]).float()
    return InnerCarry(z_H, z_L), logits, (q[..., 0], q[..., 1])


def segment_in_place(inner, carry, batch):  # writes the new states into the carry it was given
    new_carry, logits, q = segment_right(inner, carry, batch)
    carry.z_H.copy_(new_carry.z_H)
    carry.z_L.copy_(new_carry.z_L)
    return new_carry, logits, q


def segment_states_only(inner, carry, batch):  # returns the states, not HRMInner's triple
    new_carry, _, _ = segment_right(inner, carry, batch)
    return new_carry.z_H, new_carry.z_L


# --------------------------------------------------------------------------- 4.2 saved_tensor_bytes
def _measure(fn, key, size, grad=True):
    """Run fn under a pack hook; return the sum of size(t) over tensors kept unique by key(t)."""
    seen = {}

    def pack(t):
        seen[key(t) if key is not None else len(seen)] = t
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with nullcontext() if grad else torch.no_grad():
            fn()
    return sum(size(t) for t in seen.values())


def _storage_key(t):
    return (str(t.device), t.untyped_storage().data_ptr())


def bytes_right(fn):
    return _measure(fn, _storage_key, lambda t: t.untyped_storage().nbytes())


def bytes_right_sizes(fn):  # right too: records sizes only (no references kept), storage.size() in bytes
    sizes = {}

    def pack(t):
        sizes[(t.device, t.untyped_storage().data_ptr())] = t.untyped_storage().size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(sizes.values())


def bytes_no_dedup(fn):  # a storage saved twice counted twice
    return _measure(fn, None, lambda t: t.untyped_storage().nbytes())


def bytes_numel(fn):  # elements, not bytes
    return _measure(fn, _storage_key, lambda t: t.untyped_storage().nbytes() // t.element_size())


def bytes_tensor_sizes(fn):  # the saved tensors' own sizes (a view counts only its part)
    return _measure(fn, id, lambda t: t.numel() * t.element_size())


def bytes_tensor_data_ptr(fn):  # keyed by the tensor's address: two views of one storage count it twice
    return _measure(fn, lambda t: t.data_ptr(), lambda t: t.untyped_storage().nbytes())


def bytes_under_no_grad(fn):  # "measuring only": runs fn under no_grad, so nothing is ever saved
    return _measure(fn, _storage_key, lambda t: t.untyped_storage().nbytes(), grad=False)


def bytes_unpack_hook(fn):  # counts in the unpack hook, which only backward calls
    seen = {}

    def unpack(t):
        seen[_storage_key(t)] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(lambda t: t, unpack):
        fn()
    return sum(seen.values())


def bytes_created(fn):  # counts the tensors the forward creates (outputs of every op), not those saved
    from torch.utils._python_dispatch import TorchDispatchMode

    class Outputs(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for t in (out if isinstance(out, (tuple, list)) else [out]):
                if torch.is_tensor(t):
                    self.total += t.numel() * t.element_size()
            return out

    with Outputs() as mode:
        fn()
    return mode.total


def bytes_megabytes(fn):  # MB as a float
    return bytes_right(fn) / 2**20


CASES = [
    (checks.check_segment_forward, segment_right,
     [segment_full_backprop, segment_last_cycle, segment_last_h_only, segment_last_l_each_cycle,
      segment_every_h, segment_every_l, segment_all_no_grad, segment_x_into_h, segment_no_z_H_in_l, segment_restart,
      segment_extra_step,
      segment_detach_instead, segment_carry_not_detached, segment_in_place, segment_states_only]),
    (checks.check_saved_tensor_bytes, bytes_right,
     [bytes_no_dedup, bytes_numel, bytes_tensor_sizes, bytes_tensor_data_ptr, bytes_under_no_grad,
      bytes_unpack_hook, bytes_created, bytes_megabytes]),
    # other right answers, written differently: no wrong answers listed with them
    (checks.check_segment_forward, segment_right_windowed, []),
    (checks.check_segment_forward, segment_right_summed, []),
    (checks.check_saved_tensor_bytes, bytes_right_sizes, []),
]

HINTS = [
    (checks.check_segment_forward, segment_full_backprop, "full backpropagation"),
    (checks.check_segment_forward, segment_last_cycle, "whole last H cycle"),
    (checks.check_segment_forward, segment_last_h_only, "only through the last H step"),
    (checks.check_segment_forward, segment_last_l_each_cycle, "every H step"),
    (checks.check_segment_forward, segment_every_h, "every H step"),
    (checks.check_segment_forward, segment_every_l, "every L step"),
    (checks.check_segment_forward, segment_all_no_grad, "no gradient reaches"),
    (checks.check_segment_forward, segment_x_into_h, "the forward differs"),
    (checks.check_segment_forward, segment_x_into_h, "H never sees x"),
    (checks.check_segment_forward, segment_no_z_H_in_l, "the forward differs"),
    (checks.check_segment_forward, segment_restart, "continue from the states the no-grad steps produced"),
    (checks.check_segment_forward, segment_extra_step, "too many"),
    (checks.check_segment_forward, segment_detach_instead, "torch.no_grad()"),
    (checks.check_segment_forward, segment_carry_not_detached, "detached"),
    (checks.check_segment_forward, segment_in_place, "in place"),
    (checks.check_saved_tensor_bytes, bytes_no_dedup, "counted twice"),
    (checks.check_saved_tensor_bytes, bytes_numel, "not bytes"),
    (checks.check_saved_tensor_bytes, bytes_tensor_sizes, "whole storage"),
    (checks.check_saved_tensor_bytes, bytes_tensor_data_ptr, "counted twice"),
    (checks.check_saved_tensor_bytes, bytes_under_no_grad, "nothing was counted"),
    (checks.check_saved_tensor_bytes, bytes_unpack_hook, "unpack runs only in backward"),
    (checks.check_saved_tensor_bytes, bytes_created, "creates"),
    (checks.check_saved_tensor_bytes, bytes_megabytes, "int"),
]
