"""The paper's model on a GPU: training throughput with and without torch.compile, and how soon a run learns.

    python benchmarks/gpu_throughput.py [--batch-size 768] [--steps 20] [--warmup 5] [--no-compile]
        [--train-seconds 600] [--eval-every 200] [--eval-limit 300] [--data FOLDER] [--out DIR] [--smoke]

Measures, on the CUDA device there is, the paper's 27,275,266-parameter model (preset `paper` on
Sudoku, vocabulary 11, 81 cells) with the optimiser settings of the recipe `paper-sudoku-extreme-1k`
(hrm_minimal/recipes.py) at the reference's global batch of 768 (`--batch-size 384` for one GPU,
which then takes the recipe `paper-sudoku-extreme-1k-1gpu` and its rate):

1. Throughput. The trainer's own `train_step` in its bf16 autocast (float32 on a GPU without bf16
   units), once eager and once with `model.inner.compile()` as `train --compile` does, each on a
   fresh model and optimisers: `--warmup` steps first (their time, compilation included, is reported
   apart as the warm-up), then `--steps` timed steps between `torch.cuda.synchronize()` calls. The
   batches are Sudoku batches from the shipped 9x9 set, moved to the GPU before the clock starts (the
   same shapes as Sudoku-Extreme, so the same speed; data loading is not timed). Peak memory is
   `torch.cuda.max_memory_allocated`, reset before each variant.
2. Time to learn. A run of the recipe through `hrm_minimal.train.train` for `--train-seconds` of
   training time (default 10 minutes; compiled unless `--no-compile`), evaluating the first
   `--eval-limit` test puzzles every `--eval-every` steps. The run "leaves the trivial answer" at the
   first evaluation where a test puzzle is solved (exact accuracy > 0) or where the accuracy on the
   blank cells reaches TRIVIAL_BLANK + MARGIN = 1/9 + 0.05 (16.1%). The trivial answer copies the
   given cells and writes one digit everywhere else, right on about 1/9 of the blank cells; the
   margin is far beyond the noise of a few hundred puzzles of some 60 blank cells each. Its step and
   time are the run's own records (`time_s`: training time, evaluation excluded, compilation
   included). The data is `data/sudoku-extreme-1k` (`python -m hrm_minimal.data prepare
   sudoku-extreme`) or `--data`; without either the run falls back to the shipped 9x9 set, and the
   output says so ("stand-in data").

Without a CUDA device the script says so in one line and exits 0. `--smoke` runs every part on the
CPU instead, small: preset `cpu-tiny`, batch 8, 3 timed steps, no compilation, a 3-second run on the
shipped 9x9 set (tests/test_gpu_throughput.py). Figures go to `--out`/gpu_throughput.json (default
runs/gpu_throughput; the run's folder is `--out`/run).

The last line is the headline: the device; examples per second of the eager step in its
arithmetic and of the compiled one, with the compiled/eager ratio; the larger peak memory of the
two; and the step and training seconds at which the run left the trivial answer (or that it did not
within its steps). For example:
`NVIDIA H100 80GB HBM3: 12,345 examples/s bf16, 15,678 compiled (x1.27), peak 30.1 GiB; left the trivial answer after 812 steps (143 s)`
"""
from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch

from hrm_minimal.data import TrainBatches, load_task
from hrm_minimal.model import HRM
from hrm_minimal.recipes import recipe_config
from hrm_minimal.train import TrainConfig, build_model_config, make_optimizers, train, train_step
from hrm_minimal.utils import autocast_context, autocast_dtype

REPO_ROOT = Path(__file__).resolve().parent.parent
RECIPE, RECIPE_1GPU = "paper-sudoku-extreme-1k", "paper-sudoku-extreme-1k-1gpu"
DATA = "data/sudoku-extreme-1k"
STAND_IN = "sudoku-9x9"  # shipped; vocabulary 11 and 81 cells, as Sudoku-Extreme
TRIVIAL_BLANK = 1 / 9  # blank-cell accuracy of one digit written in every blank cell
MARGIN = 0.05  # "clearly above" the trivial level
SMOKE = dict(preset="cpu-tiny", batch_size=8, steps=3, warmup=1, train_seconds=3.0, eval_every=20, eval_limit=32)
GPU = dict(preset="paper", batch_size=768, steps=20, warmup=5, train_seconds=600.0, eval_every=200, eval_limit=300)


# --- what "leaves the trivial answer" means -------------------------------------------------------

def beyond_trivial(record: dict) -> bool:
    """True for an evaluation record (the trainer's `test_*` keys) that is clearly not the trivial
    answer: a test puzzle solved, or blank-cell accuracy at least TRIVIAL_BLANK + MARGIN."""
    if record.get("test_exact_accuracy", 0.0) > 0:
        return True
    return (record.get("test_blank_accuracy") or 0.0) >= TRIVIAL_BLANK + MARGIN


