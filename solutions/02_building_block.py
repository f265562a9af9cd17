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
# {{INSTALL_CELL}}

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
# size 64), and the size of one block at the paper's scale (hidden 512, 8 heads) and at `cpu-tiny`'s
# (hidden 64, 2 heads: one block per module).

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
tiny = HRM(get_preset("cpu-tiny", vocab_size=8, seq_len=36))
print(f"one block at the paper's size: {count_parameters(paper_block):,} parameters")
print(f"one block of cpu-tiny:         {count_parameters(tiny.inner.L_level.layers[0]):,} parameters")
norm_weights = [name for name, _ in small.named_parameters() if "norm" in name]
biases = [name for name, _ in small.named_parameters() if name.endswith("bias")]
print("norm parameters anywhere in the model:", norm_weights)
print("bias parameters:", biases)

# %% tags=["nbval-check-output"]
paper_size = count_parameters(paper_block) == 3_407_872
assert paper_size, "one block of the paper's HRM has 3,407,872 parameters"
assert norm_weights == [], "the norms have no weights"
assert biases == ["inner.q_head.bias"], "the Q head is the only layer with a bias"
print("one block at the paper's size has 3,407,872 parameters:", paper_size)
print("no norm weights, and the Q head's is the only bias:", norm_weights == [] and biases == ["inner.q_head.bias"])

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
# Your `rms_norm` (or the reference, if the check above failed) at work: states of very different
# sizes all come out with RMS 1 per position. The exception is a state whose RMS is near
# $\sqrt{\epsilon} \approx 0.003$: there $\epsilon$ is no longer small next to $\text{mean}(x^2)$, and the
# norm stops short of blowing a near-zero vector up to RMS 1 (we measure about 0.95 at RMS 0.01 and
# 0.30 at RMS 0.001). The input here is bfloat16, the reference's activation dtype.

# %% tags=["nbval-ignore-output"]
from hrm_minimal.block_probe import rms

seed_everything(0)
out_rms = {}
for size in (100.0, 1.0, 0.01, 0.001):
    x = (torch.randn(8, 36, 64) * size).to(torch.bfloat16)  # (B, S, D), RMS about `size`
    y = rms_norm(x)
    out_rms[size] = y.float().pow(2).mean(-1).sqrt()  # (B, S): the RMS of each position
    print(f"input RMS {rms(x):8.3f} -> output RMS per position {out_rms[size].min():.3f} to "
          f"{out_rms[size].max():.3f}, dtype {y.dtype}")

# %% tags=["nbval-check-output"]
unit = all(bool((out_rms[size] - 1).abs().max() < 0.01) for size in (100.0, 1.0))
short = bool(0.9 < out_rms[0.01].mean() < 0.99) and bool(out_rms[0.001].max() < 0.5)
assert unit, "after the norm every position should have RMS 1"
assert short, "near sqrt(eps) the norm should stop short of RMS 1"
print("RMS 1 (within 1%) after the norm, for inputs of RMS 100 and 1:", unit)
print("near sqrt(eps) the norm stops short of 1 (0.9-0.99 at RMS 0.01, below 0.5 at 0.001):", short)

# %% [markdown]
# ## 3. Bias-free linears and truncated LeCun-normal initialisation
#
# Every linear layer is bias-free and starts from a **truncated LeCun normal**: weights with standard
# deviation $\sigma = 1/\sqrt{\text{fan\_in}}$ and no tails. That keeps a layer's output at about
# the scale of its input. One subtlety: cutting off the tails of a normal shrinks its spread (at
# $\pm 2$ standard deviations, to 0.88 of what it was), so asking PyTorch's `nn.init.trunc_normal_`
# for $\sigma$ gives $0.88\,\sigma$. The reference, and our `trunc_normal_init_`, draw a unit normal
# cut at $\pm 2$ and then stretch it by $1/0.88$: the standard deviation is then exactly $\sigma$, and
# the cut sits at $\pm 2.27\,\sigma$. `lecun_linear(fan_in, fan_out)` is a bias-free `nn.Linear`
# initialised that way.

# %% tags=["nbval-ignore-output"]
import math

from torch import nn

from hrm_minimal.layers import lecun_linear, trunc_normal_init_

seed_everything(0)
fan_in = 512
sigma = 1 / math.sqrt(fan_in)  # LeCun: 1/sqrt(fan_in)
ours = trunc_normal_init_(torch.empty(512, fan_in), std=sigma)  # (out, in), the package's init
plain = nn.init.trunc_normal_(torch.empty(512, fan_in), std=sigma, a=-2 * sigma, b=2 * sigma)  # PyTorch's
for name, w in (("trunc_normal_init_", ours), ("nn.init.trunc_normal_", plain)):
    print(f"{name:>22}: std {w.std() / sigma:.3f} sigma, largest |w| {w.abs().max() / sigma:.2f} sigma")

