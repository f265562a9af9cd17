"""The HRM: the two-level recurrent core (HRMInner) and the ACT / deep-supervision wrapper (HRM)."""
from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import HRMConfig
from .layers import (PuzzleEmbedding, RotaryEmbedding, TransformerBlock, lecun_linear,
                     trunc_normal_init_)

Batch = dict  # {"inputs": (B, S) int64, "labels": (B, S) int64, "puzzle_identifiers": (B,) int64}


def validate_inputs(inputs: torch.Tensor, config: HRMConfig) -> None:
    """Reject token ids the model cannot read (wrong type, shape, length or vocabulary), naming the fault."""
    if not torch.is_tensor(inputs) or inputs.dtype.is_floating_point or inputs.dtype == torch.bool:
        found = inputs.dtype if torch.is_tensor(inputs) else type(inputs).__name__
        raise TypeError(f"inputs must be an integer tensor of token ids, got {found}")
    if inputs.ndim != 2:
        raise ValueError(f"inputs must have shape (B, seq_len={config.seq_len}), got {tuple(inputs.shape)}")
    if inputs.shape[1] != config.seq_len:
        raise ValueError(f"inputs have length {inputs.shape[1]}, but the model expects seq_len {config.seq_len} "
                         f"(shape (B, {config.seq_len}), got {tuple(inputs.shape)})")
    low, high = int(inputs.min()), int(inputs.max())
    if low < 0 or high >= config.vocab_size:
        raise ValueError(f"inputs hold token id {low if low < 0 else high}, outside the model's vocabulary "
                         f"0..{config.vocab_size - 1} (vocab_size {config.vocab_size})")


# ---------------------------------------------------------------------------------------- carries
@dataclass
class InnerCarry:
    """The two recurrent states, each (B, P+S, D) where P = puzzle-prefix tokens."""

    z_H: torch.Tensor
    z_L: torch.Tensor


@dataclass
class ACTCarry:
    """What survives between segments: states, step counts, halted flags, each slot's data."""

    inner_carry: InnerCarry
    steps: torch.Tensor  # (B,) int32
    halted: torch.Tensor  # (B,) bool
    current_data: dict[str, torch.Tensor]  # the batch rows each slot works on

    def to_state(self) -> dict:
        """Plain dict of tensors (safe for torch.save / torch.load(weights_only=True))."""
        return {"z_H": self.inner_carry.z_H, "z_L": self.inner_carry.z_L, "steps": self.steps,
                "halted": self.halted, "current_data": dict(self.current_data)}

    @classmethod
    def from_state(cls, d: dict) -> "ACTCarry":
        """Inverse of `to_state`."""
        missing = [k for k in ("z_H", "z_L", "steps", "halted", "current_data") if k not in d]
        if missing:
            raise ValueError(f"ACTCarry.from_state: missing key(s) {missing}")
        return cls(InnerCarry(d["z_H"], d["z_L"]), d["steps"], d["halted"], dict(d["current_data"]))

    def to(self, device: torch.device | str) -> "ACTCarry":
        """Copy of the carry on `device`."""
        return ACTCarry(InnerCarry(self.inner_carry.z_H.to(device), self.inner_carry.z_L.to(device)),
                        self.steps.to(device), self.halted.to(device),
                        {k: v.to(device) for k, v in self.current_data.items()})


