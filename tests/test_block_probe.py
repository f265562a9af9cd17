"""hrm_minimal.block_probe: RMS under repetition, rotary score maps on a grid, and their figures (Agg)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from hrm_minimal import block_probe, layers  # noqa: E402


def test_rms_of_a_known_tensor():
    assert block_probe.rms(torch.tensor([3.0, -4.0])) == pytest.approx(np.sqrt(12.5))
    assert block_probe.rms(torch.full((2, 3, 4), -2.0, dtype=torch.bfloat16)) == pytest.approx(2.0)
    with pytest.raises(TypeError, match="torch.Tensor"):
        block_probe.rms([1.0, 2.0])
    with pytest.raises(ValueError, match="empty"):
        block_probe.rms(torch.empty(0))


def test_rms_under_repetition_records_start_and_every_step():
    values = block_probe.rms_under_repetition(lambda h: 2 * h, torch.ones(2, 3), times=4)
    assert values == pytest.approx([1, 2, 4, 8, 16])
    with pytest.raises(ValueError, match="positive int"):
        block_probe.rms_under_repetition(lambda h: h, torch.ones(2), times=0)
    with pytest.raises(ValueError, match="state's shape"):
        block_probe.rms_under_repetition(lambda h: h.sum(), torch.ones(2), times=1)
    with pytest.raises(TypeError, match="function"):
        block_probe.rms_under_repetition("block", torch.ones(2), times=1)


def test_a_post_norm_block_keeps_rms_at_one():
    torch.manual_seed(0)
    block = layers.TransformerBlock(16, 2, 2.0, swiglu_multiple=8)
    cos_sin = layers.RotaryEmbedding(8, 5)()
    values = block_probe.rms_under_repetition(lambda h: block(h, cos_sin), 7 * torch.randn(1, 5, 16), times=5)
    assert values[0] > 5 and np.allclose(values[1:], 1.0, atol=1e-3)


def test_plot_rms_curves_draws_one_line_per_curve():
    fig = block_probe.plot_rms_curves({"a": [1, 1, 1], "b": [1, 2, 4, 8]}, title="t")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    assert ax.get_yscale() == "log" and ax.get_title() == "t"
    assert list(ax.get_lines()[1].get_ydata()) == [1, 2, 4, 8]
    with pytest.raises(ValueError, match="at least one"):
        block_probe.plot_rms_curves({})
    with pytest.raises(ValueError, match="log axis"):
        block_probe.plot_rms_curves({"a": [1, 0]})
    assert block_probe.plot_rms_curves({"a": [0, 1]}, log=False).axes[0].get_yscale() == "linear"


def test_cell_position_reads_row_by_row_after_the_prefix():
    assert block_probe.cell_position(0, 0, 6) == 1
    assert block_probe.cell_position(0, 5, 6) + 1 == block_probe.cell_position(1, 0, 6)
    assert block_probe.cell_position(2, 3, 6) + 6 == block_probe.cell_position(3, 3, 6)
    assert block_probe.cell_position(1, 1, 4, prefix=0) == 5
    with pytest.raises(ValueError, match="outside"):
        block_probe.cell_position(6, 0, 6)
    with pytest.raises(ValueError, match="grid_size"):
        block_probe.cell_position(0, 0, 0)


def test_score_map_puts_each_key_cell_at_its_place():
    got = block_probe.score_map(lambda q, k: 100 * q + k, (1, 2), grid_size=3, prefix=1)
    q = 1 + 3 * 1 + 2
    assert got.shape == (3, 3)
    assert got[0, 0] == 100 * q + 1 and got[2, 1] == 100 * q + 1 + 3 * 2 + 1
    with pytest.raises(TypeError, match="score"):
        block_probe.score_map(None, (0, 0), 3)


def test_draw_score_maps_outlines_each_query_on_one_scale():
    maps = [np.arange(36.0).reshape(6, 6), -np.arange(36.0).reshape(6, 6)]
    fig = block_probe.draw_score_maps(maps, [(1, 1), (3, 4)], title="maps")
    assert isinstance(fig, Figure)
    axes = [ax for ax in fig.axes if ax.get_title().startswith("query")]
    assert [ax.get_title() for ax in axes] == ["query at cell (1, 1)", "query at cell (3, 4)"]
    assert axes[1].get_lines()[0].get_xdata()[0] == 4 and axes[1].get_lines()[0].get_ydata()[0] == 3
    assert all(ax.images[0].get_clim() == (-35.0, 35.0) for ax in axes)
    with pytest.raises(ValueError, match="one map per query cell"):
        block_probe.draw_score_maps(maps, [(0, 0)])
    with pytest.raises(ValueError, match="square"):
        block_probe.draw_score_maps([np.zeros((2, 3))], [(0, 0)])
    with pytest.raises(ValueError, match="outside"):
        block_probe.draw_score_maps([np.zeros((2, 2))], [(2, 0)])
