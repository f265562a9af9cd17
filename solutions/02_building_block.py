# %% [markdown]
# # Lesson 02: The building block
#
# {{COLAB_BADGE}}
#
# HRM's two modules, the slow H and the fast L, are each a short stack of the same block: a
# Transformer block, the kind every large language model is built from, with a few choices the
# reference code makes on purpose. This lesson takes one block apart and has you write its pieces:
#
# - RMSNorm without a learned scale (Exercise 2.1);
# - the SwiGLU feed-forward layer, and how its width is rounded (Exercise 2.2);
# - rotary position embeddings, and what "relative position" means on a Sudoku grid (Exercise 2.3);
# - the post-norm residual block, put together from its parts (Exercise 2.4), and why HRM needs
#   it: a block applied 50 times in a row must not blow up.
#
# Along the way: bias-free linear layers, truncated LeCun-normal initialisation and non-causal
# attention. Each exercise is checked against `hrm_minimal.layers` with the same weights, so what
# you write is provably the piece the shipped model runs.

# %%
# Colab only: install the course package from its repository. Colab's own torch is kept (the
# package asks for torch>=2.2 without a pin). Anywhere else this cell does nothing.
import sys

if "google.colab" in sys.modules:
    get_ipython().run_line_magic("pip", 'install -q "{{PIP_URL}}"')

# %% tags=["nbval-ignore-output"]
# Versions and device (lesson 00 explains them).
from hrm_minimal.check_env import report
from hrm_minimal.utils import get_device

all_ok = report()  # one line per package, then the torch build and the device
device = get_device()
print("lessons will use:", device)

# %% [markdown]
# ## 1. One module is a stack of blocks
#
# A module of HRM takes its state $z$ and an *injection* (what it is told from outside), adds them,
# and runs its blocks: $z \leftarrow f(z + \text{injection})$. Each block has two sublayers,
# self-attention (cells look at each other) and a feed-forward layer (each cell thinks on its own),
# each followed by a residual sum and a norm:
#
# $$h \leftarrow \mathrm{RMSNorm}\big(h + \mathrm{Attn}(h)\big), \qquad
#   h \leftarrow \mathrm{RMSNorm}\big(h + \mathrm{SwiGLU}(h)\big).$$
#
# Here is the L module of the `cpu-small` model the course trains on a CPU (two blocks, hidden
# size 64), and the size of one block at the paper's scale (hidden 512, 8 heads).

# %% tags=["nbval-check-output"]
import torch

from hrm_minimal.layers import TransformerBlock
from hrm_minimal.model import HRM, count_parameters
from hrm_minimal.presets import get_preset
from hrm_minimal.utils import seed_everything

seed_everything(0)
small = HRM(get_preset("cpu-small", vocab_size=8, seq_len=36))
print(small.inner.L_level)
paper_block = TransformerBlock(hidden_size=512, num_heads=8, expansion=4.0)
print(f"one block at the paper's size: {count_parameters(paper_block):,} parameters")
norm_weights = [name for name, _ in small.named_parameters() if "norm" in name]
biases = [name for name, _ in small.named_parameters() if name.endswith("bias")]
print("norm parameters anywhere in the model:", norm_weights)
print("bias parameters:", biases)

# %% [markdown]
# Two things are missing that you may expect. There are **no norm weights**: the reference's
# RMSNorm has no learned scale. And the only bias in the whole model is the Q head's (lesson 06):
# every other linear layer is bias-free. The paper's 27M parameters are eight such blocks
# (4 in H, 4 in L) of 3,407,872 each, plus embeddings and heads (lesson 00 counted them).
#
# ## 2. RMSNorm, without a scale
#
# RMSNorm divides each position's vector by its root-mean-square over the $D$ channels:
#
# $$\mathrm{RMSNorm}(x) = \frac{x}{\sqrt{\frac{1}{D}\sum_{i=1}^{D} x_i^2 + \epsilon}}.$$
#
# Unlike LayerNorm it does not subtract the mean, and here it has no learned gain either, so after
# a norm every position has RMS 1 (up to $\epsilon$). The reference computes it in float32 even
# when the model runs in bfloat16, then casts back.
#
# ## Exercise 2.1: RMSNorm
#
# Write `rms_norm(x, eps=1e-5)`: `x` is a tensor of any shape whose last dimension is the channels.
# Normalise each vector along the last dimension as above, computing in float32, and return a
# tensor of `x`'s shape and dtype.

