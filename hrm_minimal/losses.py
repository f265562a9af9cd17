"""Losses of the HRM: stablemax / softmax cross-entropy, and the ACT loss with its Q-learning terms."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .data.puzzle_set import IGNORE_LABEL_ID
from .metrics import sequence_correct

Q_LOSS_WEIGHT = 0.5  # total = lm + 0.5 * (q_halt + q_continue)


def _check_logits_labels(logits: torch.Tensor, labels: torch.Tensor) -> None:
    if logits.ndim < 2 or tuple(logits.shape[:-1]) != tuple(labels.shape):
        raise ValueError(f"logits (..., V) and labels (...) disagree: {tuple(logits.shape)} vs {tuple(labels.shape)}")
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise TypeError(f"labels must be an integer tensor, got {labels.dtype}")


def _wide_float(device: torch.device) -> torch.dtype:
    """float64 where the device has it; MPS has no float64, so float32 there."""
    return torch.float32 if device.type == "mps" else torch.float64


def log_stablemax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """log p_i with p_i = s(x_i) / sum_j s(x_j), s(x) = x + 1 (x >= 0), 1 / (1 - x) (x < 0)."""
    s = torch.where(x >= 0, x + 1, 1 / (1 - torch.clamp(x, max=0)))  # clamp avoids 1/0 in the unused branch
    return torch.log(s) - torch.log(s.sum(dim=dim, keepdim=True))


def stablemax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor,
                            ignore_index: int = IGNORE_LABEL_ID) -> torch.Tensor:
    """Per-token stablemax cross-entropy (float64; float32 on MPS), 0 at ignored labels: shape of labels."""
    _check_logits_labels(logits, labels)
    logprobs = log_stablemax(logits.to(_wide_float(logits.device)), dim=-1)  # (..., V)
    valid = labels != ignore_index
    picked = torch.gather(logprobs, -1, torch.where(valid, labels, 0).long().unsqueeze(-1)).squeeze(-1)
    return torch.where(valid, -picked, torch.zeros_like(picked))


def softmax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor,
                          ignore_index: int = IGNORE_LABEL_ID) -> torch.Tensor:
    """Per-token softmax cross-entropy in float32, 0 at ignored labels: shape of labels."""
    _check_logits_labels(logits, labels)
    flat = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.long().reshape(-1),
                           ignore_index=ignore_index, reduction="none")
    return flat.view(labels.shape)


LOSS_FUNCTIONS = {"stablemax": stablemax_cross_entropy, "softmax": softmax_cross_entropy}


def act_loss(outputs: dict, labels: torch.Tensor, halted: torch.Tensor | None = None,
             steps: torch.Tensor | None = None, loss_type: str = "stablemax",
             q_loss_weight: float = Q_LOSS_WEIGHT):
    """Deep-supervision loss of one segment: lm + 0.5 * (q_halt + q_continue); returns (loss, metrics).

    lm is the per-sequence mean token loss, averaged over the batch. Metrics are plain floats:
    "count" halted sequences, and over those the mean "accuracy", "exact_accuracy",
    "q_halt_accuracy", "steps"; "*_all" versions cover every slot.
    """
    key = loss_type.removesuffix("_cross_entropy") if isinstance(loss_type, str) else loss_type
    if key not in LOSS_FUNCTIONS:
        raise ValueError(f"unknown loss_type {loss_type!r}; choose one of {sorted(LOSS_FUNCTIONS)}")
    for name in ("logits", "q_halt_logits", "q_continue_logits"):
        if name not in outputs:
            raise ValueError(f"outputs lacks {name!r} (pass the dict the HRM forward returns)")
    logits, q_halt, q_continue = outputs["logits"], outputs["q_halt_logits"], outputs["q_continue_logits"]
    _check_logits_labels(logits, labels)
    B = labels.shape[0]
    halted = torch.ones(B, dtype=torch.bool, device=labels.device) if halted is None else halted.bool()
    steps = torch.zeros(B, device=labels.device) if steps is None else steps

    mask = labels != IGNORE_LABEL_ID  # (B, S)
    counts = mask.sum(-1)  # (B,) supervised tokens per sequence
    divisor = counts.clamp_min(1).unsqueeze(-1)  # (B, 1)

    # L_lm = mean_b [ (1/n_b) sum_t CE(logits_bt, y_bt) ]
    token_loss = LOSS_FUNCTIONS[key](logits, labels)  # (B, S)
    lm_loss = (token_loss / divisor).sum(-1).mean().float()

    with torch.no_grad():
        preds = logits.argmax(-1)  # (B, S)
        is_correct = mask & (preds == labels)  # (B, S)
        seq_correct = sequence_correct(preds, labels)  # (B,) whole sequence right
    # L_halt = BCE(Q_halt, 1[sequence correct]);  L_continue = BCE(Q_continue, target_q_continue)
    q_halt_loss = F.binary_cross_entropy_with_logits(q_halt.float(), seq_correct.float())
    if "target_q_continue" in outputs:
        q_continue_loss = F.binary_cross_entropy_with_logits(
            q_continue.float(), outputs["target_q_continue"].float())
    else:
        q_continue_loss = torch.zeros((), device=q_halt.device)
    loss = lm_loss + q_loss_weight * (q_halt_loss + q_continue_loss)

    with torch.no_grad():
        token_acc = is_correct.sum(-1) / divisor.squeeze(-1)  # (B,)
        q_right = (q_halt >= 0) == seq_correct  # (B,)
        has_labels = counts > 0

        def mean_over(sel: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
            return torch.where(sel, value.float(), 0.0).sum() / sel.sum().clamp_min(1)

        valid = halted & has_labels  # metrics over sequences that halted this segment (the reference)
        names = ["count", "accuracy", "exact_accuracy", "q_halt_accuracy", "steps",
                 "count_all", "accuracy_all", "exact_accuracy_all", "q_halt_accuracy_all", "steps_all",
                 "lm_loss", "q_halt_loss", "q_continue_loss", "loss"]
        values = torch.stack([
            valid.sum().float(), mean_over(valid, token_acc), mean_over(valid, seq_correct),
            mean_over(valid, q_right), mean_over(valid, steps),
            has_labels.sum().float(), mean_over(has_labels, token_acc), mean_over(has_labels, seq_correct),
            mean_over(has_labels, q_right), mean_over(has_labels, steps),
            lm_loss.detach(), q_halt_loss.detach(), q_continue_loss.detach(), loss.detach()])
        metrics = dict(zip(names, values.tolist()))  # one device sync for all metrics
    return loss, metrics
