"""Named variants of HRM for ablations: each is HRM with a few settings changed.

    from hrm_minimal.variants import VARIANTS, variant_changes
    model_overrides, train_changes = variant_changes("fixed-segments")
    train(recipe_config("sudoku-4x4", overrides=model_overrides, **train_changes))

HRM's behaviour is the default of every switch; a variant names the switches it turns. They are the
parts that public analyses weighed (the ARC Prize team's ablations; the TRM paper). The TRM-style
model keeps HRM's one puzzle-embedding prefix token where TRM has 16 (the weights are the same).
"""
from __future__ import annotations

from typing import Any

# name -> (HRMConfig overrides, TrainConfig changes, what it tests)
VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    "hrm": ({}, {}, "HRM as the paper trains it: two levels, one-step gradient, deep supervision, learned halting"),
    "flat": ({"architecture": "flat"}, {},
             "no hierarchy: one module updates one state as many times a segment as HRM calls its two"),
    "full-backprop": ({"one_step_grad": False}, {},
                      "backpropagation through the whole segment instead of the one-step gradient"),
    "no-deep-supervision": ({"halt_max_steps": 1}, {},
                            "one segment a puzzle: no outer loop, no halting to learn"),
    "fixed-segments": ({"halting": "fixed"}, {},
                       "every puzzle runs halt_max_steps segments in training: no learned halting"),
    "no-continue": ({"act_continue": False}, {},
                    "TRM's halting: no continue value, halt where Q_halt > 0, no extra segment"),
    "trm": ({"architecture": "trm", "act_continue": False, "H_cycles": 3, "L_cycles": 6}, {"ema": 0.999},
            "a Tiny Recursive Model: one network for latent and answer, gradient through its whole last "
            "cycle, TRM's halting and its weight average"),
}


def variant_changes(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(HRMConfig overrides, TrainConfig changes) of variant `name`."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; variants: {', '.join(VARIANTS)}")
    overrides, changes, _ = VARIANTS[name]
    return dict(overrides), dict(changes)
