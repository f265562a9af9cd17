"""Exporting a trained model for shipping, and the command that retrains it."""
from __future__ import annotations

import pytest
import torch

from hrm_minimal.checkpoint import load_checkpoint
from hrm_minimal.evaluate import load_model
from hrm_minimal.export import export_model, main as export_main, read_card, train_command
from hrm_minimal.train import TrainConfig, _parse_args, train

TINY = dict(task="sudoku-4x4", preset="cpu-tiny", batch_size=16, max_steps=6, eval_every=3, eval_limit=16,
            checkpoint_every=1000, lr_warmup_steps=2, progress=False, seed=5)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "run"
    train(TrainConfig(**TINY, out_dir=str(out), lr=3e-3, overrides={"pos_encodings": "learned",
                                                                      "expansion": 2.0, "swiglu_multiple": 32}))
    return out


def test_the_command_rebuilds_the_same_training_settings(run_dir):
    saved = load_checkpoint(run_dir)["train_config"]
    command = train_command(saved, steps=6)
    assert command.startswith("python -m hrm_minimal.train --task sudoku-4x4 --preset cpu-tiny")
    parsed, _ = _parse_args(command.split()[3:])
    weight_fields = ["task", "preset", "overrides", "batch_size", "lr", "lr_warmup_steps", "lr_min_ratio",
                     "weight_decay", "optimizer", "loss_type", "augment", "seed", "autocast"]
    assert {k: getattr(parsed, k) for k in weight_fields} == {k: saved[k] for k in weight_fields}
    assert parsed.max_steps == 6


def test_the_command_says_compile_when_the_run_compiled(run_dir):
    saved = load_checkpoint(run_dir)["train_config"]
    assert "--compile" not in train_command(saved, steps=6)
    parsed, _ = _parse_args(train_command({**saved, "compile": True}, steps=6).split()[3:])
    assert parsed.compile is True


def test_the_command_says_which_weights_a_run_started_from(run_dir):
    saved = load_checkpoint(run_dir)["train_config"]
    assert "--init-from" not in train_command(saved, steps=6)
    parsed, _ = _parse_args(train_command({**saved, "init_from": "runs/first"}, steps=6).split()[3:])
    assert parsed.init_from == "runs/first"


def test_a_setting_without_a_flag_is_refused():
    cfg = TrainConfig(betas=(0.9, 0.999)).to_dict()
    with pytest.raises(ValueError, match="betas"):
        train_command(cfg, steps=10)


def test_export_keeps_the_model_drops_the_resume_state_and_measures_it(run_dir, tmp_path):
    dest = tmp_path / "m.pt"
    card = export_model(run_dir, dest, note="a test run")
    assert dest.stat().st_size < 0.6 * (run_dir / "checkpoint.pt").stat().st_size
    saved = torch.load(dest, weights_only=True)
    assert "optimizer" not in saved and "carry" not in saved and saved["card"] == card
    assert card["steps"] == 6 and card["seed"] == 5 and card["trained_on"] == "cpu" and card["test_count"] == 200 and card["note"] == "a test run"
    assert 0.0 <= card["test_exact_accuracy"] <= card["test_accuracy"] <= 1.0
    assert card["slice"]["count"] == 200
    exported, _ = load_model(str(dest))
    original, _ = load_model(str(run_dir))
    batch = {"inputs": torch.randint(1, 6, (4, 16))}
    out_a = exported(exported.initial_carry(batch), batch)[1]["logits"]
    out_b = original(original.initial_carry(batch), batch)[1]["logits"]
    assert torch.equal(out_a, out_b)


def test_export_measures_and_records_the_segments_a_model_is_read_with(run_dir, tmp_path, capsys):
    from hrm_minimal.data import load_task
    from hrm_minimal.evaluate import evaluate, main as evaluate_main

    default = export_model(run_dir, tmp_path / "four.pt")
    assert default["segments"] == default["trained_segments"] == 4  # cpu-tiny's halt_max_steps
    card = export_model(run_dir, tmp_path / "more.pt", segments=7)
    assert card["segments"] == 7 and card["trained_segments"] == 4 and len(card["exact_by_segment"]) == 7
    model, _ = load_model(str(tmp_path / "more.pt"))
    direct = evaluate(model, load_task("sudoku-4x4", "test"), max_steps=7, progress=False)
    assert card["test_exact_accuracy"] == direct["exact_accuracy"] and card["test_accuracy"] == direct["accuracy"]
    # The evaluation command reads an exported model with the segments its card names.
    assert evaluate_main([str(tmp_path / "more.pt"), "--device", "cpu"]) == 0
    assert "7 segments each" in capsys.readouterr().out
    with pytest.raises(ValueError, match="segments"):
        export_model(run_dir, tmp_path / "bad.pt", segments=0)
    # Exported again with other segments, a model is measured anew and keeps how it was made.
    again = export_model(tmp_path / "more.pt", tmp_path / "again.pt", segments=5)
    assert again["segments"] == 5 and len(again["exact_by_segment"]) == 5
    assert again["exact_by_segment"] == card["exact_by_segment"][:5]
    for key in ("command", "seed", "steps", "train_time_s", "trained_on", "trained_segments"):
        assert again[key] == card[key]


def test_an_exported_model_cannot_be_resumed(run_dir, tmp_path):
    dest = tmp_path / "resume" / "checkpoint.pt"
    export_model(run_dir, dest)
    cfg = TrainConfig(**{**TINY, "out_dir": str(dest.parent), "lr": 3e-3, "resume": True,
                         "overrides": {"pos_encodings": "learned", "expansion": 2.0, "swiglu_multiple": 32}})
    with pytest.raises(ValueError, match="exported model"):
        train(cfg)


def test_read_card_rejects_a_training_checkpoint(run_dir):
    with pytest.raises(ValueError, match="not an exported model"):
        read_card(run_dir / "checkpoint.pt")


def test_export_cli_names_a_missing_run(tmp_path, capsys):
    assert export_main([str(tmp_path / "nothing"), str(tmp_path / "out.pt")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
