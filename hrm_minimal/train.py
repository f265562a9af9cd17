"""Training: `train(TrainConfig(...))` or `python -m hrm_minimal.train --task sudoku-6x6`.

One optimiser step per segment, as in the reference (`pretrain.py`): each step draws a fresh batch,
the ACT wrapper gives it to the slots that halted, runs one segment on every slot, and the loss
of every slot is back-propagated (deep supervision). The carry is kept between steps and is saved
in checkpoints, so a stopped run resumes exactly where it stopped.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from hrm_minimal import distributed
from hrm_minimal.checkpoint import config_differences, load_checkpoint, save_checkpoint, saved_model_config
from hrm_minimal.config import HRMConfig
from hrm_minimal.data import PuzzleSet, TrainBatches, load_puzzles, load_task
from hrm_minimal.ema import WeightAverage, check_decay
from hrm_minimal.evaluate import evaluate, load_model
from hrm_minimal.losses import Q_LOSS_WEIGHT, act_loss
from hrm_minimal.model import HRM, ACTCarry
from hrm_minimal.optim import AdamATan2, SignSGD, lr_at, set_lr
from hrm_minimal.presets import get_preset
from hrm_minimal.utils import autocast_context, get_device

# Settings that may change when a run is resumed (how long to run, how to report), as opposed to
# settings that define the run (model, data, optimiser), which must match the checkpoint.
RESUMABLE_CHANGES = {
    "max_steps", "time_budget_s", "stop_after_steps", "eval_every", "eval_limit", "eval_max_steps",
    "checkpoint_every", "progress", "resume", "overwrite", "device", "autocast", "compile", "out_dir",
}


@dataclass
class TrainConfig:
    """Everything that defines a training run. Model settings come from `preset` + `overrides`."""

    task: str | None = "sudoku-6x6"  # a shipped data set (see hrm_minimal.data.list_tasks())
    data: str | None = None  # or a CSV path (training split); overrides `task`
    test_data: str | None = None  # CSV for evaluation when `data` is given
    preset: str = "cpu-small"
    overrides: dict = field(default_factory=dict)  # HRMConfig fields, e.g. {"H_cycles": 3}
    batch_size: int = 64
    lr: float = 2e-3
    lr_warmup_steps: int = 100
    lr_min_ratio: float = 1.0  # 1.0 = constant after warm-up, the reference default
    weight_decay: float = 0.1
    betas: tuple = (0.9, 0.95)
    optimizer: str = "adamw"  # "adamw" or "adam_atan2" (the reference's)
    puzzle_emb_lr: float | None = None  # None = same as lr
    puzzle_emb_weight_decay: float | None = None  # None = same as weight_decay
    loss_type: str = "stablemax"  # or "softmax"
    augment: bool = True
    # Evaluate (and export) a moving average of the weights with this decay, e.g. 0.99; None = the
    # raw weights, as the reference does. Not HRM: TRM's EMA (hrm_minimal/ema.py). Training is unchanged.
    ema: float | None = None
    max_steps: int = 2000
    time_budget_s: float | None = None  # stop (with a checkpoint) after this much training time
    stop_after_steps: int | None = None  # stop early at this step, as an interruption would
    eval_every: int = 500
    eval_limit: int | None = 500  # test examples per periodic evaluation (None = all)
    # Segments per test puzzle in the periodic evaluation. None = halt_max_steps, as the reference
    # evaluates; more is the paper's inference-time scaling (same weights, more segments).
    eval_max_steps: int | None = None
    checkpoint_every: int = 500
    out_dir: str | None = None  # default: runs/<task>-<preset>
    resume: bool = False
    overwrite: bool = False
    # Start from the weights of a saved model (a run folder, its checkpoint.pt or an exported model)
    # instead of a fresh initialisation: a new run (step 0, a fresh optimiser) whose model may differ
    # from the saved one only in settings that keep every weight's shape (halt_max_steps, H_cycles, ...).
    init_from: str | None = None
    seed: int = 0
    device: str = "auto"
    autocast: bool = True  # bf16 autocast on CUDA; False keeps float32 everywhere, as on a CPU
    compile: bool = False  # torch.compile the segment (HRMInner); the weights' names do not change
    progress: bool = True

    def __post_init__(self) -> None:
        if self.task is None and self.data is None:
            raise ValueError("TrainConfig needs a data set: set `task` (a shipped name) or `data` (a CSV path)")
        for name in ("batch_size", "max_steps", "eval_every", "checkpoint_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"TrainConfig.{name} must be positive, got {getattr(self, name)}")
        if self.eval_max_steps is not None and (isinstance(self.eval_max_steps, bool)
                                                or not isinstance(self.eval_max_steps, int)
                                                or self.eval_max_steps < 1):
            raise ValueError(f"TrainConfig.eval_max_steps must be a positive int or None, got {self.eval_max_steps!r}")
        if self.ema is not None:
            check_decay(self.ema)
        if self.optimizer not in ("adamw", "adam_atan2"):
            raise ValueError(f"TrainConfig.optimizer must be 'adamw' or 'adam_atan2', got {self.optimizer!r}")
        if self.loss_type not in ("stablemax", "softmax"):
            raise ValueError(f"TrainConfig.loss_type must be 'stablemax' or 'softmax', got {self.loss_type!r}")
        self.betas = tuple(self.betas)

    @property
    def run_dir(self) -> Path:
        name = self.task if self.data is None else Path(self.data).stem
        return Path(self.out_dir or f"runs/{name}-{self.preset}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d


def load_data(cfg: TrainConfig) -> tuple[PuzzleSet, PuzzleSet | None]:
    """The training split and the test split (None if there is none) named by the config."""
    if cfg.data is not None:
        train_set = load_puzzles(cfg.data, "train")
        if cfg.test_data:
            return train_set, load_puzzles(cfg.test_data, "test")
        return train_set, load_puzzles(cfg.data, "test") if Path(cfg.data).is_dir() else None
    return load_task(cfg.task, "train"), load_task(cfg.task, "test")


def build_model_config(cfg: TrainConfig, puzzles: PuzzleSet) -> HRMConfig:
    """The preset, sized for the data's vocabulary and length, with the run's overrides."""
    return get_preset(cfg.preset, vocab_size=puzzles.vocab_size, seq_len=puzzles.seq_len, **cfg.overrides)


def data_signature(puzzles: PuzzleSet) -> dict:
    """What a checkpoint records about its data, to refuse a mismatched one later."""
    return {"name": puzzles.name, "kind": puzzles.kind, "vocab_size": int(puzzles.vocab_size),
            "seq_len": int(puzzles.seq_len), "grid_size": int(puzzles.grid_size)}


def make_optimizers(model: HRM, cfg: TrainConfig) -> tuple[torch.optim.Optimizer, SignSGD | None]:
    """AdamW or AdamATan2 for the weights; sign-SGD for the puzzle-embedding buffer (if any)."""
    if cfg.optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    else:
        opt = AdamATan2(model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    emb_lr = cfg.lr if cfg.puzzle_emb_lr is None else cfg.puzzle_emb_lr
    emb_wd = cfg.weight_decay if cfg.puzzle_emb_weight_decay is None else cfg.puzzle_emb_weight_decay
    if model.puzzle_emb is None:  # puzzle_emb_ndim=0: no prefix token to train
        return opt, None
    return opt, SignSGD(model.puzzle_emb, lr=emb_lr, weight_decay=emb_wd)


def _set_lr(cfg: TrainConfig, step: int, opt, emb_opt) -> float:
    scale = lr_at(step, 1.0, cfg.lr_warmup_steps, cfg.max_steps, cfg.lr_min_ratio)
    set_lr(opt, cfg.lr * scale)
    if emb_opt is not None:
        emb_lr = cfg.lr if cfg.puzzle_emb_lr is None else cfg.puzzle_emb_lr
        set_lr(emb_opt, emb_lr * scale)
    return cfg.lr * scale


def _rng_state() -> dict:
    """torch's global generators (exploration draws from them)."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _resume_rng(saved: dict, ranks: "distributed.Ranks", seed: int, step: int) -> None:
    """Restore the random generators of a checkpoint: each rank's own when the number of ranks is
    the one that saved them; otherwise fresh draws for each rank, seeded by seed, step and rank."""
    states = saved["ranks"] if "ranks" in saved else [saved]
    if len(states) == ranks.world:
        _set_rng_state(states[ranks.rank])
    else:
        torch.manual_seed(seed + 1_000_003 * step + ranks.rank)


