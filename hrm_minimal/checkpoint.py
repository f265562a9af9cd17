"""Checkpoints: one file per run holding everything needed to resume or evaluate.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so it loads with
`torch.load(..., weights_only=True)` (no pickled classes, no code execution on load).
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

FORMAT = "hrm_minimal-checkpoint-v1"


def save_checkpoint(path: str | os.PathLike, payload: dict) -> None:
    """Write atomically: a crash while saving never leaves a half-written checkpoint behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, **payload}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint written by `save_checkpoint`, with weights_only=True."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # a truncated file, or a pickle that needs code to load
        raise ValueError(f"{path} is not a readable hrm_minimal checkpoint: {exc}") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"{path} is not an hrm_minimal checkpoint (format {found!r}, expected {FORMAT!r})")
    return ckpt


def config_differences(a: dict, b: dict) -> list[str]:
    """Keys whose values differ between two config dicts, as 'key: a != b' strings."""
    keys = sorted(set(a) | set(b))
    return [f"{k}: {a.get(k)!r} != {b.get(k)!r}" for k in keys if a.get(k) != b.get(k)]
