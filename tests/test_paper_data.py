"""The paper's data sets (hrm_minimal.data.paper): fetch without network, build from small CSVs made by
our generators, memory-mapped loading, the one-line errors and the command line."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from hrm_minimal.data import (
    CSVFormatError,
    PuzzleSet,
    TrainBatches,
    build_paper_data,
    decode_sudoku,
    fetch,
    generate,
    generate_mazes,
    is_solution,
    load_built,
    load_csv,
    load_puzzles,
    write_maze_csv,
    write_sudoku_csv,
)
from hrm_minimal.data import paper
from hrm_minimal.data.__main__ import cli

N_TRAIN, N_TEST = 50, 20


def _one_line(message: str) -> bool:
    return "\n" not in message.strip()


@pytest.fixture(scope="module")
def sudoku_source(tmp_path_factory):
    """train.csv (50 rows) and test.csv (20 rows) of 9x9 Sudoku with ratings 0..9."""
    folder = tmp_path_factory.mktemp("sudoku-extreme")
    puzzles, solutions = generate(N_TRAIN + N_TEST, 9, seed=7)
    ratings = np.random.default_rng(7).integers(0, 10, N_TRAIN + N_TEST)
    write_sudoku_csv(folder / "train.csv", puzzles[:N_TRAIN], solutions[:N_TRAIN], ratings[:N_TRAIN])
    write_sudoku_csv(folder / "test.csv", puzzles[N_TRAIN:], solutions[N_TRAIN:], ratings[N_TRAIN:])
    return folder


@pytest.fixture(scope="module")
def maze_source(tmp_path_factory):
    """train.csv (8) and test.csv (4) of 11x11 mazes: the format reads any n x n grid."""
    folder = tmp_path_factory.mktemp("maze-hard")
    inputs, labels = generate_mazes(12, 11, seed=3)
    write_maze_csv(folder / "train.csv", inputs[:8], labels[:8])
    write_maze_csv(folder / "test.csv", inputs[8:], labels[8:])
    return folder


@pytest.fixture(scope="module")
def built(sudoku_source, tmp_path_factory):
    """sudoku-extreme built with a subsample of 10, seed 0."""
    return build_paper_data("sudoku-extreme", sudoku_source, tmp_path_factory.mktemp("out") / "s10", subsample=10)


def _csv_rows(path, rows: dict[int, str]):
    """Rewrite a CSV with some data rows replaced: {index: row text}."""
    lines = path.read_text().splitlines()
    for k, text in rows.items():
        lines[k + 1] = text
    path.write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------------
def test_build_writes_uint8_arrays_and_meta(built, sudoku_source):
    assert sorted(p.name for p in built.iterdir()) == sorted(
        ["meta.json"] + [f"{s}_{p}.npy" for s in ("train", "test") for p in ("inputs", "labels", "ratings", "rows")])
    for split, count in (("train", 10), ("test", N_TEST)):
        for part in ("inputs", "labels"):
            values = np.load(built / f"{split}_{part}.npy")
            assert values.dtype == np.uint8 and values.shape == (count, 81)
    meta = json.loads((built / "meta.json").read_text())
    assert meta["format_version"] == paper.FORMAT_VERSION
    assert (meta["name"], meta["kind"], meta["vocab_size"], meta["seq_len"], meta["grid_size"], meta["box"]) == (
        "sudoku-extreme-10", "sudoku", 11, 81, 9, [3, 3])
    assert meta["counts"] == {"train": 10, "test": N_TEST}
    assert meta["sampling"]["subsample"] == 10 and meta["sampling"]["seed"] == 0
    assert meta["sampling"]["rows_in_file"] == {"train": N_TRAIN, "test": N_TEST}
    for name in ("train.csv", "test.csv"):
        data = (sudoku_source / name).read_bytes()
        assert meta["sources"][name] == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert [p.name for p in built.parent.iterdir()] == ["s10"]  # no temporary folder left behind


def test_the_draw_is_the_references_seeded_choice(built, sudoku_source):
    rows = np.load(built / "train_rows.npy")
    # the reference: np.random.choice(total, size, replace=False), here after seeding with 0
    assert rows.tolist() == np.random.RandomState(0).choice(N_TRAIN, 10, replace=False).tolist()
    assert len(set(rows.tolist())) == 10 and rows.min() >= 0 and rows.max() < N_TRAIN
    train, everything = load_built(built, "train"), load_csv(sudoku_source / "train.csv")
    assert np.array_equal(train.inputs, everything.inputs[rows])
    assert np.array_equal(train.labels, everything.labels[rows])
    assert np.array_equal(train.ratings, everything.ratings[rows])


def test_the_draw_is_deterministic_per_seed(sudoku_source, tmp_path):
    again = build_paper_data("sudoku-extreme", sudoku_source, tmp_path / "a", subsample=10, seed=0)
    other = build_paper_data("sudoku-extreme", sudoku_source, tmp_path / "b", subsample=10, seed=1)
    same = build_paper_data("sudoku-extreme", sudoku_source, tmp_path / "c", subsample=10, seed=1)
    rows = {k: np.load(p / "train_rows.npy").tolist() for k, p in (("a", again), ("b", other), ("c", same))}
    assert rows["b"] == rows["c"] and rows["a"] != rows["b"]
    assert np.array_equal(load_built(other).inputs, load_built(same).inputs)


def test_min_difficulty_filters_both_splits(sudoku_source, tmp_path):
    out = build_paper_data("sudoku-extreme", sudoku_source, tmp_path / "hard", subsample=5, min_difficulty=6)
    train_ratings = load_csv(sudoku_source / "train.csv").ratings
    test_ratings = load_csv(sudoku_source / "test.csv").ratings
    eligible = np.flatnonzero(train_ratings >= 6)
    rows = np.load(out / "train_rows.npy")
    assert rows.tolist() == eligible[np.random.RandomState(0).choice(len(eligible), 5, replace=False)].tolist()
    assert (load_built(out, "train").ratings >= 6).all()
    test = load_built(out, "test")
    assert len(test) == int((test_ratings >= 6).sum()) and (test.ratings >= 6).all()
    meta = paper.read_meta(out)
    assert meta["sampling"]["min_difficulty"] == 6
    assert meta["sampling"]["rows_eligible"] == {"train": len(eligible), "test": int((test_ratings >= 6).sum())}
    with pytest.raises(ValueError, match="no row has a rating >= 99"):
        build_paper_data("sudoku-extreme", sudoku_source, tmp_path / "none", min_difficulty=99)


def test_no_subsample_keeps_every_row_in_file_order(sudoku_source, tmp_path):
    for subsample in (None, N_TRAIN + 1):  # as the reference: a draw only when it is smaller than the file
        out = build_paper_data("sudoku-extreme", sudoku_source, tmp_path / f"all{subsample}", subsample=subsample)
        assert np.load(out / "train_rows.npy").tolist() == list(range(N_TRAIN))
    assert paper.read_meta(tmp_path / "allNone")["name"] == "sudoku-extreme-full"


def test_loaded_test_split_equals_load_csv_and_is_a_memory_map(built, sudoku_source):
    test, expected = load_built(built, "test"), load_csv(sudoku_source / "test.csv")
    assert isinstance(test, PuzzleSet) and isinstance(test.inputs, np.memmap) and test.inputs.dtype == np.uint8
    assert np.array_equal(test.inputs, expected.inputs) and np.array_equal(test.labels, expected.labels)
    assert np.array_equal(test.ratings, expected.ratings)
    assert (test.name, test.kind, test.vocab_size, test.seq_len, test.grid_size, test.box) == (
        "sudoku-extreme-10", "sudoku", 11, 81, 9, (3, 3))
    assert all(is_solution(grid) for grid in decode_sudoku(np.asarray(test.labels)))


def test_puzzle_set_still_casts_arrays_in_memory_to_int64():
    tokens = np.ones((2, 4), dtype=np.uint8)
    assert PuzzleSet("x", "sudoku", tokens, tokens, 4, 4, 2, (1, 2)).inputs.dtype == np.int64


def test_memory_map_feeds_train_batches_and_evaluate(built):
    import torch

    from hrm_minimal.evaluate import evaluate
    from hrm_minimal.model import HRM
    from hrm_minimal.presets import get_preset

    train = load_built(built, "train")
    plain = TrainBatches(train, batch_size=4, augment=False, seed=0)
    x, y = next(plain)
    assert x.dtype == torch.int64 and x.shape == (4, 81)
    order = np.random.default_rng([0, 0]).permutation(10)[:4]  # TrainBatches' first batch
    assert np.array_equal(x.numpy(), np.asarray(train.inputs[order], dtype=np.int64))
    xa, ya = next(TrainBatches(train, batch_size=4, augment=True, seed=0))
    assert xa.dtype == ya.dtype == torch.int64 and not torch.equal(xa, x)
    assert all(is_solution(grid) for grid in decode_sudoku(ya.numpy()))
    test = load_built(built, "test")
    torch.manual_seed(0)
    model = HRM(get_preset("cpu-tiny", vocab_size=test.vocab_size, seq_len=test.seq_len, halt_max_steps=2))
    result = evaluate(model, test, batch_size=2, limit=3, progress=False)
    assert result["count"] == 3 and 0.0 <= result["accuracy"] <= 1.0


def test_maze_build_keeps_all_rows_as_published(maze_source, tmp_path):
    out = build_paper_data("maze-30x30-hard-1k", maze_source, tmp_path / "maze")
    meta = paper.read_meta(out)
    assert (meta["name"], meta["kind"], meta["vocab_size"], meta["seq_len"], meta["grid_size"], meta["box"]) == (
        "maze-30x30-hard-1k", "maze", 6, 121, 11, None)
    for split, count in (("train", 8), ("test", 4)):
        loaded, expected = load_built(out, split), load_csv(maze_source / f"{split}.csv")
        assert len(loaded) == count and loaded.box is None
        assert np.array_equal(loaded.inputs, expected.inputs) and np.array_equal(loaded.labels, expected.labels)
    assert np.load(out / "train_rows.npy").tolist() == list(range(8))


def test_default_names_and_folders(sudoku_source, tmp_path, monkeypatch):
    assert paper.built_name("sudoku-extreme") == "sudoku-extreme-1k"
    assert paper.built_name("sudoku-extreme", None) == "sudoku-extreme-full"
    assert paper.built_name("maze-30x30-hard-1k") == "maze-30x30-hard-1k"
    monkeypatch.chdir(tmp_path)
    out = build_paper_data("sudoku-extreme", sudoku_source, subsample=3000)  # more than the file: all rows
    assert out == paper.default_out_dir("sudoku-extreme", 3000) and (tmp_path / "data/sudoku-extreme-3k").is_dir()
    assert paper.default_source_dir("sudoku-extreme") == Path("data/raw/sudoku-extreme")


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------
def _copy_source(sudoku_source, folder):
    folder.mkdir()
    for name in ("train.csv", "test.csv"):
        (folder / name).write_bytes((sudoku_source / name).read_bytes())
    return folder


BAD_ROWS = {  # (data row, how it is broken); the build reads 7 rows per chunk here: rows 7.. are chunk 2
    "contradicts the givens": (4, lambda q, a: (q, a[::-1])),
    "breaks a rule": (12, lambda q, a: ("." * 81, "123456789" * 9)),
    "bad character": (9, lambda q, a: (q, a[:40] + "x" + a[41:])),
    "other grid size, first of a chunk": (7, lambda q, a: ("." * 16, "1234341221434321")),
    "other grid size, inside a chunk": (10, lambda q, a: (q[:80], a)),
    "not ASCII": (2, lambda q, a: ("\u00e9" + q[1:], a)),
}


@pytest.mark.parametrize("fault", list(BAD_ROWS))
def test_a_bad_stored_row_names_file_and_line_as_load_csv_does(sudoku_source, tmp_path, monkeypatch, fault):
    monkeypatch.setattr(paper, "CHUNK", 7)
    source = _copy_source(sudoku_source, tmp_path / "src")
    k, breaks = BAD_ROWS[fault]
    fields = (source / "test.csv").read_text().splitlines()[k + 1].split(",")
    fields[1], fields[2] = breaks(fields[1], fields[2])
    _csv_rows(source / "test.csv", {k: ",".join(fields)})
    with pytest.raises(CSVFormatError) as built_error:
        build_paper_data("sudoku-extreme", source, tmp_path / "out")
    with pytest.raises(CSVFormatError) as csv_error:
        load_csv(source / "test.csv")
    assert built_error.value.line == k + 2 and str(built_error.value) == str(csv_error.value)
    assert str(source / "test.csv") in str(built_error.value) and not (tmp_path / "out").exists()


def test_reading_in_chunks_changes_nothing(built, sudoku_source, tmp_path, monkeypatch):
    monkeypatch.setattr(paper, "CHUNK", 3)
    sizes, check = [], paper._sudoku_chunk
    monkeypatch.setattr(paper, "_sudoku_chunk", lambda path, lines, *rest: sizes.append(len(lines)) or check(
        path, lines, *rest))
    chunked = build_paper_data("sudoku-extreme", sudoku_source, tmp_path / "chunked", subsample=10)
    assert max(sizes) == 3 and sum(sizes) == 10 + N_TEST  # never more than CHUNK rows in memory as text
    for split in ("train", "test"):
        a, b = load_built(built, split), load_built(chunked, split)
        assert np.array_equal(a.inputs, b.inputs) and np.array_equal(a.labels, b.labels)
        assert np.array_equal(a.ratings, b.ratings)


@pytest.mark.parametrize("row, fault", [("gen,1.2,3", "3 fields, expected 4 (source,question,answer,rating)"),
                                        ("", "empty line"),
                                        ("gen,1,2,hard", "rating 'hard' is not an integer")])
def test_every_train_row_has_its_structure_checked(sudoku_source, tmp_path, row, fault):
    source = _copy_source(sudoku_source, tmp_path / "src")
    _csv_rows(source / "train.csv", {30: row})
    with pytest.raises(CSVFormatError) as built_error:  # row 30 is not among the 2 drawn: still checked
        build_paper_data("sudoku-extreme", source, tmp_path / "out", subsample=2)
    assert str(built_error.value) == f"{source / 'train.csv'}, line 32: {fault}"
    with pytest.raises(CSVFormatError) as csv_error:
        load_csv(source / "train.csv")
    assert str(csv_error.value) == str(built_error.value)


def test_a_file_of_the_other_kind_or_missing_is_refused(sudoku_source, maze_source, tmp_path):
    with pytest.raises(ValueError, match="holds sudoku puzzles, but maze-30x30-hard-1k is a maze data set"):
        build_paper_data("maze-30x30-hard-1k", sudoku_source, tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="fetch sudoku-extreme"):
        build_paper_data("sudoku-extreme", tmp_path / "nothing", tmp_path / "y")
    with pytest.raises(ValueError, match="unknown data set 'sudoku-hard'"):
        build_paper_data("sudoku-hard", sudoku_source, tmp_path / "z")
    with pytest.raises(ValueError, match="subsample must be a positive integer"):
        build_paper_data("sudoku-extreme", sudoku_source, tmp_path / "z", subsample=0)


def test_interrupted_build_leaves_nothing_that_loads(sudoku_source, tmp_path, monkeypatch):
    out = tmp_path / "out"
    real_save, saved = np.save, []

    def failing_save(path, values):
        if len(saved) == 3:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-write
        saved.append(path)
        real_save(path, values)

    monkeypatch.setattr(paper.np, "save", failing_save)
    with pytest.raises(KeyboardInterrupt):
        build_paper_data("sudoku-extreme", sudoku_source, out, subsample=10)
    assert saved and list(tmp_path.iterdir()) == []  # neither the folder nor its partial copy
    monkeypatch.undo()
    build_paper_data("sudoku-extreme", sudoku_source, out, subsample=10)
    build_paper_data("sudoku-extreme", sudoku_source, out, subsample=12)  # a rebuild replaces it
    assert len(load_built(out)) == 12 and [p.name for p in tmp_path.iterdir()] == ["out"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(ValueError, match="exists and is not a built data set"):
        build_paper_data("sudoku-extreme", sudoku_source, mine)
    assert (mine / "notes.txt").read_text() == "keep"


def test_folders_that_do_not_load_say_why_in_one_line(built, tmp_path):
    def error(folder, split="train") -> str:
        with pytest.raises(ValueError) as info:
            load_built(folder, split)
        message = str(info.value)
        assert _one_line(message) and str(folder) in message
        return message

    assert "no such folder" in error(tmp_path / "absent")
    assert "has no meta.json" in error(tmp_path)
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in built.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    meta = json.loads((copy / "meta.json").read_text())
    (copy / "meta.json").write_text(json.dumps({**meta, "format_version": 99}))
    assert "format version 99" in error(copy)
    (copy / "meta.json").write_text("{not json")
    assert "not readable JSON" in error(copy)
    (copy / "meta.json").write_text(json.dumps(meta))
    (copy / "test_labels.npy").unlink()
    assert "has no test_labels.npy" in error(copy, "test")
    assert len(load_built(copy, "train")) == 10  # the other split still loads
    with pytest.raises(ValueError, match="unknown split 'valid'"):
        load_built(copy, "valid")
    (copy / "train_inputs.npy").write_bytes(b"not an array")
    assert "not a readable .npy file" in error(copy)
    np.save(copy / "train_inputs.npy", np.zeros((10, 80), np.uint8))
    assert "meta.json says uint8 (10, 81)" in error(copy)


def test_load_puzzles_reads_a_csv_or_a_built_folder(built, sudoku_source, tmp_path):
    from_csv = load_puzzles(sudoku_source / "test.csv")
    from_folder = load_puzzles(built, split="test")
    assert np.array_equal(from_csv.inputs, from_folder.inputs) and from_csv.name == "test"
    assert from_folder.name == "sudoku-extreme-10" and len(load_puzzles(built)) == 10
    with pytest.raises(FileNotFoundError, match="no CSV file or built data set"):
        load_puzzles(tmp_path / "absent")


# ---------------------------------------------------------------------------------------------
# Fetch (never the network)
# ---------------------------------------------------------------------------------------------
def _fake_hub(monkeypatch, fail: Exception | None = None) -> list[dict]:
    calls: list[dict] = []

    def hf_hub_download(**kwargs):
        calls.append(kwargs)
        if fail is not None:
            raise fail
        path = Path(kwargs["local_dir"]) / kwargs["filename"]
        path.write_text("source,question,answer,rating\n")
        return str(path)

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(hf_hub_download=hf_hub_download))
    return calls


def test_fetch_without_huggingface_hub_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # makes `import huggingface_hub` fail
    with pytest.raises(ImportError, match="pip install huggingface_hub"):
        fetch("sudoku-extreme", tmp_path)
    assert cli(["fetch", "sudoku-extreme", "--dest", str(tmp_path)]) == 2


@pytest.mark.parametrize("name, repo_id", [("sudoku-extreme", "sapientinc/sudoku-extreme"),
                                           ("maze-30x30-hard-1k", "sapientinc/maze-30x30-hard-1k")])
def test_fetch_downloads_both_files_of_the_data_set(monkeypatch, tmp_path, name, repo_id):
    calls = _fake_hub(monkeypatch)
    dest = tmp_path / "raw"
    assert fetch(name, dest) == dest
    assert [(c["repo_id"], c["filename"], c["repo_type"], Path(c["local_dir"])) for c in calls] == [
        (repo_id, "train.csv", "dataset", dest), (repo_id, "test.csv", "dataset", dest)]


def test_fetch_failures_are_one_line(monkeypatch, tmp_path, capsys):
    _fake_hub(monkeypatch, fail=RuntimeError("offline:\n no route to host"))
    with pytest.raises(OSError, match="could not download train.csv of the Hugging Face data set "
                                      "sapientinc/sudoku-extreme: offline: no route to host"):
        fetch("sudoku-extreme", tmp_path)
    assert cli(["fetch", "sudoku-extreme", "--dest", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: could not download") and _one_line(err)
    with pytest.raises(ValueError, match="unknown data set"):
        fetch("arc-agi", tmp_path)


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def test_cli_prepare_writes_and_reports(sudoku_source, tmp_path, capsys):
    out = tmp_path / "built"
    assert cli(["prepare", "sudoku-extreme", "--source", str(sudoku_source), "--out", str(out),
                "--subsample", "7", "--seed", "3", "--min-difficulty", "2"]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and "7 train" in printed and " s" in printed
    meta = paper.read_meta(out)
    assert meta["sampling"] == {**meta["sampling"], "subsample": 7, "seed": 3, "min_difficulty": 2}
    assert printed.count(f"{meta['counts']['test']} test") == 1
    assert cli(["prepare", "sudoku-extreme", "--source", str(sudoku_source), "--out", str(out),
                "--subsample", "all"]) == 0
    assert len(load_built(out)) == N_TRAIN


def test_cli_prepare_errors_are_one_line(sudoku_source, tmp_path, capsys):
    assert cli(["prepare", "sudoku-extreme", "--source", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no ") and "train.csv" in err and _one_line(err)
    assert cli(["prepare", "maze-30x30-hard-1k", "--source", str(sudoku_source), "--out", str(tmp_path / "o")]) == 2
    assert _one_line(capsys.readouterr().err)
    result = subprocess.run([sys.executable, "-m", "hrm_minimal.data", "prepare", "sudoku-2x2", "--source",
                             str(sudoku_source)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "error: unknown data set 'sudoku-2x2'; valid names are sudoku-extreme, maze-30x30-hard-1k\n"
