"""Checkpoints: one file per run holding everything needed to resume or evaluate.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so it loads with
`torch.load(..., weights_only=True)` (no pickled classes, no code execution on load).
"""
from __future__ import annotations

import os
import pickle
import reprlib
import warnings
from pathlib import Path

import torch

from hrm_minimal.config import HRMConfig

FORMAT = "hrm_minimal-checkpoint-v1"


def save_checkpoint(path: str | os.PathLike, payload: dict) -> None:
    """Write atomically: a crash while saving never leaves a half-written checkpoint behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, **payload}, tmp)
    os.replace(tmp, path)


def _unreadable(head: bytes, exc: Exception) -> str:
    """Why torch.load refused a file starting with `head`, in a few words (torch's own message runs
    to many lines and suggests weights_only=False, which would run any code the file holds)."""
    if head.startswith((b"PK\x03\x04", b"\x80")):  # torch.save's zip archive, or a bare pickle
        if isinstance(exc, pickle.UnpicklingError):  # what the weights-only unpickler raises
            return "it holds more than tensors and plain data (or is damaged), and is not loaded, for safety"
        return "the file is damaged or cut short"
    if all(b >= 32 or b in b"\t\n\r" for b in head):
        return "not a PyTorch file (a text file?)"
    return "not a PyTorch file"


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint written by `save_checkpoint`, with weights_only=True. A file that is not one
    raises ValueError naming it, in one line."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    if not head:
        raise ValueError(f"{path} is not a checkpoint of this course: the file is empty")
    try:
        with warnings.catch_warnings():  # a bare pickle warns about its protocol before it is refused
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # a truncated file, a pickle that needs code to load, not a torch file at all
        raise ValueError(f"{path} is not a checkpoint of this course: {_unreadable(head, exc)}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"{path} is not an hrm_minimal checkpoint (format {reprlib.repr(found)}, expected {FORMAT!r})")
    config = ckpt.get("model_config")  # every checkpoint and exported model has one
    if not isinstance(config, dict):
        what = "no model_config" if config is None else f"a model_config of type {type(config).__name__}, not a mapping"
        raise ValueError(f"{path} is an incomplete hrm_minimal checkpoint: it has {what}")
    return ckpt


def saved_model_config(ckpt: dict, path) -> HRMConfig:
    """The model config of a loaded checkpoint; ValueError naming the file if it is not a valid one."""
    try:
        return HRMConfig.from_dict(ckpt["model_config"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path} has an invalid model_config: {exc}") from None


def config_differences(a: dict, b: dict) -> list[str]:
    """Keys whose values differ between two config dicts, as 'key: a != b' strings."""
    keys = sorted(set(a) | set(b))
    return [f"{k}: {a.get(k)!r} != {b.get(k)!r}" for k in keys if a.get(k) != b.get(k)]
