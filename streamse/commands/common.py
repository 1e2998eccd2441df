"""What several verbs share: the default model and the runtime flags."""

from __future__ import annotations

import argparse

from streamse.cli_types import add_threads

DEFAULT_MODEL = "crn"


def model_help() -> str:
    from streamse.runtime import shipped_models

    return f"shipped model ({', '.join(shipped_models())}) or path to a .onnx file (default: %(default)s)"


def add_runtime_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=DEFAULT_MODEL, help=model_help())
    add_threads(p)
    p.add_argument("--provider", choices=["cpu", "cuda"], default="cpu")