# ---------------------------------------------------------------------------------------- modules
class ReasoningModule(nn.Module):
    """A stack of post-norm blocks that first adds its injection to its state: z <- f(z + injection)."""

    def __init__(self, config: HRMConfig, num_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            TransformerBlock(config.hidden_size, config.num_heads, config.expansion, config.rms_norm_eps,
                             config.swiglu_multiple)
            for _ in range(num_layers))

    def forward(self, hidden: torch.Tensor, injection: torch.Tensor,
                cos_sin: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        hidden = hidden + injection  # (B, P+S, D)
        for layer in self.layers:
            hidden = layer(hidden, cos_sin)
        return hidden


class HRMInner(nn.Module):
    """One segment of the HRM: H_cycles high-level updates, each after L_cycles low-level updates."""

    def __init__(self, config: HRMConfig) -> None:
        super().__init__()
        self.config = config
        D = config.hidden_size
        self.embed_scale = math.sqrt(D)
        self.embed_tokens = nn.Embedding(config.vocab_size, D)
        trunc_normal_init_(self.embed_tokens.weight, std=1.0 / math.sqrt(D))
        self.puzzle_emb = (PuzzleEmbedding(config.num_puzzle_identifiers, config.puzzle_emb_ndim)
                           if config.puzzle_emb_ndim > 0 else None)
        if config.pos_encodings == "rope":  # rotary angles applied to q and k inside attention
            self.rotary = RotaryEmbedding(config.head_dim, config.total_len, config.rope_theta)
        else:  # "learned": one trained vector per position, added to the input embedding
            self.embed_pos = nn.Embedding(config.total_len, D)
            trunc_normal_init_(self.embed_pos.weight, std=1.0 / math.sqrt(D))
        # The flat and TRM models (architecture="flat" / "trm", for comparison only) have no H module.
        self.H_level = ReasoningModule(config, config.H_layers) if config.architecture == "hrm" else None
        self.L_level = ReasoningModule(config, config.L_layers)
        self.lm_head = lecun_linear(D, config.vocab_size)
        self.q_head = nn.Linear(D, 2, bias=True)  # [halt, continue]
        with torch.no_grad():  # start nearly certain to continue: sigmoid(-5) ~ 0.007
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5.0)
        # Fixed random starting states, broadcast over batch and positions (not learned).
        self.register_buffer("H_init", trunc_normal_init_(torch.empty(D), std=1.0))
        self.register_buffer("L_init", trunc_normal_init_(torch.empty(D), std=1.0))

    @property
    def puzzle_emb_len(self) -> int:
        return self.config.puzzle_emb_len if self.puzzle_emb is not None else 0

    def input_embeddings(self, inputs: torch.Tensor, puzzle_identifiers: torch.Tensor) -> torch.Tensor:
        """x = sqrt(D) * [puzzle prefix tokens ; token embeddings]: (B, P+S, D)."""
        emb = self.embed_tokens(inputs)  # (B, S, D)
        if self.puzzle_emb is not None:
            B, D, P = inputs.shape[0], self.config.hidden_size, self.puzzle_emb_len
            prefix = self.puzzle_emb(puzzle_identifiers)  # (B, E)
            prefix = F.pad(prefix, (0, P * D - prefix.shape[-1]))  # zero-pad E up to P*D
            emb = torch.cat([prefix.view(B, P, D).to(emb.dtype), emb], dim=1)  # (B, P+S, D)
        if self.config.pos_encodings == "learned":  # (e + p) / sqrt(2) keeps unit variance
            emb = (emb + self.embed_pos.weight.to(emb.dtype)) / math.sqrt(2)
        return self.embed_scale * emb

    def empty_carry(self, batch_size: int, device: torch.device | str | None = None) -> InnerCarry:
        """Placeholder states (zeros); every slot must be reset before use."""
        shape = (batch_size, self.puzzle_emb_len + self.config.seq_len, self.config.hidden_size)
        device = device if device is not None else self.H_init.device
        return InnerCarry(torch.zeros(shape, device=device), torch.zeros(shape, device=device))

    def reset_carry(self, reset: torch.Tensor, carry: InnerCarry) -> InnerCarry:
        """States of slots where `reset` (B,) is True go back to H_init / L_init."""
        mask = reset.view(-1, 1, 1)
        return InnerCarry(torch.where(mask, self.H_init.to(carry.z_H.dtype), carry.z_H),
                          torch.where(mask, self.L_init.to(carry.z_L.dtype), carry.z_L))

    def _grad_window(self, final: bool):
        """Gradient only on the final step (one-step gradient), or everywhere if one_step_grad=False."""
        return nullcontext() if (final or not self.config.one_step_grad) else torch.no_grad()

    def _flat_segment(self, z_L: torch.Tensor, x: torch.Tensor, cos_sin) -> torch.Tensor:
        """The flat model's segment: z_L <- f_L(z_L + x), flat_steps times, gradient on the last call only."""
        steps = self.config.flat_steps
        for k in range(steps):
            with self._grad_window(k == steps - 1):
                z_L = self.L_level(z_L, x, cos_sin)
        return z_L

    def _trm_segment(self, y: torch.Tensor, z: torch.Tensor, x: torch.Tensor, cos_sin):
        """TRM's segment with its names (y = z_H, the answer; z = z_L, the latent) and ONE network: per
        cycle, z <- net(z + y + x) L_cycles times, then y <- net(y + z); gradient through the whole last
        cycle, none through the others. Returns (y, z) in the (z_H, z_L) order of `segment`."""
        cfg = self.config
        for h in range(cfg.H_cycles):
            with nullcontext() if h == cfg.H_cycles - 1 else torch.no_grad():
                for _ in range(cfg.L_cycles):
                    z = self.L_level(z, y + x, cos_sin)  # latent step: reads the puzzle, the answer, itself
                y = self.L_level(y, z, cos_sin)  # answer step: the same network, without x
        return y, z

    def segment(self, z_H: torch.Tensor, z_L: torch.Tensor, x: torch.Tensor, cos_sin):
        """The recurrence of one segment on states (B, P+S, D) and input embeddings x: new (z_H, z_L).

        H_cycles high-level updates, each after L_cycles low-level updates; only the last L and H
        update carry gradient (unless one_step_grad=False). The flat model updates z_L alone.
        """
        cfg = self.config
        if cfg.architecture == "flat":
            return z_H, self._flat_segment(z_L, x, cos_sin)
        if cfg.architecture == "trm":
            return self._trm_segment(z_H, z_L, x, cos_sin)
        for h in range(cfg.H_cycles):
            for l in range(cfg.L_cycles):
                with self._grad_window(h == cfg.H_cycles - 1 and l == cfg.L_cycles - 1):
                    z_L = self.L_level(z_L, z_H + x, cos_sin)  # z_L <- f_L(z_L + z_H + x)
            with self._grad_window(h == cfg.H_cycles - 1):
                z_H = self.H_level(z_H, z_L, cos_sin)  # z_H <- f_H(z_H + z_L)
        return z_H, z_L

    def forward(self, carry: InnerCarry, batch: Batch):
        """Run one segment; return (detached new carry, logits (B,S,V), (q_halt (B,), q_continue (B,)))."""
        cfg = self.config
        cos_sin = self.rotary() if self.config.pos_encodings == "rope" else None
        x = self.input_embeddings(batch["inputs"], batch["puzzle_identifiers"])  # (B, P+S, D)
        z_H, z_L = self.segment(carry.z_H, carry.z_L, x, cos_sin)
        out = z_L if cfg.architecture == "flat" else z_H  # the state the heads read
        new_carry = InnerCarry(z_H.detach(), z_L.detach())  # no graph crosses segments
        logits = self.lm_head(out)[:, self.puzzle_emb_len:]  # (B, S, V), prefix positions dropped
        q = self.q_head(out[:, 0]).float()  # (B, 2) from the first (prefix) position, in float32
        return new_carry, logits, (q[..., 0], q[..., 1])


