"""The paper's data sets, Sudoku-Extreme and Maze-Hard: fetched, built into a compact folder, streamed.

    python -m hrm_minimal.data fetch sudoku-extreme                 # -> data/raw/sudoku-extreme/{train,test}.csv
    python -m hrm_minimal.data prepare sudoku-extreme               # -> data/sudoku-extreme-1k/
    load_puzzles("data/sudoku-extreme-1k", split="test")            # a PuzzleSet, memory-mapped

`fetch` downloads the public CSV files from Hugging Face (needs the optional `huggingface_hub`:
`pip install 'hrm_minimal[paper]'`). `build` reads them, draws the training subset as the reference's
`dataset/build_sudoku_dataset.py` does (`--subsample-size 1000`: `np.random.choice(rows, 1000,
replace=False)` over the rows whose rating is at least `--min-difficulty`, kept in the drawn order;
the reference leaves numpy unseeded, we draw with `np.random.RandomState(seed)`, the same draw as
the reference after `np.random.seed(seed)`), keeps the whole test file, and writes one folder:

    train_inputs.npy, train_labels.npy, test_inputs.npy, test_labels.npy   uint8 (N, seq_len) tokens
    train_ratings.npy, test_ratings.npy                                    int64 (N,) rating column
    train_rows.npy, test_rows.npy        int64 (N,) each puzzle's data row in its CSV (0 = first row)
    meta.json                            name, kind, vocab, sizes, counts, sampling, source files' sha256

The min_difficulty filter applies to both splits, as in the reference. The folder stores only the
puzzles themselves: the reference stores 1000 pre-made augmentations of each training puzzle
(`--num-aug 1000`), whereas our training loader (`TrainBatches`) draws a fresh augmentation of the
same kind (digit relabelling, band/row/stack/column shuffles, transpose) for every batch. Maze-Hard is
used as published: all 1000 training mazes, no augmentation by default.

Speed: `load_csv` checks a whole file in memory (about 2 GB for a 423k-row Sudoku file), so the
build streams the CSV instead, twice: pass 1 checks every row's structure and reads its rating,
pass 2 fully checks (with csv_io's rules and messages: file and line) and encodes the rows kept, in
chunks. Rows of the training file that are not drawn are not checked past their structure.
`load_built` opens the token arrays with `np.load(mmap_mode="r")`: batches are read (and cast to
int64) as they are drawn, never the whole 423k-row test split at once.
"""
from __future__ import annotations

import hashlib
import json
import reprlib
import shutil
import uuid
from array import array
from pathlib import Path

import numpy as np

from . import maze as mz
from .csv_io import (CSVFormatError, _as_bytes, _infer_kind, _maze_fault, _row_rating, _rows, _square_side,
                     _sudoku_fault, load_csv)
from .puzzle_set import PuzzleSet
from .sudoku import BOXES, encode_sudoku, units

FORMAT_VERSION = 1
META = "meta.json"
SPLITS = ("train", "test")
PARTS = ("inputs", "labels", "ratings", "rows")  # the arrays saved per split
CHUNK = 50_000  # rows checked and encoded at a time

# The paper's data sets; "subsample" is the reference's setting for the training split (None: all rows).
PAPER_DATASETS: dict[str, dict] = {
    "sudoku-extreme": {"repo_id": "sapientinc/sudoku-extreme", "kind": "sudoku", "subsample": 1000},
    "maze-30x30-hard-1k": {"repo_id": "sapientinc/maze-30x30-hard-1k", "kind": "maze", "subsample": None},
}
CSV_FILES = ("train.csv", "test.csv")


# ---------------------------------------------------------------------------------------------
# Names and folders
# ---------------------------------------------------------------------------------------------
def _spec(name: str) -> dict:
    if name not in PAPER_DATASETS:
        raise ValueError(f"unknown data set {name!r}; valid names are {', '.join(PAPER_DATASETS)}")
    return PAPER_DATASETS[name]


def _count_name(count: int) -> str:
    """1000 -> '1k', 2500 -> '2500'."""
    return f"{count // 1000}k" if count % 1000 == 0 else str(count)


