"""Rebuild the shipped data files and their data card, byte for byte, from fixed seeds.

`python -m hrm_minimal.data build` writes datasets/*.csv and datasets/README.md;
`--check` builds in memory and exits 1, naming each file that differs from the shipped one.
"""
from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import equivalence as eq
from .csv_io import maze_csv_text, sudoku_csv_text
from .maze import generate_mazes, hard_threshold, path_length
from .sudoku import generate, rate
from .tasks import TASKS, datasets_dir

SOURCE = "gen"  # the CSV `source` column of every shipped row
MAZE_LOOPS = 0.05


@dataclass(frozen=True)
class Spec:
    """How one task's files are made."""

    name: str
    kind: str
    size: int
    n_train: int
    n_test: int
    seed: int
    clues: tuple[int, int] | None = None  # Sudoku: clue range, None for minimal puzzles
    min_path: int | None = None  # mazes: shortest-path floor in steps


SPECS = [
    Spec("sudoku-4x4", "sudoku", 4, 1000, 200, seed=4),
    Spec("sudoku-6x6", "sudoku", 6, 10000, 1000, seed=6),
    Spec("sudoku-9x9", "sudoku", 9, 10000, 1000, seed=9, clues=(30, 40)),
    Spec("maze-11x11", "maze", 11, 2000, 200, seed=11, min_path=hard_threshold(11)),
    Spec("maze-15x15", "maze", 15, 2000, 200, seed=15, min_path=hard_threshold(15)),
]
assert [s.name for s in SPECS] == list(TASKS)


def _stats(values) -> str:
    v = np.asarray(values)
    return f"{v.min()} / {np.median(v):g} / {v.mean():.2f} / {v.max()}"


# ---------------------------------------------------------------------------------------------
# Sudoku
# ---------------------------------------------------------------------------------------------
def _sudoku_pool(spec: Spec, rng, count: int, taken: set, accept=lambda p: True):
    """`count` new puzzles (and solutions) not in `taken` and passing `accept`; also the number
    of candidates `accept` turned down."""
    puzzles, solutions, rejected = [], [], 0
    while len(puzzles) < count:
        p, s = generate(count - len(puzzles), spec.size, spec.clues, rng)
        for a, b in zip(p, s):
            key = a.tobytes()
            if key in taken or len(puzzles) == count:
                continue
            if not accept(a):
                rejected += 1
                continue
            taken.add(key)
            puzzles.append(a)
            solutions.append(b)
    return np.stack(puzzles), np.stack(solutions), rejected


def _build_sudoku(spec: Spec) -> tuple[dict[str, str], dict]:
    rng = np.random.default_rng(spec.seed)
    taken: set = set()
    train_p, train_s, _ = _sudoku_pool(spec, rng, spec.n_train, taken)
    info: dict = {}
    if spec.size == 4:  # small group: count exact equivalences, there is no way to avoid them
        test_p, test_s, _ = _sudoku_pool(spec, rng, spec.n_test, taken)
        train_forms = {eq.sudoku_canonical(p) for p in train_p}
        test_forms = [eq.sudoku_canonical(p) for p in test_p]
        info["classes"] = (len(train_forms), len(set(test_forms)))
        info["equivalent"] = sum(f in train_forms for f in test_forms)
        info["rejected"] = 0
    else:
        by_invariant: dict = {}
        for i, p in enumerate(train_p):
            by_invariant.setdefault(eq.sudoku_invariant(p), []).append(i)
        relabelled = {eq.digit_canonical(p) for p in train_p}
        canon: dict[int, bytes] = {}

        def accept(p) -> bool:
            same = by_invariant.get(eq.sudoku_invariant(p), [])
            if spec.size == 9:  # no cheap exact test: any shared invariant is turned down
                return not same and eq.digit_canonical(p) not in relabelled
            if not same:
                return True
            form = eq.sudoku_canonical(p)
            for i in same:
                if i not in canon:
                    canon[i] = eq.sudoku_canonical(train_p[i])
            return all(canon[i] != form for i in same)

        test_p, test_s, rejected = _sudoku_pool(spec, rng, spec.n_test, taken, accept)
        info["rejected"] = rejected
        info["equivalent"] = 0
    files = {}
    for split, p, s in (("train", train_p, train_s), ("test", test_p, test_s)):
        ratings = [rate(x) for x in p]
        clues = (p.reshape(len(p), -1) > 0).sum(1)
        files[split] = sudoku_csv_text(p, s, ratings, SOURCE)
        info[split] = {"count": len(p), "clues": _stats(clues), "rating": _stats(ratings),
                       "zero": int(np.sum(np.asarray(ratings) == 0))}
    return files, info


