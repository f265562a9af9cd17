"""Accuracy metrics of the paper: exact (whole puzzle) and cell accuracy, ignoring padding."""
from __future__ import annotations

import torch

from hrm_minimal.data.puzzle_set import IGNORE_LABEL_ID  # labels of padding: they count for nothing


def sequence_correct(preds: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B,) bool: every non-ignored cell of the row is predicted right. preds, labels: (B, S)."""
    scored = labels != IGNORE_LABEL_ID  # (B, S)
    return ((preds == labels) | ~scored).all(dim=-1)


def exact_accuracy(preds: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows whose every non-ignored cell is right (the paper's headline metric)."""
    return sequence_correct(preds, labels).float().mean().item()


def cell_accuracy(preds: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of non-ignored cells predicted right."""
    scored = labels != IGNORE_LABEL_ID  # (B, S)
    return ((preds == labels) & scored).sum().item() / max(int(scored.sum()), 1)
