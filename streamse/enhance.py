"""Enhance files through the streaming engine, delay-compensated so output lines up with input."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio_io import AUDIO_SUFFIXES, read_audio, resample, write_audio
from .errors import StreamseError
from .streamer import HopStreamer


@dataclass(frozen=True)
class EnhanceResult:
    source: Path
    target: Path
    seconds: float  # audio duration
    compute_seconds: float  # streamer time only
    clipped: int  # clipped input samples (a warning, not an error)

    @property
    def rtf(self) -> float:
        return self.compute_seconds / max(self.seconds, 1e-9)


def plan_outputs(inputs: list[Path], out: Path) -> list[tuple[Path, Path]]:
    """Map input files/folders to output paths.

    One input file and an `out` with an audio suffix: write exactly there. Otherwise `out` is a
    folder: files keep their name, folders keep their inner layout.
    """
    if len(inputs) == 1 and inputs[0].is_file() and out.suffix.lower() in AUDIO_SUFFIXES:
        return [(inputs[0], out)]
    pairs: list[tuple[Path, Path]] = []
    for src in inputs:
        if src.is_dir():
            files = sorted(p for p in src.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
            pairs += [(p, out / p.relative_to(src)) for p in files]
        elif src.exists():
            pairs.append((src, out / src.name))
        else:
            raise StreamseError(f"input not found: {src}")
    if not pairs:
        raise StreamseError("no audio files found in the inputs")
    return pairs


def enhance_file(streamer: HopStreamer, source: Path, target: Path) -> EnhanceResult:
    """Read (any rate, any channels), enhance at the model rate, write back at the input rate."""
    x, info = read_audio(source, streamer.sample_rate)
    t0 = time.perf_counter()
    y = streamer.process(x)
    compute = time.perf_counter() - t0
    y = resample(y, streamer.sample_rate, info.sample_rate)
    n = info.frames
    y = np.pad(y, (0, max(0, n - y.size)))[:n]  # exact input length after the round trip
    write_audio(target, y, info.sample_rate)
    return EnhanceResult(source, target, x.size / streamer.sample_rate, compute, info.clipped)
