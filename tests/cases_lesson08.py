"""Lesson 08's checkers against right answers and the plausible wrong answers a student writes.

Read by tests/test_checks.py: CASES holds (checker, a right answer, [plausible wrong answers]),
HINTS holds (checker, wrong answer, a phrase its hint must contain).
"""
from __future__ import annotations

import numpy as np
import torch

from hrm_minimal import checks


# --------------------------------------------------------------------------- 8.1 trm_segment
def trm_right(inner, y, z, x, cos_sin):
    net, cfg = inner.L_level, inner.config
    with torch.no_grad():
        for _ in range(cfg.H_cycles - 1):
            for _ in range(cfg.L_cycles):
                z = net(z, y + x, cos_sin)
            y = net(y, z, cos_sin)
    for _ in range(cfg.L_cycles):
        z = net(z, y + x, cos_sin)
    y = net(y, z, cos_sin)
    return y, z


def trm_right_flag(inner, y, z, x, cos_sin):  # one loop with a switch, as the package writes it
    from contextlib import nullcontext
    for h in range(inner.config.H_cycles):
        with torch.no_grad() if h < inner.config.H_cycles - 1 else nullcontext():
            for _ in range(inner.config.L_cycles):
                z = inner.L_level(z + y, x, cos_sin)  # the same sum, added in another order
            y = inner.L_level(y, z, cos_sin)
    return y, z


def _trm(inner, y, z, x, cos_sin, *, latent=lambda y, x: y + x, answer_x=False, answer_first=False,
         answer_inside=False, swap=False, grad="last cycle", out="yz", answer_detach=False):
    from contextlib import nullcontext
    net, cfg = inner.L_level, inner.config
    T, n = (cfg.L_cycles, cfg.H_cycles) if swap else (cfg.H_cycles, cfg.L_cycles)

    def answer(z):  # what an answer step reads besides y
        z = z.detach() if answer_detach else z
        return z + x if answer_x else z

    for t in range(T):
        last = t == T - 1
        on = grad == "all" or (grad in ("last cycle", "last calls") and last)
        with nullcontext() if on else torch.no_grad():
            if answer_first:
                y = net(y, answer(z), cos_sin)
            for k in range(n):
                if grad == "last calls" and last and k < n - 1:
                    with torch.no_grad():
                        z = net(z, latent(y, x), cos_sin)
                else:
                    z = net(z, latent(y, x), cos_sin)
                if answer_inside:
                    y = net(y, answer(z), cos_sin)
            if not answer_first and not answer_inside:
                y = net(y, answer(z), cos_sin)
    return (y, z) if out == "yz" else (z, y)


def trm_latent_without_answer(inner, y, z, x, cos_sin):
    return _trm(inner, y, z, x, cos_sin, latent=lambda y, x: x)


def trm_latent_without_puzzle(inner, y, z, x, cos_sin):
    return _trm(inner, y, z, x, cos_sin, latent=lambda y, x: y)


def trm_answer_reads_x(inner, y, z, x, cos_sin):
    return _trm(inner, y, z, x, cos_sin, answer_x=True)


def trm_answer_first(inner, y, z, x, cos_sin):
    return _trm(inner, y, z, x, cos_sin, answer_first=True)


def trm_answer_every_step(inner, y, z, x, cos_sin):
    return _trm(inner, y, z, x, cos_sin, answer_inside=True)


def trm_cycles_swapped(inner, y, z, x, cos_sin):
    return _trm(inner, y, z, x, cos_sin, swap=True)


def trm_swapped_output(inner, y, z, x, cos_sin):
    return _trm(inner, y, z, x, cos_sin, out="zy")


def trm_gradient_everywhere(inner, y, z, x, cos_sin):
    return _trm(inner, y, z, x, cos_sin, grad="all")


def trm_one_step_gradient(inner, y, z, x, cos_sin):  # HRM's window in TRM's recursion
    return _trm(inner, y, z, x, cos_sin, grad="last calls")


def trm_no_gradient(inner, y, z, x, cos_sin):
    with torch.no_grad():
        return trm_right(inner, y, z, x, cos_sin)


def trm_detached_output(inner, y, z, x, cos_sin):  # right values, but the graph is cut at the end
    y, z = trm_right(inner, y, z, x, cos_sin)
    return y.detach(), z.detach()


def trm_in_place(inner, y, z, x, cos_sin):
    new_y, new_z = trm_right(inner, y, z, x, cos_sin)
    y.zero_()
    return new_y, new_z


def trm_uses_h_level(inner, y, z, x, cos_sin):  # HRM's two modules: the TRM model has only one
    for _ in range(inner.config.H_cycles):
        for _ in range(inner.config.L_cycles):
            z = inner.L_level(z, y + x, cos_sin)
        y = inner.H_level(y, z, cos_sin)
    return y, z


