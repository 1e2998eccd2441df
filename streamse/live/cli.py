"""`streamse live`: parse, load the model, call the runner."""

from __future__ import annotations

import argparse
import os
import sys

from streamse.cli_types import BLOCKSIZE, SAMPLERATE, SECONDS, add_threads, ranged
from streamse.commands.common import DEFAULT_MODEL, model_help
from streamse.live.runner import DEFAULT_BLOCKSIZE
from streamse.live.virtual_mic import DEFAULT_NAME
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
    """--input-channel N (1 = first) -> the 0-based index the library takes; 'mix' -> None."""
    if text == "mix":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("use a channel number (1 = first) or 'mix'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: channels count from 1")
    return value - 1


def register(subparsers) -> None:
    p = subparsers.add_parser("live", help="enhance a microphone live to a speaker", epilog=EPILOG)
    p.add_argument("--model", default=DEFAULT_MODEL, help=model_help())
    p.add_argument(
        "--list-devices",
        action="store_true",
        help="list audio devices and the virtual-microphone back ends, and exit",
    )
    p.add_argument(
        "--virtual-mic",
        nargs="?",
        const=DEFAULT_NAME,
        default=None,
        metavar="NAME",
        help=f"publish the denoised microphone as a capture device other programs "
        f"can choose (default name: {DEFAULT_NAME!r}); no speaker output unless "
        "--monitor",
    )
    p.add_argument(
        "--backend",
        choices=["auto", "pipewire", "jack"],
        default="auto",
        help="--virtual-mic server: PipeWire when it runs, else JACK (default auto)",
    )
    p.add_argument(
        "--quantum",
        type=ranged(int, 16, 8192),
        default=None,
        metavar="FRAMES",
        help="--virtual-mic on PipeWire: frames per server cycle to request "
        "(e.g. 64, 128, 256; default: the server's); lower = less delay, more CPU",
    )
    p.add_argument(
        "--monitor",
        action="store_true",
        help="--virtual-mic: also play the denoised signal to the first playback port",
    )
    p.add_argument(
        "--strength",
        type=ranged(float, 0.0, 100.0),
        default=None,
        metavar="0..100",
        help="how much noise to remove: 100 all it can (default), 50 at most 25 dB, "
        "0 none; SIGUSR1 / SIGUSR2 raise / lower it by 10 while running "
        "(replaces --atten-lim-db)",
    )
    p.add_argument("-i", "--input", default=None, help="input device: index or part of the name")
    p.add_argument("-o", "--output", default=None, help="output device: index or part of the name")
    p.add_argument(
        "--input-channel",
        type=_channel,
        default="1",
        metavar="N|mix",
        help="capture channel to enhance, 1 = first (default); 'mix' averages all "
        "channels (a mono source on one channel of a stereo device would come out "
        "6 dB down)",
    )
    p.add_argument("--samplerate", type=SAMPLERATE, default=None, help="device rate, Hz (default: device's)")
    p.add_argument(
        "--blocksize",
        type=BLOCKSIZE,
        default=DEFAULT_BLOCKSIZE,
        help="device block, 32..4096 samples (default: %(default)s)",
    )
    p.add_argument(
        "--latency",
        type=_latency,
        default="low",
        help="low | high | seconds (PortAudio); high also adds 2 hops of compute margin",
    )
    add_threads(p)
    p.add_argument("--provider", choices=["cpu", "cuda"], default="cpu")
    p.add_argument(
        "--dry", type=ranged(float, 0.0, 1.0), default=0.0, help="share of dry input in the output, 0..1"
    )
    p.add_argument(
        "--atten-lim-db", type=ranged(float, 0.0), default=None, help="limit noise attenuation (dB)"
    )
    p.add_argument(
        "--fallback", choices=["dry", "silence"], default="dry", help="what plays when the model is late"
    )
    p.add_argument("--record", default=None, metavar="DIR", help="save input.wav and enhanced.wav")
    p.add_argument(
        "--duration",
        type=SECONDS,
        default=None,
        metavar="S",
        help="stop after S seconds (default: until Ctrl-C or SIGTERM, which end cleanly)",
    )
    p.set_defaults(func=cmd_live)


def cmd_live(args: argparse.Namespace) -> int:
    from streamse.live import devices

    if args.list_devices:
        from streamse.live.virtual_mic import backend_report

        try:
            print(devices.list_devices(devices.load_sounddevice()))
        except StreamseError as exc:  # no PortAudio: still say what the back ends can do
            print(f"PortAudio devices: {exc}")
        print(backend_report())
        return 0
    from streamse.live.engine import OutputMix
    from streamse.live.runner import DEGRADED_WARN, LiveOptions, run_live
    from streamse.runtime import load_streamer

    opts = LiveOptions(
        input=args.input,
        output=args.output,
        samplerate=args.samplerate,
        blocksize=args.blocksize,
        latency=args.latency,
        mix=OutputMix(args.fallback, args.dry, args.atten_lim_db),
        record=args.record,
        duration=args.duration,
        input_channel=args.input_channel,
        strength=args.strength,
    )
    device = None
    if args.virtual_mic is not None:
        from streamse.live.virtual_mic import VirtualMicDevice

        device = VirtualMicDevice(args.virtual_mic, args.backend, args.monitor, args.quantum, args.samplerate)
    streamer = load_streamer(args.model, threads=args.threads, provider=args.provider)
    result = run_live(streamer, opts, out=sys.stderr, device=device)
    code = 1 if result["ended"] != "ok" else 3 if result["degraded"] > DEGRADED_WARN else 0
    if not result["closed"] or device is not None:
        # PortAudio still holds a dead stream (its exit handler would block on it forever), or
        # a JACK/PipeWire client is still attached (its data thread must not meet Python's
        # shutdown). Everything the user needs (summary, recording) is written: leave at once;
        # the server drops the client with the process.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
