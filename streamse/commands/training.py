"""`streamse train` and `streamse export`: the offline trainer and the exporter."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from streamse.cli_types import ranged

from .common import DEFAULT_MODEL


def _setting(text: str) -> tuple[str, object]:
    """FIELD=VALUE; VALUE is read as JSON (numbers, true/false, lists), else kept as text."""
    import json

    field, sep, value = text.partition("=")
    if not sep or not field:
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE, got {text!r}")
    try:
        return field, json.loads(value)
    except json.JSONDecodeError:
        return field, value


def cmd_export(args: argparse.Namespace) -> int:
    from streamse.errors import require

    require("torch", "train")
    from streamse.export.checkpoint import export_checkpoint

    print(
        export_checkpoint(
            Path(args.checkpoint),
            Path(args.output),
            args.check_audio,
            args.tol,
            dict(args.set),
            [Path(p) for p in args.average_with],
            name=args.model,
        )
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from streamse.errors import require

    require("torch", "train")
    from streamse.models.train.run import train

    result = train(
        args.model,
        args.config,
        args.out,
        args.resume,
        args.steps,
        strategy=args.strategy,
        init=args.init,
        noisy_dirs=tuple(args.noisy_dir),
        noise_dirs=tuple(args.noise_dir),
        teacher=args.teacher,
        teacher_path=args.teacher_path,
        teacher_hears=args.teacher_hears,
        latents=args.latents,
    )
    print(json.dumps(result))
    return 0


def register(sub) -> None:
    p = sub.add_parser("export", help="checkpoint -> checked ONNX hop graph")
    p.add_argument(
        "--model",
        help="ship under this registered name (same family as the checkpoint's model; default: the "
        "name the checkpoint was trained as), e.g. a crn trained with a 32 ms window as crn-32ms",
    )
    p.add_argument("--checkpoint", required=True)
    p.add_argument("-o", "--output", required=True, help="output .onnx path")
    p.add_argument(
        "--check-audio",
        default=None,
        help="utterance for the ONNX-vs-PyTorch check (default: the bundled demo sample)",
    )
    p.add_argument(
        "--tol", type=ranged(float, 0.0, None, low_open=True), default=1e-4, help="max error relative to peak"
    )
    p.add_argument(
        "--set",
        type=_setting,
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change a model config field first, e.g. --set mask_power=0.8 (an "
        "inference-time setting; repeatable; the exported config records it)",
    )
    p.add_argument(
        "--average-with",
        action="append",
        default=[],
        metavar="CHECKPOINT",
        help="average the weights with this checkpoint's (same model and config, e.g. the "
        "weights a fine-tune started from; repeatable: the mean of all)",
    )
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("train", help="train a model (needs streamse[train])")
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="architecture (default: %(default)s); an unknown name lists them all and "
        "which ship; the *-paper ones are the published, GPU-sized networks",
    )
    p.add_argument("--config", default=None, help="TOML file: [train] [data] [loss] [model]")
    p.add_argument("--resume", default=None, help="checkpoint to continue from")
    p.add_argument("--out", default="runs/train", help="checkpoint and log folder")
    p.add_argument("--steps", type=ranged(int, 1), default=None, help="override [train] steps")
    p.add_argument(
        "--strategy",
        default="supervised",
        metavar="NAME",
        help="a name of the strategy table (an unknown NAME lists them): "
        "supervised: paired mixtures; cyclegan: unpaired clean and noisy speech; "
        "iddp: noisy speech only (see docs/unsupervised.md); ts-stage1/ts-stage2: "
        "CNUNet-TB-TS two-stage training (docs/cnunet-tb-ts.md)",
    )
    p.add_argument(
        "--init",
        default=None,
        metavar="CKPT",
        help="start from this checkpoint's "
        "model weights (adaptation of a trained model; slim checkpoints and the shipped .pt "
        "files are fine: their export settings such as mask_power are replaced by the run's)",
    )
    p.add_argument(
        "--noisy-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="cyclegan/iddp: folder of your noisy recordings (repeatable; default: "
        "mixtures built from half of [data] clean_dirs)",
    )
    p.add_argument(
        "--noise-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="iddp: noise clips added in the second pass (default: [data] noise_dirs)",
    )
    p.add_argument(
        "--teacher",
        default=None,
        metavar="NAME",
        help="ts-stage1: speech teacher from the teacher table, resemblyzer or wavlm "
        "(wavlm needs --teacher-path; an unknown NAME lists them)",
    )
    p.add_argument(
        "--teacher-path",
        default=None,
        metavar="DIR",
        help="ts-stage1: local Hugging Face directory of a WavLM model",
    )
    p.add_argument(
        "--teacher-hears",
        choices=["clean", "noisy"],
        default=None,
        help="ts-stage1: which signal the teacher embeds (default clean, as the paper)",
    )
    p.add_argument(
        "--latents",
        choices=["store", "online"],
        default=None,
        help="ts-stage2: read the latents stage 1 stored, or compute them on the fly "
        "with the frozen stage-1 model and its teacher",
    )
    p.set_defaults(func=cmd_train)
