"""The evaluations of finished training runs as one CSV, with the training loss around each.

    python benchmarks/run_curves.py OUT.csv LABEL=RUN_DIR_OR_CHECKPOINT [LABEL=... ...]

Each run's checkpoint keeps its whole history (a record per step, evaluations included). This
writes one row per evaluation: the run's label, the step, the training time, the mean training
loss of the 50 steps up to it (to compare with a trivial answer's loss), and the test accuracies
(`test_exact_by_segment`: the exact accuracy after each segment run, separated by "/").
The last line says how many evaluations were written and the last one of each run.
"""
from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

import torch

LOSS_WINDOW = 50
COLUMNS = ("run", "step", "train_time_s", "train_loss_mean_50", "test_exact_accuracy", "test_accuracy",
           "test_count", "test_exact_by_segment")


def read_history(path: Path) -> list[dict]:
    """The history of a run folder (its checkpoint.pt) or of a checkpoint file."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or "history" not in ckpt:
        raise ValueError(f"{path} is not a training checkpoint (it has no history)")
    return list(ckpt["history"])


def curve_rows(label: str, history: list[dict]) -> list[dict]:
    """One row per evaluation in `history`, with the mean loss of the LOSS_WINDOW steps up to it."""
    rows = []
    for i, record in enumerate(history):
        if "test_exact_accuracy" not in record:
            continue
        window = [h["loss"] for h in history[max(0, i - LOSS_WINDOW + 1): i + 1]]
        rows.append({"run": label, "step": record["step"], "train_time_s": record["time_s"],
                     "train_loss_mean_50": round(statistics.mean(window), 4),
                     "test_exact_accuracy": record["test_exact_accuracy"],
                     "test_accuracy": round(record["test_accuracy"], 4), "test_count": record["test_count"],
                     "test_exact_by_segment": "/".join(str(x) for x in record.get("test_exact_by_segment", []))})
    return rows


def write_rows(path: Path, rows: list[dict]) -> None:
    """Write `rows` (dicts with the COLUMNS keys) as a CSV with a header."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)


def parse_run(text: str) -> tuple[str, Path]:
    label, sep, path = text.partition("=")
    if not sep or not label or not path:
        raise argparse.ArgumentTypeError(f"a run is LABEL=PATH, got {text!r}")
    return label, Path(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="CSV file to write")
    parser.add_argument("runs", nargs="+", type=parse_run, help="LABEL=run folder or checkpoint file")
    args = parser.parse_args(argv)
    labels = [label for label, _ in args.runs]
    if len(set(labels)) != len(labels):
        parser.error(f"run labels must differ, got {labels}")
    rows, lasts = [], []
    for label, path in args.runs:
        try:
            found = curve_rows(label, read_history(path))
        except (FileNotFoundError, ValueError) as error:
            parser.error(f"run {label!r}: {error}")
        if not found:
            parser.error(f"run {label!r} ({path}) has no evaluation in its history")
        rows += found
        last = found[-1]
        lasts.append(f"{label} step {last['step']}: {100 * last['test_exact_accuracy']:.1f}% exact, "
                     f"{100 * last['test_accuracy']:.1f}% cells, loss {last['train_loss_mean_50']}")
    write_rows(args.out, rows)
    print(f"{len(rows)} evaluations of {len(lasts)} runs written to {args.out}; last: " + "; ".join(lasts))


if __name__ == "__main__":
    sys.exit(main())