# %% exercise="2.1"
def rms_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """x / sqrt(mean(x^2 over the last dim) + eps), computed in float32, returned in x's dtype."""
    ### BEGIN SOLUTION
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.pow(2).mean(dim=-1, keepdim=True) + eps)).to(x.dtype)
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_rms_norm

rms_norm = check_rms_norm(rms_norm)

# %% [markdown]
# ## 3. Bias-free linears and truncated LeCun-normal initialisation
#
# Every linear layer starts from a **truncated LeCun normal**: weights drawn with standard
# deviation $1/\sqrt{\text{fan\_in}}$, redrawn if beyond two standard deviations. That keeps a
# layer's output at about the scale of its input. One subtlety: cutting off the tails shrinks the
# spread (to 0.88 of the requested value at $\pm 2\sigma$), so the reference stretches the draw to
# get the standard deviation it asked for. PyTorch's own `trunc_normal_` does not.

# %% tags=["nbval-check-output"]
import math

from torch import nn

from hrm_minimal.layers import lecun_linear

seed_everything(0)
fan_in = 512
layer = lecun_linear(fan_in, 512)  # the package's init
plain = torch.empty(512, fan_in)
nn.init.trunc_normal_(plain, std=1 / math.sqrt(fan_in), a=-2 / math.sqrt(fan_in), b=2 / math.sqrt(fan_in))
target = 1 / math.sqrt(fan_in)
ours = layer.weight.std().item() / target
torchs = plain.std().item() / target
print(f"std / (1/sqrt(fan_in)): lecun_linear {ours:.2f}, torch trunc_normal_ {torchs:.2f}")
print("bias:", layer.bias)
assert abs(ours - 1) < 0.02 and abs(torchs - 0.88) < 0.02
x = torch.randn(1000, fan_in)
with torch.no_grad():
    print(f"input RMS {x.pow(2).mean().sqrt():.2f} -> output RMS {layer(x).pow(2).mean().sqrt():.2f}")

# %% [markdown]
# ## 4. SwiGLU and its width
#
# The feed-forward layer is a gated MLP. One bias-free projection makes two vectors of width $I$,
# a *gate* $g$ and an *up* vector $u$ (the first and second half of its output); the gate passes
# through SiLU and multiplies $u$ element by element; a second projection brings the result back
# to $D$:
#
# $$\mathrm{SwiGLU}(x) = W_{\text{down}}\big(\mathrm{silu}(g) \odot u\big), \quad [g; u] = W_{\text{gate,up}}\,x,
#   \quad \mathrm{silu}(g) = g\,\sigma(g).$$
#
# Its width $I$ follows the reference's rule: $\text{expansion} \cdot D \cdot 2/3$, rounded, then
# rounded **up** to a multiple of 256 (the 2/3 keeps the parameter count of a plain MLP of width
# $\text{expansion} \cdot D$). At the paper's size that gives 1,536; at our CPU size the rounding
# dominates, which is why the 6x6 recipe rounds to 32 instead (`swiglu_multiple`).

# %% tags=["nbval-check-output"]
from hrm_minimal.layers import swiglu_inner_size

for hidden, expansion, multiple in [(512, 4.0, 256), (64, 4.0, 256), (64, 2.0, 32)]:
    raw = round(expansion * hidden * 2 / 3)
    print(f"hidden {hidden:>3}, expansion {expansion}: {raw:>4} rounded up to a multiple of {multiple:>3} -> "
          f"{swiglu_inner_size(hidden, expansion, multiple)}")

# %% [markdown]
# ## Exercise 2.2: SwiGLU from its weights
#
# Write `swiglu(x, gate_up_weight, down_weight)`. `x` is (B, S, D); `gate_up_weight` is (2I, D) and
# `down_weight` is (D, I), stored as `nn.Linear` stores weights, (out_features, in_features). The
# gate is the **first** half of the fused projection's output, the up vector the second. Return the
# (B, S, D) output.

# %% exercise="2.2"
import torch.nn.functional as F


