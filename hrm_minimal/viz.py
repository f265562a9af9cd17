"""Drawing puzzles: text boards and matplotlib pictures of Sudoku and mazes (pure functions).

Inputs are plain grids (Sudoku: (n, n) ints with 0 blank, or a string; mazes: (n, n) characters or a
string) or, with `tokens=True`, token sequences in the reference encoding (model inputs/outputs).
Colours: givens black, right predictions green, wrong ones red, other digits blue; cells whose answer
just changed (the step-through explorer, `draw_step`) outlined in orange.
"""
from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .data.maze import decode_maze, parse_maze
from .data.sudoku import box_shape, decode_sudoku, parse_grid

GIVEN, RIGHT, WRONG, OTHER, MISSED = "black", "tab:green", "tab:red", "tab:blue", "0.75"
CHANGED = "tab:orange"  # outline of a cell whose answer changed at this step


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------
def _sudoku(x, tokens: bool) -> np.ndarray:
    if x is None:
        return None
    return decode_sudoku(np.asarray(x)) if tokens else parse_grid(x)


def _maze(x, tokens: bool) -> np.ndarray:
    if x is None:
        return None
    return decode_maze(np.asarray(x)) if tokens else parse_maze(x)


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------
def board_text(grid, box: tuple[int, int] | None = None, tokens: bool = False) -> str:
    """A Sudoku as text, '.' for blanks, boxes separated by '|' and '-' lines."""
    g = _sudoku(grid, tokens)
    n = g.shape[0]
    br, bc = box if box is not None else box_shape(n)
    if br * bc != n:
        raise ValueError(f"box {box} does not tile a {n}x{n} grid")
    rule = "+".join(["-" * (2 * bc + 1)] * (n // bc))
    lines = []
    for r in range(n):
        if r and r % br == 0:
            lines.append(rule)
        cells = ["." if v == 0 else str(int(v)) for v in g[r]]
        lines.append("|".join(" " + " ".join(cells[c:c + bc]) + " " for c in range(0, n, bc)))
    return "\n".join(lines)


def maze_text(grid, tokens: bool = False) -> str:
    """A maze as text, one line per row."""
    return "\n".join("".join(row) for row in _maze(grid, tokens))


# ---------------------------------------------------------------------------------------------
# Sudoku picture
# ---------------------------------------------------------------------------------------------
def draw_sudoku(ax: Axes, puzzle, prediction=None, solution=None, box=None, tokens: bool = False,
                title: str | None = None) -> Axes:
    """Draw a Sudoku on `ax`: givens black; predicted digits green/red against `solution` (blue
    when no solution is given); without a prediction the solution's digits in grey."""
    p = _sudoku(puzzle, tokens)
    pred, sol = _sudoku(prediction, tokens), _sudoku(solution, tokens)
    n = p.shape[0]
    br, bc = box if box is not None else box_shape(n)
    for other, name in ((pred, "prediction"), (sol, "solution")):
        if other is not None and other.shape != p.shape:
            raise ValueError(f"{name} shape {other.shape} differs from the puzzle's {p.shape}")
    ax.set_xlim(0, n)
    ax.set_ylim(n, 0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for k in range(n + 1):
        ax.axhline(k, color="black", lw=2.0 if k % br == 0 else 0.5)
        ax.axvline(k, color="black", lw=2.0 if k % bc == 0 else 0.5)
    size = 160 / n
    for r in range(n):
        for c in range(n):
            if p[r, c]:
                text, color, weight = str(int(p[r, c])), GIVEN, "bold"
            elif pred is not None:
                v = int(pred[r, c])
                text = str(v) if v else "?"
                color = OTHER if sol is None else (RIGHT if v == sol[r, c] else WRONG)
                weight = "normal"
            elif sol is not None:
                text, color, weight = str(int(sol[r, c])), MISSED, "normal"
            else:
                continue
            ax.text(c + 0.5, r + 0.5, text, ha="center", va="center", color=color, fontsize=size, fontweight=weight)
    if title:
        ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------------------------
# Maze picture
# ---------------------------------------------------------------------------------------------
_MAZE_COLORS = ListedColormap(["white", "0.15", "tab:green", "tab:red", MISSED, "tab:green", "tab:red"])
_OPEN, _WALL, _S, _G, _SOL, _RIGHT, _WRONG = range(7)


def maze_codes(grid, prediction=None, solution=None) -> np.ndarray:
    """(n, n) colour codes: open, wall, S, G, solution path not predicted, right and wrong path."""
    codes = np.full(grid.shape, _OPEN)
    codes[grid == "#"] = _WALL
    if solution is not None:
        codes[(solution == "o") & (grid != "#")] = _SOL
    if prediction is not None:
        on = prediction == "o"
        right = on & (solution == "o") if solution is not None else on
        codes[right] = _RIGHT
        codes[on & ~right] = _WRONG
    codes[grid == "S"] = _S
    codes[grid == "G"] = _G
    return codes


def draw_maze(ax: Axes, grid, prediction=None, solution=None, tokens: bool = False, title: str | None = None) -> Axes:
    """Draw a maze on `ax`: walls dark, S and G marked; a predicted path green where it matches the
    solution and red elsewhere, solution cells the prediction missed in grey."""
    g, pred, sol = _maze(grid, tokens), _maze(prediction, tokens), _maze(solution, tokens)
    for other, name in ((pred, "prediction"), (sol, "solution")):
        if other is not None and other.shape != g.shape:
            raise ValueError(f"{name} shape {other.shape} differs from the maze's {g.shape}")
    codes = maze_codes(g, pred, sol)
    ax.imshow(codes, cmap=_MAZE_COLORS, vmin=0, vmax=len(_MAZE_COLORS.colors) - 1, interpolation="nearest")
    for ch in "SG":
        for r, c in np.argwhere(g == ch):
            ax.text(c, r, ch, ha="center", va="center", color="white", fontsize=max(5, 120 / g.shape[0]),
                    fontweight="bold")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------------------------
# A sequence of predictions
# ---------------------------------------------------------------------------------------------
def draw_segments(predictions, puzzle, solution=None, kind: str = "sudoku", tokens: bool = False,
                  titles: list[str] | None = None, size: float = 2.6) -> Figure:
    """One panel per prediction (e.g. one per segment of deep supervision), side by side."""
    if kind not in ("sudoku", "maze"):
        raise ValueError(f"kind must be 'sudoku' or 'maze', got {kind!r}")
    predictions = list(predictions)
    if not predictions:
        raise ValueError("predictions is empty: nothing to draw")
    if titles is not None and len(titles) != len(predictions):
        raise ValueError(f"{len(titles)} titles for {len(predictions)} predictions")
    fig = Figure(figsize=(size * len(predictions), size * 1.1))
    axes = fig.subplots(1, len(predictions), squeeze=False)[0]
    for k, (ax, pred) in enumerate(zip(axes, predictions)):
        title = titles[k] if titles is not None else f"segment {k + 1}"
        if kind == "sudoku":
            draw_sudoku(ax, puzzle, pred, solution, tokens=tokens, title=title)
        else:
            draw_maze(ax, puzzle, pred, solution, tokens=tokens, title=title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Inside a segment: residuals and the board at one module call
# ---------------------------------------------------------------------------------------------
def plot_residuals(ax: Axes, trace, label: str = "", call: int | None = None) -> Axes:
    """Forward residuals of a `hrm_minimal.trace.Trace` on a log axis, L and H calls apart, segment
    boundaries dotted; `call` (0-based) marked with a vertical line."""
    x = np.arange(1, len(trace) + 1)
    for kind, style in (("L", dict(marker=".", color="tab:blue")), ("H", dict(marker="o", color="tab:orange"))):
        idx = trace.calls(kind)
        if len(idx):
            ax.plot(x[idx], trace.residual[idx], linestyle="-" if kind == "L" else "none", markersize=4,
                    label=f"{label} {kind} calls".strip(), **style)
    for boundary in np.flatnonzero(np.diff(trace.segment)) + 1.5:
        ax.axvline(boundary, color="0.8", lw=0.8, ls=":")
    if call is not None:
        ax.axvline(call + 1, color="black", lw=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("module call")
    ax.set_ylabel("residual |z_new - z_old| / |z_old|")
    return ax


def draw_trace_step(trace, call: int, puzzle, solution=None, index: int = 0, title: str = "",
                    size: float = 3.2) -> Figure:
    """Two panels for one module call of a trace: the residual curves with the call marked, and the
    board the model would write after that call for puzzle `index` of the traced batch (tokens)."""
    if not 0 <= call < len(trace):
        raise ValueError(f"call must be in 0..{len(trace) - 1}, got {call}")
    if not 0 <= index < trace.boards.shape[1]:
        raise ValueError(f"index must be in 0..{trace.boards.shape[1] - 1}, got {index}")
    fig = Figure(figsize=(size * 3.4, size * 1.4))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1.4]})
    plot_residuals(left, trace, call=call)
    left.legend(loc="upper right", fontsize=8)
    left.set_title(title or f"call {call + 1} of {len(trace)}: {trace.kinds[call]}, segment {trace.segment[call] + 1}")
    board = trace.boards[call, index]
    draw_sudoku(right, puzzle, board, solution, tokens=True,
                title="board after this call" if solution is None else
                f"board after this call: {int((board == np.asarray(solution)).sum())}/{board.size} right")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# The step-through explorer: one module call (a hrm_minimal.stepthrough.StepView)
# ---------------------------------------------------------------------------------------------
def _check_kind(kind: str) -> None:
    if kind not in ("sudoku", "maze"):
        raise ValueError(f"kind must be 'sudoku' or 'maze', got {kind!r}")


def _draw_view_board(ax: Axes, view, puzzle, solution, kind: str, box, title: str) -> Axes:
    """The board of a step view (tokens), right/wrong coloured, changed cells outlined."""
    if kind == "sudoku":
        draw_sudoku(ax, puzzle, view.board, solution, box=box, tokens=True, title=title)
        corner = 0.0  # draw_sudoku's cell (r, c) spans [c, c + 1] x [r, r + 1]
    else:
        draw_maze(ax, puzzle, view.board, solution, tokens=True, title=title)
        corner = -0.5  # imshow centres cell (r, c) on (c, r)
    n = int(round(view.board.size ** 0.5))
    for r, c in np.argwhere(np.asarray(view.changed).reshape(n, n)):
        ax.add_patch(Rectangle((c + corner + 0.06, r + corner + 0.06), 0.88, 0.88, fill=False,
                               edgecolor=CHANGED, lw=2.2))
    ax.set_xlabel(f"{view.num_right}/{view.board.size} right, {view.num_changed} changed")
    return ax


def q_decision_text(view) -> str:
    """What the Q head decides at this step: "halt" / "continue" at a segment's end, else that it is not read."""
    if not view.end_of_segment:
        return "mid-segment: Q read only at the end"
    return "halt" if view.halts else "continue"


def draw_step(view, puzzle, solution=None, kind: str = "sudoku", box=None, size: float = 3.2) -> Figure:
    """Two panels for a `hrm_minimal.stepthrough.StepView` of puzzle `puzzle` (tokens): the board after
    the call (green right, red wrong against `solution`, changed cells outlined) and the Q head,
    sigmoid(q_halt) and sigmoid(q_continue) as bars with its decision (greyed mid-segment)."""
    _check_kind(kind)
    fig = Figure(figsize=(size * 2.2, size * 1.15))
    board_ax, q_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.3, 1]})
    _draw_view_board(board_ax, view, puzzle, solution, kind, box,
                     f"segment {view.segment}/{view.segments}, step {view.step}/{view.steps}: {view.kind} call")
    probs, logits = (view.halt_probability, view.continue_probability), (view.q_halt, view.q_continue)
    alpha = 1.0 if view.end_of_segment else 0.35
    q_ax.barh([1, 0], probs, color=["tab:purple", "tab:cyan"], alpha=alpha, height=0.6)
    for y, p, q in zip([1, 0], probs, logits):  # the value beside a short bar, inside a long one
        inside = p > 0.6
        q_ax.text(p - 0.02 if inside else p + 0.02, y, f"{p:.2f} (q={q:+.2f})", va="center", fontsize=9,
                  ha="right" if inside else "left", color="white" if inside else "black")
    q_ax.axvline(0.5, color="0.6", lw=0.8, ls=":")
    q_ax.set_xlim(0, 1)
    q_ax.set_yticks([1, 0], ["sigmoid(q_halt)", "sigmoid(q_continue)"])
    q_ax.set_xlabel("Q head")
    decision = q_decision_text(view)
    q_ax.set_title(f"Q head says: {decision}" if view.end_of_segment else decision.replace(": ", ":\n"))
    fig.tight_layout()
    return fig


def draw_steps(views, puzzle, solution=None, kind: str = "sudoku", box=None, size: float = 2.6) -> Figure:
    """A few step views side by side (a static stand-in for the explorer in a rendered notebook)."""
    _check_kind(kind)
    views = list(views)
    if not views:
        raise ValueError("views is empty: nothing to draw")
    fig = Figure(figsize=(size * len(views), size * 1.3))
    axes = fig.subplots(1, len(views), squeeze=False)[0]
    for ax, view in zip(axes, views):
        title = f"seg {view.segment}, step {view.step}/{view.steps} ({view.kind})"
        if view.end_of_segment:
            title += f"\nQ: {q_decision_text(view)} (p={view.halt_probability:.2f})"
        _draw_view_board(ax, view, puzzle, solution, kind, box, title)
    fig.tight_layout()
    return fig