# ---------------------------------------------------------------------------------------------
# Mazes
# ---------------------------------------------------------------------------------------------
def _maze_pool(spec: Spec, rng, count: int, taken: set):
    inputs, labels, rejected = [], [], 0
    while len(inputs) < count:
        x, y = generate_mazes(count - len(inputs), spec.size, rng, spec.min_path, MAZE_LOOPS)
        for a, b in zip(x, y):
            form = eq.maze_canonical(a)
            if form in taken:
                rejected += 1
                continue
            taken.add(form)
            inputs.append(a)
            labels.append(b)
    return np.stack(inputs), np.stack(labels), rejected


def _build_maze(spec: Spec) -> tuple[dict[str, str], dict]:
    rng = np.random.default_rng(spec.seed)
    taken: set = set()
    info: dict = {}
    files = {}
    for split, count in (("train", spec.n_train), ("test", spec.n_test)):
        x, y, rejected = _maze_pool(spec, rng, count, taken)
        lengths = [path_length(b) for b in y]
        files[split] = maze_csv_text(x, y, lengths, SOURCE)
        info[split] = {"count": len(x), "path": _stats(lengths), "walls": f"{(x == '#').mean():.3f}"}
        info[f"rejected_{split}"] = rejected
    info["equivalent"] = 0
    return files, info


# ---------------------------------------------------------------------------------------------
# The data card
# ---------------------------------------------------------------------------------------------
CARD_HEAD = """\
# Data card: shipped puzzle data

This file is written by `python -m hrm_minimal.data build` (do not edit by hand); the same command
rebuilds every file below byte for byte from its seed, and `python -m hrm_minimal.data build --check`
exits non-zero, naming the file, when a shipped file differs. All data is generated by this project
(`hrm_minimal/data/`), offline, and shared under the project's licence.

## Format

Every file uses the public CSV format of Sudoku-Extreme and Maze-Hard (`sapientinc` on Hugging Face):
a header `source,question,answer,rating`, then one puzzle per row, the grid as one row-major string.
`source` is `gen` for all rows here.

- Sudoku: `.` is a blank, digits `1`..`n`. The answer is the full solution. `rating` is the number of
  guesses a plain depth-first solver (most-constrained cell first, no other deduction) makes while
  proving the solution unique (`hrm_minimal.data.rate`); 0 means naked singles alone solve it.
  Tokens (the reference's): 0 = PAD, 1 = blank, digit d -> d + 1; vocab 6 / 8 / 11 for 4x4 / 6x6 / 9x9.
- Mazes: `#` wall, space open, `S` start, `G` goal; the answer marks the shortest path with `o`.
  `rating` is the length of the shortest S-G path in steps. Tokens: `# SGo` -> 1..5, 0 = PAD, vocab 6.

Load a split with `hrm_minimal.data.load_task(name, split)` (split `train` or `test`).

## How the files were made

- Sudoku: a random complete grid (random digits in the diagonal boxes, then a depth-first fill with
  random digit choices), then clues removed in a random order, a removal being skipped when the puzzle
  would gain a second solution, until the target clue count is reached ("minimal": every cell is
  tried, so no clue can be removed). Every puzzle is checked to have exactly one solution. Exact
  duplicates are removed; train is generated first, test continues the same random stream.
- Boxes: 4x4 has 2x2 boxes, 6x6 has 2x3 boxes (2 rows x 3 columns), 9x9 has 3x3 boxes.
- Mazes: rooms on odd coordinates joined by a random depth-first spanning tree, then 5% of the
  remaining inner walls between two rooms opened (so that several routes exist and BFS matters).
  Start and goal are random open cells whose shortest path is at least the "hard" floor
  (n*n/6 steps) and is the only shortest path, so the label is well defined.

## Files
"""

CARD_EQUIVALENCE = """
## Test puzzles equivalent to training puzzles

The augmentations (digit permutation; band, row-in-band, stack and column-in-stack permutations;
transpose for square boxes only, since a transposed 6x6 grid would have 3x2 boxes; the 8 symmetries
of the square for mazes) map a puzzle to an equivalent one. A test puzzle equivalent to a training
puzzle measures memory, not generalisation.
"""


CARD_CHECKPOINTS = """
## Shipped trained models (`checkpoints/`)

Each file is a model trained by this project's own command (below), exported with
`python -m hrm_minimal.export RUN_FOLDER checkpoints/TASK.pt`, which keeps the weights, the model
config and the run's settings (not the optimiser state) and measures the model on the task's whole
test split. Load one with `hrm_minimal.evaluate.load_pretrained("TASK")` (it uses
`torch.load(weights_only=True)`); `tests/test_shipped_models.py` checks each stated accuracy on a
slice of the test split. Training time is the run's own training time on the device named
(evaluation excluded); the README's "How fast does it learn?" gives CPU times. "Segments" gives
how many segments per puzzle the model was trained with (`halt_max_steps`) and how many it is
measured and read with (`python -m hrm_minimal.export --segments`, the paper's inference-time
scaling); `load_pretrained` and `python -m hrm_minimal.evaluate TASK` (the file's name, from any
folder) read the model with the second unless told otherwise.
"""

