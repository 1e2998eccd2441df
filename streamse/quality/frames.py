"""Where a denoiser leaves noise: in the speech pauses, or under the speech.

The reference's 20 ms frames are split by their power against the reference's active speech
level (`streamse.dsp.level.active_power`): "pauses" are 40 dB or more below it, "speech" frames
within 10 dB of it (the frames between count for neither).

- pause_db: the level of the signal in the pauses, dB re the reference's active speech level.
  For the noisy input it is the noise level there; for an output, what is left of it; the
  change from input to output is the noise removed in the pauses (more negative is better).
  nan when the reference has fewer than `MIN_PAUSE_FRAMES` pause frames.
- speech_snr: the SNR of the signal against the reference over the speech frames, dB: what a
  denoiser leaves or damages under the voice.

A model can silence the pauses and still leave the noise under the speech untouched; the two
numbers tell these apart where SI-SDR and PESQ mix them (docs/quality.md, fourth round).
Signals are 1-D, sample-aligned, the same length (the caller's `_pair`). No torch.
"""

from __future__ import annotations

import numpy as np

from streamse.dsp.level import active_power, frame_power, frame_samples

PAUSE_DB = -40.0
SPEECH_DB = -10.0
MIN_PAUSE_FRAMES = 10


def pause_and_speech(ref: np.ndarray, est: np.ndarray, sr: int) -> dict[str, float]:
    """{"pause_db", "speech_snr"} of `est` against the clean `ref` (module doc); both nan for a
    silent reference."""
    ref, est = np.asarray(ref, np.float64), np.asarray(est, np.float64)
    level = active_power(ref, sr)
    n = frame_samples(sr)
    p_ref, p_est, p_err = frame_power(ref, n), frame_power(est, n), frame_power(est - ref, n)
    if level <= 0 or p_ref.size == 0:
        return {"pause_db": float("nan"), "speech_snr": float("nan")}
    pause = p_ref <= level * 10 ** (PAUSE_DB / 10)
    speech = p_ref >= level * 10 ** (SPEECH_DB / 10)
    out = {"pause_db": float("nan"), "speech_snr": float("nan")}
    if pause.sum() >= MIN_PAUSE_FRAMES:
        out["pause_db"] = float(10 * np.log10(max(p_est[pause].mean(), 1e-20) / level))
    if speech.any():
        out["speech_snr"] = float(10 * np.log10(p_ref[speech].sum() / max(p_err[speech].sum(), 1e-20)))
    return out
