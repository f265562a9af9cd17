"""A plain Transformer on a task: what one pass of a few layers learns in a CPU time budget.

    python benchmarks/baseline.py --task maze-11x11 [--layers 4] [--budget 540] [--out curve.csv]

The depth-only comparison for the HRM runs of `time_to_accuracy.py` and the maze probes: the
`TransformerBaseline` of lesson 01 (the HRM's own blocks, applied once, no recurrence, no segments)
trained with AdamW on the task's training split, augmented on the fly, a linear warm-up and then a
constant rate. Every `--eval-every` steps it reads `--eval-limit` test puzzles and prints a line.
With `--out` it writes the evaluations as a CSV with the columns of `run_curves.py`, so the two
can be read together. Training time counts; evaluation time is left out. The last line is the
headline: the last evaluation's exact and cell accuracy and the training time it took.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_curves import LOSS_WINDOW, write_rows  # noqa: E402

from hrm_minimal.baseline import TransformerBaseline  # noqa: E402
from hrm_minimal.data import TrainBatches, list_tasks, load_task  # noqa: E402
from hrm_minimal.losses import LOSS_FUNCTIONS  # noqa: E402
from hrm_minimal.metrics import cell_accuracy, exact_accuracy  # noqa: E402
from hrm_minimal.optim import lr_at, set_lr  # noqa: E402
from hrm_minimal.train import TrainConfig  # noqa: E402
from hrm_minimal.utils import seed_everything  # noqa: E402


@torch.no_grad()
def read_test(model: TransformerBaseline, test, limit: int) -> tuple[float, float, int]:
    """(exact accuracy, cell accuracy, count) on the first `limit` test puzzles (0 = all)."""
    count = len(test) if limit == 0 else min(limit, len(test))
    model.eval()
    inputs = torch.from_numpy(test.inputs[:count]).long()  # (N, S)
    labels = torch.from_numpy(test.labels[:count]).long()  # (N, S)
    preds = torch.cat([model(chunk).argmax(-1) for chunk in inputs.split(256)])  # (N, S)
    model.train()
    return exact_accuracy(preds, labels), cell_accuracy(preds, labels), count


def train_baseline(a: argparse.Namespace, log=print) -> list[dict]:
    """Train for `a.budget` s of training time (or `a.steps` steps); one row per evaluation."""
    seed_everything(a.seed)
    train, test = load_task(a.task, "train"), load_task(a.task, "test")
    model = TransformerBaseline(train.vocab_size, train.seq_len, hidden_size=a.hidden, num_heads=a.heads,
                                num_layers=a.layers)
    optimizer = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay,
                                  betas=TrainConfig.betas)  # the HRM runs' betas
    batches = TrainBatches(train, batch_size=a.batch_size, augment=True, seed=a.seed)
    loss_fn = LOSS_FUNCTIONS[a.loss]
    label = a.label or f"baseline-{a.layers}-layers"
    losses, rows, train_time, step = [], [], 0.0, 0
    while step < a.steps and train_time < a.budget:
        start = time.perf_counter()
        set_lr(optimizer, lr_at(step, a.lr, a.warmup, a.steps))  # linear warm-up, then constant (min_ratio 1)
        inputs, targets = next(batches)  # (B, S) each
        loss = loss_fn(model(inputs), targets).mean()  # logits (B, S, V) -> per-cell losses (B, S)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        train_time += time.perf_counter() - start
        losses.append(loss.item())
        step += 1
        if step % a.eval_every == 0 or step >= a.steps or train_time >= a.budget:
            exact, cells, count = read_test(model, test, a.eval_limit)
            rows.append({"run": label, "step": step, "train_time_s": round(train_time, 3),
                         "train_loss_mean_50": round(statistics.mean(losses[-LOSS_WINDOW:]), 4),
                         "test_exact_accuracy": exact, "test_accuracy": round(cells, 4), "test_count": count,
                         "test_exact_by_segment": ""})  # no segments in a plain Transformer
            log(f"step {step:6d}  {train_time:7.1f} s  loss {rows[-1]['train_loss_mean_50']:.4f}  "
                f"exact {100 * exact:5.1f}%  cells {100 * cells:5.1f}%")
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", required=True, choices=list_tasks())
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=100, help="steps of linear warm-up")
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--loss", choices=sorted(LOSS_FUNCTIONS), default="softmax")
    p.add_argument("--budget", type=float, default=540.0, help="training seconds")
    p.add_argument("--steps", type=int, default=10**9, help="stop after this many steps (if before the budget)")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--eval-limit", type=int, default=200, help="test puzzles per evaluation (0 = all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", default="", help="the run's name in the CSV (default baseline-L-layers)")
    p.add_argument("--out", type=Path, help="CSV of the evaluations (columns of run_curves.py)")
    a = p.parse_args(argv)
    for name in ("layers", "hidden", "heads", "batch_size", "warmup", "steps", "eval_every"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(a, name)}")
    for name in ("budget", "lr"):
        if not getattr(a, name) > 0:
            p.error(f"--{name} must be positive, got {getattr(a, name)}")
    if a.eval_limit < 0:
        p.error(f"--eval-limit must be 0 (all) or positive, got {a.eval_limit}")
    if a.hidden % a.heads or (a.hidden // a.heads) % 2:
        p.error(f"--hidden {a.hidden} / --heads {a.heads} must give an even head size")
    rows = train_baseline(a)
    if a.out:
        write_rows(a.out, rows)
    last = rows[-1]
    layers = f"{a.layers} layer" + ("s" if a.layers > 1 else "")
    print(f"{a.task} baseline ({layers}): {100 * last['test_exact_accuracy']:.1f}% exact, "
          f"{100 * last['test_accuracy']:.1f}% cells after {last['step']} steps in {last['train_time_s']:.0f} s")


if __name__ == "__main__":
    main()
