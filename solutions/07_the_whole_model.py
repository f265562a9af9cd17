# %% [markdown]
# # Lesson 07: The whole model
#
# {{COLAB_BADGE}}
#
# Lessons 02 to 06 built HRM piece by piece: the block, the two-level recurrence, the one-step
# gradient, deep supervision and the Q head's halting. This lesson uses the package as a user
# would: train a model through its public API, stop the run and resume it exactly, evaluate it,
# answer puzzles the way the model itself decides to stop, and look inside a trained model one
# module call at a time.
#
# - train, interrupt and resume a 4x4 Sudoku run; the resumed run's loss curve is the
#   uninterrupted one's;
# - the shipped 9x9 Sudoku and 15x15 maze models, read as their cards say;
# - answering with ACT halting (Exercise 7.1);
# - the step-through explorer over a trained model;
# - on a GPU (Colab or your own): a bigger 9x9 run, resumable after a disconnect.

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
# ## 1. Train, stop, resume
#
# `hrm_minimal.train.train(config)` runs the loop of lesson 05 with everything around it: fresh
# augmented batches, the learning-rate schedule, the Q head's exploration, periodic evaluation on
# the test split, a moving average of the weights, a progress bar, and a checkpoint every
# `checkpoint_every` steps and whenever the run stops. `hrm_minimal.recipes` names the settings
# that have been measured; `recipe_config("sudoku-4x4", ...)` is the 4x4 recipe (a 1+1-layer model,
# 2 training segments read with 4) with our changes on top. The same run from a terminal:
# `python -m hrm_minimal.train --task sudoku-4x4 --preset cpu-tiny ...` (its `--help` lists them).
#
# The run folder holds `checkpoint.pt`: the weights, the optimiser's state, the carry of every slot,
# the position in the data stream and the random state, so a stopped run goes on exactly where it
# stopped. We run 800 steps twice: once in one go, once stopped after 400 steps (as a closed laptop
# or a `KeyboardInterrupt` would stop it; an interrupted step is never saved half done) and resumed.

# %% tags=["nbval-ignore-output"]
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from hrm_minimal.recipes import recipe_config
from hrm_minimal.train import train

STEPS = 800
run = dict(max_steps=STEPS, eval_every=200, checkpoint_every=200, overwrite=True)
start = time.perf_counter()
whole = train(recipe_config("sudoku-4x4", out_dir="runs/lesson07/whole", **run))
print(f"{STEPS} steps in {time.perf_counter() - start:.0f} s; checkpoint: {whole['checkpoint']}")

