"""benchmarks/gpu_throughput.py: the CPU smoke run, the no-CUDA message, the headline and the
"left the trivial answer" rule."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_throughput.py"
# One thread: two spinning OpenMP threads next to other work on a 2-core CPU make a step 100x slower.
ENV = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
SMOKE_HEADLINE = re.compile(
    r"^CPU .+ \(smoke: cpu-tiny, batch 8, 3 steps, no compile\): ([\d,]+) examples/s float32; "
    r"(left|did not leave) the trivial answer (after|in) [\d,]+ steps \(\d+ s\) \(stand-in data: sudoku-9x9\)$")


def _load():
    spec = importlib.util.spec_from_file_location("gpu_throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gt = _load()


def _run(tmp_path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path / "out"), *args], cwd=tmp_path,
                          env=ENV, capture_output=True, text=True, timeout=120)


def _eval(step, time_s, exact=0.0, blank=0.11, cells=0.4) -> dict:
    return {"step": step, "time_s": time_s, "loss": 1.0, "test_exact_accuracy": exact, "test_accuracy": cells,
            "test_blank_accuracy": blank, "test_count": 300}


@pytest.mark.slow  # starts a Python process: not in `pytest -m fast`
def test_smoke_run_writes_positive_figures_and_ends_with_the_headline(tmp_path):
    done = _run(tmp_path, "--smoke")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "gpu_throughput.json").read_text())
    eager = report["variants"]["eager"]
    assert report["smoke"] and set(report["variants"]) == {"eager"}
    assert eager["examples_per_s"] > 0 and eager["ms_per_step"] > 0 and eager["timed_steps"] == 3
    run = report["run"]
    assert run["stand_in"] and run["steps"] > 0 and run["evaluations"]
    assert all(0 <= e["test_blank_accuracy"] <= 1 for e in run["evaluations"])
    last = done.stdout.strip().splitlines()[-1]
    match = SMOKE_HEADLINE.match(last)
    assert match, last
    assert match.group(1) == f"{eager['examples_per_s']:,.0f}"  # the headline states the JSON's figure
    assert (match.group(2) == "left") == (run["left_trivial"] is not None)


@pytest.mark.slow  # starts a Python process: not in `pytest -m fast`
def test_without_cuda_it_says_so_in_one_line_and_exits_0(tmp_path):
    done = _run(tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1 and done.stdout.startswith("no CUDA device"), done.stdout
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # starts a Python process: not in `pytest -m fast`
def test_refuses_to_write_into_the_repository_root(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--out", str(SCRIPT.parent.parent)],
                          env=ENV, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "repository root" in done.stderr


def test_a_run_that_stays_trivial_never_leaves_it():
    # a record without an evaluation does not count, whatever its training accuracy
    history = [{"step": 1, "time_s": 0.1, "loss": 2.0, "train_exact": 1.0},
               _eval(200, 30.0, blank=0.10), _eval(400, 60.0, blank=0.16), _eval(600, 90.0, blank=0.11)]
    assert gt.left_trivial(history) is None
    assert gt.left_trivial([]) is None


def test_it_leaves_at_the_first_evaluation_clearly_above_the_trivial_blank_accuracy():
    history = [_eval(200, 30.0, blank=0.12), _eval(400, 61.5, blank=0.17), _eval(600, 90.0, blank=0.30)]
    assert gt.left_trivial(history) == {"step": 400, "time_s": 61.5, "exact": 0.0, "blank": 0.17}


def test_one_solved_puzzle_leaves_it_even_at_trivial_blank_accuracy():
    history = [_eval(200, 30.0), _eval(400, 60.0, exact=1 / 300, blank=0.12)]
    assert gt.left_trivial(history)["step"] == 400
    assert gt.left_trivial([_eval(200, 30.0, exact=0.01, blank=None)])["step"] == 200  # no blank key needed


@pytest.mark.parametrize("blank, leaves", [(gt.TRIVIAL_BLANK + gt.MARGIN - 1e-6, False),
                                           (gt.TRIVIAL_BLANK + gt.MARGIN, True)])
def test_the_threshold_is_the_trivial_level_plus_the_margin(blank, leaves):
    assert gt.beyond_trivial(_eval(1, 1.0, blank=blank)) is leaves


def test_headline_of_a_gpu_run_names_both_variants_their_ratio_and_the_peak():
    variants = {"eager": {"examples_per_s": 12345.4, "peak_memory_gib": 30.12},
                "compiled": {"examples_per_s": 15678.0, "peak_memory_gib": 25.0}}
    run = {"stand_in": False, "steps": 3000, "train_time_s": 600.0, "evaluations": [{}],
           "left_trivial": {"step": 812, "time_s": 143.2}}
    assert gt.headline("NVIDIA H100", "bf16", variants, run) == (
        "NVIDIA H100: 12,345 examples/s bf16, 15,678 compiled (x1.27), peak 30.1 GiB; "
        "left the trivial answer after 812 steps (143 s)")
    stayed = {**run, "left_trivial": None, "stand_in": True}
    assert gt.headline("GPU", "bf16", variants, stayed).endswith(
        "; did not leave the trivial answer in 3,000 steps (600 s) (stand-in data: sudoku-9x9)")
