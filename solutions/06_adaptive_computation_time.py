# %% [markdown]
# # Lesson 06: Adaptive computation time with Q-learning
#
# {{COLAB_BADGE}}
#
# Lesson 05 ran every puzzle for a fixed number of segments. Some puzzles are solved after two
# segments, others need many more. HRM lets the model decide when to stop: a small **Q head**
# reads the high-level state after each segment and gives two values, *halt* and *continue*, and
# the puzzle stops when halting looks better. The head learns these values by Q-learning, from the
# one reward the task has: halting is worth 1 when the answer is entirely right.
#
# - the halting decision, with the reference's exploration (Exercise 6.1);
# - what the Q head learns from: its two targets (Exercise 6.2);
# - the whole loss of a segment, `lm + 0.5 (halt + continue)` (Exercise 6.3);
# - measured on a trained model: harder puzzles take more segments, how often the Q head is right,
#   and exact accuracy read with 1 to 16 segments against the number trained with.

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
# ## 1. The Q head
#
# After each segment HRM reads two numbers from the first position of $z_H$ (the puzzle-embedding
# prefix), with one linear layer, `q_head` (`HRMInner.forward`):
#
# $$\big(\hat Q^m_{\text{halt}},\ \hat Q^m_{\text{continue}}\big) = \mathrm{q\_head}\big(z_H^m[0]\big).$$
#
# They are logits: $\sigma(\hat Q_{\text{halt}})$ estimates the chance that the answer is right
# now, $\sigma(\hat Q_{\text{continue}})$ the chance of a right answer if the model goes on and
# then stops at the best moment. The reference starts the head at weight 0 and bias $-5$, so that
# both probabilities start near $\sigma(-5) = 0.007$ and nothing halts early by accident.
#
# The course's 6x6 model trained with up to 4 segments per puzzle (`sudoku-6x6-four-segments`,
# made by the command on the data card) shows what a trained head says. We read all 1,000 test
# puzzles for 16 segments and keep, for each puzzle and segment, whether the answer is right and
# both Q values (`evaluate(..., per_puzzle=True)`).

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt
import numpy as np
import torch

from hrm_minimal.data import load_task
from hrm_minimal.evaluate import evaluate, load_pretrained

test6 = load_task("sudoku-6x6", "test")
four, _ = load_pretrained("sudoku-6x6-four-segments")
READ = 16
run = evaluate(four, test6, max_steps=READ, progress=False, per_puzzle=True)
solved, q_halt, q_continue = run["solved"], run["q_halt"], run["q_continue"]  # each (1000, 16)
print("exact accuracy after segments 1..16:", " ".join(f"{x:.2f}" for x in run["exact_by_segment"]))

sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
first_solved = np.where(solved.any(1), solved.argmax(1) + 1, 0)  # 0: never solved
examples = [int(np.flatnonzero(first_solved == k)[0]) for k in (2, 4) if (first_solved == k).any()]
examples += [int(np.flatnonzero(first_solved == 0)[0])] if (first_solved == 0).any() else []
fig, axes = plt.subplots(1, len(examples), figsize=(4 * len(examples), 3.2), sharey=True)
for ax, i in zip(np.atleast_1d(axes), examples):
    seg = np.arange(1, READ + 1)
    ax.plot(seg, sigmoid(q_halt[i]), marker="o", markersize=3, label="σ(Q halt)")
    ax.plot(seg, sigmoid(q_continue[i]), marker="s", markersize=3, label="σ(Q continue)")
    ax.scatter(seg[solved[i]], np.full(solved[i].sum(), 1.04), marker="|", color="green", label="answer right")
    ax.axvline(run["halt_step"][i], color="black", lw=1, ls=":", label="Q head halts")
    ax.set_title(f"test puzzle {i}: " + (f"first right at segment {first_solved[i]}" if first_solved[i] else "never right"))
    ax.set_xlabel("segment")
