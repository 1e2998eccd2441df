"""`streamse bench`: speed, quality against peers, streams, training throughput."""

from __future__ import annotations

import argparse
import json
import sys

from streamse.cli_types import BLOCKSIZE, SAMPLERATE, SECONDS, add_threads, ranged

from streamse.live.runner import DEFAULT_BLOCKSIZE

from .common import DEFAULT_MODEL


def cmd_bench(args: argparse.Namespace) -> int:
    models = args.model or [DEFAULT_MODEL]
    threads = args.threads or 1
    if args.e2e:
        from streamse.bench.e2e import run_e2e_bench

        report = run_e2e_bench(models[0], args.samplerate, args.blocksize, threads, args.seconds or 10.0)
        print(json.dumps(report) if args.json else "\n".join(f"{k}: {v}" for k, v in report.items()))
        return 0
    if args.make_stationary_set:
        from streamse.bench.stationary_set import build

        entries = build(args.stationary_from, args.make_stationary_set)
        print(f"{args.make_stationary_set}: {len(entries)} pairs (noisy/, clean/, pairs.json)")
        return 0
    if args.make_mixed_set:
        from streamse.bench.mixed_set import build as build_mixed

        entries = build_mixed(args.mixed_speech, args.mixed_noise, args.make_mixed_set)
        print(f"{args.make_mixed_set}: {len(entries)} pairs (noisy/, clean/, pairs.json)")
        return 0
    if args.train:
        from streamse.bench.train_speed import format_train_speed, run_train_speed

        for m in models:
            r = run_train_speed(
                m,
                args.config,
                (args.threads,) if args.threads else (1, 2),
                compile_model=args.compile,
                autocast=args.autocast,
            )
            print(json.dumps(r) if args.json else format_train_speed(r))
        return 0
    if args.serve:
        from streamse.bench.serve_load import format_serve_bench, run_serve_bench

        r = run_serve_bench(models[0], args.streams or 64, args.seconds or 5.0, threads)
        print(json.dumps(r) if args.json else format_serve_bench(r))
        return 0
    if args.streams:
        from streamse.bench.streams import format_streams, run_streams

        for m in models:
            r = run_streams(m, threads, args.provider, args.seconds or 3.0, args.streams)
            print(json.dumps(r) if args.json else format_streams(r))
        return 0
    if args.peers or args.quality:
        from streamse.bench.compare import format_compare, run_bench_compare

        r = run_bench_compare(
            models,
            args.peers,
            threads,
            args.seconds or 10.0,
            rtf=args.rtf or not args.quality,
            quality_dirs=args.quality,
            plots_dir=args.plots,
            peers_dir=args.peers_dir,
        )
        for line in r["notices"]:
            print(line, file=sys.stderr)
        print(json.dumps(r) if args.json else format_compare(r))
        return 0
    from streamse.bench.rtf import format_report, run_rtf

    reports = [run_rtf(m, threads=args.threads, seconds=args.seconds or 10.0) for m in models]
    for r in reports:
        print(json.dumps(r) if args.json else format_report(r))
    return 0


def register(sub) -> None:
    p = sub.add_parser("bench", help="latency and real-time factor")
    p.add_argument("--rtf", action="store_true", help="per-hop timing and RTF (the default)")
    p.add_argument("--e2e", action="store_true", help="end-to-end delay through the sound device")
    p.add_argument(
        "--serve",
        action="store_true",
        help="real-time calls one `streamse serve` "
        "process holds over loopback (with --streams MAX; needs streamse[serve])",
    )
    p.add_argument(
        "--train",
        action="store_true",
        help="training throughput through the real "
        "trainer: data vs model step, audio seconds per wall second, 1 and 2 threads "
        "(or --threads N); needs streamse[train] and the config's data",
    )
    p.add_argument("--config", default=None, help="TOML training config for --train")
    p.add_argument(
        "--make-stationary-set",
        metavar="OUT",
        default=None,
        help="build the stationary-noise dev set (white, pink, brown, hum at -5..15 "
        "dB) from the clean files of --stationary-from into OUT, then exit",
    )
    p.add_argument(
        "--stationary-from",
        metavar="DIR",
        default="../shared/data/dev/clean",
        help="clean speech for --make-stationary-set (default: %(default)s)",
    )
    p.add_argument(
        "--make-mixed-set",
        metavar="OUT",
        default=None,
        help="build a set like dev/mixed (26 speech files x 2 real noises, -5..15 dB) from "
        "--mixed-speech and --mixed-noise into OUT, then exit; from training folders it "
        "measures how well a model fits the data it was trained on",
    )
    p.add_argument(
        "--mixed-speech",
        metavar="DIR",
        default="../shared/data/dev/clean",
        help="speech for --make-mixed-set, searched recursively (default: %(default)s)",
    )
    p.add_argument(
        "--mixed-noise",
        metavar="DIR",
        default="../shared/data/dev/noise",
        help="noise for --make-mixed-set, searched recursively (default: %(default)s)",
    )
    p.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="--train with (or, --no-compile, without) torch.compile (default: the config's [train] compile)",
    )
    p.add_argument(
        "--autocast",
        choices=("fp32", "bf16"),
        help="--train with this forward precision (default: the config's [train] autocast)",
    )
    p.add_argument("--model", action="append", help="model name(s); repeat for several")
    add_threads(p, None, "rows for 1 and 2 threads with --rtf and --train, 1 otherwise")
    p.add_argument(
        "--seconds",
        type=SECONDS,
        default=None,
        help="audio seconds per measurement (default 10; 3 per probe for --streams)",
    )
    p.add_argument(
        "--peers",
        action="store_true",
        help="run the peer denoisers (RNNoise, "
        "DeepFilterNet3, NSNet2: pip install 'streamse[peers]'; DTLN, GTCRN: their "
        "ONNX files from --peers-dir) next to our models",
    )
    p.add_argument(
        "--peers-dir",
        metavar="DIR",
        default=None,
        help="folder with dtln_model_1.onnx, dtln_model_2.onnx, gtcrn_simple.onnx "
        "(default: $STREAMSE_PEERS_DIR, else ../shared/peers if it exists)",
    )
    p.add_argument(
        "--quality",
        metavar="DIR",
        action="append",
        help="score every system on "
        "DIR/noisy vs DIR/clean (PESQ, STOI, SI-SDR, CSIG/CBAK/COVL, DNSMOS if "
        "installed); repeat for several sets, one table each",
    )
    p.add_argument(
        "--streams",
        type=ranged(int, 1),
        nargs="?",
        const=512,
        metavar="MAX",
        help="largest number of concurrent streams that stays real time (searched up to MAX, default 512)",
    )
    p.add_argument(
        "--provider", choices=["cpu", "cuda"], default="cpu", help="execution provider for --streams"
    )
    p.add_argument("--plots", metavar="DIR", help="with --peers/--quality: write PNG plots")
    p.add_argument("--samplerate", type=SAMPLERATE, default=48000, help="device rate for --e2e")
    p.add_argument(
        "--blocksize",
        type=BLOCKSIZE,
        default=DEFAULT_BLOCKSIZE,
        help="device block for --e2e (default: %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per model")
    p.set_defaults(func=cmd_bench)