def _batch_on(inputs: torch.Tensor, labels: torch.Tensor, device: torch.device) -> dict:
    return {
        "inputs": inputs.to(device),
        "labels": labels.to(device),
        "puzzle_identifiers": torch.zeros(inputs.shape[0], dtype=torch.long, device=device),
    }


def _check_run_dir(cfg: TrainConfig, model_cfg: HRMConfig, puzzles: PuzzleSet) -> dict | None:
    """Refuse to overwrite another run; on resume, load and check the checkpoint."""
    ckpt_path = cfg.run_dir / "checkpoint.pt"
    if not ckpt_path.exists():
        if cfg.resume:
            raise FileNotFoundError(f"--resume: no checkpoint to resume in {cfg.run_dir}")
        return None
    if cfg.overwrite and not cfg.resume:
        return None
    if not cfg.resume:
        raise FileExistsError(
            f"{cfg.run_dir} already holds a checkpoint (an earlier run there, or this one stopped): continue it "
            f"with --resume (resume=True from Python), replace it with --overwrite (overwrite=True), or choose "
            f"another folder with --out (out_dir)")
    ckpt = load_checkpoint(ckpt_path)
    if "optimizer" not in ckpt:
        raise ValueError(f"cannot resume {ckpt_path}: it is an exported model (weights only, no optimiser state)")
    for key in ("train_config", "data"):
        if not isinstance(ckpt.get(key), dict):
            raise ValueError(f"cannot resume {ckpt_path}: it has no {key} (a mapping)")
    # from_dict gives fields added since the checkpoint was made their defaults (what it ran with)
    diffs = config_differences(saved_model_config(ckpt, ckpt_path).to_dict(), model_cfg.to_dict())
    diffs += config_differences(ckpt["data"], data_signature(puzzles))
    saved = {k: v for k, v in ckpt["train_config"].items() if k not in RESUMABLE_CHANGES}
    now = {k: v for k, v in cfg.to_dict().items() if k not in RESUMABLE_CHANGES}
    diffs += config_differences(saved, now)
    if diffs:
        raise ValueError(f"cannot resume {ckpt_path}: this run differs from the checkpoint in " + "; ".join(diffs))
    return ckpt


