"""The moving average of the weights (TrainConfig.ema): how it follows, where it is read, resume, export."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from hrm_minimal.checkpoint import load_checkpoint
from hrm_minimal.data import load_task
from hrm_minimal.ema import WeightAverage
from hrm_minimal.evaluate import evaluate, load_model
from hrm_minimal.export import export_model
from hrm_minimal.train import TrainConfig, _parse_args, train

TINY = dict(task="sudoku-4x4", preset="cpu-tiny", batch_size=16, max_steps=12, eval_every=6,
            eval_limit=32, checkpoint_every=1000, lr_warmup_steps=3, progress=False, seed=3, ema=0.9)


def _tiny(tmp_path, name="run", **kw) -> TrainConfig:
    return TrainConfig(**{**TINY, "out_dir": str(tmp_path / name), **kw})


def test_the_average_follows_the_weights_with_its_warmed_up_decay():
    layer = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(0.0)
    avg = WeightAverage(layer, decay=0.99)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    avg.update(layer, step=1)  # d = min(0.99, 2/11): the average moves 9/11 of the way
    assert torch.allclose(avg.average["weight"], torch.full((1, 2), 9 / 11))
    for step in range(2, 2000):
        avg.update(layer, step)
    assert torch.allclose(avg.average["weight"], torch.ones(1, 2))  # a constant weight is its own average


def test_applied_swaps_the_average_in_and_gives_the_weights_back():
    layer = nn.Linear(2, 1, bias=False)
    avg = WeightAverage(layer, decay=0.5)
    raw = layer.weight.detach().clone()
    with torch.no_grad():
        avg.average["weight"].fill_(7.0)
    with avg.applied(layer):
        assert torch.equal(layer.weight, torch.full((1, 2), 7.0))
    assert torch.equal(layer.weight, raw)


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, True, "0.99"])
def test_a_decay_outside_zero_to_one_is_rejected(bad, tmp_path):
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(nn.Linear(2, 1), bad)
    with pytest.raises(ValueError, match="ema"):
        _tiny(tmp_path, ema=bad)


def test_evaluations_read_the_average_and_report_the_raw_weights_beside_it(tmp_path):
    result = train(_tiny(tmp_path, max_steps=6))
    record = result["history"][-1]
    test = load_task("sudoku-4x4", "test")
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    raw_model, _ = load_model(str(tmp_path / "run"))
    raw_model.load_state_dict(ckpt["model"])
    raw = evaluate(raw_model, test, limit=32, progress=False)
    assert record["test_raw_exact_accuracy"] == raw["exact_accuracy"]
    assert not all(torch.equal(ckpt["ema"]["average"][k], v) for k, v in ckpt["model"].items()
                   if k in ckpt["ema"]["average"])
    # load_model (the evaluation command, export) rebuilds a run's model from the average
    averaged, _ = load_model(str(tmp_path / "run"))
    assert all(torch.equal(v, averaged.state_dict()[k]) for k, v in result["model"].state_dict().items())
    for k, v in averaged.state_dict().items():
        if k in ckpt["ema"]["average"]:
            assert torch.equal(v, ckpt["ema"]["average"][k])
    again = evaluate(averaged, test, limit=32, progress=False)
    assert record["test_accuracy"] == again["accuracy"]


def test_stop_and_resume_keeps_the_average(tmp_path):
    whole = train(_tiny(tmp_path, "whole"))
    train(_tiny(tmp_path, "split", stop_after_steps=5))
    train(_tiny(tmp_path, "split", resume=True))
    a = load_checkpoint(tmp_path / "whole" / "checkpoint.pt")["ema"]["average"]
    b = load_checkpoint(tmp_path / "split" / "checkpoint.pt")["ema"]["average"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(v, a[k]) for k, v in whole["model"].state_dict().items() if k in a)
    with pytest.raises(ValueError, match="ema"):  # the decay defines the run: it may not change on resume
        train(_tiny(tmp_path, "split", ema=0.5, max_steps=14, resume=True))


def test_export_ships_the_average_and_its_command_names_it(tmp_path):
    train(_tiny(tmp_path))
    card = export_model(tmp_path / "run", tmp_path / "model.pt")
    assert "--ema 0.9" in card["command"]
    assert _parse_args(card["command"].split()[3:])[0].ema == 0.9  # the command line gives the run back
    shipped = load_checkpoint(tmp_path / "model.pt")
    average = load_checkpoint(tmp_path / "run" / "checkpoint.pt")["ema"]["average"]
    assert all(torch.equal(shipped["model"][k], average[k]) for k in average)
    assert "ema" not in shipped  # the shipped weights are the average; nothing else to swap in
