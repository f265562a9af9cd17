# %% [markdown]
# # Lesson 00: Setup, and the problem HRM solves
#
# {{COLAB_BADGE}}
#
# In this course you build the **Hierarchical Reasoning Model** (HRM; Wang et al. 2025,
# [arXiv:2506.21734](https://arxiv.org/abs/2506.21734)) piece by piece, in PyTorch, on a laptop CPU.
# This first lesson:
#
# - checks that your environment works and shows which device you will use;
# - explains how the lessons, exercises, checkers and solutions fit together;
# - states the problem: puzzles such as Sudoku that large chain-of-thought language models fail
#   and a 27M-parameter HRM solves after training on about 1,000 examples.

# %%
# {{INSTALL_CELL}}

# %% tags=["nbval-ignore-output"]
# Versions and device. Every line should say [OK]; if one says [FAIL], fix it before going on
# (README: "Quick start" and "Troubleshooting").
from hrm_minimal.check_env import report
from hrm_minimal.utils import get_device

all_ok = report()  # one line per package, then the torch build and the device
device = get_device()
print("lessons will use:", device)

# %% [markdown]
# ## 1. How the course works
#
# - **Two copies of each lesson.** `lessons/NN_name.ipynb` is yours: the exercises are stubs that
#   raise `NotImplementedError`. `solutions/NN_name.ipynb` is the same notebook solved and run on a
#   CPU, for when you are stuck or want to compare.
# - **Exercises** are functions you complete between `# YOUR CODE HERE` and the end of the function.
#   Each is headed `## Exercise N.k` and followed by a **checker** cell from `hrm_minimal.checks`.
# - **Checkers** test your function against the package's own implementation on fresh random
#   inputs and print one line: `passed`, `failed - <hint>` (the hint never gives the answer away),
#   or `not done yet - using the reference implementation`. The checker hands back the function
#   the rest of the notebook should use, so a lesson runs from top to bottom even with exercises
#   left open. Come back to them in any order.
# - **Grading.** An instructor runs `python -m hrm_minimal.grade lessons/NN_name.ipynb`, which sets
#   `HRM_STRICT=1`: then an unfinished or wrong exercise is an error, and a table of passed
#   exercises is printed. You can run that command on your own notebook too.
# - **Where the code lives.** Each lesson writes an idea in a few lines; the package `hrm_minimal`
#   holds the finished version, which later lessons import instead of repeating earlier ones.
# - **Colab.** The badge at the top opens the lesson on Colab; the install cell above then
#   installs `hrm_minimal` (a few seconds). Every lesson also runs on a 2-core CPU in about two
#   minutes; cells that want a GPU check `torch.cuda.is_available()` and keep a CPU path.

# %% [markdown]
# ## 2. Reproducible randomness
#
# Training starts from random weights and sees batches in random order. `seed_everything(seed)`
# seeds Python, NumPy and torch together, so a CPU run gives the same numbers every time. (On a GPU
# some kernels are not bit-for-bit deterministic, so expect small differences there.)

# %% tags=["nbval-check-output"]
import torch

from hrm_minimal.utils import seed_everything

seed_everything(0)
first = torch.randint(0, 10, (8,))  # (8,)
seed_everything(0)
again = torch.randint(0, 10, (8,))  # (8,)
print("first draw:", first.tolist())
print("same after re-seeding:", torch.equal(first, again))

# %% [markdown]
# ## 3. The problem: reasoning in one forward pass
#
# Sudoku, mazes and ARC puzzles need search: try a value, follow its consequences, back up. A
# language model does this in text, step by step ("chain of thought", CoT). HRM instead reasons in
# its hidden state: two small recurrent modules, a slow planner **H** and a fast worker **L**, refine
# a latent answer many times before it outputs every cell of the grid at once.
#
# The paper's headline (Figure 1; test accuracy in %, exact match for Sudoku and mazes, pass@2 for
# ARC). Each model trained or was prompted with about 1,000 examples per task, no pre-training,
# no CoT for HRM:
#
# | method | parameters | Sudoku-Extreme | Maze-Hard (30x30) | ARC-AGI-1 | ARC-AGI-2 |
# |---|---|---|---|---|---|
# | DeepSeek R1 (CoT) | 671B | 0.0 | 0.0 | 15.8 | 1.3 |
# | Claude 3.7 8K (CoT) | — | 0.0 | 0.0 | 21.2 | 0.9 |
# | o3-mini-high (CoT) | — | 0.0 | 0.0 | 34.5 | 3.0 |
# | Transformer of the same size, no recurrence ("direct prediction") | 27M | 0.0 | 0.0 | | |
# | **HRM** | 27M | **55.0** | **74.5** | **40.3** | **5.0** |
#
# Source: Wang et al. 2025, Figure 1, as collected in the course's reference notes (blank cells:
# numbers we have not verified). Two cautions belong beside these figures. The ARC Prize team
# re-ran HRM on its hidden semi-private sets and measured **32%** (ARC-AGI-1) and **2%**
# (ARC-AGI-2). Their ablations also found that the outer refinement loop and data augmentation,
# more than the H/L hierarchy, carry the result. Lesson 09 tests such claims on our small model.

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt
import numpy as np

