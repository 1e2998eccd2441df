"""`streamse live`: parse, load the model, call the runner."""

from __future__ import annotations

import argparse
import os
import sys

from streamse.cli_types import BLOCKSIZE, SAMPLERATE, SECONDS, THREADS, ranged
from streamse.errors import StreamseError


def _latency(text: str) -> str | float:
    if text in ("low", "high"):
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("use low, high or seconds (e.g. 0.02)") from None
    if not 0 <= value <= 2:
        raise argparse.ArgumentTypeError("latency in seconds must be within 0..2")
    return value


EPILOG = """exit status: 0 ran and ended normally; 1 the audio device or sound server went away
(or the model failed) - the summary and the --record files are written first; 2 a user error;
3 more than 10 % of the output was the fallback because the model was too slow."""


def _channel(text: str) -> int | None:
    if text == "mix":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("use a channel number (1 = first) or 'mix'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: channels count from 1")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser("live", help="enhance a microphone live to a speaker",
                              epilog=EPILOG)
    p.add_argument("--model", default="crn", help="shipped model name or .onnx path")
    p.add_argument("--list-devices", action="store_true", help="list audio devices and exit")
    p.add_argument("-i", "--input", default=None, help="input device: index or part of the name")
    p.add_argument("-o", "--output", default=None, help="output device: index or part of the name")
    p.add_argument("--input-channel", type=_channel, default=1, metavar="N|mix",
                   help="capture channel to enhance, 1 = first (default); 'mix' averages all "
                   "channels (a mono source on one channel of a stereo device would come out "
                   "6 dB down)")
    p.add_argument("--samplerate", type=SAMPLERATE, default=None,
                   help="device rate, Hz (default: device's)")
    p.add_argument("--blocksize", type=BLOCKSIZE, default=480, help="device block, 32..4096 samples")
    p.add_argument("--latency", type=_latency, default="low",
                   help="low | high | seconds (PortAudio); high also adds 2 hops of compute margin")
    p.add_argument("-t", "--threads", type=THREADS, default=1, help="inference threads")
    p.add_argument("--provider", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--dry", type=ranged(float, 0.0, 1.0), default=0.0,
                   help="share of dry input in the output, 0..1")
    p.add_argument("--atten-lim-db", type=ranged(float, 0.0), default=None,
                   help="limit noise attenuation (dB)")
    p.add_argument("--fallback", choices=["dry", "silence"], default="dry",
                   help="what plays when the model is late")
    p.add_argument("--record", default=None, metavar="DIR", help="save input.wav and enhanced.wav")
    p.add_argument("--duration", type=SECONDS, default=None, metavar="S",
                   help="stop after S seconds (default: until Ctrl-C or SIGTERM, which end "
                   "cleanly)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from streamse.live import devices

    if args.list_devices:
        print(devices.list_devices(devices.load_sounddevice()))
        return 0
    from streamse.live.runner import DEGRADED_WARN, LiveOptions, run_live
    from streamse.runtime import load_streamer

    opts = LiveOptions(input=args.input, output=args.output, samplerate=args.samplerate,
                       blocksize=args.blocksize, latency=args.latency, dry=args.dry,
                       atten_lim_db=args.atten_lim_db, fallback=args.fallback,
                       record=args.record, duration=args.duration,
                       input_channel=args.input_channel)
    streamer = load_streamer(args.model, threads=args.threads, provider=args.provider)
    result = run_live(streamer, opts, out=sys.stderr)
    code = 1 if result["ended"] != "ok" else 3 if result["degraded"] > DEGRADED_WARN else 0
    if not result["closed"]:
        # PortAudio still holds the dead stream; its exit handler would block on it forever.
        # Everything the user needs (summary, recording) is written: leave at once.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
