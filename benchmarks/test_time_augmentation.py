"""Test-time augmentation: a shipped model's exact accuracy when each puzzle is read under K symmetries.

    python benchmarks/test_time_augmentation.py --task sudoku-6x6 [--k 1 3 9] [--limit N] [--seed 0]
                                                [--out runs/tta]

For each K this reads every test puzzle of the task (or the first `--limit`) with the task's shipped
model under K symmetries of the puzzle (`hrm_minimal.tta`: the identity, then K-1 random digit
relabellings and band/row/stack/column permutations for Sudoku, transposes only for square boxes;
the 8 symmetries of the square for mazes), each after all the segments the model's file states,
maps the answers back and votes. The draws are seeded and nested: K=3's draws are K=9's first
three, and K=1 is the plain model (its figure is `python -m hrm_minimal.evaluate TASK`'s). Each K
is read afresh and timed on its own (wall clock, reading and voting, after one untimed warm-up
reading of 32 puzzles), so the seconds are what that K costs: about K times K=1's, since every
symmetry is one more reading; on a shared machine they move with its load, the accuracies do not.

The body gives both votes for each K: the per-cell vote (each cell's most frequent token) and the
whole-answer vote (the most frequent complete answer, ties by the mean sigmoid(Q_halt) of its
copies, then the identity's), with the share of puzzles some symmetry got right (the most any vote
could reach) and of those all K answers agree on. The last line is the headline, the whole-answer
vote: it is the reference's own test-time vote (its ARC evaluation ranks the candidate answers by
votes, then mean Q_halt); it always returns an answer the model gave under one symmetry, whereas
the per-cell vote can combine cells of different answers into a grid that no copy gave and that
breaks a Sudoku rule; and it was chosen before the measurements, not for scoring higher. A JSON
record of every figure goes to the folder `--out` (runs/ is git-ignored), never the repository root.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from hrm_minimal.data import load_task, shipped_checkpoint
from hrm_minimal.data.tasks import TASKS
from hrm_minimal.evaluate import load_pretrained
from hrm_minimal.tta import tta_evaluate


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="sudoku-6x6", choices=sorted(TASKS),
                   help="a task with a shipped model (datasets/checkpoints/TASK.pt)")
    p.add_argument("--k", type=int, nargs="+", default=[1, 3, 9], help="symmetries per puzzle, one run each")
    p.add_argument("--limit", type=int, default=None, help="only the first N test puzzles (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random symmetries")
    p.add_argument("--out", default="runs/tta", help="folder for the JSON record")
    a = p.parse_args(argv)
    if any(k < 1 for k in a.k):
        p.error(f"--k must be positive numbers of symmetries, got {a.k}")
    if a.limit is not None and a.limit < 1:
        p.error(f"--limit must be a positive number of puzzles, got {a.limit}")
    try:
        shipped_checkpoint(a.task)
    except ValueError as exc:
        p.error(str(exc))
    out = Path(a.out)
    if out.resolve() == Path(__file__).resolve().parent.parent:
        p.error("--out must be a folder other than the repository root")
    model, _ = load_pretrained(a.task)
    puzzles = load_task(a.task, "test")
    count = len(puzzles) if a.limit is None else min(a.limit, len(puzzles))
    print(f"{a.task}: shipped model, {count} test puzzles, {model.reading_segments} segments each, seed {a.seed}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    tta_evaluate(model, puzzles, 1, limit=32)  # warm-up, not timed: the first reading pays one-off costs
    runs = []
    for k in a.k:
        r = tta_evaluate(model, puzzles, k, limit=a.limit, seed=a.seed)
        runs.append(r)
        print(f"K={k}: plain {r['plain_exact']:.1%}, cell vote {r['cell_vote_exact']:.1%}, "
              f"answer vote {r['answer_vote_exact']:.1%} exact (cells {r['plain_accuracy']:.2%} / "
              f"{r['cell_vote_accuracy']:.2%} / {r['answer_vote_accuracy']:.2%}); some symmetry right "
              f"{r['any_exact']:.1%}, all answers the same {r['unanimous']:.1%}; {r['seconds']:.1f} s "
              f"({1000 * r['seconds'] / r['count']:.0f} ms a puzzle)", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{a.task}-{'all' if a.limit is None else a.limit}-seed{a.seed}.json"
    path.write_text(json.dumps({"task": a.task, "count": count, "seed": a.seed, "headline": "answer_vote_exact",
                                "torch": torch.__version__, "threads": torch.get_num_threads(), "runs": runs},
                               indent=1) + "\n")
    print(f"wrote {path}")
    print(f"{a.task}: " + ", ".join(f"K={r['k']} {r['answer_vote_exact']:.1%}" for r in runs) + " exact")


if __name__ == "__main__":
    main()
