"""Does bfloat16 autocast make a CPU training step cheaper? The recipe's steps timed both ways.

    python benchmarks/cpu_bf16.py [--task sudoku-6x6] [--steps 40] [--repeats 2]

The course trains in float32 on a CPU and in bfloat16 autocast on CUDA (the reference's arithmetic).
Some CPUs have bfloat16 matrix units (Intel AMX, `amx_bf16` in /proc/cpuinfo), so bf16 autocast
might make CPU steps cheaper there. This times the task's recipe (`time_to_accuracy.RECIPES`)
with the trainer's own clock (`levers.step_cost`: `--steps` steps after 3 warm-up steps), once in
float32 and once with `torch.autocast("cpu", torch.bfloat16)` around each training segment,
alternating the two `--repeats` times in one run, since this machine's speed drifts. The trainer has
no CPU autocast of its own, so for the bf16 timings this script swaps the trainer's autocast
context for the CPU one and puts it back afterwards. The last line is the headline: bf16's mean
step cost as a ratio of float32's.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from levers import step_cost  # noqa: E402
from time_to_accuracy import RECIPES  # noqa: E402


def has_amx_bf16() -> bool:
    """True where the CPU reports bfloat16 matrix units (Linux only; False where it cannot tell)."""
    try:
        return "amx_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


@contextmanager
def cpu_bf16_training():
    """While inside, the trainer runs each training segment under CPU bfloat16 autocast."""
    import hrm_minimal.train as train_module

    original = train_module.autocast_context
    train_module.autocast_context = lambda device: torch.autocast(device_type="cpu", dtype=torch.bfloat16)
    try:
        yield
    finally:
        train_module.autocast_context = original


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="sudoku-6x6", choices=sorted(RECIPES))
    p.add_argument("--steps", type=int, default=40, help="timed steps per measurement")
    p.add_argument("--repeats", type=int, default=2, help="float32 / bf16 pairs, alternated")
    a = p.parse_args()
    if a.steps < 1 or a.repeats < 1:
        p.error("--steps and --repeats must be at least 1")
    print(f"{a.task}: torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}, AMX bf16: {has_amx_bf16()}")
    costs: dict[str, list[float]] = {"float32": [], "bf16": []}
    for k in range(a.repeats):
        for name in costs:
            torch._dynamo.reset()  # a compiled recipe compiles afresh for each arithmetic
            with cpu_bf16_training() if name == "bf16" else nullcontext():
                cost = step_cost(a.task, "base", a.steps)
            costs[name].append(cost)
            print(f"repeat {k + 1}: {name} {1000 * cost:.1f} ms a step", flush=True)
    fp32, bf16 = statistics.mean(costs["float32"]), statistics.mean(costs["bf16"])
    print(f"{a.task}: bf16 autocast {1000 * bf16:.1f} ms a step against float32 {1000 * fp32:.1f} ms "
          f"(ratio {bf16 / fp32:.2f}; mean of {a.repeats})")


if __name__ == "__main__":
    main()