# ---------------------------------------------------------------------------------------- ACT wrapper
class HRM(nn.Module):
    """HRM with adaptive computation time: one call = one segment of deep supervision."""

    def __init__(self, config: HRMConfig) -> None:
        super().__init__()
        if not isinstance(config, HRMConfig):
            raise TypeError(f"HRM expects an HRMConfig, got {type(config).__name__}")
        config.validate()
        self.config = config
        self.inner = HRMInner(config)
        # Segments this model is read with when `evaluate`/`solve` are not told: None means the
        # config's halt_max_steps. `load_model` sets it from the file (an exported model's card).
        # It changes no computation; the reference has no such field.
        self.reading_segments: int | None = None

    @property
    def puzzle_emb(self) -> PuzzleEmbedding | None:
        """The puzzle-embedding module (a buffer table, trained by optim.SignSGD), or None."""
        return self.inner.puzzle_emb

    # ------------------------------------------------------------------ batch handling
    def _prepare_batch(self, batch: Batch) -> Batch:
        """Check the batch and add zero puzzle_identifiers when absent."""
        if not isinstance(batch, dict) or "inputs" not in batch:
            raise ValueError("batch must be a dict with at least an 'inputs' tensor of shape (B, seq_len)")
        inputs = batch["inputs"]
        validate_inputs(inputs, self.config)
        B = inputs.shape[0]
        out = dict(batch)
        if "labels" in out and tuple(out["labels"].shape) != (B, self.config.seq_len):
            raise ValueError(f"batch['labels'] must have shape {(B, self.config.seq_len)}, got "
                             f"{tuple(out['labels'].shape)}")
        ids = out.get("puzzle_identifiers")
        if ids is None:
            out["puzzle_identifiers"] = torch.zeros(B, dtype=torch.long, device=inputs.device)
        else:
            if tuple(ids.shape) != (B,):
                raise ValueError(f"batch['puzzle_identifiers'] must have shape ({B},), got {tuple(ids.shape)}")
            if bool(((ids < 0) | (ids >= self.config.num_puzzle_identifiers)).any()):
                raise ValueError("batch['puzzle_identifiers'] outside [0, num_puzzle_identifiers="
                                 f"{self.config.num_puzzle_identifiers})")
        return out

    def initial_carry(self, batch: Batch) -> ACTCarry:
        """A carry whose slots are all halted, so the first call loads every row of the batch."""
        batch = self._prepare_batch(batch)
        B, device = batch["inputs"].shape[0], batch["inputs"].device
        return ACTCarry(
            inner_carry=self.inner.empty_carry(B, device),
            steps=torch.zeros(B, dtype=torch.int32, device=device),
            halted=torch.ones(B, dtype=torch.bool, device=device),
            current_data={k: torch.zeros_like(v) for k, v in batch.items() if torch.is_tensor(v)},
        )

    def q_says_halt(self, q_halt: torch.Tensor, q_continue: torch.Tensor) -> torch.Tensor:
        """(B,) bool: the Q head would stop here. HRM: Q_halt > Q_continue; with act_continue=False
        (TRM's shortcut, no continue value is learned): Q_halt > 0, a sigmoid above one half."""
        return q_halt > q_continue if self.config.act_continue else q_halt > 0

    # ------------------------------------------------------------------ one segment
    def refill(self, carry: ACTCarry, batch: Batch) -> tuple[InnerCarry, torch.Tensor, dict]:
        """The streaming batch: slots that halted restart (states to H_init / L_init, step count 0, the
        new batch's row); the others keep their states, counts and data, and their new row is dropped.
        Returns (inner carry, steps (B,), data)."""
        return self._refill(carry, self._prepare_batch(batch))

    def _refill(self, carry: ACTCarry, batch: Batch) -> tuple[InnerCarry, torch.Tensor, dict]:
        """`refill` on a batch already checked by `_prepare_batch` (forward checks it once)."""
        if batch["inputs"].shape[0] != carry.halted.shape[0]:
            raise ValueError(f"batch has {batch['inputs'].shape[0]} rows but the carry has {carry.halted.shape[0]} slots")
        missing = [k for k in carry.current_data if k not in batch]
        if missing:
            raise ValueError(f"batch lacks key(s) {missing} that the carry holds (made by initial_carry)")
        halted = carry.halted  # (B,)
        inner_carry = self.inner.reset_carry(halted, carry.inner_carry)
        steps = torch.where(halted, torch.zeros_like(carry.steps), carry.steps)
        data = {k: torch.where(halted.view(-1, *([1] * (v.ndim - 1))), batch[k], v)
                for k, v in carry.current_data.items()}
        return inner_carry, steps, data

    def forward(self, carry: ACTCarry, batch: Batch, max_steps: int | None = None,
                generator: torch.Generator | None = None):
        """Refill halted slots from `batch`, run one segment, update halting; return (carry, outputs)."""
        batch = self._prepare_batch(batch)
        limit = self.config.halt_max_steps if max_steps is None else max_steps
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"max_steps must be a positive int or None, got {max_steps!r}")

        # 1. Halted slots restart: fresh states, steps 0, the new batch's row (other rows are dropped).
        inner_carry, steps, data = self._refill(carry, batch)

        # 2. One segment.
        inner_carry, logits, (q_halt, q_continue) = self.inner(inner_carry, data)
        outputs = {"logits": logits, "q_halt_logits": q_halt, "q_continue_logits": q_continue}

        # 3. Halting decision (no gradient).
        with torch.no_grad():
            steps = steps + 1
            halted = self.halt_decision(steps, q_halt, q_continue, limit, generator)
            if self.training and limit > 1 and self.config.act_continue and self.config.halting == "learned":
                # Q-learning target for "continue" from one extra no-grad segment on the new carry.
                _, _, (next_halt, next_continue) = self.inner(inner_carry, data)
                outputs["target_q_continue"] = q_continue_target(next_halt, next_continue, steps >= limit)
        return ACTCarry(inner_carry, steps.to(torch.int32), halted, data), outputs

    def halt_decision(self, steps: torch.Tensor, q_halt: torch.Tensor, q_continue: torch.Tensor, limit: int,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """(B,) bool: which slots stop after the segment that brought them to `steps` segments.

        Every slot stops at `limit`. In training (with limit > 1 and halting="learned") a slot also stops
        where the Q head says so, except that with probability halt_exploration_prob a slot must first
        reach a minimum drawn uniformly from {2..limit} (exploration). Evaluation ignores the Q head.
        """
        halted = steps >= limit  # (B,)
        if self.training and limit > 1 and self.config.halting == "learned":
            halted = halted | self.q_says_halt(q_halt, q_continue)
            B, device = steps.shape[0], q_halt.device
            explore = torch.rand(B, device=device, generator=generator) < self.config.halt_exploration_prob
            min_steps = torch.randint(2, limit + 1, (B,), device=device, generator=generator)
            halted = halted & (steps >= min_steps * explore)  # min_steps * False = 0: no minimum
        return halted


def q_continue_target(next_halt: torch.Tensor, next_continue: torch.Tensor, is_last: torch.Tensor) -> torch.Tensor:
    """The bootstrapped target of Q_continue from the next segment's Q logits (B,): the value of the best
    choice there, sigmoid(max(Q_halt', Q_continue')), or sigmoid(Q_halt') where no step is left."""
    return torch.sigmoid(torch.where(is_last, next_halt, torch.maximum(next_halt, next_continue)))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable-parameter entries (buffers such as the puzzle embedding excluded)."""
    return sum(p.numel() for p in model.parameters())