# %% tags=["nbval-ignore-output"]
first = train(recipe_config("sudoku-4x4", out_dir="runs/lesson07/parts", stop_after_steps=STEPS // 2, **run))
print("stopped at step", first["step"])

# %% [markdown]
# The kernel could die here. A new one needs only the same config with `resume=True`
# (`--resume` on the command line); the run folder holds the rest.

# %% tags=["nbval-ignore-output"]
resumed = train(recipe_config("sudoku-4x4", out_dir="runs/lesson07/parts", resume=True,
                              **{k: v for k, v in run.items() if k != "overwrite"}))
print("resumed run ended at step", resumed["step"])

loss_whole = [h["loss"] for h in whole["history"]]
loss_parts = [h["loss"] for h in resumed["history"]]  # the resumed run's history starts at step 1
fig, (ax, parts) = plt.subplots(1, 2, figsize=(11, 3.2))
steps = np.arange(1, STEPS + 1)
ax.plot(steps, loss_whole, color="0.6", lw=3, label="in one go")
ax.plot(steps[: STEPS // 2], loss_parts[: STEPS // 2], color="tab:blue", lw=1, label="first part")
ax.plot(steps[STEPS // 2:], loss_parts[STEPS // 2:], color="tab:orange", lw=1, label="after resuming")
ax.axvline(STEPS // 2, color="black", ls=":", lw=1)
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("training loss")
ax.legend()
for key, label in (("lm_loss", "answer (lm)"), ("q_loss", "Q head (halt + continue)")):
    parts.plot(steps, [h[key] for h in resumed["history"]], lw=1, label=label)
parts.set_yscale("log")
parts.set_xlabel("step")
parts.set_title("the loss's two parts (resumed run)")
parts.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# The curves lie on top of each other. The total rises after a few hundred steps, and the right
# panel shows why: the answer's loss keeps falling, but the Q head's grows. While the model
# solves no puzzle, every halt target is 0 and the head, which starts near $\sigma(-5)$, is right
# for free; once some puzzles come out right, it must tell them apart, and its loss is real.

# %% tags=["nbval-check-output"]
same_curve = loss_parts == loss_whole
same_weights = all(torch.equal(a, b) for a, b in zip(whole["model"].state_dict().values(),
                                                      resumed["model"].state_dict().values()))
print("the resumed run repeats the uninterrupted one, loss for loss and weight for weight:", same_curve and same_weights)
assert same_curve and same_weights

# %% [markdown]
# ## 2. Evaluate it
#
# `evaluate(model, puzzles, max_steps=...)` reads the test split as the reference reports: every
# puzzle runs all its segments, and exact accuracy is the fraction of whole grids right after the
# last. The model `train` returns is the one its evaluations measured (here the moving average of
# its weights). `draw_segments` shows one puzzle's answer after each segment: givens black, right
# answers green, wrong ones red.

# %% tags=["nbval-ignore-output"]
from hrm_minimal.data import load_task
from hrm_minimal.evaluate import evaluate
from hrm_minimal.viz import draw_segments

test4 = load_task("sudoku-4x4", "test")
mine = resumed["model"]
result = evaluate(mine, test4, max_steps=4, progress=False)
print(f"4x4, {result['count']} test puzzles: exact after segments 1-4:",
      " ".join(f"{x:.2f}" for x in result["exact_by_segment"]), f"| cells {result['accuracy']:.3f}")
with torch.no_grad():
    batch = {"inputs": torch.from_numpy(test4.inputs[:1]).to(next(mine.parameters()).device)}  # where train put it
    carry, boards = mine.initial_carry(batch), []
    for _ in range(4):
        carry, out = mine(carry, batch, max_steps=4)
        boards.append(out["logits"].argmax(-1)[0].cpu().numpy())
draw_segments(boards, test4.inputs[0], test4.labels[0], tokens=True)

# %% tags=["nbval-check-output"]
print("most 4x4 test puzzles solved after 800 steps:", result["exact_accuracy"] > 0.5)
assert result["exact_accuracy"] > 0.5

# %% [markdown]
# ## 3. The shipped 9x9 Sudoku and maze models
#
# The course ships models trained by its own commands (the data card, `datasets/README.md`, gives
# each command, its time and its accuracy). `load_pretrained(name)` returns the model and its file;
# the file's card says how many segments it is read with. Read each on the first 200 test puzzles,
# as its card measured them.

# %% tags=["nbval-ignore-output"]
from hrm_minimal.evaluate import load_pretrained, reading_segments

shipped = {}
for name in ("sudoku-9x9", "maze-15x15"):
    model, file = load_pretrained(name)
    segments = reading_segments(file)
    test = load_task(name, "test")
    r = evaluate(model, test, limit=200, max_steps=segments, progress=False)
    card = file["card"]["slice"]
    shipped[name] = (model, test, segments, r, card)
    print(f"{name}: read with {segments} segments: exact {r['exact_accuracy']:.3f} (card: {card['exact_accuracy']:.3f}), "
          f"cells {r['accuracy']:.3f}")

model, test, segments, _, _ = shipped["maze-15x15"]
with torch.no_grad():
    batch = {"inputs": torch.from_numpy(test.inputs[:1])}
    carry, boards = model.initial_carry(batch), []
    for _ in range(segments):
        carry, out = model(carry, batch, max_steps=segments)
        boards.append(out["logits"].argmax(-1)[0].numpy())
draw_segments(boards, test.inputs[0], test.labels[0], kind="maze", tokens=True)

# %% tags=["nbval-check-output"]
as_stated = all(abs(r["exact_accuracy"] - card["exact_accuracy"]) <= 0.01 for _, _, _, r, card in shipped.values())
print("each shipped model reads as its card says:", as_stated)
assert as_stated

# %% [markdown]
# ## 4. Answering as the model decides
#
# `evaluate` runs every puzzle to the end. A user who wants answers can instead let each puzzle
# stop where its Q head says halt (lesson 06): fewer segments for easy puzzles, the same answers
# for most.
#
# ## Exercise 7.1: solve with ACT halting
#
# Write `solve(model, inputs, max_segments)`. `inputs` is (B, S) tokens. Run the model segment by
# segment from `model.initial_carry({"inputs": inputs})`, in evaluation mode and with
# `max_steps=max_segments` passed to each call (so that no slot restarts before the end). A puzzle
# stops at the first segment where `model.q_says_halt(q_halt, q_continue)` is True, or after
# `max_segments`; later segments must not change its answer. Return `(answers, segments)`, both
# integer tensors: (B, S) tokens, the argmax of each puzzle's logits at its stopping segment, and
# (B,) the segments it used, counted from 1. Leave the model in the mode you found it in.

# %% exercise="7.1"
def solve(model, inputs, max_segments):
    """Each puzzle's answer where its Q head first says halt (or at max_segments), and its segments."""
    ### BEGIN SOLUTION
    was_training = model.training
    model.eval()
    batch = {"inputs": inputs}
    carry = model.initial_carry(batch)
    answers = torch.zeros_like(inputs)
    segments = torch.zeros(inputs.shape[0], dtype=torch.long)  # 0: still running
    for m in range(1, max_segments + 1):
        carry, out = model(carry, batch, max_steps=max_segments)
        says = model.q_says_halt(out["q_halt_logits"], out["q_continue_logits"])
        stops = (segments == 0) & (says | (m == max_segments))
        answers = torch.where(stops.unsqueeze(-1), out["logits"].argmax(-1), answers)
        segments = torch.where(stops, torch.full_like(segments, m), segments)
    model.train(was_training)
    return answers, segments
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_solve

solve = check_solve(solve)

# %% [markdown]
# Solve the 1,000 6x6 test puzzles with lesson 06's model (trained with up to 4 segments) and up
# to 16 segments, and compare with reading all 16:

# %% tags=["nbval-ignore-output"]
from hrm_minimal.metrics import sequence_correct

test6 = load_task("sudoku-6x6", "test")
four, _ = load_pretrained("sudoku-6x6-four-segments")
inputs6, labels6 = torch.from_numpy(test6.inputs), torch.from_numpy(test6.labels)
with torch.no_grad():
    answers, used = solve(four, inputs6, 16)
solved_by_q = sequence_correct(answers, labels6).float().mean().item()
all16 = evaluate(four, test6, max_steps=16, progress=False)["exact_accuracy"]
print(f"halting by Q: exact {solved_by_q:.3f} with {used.float().mean():.1f} segments on average "
      f"(most: {used.max().item()}); all 16 segments: exact {all16:.3f}")

# %% tags=["nbval-check-output"]
fewer = abs(solved_by_q - all16) < 0.02 and used.float().mean().item() < 16 / 3
print("the same accuracy for under a third of the segments:", fewer)
assert fewer

# %% [markdown]
# ## 5. Step through a puzzle
#
# What happens inside those segments? `trace_segments(model, batch, segments)` (lesson 03) records
# every module call: the answer the model would write after it, and what its Q head would say.
# `hrm_minimal.stepthrough.step_view` turns one call into what the explorer shows: the board, its
# right cells, the cells changed since the previous call (outlined), and at a segment's end the Q
# values and the halting decision. Below, a hard puzzle (the test split's highest rating) at a
# few chosen steps; the explorer after it lets you choose the puzzle and the step.

# %% tags=["nbval-ignore-output"]
from hrm_minimal.stepthrough import segment_span, step_view
from hrm_minimal.trace import trace_segments
from hrm_minimal.viz import draw_step, draw_steps

TRACE_SEGMENTS = 8
hardest = int(np.argmax(test6.ratings))


def trace_puzzle(model, puzzles, index: int):
    """The trace of one test puzzle over TRACE_SEGMENTS segments."""
    return trace_segments(model, {"inputs": torch.from_numpy(puzzles.inputs[index: index + 1])}, TRACE_SEGMENTS)


trace = trace_puzzle(four, test6, hardest)
chosen = [(1, 3), (1, 6), (2, 6), (3, 6), (4, 6)]  # (segment, step): the first H update, then segment ends
views = [step_view(trace, test6.labels[hardest], four, segment=s, step=k) for s, k in chosen]
print(f"test puzzle {hardest}, rating {test6.ratings[hardest]}; each segment has {segment_span(trace, 1)[1]} calls")
draw_steps(views, test6.inputs[hardest], test6.labels[hardest])

# %% tags=["nbval-ignore-output"]
# The explorer (needs ipywidgets; the static figure above shows five of its steps).
try:
    import ipywidgets as widgets
    from IPython.display import display

    by_rating = np.argsort(-test6.ratings, kind="stable")
    options = [(f"puzzle {i} (rating {test6.ratings[i]})", int(i)) for i in list(by_rating[:8]) + list(range(4))]
    cache = {}

    def show(puzzle: int, segment: int, step: int) -> None:
        if puzzle not in cache:
            cache[puzzle] = trace_puzzle(four, test6, puzzle)
        view = step_view(cache[puzzle], test6.labels[puzzle], four, segment=segment, step=step)
        display(draw_step(view, test6.inputs[puzzle], test6.labels[puzzle]))

    steps_per_segment = segment_span(trace, 1)[1]
    widgets.interact(show, puzzle=widgets.Dropdown(options=options, description="puzzle"),
                     segment=widgets.IntSlider(1, 1, TRACE_SEGMENTS, description="segment"),
                     step=widgets.IntSlider(steps_per_segment, 1, steps_per_segment, description="step"))
except ImportError:
    print("ipywidgets is not installed: see the static figure above")

# %% [markdown]
# Two things to see, measured here on 200 test puzzles: the answer only changes at H calls (it is
# read from $z_H$, and an L call leaves $z_H$ alone: the L module works out what the next H update
# will write), and most of the answer is written in the first two segments, later ones revising a
# few cells.

# %% tags=["nbval-ignore-output"]
many = trace_segments(four, {"inputs": inputs6[:200]}, TRACE_SEGMENTS)
changed = many.boards[1:] != many.boards[:-1]  # (calls - 1, 200, 36): cells changed by each call
kinds, segment_of = np.array(many.kinds[1:]), many.segment[1:]
at_L, at_H = int(changed[kinds == "L"].sum()), int(changed[kinds == "H"].sum())
per_segment = np.array([changed[segment_of == s].sum() for s in range(TRACE_SEGMENTS)])
print(f"cells changed by L calls: {at_L}, by H calls: {at_H}")
print("cells changed per segment:", per_segment.tolist())

# %% tags=["nbval-check-output"]
early = per_segment[:2].sum() / per_segment.sum()
print("the answer changes only at H calls:", at_L == 0 and at_H > 0)
print("segments 1-2 make over 80% of the changes, and later segments still revise:", early > 0.8 and per_segment[2:].sum() > 0)
assert at_L == 0 and at_H > 0 and early > 0.8 and per_segment[2:].sum() > 0

# %% [markdown]
# ## 6. On a GPU: a bigger 9x9 run
#
# This section runs only where a CUDA GPU is present (on Colab: Runtime > Change runtime type > T4
# GPU). It trains the recipe `sudoku-9x9-gpu`: the `gpu-small` model (hidden size 256, 2+2 layers,
# 3.4 million parameters, 24 times the shipped 9x9 model's) on 9x9 Sudoku, 2 training segments
# read with 16, batch 256, learning rate 1e-3, with a moving average of the weights. It stops after
# 20 minutes of training or 6,000 steps, whichever comes first. On a GPU with bf16 units (A100,
# L4, H100) it computes in bf16 as the reference does; on a T4 in float32.
#
# What to expect: on an H200 the recipe took 37 ms a step and read 69.6% exact on 500 test puzzles
# after 4,800 steps (71% at its best, at step 3,000), against 62.8% for the CPU model after 30
# minutes. A step is 1.15 TFLOP (`benchmarks/gpu_run.py --flops`); at the 4 to 5 TFLOP/s a T4
# sustains in float32 that is about 250 ms a step, some 4,800 steps in 20 minutes. That T4 figure
# is an estimate: we have not measured a T4.
#
# **Disconnects.** A checkpoint is written every 250 steps to `GPU_RUN` (below). If the runtime
# disconnects, run this lesson's first cells and this cell again: it finds the checkpoint and
# resumes. Colab wipes its disk when it gives the machine back, so for a run that survives that,
# mount Google Drive first (`from google.colab import drive; drive.mount("/content/drive")`) and set
# the environment variable `HRM_GPU_RUN` to a folder there, e.g. `/content/drive/MyDrive/hrm-9x9`.
#
# It ends with the same step-through on the new model.

# %% tags=["nbval-ignore-output"]
import os
from pathlib import Path

GPU_RUN = Path(os.environ.get("HRM_GPU_RUN", "runs/lesson07/gpu-9x9"))
if torch.cuda.is_available():
    changes = dict(out_dir=str(GPU_RUN), resume=(GPU_RUN / "checkpoint.pt").exists())
    if os.environ.get("HRM_GPU_BUDGET"):  # a shorter run, for trying the section out
        changes["time_budget_s"] = float(os.environ["HRM_GPU_BUDGET"])
    gpu_config = recipe_config("sudoku-9x9-gpu", **changes)
    print(("resuming" if gpu_config.resume else "starting"), f"{gpu_config.run_dir} on {torch.cuda.get_device_name()}")
    gpu_run = train(gpu_config)
    from IPython.display import display

    gpu_model = gpu_run["model"]
    evaluated = [h for h in gpu_run["history"] if "test_exact_accuracy" in h]
    print("step, training minutes, exact on 500 test puzzles read with 16 segments:")
    for h in evaluated:
        print(f"  {h['step']:>6}  {h['time_s'] / 60:5.1f}  {h['test_exact_accuracy']:.3f}")
    test9 = load_task("sudoku-9x9", "test")
    hard9 = int(np.argmax(test9.ratings))
    gpu_model = gpu_model.cpu()  # the trace runs on the CPU: one puzzle, fast anywhere
    trace9 = trace_puzzle(gpu_model, test9, hard9)
    views9 = [step_view(trace9, test9.labels[hard9], gpu_model, segment=s, step=segment_span(trace9, s)[1])
              for s in (1, 2, 4, 8)]
    display(draw_steps(views9, test9.inputs[hard9], test9.labels[hard9]))
else:
    print("No CUDA GPU here, so this section is skipped. With one, it would train the recipe "
          f"'sudoku-9x9-gpu' into {GPU_RUN} (about 20 minutes on a Colab T4), resuming from its "
          "checkpoint if one is there, and step through a hard 9x9 puzzle with the new model.")

# %% [markdown]
# ## What you built
#
# - A run trained through the public API (`recipe_config`, `train`), stopped and resumed with the
#   same loss curve and weights as an uninterrupted one, evaluated on the test split.
# - `solve`: answers as the model itself stops, checked against `hrm_minimal.evaluate.solve`; on
#   6x6 it keeps the accuracy of 16 segments with a fraction of them.
# - The step-through explorer, wired to `hrm_minimal.stepthrough` and `viz.draw_step`; measured:
#   the answer changes only at H calls, mostly in the first two segments.

# %% [markdown]
# ## Questions
#
# 1. The checkpoint holds the data stream's position and the random state as well as the weights.
#    What would differ after resuming if it held only the weights and the optimiser?
# 2. The resumed run matched the uninterrupted one exactly on a CPU. On a GPU, some kernels add in
#    a different order from run to run. Would you expect the same exact match there? What would
#    you compare instead?
# 3. In the explorer, find a puzzle whose answer is right at one segment's end and wrong at a later
#    one. What does the Q head say at the right one?
# 4. L calls never change the answer. Then why do they run? Which lesson measured what they do?
# 5. Your `solve` runs every segment even after all puzzles have stopped. How would you skip the
#    rest without changing any answer, and how much would that save on the 6x6 test split?
# 6. Grade yourself: `python -m hrm_minimal.grade lessons/07_the_whole_model.ipynb`.
