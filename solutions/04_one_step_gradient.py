# %% [markdown]
# # Lesson 04: The one-step gradient
#
# {{COLAB_BADGE}}
#
# One segment of HRM runs its modules many times: $L$ updates $z_L \leftarrow f_L(z_L + z_H + x)$,
# `L_cycles` of them before every $H$ update $z_H \leftarrow f_H(z_H + z_L)$, and `H_cycles` such
# rounds (lesson 03). The loss is computed at the end. Through which of those updates should the
# gradient flow back? HRM's answer is: through the last one of each module, and no further. This
# lesson is about that answer:
#
# - why backpropagation through every step is costly: what autograd keeps grows with the steps;
# - the fixed-point argument that justifies stopping after one step, and the approximation it makes;
# - the reference's gradient window, which you write (Exercise 4.1);
# - a measurement of what autograd keeps for the backward pass (Exercise 4.2), used to show that the
#   one-step gradient's memory stays flat while full backpropagation's grows;
# - how close the one-step gradient comes to the full one on the shipped model (roughly, not closely);
# - a short training run in which HRM, with this gradient, learns 4x4 Sudoku.

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
# ## 1. Backpropagation through a recurrence
#
# Write one segment as a chain of $T$ module calls, $z_{t+1} = F(z_t, x; \theta)$, where $F$ is an
# $L$ update or an $H$ update and $\theta$ are the weights the calls share. The loss $\mathcal{L}$
# reads the last state $z_T$. The chain rule sums one term per step:
#
# $$\frac{d\mathcal{L}}{d\theta} = \sum_{t=0}^{T-1} \frac{\partial \mathcal{L}}{\partial z_T}\,
#   \frac{\partial z_T}{\partial z_{t+1}}\, \frac{\partial F}{\partial \theta}\Big|_{z_t}.$$
#
# Every term needs step $t$'s own activations (the attention weights, the SwiGLU gates, ... of that
# call), so autograd keeps all of them from the forward pass until `backward()`, and the backward
# pass walks through all $T$ calls again. Memory and backward time grow in proportion to $T$. With
# the paper's 2x2 cycles $T = 6$ module calls of 4 blocks each, 24 layers; 8x8 cycles would make it
# 72 calls, and deep supervision multiplies the segments.
#
# ## 2. The fixed-point view
#
# Suppose the recurrence settles: run long enough, the state stops changing, $z^* = F(z^*, x; \theta)$.
# Differentiate both sides with respect to $\theta$ (the implicit function theorem says we may, where
# $I - J$ is invertible):
#
# $$\frac{dz^*}{d\theta} = J\,\frac{dz^*}{d\theta} + \frac{\partial F}{\partial \theta}
#   \quad\Longrightarrow\quad
#   \frac{dz^*}{d\theta} = (I - J)^{-1}\,\frac{\partial F}{\partial \theta}\Big|_{z^*},
#   \qquad J = \frac{\partial F}{\partial z}\Big|_{z^*}.$$
#
# In words: how the fixed point moves when the weights move is the effect of the weights on **one**
# step, $\partial F / \partial \theta$, fed around the loop again and again; the feedback is the factor
# $(I - J)^{-1} = I + J + J^2 + \dots$. No history of the trajectory is needed, only the end point.
# That is how deep equilibrium models (DEQ) train. HRM goes one step further and drops the feedback:
#
# $$(I - J)^{-1} \approx I \quad\Longrightarrow\quad \frac{dz^*}{d\theta} \approx
#   \frac{\partial F}{\partial \theta}\Big|_{z^*}:$$
#
# back-propagate through the last step only, treating the state it started from as a constant. The
# paper calls this the **one-step gradient**. It is exact when $J = 0$ and close when the step barely
# depends on its input state. Two caveats we measure below: it assumes the state is at (or near) a
# fixed point, and it drops real terms. Its gain is certain: memory and backward time no longer
# depend on how many steps ran.
#
# ## 3. HRM's gradient window
#
# HRM's state has two parts, so "the last step" is the last update of each module. In the reference
# (`hrm_act_v1.py`, and `HRMInner.forward` here), every update but the **last $L$ update** and the
# **last $H$ update** runs under `torch.no_grad()`; those two run with gradient, in the usual order
# ($L$ then $H$). The states they start from are the ones the no-grad updates produced, and they
# carry no graph. After the segment, the new carry is detached, so no graph crosses from one
# segment to the next (deep supervision, a later lesson, runs many segments). With 2x2 cycles:
#
# | call | 1 | 2 | 3 | 4 | 5 | 6 |
# |---|---|---|---|---|---|---|
# | module | L | L | H | L | **L** | **H** |
# | gradient | no | no | no | no | **yes** | **yes** |
#
# Three readings are easy to slip into and are wrong for HRM:
#
# - **the whole last H cycle** with gradient (calls 4 to 6): that is what TRM, HRM's successor, does
#   on purpose (it back-propagates through its full last cycle);
# - **only the last H step** (call 6), forgetting $L$'s last step: then $L$ never learns;
# - **everything** with gradient: full backpropagation, `HRMConfig(one_step_grad=False)` in this
#   package, a switch kept for comparison.
#
# First, the package's own model, watched from outside: a hook on each module records whether
# gradient was on at every call. (All models in this lesson are small, and small models run about
# as fast on one CPU thread as on several, and far more steadily when other programs share the
# CPU, so the lesson uses one thread.)

