"""trace_segments records the calls HRMInner.forward makes, their residuals and the boards they lead to."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from hrm_minimal.config import HRMConfig
from hrm_minimal.model import HRM
from hrm_minimal.trace import trace_segments


def _model(**overrides) -> HRM:
    torch.manual_seed(0)
    cfg = dict(vocab_size=8, seq_len=16, hidden_size=32, num_heads=2, H_layers=1, L_layers=1, H_cycles=2,
               L_cycles=3, halt_max_steps=4)
    return HRM(HRMConfig(**{**cfg, **overrides}))


def _batch(n: int = 5) -> dict:
    g = torch.Generator().manual_seed(1)
    return {"inputs": torch.randint(1, 8, (n, 16), generator=g)}


def _segment_logits(model: HRM, batch: dict, segments: int) -> list[np.ndarray]:
    model.eval()
    carry, boards = model.initial_carry(batch), []
    with torch.no_grad():
        for _ in range(segments):
            carry, out = model(carry, batch, max_steps=segments)
            boards.append(out["logits"].argmax(-1).numpy())
    return boards


def test_hrm_calls_come_in_the_reference_order_and_end_each_segment_on_the_models_answer():
    model, batch = _model(), _batch()
    trace = trace_segments(model, batch, segments=3)
    assert trace.kinds == (["L"] * 3 + ["H"]) * 2 * 3
    assert trace.segment.tolist() == [s for s in range(3) for _ in range(8)]
    assert trace.boards.shape == (24, 5, 16)
    last_calls = [i for i in range(24) if i % 8 == 7]
    for call, board in zip(last_calls, _segment_logits(model, batch, 3)):
        assert np.array_equal(trace.boards[call], board)
    assert trace.calls("H").tolist() == [3, 7, 11, 15, 19, 23]


def test_an_l_call_leaves_the_board_as_the_last_h_call_wrote_it():
    trace = trace_segments(_model(), _batch(), segments=2)
    for i, kind in enumerate(trace.kinds):
        if kind == "L" and i % 8 != 0:
            assert np.array_equal(trace.boards[i], trace.boards[i - 1])


def test_the_first_residual_is_the_first_l_update_measured_by_hand():
    model, batch = _model(), _batch()
    inner = model.inner
    trace = trace_segments(model, batch, segments=1)
    with torch.no_grad():
        x = inner.input_embeddings(batch["inputs"], torch.zeros(5, dtype=torch.long))
        z_L = inner.L_init.expand_as(x)
        new = inner.L_level(z_L, inner.H_init + x, inner.rotary())
        want = ((new - z_L).flatten(1).norm(dim=1) / z_L.flatten(1).norm(dim=1)).mean().item()
    assert trace.residual[0] == pytest.approx(want, rel=1e-5)
    assert (trace.residual > 0).all()


def test_the_flat_model_makes_as_many_calls_all_to_l_and_reads_its_answer_from_z_L():
    model, batch = _model(architecture="flat"), _batch()
    trace = trace_segments(model, batch, segments=2)
    assert trace.kinds == ["L"] * 16 and model.inner.H_level is None
    for call, board in zip([7, 15], _segment_logits(model, batch, 2)):
        assert np.array_equal(trace.boards[call], board)
    assert not np.array_equal(trace.boards[0], trace.boards[7])  # each call changes the answer


def test_tracing_leaves_the_model_as_it_was():
    model = _model()
    model.train()
    trace_segments(model, _batch(), segments=1)
    assert model.training
    assert not model.inner.L_level._forward_hooks and not model.inner.H_level._forward_hooks
    assert not model.inner._forward_pre_hooks


@pytest.mark.parametrize("segments", [0, -1, 1.5, True])
def test_bad_segment_counts_are_refused(segments):
    with pytest.raises(ValueError, match="segments must be a positive int"):
        trace_segments(_model(), _batch(), segments=segments)


def test_a_model_that_is_not_hrm_is_refused():
    with pytest.raises(TypeError, match="expects an hrm_minimal.model.HRM"):
        trace_segments(torch.nn.Linear(2, 2), _batch(), segments=1)


# ============================================================================ the trajectory record
POSITIONS = 17  # P + S of the tiny models: one puzzle-embedding position and 16 cells
ARCHITECTURES = {"hrm": {}, "flat": {"architecture": "flat"}, "trm": {"architecture": "trm", "act_continue": False}}


def _run(model: HRM, batch: dict, segments: int) -> list[tuple]:
    """(carry, outputs) of each segment of the model run without any tracing, in evaluation mode."""
    model.eval()
    carry, runs = model.initial_carry(batch), []
    with torch.no_grad():
        for _ in range(segments):
            carry, out = model(carry, batch, max_steps=segments)
            runs.append((carry, out))
    return runs


def _by_hand(model: HRM, batch: dict, segments: int) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(kind, z_H, z_L) after every module call, from the recurrence written out (HRMInner.segment)."""
    inner, cfg = model.inner, model.config
    with torch.no_grad():
        x = inner.input_embeddings(batch["inputs"], torch.zeros(len(batch["inputs"]), dtype=torch.long))
        cos_sin = inner.rotary()
        z_H, z_L = inner.H_init.expand_as(x), inner.L_init.expand_as(x)
        calls = []
        for _ in range(segments):
            if cfg.architecture == "flat":
                for _ in range(cfg.flat_steps):
                    z_L = inner.L_level(z_L, x, cos_sin)
                    calls.append(("L", z_H, z_L))
                continue
            H = inner.L_level if cfg.architecture == "trm" else inner.H_level  # TRM: one network for both
            for _ in range(cfg.H_cycles):
                for _ in range(cfg.L_cycles):
                    z_L = inner.L_level(z_L, z_H + x, cos_sin)
                    calls.append(("L", z_H, z_L))
                z_H = H(z_H, z_L, cos_sin)
                calls.append(("H", z_H, z_L))
    return calls


