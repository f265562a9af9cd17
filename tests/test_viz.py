"""Drawing functions under the Agg backend."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from hrm_minimal import viz  # noqa: E402
from hrm_minimal.data import encode_maze, encode_sudoku, generate, generate_mazes  # noqa: E402

PUZZLE_6 = "1.....\n..3...\n......\n...5..\n....6.\n.2...."


def test_board_text_separates_boxes():
    text = viz.board_text(PUZZLE_6)
    lines = text.splitlines()
    assert lines[0] == " 1 . . | . . . "
    assert lines[2].startswith("-------+")  # 2-row boxes: a rule after every second row
    assert len(lines) == 6 + 2
    nine = viz.board_text("." * 80 + "9")
    assert nine.count("|") == 18 and nine.splitlines()[-1].endswith(". . 9 ")
    with pytest.raises(ValueError, match="does not tile"):
        viz.board_text(PUZZLE_6, box=(2, 2))


def test_board_text_reads_tokens_and_mazes_print():
    puzzles, _ = generate(1, 4, seed=0)
    assert viz.board_text(encode_sudoku(puzzles[0]), tokens=True) == viz.board_text(puzzles[0])
    x, y = generate_mazes(1, 7, seed=0)
    assert viz.maze_text(encode_maze(y[0]), tokens=True) == viz.maze_text(y[0])
    assert viz.maze_text(y[0]).count("o") == (y[0] == "o").sum()


def _texts(ax):
    return {(t.get_text(), t.get_color()) for t in ax.texts}


def test_draw_sudoku_colours_right_and_wrong_cells():
    puzzles, solutions = generate(1, 4, seed=1)
    p, s = puzzles[0], solutions[0]
    wrong = s.copy()
    blank = np.argwhere(p == 0)
    r, c = blank[0]
    wrong[r, c] = s[r, c] % 4 + 1
    fig = Figure()
    ax = viz.draw_sudoku(fig.add_subplot(), p, prediction=wrong, solution=s, title="t")
    colours = [t.get_color() for t in ax.texts]
    assert len(ax.texts) == 16 and ax.get_title() == "t"
    assert colours.count(viz.WRONG) == 1 and colours.count(viz.RIGHT) == len(blank) - 1
    assert colours.count(viz.GIVEN) == (p > 0).sum()
    only_solution = viz.draw_sudoku(Figure().add_subplot(), p, solution=s)
    assert [t.get_color() for t in only_solution.texts].count(viz.MISSED) == len(blank)
    with pytest.raises(ValueError, match="prediction shape"):
        viz.draw_sudoku(Figure().add_subplot(), p, prediction=np.zeros((6, 6), int))


def test_draw_maze_marks_right_wrong_and_missed_path_cells():
    x, y = generate_mazes(1, 9, seed=2)
    x, y = x[0], y[0]
    pred = y.copy()
    path = np.argwhere(y == "o")
    pred[tuple(path[0])] = " "  # one path cell missed
    spare = np.argwhere((x == " ") & (y != "o"))[0]
    pred[tuple(spare)] = "o"  # one wrong cell
    codes = viz.maze_codes(x, pred, y)
    assert (codes == 6).sum() == 1 and (codes == 4).sum() == 1 and (codes == 5).sum() == len(path) - 1
    ax = viz.draw_maze(Figure().add_subplot(), x, prediction=pred, solution=y)
    assert len(ax.images) == 1 and {t.get_text() for t in ax.texts} == {"S", "G"}


@pytest.mark.parametrize("kind", ["sudoku", "maze"])
def test_draw_segments_returns_one_panel_per_prediction(kind):
    if kind == "sudoku":
        p, s = generate(1, 6, seed=3)
        puzzle, solution = encode_sudoku(p[0]), encode_sudoku(s[0])
    else:
        x, y = generate_mazes(1, 7, seed=3)
        puzzle, solution = encode_maze(x[0]), encode_maze(y[0])
    predictions = [puzzle, solution, solution]
    fig = viz.draw_segments(predictions, puzzle, solution, kind=kind, tokens=True)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["segment 1", "segment 2", "segment 3"]
    fig.canvas.draw()  # renders without error
    with pytest.raises(ValueError, match="empty"):
        viz.draw_segments([], puzzle, solution, kind=kind, tokens=True)
    with pytest.raises(ValueError, match="kind"):
        viz.draw_segments(predictions, puzzle, kind="chess")


# --------------------------------------------------------------------------- a traced segment
def _trace():
    import torch

    from hrm_minimal.config import HRMConfig
    from hrm_minimal.model import HRM
    from hrm_minimal.trace import trace_segments

    torch.manual_seed(0)
    model = HRM(HRMConfig(vocab_size=6, seq_len=16, hidden_size=16, num_heads=2, H_layers=1, L_layers=1,
                          H_cycles=2, L_cycles=2, halt_max_steps=2))
    inputs = torch.randint(1, 6, (2, 16), generator=torch.Generator().manual_seed(0))
    return trace_segments(model, {"inputs": inputs}, segments=2), inputs[0].numpy()


def test_draw_trace_step_marks_the_call_and_draws_the_board_of_that_call():
    trace, puzzle = _trace()
    solution = np.full(16, 2)
    fig = viz.draw_trace_step(trace, 7, puzzle, solution, index=0)
    left, right = fig.axes[:2]
    assert left.get_yscale() == "log"
    assert any(list(line.get_xdata()) == [8, 8] for line in left.get_lines())  # the call, 1-based
    labels = [t.get_text() for t in left.get_legend().get_texts()]
    assert labels == ["L calls", "H calls"]
    right_count = int((trace.boards[7, 0] == 2).sum())
    assert right.get_title() == f"board after this call: {right_count}/16 right"
    assert "segment 2" in left.get_title() and ": L," in left.get_title()


@pytest.mark.parametrize("call, index, message", [(12, 0, "call must be"), (-1, 0, "call must be"),
                                                   (0, 2, "index must be")])
def test_draw_trace_step_refuses_a_call_or_puzzle_outside_the_trace(call, index, message):
    trace, puzzle = _trace()
    with pytest.raises(ValueError, match=message):
        viz.draw_trace_step(trace, call, puzzle, index=index)
