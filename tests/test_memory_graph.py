"""graph_saved_bytes counts what the graph behind a tensor still holds, and stops at a cut."""
from __future__ import annotations

import pytest
import torch

from hrm_minimal.memory import graph_saved_bytes


def test_a_chain_holds_what_its_nodes_saved_and_a_detach_cuts_it():
    torch.manual_seed(0)
    w = torch.randn(64, 64, requires_grad=True)
    x = torch.randn(8, 64)
    h = torch.tanh(x @ w)  # mm keeps x (8x64 floats), tanh keeps its output (8x64)
    one = graph_saved_bytes(h.sum())
    assert one == 2 * 8 * 64 * 4
    deeper = torch.tanh(h @ w)  # keeps h (already counted: the same storage as tanh's output) and its output
    assert graph_saved_bytes(deeper.sum()) == one + 8 * 64 * 4
    cut = torch.tanh(h.detach() @ w)  # the graph stops at the detach
    assert graph_saved_bytes(cut.sum()) == 2 * 8 * 64 * 4  # its own two tensors, nothing from h's graph


def test_weights_are_left_out_unless_asked_for():
    w = torch.randn(16, 16, requires_grad=True)
    x = torch.randn(4, 16, requires_grad=True)
    y = (x @ w).sum()  # mm keeps both x and w (both need a gradient)
    assert graph_saved_bytes(y) == 0
    assert graph_saved_bytes(y, exclude_leaves=False) == (16 * 16 + 4 * 16) * 4


def test_nothing_is_held_without_a_graph_or_after_backward():
    w = torch.randn(8, 8, requires_grad=True)
    with torch.no_grad():
        assert graph_saved_bytes(torch.tanh(torch.randn(2, 8) @ w).sum()) == 0
    y = torch.tanh(torch.randn(2, 8) @ w).sum()
    y.backward()  # frees the saved tensors
    assert graph_saved_bytes(y) == 0


def test_a_non_tensor_is_refused():
    with pytest.raises(TypeError, match="expects a tensor"):
        graph_saved_bytes(3.0)
