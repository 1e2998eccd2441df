"""Leading silence is measured at the model's frame phase (`streamse.quality.behaviour`): a lead
that is not a whole number of hops also moves the frame grid, which a framed model hears with
no state involved; the state is what the behaviour asks about."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from streamse.quality import behaviour as bh
from bundled import DATA

HOP = 256


def _framed(x: np.ndarray) -> np.ndarray:
    """Stateless but frame-phase dependent: every HOP-th sample from the start is dropped."""
    y = x.copy()
    y[::HOP] = 0.0
    return y


def _remembers_silence(x: np.ndarray, n_clean: int) -> np.ndarray:
    """Frame-phase free but stateful: louder after more than a second of lead-in."""
    return x * (2.0 if x.size - n_clean > bh.RATE else 1.0)


def test_a_stateless_framed_model_passes_at_its_own_phase_only():
    clean = sf.read(DATA / "clean.wav", dtype="float32")[0]
    leads = (0.01, 0.5, 2.0)  # 160 and 8000 samples are not whole hops of 256
    plain = bh.leading_silence(_framed, clean, leads)
    assert min(v[1] for v in plain.values()) < bh.LIMITS["lead_sisdr_db"]
    at_phase = bh.leading_silence(_framed, clean, leads, hop=HOP)
    assert all(v[1] > 100.0 for v in at_phase.values()), at_phase
    shifted = bh.frame_phase(_framed, clean, HOP)
    assert all(v[1] < bh.LIMITS["lead_sisdr_db"] for v in shifted.values()), shifted


def test_a_model_that_remembers_the_silence_fails_at_any_phase():
    clean = sf.read(DATA / "clean.wav", dtype="float32")[0]
    f = lambda x: _remembers_silence(x, clean.size)  # noqa: E731
    for hop in (1, HOP):
        level, _ = bh.leading_silence(f, clean, (2.0,), hop=hop)[2.0]
        assert abs(level) > bh.LIMITS["lead_level_db"]


def test_measure_reports_the_frame_phase_apart():
    clean = sf.read(DATA / "clean.wav", dtype="float32")[0]
    b = bh.measure(_framed, clean, hop=HOP)
    assert b.lead_sisdr_db > 100.0
    assert len(b.detail["frame_phase"]) == 2
    assert bh.measure(_framed, clean).lead_sisdr_db < bh.LIMITS["lead_sisdr_db"]
