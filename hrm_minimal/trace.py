"""Record what happens inside segments: every module call's forward residual, the board it leads to and,
on request, the states themselves (the trajectory).

    trace = trace_segments(model, batch, segments=8)
    trace.kinds       # ["L", "L", "H", "L", "L", "H", ...]: which state each call updated, in order
    trace.residual    # (calls,) mean relative change ||z_new - z_old|| / ||z_old|| of the state it updated
    trace.boards      # (calls, B, S) the answer the model would write after each call (argmax of lm_head)
    trace.q_halt      # (calls, B) the Q head read from the same state: halt and continue logits
    trace.q_continue
    trace.within(5)   # (segment, step): where call 5 lies, both 0-based; trace.call_at(0, 5) == 5

Per segment, always recorded (cheap):

    trace.start_boards        # (B, S) the board read from the starting state, before the first call
    trace.segment_boards      # (segments, B, S) the model's answer at each segment's end (its logits' argmax)
    trace.segment_q_halt      # (segments, B) the Q logits the model returned for each segment
    trace.segment_q_continue
    trace.z_H_movement()      # (segments, B) ||z_H(end) - z_H(start)|| / ||z_H(start)|| of each segment
    trace.z_L_movement()      # (segments, B) the same for z_L (the flat model's answer state)
    trace.cells_wrong(labels)       # (segments, B) cells of each segment's answer that differ from the solution
    trace.cells_changed()           # (segments, B) cells each segment changed (segment 1: from start_boards)
    trace.settled_segment()         # (B,) 1-based: the first segment from which the answer never changes
    trace.settled_segment(labels)   # (B,) 1-based: the first from which it is the solution; 0 if never
    trace.kept_changing()           # (B,) the last segment still changed the answer
    trace.jumps(labels)             # (segments, B) cells wrong just before a segment that made the board right

The states (float32 numpy), on request with `states=`:

    trace_segments(model, batch, 16, states="segments")  # trace.segment_z_H, trace.segment_z_L: (segments, B, P+S, D)
    trace_segments(model, batch, 16, states="calls")     # also trace.z_H, trace.z_L: (calls, B, P+S, D)
    trace_puzzles(model, inputs, 16, states="segments", batch_size=250)  # many puzzles, in batches

Each state array takes 4 bytes x (segments or calls) x B x (P+S) x D. The shipped 6x6 model's whole
test split (1,000 puzzles, 16 segments, P+S = 37, D = 64) with states="segments": 152 MB per level,
337 MB for the whole Trace, about 8 s on a 2-core CPU (untraced: about 7 s); states="calls" would take
six times as much (96 calls): 1.8 GB.

The model runs unchanged (evaluation mode, no gradient); forward hooks on its modules watch each call,
so the states recorded are exactly the ones `HRMInner.forward` computes (the hooks only read). A call
is labelled by the state it updates, the one it was handed and replaced: "L" for z_L, "H" for z_H.
For HRM that is the module (L_level updates z_L, H_level z_H); for the TRM-style model
(architecture="trm"), whose one network updates both, the latent z (held in z_L, L_cycles calls per
cycle) is "L" and the answer y (held in z_H, one call per cycle) is "H". The answer is read from z_H
(HRM, TRM: only an "H" call changes it) or, for the flat model (architecture="flat"), from its one
state z_L, which every call updates (its z_H stays at H_init). The Q values are what
`HRMInner.forward` computes from that state at the end of a segment, so at a segment's last call they
are the Q logits the model returned for the segment; at other calls they are what the Q head would
say if the segment stopped there.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .data.puzzle_set import IGNORE_LABEL_ID
from .model import HRM

STATES = ("none", "segments", "calls")


@dataclass
class Trace:
    """Per module call, in the order the model made them; then per segment; then the states if recorded.
    B puzzles, S cells, P puzzle-embedding positions, D hidden size."""

    kinds: list[str]  # "L" or "H": the state the call updated (z_L or z_H)
    segment: np.ndarray  # (calls,) 0-based segment of each call
    residual: np.ndarray  # (calls,) mean over puzzles of ||z_new - z_old|| / ||z_old||
    boards: np.ndarray  # (calls, B, S) argmax tokens of the answer state after the call
    q_halt: np.ndarray  # (calls, B) float32 Q-halt logit read from the answer state after the call
    q_continue: np.ndarray  # (calls, B) float32 Q-continue logit, likewise
    start_boards: np.ndarray  # (B, S) argmax tokens of the answer state the first segment starts from
    segment_boards: np.ndarray  # (segments, B, S) the model's answer at each segment's end
    segment_q_halt: np.ndarray  # (segments, B) float32 the Q-halt logit the model returned per segment
    segment_q_continue: np.ndarray  # (segments, B) float32 the Q-continue logit, likewise
    segment_z_H_movement: np.ndarray  # (segments, B) ||z_H(end) - z_H(start)|| / ||z_H(start)||
    segment_z_L_movement: np.ndarray  # (segments, B) the same for z_L
    states: str = "none"  # which states were recorded: "none", "segments" or "calls"
    segment_z_H: np.ndarray | None = None  # (segments, B, P+S, D) float32 z_H at each segment's end
    segment_z_L: np.ndarray | None = None  # (segments, B, P+S, D) float32 z_L, likewise
    z_H: np.ndarray | None = None  # (calls, B, P+S, D) float32 z_H after each call (states="calls")
    z_L: np.ndarray | None = None  # (calls, B, P+S, D) float32 z_L after each call, likewise

    def __len__(self) -> int:
        return len(self.kinds)

    @property
    def num_segments(self) -> int:
        """Number of segments traced."""
        return int(self.segment[-1]) + 1 if len(self) else 0

    @property
    def num_puzzles(self) -> int:
        """Number of puzzles traced (B)."""
        return int(self.start_boards.shape[0])

    def segment_calls(self, segment: int) -> np.ndarray:
        """Indices (0-based, consecutive) of the calls of `segment` (0-based)."""
        _check_index("segment", segment, self.num_segments)
        return np.flatnonzero(self.segment == segment)

    def last_calls(self) -> np.ndarray:
        """(segments,) index of each segment's last call: trace.boards[trace.last_calls()] == segment_boards."""
        return np.flatnonzero(np.diff(self.segment, append=self.segment[-1] + 1))

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

    # ------------------------------------------------------------------ per-segment summaries
    def z_H_movement(self) -> np.ndarray:
        """(segments, B): how far each segment moved z_H, ||z_H(end) - z_H(start)|| / ||z_H(start)||, norms
        over all positions and channels; the first segment starts from the initial state H_init. Zero
        throughout for the flat model, which never updates z_H (its answer state is z_L: z_L_movement)."""
        return self.segment_z_H_movement

    def z_L_movement(self) -> np.ndarray:
        """(segments, B): the same for z_L (the first segment from L_init)."""
        return self.segment_z_L_movement

    def cells_wrong(self, labels) -> np.ndarray:
        """(segments, B) int: cells of each segment's answer that differ from `labels` (B, S), the
        solutions; cells labelled IGNORE_LABEL_ID (padding) are not counted. 0 where the answer is right."""
        labels = self._labels(labels)
        return ((self.segment_boards != labels) & (labels != IGNORE_LABEL_ID)).sum(-1)

    def cells_changed(self) -> np.ndarray:
        """(segments, B) int: cells whose answer a segment changed: segment_boards[s] against the board
        the segment started from (segment_boards[s - 1]; for the first segment, start_boards)."""
        before = np.concatenate([self.start_boards[None], self.segment_boards[:-1]])
        return (self.segment_boards != before).sum(-1)

    def settled_segment(self, labels=None) -> np.ndarray:
        """(B,) int, 1-based: the earliest segment s whose answer is never changed again, that is, the
        answers at the ends of segments s, s+1, ..., last are identical. 1: the first segment's answer was
        kept throughout; the last segment's number: it changed the answer (or only one segment was traced),
        so the trace does not show it settling (`kept_changing`).

        With `labels` (B, S), the solutions: the earliest s from which the answer is right at every
        later segment end (solved for good), and 0 for a puzzle whose last answer is wrong."""
        if labels is None:
            return settled_segments(self.segment_boards)
        return _first_of_last_run(self.cells_wrong(labels) == 0)

    def kept_changing(self) -> np.ndarray:
        """(B,) bool: the last segment traced still changed the answer (cells_changed()[-1] > 0)."""
        return self.cells_changed()[-1] > 0

    def jumps(self, labels) -> np.ndarray:
        """(segments, B) int: where segment s turned a wrong answer into the solution, the number of cells
        that were wrong just before it (at the end of segment s - 1; for the first segment, on
        start_boards); 0 elsewhere. `jumps(labels) > 0` marks each wrong-to-right jump, `.sum(0)` its
        size; a puzzle with more than one jump lost the solution in between; a big jump solves many cells
        at once, a jump of 1 fixes the last wrong cell."""
        labels = self._labels(labels)
        wrong = self.cells_wrong(labels)
        before = np.concatenate([((self.start_boards != labels) & (labels != IGNORE_LABEL_ID)).sum(-1)[None],
                                 wrong[:-1]])
        return np.where((wrong == 0) & (before > 0), before, 0)

    def _labels(self, labels) -> np.ndarray:
        labels = labels.cpu().numpy() if torch.is_tensor(labels) else np.asarray(labels)
        if labels.shape != self.start_boards.shape:
            raise ValueError(f"labels must have shape (B, S) = {self.start_boards.shape}, the traced puzzles' "
                             f"solutions, got {labels.shape}")
        return labels


