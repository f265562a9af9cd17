"""Data-parallel training on several processes: `torchrun --nproc-per-node N -m hrm_minimal.train ...`.

As in the reference (`pretrain.py`), every process (rank) holds the whole model and works on its
share of each global batch, with its own carry: rank r owns the slots r*b .. (r+1)*b - 1 of the
global batch of B = N*b slots. Gradients are averaged over the ranks (PyTorch's
DistributedDataParallel), which equals the gradient of the loss averaged over the global batch;
the puzzle embedding's sign-SGD gathers every rank's rows first, so each rank updates its copy of
the table the same way. Every rank draws the same global batch from the same seeded iterator and
keeps its share, so the data order does not depend on the number of ranks. Checkpoints gather the
carry into its global form and are written by rank 0 alone: a run resumes on another number of
ranks, as long as the global batch is the same. Exploration draws from each rank's own random
generator (seeded with seed + rank), as in the reference.

Without torchrun (no WORLD_SIZE in the environment) nothing here does anything: one process, as
before.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from hrm_minimal.utils import get_device


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes."""

    rank: int = 0
    world: int = 1

    @property
    def active(self) -> bool:
        """True when several processes train together."""
        return self.world > 1

    @property
    def main(self) -> bool:
        """True on the process that writes files and prints (rank 0)."""
        return self.rank == 0

    def share(self, global_batch: int) -> slice:
        """The rows of a global batch that this rank works on."""
        if global_batch % self.world:
            raise ValueError(f"the global batch_size {global_batch} must divide evenly among {self.world} "
                             f"processes; choose a multiple of {self.world}")
        size = global_batch // self.world
        return slice(self.rank * size, (self.rank + 1) * size)


def setup(device: str = "auto") -> tuple[Ranks, torch.device]:
    """(ranks, this process's device). Under torchrun, joins the process group: NCCL on CUDA (one
    GPU per process, LOCAL_RANK), gloo on the CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Ranks(), get_device(device)
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    wanted = get_device(device)
    if wanted.type == "cuda":
        torch.cuda.set_device(local)
        wanted, backend = torch.device("cuda", local), "nccl"
    elif wanted.type == "cpu":
        backend = "gloo"
    else:
        raise ValueError(f"several processes train on CUDA or on the CPU, not on {wanted.type}")
    if not dist.is_initialized():
        # Rank 0 evaluates while the others wait: allow a long evaluation of a big test split.
        dist.init_process_group(backend, timeout=timedelta(hours=2))
    if dist.get_world_size() != world or dist.get_rank() != rank:
        raise ValueError("the process group does not match WORLD_SIZE and RANK")
    return Ranks(rank, world), wanted


def wrap(model: torch.nn.Module, ranks: Ranks, device: torch.device) -> torch.nn.Module:
    """The model as the training step calls it: DistributedDataParallel when several ranks train.
    Buffers are not broadcast: the puzzle embedding's table is kept equal by its optimiser."""
    if not ranks.active:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids, broadcast_buffers=False)


def _gather_tensor(x: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """Every rank's x (same shape on each), concatenated along dim 0 in rank order."""
    wire = x.to(torch.uint8) if x.dtype == torch.bool else x.contiguous()  # gloo has no bool
    parts = [torch.empty_like(wire) for _ in range(ranks.world)]
    dist.all_gather(parts, wire)
    out = torch.cat(parts)
    return out.bool() if x.dtype == torch.bool else out


def gather_rows(state, ranks: Ranks):
    """A nested dict of per-rank tensors (a carry's state) as the global one: rows of all ranks."""
    if isinstance(state, dict):
        return {k: gather_rows(v, ranks) for k, v in state.items()}
    return _gather_tensor(state, ranks) if ranks.active else state


def take_rows(state, rows: slice):
    """This rank's rows of a nested dict of global tensors (a saved carry)."""
    if isinstance(state, dict):
        return {k: take_rows(v, rows) for k, v in state.items()}
    return state[rows]


def gather_objects(obj, ranks: Ranks) -> list:
    """[rank 0's obj, rank 1's, ...] on every rank."""
    if not ranks.active:
        return [obj]
    out = [None] * ranks.world
    dist.all_gather_object(out, obj)
    return out


def mean_metrics(metrics: dict, ranks: Ranks) -> dict:
    """Training metrics over the global batch. Losses are means over equal shares, so their mean over
    ranks; accuracies are over the sequences that halted, so weighted by each rank's count."""
    if not ranks.active:
        return metrics
    halted = ["accuracy", "exact_accuracy", "q_halt_accuracy", "steps"]
    rest = [k for k in metrics if k != "count" and k not in halted]
    count = float(metrics["count"])
    values = torch.tensor([count] + [metrics[k] * count for k in halted] + [metrics[k] for k in rest],
                          dtype=torch.float64)
    dist.all_reduce(values)
    total = values[0].item()
    out = {"count": total}
    out.update({k: (values[1 + i].item() / total if total else 0.0) for i, k in enumerate(halted)})
    out.update({k: values[1 + len(halted) + i].item() / ranks.world for i, k in enumerate(rest)})
    return out


def any_rank(flag: bool, ranks: Ranks) -> bool:
    """True on every rank when `flag` is true on any one (so that all ranks stop together)."""
    if not ranks.active:
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def barrier(ranks: Ranks) -> None:
    if ranks.active:
        dist.barrier()


def all_embedding_rows(grad: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every rank's puzzle-embedding gradient rows and ids (the reference's distributed sign-SGD
    gathers them the same way), so that all ranks make the same update. Unchanged on one process."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return grad, ids
    world = dist.get_world_size()
    grads, idss = [torch.empty_like(grad) for _ in range(world)], [torch.empty_like(ids) for _ in range(world)]
    dist.all_gather(grads, grad.contiguous())
    dist.all_gather(idss, ids.contiguous())
    return torch.cat(grads), torch.cat(idss)


def finish() -> None:
    """Leave the process group, if this process joined one (the end of a torchrun run)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
