"""Evaluation: `evaluate(model, puzzles)` or `python -m hrm_minimal.evaluate CHECKPOINT-OR-NAME`.

As in the reference, evaluation ignores the Q head for stopping: every puzzle runs all
`halt_max_steps` segments (or `max_steps`, more for inference-time scaling; a loaded model is read
with the segments its file states, `model.reading_segments`) and the headline is
exact accuracy, the fraction of puzzles whose every cell is right. We also report what the Q head
would have done: the segment where it first says "halt", and the exact accuracy there.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from tqdm.auto import tqdm

from hrm_minimal.checkpoint import config_differences, load_checkpoint, saved_model_config
from hrm_minimal.config import HRMConfig
from hrm_minimal.data import IGNORE_LABEL_ID, PuzzleSet, load_puzzles, load_task, make_loader, shipped_checkpoint
from hrm_minimal.metrics import sequence_correct
from hrm_minimal.model import HRM
from hrm_minimal.utils import autocast_context, get_device

SUDOKU_BLANK = 1  # token id of an empty Sudoku cell


def default_segments(model: HRM) -> int:
    """Segments a model is read with unless the caller says: what its file states, else halt_max_steps."""
    return getattr(model, "reading_segments", None) or model.config.halt_max_steps


def check_data_matches(config: HRMConfig, puzzles: PuzzleSet, where: str = "the model") -> None:
    """A model trained on one vocabulary and length cannot read another data set."""
    if puzzles.vocab_size != config.vocab_size or puzzles.seq_len != config.seq_len:
        raise ValueError(
            f"{where} expects vocab_size {config.vocab_size} and seq_len {config.seq_len}, but data set "
            f"{puzzles.name!r} has vocab_size {puzzles.vocab_size} and seq_len {puzzles.seq_len}")


def evaluate(model: HRM, puzzles: PuzzleSet, batch_size: int = 256, device: torch.device | str | None = None,
             limit: int | None = None, max_steps: int | None = None, progress: bool = True,
             per_puzzle: bool = False) -> dict:
    """Run every puzzle for `max_steps` segments and report metrics. The default is the segments
    the model's file says it is read with (`model.reading_segments`, set by `load_model`), else
    halt_max_steps.

    Returns exact_accuracy (headline, after the last segment), accuracy (cells), exact_by_segment
    (a list, one per segment), mean_segments and exact_at_q_halt (where the Q head would stop),
    q_halt_accuracy (sign of Q_halt vs. whole-puzzle correctness, last segment) and count.
    With per_puzzle=True also NumPy arrays, one row per puzzle: "halt_step" (N,) the segment (1-based)
    where the Q head first says halt (max_steps if never), "solved" (N, segments) bool, whole answer
    right after each segment, and "q_halt" / "q_continue" (N, segments) the Q logits.
    The caller's random state is left as it was, so evaluating inside training changes nothing.
    """
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        return _evaluate(model, puzzles, batch_size, device, limit, max_steps, progress, per_puzzle)


def _evaluate(model, puzzles, batch_size, device, limit, max_steps, progress, per_puzzle=False) -> dict:
    config = model.config
    check_data_matches(config, puzzles)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    steps = max_steps or default_segments(model)
    if steps <= 0:
        raise ValueError(f"max_steps must be positive, got {steps}")
    n = len(puzzles) if limit is None else min(limit, len(puzzles))
    loader = make_loader(puzzles, batch_size=batch_size, shuffle=False)
    was_training = model.training
    model.eval()
    count = cells = right_cells = blank_cells = right_blanks = q_right = 0
    exact_by_segment = torch.zeros(steps, dtype=torch.long)
    halt_step_sum = exact_at_halt = 0
    seen = 0
    record = {"halt_step": [], "solved": [], "q_halt": [], "q_continue": []}  # per_puzzle: one item per batch
    for inputs, labels in tqdm(loader, disable=not progress, desc="evaluate", leave=False):
        if seen >= n:
            break
        inputs, labels = inputs[: n - seen].to(device), labels[: n - seen].to(device)
        seen += inputs.shape[0]
        batch = {"inputs": inputs, "labels": labels,
                 "puzzle_identifiers": torch.zeros(inputs.shape[0], dtype=torch.long, device=device)}
        carry = model.initial_carry(batch)
        b = inputs.shape[0]
        halt_at = torch.full((b,), steps, dtype=torch.long, device=device)
        correct_at_halt = torch.zeros(b, dtype=torch.bool, device=device)
        solved, q_halts, q_continues = [], [], []  # per segment, (B,) each
        for segment in range(steps):
            with autocast_context(device):
                carry, out = model(carry, batch, max_steps=steps)
            preds = out["logits"].argmax(-1)  # (B, S)
            seq_correct = sequence_correct(preds, labels)  # (B,)
            exact_by_segment[segment] += int(seq_correct.sum())
            first_halt = model.q_says_halt(out["q_halt_logits"], out["q_continue_logits"]) & (halt_at == steps)
            first_halt &= segment < steps - 1  # the last segment halts anyway
            halt_at = torch.where(first_halt, torch.full_like(halt_at, segment + 1), halt_at)
            correct_at_halt = torch.where(first_halt, seq_correct, correct_at_halt)
            if per_puzzle:
                solved.append(seq_correct)
                q_halts.append(out["q_halt_logits"].float())
                q_continues.append(out["q_continue_logits"].float())
        if per_puzzle:
            record["halt_step"].append(halt_at.cpu())
            for key, rows in (("solved", solved), ("q_halt", q_halts), ("q_continue", q_continues)):
                record[key].append(torch.stack(rows, dim=1).cpu())  # (B, segments)
        correct_at_halt = torch.where(halt_at == steps, seq_correct, correct_at_halt)
        mask = labels != IGNORE_LABEL_ID  # (B, S) cells that count
        right = (preds == labels) & mask
        count += b
        cells += int(mask.sum())
        right_cells += int(right.sum())
        if puzzles.kind == "sudoku":
            blank = (inputs == SUDOKU_BLANK) & mask
            blank_cells += int(blank.sum())
            right_blanks += int((right & blank).sum())
        q_right += int(((out["q_halt_logits"] >= 0) == seq_correct).sum())
        halt_step_sum += int(halt_at.sum())
        exact_at_halt += int(correct_at_halt.sum())
    model.train(was_training)
    if count == 0:
        raise ValueError(f"data set {puzzles.name!r} has no puzzles to evaluate")
    result = {
        "exact_accuracy": int(exact_by_segment[-1]) / count,
        "accuracy": right_cells / max(cells, 1),
        "exact_by_segment": [int(c) / count for c in exact_by_segment],
        "mean_segments": halt_step_sum / count,
        "exact_at_q_halt": exact_at_halt / count,
        "q_halt_accuracy": q_right / count,
        "count": count,
    }
    if puzzles.kind == "sudoku":
        result["blank_accuracy"] = right_blanks / max(blank_cells, 1)
    if per_puzzle:
        result.update({key: torch.cat(parts).numpy() for key, parts in record.items()})
    return result


@torch.no_grad()
def solve(model: HRM, inputs: torch.Tensor, max_steps: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Answer puzzles as the model itself would stop: each one halts at the first segment where the Q
    head says so (`model.q_says_halt`), or at `max_steps` (default: `model.reading_segments` when
    the model was loaded from a file that states it, else halt_max_steps).

    inputs: (B, S) tokens. Returns (answers (B, S) tokens, segments (B,) int64 used by each puzzle).
    The reference's evaluation instead reads every puzzle after all its segments (`evaluate`).
    """
    limit = default_segments(model) if max_steps is None else max_steps
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"max_steps must be a positive int or None, got {max_steps!r}")
    was_training = model.training
    model.eval()  # no exploration: the Q head alone decides
    batch = {"inputs": inputs}
    carry = model.initial_carry(batch)
    B = inputs.shape[0]
    answers = torch.zeros_like(inputs)
    segments = torch.zeros(B, dtype=torch.long, device=inputs.device)  # 0: still running
    for m in range(1, limit + 1):
        carry, out = model(carry, batch, max_steps=limit)
        stops = (segments == 0) & (model.q_says_halt(out["q_halt_logits"], out["q_continue_logits"]) | (m == limit))
        answers = torch.where(stops.unsqueeze(-1), out["logits"].argmax(-1), answers)
        segments = torch.where(stops, torch.full_like(segments, m), segments)
        if bool((segments > 0).all()):
            break
    model.train(was_training)
    return answers, segments


