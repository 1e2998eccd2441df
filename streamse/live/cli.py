"""`streamse live`: parse, load the model, call the runner."""

from __future__ import annotations

import argparse
import sys

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


def register(subparsers) -> None:
    p = subparsers.add_parser("live", help="enhance a microphone live to a speaker")
    p.add_argument("--model", default="crn", help="shipped model name or .onnx path")
    p.add_argument("--list-devices", action="store_true", help="list audio devices and exit")
    p.add_argument("-i", "--input", default=None, help="input device: index or part of the name")
    p.add_argument("-o", "--output", default=None, help="output device: index or part of the name")
    p.add_argument("--samplerate", type=int, default=None, help="device rate, Hz (default: device's)")
    p.add_argument("--blocksize", type=int, default=480, help="device block, 32..4096 samples")
    p.add_argument("--latency", type=_latency, default="low",
                   help="low | high | seconds (PortAudio); high also adds 2 hops of compute margin")
    p.add_argument("-t", "--threads", type=int, default=1, help="inference threads")
    p.add_argument("--provider", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--dry", type=float, default=0.0, help="share of dry input in the output, 0..1")
    p.add_argument("--atten-lim-db", type=float, default=None, help="limit noise attenuation (dB)")
    p.add_argument("--fallback", choices=["dry", "silence"], default="dry",
                   help="what plays when the model is late")
    p.add_argument("--record", default=None, metavar="DIR", help="save input.wav and enhanced.wav")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="stop after S seconds (default: until Ctrl-C or SIGTERM, which end "
                   "cleanly)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from streamse.live import devices

    if args.list_devices:
        print(devices.list_devices(devices.load_sounddevice()))
        return 0
    if not 0.0 <= args.dry <= 1.0:
        raise StreamseError(f"--dry {args.dry}: use 0..1")
    if args.atten_lim_db is not None and args.atten_lim_db < 0:
        raise StreamseError("--atten-lim-db must be >= 0")
    from streamse.live.runner import LiveOptions, run_live
    from streamse.runtime import load_streamer

    opts = LiveOptions(input=args.input, output=args.output, samplerate=args.samplerate,
                       blocksize=args.blocksize, latency=args.latency, dry=args.dry,
                       atten_lim_db=args.atten_lim_db, fallback=args.fallback,
                       record=args.record, duration=args.duration)
    streamer = load_streamer(args.model, threads=args.threads, provider=args.provider)
    run_live(streamer, opts, out=sys.stderr)
    return 0
