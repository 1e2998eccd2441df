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

import json
from pathlib import Path

import numpy as np

from streamse.audio_io import read_audio
from streamse.dsp.level import active_power
from streamse.dsp.noise import stationary_noise

KINDS = ("white", "pink", "brown", "hum")
SNRS_DB = (-5.0, 0.0, 5.0, 10.0, 15.0)
RATE = 16000
AUDIO_EXT = (".wav", ".flac", ".ogg")


def mix(clean: np.ndarray, kind: str, snr_db: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, clean), float32, the noise at `snr_db` against the active speech level; both
    scaled down together if the noisy peak would pass 0.99."""
    noise = stationary_noise(kind, clean.size, RATE, np.random.default_rng(seed))
    noisy = clean + np.sqrt(active_power(clean, RATE) / 10 ** (snr_db / 10)) * noise
    g = min(1.0, 0.99 / max(float(np.abs(noisy).max()), 1e-9))
    return (g * noisy).astype(np.float32), (g * clean).astype(np.float32)


def build(
    clean_dir: str | Path, out_dir: str | Path, per_file: int = 2, seed: int = 0, kinds=KINDS, snrs=SNRS_DB
) -> list[dict]:
    """Write the set (see module doc) and return its pairs.json entries."""
    import soundfile as sf

    from streamse.errors import StreamseError

    if not Path(clean_dir).is_dir():
        raise StreamseError(f"clean speech folder not found: {clean_dir}")
    files = sorted(p for p in Path(clean_dir).iterdir() if p.suffix.lower() in AUDIO_EXT)
    if not files:
        raise StreamseError(f"no audio files in {clean_dir}")
    out = Path(out_dir)
    for sub in ("clean", "noisy"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    entries, k = [], 0
    for path in files:
        speech, _ = read_audio(str(path), RATE)
        for j in range(per_file):
            kind, snr = kinds[k % len(kinds)], snrs[(k // len(kinds)) % len(snrs)]
            noisy, clean = mix(speech, kind, snr, seed * 100003 + k)
            name = f"{path.stem}_{j}.flac"
            sf.write(out / "noisy" / name, noisy, RATE, subtype="PCM_24")
            sf.write(out / "clean" / name, clean, RATE, subtype="PCM_24")
            entries.append(
                {
                    "file": name,
                    "clean_source": path.stem,
                    "noise": kind,
                    "snr_db": snr,
                    "seed": seed * 100003 + k,
                }
            )
            k += 1
    (out / "pairs.json").write_text(json.dumps(entries, indent=1) + "\n")
    return entries
