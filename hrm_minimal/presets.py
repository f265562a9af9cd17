"""Named model sizes: the paper's 27M model and small presets that train on a laptop CPU."""
from __future__ import annotations

import dataclasses
from typing import Any

from .config import HRMConfig

# Each preset fixes the architecture; vocab_size and seq_len come from the dataset.
PRESETS: dict[str, dict[str, Any]] = {
    # The reference Sudoku/Maze/ARC model (config/arch/hrm_v1.yaml): 27,275,266 parameters on Sudoku.
    "paper": dict(hidden_size=512, num_heads=8, expansion=4.0, H_layers=4, L_layers=4,
                  H_cycles=2, L_cycles=2, halt_max_steps=16, halt_exploration_prob=0.1),
    # Lessons on a 2-core CPU: 4x4/6x6 Sudoku, small mazes, a few hundred steps in about a minute.
    "cpu-tiny": dict(hidden_size=64, num_heads=2, expansion=4.0, H_layers=1, L_layers=1,
                     H_cycles=2, L_cycles=2, halt_max_steps=4, halt_exploration_prob=0.1),
    # A CPU run of minutes (6x6 Sudoku) to half an hour (9x9): twice the depth of cpu-tiny. The 6x6
    # and 9x9 recipes add expansion=2.0, swiglu_multiple=32 and --compile; they (and the 4x4 recipe,
    # on cpu-tiny) train with halt_max_steps=2 and read the test split with more segments, evaluating
    # a moving average of the weights (`ema`; benchmarks/time_to_accuracy.py, README "How fast does it
    # learn?").
    "cpu-small": dict(hidden_size=64, num_heads=2, expansion=4.0, H_layers=2, L_layers=2,
                      H_cycles=2, L_cycles=2, halt_max_steps=4, halt_exploration_prob=0.1),
    # The TRM paper's Sudoku model (TinyRecursiveModels config/arch/trm.yaml, attention version): one
    # 2-block network, T = H_cycles = 3 cycles of n = L_cycles = 6 latent steps and one answer step,
    # halting without the continue value. 6,828,034 parameters on Sudoku, as TRM's code gives.
    "trm-paper": dict(hidden_size=512, num_heads=8, expansion=4.0, H_layers=1, L_layers=2, H_cycles=3,
                      L_cycles=6, halt_max_steps=16, halt_exploration_prob=0.1, architecture="trm",
                      act_continue=False),
    # A Colab T4 "bigger run" (9x9 Sudoku subsets) in 10-20 minutes.
    "gpu-small": dict(hidden_size=256, num_heads=4, expansion=4.0, H_layers=2, L_layers=2,
                      H_cycles=2, L_cycles=2, halt_max_steps=8, halt_exploration_prob=0.1),
}


def get_preset(name: str, vocab_size: int, seq_len: int, **overrides: Any) -> HRMConfig:
    """Build the HRMConfig of preset `name` for a dataset, with optional field overrides."""
    if not isinstance(name, str):
        raise TypeError(f"preset name must be a str, got {type(name).__name__}")
    key = name.replace("_", "-").lower()
    if key not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets are {sorted(PRESETS)}")
    fields = {f.name for f in dataclasses.fields(HRMConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"get_preset: unknown HRMConfig field(s) {unknown}; valid fields are {sorted(fields)}")
    kwargs = {**PRESETS[key], "vocab_size": vocab_size, "seq_len": seq_len, **overrides}
    return HRMConfig(**kwargs)
