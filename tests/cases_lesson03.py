"""Lesson 03's checkers against a right answer and the plausible wrong answers a student writes.

Read by tests/test_checks.py: CASES holds (checker, a right answer, [plausible wrong answers]),
HINTS holds (checker, wrong answer, a phrase its hint must contain).
"""
from __future__ import annotations

from hrm_minimal import checks


# --------------------------------------------------------------------------- 3.1 flat_recurrence
def flat_right(f, z, x, steps):
    for _ in range(steps):
        z = f(z + x)
    return z


def flat_inject_once(f, z, x, steps):  # the input added at the first step only
    z = z + x
    for _ in range(steps):
        z = f(z)
    return z


def flat_inject_twice(f, z, x, steps):  # f(z + x) + x
    for _ in range(steps):
        z = f(z + x) + x
    return z


def flat_inject_after(f, z, x, steps):  # f(z) + x
    for _ in range(steps):
        z = f(z) + x
    return z


def flat_inject_twice_before(f, z, x, steps):  # z + x passed to f, and x added again inside
    for _ in range(steps):
        z = f(z + x + x)
    return z


def flat_in_place(f, z, x, steps):  # the right value, but the caller's z is overwritten
    for _ in range(steps):
        z += x
        z = f(z)
    return z


def flat_first_state(f, z, x, steps):  # all states kept, the first one returned
    states = []
    for _ in range(steps):
        z = f(z + x)
        states.append(z)
    return states[0]


def flat_off_by_one(f, z, x, steps):  # range(steps - 1)
    for _ in range(steps - 1):
        z = f(z + x)
    return z


def flat_returns_start(f, z, x, steps):  # the loop's result thrown away
    new = z
    for _ in range(steps):
        new = f(z + x)
    return z


def flat_no_feedback(f, z, x, steps):  # every step starts from the initial z
    new = z
    for _ in range(steps):
        new = f(z + x)
    return new


def flat_reads_x(f, z, x, steps):  # the state never fed back
    for _ in range(steps):
        z = f(x)
    return z


def flat_returns_list(f, z, x, steps):  # all the states instead of the last
    states = []
    for _ in range(steps):
        z = f(z + x)
        states.append(z)
    return states


# --------------------------------------------------------------------------- 3.2 hrm_segment
def _segment(inner, z_H, z_L, x, cos_sin, l_inject, h_inject, order="LH", h_cycles=None, l_cycles=None):
    cfg = inner.config
    for _ in range(cfg.H_cycles if h_cycles is None else h_cycles):
        if order == "HL":
            z_H = inner.H_level(z_H, h_inject(z_H, z_L, x), cos_sin)
        for _ in range(cfg.L_cycles if l_cycles is None else l_cycles):
            z_L = inner.L_level(z_L, l_inject(z_H, z_L, x), cos_sin)
        if order == "LH":
            z_H = inner.H_level(z_H, h_inject(z_H, z_L, x), cos_sin)
    return z_H, z_L


def _l(z_H, z_L, x):
    return z_H + x


def _h(z_H, z_L, x):
    return z_L


def segment_right(inner, z_H, z_L, x, cos_sin):
    for _ in range(inner.config.H_cycles):
        for _ in range(inner.config.L_cycles):
            z_L = inner.L_level(z_L, z_H + x, cos_sin)
        z_H = inner.H_level(z_H, z_L, cos_sin)
    return z_H, z_L


def segment_x_into_h(inner, z_H, z_L, x, cos_sin):  # H fed the input too
    return _segment(inner, z_H, z_L, x, cos_sin, _l, lambda zh, zl, x: zl + x)


def segment_no_z_H_in_l(inner, z_H, z_L, x, cos_sin):  # L sees x but not z_H
    return _segment(inner, z_H, z_L, x, cos_sin, lambda zh, zl, x: x, _h)


def segment_no_x_in_l(inner, z_H, z_L, x, cos_sin):  # L sees z_H but not x
    return _segment(inner, z_H, z_L, x, cos_sin, lambda zh, zl, x: zh, _h)


def segment_h_first(inner, z_H, z_L, x, cos_sin):  # H updated before the L loop
    return _segment(inner, z_H, z_L, x, cos_sin, _l, _h, order="HL")


def segment_one_l(inner, z_H, z_L, x, cos_sin):  # L once per H update
    return _segment(inner, z_H, z_L, x, cos_sin, _l, _h, l_cycles=1)


def segment_cycles_swapped(inner, z_H, z_L, x, cos_sin):  # H_cycles and L_cycles mixed up
    cfg = inner.config
    return _segment(inner, z_H, z_L, x, cos_sin, _l, _h, h_cycles=cfg.L_cycles, l_cycles=cfg.H_cycles)


def segment_loops_flat(inner, z_H, z_L, x, cos_sin):  # all L updates, then all H updates
    cfg = inner.config
    for _ in range(cfg.H_cycles * cfg.L_cycles):
        z_L = inner.L_level(z_L, z_H + x, cos_sin)
    for _ in range(cfg.H_cycles):
        z_H = inner.H_level(z_H, z_L, cos_sin)
    return z_H, z_L