# Said on the card for as long as checkpoints/maze-15x15.pt is missing (issue 4 asks for one).
CARD_NO_MAZE_MODEL = (
    "No `maze-15x15` model ships yet. On this project's 2-core CPU no run of the recipe (4 training "
    "segments) or with 2 has left the trivial answer, "
    "every open cell \"not on the path\" (0% exact, 81.9% of the test cells): `cpu-small` in three "
    "runs of 5 minutes, and `cpu-tiny` with `--compile` and `--ema 0.99` in one run of 55 minutes "
    "(7,437 steps), whose training loss stayed at that answer's 0.293 per cell. Runs trained with a "
    "single segment per puzzle (no deep supervision) do leave it (83.5% of the 15x15 cells after 10 "
    "minutes; 91.8% and 2 of 200 test mazes after 30), too few for a model worth shipping. The README's \"How fast does it learn?\" gives the runs.")


CARD_ABLATION = """
## Shipped ablation grids (`ablation/`)

Results of `python -m hrm_minimal.ablate` (lesson 08), one file per task: every variant of the `cpu`
grid (`hrm_minimal.variants`) trained on the task's recipe for each of 3 seeds, each run for the same
seconds of training on this project's 2-core CPU (torch 2.13.0 CPU build, 2 threads, eager), one row
per evaluation of the whole test split. Read one with `hrm_minimal.ablate.shipped_grid("TASK")`;
`benchmarks/results/README.md` gives what they show.
"""

# The command that made each shipped grid (its runs resume and are never redone, so re-running it in
# the same --out folder only reads them).
ABLATION_COMMANDS = {
    "sudoku-4x4": "python -m hrm_minimal.ablate --grid cpu --task sudoku-4x4 --seeds 3 --budget 120 --out runs/ablate-4x4 --plot",
    "sudoku-6x6": "python -m hrm_minimal.ablate --grid cpu --task sudoku-6x6 --seeds 3 --budget 180 --out runs/ablate-6x6 --plot",
}


def _ablation_card() -> list[str]:
    """The data card's lines about the grids in <datasets>/ablation (from the files)."""
    files = sorted((datasets_dir() / "ablation").glob("*-cpu.csv"))
    lines = [CARD_ABLATION]
    if not files:
        return lines + ["None yet.", ""]
    lines.append("| file | rows | variants | seeds | seconds of training a run | bytes | sha256 (first 12) |")
    lines.append("|---|---|---|---|---|---|---|")
    for path in files:
        data = path.read_bytes()
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
        variants = sorted({r["variant"] for r in rows})
        seeds = sorted({int(r["seed"]) for r in rows})
        longest = max(float(r["train_time_s"]) for r in rows)
        lines.append(f"| `ablation/{path.name}` | {len(rows)} | {len(variants)} | {len(seeds)} | "
                     f"up to {longest:.0f} | {len(data)} | `{hashlib.sha256(data).hexdigest()[:12]}` |")
    lines.append("")
    for path in files:
        task = path.name[:-len("-cpu.csv")]
        if task in ABLATION_COMMANDS:
            lines.append(f"- `{path.name}`: `{ABLATION_COMMANDS[task]}`")
    lines.append("")
    return lines


