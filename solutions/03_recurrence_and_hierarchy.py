# %% [markdown]
# # Lesson 03: Recurrence and the two-level hierarchy
#
# {{COLAB_BADGE}}
#
# Lesson 01 ended with a plain Transformer that solves few 6x6 Sudokus in one pass: a fixed stack of
# layers can follow a chain of deductions only so far. HRM's answer is to run small modules again
# and again on their own output. This lesson builds that recurrence in two steps:
#
# - a **flat** recurrent module, $z \leftarrow f(z + x)$, with the puzzle injected at every step
#   (Exercise 3.1), and why it settles: its inputs never change, so it slides into a fixed point and
#   stops computing;
# - HRM's **two modules**, a fast L updated `L_cycles` times for every update of a slow H, with the
#   reference's names (Exercise 3.2);
# - the paper's picture of the difference, measured on trained models: the forward residuals, with
#   a widget that steps through a segment.
#
# Everything here runs forward only, without gradient. Which steps carry gradient (only the last
# one of each module) is lesson 04's subject.

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
# ## 1. Input injection and a flat recurrent module
#
# A module of HRM (lesson 02) is a short stack of blocks, $f$. A *recurrent* module applies the same
# $f$ to its own output, step after step. If it only saw the puzzle once, at the start, each step
# could wash a little more of it out; so the puzzle's embedding $x$ is **injected** at every step,
# added to the state before the blocks run:
#
# $$z^{k} = f\big(z^{k-1} + x\big), \qquad k = 1, 2, \dots$$
#
# The package's modules take the injection as an argument: `module(z, injection, cos_sin)` computes
# $f(z + \text{injection})$. For the exercise you get $f$ alone (the module with a zero injection),
# so the injection is yours to write.
#
# ## Exercise 3.1: the flat recurrence
#
# Write `flat_recurrence(f, z, x, steps)`: `f` maps a state (B, S, D) to a new state of the same
# shape, `z` is the starting state, `x` the input embeddings (B, S, D). Apply
# $z \leftarrow f(z + x)$ `steps` times and return the final state, a tensor (B, S, D).

# %% exercise="3.1"
import torch


def flat_recurrence(f, z: torch.Tensor, x: torch.Tensor, steps: int) -> torch.Tensor:
    """z <- f(z + x), `steps` times: the state after the last step, (B, S, D)."""
    ### BEGIN SOLUTION
    for _ in range(steps):
        z = f(z + x)  # the input is injected at every step
    return z
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_flat_recurrence

flat_recurrence = check_flat_recurrence(flat_recurrence)

# %% [markdown]
# The package has this loop as a model of its own: `HRMConfig(architecture="flat")` removes H from
# HRM and runs L alone, $z_L \leftarrow f_L(z_L + x)$, for as many module calls per segment as HRM
# makes (`H_cycles * (L_cycles + 1)`, 6 for our `cpu-small` models), so both do the same compute.
# The course ships one trained exactly like the 6x6 HRM of lesson 01 (`sudoku-6x6-flat`; the data
# card gives the command). Your function runs it: one segment of the shipped flat model, from its
# starting state, is `flat_recurrence` with $f$ = its L module's blocks.

# %% tags=["nbval-check-output"]
from hrm_minimal.data import load_task
from hrm_minimal.evaluate import load_pretrained

test = load_task("sudoku-6x6", "test")
flat, flat_file = load_pretrained("sudoku-6x6-flat")
hrm, hrm_file = load_pretrained("sudoku-6x6")
inner = flat.inner
inputs = torch.from_numpy(test.inputs[:8])  # (8, 36) tokens
with torch.no_grad():
    x = inner.input_embeddings(inputs, torch.zeros(8, dtype=torch.long))  # (8, 37, 64): prefix + 36 cells
    cos_sin = inner.rotary()
    z0 = inner.reset_carry(torch.ones(8, dtype=torch.bool), inner.empty_carry(8)).z_L  # L_init everywhere
    f = lambda h: inner.L_level(h, torch.zeros_like(h), cos_sin)  # noqa: E731  (the blocks alone)
    mine = flat_recurrence(f, z0, x, flat.config.flat_steps)
    package = inner.segment(z0, z0, x, cos_sin)[1]  # the flat model's segment: (z_H unused, z_L)
