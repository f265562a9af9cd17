"""Measuring and drawing one block (lesson 02): its state's RMS when it is applied again and again,
and rotary attention scores laid out on a puzzle grid.

The functions take what they measure as arguments (a step function, a score function), so a
lesson can hand them the student's own pieces. Drawing functions return a matplotlib Figure.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure


# ---------------------------------------------------------------------------------------- RMS
def rms(h: torch.Tensor) -> float:
    """Root-mean-square of all entries of `h`, as a Python float."""
    if not torch.is_tensor(h):
        raise TypeError(f"rms expects a torch.Tensor, got {type(h).__name__}")
    if h.numel() == 0:
        raise ValueError("rms of an empty tensor is undefined")
    return h.detach().float().pow(2).mean().sqrt().item()


@torch.no_grad()
def rms_under_repetition(step: Callable[[torch.Tensor], torch.Tensor], h: torch.Tensor, times: int) -> list[float]:
    """Apply `step` to its own output `times` times from `h`; the RMS before and after each: times + 1 values."""
    if not callable(step):
        raise TypeError(f"step must be a function of the state, got {type(step).__name__}")
    if isinstance(times, bool) or not isinstance(times, int) or times < 1:
        raise ValueError(f"times must be a positive int, got {times!r}")
    values = [rms(h)]
    for _ in range(times):
        new = step(h)
        if not torch.is_tensor(new) or new.shape != h.shape:
            raise ValueError(f"step must return a tensor of the state's shape {tuple(h.shape)}, got "
                             f"{tuple(new.shape) if torch.is_tensor(new) else type(new).__name__}")
        h = new
        values.append(rms(h))
    return values


def plot_rms_curves(curves: Mapping[str, Sequence[float]], title: str = "", log: bool = True) -> Figure:
    """One line per entry of `curves` (label -> RMS after 0, 1, 2, ... applications), log y-axis by default."""
    if not curves:
        raise ValueError("plot_rms_curves needs at least one curve")
    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    for label, values in curves.items():
        values = np.asarray(values, dtype=float)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"curve {label!r} must be a non-empty sequence of numbers")
        if log and np.any(values <= 0):
            raise ValueError(f"curve {label!r} has values <= 0, which a log axis cannot show")
        ax.plot(np.arange(values.size), values, marker=".", label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("applications of the same block")
    ax.set_ylabel("RMS of the state")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------- rotary maps
def cell_position(row: int, col: int, grid_size: int, prefix: int = 1) -> int:
    """Sequence position of cell (row, col) of a grid read row by row after `prefix` extra tokens."""
    if grid_size < 1 or prefix < 0:
        raise ValueError(f"need grid_size >= 1 and prefix >= 0, got {grid_size} and {prefix}")
    if not (0 <= row < grid_size and 0 <= col < grid_size):
        raise ValueError(f"cell ({row}, {col}) is outside a {grid_size}x{grid_size} grid")
    return prefix + grid_size * row + col


def score_map(score: Callable[[int, int], float], query_cell: tuple[int, int], grid_size: int,
              prefix: int = 1) -> np.ndarray:
    """(grid_size, grid_size) array: score(query position, key position) with the key at every cell."""
    if not callable(score):
        raise TypeError(f"score must be a function (query position, key position) -> float, got "
                        f"{type(score).__name__}")
    q_pos = cell_position(*query_cell, grid_size, prefix)
    return np.array([[float(score(q_pos, cell_position(r, c, grid_size, prefix))) for c in range(grid_size)]
                     for r in range(grid_size)])


def draw_score_maps(maps: Sequence[np.ndarray], query_cells: Sequence[tuple[int, int]], title: str = "",
                    size: float = 3.6) -> Figure:
    """Heatmaps side by side, one per query cell (outlined), on one colour scale."""
    maps = [np.asarray(m, dtype=float) for m in maps]
    if not maps or len(maps) != len(query_cells):
        raise ValueError(f"need one map per query cell, got {len(maps)} maps and {len(query_cells)} cells")
    for m, (r, c) in zip(maps, query_cells):
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ValueError(f"each map must be a square 2-D array, got shape {m.shape}")
        if not (0 <= r < m.shape[0] and 0 <= c < m.shape[1]):
            raise ValueError(f"query cell ({r}, {c}) is outside its {m.shape[0]}x{m.shape[1]} map")
    low, high = min(m.min() for m in maps), max(m.max() for m in maps)
    fig = Figure(figsize=(size * len(maps) + 1.0, size))
    axes = fig.subplots(1, len(maps), squeeze=False)[0]
    for ax, m, (r, c) in zip(axes, maps, query_cells):
        image = ax.imshow(m, cmap="coolwarm", vmin=low, vmax=high)
        ax.plot(c, r, marker="s", markersize=18, markerfacecolor="none", markeredgecolor="black", markeredgewidth=2)
        ax.set_title(f"query at cell ({r}, {c})")
        ax.set_xticks(range(m.shape[1]))
        ax.set_yticks(range(m.shape[0]))
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="score q.k")
    if title:
        fig.suptitle(title)
    return fig
