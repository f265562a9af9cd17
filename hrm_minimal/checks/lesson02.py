"""Checkers of lesson 02 (the building block)."""
from __future__ import annotations

__all__: list[str] = []
