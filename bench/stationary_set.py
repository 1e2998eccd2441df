"""A stationary-noise validation set built from held-out speech and synthetic noises.

Real dev noises (dev/mixed) are mostly non-stationary; the easiest noises there are (white,
pink, brown, mains hum with harmonics) need their own set, because a denoiser that cannot
remove them is broken. `build` pairs every clean file with `per_file` noises, cycling through
the kinds and SNRs so each (kind, SNR) appears about equally often, and writes

    OUT/clean/<stem>_<k>.flac, OUT/noisy/<stem>_<k>.flac, OUT/pairs.json

(16 kHz mono FLAC, 24-bit; pairs.json lists kind, SNR and seed per file). Everything is
seeded, so the same inputs give the same set on any machine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from streamse.audio_io import read_audio
from streamse.dsp.noise import stationary_noise

from .pair_set import RATE, PairWriter, audio_files, mix_at_snr

KINDS = ("white", "pink", "brown", "hum")
SNRS_DB = (-5.0, 0.0, 5.0, 10.0, 15.0)


def mix(clean: np.ndarray, kind: str, snr_db: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, clean), float32, the noise at `snr_db` against the active speech level; both
    scaled down together if the noisy peak would pass 0.99."""
    return mix_at_snr(clean, stationary_noise(kind, clean.size, RATE, np.random.default_rng(seed)), snr_db)


def build(
    clean_dir: str | Path, out_dir: str | Path, per_file: int = 2, seed: int = 0, kinds=KINDS, snrs=SNRS_DB
) -> list[dict]:
    """Write the set (see module doc) and return its pairs.json entries."""
    writer, k = PairWriter(out_dir), 0
    for path in audio_files(clean_dir):
        speech, _ = read_audio(str(path), RATE)
        for j in range(per_file):
            kind, snr = kinds[k % len(kinds)], snrs[(k // len(kinds)) % len(snrs)]
            noisy, clean = mix(speech, kind, snr, seed * 100003 + k)
            writer.add(
                f"{path.stem}_{j}.flac",
                noisy,
                clean,
                clean_source=path.stem,
                noise=kind,
                snr_db=snr,
                seed=seed * 100003 + k,
            )
            k += 1
    return writer.close()
