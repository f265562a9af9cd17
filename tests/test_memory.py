"""hrm_minimal.memory.saved_tensor_bytes: the bytes of the distinct storages autograd saves for backward."""
from __future__ import annotations

import sys

import pytest
import torch

from hrm_minimal.config import HRMConfig
from hrm_minimal.memory import saved_tensor_bytes
from hrm_minimal.model import HRMInner


def test_counts_what_each_operation_saves_in_bytes():
    a = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 5, requires_grad=True)
    assert saved_tensor_bytes(lambda: (a + 1).sum()) == 0  # an addition saves nothing
    assert saved_tensor_bytes(lambda: a.exp().sum()) == 3 * 4 * 8  # exp saves its float64 output
    # a matrix product saves both factors: 3x4 float32 (a cast copy of a) and the 4x5 float32 w
    assert saved_tensor_bytes(lambda: (a.float() @ w).sum()) == (12 + 20) * 4


def test_a_tensor_saved_twice_counts_once():
    a = torch.randn(10, requires_grad=True)
    assert saved_tensor_bytes(lambda: (a * a).sum()) == 10 * 4  # mul saves both factors: the same tensor


def test_views_count_their_whole_storage_once():
    big = torch.randn(8, 16, requires_grad=True)
    top = lambda: big[:2].sin().sum()  # noqa: E731  sin saves its input, a view of a quarter of big
    both = lambda: big[:2].sin().sum() + big[2:].sin().sum()  # noqa: E731  two views of one storage
    assert saved_tensor_bytes(top) == 8 * 16 * 4
    assert saved_tensor_bytes(both) == 8 * 16 * 4


def test_nothing_is_saved_under_no_grad_or_for_tensors_without_grad():
    a = torch.randn(5, requires_grad=True)

    def under_no_grad():
        with torch.no_grad():
            return a.exp().sum()

    assert saved_tensor_bytes(under_no_grad) == 0
    assert saved_tensor_bytes(lambda: torch.randn(5).exp().sum()) == 0


def test_storages_of_discarded_graphs_are_not_confused_with_later_ones():
    a = torch.randn(1000, requires_grad=True)

    def two_branches():
        for _ in range(3):  # each branch's output (saved by exp) is dropped before the next is made
            a.exp().sum()

    assert saved_tensor_bytes(two_branches) == 3 * 1000 * 4  # three distinct storages, however addresses are reused


def test_the_result_is_an_int_and_fn_must_be_callable():
    assert isinstance(saved_tensor_bytes(lambda: None), int)
    with pytest.raises(TypeError, match="closure"):
        saved_tensor_bytes(torch.randn(3))


def test_one_step_gradient_memory_is_flat_in_the_cycles_and_full_backprop_grows():
    def memory(cycles: int, one_step: bool) -> int:
        torch.manual_seed(0)
        inner = HRMInner(HRMConfig(vocab_size=6, seq_len=8, hidden_size=32, num_heads=2, expansion=2.0, H_layers=1,
                                   L_layers=1, H_cycles=cycles, L_cycles=cycles, one_step_grad=one_step))
        batch = {"inputs": torch.ones(4, 8, dtype=torch.long), "puzzle_identifiers": torch.zeros(4, dtype=torch.long)}
        carry = inner.reset_carry(torch.ones(4, dtype=torch.bool), inner.empty_carry(4))
        return saved_tensor_bytes(lambda: inner(carry, batch)[1].sum())

    assert memory(4, True) == memory(2, True)
    assert memory(4, False) > 2.5 * memory(2, False)  # 20 module calls keep their activations, not 6


def test_the_memory_benchmark_measures_with_this_function(repo_root):
    sys.path.insert(0, str(repo_root / "benchmarks"))
    try:
        import memory as benchmark
    finally:
        sys.path.pop(0)
    from hrm_minimal.model import HRM
    from hrm_minimal.presets import get_preset

    assert benchmark.saved_tensor_bytes is saved_tensor_bytes
    cfg = get_preset("cpu-tiny", vocab_size=benchmark.VOCAB, seq_len=benchmark.SEQ_LEN, hidden_size=32)
    torch.manual_seed(0)
    model = HRM(cfg)
    batch = benchmark._batch(2, torch.device("cpu"))
    saved, peak = benchmark.segment_memory(model, batch)
    assert saved > 0 and peak == 0
    assert all(p.grad is None for p in model.parameters())  # the backward ran and its gradients were cleared
