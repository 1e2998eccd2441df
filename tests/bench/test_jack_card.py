"""`bench/jack_card.py`: `measure_delay`, the exact lag of a capture that is partly something
else, at 48 kHz where the model's 16 kHz output makes the correlation peak a few samples wide."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamse.audio_io import read_audio
from streamse.bench.jack_card import measure_delay
from streamse.dsp.resample import resample_stream

FS, HOP = 48000, 480
DELAY = 3021  # the engine's total delay in the 48 kHz live device test


@pytest.fixture(scope="module")
def signals() -> tuple[np.ndarray, np.ndarray]:
    """(dry input, model output) at 48 kHz: 3 s of the bundled noisy sample and a 2-tap FIR of
    it at 16 kHz, delayed by one 16 kHz hop (tests/streamse/live/fakes.py's FirStreamer)."""
    x16 = read_audio(Path(__file__).parents[1] / "data" / "noisy.wav", 16000)[0][: 3 * 16000]
    y16 = 0.5 * np.pad(x16, (160, 0))[: x16.size] - 0.25 * np.pad(x16, (161, 0))[: x16.size]
    return resample_stream(x16, 16000, FS), resample_stream(y16, 16000, FS).astype(np.float32)


def capture(ref: np.ndarray, start: int, stretch: np.ndarray) -> np.ndarray:
    """ref at DELAY, with ref[start : start + len(stretch)] replaced by `stretch`, and a tail."""
    rec = np.zeros(ref.size + FS // 2, np.float32)
    rec[DELAY : DELAY + ref.size] = ref
    rec[DELAY + start : DELAY + start + stretch.size] = stretch
    return rec


@pytest.mark.parametrize("seconds", [0.0, 0.5, 1.2, 1.6])
def test_a_long_dry_fallback_does_not_move_the_lag(signals, seconds):
    """The engine plays the dry input (aligned with the model's delay) while the model is late:
    over 1.1 s of it in 3 s moved the cross-correlation's peak by a sample (CI saw 3022 for
    3021); the blocks that are the model's output give the exact lag."""
    x, ref = signals
    start, n = int(0.3 * FS), int(seconds * FS)
    rec = capture(ref, start, x[start - HOP : start - HOP + n])
    assert measure_delay(rec, ref, FS // 2) == DELAY


@pytest.mark.parametrize("frac", [0.3, 0.5, 0.7])
def test_a_delay_raise_gives_one_of_the_two_delays(signals, frac):
    """Before a raise the capture is at DELAY - HOP, after it at DELAY: the lag is one of them."""
    _, ref = signals
    g = int(frac * ref.size)
    rec = capture(ref, 0, np.zeros(g, np.float32))
    rec[DELAY - HOP : DELAY - HOP + g] = ref[:g]
    assert measure_delay(rec, ref, FS // 2) in (DELAY - HOP, DELAY)


def test_wrong_lag_is_not_reported_for_a_clean_capture(signals):
    """No damage: exact, and a capture one sample later reads one sample later."""
    _, ref = signals
    rec = capture(ref, 0, np.zeros(0, np.float32))
    assert measure_delay(rec, ref, FS // 2) == DELAY
    assert measure_delay(np.pad(rec, (1, 0)), ref, FS // 2) == DELAY + 1
