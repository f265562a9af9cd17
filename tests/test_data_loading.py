"""Shipped tasks, PuzzleSet, the resumable training iterator and the evaluation loader."""
from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from hrm_minimal.data import (
    IGNORE_LABEL_ID,
    TASKS,
    PuzzleDataset,
    PuzzleSet,
    TrainBatches,
    datasets_dir,
    decode_maze,
    decode_sudoku,
    list_tasks,
    load_task,
    make_loader,
    solve_maze,
    solves,
)

VOCAB = {"sudoku-4x4": 6, "sudoku-6x6": 8, "sudoku-9x9": 11, "maze-11x11": 6, "maze-15x15": 6}


def test_the_required_tasks_are_shipped():
    assert {"sudoku-4x4", "sudoku-6x6", "sudoku-9x9", "maze-15x15"} <= set(list_tasks())
    assert IGNORE_LABEL_ID == -100
    for name in list_tasks():
        for split in ("train", "test"):
            assert (datasets_dir() / TASKS[name][split]).is_file()


@pytest.mark.parametrize("name", list(VOCAB))
def test_load_task_fields_and_encoding(name):
    train, test = load_task(name, "train"), load_task(name, "test")
    n = TASKS[name]["grid_size"]
    for ps in (train, test):
        assert isinstance(ps, PuzzleSet) and ps.name == name and ps.kind == TASKS[name]["kind"]
        assert ps.inputs.dtype == ps.labels.dtype == np.int64 and ps.inputs.shape == (len(ps), n * n)
        assert ps.vocab_size == VOCAB[name] and ps.seq_len == n * n and ps.grid_size == n
        assert ps.inputs.min() >= 1 and ps.labels.max() < ps.vocab_size  # no padding in shipped files
    assert len(train) >= 5 * len(test) > 0
    rows = np.random.default_rng(0).choice(len(train), 20, replace=False)
    if train.kind == "sudoku":
        assert train.box == {4: (2, 2), 6: (2, 3), 9: (3, 3)}[n]
        assert (train.labels > 1).all()  # labels are full solutions, givens included
        for x, y in zip(decode_sudoku(train.inputs[rows]), decode_sudoku(train.labels[rows])):
            assert solves(x, y)
    else:
        assert train.box is None
        for x, y in zip(decode_maze(train.inputs[rows]), decode_maze(train.labels[rows])):
            assert (solve_maze(x) == y).all()


def test_importing_the_data_package_is_light():
    code = "import sys, hrm_minimal.data; print('matplotlib' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_unknown_names_and_splits_are_errors():
    with pytest.raises(ValueError, match="sudoku-4x4, sudoku-6x6"):
        load_task("sudoku-5x5")
    with pytest.raises(ValueError, match="valid splits are train, test"):
        load_task("sudoku-4x4", "valid")


def test_datasets_dir_follows_the_environment(tmp_path, monkeypatch):
    shutil.copy(datasets_dir() / "sudoku-4x4-test.csv", tmp_path / "sudoku-4x4-test.csv")
    monkeypatch.setenv("HRM_DATASETS", str(tmp_path))
    assert datasets_dir() == tmp_path
    assert len(load_task("sudoku-4x4", "test")) == 200
    with pytest.raises(FileNotFoundError, match="hrm_minimal.data build"):
        load_task("sudoku-4x4", "train")


def test_puzzle_set_subset_and_checks():
    ps = load_task("sudoku-4x4", "test")
    sub = ps.subset(slice(0, 10))
    assert len(sub) == 10 and (sub.inputs == ps.inputs[:10]).all() and sub.ratings.shape == (10,)
    with pytest.raises(ValueError, match="kind"):
        PuzzleSet("x", "chess", ps.inputs, ps.labels, 6, 16, 4, (2, 2))
    with pytest.raises(ValueError, match="seq_len"):
        PuzzleSet("x", "sudoku", ps.inputs, ps.labels, 6, 15, 4, (2, 2))


def _take(it, k):
    return [next(it) for _ in range(k)]


