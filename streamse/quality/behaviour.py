"""What a denoiser must do to speech, measured on any `enhance` function (no torch).

`enhance(x) -> y` takes (n,) float32 at 16 kHz and returns (n,) aligned with x (the model's
delay removed), from a fresh state on every call. Five behaviours, each a number with a limit
(the limits the shipped-weights tests assert, the quiet start's in part; `failures` applies
them):

- transparency: clean speech in -> active-speech level change (dB) and SI-SDR (dB) against
  the input. A denoiser must leave clean speech alone: |level| <= 1 dB, SI-SDR >= 20 dB.
- gain invariance: the input scaled by g (-20 and +10 dB) -> the output compared with g times
  the output at 0 dB: level difference and SI-SDR (<= 1 dB, >= 20 dB).
- leading silence: 0-4 s of exact zeros ahead of the input -> the part of the output after
  them against a fresh start: level difference and SI-SDR (<= 1 dB, >= 25 dB). Given the
  model's `hop`, the fresh start is taken at the same frame phase (the `lead mod hop` zeros
  ahead of it too): a lead that is not a whole number of hops also shifts the STFT frame grid
  against the speech, which changes any framed model's output with no state involved (on the
  demo sample, shifts of 1-256 samples: the shipped crn, hop 160, 15.6-25.7 dB SI-SDR against
  a fresh start; cnunet-tb-ts, hop 256, 21-34 dB). What this behaviour asks is whether the
  silence changed the state; the grid shift is reported apart (`frame_phase`, no limit).
- stationary noise: clean speech + white and pink noise at 5 dB SNR -> SI-SDR and PESQ-WB
  improvement over the noisy input (>= 6 dB, >= 0.3).
- quiet start: 1 s of white noise at -90 and -70 dBFS (a converter's floor, a quiet room:
  what a live stream holds before the talker) ahead of a noisy input -> SI-SDR against the
  clean speech after it, compared with a fresh start: the loss (dB, <= 0.5). Exact zeros are
  the leading-silence case; this is the start a microphone gives. Given `hop`, the fresh start
  keeps the frame phase, as for leading silence. The shipped crn meets it
  under its silence threshold (-80 dBFS) only; the shipped-weights tests assert that part.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from streamse.dsp.level import active_level_db, active_power
from streamse.dsp.noise import stationary_noise

from .metrics import pesq_wb, si_sdr

RATE = 16000
Enhance = Callable[[np.ndarray], np.ndarray]

LIMITS = {
    "transparency_level_db": 1.0,
    "transparency_sisdr_db": 20.0,
    "gain_level_db": 1.0,
    "gain_sisdr_db": 20.0,
    "lead_level_db": 1.0,
    "lead_sisdr_db": 25.0,
    "noise_sisdr_gain_db": 6.0,
    "noise_pesq_gain": 0.3,
    "quiet_start_loss_db": 0.5,
}


@dataclass
class Behaviour:
    """Worst case over the conditions tried, per behaviour (see module doc)."""

    transparency_level_db: float  # output minus input active level (signed)
    transparency_sisdr_db: float
    gain_level_db: float  # largest |level difference| over the gains
    gain_sisdr_db: float  # smallest SI-SDR over the gains
    lead_level_db: float  # largest |level difference| over the lead-in lengths
    lead_sisdr_db: float
    noise_sisdr_gain_db: float  # smallest improvement over the noise kinds
    noise_pesq_gain: float
    quiet_start_loss_db: float  # largest SI-SDR loss after a quiet start (positive: worse)
    detail: dict = field(default_factory=dict)

    def failures(self) -> list[str]:
        """One line per behaviour outside its limit (empty when all pass)."""
        out = []
        for key, limit in LIMITS.items():
            v = getattr(self, key)
            text, within = _bound(key)
            if not within(v, limit):
                out.append(f"{key} = {v:.2f} (limit {text}{limit})")
        return out

    def to_dict(self) -> dict:
        return asdict(self)


def _bound(key: str) -> tuple[str, Callable[[float, float], bool]]:
    """How a LIMITS key bounds its value: level changes in magnitude, losses from above, the
    rest (SI-SDR, gains) from below."""
    if key.endswith("level_db"):
        return "|x| <= ", lambda v, limit: not abs(v) > limit
    if key.endswith("loss_db"):
        return "<= ", lambda v, limit: v <= limit
    return ">= ", lambda v, limit: v >= limit


def level_and_sisdr(ref: np.ndarray, est: np.ndarray) -> tuple[float, float]:
    """(active level of est minus that of ref in dB, SI-SDR of est against ref)."""
    return active_level_db(est, RATE) - active_level_db(ref, RATE), si_sdr(ref, est)


def transparency(enhance: Enhance, clean: np.ndarray) -> tuple[float, float]:
    return level_and_sisdr(clean, enhance(clean))


def gain_invariance(enhance: Enhance, x: np.ndarray, gains_db=(-20.0, 10.0)) -> dict:
    """{gain: (level diff, SI-SDR)} of enhance(g x) against g enhance(x)."""
    ref = enhance(x)
    out = {}
    for g_db in gains_db:
        g = 10 ** (g_db / 20)
        out[g_db] = level_and_sisdr(g * ref, enhance((g * x).astype(np.float32)))
    return out


def after_lead(enhance: Enhance, lead: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The output of `lead` then x, from the first sample of x on (the lead in x's dtype)."""
    return enhance(np.concatenate([lead.astype(x.dtype, copy=False), x]))[lead.size :]