def _start_from(model: HRM, source: str) -> None:
    """Copy the weights of the saved model `source` (the ones its evaluations read) into `model`."""
    saved, _ = load_model(source)
    mine, theirs = model.state_dict(), saved.state_dict()
    misfits = [k for k in sorted(set(mine) | set(theirs))
               if k not in mine or k not in theirs or mine[k].shape != theirs[k].shape]
    if misfits:
        raise ValueError(
            f"cannot start from {source}: its weights do not fit this run's model ({', '.join(misfits[:4])}"
            f"{', ...' if len(misfits) > 4 else ''}); only settings that keep the weights' shapes "
            f"(halt_max_steps, H_cycles, L_cycles, one_step_grad, ...) may differ from its model's")
    model.load_state_dict(theirs)


def train_step(model: HRM, carry: ACTCarry, batch: dict, opt: torch.optim.Optimizer,
               emb_opt: SignSGD | None = None, loss_type: str = "stablemax",
               precision=None) -> tuple[ACTCarry, dict]:
    """One step of deep supervision: one segment of every slot, its loss, backward, one optimiser step.

    The carry the model returns is already detached, so no graph reaches back into earlier segments.
    `precision` is a context (e.g. autocast) for the forward pass and the loss. Returns (new carry, metrics).
    """
    config = getattr(model, "module", model).config  # `model` may be wrapped (distributed.wrap)
    with precision if precision is not None else nullcontext():
        new_carry, outputs = model(carry, batch)
        # With halting="fixed" the Q head plays no part, so it is not trained either.
        q_weight = 0.0 if config.halting == "fixed" else Q_LOSS_WEIGHT
        loss, metrics = act_loss(outputs, new_carry.current_data["labels"], halted=new_carry.halted,
                                 steps=new_carry.steps, loss_type=loss_type, q_loss_weight=q_weight)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    if emb_opt is not None:
        emb_opt.step()
        emb_opt.zero_grad()
    return new_carry, metrics


