"""`streamse` command line: each verb parses flags and calls one library function.

Every verb lives in a module with a `register(subparsers)` function, listed in VERBS in the
order `--help` shows them. User errors (StreamseError) print one line and exit 2; nothing else
is caught.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .cli_types import OneLineParser
from .errors import StreamseError

VERBS = (
    "streamse.commands.files",  # enhance, demo
    "streamse.commands.bench",
    "streamse.live.cli",  # live
    "streamse.bench.eval_cli",  # eval
    "streamse.commands.serve",  # serve, serve-client
    "streamse.commands.training",  # export, train
)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="streamse", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for module in VERBS:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except StreamseError as exc:
        print(f"streamse: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("streamse: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
