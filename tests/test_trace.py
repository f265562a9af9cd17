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


@pytest.mark.parametrize("segments", [0, -1, 1.5, True])
def test_bad_segment_counts_are_refused(segments):
    with pytest.raises(ValueError, match="segments must be a positive int"):
        trace_segments(_model(), _batch(), segments=segments)


def test_a_model_that_is_not_hrm_is_refused():
    with pytest.raises(TypeError, match="expects an hrm_minimal.model.HRM"):
        trace_segments(torch.nn.Linear(2, 2), _batch(), segments=1)