def train(cfg: TrainConfig) -> dict:
    """Train (or resume) a run. Returns {"model", "model_config", "history", "step", "checkpoint"}.

    With `ema`, the returned model holds the averaged weights (the checkpoint keeps both).
    Under torchrun, each process trains its share of every global batch (hrm_minimal/distributed.py)."""
    ranks, device = distributed.setup(cfg.device)
    mine = ranks.share(cfg.batch_size)  # this process's rows of each global batch (all of them alone)
    train_set, test_set = load_data(cfg)
    model_cfg = build_model_config(cfg, train_set)
    ckpt = _check_run_dir(cfg, model_cfg, train_set)

    torch.manual_seed(cfg.seed)
    model = HRM(model_cfg).to(device)
    if ckpt is None and cfg.init_from is not None:
        _start_from(model, cfg.init_from)
    if cfg.compile:
        model.inner.compile()  # in place: state_dict keys stay the same, so checkpoints are unchanged
    opt, emb_opt = make_optimizers(model, cfg)
    # Every rank draws the same global batch and keeps its share, whatever the number of ranks.
    batches = TrainBatches(train_set, cfg.batch_size, augment=cfg.augment, seed=cfg.seed)
    ema = WeightAverage(model, cfg.ema) if cfg.ema is not None else None
    stepper = distributed.wrap(model, ranks, device)  # what the training step calls
    if ranks.active:
        torch.manual_seed(cfg.seed + ranks.rank)  # each rank its own exploration draws
    step, carry, history, train_time = 0, None, [], 0.0
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        if ema is not None:
            ema.load_state_dict(ckpt["ema"])
        batches.load_state_dict(ckpt["batches"])
        if ckpt["carry"]:  # saved as the global batch's carry: take this rank's rows
            carry = ACTCarry.from_state(distributed.take_rows(ckpt["carry"], mine)).to(device)
        _resume_rng(ckpt["rng"], ranks, cfg.seed, ckpt["step"])
        step, history, train_time = ckpt["step"], list(ckpt["history"]), ckpt["train_time_s"]

    def save() -> Path:
        """Write the checkpoint (rank 0; under torchrun every rank must call it: it gathers the carry)."""
        path = cfg.run_dir / "checkpoint.pt"
        state = distributed.gather_rows(carry.to_state(), ranks) if carry is not None else {}
        rngs = distributed.gather_objects(done["rng"], ranks)
        if ranks.main:
            save_checkpoint(path, {
                "model_config": model_cfg.to_dict(), "train_config": cfg.to_dict(),
                "data": data_signature(train_set), "model": model.state_dict(),
                "optimizer": opt.state_dict(), **({"ema": ema.state_dict()} if ema is not None else {}),
                "carry": state, "batches": done["batches"],
                "rng": rngs[0] if len(rngs) == 1 else {"ranks": rngs},
                "step": step, "history": history, "train_time_s": train_time, "device": str(device),
                **({"world_size": ranks.world} if ranks.active else {}),
            })
        distributed.barrier(ranks)
        return path

    def evaluate_into(record: dict) -> None:
        """Evaluate on the test split and add the results to `record` (evaluation time apart)."""
        t1 = time.perf_counter()

        def measure() -> dict:
            return evaluate(model, test_set, batch_size=max(cfg.batch_size, 128), device=device,
                            limit=cfg.eval_limit, max_steps=cfg.eval_max_steps, progress=False)

        with ema.applied(model) if ema is not None else nullcontext():
            result = measure()
        # test_exact_accuracy is after the last segment run; test_exact_by_segment after each one
        record.update({f"test_{k}": v for k, v in result.items()
                       if not isinstance(v, list) or k == "exact_by_segment"})
        if ema is not None:  # the raw weights too, so that a run shows what the average adds
            record["test_raw_exact_accuracy"] = measure()["exact_accuracy"]
        model.train()
        record["eval_time_s"] = round(time.perf_counter() - t1, 3)
        bar.write(f"step {record['step']}: test exact {result['exact_accuracy']:.3f}, "
                  f"cell {result['accuracy']:.3f} after {len(result['exact_by_segment'])} segments "
                  f"({record['eval_time_s']:.1f} s)")

    def evaluate_on_main(record: dict) -> None:
        """Rank 0 evaluates (the others wait), then every rank keeps the same record."""
        if ranks.main:
            evaluate_into(record)
        record.update(distributed.gather_objects(record, ranks)[0])
        distributed.barrier(ranks)

    if ranks.main:
        cfg.run_dir.mkdir(parents=True, exist_ok=True)
        (cfg.run_dir / "config.json").write_text(json.dumps(
            {"train": cfg.to_dict(), "model": model_cfg.to_dict(), "data": data_signature(train_set),
             **({"world_size": ranks.world} if ranks.active else {})}, indent=2))
    distributed.barrier(ranks)
    stop_at = min(cfg.max_steps, cfg.stop_after_steps or cfg.max_steps)
    bar = tqdm(total=cfg.max_steps, initial=step, disable=not (cfg.progress and ranks.main),
               desc=f"train {train_set.name}")
    model.train()
    # `done` is the state as of the last completed step: an interruption in the middle of a step
    # saves this, not the half-done step, so nothing is lost and nothing is counted twice.
    done = {"batches": batches.state_dict(), "rng": _rng_state()}
    last_exact = next((h["train_exact"] for h in reversed(history) if "train_exact" in h), None)
    try:
        while step < stop_at:
            out_of_time = cfg.time_budget_s is not None and train_time >= cfg.time_budget_s
            if distributed.any_rank(out_of_time, ranks):  # all ranks stop at the same step
                break
            t0 = time.perf_counter()
            lr = _set_lr(cfg, step, opt, emb_opt)
            inputs, labels = next(batches)  # the global batch
            batch = _batch_on(inputs[mine], labels[mine], device)
            if carry is None:
                carry = model.initial_carry(batch)
            carry, metrics = train_step(stepper, carry, batch, opt, emb_opt, cfg.loss_type,
                                        autocast_context(device) if cfg.autocast else nullcontext())
            metrics = distributed.mean_metrics(metrics, ranks)
            step += 1
            if ema is not None:
                ema.update(model, step)
            done = {"batches": batches.state_dict(), "rng": _rng_state()}
            train_time += time.perf_counter() - t0
            bar.update(1)
            record = {"step": step, "time_s": round(train_time, 3), "lr": lr, "loss": metrics["loss"],
                      "lm_loss": metrics["lm_loss"], "q_loss": metrics["q_halt_loss"] + metrics["q_continue_loss"]}
            if float(metrics["count"]) > 0:
                record["train_exact"] = float(metrics["exact_accuracy"])
                record["train_accuracy"] = float(metrics["accuracy"])
            # exact accuracy of the puzzles that halted in this step: none do on most steps, so show the
            # last measured value (and none before the first)
            last_exact = record.get("train_exact", last_exact)
            shown = {} if last_exact is None else {"exact": f"{last_exact:.2f}"}
            bar.set_postfix(loss=f"{record['loss']:.3f}", **shown, refresh=False)  # at tqdm's pace, not every step
            if test_set is not None and (step % cfg.eval_every == 0 or step == cfg.max_steps):
                evaluate_on_main(record)
            history.append(record)
            if step % cfg.checkpoint_every == 0:
                save()
        if test_set is not None and history and "test_exact_accuracy" not in history[-1]:
            evaluate_on_main(history[-1])  # a run stopped by its time budget still reports where it ended
    except BaseException as exc:
        bar.close()
        if ranks.active:  # the other ranks may be gone: no collective step, keep the last saved checkpoint
            if ranks.main:
                print(f"stopped at step {step}: resume from the last checkpoint in {cfg.run_dir} (written "
                      f"every {cfg.checkpoint_every} steps)", file=sys.stderr)
            raise
        if isinstance(exc, KeyboardInterrupt):
            bar.write(f"interrupted at step {step}: saving a checkpoint in {cfg.run_dir}")
        save()
        raise
    bar.close()
    path = save()
    if not math.isfinite(history[-1]["loss"] if history else 0.0):
        raise FloatingPointError(f"training diverged: the loss is {history[-1]['loss']} at step {step}")
    if ema is not None:  # the model a run gives back is the one its evaluations measured (as load_model)
        model.load_state_dict(ema.average, strict=False)
    return {"model": model, "model_config": model_cfg, "history": history, "step": step, "checkpoint": path}