def built_name(name: str, subsample: int | None | str = "default") -> str:
    """Name of a built data set: 'sudoku-extreme-1k' (the reference's 1000-puzzle subsample),
    'sudoku-extreme-full' (all rows), 'maze-30x30-hard-1k' (as published)."""
    spec = _spec(name)
    subsample = spec["subsample"] if subsample == "default" else subsample
    if spec["subsample"] is None:  # published at its training size
        return name if subsample is None else f"{name}-sub{_count_name(subsample)}"
    return f"{name}-{'full' if subsample is None else _count_name(subsample)}"


def default_source_dir(name: str) -> Path:
    """Where `fetch` puts the CSV files unless told: data/raw/<name> (relative to the current folder)."""
    _spec(name)
    return Path("data") / "raw" / name


def default_out_dir(name: str, subsample: int | None | str = "default") -> Path:
    """Where `build` writes unless told: data/<built name> (relative to the current folder)."""
    return Path("data") / built_name(name, subsample)


# ---------------------------------------------------------------------------------------------
# Fetch
# ---------------------------------------------------------------------------------------------
def fetch(name: str, dest_dir=None) -> Path:
    """Download train.csv and test.csv of a paper data set from Hugging Face into `dest_dir`
    (default data/raw/<name>); returns the folder. Needs the optional package huggingface_hub."""
    repo_id = _spec(name)["repo_id"]
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise ImportError("fetching the paper's data needs huggingface_hub: pip install huggingface_hub "
                          "(or pip install 'hrm_minimal[paper]')") from None
    dest = Path(default_source_dir(name) if dest_dir is None else dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    for filename in CSV_FILES:
        try:
            hf_hub_download(repo_id=repo_id, filename=filename, repo_type="dataset", local_dir=str(dest))
        except Exception as exc:  # the hub raises its own kinds (HTTP, offline, not found, ...)
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise OSError(f"could not download {filename} of the Hugging Face data set {repo_id}: {reason}") from exc
        if not (dest / filename).is_file():
            raise OSError(f"the download of {repo_id}/{filename} left no file at {dest / filename}")
    return dest


# ---------------------------------------------------------------------------------------------
# Reading a CSV split in two streaming passes
# ---------------------------------------------------------------------------------------------
def _scan_ratings(path) -> np.ndarray:
    """Pass 1: the rating (N,) int64 of every data row, each row's structure checked as load_csv does."""
    ratings = array("q")
    for line, row in _rows(path):
        try:
            ratings.append(_row_rating(path, line, row))
        except OverflowError:
            raise CSVFormatError(path, line, f"rating {reprlib.repr(row[3])} is out of the int64 range") from None
    if not ratings:
        raise CSVFormatError(path, 2, "no data rows after the header")
    return np.frombuffer(ratings, dtype=np.int64).copy()


def sample_rows(total: int, subsample: int | None, seed: int = 0) -> np.ndarray:
    """The reference's draw of the training subset: `subsample` distinct positions out of `total`,
    in the drawn order (np.random.choice without replacement, seeded); all of them, in order, when
    `subsample` is None or not smaller than `total`."""
    if subsample is None or subsample >= total:
        return np.arange(total, dtype=np.int64)
    return np.random.RandomState(seed).choice(total, size=subsample, replace=False).astype(np.int64)


def _sudoku_chunk(path, lines, questions, answers, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Check Sudoku rows with load_csv's rules (vectorised; the message of the first bad row comes
    from csv_io) and encode them: (inputs, labels) uint8 (M, n*n)."""
    Q, A = _as_bytes(questions, n * n), _as_bytes(answers, n * n)
    blank = (Q == ord(".")) | (Q == ord("0"))
    digit = lambda b: (b >= ord("1")) & (b <= ord("0") + n)  # noqa: E731
    solution = np.where(digit(A), A - ord("0"), 0).astype(np.uint8)
    cells_ok = (blank | (digit(Q) & (Q == A))) & digit(A)  # a given is a digit the answer keeps
    bits = np.left_shift(np.uint16(1), np.maximum(solution, 1) - 1)  # digit d -> bit d-1
    rules_ok = (np.bitwise_or.reduce(bits[:, units(n)], axis=2) == (1 << n) - 1).all(axis=1)  # each unit: all n
    bad = ~(cells_ok.all(axis=1) & rules_ok)
    if bad.any():
        k = int(np.argmax(bad))
        fault = _sudoku_fault(questions[k], answers[k], n, units(n)) or "invalid Sudoku row"
        raise CSVFormatError(path, lines[k], fault)
    puzzles = np.where(blank, 0, Q - ord("0")).reshape(-1, n, n)
    return encode_sudoku(puzzles).astype(np.uint8), encode_sudoku(solution.reshape(-1, n, n)).astype(np.uint8)


def _maze_chunk(path, lines, questions, answers, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Check maze rows with csv_io's rules, row by row (the paper's maze files hold 1000 rows),
    and encode them: (inputs, labels) uint8 (M, n*n)."""
    for line, q, a in zip(lines, questions, answers):
        fault = _maze_fault(q, a, n)
        if fault:
            raise CSVFormatError(path, line, fault)
    as_chars = lambda text: _as_bytes(text, n * n).view("S1").astype("<U1").reshape(-1, n, n)  # noqa: E731
    return mz.encode_maze(as_chars(questions)).astype(np.uint8), mz.encode_maze(as_chars(answers)).astype(np.uint8)


def _grid_side(path, kind: str, lines, questions, answers, expected: int | None) -> int:
    """The grid side of a chunk (csv_io's check), which must match the chunks before it."""
    if expected is not None and len(questions[0]) != expected * expected:
        raise CSVFormatError(path, lines[0], f"question has {len(questions[0])} characters, expected "
                                             f"{expected * expected} ({expected}x{expected} grid)")
    allowed = (lambda s: s in BOXES) if kind == "sudoku" else (lambda s: s >= 2)
    return _square_side(path, lines, questions, answers, allowed)


def _encode_rows(path, kind: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pass 2: the data rows `rows` (positions, any order, distinct) checked and encoded, in that
    order: (inputs, labels) uint8 (len(rows), n*n)."""
    wanted = np.zeros(int(rows.max()) + 1, dtype=bool)
    wanted[rows] = True
    encode = _sudoku_chunk if kind == "sudoku" else _maze_chunk
    inputs, labels, n = [], [], None
    chunk = lines, questions, answers = [], [], []

    def flush():
        nonlocal n
        n = _grid_side(path, kind, *chunk, n)
        x, y = encode(path, *chunk, n)
        inputs.append(x)
        labels.append(y)
        for part in chunk:
            part.clear()

    for position, (line, row) in enumerate(_rows(path)):
        if position >= len(wanted):
            break
        if wanted[position]:
            if not (row[1].isascii() and row[2].isascii()):
                raise CSVFormatError(path, line, "non-ASCII character in question or answer")
            lines.append(line)
            questions.append(row[1])
            answers.append(row[2])
            if len(lines) >= CHUNK:
                flush()
    if lines:
        flush()
    if sum(map(len, inputs)) != len(rows):
        raise ValueError(f"{path} changed while it was being read; build again")
    order = np.argsort(np.argsort(rows))  # file order -> the order asked for
    return np.concatenate(inputs)[order], np.concatenate(labels)[order]


def read_split(path, kind: str, subsample: int | None = None, seed: int = 0,
               min_difficulty: int | None = None) -> dict:
    """One CSV split streamed: the rows with rating >= min_difficulty, of which `subsample` are drawn
    (`sample_rows`). Returns {"inputs", "labels"} uint8, {"ratings", "rows"} int64 and the counts."""
    ratings = _scan_ratings(path)
    eligible = np.flatnonzero(ratings >= min_difficulty) if min_difficulty is not None else np.arange(len(ratings))
    if len(eligible) == 0:
        raise ValueError(f"{path}: no row has a rating >= {min_difficulty} (the highest is {ratings.max()})")
    rows = eligible[sample_rows(len(eligible), subsample, seed)]
    inputs, labels = _encode_rows(path, kind, rows)
    return {"inputs": inputs, "labels": labels, "ratings": ratings[rows], "rows": rows,
            "rows_in_file": len(ratings), "rows_eligible": len(eligible)}


# ---------------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------------
def _file_facts(path: Path) -> dict:
    """Size and sha256 of a source file, so a built folder says exactly what it came from."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def _check_settings(subsample, seed, min_difficulty) -> None:
    is_int = lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool)  # noqa: E731
    if subsample is not None and not (is_int(subsample) and subsample >= 1):
        raise ValueError(f"subsample must be a positive integer or None (all rows), got {subsample!r}")
    if not (is_int(seed) and seed >= 0):
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if min_difficulty is not None and not is_int(min_difficulty):
        raise ValueError(f"min_difficulty must be an integer or None, got {min_difficulty!r}")


def _source_files(name: str, source_dir) -> dict[str, Path]:
    files = {split: Path(source_dir) / f"{split}.csv" for split in SPLITS}
    for path in files.values():
        if not path.is_file():
            raise FileNotFoundError(f"no {path}; download it with `python -m hrm_minimal.data fetch {name} "
                                    f"--dest {source_dir}`")
    return files


def build(name: str, source_dir=None, out_dir=None, subsample: int | None | str = "default", seed: int = 0,
          min_difficulty: int | None = None) -> Path:
    """Build a paper data set from source_dir/train.csv and test.csv (default data/raw/<name>, where
    `fetch` puts them) into `out_dir` (default data/<built name>, e.g. data/sudoku-extreme-1k).

    subsample: training puzzles drawn ("default": the reference's, 1000 for Sudoku-Extreme and all
    for Maze-Hard; None: all). seed: the draw's seed. min_difficulty: keep rows (both splits) with
    rating >= it. The folder is written under a temporary name and renamed when complete, so an
    interrupted build leaves nothing that loads; an existing built folder is replaced. Returns it.
    """
    spec = _spec(name)
    subsample = spec["subsample"] if subsample == "default" else subsample
    _check_settings(subsample, seed, min_difficulty)
    source_dir = default_source_dir(name) if source_dir is None else Path(source_dir)
    out_dir = default_out_dir(name, subsample) if out_dir is None else Path(out_dir)
    files = _source_files(name, source_dir)
    for path in files.values():
        found = _infer_kind(path)
        if found != spec["kind"]:
            raise ValueError(f"{path} holds {found} puzzles, but {name} is a {spec['kind']} data set")
    splits = {"train": read_split(files["train"], spec["kind"], subsample, seed, min_difficulty),
              "test": read_split(files["test"], spec["kind"], None, seed, min_difficulty)}
    seq_lens = {split: data["inputs"].shape[1] for split, data in splits.items()}
    if seq_lens["train"] != seq_lens["test"]:
        raise ValueError(f"train.csv and test.csv of {source_dir} hold grids of different sizes "
                         f"({seq_lens['train']} and {seq_lens['test']} cells)")
    meta = _meta(name, spec, subsample, seed, min_difficulty, files, splits)
    arrays = {f"{split}_{part}.npy": data[part] for split, data in splits.items() for part in PARTS}
    _write_folder(out_dir, arrays, meta)
    return out_dir


def _meta(name, spec, subsample, seed, min_difficulty, files, splits) -> dict:
    from hrm_minimal import __version__

    seq_len = splits["train"]["inputs"].shape[1]
    n = int(round(seq_len ** 0.5))
    kind = spec["kind"]
    return {
        "format_version": FORMAT_VERSION,
        "name": built_name(name, subsample),
        "dataset": name,
        "hugging_face": spec["repo_id"],
        "kind": kind,
        "vocab_size": n + 2 if kind == "sudoku" else len(mz.CHARS) + 1,
        "seq_len": seq_len,
        "grid_size": n,
        "box": list(BOXES[n]) if kind == "sudoku" else None,
        "counts": {split: len(data["inputs"]) for split, data in splits.items()},
        "sampling": {
            "subsample": subsample, "seed": seed, "min_difficulty": min_difficulty,
            "draw": "numpy.random.RandomState(seed).choice(eligible train rows, subsample, replace=False), "
                    "in the drawn order; all rows when subsample is None or not smaller",
            "rows_in_file": {split: data["rows_in_file"] for split, data in splits.items()},
            "rows_eligible": {split: data["rows_eligible"] for split, data in splits.items()},
        },
        "augmentation": "none stored; TrainBatches draws a fresh one for every training batch",
        "sources": {path.name: _file_facts(path) for path in files.values()},
        "built_by": f"hrm_minimal {__version__}",
    }


def _write_folder(out_dir: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write the arrays and meta.json (last) into a hidden sibling folder, then rename it to out_dir."""
    if out_dir.exists() and not (out_dir / META).is_file():
        raise ValueError(f"{out_dir} exists and is not a built data set; choose another --out or remove it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    partial = out_dir.with_name(f".{out_dir.name}.partial-{token}")
    partial.mkdir()
    try:
        for filename, values in arrays.items():
            np.save(partial / filename, np.ascontiguousarray(values))
        (partial / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        _replace(partial, out_dir, out_dir.with_name(f".{out_dir.name}.old-{token}"))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _replace(new: Path, target: Path, old: Path) -> None:
    """Rename `new` to `target`; an existing target is moved aside first and removed afterwards."""
    if not target.exists():
        new.rename(target)
        return
    target.rename(old)
    try:
        new.rename(target)
    except BaseException:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------------------------
def read_meta(folder) -> dict:
    """meta.json of a built folder; a one-line ValueError when the folder is not one this package reads."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a built data set: no such folder")
    if not (folder / META).is_file():
        raise ValueError(f"{folder} is not a built data set: it has no {META} "
                         f"(build one with `python -m hrm_minimal.data prepare NAME`)")
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{folder} is not a built data set: {META} is not readable JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{folder} is not a built data set: {META} is not a JSON object")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"{folder} was built in format version {version!r}, this package reads version "
                         f"{FORMAT_VERSION}; rebuild it with `python -m hrm_minimal.data prepare`")
    required = ("name", "kind", "vocab_size", "seq_len", "grid_size", "box", "counts")
    missing = [key for key in required if key not in meta]
    if missing:
        raise ValueError(f"{folder} is not a built data set: {META} lacks {', '.join(missing)}")
    return meta


