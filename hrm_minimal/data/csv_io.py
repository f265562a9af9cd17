"""Read and write the public CSV formats (Sudoku-Extreme, Maze-Hard): `source,question,answer,rating`.

Sudoku rows hold n*n-character strings ('.' blank; '0' is read as blank too), mazes n*n strings of
'# SGo'. Every row is validated; a bad row raises CSVFormatError naming the file, line and fault.
"""
from __future__ import annotations

import csv
import io
import reprlib
from pathlib import Path

import numpy as np

from . import maze as mz
from .puzzle_set import PuzzleSet
from .sudoku import BOXES, encode_sudoku, units

HEADER = ["source", "question", "answer", "rating"]


class CSVFormatError(ValueError):
    """A malformed CSV row; the message reads `<file>, line <k>: <fault>`."""

    def __init__(self, path, line: int, fault: str):
        super().__init__(f"{path}, line {line}: {fault}")
        self.path, self.line, self.fault = str(path), line, fault


# ---------------------------------------------------------------------------------------------
# Reading rows
# ---------------------------------------------------------------------------------------------
def _not_utf8(path) -> CSVFormatError:
    """The error for a file that is not UTF-8 text, naming its first line that is not."""
    with open(path, "rb") as f:
        for line, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return CSVFormatError(path, line, f"not UTF-8 text (byte {raw[exc.start]:#04x} at byte "
                                                  f"{exc.start + 1} of the line); save the file as UTF-8")
    return CSVFormatError(path, 1, "not UTF-8 text; save the file as UTF-8")