def segment_stale_z_L(inner, z_H, z_L, x, cos_sin):  # H given the z_L from before the L loop
    for _ in range(inner.config.H_cycles):
        old = z_L
        for _ in range(inner.config.L_cycles):
            z_L = inner.L_level(z_L, z_H + x, cos_sin)
        z_H = inner.H_level(z_H, old, cos_sin)
    return z_H, z_L


def segment_h_inside_l(inner, z_H, z_L, x, cos_sin):  # the two loops nested the other way round
    for _ in range(inner.config.L_cycles):
        for _ in range(inner.config.H_cycles):
            z_H = inner.H_level(z_H, z_L, cos_sin)
        z_L = inner.L_level(z_L, z_H + x, cos_sin)
    return z_H, z_L


def segment_h_after_every_l(inner, z_H, z_L, x, cos_sin):  # H updated inside the L loop
    for _ in range(inner.config.H_cycles):
        for _ in range(inner.config.L_cycles):
            z_L = inner.L_level(z_L, z_H + x, cos_sin)
            z_H = inner.H_level(z_H, z_L, cos_sin)
    return z_H, z_L


def segment_stale_z_H(inner, z_H, z_L, x, cos_sin):  # L keeps reading the z_H the segment started from
    start = z_H
    for _ in range(inner.config.H_cycles):
        for _ in range(inner.config.L_cycles):
            z_L = inner.L_level(z_L, start + x, cos_sin)
        z_H = inner.H_level(z_H, z_L, cos_sin)
    return z_H, z_L


def segment_injection_twice(inner, z_H, z_L, x, cos_sin):  # state + injection passed, and the module adds again
    for _ in range(inner.config.H_cycles):
        for _ in range(inner.config.L_cycles):
            z_L = inner.L_level(z_L + z_H + x, z_H + x, cos_sin)
        z_H = inner.H_level(z_H + z_L, z_L, cos_sin)
    return z_H, z_L


def segment_in_place(inner, z_H, z_L, x, cos_sin):  # the right values, but the caller's z_L is overwritten
    for _ in range(inner.config.H_cycles):
        for _ in range(inner.config.L_cycles):
            z_L[:] = inner.L_level(z_L, z_H + x, cos_sin)
        z_H = inner.H_level(z_H, z_L, cos_sin)
    return z_H, z_L


def segment_swapped_return(inner, z_H, z_L, x, cos_sin):  # (z_L, z_H)
    z_H, z_L = segment_right(inner, z_H, z_L, x, cos_sin)
    return z_L, z_H


CASES = [
    (checks.check_flat_recurrence, flat_right,
     [flat_inject_once, flat_inject_twice, flat_inject_twice_before, flat_inject_after, flat_in_place,
      flat_first_state, flat_off_by_one, flat_returns_start, flat_no_feedback, flat_reads_x, flat_returns_list]),
    (checks.check_hrm_segment, segment_right,
     [segment_x_into_h, segment_no_z_H_in_l, segment_no_x_in_l, segment_h_first, segment_one_l,
      segment_cycles_swapped, segment_loops_flat, segment_stale_z_L, segment_swapped_return, segment_h_inside_l,
      segment_h_after_every_l, segment_stale_z_H, segment_injection_twice, segment_in_place]),
]

HINTS = [
    (checks.check_flat_recurrence, flat_inject_once, "EVERY step"),
    (checks.check_flat_recurrence, flat_inject_twice, "twice"),
    (checks.check_flat_recurrence, flat_inject_after, "BEFORE f"),
    (checks.check_flat_recurrence, flat_inject_twice_before, "twice per step"),
    (checks.check_flat_recurrence, flat_in_place, "in place"),
    (checks.check_flat_recurrence, flat_first_state, "FIRST step"),
    (checks.check_flat_recurrence, flat_returns_start, "starting state"),
    (checks.check_flat_recurrence, flat_reads_x, "reads x alone"),
    (checks.check_flat_recurrence, flat_off_by_one, "too few"),
    (checks.check_flat_recurrence, flat_no_feedback, "feed each new z back"),
    (checks.check_flat_recurrence, flat_returns_list, "a tensor"),
    (checks.check_hrm_segment, segment_x_into_h, "H never sees x"),
    (checks.check_hrm_segment, segment_no_z_H_in_l, "z_H + x"),
    (checks.check_hrm_segment, segment_no_x_in_l, "also get the input"),
    (checks.check_hrm_segment, segment_h_first, "not before"),
    (checks.check_hrm_segment, segment_one_l, "EACH H update"),
    (checks.check_hrm_segment, segment_cycles_swapped, "swapped"),
    (checks.check_hrm_segment, segment_swapped_return, "return (z_H, z_L)"),
    (checks.check_hrm_segment, segment_loops_flat, "H updates between the L runs"),
    (checks.check_hrm_segment, segment_stale_z_L, "just produced"),
    (checks.check_hrm_segment, segment_h_inside_l, "nested the wrong way round"),
    (checks.check_hrm_segment, segment_h_after_every_l, "not after every L update"),
    (checks.check_hrm_segment, segment_stale_z_H, "latest H update"),
    (checks.check_hrm_segment, segment_injection_twice, "added twice"),
    (checks.check_hrm_segment, segment_in_place, "in place"),
]
