# %% [markdown]
# # Lesson 05: Deep supervision
#
# {{COLAB_BADGE}}
#
# Lessons 03 and 04 built one **segment**: a few L and H updates, with gradient only through the
# last of each. HRM does not train on one segment per puzzle. It runs segment after segment on the
# same puzzle, carrying the states $(z_H, z_L)$ over, and after **every** segment it computes a loss,
# backpropagates through that segment alone and takes an optimiser step. The paper calls this
# *deep supervision*; it is the outer loop that the ARC Prize team's ablations found to matter most.
#
# - one training step of deep supervision, over the reference's streaming batch (Exercise 5.1);
# - the streaming batch itself: only slots whose puzzle has halted take a new puzzle (Exercise 5.2);
# - measured: later segments solve more puzzles, but only for a model trained with more than one
#   segment; and what the detached carry saves.

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
# ## 1. Segments and the carry
#
# Write $z^m = (z_H^m, z_L^m)$ for the states after segment $m$ and $\hat y^m$ for the answer read
# from them. Deep supervision trains, for $m = 1, 2, \dots$:
#
# $$z^m = \mathrm{segment}_\theta\big(\mathrm{sg}(z^{m-1}), x\big), \qquad
#   \mathcal{L}^m = \mathrm{loss}(\hat y^m, y), \qquad
#   \theta \leftarrow \mathrm{OptimiserStep}\big(\theta, \nabla_\theta \mathcal{L}^m\big),$$
#
# where $\mathrm{sg}$ (stop-gradient, `.detach()`) cuts the graph between segments: each step
# backpropagates through one segment only, whatever came before. The package's `HRM` wrapper is
# exactly one segment per call. Its **carry** holds what survives between calls: the states, each
# slot's step count, whether it has halted, and the puzzle it is working on:

# %% tags=["nbval-check-output"]
import torch

from hrm_minimal.config import HRMConfig
from hrm_minimal.model import HRM
from hrm_minimal.utils import seed_everything

seed_everything(0)
config = HRMConfig(vocab_size=6, seq_len=16, hidden_size=32, num_heads=2, H_layers=1, L_layers=1,
                   halt_max_steps=3)  # 4x4 Sudoku: 16 cells, vocabulary 6
model = HRM(config).train()
batch = {"inputs": torch.randint(1, 6, (4, 16)), "labels": torch.randint(2, 6, (4, 16))}  # 4 puzzles
carry = model.initial_carry(batch)  # every slot starts "halted", so the first call loads the batch
print("before:  steps", carry.steps.tolist(), "halted", carry.halted.tolist())
for segment in range(3):
    carry, outputs = model(carry, batch)
    print(f"segment {segment + 1}: steps", carry.steps.tolist(), "halted", carry.halted.tolist(),
          "| state has a graph:", carry.inner_carry.z_H.requires_grad)

# %% [markdown]
# The loss of a segment is the ACT loss of lesson 06: the cross-entropy of the answer plus half
# the Q head's two losses, $\mathcal{L} = \mathcal{L}_{\text{lm}} + \tfrac12(\mathcal{L}_{\text{halt}} +
# \mathcal{L}_{\text{continue}})$ (`hrm_minimal.losses.act_loss`). Here it is only a number to
# minimise; what the Q head learns is the next lesson's subject.
#
# ## Exercise 5.1: one step of deep supervision
#
# Write `deep_supervision_step(model, carry, batch, optimizer)`: run one segment
# (`model(carry, batch)` returns the new carry and the outputs), compute
# `act_loss(outputs, labels, halted=..., steps=...)` with the new carry's `halted` and `steps`, take
# the gradient, an optimiser step, clear the gradients, and return the new carry. Mind which labels:
# a slot that has not halted is still working on an **earlier** puzzle than the batch's row, and
# its labels travel with it in the new carry's `current_data`.

# %% exercise="5.1"
from hrm_minimal.losses import act_loss


def deep_supervision_step(model, carry, batch, optimizer):
    """One segment, its ACT loss, backward, one optimiser step; returns the new carry."""
    ### BEGIN SOLUTION
    carry, outputs = model(carry, batch)  # the new carry is detached: no graph reaches earlier segments
    loss, _ = act_loss(outputs, carry.current_data["labels"], halted=carry.halted, steps=carry.steps)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return carry
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_deep_supervision_step

