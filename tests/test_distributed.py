"""Data-parallel training (hrm_minimal/distributed.py): two processes with the gloo backend on the CPU
train as one process does with the same global batch, and a run resumes on another number of ranks."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from hrm_minimal.checkpoint import load_checkpoint
from hrm_minimal.distributed import Ranks, mean_metrics, take_rows

# A tiny run whose steps all ranks can match exactly: no exploration draws decide halting (each rank
# has its own generator, as in the reference); the puzzle embedding (on by default) is trained.
RUN = ["--task", "sudoku-4x4", "--preset", "cpu-tiny", "--batch-size", "8", "--warmup", "2", "--lr", "3e-3",
       "--optimizer", "adam_atan2", "--set", "halt_exploration_prob=0", "--set", "halt_max_steps=2",
       "--eval-every", "1000", "--eval-limit", "8", "--checkpoint-every", "1000", "--no-progress",
       "--device", "cpu", "--seed", "3"]


def _train(out, steps: int, ranks: int = 1, resume: bool = False) -> None:
    launcher = [sys.executable, "-m", "hrm_minimal.train"] if ranks == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}",
        "-m", "hrm_minimal.train"]
    args = RUN + ["--steps", str(steps), "--out", str(out)] + (["--resume"] if resume else [])
    done = subprocess.run(launcher + args, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]


def _same_run(a, b) -> None:
    ca, cb = load_checkpoint(a / "checkpoint.pt"), load_checkpoint(b / "checkpoint.pt")
    assert ca["step"] == cb["step"] == 6
    for ra, rb in zip(ca["history"], cb["history"], strict=True):
        assert ra["loss"] == pytest.approx(rb["loss"], abs=1e-5), f"step {ra['step']}"
    for name, w in ca["model"].items():  # the puzzle embedding's table is a buffer: in here too
        assert torch.allclose(w, cb["model"][name], atol=1e-5), name
    for key in ("z_H", "z_L", "steps", "halted"):
        assert torch.allclose(ca["carry"][key].float(), cb["carry"][key].float(), atol=1e-5), key
    assert torch.equal(ca["carry"]["current_data"]["inputs"], cb["carry"]["current_data"]["inputs"])


@pytest.mark.slow  # three torchrun launches: not in `pytest -m fast`
def test_two_gloo_ranks_train_as_one_process_with_the_same_global_batch_and_resume_on_either(tmp_path):
    one, two, mixed = tmp_path / "one", tmp_path / "two", tmp_path / "mixed"
    _train(one, 6)
    _train(two, 3, ranks=2)
    _train(two, 6, ranks=2, resume=True)  # two ranks stop and resume on two
    _train(mixed, 3, ranks=2)
    _train(mixed, 6, ranks=1, resume=True)  # ... or on one
    saved = load_checkpoint(two / "checkpoint.pt")
    assert saved["world_size"] == 2 and len(saved["rng"]["ranks"]) == 2
    assert saved["carry"]["z_H"].shape[0] == 8  # the global batch's carry, gathered from both ranks
    assert saved["model"]["inner.puzzle_emb.weights"].abs().sum() > 0  # the sign-SGD moved it
    _same_run(one, two)
    _same_run(one, mixed)


def test_each_rank_owns_an_equal_share_of_the_global_batch():
    assert [Ranks(r, 4).share(768) for r in range(4)] == [slice(0, 192), slice(192, 384), slice(384, 576),
                                                          slice(576, 768)]
    assert Ranks().share(768) == slice(0, 768) and not Ranks().active and Ranks().main
    with pytest.raises(ValueError, match="global batch_size 10 must divide evenly among 4 processes"):
        Ranks(1, 4).share(10)
    state = {"z_H": torch.arange(8).view(8, 1), "current_data": {"inputs": torch.arange(16).view(8, 2)}}
    mine = take_rows(state, Ranks(1, 2).share(8))
    assert mine["z_H"].flatten().tolist() == [4, 5, 6, 7] and mine["current_data"]["inputs"][0].tolist() == [8, 9]


def test_metrics_of_one_process_pass_through_unchanged():
    metrics = {"count": 3.0, "accuracy": 0.5, "exact_accuracy": 0.25, "q_halt_accuracy": 1.0, "steps": 2.0,
               "loss": 1.5}
    assert mean_metrics(metrics, Ranks()) is metrics
