"""Writing a validation set of (noisy, clean) pairs: the layout every set of ours has.

    OUT/clean/<name>.flac, OUT/noisy/<name>.flac, OUT/pairs.json

(16 kHz mono FLAC, 24-bit). `mix_at_snr` puts a noise at an SNR against the active speech level
and keeps the noisy peak below 0.99 by scaling both signals together.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from streamse.dsp.level import active_power
from streamse.models.train.augment import noise_gain_for_snr

RATE = 16000
AUDIO_EXT = (".wav", ".flac", ".ogg")


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, clean), float32: `noise` (same length as `clean`) scaled to `snr_db` below the
    active speech level of `clean` and added; both scaled down together if the noisy peak would
    pass 0.99."""
    noisy = clean + noise_gain_for_snr(active_power(clean, RATE), noise, snr_db) * noise
    g = min(1.0, 0.99 / max(float(np.abs(noisy).max()), 1e-9))
    return (g * noisy).astype(np.float32), (g * clean).astype(np.float32)


def audio_files(folder: str | Path, recursive: bool = False) -> list[Path]:
    """The audio files of `folder` (and below it when `recursive`), sorted; a missing folder or
    one with no audio is a one-line error."""
    from streamse.errors import StreamseError

    folder = Path(folder)
    if not folder.is_dir():
        raise StreamseError(f"folder not found: {folder}")
    found = folder.rglob("*") if recursive else folder.iterdir()
    files = sorted(p for p in found if p.is_file() and p.suffix.lower() in AUDIO_EXT)
    if not files:
        raise StreamseError(f"no audio files in {folder}")
    return files


class PairWriter:
    """Creates OUT/clean and OUT/noisy; `add` writes one pair, `close` writes pairs.json."""

    def __init__(self, out_dir: str | Path):
        self.out = Path(out_dir)
        for sub in ("clean", "noisy"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        self.entries: list[dict] = []

    def add(self, name: str, noisy: np.ndarray, clean: np.ndarray, **entry) -> None:
        import soundfile as sf

        sf.write(self.out / "noisy" / name, noisy, RATE, subtype="PCM_24")
        sf.write(self.out / "clean" / name, clean, RATE, subtype="PCM_24")
        self.entries.append({"file": name, **entry})

    def close(self) -> list[dict]:
        (self.out / "pairs.json").write_text(json.dumps(self.entries, indent=1) + "\n")
        return self.entries