# %% tags=["nbval-check-output"]
import torch

from hrm_minimal.config import HRMConfig
from hrm_minimal.model import HRMInner, InnerCarry
from hrm_minimal.utils import seed_everything

torch.set_num_threads(1)  # small models: one thread is about as fast, and steadier on a shared CPU
seed_everything(0)
config = HRMConfig(vocab_size=8, seq_len=36, hidden_size=64, num_heads=2, H_layers=1, L_layers=1,
                   H_cycles=2, L_cycles=2)
inner = HRMInner(config)
calls = []
hooks = [module.register_forward_pre_hook(lambda m, args, name=name: calls.append((name, torch.is_grad_enabled())))
         for name, module in (("L", inner.L_level), ("H", inner.H_level))]
batch = {"inputs": torch.randint(1, 8, (4, 36)), "puzzle_identifiers": torch.zeros(4, dtype=torch.long)}
carry = inner.reset_carry(torch.ones(4, dtype=torch.bool), inner.empty_carry(4))  # fresh states
new_carry, logits, (q_halt, q_continue) = inner(carry, batch)
for hook in hooks:
    hook.remove()
print("calls:   ", " ".join(name for name, _ in calls))
print("gradient:", " ".join("yes" if grad else "no" for _, grad in calls))
print("logits", tuple(logits.shape), "carry detached:", not new_carry.z_H.requires_grad)
assert [grad for _, grad in calls] == [False] * 4 + [True] * 2
assert logits.requires_grad and not new_carry.z_H.requires_grad

# %% [markdown]
# ## Exercise 4.1: the segment with its gradient window
#
# Write `segment_forward(inner, carry, batch)`, a drop-in replacement for `inner(carry, batch)`:
#
# - `inner` is an `HRMInner` (rotary positions); `inner.config` gives `H_cycles` and `L_cycles`;
#   `inner.L_level(z, injection, cos_sin)` computes $f_L(z + \text{injection})$ and `inner.H_level`
#   likewise $f_H$;
# - `carry` is an `InnerCarry` with `z_H` and `z_L`, each (B, P+S, D), without a graph;
# - `batch` holds `"inputs"` (B, S) and `"puzzle_identifiers"` (B,).
#
# The lines given before and after your part compute `x` and `cos_sin`, and at the end detach the
# new carry and read the logits and Q values from `z_H`, as `HRMInner` does. Your part: run the
# segment from `z_H`, `z_L`, with `H_cycles` rounds of `L_cycles` $L$ updates followed by one $H$
# update, every update but the last $L$ and the last $H$ under `torch.no_grad()`, those two with
# gradient, and leave the final `z_H` and `z_L` in those names (do not detach them yourself). The
# checker compares the values **and** the gradients of a loss on your outputs with `HRMInner`'s on
# small random models with 1 to 3 cycles of each kind, and the bytes autograd keeps.

