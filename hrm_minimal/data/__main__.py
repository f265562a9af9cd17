"""Command line: `python -m hrm_minimal.data build [--check] [--out DIR]`."""
from __future__ import annotations

import argparse
import sys


def cli(argv: list[str] | None = None) -> int:
    """Parse the arguments and run the build; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m hrm_minimal.data", description="Shipped puzzle data.")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="rebuild datasets/*.csv and datasets/README.md from their seeds")
    build.add_argument("--check", action="store_true", help="compare with the shipped files; exit 1 if any differs")
    build.add_argument("--out", default=None, help="folder to write or check (default: datasets_dir())")
    args = parser.parse_args(argv)
    from .build import main

    return main(check=args.check, out_dir=args.out)


if __name__ == "__main__":
    sys.exit(cli())
