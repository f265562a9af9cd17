"""Small helpers shared by the package and the lessons: device choice, seeding, Colab."""
from __future__ import annotations

import contextlib
import os
import random
import sys

import numpy as np
import torch


def get_device(prefer: str | None = None) -> torch.device:
    """Pick the device: `prefer` if given, else cuda, then mps, then cpu."""
    if prefer is not None and prefer != "auto":
        try:
            return torch.device(prefer)
        except RuntimeError:  # torch lists every device type it knows, over one long line
            raise ValueError(f"unknown device {prefer!r}: use auto, cpu, cuda (or cuda:N) or mps") from None
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bfloat16 autocast on a CUDA GPU that computes in bf16 (as the reference does); none elsewhere.

    GPUs older than Ampere (compute capability below 8.0, such as Colab's T4) have no bf16 matrix
    units: there the model runs in float32, which is faster than emulated bf16 and as exact.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.get_device_capability(device) >= (8, 0) else None


def autocast_context(device: torch.device):
    """bfloat16 autocast on a CUDA GPU with bf16 units, a no-op elsewhere: the same model code on every device."""
    dtype = autocast_dtype(device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules or os.path.isdir("/content/sample_data")