@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_recording_every_state_does_not_change_what_the_model_computes(architecture):
    model, batch = _model(**ARCHITECTURES[architecture]), _batch()
    want = _run(model, batch, 3)
    seen = []
    handle = model.register_forward_hook(lambda module, args, output: seen.append(output))
    try:
        trace = trace_segments(model, batch, segments=3, states="calls")
    finally:
        handle.remove()
    assert trace.z_H is not None and len(seen) == 3
    for (carry, out), (want_carry, want_out) in zip(seen, want):
        for key in ("logits", "q_halt_logits", "q_continue_logits"):
            assert torch.equal(out[key], want_out[key]), key
        assert torch.equal(carry.inner_carry.z_H, want_carry.inner_carry.z_H)
        assert torch.equal(carry.inner_carry.z_L, want_carry.inner_carry.z_L)
        assert torch.equal(carry.steps, want_carry.steps) and torch.equal(carry.halted, want_carry.halted)


@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_the_states_after_every_call_are_the_recurrence_written_out(architecture):
    model, batch = _model(**ARCHITECTURES[architecture]), _batch()
    trace = trace_segments(model, batch, segments=2, states="calls")
    calls = _by_hand(model, batch, 2)
    assert trace.kinds == [kind for kind, _, _ in calls]
    assert trace.z_H.shape == trace.z_L.shape == (len(calls), 5, POSITIONS, 32) and trace.z_H.dtype == np.float32
    for c, (kind, z_H, z_L) in enumerate(calls):  # after the call, not before it
        np.testing.assert_allclose(trace.z_H[c], z_H.numpy(), rtol=1e-5, atol=1e-5, err_msg=f"z_H, call {c}")
        np.testing.assert_allclose(trace.z_L[c], z_L.numpy(), rtol=1e-5, atol=1e-5, err_msg=f"z_L, call {c}")


