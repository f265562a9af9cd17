"""Memory of the one-step gradient against full backpropagation, and training speed.

    python benchmarks/memory.py [--hidden 128] [--batch 32] [--device auto]

For H_cycles x L_cycles in 2x2, 4x4 and 8x8, one training segment is run with the one-step
gradient (HRM: only the last L and H step keep a graph) and with full backpropagation through
all H_cycles*L_cycles steps. "Memory" is what autograd keeps for the backward pass: the bytes of
the distinct storages the graph saves (`hrm_minimal.memory.saved_tensor_bytes`: saved-tensor hooks,
identical on every device); on CUDA the peak allocated memory is printed too. The last line is the
headline: `one-step growth 2x2->8x8: A.AAx; full-backprop growth: B.BBx`.
"""
from __future__ import annotations

import argparse
import time

import torch

from hrm_minimal.losses import act_loss
from hrm_minimal.memory import saved_tensor_bytes
from hrm_minimal.model import HRM
from hrm_minimal.presets import get_preset
from hrm_minimal.utils import get_device

VOCAB, SEQ_LEN = 8, 36  # 6x6 Sudoku: 36 cells (+1 puzzle token = 37 positions)


def _batch(batch_size: int, device: torch.device) -> dict:
    g = torch.Generator().manual_seed(0)
    inputs = torch.randint(1, VOCAB, (batch_size, SEQ_LEN), generator=g)
    labels = torch.randint(2, VOCAB, (batch_size, SEQ_LEN), generator=g)
    return {"inputs": inputs.to(device), "labels": labels.to(device),
            "puzzle_identifiers": torch.zeros(batch_size, dtype=torch.long, device=device)}


def segment_memory(model: HRM, batch: dict) -> tuple[int, int]:
    """(bytes autograd saves for one segment's backward, CUDA peak bytes or 0)."""
    device = batch["inputs"].device
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    model.train()
    kept = {}

    def one_segment() -> torch.Tensor:  # forward and loss; the graph stays alive in `kept` for backward
        carry, out = model(model.initial_carry(batch), batch)
        kept["loss"], _ = act_loss(out, carry.current_data["labels"], halted=carry.halted, steps=carry.steps)
        return kept["loss"]

    saved = saved_tensor_bytes(one_segment)
    kept.pop("loss").backward()
    model.zero_grad(set_to_none=True)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else 0
    return saved, peak


def examples_per_second(model: HRM, batch: dict, steps: int = 20) -> float:
    """Training segments per second times batch size (forward, backward, AdamW step)."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    carry = model.initial_carry(batch)
    model.train()
    for i in range(steps + 3):  # 3 warm-up steps
        if i == 3:
            start = time.perf_counter()
        carry, out = model(carry, batch)
        loss, _ = act_loss(out, carry.current_data["labels"], halted=carry.halted, steps=carry.steps)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    if batch["inputs"].device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch["inputs"].shape[0] / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--device", default="auto")
    a = p.parse_args()
    device = get_device(a.device)
    torch.manual_seed(0)
    batch = _batch(a.batch, device)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"hidden {a.hidden}, {SEQ_LEN + 1} positions, batch {a.batch}")

    speed_cfg = get_preset("cpu-small", vocab_size=VOCAB, seq_len=SEQ_LEN)
    speed = examples_per_second(HRM(speed_cfg).to(device), _batch(64, device))
    print(f"cpu-small preset (hidden {speed_cfg.hidden_size}, batch 64): {speed:,.0f} training examples/s")

    print(f"{'cycles':>6} {'one-step MB':>12} {'full-backprop MB':>17} {'ratio':>6}" + ("  CUDA peak MB (1-step / full)" if device.type == "cuda" else ""))
    rows = {}
    for n in (2, 4, 8):
        mb = {}
        peaks = {}
        for one_step in (True, False):
            cfg = get_preset("cpu-small", vocab_size=VOCAB, seq_len=SEQ_LEN, hidden_size=a.hidden,
                             num_heads=max(1, a.hidden // 32), H_cycles=n, L_cycles=n, one_step_grad=one_step)
            torch.manual_seed(0)
            saved, peak = segment_memory(HRM(cfg).to(device), batch)
            mb[one_step], peaks[one_step] = saved / 2**20, peak / 2**20
        rows[n] = mb
        line = f"{n}x{n:<4} {mb[True]:>12.1f} {mb[False]:>17.1f} {mb[False] / mb[True]:>5.1f}x"
        if device.type == "cuda":
            line += f"  {peaks[True]:.0f} / {peaks[False]:.0f}"
        print(line)
    one = rows[8][True] / rows[2][True]
    full = rows[8][False] / rows[2][False]
    print(f"one-step growth 2x2->8x8: {one:.2f}x; full-backprop growth: {full:.2f}x")


if __name__ == "__main__":
    main()
