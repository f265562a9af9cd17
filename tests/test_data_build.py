"""The build command: byte-for-byte rebuilds, --check, and a data card that matches the files."""
from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hrm_minimal.data import TASKS, build, datasets_dir, decode_sudoku, equivalence as eq, load_task
from hrm_minimal.data import decode_maze
from hrm_minimal.data.__main__ import cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tiny_specs(monkeypatch):
    """The real task names with a handful of puzzles each, so a build takes a second."""
    specs = [build.Spec(s.name, s.kind, s.size, 12, 4, s.seed, s.clues, s.min_path) for s in build.SPECS]
    monkeypatch.setattr(build, "SPECS", specs)
    return specs


def test_build_then_check_passes_and_a_changed_file_is_named(tmp_path, tiny_specs):
    assert cli(["build", "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([TASKS[s.name][split] for s in tiny_specs for split in ("train", "test")] + ["README.md"])
    first = {n: (tmp_path / n).read_bytes() for n in names}
    assert cli(["build", "--check", "--out", str(tmp_path)]) == 0
    target = tmp_path / "sudoku-6x6-test.csv"
    target.write_bytes(first["sudoku-6x6-test.csv"].replace(b"gen,", b"gen2,", 1))
    log: list[str] = []
    assert build.main(check=True, out_dir=tmp_path, log=log.append) == 1
    assert [line for line in log if "differs" in line] == [f"differs from the build: {target}"]
    (tmp_path / "README.md").unlink()
    log.clear()
    assert build.main(check=True, out_dir=tmp_path, log=log.append) == 1
    assert any("README.md" in line for line in log)
    assert build.main(out_dir=tmp_path, log=log.append) == 0  # rebuild restores every byte
    assert {n: (tmp_path / n).read_bytes() for n in names} == first


def _card_rows() -> dict[str, list[str]]:
    card = (datasets_dir() / "README.md").read_text()
    rows = {}
    for line in card.splitlines():
        m = re.match(r"\| `([^`]+\.csv)` \|(.*)", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in m.group(2).split("|")]
    return rows


def test_card_counts_sizes_and_hashes_match_the_shipped_files():
    rows = {name: cells for name, cells in _card_rows().items() if not name.startswith("ablation/")}
    assert len(rows) == 2 * len(TASKS)
    for name, cells in rows.items():
        data = (datasets_dir() / name).read_bytes()
        assert int(cells[0]) == data.count(b"\n") - 1  # rows (header excluded)
        assert int(cells[5]) == len(data)
        assert cells[6].strip("`") == hashlib.sha256(data).hexdigest()[:12]
    total = sum(p.stat().st_size for p in datasets_dir().iterdir())
    assert total < 5_000_000


def test_card_lists_every_shipped_ablation_grid_with_its_size_hash_and_command():
    rows = {name: cells for name, cells in _card_rows().items() if name.startswith("ablation/")}
    files = sorted((datasets_dir() / "ablation").glob("*.csv"))
    assert sorted(rows) == [f"ablation/{p.name}" for p in files] and files
    card = (datasets_dir() / "README.md").read_text()
    for path in files:
        data, cells = path.read_bytes(), rows[f"ablation/{path.name}"]
        assert int(cells[0]) == data.count(b"\n") - 1 and int(cells[4]) == len(data)
        assert cells[5].strip("`") == hashlib.sha256(data).hexdigest()[:12]
        assert f"- `{path.name}`: `python -m hrm_minimal.ablate --grid cpu --task {path.name[:-8]} " in card


def test_card_claims_about_test_train_equivalence_hold():
    card = (datasets_dir() / "README.md").read_text()
    forms = {}
    for split in ("train", "test"):
        relabelled = eq.relabel(load_task("sudoku-9x9", split).inputs - 1).astype(np.uint8)  # blanks -> 0
        forms[split] = {row.tobytes() for row in relabelled}
    assert not forms["train"] & forms["test"]  # none equal up to digit relabelling
    for name in ("maze-11x11", "maze-15x15"):
        train = {eq.maze_canonical(x) for x in decode_maze(load_task(name, "train").inputs)}
        assert not train & {eq.maze_canonical(x) for x in decode_maze(load_task(name, "test").inputs)}
    m = re.search(r"`sudoku-4x4`: \*\*(\d+) of 200\*\*", card)
    train4 = {eq.sudoku_canonical(p) for p in decode_sudoku(load_task("sudoku-4x4", "train").inputs)}
    test4 = [eq.sudoku_canonical(p) for p in decode_sudoku(load_task("sudoku-4x4", "test").inputs)]
    assert int(m.group(1)) == sum(f in train4 for f in test4)


@pytest.mark.slow
def test_no_6x6_or_9x9_test_puzzle_is_equivalent_to_a_training_puzzle():
    card = (datasets_dir() / "README.md").read_text()
    assert "**0 of 1000** test puzzles are equivalent" in card  # 6x6
    for name in ("sudoku-6x6", "sudoku-9x9"):
        train, test = decode_sudoku(load_task(name, "train").inputs), decode_sudoku(load_task(name, "test").inputs)
        by_invariant: dict = {}
        for p in train:
            by_invariant.setdefault(eq.sudoku_invariant(p), []).append(p)
        for p in test:
            same = by_invariant.get(eq.sudoku_invariant(p), [])
            if name == "sudoku-9x9":
                assert not same  # the invariant alone proves it
            else:
                form = eq.sudoku_canonical(p)
                assert all(eq.sudoku_canonical(q) != form for q in same)


def test_shipped_9x9_clues_are_in_range():
    clues = (load_task("sudoku-9x9", "train").inputs > 1).sum(1)
    assert clues.min() >= 30 and clues.max() <= 40


@pytest.mark.slow
def test_shipped_files_match_a_full_rebuild():
    result = subprocess.run([sys.executable, "-m", "hrm_minimal.data", "build", "--check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