@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_a_call_leaves_the_level_it_does_not_update_exactly_as_it_was(architecture):
    model = _model(**ARCHITECTURES[architecture])
    trace = trace_segments(model, _batch(), segments=3, states="calls")
    for c in range(1, len(trace)):
        kept = trace.z_H if trace.kinds[c] == "L" else trace.z_L
        moved = trace.z_L if trace.kinds[c] == "L" else trace.z_H
        assert np.array_equal(kept[c], kept[c - 1]), f"call {c} ({trace.kinds[c]}) changed the other level"
        assert not np.allclose(moved[c], moved[c - 1]), f"call {c} ({trace.kinds[c]}) changed nothing"
    if architecture == "flat":  # the flat model never updates z_H: it stays at H_init
        assert np.array_equal(trace.z_H, np.broadcast_to(model.inner.H_init.numpy(), trace.z_H.shape))


def test_the_trm_models_one_network_is_labelled_by_the_state_it_updates_and_only_answer_steps_move_the_board():
    model = _model(**ARCHITECTURES["trm"])  # H_cycles=2, L_cycles=3: per cycle 3 latent steps, 1 answer step
    assert model.inner.H_level is None
    trace = trace_segments(model, _batch(), segments=3)
    assert trace.kinds == (["L"] * 3 + ["H"]) * 2 * 3
    changed = [not np.array_equal(trace.boards[c], trace.boards[c - 1]) for c in range(1, len(trace))]
    assert changed == [kind == "H" for kind in trace.kinds[1:]]  # every answer step rewrites some cells here
    assert (trace.residual > 0).all()


@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_the_segment_summaries_are_the_models_own_answers_and_q_logits(architecture):
    model, batch = _model(**ARCHITECTURES[architecture]), _batch()
    trace = trace_segments(model, batch, segments=3)
    runs = _run(model, batch, 3)
    assert trace.segment_boards.shape == (3, 5, 16) and trace.segment_q_halt.shape == (3, 5)
    for s, (_, out) in enumerate(runs):
        assert np.array_equal(trace.segment_boards[s], out["logits"].argmax(-1).numpy())
        assert np.array_equal(trace.segment_q_halt[s], out["q_halt_logits"].numpy())
        assert np.array_equal(trace.segment_q_continue[s], out["q_continue_logits"].numpy())
    assert not np.array_equal(trace.segment_boards[0], trace.segment_boards[1])  # an off-by-one shows
    last = trace.last_calls()
    assert last.tolist() == [7, 15, 23]
    assert np.array_equal(trace.boards[last], trace.segment_boards)
    np.testing.assert_allclose(trace.q_halt[last], trace.segment_q_halt, rtol=0, atol=1e-6)
    # start_boards: the board of the initial answer state (H_init, or L_init for the flat model)
    start = model.inner.L_init if architecture == "flat" else model.inner.H_init
    with torch.no_grad():
        token = int(model.inner.lm_head(start).argmax())
    assert (trace.start_boards == token).all() and trace.start_boards.shape == (5, 16)


@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_segment_states_are_the_carry_at_each_segments_end(architecture):
    model, batch = _model(**ARCHITECTURES[architecture]), _batch()
    by_segment = trace_segments(model, batch, segments=3, states="segments")
    by_call = trace_segments(model, batch, segments=3, states="calls")
    assert by_segment.z_H is None and by_segment.z_L is None and by_segment.states == "segments"
    assert by_segment.segment_z_H.shape == by_segment.segment_z_L.shape == (3, 5, POSITIONS, 32)
    for s, (carry, _) in enumerate(_run(model, batch, 3)):
        assert np.array_equal(by_segment.segment_z_H[s], carry.inner_carry.z_H.numpy())
        assert np.array_equal(by_segment.segment_z_L[s], carry.inner_carry.z_L.numpy())
    assert np.array_equal(by_call.segment_z_H, by_segment.segment_z_H)
    assert np.array_equal(by_call.segment_z_L, by_segment.segment_z_L)
    plain = trace_segments(model, batch, segments=3)
    assert plain.states == "none" and plain.segment_z_H is None and plain.z_H is None