axes[0].set_ylabel("probability")
axes[0].legend(fontsize=7, loc="center right")
plt.tight_layout()
plt.show()

# %% [markdown]
# On a puzzle it solves, the halt value climbs when the answer becomes right and the halting rule
# of the next section stops there (dotted line). On a puzzle it never solves, halting stays
# unlikely and the continue value stays above it, so the puzzle would run to the limit.
#
# ## 2. The halting decision
#
# During **training**, after segment $m$ (so `steps` $= m$), a slot halts when
#
# - it has reached the limit, `steps >= limit` (`halt_max_steps`, or more at evaluation), or
# - the Q head says so: $\hat Q_{\text{halt}} > \hat Q_{\text{continue}}$,
#
# with one exception, **exploration**: with probability `halt_exploration_prob` (0.1) a slot draws
# a minimum number of segments uniformly from $\{2, \dots, \text{limit}\}$ and may not halt before
# it. Without exploration a head that learned early to halt at segment 1 would never see what
# segment 2 could do, and could not learn that continuing is worth more.
#
# At **evaluation** the reference ignores the Q head: every puzzle runs to the limit and exact
# accuracy is read after the last segment. Its authors left dynamic halting out of the evaluation
# because it does not make the results worse; section 5 measures what it would save.
#
# ## Exercise 6.1: the halting decision
#
# Write `halt_decision(model, steps, q_halt, q_continue, limit)`. `steps` is (B,) int, the
# segments each slot has run including this one; `q_halt` and `q_continue` are (B,) logits;
# `limit` an int (at evaluation it may differ from `halt_max_steps`). Return a (B,) bool tensor and
# leave the inputs unchanged. Use the Q head and exploration only when
# `model.training` is True and `limit > 1`; read the probability from
# `model.config.halt_exploration_prob`. Draw the randomness as the reference does, so that the
# same seed gives the same decision: first `torch.rand(B)` (a slot explores where it is below the
# probability), then `torch.randint(2, limit + 1, (B,))` (the minimum), both for every slot.

# %% exercise="6.1"
def halt_decision(model, steps, q_halt, q_continue, limit):
    """(B,) bool: which slots stop after this segment (HRM.halt_decision)."""
    ### BEGIN SOLUTION
    halted = steps >= limit  # every slot stops at the limit
    if model.training and limit > 1:
        halted = halted | (q_halt > q_continue)  # or where the Q head says halt
        B = steps.shape[0]
        explore = torch.rand(B) < model.config.halt_exploration_prob
        min_steps = torch.randint(2, limit + 1, (B,))
        halted = halted & (steps >= min_steps * explore)  # an exploring slot waits for its minimum
    return halted
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_halt_decision

halt_decision = check_halt_decision(halt_decision)

# %% [markdown]
# What exploration does to training: replay the test run above through your rule in training mode,
# with a limit of 4 as in training, and count how many segments each puzzle would have run before
# halting, once with the reference's 10% exploration and once without.

# %% tags=["nbval-ignore-output"]
import copy
import dataclasses


def training_halt_steps(explore: float, limit: int = 4, seed: int = 0) -> np.ndarray:
    """Segments each test puzzle would run in training, deciding after each segment with halt_decision."""
    torch.manual_seed(seed)
    trainee = copy.copy(four)  # shares the weights and modules; its own mode flag and config
    trainee.training = True  # (not .train(), which would switch the shared modules too)
    trainee.config = dataclasses.replace(four.config, halt_exploration_prob=explore)
    stop = np.full(len(solved), limit)
    running = torch.ones(len(solved), dtype=torch.bool)
    for m in range(1, limit + 1):
        steps = torch.full((len(solved),), m)
        q_h, q_c = torch.from_numpy(q_halt[:, m - 1]), torch.from_numpy(q_continue[:, m - 1])
        halted = halt_decision(trainee, steps, q_h, q_c, limit)
        stop[(running & halted).numpy()] = m
        running &= ~halted
    return stop


