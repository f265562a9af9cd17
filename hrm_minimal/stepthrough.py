"""What the step-through explorer shows at one module call of a traced model (lesson 07).

    trace = trace_segments(model, batch, segments=4)
    first, steps = segment_span(trace, segment=2)              # for the step slider of segment 2
    view = step_view(trace, solution, model, segment=2, step=3)  # or call=first + 2
    view.board, view.right, view.changed                       # (S,) each: answer, right cells, new cells
    view.q_halt, view.halt_probability, view.halts            # the Q head, and its decision at a segment's end

Segments and steps are counted from 1, as the explorer shows them; call indices from 0, as in
`hrm_minimal.trace.Trace`. Drawing a view: `hrm_minimal.viz.draw_step`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .model import HRM
from .trace import Trace

HaltRule = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (q_halt, q_continue) -> halt?


@dataclass
class StepView:
    """One module call of one traced puzzle, as the explorer shows it."""

    call: int  # 0-based index of the call in the trace
    segment: int  # 1-based segment
    segments: int  # segments in the trace
    step: int  # 1-based place of the call within its segment
    steps: int  # calls in this segment
    kind: str  # "L" or "H": the module this call updated
    board: np.ndarray  # (S,) tokens: the answer the model would write after this call
    right: np.ndarray  # (S,) bool: board == solution
    changed: np.ndarray  # (S,) bool: board differs from the previous call's (all False at the first call)
    q_halt: float  # Q logits read from the answer state after this call
    q_continue: float
    halts: bool | None  # the Q head's decision at the end of a segment; None mid-segment (Q not read there)

    @property
    def end_of_segment(self) -> bool:
        """True at a segment's last call, where the model reads its answer and its Q head."""
        return self.step == self.steps

    @property
    def num_right(self) -> int:
        return int(self.right.sum())

    @property
    def num_changed(self) -> int:
        return int(self.changed.sum())

    @property
    def halt_probability(self) -> float:
        """sigmoid(q_halt): the Q head's estimate that the answer is right now."""
        return float(1.0 / (1.0 + np.exp(-self.q_halt)))

    @property
    def continue_probability(self) -> float:
        """sigmoid(q_continue): its estimate of the value of going on."""
        return float(1.0 / (1.0 + np.exp(-self.q_continue)))


def segment_span(trace: Trace, segment: int) -> tuple[int, int]:
    """(first call (0-based), number of steps) of `segment` (1-based): the step slider's range."""
    _check_int("segment", segment, 1, trace.num_segments)
    calls = trace.segment_calls(segment - 1)
    return int(calls[0]), len(calls)


def step_view(trace: Trace, solution, halt_rule: HRM | HaltRule, *, segment: int | None = None,
              step: int | None = None, call: int | None = None, index: int = 0) -> StepView:
    """The view of puzzle `index` of the traced batch at one call, named either by `segment` and `step`
    (1-based) or by `call` (0-based). `solution` (S,) tokens; `halt_rule` is the model the trace came
    from (its `q_says_halt` is used) or such a rule itself, (q_halt, q_continue) tensors -> bool tensor.

    `changed` compares with the previous call, across segment boundaries too (a segment starts from the
    state the previous one ended in). At the very first call there is nothing before it: all False.
    For HRM that is also the comparison with the board of the starting state, since the first call is
    an L call and leaves z_H (the answer state) as it started.
    """
    if (call is None) == (segment is None and step is None):
        raise ValueError("name the call either by segment= and step= (1-based) or by call= (0-based), "
                         f"got segment={segment!r}, step={step!r}, call={call!r}")
    if call is None:
        if segment is None or step is None:
            raise ValueError(f"segment and step go together, got segment={segment!r}, step={step!r}")
        first, steps = segment_span(trace, segment)
        _check_int("step", step, 1, steps, f" (segment {segment} has {steps} steps)")
        call = first + step - 1
    else:
        _check_int("call", call, 0, len(trace) - 1)
    B, S = trace.boards.shape[1:]
    _check_int("index", index, 0, B - 1, f" (the trace holds {B} puzzles)")
    solution = np.asarray(solution)
    if solution.shape != (S,):
        raise ValueError(f"solution must be ({S},) tokens, got shape {solution.shape}")
    rule = halt_rule.q_says_halt if isinstance(halt_rule, HRM) else halt_rule
    if not callable(rule):
        raise TypeError(f"halt_rule must be an HRM or a callable, got {type(halt_rule).__name__}")

    seg, within = trace.within(call)  # 0-based
    steps = len(trace.segment_calls(seg))
    board = trace.boards[call, index]  # (S,)
    changed = board != trace.boards[call - 1, index] if call > 0 else np.zeros(S, dtype=bool)
    q_halt, q_continue = float(trace.q_halt[call, index]), float(trace.q_continue[call, index])
    halts = None
    if within == steps - 1:
        halts = bool(rule(torch.tensor([q_halt]), torch.tensor([q_continue]))[0])
    return StepView(call=int(call), segment=seg + 1, segments=trace.num_segments, step=within + 1, steps=steps,
                    kind=trace.kinds[call], board=board.copy(), right=board == solution, changed=changed,
                    q_halt=q_halt, q_continue=q_continue, halts=halts)


def _check_int(name: str, value, low: int, high: int, note: str = "") -> None:
    """ValueError naming `value` unless it is an int in low..high."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an int in {low}..{high}{note}, got {value!r}")
