"""Signal levels: mean power, active-speech power, and the same in dB.

All signals are 1-D float arrays of samples. "Active" frames are the 20 ms frames within
`floor_db` of the loudest one, so zero padding and pauses do not lower a speech level.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-10


def frame_samples(sample_rate: int) -> int:
    """Samples in one 20 ms level frame (at least 1)."""
    return max(1, sample_rate // 50)


def power(x: np.ndarray) -> float:
    """Mean power over all samples."""
    return float(np.mean(np.square(x, dtype=np.float64))) if x.size else 0.0


def frame_power(x: np.ndarray, n: int) -> np.ndarray:
    """(T,) mean power of the T = len(x) // n whole frames of n samples (none if shorter)."""
    t = x.size // n
    return np.mean(np.square(x[: t * n].reshape(t, n), dtype=np.float64), axis=1)


def active_power(x: np.ndarray, sample_rate: int, floor_db: float = 40.0) -> float:
    """Mean power over the active 20 ms frames: those within `floor_db` of the loudest one.

    Used as the speech level for SNRs, so zero padding and pauses do not lower the SNR.
    Returns 0.0 for an all-zero signal.
    """
    frame = frame_samples(sample_rate)
    energy = frame_power(x, frame) if x.size >= frame else np.array([power(x)])  # (n_frames,)
    peak = float(energy.max(initial=0.0))
    if peak <= 0.0:
        return 0.0
    return float(energy[energy >= peak * 10 ** (-floor_db / 10)].mean())


def active_level_db(x: np.ndarray, sample_rate: int) -> float:
    """`active_power` in dB re full scale (-inf for digital silence)."""
    p = active_power(x, sample_rate)
    return 10.0 * np.log10(p) if p > 0 else -np.inf