def _checkpoints_card() -> list[str]:
    """The data card's lines about the exported models in <datasets>/checkpoints (from their cards)."""
    from hrm_minimal.checkpoint import load_checkpoint  # torch is needed only for this section
    from hrm_minimal.evaluate import reading_segments

    files = sorted((datasets_dir() / "checkpoints").glob("*.pt"))
    lines = [CARD_CHECKPOINTS]
    if not files:
        return lines + ["None yet.", ""]
    lines.append("| file | test puzzles | segments (trained / read) | exact | cells (blank cells) | steps | "
                 "training time | trained on | parameters | bytes |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    cards = []
    for path in files:
        saved = load_checkpoint(path)
        card = saved["card"]
        cards.append((path.name, card))
        trained = card.get("trained_segments", saved["model_config"]["halt_max_steps"])  # older cards lack them
        segments = f"{trained} / {reading_segments(saved)}"
        blanks = f" ({card['test_blank_accuracy']:.1%})" if card.get("test_blank_accuracy") is not None else ""
        lines.append(f"| `checkpoints/{path.name}` | {card['test_count']} | {segments} | {card['test_exact_accuracy']:.1%} | "
                     f"{card['test_accuracy']:.1%}{blanks} | {card['steps']} | {card['train_time_s']:.0f} s | "
                     f"{card['trained_on']} | {card['parameters']:,} | {path.stat().st_size} |")
    lines.append("")
    for name, card in cards:
        note = f" {card['note']}" if card.get("note") else ""
        lines.append(f"- `{name}` (seed {card['seed']}): `{card['command']}`.{note}")
    lines.append("")
    if not (datasets_dir() / "checkpoints" / "maze-15x15.pt").exists():
        lines += [CARD_NO_MAZE_MODEL, ""]
    return lines


def _card(results: dict[str, tuple[dict[str, str], dict]]) -> str:
    lines = [CARD_HEAD]
    lines.append("| file | rows | seed | settings | clues min / median / mean / max | "
                 "rating min / median / mean / max | bytes | sha256 (first 12) |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for spec in SPECS:
        files, info = results[spec.name]
        for split in ("train", "test"):
            data = files[split].encode()
            s = info[split]
            if spec.kind == "sudoku":
                setting = "minimal" if spec.clues is None else f"{spec.clues[0]}-{spec.clues[1]} clues"
                clues, rating = s["clues"], f"{s['rating']} ({s['zero']} at 0)"
            else:
                setting = f"path >= {spec.min_path}, walls {s['walls']}"
                clues, rating = "-", f"path steps {s['path']}"
            lines.append(f"| `{TASKS[spec.name][split]}` | {s['count']} | {spec.seed} | {setting} | {clues} | "
                         f"{rating} | {len(data)} | `{hashlib.sha256(data).hexdigest()[:12]}` |")
    lines.append(CARD_EQUIVALENCE)
    for spec in SPECS:
        _, info = results[spec.name]
        if spec.name == "sudoku-4x4":
            train_c, test_c = info["classes"]
            text = (f"**{info['equivalent']} of {spec.n_test}** test puzzles are equivalent to a training puzzle "
                    f"(exact canonical forms over the 128 cell maps and digit relabelling). The training puzzles "
                    f"fall into only {train_c} classes and the test puzzles into {test_c}: minimal 4x4 puzzles "
                    f"are few, so this test set checks that training works, not that the model generalises.")
        elif spec.name == "sudoku-6x6":
            text = (f"**{info['equivalent']} of {spec.n_test}** test puzzles are equivalent to a training puzzle, "
                    f"checked exactly (an invariant first, then canonical forms over all 3,456 cell maps and "
                    f"digit relabelling); {info['rejected']} generated candidates were turned down for being "
                    f"equivalent to a training puzzle.")
        elif spec.name == "sudoku-9x9":
            text = (f"**{info['equivalent']} of {spec.n_test}** test puzzles are equal to a training puzzle up to "
                    f"digit relabelling, and **0** are equivalent under the whole group: every test puzzle has "
                    f"an invariant (clue counts per row, band, box and digit) that no training puzzle has, and "
                    f"equivalent puzzles share it. {info['rejected']} candidates were turned down on this test.")
        else:
            text = (f"**{info['equivalent']} of {spec.n_test}** test mazes equal a training maze under the 8 "
                    f"symmetries (exact); {info['rejected_train']} training and {info['rejected_test']} test "
                    f"candidates were turned down as repeats.")
        lines.append(f"- `{spec.name}`: {text}")
    lines.append("")
    lines += _checkpoints_card()
    lines += _ablation_card()
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------
def build_all(log=print) -> dict[str, bytes]:
    """Every shipped file's bytes, by file name (CSV files and README.md)."""
    results = {}
    for spec in SPECS:
        log(f"building {spec.name} ...")
        results[spec.name] = (_build_sudoku if spec.kind == "sudoku" else _build_maze)(spec)
    out = {}
    for spec in SPECS:
        for split in ("train", "test"):
            out[TASKS[spec.name][split]] = results[spec.name][0][split].encode()
    out["README.md"] = _card(results).encode()
    return out


def main(check: bool = False, out_dir=None, log=print) -> int:
    """Write (or with `check`, compare) every shipped file; returns the exit status."""
    folder = Path(out_dir) if out_dir is not None else datasets_dir()
    built = build_all(log)
    if not check:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in built.items():
            (folder / name).write_bytes(data)
            log(f"wrote {folder / name} ({len(data)} bytes)")
        return 0
    bad = [name for name, data in built.items()
           if not (folder / name).is_file() or (folder / name).read_bytes() != data]
    for name in bad:
        log(f"differs from the build: {folder / name}")
    if not bad:
        log(f"all {len(built)} files in {folder} match the build")
    return 1 if bad else 0
