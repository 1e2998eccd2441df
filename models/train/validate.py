"""Validation during training: the offline model on dev pairs, scored with the same metrics as
`streamse eval` (PESQ-WB, STOI, SI-SDR), plus clean-speech transparency, and one composite.

Sets are folders holding noisy/ and clean/ (e.g. dev/mixed, dev/vbdemand_p287 and the
stationary-noise set of `streamse bench --make-stationary-set`). The composite, which picks
the best checkpoint when `valid_metric = "composite"`:

    composite = mean over sets of [dPESQ + dSI-SDR / 10 + 10 * min(0, dSTOI)]
                - 0.5 * max(0, |transparency level dB| - 1)

where d is enhanced minus noisy input on the same files: PESQ and SI-SDR gains count, a
STOI loss below the noisy input costs heavily, and so does changing the level of clean speech
by more than 1 dB (clean dev utterances in, active-speech level out vs in).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from torch import nn

from streamse.audio_io import read_audio
from streamse.quality.evaluate import evaluate, read_pair
from streamse.quality.pairs import load_pairs

from ..aligned import enhance_array


def _scores(s: np.ndarray, y: np.ndarray, sr: int) -> dict[str, float]:
    """The three validation metrics (not the slower composite measures of `streamse eval`)."""
    from streamse.quality.metrics import pesq_wb, si_sdr, stoi

    return {"pesq_wb": pesq_wb(s, y, sr), "stoi": stoi(s, y, sr), "si_sdr": si_sdr(s, y)}


@lru_cache(maxsize=None)
def _read_set(noisy_dir: str, clean_dir: str, max_files: int, sr: int) -> tuple:
    """((name, noisy, clean) per pair, cut to the shorter; noisy-input means), cached per
    process."""
    pairs = load_pairs(noisy_dir, clean_dir)
    pairs = pairs[:max_files] if max_files > 0 else pairs
    audio = [read_pair(n, c, sr) for n, c in pairs]
    base = evaluate(audio, {"input": lambda x: x}, sr, _scores, score_input=False)[0]["input"]
    return tuple(audio), base.mean("enhanced")


def validate(model: nn.Module, noisy_dir: str, clean_dir: str, max_files: int) -> dict[str, float]:
    """Mean PESQ-WB / STOI / SI-SDR of the enhanced first `max_files` pairs (0 = all)."""
    return _validate_set(model, noisy_dir, clean_dir, max_files)[0]


def _validate_set(
    model: nn.Module, noisy_dir: str, clean_dir: str, max_files: int
) -> tuple[dict[str, float], dict[str, float]]:
    """(enhanced means, noisy-input means) over one set."""
    was_training = model.training
    model.eval()
    sr = model.geometry.sample_rate
    audio, base = _read_set(noisy_dir, clean_dir, max_files, sr)
    report = evaluate(audio, {"model": lambda x: enhance_array(model, x)}, sr, _scores, score_input=False)[0][
        "model"
    ]
    model.train(was_training)
    return report.mean("enhanced"), base


def transparency(model: nn.Module, clean_dir: str, max_files: int) -> tuple[float, float]:
    """(mean active-level change dB, mean SI-SDR dB) of clean files in vs out."""
    from streamse.quality.behaviour import level_and_sisdr

    files = sorted(p for p in Path(clean_dir).iterdir() if p.is_file())[:max_files]
    was_training = model.training
    model.eval()
    rows = []
    for path in files:
        x = read_audio(str(path), model.geometry.sample_rate)[0]
        rows.append(level_and_sisdr(x, enhance_array(model, x)))
    model.train(was_training)
    level, sisdr = np.mean(np.array(rows), axis=0)
    return float(level), float(sisdr)


def validate_sets(
    model: nn.Module,
    sets: tuple[str, ...],
    max_files: int,
    clean_dir: str | None = None,
    transparency_files: int = 6,
) -> dict[str, float]:
    """Scores per set (keys '<set>/pesq_wb' ..., '<set>/d_pesq_wb' ... the gains over the noisy
    input), 'transparency_level_db', 'transparency_sisdr_db' (the first `transparency_files`
    files of `clean_dir`, when it exists) and 'composite' (module doc). Sets whose folders are
    missing are left out."""
    out: dict[str, float] = {}
    gains = []
    for folder in sets:
        root = Path(folder)
        if not (root / "noisy").is_dir():
            continue
        enh, base = _validate_set(model, str(root / "noisy"), str(root / "clean"), max_files)
        d = {k: enh[k] - base[k] for k in enh}
        out.update({f"{root.name}/{k}": v for k, v in enh.items()})
        out.update({f"{root.name}/d_{k}": v for k, v in d.items()})
        gains.append(d["pesq_wb"] + d["si_sdr"] / 10 + 10 * min(0.0, d["stoi"]))
    if not gains:
        return out
    out["composite"] = float(np.mean(gains))
    if clean_dir and Path(clean_dir).is_dir() and transparency_files > 0:
        level, sisdr = transparency(model, clean_dir, transparency_files)
        out.update(transparency_level_db=level, transparency_sisdr_db=sisdr)
        out["composite"] -= 0.5 * max(0.0, abs(level) - 1.0)
    return out
