"""Ship a trained model: `python -m hrm_minimal.export RUN_DIR DEST.pt`.

A training checkpoint holds everything needed to resume (optimiser state, carry, data-stream
position): about 5 MB for a CPU preset. An exported model keeps what a lesson needs (the model
config, the weights, the run's settings and evaluations) in about 1 MB, and adds a `card`: the
command that retrains it, its seed, steps and time, and its accuracy on the whole test split,
measured here by the export. The data card (`python -m hrm_minimal.data build`) lists the
exported models in `datasets/checkpoints/` from these cards. Exported files load with
`weights_only=True` like every checkpoint, through `hrm_minimal.evaluate.load_model`.

`--segments N` measures (and ships) the model read with N segments per puzzle, the paper's
inference-time scaling. An exported model may be exported again, to measure it anew (with other
segments, say); its card keeps how it was trained (time, device, note).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hrm_minimal.checkpoint import load_checkpoint, save_checkpoint
from hrm_minimal.evaluate import evaluate, load_model, reading_segments
from hrm_minimal.train import TrainConfig, load_data

SLICE = 200  # the first SLICE test puzzles are measured apart, for a quick check of a shipped model

# TrainConfig field -> CLI flag of `python -m hrm_minimal.train` (fields that change the weights).
FLAGS = {"task": "--task", "data": "--data", "test_data": "--test-data", "preset": "--preset",
         "batch_size": "--batch-size", "lr": "--lr", "lr_warmup_steps": "--warmup",
         "lr_min_ratio": "--lr-min-ratio", "weight_decay": "--weight-decay", "optimizer": "--optimizer",
         "loss_type": "--loss", "ema": "--ema", "init_from": "--init-from", "seed": "--seed", "device": "--device"}


def train_command(train_config: dict, steps: int) -> str:
    """The `python -m hrm_minimal.train` command that repeats a run for `steps` steps."""
    defaults = TrainConfig().to_dict()
    unsupported = [k for k in ("betas", "puzzle_emb_lr", "puzzle_emb_weight_decay")
                   if train_config.get(k) != defaults[k]]
    if unsupported:
        raise ValueError(f"settings {unsupported} have no command-line flag; train this run from Python")
    parts = ["python -m hrm_minimal.train"]
    for field, flag in FLAGS.items():
        value = train_config.get(field)
        if field in ("task", "preset") or (value is not None and value != defaults[field]):
            parts.append(f"{flag} {value}")
    parts += [f"--set {k}={v}" for k, v in train_config.get("overrides", {}).items()]
    if not train_config.get("augment", True):
        parts.append("--no-augment")
    if not train_config.get("autocast", True):
        parts.append("--no-autocast")
    if train_config.get("compile"):  # the same arithmetic up to float rounding, so the command says so
        parts.append("--compile")
    parts.append(f"--steps {steps}")
    return " ".join(parts)


def export_model(run: str | Path, dest: str | Path, limit: int | None = None, note: str = "",
                 segments: int | None = None) -> dict:
    """Write the model of checkpoint `run` to `dest` with its card; return the card.

    The model is measured after `segments` segments per test puzzle (default: the run's
    `eval_max_steps`, else `halt_max_steps`); the card keeps that number, and the evaluation
    command reads a shipped model with it.
    """
    model, ckpt = load_model(str(run), device="cpu")
    if "train_config" not in ckpt or "step" not in ckpt:
        raise ValueError(f"{run} is not a training checkpoint (no train_config/step); export a run's checkpoint")
    earlier = ckpt.get("card", {})  # exporting an exported model measures it again, keeping how it was made
    if segments is not None and (isinstance(segments, bool) or not isinstance(segments, int) or segments < 1):
        raise ValueError(f"segments must be a positive int, got {segments!r}")
    segments = segments or reading_segments(ckpt)
    cfg = TrainConfig(**{**ckpt["train_config"], "betas": tuple(ckpt["train_config"]["betas"])})
    _, test_set = load_data(cfg)
    if test_set is None:
        raise ValueError(f"{run} has no test split to measure the exported model on")
    result = evaluate(model, test_set, limit=limit, max_steps=segments, progress=False)
    head = evaluate(model, test_set, limit=SLICE, max_steps=segments, progress=False)
    card = {
        "task": test_set.name, "command": train_command(ckpt["train_config"], ckpt["step"]),
        "seed": cfg.seed, "steps": ckpt["step"],
        "train_time_s": earlier.get("train_time_s", round(float(ckpt.get("train_time_s", 0.0)), 1)),
        "trained_on": earlier.get("trained_on", ckpt.get("device", cfg.device)), "test_count": result["count"],
        "trained_segments": model.config.halt_max_steps, "segments": segments,
        "test_exact_accuracy": result["exact_accuracy"], "test_accuracy": result["accuracy"],
        "test_blank_accuracy": result.get("blank_accuracy"), "exact_by_segment": result["exact_by_segment"],
        "slice": {"count": head["count"], "exact_accuracy": head["exact_accuracy"], "accuracy": head["accuracy"]},
        "parameters": sum(p.numel() for p in model.parameters()), "note": note or earlier.get("note", ""),
    }
    evaluations = [h for h in ckpt.get("history", []) if "test_exact_accuracy" in h]
    save_checkpoint(dest, {
        "model_config": ckpt["model_config"], "train_config": ckpt["train_config"], "data": ckpt["data"],
        "model": {k: v.contiguous() for k, v in model.state_dict().items()},
        "step": ckpt["step"], "history": evaluations, "card": card,
    })
    return card


def read_card(path: str | Path) -> dict:
    """The card of an exported model (ValueError for a file that has none)."""
    ckpt = load_checkpoint(path)
    if "card" not in ckpt:
        raise ValueError(f"{path} is not an exported model (no card); make one with python -m hrm_minimal.export")
    return ckpt["card"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hrm_minimal.export", description=__doc__.splitlines()[0])
    p.add_argument("run", help="a run folder or its checkpoint.pt")
    p.add_argument("dest", help="where to write the exported model, e.g. datasets/checkpoints/sudoku-6x6.pt")
    p.add_argument("--limit", type=int, default=None, help="measure on the first N test puzzles only")
    p.add_argument("--note", default="", help="a sentence for the data card (how the run was made)")
    p.add_argument("--segments", type=int, default=None,
                   help="segments per test puzzle to measure and ship (default: the run's eval_max_steps, "
                        "else halt_max_steps)")
    a = p.parse_args(argv)
    try:
        card = export_model(a.run, a.dest, a.limit, a.note, a.segments)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {a.dest} ({Path(a.dest).stat().st_size / 1e6:.2f} MB)")
    print(f"retrain with: {card['command']}")
    print(f"test exact accuracy: {card['test_exact_accuracy']:.4f} on {card['test_count']} puzzles, "
          f"{card['segments']} segments each (trained with {card['trained_segments']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
