# %% [markdown]
# # Lesson 01: Puzzles as sequences
#
# {{COLAB_BADGE}}
#
# HRM never sees a picture of a Sudoku. It reads a row of integers, one per cell, and writes one
# integer per cell back. This lesson builds that view of the data and a yardstick for it:
#
# - the reference encoding of Sudoku and mazes as token sequences (Exercises 1.1 and 1.2);
# - the augmentations that turn 1,000 puzzles into many more (Exercise 1.3);
# - exact accuracy versus cell accuracy (Exercise 1.4);
# - a baseline: a plain transformer, trained for about a minute, whose exact accuracy on 6x6
#   Sudoku stays low. That gap is what HRM's recurrence is for.

# %%
# {{INSTALL_CELL}}

# %% tags=["nbval-ignore-output"]
# Versions and device (lesson 00 explains them).
from hrm_minimal.check_env import report
from hrm_minimal.utils import get_device

all_ok = report()  # one line per package, then the torch build and the device
device = get_device()
print("lessons will use:", device)

# %% [markdown]
# ## 1. A Sudoku as a sequence of tokens
#
# The reference code (`dataset/build_sudoku_dataset.py` in `sapientinc/HRM`) reads each Sudoku as a
# row-major string, `.` for a blank, and maps every cell to a token:
#
# | cell | token |
# |---|---|
# | (padding, never in a full grid) | 0 |
# | blank `.` | 1 |
# | digit d | d + 1 |
#
# A 9x9 Sudoku becomes 81 tokens from a vocabulary of 11; our 6x6 Sudokus become 36 tokens from a
# vocabulary of 8. The **label** is the solved grid in the same encoding, and the model predicts a
# token for every cell at once (no left-to-right generation). The course ships small datasets;
# `load_task` returns a `PuzzleSet` with `inputs` and `labels` of shape (N, seq_len).

# %% tags=["nbval-check-output"]
import numpy as np

from hrm_minimal.data import load_task
from hrm_minimal.viz import board_text

train = load_task("sudoku-6x6", "train")
test = load_task("sudoku-6x6", "test")
print(f"{train.name}: {len(train)} training and {len(test)} test puzzles")
print("inputs", train.inputs.shape, train.inputs.dtype, "| labels", train.labels.shape)  # (N, 36)
print("vocab_size", train.vocab_size, "| seq_len", train.seq_len, "| box", train.box)
print("tokens of puzzle 0:", train.inputs[0].tolist())
print(board_text(train.inputs[0], tokens=True))

# %% [markdown]
# ## Exercise 1.1: encode a puzzle
#
# Write `encode_sudoku(text)`: `text` is a row-major puzzle string of n*n characters (`.` for a blank,
# `1`..`n` for digits). Return a NumPy array of n*n integer tokens in the encoding above.

# %% exercise="1.1"
def encode_sudoku(text: str) -> np.ndarray:
    """Tokens (n*n,) of a puzzle string: '.' -> 1, digit d -> d + 1 (0 stays free for padding)."""
    ### BEGIN SOLUTION
    return np.array([1 if ch == "." else int(ch) + 1 for ch in text], dtype=np.int64)
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_encode_sudoku

encode_sudoku = check_encode_sudoku(encode_sudoku)

# %% [markdown]
# ## Exercise 1.2: decode tokens
#
# Write the inverse, `decode_sudoku(tokens)`: from n*n tokens (a list or array) back to the puzzle
# string, `.` for a blank.

# %% exercise="1.2"
def decode_sudoku(tokens) -> str:
    """The puzzle string of tokens (n*n,): token 1 -> '.', token t -> digit t - 1."""
    ### BEGIN SOLUTION
    return "".join("." if int(t) == 1 else str(int(t) - 1) for t in np.asarray(tokens).ravel())
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_decode_sudoku

decode_sudoku = check_decode_sudoku(decode_sudoku)

# %% [markdown]
# The two functions are inverses: decoding a puzzle from the dataset and encoding it again gives
# the same tokens.

# %% tags=["nbval-check-output"]
text = decode_sudoku(train.inputs[0])
print("puzzle  ", text)
print("solution", decode_sudoku(train.labels[0]))
print("round trip gives the same tokens:", bool(np.array_equal(encode_sudoku(text), train.inputs[0])))