print(f"flat model: {flat.config.flat_steps} calls of one module per segment, "
      f"{sum(p.numel() for p in flat.parameters()):,} parameters (HRM: {sum(p.numel() for p in hrm.parameters()):,})")
same = torch.allclose(mine, package, atol=1e-5)
print("your loop gives the shipped flat model's state:", same)
assert same, "flat_recurrence should reproduce the flat model's segment"

# %% [markdown]
# ## 2. Two modules at two speeds
#
# HRM splits the recurrence in two. The **low-level** module L does the fast, detailed work; the
# **high-level** module H updates slowly and steers it. Within one segment, with the reference's
# names:
#
# $$\text{for } h = 1..\texttt{H\_cycles}: \quad
#   \Big[\text{for } l = 1..\texttt{L\_cycles}:\; z_L \leftarrow f_L(z_L + z_H + x)\Big], \quad
#   z_H \leftarrow f_H(z_H + z_L).$$
#
# Read the injections: L gets the puzzle **and** H's current state; H gets only L's result, never
# the puzzle directly. While H holds still, L's inputs are fixed and L settles, as the flat module
# does; then H moves, and L faces a new problem. The paper calls this *hierarchical convergence*:
# L converges again and again, to a different point each time, and H converges slowly over the
# whole run. A segment ends with the model reading its answer from $z_H$: `lm_head(z_H)`.
#
# ## Exercise 3.2: one segment
#
# Write `hrm_segment(inner, z_H, z_L, x, cos_sin)`: `inner` is an `HRMInner`; its modules are
# `inner.L_level` and `inner.H_level`, called as `module(state, injection, cos_sin)`; the cycle
# counts are `inner.config.H_cycles` and `inner.config.L_cycles`. `z_H`, `z_L` and `x` are
# (B, P+S, D). Return the tuple `(z_H, z_L)` after one segment.

# %% exercise="3.2"
def hrm_segment(inner, z_H: torch.Tensor, z_L: torch.Tensor, x: torch.Tensor, cos_sin):
    """One segment of HRM: H_cycles x (L_cycles L updates, then one H update). Returns (z_H, z_L)."""
    ### BEGIN SOLUTION
    for _ in range(inner.config.H_cycles):
        for _ in range(inner.config.L_cycles):
            z_L = inner.L_level(z_L, z_H + x, cos_sin)  # z_L <- f_L(z_L + z_H + x)
        z_H = inner.H_level(z_H, z_L, cos_sin)  # z_H <- f_H(z_H + z_L)
    return z_H, z_L
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_hrm_segment

hrm_segment = check_hrm_segment(hrm_segment)

# %% [markdown]
# Run your segment on the shipped HRM, segment after segment, carrying the states over, and read
# the board from $z_H$ after each: it is the model's own forward (`HRM.forward`, which also handles
# halting, lesson 06), and the answers improve from segment to segment.

# %% tags=["nbval-check-output"]
inner = hrm.inner
labels = torch.from_numpy(test.labels[:8])  # (8, 36)
with torch.no_grad():
    x = inner.input_embeddings(inputs, torch.zeros(8, dtype=torch.long))  # (8, 37, 64)
    start = inner.reset_carry(torch.ones(8, dtype=torch.bool), inner.empty_carry(8))
    z_H, z_L = start.z_H, start.z_L  # H_init and L_init at every position
    solved = []
    for segment in range(4):
        z_H, z_L = hrm_segment(inner, z_H, z_L, x, inner.rotary())
        board = inner.lm_head(z_H)[:, 1:].argmax(-1)  # (8, 36): the prefix position dropped
        solved.append(int((board == labels).all(-1).sum()))
    carry = hrm.initial_carry({"inputs": inputs})
    for segment in range(4):
        carry, out = hrm(carry, {"inputs": inputs}, max_steps=4)