# %% exercise="4.1"
def segment_forward(inner: HRMInner, carry: InnerCarry, batch: dict):
    """One segment with HRM's one-step gradient: (new carry, logits (B, S, V), (q_halt, q_continue))."""
    cfg = inner.config
    cos_sin = inner.rotary()  # rotary tables for every position
    x = inner.input_embeddings(batch["inputs"], batch["puzzle_identifiers"])  # (B, P+S, D)
    z_H, z_L = carry.z_H, carry.z_L  # (B, P+S, D) each, no graph
    ### BEGIN SOLUTION
    last_h, last_l = cfg.H_cycles - 1, cfg.L_cycles - 1
    with torch.no_grad():  # every update but the last L and the last H: no graph is recorded
        for h in range(cfg.H_cycles):
            for l in range(cfg.L_cycles):
                if (h, l) != (last_h, last_l):
                    z_L = inner.L_level(z_L, z_H + x, cos_sin)  # z_L <- f_L(z_L + z_H + x)
            if h != last_h:
                z_H = inner.H_level(z_H, z_L, cos_sin)  # z_H <- f_H(z_H + z_L)
    # The one step with gradient, from the states the no-grad updates left.
    z_L = inner.L_level(z_L, z_H + x, cos_sin)
    z_H = inner.H_level(z_H, z_L, cos_sin)
    ### END SOLUTION
    new_carry = InnerCarry(z_H.detach(), z_L.detach())  # no graph crosses segments
    logits = inner.lm_head(z_H)[:, inner.puzzle_emb_len:]  # (B, S, V), prefix positions dropped
    q = inner.q_head(z_H[:, 0]).float()  # (B, 2) from the first (prefix) position
    return new_carry, logits, (q[..., 0], q[..., 1])


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_segment_forward

segment_forward = check_segment_forward(segment_forward)

# %% [markdown]
# The window changes the gradient and nothing else: with the same weights, the one-step model and the
# full-backpropagation model compute the same logits, but the gradients of the same loss differ.

# %% tags=["nbval-check-output"]
import dataclasses

full_inner = HRMInner(dataclasses.replace(config, one_step_grad=False))
full_inner.load_state_dict(inner.state_dict())  # the same weights
target = torch.randn(4, 36, 8)  # a fixed random direction: loss = <logits, target>
gradients, outputs = [], []
for model in (inner, full_inner):
    _, logits, _ = model(carry, batch)
    model.zero_grad()
    (logits * target).sum().backward()
    outputs.append(logits.detach())
    gradients.append(model.L_level.layers[0].mlp.down_proj.weight.grad.clone())
same_logits = torch.allclose(outputs[0], outputs[1])
same_gradient = torch.allclose(gradients[0], gradients[1], rtol=1e-3, atol=1e-6)
print("same logits:", same_logits, "| same gradient of an L weight:", same_gradient)
assert same_logits and not same_gradient

# %% [markdown]
# ## 4. What autograd keeps
#
# During the forward pass autograd saves, for each recorded operation, the tensors its backward rule
# will need: a matrix product keeps both factors, `tanh` keeps its output, `sin` its input, an
# addition nothing. `torch.autograd.graph.saved_tensors_hooks(pack, unpack)` lets us watch: inside
# it, autograd calls `pack(t)` with every tensor it saves (and keeps what `pack` returns), and calls
# `unpack` when backward needs it back.

# %% tags=["nbval-check-output"]
a = torch.randn(3, 4, requires_grad=True)
w = torch.randn(4, 2, requires_grad=True)


def show(t: torch.Tensor) -> torch.Tensor:  # a pack hook that only reports
    print(f"    saves {tuple(t.shape)} {str(t.dtype)[6:]}, storage of {t.untyped_storage().nbytes()} bytes")
    return t


