# %% [markdown]
# # Lesson 09: Reasoning or guessing?
#
# {{COLAB_BADGE}}
#
# A claim often made for HRM is that its layered recurrence lets us trace how an answer is built,
# segment by segment, like a chain of reasoning. A 2026 mechanistic analysis tested that on
# Sudoku-Extreme (Ren and Liu, *Are Your Reasoning Models Reasoning or Guessing? A Mechanistic
# Analysis of Hierarchical Reasoning Models*, arXiv 2601.10679; code at
# `renrua52/hrm-mechanistic-analysis`). It reports three things:
#
# - the model can fail even a puzzle with one empty cell;
# - the answer does not improve evenly: one step suddenly makes it right (they call it "grokking"
#   across reasoning steps);
# - the states have several fixed points: the model settles on one, right or wrong, and stays
#   there for a while or for good. It "guesses" a fixed point more than it reasons its way to one.
#
# From that picture they make more guesses: reading each puzzle under many symmetries and voting,
# voting over several checkpoints, and mixing easier puzzles into training. Together these take
# the reference's model on Sudoku-Extreme from 55.0% to 96.9% exact ("Augmented HRM").
#
# This lesson checks such claims on the course's trained models, on a CPU:
#
# - record the trajectory of every 6x6 test puzzle through 16 segments; when does its answer
#   settle (Exercise 9.1)? Solved and failed puzzles, side by side;
# - what reading more segments does, up to 64;
# - test-time augmentation: map an answer back from a symmetry (Exercise 9.2), vote (Exercise 9.3),
#   and measure what K = 1, 3, 9 symmetries buy, and at what cost; then vote over models;
# - what the analysis reports, next to what we measured.

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
# ## 1. The trajectory of a puzzle
#
# `hrm_minimal.trace.trace_puzzles(model, inputs, segments)` runs the model unchanged (forward hooks
# only read) and keeps, for every puzzle and segment: the answer at the segment's end
# (`segment_boards`, the model's own argmax), both Q values, and how far each state moved. With
# `states="segments"` it also keeps the states $z_H$ and $z_L$ at the end of every segment, with
# `states="calls"` after every module call. The same record drives lesson 07's step-through explorer.
#
# We trace the shipped 6x6 model (trained with 2 segments a puzzle, read with 16: 88.1% exact) on
# all 1,000 test puzzles.

# %% tags=["nbval-ignore-output"]
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from hrm_minimal.data import load_task
from hrm_minimal.evaluate import load_pretrained
from hrm_minimal.trace import trace_puzzles