def model_file(path: str | Path) -> Path:
    """Where a model lives: a checkpoint file, its run folder, or a shipped model's name ("sudoku-6x6"),
    which is found wherever the package is installed."""
    given = Path(path)
    if given.exists():
        return given
    if len(given.parts) == 1 and given.suffix != ".pt":
        try:
            return shipped_checkpoint(str(given))
        except ValueError as exc:
            raise FileNotFoundError(f"no checkpoint at {given}, and {exc}") from None
    if given.suffix == ".pt" and given.parent.name == "checkpoints" and given.parent.parent.name == "datasets":
        raise FileNotFoundError(f"no checkpoint at {given}; a shipped model is found from any folder by its "
                                f"name alone: {given.stem}")
    return given


def load_model(path: str, device: torch.device | str = "cpu", expect: HRMConfig | None = None) -> tuple[HRM, dict]:
    """Rebuild the model saved in a checkpoint file, its run folder or a shipped model named by its name
    (weights_only load). Returns (model, checkpoint); the model is read with the segments the file
    states (`model.reading_segments`) unless told otherwise."""
    path = str(model_file(path))
    ckpt = load_checkpoint(path, map_location=device)
    config = saved_model_config(ckpt, path)
    if expect is not None:
        diffs = config_differences(config.to_dict(), expect.to_dict())
        if diffs:
            raise ValueError(f"checkpoint {path} was made with another model config: " + "; ".join(diffs))
    # A run that keeps a moving average of its weights (TrainConfig.ema) is evaluated with it.
    weights = ckpt.get("model")
    if "ema" in ckpt:
        average = ckpt["ema"].get("average") if isinstance(ckpt["ema"], dict) else None
        weights = {**weights, **average} if isinstance(weights, dict) and isinstance(average, dict) else None
    if not isinstance(weights, dict) or not all(isinstance(w, torch.Tensor) for w in weights.values()):
        raise ValueError(f"checkpoint {path} holds no model weights (a mapping of names to tensors)")
    model = HRM(config)
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        reason = " ".join(str(exc).split())  # torch lists the misfits over many lines
        raise ValueError(f"checkpoint {path} does not match its own model config: {reason}") from None
    model.reading_segments = reading_segments(ckpt)
    return model.to(device).eval(), ckpt