def _after_zeros(enhance: Enhance, x: np.ndarray, n: int) -> np.ndarray:
    """The output of `n` exact zeros then x, from the first sample of x on."""
    return after_lead(enhance, np.zeros(n, np.float32), x)


def leading_silence(enhance: Enhance, x: np.ndarray, leads_s=(0.01, 0.5, 2.0, 4.0), hop: int = 1) -> dict:
    """{lead seconds: (level diff, SI-SDR)} of the output after the zeros vs a fresh start at
    the same frame phase (`lead mod hop` zeros first; hop 1: a plain fresh start)."""
    fresh = {}
    out = {}
    for lead in leads_s:
        n = int(round(lead * RATE))
        if n % hop not in fresh:
            fresh[n % hop] = _after_zeros(enhance, x, n % hop)
        out[lead] = level_and_sisdr(fresh[n % hop], _after_zeros(enhance, x, n))
    return out


def frame_phase(enhance: Enhance, x: np.ndarray, hop: int, shifts=(0.25, 0.5)) -> dict:
    """{shift in hops: (level diff, SI-SDR)} of the output after a fraction of a hop of zeros
    vs a fresh start: how much the frame grid's phase alone changes the output (module doc)."""
    ref = enhance(x)
    return {f: level_and_sisdr(ref, _after_zeros(enhance, x, int(round(f * hop)))) for f in shifts}


def quiet_start(
    enhance: Enhance,
    noisy: np.ndarray,
    clean: np.ndarray,
    floors_db=(-90.0, -70.0),
    lead_s: float = 1.0,
    hop: int = 1,
) -> dict:
    """{floor dBFS: SI-SDR loss (dB)} against `clean` of the output after `lead_s` of white
    noise at that RMS ahead of `noisy`, re a fresh start (positive: the quiet start costs). The
    fresh start keeps the frame phase: the lead's last `lead mod hop` samples go ahead of it."""
    n = int(round(lead_s * RATE))
    x = np.asarray(noisy, np.float32)
    fresh: dict[bytes, float] = {}  # SI-SDR after a fresh start, per lead tail (one when none)
    out = {}
    for k, floor in enumerate(floors_db):
        lead = np.random.default_rng(k).standard_normal(n) * 10 ** (floor / 20)
        y = after_lead(enhance, lead, x)[: clean.size]
        tail = lead[n - n % hop :]
        if tail.tobytes() not in fresh:
            fresh[tail.tobytes()] = si_sdr(clean, after_lead(enhance, tail, x)[: clean.size])
        out[floor] = fresh[tail.tobytes()] - si_sdr(clean, y)
    return out


def noisy_at_snr(clean: np.ndarray, kind: str, snr_db: float, seed: int = 0) -> np.ndarray:
    """clean + `kind` stationary noise at `snr_db` against the active speech level."""
    noise = stationary_noise(kind, clean.size, RATE, np.random.default_rng(seed))
    gain = np.sqrt(active_power(clean, RATE) / 10 ** (snr_db / 10))
    return (clean + gain * noise).astype(np.float32)


def stationary_noise_gain(
    enhance: Enhance, clean: np.ndarray, kinds=("white", "pink"), snr_db: float = 5.0
) -> dict:
    """{kind: (SI-SDR improvement dB, PESQ-WB improvement)} over the noisy input."""
    out = {}
    for k, kind in enumerate(kinds):
        noisy = noisy_at_snr(clean, kind, snr_db, seed=k)
        y = enhance(noisy)
        out[kind] = (
            si_sdr(clean, y) - si_sdr(clean, noisy),
            pesq_wb(clean, y, RATE) - pesq_wb(clean, noisy, RATE),
        )
    return out


def measure(enhance: Enhance, clean: np.ndarray, noisy: np.ndarray | None = None, hop: int = 1) -> Behaviour:
    """All five behaviours of `enhance` on one clean utterance (and its noisy version, if
    given, for gain invariance, leading silence and the quiet start too); `hop`: the model's
    hop in samples at 16 kHz (leading silence at the same frame phase; `frame_phase` in the
    detail)."""
    clean = np.asarray(clean, np.float32)
    t_level, t_sisdr = transparency(enhance, clean)
    inputs = [clean] + ([np.asarray(noisy, np.float32)] if noisy is not None else [])
    gains = [v for x in inputs for v in gain_invariance(enhance, x).values()]
    leads = [v for x in inputs for v in leading_silence(enhance, x, hop=hop).values()]
    phase = [v for x in inputs for v in frame_phase(enhance, x, hop).values()] if hop > 1 else []
    noise = stationary_noise_gain(enhance, clean)
    pairs = [(noisy_at_snr(clean, "white", 5.0), clean)] + ([(noisy, clean)] if noisy is not None else [])
    quiet = [
        v for n, c in pairs for v in quiet_start(enhance, np.asarray(n, np.float32), c, hop=hop).values()
    ]
    return Behaviour(
        t_level,
        t_sisdr,
        max(abs(v[0]) for v in gains),
        min(v[1] for v in gains),
        max(abs(v[0]) for v in leads),
        min(v[1] for v in leads),
        min(v[0] for v in noise.values()),
        min(v[1] for v in noise.values()),
        max(quiet),
        detail={"gains": gains, "leads": leads, "frame_phase": phase, "noise": noise, "quiet_start": quiet},
    )
