"""`bench/jack_card.py`: `measure_delay`, the exact lag of a capture that is partly something
else, at 48 kHz where the model's 16 kHz output makes the correlation peak a few samples wide;
`delay_segments` / `segmented_snr_db`, a capture whose delay the engine raised part-way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamse.audio_io import read_audio
from streamse.bench.jack_card import delay_segments, measure_delay, segmented_snr_db, snr_db
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


def raised(ref: np.ndarray, at: list[int]) -> np.ndarray:
    """ref captured at DELAY - len(at) * HOP, one HOP later from each index in `at` on (each a
    delay raise), with the fallback's silence where a raise skips output."""
    rec = np.zeros(ref.size + FS // 2, np.float32)
    bounds = [0, *at, ref.size]
    for k in range(len(bounds) - 1):
        lag = DELAY - (len(at) - k) * HOP
        a, b = bounds[k], bounds[k + 1]
        rec[lag + a : lag + b] = ref[a:b]
    return rec


@pytest.mark.parametrize("dry_s", [0.0, 0.4])
@pytest.mark.parametrize("at", [[], [int(1.1 * FS)], [int(0.7 * FS), int(2.2 * FS)]])
def test_delay_segments_follow_each_raise_and_the_match_is_exact(signals, at, dry_s):
    """Each stretch is found at its own delay, each change within a block of where it was, and
    the match at those delays is far above the match at the final delay alone; with `dry_s`
    of the dry input (the engine's fallback) from each raise on, the stretches are the same
    (one per delay: no flapping between them inside the fallback)."""
    x, ref = signals
    rec = raised(ref, at)
    n = int(dry_s * FS)
    for k, a in enumerate(at):  # the fallback plays the dry input at the new delay
        lag = DELAY - (len(at) - 1 - k) * HOP
        rec[lag + a : lag + a + n] = x[a : a + n]
    lags = [DELAY - k * HOP for k in range(len(at) + 1)]
    segments = delay_segments(rec, ref, lags, HOP)
    assert [lag for _, lag in segments] == sorted(lags)
    assert segments[0][0] == 0
    for (start, _), want in zip(segments[1:], at):
        assert abs(start - want) <= (HOP if not n else n + HOP), (start, want)
    if not n:
        assert segmented_snr_db(rec, ref, segments) > 25.0
    if at:
        assert snr_db(rec, ref, DELAY) < 10.0
        last = segments[-1][0]
        assert measure_delay(rec[last:], ref[last:], FS // 2) == DELAY


def test_delay_segments_with_one_candidate_is_that_delay(signals):
    _, ref = signals
    rec = raised(ref, [])
    rec[DELAY + FS : DELAY + FS + HOP] += 0.01  # some damage, so that the match is finite
    assert delay_segments(rec, ref, [DELAY], HOP) == [(0, DELAY)]
    assert segmented_snr_db(rec, ref, [(0, DELAY)]) == pytest.approx(snr_db(rec, ref, DELAY), abs=1e-3)