def reading_segments(ckpt: dict) -> int:
    """Segments a saved model is meant to be read with: an exported model's card says; a training
    checkpoint's run may set `eval_max_steps`; otherwise the model's own `halt_max_steps`."""
    card, run = ckpt.get("card"), ckpt.get("train_config")
    card_segments = card.get("segments") if isinstance(card, dict) else None
    run_segments = run.get("eval_max_steps") if isinstance(run, dict) else None
    return int(card_segments or run_segments or ckpt["model_config"].get("halt_max_steps", HRMConfig.halt_max_steps))


def load_pretrained(name: str, device: torch.device | str = "cpu") -> tuple[HRM, dict]:
    """A shipped model (see datasets/README.md), named by its task ("sudoku-6x6") or task and variant
    ("sudoku-6x6-flat"): (model in eval mode, its file's contents)."""
    return load_model(str(shipped_checkpoint(name)), device=device)


def _puzzles_for(a: argparse.Namespace, ckpt: dict, path: str) -> PuzzleSet:
    """The puzzles to read a model on: --data, --task, else the data set its run trained on."""
    if a.data is not None:
        return load_puzzles(a.data, a.split)
    run = ckpt.get("train_config") if isinstance(ckpt.get("train_config"), dict) else {}
    if a.task is None and isinstance(run.get("data"), str) and Path(run["data"]).is_dir():
        return load_puzzles(run["data"], a.split)  # a built data set (python -m hrm_minimal.data prepare)
    data = ckpt.get("data")
    task = a.task or (data.get("name") if isinstance(data, dict) else None)
    if not isinstance(task, str):
        raise ValueError(f"checkpoint {path} does not name its data set; pass --task or --data")
    return load_task(task, a.split)


