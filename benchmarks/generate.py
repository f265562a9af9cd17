"""How long generating 1,000 puzzles takes: each Sudoku size (unique solutions) and 15x15 mazes.

Run from the repository root: `python benchmarks/generate.py [--count 1000] [--seed 0]`.
The last line reads `sudoku-9x9: 1000 unique puzzles in S s` (target: under 2 s on a 2-core CPU).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a source checkout

from hrm_minimal.data import generate, generate_mazes  # noqa: E402


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n, seed = args.count, args.seed
    print(f"sudoku-4x4: {n} unique puzzles in {timed(lambda: generate(n, 4, clues=None, seed=seed)):.2f} s (minimal)")
    print(f"sudoku-6x6: {n} unique puzzles in {timed(lambda: generate(n, 6, clues=None, seed=seed)):.2f} s (minimal)")
    maze_s = timed(lambda: generate_mazes(n, 15, seed=seed))
    print(f"maze-15x15: {n} mazes in {maze_s:.2f} s (unique shortest path >= 37 steps)")
    print(f"sudoku-9x9: {n} unique puzzles in {timed(lambda: generate(n, 9, clues=(30, 40), seed=seed)):.2f} s")


if __name__ == "__main__":
    main()