same = torch.equal(board, out["logits"].argmax(-1))
print("puzzles of 8 solved after segments 1-4, your loop:", solved)
print("the same boards as the package's HRM after 4 segments:", same)
assert same and solved[-1] > solved[0]

# %% [markdown]
# ## 3. Forward residuals: does the computation keep going?
#
# How much does each module call still change its state? The paper plots the **forward residual**
# $\lVert z^{k} - z^{k-1} \rVert$ of every step over a long run: a recurrent network's falls to
# nothing after a few steps (it has converged and does no more work), while HRM's L residual falls
# within each cycle and jumps back up each time H updates, so HRM keeps computing for many more
# steps. `hrm_minimal.trace.trace_segments` records every module call of a model (through forward
# hooks, so the states are the model's own) with its residual, relative to the state's size, and
# the board the model would write after it. Here: 8 segments, 48 module calls, on 100 test puzzles,
# for the shipped HRM and the shipped flat model (same compute, same training recipe).

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt
import numpy as np

from hrm_minimal.model import HRM
from hrm_minimal.trace import trace_segments
from hrm_minimal.utils import seed_everything
from hrm_minimal.viz import plot_residuals

batch = {"inputs": torch.from_numpy(test.inputs[:100])}  # (100, 36)
segments = 8
traces = {"HRM": trace_segments(hrm, batch, segments), "flat": trace_segments(flat, batch, segments)}
seed_everything(0)  # the same models untrained: fresh random weights of the same shapes
untrained = {"HRM": trace_segments(HRM(hrm.config), batch, segments),
             "flat": trace_segments(HRM(flat.config), batch, segments)}

fig, axes = plt.subplots(2, 2, figsize=(11, 6.5), sharey=True)
for row, (state, group) in enumerate((("trained", traces), ("untrained", untrained))):
    for col, name in enumerate(("HRM", "flat")):
        ax = axes[row, col]
        plot_residuals(ax, group[name])
        ax.set_title(f"{name}, {state}")
        ax.legend(loc="lower left", fontsize=8)
        if row == 0:
            ax.set_xlabel("")
fig.suptitle("forward residual of every module call over 8 segments (dotted: segment boundaries)")
plt.tight_layout()
plt.show()

# %% [markdown]
# What the trained models show (the next cell measures it):
#
# - **The flat module settles.** Its residual falls smoothly, call after call, to a small fraction
#   of a percent: by the last segments it barely moves its state.
# - **HRM's L residual saws.** Within each cycle it falls (L settling while H holds still), and right
#   after each H update it jumps back up (L facing a new context). HRM's late residual stays well
#   above the flat model's.
# - At our scale HRM settles too, only more slowly: its residuals also shrink segment by segment
#   (by about a hundredfold over the 8 segments), though in every segment its mean L residual stays
#   above the flat module's. Both models stop improving their answers after a few segments (the
#   boards' accuracy below). The paper's run is far longer and its model far larger; what we can say
#   is that the *pattern* is there, not that it keeps HRM busy indefinitely.
#
# The untrained models (bottom row) tell the rest: **untrained, neither model settles**. A random
# network is no contraction; the flat module's residual drops over the first few calls and then
# stays near 0.15 to the end. Settling into a fixed point is something training teaches. The jump
# after each H update, on the other hand, is there before any training: it comes from
# the architecture, H changing L's input.

# %% tags=["nbval-check-output"]
def late(trace, kind="L", last=2):
    """Mean residual of `kind` calls over the last `last` segments."""
    keep = [i for i in trace.calls(kind) if trace.segment[i] >= segments - last]
    return float(np.mean(trace.residual[keep]))


