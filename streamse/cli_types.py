"""argparse value types that reject impossible numbers with one clear line, and the parser
that prints parse errors as one line (exit status 2), like every other user error."""

from __future__ import annotations

import argparse


class OneLineParser(argparse.ArgumentParser):
    """Parse errors as a single line `streamse VERB: error: ... (see --help)`, exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def ranged(kind: type, low: float | None = None, high: float | None = None, low_open: bool = False):
    """A type for argparse: `kind` (int or float) within [low, high] ((low, high] if
    low_open), naming the allowed range when a value is outside it."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        too_low = low is not None and (value <= low if low_open else value < low)
        if too_low or (high is not None and value > high):
            lo = "" if low is None else (f"> {low}" if low_open else f">= {low}")
            hi = "" if high is None else f"<= {high}"
            raise argparse.ArgumentTypeError(
                f"{text} is out of range (must be {' and '.join(x for x in (lo, hi) if x)})"
            )
        return value

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


THREADS = ranged(int, 1, 256)
SAMPLERATE = ranged(int, 8000, 384000)
BLOCKSIZE = ranged(int, 32, 4096)
SECONDS = ranged(float, 0.0, None, low_open=True)


def add_threads(p, default: int | None = 1, when_unset: str = "") -> None:
    """`-t/--threads`, with one meaning in every verb: the compute threads the model runs on
    (onnxruntime intra-op threads; torch threads when training)."""
    p.add_argument(
        "-t",
        "--threads",
        type=THREADS,
        default=default,
        help="compute threads the model runs on (onnxruntime intra-op; torch when "
        "training); default: " + (when_unset or "%(default)s"),
    )