def swiglu(x: torch.Tensor, gate_up_weight: torch.Tensor, down_weight: torch.Tensor) -> torch.Tensor:
    """W_down(silu(g) * u) with [g; u] = x W_gate_up^T: (B, S, D) -> (B, S, D)."""
    ### BEGIN SOLUTION
    gate, up = F.linear(x, gate_up_weight).chunk(2, dim=-1)  # each (B, S, I)
    return F.linear(F.silu(gate) * up, down_weight)
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_swiglu

swiglu = check_swiglu(swiglu)

# %% [markdown]
# ## 5. Rotary position embeddings
#
# Attention on its own does not know where a cell is: shuffle the cells and every cell sees the
# same set of neighbours. HRM (by default) tells positions apart with **rotary embeddings** (RoPE).
# Each head's query and key vectors are cut into pairs of channels, and the pair $(j, j + d/2)$ of
# the vector at position $p$ is rotated by the angle $p\,\omega_j$, with frequencies
# $\omega_j = \theta^{-2j/d}$ ($\theta = 10{,}000$):
#
# $$\mathrm{rot}(x, p) = x \cos(p\,\omega) + \mathrm{rotate\_half}(x) \sin(p\,\omega),
#   \qquad \mathrm{rotate\_half}(x_1, x_2) = (-x_2, x_1),$$
#
# where $x_1, x_2$ are the first and second half of the channels. `RotaryEmbedding` holds the
# tables: `cos` and `sin` of shape (positions, d), each angle written twice (once per half).
#
# ## Exercise 2.3: apply the rotation
#
# Write `apply_rotary(x, cos, sin)`: `x` is (B, S, H, d) (batch, positions, heads, channels per
# head), `cos` and `sin` are (S, d), one row per position, the same for every head. Return the
# rotated `x`, computed in float32 and cast back to `x`'s dtype.