runs_explore = {p: training_halt_steps(p) for p in (0.0, 0.1)}
fig, ax = plt.subplots(figsize=(5.5, 3))
width = 0.38
for k, (p, stop) in enumerate(runs_explore.items()):
    counts = np.bincount(stop, minlength=5)[1:]
    ax.bar(np.arange(1, 5) + (k - 0.5) * width, counts, width, label=f"exploration {p:.0%}")
ax.set_xlabel("segments run before halting (training rule, limit 4)")
ax.set_ylabel("test puzzles")
ax.legend()
plt.tight_layout()
plt.show()
for p, stop in runs_explore.items():
    print(f"exploration {p:.0%}: mean segments {stop.mean():.2f}; halted before the limit: {np.mean(stop < 4):.0%}")
print(f"held longer by exploration: {np.mean(runs_explore[0.1] > runs_explore[0.0]):.1%} of puzzles")

# %% tags=["nbval-check-output"]
kept_longer = np.mean(runs_explore[0.1] > runs_explore[0.0])
assert np.all(runs_explore[0.1] >= runs_explore[0.0]), "exploration can only delay halting"
assert 0.005 < kept_longer < 0.12, "about one puzzle in ten explores, and only some of those are held longer"
print("exploration only delays halting, for a few puzzles in a hundred:", 0.005 < kept_longer < 0.12)

# %% [markdown]
# ## 3. What the Q head learns from
#
# Think of each puzzle as a short game: after every segment the model chooses *halt* (the game
# ends, reward 1 if the answer is entirely right, else 0) or *continue* (no reward now, one more
# segment). Q-learning fits each value to a **target**:
#
# - **halt**: the reward of halting now, $G_{\text{halt}} = \mathbb{1}[\hat y^m = y]$, where the
#   answer is the argmax of the current logits and only scored cells count;
# - **continue**: the value of the best choice at the *next* segment, read from the Q head itself
#   (a bootstrapped target),
#   $G_{\text{continue}} = \sigma\big(\max(\hat Q^{m+1}_{\text{halt}}, \hat Q^{m+1}_{\text{continue}})\big)$,
#   or $\sigma(\hat Q^{m+1}_{\text{halt}})$ when segment $m+1$ is the last allowed and halting is
#   the only choice there.
#
# To know $\hat Q^{m+1}$, the reference runs the inner model **once more**, without gradient, on the
# new carry (`HRM.forward`, step 3): a whole extra segment of compute per training step. It keeps
# no replay buffer and no target network; the large batch of independent puzzles stands in for
# them (the paper cites PQN).
#
# ## Exercise 6.2: the two targets
#
# Write `q_targets(logits, labels, next_q_halt, next_q_continue, is_last)`. `logits` is
# (B, S, V); `labels` (B, S) with `IGNORE_LABEL_ID` (-100) on cells that are not scored;
# `next_q_halt`, `next_q_continue` (B,) logits from the extra pass; `is_last` (B,) bool. Return
# `(halt_target, continue_target)`, each a (B,) float tensor, and leave the inputs unchanged. A row
# with no scored cell (padding only) has nothing wrong in it: its halt target is 1.

# %% exercise="6.2"
from hrm_minimal.data import IGNORE_LABEL_ID


def q_targets(logits, labels, next_q_halt, next_q_continue, is_last):
    """The Q head's targets: (whole answer right now, value of the best next choice)."""
    ### BEGIN SOLUTION
    scored = labels != IGNORE_LABEL_ID  # (B, S)
    right = (logits.argmax(-1) == labels) | ~scored  # (B, S): unscored cells never count against a row
    halt_target = right.all(-1).float()  # (B,)
    best = torch.where(is_last, next_q_halt, torch.maximum(next_q_halt, next_q_continue))
    return halt_target, torch.sigmoid(best)
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_q_targets