def saw(trace):
    """(cycles in which L's residual falls, H updates after which it jumps back up, H updates followed by L)."""
    r, h_calls = trace.residual, trace.calls("H")
    falls = sum(r[h - 1] < r[h - 2] for h in h_calls)  # L's last call vs the one before, each cycle
    jumps = sum(r[h + 1] > r[h - 1] for h in h_calls[:-1])  # L right after H vs L right before it
    return int(falls), int(jumps), len(h_calls) - 1


def by_segment(trace):
    """Mean residual of the L calls in each segment."""
    return np.array([np.mean(trace.residual[[i for i in trace.calls("L") if trace.segment[i] == s]])
                     for s in range(segments)])


hrm_trace, flat_trace = traces["HRM"], traces["flat"]
falls, jumps, n_h = saw(hrm_trace)
flat_first, flat_late, hrm_late = flat_trace.residual[0], late(flat_trace), late(hrm_trace)
hrm_first = hrm_trace.residual[0]
print(f"flat, trained: first call {flat_first:.1f}, last two segments {flat_late:.3f} ({flat_late / flat_first:.1%} of the first)")
print(f"HRM, trained: L residual falls within {falls} of {n_h + 1} cycles and jumps back up after "
      f"{jumps} of {n_h} H updates; last two segments {hrm_late:.3f} ({hrm_late / flat_late:.1f}x the flat model's, "
      f"{hrm_late / hrm_first:.1%} of its first)")
hrm_above = by_segment(hrm_trace) > by_segment(flat_trace)
print(f"HRM's mean L residual above the flat module's in {hrm_above.sum()} of {segments} segments")
u_falls, u_jumps, _ = saw(untrained["HRM"])
print(f"untrained, last two segments: flat {late(untrained['flat']):.2f}, HRM {late(untrained['HRM']):.2f}; "
      f"HRM's L residual jumps after {u_jumps} of {n_h} H updates")
assert flat_late < 0.01 * flat_first, "the trained flat module should settle"
assert jumps >= 12 and falls >= 12, "HRM's L residual should fall within cycles and jump after H"
assert hrm_late > 1.5 * flat_late, "HRM should keep computing more than the flat model late in the run"
assert hrm_late < 0.05 * hrm_first and hrm_above.all(), "HRM settles too, more slowly than the flat module"
assert late(untrained["flat"]) > 0.05 and late(untrained["HRM"]) > 0.05, "untrained, neither model settles"
assert u_jumps >= 11, "the jump after each H update should be there before training"
print("trained: the flat module settles, HRM's L residual saws and stays higher:",
      flat_late < 0.01 * flat_first and jumps >= 12 and hrm_late > 1.5 * flat_late)
print("trained: HRM settles too, more slowly:", hrm_late < 0.05 * hrm_first and bool(hrm_above.all()))
print("untrained: neither model settles, and HRM's L residual jumps after H updates:",
      late(untrained["flat"]) > 0.05 and late(untrained["HRM"]) > 0.05 and u_jumps >= 11)

# %% [markdown]
# And what the two models write: exact accuracy on these 100 puzzles after each segment, read from
# the traces' boards. Both improve over the first segments and then level off; HRM ends a few
# puzzles ahead (the data card gives both on the whole test split, read with 16 segments).

# %% tags=["nbval-check-output"]
truth = test.labels[:100]  # (100, 36)
exact = {}
for name, trace in traces.items():
    ends = [i for i in range(len(trace)) if i == len(trace) - 1 or trace.segment[i + 1] != trace.segment[i]]
    exact[name] = np.array([(trace.boards[i] == truth).all(-1).mean() for i in ends])  # (8,) one per segment
    print(f"{name:>4}: exact after segments 1-8:", " ".join(f"{e:.2f}" for e in exact[name]))
improve = all(e[3] > e[0] + 0.5 and abs(e[-1] - e[3]) < 0.05 for e in exact.values())
print("both improve over the first segments, then level off:", improve)
print("HRM ends ahead:", exact["HRM"][-1] > exact["flat"][-1])
assert improve and exact["HRM"][-1] > exact["flat"][-1]