# Figure 1 of the HRM paper, the two exact-match tasks (test accuracy, %).
methods = ["DeepSeek R1", "Claude 3.7 8K", "o3-mini-high", "direct pred. 27M", "HRM 27M"]
sudoku_extreme = [0.0, 0.0, 0.0, 0.0, 55.0]
maze_hard = [0.0, 0.0, 0.0, 0.0, 74.5]

x = np.arange(len(methods))
fig, ax = plt.subplots(figsize=(7, 3))
ax.bar(x - 0.2, sudoku_extreme, width=0.4, label="Sudoku-Extreme")
ax.bar(x + 0.2, maze_hard, width=0.4, label="Maze-Hard 30x30")
ax.set_xticks(x, methods, rotation=15)
ax.set_ylabel("exact accuracy (%)")
ax.set_title("HRM paper, Figure 1 (about 1,000 training examples per task)")
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# The "direct prediction" row is the baseline this course keeps coming back to: a transformer as
# large as HRM that reads the puzzle and writes the answer in a single pass. It scores zero on both
# tasks. A fixed number of layers is a fixed amount of computation, and a hard Sudoku needs more.
# HRM gets that depth by running its modules again and again (recurrence) while training stays
# cheap. In lesson 01 you will train such a plain transformer on small Sudokus and watch it fall
# short.

# %% [markdown]
# Here is a puzzle from the 9x9 Sudoku set that ships with the course (30 to 40 givens, easier than
# Sudoku-Extreme). The model reads it as 81 tokens and must write all 81 cells of the solution.

# %% tags=["nbval-check-output"]
from hrm_minimal.data import load_task
from hrm_minimal.viz import board_text

sudoku_9x9 = load_task("sudoku-9x9", "test")
print(f"{len(sudoku_9x9)} test puzzles, each {sudoku_9x9.seq_len} tokens")
print(board_text(sudoku_9x9.inputs[0], tokens=True))

# %% [markdown]
# ## 4. How big is "27M parameters"?
#
# A model's size is the number of trainable numbers in it: each weight matrix of shape (out, in)
# holds out x in of them, each bias vector out. Write the function that counts them; the rest of
# the course uses the package's version, `hrm_minimal.model.count_parameters`.

# %% [markdown]
# ## Exercise 0.1: count a model's parameters
#
# Return the total number of entries of all parameter tensors of `model` (an `nn.Module`), as an
# `int`. Watch out for two traps: buffers (such as running statistics) are state but not
# parameters, and a tensor that two layers share must be counted once.

# %% exercise="0.1"
from torch import nn


def count_parameters(model: nn.Module) -> int:
    """Number of entries in all parameter tensors of `model` (shared tensors counted once)."""
    ### BEGIN SOLUTION
    return sum(p.numel() for p in model.parameters())  # parameters() yields a shared tensor once
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_count_parameters

count_parameters = check_count_parameters(count_parameters)

# %% [markdown]
# Now build the paper's model for 9x9 Sudoku (81 cells, a vocabulary of 11 tokens) and the tiny
# preset the lessons train on a CPU. Both use the package's `HRM` class; you will build it yourself
# in lessons 02 to 07.

# %% tags=["nbval-check-output"]
from hrm_minimal.model import HRM
from hrm_minimal.presets import get_preset

paper = HRM(get_preset("paper", vocab_size=11, seq_len=81))
tiny = HRM(get_preset("cpu-tiny", vocab_size=11, seq_len=81))
print(f"paper preset: {count_parameters(paper):,} parameters")
print(f"cpu-tiny preset: {count_parameters(tiny):,} parameters")
del paper  # about 110 MB of float32 weights we do not need any more

# %% [markdown]
# The paper preset has the "27M" of the table above. The tiny preset is about 200 times smaller:
# small enough that a laptop CPU runs several training steps a second, on 4x4 and 6x6 Sudokus
# instead of 9x9.

# %% [markdown]
# ## What you built
#
# - A working environment, checked package by package, and the device the lessons will use.
# - `count_parameters`, and a check of the paper's "27M parameters" against our own model.
# - A picture of the problem: tasks that need search, where one forward pass of a transformer
#   and large chain-of-thought models both score zero, and a small recurrent model does not.

# %% [markdown]
# ## Questions
#
# 1. A 9x9 Sudoku is 81 tokens. Why would a model that outputs all 81 cells at once need more
#    computation for a hard puzzle than for an easy one, and where could it get it?
# 2. `count_parameters` skips buffers. Name a buffer in a common layer and say why it is not
#    trained by gradient descent.
# 3. The ARC Prize team's re-run gave 32% where the paper gave 40.3% on ARC-AGI-1. List two reasons
#    a public-set score can differ from a hidden-set score.
# 4. Run `python -m hrm_minimal.grade lessons/00_setup.ipynb` from the repository root. What does
#    the table say before and after you solve Exercise 0.1?
