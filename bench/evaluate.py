"""Score an enhancer on (noisy, clean) file pairs: per-file and mean metrics, input vs output.

No torch: the caller passes `enhance(noisy, sr) -> enhanced`, a plain function on 1-D float
numpy arrays (same length and sample-aligned with its input; remove any model delay first).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np


from streamse.quality.evaluate import EvalReport, evaluate
from streamse.quality.evaluate import read_pair as _read_pair
from streamse.quality.metrics import score

Enhance = Callable[[np.ndarray, int], np.ndarray]
METRIC_LABELS = {
    "pesq": "PESQ-WB",
    "stoi": "STOI",
    "si_sdr": "SI-SDR (dB)",
    "csig": "CSIG",
    "cbak": "CBAK",
    "covl": "COVL",
    "pause_db": "pause dB",
    "speech_snr": "speech SNR",
    "noise_leak_db": "noise leak dB",
    "artefacts_db": "artefacts dB",
    "speech_gain_db": "speech gain dB",
    "dnsmos_sig": "DNSMOS SIG",
    "dnsmos_bak": "DNSMOS BAK",
    "dnsmos_ovrl": "DNSMOS OVRL",
    "dnsmos_p808": "DNSMOS P.808",
}


def evaluate_pairs(
    pairs: list[tuple[str, str]],
    enhance: Enhance,
    sr: int = 16000,
    with_dnsmos: bool = False,
    progress: bool = True,
) -> EvalReport:
    """Score `enhance` on (noisy_path, clean_path) pairs, e.g. from `load_pairs`.

    Both files are read at `sr`; if their lengths differ, both are cut to the shorter. The
    output must have exactly the input's length, else ValueError.
    """
    from tqdm import tqdm

    bar = tqdm(pairs, desc="evaluating", unit="file", disable=not progress, leave=False)
    items = (read_pair(n, c, sr) for n, c in bar)
    reports, _ = evaluate(
        items,
        {"enhanced": lambda x: np.asarray(enhance(x, sr), np.float64).ravel()},
        sr,
        lambda c, y, r: score(c, y, r, with_dnsmos),
        decompose=True,
    )
    return reports["enhanced"]


def read_pair(noisy_path: str, clean_path: str, sr: int) -> tuple[str, np.ndarray, np.ndarray]:
    """`streamse.quality.evaluate.read_pair` in float64, as the bench scores signals."""
    name, noisy, clean = _read_pair(noisy_path, clean_path, sr)
    return name, noisy.astype(np.float64), clean.astype(np.float64)


def format_table(report: EvalReport) -> str:
    """Mean of each metric for the noisy input and the enhanced output, and the change."""
    noisy, enhanced = report.mean("noisy"), report.mean("enhanced")
    lines = [
        f"{len(report.rows)} files, {report.audio_seconds:.1f} s of audio, enhance RTF {report.rtf:.3f}",
        f"{'metric':<14}{'noisy':>9}{'enhanced':>10}{'change':>9}",
    ]
    for key in enhanced:
        a, b = noisy.get(key, math.nan), enhanced[key]
        lines.append(f"{METRIC_LABELS.get(key, key):<14}{a:>9.3f}{b:>10.3f}{b - a:>+9.3f}")
    return "\n".join(lines)


def _clean_json(values: dict[str, float]) -> dict[str, float | None]:
    """nan/inf -> None, so the result is strict JSON."""
    return {k: (float(v) if math.isfinite(v) else None) for k, v in values.items()}


def to_json(report: EvalReport) -> dict:
    """A JSON-ready dict: sample_rate, n_files, audio_seconds, rtf, mean {noisy, enhanced},
    files [{name, seconds, noisy, enhanced}]. Undefined metrics are null."""
    return {
        "sample_rate": report.sample_rate,
        "n_files": len(report.rows),
        "audio_seconds": report.audio_seconds,
        "rtf": report.rtf if math.isfinite(report.rtf) else None,
        "mean": {w: _clean_json(report.mean(w)) for w in ("noisy", "enhanced")},
        "files": [
            {
                "name": r.name,
                "seconds": r.seconds,
                "noisy": _clean_json(r.noisy),
                "enhanced": _clean_json(r.enhanced),
            }
            for r in report.rows
        ],
    }


def save_spectrograms(
    noisy: np.ndarray, enhanced: np.ndarray, clean: np.ndarray, sr: int, path_png: str
) -> None:
    """Write noisy / enhanced / clean spectrograms, stacked, on one shared dB scale, to a PNG."""
    from .plots import spectrogram_grid

    spectrogram_grid({"noisy": noisy, "enhanced": enhanced, "clean": clean}, sr, path_png)
