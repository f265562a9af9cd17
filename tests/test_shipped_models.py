"""The trained models shipped in datasets/checkpoints: they load safely and are as accurate as stated."""
from __future__ import annotations

import pytest
import torch

from hrm_minimal.data import datasets_dir, load_task
from hrm_minimal.evaluate import evaluate, load_pretrained, reading_segments
from hrm_minimal.export import SLICE, read_card

SHIPPED = sorted(p.stem for p in (datasets_dir() / "checkpoints").glob("*.pt"))


def test_the_promised_models_are_shipped():
    # sudoku-6x6-flat: the flat model (architecture="flat") lesson 03 compares with HRM;
    # sudoku-6x6-one-segment: lesson 05's model trained without deep supervision.
    # sudoku-6x6-four-segments: lesson 06's model, trained with up to 4 segments (ACT halting over 4).
    assert {"sudoku-6x6", "sudoku-9x9", "maze-15x15", "sudoku-6x6-flat", "sudoku-6x6-one-segment",
            "sudoku-6x6-four-segments"} <= set(SHIPPED)


@pytest.mark.slow  # a few seconds per model: not in `pytest -m fast`
@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_model_is_small_and_matches_its_card_on_a_test_slice(name):
    path = datasets_dir() / "checkpoints" / f"{name}.pt"
    assert path.stat().st_size < 3_000_000, "shipped models must stay small"
    card = read_card(path)
    assert name == card["task"] or name.startswith(card["task"] + "-"), "a file is named after its task"
    model, ckpt = load_pretrained(name)  # torch.load(weights_only=True) inside
    assert "optimizer" not in ckpt
    # Read as its card says without being told: the card's segments, not the training's.
    assert model.reading_segments == reading_segments(ckpt) == card["segments"]
    result = evaluate(model, load_task(card["task"], "test"), limit=SLICE, progress=False)
    assert len(result["exact_by_segment"]) == card["segments"]
    assert result["count"] == card["slice"]["count"] == SLICE
    # Same model, same puzzles: only float rounding on another machine may flip a cell or two.
    assert result["exact_accuracy"] == pytest.approx(card["slice"]["exact_accuracy"], abs=0.01)
    assert result["accuracy"] == pytest.approx(card["slice"]["accuracy"], abs=0.002)


@pytest.mark.parametrize("name", SHIPPED)
def test_the_data_card_states_each_shipped_models_accuracy_and_command(name):
    card = read_card(datasets_dir() / "checkpoints" / f"{name}.pt")
    text = (datasets_dir() / "README.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith(f"| `checkpoints/{name}.pt`"))
    assert f"| {card['test_exact_accuracy']:.1%} |" in row and f"| {card['steps']} |" in row
    assert f"`{card['command']}`" in text


def test_asking_for_a_model_that_is_not_shipped_lists_the_shipped_ones():
    with pytest.raises(ValueError, match="shipped: "):
        load_pretrained("maze-11x11")


def test_the_data_card_says_why_the_maze_model_is_missing_while_it_is():
    from hrm_minimal.data.build import CARD_NO_MAZE_MODEL

    text = (datasets_dir() / "README.md").read_text()
    assert (CARD_NO_MAZE_MODEL in text) == ("maze-15x15" not in SHIPPED)


def test_a_shipped_model_is_evaluated_by_name_from_any_folder(tmp_path, monkeypatch, capsys):
    from hrm_minimal.evaluate import main as evaluate_main

    monkeypatch.chdir(tmp_path)  # no datasets/ folder here, as after a wheel install
    assert evaluate_main(["sudoku-6x6", "--limit", "40", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "40 puzzles, 16 segments each" in out
    # The repository path of a shipped model, given elsewhere, is answered with its name.
    assert evaluate_main(["datasets/checkpoints/sudoku-6x6.pt", "--device", "cpu"]) == 2
    assert "by its name alone: sudoku-6x6" in capsys.readouterr().err
    assert evaluate_main(["sudoku-7x7", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint at sudoku-7x7" in err and "shipped: " in err and "sudoku-6x6" in err


def test_the_segments_a_file_states_are_only_a_default():
    from hrm_minimal.evaluate import solve
    from hrm_minimal.model import HRM

    model, _ = load_pretrained("sudoku-6x6")
    assert model.config.halt_max_steps == 2 and model.reading_segments == 16
    test = load_task("sudoku-6x6", "test")
    asked = evaluate(model, test, limit=20, max_steps=3, progress=False)
    assert len(asked["exact_by_segment"]) == 3
    # solve() too may run past the 2 trained segments, up to the card's 16 (the Q head stops most sooner).
    _, used = solve(model, torch.from_numpy(test.inputs[:100]))
    assert 2 < int(used.max()) <= 16
    assert HRM(model.config).reading_segments is None  # a new model reads halt_max_steps
