"""Reading and writing audio for the file paths of streamse (no torch).

Reading always yields float32 mono at the requested rate: stereo is downmixed, other rates
are resampled (soxr, linear phase, no delay). Problems become one-line StreamseErrors.
Writing is atomic: a temporary file in the target folder is renamed into place, so a failed
run never leaves a partial output file.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import StreamseError

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3"}
CLIP_LEVEL = 0.999


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int  # rate of the file as read
    channels: int
    frames: int
    clipped: int  # samples at or above CLIP_LEVEL in magnitude (before resampling)


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """(n,) or (n, ch) float32 at sr_in -> same at sr_out."""
    if sr_in == sr_out:
        return x.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(x, sr_in, sr_out, quality="HQ").astype(np.float32, copy=False)


def read_audio(path: str | Path, sample_rate: int) -> tuple[np.ndarray, AudioInfo]:
    """File -> (float32 mono samples at `sample_rate`, info about the file as stored)."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise StreamseError(f"input not found: {path}")
    if path.stat().st_size == 0:
        raise StreamseError(f"{path}: empty file")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        reason = str(exc).splitlines()[0][:160] if str(exc) else exc.__class__.__name__
        raise StreamseError(f"{path}: not a readable audio file ({reason})") from None
    if data.shape[0] == 0:
        raise StreamseError(f"{path}: no audio samples in file")
    bad = int((~np.isfinite(data)).sum())
    if bad:
        raise StreamseError(f"{path}: {bad} NaN/Inf samples; repair the file before enhancing it")
    info = AudioInfo(sr, data.shape[1], data.shape[0], int((np.abs(data) >= CLIP_LEVEL).sum()))
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return resample(mono, sr, sample_rate), info


def write_audio(path: str | Path, x: np.ndarray, sample_rate: int) -> None:
    """Write float32 mono `x` as 16-bit PCM (format from the suffix), atomically."""
    import soundfile as sf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".flac": "FLAC", ".ogg": "OGG"}.get(path.suffix.lower(), "WAV")
    subtype = "VORBIS" if fmt == "OGG" else "PCM_16"
    fd, tmp = tempfile.mkstemp(prefix=".streamse-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        sf.write(tmp, np.clip(x, -1.0, 1.0), sample_rate, format=fmt, subtype=subtype)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
