"""`streamse eval`: score a model on (noisy, clean) pairs through the streaming ONNX path.

Pairs come from a folder with `noisy/` and `clean/` subfolders (files matched by name) or from
a pairs file: JSON list of [noisy, clean] paths, or TSV lines `noisy<TAB>clean`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from streamse.cli_types import add_threads, ranged
from streamse.commands.common import DEFAULT_MODEL, model_help
from streamse.errors import StreamseError
from streamse.quality.pairs import folder_pairs, read_pairs_file


def run_eval(
    model: str,
    pairs: list[tuple[str, str]],
    threads: int = 1,
    dnsmos: bool = False,
    spectrograms: Path | None = None,
    n_plots: int = 3,
):
    """Evaluate `model` on `pairs`; returns the EvalReport (and writes PNGs if asked)."""
    from streamse.runtime import load_streamer

    from .evaluate import evaluate_pairs, save_spectrograms

    if not pairs:
        raise StreamseError("no (noisy, clean) pairs to evaluate")
    streamer = load_streamer(model, threads=threads)
    sr = streamer.sample_rate
    outputs: list[np.ndarray] = []

    def enhance(x: np.ndarray, rate: int) -> np.ndarray:
        y = streamer.process(x.astype(np.float32))
        if len(outputs) < n_plots:
            outputs.append(y)
        return y

    report = evaluate_pairs(pairs, enhance, sr=sr, with_dnsmos=dnsmos)
    if spectrograms is not None:
        from .evaluate import read_pair

        spectrograms.mkdir(parents=True, exist_ok=True)
        for (noisy, clean), y in zip(pairs, outputs):
            _, x, s = read_pair(noisy, clean, sr)
            n = min(x.size, y.size)
            save_spectrograms(x[:n], y[:n], s[:n], sr, str(spectrograms / (Path(noisy).stem + ".png")))
    return report


def _have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import format_table, to_json

    if (args.folder is None) == (args.pairs is None):
        raise StreamseError("give either a folder with noisy/ and clean/ or --pairs FILE")
    pairs = folder_pairs(Path(args.folder)) if args.folder else read_pairs_file(Path(args.pairs))
    if args.max_files:
        pairs = pairs[: args.max_files]
    dnsmos = args.dnsmos and _have("speechmos")
    report = run_eval(
        args.model, pairs, args.threads, dnsmos, Path(args.spectrograms) if args.spectrograms else None
    )
    print(json.dumps({"model": args.model, **to_json(report)}) if args.json else format_table(report))
    return 0


def register(sub) -> None:
    p = sub.add_parser("eval", help="PESQ/STOI/SI-SDR/composite (and DNSMOS) on noisy/clean pairs")
    p.add_argument("folder", nargs="?", help="folder with noisy/ and clean/ subfolders")
    p.add_argument("--pairs", help="JSON list or TSV of (noisy, clean) paths")
    p.add_argument("--model", default=DEFAULT_MODEL, help=model_help())
    add_threads(p)
    p.add_argument(
        "--no-dnsmos",
        dest="dnsmos",
        action="store_false",
        help="skip DNSMOS SIG/BAK/OVRL (on by default when speechmos is installed)",
    )
    p.add_argument("--max-files", type=ranged(int, 0), default=0, help="first N pairs only (0 = all)")
    p.add_argument("--spectrograms", help="folder for noisy/enhanced/clean PNGs of a few files")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)