def _open_array(folder: Path, filename: str, shape: tuple, dtype, mmap: bool) -> np.ndarray:
    path = folder / filename
    if not path.is_file():
        raise ValueError(f"{folder} has no {filename}; the built data set is incomplete, rebuild it")
    try:
        values = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable .npy file ({' '.join(str(exc).split())})") from None
    if values.shape != shape or values.dtype != dtype:
        raise ValueError(f"{path} holds {values.dtype} {values.shape}, {META} says {np.dtype(dtype)} {shape}")
    return values


def load_built(folder, split: str = "train") -> PuzzleSet:
    """A split of a built folder as a PuzzleSet whose inputs and labels are read-only uint8
    memory maps (np.load mmap_mode="r"): rows are read when a batch draws them."""
    folder = Path(folder)
    meta = read_meta(folder)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits are {', '.join(SPLITS)}")
    count = meta["counts"].get(split) if isinstance(meta["counts"], dict) else None
    if not isinstance(count, int):
        raise ValueError(f"{folder} has no {split} split ({META} gives no count for it)")
    tokens = [_open_array(folder, f"{split}_{part}.npy", (count, meta["seq_len"]), np.uint8, mmap=True)
              for part in ("inputs", "labels")]
    ratings = _open_array(folder, f"{split}_ratings.npy", (count,), np.int64, mmap=False)
    box = tuple(meta["box"]) if meta["box"] is not None else None
    return PuzzleSet(meta["name"], meta["kind"], *tokens, vocab_size=meta["vocab_size"], seq_len=meta["seq_len"],
                     grid_size=meta["grid_size"], box=box, ratings=ratings)


def load_puzzles(path, split: str = "train") -> PuzzleSet:
    """One entry point: a CSV file (one split; `split` is not used) -> load_csv, a built folder -> load_built."""
    path = Path(path)
    if path.is_dir():
        return load_built(path, split)
    if path.is_file():
        return load_csv(path)
    raise FileNotFoundError(f"no CSV file or built data set at {path}")