for name, compute in [("a + 1", lambda: a + 1), ("a.tanh()", lambda: a.tanh()), ("a @ w", lambda: a @ w),
                      ("a * a", lambda: a * a), ("a[:1].sin()", lambda: a[:1].sin())]:
    print(name)
    with torch.autograd.graph.saved_tensors_hooks(show, lambda t: t):
        compute()

# %% [markdown]
# Two things to notice. `a * a` saves the same tensor twice (once as each factor): it occupies memory
# once. And `a[:1]` is a **view**, a window on `a`'s storage: saving it keeps the whole storage of
# `a` alive (48 bytes, not 16). So the memory a graph holds is the size of the distinct **storages**
# behind the saved tensors.
#
# ## Exercise 4.2: measure what autograd keeps
#
# Write `saved_tensor_bytes(fn)`: `fn` is a function of no arguments (a closure, e.g. a forward pass
# and its loss). Run `fn()` once, gradients enabled as the caller has them, inside
# `torch.autograd.graph.saved_tensors_hooks`, and return, as a Python `int`, the number of bytes of
# the **distinct storages** behind the tensors autograd saved meanwhile:
#
# - identify a storage by the tensor's device and `t.untyped_storage().data_ptr()`, and count each
#   storage once, however many tensors (or views) of it were saved;
# - count a storage whole, `t.untyped_storage().nbytes()`, even if only a view of it was saved;
# - count only what passes through the pack hook (nothing else `fn` creates); under `torch.no_grad()`
#   nothing is saved, so such a run measures 0.
#
# To be safe against a freed storage's address being reused by a later one while `fn` runs, keep a
# reference to each storage you count until you are done. `fn`'s result can be ignored.

# %% exercise="4.2"
from typing import Any, Callable


def saved_tensor_bytes(fn: Callable[[], Any]) -> int:
    """Run fn(); return the bytes of the distinct storages autograd saved for backward meanwhile."""
    ### BEGIN SOLUTION
    storages = {}  # (device, address) -> storage, kept alive until we return

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        storages.setdefault((str(t.device), storage.data_ptr()), storage)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda saved: saved):
        fn()
    return int(sum(storage.nbytes() for storage in storages.values()))
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_saved_tensor_bytes

saved_tensor_bytes = check_saved_tensor_bytes(saved_tensor_bytes)

# %% [markdown]
# ## 5. Memory and time against the number of steps
#
# Now the measurement the lesson is about. One training segment of the `cpu-tiny` model (hidden 64,
# one block per module) on a batch of 32 6x6 Sudokus, with 2x2, 4x4 and 8x8 cycles (6, 20 and 72
# module calls), once with the one-step gradient and once with full backpropagation
# (`one_step_grad=False`). A segment is what a training step runs: the HRM wrapper's forward and
# the loss a training step back-propagates (`act_loss`; a later lesson builds it). We record the
# bytes autograd keeps (your function) and time the forward and the backward pass (the median of 3
# runs; times wobble on a shared machine).

# %% tags=["nbval-ignore-output"]
import time

import numpy as np

from hrm_minimal.data import load_task
from hrm_minimal.losses import act_loss
from hrm_minimal.model import HRM
from hrm_minimal.presets import get_preset

sudoku6 = load_task("sudoku-6x6", "train")
batch = {"inputs": torch.from_numpy(sudoku6.inputs[:32]), "labels": torch.from_numpy(sudoku6.labels[:32]),
         "puzzle_identifiers": torch.zeros(32, dtype=torch.long)}  # (32, 36) each


def training_segment(model: HRM, batch: dict, kept: dict) -> Callable[[], torch.Tensor]:
    """A closure: one training segment of `model` from fresh states and its loss (kept for backward)."""
    def run() -> torch.Tensor:
        carry, outputs = model(model.initial_carry(batch), batch)
        kept["loss"], _ = act_loss(outputs, carry.current_data["labels"], halted=carry.halted, steps=carry.steps)
        return kept["loss"]
    return run