deep_supervision_step = check_deep_supervision_step(deep_supervision_step)

# %% [markdown]
# Your step is a training loop already. A few hundred steps of it on 4x4 Sudoku (a small model,
# a fresh augmented batch each step) bring the loss down; `hrm_minimal.train.train` runs the same
# step with checkpoints, evaluation and a schedule around it.

# %% tags=["nbval-ignore-output"]
import time

import numpy as np

from hrm_minimal.data import TrainBatches, load_task
from hrm_minimal.presets import get_preset

seed_everything(0)
train4 = load_task("sudoku-4x4", "train")
model = HRM(get_preset("cpu-tiny", vocab_size=train4.vocab_size, seq_len=train4.seq_len, halt_max_steps=2)).train()
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.1)
batches = TrainBatches(train4, batch_size=64, augment=True, seed=0)
probe = {"inputs": torch.from_numpy(train4.inputs[:256]), "labels": torch.from_numpy(train4.labels[:256])}


def probe_loss() -> float:
    """The ACT loss after one segment on 256 fixed training puzzles (no gradient)."""
    with torch.no_grad():
        model.eval()
        _, out = model(model.initial_carry(probe), probe)
        model.train()
        return act_loss(out, probe["labels"])[0].item()


carry, losses, start = None, [probe_loss()], time.perf_counter()
for step in range(300):
    inputs, labels = next(batches)  # (64, 16) each, a fresh random symmetry per puzzle
    batch = {"inputs": inputs, "labels": labels}
    carry = model.initial_carry(batch) if carry is None else carry
    carry = deep_supervision_step(model, carry, batch, optimizer)
    if (step + 1) % 50 == 0:
        losses.append(probe_loss())
    if time.perf_counter() - start > 30:  # a slow machine stops early rather than stall
        losses.append(probe_loss())
        break
print(f"{step + 1} steps in {time.perf_counter() - start:.0f} s; loss at the start and every 50 steps:",
      " ".join(f"{x:.2f}" for x in losses))

# %% tags=["nbval-check-output"]
assert losses[-1] < 0.8 * losses[0], "deep supervision should bring the loss down"
print("the loss fell by more than a fifth:", losses[-1] < 0.8 * losses[0])

# %% [markdown]
# ## 2. The streaming batch
#
# Puzzles do not all need the same number of segments. The reference keeps a batch of **slots**
# running: after each segment, a slot whose puzzle has halted (lesson 06 decides when) takes the
# next puzzle from the freshly loaded batch, with states back at the fixed starting vectors
# `H_init` / `L_init` and its step count at 0; a slot still working keeps its states, its count and
# its puzzle, and the new batch's row for that slot is dropped. `HRM.forward` does this first, in
# `HRM.refill`, before it runs the segment.
#
# ## Exercise 5.2: refill the halted slots
#
# Write `refill(model, carry, batch)`. `carry.halted` is (B,) bool; `carry.inner_carry` holds `z_H`
# and `z_L`, each (B, P+S, D); `carry.steps` is (B,); `carry.current_data` is a dict of tensors
# with one row per slot, whose keys are all in `batch`. Return `(InnerCarry(z_H, z_L), steps, data)`
# where halted slots restart (`model.inner.H_init` and `model.inner.L_init`, each (D,), at every
# position; step 0; the batch's row) and the others keep theirs. Build new tensors; do not change
# the carry in place.

# %% exercise="5.2"
from hrm_minimal.model import InnerCarry


def refill(model, carry, batch):
    """The streaming batch: halted slots take fresh states, step 0 and the batch's row."""
    ### BEGIN SOLUTION
    halted = carry.halted  # (B,)
    where = lambda t: halted.view(-1, *([1] * (t.ndim - 1)))  # noqa: E731  (B, 1, ...) to broadcast
    z_H = torch.where(where(carry.inner_carry.z_H), model.inner.H_init, carry.inner_carry.z_H)
    z_L = torch.where(where(carry.inner_carry.z_L), model.inner.L_init, carry.inner_carry.z_L)
    steps = torch.where(halted, torch.zeros_like(carry.steps), carry.steps)
    data = {k: torch.where(where(v), batch[k], v) for k, v in carry.current_data.items()}
    return InnerCarry(z_H, z_L), steps, data
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_refill

refill = check_refill(refill)

