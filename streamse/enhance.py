"""Enhance files through the streaming engine, delay-compensated so output lines up with input.

Nothing a user already has is ever lost: an output path that is one of the inputs (the same
file, through a symlink or a hard link too) is refused, and so is an existing output unless
`overwrite` is set. All of that is checked for every file before the first one is processed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .audio_io import AUDIO_SUFFIXES, output_format, read_audio, write_audio
from .dsp.resample import resample_hq
from .errors import StreamseError
from .streamer import HopStreamer

CHUNK_SECONDS = 1.0  # audio fed per call, so long files report progress
MIN_TIMED_SECONDS = 0.5  # shorter files time start-up and flush, not the model


@dataclass(frozen=True)
class EnhanceResult:
    source: Path
    target: Path
    seconds: float  # audio duration
    compute_seconds: float  # streamer time only
    clipped: int  # clipped input samples (a warning, not an error)
    clipped_out: int = 0  # output samples beyond full scale, clipped when written
    truncated: str = ""  # "header says N frames, file holds M" for a truncated WAV

    @property
    def rtf(self) -> float:
        return self.compute_seconds / max(self.seconds, 1e-9)

    def describe_speed(self) -> str:
        """`describe_rtf(self.rtf)`, or why there is none: a file under MIN_TIMED_SECONDS is too
        short for its real-time factor to say anything about the model (a 10-sample file read
        "NOT real time")."""
        if self.seconds < MIN_TIMED_SECONDS:
            return f"too short to time (under {MIN_TIMED_SECONDS:g} s)"
        return describe_rtf(self.rtf)

    def warnings(self) -> list[str]:
        """What the user should hear about this file although it was enhanced."""
        out = []
        if self.clipped:
            out.append(f"{self.clipped} clipped input samples")
        if self.clipped_out:
            out.append(
                f"{self.clipped_out} output samples beyond full scale were clipped "
                "(--subtype FLOAT keeps them)"
            )
        if self.truncated:
            out.append(f"truncated file ({self.truncated}); enhanced what it holds")
        return out


@dataclass(frozen=True)
class Skipped:
    """A file of a batch that could not be enhanced (the others still were)."""

    source: Path
    reason: str


def describe_rtf(rtf: float) -> str:
    """A real-time factor in words that cannot be misread."""
    if rtf >= 1.0:
        return f"RTF {rtf:.3f}: NOT real time ({rtf:.1f} times slower than real time)"
    return f"RTF {rtf:.3f}: {1 / max(rtf, 1e-9):.1f} times faster than real time"


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def plan_outputs(
    inputs: list[Path], out: Path, overwrite: bool = False, subtype: str | None = None
) -> list[tuple[Path, Path]]:
    """Map input files/folders to output paths, refusing anything that would lose data.

    One input file and an `out` with a suffix: write exactly there. Otherwise `out` is a
    folder: files keep their name, folders keep their inner layout. Raises StreamseError for a
    file name as output of several inputs or of a folder, an output that is an input, an
    existing output without `overwrite`, or a format the output name cannot be written as.
    """
    for src in inputs:
        if not src.exists():
            raise StreamseError(f"input not found: {src}")
    is_file = out.exists() and not out.is_dir()
    if len(inputs) == 1 and inputs[0].is_file() and (is_file or (out.suffix and not out.is_dir())):
        pairs = [(inputs[0], out)]  # any suffix: a file name (output_format checks it)
    elif is_file or out.suffix.lower() in AUDIO_SUFFIXES:
        what = f"{len(inputs)} inputs" if len(inputs) > 1 else f"the folder {inputs[0]}"
        raise StreamseError(f"-o {out} names a file, but there are {what}: give a folder")
    else:
        pairs = []
        for src in inputs:
            if src.is_dir():
                files = sorted(p for p in src.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
                pairs += [(p, out / p.relative_to(src)) for p in files]
            else:
                pairs.append((src, out / src.name))
    if not pairs:
        raise StreamseError("no audio files found in the inputs")
    _check_targets(pairs, overwrite, subtype)
    return pairs


def _check_targets(pairs: list[tuple[Path, Path]], overwrite: bool, subtype: str | None) -> None:
    sources = [s for s, _ in pairs]
    seen: set[Path] = set()
    for _, dst in pairs:
        output_format(dst, subtype)  # a name that cannot be written fails before any work
        if any(_same_file(dst, s) or dst.resolve() == s.resolve() for s in sources):
            raise StreamseError(f"output {dst} is one of the inputs: choose another path")
        if dst.resolve() in seen:
            raise StreamseError(f"two inputs would both be written to {dst}")
        seen.add(dst.resolve())
        if dst.is_dir():
            raise StreamseError(f"output {dst} is a folder")
        if dst.exists() and not overwrite:
            raise StreamseError(f"output {dst} exists: pass --overwrite to replace it")


def stream_file(
    streamer: HopStreamer, x: np.ndarray, progress: Callable[[float], None] | None = None
) -> np.ndarray:
    """`streamer.process(x)` fed CHUNK_SECONDS at a time; progress(seconds) after each chunk."""
    step = max(streamer.hop, int(CHUNK_SECONDS * streamer.sample_rate))
    streamer.reset()
    parts = []
    for i in range(0, x.size, step):
        parts.append(streamer.feed(x[i : i + step]))
        if progress is not None:
            progress(min(step, x.size - i) / streamer.sample_rate)
    parts.append(streamer.flush())
    return np.concatenate(parts)[streamer.delay_samples :]


def enhance_file(
    streamer: HopStreamer,
    source: Path,
    target: Path,
    subtype: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> EnhanceResult:
    """Read (any rate, any channels), enhance at the model rate, write back at the input rate
    with the input's sample format unless `subtype` says otherwise."""
    x, info = read_audio(source, streamer.sample_rate)
    t0 = time.perf_counter()
    y = stream_file(streamer, x, progress)
    compute = time.perf_counter() - t0
    y = resample_hq(y, streamer.sample_rate, info.sample_rate)
    n = info.frames
    y = np.pad(y, (0, max(0, n - y.size)))[:n]  # exact input length after the round trip
    over = write_audio(target, y, info.sample_rate, subtype, like=info.subtype)
    cut = f"header says {info.declared_frames} frames, file holds {info.frames}" if info.truncated else ""
    return EnhanceResult(source, target, x.size / streamer.sample_rate, compute, info.clipped, over, cut)


def enhance_files(
    streamer: HopStreamer, pairs: list[tuple[Path, Path]], subtype: str | None = None
) -> Iterator[EnhanceResult | Skipped]:
    """Enhance every (source, target) pair of `plan_outputs` in turn, yielding one outcome
    each. One file: its error is raised. Several: a file that fails is yielded as `Skipped`
    and the batch goes on. Progress: a bar of files for a batch, of audio seconds for one file
    (on a terminal only)."""
    from tqdm import tqdm

    single = len(pairs) == 1
    for src, dst in tqdm(pairs, desc="enhance", unit="file", disable=True if single else None):
        try:
            with tqdm(
                desc=src.name,
                unit="s",
                unit_scale=True,
                leave=False,
                disable=None if single else True,
                bar_format="{desc}: {n:.0f} s of audio [{elapsed}, {rate_fmt}]",
            ) as bar:
                yield enhance_file(streamer, src, dst, subtype, progress=bar.update)
        except StreamseError as exc:
            if single:
                raise
            yield Skipped(src, str(exc))
