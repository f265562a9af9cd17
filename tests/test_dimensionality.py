"""The participation ratio and the states it is measured on (lesson 08)."""
from __future__ import annotations

import pytest
import torch

from hrm_minimal.config import HRMConfig
from hrm_minimal.dimensionality import collect_states, participation_ratio
from hrm_minimal.model import HRM


def _isotropic(n: int, dims: int, total: int, seed: int = 0) -> torch.Tensor:
    """n samples varying equally along `dims` random orthonormal directions of R^total."""
    g = torch.Generator().manual_seed(seed)
    basis = torch.linalg.qr(torch.randn(total, total, generator=g, dtype=torch.float64))[0][:, :dims]
    return torch.randn(n, dims, generator=g, dtype=torch.float64) @ basis.T


def test_participation_ratio_counts_equally_used_directions():
    for dims in (1, 3, 10):
        assert participation_ratio(_isotropic(20_000, dims, 16)) == pytest.approx(dims, rel=0.03)


def test_participation_ratio_of_unequal_directions_is_the_formula():
    # variances 4, 1, 1 along three axes: (6)^2 / (16 + 1 + 1) = 2
    g = torch.Generator().manual_seed(1)
    x = torch.randn(50_000, 3, generator=g, dtype=torch.float64) * torch.tensor([2.0, 1.0, 1.0], dtype=torch.float64)
    assert participation_ratio(x) == pytest.approx(2.0, rel=0.03)


def test_participation_ratio_ignores_scale_and_offset_and_keeps_its_input():
    x = _isotropic(500, 4, 8).float()
    kept = x.clone()
    base = participation_ratio(x)
    assert torch.equal(x, kept)
    assert participation_ratio(3.5 * x) == pytest.approx(base, rel=1e-6)
    assert participation_ratio(x + 100.0) == pytest.approx(base, rel=1e-3)  # features centred first
    assert isinstance(base, float) and 1.0 <= base <= 8.0


@pytest.mark.parametrize("bad, message", [
    (torch.ones(5), "2-D"), ([[1.0, 2.0]], "2-D"), (torch.ones(1, 4), "at least 2 samples"),
    (torch.ones(6, 3), "do not vary"),
])
def test_participation_ratio_refuses_what_has_no_covariance(bad, message):
    with pytest.raises(ValueError, match=message):
        participation_ratio(bad)


def _model(**changes) -> HRM:
    torch.manual_seed(0)
    cfg = HRMConfig(vocab_size=6, seq_len=5, hidden_size=16, num_heads=2, expansion=2.0, swiglu_multiple=8,
                    H_layers=1, L_layers=1, H_cycles=2, L_cycles=2, halt_max_steps=3, **changes)
    return HRM(cfg)


@pytest.mark.parametrize("architecture", ["hrm", "flat", "trm"])
def test_collect_states_are_the_states_the_model_computes_segment_by_segment(architecture):
    model = _model(architecture=architecture, puzzle_emb_ndim=16, num_puzzle_identifiers=2).train()
    inputs = torch.randint(1, 6, (7, 5), generator=torch.Generator().manual_seed(2))
    z_H, z_L = collect_states(model, inputs, segments=4, batch_size=3)  # batches of 3, 3 and 1
    assert z_H.shape == z_L.shape == (4, 7, 5 * 16) and model.training  # mode given back
    model.eval()
    batch = {"inputs": inputs}
    carry = model.initial_carry(batch)
    P = model.inner.puzzle_emb_len
    assert P > 0
    with torch.no_grad():
        for s in range(4):
            carry, _ = model(carry, batch, max_steps=4)
            assert torch.allclose(z_H[s], carry.inner_carry.z_H[:, P:].flatten(1), atol=1e-6)
            assert torch.allclose(z_L[s], carry.inner_carry.z_L[:, P:].flatten(1), atol=1e-6)
    assert not torch.allclose(z_L[0], z_L[1])  # the segments do move the state


@pytest.mark.parametrize("bad, message", [(0, "positive int"), (True, "positive int"), (2.0, "positive int")])
def test_collect_states_refuses_bad_segments(bad, message):
    with pytest.raises(ValueError, match=message):
        collect_states(_model(), torch.ones(2, 5, dtype=torch.long), segments=bad)


def test_collect_states_refuses_inputs_that_are_not_a_batch_of_puzzles():
    with pytest.raises(ValueError, match="puzzles, seq_len"):
        collect_states(_model(), torch.ones(5, dtype=torch.long), segments=1)
    with pytest.raises(TypeError, match="HRM"):
        collect_states(_model().inner, torch.ones(2, 5, dtype=torch.long), segments=1)