def _report(r: dict, puzzles: PuzzleSet, where: str, device, reading: str) -> float:
    """Print one model's results; returns its headline."""
    print(f"data: {puzzles.name} ({where}), {r['count']} puzzles, {len(r['exact_by_segment'])} segments each, "
          f"device {device}")
    print("exact accuracy by segment: " + " ".join(f"{x:.3f}" for x in r["exact_by_segment"]))
    print(f"cell accuracy: {r['accuracy']:.4f}" + (f" (blank cells: {r['blank_accuracy']:.4f})" if "blank_accuracy" in r else ""))
    print(f"Q head: halts after {r['mean_segments']:.2f} segments on average, exact there {r['exact_at_q_halt']:.4f}; "
          f"Q-halt accuracy {r['q_halt_accuracy']:.4f}")
    headline = r["exact_at_q_halt"] if reading == "q-halt" else r["exact_accuracy"]
    print(f"exact accuracy{' where the Q head halts' if reading == 'q-halt' else ''}: {headline:.4f}")
    return headline


def _report_tta(model: HRM, puzzles: PuzzleSet, a: argparse.Namespace) -> None:
    """--tta K: read the puzzles under K symmetries (hrm_minimal.tta) and print the votes; the last
    line is the headline."""
    from hrm_minimal.tta import tta_evaluate

    t = tta_evaluate(model, puzzles, a.tta, limit=a.limit, segments=a.max_steps, batch_size=a.batch_size)
    print(f"test-time augmentation: {t['k']} symmetries per puzzle (the identity and {t['k'] - 1} random, "
          f"seed {t['seed']}), {t['segments']} segments each, {t['seconds']:.1f} s")
    for name, key in (("plain (identity)", "plain"), ("cell vote", "cell_vote"), ("answer vote", "answer_vote")):
        print(f"  {name + ':':18} exact {t[key + '_exact']:.4f}, cells {t[key + '_accuracy']:.4f}")
    print(f"  some symmetry right: {t['any_exact']:.4f}; all {t['k']} answers the same: {t['unanimous']:.4f}")
    print(f"exact accuracy with K={t['k']} symmetries: cell vote {t['cell_vote_exact']:.4f}, "
          f"answer vote {t['answer_vote_exact']:.4f} (plain {t['plain_exact']:.4f})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hrm_minimal.evaluate", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("checkpoint", nargs="+",
                   help="a checkpoint.pt, its run folder, or a shipped model's name (sudoku-6x6); several "
                        "(e.g. one run per seed) are each read, then summarised")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--task", default=None, help="shipped data set (default: the one the checkpoint was trained on)")
    src.add_argument("--data", default=None,
                     help="a CSV in the Sudoku-Extreme or Maze-Hard format, or a folder built by "
                          "python -m hrm_minimal.data prepare")
    p.add_argument("--split", default="test", choices=["train", "test"])
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N puzzles")
    p.add_argument("--max-steps", type=int, default=None,
                   help="segments per puzzle (default: what the file says it is read with, else halt_max_steps)")
    p.add_argument("--reading", choices=["all-segments", "q-halt"], default="all-segments",
                   help="the headline: exact accuracy after all segments (as the reference reports it), or "
                        "where the Q head first says halt (ACT halting as at inference)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--device", default="auto")
    p.add_argument("--tta", type=int, default=1, metavar="K",
                   help="test-time augmentation: also read each puzzle under K symmetries (the identity and "
                        "K-1 random ones, seed 0; hrm_minimal.tta) after all its segments, and vote per cell "
                        "and per whole answer; 1 is off")
    a = p.parse_args(argv)
    if a.tta < 1:
        print(f"error: --tta must be a positive number of symmetries (1 is off), got {a.tta}", file=sys.stderr)
        return 2
    headlines = []
    try:
        device = get_device(a.device)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in a.checkpoint:
        try:
            model, ckpt = load_model(path, device=device)
            puzzles = _puzzles_for(a, ckpt, path)
            check_data_matches(model.config, puzzles, where=f"checkpoint {path}")
            r = evaluate(model, puzzles, batch_size=a.batch_size, device=device, limit=a.limit,
                         max_steps=a.max_steps)
        except (ValueError, FileNotFoundError, TypeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if len(a.checkpoint) > 1:
            print(f"== {path}")
        headlines.append(_report(r, puzzles, a.split if a.data is None else a.data, device, a.reading))
        if a.tta > 1:
            _report_tta(model, puzzles, a)
    if len(headlines) > 1:
        mean = sum(headlines) / len(headlines)
        std = (sum((h - mean) ** 2 for h in headlines) / (len(headlines) - 1)) ** 0.5
        print(f"{len(headlines)} models: exact accuracy mean {mean:.4f}, standard deviation {std:.4f}, "
              f"min {min(headlines):.4f}, max {max(headlines):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