torch.manual_seed(0)
test6 = load_task("sudoku-6x6", "test")
model6, _ = load_pretrained("sudoku-6x6")
start = time.perf_counter()
trace = trace_puzzles(model6, test6.inputs, 16)  # answers, Q values and state movement per segment
wrong = trace.cells_wrong(test6.labels)  # (16, 1000) cells wrong after each segment
solved = wrong[-1] == 0
moved = trace.z_H_movement()  # (16, 1000) ||z_H(end) - z_H(start)|| / ||z_H(start)|| per segment
print(f"traced {trace.num_puzzles} puzzles x {trace.num_segments} segments in {time.perf_counter() - start:.1f} s; "
      f"solved after 16: {solved.mean():.1%}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
segments = np.arange(1, 17)
for mask, name, style in ((solved, "solved", "C2-o"), (~solved, "failed", "C3-s")):
    axes[0].plot(segments, wrong[:, mask].mean(1), style, markersize=3, label=f"{name} ({mask.sum()})")
    axes[1].plot(segments, np.median(moved[:, mask], 1), style, markersize=3, label=name)
axes[0].set(xlabel="segment", ylabel="cells wrong (mean)", title="how wrong the answer is")
axes[1].set(xlabel="segment", ylabel="z_H movement (median)", yscale="symlog", title="how far z_H moves")
axes[1].set_yscale("symlog", linthresh=1e-3)
axes[0].legend()
plt.show()

# %% [markdown]
# Two pictures. Solved puzzles are right after segment 2 or 3 and then their $z_H$ stops moving: the
# state has reached a fixed point. Failed puzzles start as wrong as the solved ones, do not get
# better, and their $z_H$ keeps moving for longer before it too comes to rest, on a wrong answer.

# %% tags=["nbval-check-output"]
still = np.median(moved[6:, solved])  # from segment 7 on
findings = {
    "solved puzzles: z_H at rest from segment 7 on (median movement under 0.001)": still < 1e-3,
    "failed puzzles move longer: median z_H movement in segment 4 over 5 times the solved ones'":
        np.median(moved[3, ~solved]) > 5 * np.median(moved[3, solved]),
    "failed puzzles do not improve: as many cells wrong after 16 segments as after 2 (or more)":
        wrong[-1, ~solved].mean() >= wrong[1, ~solved].mean(),
}
for finding, holds in findings.items():
    print(f"{finding}: {holds}")
assert all(findings.values())

# %% [markdown]
# ## Exercise 9.1: when does the answer settle?
#
# Write `settled_segment(boards)`. `boards` is a NumPy array (segments, N, S): each puzzle's answer at
# the end of each segment. Return an integer array (N,): for each puzzle the earliest segment s
# (counted from 1) such that its answers at s, s+1, ..., the last segment are all identical. A
# puzzle whose answer never changes settles at 1; one whose last segment still changed it settles at
# the last segment (the trace does not show it settling). Careful: an answer that equals the last
# one and then changes again has not settled yet.

# %% exercise="9.1"
def settled_segment(boards):
    """(segments, N, S) answers -> (N,) the 1-based segment from which each answer never changes again."""
    ### BEGIN SOLUTION
    same_as_last = (boards == boards[-1]).all(axis=-1)  # (segments, N)
    settled = np.full(boards.shape[1], boards.shape[0], dtype=np.int64)
    for s in range(boards.shape[0] - 2, -1, -1):  # walk back while the answer is still the last one
        still = same_as_last[s] & (settled == s + 2)  # the same as the last, and settled from s + 2 on
        settled = np.where(still, s + 1, settled)
    return settled
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_settled_segment

settled_segment = check_settled_segment(settled_segment)

# %% [markdown]
# Now sort the 1,000 puzzles by what their trajectories do:
#
# - **converges early**: solved, and its answer settled by segment 3;
# - **jumps late**: solved, but only after segment 4 (wrong, then suddenly right);
# - **trapped**: its last answer is wrong and has settled (a wrong fixed point);
# - **keeps changing**: its last answer is wrong and segment 16 still changed it.

# %% tags=["nbval-ignore-output"]
settled = settled_segment(trace.segment_boards)
solved_from = trace.settled_segment(test6.labels)  # 1-based segment from which it stays solved, 0: never
kinds = {
    "converges early": solved & (settled <= 3),
    "jumps late": solved & (solved_from > 4),
    "trapped": ~solved & (settled < 16),
    "keeps changing": ~solved & (settled == 16),
}
kinds["solved, other"] = solved & ~kinds["converges early"] & ~kinds["jumps late"]
for name, mask in kinds.items():
    print(f"{name:16s} {mask.sum():4d} puzzles ({mask.mean():.1%})")
jump = trace.jumps(test6.labels).sum(0)  # cells wrong just before the segment that solved it
print(f"cells fixed by the segment that solved a puzzle: median {np.median(jump[solved]):.0f} "
      f"(of {np.median((test6.inputs == 1).sum(1)):.0f} empty cells); solved in one jump of 3 or more cells: "
      f"{(jump[solved] >= 3).mean():.0%}")

# %% tags=["nbval-check-output"]
shares = {name: mask.mean() for name, mask in kinds.items()}
findings = {
    "most puzzles converge early (over 80%)": shares["converges early"] > 0.8,
    "late jumps are rare (under 3%)": shares["jumps late"] < 0.03,
    "most failures are trapped on a settled wrong answer (over 3 in 4)":
        kinds["trapped"].sum() > 3 * kinds["keeps changing"].sum(),
    "a solved puzzle is solved in one jump of 3 or more cells (over 80%)": (jump[solved] >= 3).mean() > 0.8,
    "no solved puzzle loses its solution later": ((trace.jumps(test6.labels) > 0).sum(0) <= 1).all(),
}
for finding, holds in findings.items():
    print(f"{finding}: {holds}")
assert all(findings.values())

# %% [markdown]
# ### A picture of the trajectories
#
# Each puzzle's $z_H$ after each segment is a point in a space of 37 x 64 numbers. Project all of
# them onto the two directions along which they vary most (PCA over puzzles and segments) and join
# each puzzle's points in order: 30 solved puzzles in green, 30 failed in red, segment 1 marked
# with a dot, segment 16 with a cross.

# %% tags=["nbval-ignore-output"]
rng = np.random.default_rng(0)
shown = np.concatenate([rng.choice(np.flatnonzero(solved), 30, replace=False),
                        rng.choice(np.flatnonzero(~solved), 30, replace=False)])
with_states = trace_puzzles(model6, test6.inputs[shown], 16, states="segments")
states = with_states.segment_z_H.reshape(16, len(shown), -1)  # (16, 60, 37 * 64)
flat = states.reshape(-1, states.shape[-1])
centre = flat.mean(0)
_, _, directions = np.linalg.svd(flat - centre, full_matrices=False)
points = (states - centre) @ directions[:2].T  # (16, 60, 2)
fig, ax = plt.subplots(figsize=(6, 4.5))
for j, puzzle in enumerate(shown):
    colour = "C2" if solved[puzzle] else "C3"
    ax.plot(points[:, j, 0], points[:, j, 1], "-", color=colour, alpha=0.5, linewidth=1)
    ax.plot(*points[0, j], ".", color=colour)
    ax.plot(*points[-1, j], "x", color=colour)
ax.set(xlabel="first principal direction", ylabel="second", title="z_H after each segment: solved (green), failed (red)")
plt.show()

# %% [markdown]
# Explore single puzzles: the answer after each segment, its cells wrong (red) and how far $z_H$
# moved in each segment. Try a "jumps late" puzzle and a "trapped" one.

# %% tags=["nbval-ignore-output"]
from IPython.display import display

from hrm_minimal.viz import draw_segments


def show_puzzle(kind="jumps late", which=0):
    """The answers of the `which`-th puzzle of a kind after segments 1, 2, 4, 8, 16, and its numbers."""
    members = np.flatnonzero(kinds[kind])
    if len(members) == 0:
        print(f"no puzzle is '{kind}'")
        return
    p = int(members[which % len(members)])
    picks = [0, 1, 3, 7, 15]
    display(draw_segments(trace.segment_boards[picks, p], test6.inputs[p], test6.labels[p], tokens=True,
                          titles=[f"segment {s + 1}" for s in picks]))
    print(f"puzzle {p}: cells wrong by segment {wrong[:, p].tolist()}; settles at {settled[p]}; "
          "z_H movement " + " ".join(f"{x:.3f}" for x in moved[:, p]))


show_puzzle("jumps late")

# %% tags=["nbval-ignore-output"]
# The explorer (needs ipywidgets; the figure above shows one puzzle).
try:
    import ipywidgets as widgets

    widgets.interact(show_puzzle, kind=widgets.Dropdown(options=list(kinds), value="trapped", description="kind"),
                     which=widgets.IntSlider(0, 0, 29, description="which"))
except ImportError:
    print("ipywidgets is not installed: see the figure above")

# %% [markdown]
# ## 2. Reading more segments
#
# Lesson 06 read models with up to 16 segments. Does reading many more help, or does the answer drift
# away from a solution it had? We read the first 300 test puzzles with 64 segments, with this model
# and with lesson 06's model trained with up to 4 segments.

# %% tags=["nbval-ignore-output"]
long_reads = {}
for name in ("sudoku-6x6", "sudoku-6x6-four-segments"):
    model, _ = load_pretrained(name)
    long = trace_puzzles(model, test6.inputs[:300], 64)
    long_wrong = long.cells_wrong(test6.labels[:300])  # (64, 300)
    ever = (long_wrong == 0).any(0)
    long_reads[name] = {"exact": (long_wrong == 0).mean(1), "lost": ever & (long_wrong[-1] > 0),
                        "wrong cells of failures": long_wrong[:, long_wrong[-1] > 0].mean(1)}
fig, ax = plt.subplots(figsize=(6.5, 3.2))
for name, style in zip(long_reads, ("C0-", "C1--")):
    ax.plot(np.arange(1, 65), long_reads[name]["exact"], style, label=name)
ax.set(xlabel="segments read", ylabel="exact (300 test puzzles)", xscale="log", ylim=(0, 1))
ax.legend()
plt.show()
for name, r in long_reads.items():
    print(f"{name}: exact after 16 {r['exact'][15]:.3f}, after 64 {r['exact'][63]:.3f}; puzzles solved at some "
          f"segment but wrong at 64: {r['lost'].sum()}; failed puzzles' wrong cells after 2 / 16 / 64: "
          f"{r['wrong cells of failures'][1]:.2f} / {r['wrong cells of failures'][15]:.2f} / "
          f"{r['wrong cells of failures'][63]:.2f}")

# %% tags=["nbval-check-output"]
two = long_reads["sudoku-6x6"]
findings = {
    "exact accuracy holds from 16 to 64 segments (within 1 point), for both models":
        all(abs(r["exact"][63] - r["exact"][15]) <= 0.01 for r in long_reads.values()),
    "no puzzle solved at some segment is wrong at 64, for both models": all(r["lost"].sum() == 0 for r in long_reads.values()),
    "the failures got worse early on: more wrong cells after 16 segments than after 2":
        two["wrong cells of failures"][15] > two["wrong cells of failures"][1] + 0.5,
}
for finding, holds in findings.items():
    print(f"{finding}: {holds}")
assert all(findings.values())

# %% [markdown]
# At our scale, reading more segments neither helps nor harms the whole-puzzle score: a solved
# puzzle sits at its fixed point and no solved puzzle is lost, even after 64 segments, four times
# what the model was read with and 32 times what it was trained with. A failed puzzle drifts first:
# its answer collects more wrong cells over the first segments, then it too comes to rest, on a
# wrong answer. Where the analysis paper found instability (at scale, late in training), this
# small model is stable.
#
# ## 3. More guesses: test-time augmentation
#
# If a wrong answer is a wrong fixed point the model fell into, a slightly different start might
# fall into the right one. A Sudoku has symmetries that keep it a Sudoku: relabel the digits, permute
# the bands (groups of box rows) and the rows inside a band, the stacks and the columns inside a
# stack (and transpose, when the boxes are square). These are the augmentations the model was trained
# with (lesson 01). Read a puzzle under K symmetries, map each answer back to the puzzle's own frame,
# and vote.
#
# `hrm_minimal.tta.Symmetry` holds one symmetry per puzzle as two permutations: `cells` (N, S) and
# `tokens` (N, V). Applying it to a board x gives `out[r, i] = tokens[r, x[r, cells[r, i]]]`: cell
# `cells[r, i]` moves to cell i and its token is relabelled.
#
# ## Exercise 9.2: map an answer back
#
# Write `unpermute(answers, cells, tokens)`: `answers` (N, S) are the model's answers to the
# transformed puzzles; return them in each puzzle's own frame (N, S), so that
# `unpermute(Symmetry(cells, tokens).apply(x), cells, tokens)` is `x`. Each row has its own
# symmetry. Hint: the inverse of a permutation `p` is `np.argsort(p)`.

# %% exercise="9.2"
def unpermute(answers, cells, tokens):
    """Answers (N, S) of transformed puzzles -> the same answers in each puzzle's own frame."""
    ### BEGIN SOLUTION
    back_cells = np.argsort(cells, axis=1)  # cell i of the puzzle sits at back_cells[r, i] in the answer
    back_tokens = np.argsort(tokens, axis=1)
    moved = np.take_along_axis(answers, back_cells, axis=1)
    return np.take_along_axis(back_tokens, moved, axis=1)
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_unpermute

unpermute = check_unpermute(unpermute)

# %% [markdown]
# ## Exercise 9.3: the per-cell vote
#
# Write `cell_vote(answers)`: `answers` (K, N, S) are K answers to each of N puzzles, all in the
# puzzles' own frame, draw 0 being the plain model's. Return (N, S): each cell's most frequent token
# over the K answers. When tokens tie, take the one the earliest draw gave (so K = 1 is the plain
# answer, and a tie keeps the plain model's token when it is among the tied).

# %% exercise="9.3"
def cell_vote(answers):
    """(K, N, S) answers -> (N, S) each cell's most frequent token, ties to the earliest draw."""
    ### BEGIN SOLUTION
    votes = (answers[:, None] == answers[None]).sum(axis=1)  # (K, N, S): draws agreeing with draw k
    best = votes.argmax(axis=0)  # argmax keeps the earliest of equal counts
    return np.take_along_axis(answers, best[None], axis=0)[0]
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_cell_vote

cell_vote = check_cell_vote(cell_vote)

# %% [markdown]
# Now the measurement. `tta_answers(model, inputs, k)` reads every puzzle under draw 0 (the
# identity) and k - 1 random symmetries, and maps the answers back. One call with K = 9 gives the
# answers for K = 1 and 3 too (its first 1 and 3 draws). To keep the lesson in its time budget we
# read with 4 segments (87% on the plain model; `benchmarks/test_time_augmentation.py` reads with
# 16). Your `unpermute` maps the answers of draw 1 back once more, as a check of the package's.
# The package also votes over whole answers (`answer_vote`: the most frequent complete answer,
# ties to the higher mean confidence of the Q head).

# %% tags=["nbval-ignore-output"]
from hrm_minimal.metrics import sequence_correct
from hrm_minimal.tta import Symmetry, answer_vote, tta_answers

start = time.perf_counter()
answers, q_halt = tta_answers(model6, test6, k=9, seed=0, segments=4)  # (9, 1000, 36) mapped back, (9, 1000)
tta_seconds = time.perf_counter() - start
labels6 = torch.from_numpy(test6.labels)


def exact(board):
    return sequence_correct(torch.from_numpy(np.asarray(board)), labels6).float().mean().item()


tta = {k: {"cell vote": exact(cell_vote(answers[:k])), "answer vote": exact(answer_vote(answers[:k], q_halt[:k]))}
       for k in (1, 3, 9)}
some_right = (answers == test6.labels).all(-1)  # (9, 1000): which draws solved which puzzle
for k, r in tta.items():
    print(f"K={k}: exact {r['cell vote']:.1%} with the cell vote, {r['answer vote']:.1%} with the answer vote; "
          f"some draw right: {some_right[:k].any(0).mean():.1%} ({k} reads of every puzzle)")
print(f"9 reads of 1,000 puzzles with 4 segments: {tta_seconds:.1f} s")

# %% tags=["nbval-check-output"]
findings = {
    "K=1 is the plain model (both votes)": tta[1]["cell vote"] == tta[1]["answer vote"],
    "more symmetries, more solved: K=9 beats K=3 beats K=1, with either vote":
        all(tta[9][v] > tta[3][v] > tta[1][v] for v in ("cell vote", "answer vote")),
    "the whole-answer vote beats the cell vote at K=3 and K=9":
        all(tta[k]["answer vote"] > tta[k]["cell vote"] for k in (3, 9)),
    "9 symmetries and the answer vote add over 7 points to the plain model":
        tta[9]["answer vote"] > tta[1]["answer vote"] + 0.07,
}
for finding, holds in findings.items():
    print(f"{finding}: {holds}")
assert all(findings.values())

# %% [markdown]
# The cost is plain: K symmetries are K reads of every puzzle, K times the compute (and the time
# above). What the vote rescues: puzzles whose plain read fell into a wrong fixed point while other
# views of the same puzzle did not (some draw is right for nearly every puzzle at K = 9).
#
# Why is the whole-answer vote so much stronger here? With few draws, the K answers of a hard
# puzzle often all differ, so no answer wins on votes and the tie goes to the answer whose Q head
# is most confident (`sigmoid(Q_halt)`). The Q head, trained to say whether the answer is right
# (lesson 06), picks the right view. The per-cell vote cannot use it, and it can stitch together a
# grid that no view gave, or one that breaks a rule.
#
# ### On 9x9, and over several models
#
# The same on the shipped 9x9 model (62.8% exact), on the first 200 test puzzles with 4 segments;
# then a vote over models instead of symmetries: the three 6x6 models trained with different
# segment counts and architectures (`vote_models`), each read once.

# %% tags=["nbval-ignore-output"]
from hrm_minimal.tta import vote_models

test9 = load_task("sudoku-9x9", "test")
model9, _ = load_pretrained("sudoku-9x9")
answers9, q9 = tta_answers(model9, test9.subset(slice(0, 200)), k=9, seed=0, segments=4)
labels9 = torch.from_numpy(test9.labels[:200])
tta9 = {k: [sequence_correct(torch.from_numpy(np.asarray(vote)), labels9).float().mean().item()
            for vote in (cell_vote(answers9[:k]), answer_vote(answers9[:k], q9[:k]))] for k in (1, 3, 9)}
print("9x9, 200 puzzles, cell vote / answer vote: " + ", ".join(f"K={k} {c:.1%} / {a:.1%}" for k, (c, a) in tta9.items()))
others = [load_pretrained(name)[0] for name in ("sudoku-6x6", "sudoku-6x6-four-segments", "sudoku-6x6-flat")]
together = vote_models(others, test6, k=1, segments=4)
print("each model alone: " + ", ".join(f"{e:.1%}" for e in together["model_exact"]) +
      f"; voted cell by cell {together['cell_vote_exact']:.1%}, whole answers {together['answer_vote_exact']:.1%}")

# %% tags=["nbval-check-output"]
findings = {
    "9x9: 9 symmetries beat the plain model, with either vote": tta9[9][0] > tta9[1][0] and tta9[9][1] > tta9[1][1],
    "three 6x6 models voted on whole answers beat the best alone by over 5 points":
        together["answer_vote_exact"] > max(together["model_exact"]) + 0.05,
}
for finding, holds in findings.items():
    print(f"{finding}: {holds}")
assert all(findings.values())

# %% [markdown]
# ## 4. What the analysis reports, and what we measured
#
# | claim | Ren and Liu 2026 (Sudoku-Extreme, the reference's 27M model) | here (6x6, a 140k-parameter model, 16 segments) |
# |---|---|---|
# | the answer is settled by a sudden step | "grokking" across reasoning steps: one step makes the answer right | **yes, in the same sense**: a solved puzzle is solved in one jump of several cells, mostly by segment 2 or 3; but a late jump (after segment 4) is rare |
# | several fixed points; the model can be trapped on a wrong one | the model falls into the first fixed point it finds, right or wrong | **yes**: most failures settle on a wrong answer and stay; their $z_H$ moves longer before it does |
# | failure on very easy puzzles | it can fail a puzzle with one empty cell | not measured here (our test split has no such puzzle); try it: blank one cell of a solution |
# | more guesses help | symmetries and checkpoints voted, plus easier training puzzles: 55.0% to 96.9% | **yes, strongly**: 9 symmetries with the whole-answer vote take 6x6 from 87% to 98% (read with 4 segments), three models voted beat the best alone by about 9 points; at 9 (or 3) times the compute |
#
# Honest about scale: our puzzles are easy and our model is small and trained for minutes, so most
# puzzles are solved within two segments, where there is little room for a trajectory to show
# "reasoning" step by step. The fixed-point picture fits what we see; whether the model "reasons"
# inside a segment (lesson 07's step-through shows the answer changing only at H calls) is a
# question these measurements cannot settle.

# %% [markdown]
# ## What you built
#
# - `settled_segment`: when an answer stops changing, checked against `hrm_minimal.trace.settled_segments`;
#   measured on 1,000 trajectories: most puzzles converge within 3 segments, failures are mostly
#   trapped on a wrong answer, and their $z_H$ keeps moving longer.
# - `unpermute` and `cell_vote`: test-time augmentation, checked against `hrm_minimal.tta`; measured:
#   voting over 3 and 9 symmetries beats the plain model, at 3 and 9 times the compute, and the
#   whole-answer vote (ties to the Q head's confidence) beats the per-cell vote.
# - Reading up to 64 segments: the score holds, the failures drift.

# %% [markdown]
# ## Questions
#
# 1. A solved puzzle's $z_H$ stops moving. Why would a fixed point be the natural end of HRM's
#    recurrence (think of lesson 04's one-step gradient and what it assumes)?
# 2. The per-cell vote can produce a grid no single read produced, and one that breaks a Sudoku rule.
#    When would you prefer the whole-answer vote? Compare the two in the table above.
# 3. The vote rescues puzzles the plain model failed. Could it also break puzzles the plain model
#    solved? Count them with `answers` and `labels6`.
# 4. Mixing easier puzzles into training is the analysis paper's third lever. Which shipped data set
#    would you mix in for 6x6, and how would you measure whether it helps?
# 5. Blank one cell of a solved 6x6 grid and read it with the shipped model. Does it fail any such
#    puzzle? Try a hundred.
# 6. Grade yourself: `python -m hrm_minimal.grade lessons/09_reasoning_or_guessing.ipynb`.