def left_trivial(history: list[dict]) -> dict | None:
    """The first evaluation in a run's history beyond the trivial answer, as {"step", "time_s",
    "exact", "blank"}; None if no evaluation is."""
    for record in history:
        if "test_exact_accuracy" in record and beyond_trivial(record):
            return {"step": record["step"], "time_s": record["time_s"],
                    "exact": record["test_exact_accuracy"], "blank": record.get("test_blank_accuracy")}
    return None


# --- throughput -----------------------------------------------------------------------------------

def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_batches(puzzles, batch_size: int, count: int, device: torch.device) -> list[dict]:
    """`count` training batches of the shipped set (augmented, as the trainer draws them), on `device`."""
    draws = TrainBatches(puzzles, batch_size, augment=True, seed=0)
    batches = []
    for _ in range(count):
        inputs, labels = next(draws)
        batches.append({"inputs": inputs.to(device), "labels": labels.to(device),
                        "puzzle_identifiers": torch.zeros(batch_size, dtype=torch.long, device=device)})
    return batches


def fresh_model(cfg: TrainConfig, puzzles, device: torch.device, compiled: bool) -> HRM:
    torch.manual_seed(cfg.seed)
    model = HRM(build_model_config(cfg, puzzles)).to(device)
    if compiled:
        torch._dynamo.reset()
        model.inner.compile()  # as train() does with cfg.compile
    return model.train()


def run_steps(model, carry, batches, n: int, opt, emb_opt, cfg, device) -> tuple[object, float]:
    """`n` training steps, cycling through `batches`; returns (carry, seconds between two synchronisations)."""
    precision = autocast_context(device) if cfg.autocast else nullcontext()
    sync(device)
    start = time.perf_counter()
    for i in range(n):
        batch = batches[i % len(batches)]
        if carry is None:
            carry = model.initial_carry(batch)
        carry, _ = train_step(model, carry, batch, opt, emb_opt, cfg.loss_type, precision)
    sync(device)
    return carry, time.perf_counter() - start


def measure(cfg: TrainConfig, puzzles, device, compiled: bool, steps: int, warmup: int) -> dict:
    """Examples/s, ms/step, warm-up seconds and peak memory of `steps` training steps after `warmup`."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    model = fresh_model(cfg, puzzles, device, compiled)
    opt, emb_opt = make_optimizers(model, cfg)
    batches = device_batches(puzzles, cfg.batch_size, min(steps + warmup, 8), device)
    carry, warm_s = run_steps(model, None, batches, warmup, opt, emb_opt, cfg, device)
    _, timed_s = run_steps(model, carry, batches, steps, opt, emb_opt, cfg, device)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    return {"compiled": compiled, "examples_per_s": cfg.batch_size * steps / timed_s,
            "ms_per_step": 1000 * timed_s / steps, "warmup_s": warm_s, "warmup_steps": warmup,
            "timed_steps": steps, "peak_memory_gib": peak}


# --- the run --------------------------------------------------------------------------------------

def run_config(a, settings: dict, out: Path, device: torch.device) -> tuple[TrainConfig, bool]:
    """The recipe's TrainConfig for the run (data, batch, time budget, evaluations); True if on stand-in data."""
    data = a.data or (None if a.smoke or not Path(DATA).is_dir() else DATA)
    where = {"data": data} if data else {"task": STAND_IN, "data": None}
    cfg = recipe_config(RECIPE_1GPU if settings["batch_size"] == 384 else RECIPE, **where,
                        preset=settings["preset"], batch_size=settings["batch_size"],
                        time_budget_s=settings["train_seconds"], eval_every=settings["eval_every"],
                        eval_limit=settings["eval_limit"], compile=settings["compile"],
                        device=device.type, out_dir=str(out / "run"), overwrite=True, progress=False)
    return cfg, data is None


def summarise_run(result: dict, stand_in: bool, data: str) -> dict:
    evaluations = [{k: h.get(k) for k in ("step", "time_s", "test_exact_accuracy", "test_accuracy",
                                           "test_blank_accuracy", "test_count")}
                   for h in result["history"] if "test_exact_accuracy" in h]
    last = result["history"][-1] if result["history"] else {"time_s": 0.0}
    return {"data": data, "stand_in": stand_in, "steps": result["step"], "train_time_s": last["time_s"],
            "left_trivial": left_trivial(result["history"]), "evaluations": evaluations}


# --- output ---------------------------------------------------------------------------------------

def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return "CPU " + line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "CPU " + (platform.processor() or platform.machine())


def variant_line(name: str, v: dict) -> str:
    peak = "n/a" if v["peak_memory_gib"] is None else f"{v['peak_memory_gib']:.1f} GiB"
    return (f"{name:>8}: {v['examples_per_s']:,.0f} examples/s, {v['ms_per_step']:.1f} ms/step, peak {peak}, "
            f"warm-up {v['warmup_s']:.1f} s ({v['warmup_steps']} steps)")