def parse_value(text: str):
    """'3' -> 3, '0.5' -> 0.5, 'true' -> True, 'none' -> None, else the string."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _parse_args(argv: list[str] | None) -> tuple[TrainConfig, bool]:
    p = argparse.ArgumentParser(prog="python -m hrm_minimal.train", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--task", default=None, help="shipped data set, e.g. sudoku-6x6 (default)")
    src.add_argument("--data", default=None,
                     help="training CSV in the Sudoku-Extreme or Maze-Hard format, or a folder built by "
                          "python -m hrm_minimal.data prepare (its test split is the test data)")
    p.add_argument("--recipe", default=None,
                   help="a named recipe (hrm_minimal.recipes: the measured settings of a task, e.g. sudoku-4x4, "
                        "or the paper's, e.g. paper-sudoku-extreme-1k); options given with it change it")
    p.add_argument("--test-data", default=None, help="test CSV to evaluate on (with --data)")
    p.add_argument("--preset", default="cpu-small", help="model preset (cpu-tiny, cpu-small, paper, ...)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a model setting, e.g. --set H_cycles=3 (repeatable)")
    p.add_argument("--steps", dest="max_steps", type=int, default=2000, help="optimiser steps (segments)")
    p.add_argument("--time-budget", dest="time_budget_s", type=float, default=None, help="stop after S s of training")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", dest="lr_warmup_steps", type=int, default=100)
    p.add_argument("--lr-min-ratio", type=float, default=1.0)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--optimizer", choices=["adamw", "adam_atan2"], default="adamw")
    p.add_argument("--loss", dest="loss_type", choices=["stablemax", "softmax"], default="stablemax")
    p.add_argument("--no-augment", dest="augment", action="store_false")
    p.add_argument("--ema", type=float, default=None,
                   help="evaluate and export a moving average of the weights with this decay, e.g. 0.99 "
                        "(TRM's EMA, not in the HRM reference)")
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--eval-limit", type=int, default=500, help="test examples per evaluation (0 = all)")
    p.add_argument("--eval-max-steps", type=int, default=None,
                   help="segments per test puzzle in evaluations (default halt_max_steps; more = inference-time scaling)")
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--out", dest="out_dir", default=None, help="run folder (default runs/<task>-<preset>)")
    p.add_argument("--resume", action="store_true", help="continue the run saved in the run folder")
    p.add_argument("--overwrite", action="store_true", help="replace the run saved in the run folder")
    p.add_argument("--init-from", default=None, metavar="PATH",
                   help="start a new run from the weights of a saved model (a run folder, checkpoint or "
                        "exported model), e.g. with other segments (--set halt_max_steps=4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cuda, mps or cpu")
    p.add_argument("--no-autocast", dest="autocast", action="store_false",
                   help="float32 on CUDA too (the CPU's arithmetic); default bf16 autocast on CUDA")
    p.add_argument("--compile", action="store_true", help="torch.compile the model's segment (first steps are slow)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("--dry-run", action="store_true", help="build model and data, print the config, exit")
    a = p.parse_args(argv)
    # Which options were given, as opposed to defaulted (a recipe keeps its own value for the others).
    for action in p._actions:
        action.default = argparse.SUPPRESS
    given = vars(p.parse_args(argv))
    overrides = {}
    for item in a.overrides:
        if "=" not in item:
            p.error(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        overrides[key.strip()] = parse_value(value.strip())
    if a.recipe is not None:
        from hrm_minimal.recipes import RECIPES, recipe_config

        if a.recipe not in RECIPES:
            p.error(f"unknown recipe {a.recipe!r}; recipes: {', '.join(sorted(RECIPES))}")
        if "task" in given:
            p.error("argument --task: not allowed with argument --recipe (a recipe names its data; --data "
                    "points it at another copy of it)")
        changes = {k: v for k, v in given.items() if k not in ("recipe", "overrides", "dry_run")}
        if "data" in changes:  # e.g. the paper's data built in another folder
            changes["task"] = None
        if "eval_limit" in changes:
            changes["eval_limit"] = changes["eval_limit"] or None
        return recipe_config(a.recipe, overrides=overrides, **changes), a.dry_run
    task = a.task if (a.task or a.data) else "sudoku-6x6"
    cfg = TrainConfig(
        task=task if a.data is None else None, data=a.data, test_data=a.test_data, preset=a.preset,
        overrides=overrides, batch_size=a.batch_size, lr=a.lr, lr_warmup_steps=a.lr_warmup_steps,
        lr_min_ratio=a.lr_min_ratio, weight_decay=a.weight_decay, optimizer=a.optimizer,
        loss_type=a.loss_type, augment=a.augment, ema=a.ema, max_steps=a.max_steps, time_budget_s=a.time_budget_s,
        eval_every=a.eval_every, eval_limit=a.eval_limit or None, eval_max_steps=a.eval_max_steps,
        checkpoint_every=a.checkpoint_every,
        out_dir=a.out_dir, resume=a.resume, overwrite=a.overwrite, init_from=a.init_from, seed=a.seed,
        device=a.device, autocast=a.autocast, compile=a.compile, progress=a.progress)
    return cfg, a.dry_run


def describe_training(cfg: TrainConfig, puzzles: int) -> list[str]:
    """What a run will do, in words: optimiser, schedule, steps (for --dry-run)."""
    emb_lr = cfg.lr if cfg.puzzle_emb_lr is None else cfg.puzzle_emb_lr
    emb_wd = cfg.weight_decay if cfg.puzzle_emb_weight_decay is None else cfg.puzzle_emb_weight_decay
    schedule = ("then constant" if cfg.lr_min_ratio == 1.0
                else f"then cosine down to {cfg.lr_min_ratio:g} of it at step {cfg.max_steps:,}")
    epochs = cfg.max_steps * cfg.batch_size / puzzles
    reads = "the whole test split" if cfg.eval_limit is None else f"{cfg.eval_limit:,} test puzzles"
    return [
        f"optimiser: {cfg.optimizer} at {cfg.lr:g}, betas {tuple(cfg.betas)}, weight decay {cfg.weight_decay:g}; "
        f"{cfg.lr_warmup_steps:,} warm-up steps, {schedule}; puzzle embedding: sign-SGD at {emb_lr:g}, "
        f"weight decay {emb_wd:g}; loss {cfg.loss_type}",
        f"steps: {cfg.max_steps:,} of a global batch of {cfg.batch_size} ({epochs:,.0f} passes over "
        f"{puzzles:,} training puzzles); evaluation every {cfg.eval_every:,} steps on {reads}"
        + (f", stopped after {cfg.time_budget_s:g} s of training" if cfg.time_budget_s else ""),
    ]


def dry_run(cfg: TrainConfig) -> None:
    """Print the resolved configuration, the device and the parameter count. A paper recipe whose
    data is not built yet is described with its data set's sizes."""
    from hrm_minimal.recipes import PAPER_DATA, PAPER_PUZZLES

    if cfg.data in PAPER_DATA and not Path(cfg.data).exists():
        name, vocab, seq_len = PAPER_DATA[cfg.data]
        model_cfg = get_preset(cfg.preset, vocab_size=vocab, seq_len=seq_len, **cfg.overrides)
        puzzles = PAPER_PUZZLES
        print(f"data: {cfg.data} is not built yet (python -m hrm_minimal.data fetch {name}, then "
              f"python -m hrm_minimal.data prepare {name}); {puzzles:,} training puzzles, vocab {vocab}, seq_len {seq_len}")
    else:
        train_set, test_set = load_data(cfg)
        model_cfg = build_model_config(cfg, train_set)
        puzzles = len(train_set)
        print(f"data: {train_set.name} ({train_set.kind}, {len(train_set)} train, {len(test_set) if test_set is not None else 0} "
              f"test, vocab {train_set.vocab_size}, seq_len {train_set.seq_len})")
    model = HRM(model_cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print("model: " + json.dumps(model_cfg.to_dict()))
    for line in describe_training(cfg, puzzles):
        print(line)
    print("train: " + json.dumps({k: v for k, v in cfg.to_dict().items() if k != "overrides"}))
    print(f"run folder: {cfg.run_dir}")
    print(f"device: {get_device(cfg.device)}")
    print(f"parameters: {n_params:,}")


def main(argv: list[str] | None = None) -> int:
    try:
        cfg, is_dry = _parse_args(argv)
        if is_dry:
            dry_run(cfg)
            return 0
        result = train(cfg)
    except (ValueError, FileExistsError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        again = "the same command again" if "--resume" in (sys.argv[1:] if argv is None else argv) else \
            "the same command plus --resume"
        print(f"stopped; the checkpoint is saved: resume with {again}", file=sys.stderr)
        return 130
    finally:
        distributed.finish()
    if int(os.environ.get("RANK", 0)) != 0:
        return 0  # under torchrun, rank 0 reports
    last = result["history"][-1] if result["history"] else {}
    print(f"finished at step {result['step']}; checkpoint: {result['checkpoint']}")
    if "test_exact_accuracy" in last:
        print(f"test exact accuracy {last['test_exact_accuracy']:.4f}, cell accuracy {last['test_accuracy']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
