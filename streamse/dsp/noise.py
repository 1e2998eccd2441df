"""Synthetic stationary noises: coloured (white, pink, brown) and mains hum with harmonics."""

from __future__ import annotations

import numpy as np

from .level import EPS, power


def scale_to_power(x: np.ndarray, target_power: float) -> np.ndarray:
    """x rescaled so power(x) == target_power (an all-zero x stays zero)."""
    return x * np.sqrt(target_power / (power(x) + EPS))


def colored_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-power noise with power spectrum ~ 1/f^exponent, (n,) samples.

    exponent 0 = white, 1 = pink, 2 = brown (red). Shaped in the frequency domain from white
    Gaussian noise; DC is removed and bins below 1/1000 of Nyquist are clamped, so brown noise
    does not turn into a drifting offset.
    """
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)  # cycles per sample, 0..0.5
    shape = np.maximum(f, 0.5e-3) ** (-exponent / 2.0)
    shape[0] = 0.0
    x = np.fft.irfft(spec * shape, n)
    return scale_to_power(x, 1.0)


def hum(
    n: int, sample_rate: int, rng: np.random.Generator, mains_hz: float | None = None, harmonics: int = 12
) -> np.ndarray:
    """Unit-power mains hum (n,): 50 or 60 Hz (random unless given) and its first
    `harmonics` harmonics at random levels falling ~3-9 dB per octave, random phases, a
    slow random drift of the fundamental (+-0.2 %), plus a little white noise (-40 dB)."""
    f0 = mains_hz or float(rng.choice([50.0, 60.0]))
    t = np.arange(n) / sample_rate
    drift = 1.0 + 0.002 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t + rng.uniform(0, 6.3))
    phase = 2 * np.pi * f0 * np.cumsum(drift) / sample_rate
    slope = rng.uniform(3.0, 9.0)  # dB per octave
    x = np.zeros(n)
    for k in range(1, harmonics + 1):
        if k * f0 >= sample_rate / 2:
            break
        amp = 10 ** ((-slope * np.log2(k) + rng.uniform(-6.0, 6.0)) / 20)
        x += amp * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    x = scale_to_power(x, 1.0) + 0.01 * rng.standard_normal(n)
    return scale_to_power(x, 1.0)


def stationary_noise(kind: str, n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-power noise (n,) of `kind`: 'white', 'pink', 'brown' or 'hum'."""
    exponents = {"white": 0.0, "pink": 1.0, "brown": 2.0}
    if kind in exponents:
        return colored_noise(n, exponents[kind], rng)
    if kind == "hum":
        return hum(n, sample_rate, rng)
    raise ValueError(f"unknown noise kind {kind!r}; choose white, pink, brown or hum")