def _first_of_last_run(keep: np.ndarray) -> np.ndarray:
    """(segments, B) bool -> (B,) the 1-based first segment of the run of True that reaches the last
    segment, 0 where the last is False."""
    from_here = np.flip(np.logical_and.accumulate(np.flip(keep, 0), axis=0), 0)  # keep at s, ..., last
    return np.where(from_here[-1], from_here.argmax(0) + 1, 0)


def settled_segments(boards) -> np.ndarray:
    """boards (segments, B, S), each segment's answer -> (B,) int, 1-based: the earliest segment s whose
    answer is never changed again (the answers at s, s+1, ..., last are identical); the last segment's
    number when the last segment changed it. Lesson 09's Exercise 9.1; `Trace.settled_segment()`."""
    boards = np.asarray(boards)
    if boards.ndim != 3 or len(boards) == 0:
        raise ValueError(f"boards must be (segments, B, S) with at least one segment, got shape {boards.shape}")
    return _first_of_last_run((boards == boards[-1]).all(-1))


def _check_index(name: str, value, count: int, note: str = "") -> None:
    """ValueError naming `value` unless it is an int in 0..count-1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < count:
        raise ValueError(f"{name} must be an int in 0..{count - 1}{note}, got {value!r}")


def _relative_change(old: torch.Tensor, new: torch.Tensor) -> float:
    """Mean over the batch of ||new - old|| / ||old||, each norm over all positions and channels."""
    return float(_relative_changes(old, new).mean())


def _relative_changes(old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """(B,) ||new - old|| / ||old||, each norm over all positions and channels, in float32."""
    old, new = old.float(), new.float()
    diff = (new - old).flatten(1).norm(dim=1)  # (B,)
    return diff / old.flatten(1).norm(dim=1).clamp_min(1e-12)


def _host(t: torch.Tensor) -> torch.Tensor:
    """A float32 CPU copy of `t` (a copy, never a view of the model's own tensor)."""
    return t.detach().to("cpu", torch.float32, copy=True)


@dataclass
class _SegmentStart:
    """A segment's starting states as the model handed them to its inner module, and (first segment) the
    board read from them."""

    z_H: torch.Tensor | None
    z_L: torch.Tensor | None
    board: torch.Tensor | None = None


@torch.no_grad()
def trace_segments(model: HRM, batch: dict, segments: int, states: str = "none") -> Trace:
    """Run `segments` segments of `model` on `batch` from a fresh carry and record every module call.

    `states`: "none" (default), "segments" (z_H and z_L at each segment's end: segment_z_H, segment_z_L)
    or "calls" (after every call: z_H, z_L, and segment_z_H, segment_z_L as well). Memory of the
    states, float32: 2 x 4 bytes x (segments or calls) x B x (P+S) x D; 16 segments of 1,000 6x6
    puzzles (P+S = 37, D = 64): 303 MB.
    """
    if not isinstance(model, HRM):
        raise TypeError(f"trace_segments expects an hrm_minimal.model.HRM, got {type(model).__name__}")
    if isinstance(segments, bool) or not isinstance(segments, int) or segments < 1:
        raise ValueError(f"segments must be a positive int, got {segments!r}")
    if states not in STATES:
        raise ValueError(f"states must be 'none', 'segments' or 'calls', got {states!r}")
    inner = model.inner
    answer_level = "z_L" if model.config.architecture == "flat" else "z_H"
    P = inner.puzzle_emb_len
    current: dict[str, torch.Tensor] = {}  # z_H and z_L as they stand, the model's own tensors
    read = {"state": None, "board": None, "q": None}  # the answer state last read, and what was read
    kinds: list[str] = []
    residuals: list[float] = []
    boards: list[torch.Tensor] = []  # (B, S) per call
    qs: list[torch.Tensor] = []  # (B, 2) per call
    call_states: dict[str, list[torch.Tensor]] = {"z_H": [], "z_L": []}
    host = {"z_H": (None, None), "z_L": (None, None)}  # (model's tensor, its host copy): one copy each
    starts: list[_SegmentStart] = []

    def read_answer():
        """Board and Q logits of the current answer state, read once per distinct state tensor."""
        state = current[answer_level]
        if state is not read["state"]:
            read["state"] = state
            read["board"] = inner.lm_head(state)[:, P:].argmax(-1).cpu()  # as HRMInner.forward
            read["q"] = inner.q_head(state[:, 0]).float().cpu()
        return read["board"], read["q"]

    def on_host(level: str) -> torch.Tensor:
        tensor, copy = host[level]
        if tensor is not current[level]:
            tensor, copy = current[level], _host(current[level])
            host[level] = (tensor, copy)
        return copy

    def start(module, args):
        carry = args[0]  # the InnerCarry this segment starts from (after the refill's reset)
        current["z_H"], current["z_L"] = carry.z_H, carry.z_L
        starts.append(_SegmentStart(carry.z_H, carry.z_L))
        board, _ = read_answer()
        if len(starts) == 1:
            starts[0].board = board

    def watch(module_name: str):
        def hook(module, args, output):
            old = args[0]  # the state the call updates (its injection is added inside the module)
            if old is current["z_L"]:
                level = "z_L"
            elif old is current["z_H"]:
                level = "z_H"
            else:
                raise RuntimeError(f"trace_segments: a call of {module_name} was handed neither z_H nor z_L "
                                   "as its state; the model's segment is not the one this tracer reads")
            if module_name == "H_level" and level != "z_H":
                raise RuntimeError("trace_segments: H_level was handed z_L as its state")
            kinds.append("L" if level == "z_L" else "H")
            residuals.append(_relative_change(old, output))
            current[level] = output
            board, q = read_answer()
            boards.append(board)
            qs.append(q)
            if states == "calls":
                for name in ("z_H", "z_L"):
                    call_states[name].append(on_host(name))
        return hook

    handles = [inner.register_forward_pre_hook(start), inner.L_level.register_forward_hook(watch("L_level"))]
    if inner.H_level is not None:
        handles.append(inner.H_level.register_forward_hook(watch("H_level")))
    was_training = model.training
    model.eval()
    segment_of: list[int] = []
    seg_boards, seg_q, seg_states, moved = [], [], {}, {"z_H": [], "z_L": []}
    try:
        carry = model.initial_carry(batch)
        for s in range(segments):
            before = len(kinds)
            carry, out = model(carry, batch, max_steps=segments)
            if len(starts) != s + 1:
                raise RuntimeError("trace_segments: the model's segment did not run its inner module once")
            segment_of += [s] * (len(kinds) - before)
            seg_boards.append(out["logits"].argmax(-1).cpu())
            seg_q.append(torch.stack([out["q_halt_logits"], out["q_continue_logits"]], -1).float().cpu())
            end = carry.inner_carry
            for name in ("z_H", "z_L"):
                moved[name].append(_relative_changes(getattr(starts[s], name), getattr(end, name)).cpu())
                if states == "segments":  # written straight into one array: no second copy
                    state = getattr(end, name).detach()
                    if name not in seg_states:
                        seg_states[name] = np.empty((segments, *state.shape), dtype=np.float32)
                    seg_states[name][s] = state.to("cpu", torch.float32).numpy()
            starts[s] = _SegmentStart(None, None, starts[s].board)  # let go of the model's tensors
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    seg_q = torch.stack(seg_q).numpy()  # (segments, B, 2)
    q = torch.stack(qs).numpy()  # (calls, B, 2)
    trace = Trace(kinds, np.array(segment_of), np.array(residuals), torch.stack(boards).numpy(),
                  q[..., 0], q[..., 1], starts[0].board.numpy(), torch.stack(seg_boards).numpy(),
                  seg_q[..., 0], seg_q[..., 1], torch.stack(moved["z_H"]).numpy(),
                  torch.stack(moved["z_L"]).numpy(), states)
    if states == "calls":
        trace.z_H = torch.stack(call_states.pop("z_H")).numpy()
        trace.z_L = torch.stack(call_states.pop("z_L")).numpy()
        last = trace.last_calls()
        trace.segment_z_H, trace.segment_z_L = trace.z_H[last], trace.z_L[last]
    elif states == "segments":
        trace.segment_z_H, trace.segment_z_L = seg_states["z_H"], seg_states["z_L"]
    return trace


def trace_puzzles(model: HRM, inputs, segments: int, states: str = "none", batch_size: int = 256,
                  puzzle_identifiers=None) -> Trace:
    """`trace_segments` of many puzzles, `batch_size` at a time, joined into one Trace of all of them.

    `inputs` (N, S) token ids (numpy or tensor), moved to the model's device; `puzzle_identifiers` (N,)
    or None (zeros). Each puzzle's record is the one a single trace_segments call gives (puzzles do not
    interact), except that `residual`, a mean over puzzles, is averaged over the batches by their sizes.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not isinstance(model, HRM):
        raise TypeError(f"trace_puzzles expects an hrm_minimal.model.HRM, got {type(model).__name__}")
    device = next(model.parameters()).device
    inputs = torch.as_tensor(inputs).to(device)
    if inputs.ndim != 2 or len(inputs) == 0:
        raise ValueError(f"inputs must have shape (N, S) with N >= 1, got {tuple(inputs.shape)}")
    ids = None if puzzle_identifiers is None else torch.as_tensor(puzzle_identifiers).to(device)
    parts = []
    for lo in range(0, len(inputs), batch_size):
        batch = {"inputs": inputs[lo: lo + batch_size]}
        if ids is not None:
            batch["puzzle_identifiers"] = ids[lo: lo + batch_size]
        parts.append(trace_segments(model, batch, segments, states=states))
    return _join(parts)


def _join(parts: list[Trace]) -> Trace:
    """One Trace of the puzzles of `parts` (traces of the same model and segments), in order."""
    first = parts[0]
    if len(parts) == 1:
        return first
    sizes = np.array([p.num_puzzles for p in parts], dtype=np.float64)
    residual = (np.stack([p.residual for p in parts]) * sizes[:, None]).sum(0) / sizes.sum()

    def cat(name: str, axis: int):
        """The parts' `name` joined; each part lets go of its own, so at most one field is held twice."""
        values = [getattr(p, name) for p in parts]
        for p in parts:
            setattr(p, name, None)
        return None if values[0] is None else np.concatenate(values, axis=axis)

    return Trace(list(first.kinds), first.segment.copy(), residual, cat("boards", 1), cat("q_halt", 1),
                 cat("q_continue", 1), cat("start_boards", 0), cat("segment_boards", 1),
                 cat("segment_q_halt", 1), cat("segment_q_continue", 1), cat("segment_z_H_movement", 1),
                 cat("segment_z_L_movement", 1), first.states, cat("segment_z_H", 1), cat("segment_z_L", 1),
                 cat("z_H", 1), cat("z_L", 1))
