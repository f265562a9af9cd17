"""Checkers of lesson 03 (recurrence and the two-level hierarchy)."""
from __future__ import annotations

__all__: list[str] = []
