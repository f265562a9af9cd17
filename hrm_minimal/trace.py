"""Record what happens inside segments: every module call's forward residual and the board it leads to.

    trace = trace_segments(model, batch, segments=8)
    trace.kinds       # ["L", "L", "H", "L", "L", "H", ...]: which module each call updated, in order
    trace.residual    # (calls,) mean relative change ||z_new - z_old|| / ||z_old|| of the state it updated
    trace.boards      # (calls, B, S) the answer the model would write after each call (argmax of lm_head)
    trace.q_halt      # (calls, B) the Q head read from the same state: halt and continue logits
    trace.q_continue
    trace.within(5)   # (segment, step): where call 5 lies, both 0-based; trace.call_at(0, 5) == 5

The model runs unchanged (evaluation mode, no gradient); forward hooks on its L and H modules watch
each call, so the states recorded are exactly the ones `HRMInner.forward` computes. For HRM the
answer is read from z_H, which only an H call changes; for the flat model (architecture="flat")
from its one state z_L. The Q values are what `HRMInner.forward` computes from that state at the end
of a segment, so at a segment's last call they are the Q logits the model returned for the segment;
at other calls they are what the Q head would say if the segment stopped there.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .model import HRM


@dataclass
class Trace:
    """Per module call, in the order the model made them."""

    kinds: list[str]  # "L" or "H"
    segment: np.ndarray  # (calls,) 0-based segment of each call
    residual: np.ndarray  # (calls,) mean over puzzles of ||z_new - z_old|| / ||z_old||
    boards: np.ndarray  # (calls, B, S) argmax tokens of the answer state after the call
    q_halt: np.ndarray  # (calls, B) float32 Q-halt logit read from the answer state after the call
    q_continue: np.ndarray  # (calls, B) float32 Q-continue logit, likewise

    def __len__(self) -> int:
        return len(self.kinds)

    @property
    def num_segments(self) -> int:
        """Number of segments traced."""
        return int(self.segment[-1]) + 1 if len(self) else 0

    def segment_calls(self, segment: int) -> np.ndarray:
        """Indices (0-based, consecutive) of the calls of `segment` (0-based)."""
        _check_index("segment", segment, self.num_segments)
        return np.flatnonzero(self.segment == segment)

    def within(self, call: int) -> tuple[int, int]:
        """(segment, step) of `call`, both 0-based: the step is the call's place within its segment."""
        _check_index("call", call, len(self))
        segment = int(self.segment[call])
        return segment, int(call - self.segment_calls(segment)[0])

    def call_at(self, segment: int, step: int) -> int:
        """The call (0-based) that is step `step` of segment `segment` (both 0-based); inverse of `within`."""
        calls = self.segment_calls(segment)
        _check_index("step", step, len(calls), f" (segment {segment} has {len(calls)} calls)")
        return int(calls[step])

    def calls(self, kind: str) -> np.ndarray:
        """Indices (0-based) of the calls to module `kind` ("L" or "H")."""
        if kind not in ("L", "H"):
            raise ValueError(f"kind must be 'L' or 'H', got {kind!r}")
        return np.array([i for i, k in enumerate(self.kinds) if k == kind], dtype=int)


def _check_index(name: str, value, count: int, note: str = "") -> None:
    """ValueError naming `value` unless it is an int in 0..count-1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < count:
        raise ValueError(f"{name} must be an int in 0..{count - 1}{note}, got {value!r}")


def _relative_change(old: torch.Tensor, new: torch.Tensor) -> float:
    """Mean over the batch of ||new - old|| / ||old||, each norm over all positions and channels."""
    diff = (new - old).flatten(1).norm(dim=1)  # (B,)
    return float((diff / old.flatten(1).norm(dim=1).clamp_min(1e-12)).mean())


@torch.no_grad()
def trace_segments(model: HRM, batch: dict, segments: int) -> Trace:
    """Run `segments` segments of `model` on `batch` from a fresh carry and record every module call."""
    if not isinstance(model, HRM):
        raise TypeError(f"trace_segments expects an hrm_minimal.model.HRM, got {type(model).__name__}")
    if model.config.architecture == "trm":
        raise ValueError("trace_segments reads HRM's and the flat model's calls; the TRM-style model "
                         "(architecture='trm') calls one module for both of its steps and is not traced yet")
    if isinstance(segments, bool) or not isinstance(segments, int) or segments < 1:
        raise ValueError(f"segments must be a positive int, got {segments!r}")
    inner = model.inner
    flat = model.config.architecture == "flat"
    kinds: list[str] = []
    residuals: list[float] = []
    answers: list[torch.Tensor] = []  # the answer state after each call, (B, P+S, D)
    answer = {"state": None}  # the latest z_H (HRM) seen by the hooks

    def watch(kind: str):
        def hook(module, args, output):
            old = args[0]  # the state before the call (the injection is added inside the module)
            kinds.append(kind)
            residuals.append(_relative_change(old, output))
            if kind == "H" or flat:
                answer["state"] = output
            answers.append(answer["state"])
        return hook

    handles = [inner.L_level.register_forward_hook(watch("L"))]
    if inner.H_level is not None:
        handles.append(inner.H_level.register_forward_hook(watch("H")))
    was_training = model.training
    model.eval()
    segment_of: list[int] = []
    try:
        carry = model.initial_carry(batch)
        for s in range(segments):
            # Before a segment's first call the answer is the state it starts from.
            start = inner.reset_carry(carry.halted, carry.inner_carry)
            answer["state"] = start.z_L if flat else start.z_H
            before = len(kinds)
            carry, _ = model(carry, batch, max_steps=segments)
            segment_of += [s] * (len(kinds) - before)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    P = inner.puzzle_emb_len
    boards = torch.stack([inner.lm_head(a)[:, P:].argmax(-1) for a in answers])  # (calls, B, S)
    q = torch.stack([inner.q_head(a[:, 0]).float() for a in answers])  # (calls, B, 2), as HRMInner.forward
    return Trace(kinds, np.array(segment_of), np.array(residuals), boards.cpu().numpy(),
                 q[..., 0].cpu().numpy(), q[..., 1].cpu().numpy())