def trm_one_cycle_short(inner, y, z, x, cos_sin):  # range(H_cycles - 1) without the last cycle after it
    net, cfg = inner.L_level, inner.config
    with torch.no_grad():
        for _ in range(cfg.H_cycles - 1):
            for _ in range(cfg.L_cycles):
                z = net(z, y + x, cos_sin)
            y = net(y, z, cos_sin)
    return y, z


def trm_hard_coded_two_cycles(inner, y, z, x, cos_sin):  # H_cycles read as 2
    net = inner.L_level
    for h in range(2):
        with torch.no_grad() if h == 0 else torch.enable_grad():
            for _ in range(inner.config.L_cycles):
                z = net(z, y + x, cos_sin)
            y = net(y, z, cos_sin)
    return y, z


def trm_one_latent_step_a_cycle(inner, y, z, x, cos_sin):
    from contextlib import nullcontext
    for h in range(inner.config.H_cycles):
        with torch.no_grad() if h < inner.config.H_cycles - 1 else nullcontext():
            z = inner.L_level(z, y + x, cos_sin)
            y = inner.L_level(y, z, cos_sin)
    return y, z


def trm_x_detached(inner, y, z, x, cos_sin):  # the right window, but no gradient reaches x
    return trm_right(inner, y, z, x.detach(), cos_sin)


def trm_answer_reads_detached_z(inner, y, z, x, cos_sin):  # the answer steps cut from z's graph
    return _trm(inner, y, z, x, cos_sin, answer_detach=True)


def trm_x_changed_in_place(inner, y, z, x, cos_sin):
    with torch.no_grad():
        x += 0.0 * x + 1.0
    return trm_right(inner, y, z, x, cos_sin)


def trm_x_requires_grad_off(inner, y, z, x, cos_sin):
    x.requires_grad_(False)
    return trm_right(inner, y, z, x, cos_sin)


def trm_helper_without_return(inner, y, z, x, cos_sin):  # a TypeError about None that is not H_level's
    def cycle(y, z):
        for _ in range(inner.config.L_cycles):
            z = inner.L_level(z, y + x, cos_sin)
        y = inner.L_level(y, z, cos_sin)
    for _ in range(inner.config.H_cycles):
        y, z = cycle(y, z)
    return y, z


# --------------------------------------------------------------------------- 8.2 participation_ratio
def pr_right(states):
    x = states.double() - states.double().mean(dim=0)
    lam = torch.linalg.eigvalsh(x.T @ x / (x.shape[0] - 1))
    return float(lam.sum() ** 2 / (lam ** 2).sum())


def pr_right_numpy(states):  # np.cov with rowvar=False, in float32: right within the checker's tolerance
    lam = np.linalg.eigvalsh(np.cov(states.numpy(), rowvar=False))
    return lam.sum() ** 2 / (lam ** 2).sum()


def pr_right_tensor(states):  # a 0-d tensor is accepted
    s = torch.linalg.svdvals(states - states.mean(0))
    return (s ** 2).sum() ** 2 / (s ** 4).sum()


def pr_np_cov_rows(states):
    lam = np.linalg.eigvalsh(np.cov(states.numpy()))
    return float(lam.sum() ** 2 / (lam ** 2).sum())


def pr_not_centred(states):
    lam = torch.linalg.svdvals(states.double()) ** 2
    return float(lam.sum() ** 2 / (lam ** 2).sum())


def pr_singular_values(states):
    s = torch.linalg.svdvals(states.double() - states.double().mean(0))
    return float(s.sum() ** 2 / (s ** 2).sum())


def pr_inverse(states):
    return 1.0 / pr_right(states)


def pr_numerator_not_squared(states):
    x = states.double() - states.double().mean(dim=0)
    lam = torch.linalg.eigvalsh(x.T @ x / (x.shape[0] - 1))
    return float(lam.sum() / (lam ** 2).sum())


def pr_variances(states):
    v = states.double().var(dim=0)
    return float(v.sum() ** 2 / (v ** 2).sum())


def pr_fraction(states):
    return pr_right(states) / states.shape[1]


def pr_in_place(states):
    states -= states.mean(0)
    return pr_right(states)


def pr_eigenvalue_list(states):
    x = states.double() - states.double().mean(dim=0)
    return torch.linalg.eigvalsh(x.T @ x)


def pr_nan(states):  # (sum)^2 / sum of squares with the squares of a centred... mean, not eigenvalues
    m = states.mean(0) - states.mean(0)
    return float(m.sum() ** 2 / (m ** 2).sum())


def pr_rank(states):  # counts the non-zero eigenvalues: a rank, not a participation ratio
    return float(torch.linalg.matrix_rank(states.double() - states.double().mean(0)))