def run_phrase(run: dict) -> str:
    stand_in = f" (stand-in data: {STAND_IN})" if run["stand_in"] else ""
    if not run["evaluations"]:
        return f"no test evaluation in {run['steps']:,} steps{stand_in}"
    hit = run["left_trivial"]
    if hit is None:
        return f"did not leave the trivial answer in {run['steps']:,} steps ({run['train_time_s']:.0f} s){stand_in}"
    return f"left the trivial answer after {hit['step']:,} steps ({hit['time_s']:.0f} s){stand_in}"


def headline(label: str, precision: str, variants: dict, run: dict) -> str:
    eager, compiled = variants["eager"], variants.get("compiled")
    text = f"{label}: {eager['examples_per_s']:,.0f} examples/s {precision}"
    if compiled is not None:
        ratio = compiled["examples_per_s"] / eager["examples_per_s"]
        text += f", {compiled['examples_per_s']:,.0f} compiled (x{ratio:.2f})"
    peaks = [v["peak_memory_gib"] for v in variants.values() if v["peak_memory_gib"] is not None]
    if peaks:
        text += f", peak {max(peaks):.1f} GiB"
    return f"{text}; {run_phrase(run)}"


# --- main -----------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=None, help="global batch (default 768, the reference's)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per variant (default 20)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 5)")
    p.add_argument("--no-compile", action="store_true", help="eager only, in the throughput and the run")
    p.add_argument("--train-seconds", type=float, default=None, help="training time of the run (default 600)")
    p.add_argument("--eval-every", type=int, default=None, help="steps between evaluations (default 200)")
    p.add_argument("--eval-limit", type=int, default=None, help="test puzzles per evaluation (default 300)")
    p.add_argument("--data", default=None, help=f"built data folder for the run (default {DATA} if built)")
    p.add_argument("--out", default="runs/gpu_throughput", help="folder for the JSON and the run")
    p.add_argument("--smoke", action="store_true", help="all parts on the CPU, tiny and quick")
    a = p.parse_args(argv)
    base = SMOKE if a.smoke else GPU
    settings = {k: getattr(a, k) if getattr(a, k, None) is not None else v for k, v in base.items()}
    settings["compile"] = not (a.no_compile or a.smoke)
    if min(settings["steps"], settings["batch_size"], settings["eval_every"]) < 1 or settings["warmup"] < 0:
        p.error("--steps, --batch-size and --eval-every must be positive, --warmup not negative")
    if Path(a.out).resolve() == REPO_ROOT:
        p.error("--out must not be the repository root")
    return a, settings


def main(argv: list[str] | None = None) -> int:
    a, settings = parse_args(argv)
    if not a.smoke and not torch.cuda.is_available():
        print(f"no CUDA device (torch {torch.__version__}): nothing measured; --smoke runs a small CPU check")
        return 0
    device = torch.device("cpu" if a.smoke else "cuda")
    out = Path(a.out)
    cfg, stand_in = run_config(a, settings, out, device)
    precision = "bf16" if autocast_dtype(device) == torch.bfloat16 else "float32"
    name = device_name(device)
    label = f"{name} (smoke: {settings['preset']}, batch {settings['batch_size']}, {settings['steps']} steps, " \
            f"no compile)" if a.smoke else name
    puzzles = load_task(STAND_IN, "train")
    params = sum(p.numel() for p in HRM(build_model_config(cfg, puzzles)).parameters())
    print(f"{name}; torch {torch.__version__}; preset {settings['preset']} ({params:,} parameters), "
          f"batch {settings['batch_size']}, {precision}; {cfg.optimizer} at lr {cfg.lr}", flush=True)
    variants = {}
    for variant in ("eager", "compiled") if settings["compile"] else ("eager",):
        variants[variant] = measure(cfg, puzzles, device, variant == "compiled", settings["steps"], settings["warmup"])
        print(variant_line(variant, variants[variant]), flush=True)
    if "compiled" in variants:
        print(f"compiled / eager: x{variants['compiled']['examples_per_s'] / variants['eager']['examples_per_s']:.2f}")
    torch._dynamo.reset()
    print(f"run: {cfg.data or STAND_IN + ' (stand-in data)'}, "
          f"{settings['train_seconds']:.0f} s of training, {settings['eval_limit']} test puzzles "
          f"every {settings['eval_every']} steps", flush=True)
    run = summarise_run(train(cfg), stand_in, cfg.data or STAND_IN)
    for e in run["evaluations"]:
        blank = "n/a" if e["test_blank_accuracy"] is None else f"{e['test_blank_accuracy']:.3f}"
        print(f"step {e['step']:>6}  {e['time_s']:7.1f} s  exact {e['test_exact_accuracy']:.3f}  "
              f"cells {e['test_accuracy']:.3f}  blank cells {blank}")
    report = {"device": name, "torch": torch.__version__, "precision": precision, "smoke": a.smoke,
              "settings": settings, "variants": variants, "run": run}
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_throughput.json").write_text(json.dumps(report, indent=2))
    print(headline(label, precision, variants, run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