cycles = [2, 4, 8]
memory_mb = {True: [], False: []}  # one_step_grad -> MB per cycle count
forward_ms, backward_ms = {True: [], False: []}, {True: [], False: []}
for n in cycles:
    for one_step in (True, False):
        seed_everything(0)
        model = HRM(get_preset("cpu-tiny", vocab_size=8, seq_len=36, H_cycles=n, L_cycles=n,
                               one_step_grad=one_step)).train()
        kept = {}
        memory_mb[one_step].append(saved_tensor_bytes(training_segment(model, batch, kept)) / 2**20)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            training_segment(model, batch, kept)()
            middle = time.perf_counter()
            kept.pop("loss").backward()
            times.append((middle - start, time.perf_counter() - middle))
        forward_ms[one_step].append(1000 * np.median([f for f, _ in times]))
        backward_ms[one_step].append(1000 * np.median([b for _, b in times]))

print(f"{'cycles':>6} {'module calls':>12} | {'MB kept: one-step':>17} {'full':>7} | "
      f"{'forward ms: one-step':>20} {'full':>5} | {'backward ms: one-step':>21} {'full':>5}")
for k, n in enumerate(cycles):
    print(f"{n}x{n:<4} {n * (n + 1):>12} | {memory_mb[True][k]:>17.1f} {memory_mb[False][k]:>7.1f} | "
          f"{forward_ms[True][k]:>20.0f} {forward_ms[False][k]:>5.0f} | "
          f"{backward_ms[True][k]:>21.0f} {backward_ms[False][k]:>5.0f}")

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt

calls_per_segment = [n * (n + 1) for n in cycles]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
for one_step, label in ((True, "one-step gradient"), (False, "full backpropagation")):
    axes[0].plot(calls_per_segment, memory_mb[one_step], marker="o", label=label)
    axes[1].plot(calls_per_segment, backward_ms[one_step], marker="o", label=label)
axes[0].set_ylabel("MB autograd keeps")
axes[1].set_ylabel("backward pass (ms)")
for ax in axes:
    ax.set_xlabel("module calls per segment (2x2, 4x4, 8x8 cycles)")
    ax.set_xticks(calls_per_segment)
    ax.legend()
fig.suptitle("one training segment of cpu-tiny, batch 32")
plt.tight_layout()
plt.show()

# %% tags=["nbval-check-output"]
# Measured, then asserted with margin: one-step memory 1.00x from 2x2 to 8x8, full backprop about 12x.
one_step_growth = memory_mb[True][-1] / memory_mb[True][0]
full_growth = memory_mb[False][-1] / memory_mb[False][0]
backward_flat = backward_ms[True][-1] < 3 * backward_ms[True][0]  # measured: about 1x
backward_dearer = backward_ms[False][-1] > 4 * backward_ms[True][-1]  # measured: 20x to 40x
forward_grows = forward_ms[True][-1] > 3 * forward_ms[True][0]  # measured: about 9x
assert 0.95 < one_step_growth < 1.05, f"one-step memory should stay flat, grew {one_step_growth:.2f}x"
assert full_growth > 6, f"full-backprop memory should grow with the steps, grew {full_growth:.2f}x"
assert backward_flat and backward_dearer, "the one-step backward should stay flat, full backprop's grow"
assert forward_grows, "the forward pass runs every step in both modes"
print("one-step memory flat from 2x2 to 8x8:", 0.95 < one_step_growth < 1.05)
print("full-backprop memory grows more than 6x:", full_growth > 6)
print("one-step backward flat, full backward far dearer at 8x8:", backward_flat and backward_dearer)
print("the forward still grows with the steps:", forward_grows)

# %% [markdown]
# The one-step gradient keeps the same memory at 72 module calls as at 6, and its backward pass
# costs the same; full backpropagation's memory grows about twelve-fold from 2x2 to 8x8 (to 33
# times the one-step gradient's), and its backward time with it. What the one-step gradient does
# **not** save is the forward pass: every step still runs, only without a graph.
# (`benchmarks/memory.py` measures the same at hidden size 128, with the package's copy of your
# function, `hrm_minimal.memory.saved_tensor_bytes`.)
#
# Your `segment_forward` keeps exactly what the package's one-step segment keeps:

# %% tags=["nbval-check-output"]
seed_everything(0)
model = HRM(get_preset("cpu-tiny", vocab_size=8, seq_len=36, H_cycles=8, L_cycles=8)).train()
carry = model.inner.reset_carry(torch.ones(32, dtype=torch.bool), model.inner.empty_carry(32))
yours = saved_tensor_bytes(lambda: segment_forward(model.inner, carry, batch))
package = saved_tensor_bytes(lambda: model.inner(carry, batch))
print("8x8 cycles, your segment and HRMInner's keep the same bytes:", yours == package)
assert yours == package

# %% [markdown]
# ## 6. How good is the approximation?
#
# The one-step gradient is not the gradient of the loss: it drops every term of the chain rule but
# the last. How far off is it? We compare it with the full gradient (same weights, same batch, same
# training loss) by the cosine of the angle between them: 1 means the same direction, 0 means
# unrelated, below 0 means following it would raise the loss. We do it for the 6x6 model the course
# ships (`cpu-small`, 2x2 cycles, trained with 2 segments per puzzle) and for an untrained model of
# the same shape, at the first segment (from fresh states) and at the second (after one segment
# without gradient), the two segments the shipped model was trained with. Only `parameters()` are
# compared: the shipped model's puzzle-embedding row is a buffer trained by sign-SGD, not a parameter.

# %% tags=["nbval-ignore-output"]
from hrm_minimal.evaluate import load_pretrained

trained, _ = load_pretrained("sudoku-6x6")
seed_everything(0)
untrained = HRM(trained.config)  # same shape, fresh weights
test6 = load_task("sudoku-6x6", "test")
batch6 = {"inputs": torch.from_numpy(test6.inputs[:256]), "labels": torch.from_numpy(test6.labels[:256]),
          "puzzle_identifiers": torch.zeros(256, dtype=torch.long)}  # (256, 36) each


def training_gradient(model: HRM, batch: dict, segment: int) -> dict[str, torch.Tensor]:
    """Gradient of the training loss of the `segment`-th segment (the earlier ones run without gradient)."""
    model.train()
    torch.manual_seed(0)  # the same exploration draws for every model
    carry = model.initial_carry(batch)
    with torch.no_grad():
        for _ in range(segment - 1):
            carry, _ = model(carry, batch, max_steps=16)
    carry, outputs = model(carry, batch, max_steps=16)
    loss, _ = act_loss(outputs, carry.current_data["labels"], halted=carry.halted, steps=carry.steps)
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters()}


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0).item()


results = {}  # (model name, segment) -> (overall cosine, per-tensor cosines, norm ratio)
for name, model in (("trained", trained), ("untrained", untrained)):
    full = HRM(dataclasses.replace(model.config, one_step_grad=False))
    full.load_state_dict(model.state_dict())  # the same weights, full backpropagation
    for segment in (1, 2):
        one, every = training_gradient(model, batch6, segment), training_gradient(full, batch6, segment)
        flat_one = torch.cat([g.flatten() for g in one.values()])  # all parameters as one vector
        flat_every = torch.cat([g.flatten() for g in every.values()])
        results[name, segment] = (cosine(flat_one, flat_every), {k: cosine(one[k], every[k]) for k in one},
                                  (flat_one.norm() / flat_every.norm()).item())
        print(f"{name:>9}, segment {segment}: cosine {results[name, segment][0]:.2f}, "
              f"one-step norm / full norm {results[name, segment][2]:.2f}")

# %% tags=["nbval-ignore-output"]
names = list(results["trained", 1][1])
short = [n.replace("inner.", "").replace("layers.", "").replace("self_attn.", "").replace(".weight", "")
         for n in names]
fig, ax = plt.subplots(figsize=(10, 3.8))
positions = np.arange(len(names))
for offset, key in ((-0.3, ("trained", 1)), (-0.1, ("trained", 2)), (0.1, ("untrained", 1)), (0.3, ("untrained", 2))):
    ax.bar(positions + offset, [results[key][1][n] for n in names], width=0.2, label=f"{key[0]}, segment {key[1]}")
