"""The step-through explorer: the Q values a trace records, what a StepView holds, and draw_step."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from hrm_minimal import viz  # noqa: E402
from hrm_minimal.config import HRMConfig  # noqa: E402
from hrm_minimal.data import encode_maze, generate_mazes  # noqa: E402
from hrm_minimal.model import HRM  # noqa: E402
from hrm_minimal.stepthrough import segment_span, step_view  # noqa: E402
from hrm_minimal.trace import trace_segments  # noqa: E402

SEGMENTS = 3
CALLS = 8  # per segment: H_cycles=2 x (L_cycles=3 L calls + 1 H call)


def _model(q_bias=None, **overrides) -> HRM:
    """A tiny seeded model whose Q head reads its state (a fresh model's Q head is a constant -5)."""
    torch.manual_seed(0)
    cfg = dict(vocab_size=8, seq_len=16, hidden_size=32, num_heads=2, H_layers=1, L_layers=1, H_cycles=2,
               L_cycles=3, halt_max_steps=4)
    model = HRM(HRMConfig(**{**cfg, **overrides}))
    with torch.no_grad():
        q_head = model.inner.q_head
        q_head.weight.normal_(0.0, 0.5 if q_bias is None else 0.02)
        if q_bias is None:
            q_head.bias.normal_(0.0, 0.5)
        else:
            q_head.bias.copy_(torch.tensor(q_bias))
    return model.eval()


def _batch(n: int = 5, vocab: int = 8, length: int = 16) -> dict:
    g = torch.Generator().manual_seed(1)
    return {"inputs": torch.randint(1, vocab, (n, length), generator=g)}


def _segment_outputs(model: HRM, batch: dict, segments: int) -> list[dict]:
    carry, outs = model.initial_carry(batch), []
    with torch.no_grad():
        for _ in range(segments):
            carry, out = model(carry, batch, max_steps=segments)
            outs.append(out)
    return outs


def _solution(seed: int = 2) -> np.ndarray:
    return torch.randint(1, 8, (16,), generator=torch.Generator().manual_seed(seed)).numpy()


@pytest.fixture(scope="module")
def traced():
    """(model, batch, trace of SEGMENTS segments), shared by the tests that only read them."""
    model, batch = _model(), _batch()
    return model, batch, trace_segments(model, batch, segments=SEGMENTS)


# --------------------------------------------------------------------------- the trace's Q values
@pytest.mark.parametrize("architecture", ["hrm", "flat"])
def test_the_last_call_of_each_segment_holds_the_models_answer_and_q_logits(architecture):
    model, batch = _model(architecture=architecture), _batch()
    trace = trace_segments(model, batch, segments=SEGMENTS)
    assert trace.q_halt.shape == trace.q_continue.shape == (SEGMENTS * CALLS, 5)
    outs = _segment_outputs(model, batch, SEGMENTS)
    for s, out in enumerate(outs):
        last = trace.call_at(s, CALLS - 1)
        assert np.array_equal(trace.boards[last], out["logits"].argmax(-1).numpy())
        np.testing.assert_allclose(trace.q_halt[last], out["q_halt_logits"].numpy(), rtol=0, atol=1e-6)
        np.testing.assert_allclose(trace.q_continue[last], out["q_continue_logits"].numpy(), rtol=0, atol=1e-6)
    # The segments' Q values differ, so reading them from the wrong call would be caught.
    assert not np.allclose(outs[0]["q_halt_logits"].numpy(), outs[1]["q_halt_logits"].numpy())


def test_q_changes_only_where_the_answer_state_does():
    model, batch = _model(), _batch()
    trace = trace_segments(model, batch, segments=2)
    inner = model.inner
    with torch.no_grad():  # before the first H call the answer state is H_init: Q read from it by hand
        start = inner.q_head(inner.H_init)
    np.testing.assert_allclose(trace.q_halt[0], np.full(5, float(start[0])), rtol=1e-6)
    for i in range(1, len(trace)):
        same = np.array_equal(trace.q_halt[i], trace.q_halt[i - 1])
        assert same == (trace.kinds[i] == "L"), f"call {i} ({trace.kinds[i]})"


def test_within_and_call_at_are_inverse_and_refuse_what_is_not_in_the_trace(traced):
    _, _, trace = traced
    assert trace.num_segments == SEGMENTS
    assert [trace.within(c) for c in range(len(trace))] == [(s, k) for s in range(SEGMENTS) for k in range(CALLS)]
    assert all(trace.call_at(*trace.within(c)) == c for c in range(len(trace)))
    assert trace.segment_calls(1).tolist() == list(range(CALLS, 2 * CALLS))
    with pytest.raises(ValueError, match=r"call must be an int in 0\.\.23, got 24"):
        trace.within(24)
    with pytest.raises(ValueError, match=r"segment must be an int in 0\.\.2, got 3"):
        trace.call_at(3, 0)
    with pytest.raises(ValueError, match=r"step must be an int in 0\.\.7 .*got 8"):
        trace.call_at(0, 8)


# --------------------------------------------------------------------------- step views
def test_segment_span_gives_each_sliders_range_and_covers_every_call_once(traced):
    model, _, trace = traced
    spans = [segment_span(trace, s) for s in range(1, SEGMENTS + 1)]
    assert spans == [(0, CALLS), (CALLS, CALLS), (2 * CALLS, CALLS)]
    for s, (first, steps) in enumerate(spans, start=1):
        for step in range(1, steps + 1):
            view = step_view(trace, _solution(), model, segment=s, step=step)
            assert (view.call, view.segment, view.step, view.steps) == (first + step - 1, s, step, steps)
            assert view.kind == trace.kinds[view.call] and view.segments == SEGMENTS


def test_changed_cells_are_where_the_board_differs_from_the_previous_calls(traced):
    model, _, trace = traced
    counts = []
    for call in range(len(trace)):
        view = step_view(trace, _solution(), model, call=call, index=3)
        want = (trace.boards[call, 3] != trace.boards[call - 1, 3]) if call else np.zeros(16, bool)
        assert np.array_equal(view.changed, want) and view.num_changed == int(want.sum())
        counts.append(view.num_changed)
    assert counts[0] == 0  # nothing before the first call
    assert max(counts) > 0 and all(counts[c] == 0 for c in trace.calls("L"))  # H calls rewrite, L calls don't
    first_of_segment_2 = step_view(trace, _solution(), model, segment=2, step=1, index=3)
    assert first_of_segment_2.call == CALLS  # compared across the boundary, with the last call of segment 1


def test_right_cells_are_where_the_board_equals_the_solution(traced):
    model, _, trace = traced
    board = trace.boards[CALLS - 1, 1]
    solution = board.copy()
    solution[[0, 5, 9]] = (solution[[0, 5, 9]] % 7) + 1  # three cells now differ from the board
    view = step_view(trace, solution, model, segment=1, step=CALLS, index=1)
    assert np.array_equal(view.board, board)
    assert view.right.tolist() == [i not in (0, 5, 9) for i in range(16)] and view.num_right == 13


def test_the_view_at_a_segments_end_carries_the_models_q_and_its_decision(traced):
    model, batch, trace = traced
    decisions = []
    for s, out in enumerate(_segment_outputs(model, batch, SEGMENTS), start=1):
        says = model.q_says_halt(out["q_halt_logits"], out["q_continue_logits"]).tolist()
        for i in range(5):
            view = step_view(trace, _solution(), model, segment=s, step=CALLS, index=i)
            assert view.end_of_segment
            assert view.q_halt == pytest.approx(float(out["q_halt_logits"][i]), abs=1e-6)
            assert view.q_continue == pytest.approx(float(out["q_continue_logits"][i]), abs=1e-6)
            assert view.halt_probability == pytest.approx(float(torch.sigmoid(out["q_halt_logits"][i])), abs=1e-6)
            assert view.halts is says[i]
            decisions.append(view.halts)
    assert True in decisions and False in decisions  # both decisions occur: the test can tell them apart
    middle = step_view(trace, _solution(), model, segment=1, step=CALLS - 1)
    assert not middle.end_of_segment and middle.halts is None


def test_the_decision_follows_the_models_halting_rule():
    # q_halt ~ -1 > q_continue ~ -3: HRM's rule (q_halt > q_continue) halts, act_continue=False (q_halt > 0) not.
    views = {}
    for act_continue in (True, False):
        model = _model(q_bias=[-1.0, -3.0], act_continue=act_continue)
        trace = trace_segments(model, _batch(), segments=2)
        views[act_continue] = [step_view(trace, _solution(), model, segment=s, step=CALLS, index=i)
                               for s in (1, 2) for i in range(5)]
    assert all(v.halts is True for v in views[True])
    assert all(v.halts is False for v in views[False])
    always = step_view(trace, _solution(), lambda q_halt, q_continue: q_halt > -100.0, segment=1, step=CALLS)
    assert always.halts is True and always.q_halt == views[False][0].q_halt  # a rule passed as a callable is used


@pytest.mark.parametrize("where, message", [
    (dict(segment=0, step=1), r"segment must be an int in 1\.\.3, got 0"),
    (dict(segment=4, step=1), r"segment must be an int in 1\.\.3, got 4"),
    (dict(segment=1, step=0), r"step must be an int in 1\.\.8 \(segment 1 has 8 steps\), got 0"),
    (dict(segment=2, step=9), r"step must be an int in 1\.\.8 .*got 9"),
    (dict(segment=1.0, step=1), r"segment must be an int .*got 1\.0"),
    (dict(call=24), r"call must be an int in 0\.\.23, got 24"),
    (dict(call=-1), r"call must be an int in 0\.\.23, got -1"),
    (dict(segment=1, step=1, index=5), r"index must be an int in 0\.\.4 \(the trace holds 5 puzzles\), got 5"),
    (dict(), r"either by segment= and step=.*or by call="),
    (dict(segment=1, step=1, call=0), r"either by segment= and step=.*call=0"),
    (dict(segment=1), r"segment and step go together, got segment=1, step=None"),
])
def test_a_step_outside_the_trace_is_refused_naming_the_bad_value(traced, where, message):
    model, _, trace = traced
    with pytest.raises(ValueError, match=message):
        step_view(trace, _solution(), model, **where)


def test_a_solution_of_the_wrong_length_or_a_rule_that_is_not_callable_is_refused(traced):
    model, _, trace = traced
    with pytest.raises(ValueError, match=r"solution must be \(16,\) tokens, got shape \(15,\)"):
        step_view(trace, np.ones(15, int), model, call=0)
    with pytest.raises(TypeError, match="halt_rule must be an HRM or a callable, got str"):
        step_view(trace, _solution(), "halt", call=0)


# --------------------------------------------------------------------------- the shipped 6x6 model
def test_the_shipped_6x6_model_solves_a_test_puzzle_in_the_second_segment_and_its_q_head_halts_there():
    from hrm_minimal.data import load_task
    from hrm_minimal.evaluate import load_pretrained

    model, _ = load_pretrained("sudoku-6x6")
    test = load_task("sudoku-6x6", "test")
    batch = {"inputs": torch.as_tensor(test.inputs[:2])}
    trace = trace_segments(model, batch, segments=2)
    outs = _segment_outputs(model, batch, 2)
    first, steps = segment_span(trace, 2)
    assert (first, steps) == (6, 6)  # H_cycles=2 x (L_cycles=2 + 1)
    for s, out in enumerate(outs, start=1):
        says = model.q_says_halt(out["q_halt_logits"], out["q_continue_logits"])
        for i in range(2):
            view = step_view(trace, test.labels[i], model, segment=s, step=steps, index=i)
            assert np.array_equal(view.board, out["logits"][i].argmax(-1).numpy())
            assert view.q_halt == pytest.approx(float(out["q_halt_logits"][i]), abs=1e-5)
            assert view.halts is bool(says[i])
            assert view.num_right == int((out["logits"][i].argmax(-1).numpy() == test.labels[i]).sum())
    after_one = step_view(trace, test.labels[0], model, segment=1, step=steps)
    after_two = step_view(trace, test.labels[0], model, segment=2, step=steps)
    assert after_one.num_right < 36 and after_one.halts is False
    assert after_two.num_right == 36 and after_two.halts is True and after_two.halt_probability > 0.9


# --------------------------------------------------------------------------- drawing
def _outlines(ax) -> int:
    return sum(isinstance(p, Rectangle) and p.get_edgecolor() == to_rgba(viz.CHANGED) for p in ax.patches)


def test_draw_step_draws_the_board_with_changed_cells_outlined_and_the_q_panel(traced):
    model, batch, trace = traced
    puzzle, solution = batch["inputs"][0].numpy(), _solution()
    h_call = int(trace.calls("H")[0])
    view = step_view(trace, solution, model, call=h_call)
    assert view.num_changed > 0 and not view.end_of_segment
    fig = viz.draw_step(view, puzzle, solution, box=(2, 2))
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    board_ax, q_ax = fig.axes
    assert _outlines(board_ax) == view.num_changed
    assert board_ax.get_title() == "segment 1/3, step 4/8: H call"
    assert board_ax.get_xlabel() == f"{view.num_right}/16 right, {view.num_changed} changed"
    assert q_ax.get_title().startswith("mid-segment") and len(q_ax.patches) == 2  # two bars
    assert [b.get_width() for b in q_ax.patches] == pytest.approx([view.halt_probability,
                                                                   view.continue_probability])
    end = step_view(trace, solution, model, segment=3, step=CALLS)
    title = viz.draw_step(end, puzzle, solution, box=(2, 2)).axes[1].get_title()
    assert title == f"Q head says: {'halt' if end.halts else 'continue'}"
    fig.canvas.draw()  # renders without error


def test_draw_step_and_draw_steps_draw_a_maze():
    x, y = generate_mazes(1, 7, seed=0)
    puzzle, solution = encode_maze(x[0]), encode_maze(y[0])
    model = _model(vocab_size=6, seq_len=49)
    trace = trace_segments(model, {"inputs": torch.as_tensor(puzzle)[None]}, segments=2)
    views = [step_view(trace, solution, model, call=int(c)) for c in trace.calls("H")]
    changed = next(v for v in views if v.num_changed)
    fig = viz.draw_step(changed, puzzle, solution, kind="maze")
    assert len(fig.axes) == 2 and len(fig.axes[0].images) == 1
    assert _outlines(fig.axes[0]) == changed.num_changed
    fig.canvas.draw()
    row = viz.draw_steps(views, puzzle, solution, kind="maze")
    assert len(row.axes) == len(views) == 4
    assert [_outlines(ax) for ax in row.axes] == [v.num_changed for v in views]
    assert "Q: " in row.axes[1].get_title() and "Q: " not in row.axes[0].get_title()  # segment ends only
    with pytest.raises(ValueError, match="kind must be 'sudoku' or 'maze', got 'chess'"):
        viz.draw_step(changed, puzzle, solution, kind="chess")
    with pytest.raises(ValueError, match="views is empty"):
        viz.draw_steps([], puzzle, solution, kind="maze")