@pytest.mark.parametrize("architecture", ["hrm", "flat"])
def test_movement_is_each_segments_relative_change_from_where_it_started(architecture):
    model, batch = _model(**ARCHITECTURES[architecture]), _batch()
    trace = trace_segments(model, batch, segments=3, states="segments")
    for level, init in (("z_H", model.inner.H_init), ("z_L", model.inner.L_init)):
        ends = getattr(trace, f"segment_{level}").reshape(3, 5, -1)
        starts = np.concatenate([np.broadcast_to(np.tile(init.numpy(), POSITIONS), (1, 5, POSITIONS * 32)), ends[:-1]])
        want = np.linalg.norm(ends - starts, axis=-1) / np.linalg.norm(starts, axis=-1)
        got = trace.z_H_movement() if level == "z_H" else trace.z_L_movement()
        assert got.shape == (3, 5)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7, err_msg=level)
    if architecture == "flat":
        assert (trace.z_H_movement() == 0).all() and (trace.z_L_movement() > 0).all()
    else:
        assert (trace.z_H_movement() > 0).all()


def test_cells_wrong_counts_the_cells_that_differ_from_the_solution_and_skips_padding():
    trace = trace_segments(_model(), _batch(), segments=3)
    labels = trace.segment_boards[1].copy()
    labels[0, [0, 4, 9]] = (labels[0, [0, 4, 9]] + 1) % 8  # puzzle 0: three cells differ at segment 2
    labels[2, :5] = -100  # padding: never counted
    wrong = trace.cells_wrong(labels)
    assert wrong.shape == (3, 5) and wrong[1].tolist() == [3, 0, 0, 0, 0]
    assert wrong[0, 1] == (trace.segment_boards[0, 1] != trace.segment_boards[1, 1]).sum() > 0
    assert wrong[0, 2] == (trace.segment_boards[0, 2, 5:] != trace.segment_boards[1, 2, 5:]).sum()
    assert np.array_equal(trace.cells_wrong(torch.as_tensor(labels)), wrong)
    with pytest.raises(ValueError, match=r"labels must have shape \(B, S\) = \(5, 16\).*got \(16,\)"):
        trace.cells_wrong(labels[0])


def _synthetic(segment_boards, start_boards):
    """A real trace with its per-segment boards replaced (segments, B, S) and start boards (B, S)."""
    from dataclasses import replace

    return replace(trace_segments(_model(), _batch(), segments=1), segment_boards=np.array(segment_boards),
                   start_boards=np.array(start_boards))


# Five puzzles of three cells over four segments; the solution is R = [1, 2, 3].
R, X, Y, Z = [1, 2, 3], [1, 2, 4], [5, 5, 5], [1, 7, 7]
HISTORIES = {  # puzzle: its answers at the ends of segments 1..4
    "right from segment 1": [R, R, R, R],
    "lost at the last segment": [R, R, R, X],
    "wrong, wrong, then right": [Y, X, R, R],
    "right, lost, right again": [R, X, R, R],
    "right only at the last": [Y, Z, X, R],
}
START = [[5, 5, 5]] * 5  # the board before segment 1: all three cells wrong


def test_settled_segment_is_the_first_segment_from_which_the_answer_never_changes():
    trace = _synthetic(np.array(list(HISTORIES.values())).transpose(1, 0, 2), START)
    assert trace.settled_segment().tolist() == [1, 4, 3, 3, 4]
    labels = np.array([R] * 5)
    assert trace.settled_segment(labels).tolist() == [1, 0, 3, 3, 4]  # 0: the last answer is wrong
    assert trace.kept_changing().tolist() == [False, True, False, False, True]
    assert trace.cells_changed().tolist() == [[3, 3, 0, 3, 0], [0, 0, 3, 1, 3], [0, 0, 1, 1, 2], [0, 1, 0, 0, 1]]
    assert trace.cells_wrong(labels)[:, 4].tolist() == [3, 2, 1, 0]


