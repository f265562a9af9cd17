"""Environment check: `python -m hrm_minimal.check_env`.

Prints one line per needed package with its version and [OK]/[FAIL], then the torch build and the
device the course will use. Exit status 1 if anything needed is missing or too old.
"""
from __future__ import annotations

import importlib
import sys

# (import name, distribution name, minimum version) — the runtime needs of pyproject.toml.
REQUIRED = [
    ("torch", "torch", "2.2"),
    ("numpy", "numpy", "1.24"),
    ("matplotlib", "matplotlib", "3.7"),
    ("tqdm", "tqdm", "4.66"),
    ("ipywidgets", "ipywidgets", "8.0"),
]


def _version_tuple(text: str) -> tuple[int, ...]:
    """'2.13.0+cpu' -> (2, 13, 0); stops at the first non-numeric part."""
    parts = []
    for piece in text.split("+")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
        if digits != piece:
            break
    return tuple(parts)


def check_environment() -> list[tuple[str, bool, str]]:
    """Return (name, ok, detail) for each needed package, the torch build and the device."""
    rows = []
    for module, dist, minimum in REQUIRED:
        try:
            version = getattr(importlib.import_module(module), "__version__", "unknown")
        except ImportError:
            rows.append((dist, False, f"not installed (need >= {minimum})"))
            continue
        ok = _version_tuple(version) >= _version_tuple(minimum)
        rows.append((dist, ok, f"{version}" + ("" if ok else f" (need >= {minimum})")))
    python_ok = sys.version_info >= (3, 10)
    rows.insert(0, ("python", python_ok, sys.version.split()[0] + ("" if python_ok else " (need >= 3.10)")))
    try:
        import torch

        from hrm_minimal.utils import get_device

        build = f"cuda {torch.version.cuda}" if torch.version.cuda else "cpu-only"
        rows.append(("torch build", True, build))
        device = get_device()
        detail = str(device)
        if device.type == "cuda":
            detail += f" ({torch.cuda.get_device_name(0)})"
        rows.append(("device", True, detail))
    except ImportError:
        rows.append(("device", False, "torch missing"))
    return rows


def report() -> bool:
    """Print one [OK]/[FAIL] line per check; True when all are OK."""
    rows = check_environment()
    width = max(len(name) for name, _, _ in rows)
    for name, ok, detail in rows:
        print(f"[{'OK' if ok else 'FAIL'}] {name:<{width}}  {detail}")
    return all(ok for _, ok, _ in rows)


def main() -> int:
    return 0 if report() else 1


if __name__ == "__main__":
    sys.exit(main())