# %% [markdown]
# ## 3. Later segments solve more puzzles
#
# Read the course's 6x6 HRM (lesson 01), trained with 2 segments per puzzle, for 16 segments: the
# evaluation runs every puzzle through all of them, as the reference does, and records the exact
# accuracy after each.

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt

from hrm_minimal.evaluate import evaluate, load_pretrained

test6 = load_task("sudoku-6x6", "test")
two, two_file = load_pretrained("sudoku-6x6")  # trained with 2 segments per puzzle
one, one_file = load_pretrained("sudoku-6x6-one-segment")  # the same recipe with 1 segment
reading = 16
curves = {}
for name, m in (("trained with 2 segments", two), ("trained with 1 segment", one)):
    curves[name] = evaluate(m, test6, limit=500, max_steps=reading, progress=False)["exact_by_segment"]
    print(f"{name}: exact after segments 1, 2, 4, 8, 16:",
          " ".join(f"{curves[name][k - 1]:.3f}" for k in (1, 2, 4, 8, 16)))

fig, ax = plt.subplots(figsize=(6.5, 3.6))
for name, curve in curves.items():
    ax.plot(range(1, reading + 1), curve, marker="o", markersize=3, label=name)
ax.set_xlabel("segments read")
ax.set_ylabel("exact accuracy (500 test puzzles)")
ax.set_xscale("log", base=2)
ax.legend()
ax.set_title("6x6 Sudoku: the same recipe, 1 or 2 training segments")
plt.tight_layout()
plt.show()

# %% [markdown]
# The model trained with 2 segments solves nothing after its first segment, most puzzles after its
# second, and more still after the 2 it was trained with (the paper's inference-time scaling): it
# has learned to use a segment to improve on the last one. The model trained with one segment, by
# the same command and for the same 6,000 steps otherwise (the data card gives both), has only ever
# been asked for its answer after one segment from the starting states. It gets most cells right
# (78%) but not one whole puzzle, and reading it for more segments takes it where it was never
# trained: it gains nothing. With the same compute per step, the segments of deep supervision are
# what turn a model that fills in cells into one that finishes puzzles.

# %% tags=["nbval-check-output"]
a, b = np.array(curves["trained with 2 segments"]), np.array(curves["trained with 1 segment"])
gain_two, gain_one = a[-1] - a[0], b[-1] - b[0]
print(f"gain from segment 1 to 16: trained with 2 segments {gain_two:+.2f}, with 1 segment {gain_one:+.2f}")
assert np.all(np.diff(a[:4]) >= -0.01) and a[-1] > a[0] + 0.5, "more segments should solve more puzzles"
assert gain_one < gain_two - 0.3, "a model trained with one segment should not gain the same way"
print("later segments solve more, and only after training with more than one:", gain_one < gain_two - 0.3)

# %% [markdown]
# ## 4. Why the carry is detached
#
# Without the stop-gradient, segment $m$'s loss would backpropagate through segment $m-1$, and
# $m-2$, and so on: backpropagation through time over the whole run, whose graph grows with every
# segment and must be kept alive from step to step. Measure it on a small case:
# `hrm_minimal.memory.graph_saved_bytes(loss)` adds up the tensors the graph behind `loss` keeps for
# its backward pass (activations only; the weights exist anyway). We run 1 to 8 segments, carrying
# the states over with and without `.detach()`, and look at the graph behind the last segment's loss.
#
# First with full backpropagation inside each segment (`one_step_grad=False`, as TRM does within
# its last cycle), then with HRM's own one-step gradient.

# %% tags=["nbval-ignore-output"]
from hrm_minimal.memory import graph_saved_bytes


def graph_after(config, segments, detach):
    """MB held by the graph behind the last segment's loss, and that loss's gradient (flattened)."""
    seed_everything(0)
    inner = HRM(config).inner
    inputs = torch.randint(1, 8, (16, 36))  # 16 random 6x6 puzzles
    x = inner.input_embeddings(inputs, torch.zeros(16, dtype=torch.long))  # (16, 37, 64)
    start = inner.reset_carry(torch.ones(16, dtype=torch.bool), inner.empty_carry(16))
    z_H, z_L = start.z_H, start.z_L
    for _ in range(segments):
        if detach:
            z_H, z_L = z_H.detach(), z_L.detach()
        z_H, z_L = inner.segment(z_H, z_L, x, inner.rotary())
    loss = inner.lm_head(z_H).logsumexp(-1).mean()  # any loss on the last segment's answer
    held = graph_saved_bytes(loss) / 2**20
    grads = torch.autograd.grad(loss, list(inner.parameters()), allow_unused=True)
    flat = torch.cat([g.flatten() for g in grads if g is not None])
    return held, flat