layer = lecun_linear(fan_in, 512)  # bias-free Linear with trunc_normal_init_(std=1/sqrt(fan_in))
x = torch.randn(1000, fan_in)  # (N, fan_in), RMS about 1
with torch.no_grad():
    y = layer(x)  # (N, 512)
print(f"lecun_linear: weight std {layer.weight.std() / sigma:.3f} sigma, bias {layer.bias}; "
      f"input RMS {rms(x):.3f} -> output RMS {rms(y):.3f}")

# %% tags=["nbval-check-output"]
exact_std = bool(abs(ours.std() / sigma - 1) < 0.01) and bool(abs(layer.weight.std() / sigma - 1) < 0.01)
shrunk = bool(abs(plain.std() / sigma - 0.88) < 0.01)
keeps_scale = layer.bias is None and abs(rms(y) / rms(x) - 1) < 0.05
assert exact_std, "trunc_normal_init_ (and lecun_linear) should give the std they are asked for"
assert shrunk, "PyTorch's trunc_normal_ should give 0.88 of it"
assert keeps_scale, "a bias-free LeCun-initialised layer should keep the scale of its input"
print("std within 1% of 1/sqrt(fan_in): trunc_normal_init_ and lecun_linear", exact_std,
      "| nn.init.trunc_normal_ 0.88 of it:", shrunk)
print("lecun_linear is bias-free and keeps the input's RMS (within 5%):", keeps_scale)

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

# %% tags=["nbval-ignore-output"]
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
print(f"score at (3, 7): {near:.4f}   at (20, 24): {far:.4f}   at (3, 8): {other:.4f}")

# %% tags=["nbval-check-output"]
same = abs(near - far) < 1e-4 * max(1.0, abs(near))
differs = abs(near - other) > 0.1
assert same, "equal distances should give equal scores"
assert differs, "a different distance should change the score"
print("(3, 7) and (20, 24) score the same (distance 4 both times):", same)
print("(3, 8) scores differently (distance 5):", differs)

# %% [markdown]
# **What that means on a grid.** HRM reads a Sudoku row by row: the puzzle-prefix token sits at
# position 0, then cell (r, c) of a 6x6 grid at position $1 + 6r + c$ (`cell_position`). So "the
# cell below" is always 6 positions on, "the cell to the right" 1 on, and one attention pattern
# learned for an offset works at every cell of the board. But the sequence does not know where rows
# end: cells 5 and 6 in reading order, (0, 5) and (1, 0), are 1 apart, like true neighbours, though
# they sit at opposite ends of the board.
#
# The maps below show, for two query cells, the score of the same query and key vectors with the
# key at every cell: the pattern moves with the query (with these vectors the cell just below
# scores highest in both maps: one offset, one score), and it runs on across the row ends.

# %% tags=["nbval-ignore-output"]
# Show the figures the package's drawing functions return (matplotlib's inline backend).
# %matplotlib inline
from IPython.display import display

from hrm_minimal.block_probe import cell_position, draw_score_maps, score_map

query_cells = [(1, 1), (3, 4)]
maps = [score_map(score, cell, grid_size=6) for cell in query_cells]  # (6, 6) each
display(draw_score_maps(maps, query_cells, title="score q.k with the key at each cell: a pattern of offsets"))

# %% tags=["nbval-check-output"]
import numpy as np


def best_offset(m, cell):
    """(rows, cols) from the query cell to the best-scoring key cell of map m."""
    r, c = np.unravel_index(np.argmax(m), m.shape)
    return int(r - cell[0]), int(c - cell[1])


(r1, c1), (r2, c2) = query_cells
shared = [(dr, dc) for dr in range(-5, 6) for dc in range(-5, 6)  # offsets on the board for both queries
          if 0 <= r1 + dr < 6 and 0 <= c1 + dc < 6 and 0 <= r2 + dr < 6 and 0 <= c2 + dc < 6]
moved = max(abs(maps[0][r1 + dr, c1 + dc] - maps[1][r2 + dr, c2 + dc]) for dr, dc in shared)
wrap = score(cell_position(0, 5, 6), cell_position(1, 0, 6))  # end of row 0 -> start of row 1
right = score(cell_position(2, 2, 6), cell_position(2, 3, 6))  # a true right-hand neighbour
below = best_offset(maps[0], query_cells[0]) == best_offset(maps[1], query_cells[1]) == (1, 0)
assert moved < 1e-4, "the map should move with the query, unchanged"
assert below, "with these vectors the cell just below should score highest in both maps"
assert abs(wrap - right) < 1e-4, "rotary embeddings alone cannot tell a row's end from a neighbour"
print("the two maps agree at every offset they share:", moved < 1e-4)
print("best key in both maps: the cell just below the query:", below)
print("cell (0, 5) -> (1, 0) scores as a right-hand neighbour does:", abs(wrap - right) < 1e-4)

# %% [markdown]
# Pick the query cell yourself (needs `ipywidgets`; the static maps above show two of them).

