"""What autograd keeps for the backward pass: `saved_tensor_bytes(fn)`, what a function saves while it
runs (lesson 04), and `graph_saved_bytes(output)`, what the graph behind a tensor still holds.

Backpropagation needs, for every operation recorded in the graph, some of its inputs or outputs
(a matrix product keeps both factors, tanh keeps its output, an addition keeps nothing). PyTorch
hands each such tensor to the pack hook of `torch.autograd.graph.saved_tensors_hooks` at the moment
it saves it. Summing what passes through that hook measures the memory a graph holds until
`backward()` frees it, on any device, without relying on an allocator's statistics.

Tensors are counted by their storage, the block of memory they are a window on: a view keeps its
whole storage alive, and two views of one storage (or one tensor saved twice) hold it only once.
"""
from __future__ import annotations

from typing import Any, Callable

import torch


def saved_tensor_bytes(fn: Callable[[], Any]) -> int:
    """Run `fn()` once; return the bytes of the DISTINCT storages autograd saved for backward meanwhile.

    `fn` takes no arguments (a closure: e.g. a forward pass and its loss). Every tensor the graph
    saves goes through a pack hook; each distinct storage behind them (same device and address)
    counts once, with its whole size `untyped_storage().nbytes()`, even when only a view of it was
    saved. Weights that an operation saves count too (the graph refers to them). Nothing is saved
    under `torch.no_grad()`, so such a run measures 0. `fn`'s result is discarded.
    """
    if not callable(fn):
        raise TypeError(f"saved_tensor_bytes expects a function of no arguments (a closure), got "
                        f"{type(fn).__name__}")
    storages: dict[tuple[str, int], torch.UntypedStorage] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        # Holding the storage keeps its address from being reused by a later tensor while fn runs.
        storages.setdefault((str(tensor.device), storage.data_ptr()), storage)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        fn()
    return int(sum(storage.nbytes() for storage in storages.values()))


def graph_saved_bytes(output: torch.Tensor, exclude_leaves: bool = True) -> int:
    """Bytes of the distinct storages the autograd graph behind `output` still holds for its backward.

    Walks the graph from `output.grad_fn` and reads each node's saved tensors (its attributes named
    `_saved_*`, as PyTorch's autograd notes describe). Unlike `saved_tensor_bytes`, which counts what
    was saved while a function ran, this counts what is still reachable from `output` now: a graph
    cut by `.detach()` or `torch.no_grad()` holds nothing beyond the cut. Leaf tensors that require
    grad (the weights) are left out unless `exclude_leaves=False`: they exist whether or not a graph
    refers to them.
    """
    if not torch.is_tensor(output):
        raise TypeError(f"graph_saved_bytes expects a tensor, got {type(output).__name__}")
    storages: dict[tuple[str, int], int] = {}
    seen, stack = set(), [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        for name in dir(node):
            if not name.startswith("_saved_"):
                continue
            try:
                value = getattr(node, name)
            except RuntimeError:  # freed by an earlier backward
                continue
            for tensor in value if isinstance(value, (tuple, list)) else (value,):
                if not torch.is_tensor(tensor) or (exclude_leaves and tensor.is_leaf and tensor.requires_grad):
                    continue
                storage = tensor.untyped_storage()
                storages[(str(tensor.device), storage.data_ptr())] = storage.nbytes()
        stack.extend(next_node for next_node, _ in node.next_functions)
    return int(sum(storages.values()))