counts = (1, 2, 4, 8)
table = {}
for grad_name, one_step in (("full backprop in a segment", False), ("one-step gradient", True)):
    config = get_preset("cpu-small", vocab_size=8, seq_len=36, one_step_grad=one_step)
    for detach in (True, False):
        table[grad_name, detach] = [graph_after(config, n, detach) for n in counts]
        print(f"{grad_name:>27}, carry {'detached' if detach else 'not detached':>12}: MB held after 1/2/4/8 "
              "segments: " + " ".join(f"{held:6.1f}" for held, _ in table[grad_name, detach]))

# %% [markdown]
# With full backpropagation inside a segment, an undetached carry makes the graph grow with every
# segment: 8 segments hold 8 times the memory of one, and the gradient of the last loss changes,
# because it now also flows back into the earlier segments. Detached, it stays the size of one
# segment, however long the run.
#
# With HRM's one-step gradient the two rows are the same. Look back at lesson 04's window: every
# update but the last L and H ones runs without gradient, so the states entering the window are
# already cut off from the carry (with at least 2 cycles, as here). The reference detaches the carry
# anyway, and so do we: it costs nothing and keeps the loop safe for any cycle counts and for full
# backpropagation.

# %% tags=["nbval-check-output"]
full_kept, full_cut = table["full backprop in a segment", False], table["full backprop in a segment", True]
one_kept, one_cut = table["one-step gradient", False], table["one-step gradient", True]
growth = full_kept[-1][0] / full_kept[0][0]
cosine = torch.nn.functional.cosine_similarity(full_kept[-1][1], full_cut[-1][1], dim=0).item()
print(f"full backprop: undetached graph after 8 segments {growth:.1f}x the first; detached {full_cut[-1][0] / full_cut[0][0]:.1f}x")
print(f"full backprop: cosine similarity of the last loss's gradient, undetached vs detached: {cosine:.2f}")
same = all(abs(a[0] - b[0]) < 1e-9 and torch.equal(a[1], b[1]) for a, b in zip(one_kept, one_cut))
print("one-step gradient: the same graph and gradient with or without the detach:", same)
assert growth > 7 and abs(full_cut[-1][0] / full_cut[0][0] - 1) < 0.01, "undetached memory should grow with segments"
assert cosine < 0.99, "the undetached gradient should reach into earlier segments"
assert same, "with the one-step gradient at 2x2 cycles the window already cuts the graph"

# %% [markdown]
# ## What you built
#
# - `deep_supervision_step`: one segment, its loss on the labels each slot is working on, backward,
#   one optimiser step; the loop of HRM's training (`hrm_minimal.train.train_step`).
# - `refill`: the reference's streaming batch, halted slots restart and the others carry on
#   (`HRM.refill`).
# - Measurements: later segments solve more puzzles for a model trained with 2 segments and not
#   for one trained with 1; an undetached carry makes the graph grow with every segment under full
#   backpropagation, while HRM's one-step window already cuts it.

# %% [markdown]
# ## Questions
#
# 1. In the streaming batch, a slot that has not halted drops its row of the new batch. Over a
#    long run, does every training puzzle get seen? What decides how often?
# 2. Every segment gets the same weight in the loss. What would change if only the last segment of
#    each puzzle were supervised?
# 3. The 1-segment model is worse after segment 16 than after segment 1. Where do the states it
#    reads at segment 2 come from, and why has it never seen states like them?
# 4. With `H_cycles=1` and `L_cycles=1`, is the detach still redundant under the one-step gradient?
#    Work out which states enter the gradient window, then measure it with `graph_after`.
# 5. Deep supervision takes one optimiser step per segment, so a puzzle kept for 8 segments moves
#    the weights 8 times. How does that change what a "training step" costs compared with lesson
#    01's baseline?
# 6. Grade yourself: `python -m hrm_minimal.grade lessons/05_deep_supervision.ipynb`.