def pr_transpose_if_wide(states):  # "the smaller covariance", but then it centres the wrong axis
    x = states.double()
    x = x.T if x.shape[0] < x.shape[1] else x
    x = x - x.mean(0)
    lam = torch.linalg.eigvalsh(x.T @ x)
    return float(lam.sum() ** 2 / (lam ** 2).sum())


def pr_smallest_eigenvalues(states):  # eigvalsh is ascending: these are the smallest min(N, D)
    x = states.double() - states.double().mean(0)
    lam = torch.linalg.eigvalsh(torch.cov(x.T))[:min(states.shape)]
    return float(lam.sum() ** 2 / (lam ** 2).sum())


def pr_std(states):
    s = states.double().std(dim=0)
    return float(s.sum() ** 2 / (s ** 2).sum())


def pr_rounded(states):
    return round(pr_right(states))


def pr_torch_cov_rows(states):
    lam = torch.linalg.eigvalsh(torch.cov(states.double()))
    return float(lam.sum() ** 2 / (lam ** 2).sum())


CASES = [
    (checks.check_trm_segment, trm_right,
     [trm_latent_without_answer, trm_latent_without_puzzle, trm_answer_reads_x, trm_answer_first,
      trm_answer_every_step, trm_cycles_swapped, trm_swapped_output, trm_gradient_everywhere,
      trm_one_step_gradient, trm_no_gradient, trm_detached_output, trm_in_place, trm_uses_h_level,
      trm_one_cycle_short, trm_hard_coded_two_cycles, trm_one_latent_step_a_cycle, trm_x_detached,
      trm_answer_reads_detached_z, trm_x_changed_in_place, trm_x_requires_grad_off, trm_helper_without_return]),
    (checks.check_trm_segment, trm_right_flag, []),
    (checks.check_participation_ratio, pr_right,
     [pr_np_cov_rows, pr_not_centred, pr_singular_values, pr_inverse, pr_numerator_not_squared, pr_variances,
      pr_fraction, pr_in_place, pr_eigenvalue_list, pr_nan, pr_rank, pr_transpose_if_wide, pr_smallest_eigenvalues,
      pr_std, pr_rounded, pr_torch_cov_rows]),
    (checks.check_participation_ratio, pr_right_numpy, []),
    (checks.check_participation_ratio, pr_right_tensor, []),
]

HINTS = [
    (checks.check_trm_segment, trm_latent_without_answer, "AND the answer"),
    (checks.check_trm_segment, trm_latent_without_puzzle, "also read the puzzle"),
    (checks.check_trm_segment, trm_answer_reads_x, "does not read x"),
    (checks.check_trm_segment, trm_answer_first, "latent steps first"),
    (checks.check_trm_segment, trm_answer_every_step, "not after each one"),
    (checks.check_trm_segment, trm_cycles_swapped, "swapped"),
    (checks.check_trm_segment, trm_swapped_output, "return (y, z)"),
    (checks.check_trm_segment, trm_gradient_everywhere, "without gradient"),
    (checks.check_trm_segment, trm_one_step_gradient, "WHOLE last cycle"),
    (checks.check_trm_segment, trm_no_gradient, "must carry gradient"),
    (checks.check_trm_segment, trm_detached_output, "must carry gradient"),
    (checks.check_trm_segment, trm_in_place, "in place"),
    (checks.check_trm_segment, trm_uses_h_level, "ONE network"),
    (checks.check_trm_segment, trm_x_detached, "no gradient reaches x"),
    (checks.check_trm_segment, trm_answer_reads_detached_z, "no .detach()"),
    (checks.check_trm_segment, trm_x_changed_in_place, "changed its argument x in place"),
    (checks.check_trm_segment, trm_x_requires_grad_off, "requires_grad"),
    (checks.check_trm_segment, trm_helper_without_return, "raised TypeError"),
    (checks.check_participation_ratio, pr_np_cov_rows, "rowvar=False"),
    (checks.check_participation_ratio, pr_torch_cov_rows, "give them X.T"),
    (checks.check_participation_ratio, pr_smallest_eigenvalues, "keep every eigenvalue"),
    (checks.check_participation_ratio, pr_std, "standard deviation"),
    (checks.check_participation_ratio, pr_rounded, "not rounded"),
    (checks.check_participation_ratio, pr_not_centred, "centre the states"),
    (checks.check_participation_ratio, pr_singular_values, "SQUARED singular values"),
    (checks.check_participation_ratio, pr_inverse, "not its inverse"),
    (checks.check_participation_ratio, pr_numerator_not_squared, "square the numerator"),
    (checks.check_participation_ratio, pr_variances, "not its diagonal"),
    (checks.check_participation_ratio, pr_fraction, "not a fraction"),
    (checks.check_participation_ratio, pr_in_place, "in place"),
    (checks.check_participation_ratio, pr_eigenvalue_list, "one number"),
    (checks.check_participation_ratio, pr_nan, "nan"),
]
