"""The wire protocol of `streamse serve` (docs/serve.md), as functions on bytes and text.

1. client -> server, text: {"sample_rate": 8000..48000, "format": "s16" | "f32"}
2. server -> client, text: {"type": "ready", "delay_samples": D, ...} or {"type": "error", ...}
3. client -> server, binary: mono PCM in the agreed format, little-endian, any length
   server -> client, binary: the enhanced stream, same rate and format, in order; output
   sample j reconstructs input sample j - D (the same delay `streamse enhance` removes)
4. client -> server, text: {"type": "end"}; the server sends what is left (the stream padded
   with silence so that input sample n_in - 1 has come back), then text
   {"type": "done", "samples_in": n_in, "delay_samples": D} and closes.
Any protocol breach gets {"type": "error", "message": ...} and a closed connection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

FORMATS = {"s16": np.dtype("<i2"), "f32": np.dtype("<f4")}
RATES = (8000, 96000)  # accepted client sample rates, inclusive


class ProtocolError(Exception):
    """A client broke the protocol; the message is sent to it before closing."""


@dataclass(frozen=True)
class Hello:
    sample_rate: int
    format: str


def parse_hello(message) -> Hello:
    if not isinstance(message, str):
        raise ProtocolError(
            'the first message must be text: {"sample_rate": 16000, "format": "s16" or "f32"}'
        )
    try:
        d = json.loads(message)
        rate, fmt = int(d["sample_rate"]), str(d.get("format", "s16"))
    except (ValueError, KeyError, TypeError):
        raise ProtocolError("the first message must be JSON with sample_rate and format") from None
    if not RATES[0] <= rate <= RATES[1]:
        raise ProtocolError(f"sample_rate {rate}: use {RATES[0]}..{RATES[1]} Hz")
    if fmt not in FORMATS:
        raise ProtocolError(f"format {fmt!r}: use one of {sorted(FORMATS)}")
    return Hello(rate, fmt)


def decode(data: bytes, fmt: str) -> np.ndarray:
    """PCM bytes -> float32 samples in [-1, 1]; raises ProtocolError on a ragged size or
    non-finite samples."""
    width = FORMATS[fmt].itemsize
    if len(data) % width:
        raise ProtocolError(f"{len(data)} bytes is not a whole number of {fmt} samples")
    x = np.frombuffer(data, dtype=FORMATS[fmt])
    if fmt == "s16":
        return x.astype(np.float32) / 32768.0
    if not np.isfinite(x).all():
        raise ProtocolError("NaN or Inf samples")
    return x.astype(np.float32)


def encode(x: np.ndarray, fmt: str) -> bytes:
    if fmt == "s16":
        return (np.clip(np.round(x * 32768.0), -32768, 32767)).astype("<i2").tobytes()
    return np.asarray(x, dtype="<f4").tobytes()


def control(message: str) -> str:
    """A text message after the hello: its type ('end'); anything else is an error."""
    try:
        kind = json.loads(message).get("type")
    except (ValueError, AttributeError):
        kind = None
    if kind != "end":
        raise ProtocolError('text messages after the first one must be {"type": "end"}')
    return kind


def message(kind: str, **fields) -> str:
    return json.dumps({"type": kind, **fields})