def _rows(path):
    """Yield (line, fields) for each record after the header, which is checked. A file that is empty,
    not UTF-8 text or not CSV raises CSVFormatError naming the line where it goes wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such CSV file: {path}")
    line = 1  # where the next record starts (a quoted field may span lines)
    try:  # utf-8-sig: a byte-order mark, as spreadsheet programs write, is read as nothing
        opened = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:  # permission denied, a device that fails, ...
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    with opened as f:
        reader = csv.reader(f)
        try:
            for row in reader:
                if line > 1:
                    yield line, row
                elif [h.strip() for h in row] != HEADER:
                    raise CSVFormatError(path, 1, f"header is {reprlib.repr(row)}, expected {HEADER}")
                line = reader.line_num + 1
        except UnicodeDecodeError:
            raise _not_utf8(path) from None
        except csv.Error as exc:  # no puzzle row comes near the csv module's field size limit
            fault = (f"a field is over {csv.field_size_limit():,} characters long; is this a puzzle CSV?"
                     if "field limit" in str(exc) else f"not readable as CSV ({exc})")
            raise CSVFormatError(path, line, fault) from None
    if line == 1:
        raise CSVFormatError(path, 1, "the file is empty (expected the header source,question,answer,rating)")


def _row_rating(path, line: int, row: list[str]) -> int:
    """The rating of a data row whose structure is checked: four fields, an integer rating."""
    if not row:
        raise CSVFormatError(path, line, "empty line")
    if len(row) != 4:
        raise CSVFormatError(path, line, f"{len(row)} fields, expected 4 (source,question,answer,rating)")
    try:
        return int(row[3])
    except ValueError:
        raise CSVFormatError(path, line, f"rating {reprlib.repr(row[3])} is not an integer") from None


def _read_rows(path, limit: int | None) -> tuple[list[int], list[str], list[str], list[str], np.ndarray]:
    """(line numbers, sources, questions, answers, ratings) of a CSV with the public header."""
    lines, sources, questions, answers, ratings = [], [], [], [], []
    for line, row in _rows(path):
        if limit is not None and len(questions) >= limit:
            break
        ratings.append(_row_rating(path, line, row))
        if not (row[1].isascii() and row[2].isascii()):
            raise CSVFormatError(path, line, "non-ASCII character in question or answer")
        lines.append(line)
        sources.append(row[0])
        questions.append(row[1])
        answers.append(row[2])
    if not questions:
        raise CSVFormatError(path, 2, "no data rows after the header")
    return lines, sources, questions, answers, np.array(ratings, dtype=np.int64)


def _square_side(path, lines, questions, answers, allowed) -> int:
    """The common grid side n of all rows (n*n characters each), checked against `allowed`."""
    size = int(round(len(questions[0]) ** 0.5))
    if size * size != len(questions[0]) or not allowed(size):
        raise CSVFormatError(path, lines[0], f"question has {len(questions[0])} characters, not a supported n*n grid")
    want = size * size
    for line, q, a in zip(lines, questions, answers):
        for what, text in (("question", q), ("answer", a)):
            if len(text) != want:
                fault = f"{what} has {len(text)} characters, expected {want} ({size}x{size} grid)"
                raise CSVFormatError(path, line, fault)
    return size


def _as_bytes(strings: list[str], width: int) -> np.ndarray:
    return np.frombuffer("".join(strings).encode("ascii"), dtype=np.uint8).reshape(len(strings), width)


def _sudoku_fault(q: str, a: str, n: int, cell_units: np.ndarray) -> str:
    """The first fault of one Sudoku row ('' if none), naming the cell or unit."""
    digits = "123456789"[:n]
    for what, text, ok in (("question", q, digits + ".0"), ("answer", a, digits)):
        for i, ch in enumerate(text):
            if ch not in ok:
                return f"bad character {ch!r} in the {what} at cell {i} (row {i // n + 1}, column {i % n + 1})"
    for i, (g, s) in enumerate(zip(q, a)):
        if g not in ".0" and g != s:
            return (f"answer contradicts the givens at cell {i} (row {i // n + 1}, column {i % n + 1}): "
                    f"{g} given, {s} in answer")
    names = ["row"] * n + ["column"] * n + ["box"] * n
    for u, cells in enumerate(cell_units):
        values = sorted(a[i] for i in cells)
        if values != list(digits):
            return f"answer breaks a Sudoku rule: {names[u]} {u % n + 1} holds {''.join(a[i] for i in cells)}"
    return ""


def read_sudoku_csv(path, limit: int | None = None):
    """(puzzles, solutions (M, n, n) int8, ratings (M,), sources) from a Sudoku CSV file."""
    lines, sources, questions, answers, ratings = _read_rows(path, limit)
    n = _square_side(path, lines, questions, answers, lambda s: s in BOXES)
    Q, A = _as_bytes(questions, n * n), _as_bytes(answers, n * n)
    q_ok = (Q == ord(".")) | ((Q >= ord("0")) & (Q <= ord("0") + n))
    a_ok = (A >= ord("1")) & (A <= ord("0") + n)
    puzzles = np.where(Q == ord("."), 0, Q.astype(np.int64) - ord("0"))
    solutions = A.astype(np.int64) - ord("0")
    contradicts = (puzzles > 0) & (puzzles != solutions)
    cell_units = units(n)
    masks = np.left_shift(1, np.clip(solutions - 1, 0, n - 1))[:, cell_units]  # (M, 3n, n)
    rule = np.bitwise_or.reduce(masks, axis=2) != (1 << n) - 1
    bad = ~q_ok.all(1) | ~a_ok.all(1) | contradicts.any(1) | rule.any(1)
    if bad.any():
        k = int(np.argmax(bad))
        raise CSVFormatError(path, lines[k], _sudoku_fault(questions[k], answers[k], n, cell_units))
    return (puzzles.reshape(-1, n, n).astype(np.int8), solutions.reshape(-1, n, n).astype(np.int8), ratings, sources)


def _maze_fault(q: str, a: str, n: int) -> str:
    """The first fault of one maze row ('' if none)."""
    for what, text, ok in (("question", q, "# SG"), ("answer", a, "# SGo")):
        for i, ch in enumerate(text):
            if ch not in ok:
                return f"bad character {ch!r} in the {what} at cell {i} (row {i // n + 1}, column {i % n + 1})"
    for ch in "SG":
        if q.count(ch) != 1:
            return f"the question needs exactly one {ch!r}, found {q.count(ch)}"
    for i, (x, y) in enumerate(zip(q, a)):
        if x != y and not (x == " " and y == "o"):
            return (f"answer differs from the question at cell {i} (row {i // n + 1}, column {i % n + 1}): "
                    f"{x!r} -> {y!r}")
    grid = np.array(list(q)).reshape(n, n)
    start, goal = divmod(q.index("S"), n), divmod(q.index("G"), n)
    dist = mz.bfs(grid, start)[0][goal]
    if dist < 0:
        return "the goal cannot be reached from the start"
    marks = a.count("o")
    if marks != dist - 1:
        return f"the marked path has {marks} cells, a shortest S-G path has {dist - 1}"
    on_path = np.array([ch if ch in "SGo" else "#" for ch in a]).reshape(n, n)  # walls elsewhere
    if mz.bfs(on_path, start)[0][goal] != dist:
        return "the marked path does not lead from S to G"
    return ""


def _steps(free: np.ndarray, start: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Breadth-first distance (M,) from the start cell to the goal cell of each (n, n) mask in
    `free`, all mazes at once; -1 where the goal is unreachable."""
    reached, frontier = start.copy(), start.copy()
    dist = np.where((start & goal).any(axis=(1, 2)), 0, -1)
    step = 0
    while frontier.any() and (dist < 0).any():
        step += 1
        grown = np.zeros_like(frontier)
        grown[:, 1:] |= frontier[:, :-1]
        grown[:, :-1] |= frontier[:, 1:]
        grown[:, :, 1:] |= frontier[:, :, :-1]
        grown[:, :, :-1] |= frontier[:, :, 1:]
        frontier = grown & free & ~reached
        reached |= frontier
        dist = np.where((dist < 0) & (frontier & goal).any(axis=(1, 2)), step, dist)
    return dist