# %% [markdown]
# ## 4. Step through a segment
#
# Move the slider over HRM's 48 module calls: the left panel marks the call on the residual
# curves, the right panel shows the board the model would write at that moment for one puzzle
# (givens black, right cells green, wrong red). The board changes only at H calls: L works
# underneath, and H decides what to write (the next cell checks it). Switch to the flat model to
# compare: its one module writes the board, so any call may change it. Below the widget, a static
# figure of a few chosen calls for readers of the rendered notebook.

# %% tags=["nbval-check-output"]
def board_changes(trace):
    """Which kinds of call ever change the board the model would write, as a sorted string."""
    return "".join(sorted({trace.kinds[i] for i in range(1, len(trace))
                           if not np.array_equal(trace.boards[i], trace.boards[i - 1])}))


print("calls that change HRM's board:", board_changes(hrm_trace), "| the flat model's:", board_changes(flat_trace))
assert board_changes(hrm_trace) == "H" and board_changes(flat_trace) == "L"

# %% tags=["nbval-ignore-output"]
from IPython.display import display

from hrm_minimal.viz import draw_trace_step

puzzle = 0  # one of the 100 traced puzzles

try:
    import ipywidgets as widgets

    def show(model="HRM", call=0, puzzle=puzzle):
        trace = traces[model]
        display(draw_trace_step(trace, min(call, len(trace) - 1), test.inputs[puzzle], test.labels[puzzle],
                                index=puzzle))

    widgets.interact(show, model=["HRM", "flat"], call=widgets.IntSlider(0, 0, len(hrm_trace) - 1),
                     puzzle=widgets.IntSlider(puzzle, 0, 99))
except ImportError:
    print("ipywidgets is not installed: see the static figure below")

# %% tags=["nbval-ignore-output"]
for call in (0, 2, 8, 47):  # the first L call, the first H call, segment 2's first H call, the last call
    display(draw_trace_step(hrm_trace, call, test.inputs[puzzle], test.labels[puzzle], index=puzzle, size=2.6))

# %% [markdown]
# ## What you built
#
# - `flat_recurrence`: a recurrent module with input injection, $z \leftarrow f(z + x)$, which is the
#   shipped flat model's segment.
# - `hrm_segment`: HRM's nested loop, `L_cycles` updates of $z_L \leftarrow f_L(z_L + z_H + x)$
#   per update of $z_H \leftarrow f_H(z_H + z_L)$, `H_cycles` times: the segment of the shipped HRM.
# - Measurements of the forward residuals: trained, the flat module settles into a fixed point while
#   HRM's L module is knocked out of it by every H update; untrained, neither settles, yet HRM's
#   jump at each H update is already there (it comes from the architecture; settling is learned).
#
# `hrm_minimal.model.HRMInner.segment` is the package's version of your `hrm_segment` (with the
# gradient window lesson 04 adds).

# %% [markdown]
# ## Questions
#
# 1. Remove the injection after the first step (`f(z)` instead of `f(z + x)`). What can the module
#    still know about the puzzle after ten steps?
# 2. H never sees $x$. Where does its information about the puzzle come from, and what would change
#    if it did see $x$?
# 3. The trained flat model solves nearly as many puzzles as HRM here (the data card: 82.5% against
#    88.1%), with half the parameters. What does that suggest about how much the hierarchy adds at
#    this scale? (The ARC Prize team's ablations found the same on ARC; lesson 08 returns to it.)
# 4. Both trained models stop improving after a few segments while their residuals are still
#    above zero. Is a small residual the same as a right answer? What would you measure to decide
#    when to stop?
# 5. Untrained, the flat module does not settle. What property of $f$ makes $z \leftarrow f(z + x)$
#    converge, and how could training produce it?
# 6. Grade yourself: `python -m hrm_minimal.grade lessons/03_recurrence_and_hierarchy.ipynb`.