q_targets = check_q_targets(q_targets)

# %% [markdown]
# ## 4. The loss of a segment
#
# Lesson 05's `deep_supervision_step` minimised `act_loss` without looking inside. It adds three
# terms:
#
# $$\mathcal{L} = \mathcal{L}_{\text{lm}} + \tfrac12\big(\mathcal{L}_{\text{halt}} + \mathcal{L}_{\text{continue}}\big),$$
#
# - $\mathcal{L}_{\text{lm}}$: the answer's cross-entropy, averaged over each puzzle's scored cells
#   (a puzzle with none adds 0), then over the puzzles. The reference uses **stablemax** in place of softmax (Prieto et al.,
#   *Grokking at the edge of numerical stability*): $s(x) = x + 1$ for $x \ge 0$ and $1/(1-x)$ for
#   $x < 0$ replace $e^x$, which keeps the loss from pushing logits to extremes on a small data
#   set. `hrm_minimal.losses.stablemax_cross_entropy(logits, labels)` gives the (B, S) per-cell loss,
#   0 on ignored cells.
# - $\mathcal{L}_{\text{halt}}$: binary cross-entropy of $\hat Q_{\text{halt}}$ (a logit) against the
#   halt target of Exercise 6.2, averaged over the batch.
# - $\mathcal{L}_{\text{continue}}$: the same for $\hat Q_{\text{continue}}$ against
#   `outputs["target_q_continue"]`, which `HRM.forward` adds only in training with a limit above 1;
#   without it this term is 0.
#
# ## Exercise 6.3: the ACT loss
#
# Write `act_loss(outputs, labels)`: `outputs` is the dict `HRM.forward` returns (`"logits"`
# (B, S, V), `"q_halt_logits"` and `"q_continue_logits"` (B,), and maybe `"target_q_continue"`
# (B,)); return the loss as a tensor with gradient, to every output that has one, and leave the
# inputs unchanged. `F.binary_cross_entropy_with_logits` is the BCE on logits.

# %% exercise="6.3"
import torch.nn.functional as F

from hrm_minimal.losses import stablemax_cross_entropy


def act_loss(outputs, labels):
    """lm + 0.5 (halt + continue) for one segment: a scalar tensor."""
    ### BEGIN SOLUTION
    logits = outputs["logits"]
    scored = labels != IGNORE_LABEL_ID  # (B, S)
    per_cell = stablemax_cross_entropy(logits, labels)  # (B, S), 0 where ignored
    lm = (per_cell.sum(-1) / scored.sum(-1).clamp_min(1)).mean()  # per puzzle, then over puzzles
    halt_target = ((logits.argmax(-1) == labels) | ~scored).all(-1).float()
    q = F.binary_cross_entropy_with_logits(outputs["q_halt_logits"], halt_target)
    if "target_q_continue" in outputs:
        q = q + F.binary_cross_entropy_with_logits(outputs["q_continue_logits"], outputs["target_q_continue"])
    return lm.float() + 0.5 * q
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_act_loss

act_loss = check_act_loss(act_loss)

# %% [markdown]
# ## 5. Harder puzzles take more segments
#
# Now let the Q head decide at evaluation too: each test puzzle stops at the first segment where
# $\hat Q_{\text{halt}} > \hat Q_{\text{continue}}$ (`run["halt_step"]`, at most 16). The data
# card rates every puzzle by the number of guesses a plain depth-first solver makes (`rating`;
# 0 means that filling in forced cells alone solves it). If the head has learned something about
# difficulty, puzzles with higher ratings should run longer.

# %% tags=["nbval-ignore-output"]
halt_step, rating = run["halt_step"], test6.ratings
bins = [(0, 0, "0"), (1, 2, "1-2"), (3, 5, "3-5"), (6, 10**6, "6+")]
means, counts = [], []
for low, high, _ in bins:
    members = (rating >= low) & (rating <= high)
    means.append(halt_step[members].mean())
    counts.append(int(members.sum()))
