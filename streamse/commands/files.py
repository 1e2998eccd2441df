"""`streamse enhance` and `streamse demo`: files through the streaming engine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


from .common import add_runtime_args


def cmd_enhance(args: argparse.Namespace) -> int:
    from streamse.enhance import Skipped, enhance_files, plan_outputs
    from streamse.runtime import load_streamer

    pairs = plan_outputs([Path(p) for p in args.inputs], Path(args.output), args.overwrite, args.subtype)
    streamer = load_streamer(args.model, args.threads, args.provider)
    failed = 0
    for res in enhance_files(streamer, pairs, args.subtype):
        if isinstance(res, Skipped):
            print(f"streamse: skipped: {res.reason}", file=sys.stderr)
            failed += 1
            continue
        for warning in res.warnings():
            print(f"streamse: warning: {res.source}: {warning}", file=sys.stderr)
        if len(pairs) == 1:
            print(f"{res.target}  ({res.seconds:.2f} s of audio, {res.describe_speed()})")
    if failed:
        print(f"streamse: {failed} of {len(pairs)} files failed", file=sys.stderr)
    return 1 if failed else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from streamse.demo import run_demo

    print(run_demo(args.model, Path(args.output), args.threads))
    return 0


def register(sub) -> None:
    p = sub.add_parser("enhance", help="enhance audio files or folders")
    p.add_argument("inputs", nargs="+", help="audio files or folders")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="output file (one input; the format "
        "follows its suffix: .wav .flac .ogg .aiff, .mp3 where libsndfile has it) "
        "or folder",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace outputs that exist (an output is never allowed to be one of the inputs)",
    )
    p.add_argument(
        "--subtype",
        choices=["PCM_16", "PCM_24", "FLOAT"],
        default=None,
        help="sample format of the output (default: the input's, where the format holds it, else PCM_16)",
    )
    add_runtime_args(p)
    p.set_defaults(func=cmd_enhance)

    p = sub.add_parser("demo", help="the bundled noisy sample through the streaming engine")
    p.add_argument("-o", "--output", default="streamse-demo-enhanced.wav")
    add_runtime_args(p)
    p.set_defaults(func=cmd_demo)
