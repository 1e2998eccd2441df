"""pause_db and speech_snr: the noise left in the pauses and under the speech, told apart."""

from __future__ import annotations

import math

import numpy as np
import pytest

from streamse.quality.frames import MIN_PAUSE_FRAMES, pause_and_speech

SR = 16000
F = 320  # 20 ms


def _bursts(n_frames: int = 100, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A reference of alternating 10-frame tone bursts and exact-zero pauses, and the mask of its
    burst samples."""
    t = np.arange(n_frames * F) / SR
    on = (np.arange(n_frames * F) // (10 * F)) % 2 == 0
    return 0.3 * np.sin(2 * np.pi * 220 * t) * on, on


def test_noise_level_in_pauses_and_snr_under_speech_are_the_stated_ones():
    ref, on = _bursts()
    noise = 0.01 * np.random.default_rng(1).standard_normal(ref.size)
    out = pause_and_speech(ref, ref + noise, SR)
    level = np.mean(ref[on] ** 2)  # the bursts are the active frames
    assert out["pause_db"] == pytest.approx(10 * np.log10(np.mean(noise[~on] ** 2) / level), abs=1e-9)
    assert out["speech_snr"] == pytest.approx(
        10 * np.log10(np.sum(ref[on] ** 2) / np.sum(noise[on] ** 2)), abs=1e-9
    )


def test_a_gate_that_only_silences_pauses_changes_pause_db_not_speech_snr():
    ref, on = _bursts()
    noisy = ref + 0.03 * np.random.default_rng(2).standard_normal(ref.size)
    gated = noisy * on  # exact pauses zeroed, the noise under the bursts left as it was
    a, b = pause_and_speech(ref, noisy, SR), pause_and_speech(ref, gated, SR)
    assert b["pause_db"] < a["pause_db"] - 100
    assert b["speech_snr"] == pytest.approx(a["speech_snr"], abs=1e-9)
    halved = ref + 0.5 * (noisy - ref)  # half the noise amplitude everywhere: 6 dB on both
    c = pause_and_speech(ref, halved, SR)
    assert c["pause_db"] == pytest.approx(a["pause_db"] - 6.02, abs=0.01)
    assert c["speech_snr"] == pytest.approx(a["speech_snr"] + 6.02, abs=0.01)


def test_too_few_pauses_or_a_silent_reference_give_nan():
    ref, _ = _bursts(n_frames=10 + MIN_PAUSE_FRAMES - 1)  # one burst, one pause a frame short
    out = pause_and_speech(ref, ref, SR)
    assert math.isnan(out["pause_db"]) and out["speech_snr"] > 100
    silent = pause_and_speech(np.zeros(SR), np.ones(SR), SR)
    assert math.isnan(silent["pause_db"]) and math.isnan(silent["speech_snr"])