ax.set_xticks(positions)
ax.set_xticklabels(short, rotation=70, ha="right", fontsize=8)
ax.set_ylabel("cosine(one-step, full)")
ax.axhline(0, color="black", linewidth=0.5)
ax.set_ylim(top=1.3)  # room for the legend
ax.legend(fontsize=8, ncol=4, loc="upper left")
ax.set_title("per parameter tensor: how well the one-step gradient points like the full one")
plt.tight_layout()
plt.show()

# %% tags=["nbval-check-output"]
# Measured (batch of 256 test puzzles): trained 0.74 at segment 1 and 0.44 at segment 2; untrained 0.80
# and 0.88. The heads (lm_head, q_head) sit after the last step, so their gradient is the same in both.
overall = {key: value[0] for key, value in results.items()}
heads_exact = all(results[key][1][n] > 0.999 for key in results for n in names if "head" in n)
assert all(0.2 < c < 0.95 for c in overall.values()), overall
assert overall["trained", 1] < overall["untrained", 1], "measured: training made the match worse, not better"
assert overall["trained", 2] < overall["trained", 1], "measured: the trained model's second segment matches less"
assert all(value[2] < 1 for value in results.values()), "the one-step gradient is the smaller one"
assert heads_exact
print("one-step and full gradients point roughly the same way (cosine between 0.2 and 0.95):",
      all(0.2 < c < 0.95 for c in overall.values()))
print("closer on the untrained model than on the trained one (segment 1):",
      overall["trained", 1] < overall["untrained", 1])
print("the heads' gradients are exact:", heads_exact)

# %% [markdown]
# What this says, honestly:
#
# - The one-step gradient is a rough copy of the full one: a cosine of 0.4 to 0.9 overall (far from 0,
#   so it is a direction that lowers the loss, far from 1, so it is not the same direction), and a
#   smaller norm. Only the heads, which read the final state, get the exact gradient.
# - One might expect training to pull the states towards fixed points, where the approximation is
#   justified, and so to make it better. On this model it is the other way round: the untrained
#   model's one-step gradient matches the full one better (0.80 against 0.74 at the first segment;
#   another random initialisation gave 0.91), and the trained model's second segment matches worst
#   of all (0.44).
# - The premise of section 2 does not hold here either: a trained segment of 2x2 cycles does not
#   reach a fixed point. Below, the relative change of the state at every module call of the shipped
#   model over its first two segments (`hrm_minimal.trace`, lesson 03's tool): the last $H$ updates
#   still move $z_H$ by tens of percent.

# %% tags=["nbval-check-output"]
from hrm_minimal.trace import trace_segments

trace = trace_segments(trained, {"inputs": batch6["inputs"][:64]}, segments=2)
h_calls = trace.calls("H")
print("relative change of z_H at each H update, segments 1-2:", " ".join(f"{r:.1f}" for r in trace.residual[h_calls]))
assert trace.residual[h_calls[-1]] > 0.1, "the state should still be moving at the end of the second segment"
print("z_H still moves by more than 10% at the last H update:", trace.residual[h_calls[-1]] > 0.1)

# %% [markdown]
# So HRM trains with a gradient that is neither the true gradient nor the implicit gradient of a fixed
# point it reaches. Does it matter? The README's measurements set full backpropagation beside it on
# this project's CPUs: per step, full backpropagation learns faster at these sizes, but each step
# costs more; and TRM's paper reports the one-step gradient as its costliest ablation. The one-step
# gradient's case is memory and backward time that do not grow with the steps (section 5), and the
# next experiment: it is good enough to learn.
#
# ## 7. It learns: 4x4 Sudoku with the one-step gradient
#
# The package's trainer (`hrm_minimal.train`) with the 4x4 recipe of
# `benchmarks/time_to_accuracy.py`: the `cpu-tiny` model with learned positions, 2 training segments
# per puzzle, read with 4, weights averaged (`ema=0.99`, TRM's moving average, not part of HRM),
# and the one-step gradient, as in every recipe. It stops after 1,000 steps or 45 seconds of
# training, whichever comes first, then reads the 200 test puzzles. On this project's 2-core CPU,
# 1,000 steps (about 35 s on one thread) solved 88% to 96% of them in the runs made for this lesson,
# and the benchmark's recipe, given a full minute on two free cores, reaches 99% (in about 50 s). The model learns abruptly, between steps 300 and 700, so a
# run that the time cap stops early on a busy machine ends much lower: the check asks only for more
# than 10% of the puzzles, where the same model untrained solves none.