def read_maze_csv(path, limit: int | None = None):
    """(inputs, labels (M, n, n) character arrays, ratings (M,), sources) from a maze CSV file."""
    lines, sources, questions, answers, ratings = _read_rows(path, limit)
    n = _square_side(path, lines, questions, answers, lambda s: s >= 2)
    Q, A = _as_bytes(questions, n * n), _as_bytes(answers, n * n)
    q_ok = np.isin(Q, np.frombuffer(b"# SG", np.uint8)).all(1)
    a_ok = np.isin(A, np.frombuffer(b"# SGo", np.uint8)).all(1)
    start, goal = Q == ord("S"), Q == ord("G")
    one_each = (start.sum(1) == 1) & (goal.sum(1) == 1)
    same = ((Q == A) | ((Q == ord(" ")) & (A == ord("o")))).all(1)
    grid = lambda m: m.reshape(-1, n, n)  # noqa: E731
    dist = _steps(grid(Q != ord("#")), grid(start), grid(goal))
    on_path = np.isin(A, np.frombuffer(b"SGo", np.uint8))
    marked = _steps(grid(on_path), grid(start), grid(goal))
    marks = (A == ord("o")).sum(1)
    bad = ~(q_ok & a_ok & one_each & same & (dist > 0) & (marks == dist - 1) & (marked == dist))
    if bad.any():
        k = int(np.argmax(bad))
        raise CSVFormatError(path, lines[k], _maze_fault(questions[k], answers[k], n) or "invalid maze row")
    as_chars = lambda b: b.view("S1").astype("<U1").reshape(-1, n, n)  # noqa: E731
    return as_chars(Q), as_chars(A), ratings, sources


def _infer_kind(path) -> str:
    """'maze' if the first question holds maze characters, else 'sudoku' (its reader checks the rest)."""
    for _, row in _rows(path):
        return "maze" if len(row) > 1 and any(ch in row[1] for ch in "#SG") else "sudoku"
    raise CSVFormatError(path, 2, "no data rows after the header")


