"""Checkers of lesson 04 (the one-step gradient)."""
from __future__ import annotations

__all__: list[str] = []
