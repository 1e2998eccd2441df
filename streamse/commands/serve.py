"""`streamse serve` and `streamse serve-client`: live streams over WebSockets."""

from __future__ import annotations

import argparse
import sys

from streamse.cli_types import add_threads, ranged

from .common import DEFAULT_MODEL, model_help


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    from streamse.errors import require

    require("websockets", "serve")
    from streamse.serve.hub import Hub
    from streamse.serve.server import serve

    def ready(port: int) -> None:
        where = f"Ray Serve, {args.replicas} replicas" if args.ray else "one process"
        print(
            f"streamse serve: ws://{args.host}:{port}/ ({args.model}, {where}, up to "
            f"{args.max_streams} streams each; GET /health)",
            file=sys.stderr,
            flush=True,
        )

    if args.ray:
        require("ray", "serve")
        from streamse.serve import ray_app

        ray_app.serve_ray(
            args.model,
            args.host,
            args.port,
            args.threads,
            args.max_streams,
            args.replicas,
            args.cpus_per_replica,
            args.ray_address,
            ready,
        )
        return 0
    asyncio.run(serve(Hub(args.model, args.threads, args.max_streams), args.host, args.port, ready))
    return 0


def cmd_serve_client(args: argparse.Namespace) -> int:
    from streamse.errors import require

    require("websockets", "serve")
    from streamse.serve.client import stream_file

    print(stream_file(args.url, args.input, args.output, args.format))
    return 0


def register(sub) -> None:
    p = sub.add_parser("serve", help="denoise many live streams over WebSockets (docs/serve.md)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=model_help())
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=ranged(int, 0, 65535), default=8765)
    p.add_argument("--max-streams", type=ranged(int, 1), default=64, help="per process/replica")
    p.add_argument("--ray", action="store_true", help="run as a Ray Serve deployment")
    p.add_argument("--replicas", type=ranged(int, 1), default=2, help="--ray: replicas")
    p.add_argument(
        "--cpus-per-replica",
        type=ranged(float, 0.0, None, low_open=True),
        default=1.0,
        help="--ray: CPUs Ray reserves per replica",
    )
    p.add_argument(
        "--ray-address", default=None, help="--ray: join this cluster (default: start a local Ray instance)"
    )
    add_threads(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("serve-client", help="stream a file through a `streamse serve` server")
    p.add_argument("input", help="audio file (any rate; channels are mixed)")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--url", default="ws://127.0.0.1:8765/")
    p.add_argument("--format", choices=["s16", "f32"], default="f32", help="PCM on the wire")
    p.set_defaults(func=cmd_serve_client)
