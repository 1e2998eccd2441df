"""In-memory pool of mono audio clips, loaded once from folders of audio files (the suffixes
`streamse.audio_io` reads; read with its one reader).

All clips are stored back to back in one contiguous float32 buffer (plus start/length
offsets), so forked DataLoader workers share the pages instead of copying ~2000 small arrays,
and pickling the pool for spawned workers is a single array copy.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Sequence

import numpy as np

from streamse.audio_io import AUDIO_SUFFIXES, read_audio
from streamse.errors import StreamseError

log = logging.getLogger(__name__)

SILENCE_PEAK = 1e-4  # a clip whose peak is below -80 dBFS counts as all-silent


def list_audio_files(dirs: Iterable[str], extensions: Iterable[str] = AUDIO_SUFFIXES) -> list[str]:
    """Every file under `dirs` (recursively) whose name ends in one of `extensions`, sorted."""
    found = []
    for root_dir in dirs:
        if not os.path.isdir(root_dir):
            raise StreamseError(
                f"audio folder not found: {root_dir} (paths in a config are "
                f"relative to the working directory, here {os.getcwd()}; the "
                "shipped configs expect ../shared/data beside the checkout)"
            )
        for root, _, names in os.walk(root_dir, followlinks=True):
            found += [os.path.join(root, n) for n in names if n.lower().endswith(tuple(extensions))]
    return sorted(found)


def _load_or_reason(path: str, sample_rate: int) -> np.ndarray | str:
    """The clip, or a short reason string why it is unusable."""
    if os.path.getsize(path) == 0:
        return "empty file (0 bytes)"
    try:
        clip = read_audio(path, sample_rate, check=False)[0]
    except Exception as exc:  # noqa: BLE001 - any decoder failure means "skip this file"
        first_line = (str(exc).splitlines() or [""])[0][:160]
        return f"unreadable ({type(exc).__name__}: {first_line})"
    if clip.size == 0:
        return "empty (0 samples)"
    if not np.all(np.isfinite(clip)):
        return "non-finite samples"
    if float(np.max(np.abs(clip))) < SILENCE_PEAK:
        return "all-silent (peak below -80 dBFS)"
    return clip


class AudioPool:
    """Every audio clip under some folders, float32 mono at one sample rate, in memory.

    Unusable files (corrupt, unreadable, empty, all-silent) are skipped, never fatal: each is
    listed in `skipped` as (path, reason) and reported with one `logging` warning.

    Args:
        dirs: folders searched recursively.
        sample_rate: Hz; files at other rates are resampled.
        progress: show a tqdm bar on stderr while loading.
        num_threads: decoder threads (libsndfile and soxr release the GIL).
    """

    def __init__(
        self, dirs: Sequence[str], sample_rate: int = 16000, progress: bool = True, num_threads: int = 2
    ):
        self.sample_rate = sample_rate
        self.skipped: list[tuple[str, str]] = []
        self.paths: list[str] = []
        files = list_audio_files(dirs)
        clips = self._load_all(files, num_threads, progress)
        lengths = np.array([c.size for c in clips], dtype=np.int64)
        self._starts = np.cumsum(lengths) - lengths  # (clips,) offset of each clip in _data
        self._lengths = lengths
        self._data = np.concatenate(clips) if clips else np.zeros(0, np.float32)

    def _load_all(self, files: list[str], num_threads: int, progress: bool) -> list[np.ndarray]:
        from tqdm import tqdm

        clips = []
        with ThreadPoolExecutor(max(1, num_threads)) as pool:
            results = pool.map(lambda p: _load_or_reason(p, self.sample_rate), files)
            bar = tqdm(
                results,
                total=len(files),
                desc="loading audio",
                unit="file",
                disable=not progress,
                leave=False,
            )
            for path, result in zip(files, bar):
                if isinstance(result, str):
                    self.skipped.append((path, result))
                    log.warning("skipping %s: %s", path, result)
                else:
                    self.paths.append(path)
                    clips.append(result)
        return clips

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> np.ndarray:
        """Clip `index` as a read-only float32 view, shape (samples,)."""
        start = self._starts[index]
        view = self._data[start : start + self._lengths[index]]
        view.flags.writeable = False
        return view

    @property
    def lengths(self) -> np.ndarray:
        """Samples per clip, int64 (len(self),)."""
        return self._lengths

    @property
    def total_seconds(self) -> float:
        return float(self._lengths.sum()) / self.sample_rate

    def __repr__(self) -> str:
        return (
            f"AudioPool({len(self)} clips, {self.total_seconds / 60:.1f} min, "
            f"{self.sample_rate} Hz, {len(self.skipped)} skipped)"
        )