# %% exercise="2.3"
def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x * cos + rotate_half(x) * sin for x (B, S, H, d) and tables (S, d), in float32, cast back."""
    ### BEGIN SOLUTION
    x32 = x.float()
    x1, x2 = x32.chunk(2, dim=-1)  # each (B, S, H, d/2)
    turned = torch.cat([-x2, x1], dim=-1)  # rotate_half
    return (x32 * cos[:, None, :] + turned * sin[:, None, :]).to(x.dtype)  # tables broadcast over heads
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_apply_rotary

apply_rotary = check_apply_rotary(apply_rotary)

# %% [markdown]
# Why rotate? Turning the query by $p_q\,\omega$ and the key by $p_k\,\omega$ turns their dot
# product by the *difference*: the score $q^\top k$ after rotation depends on the two vectors and on
# $p_k - p_q$ only. Measure it with your `apply_rotary`: the same query and key vectors placed at
# positions (3, 7) and at (20, 24) (distance 4 both times) score the same; at (3, 8) they do not.

# %% tags=["nbval-check-output"]
from hrm_minimal.layers import RotaryEmbedding

seed_everything(0)
head_dim, positions = 32, 37  # 6x6 Sudoku: 36 cells + 1 puzzle-prefix token
cos, sin = RotaryEmbedding(head_dim, positions)()  # (37, 32) each
q, k = torch.randn(head_dim), torch.randn(head_dim)


def score(q_pos: int, k_pos: int) -> float:
    """q . k after rotating q to position q_pos and k to k_pos (one batch row, one head)."""
    qs = apply_rotary(q.view(1, 1, 1, -1), cos[q_pos:q_pos + 1], sin[q_pos:q_pos + 1])
    ks = apply_rotary(k.view(1, 1, 1, -1), cos[k_pos:k_pos + 1], sin[k_pos:k_pos + 1])
    return float((qs * ks).sum())


near, far, other = score(3, 7), score(20, 24), score(3, 8)
print(f"(3, 7) vs (20, 24): difference below 1e-4 (same distance): {abs(near - far) < 1e-4}")
print(f"(3, 7) vs (3, 8): difference {abs(near - other):.2f}")
assert abs(near - far) < 1e-4 * max(1.0, abs(near)), "equal distances should give equal scores"
assert abs(near - other) > 1e-2, "a different distance should change the score"
print("score depends only on the distance:", abs(near - far) < 1e-4 * max(1.0, abs(near)))

# %% [markdown]
# **What that means on a grid.** HRM reads a Sudoku row by row: the puzzle-prefix token sits at
# position 0, then cell (r, c) of a 6x6 grid at position $1 + 6r + c$. So "the cell below" is
# always 6 positions on, "the cell to the right" 1 on, and one attention pattern learned for an
# offset works at every cell of the board. But the sequence does not know where rows end: cell
# (0, 5) and cell (1, 0) are 1 apart, like true neighbours. The maps below show, for two query
# cells, the score of the same query and key vectors with the key at every cell of the board:
# the pattern moves with the query (with these vectors the cell just below scores highest in both
# maps: one offset, one score), and it spills across the row ends.

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt
import numpy as np

fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
for ax, (r, c) in zip(axes, [(1, 1), (3, 4)]):
    query_pos = 1 + 6 * r + c
    grid = np.array([[score(query_pos, 1 + 6 * kr + kc) for kc in range(6)] for kr in range(6)])
    image = ax.imshow(grid, cmap="coolwarm")
    ax.plot(c, r, marker="s", markersize=18, markerfacecolor="none", markeredgecolor="black", markeredgewidth=2)
    ax.set_title(f"query at cell ({r}, {c})")
    ax.set_xticks(range(6))
    ax.set_yticks(range(6))
    fig.colorbar(image, ax=ax, shrink=0.8)
fig.suptitle("score q.k with the key at each cell: a pattern of offsets")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 6. Non-causal attention
#
# A language model masks attention so that a token sees only the tokens before it, because it
# writes left to right. HRM writes every cell at once, so nothing is masked: every cell attends to
# every cell. Change the **last** cell of a puzzle and the block's output at the **first** cell
# changes too.

# %% tags=["nbval-check-output"]
seed_everything(0)
block = TransformerBlock(hidden_size=64, num_heads=2, expansion=4.0)
cos_sin = RotaryEmbedding(32, positions)()
h = torch.randn(1, positions, 64)  # (B, S, D)
h_changed = h.clone()
h_changed[0, -1] = torch.randn(64)  # only the last position differs
with torch.no_grad():
    first_moves = not torch.allclose(block(h, cos_sin)[0, 0], block(h_changed, cos_sin)[0, 0])
assert first_moves
print("the first cell's output depends on the last cell:", first_moves)

# %% [markdown]
# ## 7. The post-norm block
#
# HRM puts the norm **after** each residual sum (post-norm), as the original Transformer did,
# where most language models today put it before the sublayer (pre-norm, $h + f(\mathrm{norm}(h))$).
# For a network run once, pre-norm trains more easily in very deep stacks. HRM runs the same blocks
# again and again on its own output, and there post-norm matters: the state leaving every block has
# RMS 1, whatever came in.
#
# ## Exercise 2.4: the block from its parts
#
# Write `post_norm_block(h, attn, mlp, cos_sin, eps=1e-5)`: `h` is (B, S, D); `attn(h, cos_sin)` and
# `mlp(h)` are the block's two sublayers (each returns (B, S, D)). Return the block's output:
# attention first, then the MLP, each added to the state and followed by RMSNorm. Use `norm`, the
# package's `rms_norm` (the same function as yours once 2.1 passes; this way a slip in 2.1 does not
# count against 2.4).

# %% exercise="2.4"
from hrm_minimal.layers import rms_norm as norm  # RMSNorm, as in Exercise 2.1


def post_norm_block(h: torch.Tensor, attn, mlp, cos_sin, eps: float = 1e-5) -> torch.Tensor:
    """h <- norm(h + attn(h, cos_sin)); h <- norm(h + mlp(h))."""
    ### BEGIN SOLUTION
    h = norm(h + attn(h, cos_sin), eps)  # (B, S, D)
    return norm(h + mlp(h), eps)
    ### END SOLUTION


# %% tags=["nbval-check-output"]
from hrm_minimal.checks import check_post_norm_block

post_norm_block = check_post_norm_block(post_norm_block)

# %% [markdown]
# Now the reason for post-norm, measured. Take one block with random weights and apply it 50 times
# in a row to its own output, as a recurrent module does: once as written (post-norm) and once with
# the same weights in pre-norm form. Post-norm keeps the state's RMS at 1 after every application;
# in pre-norm each application adds its sublayers' output to an unnormalised sum, and the state
# keeps growing.

# %% tags=["nbval-ignore-output"]
def pre_norm_block(h, attn, mlp, cos_sin, eps=1e-5):
    """The same sublayers in pre-norm form: h <- h + attn(norm(h)); h <- h + mlp(norm(h))."""
    h = h + attn(rms_norm(h, eps), cos_sin)
    return h + mlp(rms_norm(h, eps))


seed_everything(0)
block = TransformerBlock(hidden_size=64, num_heads=2, expansion=4.0)
start = torch.randn(4, positions, 64)  # (B, S, D), RMS about 1
rms = {"post-norm": [start.pow(2).mean().sqrt().item()], "pre-norm": [start.pow(2).mean().sqrt().item()]}
with torch.no_grad():
    for form, step in (("post-norm", post_norm_block), ("pre-norm", pre_norm_block)):
        h = start
        for _ in range(50):
            h = step(h, block.self_attn, block.mlp, cos_sin)
            rms[form].append(h.pow(2).mean().sqrt().item())

fig, ax = plt.subplots(figsize=(6, 3.5))
for form, values in rms.items():
    ax.plot(values, label=form)
ax.set_yscale("log")
ax.set_xlabel("applications of the same block")
ax.set_ylabel("RMS of the state")
ax.legend()
ax.set_title("one block applied 50 times to its own output")
plt.tight_layout()
plt.show()

# %% tags=["nbval-check-output"]
post, pre = np.array(rms["post-norm"][1:]), np.array(rms["pre-norm"][1:])
print(f"post-norm RMS over 50 applications: {post.min():.2f} to {post.max():.2f}")
print(f"pre-norm RMS after 1, 10 and 50 applications: {pre[0]:.0f}, {pre[9]:.0f}, {pre[49]:.0f}")
assert np.all(np.abs(post - 1) < 0.01), "post-norm should keep the state's RMS at 1"
assert pre[49] > 10 * pre[0], "pre-norm should let the state grow"
print("post-norm stays bounded and pre-norm grows:", bool(np.all(np.abs(post - 1) < 0.01) and pre[49] > 10 * pre[0]))

# %% [markdown]
# A bounded state is what lets HRM run its modules for dozens of steps per segment and carry the
# state from segment to segment without it exploding or vanishing. (Pre-norm models can be kept in
# check in other ways, and TRM, a successor of HRM, keeps post-norm too.)

# %% [markdown]
# ## What you built
#
# - `rms_norm`: RMSNorm with no mean subtraction and no learned scale, in float32.
# - `swiglu`: the gated feed-forward layer from its two weight matrices, and the reference's width
#   rule (round up to a multiple of 256).
# - `apply_rotary`: rotary position embeddings, and a measurement that the attention score depends
#   on the distance between positions only.
# - `post_norm_block`: the block HRM stacks, and a measurement that post-norm keeps a state bounded
#   over 50 applications where pre-norm lets it grow.
#
# `hrm_minimal.layers` holds the same pieces (`rms_norm`, `swiglu`, `apply_rotary`,
# `post_norm_block`, `TransformerBlock`); lesson 03 stacks them into HRM's two modules.

# %% [markdown]
# ## Questions
#
# 1. RMSNorm here has no learned scale. What could a learned per-channel scale do to a state that
#    is fed back into the same module dozens of times?
# 2. Why does the SwiGLU width use 2/3 of `expansion * hidden`? Count the parameters of a SwiGLU of
#    width $I$ and of a plain two-layer MLP of width $\text{expansion} \cdot D$.
# 3. Cells (0, 5) and (1, 0) of a 6x6 grid are one position apart. How could the model still learn
#    that they are not neighbours? What would `pos_encodings="learned"` (a trained vector per
#    position) change?
# 4. The maps in section 5 show one head's pattern for one fixed pair of vectors. In a trained model,
#    what would you expect a head that checks "same column" to look like?
# 5. Repeat the 50-application experiment with the block's weights scaled by 3. Does post-norm still
#    hold the RMS at 1? What happens to pre-norm?
# 6. Grade yourself: `python -m hrm_minimal.grade lessons/02_building_block.ipynb`.