# ---------------------------------------------------------------------------------------------
# PuzzleSet <-> CSV
# ---------------------------------------------------------------------------------------------
def load_csv(path, kind: str | None = None, name: str | None = None, limit: int | None = None) -> PuzzleSet:
    """A PuzzleSet from a public-format CSV (kind "sudoku" or "maze", inferred when None)."""
    kind = _infer_kind(path) if kind is None else kind
    name = Path(path).stem if name is None else name
    if kind == "sudoku":
        puzzles, solutions, ratings, _ = read_sudoku_csv(path, limit)
        n = puzzles.shape[1]
        return PuzzleSet(name, "sudoku", encode_sudoku(puzzles), encode_sudoku(solutions), vocab_size=n + 2,
                         seq_len=n * n, grid_size=n, box=BOXES[n], ratings=ratings)
    if kind == "maze":
        inputs, labels, ratings, _ = read_maze_csv(path, limit)
        n = inputs.shape[1]
        return PuzzleSet(name, "maze", mz.encode_maze(inputs), mz.encode_maze(labels), vocab_size=len(mz.CHARS) + 1,
                         seq_len=n * n, grid_size=n, box=None, ratings=ratings)
    raise ValueError(f"kind must be 'sudoku', 'maze' or None, got {kind!r}")


def format_csv(questions: list[str], answers: list[str], ratings=None, source: str = "hrm_minimal") -> str:
    """CSV text with the public header, '\\n' line ends (byte-stable)."""
    if len(questions) != len(answers):
        raise ValueError(f"{len(questions)} questions but {len(answers)} answers")
    ratings = [0] * len(questions) if ratings is None else [int(r) for r in ratings]
    if len(ratings) != len(questions):
        raise ValueError(f"{len(questions)} questions but {len(ratings)} ratings")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(zip([source] * len(questions), questions, answers, ratings))
    return out.getvalue()


def sudoku_csv_text(puzzles, solutions, ratings=None, source: str = "hrm_minimal") -> str:
    """Sudoku-Extreme CSV text of (M, n, n) puzzles (0 blank) and solutions."""
    puzzles, solutions = np.asarray(puzzles), np.asarray(solutions)
    if puzzles.shape != solutions.shape or puzzles.ndim != 3:
        raise ValueError(f"puzzles and solutions must both be (M, n, n), got {puzzles.shape} and {solutions.shape}")
    table = np.array(list(".123456789"))
    q = ["".join(r) for r in table[puzzles.reshape(len(puzzles), -1)]]
    a = ["".join(r) for r in table[solutions.reshape(len(solutions), -1)]]
    return format_csv(q, a, ratings, source)


def maze_csv_text(inputs, labels, ratings=None, source: str = "hrm_minimal") -> str:
    """Maze-Hard CSV text of (M, n, n) character grids; ratings default to path lengths."""
    inputs, labels = np.asarray(inputs), np.asarray(labels)
    if inputs.shape != labels.shape or inputs.ndim != 3:
        raise ValueError(f"inputs and labels must both be (M, n, n), got {inputs.shape} and {labels.shape}")
    if ratings is None:
        ratings = [mz.path_length(y) for y in labels]
    q = ["".join(r.ravel().tolist()) for r in inputs]
    a = ["".join(r.ravel().tolist()) for r in labels]
    return format_csv(q, a, ratings, source)


def _write(path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def write_sudoku_csv(path, puzzles, solutions, ratings=None, source: str = "hrm_minimal") -> Path:
    """Write (M, n, n) puzzles and solutions as a Sudoku-Extreme CSV file."""
    return _write(path, sudoku_csv_text(puzzles, solutions, ratings, source))


def write_maze_csv(path, inputs, labels, ratings=None, source: str = "hrm_minimal") -> Path:
    """Write (M, n, n) maze inputs and labels as a Maze-Hard CSV file."""
    return _write(path, maze_csv_text(inputs, labels, ratings, source))


def write_csv(path, puzzles: PuzzleSet, source: str = "hrm_minimal") -> Path:
    """Write a PuzzleSet (without padding) back to its public CSV format."""
    from .sudoku import decode_sudoku

    if puzzles.kind == "sudoku":
        grids = decode_sudoku(puzzles.inputs), decode_sudoku(puzzles.labels)
        return write_sudoku_csv(path, *grids, puzzles.ratings, source)
    return write_maze_csv(path, mz.decode_maze(puzzles.inputs), mz.decode_maze(puzzles.labels), puzzles.ratings, source)
