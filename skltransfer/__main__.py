"""Command line: ``python -m skltransfer <command>``; ``--help`` lists the commands."""

from __future__ import annotations

import argparse
import os
import sys


def _demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    run_demo(args.random_state, deep=not args.no_keras)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m skltransfer``."""
    parser = argparse.ArgumentParser(
        prog="python -m skltransfer", description="Transfer learning with scikit-learn estimators."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="show transfer working on embedded digits (no download)",
        description="Target accuracy with and without transfer on make_digits_shift (embedded data).",
    )
    demo.add_argument("--random-state", type=int, default=0, help="seed of the data and models (default 0)")
    demo.add_argument("--no-keras", action="store_true", help="skip the rows that train a CNN")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    # TensorFlow's C++ start-up notes are noise on a command line; errors still show.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