def test_train_batches_shapes_and_epochs_without_replacement():
    ps = load_task("sudoku-4x4", "test")  # 200 puzzles
    it = TrainBatches(ps, batch_size=48, augment=False, seed=3)
    batches = _take(it, 4)  # 4 batches per epoch (the last 8 puzzles wait for the next epoch)
    for x, y in batches:
        assert x.dtype == y.dtype == torch.int64 and x.shape == y.shape == (48, 16)
    shipped = {tuple(r) for r in ps.inputs.tolist()}
    assert all(tuple(r) in shipped for x, _ in batches for r in x.tolist())  # augment=False: rows as shipped
    assert it.state_dict() == {"seed": 3, "epoch": 0, "position": 4}
    next(it)
    assert it.state_dict() == {"seed": 3, "epoch": 1, "position": 1}


def test_train_batches_rows_of_one_epoch_are_distinct_puzzles():
    inputs = np.ones((60, 16), dtype=np.int64)
    inputs[:, :6] += np.array([[(i >> k) & 1 for k in range(6)] for i in range(60)])  # row i spells i in binary
    ps = PuzzleSet("ids", "sudoku", inputs, inputs.copy(), 6, 16, 4, (2, 2))
    it = TrainBatches(ps, batch_size=20, augment=False, seed=0)
    rows = [tuple(r.tolist()) for x, _ in _take(it, 3) for r in x]
    assert len(set(rows)) == 60


def test_train_batches_resume_exactly(tmp_path):
    ps = load_task("maze-11x11", "test")
    it = TrainBatches(ps, batch_size=32, augment=True, seed=7)
    _take(it, 9)  # crosses an epoch boundary (6 batches per epoch)
    state = it.state_dict()
    assert all(type(v) is int for v in state.values())
    torch.save({"data": state}, tmp_path / "ckpt.pt")
    expected = _take(it, 5)
    again = TrainBatches(ps, batch_size=32, augment=True, seed=0)
    again.load_state_dict(torch.load(tmp_path / "ckpt.pt", weights_only=True)["data"])
    for (x, y), (x2, y2) in zip(expected, _take(again, 5)):
        assert torch.equal(x, x2) and torch.equal(y, y2)
    fresh = _take(TrainBatches(ps, batch_size=32, augment=True, seed=8), 1)[0][0]
    assert not torch.equal(fresh, expected[0][0])


def test_train_batches_augment_keeps_pairs_valid():
    ps = load_task("sudoku-6x6", "test")
    x, y = next(TrainBatches(ps, batch_size=64, augment=True, seed=1))
    raw = {tuple(r) for r in ps.inputs.tolist()}
    assert sum(tuple(r) in raw for r in x.tolist()) < 4  # transformed
    for p, s in zip(decode_sudoku(x.numpy()), decode_sudoku(y.numpy())):
        assert solves(p, s)


def test_train_batches_reject_bad_arguments():
    ps = load_task("sudoku-4x4", "test")
    with pytest.raises(ValueError, match="exceeds"):
        TrainBatches(ps, batch_size=1000)
    with pytest.raises(ValueError, match="positive"):
        TrainBatches(ps, batch_size=0)
    with pytest.raises(TypeError, match="PuzzleSet"):
        TrainBatches(ps.inputs, batch_size=4)
    with pytest.raises(ValueError, match="missing"):
        TrainBatches(ps, 4).load_state_dict({"seed": 1})


def test_make_loader_covers_the_set_in_order():
    ps = load_task("sudoku-4x4", "test")
    batches = list(make_loader(ps, batch_size=64))
    assert [len(x) for x, _ in batches] == [64, 64, 64, 8]
    x = torch.cat([b[0] for b in batches])
    assert x.dtype == torch.int64 and torch.equal(x, torch.from_numpy(ps.inputs))
    assert [len(x) for x, _ in make_loader(ps, batch_size=64, drop_last=True)] == [64, 64, 64]
    shuffled = torch.cat([b[0] for b in make_loader(ps, 64, shuffle=True, seed=1)])
    again = torch.cat([b[0] for b in make_loader(ps, 64, shuffle=True, seed=1)])
    assert torch.equal(shuffled, again) and not torch.equal(shuffled, x)


def test_puzzle_dataset_items_and_augmentation():
    ps = load_task("maze-11x11", "test")
    plain = PuzzleDataset(ps)
    x, y = plain[3]
    assert x.shape == (121,) and torch.equal(x, torch.from_numpy(ps.inputs[3]))
    aug = PuzzleDataset(ps, augment=True, seed=0)
    views = {tuple(aug[3][0].tolist()) for _ in range(30)}
    assert len(views) >= 4  # fresh symmetries on repeated access
    with pytest.raises(IndexError):
        plain[len(ps)]