correlation = float(np.corrcoef(halt_step, rating)[0, 1])

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.3))
left.bar([b[2] for b in bins], means, color="tab:purple")
for k, (m, n) in enumerate(zip(means, counts)):
    left.text(k, m, f"n={n}", ha="center", va="bottom", fontsize=8)
left.set_xlabel("puzzle rating (solver guesses)")
left.set_ylabel("mean segments before the Q head halts")
left.set_title(f"ACT halting at evaluation (correlation {correlation:.2f})")
right.plot(range(1, READ + 1), run["exact_by_segment"], marker="o", markersize=3, label="exact after segment m")
right.axhline(run["exact_at_q_halt"], color="black", ls=":", label=f"halting by Q: {run['mean_segments']:.1f} segments on average")
right.set_xlabel("segment m")
right.set_ylabel("exact accuracy")
right.legend(fontsize=8)
plt.tight_layout()
plt.show()
print("mean segments by rating bin:", ", ".join(f"{b[2]}: {m:.2f}" for b, m in zip(bins, means)))

# %% tags=["nbval-check-output"]
print(f"correlation of segments used with rating > 0.15: {correlation > 0.15}")
print(f"rated 6+ puzzles run longer than rating-0 ones: {means[-1] > means[0] + 0.5}")
assert correlation > 0.15 and means[-1] > means[0] + 0.5, "harder puzzles should take more segments"

# %% [markdown]
# And how often is the head right? At each segment, $\hat Q_{\text{halt}} > 0$ is a bet that the
# answer is right; compare it with the truth. Then compare halting by Q with the reference's
# evaluation, which runs all 16 segments.

# %% tags=["nbval-check-output"]
bet_right = ((q_halt > 0) == solved).mean(0)  # (16,) one accuracy per segment
print("Q-halt sign right at segments 1, 2, 4, 8, 16:", " ".join(f"{bet_right[k - 1]:.2f}" for k in (1, 2, 4, 8, 16)))
print(f"halting by Q: {run['mean_segments']:.1f} segments on average, exact {run['exact_at_q_halt']:.2f}; "
      f"all 16 segments: exact {run['exact_accuracy']:.2f}")
assert bet_right.min() > 0.8, "the Q head's bet should be right on most puzzles"
assert run["mean_segments"] < 8 and run["exact_at_q_halt"] > run["exact_accuracy"] - 0.02
print("Q halting keeps the accuracy with half the segments or fewer:",
      run["mean_segments"] < 8 and run["exact_at_q_halt"] > run["exact_accuracy"] - 0.02)

# %% [markdown]
# ## 6. Inference-time scaling
#
# A model trained with a limit of $N_{\text{train}}$ segments can be read with more: the paper's
# *inference-time scaling*. Read the three 6x6 models of the course, the same recipe trained with
# 1, 2 and 4 segments (lesson 05 met the first two), with 1 to 16 segments.

# %% tags=["nbval-ignore-output"]
models = {1: load_pretrained("sudoku-6x6-one-segment")[0], 2: load_pretrained("sudoku-6x6")[0], 4: four}
scaling = {n: evaluate(m, test6, max_steps=READ, progress=False)["exact_by_segment"] if n != 4 else run["exact_by_segment"]
           for n, m in models.items()}
reads = (1, 2, 4, 8, 16)
print("exact accuracy on 1,000 test puzzles")
print("trained with | " + " | ".join(f"read {r:>2}" for r in reads))
for n, curve in scaling.items():
    print(f"{n:>12} | " + " | ".join(f"{curve[r - 1]:7.3f}" for r in reads))

# %% [markdown]
# Each model is worth little read with fewer segments than it was trained with, and the models
# trained with 2 and 4 keep improving past their training limit before they level off. The model
# trained with one segment never learned to use a second one.