# %% [markdown]
# **Mazes** use the same idea with five characters, `# SGo` (wall, open, start, goal, path) as
# tokens 1..5. The input is the maze; the label is the same maze with the shortest path from `S`
# to `G` drawn in `o`. Here is an 11x11 maze (the paper's Maze-Hard mazes are 30x30, 900 tokens).

# %% tags=["nbval-check-output"]
from hrm_minimal.viz import maze_text

mazes = load_task("maze-11x11", "train")
print(f"{mazes.name}: {len(mazes)} mazes, seq_len {mazes.seq_len}, vocab_size {mazes.vocab_size}")
print(maze_text(mazes.labels[0], tokens=True))

# %% [markdown]
# ## 2. Augmentations: one puzzle, many views
#
# With only 1,000 training puzzles, HRM multiplies each one by symmetries that keep a Sudoku valid:
# relabel the digits, shuffle the bands (groups of box rows) and the rows within a band, the same
# for stacks and columns, and transpose (square boxes only). The same map is applied to puzzle and
# solution, so the pair stays consistent. Mazes get the 8 rotations and reflections of the square.
# The reference builds 1,000 augmented copies per Sudoku ahead of time; we draw a fresh random
# symmetry for every batch instead (`hrm_minimal.data.augment_batch`).
#
# ## Exercise 1.3: relabel the digits
#
# Write `permute_digits(tokens, perm)`: `tokens` is an integer array of Sudoku tokens of any shape,
# `perm` a permutation of the digits 1..n as an array of n entries. Digit d becomes `perm[d - 1]`;
# padding (0) and blanks (1) stay. Return a new array (leave `tokens` unchanged).