# %% tags=["nbval-ignore-output"]
import tempfile

from hrm_minimal.train import TrainConfig, train

seed_everything(0)
with tempfile.TemporaryDirectory() as run_dir:  # the run's checkpoint goes to a temporary folder
    run = train(TrainConfig(task="sudoku-4x4", preset="cpu-tiny",
                            overrides={"pos_encodings": "learned", "halt_max_steps": 2}, lr_warmup_steps=20,
                            eval_max_steps=4, ema=0.99, max_steps=1000, time_budget_s=45, eval_every=10**6,
                            eval_limit=None, checkpoint_every=10**6, out_dir=f"{run_dir}/sudoku-4x4",
                            progress=False))
last = run["history"][-1]
print(f"{run['step']} steps in {last['time_s']:.0f} s: test exact accuracy {last['test_exact_accuracy']:.3f} "
      f"(cells {last['test_accuracy']:.3f}), first training loss {run['history'][0]['loss']:.2f}, "
      f"last {last['loss']:.2f}")

# %% tags=["nbval-check-output"]
from hrm_minimal.evaluate import evaluate

seed_everything(0)
before = evaluate(HRM(run["model_config"]), load_task("sudoku-4x4", "test"), max_steps=4, progress=False)
exact = last["test_exact_accuracy"]
assert before["exact_accuracy"] < 0.02, "an untrained model should solve (almost) no puzzle"
assert exact > 0.1, f"only {exact:.3f} exact after {run['step']} steps"
print("untrained, the model solves no 4x4 test puzzle:", before["exact_accuracy"] < 0.02)
print("trained with the one-step gradient, it solves more than 10% of them:", exact > 0.1)

# %% [markdown]
# ## What you built
#
# - `segment_forward`: one segment of HRM with its gradient window (every update under
#   `torch.no_grad()` but the last $L$ and the last $H$ update), checked value by value and gradient
#   by gradient against `HRMInner`.
# - `saved_tensor_bytes`: the bytes of the distinct storages autograd saves for backward, the package's
#   `hrm_minimal.memory.saved_tensor_bytes`.
# - Measurements: memory flat from 2x2 to 8x8 cycles with the one-step gradient, growing about
#   twelve-fold with full backpropagation; a one-step gradient at a cosine of 0.4 to 0.9 from the
#   full one, closer on an untrained model than on the trained one; a 4x4 Sudoku model trained with it
#   in under a minute.

# %% [markdown]
# ## Questions
#
# 1. The one-step gradient saves memory and backward time. Why does it save no forward time? What
#    would you change to spend fewer forward steps, and what would that cost?
# 2. $(I - J)^{-1} = I + J + J^2 + \dots$ The one-step gradient keeps the first term. Which window
#    would keep the first two? Write it (a variant of `segment_forward`) and measure its cosine with
#    the full gradient and its memory with `saved_tensor_bytes`.
# 3. TRM back-propagates through its whole last cycle of $n$ latent steps and one answer step. For
#    $n = 6$, how many module calls keep their activations, against HRM's two?
# 4. The cosine was lower on the trained model than on the untrained one. Propose an explanation, and
#    an experiment that would test it (hint: what does $J$ look like along the directions the loss
#    cares about?).
# 5. Deep supervision runs many segments per puzzle, each with its own loss and its own detached
#    carry. How does that interact with a gradient that only sees the last step of a segment?
# 6. Grade yourself: `python -m hrm_minimal.grade lessons/04_one_step_gradient.ipynb`.
