"""Signal-level augmentation primitives for building training mixtures (numpy, no torch).

All signals are float32/float64 1-D arrays of samples; every random choice comes from the
`numpy.random.Generator` passed in, so callers control determinism.
"""

from __future__ import annotations

import numpy as np

from streamse.dsp.level import EPS, active_power, power  # noqa: F401  (re-exported)
from streamse.dsp.noise import colored_noise, scale_to_power  # noqa: F401  (re-exported)


def crop_or_pad(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """A random n-sample window of x (samples,); shorter x is zero-padded at a random offset."""
    if x.size >= n:
        start = int(rng.integers(0, x.size - n + 1))
        return np.array(x[start : start + n], dtype=np.float64)
    out = np.zeros(n)
    offset = int(rng.integers(0, n - x.size + 1))
    out[offset : offset + x.size] = x
    return out


def crop_loop(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n samples of x looped end to end, starting at a random position anywhere in x."""
    start = int(rng.integers(0, x.size))
    reps = -(-(start + n) // x.size)  # ceil
    return np.tile(np.asarray(x, dtype=np.float64), reps)[start : start + n]


def noise_gain_for_snr(speech_power: float, noise: np.ndarray, snr_db: float) -> float:
    """Gain g such that 10*log10(speech_power / power(g*noise)) == snr_db."""
    return float(np.sqrt(speech_power / ((power(noise) + EPS) * 10 ** (snr_db / 10))))


def random_biquad(x: np.ndarray, rng: np.random.Generator, coef: float = 0.375) -> np.ndarray:
    """x filtered by a random stable 2nd-order IIR (1 + b1 z^-1 + b2 z^-2) / (1 + a1 z^-1 +
    a2 z^-2), each coefficient uniform in [-coef, coef] (RNNoise's spectral augmentation:
    tilts and bumps of a few dB, like microphones and rooms). The output keeps x's power.
    With |coef| <= 3/8 the poles lie inside the unit circle, so the filter is stable."""
    from scipy.signal import lfilter

    b1, b2, a1, a2 = rng.uniform(-coef, coef, 4)
    y = lfilter([1.0, b1, b2], [1.0, a1, a2], np.asarray(x, dtype=np.float64))
    return scale_to_power(y, power(x))


def lowpass(x: np.ndarray, cutoff_hz: float, sample_rate: int) -> np.ndarray:
    """x (samples,) through an 8th-order Butterworth low-pass, zero phase (band-limited
    sources: narrowband calls, codecs, cheap microphones)."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(8, cutoff_hz, fs=sample_rate, output="sos")
    return sosfiltfilt(sos, np.asarray(x, dtype=np.float64))


def speed_crop(
    x: np.ndarray, n: int, factor: float, rng: np.random.Generator, loop: bool = False
) -> np.ndarray:
    """n samples of x played `factor` times faster (tempo and pitch together, as a tape
    speed change): a random crop of ~n * factor samples resampled to n (zero-padded like
    `crop_or_pad` when x is short, or with `loop` looped like `crop_loop`: noise)."""
    from streamse.dsp.resample import resample_hq

    src = (crop_loop if loop else crop_or_pad)(x, int(np.ceil(n * factor)) + 32, rng)
    y = resample_hq(src, 1000.0 * factor, 1000.0)
    return np.pad(y, (0, max(0, n - y.size)))[:n].astype(np.float64)


def level_and_clip_guard(
    noisy: np.ndarray, clean: np.ndarray, level_db: float, max_peak: float = 0.99
) -> tuple[np.ndarray, np.ndarray]:
    """Apply the same gain to both so noisy has RMS `level_db` dBFS; if a peak then exceeds
    `max_peak`, scale both down further so nothing clips. Keeps noisy/clean ratio exact."""
    gain = 10 ** (level_db / 20) / np.sqrt(power(noisy) + EPS)
    peak = gain * max(float(np.max(np.abs(noisy))), float(np.max(np.abs(clean))))
    if peak > max_peak:
        gain *= max_peak / peak
    return noisy * gain, clean * gain


def quiet_lead(
    noisy: np.ndarray,
    clean: np.ndarray,
    n_lead: int,
    gain_db: float | None,
    floor_db: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """A quiet start, as a live stream has before the talker and the noise reach the mic:
    the first `n_lead` samples of both are scaled by `gain_db` (None: muted), and white noise
    at `floor_db` dBFS RMS (the converter's floor) is added to the noisy one there. The target
    keeps the same gain (the floor is noise to remove); the rest is unchanged."""
    g = 0.0 if gain_db is None else 10 ** (gain_db / 20)
    n_lead = min(n_lead, noisy.size)
    noisy, clean = noisy.copy(), clean.copy()
    noisy[:n_lead] = noisy[:n_lead] * g + rng.standard_normal(n_lead) * 10 ** (floor_db / 20)
    clean[:n_lead] = clean[:n_lead] * g
    return noisy, clean


def convolve_same(x: np.ndarray, rirs: list[np.ndarray]) -> list[np.ndarray]:
    """Causal FFT convolution of x (samples,) with each RIR, each output cut to len(x).

    x's spectrum is computed once and shared by all RIRs (e.g. full and early parts).
    """
    from scipy import fft as sfft

    n_fft = sfft.next_fast_len(x.size + max(h.size for h in rirs) - 1, real=True)
    spec = sfft.rfft(x, n_fft)
    return [sfft.irfft(spec * sfft.rfft(h, n_fft), n_fft)[: x.size] for h in rirs]


# --- room impulse responses ----------------------------------------------------------------

SPEED_OF_SOUND = 343.0  # m/s


def _random_geometry(rng: np.random.Generator, room_min, room_max, min_wall: float):
    """Room size (3,), source and mic positions (3,) each, in metres, >= min_wall from walls."""
    dims = rng.uniform(room_min, room_max)
    src, mic = (rng.uniform(min_wall, dims - min_wall) for _ in range(2))
    return dims, src, mic


def _ism_rir(dims, src, mic, rt60: float, sample_rate: int, max_order: int) -> np.ndarray:
    """Image-source RIR from pyroomacoustics, Sabine absorption for `rt60` seconds."""
    import pyroomacoustics as pra

    absorption, _ = pra.inverse_sabine(rt60, dims)
    room = pra.ShoeBox(dims, fs=sample_rate, materials=pra.Material(absorption), max_order=max_order)
    room.add_source(src)
    room.add_microphone(mic)
    room.compute_rir()
    return np.asarray(room.rir[0][0], dtype=np.float64)


def synth_rir(
    rng: np.random.Generator,
    sample_rate: int,
    rt60_range=(0.2, 0.8),
    room_min=(3.0, 3.0, 2.5),
    room_max=(10.0, 8.0, 4.0),
    early_ms: float = 50.0,
    ism_order: int = 12,
) -> tuple[np.ndarray, np.ndarray]:
    """One random shoebox RIR as (full, early), float32 samples, propagation delay removed.

    Hybrid model, because a full image-source RIR at RT60 0.8 s costs ~0.5 s per room:
    the first `early_ms` after the direct path come from the image-source method (low order,
    exact early reflections); after that, a Gaussian tail decaying 60 dB per RT60 takes over,
    its level matched to the image-source energy just before the boundary.

    The propagation delay is cut (index 0 is where pyroomacoustics' 81-tap fractional-delay
    filter of the direct path starts, so the direct sound peaks ~40 samples in); `early` is
    `full[:direct + early_ms]`. Both are scaled so the direct-path peak is 1.
    """
    import pyroomacoustics as pra

    for _ in range(100):  # some (room, RT60) pairs are physically impossible: redraw
        dims, src, mic = _random_geometry(rng, room_min, room_max, 0.5)
        rt60 = float(rng.uniform(*rt60_range))
        try:
            h = _ism_rir(dims, src, mic, rt60, sample_rate, ism_order)
            break
        except ValueError:
            continue
    else:
        raise RuntimeError("could not draw a valid room for the RT60 range")
    half_filter = pra.constants.get("frac_delay_length") // 2
    delay = int(round(np.linalg.norm(src - mic) / SPEED_OF_SOUND * sample_rate))
    h = h[delay:]  # (samples,), direct-path filter starts at 0, peaks near half_filter
    boundary = half_filter + int(early_ms * 1e-3 * sample_rate)
    full = _with_stochastic_tail(h[:boundary], rt60, sample_rate, rng)
    full /= np.max(np.abs(full[: 2 * half_filter + 1])) + EPS
    return full.astype(np.float32), full[:boundary].astype(np.float32)


def _with_stochastic_tail(
    early: np.ndarray, rt60: float, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """early (samples,) continued by exponentially decaying Gaussian noise until -60 dB."""
    t = np.arange(int(rt60 * sample_rate)) / sample_rate  # (tail,) seconds after the boundary
    envelope = 10 ** (-3.0 * t / rt60)  # amplitude: -60 dB at t = rt60
    ref = early[-early.size // 3 :]  # last ~1/3 of the early part sets the tail level
    decay_in_ref = 10 ** (-3.0 * (np.arange(ref.size) - ref.size) / sample_rate / rt60)
    level = np.sqrt(np.mean(ref**2) / np.mean(decay_in_ref**2))
    tail = level * envelope * rng.standard_normal(t.size)
    return np.concatenate([early, tail])


TONAL_KINDS = ("harmonic", "tones", "narrowband")


def tonal_noise(n: int, sample_rate: int, rng: np.random.Generator, kind: str | None = None) -> np.ndarray:
    """Unit-power tonal noise (n,) float64, of a random kind (or `kind`):

    - 'harmonic': a buzz or hum, fundamental log-uniform in 40-500 Hz with 1-30 harmonics
      below 6 kHz at levels falling 0-12 dB per octave (+-6 dB each), random phases;
    - 'tones': 1-3 sinusoids, each log-uniform in 100-6000 Hz (whistles, beeps, test tones);
    - 'narrowband': white noise through a resonator at 100-4000 Hz, Q 2-30 (whine, drone).

    Every kind drifts slowly in frequency (up to +-2 %) and, half of the time, is amplitude
    modulated (depth up to 0.8 at 0.5-8 Hz: alarms, warbles, rotating machines). Stationary
    tones are what the real dev noises n57-n99 are and what training noise lacked: a model that
    never saw one keeps a 250 Hz test tone as if it were a voice harmonic."""
    from scipy.signal import lfilter

    kind = kind or str(rng.choice(TONAL_KINDS))
    t = np.arange(n) / sample_rate
    depth = rng.uniform(0.0, 0.02)
    drift = 1.0 + depth * np.sin(2 * np.pi * rng.uniform(0.05, 0.5) * t + rng.uniform(0, 6.3))
    clock = np.cumsum(drift) / sample_rate  # seconds as the drifting oscillators count them
    nyq = 0.45 * sample_rate
    if kind == "harmonic":
        f0 = float(np.exp(rng.uniform(np.log(40.0), np.log(500.0))))
        phase = 2 * np.pi * f0 * clock
        slope, x = rng.uniform(0.0, 12.0), np.zeros(n)
        for k in range(1, int(rng.integers(1, 31)) + 1):
            if k * f0 * 1.02 >= min(nyq, 6000.0):
                break
            amp = 10 ** ((-slope * np.log2(k) + rng.uniform(-6.0, 6.0)) / 20)
            x += amp * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    elif kind == "tones":
        x = np.zeros(n)
        for _ in range(int(rng.integers(1, 4))):
            f = float(np.exp(rng.uniform(np.log(100.0), np.log(6000.0))))
            amp = 10 ** (rng.uniform(-10.0, 0.0) / 20)
            x += amp * np.sin(2 * np.pi * f * clock + rng.uniform(0, 2 * np.pi))
    elif kind == "narrowband":
        f, q = float(np.exp(rng.uniform(np.log(100.0), np.log(4000.0)))), rng.uniform(2.0, 30.0)
        r = np.exp(-np.pi * f / q / sample_rate)  # pole radius for bandwidth f / Q
        a = [1.0, -2 * r * np.cos(2 * np.pi * f / sample_rate), r * r]
        x = lfilter([1.0 - r], a, rng.standard_normal(n))
    else:
        raise ValueError(f"unknown tonal kind {kind!r}; choose one of {TONAL_KINDS}")
    if rng.random() < 0.5:
        depth = rng.uniform(0.0, 0.8)
        x = x * (1.0 + depth * np.sin(2 * np.pi * rng.uniform(0.5, 8.0) * t + rng.uniform(0, 6.3)))
    return scale_to_power(x, 1.0)