# %% exercise="1.3"
def permute_digits(tokens: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Sudoku tokens with digit d relabelled perm[d - 1]; PAD (0) and blank (1) unchanged."""
    ### BEGIN SOLUTION
    token_of = np.concatenate([[0, 1], np.asarray(perm) + 1])  # token t -> token_of[t]
    return token_of[np.asarray(tokens)]
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_permute_digits

permute_digits = check_permute_digits(permute_digits)

# %% [markdown]
# Relabelled puzzles are still puzzles: the relabelled solution solves the relabelled puzzle. The
# package's `augment_batch` combines all the symmetries, one random draw per row.

# %% tags=["nbval-check-output"]
from hrm_minimal.data import augment_batch, decode_sudoku as token_grid, solves

rng = np.random.default_rng(0)
perm = rng.permutation(6) + 1  # (6,) new name of each digit
x, y = permute_digits(train.inputs[0], perm), permute_digits(train.labels[0], perm)  # (36,) each
print("relabelled pair is a valid puzzle and solution:", solves(token_grid(x), token_grid(y)))

xs, ys = augment_batch("sudoku", train.inputs[:256], train.labels[:256], train.grid_size, train.box, rng)
valid = all(solves(token_grid(a), token_grid(b)) for a, b in zip(xs, ys))  # (256, 36) each
print(f"{len(xs)} augmented puzzles, all valid: {valid}")
print("rows changed by augmentation:", int((xs != train.inputs[:256]).any(axis=1).sum()), "of", len(xs))

# %% [markdown]
# ## 3. Exact accuracy versus cell accuracy
#
# A Sudoku answer with one wrong digit is wrong. The paper therefore reports **exact accuracy**: the
# fraction of puzzles whose every cell is right. **Cell accuracy** (the fraction of right cells) is
# a gentler number, useful to watch training, but easy to misread. Cells whose label is
# `IGNORE_LABEL_ID` (-100; padding in a batch) count for neither.
#
# ## Exercise 1.4: exact accuracy
#
# Write `exact_accuracy(pred, labels)`: both are integer tensors of shape (B, S). Return, as a Python
# float, the fraction of the B rows in which every cell whose label is not `IGNORE_LABEL_ID` is
# predicted right.

# %% exercise="1.4"
import torch

from hrm_minimal.data import IGNORE_LABEL_ID


def exact_accuracy(pred: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows (B, S) whose every non-ignored cell is right."""
    ### BEGIN SOLUTION
    scored = labels != IGNORE_LABEL_ID  # (B, S) cells that count
    row_right = ((pred == labels) | ~scored).all(dim=-1)  # (B,) ignored cells never spoil a row
    return row_right.float().mean().item()
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_exact_accuracy

exact_accuracy = check_exact_accuracy(exact_accuracy)


# %% [markdown]
# How far apart are the two numbers? Take the test solutions and spoil each cell independently with
# probability 5%: cell accuracy is about 95%, but a 36-cell grid comes out fully right only with
# probability 0.95^36, about 16%.

# %% tags=["nbval-check-output"]
from hrm_minimal.metrics import cell_accuracy  # fraction of non-ignored cells predicted right

test_labels = torch.from_numpy(test.labels)  # (1000, 36)
spoil = torch.from_numpy(np.random.default_rng(0).random(test_labels.shape) < 0.05)  # (1000, 36)
spoiled = torch.where(spoil, (test_labels - 1) % 6 + 2, test_labels)  # another digit where spoiled
print(f"cell accuracy {cell_accuracy(spoiled, test_labels):.2f}, "
      f"exact accuracy {exact_accuracy(spoiled, test_labels):.2f}")

# %% [markdown]
# ## 4. A baseline: a plain transformer, one pass
#
# The HRM paper's "direct prediction" baseline is a transformer that reads the puzzle and predicts
# all cells in one forward pass, scoring 0% on Sudoku-Extreme (lesson 00). Let us train one on 6x6
# Sudoku: token embedding, a few post-norm transformer layers (the same blocks HRM uses), a linear
# head; the loss is the softmax cross-entropy of every cell, as in the reference:
#
# $$\mathcal{L} = \frac{1}{S}\sum_{i=1}^{S} -\log p_\theta(y_i \mid x), \qquad
# \hat y_i = \arg\max_v p_\theta(v \mid x) \text{ for every cell } i \text{ at once.}$$
#
# The training batches come from `TrainBatches`, which draws a fresh random symmetry per puzzle.

# %% tags=["nbval-ignore-output"]
import time

from tqdm.auto import tqdm

from hrm_minimal.baseline import TransformerBaseline
from hrm_minimal.data import TrainBatches
from hrm_minimal.losses import softmax_cross_entropy
from hrm_minimal.model import count_parameters
from hrm_minimal.utils import seed_everything

seed_everything(0)
max_steps, max_seconds = 300, 50  # about 40 s on a 2-core CPU; the time cap guards slower machines
baseline = TransformerBaseline(train.vocab_size, train.seq_len, hidden_size=128, num_heads=4,
                               num_layers=2).to(device)
optimizer = torch.optim.AdamW(baseline.parameters(), lr=1e-3, weight_decay=0.1)
batches = TrainBatches(train, batch_size=64, augment=True, seed=0)
print(f"baseline: {count_parameters(baseline):,} parameters, up to {max_steps} steps on {device}")

losses, start = [], time.perf_counter()
for step in tqdm(range(max_steps), desc="baseline"):
    inputs, targets = (t.to(device) for t in next(batches))  # (64, 36) each
    logits = baseline(inputs)  # (64, 36, 8)
    loss = softmax_cross_entropy(logits, targets).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
    if time.perf_counter() - start > max_seconds:  # a slow machine stops early rather than stall
        break
print(f"{len(losses)} steps in {time.perf_counter() - start:.0f} s")
print(f"loss: first step {losses[0]:.2f}, last 20 steps {np.mean(losses[-20:]):.2f}")

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt

from hrm_minimal.viz import draw_sudoku

with torch.no_grad():
    test_inputs = torch.from_numpy(test.inputs).to(device)  # (1000, 36)
    test_pred = baseline.eval()(test_inputs).argmax(-1).cpu()  # (1000, 36)
blank = torch.from_numpy(test.inputs) == 1  # (1000, 36) cells the model must fill in
cells = cell_accuracy(test_pred, test_labels)
blanks = (test_pred == test_labels)[blank].float().mean().item()
exact = exact_accuracy(test_pred, test_labels)
print(f"test cell accuracy {cells:.3f} | on blank cells {blanks:.3f} | exact accuracy {exact:.3f}")

fig, axes = plt.subplots(1, 3, figsize=(9, 3))
for ax, i in zip(axes, range(3)):
    draw_sudoku(ax, test.inputs[i], test_pred[i].numpy(), test.labels[i], tokens=True, title=f"test puzzle {i}")
plt.tight_layout()
plt.show()

# %% tags=["nbval-check-output"]
# The claim of this lesson, measured: one pass of a few layers solves few 6x6 Sudokus.
assert exact < 0.2, f"exact accuracy {exact:.3f}: the baseline did better than this lesson claims"
print("baseline exact accuracy below 20%:", exact < 0.2)

# %% [markdown]
# Most of the "right" cells are the givens, which the model only has to copy; on the blank cells it
# does much worse, and whole puzzles are rarely right. Training longer helps little: each blank
# depends on a chain of deductions through other blanks, and a fixed stack of layers can follow a
# chain only so far. HRM keeps the layers small and runs them again and again (recurrence), so the
# depth of computation grows without more parameters. Lessons 02 to 07 build that machine.

# %% [markdown]
# ## A look ahead: the HRM this course ships
#
# The course ships a small HRM trained on this same 6x6 data: `cpu-small` (hidden size 64, two
# blocks per module), trained on a 2-core CPU by the command in `datasets/README.md`. It reads the
# same test puzzles and runs its recurrent core segment after segment. It was trained with 2
# segments per puzzle, and we read it with the number its card names (16): the same weights, run
# for more segments, which the paper calls inference-time scaling. Its weights are a moving
# average of the weights its training went through (`--ema`, not part of HRM itself; the README
# says why). Lessons 02 to 07 build every part of it; here we only load it and look.

# %% tags=["nbval-ignore-output"]
from hrm_minimal.evaluate import evaluate, load_pretrained
from hrm_minimal.viz import draw_segments

hrm, shipped = load_pretrained("sudoku-6x6")
segments = shipped["card"]["segments"]  # 16: how the card says to read it
result = evaluate(hrm, test, max_steps=segments, progress=False)
print(f"shipped HRM, {shipped['card']['steps']} training steps with {hrm.config.halt_max_steps} segments, "
      f"read with {segments}: exact accuracy {result['exact_accuracy']:.3f} (the baseline above: {exact:.3f})")
print("exact accuracy after each segment:", " ".join(f"{x:.3f}" for x in result["exact_by_segment"]))

batch = {"inputs": torch.from_numpy(test.inputs[:1])}  # one puzzle, (1, 36)
carry, predictions = hrm.initial_carry(batch), []
with torch.no_grad():
    for segment in range(segments):
        carry, out = hrm(carry, batch, max_steps=segments)
        predictions.append(out["logits"].argmax(-1)[0].numpy())  # (36,) after this segment
shown = [1, 2, 4, 8, segments]  # a few of the segments, side by side
draw_segments([predictions[k - 1] for k in shown], test.inputs[0], test.labels[0], tokens=True,
              titles=[f"segment {k}" for k in shown])

# %% tags=["nbval-check-output"]
# Measured, not claimed: recurrence beats the one-pass baseline, and later segments are better.
by_segment = result["exact_by_segment"]
trained = hrm.config.halt_max_steps
assert result["exact_accuracy"] > exact + 0.3, "the shipped HRM should beat the baseline by 30 points"
assert by_segment[-1] > by_segment[0], "the last segment should solve more puzzles than the first"
assert by_segment[-1] > by_segment[trained - 1], "segments beyond the trained number should add solved puzzles"
print("HRM beats the baseline by more than 30 points:", result["exact_accuracy"] > exact + 0.3)
print("later segments solve more puzzles:", by_segment[-1] > by_segment[0])
print(f"reading {segments} segments instead of the {trained} trained adds puzzles:", by_segment[-1] > by_segment[trained - 1])

# %% [markdown]
# ## What you built
#
# - `encode_sudoku` / `decode_sudoku`: the reference token encoding (0 PAD, 1 blank, d + 1), and the
#   same idea for mazes (`# SGo` -> 1..5).
# - `permute_digits`, one of the symmetries that multiply a small training set, and the package's
#   `augment_batch` that applies all of them.
# - `exact_accuracy`, the paper's metric, next to cell accuracy.
# - A one-pass transformer baseline and a measurement of how far it falls short, next to the HRM
#   this course ships.

# %% [markdown]
# ## Questions
#
# 1. Why does the encoding keep token 0 free instead of encoding a blank as 0?
# 2. A model gets 99% of cells right on 9x9 Sudoku, errors spread evenly. Roughly what exact
#    accuracy do you expect? What if its errors all sit in a few hard puzzles?
# 3. Transposing a 6x6 Sudoku with 2x3 boxes does not give a valid 6x6 Sudoku with 2x3 boxes. Why?
#    Which symmetries of a maze would be wrong to use if moves were allowed diagonally?
# 4. Train the baseline twice as long, or with twice the layers. How do cell accuracy on blanks and
#    exact accuracy move? What does that suggest about depth?
# 5. Grade yourself: `python -m hrm_minimal.grade lessons/01_puzzles_as_sequences.ipynb`.
