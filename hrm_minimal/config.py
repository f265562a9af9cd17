"""HRMConfig: every architecture and halting hyperparameter of the model, with checks."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass
class HRMConfig:
    """Hyperparameters of the HRM (names follow the reference `hrm_act_v1.py`)."""

    vocab_size: int
    seq_len: int
    hidden_size: int = 512
    num_heads: int = 8
    expansion: float = 4.0
    swiglu_multiple: int = 256  # SwiGLU width round(expansion * hidden * 2/3) is rounded up to this
    H_layers: int = 4
    L_layers: int = 4
    H_cycles: int = 2
    L_cycles: int = 2
    halt_max_steps: int = 16
    halt_exploration_prob: float = 0.1
    puzzle_emb_ndim: int | None = None  # None -> hidden_size; 0 disables the prefix token
    num_puzzle_identifiers: int = 1
    pos_encodings: str = "rope"  # "rope" (rotary, in attention) or "learned" (an added position table)
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5
    one_step_grad: bool = True  # False: full backprop through the segment (the carry stays detached)
    # False: TRM's shortcut, not HRM's Q-learning: no extra segment for a continue target, no continue
    # loss, and training halts where Q_halt > 0 (a step about a third cheaper; see README).
    act_continue: bool = True
    # "hrm": the two-level model. "flat": H removed, for comparison only: one module (L's, L_layers blocks)
    # updates one state z_L <- f_L(z_L + x), H_cycles * (L_cycles + 1) times per segment (as many module calls
    # as HRM makes, so the same compute when H_layers == L_layers), one-step gradient on its last call; the
    # heads read z_L and z_H is unused.
    # "trm": a Tiny Recursive Model (Jolicoeur-Martineau 2025), for comparison: ONE module (L's, L_layers
    # blocks) updates the latent z (z_L) from x, the answer y (z_H) and z, L_cycles times, then the answer
    # from y and z, H_cycles times a segment; the whole last cycle (L_cycles + 1 calls) with gradient, the
    # others without; the heads read y. TRM itself also halts without the continue value
    # (act_continue=False) and averages its weights (TrainConfig.ema); see hrm_minimal/variants.py.
    architecture: str = "hrm"
    # "learned": the Q head decides when a puzzle halts in training (HRM's ACT). "fixed": every puzzle runs
    # halt_max_steps segments in training too, the Q head is neither used nor trained (an ablation).
    halting: str = "learned"

    def __post_init__(self) -> None:
        if self.puzzle_emb_ndim is None:
            self.puzzle_emb_ndim = self.hidden_size
        self.validate()

    # ------------------------------------------------------------------ checks
    def validate(self) -> "HRMConfig":
        """Raise ValueError/TypeError naming the first bad field; return self when all are fine."""
        ints = ["vocab_size", "seq_len", "hidden_size", "num_heads", "swiglu_multiple", "H_layers", "L_layers",
                "H_cycles", "L_cycles", "halt_max_steps", "puzzle_emb_ndim", "num_puzzle_identifiers"]
        for name in ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"HRMConfig.{name} must be an int, got {value!r} ({type(value).__name__})")
        for name in ["vocab_size", "seq_len", "hidden_size", "num_heads", "swiglu_multiple", "H_layers", "L_layers",
                     "H_cycles", "L_cycles", "halt_max_steps", "num_puzzle_identifiers"]:
            if getattr(self, name) <= 0:
                raise ValueError(f"HRMConfig.{name} must be positive, got {getattr(self, name)}")
        if self.puzzle_emb_ndim < 0:
            raise ValueError(f"HRMConfig.puzzle_emb_ndim must be >= 0 (0 disables it), got {self.puzzle_emb_ndim}")
        for name in ["expansion", "halt_exploration_prob", "rope_theta", "rms_norm_eps"]:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"HRMConfig.{name} must be a number, got {value!r}")
        if not self.expansion > 0:
            raise ValueError(f"HRMConfig.expansion must be positive, got {self.expansion}")
        if not self.rope_theta > 0:
            raise ValueError(f"HRMConfig.rope_theta must be positive, got {self.rope_theta}")
        if not self.rms_norm_eps > 0:
            raise ValueError(f"HRMConfig.rms_norm_eps must be positive, got {self.rms_norm_eps}")
        if not 0.0 <= self.halt_exploration_prob <= 1.0:
            raise ValueError(
                f"HRMConfig.halt_exploration_prob must be in [0, 1], got {self.halt_exploration_prob}")
        if self.hidden_size % self.num_heads != 0:
            raise ValueError(f"HRMConfig.hidden_size ({self.hidden_size}) must be divisible by "
                             f"num_heads ({self.num_heads})")
        if self.head_dim % 2 != 0:
            raise ValueError(f"HRMConfig.hidden_size / num_heads = head_dim {self.head_dim} must be even "
                             "(rotary embeddings rotate pairs of channels)")
        if self.pos_encodings not in ("rope", "learned"):
            raise ValueError(f"HRMConfig.pos_encodings must be 'rope' or 'learned', got {self.pos_encodings!r}")
        if self.architecture not in ("hrm", "flat", "trm"):
            raise ValueError(f"HRMConfig.architecture must be 'hrm', 'flat' or 'trm', got {self.architecture!r}")
        if self.halting not in ("learned", "fixed"):
            raise ValueError(f"HRMConfig.halting must be 'learned' or 'fixed', got {self.halting!r}")
        for name in ["one_step_grad", "act_continue"]:
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"HRMConfig.{name} must be a bool, got {getattr(self, name)!r}")
        return self

    # ------------------------------------------------------------------ derived sizes
    @property
    def head_dim(self) -> int:
        """Channels per attention head."""
        return self.hidden_size // self.num_heads

    @property
    def flat_steps(self) -> int:
        """Module calls per segment of the flat model: as many as HRM's H_cycles * (L_cycles + 1)."""
        return self.H_cycles * (self.L_cycles + 1)

    @property
    def puzzle_emb_len(self) -> int:
        """Number of prefix tokens the puzzle embedding takes: ceil(puzzle_emb_ndim / hidden)."""
        return -(-int(self.puzzle_emb_ndim) // self.hidden_size)

    @property
    def total_len(self) -> int:
        """Positions the recurrent states cover: prefix tokens + puzzle cells."""
        return self.puzzle_emb_len + self.seq_len

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict of all fields (what checkpoints store)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "HRMConfig":
        """Rebuild a config from `to_dict()` output; unknown or missing keys raise ValueError."""
        if not isinstance(d, dict):
            raise TypeError(f"HRMConfig.from_dict expects a dict, got {type(d).__name__}")
        fields = dataclasses.fields(cls)
        known = {f.name for f in fields}
        unknown = sorted(set(d) - known, key=str)
        if unknown:
            raise ValueError(f"HRMConfig.from_dict: unknown field(s) {unknown}; valid fields are {sorted(known)}")
        missing = [f.name for f in fields if f.default is dataclasses.MISSING and f.name not in d]
        if missing:
            raise ValueError(f"HRMConfig.from_dict: missing field(s) {missing}")
        return cls(**d)
