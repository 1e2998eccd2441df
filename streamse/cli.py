"""`streamse` command line: each verb parses flags and calls one library function.

User errors (StreamseError) print one line and exit 2; nothing else is caught.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .cli_types import BLOCKSIZE, SAMPLERATE, SECONDS, OneLineParser, add_threads, ranged
from .errors import StreamseError

DEFAULT_MODEL = "crn"


def _model_help() -> str:
    from .runtime import shipped_models

    return (f"shipped model ({', '.join(shipped_models())}) or path to a .onnx file "
            "(default: %(default)s)")


def _add_runtime_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=DEFAULT_MODEL, help=_model_help())
    add_threads(p)
    p.add_argument("--provider", choices=["cpu", "cuda"], default="cpu")


def cmd_enhance(args: argparse.Namespace) -> int:
    from .enhance import Skipped, describe_rtf, enhance_files, plan_outputs
    from .runtime import load_streamer

    pairs = plan_outputs([Path(p) for p in args.inputs], Path(args.output), args.overwrite,
                         args.subtype)
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
            print(f"{res.target}  ({res.seconds:.2f} s of audio, {describe_rtf(res.rtf)})")
    if failed:
        print(f"streamse: {failed} of {len(pairs)} files failed", file=sys.stderr)
    return 1 if failed else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    print(run_demo(args.model, Path(args.output), args.threads))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    models = args.model or [DEFAULT_MODEL]
    threads = args.threads or 1
    if args.e2e:
        from streamse.bench.e2e import run_e2e_bench

        report = run_e2e_bench(models[0], args.samplerate, args.blocksize, threads,
                               args.seconds or 10.0)
        print(json.dumps(report) if args.json else "\n".join(f"{k}: {v}" for k, v in report.items()))
        return 0
    if args.make_stationary_set:
        from streamse.bench.stationary_set import build

        entries = build(args.stationary_from, args.make_stationary_set)
        print(f"{args.make_stationary_set}: {len(entries)} pairs (noisy/, clean/, pairs.json)")
        return 0
    if args.train:
        from streamse.bench.train_speed import format_train_speed, run_train_speed

        for m in models:
            r = run_train_speed(m, args.config, (args.threads,) if args.threads else (1, 2),
                                compile_model=args.compile)
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

        r = run_bench_compare(models, args.peers, threads, args.seconds or 10.0,
                              rtf=args.rtf or not args.quality, quality_dirs=args.quality,
                              plots_dir=args.plots, peers_dir=args.peers_dir)
        for line in r["notices"]:
            print(line, file=sys.stderr)
        print(json.dumps(r) if args.json else format_compare(r))
        return 0
    from streamse.bench.rtf import format_report, run_rtf

    reports = [run_rtf(m, threads=args.threads, seconds=args.seconds or 10.0) for m in models]
    for r in reports:
        print(json.dumps(r) if args.json else format_report(r))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    from .errors import require

    require("websockets", "serve")
    from .serve.hub import Hub
    from .serve.server import serve

    def ready(port: int) -> None:
        where = f"Ray Serve, {args.replicas} replicas" if args.ray else "one process"
        print(f"streamse serve: ws://{args.host}:{port}/ ({args.model}, {where}, up to "
              f"{args.max_streams} streams each; GET /health)", file=sys.stderr, flush=True)

    if args.ray:
        require("ray", "serve")
        from .serve import ray_app

        ray_app.run(args.model, args.host, args.port, args.threads, args.max_streams,
                    args.replicas, args.cpus_per_replica, args.ray_address, ready)
        return 0
    asyncio.run(serve(Hub(args.model, args.threads, args.max_streams), args.host, args.port,
                      ready))
    return 0


def cmd_serve_client(args: argparse.Namespace) -> int:
    from .errors import require

    require("websockets", "serve")
    from .serve.client import stream_file

    print(stream_file(args.url, args.input, args.output, args.format))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .errors import require

    require("torch", "train")
    from streamse.export.checkpoint import export_checkpoint

    print(export_checkpoint(Path(args.checkpoint), Path(args.output), args.check_audio, args.tol))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .errors import require

    require("torch", "train")
    from streamse.models.train.run import train

    result = train(args.model, args.config, args.out, args.resume, args.steps,
                   strategy=args.strategy, init=args.init, noisy_dirs=tuple(args.noisy_dir),
                   noise_dirs=tuple(args.noise_dir), teacher=args.teacher,
                   teacher_path=args.teacher_path, teacher_hears=args.teacher_hears,
                   latents=args.latents)
    print(json.dumps(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="streamse", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("enhance", help="enhance audio files or folders")
    p.add_argument("inputs", nargs="+", help="audio files or folders")
    p.add_argument("-o", "--output", required=True, help="output file (one input; the format "
                   "follows its suffix: .wav .flac .ogg .aiff, .mp3 where libsndfile has it) "
                   "or folder")
    p.add_argument("--overwrite", action="store_true", help="replace outputs that exist (an "
                   "output is never allowed to be one of the inputs)")
    p.add_argument("--subtype", choices=["PCM_16", "PCM_24", "FLOAT"], default=None,
                   help="sample format of the output (default: the input's, where the format "
                   "holds it, else PCM_16)")
    _add_runtime_args(p)
    p.set_defaults(func=cmd_enhance)

    p = sub.add_parser("demo", help="the bundled noisy sample through the streaming engine")
    p.add_argument("-o", "--output", default="streamse-demo-enhanced.wav")
    _add_runtime_args(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("bench", help="latency and real-time factor")
    p.add_argument("--rtf", action="store_true", help="per-hop timing and RTF (the default)")
    p.add_argument("--e2e", action="store_true", help="end-to-end delay through the sound device")
    p.add_argument("--serve", action="store_true", help="real-time calls one `streamse serve` "
                   "process holds over loopback (with --streams MAX; needs streamse[serve])")
    p.add_argument("--train", action="store_true", help="training throughput through the real "
                   "trainer: data vs model step, audio seconds per wall second, 1 and 2 threads "
                   "(or --threads N); needs streamse[train] and the config's data")
    p.add_argument("--config", default=None, help="TOML training config for --train")
    p.add_argument("--make-stationary-set", metavar="OUT", default=None,
                   help="build the stationary-noise dev set (white, pink, brown, hum at -5..15 "
                   "dB) from the clean files of --stationary-from into OUT, then exit")
    p.add_argument("--stationary-from", metavar="DIR", default="../shared/data/dev/clean",
                   help="clean speech for --make-stationary-set (default: %(default)s)")
    p.add_argument("--compile", action="store_true", help="--train with torch.compile")
    p.add_argument("--model", action="append", help="model name(s); repeat for several")
    add_threads(p, None, "rows for 1 and 2 threads with --rtf and --train, 1 otherwise")
    p.add_argument("--seconds", type=SECONDS, default=None,
                   help="audio seconds per measurement (default 10; 3 per probe for --streams)")
    p.add_argument("--peers", action="store_true", help="run the peer denoisers (RNNoise, "
                   "DeepFilterNet3, NSNet2: pip install 'streamse[peers]'; DTLN, GTCRN: their "
                   "ONNX files from --peers-dir) next to our models")
    p.add_argument("--peers-dir", metavar="DIR", default=None,
                   help="folder with dtln_model_1.onnx, dtln_model_2.onnx, gtcrn_simple.onnx "
                   "(default: $STREAMSE_PEERS_DIR, else ../shared/peers if it exists)")
    p.add_argument("--quality", metavar="DIR", action="append", help="score every system on "
                   "DIR/noisy vs DIR/clean (PESQ, STOI, SI-SDR, CSIG/CBAK/COVL, DNSMOS if "
                   "installed); repeat for several sets, one table each")
    p.add_argument("--streams", type=ranged(int, 1), nargs="?", const=512, metavar="MAX",
                   help="largest number of concurrent streams that stays real time "
                   "(searched up to MAX, default 512)")
    p.add_argument("--provider", choices=["cpu", "cuda"], default="cpu",
                   help="execution provider for --streams")
    p.add_argument("--plots", metavar="DIR", help="with --peers/--quality: write PNG plots")
    p.add_argument("--samplerate", type=SAMPLERATE, default=48000, help="device rate for --e2e")
    p.add_argument("--blocksize", type=BLOCKSIZE, default=480, help="device block for --e2e")
    p.add_argument("--json", action="store_true", help="one JSON object per model")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("serve", help="denoise many live streams over WebSockets (docs/serve.md)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=_model_help())
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=ranged(int, 0, 65535), default=8765)
    p.add_argument("--max-streams", type=ranged(int, 1), default=64, help="per process/replica")
    p.add_argument("--ray", action="store_true", help="run as a Ray Serve deployment")
    p.add_argument("--replicas", type=ranged(int, 1), default=2, help="--ray: replicas")
    p.add_argument("--cpus-per-replica", type=ranged(float, 0.0, None, low_open=True),
                   default=1.0, help="--ray: CPUs Ray reserves per replica")
    p.add_argument("--ray-address", default=None, help="--ray: join this cluster (default: "
                   "start a local Ray instance)")
    add_threads(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("serve-client", help="stream a file through a `streamse serve` server")
    p.add_argument("input", help="audio file (any rate; channels are mixed)")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--url", default="ws://127.0.0.1:8765/")
    p.add_argument("--format", choices=["s16", "f32"], default="f32", help="PCM on the wire")
    p.set_defaults(func=cmd_serve_client)

    p = sub.add_parser("export", help="checkpoint -> checked ONNX hop graph")
    p.add_argument("--model", help="(informational) model name; the checkpoint names its model")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("-o", "--output", required=True, help="output .onnx path")
    p.add_argument("--check-audio", default=None, help="utterance for the ONNX-vs-PyTorch check "
                   "(default: the bundled demo sample)")
    p.add_argument("--tol", type=ranged(float, 0.0, None, low_open=True), default=1e-4,
                   help="max error relative to peak")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("train", help="train a model (needs streamse[train])")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help="architecture (default: %(default)s); an unknown name lists them all and "
                        "which ship; the *-paper ones are the published, GPU-sized networks")
    p.add_argument("--config", default=None, help="TOML file: [train] [data] [loss] [model]")
    p.add_argument("--resume", default=None, help="checkpoint to continue from")
    p.add_argument("--out", default="runs/train", help="checkpoint and log folder")
    p.add_argument("--steps", type=ranged(int, 1), default=None, help="override [train] steps")
    p.add_argument("--strategy", choices=["supervised", "cyclegan", "iddp", "ts-stage1",
                                          "ts-stage2"], default="supervised",
                   help="supervised: paired mixtures; cyclegan: unpaired clean and noisy speech; "
                   "iddp: noisy speech only (see docs/unsupervised.md); ts-stage1/ts-stage2: "
                   "CNUNet-TB-TS two-stage training (docs/cnunet-tb-ts.md)")
    p.add_argument("--init", default=None, metavar="CKPT", help="start from this checkpoint's "
                   "model weights (adaptation of a trained model; slim checkpoints are fine)")
    p.add_argument("--noisy-dir", action="append", default=[], metavar="DIR",
                   help="cyclegan/iddp: folder of your noisy recordings (repeatable; default: "
                   "mixtures built from half of [data] clean_dirs)")
    p.add_argument("--noise-dir", action="append", default=[], metavar="DIR",
                   help="iddp: noise clips added in the second pass (default: [data] noise_dirs)")
    p.add_argument("--teacher", choices=["wavlm", "resemblyzer"], default=None,
                   help="ts-stage1: speech teacher (wavlm needs --teacher-path)")
    p.add_argument("--teacher-path", default=None, metavar="DIR",
                   help="ts-stage1: local Hugging Face directory of a WavLM model")
    p.add_argument("--teacher-hears", choices=["clean", "noisy"], default=None,
                   help="ts-stage1: which signal the teacher embeds (default clean, as the paper)")
    p.add_argument("--latents", choices=["store", "online"], default=None,
                   help="ts-stage2: read the latents stage 1 stored, or compute them on the fly "
                   "with the frozen stage-1 model and its teacher")
    p.set_defaults(func=cmd_train)

    _register_optional(sub)
    return parser


def _register_optional(sub) -> None:
    """Verbs whose modules live in optional parts of the package."""
    for module in ("streamse.live.cli", "streamse.bench.eval_cli"):
        try:
            mod = __import__(module, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a real missing dependency inside: report it
                raise
            continue
        mod.register(sub)


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
