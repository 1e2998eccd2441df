"""A validation set of real speech mixed with real noise files, like dev/mixed, from any folders.

`build(clean_dir, noise_dir, out_dir)` draws `n_clean` speech files (seeded; all of them when
there are fewer), pairs each with `per_file` noise files drawn at random, each noise looped and
cut at a random offset to the speech's length, at SNRs cycling through `snrs` (against the
active speech level), and writes the set in the usual layout (`pair_set`): pairs.json lists the
speech and noise file (relative to their folders), SNR and seed of every pair.

What it is for: the same measurement on speech and noise a model was *trained* on as on held-out
ones (docs/quality.md, fourth round). A model that trails its peers as far on its own training
data as on unseen data underfits: more data would not close the gap, a better fit would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from streamse.audio_io import read_audio
from streamse.dsp.level import power
from streamse.models.train.augment import crop_loop

from .pair_set import RATE, PairWriter, audio_files, mix_at_snr
from .stationary_set import SNRS_DB


def build(
    clean_dir: str | Path,
    noise_dir: str | Path,
    out_dir: str | Path,
    n_clean: int = 26,
    per_file: int = 2,
    seed: int = 0,
    snrs=SNRS_DB,
) -> list[dict]:
    """Write the set (see module doc) and return its pairs.json entries. Both folders are
    searched recursively; noise files that are silent are skipped."""
    from streamse.errors import StreamseError

    speech_files = audio_files(clean_dir, recursive=True)
    noise_files = audio_files(noise_dir, recursive=True)
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(speech_files), min(n_clean, len(speech_files)), replace=False)
    writer, k, stems = PairWriter(out_dir), 0, set()
    for i in sorted(picked):
        path = speech_files[i]
        speech, _ = read_audio(str(path), RATE)
        stem = path.stem if path.stem not in stems else f"{path.parent.name}-{path.stem}"
        stems.add(stem)
        for j in range(per_file):
            for _ in range(100):  # a few noise files may be silent stretches
                npath = noise_files[int(rng.integers(len(noise_files)))]
                noise = crop_loop(read_audio(str(npath), RATE)[0], speech.size, rng)
                if power(noise) > 1e-10:
                    break
            else:
                raise StreamseError(f"no audible noise found in {noise_dir}")
            snr = float(snrs[k % len(snrs)])
            noisy, clean = mix_at_snr(speech, noise, snr)
            writer.add(
                f"{stem}_{j}.flac",
                noisy,
                clean,
                clean_source=str(path.relative_to(clean_dir)),
                noise=str(npath.relative_to(noise_dir)),
                snr_db=snr,
                seed=seed,
            )
            k += 1
    return writer.close()