# %% tags=["nbval-ignore-output"]
try:
    import ipywidgets as widgets

    def show(cell=7):
        """The score map of query cell `cell` (reading order, 0..35)."""
        query = divmod(cell, 6)
        display(draw_score_maps([score_map(score, query, grid_size=6)], [query], size=4.0))

    widgets.interact(show, cell=widgets.IntSlider(value=7, min=0, max=35, description="query cell"))
except ImportError:
    print("ipywidgets is not installed: see the static maps above")

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
# Now the reason for post-norm, measured. Take one block with random weights (hidden 64, 2 heads:
# `cpu-tiny`'s size) and apply it 50 times in a row to its own output, as a recurrent module does:
# once as written (post-norm) and once with the same weights in pre-norm form. The block is built
# from your pieces: your `post_norm_block` and `rms_norm`, and your `swiglu` as its MLP.
#
# What we measured (seed 0, a batch of 4 states of RMS 1.0): post-norm holds the RMS at 1.00 after
# every one of the 50 applications. Pre-norm has RMS 1.2 after one application, 6.7 after 10
# and 46 after 50: each application adds its sublayers' output to an unnormalised sum, and the sum
# keeps growing.

# %% tags=["nbval-ignore-output"]
from hrm_minimal.block_probe import plot_rms_curves, rms_under_repetition


def pre_norm_block(h, attn, mlp, cos_sin, eps=1e-5):
    """The same sublayers in pre-norm form (not HRM's): h <- h + attn(norm(h)); h <- h + mlp(norm(h))."""
    h = h + attn(rms_norm(h, eps), cos_sin)
    return h + mlp(rms_norm(h, eps))


seed_everything(0)
block = TransformerBlock(hidden_size=64, num_heads=2, expansion=4.0)
attn = block.self_attn
mlp = lambda h: swiglu(h, block.mlp.gate_up_proj.weight, block.mlp.down_proj.weight)  # noqa: E731  your 2.2
start = torch.randn(4, positions, 64)  # (B, S, D), RMS about 1
curves = {form: rms_under_repetition(lambda h: step(h, attn, mlp, cos_sin), start, times=50)  # 51 values each
          for form, step in (("post-norm", post_norm_block), ("pre-norm", pre_norm_block))}
post, pre = np.array(curves["post-norm"]), np.array(curves["pre-norm"])  # index k: after k applications
print(f"start RMS {post[0]:.2f}; post-norm RMS over 50 applications {post[1:].min():.4f} to {post[1:].max():.4f}")
print(f"pre-norm RMS after 1, 10 and 50 applications: {pre[1]:.1f}, {pre[10]:.1f}, {pre[50]:.1f}")
display(plot_rms_curves(curves, title="one block applied 50 times to its own output"))

# %% tags=["nbval-check-output"]
bounded = bool(np.all(np.abs(post[1:] - 1) < 0.01))
grows = bool(pre[50] > 10 * pre[0])
assert bounded, "post-norm should keep the state's RMS at 1"
assert grows, "pre-norm should let the state grow"
print("post-norm RMS within 1% of 1 after each of the 50 applications:", bounded)
print("pre-norm RMS after 50 applications more than 10x its start:", grows)

# %% [markdown]
# A bounded state is what lets HRM run its modules for dozens of steps per segment and carry the
# state from segment to segment without it exploding or vanishing. (Pre-norm models can be kept in
# check in other ways, and TRM, a successor of HRM, keeps post-norm too.)

# %% [markdown]
# ## What you built
#
# - `rms_norm`: RMSNorm with no mean subtraction and no learned scale, in float32; RMS 1 after it,
#   except for states near $\sqrt{\epsilon}$.
# - `swiglu`: the gated feed-forward layer from its two weight matrices, and the reference's width
#   rule (round up to a multiple of 256).
# - `apply_rotary`: rotary position embeddings, and a measurement that the attention score depends
#   on the distance between positions only, and what that means for a grid read row by row.
# - `post_norm_block`: the block HRM stacks, and a measurement that post-norm keeps a state bounded
#   over 50 applications where pre-norm lets it grow.
#
# Along the way you measured the package's truncated LeCun-normal init (`trunc_normal_init_`,
# `lecun_linear`): its standard deviation is $1/\sqrt{\text{fan\_in}}$, where PyTorch's
# `trunc_normal_` falls short by 12%. `hrm_minimal.layers` holds the same pieces (`rms_norm`,
# `swiglu`, `apply_rotary`, `post_norm_block`, `TransformerBlock`); lesson 03 stacks them into HRM's
# two modules.

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
# 5. The prefix token sits at position 0, so a cell's position is $1 + 6r + c$. Would anything in
#    this lesson's measurements change if the cells started at 0 and the prefix came last? What
#    would change for a model that uses `pos_encodings="learned"`?
# 6. Repeat the 50-application experiment with the block's weights scaled by 3. Does post-norm still
#    hold the RMS at 1? What happens to pre-norm?
# 7. Grade yourself: `python -m hrm_minimal.grade lessons/02_building_block.ipynb`.