# %% tags=["nbval-check-output"]
gain = {n: scaling[n][READ - 1] - scaling[n][n - 1] for n in scaling}  # from its training limit to 16
print("gain from reading 16 instead of the training limit, above 1 point:", {n: bool(g > 0.01) for n, g in gain.items()})
assert gain[2] > 0.05 and gain[4] > 0.01 and gain[1] <= 0.01
assert scaling[4][0] < scaling[4][3] - 0.3 and scaling[2][0] < scaling[2][1] - 0.3

# %% [markdown]
# ## 7. The probabilistic alternative: PonderNet
#
# PonderNet (Banino et al., 2021) halts differently. At each step $n$ it outputs a halting
# probability $\lambda_n$; the chance of stopping exactly at $n$ is
# $p_n = \lambda_n \prod_{j<n}(1-\lambda_j)$, and the loss is the *expected* loss under that
# distribution plus a KL term towards a geometric prior: $\sum_n p_n \mathcal{L}_n +
# \beta\,\mathrm{KL}(p \,\|\, \mathrm{Geom}(\lambda_p))$. The halting probabilities get gradient
# directly from the task loss: no reward, no bootstrapping, no exploration.
#
# What it would cost here:
# - **Compute.** Every puzzle must run all $N$ segments in training to have every $\mathcal{L}_n$,
#   where HRM's rule stops many puzzles early (section 2: 3.2 of 4 segments on average). HRM
#   pays instead one extra forward segment per step for the continue target.
# - **Memory and the detached carry.** $p_n$ multiplies $\lambda$'s from all earlier segments, so
#   the gradient of segment $n$'s weight reaches back through every earlier segment's halting
#   output; lesson 05's detached carry and one optimiser step per segment no longer fit as they
#   are, unless the $\lambda$ graph alone is kept (it is small: one number per segment).
# - **Fit with deep supervision.** HRM's streaming batch takes one optimiser step per segment and
#   lets each slot halt on its own; PonderNet's expected loss is a sum over a whole run, one step
#   per puzzle.
#
# Q-learning's halting fits the one-step-per-segment loop; PonderNet's fits a loop that unrolls
# every step and backpropagates once.

# %% [markdown]
# ## What you built
#
# - `halt_decision`: stop at the limit or where $\hat Q_{\text{halt}} > \hat Q_{\text{continue}}$,
#   with the reference's exploration, and only in training (`HRM.halt_decision`).
# - `q_targets`: the halt target (whole answer right) and the bootstrapped continue target
#   (`metrics.sequence_correct`, `model.q_continue_target`).
# - `act_loss`: stablemax cross-entropy per puzzle plus half the two BCE terms
#   (`losses.act_loss`).
# - Measured on the 4-segment 6x6 model: exploration only delays halting, for a few puzzles in a
#   hundred; harder puzzles run more segments; halting by Q keeps the accuracy of 16 segments with
#   a fraction of them; models read past their training limit improve, except the one trained
#   with a single segment.

# %% [markdown]
# ## Questions
#
# 1. With exploration off and a head that halts every puzzle at segment 1 from the start, which
#    Q value could ever learn that continuing is better? Which target would it need?
# 2. The continue target at the last allowed segment is $\sigma(\hat Q_{\text{halt}}^{m+1})$. Why
#    not $\max$ there too?
# 3. At evaluation the reference runs every puzzle to the limit. Section 5 halted by Q instead.
#    Which answer is the one the reference reports, and when would the two differ?
# 4. The halt target uses the argmax answer, so it is 0 or 1. What would change if it were the
#    fraction of right cells (the wrong answer Exercise 6.2 rejects)?
# 5. TRM drops the continue value and halts where $\sigma(\hat Q_{\text{halt}}) > 0.5$
#    (`act_continue=False` here). What does it save per training step, and what information does
#    the halting rule lose?
# 6. Grade yourself: `python -m hrm_minimal.grade lessons/06_adaptive_computation_time.ipynb`.