def test_jumps_mark_each_wrong_to_right_segment_with_the_cells_wrong_before_it():
    trace = _synthetic(np.array(list(HISTORIES.values())).transpose(1, 0, 2), START)
    jumps = trace.jumps(np.array([R] * 5))
    assert jumps.T.tolist() == [[3, 0, 0, 0],  # from the start board (3 wrong) to right in segment 1
                                [3, 0, 0, 0],
                                [0, 0, 1, 0],  # X has one wrong cell
                                [3, 0, 1, 0],  # two jumps: it lost the solution in between
                                [0, 0, 0, 1]]
    assert ((jumps > 0).sum(0) == [1, 1, 1, 2, 1]).all()


def test_one_segment_settles_at_once_and_kept_changing_compares_it_with_the_start():
    trace = _synthetic([[R, Y]], [[5, 5, 5], [5, 5, 5]])
    assert trace.settled_segment().tolist() == [1, 1]
    assert trace.settled_segment(np.array([R, R])).tolist() == [1, 0]
    assert trace.kept_changing().tolist() == [True, False]


@pytest.mark.parametrize("states", ["segments", "calls"])
def test_trace_puzzles_in_batches_gives_the_trace_of_all_puzzles_at_once(states):
    from hrm_minimal.trace import trace_puzzles

    model, batch = _model(), _batch(5)
    whole = trace_segments(model, batch, segments=2, states=states)
    joined = trace_puzzles(model, batch["inputs"].numpy(), 2, states=states, batch_size=2)
    assert joined.kinds == whole.kinds and np.array_equal(joined.segment, whole.segment)
    assert joined.num_puzzles == 5 and joined.states == states
    np.testing.assert_allclose(joined.residual, whole.residual, rtol=1e-5)
    for name in ("boards", "start_boards", "segment_boards"):
        assert np.array_equal(getattr(joined, name), getattr(whole, name)), name
    for name in ("q_halt", "q_continue", "segment_q_halt", "segment_z_H_movement", "segment_z_L_movement",
                 "segment_z_H", "segment_z_L", "z_H", "z_L"):
        if getattr(whole, name) is None:
            assert getattr(joined, name) is None and states == "segments"
        else:
            np.testing.assert_allclose(getattr(joined, name), getattr(whole, name), rtol=1e-5, atol=1e-6,
                                       err_msg=name)


def test_bad_states_and_batch_sizes_are_refused():
    from hrm_minimal.trace import trace_puzzles

    with pytest.raises(ValueError, match="states must be 'none', 'segments' or 'calls', got 'all'"):
        trace_segments(_model(), _batch(), segments=1, states="all")
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        trace_puzzles(_model(), _batch()["inputs"], 1, batch_size=0)


def test_the_shipped_6x6_model_traced_in_batches_keeps_its_states_per_segment():
    from hrm_minimal.data import load_task
    from hrm_minimal.evaluate import load_pretrained
    from hrm_minimal.trace import trace_puzzles

    model, _ = load_pretrained("sudoku-6x6")
    test = load_task("sudoku-6x6", "test")
    trace = trace_puzzles(model, test.inputs[:12], 4, states="segments", batch_size=5)
    assert trace.segment_z_H.shape == trace.segment_z_L.shape == (4, 12, 37, 64)  # 1 + 36 positions, D = 64
    assert trace.segment_boards.shape == (4, 12, 36) and len(trace) == 4 * 6
    for s, (_, out) in enumerate(_run(model, {"inputs": torch.as_tensor(test.inputs[:12])}, 4)):
        assert np.array_equal(trace.segment_boards[s], out["logits"].argmax(-1).numpy())
    wrong = trace.cells_wrong(test.labels[:12])
    assert (wrong[0] > 0).all() and (wrong[-1] == 0).sum() > 6  # none solved in one segment, most (8) in four
    solved = trace.settled_segment(test.labels[:12])
    assert np.array_equal(solved > 0, wrong[-1] == 0) and (solved[solved > 0] >= 2).all()
