"""Lesson 03's checkers against a right answer and the plausible wrong answers a student writes.

Read by tests/test_checks.py: CASES holds (checker, a right answer, [plausible wrong answers]),
HINTS holds (checker, wrong answer, a phrase its hint must contain).
"""
from __future__ import annotations

CASES: list = []
HINTS: list = []
