"""Reading and writing audio for the file paths of streamse (no torch).

Reading always yields float32 mono at the requested rate: stereo is downmixed (or one channel
picked), other rates are resampled (soxr, linear phase, no delay). Problems become one-line
StreamseErrors; a file shorter than its header says is read as far as it goes and reported.
Writing picks the container from the file name (wav, flac, ogg, aiff, mp3 where the installed
libsndfile has it) and refuses any other name; the sample format (`subtype`) defaults to the
input's when the container can hold it. Writing is atomic: a temporary file in the target
folder is renamed into place, so a failed run never leaves a partial output file; the file
gets the permissions a normally created file would (0666 minus the umask).
"""

from __future__ import annotations

import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dsp.resample import resample_hq
from .errors import StreamseError

# file suffix -> libsndfile container
CONTAINERS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".aiff": "AIFF", ".aif": "AIFF", ".mp3": "MP3"}
AUDIO_SUFFIXES = set(CONTAINERS)
SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")  # the --subtype choices
CLIP_LEVEL = 0.999


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int  # rate of the file as read
    channels: int
    frames: int  # frames actually read
    clipped: int  # samples at or above CLIP_LEVEL in magnitude (before resampling)
    subtype: str = "PCM_16"  # libsndfile sample format of the file, e.g. PCM_24, FLOAT
    declared_frames: int | None = None  # what a WAV header claims, when it claims more

    @property
    def truncated(self) -> bool:
        return self.declared_frames is not None and self.declared_frames > self.frames


def wav_declared_frames(path: Path, channels: int) -> int | None:
    """Frames the 'data' chunk of a RIFF/WAVE header declares (None if not a plain WAV or the
    size is the 'unknown' placeholder of a streamed file)."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block = None
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"fmt ":
                fmt = f.read(size + (size & 1))
                block = struct.unpack("<H", fmt[12:14])[0] if len(fmt) >= 14 else None
            elif cid == b"data":
                if not block or size in (0, 0xFFFFFFFF):
                    return None
                return size // block
            else:
                f.seek(size + (size & 1), os.SEEK_CUR)


def read_audio(
    path: str | Path, sample_rate: int | None, channel: int | None = None, *, check: bool = True
) -> tuple[np.ndarray, AudioInfo]:
    """The one audio reader. File -> (float32 mono samples at `sample_rate` (None: the file's
    own rate, `info.sample_rate`), info about the file as stored).
    channel: None downmixes (mean of the channels), k >= 1 takes channel k alone.
    check: a file with no samples or with NaN/Inf is an error (False: returned as it is, for
    callers that sort such files out themselves, e.g. the training pool)."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise StreamseError(f"input not found: {path}")
    if path.stat().st_size == 0:
        raise StreamseError(f"{path}: empty file")
    try:
        with sf.SoundFile(str(path)) as f:
            subtype = f.subtype
            data = f.read(dtype="float32", always_2d=True)
            sr = f.samplerate
    except Exception as exc:
        reason = str(exc).splitlines()[0][:160] if str(exc) else exc.__class__.__name__
        raise StreamseError(f"{path}: not a readable audio file ({reason})") from None
    if check and data.shape[0] == 0:
        raise StreamseError(f"{path}: no audio samples in file")
    bad = int((~np.isfinite(data)).sum()) if check else 0
    if bad:
        raise StreamseError(f"{path}: {bad} NaN/Inf samples; repair the file before enhancing it")
    if channel is not None and not 1 <= channel <= data.shape[1]:
        raise StreamseError(f"{path}: has {data.shape[1]} channel(s), no channel {channel}")
    declared = wav_declared_frames(path, data.shape[1]) if path.suffix.lower() == ".wav" else None
    info = AudioInfo(
        sr,
        data.shape[1],
        data.shape[0],
        int((np.abs(data) >= CLIP_LEVEL).sum()),
        subtype,
        declared if declared and declared > data.shape[0] else None,
    )
    if channel is not None:
        mono = data[:, channel - 1]
    else:
        mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if sample_rate is None or not mono.size:
        return np.ascontiguousarray(mono, np.float32), info
    return resample_hq(mono, sr, sample_rate), info


def output_format(path: str | Path, subtype: str | None = None, like: str | None = None) -> tuple[str, str]:
    """(container, subtype) for writing `path`. The container comes from the suffix; `subtype`
    (PCM_16, PCM_24, FLOAT) is checked against it; without one, `like` (the input's subtype)
    is kept when the container holds it, else the container's usual 16-bit or coded format."""
    import soundfile as sf

    suffix = Path(path).suffix.lower()
    container = CONTAINERS.get(suffix)
    if container is None:
        raise StreamseError(
            f"{path}: cannot tell the format from '{suffix or 'no suffix'}'; "
            f"use one of {', '.join(sorted(AUDIO_SUFFIXES))}"
        )
    if container not in sf.available_formats():
        raise StreamseError(f"{path}: this libsndfile cannot write {container}; use .wav or .flac")
    coded = {"OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}
    if subtype is not None:
        if subtype not in SUBTYPES:
            raise StreamseError(f"--subtype {subtype}: use one of {', '.join(SUBTYPES)}")
        if container in coded or not sf.check_format(container, subtype):
            raise StreamseError(f"{path}: {container} cannot hold {subtype} samples")
        return container, subtype
    if container in coded:
        return container, coded[container]
    if like and like in SUBTYPES and sf.check_format(container, like):
        return container, like
    return container, "PCM_16"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_audio(
    path: str | Path, x: np.ndarray, sample_rate: int, subtype: str | None = None, like: str | None = None
) -> int:
    """Write float32 mono `x` atomically (format: `output_format`). Samples beyond +-1 are
    clipped for integer and coded formats; returns how many were (0 for FLOAT)."""
    import soundfile as sf

    path = Path(path)
    container, sub = output_format(path, subtype, like)
    path.parent.mkdir(parents=True, exist_ok=True)
    over = int((np.abs(x) > 1.0).sum())
    if sub != "FLOAT":
        x = np.clip(x, -1.0, 1.0)
    fd, tmp = tempfile.mkstemp(prefix=".streamse-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        sf.write(tmp, x, sample_rate, format=container, subtype=sub)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return 0 if sub == "FLOAT" else over
