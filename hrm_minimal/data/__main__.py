"""Command line:

    python -m hrm_minimal.data build [--check] [--out DIR]          # the shipped datasets/*.csv
    python -m hrm_minimal.data fetch NAME [--dest DIR]              # the paper's CSVs from Hugging Face
    python -m hrm_minimal.data prepare NAME [--source DIR] [--out DIR] [--subsample N|all] [--seed S]
                                            [--min-difficulty R]    # build them into a loadable folder

NAME is sudoku-extreme or maze-30x30-hard-1k. fetch and prepare print one line `error: ...` and exit
with status 2 when they cannot do what was asked.
"""
from __future__ import annotations

import argparse
import sys
import time

from .csv_io import CSVFormatError


def _subsample(text: str) -> int | None:
    """--subsample: a positive count, or 'all'."""
    if text.lower() == "all":
        return None
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'all', got {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'all', got {text!r}")
    return count


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hrm_minimal.data", description="Shipped puzzle data.")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="rebuild datasets/*.csv and datasets/README.md from their seeds")
    build.add_argument("--check", action="store_true", help="compare with the shipped files; exit 1 if any differs")
    build.add_argument("--out", default=None, help="folder to write or check (default: datasets_dir())")
    names = "sudoku-extreme or maze-30x30-hard-1k"
    fetch = sub.add_parser("fetch", help="download a paper data set's train.csv and test.csv (needs huggingface_hub)")
    fetch.add_argument("name", help=names)
    fetch.add_argument("--dest", default=None, help="folder for the CSV files (default: data/raw/NAME)")
    prepare = sub.add_parser("prepare", help="build a paper data set's CSV files into a folder that loads fast")
    prepare.add_argument("name", help=names)
    prepare.add_argument("--source", default=None, help="folder with train.csv and test.csv (default: data/raw/NAME)")
    prepare.add_argument("--out", default=None, help="folder to write (default: data/sudoku-extreme-1k, "
                                                     "data/maze-30x30-hard-1k)")
    prepare.add_argument("--subsample", type=_subsample, default=argparse.SUPPRESS,
                         help="training puzzles to draw, or 'all' (default: 1000 for Sudoku, all mazes)")
    prepare.add_argument("--seed", type=int, default=0, help="seed of the draw (default: 0)")
    prepare.add_argument("--min-difficulty", type=int, default=None,
                         help="keep only rows rated at least this, in both splits (default: all)")
    return parser


def _fetch(args) -> int:
    from .paper import CSV_FILES, fetch

    folder = fetch(args.name, args.dest)
    sizes = ", ".join(f"{name} ({(folder / name).stat().st_size / 1e6:,.1f} MB)" for name in CSV_FILES)
    print(f"fetched {args.name} into {folder}: {sizes}")
    return 0


def _prepare(args) -> int:
    from .paper import build, read_meta

    start = time.perf_counter()
    subsample = vars(args).get("subsample", "default")  # not given: the paper's setting
    folder = build(args.name, args.source, args.out, subsample=subsample, seed=args.seed,
                   min_difficulty=args.min_difficulty)
    meta = read_meta(folder)
    counts = meta["counts"]
    print(f"wrote {folder} ({meta['name']}): {counts['train']:,} train and {counts['test']:,} test puzzles, "
          f"{meta['grid_size']}x{meta['grid_size']} {meta['kind']}, in {time.perf_counter() - start:.1f} s")
    return 0


def cli(argv: list[str] | None = None) -> int:
    """Parse the arguments and run the command; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "build":
        from .build import main

        return main(check=args.check, out_dir=args.out)
    try:
        return _fetch(args) if args.command == "fetch" else _prepare(args)
    except (CSVFormatError, ValueError, OSError, ImportError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(cli())
