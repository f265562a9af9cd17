"""The public CSV formats: round trips, and a clear error for every kind of malformed row."""
from __future__ import annotations

import numpy as np
import pytest

from hrm_minimal.data import csv_io, maze as M, sudoku as S
from hrm_minimal.data.csv_io import CSVFormatError

HEADER = "source,question,answer,rating\n"
Q9 = "8..........36......7..9.2...5...7.......457.....1...3...1....68..85...1..9....4.."
A9 = "812753649943682175675491283154237896369845721287169534521974368438526917796318452"
Q4, A4 = "1...............", "1234341221434321"
MAZE_Q = "#######" "#S    #" "# #####" "#   # #" "### # #" "#    G#" "#######"
MAZE_A = "#######" "#S    #" "#o#####" "#ooo# #" "###o# #" "#  ooG#" "#######"


def _write(tmp_path, rows: list[str], name="data.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


@pytest.mark.parametrize("size, clues", [(4, None), (6, None), (9, (30, 40))])
def test_sudoku_round_trip(tmp_path, size, clues):
    puzzles, solutions = S.generate(12, size, clues=clues, seed=size)
    ratings = [S.rate(p) for p in puzzles]
    path = csv_io.write_sudoku_csv(tmp_path / "s.csv", puzzles, solutions, ratings)
    p2, s2, r2, sources = csv_io.read_sudoku_csv(path)
    assert (p2 == puzzles).all() and (s2 == solutions).all()
    assert r2.tolist() == ratings and sources == ["hrm_minimal"] * 12
    ps = csv_io.load_csv(path)
    assert ps.kind == "sudoku" and ps.grid_size == size and ps.box == S.BOXES[size]
    assert ps.vocab_size == size + 2 and ps.seq_len == size * size and ps.name == "s"
    assert (ps.inputs == S.encode_sudoku(puzzles)).all() and (ps.labels == S.encode_sudoku(solutions)).all()
    csv_io.write_csv(tmp_path / "again.csv", ps)
    assert (tmp_path / "again.csv").read_bytes() == path.read_bytes()


def test_reads_the_sudoku_extreme_spelling(tmp_path):
    path = _write(tmp_path, [f"puzzles0_kaggle,{Q9},{A9},7", f"x,{Q9.replace('.', '0')},{A9},0"])
    ps = csv_io.load_csv(path)
    assert ps.inputs.shape == (2, 81) and (ps.inputs[0] == ps.inputs[1]).all()
    assert ps.inputs[0, 0] == 9 and ps.inputs[0, 1] == 1 and ps.labels[0, 1] == 2  # 8 -> 9, blank -> 1, 1 -> 2
    assert ps.ratings.tolist() == [7, 0] and ps.vocab_size == 11
    assert len(csv_io.load_csv(path, limit=1)) == 1


def test_maze_round_trip(tmp_path):
    inputs, labels = M.generate_mazes(6, 9, seed=0)
    path = csv_io.write_maze_csv(tmp_path / "m.csv", inputs, labels)
    x, y, ratings, _ = csv_io.read_maze_csv(path)
    assert (x == inputs).all() and (y == labels).all()
    assert ratings.tolist() == [M.path_length(b) for b in labels]
    ps = csv_io.load_csv(path)
    assert ps.kind == "maze" and ps.box is None and ps.vocab_size == 6 and ps.seq_len == 81
    assert (ps.inputs == M.encode_maze(inputs)).all() and not (ps.inputs == 5).any() and (ps.labels == 5).any()
    csv_io.write_csv(tmp_path / "again.csv", ps)
    assert (tmp_path / "again.csv").read_bytes() == path.read_bytes()


SUDOKU_FAULTS = [
    ([f"s,{Q9},{A9}"], "line 2: 3 fields, expected 4"),
    ([f"s,{Q9},{A9},1", f"s,{Q9},{A9},hard"], "line 3: rating 'hard' is not an integer"),
    ([f"s,{Q9[:-1]},{A9},1"], "line 2: question has 80 characters"),
    ([f"s,{Q9},{A9},1", f"s,{Q9},{A9}1,1"], "line 3: answer has 82 characters, expected 81"),
    ([f"s,{Q9},{A9},1", f"s,{Q4},{A4},1"], "line 3: question has 16 characters, expected 81"),
    ([f"s,x{Q9[1:]},{A9},1"], "line 2: bad character 'x' in the question at cell 0"),
    ([f"s,{Q9},{A9[:5]}.{A9[6:]},1"], "line 2: bad character '.' in the answer at cell 5"),
    ([f"s,{Q9},9{A9[1:]},1"], "line 2: answer contradicts the givens at cell 0"),
    ([f"s,{'.' * 81},{A9[1]}{A9[1:]},1"], "line 2: answer breaks a Sudoku rule: row 1 holds"),
    ([f"s,{Q4},1234123412341234,1"], "line 2: answer breaks a Sudoku rule: column 1"),
    ([f"s,{Q4},1234234134124123,1"], "line 2: answer breaks a Sudoku rule: box 1"),
    ([f"s,{Q9},{A9[:-1]}\u00e9,1"], "line 2: non-ASCII"),
    ([f"s,{'.' * 25},{'1' * 25},1"], "line 2: question has 25 characters, not a supported"),
]


@pytest.mark.parametrize("rows, message", SUDOKU_FAULTS)
def test_each_sudoku_fault_is_named_with_file_and_line(tmp_path, rows, message):
    path = _write(tmp_path, rows)
    with pytest.raises(CSVFormatError, match=message) as info:
        csv_io.load_csv(path, kind="sudoku")
    assert str(path) in str(info.value) and isinstance(info.value, ValueError)


def test_header_and_empty_files(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("puzzle,solution\n1,2\n")
    with pytest.raises(CSVFormatError, match="line 1: header"):
        csv_io.load_csv(bad, kind="sudoku")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(CSVFormatError, match="empty"):
        csv_io.load_csv(empty, kind="sudoku")
    only = tmp_path / "only.csv"
    only.write_text(HEADER)
    with pytest.raises(CSVFormatError, match="no data rows"):
        csv_io.load_csv(only, kind="sudoku")
    with pytest.raises(FileNotFoundError):
        csv_io.load_csv(tmp_path / "missing.csv", kind="sudoku")
    with pytest.raises(ValueError, match="kind must be"):
        csv_io.load_csv(_write(tmp_path, [f"s,{Q4},{A4},0"]), kind="chess")


def _swap(text: str, i: int, ch: str) -> str:
    return text[:i] + ch + text[i + 1:]


MAZE_FAULTS = [
    (_swap(MAZE_Q, 10, "x"), MAZE_A, "bad character 'x' in the question at cell 10"),
    (MAZE_Q, _swap(MAZE_A, 10, "*"), "bad character '\\*' in the answer"),
    (_swap(MAZE_Q, 10, "S"), MAZE_A, "exactly one 'S', found 2"),
    (MAZE_Q.replace("G", " "), MAZE_A, "exactly one 'G', found 0"),
    (MAZE_Q, _swap(MAZE_A, 0, " "), "answer differs from the question at cell 0"),
    (MAZE_Q, _swap(MAZE_A, 10, "o"), "the marked path has 8 cells, a shortest S-G path has 7"),
    (MAZE_Q, _swap(_swap(MAZE_A, 9, "o"), 38, " "), "does not lead from S to G"),
    (MAZE_Q[:28] + "#######" + MAZE_Q[35:], MAZE_A[:28] + "#######" + MAZE_A[35:], "cannot be reached"),
]


@pytest.mark.parametrize("question, answer, message", MAZE_FAULTS)
def test_each_maze_fault_is_named_with_file_and_line(tmp_path, question, answer, message):
    path = _write(tmp_path, [f"m,{MAZE_Q},{MAZE_A},8", f"m,{question},{answer},8"])
    with pytest.raises(CSVFormatError, match="line 3: .*" + message):
        csv_io.load_csv(path, kind="maze")


def test_a_valid_tiny_maze_loads_and_kind_is_inferred(tmp_path):
    ps = csv_io.load_csv(_write(tmp_path, [f"m,{MAZE_Q},{MAZE_A},8"]))
    assert ps.kind == "maze" and ps.grid_size == 7 and ps.ratings.tolist() == [8]


def test_writers_reject_mismatched_arrays(tmp_path):
    with pytest.raises(ValueError, match="must both be"):
        csv_io.write_sudoku_csv(tmp_path / "x.csv", np.zeros((2, 4, 4), int), np.zeros((3, 4, 4), int))
    with pytest.raises(ValueError, match="ratings"):
        csv_io.format_csv(["a"], ["b"], ratings=[1, 2])
